"""Reading, writing, checksumming and resizing the packet: skb_store_bytes (9),
l3/l4_csum_replace (10, 11), skb_vlan_push/pop (18, 19), skb_load_bytes (26),
csum_diff (28), skb_change_proto (31), skb_change_type (32), skb_change_tail (38),
skb_pull_data (39), csum_update (40), set_hash_invalid (41), skb_change_head (43),
xdp_adjust_head (44), set_hash (48), skb_adjust_room (50), xdp_adjust_meta (54),
xdp_adjust_tail (65), skb_load_bytes_relative (68), csum_level (135),
xdp_get_buff_len (188), xdp_load_bytes (189), xdp_store_bytes (190).

Resizing keeps the packet's start address and moves its bytes within the context's
buffer (bpfjit.context), so only the length changes for the engines; the kernel's
room limits apply (256 bytes of XDP headroom, the frame's tailroom).
"""

from __future__ import annotations

import errno
import struct

from ..semantics import M32, M64, sext
from ..context import frame_protocol, legacy_headers, net16
from ..context.skb import MAX_CSUM_LEVEL
from .spec import KernelHelper, Signature, zero_fill, errno_result as _err

__all__ = ["HELPERS", "csum_add", "csum_fold", "XDP_ADJUST_HEAD", "XDP_ADJUST_META",
           "XDP_ADJUST_TAIL", "XDP_RESIZING"]

XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL = 44, 54, 65
# the helpers that resize an XDP frame, which the JITs answer natively
# (backends.helperops; XdpContext.catch_up)
XDP_RESIZING = frozenset((XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL))

ENOTSUPP = 524                    # the kernel's internal "not supported"
ETH_HLEN = 14
_XDP, _SKB = frozenset({"xdp"}), frozenset({"skb"})
_PACKET_OTHERHOST = 3


def _s32(value: int) -> int:
    """A helper's `int` argument: the low 32 bits, signed."""
    return sext(value, 32)


def _resized(call, result: int) -> int:
    """After a context changed the packet's length or metadata: tell the engine."""
    if result == 0:
        ctx = call.context
        memory = call.memory
        memory.set_packet_length(len(ctx), ctx.metalen)
        ctx.refresh(memory.packet()[0])
    return result & M64


# ---- XDP ------------------------------------------------------------------------------------

def xdp_adjust_head(call, r1, r2, r3, r4, r5) -> int:
    return _resized(call, call.context.adjust_head(_s32(r2)))


def xdp_adjust_tail(call, r1, r2, r3, r4, r5) -> int:
    return _resized(call, call.context.adjust_tail(_s32(r2)))


def xdp_adjust_meta(call, r1, r2, r3, r4, r5) -> int:
    return _resized(call, call.context.adjust_meta(_s32(r2)))


def _copy_out(call, offset: int, to: int, size: int, error: int) -> int:
    memory = call.memory
    address, length = memory.packet()
    if offset < 0 or size <= 0 or offset + size > length:
        return _err(error)
    memory.write(to, memory.read(address + offset, size))
    return 0


def _copy_in(call, offset: int, source: int, size: int, error: int) -> int:
    memory = call.memory
    address, length = memory.packet()
    if offset < 0 or size <= 0 or offset + size > length:
        return _err(error)
    memory.write(address + offset, memory.read(source, size))
    return 0


def _xdp_copy(call, offset: int, size: int, other: int, copy) -> int:
    """xdp_load_bytes / xdp_store_bytes: an offset or a size past 0xffff (both u32:
    an offset of -1 is 0xffffffff) is -EFAULT, bytes past the frame -EINVAL, as the
    kernel's bpf_xdp_pointer says."""
    offset, size = offset & 0xFFFFFFFF, size & 0xFFFFFFFF
    if offset > 0xFFFF or size > 0xFFFF:
        return _err(errno.EFAULT)
    return copy(call, offset, other, size, errno.EINVAL)


# ---- socket buffers -------------------------------------------------------------------------

def skb_load_bytes(call, r1, r2, r3, r4, r5) -> int:
    return _copy_out(call, _s32(r2), r3, r4 & 0xFFFFFFFF, errno.EFAULT)


def skb_store_bytes(call, r1, r2, r3, r4, r5) -> int:
    return _copy_in(call, _s32(r2), r3, r4 & 0xFFFFFFFF, errno.EFAULT)


