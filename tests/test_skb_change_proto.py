"""bpf_skb_change_proto (31): the kernel's groundwork for translating a packet between
IPv4 and IPv6 (bpf_skb_proto_xlat).  From IPv4 to IPv6 it opens 20 zero bytes after the
MAC header, the difference between the two headers' base lengths; from IPv6 to IPv4 it
removes the network header's first 20 bytes.  It sets the buffer's `protocol` (network
byte order) and clears its hash; the Ethernet type and the new header are the
program's to write.  The same protocol, or another, is -ENOTSUPP (524); flags -EINVAL.

Each program calls it with the protocol given, and keeps its result in cb[0] and the
buffer's `protocol` after it in cb[1]; on the kernel engine (where it is available) the
kernel's own helper gives the same cb[] and packets.
"""

from __future__ import annotations

import pytest

import bpfjit

from skb_programs import tc_program

ENOTSUPP, EINVAL = (-524) & 0xFFFFFFFF, (-22) & 0xFFFFFFFF
MACS = bytes(range(1, 13))
IPV4 = b"\x08\x00" + bytes([0x45, 0, 0, 28]) + bytes(range(100, 124))
IPV6 = b"\x86\xdd" + bytes([0x60]) + bytes(range(1, 40)) + b"payload!"


def net16(value: int) -> int:
    return int.from_bytes(value.to_bytes(2, "big"), "little")


def change_proto(engine: str, packet: bytes, proto: int, flags: int = 0):
    prog = tc_program(f"""
        mov %r6, %r1
        mov %r2, {net16(proto)}
        mov %r3, {flags}
        call 31
        stxw [%r6+48], %r0
        ldxw %r2, [%r6+16]
        stxw [%r6+52], %r2
        mov %r0, 0
        exit
    """)
    ctx = bpfjit.SkbContext(packet)
    assert bpfjit.compile(prog, engine)(ctx) == 0
    return ctx.cb[0], ctx.cb[1], ctx.packet


def test_ipv4_to_ipv6_opens_twenty_bytes_after_the_mac_header(engine):
    result, protocol, packet = change_proto(engine, MACS + IPV4, 0x86DD)
    assert (result, protocol) == (0, net16(0x86DD))
    assert packet == MACS + b"\x08\x00" + bytes(20) + IPV4[2:]


def test_ipv6_to_ipv4_removes_the_network_headers_first_twenty_bytes(engine):
    result, protocol, packet = change_proto(engine, MACS + IPV6, 0x0800)
    assert (result, protocol) == (0, net16(0x0800))
    assert packet == MACS + b"\x86\xdd" + IPV6[22:]


@pytest.mark.parametrize("frame, proto", [
    (MACS + IPV4, 0x0800),                               # already IPv4
    (MACS + IPV6, 0x86DD),                               # already IPv6
    (MACS + b"\x08\x06" + bytes(28), 0x86DD),            # ARP
    (MACS + IPV4, 0x0806),                               # to something not IP
])
def test_anything_but_a_change_of_ip_version_is_not_supported(engine, frame, proto):
    result, protocol, packet = change_proto(engine, frame, proto)
    assert (result, protocol, packet) == (ENOTSUPP, net16(int.from_bytes(frame[12:14], "big")),
                                          frame)


def test_flags_are_refused(engine):
    assert change_proto(engine, MACS + IPV4, 0x86DD, flags=1) == \
        (EINVAL, net16(0x0800), MACS + IPV4)


def test_the_hash_is_cleared():
    prog = tc_program(f"mov %r2, {net16(0x86DD)}\nmov %r3, 0\ncall 31\nmov %r0, 0\nexit")
    ctx = bpfjit.SkbContext(MACS + IPV4, hash=0x1234)
    bpfjit.compile(prog, "interp")(ctx)
    assert ctx.hash == 0
