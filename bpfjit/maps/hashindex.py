"""A hash map's keys in native memory, so that JIT code can look up, insert and delete
without Python, and Python sees exactly what programs did.

Everything lives in one cffi allocation that never moves:

- a header of `HEADER_FIELDS` (8 bytes each): the hash seed (random per map); the
  table's mask (its size is a power of two, at least twice max_entries, so it is never
  more than half full and a probe always meets an empty entry); the key size, its
  padded stride and the value size; the addresses of the keys, the values (the map's
  arena), the table and the free-slot stack; max_entries; the number of keys; the
  number of free slots on the stack; the LRU list's arrays and ends; and `extra`, an
  address the map type's own native code reads (an LPM trie's prefix lengths);
- the table: 8-byte entries `(slot + 1) << 32 | (h & 0xFFFFFFFF)`, 0 when empty;
- the keys: slot k's key at `keys + k * stride`, zero-padded to the stride;
- the free stack: u32 slot numbers, the next free slot on top;
- for an LRU map, a doubly linked list of the slots in use, least recently used first
  (`prev` and `next` u32 arrays by slot, NONE at the ends; its ends in the header): a
  lookup or an update moves the key to the recent end, and an insert into a full map
  first evicts the key at the old end.

The hash reads the key as little-endian 8-byte words (the last one zero-padded):
`h = seed; h = (h ^ word) * MULTIPLIER` for each word, then `h ^= h >> 32`.  A key's
home is `h & mask`; probing is linear; an entry matches when its low half is `h`'s and
its key is equal.  A delete shifts the entries after it back (no tombstones, so the
table never fills up with them).  The native code (bpfjit.backends.mapops) and
`HashIndex` do exactly the same steps; the tests hold them to each other.

Races: one map used by runs on several threads at once, or by Python while a program
runs, may lose or duplicate an update (the kernel has per-bucket locks; this has none),
but every slot read from the table or the free stack is checked against max_entries
before use, so no race can reach memory outside the map.
"""

from __future__ import annotations

import array
import errno
import random
import struct
from collections.abc import Iterator

from ..native import ffi

__all__ = ["HashIndex", "HEADER_FIELDS", "MULTIPLIER", "key_hash", "header_offset"]

M64 = (1 << 64) - 1
MULTIPLIER = 0x9E37_79B9_7F4A_7C15          # 2**64 / golden ratio, odd
HEADER_FIELDS = ("seed", "mask", "key_size", "stride", "value_size", "keys", "values",
                 "table", "free", "max_entries", "count", "free_top",
                 "prev", "next", "oldest", "newest", "extra")
_HEADER = 8 * len(HEADER_FIELDS)
_COUNT, _FREE_TOP = HEADER_FIELDS.index("count"), HEADER_FIELDS.index("free_top")
_OLDEST, _NEWEST = HEADER_FIELDS.index("oldest"), HEADER_FIELDS.index("newest")
NONE = 0xFFFF_FFFF                           # no slot: the ends of the LRU list
BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2


def header_offset(name: str) -> int:
    """Byte offset of a header field."""
    return 8 * HEADER_FIELDS.index(name)


def key_hash(seed: int, key: bytes) -> int:
    """The 64-bit hash of `key` under `seed` (see the module docstring)."""
    words = (len(key) + 7) // 8
    h = seed
    for word in struct.unpack(f"<{words}Q", key.ljust(8 * words, b"\0")):
        h = ((h ^ word) * MULTIPLIER) & M64
    return h ^ (h >> 32)


