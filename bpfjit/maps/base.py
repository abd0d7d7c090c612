"""What every map shares: its spec, the value arena, packing, the Python mapping.

Every map keeps its values in one native arena (cffi memory that never moves),
so a pointer a program gets from `map_lookup_elem` stays valid, and the
interpreter and the JIT engines share the same bytes: a map's state lives as
long as the loaded program, across runs and engines.  From Python a map is a
mutable mapping of bytes keys to bytes values (ints are accepted and packed
little-endian to the key or value size).
"""

from __future__ import annotations

import errno
from collections.abc import MutableMapping
from dataclasses import dataclass

from ..errors import BpfError
from ..limits import limits
from ..native import ffi
from .hashindex import HashIndex
from .fields import FIELDS_BY_ATTR, VALUE_FIELDS
from .spinlock import locked_write

__all__ = ["MapSpec", "Map", "MapError", "BPF_ANY", "BPF_NOEXIST", "BPF_EXIST",
           "map_handle", "HANDLE_SHIFT", "check_flags", "check_index_update", "MAP_TYPE_NAMES",
           "BPF_F_LOCK", "LOCKABLE_TYPES"]

BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2
BPF_F_LOCK = 4                           # update flag: copy the value holding its spin lock
BPF_F_NO_PREALLOC = 1                    # map flag: elements allocated one by one
LOCKABLE_TYPES = FIELDS_BY_ATTR["spin_lock"].types   # the kinds a value with a lock may be in
# the kernel's map type ids (enum bpf_map_type), for names in messages
MAP_TYPE_NAMES = {1: "hash", 2: "array", 3: "prog_array", 4: "perf_event_array",
                  5: "percpu_hash", 6: "percpu_array", 7: "stack_trace", 8: "cgroup_array",
                  9: "lru_hash", 10: "lru_percpu_hash", 11: "lpm_trie", 12: "array_of_maps",
                  13: "hash_of_maps", 14: "devmap", 15: "sockmap", 16: "cpumap", 17: "xskmap",
                  18: "sockhash", 19: "cgroup_storage", 20: "reuseport_sockarray",
                  21: "percpu_cgroup_storage", 22: "queue", 23: "stack", 24: "sk_storage",
                  25: "devmap_hash", 26: "struct_ops", 27: "ringbuf", 28: "inode_storage",
                  29: "task_storage", 30: "bloom_filter", 31: "user_ringbuf",
                  32: "cgrp_storage", 33: "arena"}
_HANDLE_BASE = 0xFFFF_B000_0000_0000     # map handles: never addresses of anything
MAX_KEY = 512                            # the kernel's limit is about as small


HANDLE_SHIFT = 16                        # a handle's bits 16-31 are the map's index


def map_handle(index: int) -> int:
    """The value `lddw rX, map[index]` loads: an opaque handle, the same in every engine."""
    return _HANDLE_BASE | index << HANDLE_SHIFT


class MapError(BpfError):
    """A map operation failed; `errno` is the kernel's error number."""

    def __init__(self, err: int, message: str):
        super().__init__(message)
        self.errno = err


@dataclass(frozen=True)
class MapSpec:
    """What an object file declares about a map."""
    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    initial: bytes | None = None     # global data: the section's bytes
    read_only: bool = False          # .rodata: programs may not write it
    inner: "MapSpec | None" = None   # maps of maps: the inner maps' definition
    values: tuple = ()               # `.values = {...}` initialisers: (index, symbol name)
    spin_lock: int | None = None     # where a value's struct bpf_spin_lock is (bytes)
    timer: int | None = None         # where a value's struct bpf_timer is (bytes)

    def hidden_fields(self) -> tuple[tuple[int, int], ...]:
        """(offset, size) of the value's fields only helpers touch (its spin lock and
        timer): they read as 0 and no update writes them."""
        return tuple(sorted((getattr(self, f.attr), f.size) for f in VALUE_FIELDS
                            if getattr(self, f.attr) is not None))

    @property
    def type_name(self) -> str:
        return MAP_TYPE_NAMES.get(self.type, f"type {self.type}")


