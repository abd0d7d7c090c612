"""BPF_MAP_TYPE_LPM_TRIE: longest-prefix match, as routing tables need.

A key is `struct { u32 prefixlen; u8 data[key_size - 4]; }`, the data in network
order.  An update stores the prefix (the first prefixlen bits of data; the rest
must not matter); a lookup with a full-length key finds the stored prefix that
matches the most leading bits.  Values live in arena slots, as in a hash map.

The prefixes live in a native hash index (bpfjit.maps.hashindex) under their
normalized key — the prefix length, then the data with every bit past it cleared —
beside a native list of the prefix lengths in use, longest first (the index's
`extra` field points at it: a u32 count, then the lengths).  A lookup tries each
length in use that is not longer than the key's, longest first, and takes the first
prefix found: what the JIT engines' native lookup (bpfjit.backends.lpmops) does too.
"""

from __future__ import annotations

import errno
import struct
from collections import Counter
from collections.abc import Iterator

from ..errors import BpfError
from ..native import ffi
from .base import BPF_ANY, Map, MapError, MapSpec, check_flags
from .hashindex import HashIndex

__all__ = ["LpmTrieMap", "normalized_key"]


def _masked(length: int, data: bytes) -> int:
    """`data` (network order) as an int with the bits past its first `length` cleared."""
    past = 8 * len(data) - length
    return int.from_bytes(data, "big") >> past << past


def normalized_key(length: int, data: bytes) -> bytes:
    """The index key of a prefix: length (u32, little-endian), then `data` with the bits
    past the first `length` cleared."""
    return struct.pack("<I", length) + _masked(length, data).to_bytes(len(data), "big")


class LpmTrieMap(Map):
    """Prefixes of up to (key_size - 4) * 8 bits, at most max_entries of them."""

    def __init__(self, spec: MapSpec):
        if spec.key_size <= 4:
            raise BpfError(f"LPM trie {spec.name!r}: keys are a u32 prefix length and at "
                           f"least one data byte, not {spec.key_size} bytes")
        super().__init__(spec)
        self.max_prefix = (spec.key_size - 4) * 8
        self.index = HashIndex(spec.key_size, spec.value_size, spec.max_entries,
                               self.address)
        self._lengths: Counter = Counter()          # prefix length -> prefixes of it
        self._native_lengths = ffi.new("uint32_t[]", self.max_prefix + 2)
        self.index.set_extra(int(ffi.cast("uintptr_t", self._native_lengths)))
        self._keys: dict[bytes, bytes] = {}          # normalized -> the key as given
        # Python's own lookups: (length, data with the bits past it cleared) -> slot, the
        # lengths longest first (programs only read the index: it changes only here)
        self._slots: dict[tuple[int, int], int] = {}
        self._order: list[int] = []

    def _normalized(self, key: bytes) -> tuple[int, bytes]:
        """(prefix length, normalized key) of an update's or a delete's key."""
        length = int.from_bytes(key[:4], "little")
        if length > self.max_prefix:
            raise MapError(errno.EINVAL, f"LPM trie {self.name!r}: prefix length {length} "
                                         f"is more than {self.max_prefix} bits")
        return length, normalized_key(length, key[4:])

    def _count(self, length: int, change: int) -> None:
        """Keep the native list of lengths in use (longest first) up to date."""
        self._lengths[length] += change
        if not self._lengths[length]:
            del self._lengths[length]
        used = self._order = sorted(self._lengths, reverse=True)
        for i, value in enumerate(used, 1):
            self._native_lengths[i] = value
        self._native_lengths[0] = len(used)

    @staticmethod
    def _prefix(length: int, data: bytes) -> tuple[int, int]:
        return length, _masked(length, data)

    def lookup_slot(self, key: bytes) -> int | None:
        length = min(int.from_bytes(key[:4], "little"), self.max_prefix)
        data, width, slots = int.from_bytes(key[4:], "big"), self.max_prefix, self._slots
        for bits in self._order:
            if bits <= length:
                slot = slots.get((bits, data >> (width - bits) << (width - bits)))
                if slot is not None:
                    return slot
        return None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        check_flags(self.name, flags)
        length, normal = self._normalized(key)
        new = normal not in self._keys
        slot = self.index.update(normal, flags)
        if slot == -errno.EEXIST:
            raise MapError(errno.EEXIST, f"LPM trie {self.name!r}: the prefix exists")
        if slot == -errno.ENOENT:
            raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
        if slot < 0:
            raise MapError(errno.ENOSPC, f"LPM trie {self.name!r} is full "
                                         f"({self.max_entries} prefixes)")
        self._keys[normal] = key
        if new:
            self._slots[self._prefix(length, key[4:])] = slot
            self._count(length, +1)
        self._write_slot(slot, value)

    def delete(self, key) -> None:
        length, normal = self._normalized(self.key(key))
        if self.index.delete(normal) is None:
            raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
        key = self._keys.pop(normal)
        del self._slots[self._prefix(length, key[4:])]
        self._count(length, -1)

    def __getitem__(self, key):
        slot = self.index.find(self._normalized(self.key(key))[1])
        if slot is None:
            raise KeyError(key)
        return self.slot_bytes(slot)

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self.index)
