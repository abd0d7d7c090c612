"""A sock_ops program's tuning of its connection: setsockopt (49), getsockopt (57) and
sock_ops_cb_flags_set (59), on a bpfjit.SockOpsContext; and its socket put into a socket
map: sock_map_update (53), sock_hash_update (70).  The kernel gives setsockopt and
getsockopt to cgroup sock_addr programs too (every hook) and to cgroup sockopt programs
at the setsockopt hook (given the context's socket, `ctx->sk`, rather than the
context): their contexts keep `options` the same way.

The options a program may set are the kernel's list for BPF (net/core/filter.c:
sol_socket_sockopt, sol_tcp_sockopt, sol_ip_sockopt, sol_ipv6_sockopt), each an int
(optlen 4) but TCP_CONGESTION, the name of a congestion control the context knows
(`congestion_algorithms`; another is -ENOENT).  A set option is kept in
`ctx.options[(level, optname)]`; getsockopt reads it back (the options the kernel lets
BPF read: TCP_CONGESTION, the SOL_SOCKET ones, IP_TOS, IPV6_TCLASS), -ENOENT for one
never set here, with the buffer zeroed on every error as the kernel does.  What an
option does to the connection is not modelled (TCP_BPF_IW does not change snd_cwnd).
Errors as the kernel's: -EINVAL for an option not on the list, a wrong optlen, a
socket that is not a full one (`is_fullsock` 0).
"""

from __future__ import annotations

import errno

from ..context.sock_ops import ALL_CB_FLAGS
from ..semantics import M64
from .maps import errno_result as map_errno
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS", "SOCKET_OPTIONS", "TCP_CONGESTION"]

SOL_SOCKET, SOL_IP, SOL_TCP, SOL_IPV6 = 1, 0, 6, 41
TCP_CONGESTION = 13
_CA_NAME_MAX = 16                        # TCP_CA_NAME_MAX
# (level, optname) -> name, for the options BPF may set
SOCKET_OPTIONS = {
    (SOL_SOCKET, 2): "SO_REUSEADDR", (SOL_SOCKET, 7): "SO_SNDBUF",
    (SOL_SOCKET, 8): "SO_RCVBUF", (SOL_SOCKET, 9): "SO_KEEPALIVE",
    (SOL_SOCKET, 12): "SO_PRIORITY", (SOL_SOCKET, 15): "SO_REUSEPORT",
    (SOL_SOCKET, 18): "SO_RCVLOWAT", (SOL_SOCKET, 36): "SO_MARK",
    (SOL_SOCKET, 47): "SO_MAX_PACING_RATE", (SOL_SOCKET, 62): "SO_BINDTOIFINDEX",
    (SOL_SOCKET, 74): "SO_TXREHASH",
    (SOL_TCP, 1): "TCP_NODELAY", (SOL_TCP, 2): "TCP_MAXSEG", (SOL_TCP, 4): "TCP_KEEPIDLE",
    (SOL_TCP, 5): "TCP_KEEPINTVL", (SOL_TCP, 6): "TCP_KEEPCNT", (SOL_TCP, 7): "TCP_SYNCNT",
    (SOL_TCP, 10): "TCP_WINDOW_CLAMP", (SOL_TCP, TCP_CONGESTION): "TCP_CONGESTION",
    (SOL_TCP, 16): "TCP_THIN_LINEAR_TIMEOUTS", (SOL_TCP, 18): "TCP_USER_TIMEOUT",
    (SOL_TCP, 25): "TCP_NOTSENT_LOWAT", (SOL_TCP, 27): "TCP_SAVE_SYN",
    (SOL_TCP, 1001): "TCP_BPF_IW", (SOL_TCP, 1002): "TCP_BPF_SNDCWND_CLAMP",
    (SOL_TCP, 1003): "TCP_BPF_DELACK_MAX", (SOL_TCP, 1004): "TCP_BPF_RTO_MIN",
    (SOL_IP, 1): "IP_TOS", (SOL_IPV6, 67): "IPV6_TCLASS", (SOL_IPV6, 70): "IPV6_AUTOFLOWLABEL",
}
_READABLE = {key for key in SOCKET_OPTIONS if key[0] in (SOL_SOCKET, SOL_IP, SOL_IPV6)} \
    | {(SOL_TCP, TCP_CONGESTION)}


