"""Socket lookups: sk_lookup_tcp (84), sk_lookup_udp (85), sk_release (86),
sk_fullsock (95), skc_lookup_tcp (99), tcp_check_syncookie (100), over the sockets of
the program's environment
(`env.sockets`, bpfjit.sockets); sk_assign (124), which gives a tc program's packet
to a socket (`SkbContext.assigned` after the run), or picks an sk_lookup program's
socket (`SkLookupContext.selected`: the kernel's bpf_sk_lookup_assign under the same
id); and bind (64), with which a cgroup connect hook binds its socket to a source
(`SockAddrContext.bound`).

A lookup reads a `struct bpf_sock_tuple` (12 bytes for IPv4, 36 for IPv6; any other
size finds nothing) and returns the address of the socket's `struct bpf_sock` in the
engine's address space, or 0; flags other than 0 find nothing, and so does a netns
argument that is neither BPF_F_CURRENT_NETNS (-1) nor an id (its low 32 bits >= 0),
as in the kernel (`__bpf_skc_lookup`).  The device a packet arrived on is the
context's ifindex (tc) or ingress_ifindex (XDP).  The references the verifier makes
a program give back cost nothing at run time: a socket stays while it is in the
table, and the verifier proves no pointer to it outlives the run.
"""

from __future__ import annotations

import errno
import ipaddress

from ..context.tcp_sock import TCP_SOCK_SIZE
from ..errors import HelperArgumentError
from ..semantics import M64
from ..sockets import SOCKET_SIZE, Socket
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS", "TCP_SOCK"]

_CURRENT_NETNS = M64            # BPF_F_CURRENT_NETNS, (u64)-1
_TUPLE_SIZES = (12, 36)         # sizeof(tuple->ipv4), sizeof(tuple->ipv6)


def _lookup(protocol: str):
    def lookup(call, ctx, tuple_address, size, netns, flags) -> int:
        if size not in _TUPLE_SIZES or flags:
            return 0
        low = netns & 0xFFFFFFFF
        if low >= 0x80000000 and netns != _CURRENT_NETNS:
            return 0
        namespace = None if low >= 0x80000000 else low
        context = call.context
        ifindex = getattr(context, "ifindex", None)
        if context is not None and context.KIND == "xdp":
            ifindex = context.ingress_ifindex
        memory = call.memory
        found = call.env.sockets.lookup(protocol, memory.read(tuple_address, size),
                                        ifindex or 0, namespace)
        return 0 if found is None else memory.socket_base(call.env.sockets) + found
    lookup.__name__ = f"sk_lookup_{protocol}"
    return lookup


def _release(call, *_) -> int:
    return 0


def _fullsock(call, sock, *_) -> int:
    """Every socket of a table is a full one: itself (of a struct bpf_tcp_sock, the
    socket whose it is)."""
    return call.socket_address(sock)


def _tcp_sock(call, sock, *_) -> int:
    """The socket's struct bpf_tcp_sock when it is a TCP socket, else NULL: a socket of
    env.sockets has its own at the same index of the table's second arena, a context's
    socket right after its struct bpf_sock in the context's block."""
    owner = call.socket_owner(sock)
    sock = call.socket_address(sock)        # (of a struct bpf_tcp_sock: its socket's)
    if isinstance(owner, Socket):
        if owner.protocol != "tcp":
            return 0
    elif (getattr(owner, "type", 0), getattr(owner, "protocol", 0)) != (1, 6):
        return 0                # (a context that has no Socket: its own type, protocol)
    table = call.env.sockets
    offset = sock - call.memory.socket_base(table)
    if table.socket_at(offset) is not None:
        return call.memory.tcp_socket_base(table) + offset // SOCKET_SIZE * TCP_SOCK_SIZE
    return sock + SOCKET_SIZE


def _assign(call, ctx, sock, flags, *_) -> int:
    """As the kernel's bpf_sk_assign: -EINVAL for flags, -EOPNOTSUPP away from tc
    ingress (`SkbContext.ingress`), -ENETUNREACH for a socket of another namespace;
    else the packet is the socket's (`ctx.assigned`) and 0."""
    if call.context_kind == "sk_lookup":
        return _lookup_assign(call, sock, flags)
    if flags:
        return errno_result(errno.EINVAL)
    context = call.context
    if not getattr(context, "ingress", False):
        return errno_result(errno.EOPNOTSUPP)
    table = call.env.sockets
    found = table.socket_at(sock - call.memory.socket_base(table))
    if found is None:
        raise HelperArgumentError(f"{sock:#x} is no socket a lookup returned")
    if found.netns is not None:
        return errno_result(errno.ENETUNREACH)
    context.assigned = found
    return 0


