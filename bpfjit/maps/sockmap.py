"""BPF_MAP_TYPE_SOCKMAP and BPF_MAP_TYPE_SOCKHASH: sockets by index or by key.

In the kernel user space fills them with socket file descriptors; here with the
bpfjit.Socket objects of the program's environment (`env.sockets`):

    prog.maps["listen_socket_map"][0] = prog.env.sockets.add(bpfjit.Socket(...))

A program's bpf_map_lookup_elem gives the socket (its `struct bpf_sock`), holding a
reference it must give back with bpf_sk_release, as a socket lookup does; NULL for an
empty entry or a socket no longer in `env.sockets` (a closed socket leaves every map
in the kernel).  A sock_ops program may put its connection's socket in
(bpf_sock_map_update, bpf_sock_hash_update), and an sk_msg program redirect a message
to one (bpf_msg_redirect_map, bpf_msg_redirect_hash).  bpf_map_update_elem (its value
a socket a program was given: a lookup's, tested for NULL) and bpf_map_delete_elem
are for the program types the kernel's `may_update_sockmap` names, which can never
hold a locked socket: socket filters, tc, XDP, sk_reuseport, flow dissector and
sk_lookup programs, and sock_ops programs for deletes.  As the kernel, an update
takes a TCP socket that is established or listening, or a UDP socket (-EOPNOTSUPP
for another TCP state).  Not here: the sk_skb programs' redirects.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from ..errors import BpfError
from .base import (BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapSpec, check_flags,
                   check_index_update)

__all__ = ["SockMap", "SockHash", "SOCKET_MAP_TYPES"]

SOCKET_MAP_TYPES = (15, 18)
# the kernel's may_update_sockmap: programs that never run holding a socket's lock
_CHANGERS = frozenset({"socket_filter", "sched_cls", "sched_act", "xdp", "sk_reuseport",
                       "flow_dissector", "sk_lookup"})
_TCP_ESTABLISHED, _TCP_LISTEN = 1, 10


class _SocketMap(Map):
    """key -> bpfjit.Socket; no arena (programs get the socket's own struct bpf_sock)."""

    PROGRAM_HELPERS = frozenset({"map_lookup_elem", "map_update_elem", "map_delete_elem",
                                 "sock_map_update", "sock_hash_update", "msg_redirect_map",
                                 "msg_redirect_hash", "sk_redirect_map", "sk_redirect_hash"})
    HELPER_PROG_TYPES = {"map_update_elem": _CHANGERS,
                         "map_delete_elem": _CHANGERS | {"sock_ops"}}

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        return 0

    def __init__(self, spec: MapSpec):
        if spec.value_size not in (4, 8):
            raise BpfError(f"{spec.type_name} {spec.name!r}: values are 4 or 8 bytes (a "
                           f"socket's fd or cookie), not {spec.value_size}")
        super().__init__(spec)
        self._sockets: dict[bytes, object] = {}

    def socket(self, key: bytes):
        """The socket at `key` (packed), or None."""
        return self._sockets.get(key)

    def lookup_slot(self, key: bytes) -> int | None:
        return None                 # no value in an arena: programs get the socket

    def program_lookup(self, key: bytes, arena_address: int) -> int:
        raise BpfError("a socket map's lookup needs the environment's sockets "
                       "(bpfjit.helpers.maps.lookup)")

    def _socket_value(self, value):
        from ..sockets import Socket
        if not isinstance(value, Socket):
            raise BpfError(f"{self.spec.type_name} {self.name!r}: an entry is a bpfjit.Socket "
                           f"(of env.sockets), not {type(value).__name__}")
        return value

    def program_update(self, key: bytes, socket, flags: int) -> None:
        """bpf_map_update_elem from a program: `socket` the owner of the socket pointer
        it passed (a bpfjit.Socket, or a context that shows no Socket of its own)."""
        from ..sockets import Socket
        if not isinstance(socket, Socket):
            raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r}: the "
                                         f"context's socket is no bpfjit.Socket to keep")
        if socket.protocol == "tcp" and socket.state not in (_TCP_ESTABLISHED, _TCP_LISTEN):
            raise MapError(errno.EOPNOTSUPP, f"{self.spec.type_name} {self.name!r}: a TCP "
                                             f"socket in state {socket.state}")
        self.update(key, socket, flags)

    def delete(self, key) -> None:
        if self._sockets.pop(self.key(key), None) is None:
            raise MapError(errno.ENOENT, f"{self.spec.type_name} {self.name!r}: no socket at "
                                         f"{self.key(key).hex()}")

    def __getitem__(self, key):
        found = self._sockets.get(self.key(key))
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[bytes]:
        return iter(sorted(self._sockets))

    def __len__(self) -> int:
        return len(self._sockets)


class SockMap(_SocketMap):
    """BPF_MAP_TYPE_SOCKMAP: sockets by u32 index below max_entries."""

    def __init__(self, spec: MapSpec):
        if spec.key_size != 4:
            raise BpfError(f"sockmap {spec.name!r}: keys are 4 bytes (an index), not "
                           f"{spec.key_size}")
        super().__init__(spec)

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key = self.key(key)
        index = int.from_bytes(key, "little")
        check_index_update(self, index, key in self._sockets, flags)
        self._sockets[key] = self._socket_value(value)


class SockHash(_SocketMap):
    """BPF_MAP_TYPE_SOCKHASH: sockets by key, up to max_entries of them."""

    def update(self, key, value, flags: int = BPF_ANY) -> None:
        key = self.key(key)
        check_flags(self.name, flags)
        present = key in self._sockets
        what = f"sockhash {self.name!r}"
        if flags == BPF_NOEXIST and present:
            raise MapError(errno.EEXIST, f"{what}: {key.hex()} is set")
        if flags == BPF_EXIST and not present:
            raise MapError(errno.ENOENT, f"{what}: {key.hex()} is not set")
        if not present and len(self._sockets) >= self.max_entries:
            raise MapError(errno.E2BIG, f"{what} is full ({self.max_entries} sockets)")
        self._sockets[key] = self._socket_value(value)
