"""BPF_MAP_TYPE_ARRAY and PERCPU_ARRAY (one CPU): fixed u32 indices, every element
always exists, nothing can be deleted.  Global data (.data, .rodata, .bss) is a
one-element array too."""

from __future__ import annotations

import array
import errno
from collections.abc import Iterator

from ..errors import BpfError
from ..native import ffi
from .base import BPF_ANY, BPF_NOEXIST, Map, MapError, MapSpec, check_flags

__all__ = ["ArrayMap"]


class ArrayMap(Map):
    """BPF_MAP_TYPE_ARRAY: u32 indices 0..max_entries-1, every element always exists."""

    ITERABLE = True

    def __init__(self, spec: MapSpec):
        if spec.key_size != 4:
            raise BpfError(f"array map {spec.name!r} must have 4-byte keys, not "
                           f"{spec.key_size}")
        super().__init__(spec)
        self._keys = None

    def key_area(self) -> tuple[int, int]:
        """(address, stride) of the keys bpf_for_each_map_elem's callback is pointed at:
        a table of the u32 indices 0..max_entries-1, made the first time it is asked for
        (the kernel's key is a u32 on its own stack; this one lives as long as the map)."""
        if self._keys is None:
            keys = ffi.new("uint32_t[]", self.max_entries)
            ffi.memmove(keys, array.array("I", range(self.max_entries)), 4 * self.max_entries)
            self._keys = keys
        return int(ffi.cast("uintptr_t", self._keys)), 4

    @property
    def keys_made(self) -> bool:
        return self._keys is not None

    def next_slot(self, slot: int) -> int:
        """The first element at or after `slot` (every index exists): `slot`, or
        max_entries past the end."""
        return min(slot, self.max_entries)

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key, "little")

    def lookup_slot(self, key: bytes) -> int | None:
        index = self._index(key)
        return index if index < self.max_entries else None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        plain = check_flags(self.name, flags, self.spec.spin_lock is not None)
        self._check_writable()
        index = self._index(key)
        if index >= self.max_entries:
            raise MapError(errno.E2BIG, f"array map {self.name!r}: index {index} is past "
                                        f"max_entries {self.max_entries}")
        if plain == BPF_NOEXIST:
            raise MapError(errno.EEXIST, f"array map {self.name!r}: every element exists "
                                         f"(BPF_NOEXIST)")
        self._write_slot(index, value, flags)

    def key_of_slot(self, slot: int) -> bytes:
        """The key of slot `slot`: its index."""
        return slot.to_bytes(4, "little")

    def delete(self, key) -> None:
        raise MapError(errno.EINVAL, f"array map {self.name!r}: elements cannot be deleted")

    def __iter__(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in range(self.max_entries))

    def __len__(self) -> int:
        return self.max_entries


