"""The socket-address context, `struct bpf_sock_addr`, of cgroup sock_addr programs:
the address a process binds, connects or sends to (or receives from), which the
program may read and rewrite — a service's virtual address turned into a backend's,
as socket-level load balancers do.

The block is the kernel's `struct bpf_sock_addr` (72 bytes), then the `struct bpf_sock`
its `sk` points at (every hook reads `sk`, a socket that is never NULL and holds no
reference, as the kernel types it): addresses and the port in network byte order, as
the program sees them.  Which fields a program may touch depends on its attach
type, which the section names (`cgroup/connect4`, ...): an IPv4 hook reads and writes
`user_ip4`, an IPv6 one `user_ip6`, sendmsg also `msg_src_ip4`/`msg_src_ip6`, every
hook `user_port` (the kernel's sock_addr_is_valid_access).  There is no packet.
"""

from __future__ import annotations

import ipaddress
import struct

from ..errors import BpfError
from ..memory import SOCKET_BYTES
from .base import SOCKET_SPAN, Field
from .sock import pack_bpf_sock
from .socket import (AF_INET, AF_INET6, SOCK_STREAM, SocketContext, SocketOptions,
                     connection_ends, socket_address)

TCP_CLOSE = 7

__all__ = ["SockAddrContext", "SOCK_ADDR_HEADER", "ATTACH_TYPES", "SOCK_ADDR_RETURNS"]

SOCK_ADDR_SIZE = 72                     # sizeof(struct bpf_sock_addr), sk at 64
SOCK_ADDR_HEADER = SOCK_ADDR_SIZE + SOCKET_SPAN    # and the socket sk points at
# attach type -> (address family, the values its program may return)
ATTACH_TYPES: dict[str, tuple[int, tuple[int, int]]] = {
    f"{hook}{v}": (AF_INET if v == "4" else AF_INET6, returns)
    for hook, returns in (("bind", (0, 3)), ("connect", (0, 1)), ("sendmsg", (0, 1)),
                          ("recvmsg", (1, 1)), ("getpeername", (1, 1)),
                          ("getsockname", (1, 1)))
    for v in ("4", "6")}
SOCK_ADDR_RETURNS = {0: "reject", 1: "allow"}

