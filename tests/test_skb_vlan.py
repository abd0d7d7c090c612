"""bpf_skb_vlan_push (18) and bpf_skb_vlan_pop (19): the kernel's skb_vlan_push/pop.

The kernel keeps a socket buffer's outermost VLAN tag out of the packet, in the buffer
(`vlan_present`, `vlan_tci`, `vlan_proto`): a push puts its tag there, and first
writes the tag already there, if any, into the packet after the MAC addresses (the
packet grows by 4 bytes and `protocol` becomes that tag's protocol).  A pop clears the
tag there, or, with none, takes the packet's own outer tag out of it (`protocol`
becomes what the tag carried); then, if the packet's next header is a VLAN tag
again, that one moves out of the packet into the buffer.  A protocol other than
802.1Q (0x8100) or 802.1ad (0x88a8) pushes an 802.1Q tag.

These tests run on the kernel engine too, where it is available (it runs tc programs:
backends/kernelskb.py), and the kernel's own helpers give the same cb[] and packets.

Each program stores the helper's result in cb[0] and the fields after it in cb[1..4]
(vlan_present, vlan_tci, vlan_proto, protocol); `protocol` and `vlan_proto` are in
network byte order in their low 16 bits, as the kernel keeps them.  Expected values
are worked out here from the helpers' description above.
"""

from __future__ import annotations

import pytest

import bpfjit

from skb_programs import tc_program


TC_ACT_OK = 0
MACS = bytes(range(1, 13))
IPV4 = b"\x08\x00" + bytes([0x45]) + bytes(19)


def net16(value: int) -> int:
    """A 16-bit protocol as the kernel stores it: network byte order, read as a u32."""
    return int.from_bytes(value.to_bytes(2, "big"), "little")


def record_after(calls: str) -> bpfjit.Program:
    text = "mov %r6, %r1\n" + calls + """
        stxw [%r6+48], %r0
        ldxw %r2, [%r6+20]
        stxw [%r6+52], %r2
        ldxw %r2, [%r6+24]
        stxw [%r6+56], %r2
        ldxw %r2, [%r6+28]
        stxw [%r6+60], %r2
        ldxw %r2, [%r6+16]
        stxw [%r6+64], %r2
        mov %r0, 0
        exit
    """
    return tc_program(text)


def push(proto: int, tci: int) -> str:
    return f"mov %r1, %r6\nmov %r2, {net16(proto)}\nmov %r3, {tci}\ncall 18\n"


POP = "mov %r1, %r6\ncall 19\n"


def run(engine: str, calls: str, packet: bytes) -> bpfjit.SkbContext:
    ctx = bpfjit.SkbContext(packet)
    assert bpfjit.compile(record_after(calls), engine)(ctx) == TC_ACT_OK
    return ctx


def test_a_push_keeps_the_tag_out_of_the_packet(engine):
    ctx = run(engine, push(0x8100, 0x0FAB), MACS + IPV4)
    assert ctx.cb == [0, 1, 0x0FAB, net16(0x8100), net16(0x0800)]
    assert ctx.packet == MACS + IPV4


def test_a_second_push_writes_the_first_tag_into_the_packet(engine):
    ctx = run(engine, push(0x88A8, 100) + push(0x8100, 200), MACS + IPV4)
    assert ctx.cb == [0, 1, 200, net16(0x8100), net16(0x88A8)]
    assert ctx.packet == MACS + b"\x88\xa8" + (100).to_bytes(2, "big") + IPV4


def test_an_unknown_protocol_pushes_an_8021q_tag(engine):
    ctx = run(engine, push(0x0800, 7) + push(0x1234, 8), MACS + IPV4)
    assert ctx.cb[1:4] == [1, 8, net16(0x8100)]
    assert ctx.packet == MACS + b"\x81\x00\x00\x07" + IPV4


def test_a_pop_clears_the_tag_kept_out_of_the_packet(engine):
    ctx = run(engine, push(0x8100, 5) + POP, MACS + IPV4)
    assert ctx.cb == [0, 0, 0, 0, net16(0x0800)]
    assert ctx.packet == MACS + IPV4


def test_a_pop_takes_the_packets_own_tag_out(engine):
    tagged = MACS + b"\x81\x00\x0f\xab" + IPV4
    ctx = run(engine, POP, tagged)
    assert ctx.cb[0] == 0 and ctx.cb[1] == 0 and ctx.cb[4] == net16(0x0800)
    assert ctx.packet == MACS + IPV4


def test_a_pop_moves_an_inner_tag_out_of_the_packet(engine):
    # 802.1ad outer tag 300, 802.1Q inner tag 400: the outer goes, the inner is kept
    # out of the packet, which is left untagged
    double = MACS + b"\x88\xa8\x01\x2c" + b"\x81\x00\x01\x90" + IPV4
    ctx = run(engine, POP, double)
    assert ctx.cb == [0, 1, 400, net16(0x8100), net16(0x0800)]
    assert ctx.packet == MACS + IPV4


def test_a_pop_of_an_untagged_packet_does_nothing(engine):
    ctx = run(engine, POP, MACS + IPV4)
    assert ctx.cb == [0, 0, 0, 0, net16(0x0800)]
    assert ctx.packet == MACS + IPV4


def test_the_helpers_are_in_the_registry():
    from bpfjit.kernel import HELPER_NAMES
    assert (HELPER_NAMES[18], HELPER_NAMES[19]) == ("skb_vlan_push", "skb_vlan_pop")


def test_a_pop_of_a_tag_cut_short_fails_and_changes_nothing(engine):
    short = MACS + b"\x81\x00\x0f"                  # 15 bytes: the tag needs 18
    ctx = run(engine, POP, short)
    assert ctx.cb == [-12 & 0xFFFFFFFF, 0, 0, 0, net16(0x8100)]     # -ENOMEM
    assert ctx.packet == short


@pytest.mark.parametrize("after, protocol", [
    (b"\xff\xff", 0x0001),          # a length, then 0xffff: raw 802.3 (ETH_P_802_3)
    (b"\xaa\xaa", 0x0004),          # a length, then an LLC header (ETH_P_802_2)
])
def test_a_tag_carrying_a_length_leaves_an_8023_protocol(engine, after, protocol):
    tagged = MACS + b"\x81\x00\x00\x05" + b"\x00\x40" + after + bytes(20)
    ctx = run(engine, POP, tagged)
    assert ctx.cb == [0, 0, 0, 0, net16(protocol)]
    assert ctx.packet == MACS + b"\x00\x40" + after + bytes(20)
