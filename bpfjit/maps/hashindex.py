"""A hash map's key index in native memory, so that JIT code can look keys up itself.

The index is an open-addressing table that Python writes (every update and delete of
the map goes through bpfjit.maps.hash) and JIT code only reads.  It lives in one cffi
allocation that never moves:

- a header of `HEADER_FIELDS` (8 bytes each): the hash seed (random per map), the
  table's mask (its size is a power of two, at least twice max_entries, so a probe
  always meets an empty entry), the key size, the padded key stride, the value size,
  and the addresses of the keys, the values (the map's arena) and the table;
- the table: 8-byte entries, `tag << 32 | slot + 1`, 0 when empty, `TOMBSTONE` in the
  low half when its key was deleted;
- the keys: slot k's key at `keys + k * stride`, zero-padded to the stride.

The hash reads the key as little-endian 8-byte words (the last one zero-padded):
`h = seed; h = (h ^ word) * MULTIPLIER` for each word, then `h ^= h >> 32`; the probe
starts at `h & mask` and an entry matches when its tag is `h >> 32` and its key is equal.
The engines' lookups (bpfjit.backends.hashlookup) compute exactly this; so does
`HashIndex.find`, which the tests compare them with.
"""

from __future__ import annotations

import random

from ..native import ffi

__all__ = ["HashIndex", "HEADER_FIELDS", "MULTIPLIER", "TOMBSTONE", "key_hash", "header_offset"]

M64 = (1 << 64) - 1
MULTIPLIER = 0x9E37_79B9_7F4A_7C15          # 2**64 / golden ratio, odd
TOMBSTONE = 0xFFFF_FFFF                      # low half of a deleted entry
HEADER_FIELDS = ("seed", "mask", "key_size", "stride", "value_size", "keys", "values", "table")
_HEADER = 8 * len(HEADER_FIELDS)


def header_offset(name: str) -> int:
    """Byte offset of a header field."""
    return 8 * HEADER_FIELDS.index(name)


def key_hash(seed: int, key: bytes) -> int:
    """The 64-bit hash of `key` under `seed` (see the module docstring)."""
    h = seed
    for at in range(0, len(key), 8):
        h = ((h ^ int.from_bytes(key[at:at + 8], "little")) * MULTIPLIER) & M64
    return h ^ (h >> 32)


class HashIndex:
    """The native index of a hash map with `max_entries` slots of `key_size`-byte keys,
    whose values are `value_size` bytes from `values_address`."""

    def __init__(self, key_size: int, value_size: int, max_entries: int, values_address: int):
        size = 16
        while size < 2 * max_entries:
            size *= 2
        self.size, self.key_size = size, key_size
        self.stride = (key_size + 7) & ~7
        self.seed = random.getrandbits(64)
        total = _HEADER + 8 * size + self.stride * max_entries
        self._memory = ffi.new("uint8_t[]", total)          # zeroed: every entry empty
        self.address = int(ffi.cast("uintptr_t", self._memory))
        self._table = ffi.cast("uint64_t *", self._memory + _HEADER)
        self._keys = ffi.buffer(self._memory + _HEADER + 8 * size, self.stride * max_entries)
        header = ffi.cast("uint64_t *", self._memory)
        for i, value in enumerate((self.seed, size - 1, key_size, self.stride, value_size,
                                   self.address + _HEADER + 8 * size, values_address,
                                   self.address + _HEADER)):
            header[i] = value
        self.used = 0                 # live and deleted entries: a rebuild clears the latter

    def _probe(self, key: bytes):
        """(position of the key's entry or None, the first reusable position, tag)."""
        h = key_hash(self.seed, key)
        tag, mask, table = h >> 32, self.size - 1, self._table
        position, reusable = h & mask, None
        while True:
            entry = table[position]
            if entry == 0:
                return None, position if reusable is None else reusable, tag
            slot = entry & 0xFFFF_FFFF
            if slot == TOMBSTONE:
                if reusable is None:
                    reusable = position
            elif entry >> 32 == tag and self._key_at(slot - 1) == key:
                return position, None, tag
            position = (position + 1) & mask

    def _key_at(self, slot: int) -> bytes:
        at = slot * self.stride
        return bytes(self._keys[at:at + self.key_size])

    def find(self, key: bytes) -> int | None:
        """The slot of `key`, looked up as JIT code does it."""
        position, _, _ = self._probe(key)
        return None if position is None else (self._table[position] & 0xFFFF_FFFF) - 1

    def insert(self, key: bytes, slot: int) -> None:
        """Add `key` (not present) in `slot`; the key is written before the entry, so a
        reader that sees the entry sees the key."""
        position, free, tag = self._probe(key)
        assert position is None, "insert of a key already in the index"
        at = slot * self.stride
        self._keys[at:at + self.stride] = key + bytes(self.stride - self.key_size)
        if self._table[free] == 0:
            self.used += 1
        self._table[free] = tag << 32 | (slot + 1)
        if self.used * 4 > self.size * 3:
            self._rebuild()

    def remove(self, key: bytes) -> None:
        position, _, _ = self._probe(key)
        if position is not None:
            self._table[position] = TOMBSTONE

    def _rebuild(self) -> None:
        """Drop the tombstones: the live entries again, into an empty table."""
        table, live = self._table, []
        for position in range(self.size):
            slot = table[position] & 0xFFFF_FFFF
            if slot not in (0, TOMBSTONE):
                live.append(slot - 1)
            table[position] = 0
        self.used = 0
        for slot in live:
            key = self._key_at(slot)
            _, free, tag = self._probe(key)
            table[free] = tag << 32 | (slot + 1)
            self.used += 1