def skb_load_bytes_relative(call, r1, r2, r3, r4, r5) -> int:
    """(skb, offset, to, len, start): copy len bytes from offset bytes after the MAC
    header (start 0) or the network header (1), where legacy loads find them
    (context.legacy_headers); -EFAULT, with `to` zeroed, when they are not there."""
    memory, size = call.memory, r4 & 0xFFFFFFFF
    mac, net = legacy_headers(call.prog_type)
    base = {0: mac, 1: net}.get(r5 & 0xFFFFFFFF)
    offset = r2 & 0xFFFFFFFF
    if base is None or offset > 0xFFFF or \
            _copy_out(call, base + offset, r3, size, errno.EFAULT):
        if size:
            zero_fill(memory, r3, size)
        return _err(errno.EFAULT)
    return 0


def skb_pull_data(call, r1, r2, r3, r4, r5) -> int:
    """(skb, len): make len bytes (0: all) readable in place; the packet is linear
    here, so 0 when it has them, else -ENOMEM."""
    return _resized(call, 0) if r2 & 0xFFFFFFFF <= len(call.context) else \
        _err(errno.ENOMEM)


def skb_change_type(call, r1, r2, r3, r4, r5) -> int:
    """(skb, type): the packet type, only among PACKET_HOST..PACKET_OTHERHOST (0-3)."""
    ctx, new = call.context, r2 & 0xFFFFFFFF
    if ctx.pkt_type > _PACKET_OTHERHOST or new > _PACKET_OTHERHOST:
        return _err(errno.EINVAL)
    ctx.set_field("pkt_type", new)
    return 0


def _set_hash(call, value: int) -> int:
    call.context.set_field("hash", value & 0xFFFFFFFF)
    return 0


# bpf_skb_adjust_room's flags
_FIXED_GSO, _ENCAP_L3_IPV4, _ENCAP_L3_IPV6 = 1 << 0, 1 << 1, 1 << 2
_ENCAP_L4_GRE, _ENCAP_L4_UDP, _NO_CSUM_RESET = 1 << 3, 1 << 4, 1 << 5
_ENCAP_L2_ETH, _DECAP_L3_IPV4, _DECAP_L3_IPV6 = 1 << 6, 1 << 7, 1 << 8
_ENCAP_L2_SHIFT = 56
_ENCAP_L3 = _ENCAP_L3_IPV4 | _ENCAP_L3_IPV6
_DECAP_L3 = _DECAP_L3_IPV4 | _DECAP_L3_IPV6
_ADJ_ROOM_FLAGS = _FIXED_GSO | _ENCAP_L3 | _ENCAP_L4_GRE | _ENCAP_L4_UDP | _ENCAP_L2_ETH \
    | 0xFF << _ENCAP_L2_SHIFT | _DECAP_L3 | _NO_CSUM_RESET
_BASE_LEN = {0x0800: 20, 0x86DD: 40}       # bpf_skb_net_base_len: the header, no options
_SKB_MAX_LEN = 16064                       # SKB_MAX_ALLOC with 4 KiB pages


def skb_adjust_room(call, r1, r2, r3, r4, r5) -> int:
    """(skb, len_diff, mode, flags): the room adjusted (`_adjust_room`); a success
    forgets what checksums the device verified (`csum_level`) unless
    BPF_F_ADJ_ROOM_NO_CSUM_RESET says to keep it, as the kernel's does."""
    result = _adjust_room(call.context, r2, r3, r4)
    if result == 0 and not r4 & _NO_CSUM_RESET:
        call.context.csum_level = None
    return _resized(call, result)


