"""BPF_MAP_TYPE_HASH and PERCPU_HASH (one CPU): at most max_entries keys, each value
in its own arena slot (so a pointer a lookup returned stays valid until a delete).

Python finds keys through a dict; JIT code through the map's native index
(bpfjit.maps.hashindex), which every update and delete keeps equal to the dict."""

from __future__ import annotations

import errno
from collections.abc import Iterator

from .base import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapSpec, check_flags
from .hashindex import HashIndex

__all__ = ["HashMap"]


class HashMap(Map):
    """BPF_MAP_TYPE_HASH: at most max_entries keys; values live in arena slots."""

    NATIVE_INDEX = True        # kinds whose lookups change nothing (not LRU) keep one

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._slots: dict[bytes, int] = {}
        self._free = list(range(spec.max_entries - 1, -1, -1))
        self.index = HashIndex(spec.key_size, spec.value_size, spec.max_entries,
                               self.address) if self.NATIVE_INDEX else None

    def lookup_slot(self, key: bytes) -> int | None:
        return self._slots.get(key)

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        check_flags(self.name, flags)
        slot = self._slots.get(key)
        if slot is not None:
            if flags == BPF_NOEXIST:
                raise MapError(errno.EEXIST, f"hash map {self.name!r}: the key exists "
                                             f"(BPF_NOEXIST)")
        else:
            if flags == BPF_EXIST:
                raise MapError(errno.ENOENT, f"hash map {self.name!r}: no such key (BPF_EXIST)")
            if not self._free:
                raise MapError(errno.E2BIG, f"hash map {self.name!r} is full "
                                            f"({self.max_entries} entries)")
            slot = self._slots[key] = self._free.pop()
            self._write_slot(slot, value)
            if self.index is not None:
                self.index.insert(key, slot)
            return
        self._write_slot(slot, value)

    def delete(self, key) -> None:
        key = self.key(key)
        slot = self._slots.pop(key, None)
        if slot is None:
            raise MapError(errno.ENOENT, f"hash map {self.name!r}: no such key")
        if self.index is not None:
            self.index.remove(key)
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


