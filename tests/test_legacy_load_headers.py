"""Legacy packet loads (ldabs/ldind) at the kernel's negative offsets: SKF_NET_OFF
(-0x100000) + k reads byte k of the network header, SKF_LL_OFF (-0x200000) + k byte
k of the link-layer (MAC) header, as the kernel's bpf_internal_load_pointer_neg_helper
reads them; an offset below SKF_LL_OFF, or in [SKF_NET_OFF, 0) past the packet's
end, ends the program with 0 as any load outside the packet does.

Socket filters and tc programs see the frame from its MAC header, so the network
header is at 14 (the kernel sets it after the Ethernet header); a cgroup_skb
program's packet starts at the network header and has no MAC header before it, so
SKF_LL_OFF loads end the program.  (samples/bpf/tcbpf1_kern.c reads the IPv4 header
with `load_byte(skb, BPF_LL_OFF + ...)`: before, every engine ended it there.)  The
tc programs here run on the kernel engine too, where it is available, and give the
same r0.

Expected values are the bytes of FRAME, read big-endian.
"""

from __future__ import annotations

import pytest

import bpfjit

SKF_NET_OFF, SKF_LL_OFF = -0x100000, -0x200000
FRAME = bytes(range(0x40, 0x40 + 34))       # byte i is 0x40 + i


def program(source: str, prog_type: str) -> bpfjit.Program:
    prog = bpfjit.assemble("mov %r6, %r1\n" + source + "\nexit")
    return bpfjit.Program(prog.insns, context="skb", prog_type=prog_type)


def big_endian(at: int, size: int) -> int:
    return int.from_bytes(FRAME[at:at + size], "big")


L2_CASES = [
    (f"ldabsb {SKF_LL_OFF + 1}", big_endian(1, 1)),
    (f"ldabsh {SKF_LL_OFF + 12}", big_endian(12, 2)),
    (f"ldabsw {SKF_NET_OFF}", big_endian(14, 4)),
    (f"ldabsb {SKF_NET_OFF + 9}", big_endian(23, 1)),
    # ldind: the signed 32-bit sum of src and imm
    (f"mov %r7, {SKF_NET_OFF}\nldindh %r7, 2", big_endian(16, 2)),
    (f"mov %r7, 12\nldindh %r7, {SKF_LL_OFF}", big_endian(12, 2)),
    (f"lddw %r7, {(1 << 32) + SKF_LL_OFF + 30}\nldindw %r7, 0", big_endian(30, 4)),
    # the last bytes, then one past them: the program ends with 0
    (f"ldabsw {SKF_NET_OFF + 16}", big_endian(30, 4)),
    (f"mov %r0, 9\nldabsw {SKF_NET_OFF + 17}", 0),
    (f"mov %r0, 9\nldabsb {SKF_LL_OFF + 34}", 0),
    # below SKF_LL_OFF, and just below 0 (the network header + 0xfffff): nothing
    (f"mov %r0, 9\nldabsb {SKF_LL_OFF - 1}", 0),
    ("mov %r0, 9\nmov %r7, -1\nldindb %r7, 0", 0),
    (f"mov %r0, 9\nmov %r7, {SKF_LL_OFF - 1}\nldindb %r7, 0", 0),
]


@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls"])
@pytest.mark.parametrize("source, expected", L2_CASES)
def test_negative_offsets_name_the_headers(engine, prog_type, source, expected):
    fn = bpfjit.compile(program(source, prog_type), engine)
    assert fn(bpfjit.SkbContext(FRAME)) == expected


@pytest.mark.parametrize("source, expected", [
    (f"ldabsw {SKF_NET_OFF}", big_endian(0, 4)),                   # the packet's start
    (f"mov %r7, {SKF_NET_OFF + 2}\nldindh %r7, 1", big_endian(3, 2)),
    (f"mov %r0, 9\nldabsb {SKF_LL_OFF}", 0),                       # no MAC header
    (f"mov %r0, 9\nmov %r7, {SKF_LL_OFF + 20}\nldindb %r7, 0", 0),
])
def test_a_cgroup_packet_starts_at_the_network_header(engine, source, expected):
    # a cgroup_skb program returns 0 or 1 (the kernel checks it): the value goes to
    # `mark` and the program returns 1; a load outside the packet ends it with 0 first
    fn = bpfjit.compile(program(source + "\nstxw [%r6+8], %r0\nmov %r0, 1", "cgroup_skb"),
                        engine)
    ctx = bpfjit.SkbContext(FRAME, protocol=0x0008)
    assert (fn(ctx), ctx.mark) == ((1, expected) if expected else (0, 0))
