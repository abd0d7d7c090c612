"""BPF_MAP_TYPE_LPM_TRIE: longest-prefix match, as routing tables need.

A key is `struct { u32 prefixlen; u8 data[key_size - 4]; }`, the data in network
order.  An update stores the prefix (the first prefixlen bits of data; the rest
must not matter); a lookup with a full-length key finds the stored prefix that
matches the most leading bits.  Values live in arena slots, as in a hash map.

The prefixes live in a native hash index (bpfjit.maps.hashindex) under their
normalized key — the prefix length, then the data with every bit past it cleared.
The index's `extra` field points at the rest of the trie's native state
(`extra_layout`): the number of prefix lengths in use, a generation counter bumped
by every change, the lengths in use longest first, a count of prefixes per length,
and per slot the key as last given (iteration returns it, as the kernel's
get_next_key does).  A lookup tries each length in use that is not longer than the
key's, longest first, and takes the first prefix found.  The JIT engines do lookups,
updates and deletes in native code (bpfjit.backends.lpmops) with the same steps as
the methods here, so Python and programs always see the same trie.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

from ..errors import BpfError
from ..native import ffi
from .base import BPF_ANY, BPF_F_NO_PREALLOC, Map, MapError, MapSpec, check_flags
from .hashindex import HashIndex

__all__ = ["LpmTrieMap", "normalized_key", "extra_layout"]

MAX_DATA = 256                  # the kernel's LPM_DATA_SIZE_MAX: bytes after the length


def _masked(length: int, data: bytes) -> int:
    """`data` (network order) as an int with the bits past its first `length` cleared."""
    past = 8 * len(data) - length
    return int.from_bytes(data, "big") >> past << past


def normalized_key(length: int, data: bytes) -> bytes:
    """The index key of a prefix: length (u32, little-endian), then `data` with the bits
    past the first `length` cleared."""
    return struct.pack("<I", length) + _masked(length, data).to_bytes(len(data), "big")


def extra_layout(key_size: int) -> dict[str, int]:
    """Byte offsets of the native state behind the index's `extra` field, for
    `key_size`-byte keys (P = the widest prefix, 8 * (key_size - 4)): u32 `used` (how
    many lengths are in use) and `generation`; u32 `lengths[P + 1]`, those in use
    longest first; u32 `counts[P + 1]`, prefixes per length; then `given`, the keys as
    last given, key_size bytes per slot."""
    slots = 8 * (key_size - 4) + 1
    counts = 8 + 4 * slots
    return {"used": 0, "generation": 4, "lengths": 8, "counts": counts,
            "given": (counts + 4 * slots + 7) & ~7}


def _extra_bytes(spec: MapSpec) -> int:
    """The size of a trie's native state behind the index's `extra` field."""
    return extra_layout(spec.key_size)["given"] + spec.key_size * spec.max_entries


class LpmTrieMap(Map):
    """Prefixes of up to (key_size - 4) * 8 bits, at most max_entries of them."""

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        # the kernel's rules (trie_alloc), so that what loads here loads there
        if not 4 < spec.key_size <= 4 + MAX_DATA:
            raise BpfError(f"LPM trie {spec.name!r}: keys are a u32 prefix length and 1 to "
                           f"{MAX_DATA} data bytes, not {spec.key_size} bytes")
        if spec.value_size <= 0:
            raise BpfError(f"LPM trie {spec.name!r}: values must be at least one byte")
        if not spec.flags & BPF_F_NO_PREALLOC:
            raise BpfError(f"LPM trie {spec.name!r}: the kernel makes LPM tries only with "
                           f"map_flags BPF_F_NO_PREALLOC (1), got {spec.flags:#x}")
        Map.check_spec(spec)

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.max_prefix = (spec.key_size - 4) * 8
        self.index = HashIndex(spec.key_size, spec.value_size, spec.max_entries,
                               self.address)
        layout = extra_layout(spec.key_size)
        self._native = ffi.new("uint8_t[]", _extra_bytes(spec))
        self.index.set_extra(int(ffi.cast("uintptr_t", self._native)))
        self._header = ffi.cast("uint32_t *", self._native)          # used, generation
        self._lengths = ffi.cast("uint32_t *", self._native + layout["lengths"])
        self._counts = ffi.cast("uint32_t *", self._native + layout["counts"])
        self._given = ffi.buffer(self._native + layout["given"],
                                 spec.key_size * spec.max_entries)
        # Python's own lookups: (length, data with the bits past it cleared) -> slot, and
        # the lengths longest first, as of generation `_seen` (programs may change the
        # trie natively: then they are rebuilt from the index)
        self._slots: dict[tuple[int, int], int] = {}
        self._order: list[int] = []
        self._seen = 0

    KEY_INDEX = True

    @classmethod
    def native_bytes(cls, spec: MapSpec) -> int:
        return super().native_bytes(spec) + _extra_bytes(spec)

    def _normalized(self, key: bytes) -> tuple[int, bytes]:
        """(prefix length, normalized key) of an update's or a delete's key."""
        length = int.from_bytes(key[:4], "little")
        if length > self.max_prefix:
            raise MapError(errno.EINVAL, f"LPM trie {self.name!r}: prefix length {length} "
                                         f"is more than {self.max_prefix} bits")
        return length, normalized_key(length, key[4:])

    def _count(self, length: int, change: int) -> None:
        """One prefix of `length` more or fewer: the counts and the native list of
        lengths in use, longest first."""
        self._counts[length] += change
        used = int(self._header[0])
        order = [int(self._lengths[i]) for i in range(used)]
        if change > 0 and self._counts[length] == 1:
            order = sorted(order + [length], reverse=True)
        elif change < 0 and self._counts[length] == 0:
            order.remove(length)
        for i, value in enumerate(order):
            self._lengths[i] = value
        self._header[0] = len(order)

    def _changed(self) -> bool:
        """Bump the generation; whether Python's lookup tables were current before."""
        current = self._seen == self._header[1]
        self._header[1] = (self._header[1] + 1) & 0xFFFF_FFFF
        if current:
            self._seen = int(self._header[1])
            self._order = [int(self._lengths[i]) for i in range(self._header[0])]
        return current

    def _refresh(self) -> None:
        """Rebuild Python's lookup tables from the native state (a program changed it)."""
        self._slots = {(int.from_bytes(key[:4], "little"), int.from_bytes(key[4:], "big")):
                       slot for key, slot in self.index}
        self._order = [int(self._lengths[i]) for i in range(self._header[0])]
        self._seen = int(self._header[1])

    def lookup_slot(self, key: bytes) -> int | None:
        if self._seen != self._header[1]:
            self._refresh()
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
        before = len(self.index)
        slot = self.index.update(normal, flags)
        if slot == -errno.EEXIST:
            raise MapError(errno.EEXIST, f"LPM trie {self.name!r}: the prefix exists")
        if slot == -errno.ENOENT:
            raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
        if slot < 0:
            raise MapError(errno.ENOSPC, f"LPM trie {self.name!r} is full "
                                         f"({self.max_entries} prefixes)")
        self._write_slot(slot, value)
        self._given[slot * self.key_size:(slot + 1) * self.key_size] = key
        if len(self.index) != before:
            self._count(length, +1)
        if self._changed():
            self._slots[length, int.from_bytes(normal[4:], "big")] = slot

    def delete(self, key) -> None:
        length, normal = self._normalized(self.key(key))
        if self.index.delete(normal) is None:
            raise MapError(errno.ENOENT, f"LPM trie {self.name!r}: no such prefix")
        self._count(length, -1)
        if self._changed():
            del self._slots[length, int.from_bytes(normal[4:], "big")]

    def __getitem__(self, key):
        slot = self.index.find(self._normalized(self.key(key))[1])
        if slot is None:
            raise KeyError(key)
        return self.slot_bytes(slot)

    def __iter__(self) -> Iterator[bytes]:
        size = self.key_size
        return iter([bytes(self._given[slot * size:(slot + 1) * size])
                     for _, slot in self.index])

    def __len__(self) -> int:
        return len(self.index)