def _adjust_room(ctx, r2: int, r3: int, r4: int) -> int:
    """Open (len_diff > 0) or close room after the MAC header (BPF_ADJ_ROOM_MAC, 1)
    or after the network header's base length, 20 bytes for IPv4 whatever its IHL, 40
    for IPv6 (BPF_ADJ_ROOM_NET, 0), with the kernel's checks; the ENCAP_L3 and DECAP_L3
    flags set `protocol` to the outer or inner one."""
    diff, mode, flags = _s32(r2), r3 & 0xFFFFFFFF, r4 & M64
    size, shrink = abs(diff), diff < 0
    if flags & ~_ADJ_ROOM_FLAGS:
        return _err(errno.EINVAL)
    if size > 0xFFF:
        return _err(errno.EFAULT)
    protocol = net16(ctx.protocol)
    base = _BASE_LEN.get(protocol)
    if base is None or mode not in (0, 1):
        return _err(ENOTSUPP)
    offset = ETH_HLEN + (base if mode == 0 else 0)
    least = base
    if flags & _DECAP_L3:
        if not shrink or flags & _DECAP_L3 == _DECAP_L3:
            return _err(errno.EINVAL)
        least = 20 if flags & _DECAP_L3_IPV4 else 40
    left = len(ctx) - ETH_HLEN
    if shrink and (size >= left or left - size < least) or \
            not shrink and len(ctx) + size > _SKB_MAX_LEN:
        return _err(ENOTSUPP)
    if shrink:
        if flags & (_ENCAP_L3 | _ENCAP_L4_GRE | _ENCAP_L4_UDP | _ENCAP_L2_ETH
                    | 0xFF << _ENCAP_L2_SHIFT):
            return _err(errno.EINVAL)
        result = ctx.remove(offset, size)
        if not result and flags & _DECAP_L3:
            ctx.set_field("protocol", net16(0x0800 if flags & _DECAP_L3_IPV4 else 0x86DD))
        return result
    if flags & _ENCAP_L3:
        inner_mac = flags >> _ENCAP_L2_SHIFT & 0xFF
        if flags & _ENCAP_L3 == _ENCAP_L3 or \
                flags & (_ENCAP_L4_GRE | _ENCAP_L4_UDP) == _ENCAP_L4_GRE | _ENCAP_L4_UDP or \
                flags & _ENCAP_L2_ETH and inner_mac < ETH_HLEN or inner_mac > size:
            return _err(errno.EINVAL)
    result = ctx.insert(offset, size)
    if not result and flags & _ENCAP_L3:
        ctx.set_field("protocol", net16(0x0800 if flags & _ENCAP_L3_IPV4 else 0x86DD))
    return result


# bpf_csum_level's levels
_CSUM_LEVEL_QUERY, _CSUM_LEVEL_INC, _CSUM_LEVEL_DEC, _CSUM_LEVEL_RESET = range(4)


def csum_level(call, r1, r2, r3, r4, r5) -> int:
    """(skb, level): the checksums the device verified (`SkbContext.csum_level`), as the
    kernel keeps them: QUERY (0) answers the level, or -EACCES where none is verified;
    INC (1) verifies one more (the first at level 0; at most MAX_CSUM_LEVEL), DEC (2)
    one fewer (below level 0: none), RESET (3) none; another level is -EINVAL."""
    ctx, level = call.context, r2 & M64
    current = ctx.csum_level
    if level == _CSUM_LEVEL_QUERY:
        return _err(errno.EACCES) if current is None else current
    if level == _CSUM_LEVEL_INC:
        ctx.csum_level = 0 if current is None else min(current + 1, MAX_CSUM_LEVEL)
    elif level == _CSUM_LEVEL_DEC:
        ctx.csum_level = None if not current else current - 1
    elif level == _CSUM_LEVEL_RESET:
        ctx.csum_level = None
    else:
        return _err(errno.EINVAL)
    return 0


_IP_GROWTH = 20                       # an IPv6 header's 40 bytes less an IPv4 header's 20


def skb_change_proto(call, r1, r2, r3, r4, r5) -> int:
    """(skb, proto, flags): the groundwork of an IPv4 <-> IPv6 translation, as the
    kernel's bpf_skb_proto_xlat: 20 zero bytes opened after the MAC header (4 to 6) or
    the network header's first 20 bytes removed (6 to 4), `protocol` set and the hash
    cleared; the program writes the new header itself."""
    ctx, wanted = call.context, net16(r2 & 0xFFFF)
    if r3 & M64:
        return _err(errno.EINVAL)
    current = net16(ctx.protocol)
    if (current, wanted) == (0x0800, 0x86DD):
        result = ctx.insert(ETH_HLEN, _IP_GROWTH)
    elif (current, wanted) == (0x86DD, 0x0800):
        result = ctx.remove(ETH_HLEN, _IP_GROWTH)
    else:
        return _err(ENOTSUPP)
    if not result:
        ctx.set_field("protocol", net16(wanted))
        ctx.set_field("hash", 0)
    return _resized(call, result)


def skb_change_tail(call, r1, r2, r3, r4, r5) -> int:
    ctx = call.context
    return _resized(call, ctx.adjust_tail((r2 & 0xFFFFFFFF) - len(ctx)))


def skb_change_head(call, r1, r2, r3, r4, r5) -> int:
    return _resized(call, call.context.insert(0, r2 & 0xFFFFFFFF))


# ---- VLAN tags: the outermost one is kept out of the packet, in the buffer ------------------

