"""BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK: values without keys, first-in-first-out
or last-in-first-out.

Programs use bpf_map_push_elem, bpf_map_pop_elem and bpf_map_peek_elem; from Python
the map has the same three operations (`push`, `pop`, `peek`), `len()`, and the
values oldest first in `values_in_order()`; as a mapping it has no keys.  A full map
refuses a push with -E2BIG, unless the push says BPF_EXIST, which drops the oldest
value to make room, as the kernel does.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Iterator

from ..errors import BpfError
from .base import BPF_ANY, BPF_EXIST, Map, MapError, MapSpec

__all__ = ["QueueMap", "StackMap"]


class _Sequence(Map):
    """Values in arrival order; `LIFO` says which end pop takes."""

    LIFO = False
    PROGRAM_HELPERS = frozenset({"map_push_elem", "map_pop_elem", "map_peek_elem"})

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        if spec.key_size != 0 or spec.value_size <= 0 or spec.max_entries <= 0:
            raise BpfError(f"{spec.type_name} {spec.name!r}: no key, a value of some bytes "
                           f"and a positive max_entries (got key {spec.key_size}, value "
                           f"{spec.value_size}, max_entries {spec.max_entries})")

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        return 0                         # programs get copies, never pointers

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._values: deque[bytes] = deque()

    def push(self, value: bytes | int, flags: int = BPF_ANY) -> None:
        value = self.value(value)
        if flags not in (BPF_ANY, BPF_EXIST):
            raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r}: push flags "
                                         f"are BPF_ANY (0) or BPF_EXIST (2), got {flags}")
        if len(self._values) >= self.max_entries:
            if flags != BPF_EXIST:
                raise MapError(errno.E2BIG, f"{self.spec.type_name} {self.name!r} is full "
                                            f"({self.max_entries} values)")
            self._values.popleft()       # the oldest value makes room
        self._values.append(value)

    def peek(self) -> bytes:
        if not self._values:
            raise MapError(errno.ENOENT, f"{self.spec.type_name} {self.name!r} is empty")
        return self._values[-1] if self.LIFO else self._values[0]

    def pop(self) -> bytes:              # type: ignore[override]
        value = self.peek()
        if self.LIFO:
            self._values.pop()
        else:
            self._values.popleft()
        return value

    def values_in_order(self) -> list[bytes]:
        """The values, oldest first."""
        return list(self._values)

    # ---- as a mapping: no keys -------------------------------------------------------------

    def lookup_slot(self, key: bytes) -> int | None:
        return None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r} has no keys: use "
                                     f".push(value)")

    def delete(self, key) -> None:
        raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r} has no keys: use "
                                     f".pop()")

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        return len(self._values)


class QueueMap(_Sequence):
    """BPF_MAP_TYPE_QUEUE: pop and peek take the oldest value."""


class StackMap(_Sequence):
    """BPF_MAP_TYPE_STACK: pop and peek take the newest value."""
    LIFO = True
