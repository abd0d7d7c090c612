"""BPF_MAP_TYPE_LPM_TRIE: longest-prefix match, as routing tables need.

A key is `struct { u32 prefixlen; u8 data[key_size - 4]; }`, the data in network
order.  An update stores the prefix (the first prefixlen bits of data; the rest
must not matter); a lookup with a full-length key finds the stored prefix that
matches the most leading bits.  Values live in arena slots, as in a hash map.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ..errors import BpfError
from .base import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapSpec, check_flags

__all__ = ["LpmTrieMap"]


class LpmTrieMap(Map):
    """Prefixes of up to (key_size - 4) * 8 bits, at most max_entries of them."""

    def __init__(self, spec: MapSpec):
        if spec.key_size <= 4:
            raise BpfError(f"LPM trie {spec.name!r}: keys are a u32 prefix length and at "
                           f"least one data byte, not {spec.key_size} bytes")
        super().__init__(spec)
        self.max_prefix = (spec.key_size - 4) * 8
        self._slots: dict[tuple[int, int], tuple[bytes, int]] = {}   # (len, bits) -> key, slot
        self._free = list(range(spec.max_entries - 1, -1, -1))

    def _split(self, key: bytes) -> tuple[int, int]:
        """(prefix length, the data as an int with the bits past the prefix cleared)."""
        length = int.from_bytes(key[:4], "little")
        if length > self.max_prefix:
            raise MapError(errno.EINVAL, f"LPM trie {self.name!r}: prefix length {length} "
                                         f"is more than {self.max_prefix} bits")
        data = int.from_bytes(key[4:], "big")
        return length, data >> (self.max_prefix - length) if length else 0

    def lookup_slot(self, key: bytes) -> int | None:
        length = min(int.from_bytes(key[:4], "little"), self.max_prefix)
        data = int.from_bytes(key[4:], "big")
        for bits in range(length, -1, -1):
            found = self._slots.get((bits, data >> (self.max_prefix - bits) if bits else 0))
            if found is not None:
                return found[1]
        return None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        check_flags(self.name, flags)
        prefix = self._split(key)
        found = self._slots.get(prefix)
        if found is not None and flags == BPF_NOEXIST:
            raise MapError(errno.EEXIST, f"LPM trie {self.name!r}: the prefix exists")
        if found is None:
            if flags == BPF_EXIST:
                raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
            if not self._free:
                raise MapError(errno.ENOSPC, f"LPM trie {self.name!r} is full "
                                             f"({self.max_entries} prefixes)")
            found = (key, self._free.pop())
        self._slots[prefix] = (key, found[1])
        self._write_slot(found[1], value)

    def delete(self, key) -> None:
        prefix = self._split(self.key(key))
        found = self._slots.pop(prefix, None)
        if found is None:
            raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
        self._free.append(found[1])

    def __getitem__(self, key):
        found = self._slots.get(self._split(self.key(key)))
        if found is None:
            raise KeyError(key)
        return self.slot_bytes(found[1])

    def __iter__(self) -> Iterator[bytes]:
        return iter([key for key, _ in self._slots.values()])

    def __len__(self) -> int:
        return len(self._slots)
