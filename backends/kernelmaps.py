"""The maps of a program the kernel engine runs (backends/kerneljit.py): each map the
program names (its object may hold more) has a twin created in the kernel, of the
same type and sizes.  Before a
run the twin is given the map's entries; after it the map takes the twin's, so a run
in the kernel leaves the program's maps as a run on any other engine does.

Arrays and hash maps, and their per-CPU kinds: their semantics are the same in bpfjit
and the kernel, and a run's effect on them is deterministic (an LRU map's evictions
are not, and the other types have no twin), so the engine refuses the others.
Read-only data (.rodata) is made as libbpf makes it: read-only for programs, filled
once and frozen, so that the kernel's verifier reads its values as constants (and
bpf_strncmp takes its strings).  bpfjit
keeps one CPU's values of a per-CPU map; its twin is given them on every CPU, the
kernel's test runs are made on one CPU (`on_one_cpu`), and that CPU's values are
taken back."""

from __future__ import annotations

import contextlib
import functools
import os

from bpfjit import bpfsys
from bpfjit.errors import BpfError

__all__ = ["KernelMaps", "TWIN_TYPES", "on_one_cpu"]

# the kernel's map types (enum bpf_map_type) a twin is made for
_HASH, _ARRAY, _PERCPU_HASH, _PERCPU_ARRAY = 1, 2, 5, 6
_LRU_HASH, _LRU_PERCPU_HASH, _LPM_TRIE = 9, 10, 11
TWIN_TYPES = frozenset((_HASH, _ARRAY, _PERCPU_HASH, _PERCPU_ARRAY, _LRU_HASH,
                        _LRU_PERCPU_HASH, _LPM_TRIE))
# keyed maps: a key the map lacks is deleted from its twin
_HASHES = frozenset((_HASH, _PERCPU_HASH, _LRU_HASH, _LRU_PERCPU_HASH, _LPM_TRIE))
_PER_CPU = frozenset((_PERCPU_HASH, _PERCPU_ARRAY, _LRU_PERCPU_HASH))
# the kernel evicts from a full LRU map by its own approximation of recency (reference
# bits on active and inactive lists), bpfjit the least recently used key exactly: a run
# that leaves one full is not compared
_LRU = frozenset((_LRU_HASH, _LRU_PERCPU_HASH))
_NO_PREALLOC = 1                # BPF_F_NO_PREALLOC, which the kernel requires of LPM tries


@functools.cache
def _possible_cpus() -> int:
    """How many CPUs the kernel may have: a per-CPU map's value from user space is one
    8-byte-aligned value for each."""
    with open("/sys/devices/system/cpu/possible") as f:
        last = f.read().strip().split(",")[-1].split("-")[-1]
    return int(last) + 1


@contextlib.contextmanager
def on_one_cpu():
    """Run what is inside on one CPU (the lowest this thread may use), whose values of
    a per-CPU map the twins take back; `cpu` is that CPU's number."""
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


def _constant(spec) -> bool:
    """Read-only data (.rodata): its twin is read-only for programs, filled once and
    frozen."""
    return spec.read_only and spec.type == _ARRAY


class KernelMaps:
    """The kernel twins of a program's maps, by the program's map index (`fds`: None
    for a map the program does not name, which needs none)."""

    def __init__(self, maps: list, used: frozenset[int] | None = None):
        used = frozenset(range(len(maps))) if used is None else used
        self.maps = [m for i, m in enumerate(maps) if i in used]
        for the_map in self.maps:
            if the_map.spec.type not in TWIN_TYPES:
                raise BpfError(f"the kernel engine runs programs whose maps are arrays, "
                               f"hash maps, LRU hash maps or LPM tries (and their per-CPU "
                               f"kinds); {the_map.spec.name!r} is a "
                               f"{the_map.spec.type_name} map")
        self.fds: list[int | None] = [None] * len(maps)
        try:
            for index, the_map in enumerate(maps):
                if index in used:
                    spec = the_map.spec
                    constant = _constant(spec)
                    fd = self.fds[index] = bpfsys.map_create(
                        spec.type, spec.key_size, spec.value_size, spec.max_entries,
                        spec.spin_lock, spec.timer,
                        bpfsys.READ_ONLY_PROG if constant else
                        _NO_PREALLOC if spec.type == _LPM_TRIE else 0)
                    if constant:        # .rodata: filled once and frozen, as libbpf does
                        for key, value in the_map.items():
                            bpfsys.map_update(fd, key, value)
                        bpfsys.map_freeze(fd)
        except BaseException:
            self.close()
            raise

    @property
    def _twins(self) -> list[int]:
        """The twins' file descriptors, in the order of `maps`."""
        return [fd for fd in self.fds if fd is not None]

    def give(self) -> None:
        """Make every twin hold exactly its map's entries (a per-CPU twin: on every CPU)."""
        for the_map, fd in zip(self.maps, self._twins):
            if _constant(the_map.spec):
                continue                    # frozen with its values (read-only data)
            entries = dict(the_map.items())
            if the_map.spec.type in _HASHES:        # a hash map: what the map lacks goes
                for key in bpfsys.map_keys(fd, the_map.spec.key_size):
                    if key not in entries:
                        bpfsys.map_delete(fd, key)
            for key, value in entries.items():
                if the_map.spec.type in _PER_CPU:
                    value = _padded(value) * _possible_cpus()
                bpfsys.map_update(fd, key, value)

    def read(self, cpu: int = 0) -> list[dict[bytes, bytes]]:
        """Every twin's entries (a per-CPU twin's on `cpu`)."""
        out = []
        for m, fd in zip(self.maps, self._twins):
            size = m.spec.value_size
            if m.spec.type not in _PER_CPU:
                out.append({key: bpfsys.map_lookup(fd, key, size)
                            for key in bpfsys.map_keys(fd, m.spec.key_size)})
                continue
            stride = len(_padded(bytes(size)))
            entries = {}
            for key in bpfsys.map_keys(fd, m.spec.key_size):
                values = bpfsys.map_lookup(fd, key, stride * _possible_cpus())
                entries[key] = None if values is None else \
                    values[cpu * stride:cpu * stride + size]
            out.append(entries)
        return out

    def refuse_full_lru(self, contents: list[dict[bytes, bytes]]) -> None:
        """BpfError when a run left an LRU map full (`contents`: read's): which key a
        full one evicts is the kernel's approximation, not bpfjit's exact order."""
        for the_map, entries in zip(self.maps, contents):
            if the_map.spec.type in _LRU and len(entries) >= the_map.spec.max_entries:
                raise BpfError(f"the run filled LRU map {the_map.spec.name!r} "
                               f"({the_map.spec.max_entries} entries): the kernel evicts "
                               f"from a full one by its own approximation of recency, "
                               f"bpfjit the least recently used key; not comparable")

    def take(self, contents: list[dict[bytes, bytes]]) -> None:
        """Give the maps the entries `read` returned (a read-only map is left alone: no
        program can have changed it)."""
        for the_map, entries in zip(self.maps, contents):
            if the_map.read_only:
                continue
            if the_map.spec.type in _HASHES:
                for key in [key for key in the_map if key not in entries]:
                    del the_map[key]
            for key, value in entries.items():
                if value is not None:
                    the_map[key] = value

    def close(self) -> None:
        for fd in self._twins:
            bpfsys.close(fd)
        self.fds = [None] * len(self.fds)


def _padded(value: bytes) -> bytes:
    """A per-CPU value as user space passes each CPU's: padded to 8 bytes."""
    return value + bytes(-len(value) % 8)