_VLAN_PROTOCOLS = (0x8100, 0x88A8)    # 802.1Q, 802.1ad
_TAG = 4                              # a tag's bytes: protocol, then TCI (priority, VLAN id)


def skb_vlan_push(call, r1, r2, r3, r4, r5) -> int:
    """(skb, proto, tci): the tag already kept out of the packet, if any, goes into it
    after the MAC addresses (and becomes the packet's protocol); the new one is kept
    out.  A protocol other than 802.1Q or 802.1ad pushes 802.1Q."""
    ctx = call.context
    proto = net16(r2) if net16(r2) in _VLAN_PROTOCOLS else 0x8100
    if ctx.vlan_tci is not None:
        if ctx.insert(2 * 6, _TAG):
            return _err(errno.ENOMEM)
        at = ctx.HEADER + 2 * 6
        ctx.buffer[at:at + _TAG] = net16(ctx.vlan_proto).to_bytes(2, "big") + \
            ctx.vlan_tci.to_bytes(2, "big")
        ctx.set_field("protocol", ctx.vlan_proto)
        _resized(call, 0)
    ctx.set_vlan(r3 & 0xFFFF, net16(proto))
    return 0


def _take_tag_out(call) -> int | None:
    """Remove the packet's outer tag; its TCI, or None when the packet is too short."""
    ctx = call.context
    packet = ctx.packet
    if len(packet) < ETH_HLEN + _TAG:
        return None
    tci, carried = int.from_bytes(packet[14:16], "big"), frame_protocol(packet[16:18],
                                                                         packet[18:20])
    ctx.remove(2 * 6, _TAG)
    ctx.set_field("protocol", net16(carried))
    _resized(call, 0)
    return tci


def skb_vlan_pop(call, r1, r2, r3, r4, r5) -> int:
    """(skb): forget the tag kept out of the packet, or, with none, take the packet's
    own outer tag out of it; then a tag next in the packet moves out of it."""
    ctx = call.context
    if ctx.vlan_tci is not None:
        ctx.set_vlan(None)
    elif net16(ctx.protocol) not in _VLAN_PROTOCOLS:
        return 0
    elif _take_tag_out(call) is None:
        return _err(errno.ENOMEM)
    proto = ctx.protocol
    if net16(proto) not in _VLAN_PROTOCOLS:
        return 0
    tci = _take_tag_out(call)
    if tci is None:
        return _err(errno.ENOMEM)
    ctx.set_vlan(tci, proto)
    return 0


# ---- checksums --------------------------------------------------------------------------------

def csum_add(total: int, value: int) -> int:
    """Ones'-complement addition of 32-bit words (end-around carry)."""
    total += value & 0xFFFFFFFF
    return (total & 0xFFFFFFFF) + (total >> 32)


def csum_fold(total: int) -> int:
    """The 16-bit checksum of a 32-bit ones'-complement sum (not yet complemented)."""
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return total & 0xFFFF


def csum_partial(data: bytes, seed: int) -> int:
    """The kernel's 32-bit partial checksum (x86-64's csum_partial): the data as
    little-endian words, the tail zero-padded, summed onto `seed` with end-around carry.
    0 only when the seed and every byte are 0; otherwise the sum modulo 2^32 - 1, where
    0 is written 0xffffffff."""
    data += bytes(-len(data) % 4)
    total = seed + sum(struct.unpack(f"<{len(data) // 4}I", data))
    return total and (total % 0xFFFFFFFF or 0xFFFFFFFF)


def csum_diff(call, r1, r2, r3, r4, r5) -> int:
    """(from, from_size, to, to_size, seed) as kernels since 6.13 compute it, alike on
    every architecture: the partial checksum of `to` on the seed, minus that of `from`,
    folded to 16 bits (earlier kernels gave the 32-bit sum, which folds to the same
    checksum, and refused sizes not a multiple of 4 or above 512 in all)."""
    from_size, to_size, seed = r2 & M32, r4 & M32, r5 & M32
    memory = call.memory
    old = memory.read(r1, from_size) if from_size else b""
    new = memory.read(r3, to_size) if to_size else b""
    if old and new:
        total = csum_add(csum_partial(new, seed), ~csum_partial(old, 0))
    elif new:
        total = csum_partial(new, seed)
    elif old:
        total = ~csum_partial(old, ~seed & M32) & M32
    else:
        total = seed
    return csum_fold(total)              # the kernel's csum_from32to16


