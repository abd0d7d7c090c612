"""The socket-message context, `struct sk_msg_md`, of sk_msg programs: the data a
process sends on a socket that is in a sockmap or sockhash, before it goes out.  The
program passes it (SK_PASS, 1) or drops it (SK_DROP, 0), and may redirect it to another
socket of a socket map (bpf_msg_redirect_map, bpf_msg_redirect_hash: `ctx.redirect`)
or say how much of it the verdict covers (bpf_msg_apply_bytes, bpf_msg_cork_bytes).

The block is the kernel's `struct sk_msg_md` (80 bytes): `data` and `data_end` are
8-byte packet pointers (the message is the packet), the socket's family, addresses
(network byte order), `remote_port` (network order in the upper half: `bpf_ntohl` of
it is the port), `local_port` (host order) and the message's `size`, all read whole and
never written, as the kernel allows (measured against Linux 6.18), and `sk`, the
sending socket (never NULL, holding no reference; its `struct bpf_sock` follows the
block).
"""

from __future__ import annotations

import struct

from .base import SOCKET_SPAN, Field, PacketContext
from .socket import AF_INET, connection_ends

__all__ = ["SkMsgContext", "SK_MSG_HEADER", "SK_ACTIONS"]

SK_MSG_SIZE = 80                       # sizeof(struct sk_msg_md), sk at 72
SK_MSG_HEADER = SK_MSG_SIZE + SOCKET_SPAN          # and the socket sk points at
SK_ACTIONS = {0: "SK_DROP", 1: "SK_PASS"}


def _fields() -> dict[str, Field]:
    fields = [Field("data", 0, 8, "data", 0), Field("data_end", 8, 8, "data_end", 8),
              Field("family", 16, 4), Field("remote_ip4", 20, 4), Field("local_ip4", 24, 4)]
    fields += [Field(f"remote_ip6_{i}", 28 + 4 * i, 4) for i in range(4)]
    fields += [Field(f"local_ip6_{i}", 44 + 4 * i, 4) for i in range(4)]
    fields += [Field("remote_port", 60, 4), Field("local_port", 64, 4), Field("size", 68, 4),
               Field("sk", 72, 8, "socket", 72)]
    return {f.name: f for f in fields}


class SkMsgContext(PacketContext):
    """What an sk_msg program sees: `fn(SkMsgContext(b"GET / HTTP/1.1\\r\\n", local=
    ("127.0.0.1", 80), remote=("127.0.0.1", 40000)))` returns SK_PASS (1) or SK_DROP
    (0); afterwards `.redirect` (a bpfjit.Redirect to a socket, or None),
    `.apply_bytes` and `.cork_bytes` (None when not set) say what it asked for.
    `socket` is the sending socket `sk` shows, a bpfjit.Socket (by default a TCP
    connection between `local` and `remote`); `netns_cookie` what
    bpf_get_netns_cookie returns."""

    HEADER = SK_MSG_HEADER
    SOCKET_AT = SK_MSG_SIZE
    KIND = "sk_msg"
    FIELDS = _fields()

    def __init__(self, data: bytes | bytearray | memoryview, *, local=("127.0.0.1", 0),
                 remote=("127.0.0.1", 0), socket=None, netns_cookie: int = 1):
        super().__init__(data)
        self.family, self._local, self.local_port, self._remote, self.remote_port = \
            connection_ends(local, remote)
        if socket is None:
            from ..sockets import Socket    # (bpfjit.sockets imports this package)
            socket = Socket("tcp", local=local, remote=remote)
        self.socket = socket
        self.netns_cookie = netns_cookie
        self.apply_bytes = self.cork_bytes = None

    def fill(self, data_address: int, block_address: int | None = None) -> None:
        self.apply_bytes = self.cork_bytes = None
        super().fill(data_address, block_address)

    def write_fields(self) -> None:
        block = self.buffer
        block[:self.HEADER] = bytes(self.HEADER)
        struct.pack_into("<I", block, 16, self.family)
        if self.family == AF_INET:
            block[20:24], block[24:28] = self._remote, self._local
        else:
            block[28:44], block[44:60] = self._remote, self._local
        block[60:64] = self.remote_port.to_bytes(4, "big")
        struct.pack_into("<II", block, 64, self.local_port, len(self))

    def refresh(self, data_address: int) -> None:
        struct.pack_into("<QQ", self.buffer, 0, data_address, data_address + len(self))
        struct.pack_into("<I", self.buffer, 68, len(self))

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> None:
        return None             # the kernel checks none: anything but SK_PASS drops

    def __repr__(self) -> str:
        return f"<SkMsgContext {len(self)} bytes>"
