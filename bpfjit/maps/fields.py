"""The fields of a map value that only helpers touch — a `struct bpf_spin_lock` and a
`struct bpf_timer` — described once: the struct BTF names, its size and alignment, the
map kinds that may hold one and the helpers that may touch it.  The loader (bpfjit.btf),
the maps (MapSpec.hidden_fields, Map.check_spec), the verifier and the helpers read it."""

from __future__ import annotations

from dataclasses import dataclass

from .spinlock import LOCK_SIZE
from .timers import TIMER_SIZE, TIMER_TYPES

__all__ = ["ValueField", "VALUE_FIELDS", "FIELDS_BY_ATTR"]


@dataclass(frozen=True)
class ValueField:
    """One kind of helper-only field: `attr` is the MapSpec attribute holding its byte
    offset (None: the values have none)."""
    attr: str
    struct: str                 # its BTF struct name
    size: int
    align: int
    types: tuple[int, ...]      # the map kinds (enum bpf_map_type) that may hold one
    kinds: str                  # the same, in words
    helpers: str                # the helpers that may touch it

    @property
    def label(self) -> str:
        return f"struct {self.struct}"


VALUE_FIELDS = (
    ValueField("spin_lock", "bpf_spin_lock", LOCK_SIZE, 4, (1, 2), "hash and array",
               "bpf_spin_lock and bpf_spin_unlock"),
    ValueField("timer", "bpf_timer", TIMER_SIZE, 8, TIMER_TYPES, "hash, LRU hash and array",
               "the bpf_timer helpers"),
)
FIELDS_BY_ATTR = {f.attr: f for f in VALUE_FIELDS}