def _replace(call, offset: int, old: int, new: int, size: int, mark_zero: bool) -> int:
    memory = call.memory
    address, length = memory.packet()
    if offset < 0 or offset + 2 > length:
        return _err(errno.EFAULT)
    stored = int.from_bytes(memory.read(address + offset, 2), "little")
    if mark_zero and stored == 0:
        return 0
    if size == 0:                     # `new` is a checksum difference (csum_diff)
        total = csum_add(~stored & 0xFFFF, new)
    elif size in (2, 4):
        mask = (1 << (8 * size)) - 1
        total = csum_add(csum_add(~stored & 0xFFFF, ~old & mask), new & mask)
    else:
        return _err(errno.EINVAL)
    result = ~csum_fold(total) & 0xFFFF
    if mark_zero and result == 0:
        result = 0xFFFF               # CSUM_MANGLED_0
    memory.write(address + offset, result.to_bytes(2, "little"))
    return 0


def l3_csum_replace(call, r1, r2, r3, r4, r5) -> int:
    """(skb, offset, from, to, flags): update the checksum at `offset` for a field
    that changed from `from` to `to` (flags & 0xf: its size, 2 or 4; 0: `to` is a
    difference from csum_diff), as RFC 1624 does it."""
    return _replace(call, _s32(r2), r3, r4, r5 & 0xF, False)


def l4_csum_replace(call, r1, r2, r3, r4, r5) -> int:
    """Like l3_csum_replace; BPF_F_MARK_MANGLED_0 (0x20) keeps a zero (UDP: none)
    checksum and writes 0xffff for a zero result."""
    return _replace(call, _s32(r2), r3, r4, r5 & 0xF, bool(r5 & 0x20))


def skb_ecn_set_ce(call, r1, r2, r3, r4, r5) -> int:
    """Mark an ECN-capable IPv4 or IPv6 packet Congestion Experienced: 1 if it did (the
    IPv4 checksum updated), 0 if the packet is not ECN-capable or not IP."""
    memory = call.memory
    address, length = memory.packet()
    packet = memory.read(address, min(length, ETH_HLEN + 20))
    if packet[12:14] == b"\x08\x00" and len(packet) >= ETH_HLEN + 20:
        tos = packet[ETH_HLEN + 1]
        if tos & 3 == 0:
            return 0
        if tos & 3 != 3:
            old = int.from_bytes(packet[ETH_HLEN:ETH_HLEN + 2], "little")
            new_tos = tos | 3
            memory.write(address + ETH_HLEN + 1, bytes([new_tos]))
            new = old & 0xFF | new_tos << 8
            _replace(call, ETH_HLEN + 10, old, new, 2, False)
        return 1
    if packet[12:14] == b"\x86\xdd" and len(packet) >= ETH_HLEN + 2:
        first = int.from_bytes(packet[ETH_HLEN:ETH_HLEN + 2], "big")
        ecn = (first >> 4) & 3                # the traffic class's low two bits
        if ecn == 0:
            return 0
        memory.write(address + ETH_HLEN, (first | 0x30).to_bytes(2, "big"))
        return 1
    return 0