class Map(MutableMapping):
    """Common parts: the arena, key/value packing, the Python mapping interface."""

    def __init__(self, spec: MapSpec):
        self.check_spec(spec)
        self.spec = spec
        self.name = spec.name
        self.key_size, self.value_size = spec.key_size, spec.value_size
        self.max_entries = spec.max_entries
        self.locks: dict[int, object] = {}      # slot -> who holds its spin lock
        self.timers: dict = {}                  # slot -> its initialised timer (maps.timers)
        size = self.arena_bytes(spec)
        limit = limits().map_bytes
        if size > limit:
            raise BpfError(f"map {spec.name!r}: {spec.max_entries} entries of "
                           f"{spec.value_size} bytes take {size} bytes, more than the limit "
                           f"of {limit} (bpfjit.set_limits(map_bytes=...))")
        self._arena = ffi.new("uint8_t[]", max(size, 1))
        self.arena = ffi.buffer(self._arena, size)     # a writable view of every value
        self.address = int(ffi.cast("uintptr_t", self._arena))
        self.size = size
        if spec.initial is not None:
            self.arena[:len(spec.initial)] = spec.initial

    KEY_INDEX = False                # kinds whose keys live in a native index (hashindex)
    LRU = False                      # ... kept in order of use, evicting the oldest
    PROGRAM_READ_ONLY = False        # kinds whose values programs may read, not write
    PROGRAM_HELPERS: frozenset[str] | None = None   # the helpers programs may pass it to
    # of those, the ones only some program types may (helper name -> types)
    HELPER_PROG_TYPES: dict[str, frozenset[str]] = {}
    ITERABLE = False                 # bpf_for_each_map_elem may walk it (key_area, next_slot)
    frozen = False                   # Python may no longer write it (bpfjit.verifier)

    keys_made = False                # its walk's keys (key_area) exist in memory

    def _key_span(self) -> tuple[int, int]:
        """(address, bytes) of the keys bpf_for_each_map_elem points at (`key_area`)."""
        address, stride = self.key_area()
        return address, stride * self.max_entries

    def key_view(self) -> memoryview:
        """The keys bpf_for_each_map_elem points at (`key_area`), as a read-only view."""
        address, size = self._key_span()
        return memoryview(ffi.buffer(ffi.cast("uint8_t *", address), size)).toreadonly()

    def key_range(self) -> tuple[int, int] | None:
        """[lo, hi) of those keys in memory, once they exist (None before, and for a
        map no walk reads)."""
        if not (self.ITERABLE and self.keys_made):
            return None
        address, size = self._key_span()
        return address, address + size

    def freeze(self) -> None:
        """No more writes from Python: the verifier took its values as constants (the
        kernel freezes .rodata when a program is loaded, BPF_MAP_FREEZE)."""
        self.frozen = True

    def _check_writable(self) -> None:
        if self.frozen:
            raise MapError(errno.EPERM, f"map {self.name!r} is frozen: the verifier used its "
                                        f"values as constants (set it before compiling)")

    @property
    def read_only(self) -> bool:
        """Programs may not write its values (.rodata, redirect targets)."""
        return self.spec.read_only or self.PROGRAM_READ_ONLY

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        """BpfError naming the map when its sizes cannot make this kind of map."""
        if spec.key_size <= 0 or spec.value_size <= 0 or spec.max_entries <= 0:
            raise BpfError(f"map {spec.name!r}: key size, value size and max entries must be "
                           f"positive (got {spec.key_size}, {spec.value_size}, "
                           f"{spec.max_entries})")
        if spec.key_size > MAX_KEY:
            raise BpfError(f"map {spec.name!r}: keys of {spec.key_size} bytes are more "
                           f"than bpfjit allows ({MAX_KEY})")
        for f in VALUE_FIELDS:
            at = getattr(spec, f.attr)
            if at is None:
                continue
            if spec.type not in f.types:
                raise BpfError(f"map {spec.name!r}: a {spec.type_name} map cannot hold a "
                               f"{f.label} (the kernel allows one in {f.kinds} maps)")
            if at % f.align or not 0 <= at <= spec.value_size - f.size:
                raise BpfError(f"map {spec.name!r}: a {f.label} at byte {at} does not fit "
                               f"its {spec.value_size}-byte values {f.align}-byte aligned")

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        """Bytes of native memory the map's values take (what programs may point into)."""
        return spec.value_size * spec.max_entries

    @classmethod
    def native_bytes(cls, spec: MapSpec) -> int:
        """Bytes of native memory the whole map takes (its values, and the native index
        of its keys for the kinds that have one): what object_map_bytes counts."""
        index = HashIndex.layout(spec.key_size, spec.max_entries, cls.LRU)["end"] \
            if cls.KEY_INDEX else 0
        return cls.arena_bytes(spec) + index

    # ---- packing -------------------------------------------------------------------------

    def _pack(self, value: bytes | int, size: int, what: str) -> bytes:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < 1 << (8 * size) and not -(1 << (8 * size - 1)) <= value < 0:
                raise MapError(errno.E2BIG, f"map {self.name!r}: {value} does not fit a "
                                            f"{size}-byte {what}")
            return (value % (1 << (8 * size))).to_bytes(size, "little")
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
            if len(value) != size:
                raise MapError(errno.EINVAL, f"map {self.name!r}: a {what} is {size} bytes, "
                                             f"got {len(value)}")
            return value
        raise BpfError(f"map {self.name!r}: a {what} must be bytes or an int, "
                       f"not {type(value).__name__}")

    def key(self, key: bytes | int) -> bytes:
        return self._pack(key, self.key_size, "key")

    def value(self, value: bytes | int) -> bytes:
        return self._pack(value, self.value_size, "value")

    # ---- the kernel's operations (slots are value indices in the arena) -------------------

    def lookup_slot(self, key: bytes) -> int | None:
        raise NotImplementedError

    def program_lookup(self, key: bytes, arena_address: int) -> int:
        """What bpf_map_lookup_elem gives a program whose arena address for this map is
        `arena_address`: a pointer to the value, or 0 (maps of maps: an inner map)."""
        slot = self.lookup_slot(key)
        return 0 if slot is None else arena_address + slot * self.value_size

    def update(self, key: bytes | int, value: bytes | int, flags: int = BPF_ANY) -> None:
        raise NotImplementedError

    def delete(self, key: bytes | int) -> None:
        raise NotImplementedError

    def slot_bytes(self, slot: int) -> bytes:
        """The value in slot `slot`, its spin lock and timer shown as 0 (as the kernel's
        lookup from user space shows them)."""
        at = slot * self.value_size
        value = bytes(self.arena[at:at + self.value_size])
        for field, size in self.spec.hidden_fields():
            value = value[:field] + bytes(size) + value[field + size:]
        return value

    def _write_slot(self, slot: int, value: bytes, flags: int = BPF_ANY,
                    in_place: bool = False) -> None:
        """Store a value into slot `slot`: the words of its spin lock and timer are left
        as they are (a value never carries them), with BPF_F_LOCK the lock is held during
        the copy, and the element's timer is cancelled and freed, as the kernel's update
        does (but a hash map's BPF_F_LOCK update of an element, `in_place`)."""
        at = slot * self.value_size
        hidden = self.spec.hidden_fields()
        if not in_place:
            self.free_fields(slot)
        if not hidden:
            self.arena[at:at + self.value_size] = value
            return

        def write() -> None:
            start = 0
            for field, size in hidden + ((self.value_size, 0),):
                self.arena[at + start:at + field] = value[start:field]
                start = field + size
        if flags & BPF_F_LOCK and self.spec.spin_lock is not None:
            locked_write(self, slot, write)
        else:
            write()

    def free_fields(self, slot: int) -> None:
        """The element in slot `slot` is replaced or gone: its timer goes with it."""
        if self.timers:
            self.timers.pop(slot, None)

    # ---- MutableMapping ---------------------------------------------------------------------

    def __getitem__(self, key: bytes | int) -> bytes:
        slot = self.lookup_slot(self.key(key))
        if slot is None:
            raise KeyError(key)
        return self.slot_bytes(slot)

    def __setitem__(self, key: bytes | int, value: bytes | int) -> None:
        self.update(key, value, BPF_ANY)

    def __delitem__(self, key: bytes | int) -> None:
        try:
            self.delete(key)
        except MapError as exc:          # a missing key is a KeyError to Python
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def ints(self) -> dict[int, int]:
        """The contents as {int key: int value} (little-endian, unsigned); BpfError for a
        map whose values are objects (a program array's programs, a socket map's
        sockets)."""
        out = {}
        for k, v in self.items():
            if not isinstance(v, (bytes, bytearray)):
                raise BpfError(f"map {self.name!r} holds {type(v).__name__} objects, not "
                               f"numbers: read it as a mapping (map[key])")
            out[int.from_bytes(k, "little")] = int.from_bytes(v, "little")
        return out

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} key={self.key_size} "
                f"value={self.value_size} max_entries={self.max_entries} len={len(self)}>")


