"""BPF_MAP_TYPE_PROG_ARRAY: the jump table of `bpf_tail_call`.

Each entry is a program (in the kernel, its fd).  From Python, set an entry to a
bpfjit.Program loaded from the same object (they then share maps), or to the
name of a function of that object: `prog.maps["jmp_table"][1] = "parse_ipv6"`.
A tail call runs the entry's program on the same context, on the engine the
caller runs on, and the caller ends with its result.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Callable

from ..errors import BpfError
from .base import BPF_ANY, Map, MapError, MapSpec, check_index_update

__all__ = ["ProgArray"]


class ProgArray(Map):
    """u32 index -> program; the arena holds 1 + index for a set entry, else 0."""

    PROGRAM_READ_ONLY = True
    PROGRAM_HELPERS = frozenset({"tail_call"})

    def __init__(self, spec: MapSpec):
        if spec.key_size != 4 or spec.value_size != 4:
            raise BpfError(f"prog_array {spec.name!r}: keys and values are 4 bytes, not "
                           f"{spec.key_size} and {spec.value_size}")
        super().__init__(spec)
        self._programs: dict[int, object] = {}
        self.resolve: Callable[[str], object] | None = None   # name -> Program (the loader)

    def program(self, index: int):
        """The program at `index`, or None."""
        return self._programs.get(index)

    def program_lookup(self, key: bytes, arena_address: int) -> int:
        return 0                 # programs reach its entries only through tail calls

    def lookup_slot(self, key: bytes) -> int | None:
        index = int.from_bytes(key, "little")
        return index if index in self._programs else None

    def _as_program(self, value):
        from ..program import Program
        if isinstance(value, Program):
            return value
        if isinstance(value, str):
            if self.resolve is None:
                raise BpfError(f"prog_array {self.name!r}: a program name needs a map loaded "
                               f"from an object file; set a bpfjit.Program instead")
            return self.resolve(value)
        raise BpfError(f"prog_array {self.name!r}: an entry is a bpfjit.Program or the name "
                       f"of a function of the same object, not {type(value).__name__}")

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        index = int.from_bytes(self.key(key), "little")
        check_index_update(self, index, index in self._programs, flags)
        self._programs[index] = self._as_program(value)
        self._write_slot(index, (index + 1).to_bytes(4, "little"))

    def delete(self, key) -> None:
        index = int.from_bytes(self.key(key), "little")
        if self._programs.pop(index, None) is None:
            raise MapError(errno.ENOENT, f"prog_array {self.name!r}: {index} is not set")
        self._write_slot(index, bytes(4))

    def __getitem__(self, key):
        program = self._programs.get(int.from_bytes(self.key(key), "little"))
        if program is None:
            raise KeyError(key)
        return program

    def __iter__(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in sorted(self._programs))

    def __len__(self) -> int:
        return len(self._programs)
