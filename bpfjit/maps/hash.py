"""BPF_MAP_TYPE_HASH and PERCPU_HASH (one CPU): at most max_entries keys, each value
in its own arena slot (so a pointer a lookup returned stays valid until a delete).

The keys live in the map's native index (bpfjit.maps.hashindex), which JIT code
reads and writes itself; Python goes through the same index, so both always agree."""

from __future__ import annotations

import errno
from collections.abc import Iterator

from .base import BPF_ANY, BPF_F_LOCK, Map, MapError, MapSpec, check_flags
from .hashindex import HashIndex

__all__ = ["HashMap"]

_ERRORS = {errno.EEXIST: "the key exists (BPF_NOEXIST)", errno.ENOENT: "no such key (BPF_EXIST)"}


class HashMap(Map):
    """BPF_MAP_TYPE_HASH: at most max_entries keys; values live in arena slots."""

    KEY_INDEX = True
    ITERABLE = True
    keys_made = True                # (the native index's keys)

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.index = HashIndex(spec.key_size, spec.value_size, spec.max_entries,
                               self.address, lru=self.LRU)

    def lookup_slot(self, key: bytes) -> int | None:
        return self.index.find(key)

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        plain = check_flags(self.name, flags, self.spec.spin_lock is not None)
        # the kernel updates an element in place under its lock (its timer stays)
        in_place = bool(flags & BPF_F_LOCK) and self.index.find(key) is not None
        slot = self.index.update(key, plain)
        if slot == -errno.E2BIG:
            raise MapError(errno.E2BIG, f"hash map {self.name!r} is full "
                                        f"({self.max_entries} entries)")
        if slot < 0:
            raise MapError(-slot, f"hash map {self.name!r}: {_ERRORS[-slot]}")
        self._write_slot(slot, value, flags, in_place)

    def delete(self, key) -> None:
        slot = self.index.delete(self.key(key))
        if slot is None:
            raise MapError(errno.ENOENT, f"hash map {self.name!r}: no such key")
        self.free_fields(slot)

    def clear(self) -> None:
        """No key left, and the slots handed out afresh as a new map's (the order
        bpf_for_each_map_elem walks is the one a new map's would be)."""
        for _, slot in self.index:
            self.free_fields(slot)
        self.index.clear()

    def key_area(self) -> tuple[int, int]:
        """(address, stride) of the keys in the native index: slot k's key is at address
        + k * stride, where bpf_for_each_map_elem's callback is pointed (as the kernel
        points it at the element's key)."""
        return self.index.keys_address, self.index.stride

    def next_slot(self, slot: int) -> int:
        """The first slot at or after `slot` that holds a key, or max_entries: the order
        bpf_for_each_map_elem walks the map in (slots never move, so a delete during
        the walk skips nothing; the native code does the same steps)."""
        while slot < self.max_entries and not self.index.holds(slot):
            slot += 1
        return slot

    def key_of_slot(self, slot: int) -> bytes:
        """The key whose value is in slot `slot` (a timer's element, to call it back)."""
        return next(key for key, at in self.index if at == slot)

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except MapError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[bytes]:
        return iter([key for key, _ in self.index])

    def __len__(self) -> int:
        return len(self.index)
