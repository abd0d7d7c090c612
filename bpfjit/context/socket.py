"""What the packetless contexts of cgroup socket programs share (bpfjit.SockContext,
bpfjit.SockAddrContext): the block alone, a socket's type and protocol and cookies,
addresses in network byte order, and what a run left in the block, for comparing
engines."""

from __future__ import annotations

import ipaddress

from ..errors import BpfError
from .base import BlockContext

__all__ = ["SocketContext", "SocketOptions", "socket_address", "address_family", "connection_ends", "AF_INET",
           "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP", "IPPROTO_UDP"]

AF_INET, AF_INET6 = 2, 10
SOCK_STREAM, SOCK_DGRAM = 1, 2
IPPROTO_TCP, IPPROTO_UDP = 6, 17


def socket_address(value, family: int) -> bytes:
    """An address (str, ipaddress object or bytes) as its bytes in network order, of
    `family`'s length; BpfError otherwise."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        try:
            raw = ipaddress.ip_address(value).packed
        except ValueError as exc:
            raise BpfError(f"not an IP address: {value!r} ({exc})") from None
    want = 4 if family == AF_INET else 16
    if len(raw) != want:
        raise BpfError(f"an {'IPv4' if want == 4 else 'IPv6'} address is {want} bytes, "
                       f"got {value!r}")
    return raw


def address_family(address) -> int:
    """AF_INET or AF_INET6, as `address` (str, ipaddress object or bytes) is."""
    if isinstance(address, (bytes, bytearray)):
        return AF_INET6 if len(address) == 16 else AF_INET
    try:
        return AF_INET6 if ipaddress.ip_address(address).version == 6 else AF_INET
    except ValueError as exc:
        raise BpfError(f"not an IP address: {address!r} ({exc})") from None


def connection_ends(local, remote) -> tuple[int, bytes, int, bytes, int]:
    """(family, local address, local port, remote address, remote port) of a connection's
    two (address, port) pairs, the family the local address's, the addresses in network
    byte order; BpfError for anything else."""
    try:
        (local_ip, local_port), (remote_ip, remote_port) = local, remote
    except (TypeError, ValueError):
        raise BpfError("local and remote are (address, port) pairs") from None
    family = address_family(local_ip)
    local_raw, remote_raw = socket_address(local_ip, family), socket_address(remote_ip, family)
    for name, port in (("local", local_port), ("remote", remote_port)):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise BpfError(f"the {name} port is 0-65535, got {port!r}")
    return family, local_raw, local_port, remote_raw, remote_port


class SocketOptions:
    """A context whose socket bpf_setsockopt and bpf_getsockopt reach: `options`, the
    options set, by (level, optname), start each run as `initial_options`;
    `congestion_algorithms` the TCP_CONGESTION names setsockopt may choose
    (bpfjit.helpers.sockopts)."""

    is_fullsock = 1

    def keep_options(self, options: dict | None, congestion_algorithms) -> None:
        self.initial_options = dict(options or {})
        self.options = dict(self.initial_options)
        self.congestion_algorithms = tuple(congestion_algorithms)

    def reset_options(self) -> None:
        """A run starts from the socket's options as given."""
        self.options = dict(self.initial_options)


class SocketContext(BlockContext):
    """A socket's context with no packet: its type, protocol and cookies."""

    def __init__(self, type: int, protocol: int | None, socket_cookie: int,
                 netns_cookie: int):
        super().__init__()
        self.type = type
        self.protocol = protocol if protocol is not None else \
            IPPROTO_TCP if type == SOCK_STREAM else IPPROTO_UDP
        self.socket_cookie, self.netns_cookie = socket_cookie, netns_cookie

    def write_fields(self) -> None:
        """Zero the block; subclasses write their fields after this."""
        self.buffer[:self.HEADER] = bytes(self.HEADER)


