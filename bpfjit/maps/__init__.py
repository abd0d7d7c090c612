"""eBPF maps with the kernel's semantics, one module per kind, and a program's map table.

`MAP_CLASSES` is the registry the loader reads: kernel map type id -> class.  The
per-CPU kinds behave as one CPU (processor 0).  Every map is a
`collections.abc.MutableMapping` of bytes keys to bytes values (event maps have
records instead, a program array holds programs); `MapTable` is a `Mapping` of
the maps by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from ..errors import BpfError
from ..limits import limits
from .array import ArrayMap
from .base import (BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_NOEXIST,
                   MAP_TYPE_NAMES, Map, MapError, MapSpec, map_handle)
from .events import PerfEventArray, PerfRecord, RingBuf
from .hash import HashMap
from .lpm import LpmTrieMap
from .lru import LruHashMap
from .of_maps import ArrayOfMaps, HashOfMaps
from .prog_array import ProgArray
from .queue import QueueMap, StackMap
from .redirect import REDIRECT_TYPES, CpuMap, DevMap, DevMapHash, XskMap
from .sk_storage import SkStorage
from .sockmap import SOCKET_MAP_TYPES, SockHash, SockMap

__all__ = ["MapSpec", "Map", "ArrayMap", "HashMap", "LruHashMap", "LpmTrieMap", "DevMap",
           "DevMapHash", "CpuMap", "XskMap", "ProgArray", "PerfEventArray", "RingBuf",
           "PerfRecord", "ArrayOfMaps", "HashOfMaps", "QueueMap", "StackMap", "SockMap", "SockHash",
           "SkStorage", "SOCKET_MAP_TYPES", "MapTable", "MapError", "make_map",
           "check_map_memory", "allocated_specs", "LAZY_TYPES",
           "MAP_CLASSES", "MAP_TYPES", "ARRAY_TYPES", "HASH_TYPES", "LRU_TYPES", "LPM_TRIE", "ARRAY_OF_MAPS", "HASH_OF_MAPS", "BPF_ANY", "BPF_NOEXIST", "BPF_EXIST",
           "BPF_F_LOCK", "map_handle"]

MAP_CLASSES: dict[int, type[Map]] = {
    1: HashMap, 2: ArrayMap, 3: ProgArray, 4: PerfEventArray, 5: HashMap, 6: ArrayMap,
    9: LruHashMap, 10: LruHashMap, 11: LpmTrieMap, 12: ArrayOfMaps, 13: HashOfMaps,
    15: SockMap, 18: SockHash, 22: QueueMap, 23: StackMap, 24: SkStorage, 27: RingBuf,
    **REDIRECT_TYPES,
}
MAP_TYPES = {t: MAP_TYPE_NAMES[t] for t in sorted(MAP_CLASSES)}   # the kinds bpfjit has
ARRAY_TYPES = (2, 6)          # lookups the JITs may inline: &values[key] if key < max
HASH_TYPES = (1, 5)           # maps the JITs look up, update and delete in natively,
LRU_TYPES = (9, 10)           # ... and the LRU ones (through their native index)
LPM_TRIE = 11                 # longest-prefix match: native operations too
ARRAY_OF_MAPS = 12            # lookups inline too: the arena holds 1 + each inner map's index
HASH_OF_MAPS = 13             # native lookups through its index; slots hold the same


def map_class(spec: MapSpec) -> type[Map]:
    """The class of map a spec makes; BpfError naming the map for a kind bpfjit lacks."""
    cls = MAP_CLASSES.get(spec.type)
    if cls is None:
        raise BpfError(f"map {spec.name!r}: map type {spec.type} ({spec.type_name}) is not "
                       f"supported; bpfjit has "
                       f"{', '.join(f'{n} ({t})' for t, n in MAP_TYPES.items())}")
    return cls


def make_map(spec: MapSpec) -> Map:
    """The map object for a spec; BpfError naming the map for a kind bpfjit lacks."""
    return map_class(spec)(spec)


# the kinds whose elements the kernel allocates one by one under BPF_F_NO_PREALLOC (an
# LPM trie always): hash maps and LPM tries
LAZY_TYPES = (1, 5, 13, LPM_TRIE)


def _lazy(spec: MapSpec) -> bool:
    return spec.type in LAZY_TYPES and bool(spec.flags & BPF_F_NO_PREALLOC) \
        and spec.value_size > 0


def allocated_specs(specs: list[MapSpec], as_given: set[str] = frozenset()) -> list[MapSpec]:
    """The maps bpfjit makes for those an object declares.  A hash map or LPM trie whose
    memory the kernel allocates per element (BPF_F_NO_PREALLOC) holds at most as many
    elements as `limits().map_bytes` has room for, and such maps together at most what
    `object_map_bytes` leaves beside the others, so that the million-entry tables of
    production programs (gtp-guard's, kmesh's) load as the kernel loads them; any other
    map, and those named in `as_given` (sized by the caller), as declared."""
    room = limits().map_bytes
    out = [dataclasses.replace(spec, max_entries=max(room // spec.value_size, 1))
           if _lazy(spec) and spec.name not in as_given
           and spec.max_entries > room // spec.value_size else spec for spec in specs]
    shrinkable = [i for i, spec in enumerate(out) if _lazy(spec) and spec.name not in as_given]
    limit = limits().object_map_bytes
    for _ in range(8):
        sizes = [map_class(spec).native_bytes(spec) for spec in out]
        fixed = sum(size for i, size in enumerate(sizes) if i not in shrinkable)
        lazy = sum(sizes[i] for i in shrinkable)
        if fixed + lazy <= limit or not lazy or fixed >= limit:
            break                       # (preallocated maps too large: check_map_memory says so)
        share = (limit - fixed) / lazy * 0.99        # (a hash index's table is a power of 2)
        for i in shrinkable:
            out[i] = dataclasses.replace(out[i], max_entries=max(int(out[i].max_entries * share), 1))
    return out


def check_map_memory(specs: list[MapSpec]) -> None:
    """BpfError when maps of these specs would take more native memory together than
    the limit in force (bpfjit.limits: object_map_bytes), before any is allocated."""
    sizes = sorted(((map_class(spec).native_bytes(spec), spec) for spec in specs),
                   key=lambda pair: -pair[0])
    total = sum(size for size, _ in sizes)
    limit = limits().object_map_bytes
    if total > limit:
        largest = ", ".join(f"{spec.name!r} ({spec.max_entries} entries, {size} bytes)"
                            for size, spec in sizes[:3] if size * 16 >= total)
        raise BpfError(f"its {len(specs)} maps would take {total} bytes of memory together, "
                       f"more than the limit of {limit}; the largest: {largest}.  Give "
                       f"them fewer entries, as their loader may (load_elf(..., "
                       f"max_entries={{{sizes[0][1].name!r}: N}}), --max-entries), or raise "
                       f"the limit (bpfjit.set_limits(object_map_bytes=...))")


class MapTable(Mapping):
    """A program's maps, by index (what lddw refers to) and by name."""

    def __init__(self, maps: list[Map] | tuple[Map, ...] = (), names: list[str] | None = None):
        """`names`: what the program calls each map (default: their own names; a map an
        object is given may have another)."""
        self.list: tuple[Map, ...] = tuple(maps)
        self._by_name = dict(zip(names or [m.name for m in self.list], self.list))
        for m in self.list:
            if hasattr(m, "table"):          # maps of maps hold maps of this table
                m.table = self

    def __getitem__(self, name: str) -> Map:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise KeyError(f"no map named {name!r} (maps: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self.list)

    def index_of(self, the_map: Map) -> int:
        """The index (lddw's) of this very map object (maps compare by contents)."""
        for i, m in enumerate(self.list):
            if m is the_map:
                return i
        raise KeyError(f"map {the_map.name!r} is not in this table")

    def find(self, address: int, size: int) -> Map | None:
        """The map whose arena holds [address, address + size), in real addresses."""
        for m in self.list:
            if m.address <= address and address + size <= m.address + m.size:
                return m
        return None

    def find_keys(self, address: int, size: int) -> Map | None:
        """The map whose keys bpf_for_each_map_elem walks (Map.key_range) hold [address,
        address + size), in real addresses: a helper may read them, not write them."""
        for m in self.list:
            keys = m.key_range()
            if keys is not None and keys[0] <= address and address + size <= keys[1]:
                return m
        return None

    def __repr__(self) -> str:
        return f"<MapTable {', '.join(self._by_name) or 'empty'}>"
