"""BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH (one CPU): a hash map that, when full,
makes room for a new key by evicting the key used least recently (looked up or
updated), as the kernel's LRU lists approximate.  Every lookup reorders the keys, so
programs reach this map through Python helpers (no native index)."""

from __future__ import annotations

import errno
from collections import OrderedDict
from collections.abc import Iterator

from .base import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapSpec, check_flags

__all__ = ["LruHashMap"]


class LruHashMap(Map):
    """A hash map with eviction: an update never fails for want of room."""

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._slots: OrderedDict[bytes, int] = OrderedDict()    # least recent first
        self._free = list(range(spec.max_entries - 1, -1, -1))

    def lookup_slot(self, key: bytes) -> int | None:
        slot = self._slots.get(key)
        if slot is not None:
            self._slots.move_to_end(key)
        return slot

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        check_flags(self.name, flags)
        slot = self._slots.get(key)
        if slot is not None and flags == BPF_NOEXIST:
            raise MapError(errno.EEXIST, f"LRU hash map {self.name!r}: the key exists "
                                         f"(BPF_NOEXIST)")
        if slot is None:
            if flags == BPF_EXIST:
                raise MapError(errno.ENOENT, f"LRU hash map {self.name!r}: no such key "
                                             f"(BPF_EXIST)")
            if not self._free:
                _, evicted = self._slots.popitem(last=False)      # the least recently used
                self._free.append(evicted)
            slot = self._slots[key] = self._free.pop()
        self._slots.move_to_end(key)
        self._write_slot(slot, value)

    def delete(self, key) -> None:
        slot = self._slots.pop(self.key(key), None)
        if slot is None:
            raise MapError(errno.ENOENT, f"LRU hash map {self.name!r}: no such key")
        self._free.append(slot)

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except MapError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._slots))

    def __len__(self) -> int:
        return len(self._slots)