# bpf_sk_lookup_assign's flags, and the socket states it takes: a TCP listener, a UDP
# socket not connected (TCP_CLOSE)
_REPLACE, _NO_REUSEPORT = 1, 2
_TCP_LISTEN, _TCP_CLOSE = 10, 7
_IPPROTO = {"tcp": 6, "udp": 17}


def _lookup_assign(call, sock: int, flags: int) -> int:
    """As the kernel's bpf_sk_lookup_assign: the socket (or, for NULL, none) the lookup
    picks (`SkLookupContext.selected`); -EINVAL for other flags than REPLACE and
    NO_REUSEPORT, -ESOCKTNOSUPPORT for a TCP socket not listening or a UDP one
    connected, -EPROTOTYPE for another protocol, -EAFNOSUPPORT for an IPv4 socket and
    an IPv6 lookup (an IPv6 socket takes IPv4 lookups: bpfjit's are not v6-only),
    -EEXIST when one is picked already and REPLACE is not given."""
    if flags & ~(_REPLACE | _NO_REUSEPORT):
        return errno_result(errno.EINVAL)
    context = call.context
    found = None
    if sock:
        found = call.socket_owner(sock)
        if not isinstance(found, Socket):
            raise HelperArgumentError(f"{sock:#x} is no socket of env.sockets")
        if found.state != (_TCP_LISTEN if found.protocol == "tcp" else _TCP_CLOSE):
            return errno_result(errno.ESOCKTNOSUPPORT)
        if _IPPROTO[found.protocol] != context.protocol:
            return errno_result(errno.EPROTOTYPE)
        if found.family != context.family and found.family == _AF_INET:
            return errno_result(errno.EAFNOSUPPORT)
    if context.selected is not None and not flags & _REPLACE:
        return errno_result(errno.EEXIST)
    context.select(found, sock if found is not None else 0, bool(flags & _NO_REUSEPORT))
    return 0


_AF_INET, _AF_INET6 = 2, 10
_SOCKADDR_IN, _SIN6_LEN_RFC2133 = 16, 24      # the least lengths of the two sockaddrs
_TCP_HEADER = _IP_HEADER = 20                   # sizeof(struct tcphdr), (struct iphdr)
_ACK, _RST, _SYN = 0x10, 0x04, 0x02             # flags in byte 13 of a TCP header


def _check_syncookie(call, sock, iph, iph_len, th, th_len) -> int:
    """As the kernel's bpf_tcp_check_syncookie, whether the TCP segment at r4 is the ACK
    of a SYN cookie the listening socket r1 sent: -EINVAL for a socket that is not a
    TCP listener or a TCP header under 20 bytes, -ENOENT for a segment that is not an
    ACK (or has SYN or RST), -EINVAL for an IP header under 20 bytes; else -ENOENT: a
    socket of env.sockets never overflowed its SYN queue, so it sent no cookie, which
    the kernel tests before it looks at one."""
    owner = call.socket_owner(sock)
    if isinstance(owner, Socket):
        listening = owner.protocol == "tcp" and owner.state == _TCP_LISTEN
    else:                       # a context's own socket: its protocol and state
        listening = (getattr(owner, "protocol", 0), getattr(owner, "state", 0)) \
            == (_IPPROTO["tcp"], _TCP_LISTEN)
    if not listening or th_len < _TCP_HEADER:
        return errno_result(errno.EINVAL)
    flags = call.memory.read(th, _TCP_HEADER)[13]
    if not flags & _ACK or flags & (_RST | _SYN):
        return errno_result(errno.ENOENT)
    if iph_len < _IP_HEADER:
        return errno_result(errno.EINVAL)
    return errno_result(errno.ENOENT)