def check_index_update(m: Map, index: int, present: bool, flags: int) -> None:
    """The kernel's checks on an update of slot `index` of an indexed map whose slots
    may be empty (redirect targets, program arrays): flags, range, NOEXIST / EXIST."""
    check_flags(m.name, flags)
    what = f"{m.spec.type_name} {m.name!r}"
    if index >= m.max_entries:
        raise MapError(errno.E2BIG, f"{what}: index {index} is past max_entries "
                                    f"{m.max_entries}")
    if flags == BPF_NOEXIST and present:
        raise MapError(errno.EEXIST, f"{what}: {index} is set")
    if flags == BPF_EXIST and not present:
        raise MapError(errno.ENOENT, f"{what}: {index} is not set")


def check_flags(name: str, flags: int, lockable: bool = False) -> int:
    """The update flags without BPF_F_LOCK; EINVAL for others than BPF_ANY, BPF_NOEXIST
    and BPF_EXIST, or BPF_F_LOCK (with one of them) unless the map is `lockable` (its
    values hold a spin lock)."""
    plain = flags & ~BPF_F_LOCK if lockable else flags
    if plain not in (BPF_ANY, BPF_NOEXIST, BPF_EXIST):
        also = " (with BPF_F_LOCK (4): its values hold a spin lock)" if lockable else ""
        raise MapError(errno.EINVAL, f"map {name!r}: update flags must be BPF_ANY (0), "
                                     f"BPF_NOEXIST (1) or BPF_EXIST (2){also}, got {flags}")
    return plain


