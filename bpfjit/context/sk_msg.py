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

The message is a list of pieces, as the kernel's scatterlist: a fresh TCP socket's
send gives pieces of 32 KiB (a message up to 32 KiB is one), and `data`..`data_end`
show the first.  bpf_msg_pull_data, _push_data and _pop_data (bpfjit.helpers.sockmsg)
reshape it as the kernel's do (`pull`, `push`, `pop`), compared with Linux 6.18 running
the same programs on a socket of a sockmap: a pull shows bytes [start, end) and joins
the pieces they span; a push inserts a piece of its own (splitting the one it falls
in) and a pop removes bytes, after which the first piece is shown again.  The engines
see the shown bytes as the packet (in the buffer, where the packet always starts);
the rest waits outside it.  `.packet` is the whole message as the program left it.
Bytes a push inserts are 0 here; the kernel leaves them as its new page held them.
"""

from __future__ import annotations

import struct

from .base import SOCKET_SPAN, Field, PacketContext
from .socket import AF_INET, connection_ends

__all__ = ["SkMsgContext", "SK_MSG_HEADER", "SK_ACTIONS"]

SK_MSG_SIZE = 80                       # sizeof(struct sk_msg_md), sk at 72
SK_MSG_HEADER = SK_MSG_SIZE + SOCKET_SPAN          # and the socket sk points at
SK_ACTIONS = {0: "SK_DROP", 1: "SK_PASS"}
PIECE = 32768                          # a fresh TCP socket's send: pieces of 32 KiB
MAX_PIECES = 17                        # MAX_MSG_FRAGS: a message's scatterlist slots
_EINVAL, _ENOMEM = 22, 12


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
    SPARE = 1 << 16                  # a push may grow the message by up to 64 KiB
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
        self._before = self._after = b""       # the message outside the shown bytes
        self.pieces = _pieces(self.length)

    def fill(self, data_address: int, block_address: int | None = None) -> None:
        """A run starts on the message as the last left it, in fresh 32 KiB pieces,
        the first shown."""
        self.apply_bytes = self.cork_bytes = None
        message = self.packet
        self.pieces = _pieces(len(message))
        self._show(message, 0, self.pieces[0] if self.pieces else 0)
        super().fill(data_address, block_address)

    @property
    def packet(self) -> bytes:
        """The whole message, as the program left it."""
        return self._before + bytes(self.buffer[self.HEADER:self.HEADER + self.length]) + \
            self._after

    @property
    def size(self) -> int:
        """The message's length (`size`; data..data_end may show fewer bytes)."""
        return len(self._before) + self.length + len(self._after)

    def _show(self, message: bytes, lo: int, hi: int) -> None:
        """Show bytes [lo, hi) of `message` as the packet, keep the rest aside."""
        self._before, self._after = message[:lo], message[hi:]
        self.buffer[self.HEADER:self.HEADER + hi - lo] = message[lo:hi]
        self.length = hi - lo
        self.block_for = None

    def _first_piece(self, message: bytes) -> int:
        self._show(message, 0, self.pieces[0] if self.pieces else 0)
        return 0

    def _find(self, start: int) -> tuple[int, int]:
        """(index, offset) of the piece holding byte `start`; (len, size) past the end."""
        offset = 0
        for i, length in enumerate(self.pieces):
            if start < offset + length:
                return i, offset
            offset += length
        return len(self.pieces), offset

    # ---- the helpers ---------------------------------------------------------------------

    def pull(self, start: int, end: int, flags: int) -> int:
        """bpf_msg_pull_data: show bytes [start, end), joining the pieces they span; 0,
        or -EINVAL for flags, an empty range or one past the message."""
        if flags or end <= start:
            return -_EINVAL
        i, offset = self._find(start)
        if i == len(self.pieces) or end > self.size:
            return -_EINVAL
        last, covered = i, offset
        while covered < end:
            covered += self.pieces[last]
            last += 1
        if last - i > 1:
            self.pieces[i:last] = [covered - offset]
        self._show(self.packet, start, end)
        return 0

    def push(self, start: int, count: int, flags: int) -> int:
        """bpf_msg_push_data: insert `count` zero bytes at `start` as a piece of their own
        (splitting the piece `start` falls in; with too few free slots, inside it); 0,
        -EINVAL for flags or a start past the end, -ENOMEM past 64 KiB of growth."""
        if flags:
            return -_EINVAL
        if count == 0:
            return 0
        size = self.size
        if start > size:
            return -_EINVAL
        if size + count > self.capacity:
            return -_ENOMEM
        message = self.packet
        i, offset = self._find(start)
        space = MAX_PIECES - len(self.pieces)
        if i == len(self.pieces):                       # at the end
            if space or not self.pieces:
                self.pieces.append(count)
            else:
                self.pieces[-1] += count
        elif not space or (space == 1 and start != offset):
            self.pieces[i] += count
        elif start != offset:
            front = start - offset
            self.pieces[i:i + 1] = [front, count, self.pieces[i] - front]
        else:
            self.pieces.insert(i, count)
        return self._first_piece(message[:start] + bytes(count) + message[start:])

    def pop(self, start: int, count: int, flags: int) -> int:
        """bpf_msg_pop_data: remove bytes [start, start + count) (a piece they split in
        two stays two pieces while slots are free); 0, -EINVAL for flags or bytes past
        the message."""
        if flags:
            return -_EINVAL
        if count == 0:
            return 0
        i, offset = self._find(start)
        if i == len(self.pieces) or start + count > self.size:
            return -_EINVAL
        message = self.packet
        space = MAX_PIECES - len(self.pieces)
        left = count
        if start != offset:
            front = start - offset
            back = self.pieces[i] - left - front
            if back > 0:
                self.pieces[i:i + 1] = [front, back] if space else [front + back]
                left = 0
            else:
                left -= self.pieces[i] - front
                self.pieces[i] = front
            i += 1
        while left:
            if left < self.pieces[i]:
                self.pieces[i] -= left
                left = 0
            else:
                left -= self.pieces.pop(i)
        return self._first_piece(message[:start] + message[start + count:])

    def write_fields(self) -> None:
        block = self.buffer
        block[:self.HEADER] = bytes(self.HEADER)
        struct.pack_into("<I", block, 16, self.family)
        if self.family == AF_INET:
            block[20:24], block[24:28] = self._remote, self._local
        else:
            block[28:44], block[44:60] = self._remote, self._local
        block[60:64] = self.remote_port.to_bytes(4, "big")
        struct.pack_into("<II", block, 64, self.local_port, self.size)

    def refresh(self, data_address: int) -> None:
        struct.pack_into("<QQ", self.buffer, 0, data_address, data_address + len(self))
        struct.pack_into("<I", self.buffer, 68, self.size)

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> None:
        return None             # the kernel checks none: anything but SK_PASS drops

    def __repr__(self) -> str:
        return f"<SkMsgContext {self.size} bytes>"


def _pieces(size: int) -> list[int]:
    """A message of `size` bytes as a fresh TCP socket's send makes it."""
    return [min(PIECE, size - at) for at in range(0, size, PIECE)]