def _bind(call, ctx, address, length, *_) -> int:
    """As the kernel's bpf_bind: the socket bound to the sockaddr_in/_in6 at `address`
    (`ctx.bound` = (address, port)); -EINVAL for a length too short for its family or
    a socket already bound, -EAFNOSUPPORT for another family."""
    context = call.context
    if length < 2:
        return errno_result(errno.EINVAL)
    raw = call.memory.read(address, length)
    family = int.from_bytes(raw[:2], "little")
    if family not in (_AF_INET, _AF_INET6):
        return errno_result(errno.EAFNOSUPPORT)
    if length < (_SOCKADDR_IN if family == _AF_INET else _SIN6_LEN_RFC2133) \
            or context.bound is not None:
        return errno_result(errno.EINVAL)
    port = int.from_bytes(raw[2:4], "big")
    ip = raw[4:8] if family == _AF_INET else raw[8:24]
    context.bound = (ipaddress.ip_address(ip), port)
    return 0


_CONTEXTS = frozenset(("xdp", "skb", "sock_addr"))     # (cgroup connect hooks look too)
# the programs the kernel gives bpf_sk_fullsock, and bpf_tcp_sock (measured against
# Linux 6.18)
_FULLSOCK_PROGRAMS = frozenset(("sched_cls", "sched_act", "cgroup_skb"))
_TCP_SOCK_PROGRAMS = _FULLSOCK_PROGRAMS | {"sock_ops", "cgroup_sockopt"}
TCP_SOCK = 96                   # bpf_tcp_sock
_LOOKUP_ARGS = ("ctx", "mem", "size_or_zero", "any", "any")

HELPERS = [
    KernelHelper(84, "sk_lookup_tcp", Signature(_LOOKUP_ARGS, "sock_or_null",
                                                contexts=_CONTEXTS), _lookup("tcp"),
                 "the TCP socket (established, else listening) of env.sockets a tuple "
                 "finds, or 0; give it back with sk_release"),
    KernelHelper(85, "sk_lookup_udp", Signature(_LOOKUP_ARGS, "sock_or_null",
                                                contexts=_CONTEXTS), _lookup("udp"),
                 "the UDP socket of env.sockets a tuple finds best, or 0; give it back "
                 "with sk_release"),
    KernelHelper(86, "sk_release", Signature(("sock_release",), (0, 0)), _release,
                 "give back the reference a socket lookup took"),
    KernelHelper(95, "sk_fullsock", Signature(("sock_common",), "fullsock_or_null",
                                              prog_types=_FULLSOCK_PROGRAMS),
                 _fullsock, "the full socket of a socket (every socket bpfjit has is)"),
    KernelHelper(TCP_SOCK, "tcp_sock", Signature(("sock_common",), "tcp_sock_or_null",
                                                 prog_types=_TCP_SOCK_PROGRAMS),
                 _tcp_sock, "a TCP socket's struct bpf_tcp_sock (Socket.tcp), or 0"),
    KernelHelper(99, "skc_lookup_tcp", Signature(_LOOKUP_ARGS, "sock_common_or_null",
                                                 contexts=_CONTEXTS), _lookup("tcp"),
                 "as sk_lookup_tcp, as a sock_common (fewer fields readable)"),
    KernelHelper(100, "tcp_check_syncookie",
                 Signature(("sock_common", "mem", "size_or_zero", "mem", "size_or_zero"), "errno",
                           contexts=frozenset(("xdp", "skb"))), _check_syncookie,
                 "whether the TCP ACK at r4 answers a SYN cookie of listener r1 (0), "
                 "else -ENOENT (bpfjit's listeners send none) or -EINVAL"),
    KernelHelper(64, "bind", Signature(("ctx", "mem", "size"), "errno",
                                       contexts=frozenset(("sock_addr",)),
                                       attach_types=frozenset(("connect4", "connect6"))),
                 _bind, "bind the connecting socket to the sockaddr at r2 "
                        "(SockAddrContext.bound)"),
    KernelHelper(124, "sk_assign", Signature(("ctx", "sock_common", "any"), "errno",
                                             contexts=frozenset(("skb",))), _assign,
                 "give the packet to a socket a lookup returned (tc ingress: "
                 "SkbContext.assigned); in sk_lookup programs, pick the socket "
                 "(SkLookupContext.selected)",
                 variants=((frozenset(("sk_lookup",)),
                            Signature(("ctx", "sock_or_null", "any"), "errno",
                                      contexts=frozenset(("sk_lookup",)))),)),
]
