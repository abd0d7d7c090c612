"""bpf_skb_adjust_room (50) as the kernel's does it: room opened or closed after the
MAC header (BPF_ADJ_ROOM_MAC, 1) or after the network header's base length
(BPF_ADJ_ROOM_NET, 0: 20 bytes for IPv4 whatever its IHL, 40 for IPv6), for IPv4
and IPv6 packets only (-ENOTSUPP otherwise, and for another mode); a difference past
0xfff is -EFAULT, an unknown flag -EINVAL; shrinking may not leave less than the
base length after the MAC header (-ENOTSUPP), or less than the decapsulated header
with BPF_F_ADJ_ROOM_DECAP_L3_*, which only shrink and which set `protocol` to the
inner one; BPF_F_ADJ_ROOM_ENCAP_L3_* only grow (both at once: -EINVAL), set
`protocol` to the outer one, and an inner MAC header (BPF_F_ADJ_ROOM_ENCAP_L2(len))
must fit in the room (-EINVAL).

Each program stores the helper's result in cb[0], then `protocol` and `len` in cb[1]
and cb[2].  These tests run on the kernel engine too, where the kernel can run tc
programs: the kernel's own helper is the oracle.  Expected values are worked out
from the rules above.
"""

from __future__ import annotations

import struct

import pytest

import bpfjit

from skb_programs import tc_program

M32 = 0xFFFFFFFF
EFAULT, EINVAL, ENOTSUPP = 14, 22, 524
NET, MAC = 0, 1
FIXED_GSO, ENCAP_L3_IPV4, ENCAP_L3_IPV6 = 1 << 0, 1 << 1, 1 << 2
ENCAP_L4_GRE, ENCAP_L4_UDP, NO_CSUM_RESET, ENCAP_L2_ETH = 1 << 3, 1 << 4, 1 << 5, 1 << 6
DECAP_L3_IPV4, DECAP_L3_IPV6 = 1 << 7, 1 << 8
ETH = bytes(12)
IPV4, IPV6 = 0x0008, 0xDD86                  # `protocol` (network byte order, as read)


def encap_l2(length: int) -> int:
    return (length & 0xFF) << 56


def ipv4_frame(payload: bytes = b"ABCDEFGH", options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), 0, 0,
                         64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + options
    return ETH + b"\x08\x00" + header + payload


def ipv6_frame(payload: bytes = b"ABCDEFGH") -> bytes:
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), 17, 64, bytes(16), bytes(16))
    return ETH + b"\x86\xdd" + header + payload


def adjust(diff: int, mode: int, flags: int = 0) -> bpfjit.Program:
    text = f"""
        mov %r6, %r1
        mov %r2, {diff}
        mov %r3, {mode}
        lddw %r4, {flags}
        call 50
        stxw [%r6+48], %r0
        ldxw %r2, [%r6+16]
        stxw [%r6+52], %r2
        ldxw %r2, [%r6+0]
        stxw [%r6+56], %r2
        mov %r0, 0
        exit
    """
    return tc_program(text)


def run(engine: str, prog: bpfjit.Program, frame: bytes) -> tuple[list[int], bytes]:
    ctx = bpfjit.SkbContext(frame)
    assert bpfjit.compile(prog, engine)(ctx) == 0
    return ctx.cb[:3], ctx.packet


def test_net_mode_opens_room_after_the_base_header_not_the_ihl(engine):
    frame = ipv4_frame(options=b"\x01\x01\x01\x00")          # IHL 6: 24 bytes
    cb, packet = run(engine, adjust(8, NET), frame)
    assert cb == [0, IPV4, len(frame) + 8]
    assert packet == frame[:34] + bytes(8) + frame[34:]


def test_net_mode_of_an_ipv6_packet_opens_room_after_40_bytes(engine):
    frame = ipv6_frame()
    cb, packet = run(engine, adjust(4, NET), frame)
    assert cb == [0, IPV6, len(frame) + 4]
    assert packet == frame[:54] + bytes(4) + frame[54:]


def test_mac_mode_shrinks_after_the_mac_header(engine):
    frame = ipv4_frame(payload=b"ABCDEFGH" * 2)             # 50 bytes: 36 after MAC
    cb, packet = run(engine, adjust(-8, MAC), frame)
    assert cb == [0, IPV4, 42]
    assert packet == frame[:14] + frame[22:]


@pytest.mark.parametrize("diff, mode, flags, frame, error", [
    (-20, MAC, 0, ipv4_frame(), ENOTSUPP),        # 28 after MAC - 20 < 20
    (-28, MAC, 0, ipv4_frame(), ENOTSUPP),        # all of it
    (0x1000, MAC, 0, ipv4_frame(), EFAULT),       # past 0xfff
    (-0x1000, MAC, 0, ipv4_frame(), EFAULT),
    (8, 2, 0, ipv4_frame(), ENOTSUPP),            # no such mode
    (8, MAC, 1 << 9, ipv4_frame(), EINVAL),       # no such flag
    (8, MAC, 0, ETH + b"\x08\x06" + bytes(28), ENOTSUPP),      # ARP: not IP
    (8, MAC, DECAP_L3_IPV4, ipv4_frame(), EINVAL),             # decap: only shrinks
    (8, MAC, ENCAP_L3_IPV4 | ENCAP_L3_IPV6, ipv4_frame(), EINVAL),
    (8, MAC, ENCAP_L3_IPV4 | ENCAP_L4_GRE | ENCAP_L4_UDP, ipv4_frame(), EINVAL),
    (8, MAC, ENCAP_L3_IPV4 | encap_l2(12), ipv4_frame(), EINVAL),   # 12 > 8 bytes of room
    (16, MAC, ENCAP_L3_IPV4 | ENCAP_L2_ETH | encap_l2(12), ipv4_frame(), EINVAL),  # < 14
    (-8, MAC, DECAP_L3_IPV4 | DECAP_L3_IPV6, ipv4_frame(b"x" * 30), EINVAL),
])
def test_refusals_change_nothing(engine, diff, mode, flags, frame, error):
    cb, packet = run(engine, adjust(diff, mode, flags), frame)
    assert cb == [-error & M32, int.from_bytes(frame[12:14], "little"), len(frame)]
    assert packet == frame


def test_decapsulating_sets_the_inner_protocol(engine):
    # an IPv6 packet carrying IPv4: 40 bytes out after the MAC header, then IPv4
    inner = ipv4_frame()[14:]
    frame = ipv6_frame(inner)
    cb, packet = run(engine, adjust(-40, MAC, DECAP_L3_IPV4), frame)
    assert cb == [0, IPV4, len(frame) - 40]
    assert packet == frame[:14] + inner
    # without the flag the IPv6 base length stays: 20 more than the inner header left
    cb, packet = run(engine, adjust(-40, MAC), frame)
    assert cb[0] == -ENOTSUPP & M32 and packet == frame


def test_encapsulating_sets_the_outer_protocol(engine):
    frame = ipv4_frame()
    cb, packet = run(engine, adjust(40, MAC, ENCAP_L3_IPV6), frame)
    assert cb == [0, IPV6, len(frame) + 40]
    assert packet == frame[:14] + bytes(40) + frame[14:]
    # the same outer protocol changes nothing; the other flags leave it too
    cb, _ = run(engine, adjust(20, MAC, ENCAP_L3_IPV4 | ENCAP_L4_UDP | encap_l2(0)), frame)
    assert cb == [0, IPV4, len(frame) + 20]
    cb, _ = run(engine, adjust(8, NET, FIXED_GSO | NO_CSUM_RESET), frame)
    assert cb == [0, IPV4, len(frame) + 8]
