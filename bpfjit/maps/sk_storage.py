"""BPF_MAP_TYPE_SK_STORAGE: a value kept with each socket, made on a program's first
bpf_sk_storage_get(map, sk, init, BPF_SK_STORAGE_GET_F_CREATE) and found by the same
socket's later calls, whatever program makes them (a connect hook marks a socket, its
sock_ops and sk_msg programs read the mark).

In the kernel user space reaches an element through the socket's fd; here through the
socket itself: a bpfjit.Socket (of `env.sockets`, or a context's `socket`), or a
context that shows a socket of its own without one (a SockAddrContext made without
`socket=`):

    prog.maps["marks"][sock] = (7).to_bytes(4, "little")

As the kernel requires, the map is declared with 4-byte keys, max_entries 0 and
BPF_F_NO_PREALLOC.  Values live in one arena of CAPACITY slots, so that the pointer a
program gets stays valid and every engine sees the same bytes; a socket beyond
CAPACITY gets no value (the call returns NULL, as the kernel's does when it cannot
allocate).  Only the two helpers take the map, as in the kernel.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ..errors import BpfError
from .base import BPF_ANY, BPF_F_NO_PREALLOC, Map, MapError, MapSpec

__all__ = ["SkStorage", "SK_STORAGE", "CAPACITY", "GET_F_CREATE"]

SK_STORAGE = 24
CAPACITY = 128                  # sockets that may hold a value at once
GET_F_CREATE = 1                # BPF_SK_STORAGE_GET_F_CREATE
MAX_VALUE = 65536 - 8 * 8       # about the kernel's BPF_LOCAL_STORAGE_MAX_VALUE_SIZE


class SkStorage(Map):
    """socket -> value (its `value_size` bytes), at most CAPACITY sockets."""

    PROGRAM_HELPERS = frozenset({"sk_storage_get", "sk_storage_delete"})

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        if spec.key_size != 4 or spec.max_entries != 0 or not 0 < spec.value_size <= MAX_VALUE:
            raise BpfError(f"sk_storage {spec.name!r}: the kernel wants 4-byte keys (a "
                           f"socket's fd), max_entries 0 and values of 1 to {MAX_VALUE} "
                           f"bytes (got {spec.key_size}, {spec.max_entries}, "
                           f"{spec.value_size})")
        if not spec.flags & BPF_F_NO_PREALLOC:
            raise BpfError(f"sk_storage {spec.name!r}: the kernel wants map_flags with "
                           f"BPF_F_NO_PREALLOC (1), got {spec.flags:#x}")
        if spec.spin_lock is not None or spec.timer is not None:
            raise BpfError(f"sk_storage {spec.name!r}: bpfjit keeps no spin lock or timer in "
                           f"socket storage")

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        return spec.value_size * CAPACITY

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self._owners: list[object | None] = [None] * CAPACITY

    def slot_of(self, owner: object) -> int | None:
        """The arena slot of `owner`'s value, None when it has none."""
        for slot, held in enumerate(self._owners):
            if held is owner:
                return slot
        return None

    def create(self, owner: object, value: bytes) -> int | None:
        """A value for `owner` (which has none), set to `value`: its slot, or None when
        CAPACITY sockets hold one already."""
        try:
            slot = self._owners.index(None)
        except ValueError:
            return None
        self._owners[slot] = owner
        self._write_slot(slot, value)
        return slot

    def remove(self, owner: object) -> bool:
        """`owner`'s value gone; False when it had none."""
        slot = self.slot_of(owner)
        if slot is None:
            return False
        self._owners[slot] = None
        self.arena[slot * self.value_size:(slot + 1) * self.value_size] = \
            bytes(self.value_size)
        return True

    # ---- the Python mapping: sockets to values -------------------------------------------

    def _owner(self, key) -> object:
        if isinstance(key, (bytes, bytearray, int)):
            raise BpfError(f"sk_storage {self.name!r} is keyed by sockets (a bpfjit.Socket, "
                           f"or the context whose socket it is), not {type(key).__name__}")
        return key

    def lookup_slot(self, key) -> int | None:
        return self.slot_of(self._owner(key))

    def program_lookup(self, key: bytes, arena_address: int) -> int:
        raise BpfError("an sk_storage map is read by bpf_sk_storage_get only")

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        owner, value = self._owner(key), self.value(value)
        slot = self.slot_of(owner)
        if slot is not None:
            self._write_slot(slot, value)
        elif self.create(owner, value) is None:
            raise MapError(errno.ENOMEM, f"sk_storage {self.name!r}: {CAPACITY} sockets hold "
                                         f"a value already")

    def delete(self, key) -> None:
        if not self.remove(self._owner(key)):
            raise MapError(errno.ENOENT, f"sk_storage {self.name!r}: that socket has no value")

    def __getitem__(self, key) -> bytes:
        slot = self.lookup_slot(key)
        if slot is None:
            raise KeyError(key)
        return self.slot_bytes(slot)

    def __iter__(self) -> Iterator[object]:
        return iter([owner for owner in self._owners if owner is not None])

    def __len__(self) -> int:
        return sum(owner is not None for owner in self._owners)

    def clear(self) -> None:
        for owner in list(self):
            self.remove(owner)
