"""Socket storage: bpf_sk_storage_get (107) and bpf_sk_storage_delete (108), the two
helpers that take a BPF_MAP_TYPE_SK_STORAGE map (bpfjit.maps.sk_storage).  The socket
is any socket pointer a program holds (a lookup's, a socket map's, a context's `sk`);
the value is the one that socket keeps in that map."""

from __future__ import annotations

import errno

from ..maps.sk_storage import GET_F_CREATE, SK_STORAGE
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS"]

# the programs the kernel gives the two helpers (measured against Linux 6.18: tc,
# cgroup_skb, sock_addr, sock_ops, sk_msg and sockopt programs; not XDP or socket
# filters; cgroup sock programs have storage_get alone, with their context, a socket,
# as its socket: _CONTEXT_SOCKET)
_PROGRAMS = frozenset(("sched_cls", "sched_act", "cgroup_skb", "cgroup_sock_addr", "sock_ops",
                       "sk_msg", "cgroup_sockopt"))
_MAPS = frozenset((SK_STORAGE,))


def _get(call, handle, sock, init, flags, *_) -> int:
    """The socket's value, made (from the value at `init`, or zeros) when it has none
    and flags say BPF_SK_STORAGE_GET_F_CREATE; NULL for other flags, for no value, and
    when no more sockets may hold one."""
    index, storage = call.the_map(handle)
    owner = call.context if call.context_kind == "sock" else call.socket_owner(sock)
    if flags & ~GET_F_CREATE:
        return 0
    slot = storage.slot_of(owner)
    if slot is None:
        if not flags & GET_F_CREATE:
            return 0
        value = call.memory.read(init, storage.value_size) if init else \
            bytes(storage.value_size)
        slot = storage.create(owner, value)
        if slot is None:
            return 0
    return call.memory.map_address(index) + slot * storage.value_size


def _delete(call, handle, sock, *_) -> int:
    """0 when the socket's value is gone, -ENOENT when it had none."""
    _, storage = call.the_map(handle)
    return 0 if storage.remove(call.socket_owner(sock)) else errno_result(errno.ENOENT)


HELPERS = [
    KernelHelper(107, "sk_storage_get",
                 Signature(("map", "sock_common", "value_or_null", "any"), "map_value_or_null",
                           prog_types=_PROGRAMS, map_types=_MAPS), _get,
                 "the value a socket keeps in an sk_storage map, made from r3 (or zeros) "
                 "with flags 1 when it has none; else 0",
                 variants=((frozenset(("sock",)),
                            Signature(("map", "ctx", "value_or_null", "any"),
                                      "map_value_or_null", contexts=frozenset(("sock",)),
                                      map_types=_MAPS)),)),
    KernelHelper(108, "sk_storage_delete",
                 Signature(("map", "sock_common"), "errno", prog_types=_PROGRAMS,
                           map_types=_MAPS), _delete,
                 "drop the value a socket keeps in an sk_storage map (-ENOENT: none)"),
]
