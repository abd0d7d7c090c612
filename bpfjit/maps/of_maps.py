"""Maps of maps: ARRAY_OF_MAPS (u32 index) and HASH_OF_MAPS (any key) hold other maps.

A program looks up an inner map and then uses it like a map it named itself.  The
inner maps are maps of the same object: those named in the definition's `.values`
initialisers, maps set from Python (`outer[i] = prog.maps["other"]`, or its name),
and one map bpfjit makes from the inner definition, named `<outer>.inner`.  Each
must match the inner definition (type, key and value sizes), as the kernel requires.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ..errors import BpfError
from .hashindex import HashIndex
from .base import (BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapSpec, check_flags,
                   map_handle)

__all__ = ["ArrayOfMaps", "HashOfMaps"]


class _MapsOfMaps(Map):
    """key -> inner Map (an array of maps also keeps 1 + the inner map's index in the
    table in its arena, for the JIT engines)."""

    PROGRAM_READ_ONLY = True
    PROGRAM_HELPERS = frozenset({"map_lookup_elem"})
    ARRAY = False

    def __init__(self, spec: MapSpec):
        if spec.inner is None:
            raise BpfError(f"{spec.type_name} {spec.name!r} needs an inner map definition: "
                           f"declared (__array(values, struct {{...}})) or given by the "
                           f"loader (load_elf's inner_maps=, the command line's --inner-map)")
        if spec.value_size != 4 or (self.ARRAY and spec.key_size != 4):
            raise BpfError(f"{spec.type_name} {spec.name!r}: values are 4 bytes (a map)"
                           + (" and keys 4 bytes" if self.ARRAY else ""))
        super().__init__(spec)
        self._inner: dict[bytes, Map] = {}
        self.table = None            # the MapTable it belongs to (set by the table)

    def fits(self, other: Map) -> bool:
        """Whether `other` may be an inner map of this one."""
        t = self.spec.inner
        return (other.spec.type, other.key_size, other.value_size) == \
            (t.type, t.key_size, t.value_size)

    def inner(self, key: bytes) -> Map | None:
        return self._inner.get(key)

    def lookup_slot(self, key: bytes) -> int | None:
        return None              # programs get the inner map's handle, not a value

    def program_lookup(self, key: bytes, arena_address: int) -> int:
        inner = self._inner.get(key)
        return 0 if inner is None else map_handle(self.table.index_of(inner))

    def _as_map(self, value) -> Map:
        if isinstance(value, str) and self.table is not None and value in self.table:
            value = self.table[value]
        if not isinstance(value, Map) or self.table is None \
                or not any(value is m for m in self.table.list):
            raise BpfError(f"{self.spec.type_name} {self.name!r}: an entry is a map of the "
                           f"same object (or its name), not {value!r}")
        if not self.fits(value):
            t = self.spec.inner
            raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r}: map "
                                         f"{value.name!r} does not match the inner definition "
                                         f"({t.type_name}, key {t.key_size}, value "
                                         f"{t.value_size})")
        return value

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key = self.key(key)
        check_flags(self.name, flags)
        if self.ARRAY and int.from_bytes(key, "little") >= self.max_entries:
            raise MapError(errno.E2BIG, f"{self.spec.type_name} {self.name!r}: index past "
                                        f"max_entries {self.max_entries}")
        inner = self._as_map(value)
        if flags == BPF_NOEXIST and key in self._inner:
            raise MapError(errno.EEXIST, f"{self.spec.type_name} {self.name!r}: the key exists")
        if flags == BPF_EXIST and key not in self._inner:
            raise MapError(errno.ENOENT, f"{self.spec.type_name} {self.name!r}: no such key")
        if key not in self._inner and len(self._inner) >= self.max_entries:
            raise MapError(errno.E2BIG, f"{self.spec.type_name} {self.name!r} is full")
        self._inner[key] = inner
        self._note(key, 1 + self.table.index_of(inner))

    def _note(self, key: bytes, held: int) -> None:
        """Keep 1 + each entry's inner map index (0: none) where the JIT engines read it:
        an array of maps at the key's place in its arena, a hash of maps in the arena
        slot its native index gives the key (bpfjit.maps.hashindex)."""
        if self.ARRAY:
            at = 4 * int.from_bytes(key, "little")
        elif held:
            at = 4 * self.index.update(key, BPF_ANY)
        else:
            self.index.delete(key)
            return
        self.arena[at:at + 4] = held.to_bytes(4, "little")

    def delete(self, key) -> None:
        key = self.key(key)
        if self._inner.pop(key, None) is None:
            raise MapError(errno.ENOENT, f"{self.spec.type_name} {self.name!r}: no such key")
        self._note(key, 0)

    def __getitem__(self, key):
        inner = self._inner.get(self.key(key))
        if inner is None:
            raise KeyError(key)
        return inner

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._inner))

    def __len__(self) -> int:
        return len(self._inner)


class ArrayOfMaps(_MapsOfMaps):
    """BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 index -> inner map."""
    ARRAY = True


class HashOfMaps(_MapsOfMaps):
    """BPF_MAP_TYPE_HASH_OF_MAPS: key -> inner map (the keys also in a native index, whose
    arena slots hold 1 + the inner map's index, for the JIT engines' lookups)."""

    KEY_INDEX = True

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.index = HashIndex(spec.key_size, 4, spec.max_entries, self.address)
