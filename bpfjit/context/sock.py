"""The socket context, `struct bpf_sock`, of cgroup sock programs: a socket being
created (`cgroup/sock`, `cgroup/sock_create`) or released (`cgroup/sock_release`), or
just bound (`cgroup/post_bind4`, `post_bind6`).  The program lets the call through (1)
or refuses it (0), and on creation or release may set the socket's `bound_dev_if`,
`mark` and `priority`.

The block is the kernel's `struct bpf_sock` (80 bytes).  Which fields a program may
read depends on its hook, as in the kernel (measured against Linux 6.18's verifier):
creation and release read and write `bound_dev_if`, `mark` and `priority`; post_bind
reads the bound source address (`src_ip4` or `src_ip6`) and `src_port` but not those
three; every hook reads `family`, `type`, `protocol`, the destination, `state` and
`rx_queue_mapping`.  Addresses are in network byte order, `src_port` in host order,
`dst_port` in network order.  There is no packet.
"""

from __future__ import annotations

import ipaddress
import struct

from ..errors import BpfError
from .base import Field
from .socket import AF_INET, AF_INET6, SOCK_STREAM, SocketContext, socket_address

__all__ = ["SockContext", "SOCK_HEADER", "SOCK_ATTACH_TYPES", "pack_bpf_sock"]

SOCK_HEADER = 80                        # sizeof(struct bpf_sock)
SOCK_ATTACH_TYPES = ("sock_create", "sock_release", "post_bind4", "post_bind6")

# (family, type, protocol, src_port, state and rx_queue_mapping may be read in part from
# their first byte only, as the kernel converts such loads)
_FIELDS = [Field("bound_dev_if", 0, 4), Field("family", 4, 4, narrow_start=True),
           Field("type", 8, 4, narrow_start=True), Field("protocol", 12, 4, narrow_start=True),
           Field("mark", 16, 4), Field("priority", 20, 4), Field("src_ip4", 24, 4)]
_FIELDS += [Field(f"src_ip6_{i}", 28 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("src_port", 44, 4, narrow_start=True),
            Field("dst_port", 48, 4, narrow_bytes=2), Field("dst_ip4", 52, 4)]
_FIELDS += [Field(f"dst_ip6_{i}", 56 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("state", 72, 4, narrow_start=True),
            Field("rx_queue_mapping", 76, 4, narrow_start=True)]
_SETTABLE = {"bound_dev_if", "mark", "priority"}
_EVERY_HOOK = {"family", "type", "protocol", "dst_port", "dst_ip4", "state",
               "rx_queue_mapping"} | {f"dst_ip6_{i}" for i in range(4)}
_NARROW = {"src_ip4", "dst_ip4", "dst_port", "family", "type", "protocol", "state",
           "rx_queue_mapping", "src_port"} | {f"src_ip6_{i}" for i in range(4)} \
    | {f"dst_ip6_{i}" for i in range(4)}


def pack_bpf_sock(block, bound_dev_if: int, family: int, type: int, protocol: int,
                  mark: int, priority: int, src: bytes, src_port: int, dst: bytes,
                  dst_port: int, state: int, rx_queue_mapping: int) -> None:
    """Write a `struct bpf_sock` at the start of `block` (a cgroup sock program's
    context, a socket a lookup finds): addresses in network byte order, `src_port` in
    host order, `dst_port` in network order."""
    struct.pack_into("<IIIIII", block, 0, bound_dev_if & 0xFFFFFFFF, family, type, protocol,
                     mark & 0xFFFFFFFF, priority & 0xFFFFFFFF)
    if family == AF_INET:
        block[24:28], block[52:56] = src, dst
    else:
        block[28:44], block[56:72] = src, dst
    struct.pack_into("<I", block, 44, src_port)
    block[48:50] = dst_port.to_bytes(2, "big")
    struct.pack_into("<Ii", block, 72, state, rx_queue_mapping)


class SockContext(SocketContext):
    """What a cgroup sock program sees: `fn(SockContext(type=2))` returns 1 to let the
    socket be (created, bound, released), 0 to refuse; afterwards `.bound_dev_if`,
    `.mark` and `.priority` hold what the program set.

    `family` is 2 (AF_INET) or 10 (AF_INET6); `src`/`dst` addresses of that family
    (str, ipaddress or bytes; default none: all zero), `src_port` in host order,
    `dst_port` in host order (kept in network order, as the kernel does);
    `socket_cookie` and `netns_cookie` are what bpf_get_socket_cookie and
    bpf_get_netns_cookie return."""

    HEADER = SOCK_HEADER
    KIND = "sock"
    PROGRAMS, USAGE = "cgroup sock", "SockContext(family, type)"
    OUTCOME = "socket (bound_dev_if, mark, priority)"
    FIELDS = {f.name: f for f in _FIELDS}

    def __init__(self, family: int = AF_INET, type: int = SOCK_STREAM,
                 protocol: int | None = None, *, src=None, src_port: int = 0, dst=None,
                 dst_port: int = 0, bound_dev_if: int = 0, mark: int = 0,
                 priority: int = 0, state: int = 0, rx_queue_mapping: int = -1,
                 socket_cookie: int = 1, netns_cookie: int = 1):
        super().__init__(type, protocol, socket_cookie, netns_cookie)
        if family not in (AF_INET, AF_INET6):
            raise BpfError(f"family is 2 (AF_INET) or 10 (AF_INET6), not {family}")
        for name, port in (("src_port", src_port), ("dst_port", dst_port)):
            if not 0 <= port <= 0xFFFF:
                raise BpfError(f"{name} is 0-65535, got {port}")
        size = 4 if family == AF_INET else 16
        self.family = family
        self._src = bytes(size) if src is None else socket_address(src, family)
        self._dst = bytes(size) if dst is None else socket_address(dst, family)
        self.src_port, self.dst_port = src_port, dst_port
        self.bound_dev_if, self.mark, self.priority = bound_dev_if, mark, priority
        self.state, self.rx_queue_mapping = state, rx_queue_mapping

    @property
    def src(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._src)

    @property
    def dst(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._dst)

    def write_fields(self) -> None:
        super().write_fields()
        pack_bpf_sock(self.buffer, self.bound_dev_if, self.family, self.type, self.protocol,
                      self.mark, self.priority, self._src, self.src_port, self._dst,
                      self.dst_port, self.state, self.rx_queue_mapping)

    def read_back(self) -> None:
        self.bound_dev_if, = struct.unpack_from("<I", self.buffer, 0)
        self.mark, self.priority = struct.unpack_from("<II", self.buffer, 16)

    def outcome(self) -> str:
        """What a creation or release hook may set, as the program left it."""
        return f"({self.bound_dev_if}, {self.mark}, {self.priority})"

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    @classmethod
    def narrow(cls, name: str) -> bool:
        """Addresses, ports, family, type, protocol, state and rx_queue_mapping may be
        read in part (dst_port within its two bytes); the settable fields whole."""
        return name in _NARROW

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None) -> set[str]:
        if attach in ("post_bind4", "post_bind6"):
            source = {"src_ip4"} if attach == "post_bind4" else \
                {f"src_ip6_{i}" for i in range(4)}
            return _EVERY_HOOK | source | {"src_port"}
        return _EVERY_HOOK | _SETTABLE

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        return set() if attach in ("post_bind4", "post_bind6") else set(_SETTABLE)

    def __repr__(self) -> str:
        return f"<SockContext family {self.family} type {self.type} protocol {self.protocol}>"
