"""The socket-lookup context, `struct bpf_sk_lookup`, of sk_lookup programs: a new
connection (a TCP SYN) or a UDP datagram for which the kernel is about to look up the
local socket.  The program may pick the socket itself with bpf_sk_assign, from a
socket map (Cloudflare's tubular serves many addresses and ports from one listening
socket so), then pass (SK_PASS, 1: the picked socket, else the kernel's own lookup) or
drop (SK_DROP, 0).

The block is the kernel's `struct bpf_sk_lookup` (72 bytes): `sk` the socket picked so
far (NULL until one is; holding no reference), `family`, `protocol`, the remote and
local addresses (network byte order), `remote_port` (network order, in the field's
first 2 bytes), `local_port` (host order) and `ingress_ifindex`.  Programs read it and
never write it; which loads the kernel allows was measured against Linux 6.18 for every
offset and size (tests/test_sk_lookup_context.py).  There is no packet.
"""

from __future__ import annotations

import struct

from ..errors import BpfError
from .base import Field
from .socket import AF_INET, IPPROTO_TCP, IPPROTO_UDP, SocketContext, connection_ends

__all__ = ["SkLookupContext", "SK_LOOKUP_SIZE", "SK_LOOKUP_RETURNS"]

SK_LOOKUP_SIZE = 72                    # sizeof(struct bpf_sk_lookup)
SK_LOOKUP_RETURNS = {0: "SK_DROP", 1: "SK_PASS"}
_PROTOCOLS = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP}

_FIELDS = [Field("sk", 0, 8, "socket_or_null", 0), Field("family", 8, 4),
           Field("protocol", 12, 4), Field("remote_ip4", 16, 4)]
_FIELDS += [Field(f"remote_ip6_{i}", 20 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("remote_port", 36, 4), Field("local_ip4", 40, 4)]
_FIELDS += [Field(f"local_ip6_{i}", 44 + 4 * i, 4) for i in range(4)]
_FIELDS += [Field("local_port", 60, 4), Field("ingress_ifindex", 64, 4)]


class SkLookupContext(SocketContext):
    """What an sk_lookup program sees: `fn(SkLookupContext("tcp", local=("10.0.0.2", 80),
    remote=("10.0.0.1", 40000)))` returns SK_PASS (1) or SK_DROP (0); afterwards
    `.selected` is the bpfjit.Socket the program picked with bpf_sk_assign (None for
    none) and `.no_reuseport` whether it asked to skip the socket's reuseport group."""

    HEADER = SK_LOOKUP_SIZE
    KIND = "sk_lookup"
    PROGRAMS = "sk_lookup"
    USAGE = "SkLookupContext(protocol, local=(address, port), remote=(address, port))"
    OUTCOME = "selected socket"
    FIELDS = {f.name: f for f in _FIELDS}
    NARROW_LOADS = True              # every scalar field, in part too ...
    ALIGNED_LOADS = True             # ... at a multiple of the load's size

    def __init__(self, protocol: str = "tcp", *, local=("127.0.0.1", 0),
                 remote=("127.0.0.1", 0), ingress_ifindex: int = 1):
        if protocol not in _PROTOCOLS:
            raise BpfError(f"an sk_lookup context's protocol is \"tcp\" or \"udp\", "
                           f"not {protocol!r}")
        super().__init__(1 if protocol == "tcp" else 2, _PROTOCOLS[protocol], 0, 1)
        self.family, self._local, self.local_port, self._remote, self.remote_port = \
            connection_ends(local, remote)
        self.ingress_ifindex = ingress_ifindex & 0xFFFFFFFF
        self.selected = None
        self.no_reuseport = False

    def write_fields(self) -> None:
        super().write_fields()
        self.selected, self.no_reuseport = None, False
        block = self.buffer
        struct.pack_into("<II", block, 8, self.family, self.protocol)
        if self.family == AF_INET:
            block[16:20], block[40:44] = self._remote, self._local
        else:
            block[20:36], block[44:60] = self._remote, self._local
        block[36:38] = self.remote_port.to_bytes(2, "big")
        struct.pack_into("<II", block, 60, self.local_port, self.ingress_ifindex)

    def select(self, socket, address: int, no_reuseport: bool) -> None:
        """bpf_sk_assign picked `socket` (None: none), which programs see at `address`."""
        self.selected, self.no_reuseport = socket, no_reuseport
        struct.pack_into("<Q", self.buffer, 0, address)

    def outcome(self) -> str:
        return "none" if self.selected is None else repr(self.selected)

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        return set()

    def __repr__(self) -> str:
        proto = "tcp" if self.protocol == IPPROTO_TCP else "udp"
        return f"<SkLookupContext {proto} to port {self.local_port}>"
