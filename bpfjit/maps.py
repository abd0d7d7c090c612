"""eBPF maps with the kernel's semantics: array and hash maps, and global data.

Every map keeps its values in one native arena (cffi memory that never moves),
so a pointer a program gets from `map_lookup_elem` stays valid, and the
interpreter and the JIT engines share the same bytes: a map's state lives as
long as the loaded program, across runs and engines.  From Python a map is a
mutable mapping of bytes keys to bytes values (ints are accepted and packed
little-endian to the key or value size).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from .errors import BpfError
from .native import ffi

__all__ = ["MapSpec", "Map", "ArrayMap", "HashMap", "MapTable", "MapError", "make_map",
           "MAP_TYPES", "ARRAY_TYPES", "BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "map_handle"]

BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2
# kernel map type ids -> names; the per-CPU kinds behave as one CPU (processor 0)
MAP_TYPES = {1: "hash", 2: "array", 5: "percpu_hash", 6: "percpu_array"}
ARRAY_TYPES = (2, 6)
_HANDLE_BASE = 0xFFFF_B000_0000_0000     # map handles: never addresses of anything
MAX_ARENA = 256 << 20                    # bytes of one map's values
MAX_KEY = 512                            # the kernel's limit is about as small


def map_handle(index: int) -> int:
    """The value `lddw rX, map[index]` loads: an opaque handle, the same in every engine."""
    return _HANDLE_BASE | index << 16


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

    @property
    def type_name(self) -> str:
        return MAP_TYPES.get(self.type, f"type {self.type}")


class Map(MutableMapping):
    """Common parts: the arena, key/value packing, the Python mapping interface."""

    def __init__(self, spec: MapSpec):
        if spec.key_size <= 0 or spec.value_size <= 0 or spec.max_entries <= 0:
            raise BpfError(f"map {spec.name!r}: key size, value size and max entries must be "
                           f"positive (got {spec.key_size}, {spec.value_size}, "
                           f"{spec.max_entries})")
        if spec.value_size * spec.max_entries > MAX_ARENA:
            raise BpfError(f"map {spec.name!r}: {spec.max_entries} values of "
                           f"{spec.value_size} bytes is more than bpfjit allocates "
                           f"({MAX_ARENA >> 20} MiB)")
        if spec.key_size > MAX_KEY:
            raise BpfError(f"map {spec.name!r}: keys of {spec.key_size} bytes are more "
                           f"than bpfjit allows ({MAX_KEY})")
        self.spec = spec
        self.name = spec.name
        self.key_size, self.value_size = spec.key_size, spec.value_size
        self.max_entries = spec.max_entries
        self._arena = ffi.new("uint8_t[]", spec.value_size * spec.max_entries)
        self.arena = ffi.buffer(self._arena)           # a writable view of every value
        self.address = int(ffi.cast("uintptr_t", self._arena))
        self.size = len(self.arena)
        if spec.initial is not None:
            self.arena[:len(spec.initial)] = spec.initial

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

    def update(self, key: bytes | int, value: bytes | int, flags: int = BPF_ANY) -> None:
        raise NotImplementedError

    def delete(self, key: bytes | int) -> None:
        raise NotImplementedError

    def slot_bytes(self, slot: int) -> bytes:
        at = slot * self.value_size
        return bytes(self.arena[at:at + self.value_size])

    def _write_slot(self, slot: int, value: bytes) -> None:
        at = slot * self.value_size
        self.arena[at:at + self.value_size] = value

    # ---- MutableMapping ---------------------------------------------------------------------

    def __getitem__(self, key: bytes | int) -> bytes:
        slot = self.lookup_slot(self.key(key))
        if slot is None:
            raise KeyError(key)
        return self.slot_bytes(slot)

    def __setitem__(self, key: bytes | int, value: bytes | int) -> None:
        self.update(key, value, BPF_ANY)

    def __delitem__(self, key: bytes | int) -> None:
        self.delete(key)

    def ints(self) -> dict[int, int]:
        """The contents as {int key: int value} (little-endian, unsigned)."""
        return {int.from_bytes(k, "little"): int.from_bytes(v, "little") for k, v in self.items()}

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} key={self.key_size} "
                f"value={self.value_size} max_entries={self.max_entries} len={len(self)}>")


def _check_flags(name: str, flags: int) -> None:
    if flags not in (BPF_ANY, BPF_NOEXIST, BPF_EXIST):
        raise MapError(errno.EINVAL, f"map {name!r}: update flags must be BPF_ANY (0), "
                                     f"BPF_NOEXIST (1) or BPF_EXIST (2), got {flags}")


class ArrayMap(Map):
    """BPF_MAP_TYPE_ARRAY: u32 indices 0..max_entries-1, every element always exists."""

    def __init__(self, spec: MapSpec):
        if spec.key_size != 4:
            raise BpfError(f"array map {spec.name!r} must have 4-byte keys, not "
                           f"{spec.key_size}")
        super().__init__(spec)

    def _index(self, key: bytes) -> int:
        return int.from_bytes(key, "little")

    def lookup_slot(self, key: bytes) -> int | None:
        index = self._index(key)
        return index if index < self.max_entries else None

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        _check_flags(self.name, flags)
        index = self._index(key)
        if index >= self.max_entries:
            raise MapError(errno.E2BIG, f"array map {self.name!r}: index {index} is past "
                                        f"max_entries {self.max_entries}")
        if flags == BPF_NOEXIST:
            raise MapError(errno.EEXIST, f"array map {self.name!r}: every element exists "
                                         f"(BPF_NOEXIST)")
        self._write_slot(index, value)

    def delete(self, key) -> None:
        raise MapError(errno.EINVAL, f"array map {self.name!r}: elements cannot be deleted")

    def __iter__(self) -> Iterator[bytes]:
        return (i.to_bytes(4, "little") for i in range(self.max_entries))

    def __len__(self) -> int:
        return self.max_entries


class HashMap(Map):
    """BPF_MAP_TYPE_HASH: at most max_entries keys; values live in arena slots."""

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._slots: dict[bytes, int] = {}
        self._free = list(range(spec.max_entries - 1, -1, -1))

    def lookup_slot(self, key: bytes) -> int | None:
        return self._slots.get(key)

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key, value = self.key(key), self.value(value)
        _check_flags(self.name, flags)
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

    def delete(self, key) -> None:
        key = self.key(key)
        slot = self._slots.pop(key, None)
        if slot is None:
            raise MapError(errno.ENOENT, f"hash map {self.name!r}: no such key")
        self._free.append(slot)

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except MapError:
            raise KeyError(key) from None

    def __delitem__(self, key) -> None:
        try:
            self.delete(key)
        except MapError as exc:
            if exc.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._slots))

    def __len__(self) -> int:
        return len(self._slots)


def make_map(spec: MapSpec) -> Map:
    """The map object for a spec; BpfError for a type bpfjit does not implement."""
    if spec.type in ARRAY_TYPES:
        return ArrayMap(spec)
    if spec.type in (1, 5):
        return HashMap(spec)
    raise BpfError(f"map {spec.name!r}: map type {spec.type} is not supported (bpfjit has "
                   f"array and hash maps: types {', '.join(map(str, sorted(MAP_TYPES)))})")


class MapTable:
    """A program's maps, by index (what lddw refers to) and by name."""

    def __init__(self, maps: list[Map] | tuple[Map, ...] = ()):
        self.list: tuple[Map, ...] = tuple(maps)
        self._by_name = {m.name: m for m in self.list}

    def __getitem__(self, name: str) -> Map:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name) or "none"
            raise KeyError(f"no map named {name!r} (maps: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self.list)

    def items(self):
        return self._by_name.items()

    def find(self, address: int, size: int) -> Map | None:
        """The map whose arena holds [address, address + size), in real addresses."""
        for m in self.list:
            if m.address <= address and address + size <= m.address + m.size:
                return m
        return None

    def __repr__(self) -> str:
        return f"<MapTable {', '.join(self._by_name) or 'empty'}>"
