"""The XDP context, `struct xdp_md`: a frame as the driver hands it to an XDP program.

Programs read `ctx->data` and `ctx->data_end` with 32-bit loads and use them as
packet pointers; the other fields are the receive queue's numbers.  The block
keeps data, data_end, data_meta as 8-byte addresses, then the three u32 fields; 32
bytes of room for metadata (bpf_xdp_adjust_meta) follow it, just before the packet.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Sequence

from ..helpers.redirect import Redirect
from .base import Field, PacketContext

__all__ = ["XdpContext", "XDP_HEADER", "XDP_ACTIONS", "META_ROOM", "REDIRECT_AT",
           "REDIRECT_TARGET", "REDIRECT_MAP", "REDIRECT_KEY", "REDIRECT_FLAGS",
           "DATA_END_AT", "DATA_META_AT", "HEADROOM_AT", "TAILROOM_AT", "RESIZED_AT",
           "ETH_HLEN", "MAX_METALEN"]

# data, data_end, data_meta (8 bytes each); ingress_ifindex, rx_queue_index,
# egress_ifindex (4 bytes each), padded to 40; then where native code records a redirect
# (backends.helperops, bpf_redirect; backends.mapops, bpf_redirect_map): set, target,
# the map (1 + its index; 0: none), the key (4 bytes each), flags (8); then the frame's
# headroom and tailroom (4 bytes each), which native bpf_xdp_adjust_head/meta/tail
# (backends.helperops) read and update, and a word they set when they resized the frame
# (XdpContext.catch_up takes the new frame into the context's attributes), padded to 80
_LAYOUT = struct.Struct("<QQQIIIxxxxIIIIQIIIxxxx")
DATA_END_AT, DATA_META_AT = 8, 16
REDIRECT_AT = 40
HEADROOM_AT, TAILROOM_AT, RESIZED_AT = 64, 68, 72
_ROOMS = struct.Struct("<II")
_REDIRECT = struct.Struct("<IIIIQ")
# where native code writes the record's fields (its set word last)
REDIRECT_TARGET, REDIRECT_MAP, REDIRECT_KEY = REDIRECT_AT + 4, REDIRECT_AT + 8, REDIRECT_AT + 12
REDIRECT_FLAGS = REDIRECT_AT + 16
# (target, map name, key, flags) -> a Redirect
_LAST_REDIRECT: dict[tuple, Redirect] = {}
_POINTERS = struct.Struct("<QQQ")
_ADDRESS = struct.Struct("<Q")
_U32 = struct.Struct("<I")
HEADROOM = 256              # XDP_PACKET_HEADROOM
XDP_FRAME_SIZE = 40         # struct xdp_frame, which the kernel keeps at the frame's start
# the most metadata in front of a packet: what the headroom leaves after the xdp_frame
# (the kernel also caps it at 255 bytes, a multiple of 4; before Linux 6.x, at 32)
META_ROOM = HEADROOM - XDP_FRAME_SIZE
XDP_HEADER = _LAYOUT.size + META_ROOM
_ZERO_META = bytes(META_ROOM)
FRAME = 3776                # a 4 KiB page less the skb_shared_info room: headroom + data
ETH_HLEN = 14
MAX_METALEN = 255           # (and a multiple of 4)
XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


def _block_field(name: str) -> property:
    """A field the context block holds, kept in `_<name>`: setting it clears
    `block_for`, so the next JIT call fills the block again."""
    private = f"_{name}"

    def get(self) -> int:
        return getattr(self, private)

    def set_(self, value: int) -> None:
        setattr(self, private, value)
        self.block_for = None
    return property(get, set_)


# what a fresh context holds whatever its packet (XdpContext._reload): the fields'
# defaults, no metadata, the headroom a driver leaves, no redirect
_FRESH = {"_ingress_ifindex": 1, "_rx_queue_index": 0, "_metalen": 0,
          "headroom": HEADROOM - XDP_FRAME_SIZE, "redirect": None}


class XdpContext(PacketContext):
    """A packet for an XDP program: `fn(XdpContext(packet))` returns the program's action.

    After the run, `.packet` holds the packet as the program left it.
    """

    HEADER = XDP_HEADER
    META_ROOM = META_ROOM
    KIND = "xdp"
    FIELDS = {f.name: f for f in (
        Field("data", 0, 4, "data", 0), Field("data_end", 4, 4, "data_end", 8),
        Field("data_meta", 8, 4, "data_meta", 16),
        Field("ingress_ifindex", 12, 4, block_offset=24),
        Field("rx_queue_index", 16, 4, block_offset=28),
        Field("egress_ifindex", 20, 4, block_offset=32))}
    # egress_ifindex is a devmap program's alone (SEC("xdp/devmap"), as the kernel has it)
    _DEVMAP_ONLY = frozenset(("egress_ifindex",))

    SPARE = HEADROOM + FRAME

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None) -> set[str]:
        names = set(cls.FIELDS)
        return names if attach == "devmap" else names - cls._DEVMAP_ONLY

    def __init__(self, packet: bytes | bytearray | memoryview, ingress_ifindex: int = 1,
                 rx_queue_index: int = 0):
        super().__init__(packet)
        self.ingress_ifindex = ingress_ifindex
        self.rx_queue_index = rx_queue_index
        # the frame as a driver lays it out: 256 bytes of headroom before the packet,
        # of which the kernel's struct xdp_frame takes the first 40, and the rest of the
        # frame after it (what adjust_head / adjust_meta / adjust_tail may use)
        self.headroom = HEADROOM - XDP_FRAME_SIZE
        self.tailroom = max(0, FRAME - HEADROOM - self.length)
        self.metalen = 0            # bytes of metadata just before the packet

    def _reload(self, packet: object) -> bool:
        """Become what XdpContext(packet) would be after a JIT call filled its block, in
        this context's buffer: a JIT program reuses the context it made for the last
        call with packet bytes.  False, changing nothing, unless `packet` is bytes or a
        bytearray that fits the buffer.  (Bytes past the packet need no zeroing: a
        packet grows only by zeroed bytes.)"""
        n = self._room_for(packet)
        if n is None:
            return False
        buffer, address = self.buffer, self.native_address
        self.length, self.capacity = n, n + self.SPARE
        self.tailroom = max(0, FRAME - HEADROOM - n)
        if self.block_for != address or self.clones:
            # the last run changed more than the packet's bytes (a resize, metadata,
            # a copy sent on): every field as a fresh context has it, the metadata
            # room zeroed, the block filled from them
            self.__dict__.update(_FRESH)
            self.clones = []
            buffer[_LAYOUT.size:XDP_HEADER] = _ZERO_META
            self.fill(address)
        else:           # (the block is as that fill left it: data_end and tailroom move)
            _ADDRESS.pack_into(buffer, DATA_END_AT, address + n)
            _U32.pack_into(buffer, TAILROOM_AT, self.tailroom)
        buffer[XDP_HEADER:XDP_HEADER + n] = packet
        return True

    @property
    def metadata(self) -> bytes:
        """The metadata a program put in front of the packet (bpf_xdp_adjust_meta)."""
        return bytes(self.buffer[self.HEADER - self.metalen:self.HEADER])

    # the fields the block holds: setting one means the block must be filled again
    ingress_ifindex = _block_field("ingress_ifindex")
    rx_queue_index = _block_field("rx_queue_index")
    metalen = _block_field("metalen")

    def fill(self, data_address: int, block_address: int | None = None) -> None:
        """The whole block in one write (no field holds the block's own address).  A JIT call skips it while `block_for` is its
        address: a run changes no field of the block, and whatever else changes one
        (a field set, a resize, another engine's fill) clears or changes `block_for`."""
        self.redirect = None
        _LAYOUT.pack_into(self.buffer, 0, data_address, data_address + self.length,
                          data_address - self._metalen, self._ingress_ifindex & 0xFFFFFFFF,
                          self._rx_queue_index & 0xFFFFFFFF, 0, 0, 0, 0, 0, 0,
                          self.headroom, self.tailroom, 0)
        self.block_for = data_address

    def catch_up(self) -> None:
        """After native code resized the frame during a JIT run (backends.helperops:
        bpf_xdp_adjust_head, _meta, _tail write the block's pointers and rooms and set
        its RESIZED word): the length, metadata and rooms from the block.  Called after
        every such run and before any Python helper reads the context."""
        buffer = self.buffer
        if buffer[RESIZED_AT]:
            data, data_end, data_meta = _POINTERS.unpack_from(buffer, 0)
            self.length, self._metalen = data_end - data, data - data_meta
            self.headroom, self.tailroom = _ROOMS.unpack_from(buffer, HEADROOM_AT)
            buffer[RESIZED_AT] = 0
            self.block_for = None       # (filled again from the attributes)

    def take_redirect(self, map_names: Sequence[str] = ()) -> None:
        """After a JIT run: the redirect native code recorded in the block, if any, as
        `.redirect` (and the record cleared for the next run); `map_names` name the
        program's maps by index, for a redirect through one."""
        buffer = self.buffer
        if buffer[REDIRECT_AT]:
            _, target, through, key, flags = _REDIRECT.unpack_from(buffer, REDIRECT_AT)
            buffer[REDIRECT_AT] = 0
            seen = (target, map_names[through - 1], key, flags) if through else \
                (target, None, None, flags)
            # (a Redirect is immutable: the last one is given again for the same target,
            # which costs a fraction of making one)
            last = _LAST_REDIRECT.get(seen)
            if last is None:
                if len(_LAST_REDIRECT) >= 64:
                    _LAST_REDIRECT.clear()
                last = _LAST_REDIRECT[seen] = Redirect(*seen)
            self.redirect = last

    def refresh(self, data_address: int) -> None:
        _POINTERS.pack_into(self.buffer, 0, data_address, data_address + self.length,
                            data_address - self._metalen)
        self.block_for = None           # (after a resize: filled again before the next run)

    def adjust_meta(self, delta: int) -> int:
        """bpf_xdp_adjust_meta: the metadata starts `delta` bytes later (earlier when < 0);
        within the headroom (-EINVAL), a multiple of 4 and at most 255 bytes (-EACCES)."""
        metalen = self.metalen - delta
        if not 0 <= metalen <= self.headroom:
            return -errno.EINVAL
        if metalen % 4 or metalen > 255:
            return -errno.EACCES
        self.metalen = metalen
        return 0

    def adjust_head(self, delta: int) -> int:
        """bpf_xdp_adjust_head: the packet starts `delta` bytes later (earlier when < 0,
        into the headroom, less what metadata uses); at least an Ethernet header must
        remain.  The metadata moves with the packet's start."""
        if self.headroom + delta < self.metalen or self.length - delta < ETH_HLEN:
            return -errno.EINVAL
        result = self.insert(0, -delta) if delta < 0 else self.remove(0, delta)
        if result == 0:
            self.headroom += delta
        return result

    def set_frame(self, metadata: bytes, packet: bytes) -> None:
        """The metadata and packet as a run elsewhere left them (the kernel engine's
        test run, which reports no more): the headroom stays, and the tailroom is what
        the frame has left after the packet."""
        change = len(packet) - self.length
        if change > 0:
            self.insert(self.length, change)
        elif change < 0:
            self.remove(len(packet), -change)
        self.buffer[self.HEADER:self.HEADER + len(packet)] = packet
        self.metalen = len(metadata)
        self.buffer[self.HEADER - self.metalen:self.HEADER] = metadata
        self.tailroom = max(0, FRAME - HEADROOM - self.length)

    def adjust_tail(self, delta: int) -> int:
        """bpf_xdp_adjust_tail: the packet ends `delta` bytes later (into the frame's
        tailroom) or earlier; at least an Ethernet header must remain."""
        if delta > self.tailroom or self.length + delta < ETH_HLEN:
            return -errno.EINVAL
        result = super().adjust_tail(delta)
        if result == 0:
            self.tailroom -= delta
        return result
