"""Tunnel metadata a socket buffer may carry (the kernel's `ip_tunnel_info`): what a
packet received through a collect-metadata tunnel device (vxlan, geneve, gre in
external mode) brings, or what `skb_set_tunnel_key` leaves for the device that sends
it.  `skb_get_tunnel_key` reads it; a packet without it (a test run's) has none."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BpfError

__all__ = ["TunnelInfo", "TUNNEL_CSUM", "TUNNEL_KEY", "TUNNEL_SEQ", "TUNNEL_DONT_FRAGMENT",
           "TUNNEL_NOCACHE"]

# the tunnel flags, as the kernel's uapi gives them to programs (a big-endian u16)
TUNNEL_CSUM, TUNNEL_KEY, TUNNEL_SEQ = 0x0001, 0x0004, 0x0008
TUNNEL_DONT_FRAGMENT, TUNNEL_NOCACHE = 0x0100, 0x2000


@dataclass
class TunnelInfo:
    """The outer header of a tunnelled packet: source and destination addresses (4
    bytes each for IPv4, 16 for IPv6, in network order), the key (VNI), TOS, TTL, the
    IPv6 flow label and the tunnel flags (TUNNEL_*).  For a received packet `src` is the
    remote end; `skb_set_tunnel_key` writes the remote end into `dst`."""
    src: bytes
    dst: bytes
    tunnel_id: int = 0
    tos: int = 0
    ttl: int = 0
    label: int = 0
    flags: int = TUNNEL_KEY

    def __post_init__(self) -> None:
        if len(self.src) != len(self.dst) or len(self.src) not in (4, 16):
            raise BpfError("TunnelInfo: src and dst are both 4 (IPv4) or 16 (IPv6) bytes")

    @property
    def ipv6(self) -> bool:
        return len(self.src) == 16
