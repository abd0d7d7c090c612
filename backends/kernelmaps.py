"""The maps of a program the kernel engine runs (backends/kerneljit.py): each map the
program names (its object may hold more) has a twin created in the kernel, of the
same type and sizes.  Before a
run the twin is given the map's entries; after it the map takes the twin's, so a run
in the kernel leaves the program's maps as a run on any other engine does.

Only arrays and hash maps: their semantics are the same in bpfjit and the kernel, and
a run's effect on them is deterministic (an LRU map's evictions, per-CPU values and
the other types are not, or have no twin), so the engine refuses the others."""

from __future__ import annotations

from bpfjit import bpfsys
from bpfjit.errors import BpfError

__all__ = ["KernelMaps", "TWIN_TYPES"]

# the kernel's map types (enum bpf_map_type) a twin is made for
_HASH, _ARRAY = 1, 2
TWIN_TYPES = frozenset((_HASH, _ARRAY))


class KernelMaps:
    """The kernel twins of a program's maps, by the program's map index (`fds`: None
    for a map the program does not name, which needs none)."""

    def __init__(self, maps: list, used: frozenset[int] | None = None):
        used = frozenset(range(len(maps))) if used is None else used
        self.maps = [m for i, m in enumerate(maps) if i in used]
        for the_map in self.maps:
            if the_map.spec.type not in TWIN_TYPES:
                raise BpfError(f"the kernel engine runs programs whose maps are arrays or "
                               f"hash maps; {the_map.spec.name!r} is a "
                               f"{the_map.spec.type_name} map")
        self.fds: list[int | None] = [None] * len(maps)
        self._twins: list[int] = []         # the fds of self.maps, in their order
        try:
            for index, the_map in enumerate(maps):
                if index in used:
                    spec = the_map.spec
                    fd = bpfsys.map_create(spec.type, spec.key_size, spec.value_size,
                                           spec.max_entries)
                    self.fds[index] = fd
                    self._twins.append(fd)
        except BaseException:
            self.close()
            raise

    def give(self) -> None:
        """Make every twin hold exactly its map's entries."""
        for the_map, fd in zip(self.maps, self._twins):
            entries = dict(the_map.items())
            if the_map.spec.type == _HASH:          # a hash map: what the map lacks goes
                for key in bpfsys.map_keys(fd, the_map.spec.key_size):
                    if key not in entries:
                        bpfsys.map_delete(fd, key)
            for key, value in entries.items():
                bpfsys.map_update(fd, key, value)

    def read(self) -> list[dict[bytes, bytes]]:
        """Every twin's entries."""
        return [{key: bpfsys.map_lookup(fd, key, m.spec.value_size)
                 for key in bpfsys.map_keys(fd, m.spec.key_size)}
                for m, fd in zip(self.maps, self._twins)]

    def take(self, contents: list[dict[bytes, bytes]]) -> None:
        """Give the maps the entries `read` returned (a read-only map is left alone: no
        program can have changed it)."""
        for the_map, entries in zip(self.maps, contents):
            if the_map.read_only:
                continue
            if the_map.spec.type == _HASH:
                for key in [key for key in the_map if key not in entries]:
                    del the_map[key]
            for key, value in entries.items():
                if value is not None:
                    the_map[key] = value

    def close(self) -> None:
        for fd in self._twins:
            bpfsys.close(fd)
        self._twins.clear()
        self.fds = [None] * len(self.fds)