class HashIndex:
    """The keys of a hash map with `max_entries` slots of `key_size`-byte keys, whose
    values are `value_size` bytes from `values_address`; slot numbers index both.
    With `lru`, the keys are also kept in order of use and a full map evicts."""

    @staticmethod
    def layout(key_size: int, max_entries: int, lru: bool = False) -> dict[str, int]:
        """The table's size (entries) and the byte offsets of the parts of the allocation
        (`end`: its size)."""
        size = 16
        while size < 2 * max_entries:
            size *= 2
        keys_at = _HEADER + 8 * size
        free_at = keys_at + ((key_size + 7) & ~7) * max_entries
        prev_at = free_at + 4 * max_entries
        next_at = prev_at + 4 * max_entries * lru
        return {"size": size, "keys": keys_at, "free": free_at, "prev": prev_at,
                "next": next_at, "end": next_at + 4 * max_entries * lru}

    def __init__(self, key_size: int, value_size: int, max_entries: int, values_address: int,
                 lru: bool = False):
        layout = self.layout(key_size, max_entries, lru)
        size = layout["size"]
        self.size, self.key_size, self.max_entries = size, key_size, max_entries
        self.stride = (key_size + 7) & ~7
        self.seed = random.getrandbits(64)
        self.lru = lru
        keys_at, free_at, prev_at, next_at = (layout[k] for k in ("keys", "free", "prev",
                                                                   "next"))
        self._memory = ffi.new("uint8_t[]", layout["end"])      # zeroed: empty
        self.address = int(ffi.cast("uintptr_t", self._memory))
        self.keys_address = self.address + keys_at
        self._header = ffi.cast("uint64_t *", self._memory)
        self._table = ffi.cast("uint64_t *", self._memory + _HEADER)
        self._keys = ffi.buffer(self._memory + keys_at, self.stride * max_entries)
        self._free = ffi.cast("uint32_t *", self._memory + free_at)
        self._prev = ffi.cast("uint32_t *", self._memory + prev_at)
        self._next = ffi.cast("uint32_t *", self._memory + next_at)
        for i, value in enumerate((self.seed, size - 1, key_size, self.stride, value_size,
                                   self.address + keys_at, values_address,
                                   self.address + _HEADER, self.address + free_at,
                                   max_entries, 0, max_entries,
                                   self.address + prev_at, self.address + next_at,
                                   NONE, NONE, 0)):
            self._header[i] = value
        self._free_at = free_at
        self._refill_free()

    def _refill_free(self) -> None:
        """Every slot free, slot 0 on top (the first key gets it): filled in one copy, a
        loop of cffi stores took 31 ms for a 524,288-entry map (cilium's tables)."""
        free = array.array("I", range(self.max_entries - 1, -1, -1))
        ffi.memmove(self._memory + self._free_at, free, 4 * self.max_entries)

    def clear(self) -> None:
        """No key, and every slot free in its first order: the index as it was made (the
        seed kept), so that keys inserted next get the slots a fresh map gives them."""
        header = self._header
        ffi.memmove(self._table, bytes(8 * self.size), 8 * self.size)
        header[_COUNT], header[_FREE_TOP] = 0, self.max_entries
        header[_OLDEST] = header[_NEWEST] = NONE
        self._refill_free()

    def set_extra(self, address: int) -> None:
        """The header's `extra` field: an address the map type's own native code reads
        (an LPM trie's list of prefix lengths)."""
        self._header[HEADER_FIELDS.index("extra")] = address

    # ---- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._header[_COUNT])

    def _key_at(self, slot: int) -> bytes:
        at = slot * self.stride
        return bytes(self._keys[at:at + self.key_size])

    def _probe(self, key: bytes) -> tuple[int, int | None, int]:
        """(the position of key's entry, or of the empty entry that ends its probe;
        its slot, or None when absent; the entry's low half)."""
        h = key_hash(self.seed, key)
        low, mask, table = h & 0xFFFF_FFFF, self.size - 1, self._table
        position = h & mask
        while True:
            entry = table[position]
            if entry == 0:
                return position, None, low
            slot = (entry >> 32) - 1
            if entry & 0xFFFF_FFFF == low and slot < self.max_entries \
                    and self._keys[slot * self.stride:slot * self.stride + self.key_size] == key:
                return position, slot, low
            position = (position + 1) & mask

    def holds(self, slot: int) -> bool:
        """Whether slot `slot` holds a key: the probe for the key stored there finds this
        slot (a free slot's stale bytes are no key, or another slot's)."""
        return self._probe(self._key_at(slot))[1] == slot

    def find(self, key: bytes) -> int | None:
        """The slot of `key`, or None (for an LRU map, a found key becomes the newest)."""
        slot = self._probe(key)[1]
        if slot is not None and self.lru:
            self._touch(slot)
        return slot

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        """(key, slot) of every key: in table order, or oldest first for an LRU map (a
        snapshot)."""
        if self.lru:
            found, slot = [], int(self._header[_OLDEST])
            while slot != NONE and len(found) < self.max_entries:
                found.append((self._key_at(slot), slot))
                slot = int(self._next[slot])
            return iter(found)
        table, found = self._table, []
        for position in range(self.size):
            entry = table[position]
            if entry:
                slot = (entry >> 32) - 1
                found.append((self._key_at(slot), slot))
        return iter(found)

    # ---- writing ----------------------------------------------------------------------------

    def update(self, key: bytes, flags: int) -> int:
        """The slot `key` has, or gets, for an update with `flags` (BPF_ANY, NOEXIST or
        EXIST); or the kernel's error as a negative errno: -EEXIST, -ENOENT, -E2BIG."""
        position, slot, low = self._probe(key)
        if slot is not None:
            if flags == BPF_NOEXIST:
                return -errno.EEXIST
            if self.lru:
                self._touch(slot)
            return slot
        if flags == BPF_EXIST:
            return -errno.ENOENT
        header = self._header
        top = int(header[_FREE_TOP])
        if top == 0 and self.lru and header[_OLDEST] != NONE:    # full: evict the oldest
            self.delete(self._key_at(int(header[_OLDEST])))
            position, _, low = self._probe(key)
            top = int(header[_FREE_TOP])
        if top == 0:
            return -errno.E2BIG
        slot = int(self._free[top - 1])
        header[_FREE_TOP] = top - 1
        at = slot * self.stride
        self._keys[at:at + self.stride] = key + bytes(self.stride - self.key_size)
        self._table[position] = (slot + 1) << 32 | low      # the key first, then the entry
        header[_COUNT] = header[_COUNT] + 1
        if self.lru:
            self._append(slot)
        return slot

    def delete(self, key: bytes) -> int | None:
        """Remove `key`; its slot (back on the free stack), or None when absent."""
        position, slot, _ = self._probe(key)
        if slot is None:
            return None
        table, mask, header = self._table, self.size - 1, self._header
        hole = position
        following = (hole + 1) & mask
        while table[following]:
            # an entry may move back into the hole unless its home lies cyclically in
            # (hole, following]: then it would sit before its home
            home = table[following] & mask
            if not (home - hole - 1) % self.size < (following - hole) % self.size:
                table[hole] = table[following]
                hole = following
            following = (following + 1) & mask
        table[hole] = 0
        if self.lru:
            self._unlink(slot)
        top = int(header[_FREE_TOP])
        if top < self.max_entries:
            self._free[top] = slot
            header[_FREE_TOP] = top + 1
        header[_COUNT] = header[_COUNT] - 1
        return slot

    # ---- the LRU list -----------------------------------------------------------------------

    def _unlink(self, slot: int) -> None:
        before, after, header = int(self._prev[slot]), int(self._next[slot]), self._header
        if before != NONE:
            self._next[before] = after
        else:
            header[_OLDEST] = after
        if after != NONE:
            self._prev[after] = before
        else:
            header[_NEWEST] = before

    def _append(self, slot: int) -> None:
        header = self._header
        newest = int(header[_NEWEST])
        self._prev[slot], self._next[slot] = newest, NONE
        if newest != NONE:
            self._next[newest] = slot
        else:
            header[_OLDEST] = slot
        header[_NEWEST] = slot

    def _touch(self, slot: int) -> None:
        """`slot` was used: it becomes the newest."""
        if self._header[_NEWEST] != slot:
            self._unlink(slot)
            self._append(slot)