_CTX_MEM = ("ctx", "any", "mem", "size")
_CTX_OUT = ("ctx", "any", "out", "size")
HELPERS = [
    KernelHelper(9, "skb_store_bytes", Signature(_CTX_MEM + ("any",), "errno", True, _SKB),
                 skb_store_bytes, "copy r4 bytes from r3 into the packet at offset r2"),
    KernelHelper(10, "l3_csum_replace", Signature(("ctx", "any", "any", "any", "any"),
                                                  "errno", True, _SKB),
                 l3_csum_replace, "incremental update of the checksum at offset r2"),
    KernelHelper(11, "l4_csum_replace", Signature(("ctx", "any", "any", "any", "any"),
                                                  "errno", True, _SKB),
                 l4_csum_replace, "incremental update of a TCP/UDP checksum"),
    KernelHelper(18, "skb_vlan_push", Signature(("ctx", "any", "any"), "errno", True, _SKB),
                 skb_vlan_push, "push a VLAN tag (r2 protocol, r3 TCI), kept out of the "
                                "packet as the kernel keeps its outermost tag"),
    KernelHelper(19, "skb_vlan_pop", Signature(("ctx",), "errno", True, _SKB),
                 skb_vlan_pop, "pop the outermost VLAN tag"),
    KernelHelper(31, "skb_change_proto", Signature(("ctx", "any", "any"), "errno", True, _SKB),
                 skb_change_proto, "IPv4 <-> IPv6: 20 bytes opened or closed after the MAC"),
    KernelHelper(32, "skb_change_type", Signature(("ctx", "any"), "errno", contexts=_SKB),
                 skb_change_type, "set the packet type (0-3, from 0-3)"),
    KernelHelper(39, "skb_pull_data", Signature(("ctx", "any"), "errno", True, _SKB),
                 skb_pull_data, "make r2 bytes directly readable (the packet is linear)"),
    KernelHelper(40, "csum_update", Signature(("ctx", "any"), "errno", contexts=_SKB),
                 lambda call, *_: _err(ENOTSUPP),
                 "-ENOTSUPP: the packet has no CHECKSUM_COMPLETE sum, as in a test run"),
    KernelHelper(41, "set_hash_invalid", Signature(("ctx",), (0, 0), contexts=_SKB),
                 lambda call, *_: _set_hash(call, 0), "clear the hash"),
    KernelHelper(48, "set_hash", Signature(("ctx", "any"), (0, 0), contexts=_SKB),
                 lambda call, r1, r2, *_: _set_hash(call, r2), "set the hash to r2"),
    KernelHelper(68, "skb_load_bytes_relative", Signature(_CTX_OUT + ("any",), "errno",
                                                          contexts=_SKB),
                 skb_load_bytes_relative,
                 "copy r4 bytes from offset r2 after the MAC (r5 = 0) or network (1) "
                 "header to r3"),
    KernelHelper(188, "xdp_get_buff_len", Signature(("ctx",), (0, 0xFFFFFFFF),
                                                    contexts=_XDP),
                 lambda call, *_: len(call.context), "the frame's length"),
    KernelHelper(26, "skb_load_bytes", Signature(_CTX_OUT, "errno", contexts=_SKB),
                 skb_load_bytes, "copy r4 packet bytes from offset r2 to r3"),
    KernelHelper(28, "csum_diff", Signature(("mem_or_null", "size_or_zero", "mem_or_null",
                                             "size_or_zero", "any")), csum_diff,
                 "checksum difference of two arrays on a seed, folded to 16 bits"),
    KernelHelper(38, "skb_change_tail", Signature(("ctx", "any", "any"), "errno", True, _SKB),
                 skb_change_tail, "make the packet r2 bytes long"),
    KernelHelper(43, "skb_change_head", Signature(("ctx", "any", "any"), "errno", True, _SKB),
                 skb_change_head, "add r2 bytes in front of the packet"),
    KernelHelper(XDP_ADJUST_HEAD, "xdp_adjust_head",
                 Signature(("ctx", "any"), "errno", True, _XDP),
                 xdp_adjust_head, "move the packet's start by r2 bytes (< 0 grows it)"),
    KernelHelper(50, "skb_adjust_room", Signature(("ctx", "any", "any", "any"), "errno", True,
                                                  _SKB),
                 skb_adjust_room,
                 "add or remove r2 bytes after the L2 or L3 header"),
    KernelHelper(135, "csum_level", Signature(("ctx", "any"), "scalar", contexts=_SKB),
                 csum_level, "query (r2 = 0) or raise (1), lower (2) or reset (3) the "
                             "level of checksums the device verified"),
    KernelHelper(XDP_ADJUST_META, "xdp_adjust_meta",
                 Signature(("ctx", "any"), "errno", True, _XDP),
                 xdp_adjust_meta, "move the metadata's start by r2 bytes (up to 216 bytes "
                                  "before the packet)"),
    KernelHelper(XDP_ADJUST_TAIL, "xdp_adjust_tail",
                 Signature(("ctx", "any"), "errno", True, _XDP),
                 xdp_adjust_tail, "move the packet's end by r2 bytes"),
    KernelHelper(97, "skb_ecn_set_ce", Signature(("ctx",), (0, 1), True, _SKB),
                 skb_ecn_set_ce, "set ECN Congestion Experienced on an ECN-capable packet"),
    KernelHelper(189, "xdp_load_bytes", Signature(_CTX_OUT, "errno", contexts=_XDP),
                 lambda call, r1, r2, r3, r4, r5: _xdp_copy(call, r2, r4, r3, _copy_out),
                 "copy r4 packet bytes from offset r2 to r3"),
    KernelHelper(190, "xdp_store_bytes", Signature(_CTX_MEM, "errno", contexts=_XDP),
                 lambda call, r1, r2, r3, r4, r5: _xdp_copy(call, r2, r4, r3, _copy_in),
                 "copy r4 bytes from r3 into the packet at offset r2"),
]
