"""The maps XDP programs redirect packets through: DEVMAP and DEVMAP_HASH (network
devices), CPUMAP (CPUs) and XSKMAP (AF_XDP sockets).

Their values name a target — an ifindex, a queue size, a socket — and programs
pass them to `bpf_redirect_map`, which bpfjit answers by recording the target on
the context (`ctx.redirect`) so that a test can assert where a packet went.  An
entry may be absent (a redirect to it fails); programs may look entries up but
not change them.  From Python they are mappings like any other map: set an entry
to the target's number, e.g. `prog.maps["tx_port"][0] = 3` (ifindex 3).

Which entries of a devmap, cpumap or xskmap are set is kept in native memory, one
byte an entry after the values (`presence_offset`), so that JIT code answers
bpf_redirect_map without Python (backends.mapops.redirect_map_slots).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ..errors import BpfError
from .base import BPF_ANY, Map, MapError, MapSpec, check_index_update
from .hash import HashMap

__all__ = ["DevMap", "DevMapHash", "CpuMap", "XskMap", "REDIRECT_TYPES", "INDEXED_TARGET_TYPES",
           "presence_at"]


def presence_at(spec: MapSpec) -> int:
    """Where in a devmap's, cpumap's or xskmap's arena its entries' presence bytes
    start (after the values)."""
    return spec.value_size * spec.max_entries


class _IndexedTargets(Map):
    """u32 indices below max_entries, each present or not (a byte each, 1 when set,
    after the values)."""

    PROGRAM_READ_ONLY = True
    PROGRAM_HELPERS = frozenset({"redirect_map", "map_lookup_elem"})
    WHAT = "target"

    def __init__(self, spec: MapSpec):
        if spec.key_size != 4 or spec.value_size not in (4, 8):
            raise BpfError(f"{spec.type_name} {spec.name!r}: keys are 4 bytes and values 4 "
                           f"or 8, not {spec.key_size} and {spec.value_size}")
        super().__init__(spec)
        self.presence_offset = presence_at(spec)

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        return (spec.value_size + 1) * spec.max_entries

    def _present(self, index: int) -> bool:
        return 0 <= index < self.max_entries and self.arena[self.presence_offset + index] != b"\0"

    def lookup_slot(self, key: bytes) -> int | None:
        index = int.from_bytes(key, "little")
        return index if self._present(index) else None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        index = int.from_bytes(key, "little")
        check_index_update(self, index, self._present(index), flags)
        self._write_slot(index, value)
        self.arena[self.presence_offset + index] = b"\1"

    def delete(self, key) -> None:
        index = int.from_bytes(self.key(key), "little")
        if not self._present(index):
            raise MapError(errno.ENOENT, f"{self.spec.type_name} {self.name!r}: {index} is "
                                         f"not set")
        self.arena[self.presence_offset + index] = b"\0"

    def _indices(self) -> list[int]:
        flags = bytes(self.arena[self.presence_offset:self.presence_offset + self.max_entries])
        return [i for i, present in enumerate(flags) if present]

    def __iter__(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in self._indices())

    def __len__(self) -> int:
        return len(self._indices())


class DevMap(_IndexedTargets):
    """BPF_MAP_TYPE_DEVMAP: index -> ifindex (u32, or struct bpf_devmap_val)."""
    WHAT = "ifindex"


class CpuMap(_IndexedTargets):
    """BPF_MAP_TYPE_CPUMAP: CPU -> queue size (u32, or struct bpf_cpumap_val)."""
    PROGRAM_HELPERS = frozenset({"redirect_map"})
    WHAT = "qsize"


class XskMap(_IndexedTargets):
    """BPF_MAP_TYPE_XSKMAP: receive queue -> AF_XDP socket (its fd, u32)."""
    WHAT = "socket"


class DevMapHash(HashMap):
    """BPF_MAP_TYPE_DEVMAP_HASH: any u32 key -> ifindex (u32, or struct bpf_devmap_val)."""
    PROGRAM_READ_ONLY = True
    PROGRAM_HELPERS = frozenset({"redirect_map", "map_lookup_elem"})
    ITERABLE = False
    WHAT = "ifindex"


REDIRECT_TYPES = {14: DevMap, 16: CpuMap, 17: XskMap, 25: DevMapHash}
# the kinds indexed by a u32 whose entries' presence is a byte after the values
INDEXED_TARGET_TYPES = tuple(kind for kind, cls in REDIRECT_TYPES.items()
                             if issubclass(cls, _IndexedTargets))