_FIELDS = [Field("user_family", 0, 4), Field("user_ip4", 4, 4)]
_FIELDS += [Field(f"user_ip6_{i}", 8 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("user_port", 24, 4), Field("family", 28, 4), Field("type", 32, 4),
            Field("protocol", 36, 4), Field("msg_src_ip4", 40, 4)]
_FIELDS += [Field(f"msg_src_ip6_{i}", 44 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("sk", 64, 8, "socket", 64)]
# two words of an IPv6 address at once, at an 8-byte boundary (the kernel takes 8-byte
# loads and stores of user_ip6 and msg_src_ip6 there): after the words, so that a
# 4-byte access finds its word first
_FIELDS += [Field("user_ip6_0_1", 8, 8), Field("user_ip6_2_3", 16, 8),
            Field("msg_src_ip6_1_2", 48, 8)]
_IP6 = ("user_ip6_0_1", "user_ip6_2_3") + tuple(f"user_ip6_{i}" for i in range(4))
_SRC6 = ("msg_src_ip6_1_2",) + tuple(f"msg_src_ip6_{i}" for i in range(4))
_ALWAYS = {"user_family", "user_port", "family", "type", "protocol", "sk"}


def _attach_fields(attach: str) -> tuple[set[str], set[str]]:
    """(readable, writable) fields for an attach type."""
    family = ATTACH_TYPES[attach][0]
    address = {"user_ip4"} if family == AF_INET else set(_IP6)
    source = set()
    if attach.startswith("sendmsg"):
        source = {"msg_src_ip4"} if family == AF_INET else set(_SRC6)
    writable = address | source | {"user_port"}
    return _ALWAYS | writable, writable


class SockAddrContext(SocketOptions, SocketContext):
    """What a cgroup sock_addr program sees: `fn(SockAddrContext("10.0.0.1", 80))`
    returns 1 to let the call through, 0 to refuse it; afterwards `.address`, `.port`
    and `.msg_src` hold what the program left (the rewritten destination).

    `address` (str, ipaddress or bytes) gives the family; `port` is in host order;
    `type` and `protocol` default to a TCP stream socket; `msg_src` is sendmsg's source
    address (None: unset, 0); `socket_cookie` and `netns_cookie` are what
    bpf_get_socket_cookie and bpf_get_netns_cookie return.  `local` is the (address,
    port) the socket is bound to, which `sk->src_ip4`/`src_ip6` and `src_port` show (by
    default none: zeros); `sk->state` is TCP_CLOSE (7), the socket being unconnected;
    or `socket`, a bpfjit.Socket `sk` shows instead (and an sk_storage map keeps its
    value under; without one, under the context).
    After a connect hook's run, `bound` is the (address, port) bpf_bind bound the
    socket to, or None.  `options` (by (level, optname)) are the socket's options
    bpf_setsockopt and bpf_getsockopt reach, as on a SockOpsContext."""

    HEADER = SOCK_ADDR_HEADER
    SOCKET_AT = SOCK_ADDR_SIZE
    KIND = "sock_addr"
    PROGRAMS, USAGE = "cgroup sock_addr", "SockAddrContext(address, port)"
    OUTCOME = "address"
    FIELDS = {f.name: f for f in _FIELDS}

    @classmethod
    def narrow(cls, name: str) -> bool:
        """The addresses and the port may be read in part; the others whole."""
        return name not in ("user_family", "family", "type", "protocol")

    def __init__(self, address="0.0.0.0", port: int = 0, *, type: int = SOCK_STREAM,
                 protocol: int | None = None, msg_src=None, socket_cookie: int = 1,
                 netns_cookie: int = 1, local=None, socket=None, options: dict | None = None,
                 congestion_algorithms: tuple[str, ...] = ("reno", "cubic")):
        super().__init__(type, protocol, socket_cookie, netns_cookie)
        self.keep_options(options, congestion_algorithms)
        text = address if isinstance(address, (bytes, bytearray)) else str(address)
        self.family = AF_INET6 if (len(text) == 16 if isinstance(text, (bytes, bytearray))
                                   else ":" in text) else AF_INET
        self._raw = socket_address(address, self.family)
        if not 0 <= port <= 0xFFFF:
            raise BpfError(f"a port is 0-65535, got {port}")
        self.port = port
        self._src = bytes(4 if self.family == AF_INET else 16) if msg_src is None \
            else socket_address(msg_src, self.family)
        self.bound = None   # (address, port) bpf_bind bound the socket to, in a connect hook
        self.socket = socket
        self._local, self.local_port = bytes(len(self._raw)), 0
        if local is not None:
            family, self._local, self.local_port, _, _ = connection_ends(local, local)
            if family != self.family:
                raise BpfError(f"the socket's local address {local[0]} is not of the "
                               f"destination's family")

    def socket_block(self) -> bytes:
        """The socket making the call: `socket`'s, else its family, type and protocol,
        the address it is bound to, unconnected (TCP_CLOSE)."""
        if self.socket is not None:
            return super().socket_block()
        out = bytearray(SOCKET_BYTES)
        pack_bpf_sock(out, 0, self.family, self.type, self.protocol, 0, 0, self._local,
                      self.local_port, bytes(len(self._local)), 0, TCP_CLOSE, -1)
        return bytes(out)

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._raw)

    @property
    def msg_src(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._src)

    def write_fields(self) -> None:
        super().write_fields()
        self.bound = None
        self.reset_options()
        block = self.buffer
        struct.pack_into("<I", block, 0, self.family)
        if self.family == AF_INET:
            block[4:8] = self._raw
            block[40:44] = self._src
        else:
            block[8:24] = self._raw
            block[44:60] = self._src
        # the port in network byte order in the low 16 bits, as the kernel keeps it
        block[24:26] = self.port.to_bytes(2, "big")
        struct.pack_into("<III", block, 28, self.family, self.type, self.protocol)

    def read_back(self) -> None:
        block = self.buffer
        if self.family == AF_INET:
            self._raw, self._src = bytes(block[4:8]), bytes(block[40:44])
        else:
            self._raw, self._src = bytes(block[8:24]), bytes(block[44:60])
        self.port = int.from_bytes(block[24:26], "big")

    def outcome(self) -> str:
        """The destination (and sendmsg's source) as the program left them."""
        return f"{self.address} port {self.port} (source {self.msg_src})"

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int] | None:
        return ATTACH_TYPES[attach][1] if attach in ATTACH_TYPES else None

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None) -> set[str]:
        """The fields a program of `attach` may read (the kernel's rules); without an
        attach type, those every hook may read."""
        return set(_ALWAYS) if attach not in ATTACH_TYPES else _attach_fields(attach)[0]

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        return set() if attach not in ATTACH_TYPES else _attach_fields(attach)[1]

    def __repr__(self) -> str:
        return f"<SockAddrContext {self.address} port {self.port}>"