def _level(value: int) -> int:
    """A level or optname argument, an int in the kernel's signature."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _setsockopt(call, ctx, level, optname, optval, optlen) -> int:
    context = call.context
    key = (_level(level), _level(optname))
    value = call.memory.read(optval, optlen) if optlen else b""
    if not context.is_fullsock or key not in SOCKET_OPTIONS:
        return errno_result(errno.EINVAL)
    if key == (SOL_TCP, TCP_CONGESTION):
        name = value.split(b"\0", 1)[0][:_CA_NAME_MAX - 1].decode("latin-1")
        if name not in context.congestion_algorithms:
            return errno_result(errno.ENOENT)
        context.options[key] = name
        return 0
    if optlen != 4:
        return errno_result(errno.EINVAL)
    context.options[key] = int.from_bytes(value, "little", signed=True)
    return 0


def _getsockopt(call, ctx, level, optname, optval, optlen) -> int:
    context = call.context
    key = (_level(level), _level(optname))
    default = {(SOL_TCP, TCP_CONGESTION): "cubic"}.get(key)
    value = context.options.get(key, default)
    if optlen:
        call.memory.read(optval, optlen)    # the room first: no wild optlen's bytes built
    result = bytes(optlen)
    if not context.is_fullsock or key not in _READABLE:
        status = errno.EINVAL
    elif value is None:
        status = errno.ENOENT
    elif isinstance(value, str):
        status, result = 0, value.encode("latin-1")[:optlen].ljust(optlen, b"\0")
    elif optlen != 4:
        status = errno.EINVAL
    else:
        status, result = 0, (value & 0xFFFFFFFF).to_bytes(4, "little")
    if optlen:
        call.memory.write(optval, result)
    return errno_result(status) if status else 0


def _cb_flags_set(call, ctx, flags, *_) -> int:
    """The callbacks asked for (BPF_SOCK_OPS_*_CB_FLAG, within ALL_CB_FLAGS); returns
    the flags asked for that this kernel does not have, or -EINVAL for a socket that is
    not a full one."""
    context = call.context
    if not context.is_fullsock:
        return errno_result(errno.EINVAL)
    value = _level(flags)                   # an int argument
    context.set_cb_flags(value & ALL_CB_FLAGS)
    return (value & ~ALL_CB_FLAGS) & M64


# the ops at which the kernel lets a program put its socket into a socket map
_MAP_OPS = frozenset((4, 5, 11))        # ACTIVE_/PASSIVE_ESTABLISHED_CB, TCP_LISTEN_CB


def _map_update(call, ctx, handle, key, flags, *_) -> int:
    """The context's socket (`ctx.socket`) into a sockmap or sockhash at the key, with
    the map's update flags; -EOPNOTSUPP at another op or for a socket not a full one."""
    context = call.context
    _, the_map = call.the_map(handle)
    if context.op not in _MAP_OPS or not context.is_fullsock:
        return errno_result(errno.EOPNOTSUPP)
    packed = call.memory.read(key, the_map.key_size)
    return map_errno(lambda: the_map.update(packed, context.socket, flags & M64))


_SOCK_OPS = frozenset(("sock_ops",))
# (setsockopt, getsockopt: the kernel's ctx, level, optname, optval, optlen)
_SET, _GET = ("ctx", "any", "any", "mem", "size"), ("ctx", "any", "any", "out", "size")
# ... and a sockopt program's: the socket (ctx->sk) in place of the context
_SK_SET, _SK_GET = ("sock_common",) + _SET[1:], ("sock_common",) + _GET[1:]
_OPTION_CONTEXTS = frozenset(("sock_ops", "sock_addr"))
_SOCKOPT, _SETSOCKOPT_HOOK = frozenset(("sockopt",)), frozenset(("setsockopt",))

HELPERS = [
    KernelHelper(49, "setsockopt", Signature(_SET, "errno", contexts=_OPTION_CONTEXTS),
                 _setsockopt, "set a socket option the kernel lets BPF set (ctx.options)",
                 variants=((_SOCKOPT, Signature(_SK_SET, "errno", contexts=_SOCKOPT,
                                                attach_types=_SETSOCKOPT_HOOK)),)),
    KernelHelper(57, "getsockopt", Signature(_GET, "errno", contexts=_OPTION_CONTEXTS),
                 _getsockopt, "read a socket option back (ctx.options; the buffer zeroed "
                              "on error)",
                 variants=((_SOCKOPT, Signature(_SK_GET, "errno", contexts=_SOCKOPT,
                                                attach_types=_SETSOCKOPT_HOOK)),)),
    KernelHelper(59, "sock_ops_cb_flags_set", Signature(("ctx", "any"), "scalar",
                                                        contexts=_SOCK_OPS), _cb_flags_set,
                 "ask for sock_ops callbacks (ctx.cb_flags); the flags it lacks"),
    KernelHelper(53, "sock_map_update", Signature(("ctx", "map", "key", "any"), "errno",
                                                  contexts=_SOCK_OPS, map_types=frozenset({15})),
                 _map_update, "put the connection's socket (ctx.socket) into a sockmap"),
    KernelHelper(70, "sock_hash_update", Signature(("ctx", "map", "key", "any"), "errno",
                                                   contexts=_SOCK_OPS, map_types=frozenset({18})),
                 _map_update, "put the connection's socket (ctx.socket) into a sockhash"),
]
