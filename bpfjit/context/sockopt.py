"""The socket-option context, `struct bpf_sockopt`, of cgroup sockopt programs: a
process's getsockopt (`cgroup/getsockopt`, after the kernel answered it) or setsockopt
(`cgroup/setsockopt`, before the kernel applies it) on a socket of the cgroup.  The
program lets the call go on (1) or fails it with EPERM (0), and may rewrite the
option's value, its length and, for getsockopt, the call's result (service meshes
answer SO_ORIGINAL_DST so).

The block is the kernel's `struct bpf_sockopt` (40 bytes), then the `struct bpf_sock`
its `sk` points at: `sk` (the socket, never NULL), `optval`/`optval_end` (the option's
value is the packet), `level`, `optname`, `optlen`, and `retval` (getsockopt's result).
As the kernel's cg_sockopt_is_valid_access has it: the pointers are read as 8 bytes,
the others whole; `retval` only by getsockopt; stores, whole, to `optlen`, to
`retval` (getsockopt) and to `level` and `optname` (setsockopt).
"""

from __future__ import annotations

import struct

from ..errors import BpfError
from .base import SOCKET_SPAN, Field, PacketContext
from .socket import SocketOptions

__all__ = ["SockoptContext", "SOCKOPT_HEADER", "SOCKOPT_ATTACH_TYPES"]

SOCKOPT_SIZE = 40                       # sizeof(struct bpf_sockopt), sk at 0
SOCKOPT_HEADER = SOCKOPT_SIZE + SOCKET_SPAN        # and the socket sk points at
SOCKOPT_ATTACH_TYPES = ("getsockopt", "setsockopt")
_SCALARS = struct.Struct("<iiii")       # level, optname, optlen, retval at 24
_FIELDS = [Field("sk", 0, 8, "socket", 0), Field("optval", 8, 8, "data", 8),
           Field("optval_end", 16, 8, "data_end", 16), Field("level", 24, 4),
           Field("optname", 28, 4), Field("optlen", 32, 4), Field("retval", 36, 4)]
_WRITABLE = {"getsockopt": {"optlen", "retval"}, "setsockopt": {"optlen", "level", "optname"}}


def _int32(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) \
            or not -(1 << 31) <= value < 1 << 31:
        raise BpfError(f"a socket option's {name} is a 32-bit int, not {value!r}")
    return value


class SockoptContext(SocketOptions, PacketContext):
    """What a cgroup sockopt program sees: `fn(SockoptContext(0, 80, optval=bytes(16)))`
    returns 1 to let the call go on, 0 to fail it with EPERM; afterwards `.optval` (the
    option's value as the program left it, `.optlen` bytes of it), `.optlen`,
    `.retval`, `.level` and `.optname` are what it set.

    `optval` the option's value (getsockopt: what the kernel answered; setsockopt:
    what the process passes); `optlen` its length (default: len(optval); the kernel
    hands at most a page of a longer value, with optlen as the process gave it);
    `retval` getsockopt's result so far (0, or a negative errno); `socket` the
    bpfjit.Socket `sk` shows (default: an unconnected TCP socket); `netns_cookie` what
    bpf_get_netns_cookie returns; `options` the socket's options a setsockopt hook's
    bpf_setsockopt and bpf_getsockopt reach (by (level, optname))."""

    HEADER = SOCKOPT_HEADER
    SOCKET_AT = SOCKOPT_SIZE
    KIND = "sockopt"
    PROGRAMS, USAGE = "cgroup sockopt", "SockoptContext(level, optname, optval)"
    OUTCOME = "(level, optname, optlen, retval)"
    FIELDS = {f.name: f for f in _FIELDS}

    def __init__(self, level: int, optname: int, optval: bytes | bytearray | memoryview = b"",
                 *, optlen: int | None = None, retval: int = 0, socket=None,
                 netns_cookie: int = 1, options: dict | None = None,
                 congestion_algorithms: tuple[str, ...] = ("reno", "cubic")):
        super().__init__(optval)
        self.keep_options(options, congestion_algorithms)
        self.level, self.optname = _int32("level", level), _int32("optname", optname)
        self.optlen = _int32("optlen", len(self) if optlen is None else optlen)
        self.retval = _int32("retval", retval)
        self.initial = (self.level, self.optname, self.optlen, self.retval)
        if socket is None:
            from ..sockets import Socket    # (bpfjit.sockets imports this package)
            socket = Socket("tcp", local=("0.0.0.0", 0), state=7)
        self.socket = socket
        self.netns_cookie = netns_cookie

    @property
    def optval(self) -> bytes:
        """The option's value as the program left it: its first `optlen` bytes."""
        return self.packet[:max(0, min(self.optlen, len(self)))]

    def write_fields(self) -> None:
        self.buffer[:self.HEADER] = bytes(self.HEADER)
        self.reset_options()
        self.level, self.optname, self.optlen, self.retval = self.initial
        _SCALARS.pack_into(self.buffer, 24, *self.initial)

    def refresh(self, data_address: int) -> None:
        struct.pack_into("<QQ", self.buffer, 8, data_address, data_address + len(self))

    def read_back(self) -> None:
        self.level, self.optname, self.optlen, self.retval = \
            _SCALARS.unpack_from(self.buffer, 24)

    def outcome(self) -> str:
        """What the run left beside the value's bytes (the packet)."""
        return f"({self.level}, {self.optname}, {self.optlen}, {self.retval})"

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None) -> set[str]:
        """Every field but `retval`, which getsockopt programs read too."""
        names = set(cls.FIELDS)
        return names if attach == "getsockopt" else names - {"retval"}

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        return set(_WRITABLE.get(attach, ()))

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    def __repr__(self) -> str:
        return f"<SockoptContext level {self.level} optname {self.optname}>"
