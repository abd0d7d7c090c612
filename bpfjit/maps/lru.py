"""BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH (one CPU): a hash map that, when full,
makes room for a new key by evicting the key used least recently (looked up or
updated), as the kernel's LRU lists approximate."""

from __future__ import annotations

from collections import OrderedDict

from .base import BPF_ANY, MapSpec
from .hash import HashMap

__all__ = ["LruHashMap"]


class LruHashMap(HashMap):
    """A hash map with eviction: an update never fails for want of room."""

    NATIVE_INDEX = False       # a lookup moves the key to the recent end: Python does it

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._slots: OrderedDict[bytes, int] = OrderedDict()

    def lookup_slot(self, key: bytes) -> int | None:
        slot = self._slots.get(key)
        if slot is not None:
            self._slots.move_to_end(key)
        return slot

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key = self.key(key)
        if key not in self._slots and not self._free:
            _, slot = self._slots.popitem(last=False)      # the least recently used
            self._free.append(slot)
        super().update(key, value, flags)
        self._slots.move_to_end(key)
