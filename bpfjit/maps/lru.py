"""BPF_MAP_TYPE_LRU_HASH and LRU_PERCPU_HASH (one CPU): a hash map that, when full,
makes room for a new key by evicting the key used least recently (looked up or
updated).  The order of use is a list in the map's native index, which JIT code keeps
as Python does (bpfjit.maps.hashindex); the kernel's LRU lists approximate it."""

from __future__ import annotations

from .hash import HashMap

__all__ = ["LruHashMap"]


class LruHashMap(HashMap):
    """A hash map with eviction: an update never fails for want of room."""

    LRU = True
