"""A packet pointer on some paths and NULL on others, tested once where they meet.

`struct tcphdr *tcp = NULL; if (ipv4) tcp = ...; else if (ipv6) tcp = ...; if (tcp)
{...}` is how filters are written (the kernel's selftest test_pkt_access among them).
The kernel explores each path apart; bpfjit joins them into a packet pointer or NULL,
which a 64-bit NULL test turns back into a packet pointer.  Anything else done to it
makes it a plain number: `NULL + 2` is no pointer, and a test of it says nothing.

Expected values are worked out from the packets built here: ldxh reads two bytes
little-endian.
"""

from __future__ import annotations

import pytest

import bpfjit

XDP_PASS = 2

# data in r2, data_end in r3; r6 = the transport header: IPv4 (ethertype low byte 8 at
# 12, version/ihl at 14) at 14 + 4*ihl, IPv6 (0x86 at 12) at 54, else NULL; then the
# NULL test, the header's bounds test and a load of its bytes 2..3 (the port)
PARSE = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 0
    mov %r4, %r2
    add %r4, 34
    jgt %r4, %r3, out
    mov %r6, 0
    ldxb %r5, [%r2+12]
    jeq %r5, 8, ipv4
    jeq %r5, 0x86, ipv6
    ja check
ipv4:
    ldxb %r5, [%r2+14]
    and %r5, 15
    lsh %r5, 2
    mov %r6, %r2
    add %r6, 14
    add %r6, %r5
    ja check
ipv6:
    mov %r6, %r2
    add %r6, 54
check:
"""
TESTED = PARSE + """
    jeq %r6, 0, out
    mov %r4, %r6
    add %r4, 20
    jgt %r4, %r3, out
    ldxh %r0, [%r6+2]
out:
    exit
"""


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="xdp", prog_type="xdp")


def pc_of(prog: bpfjit.Program, mnemonic: str, nth: int = 0) -> int:
    """The pc of the nth instruction with this mnemonic."""
    pcs = [pc for pc, insn in zip(prog.pcs, prog.insns) if insn.spec.mnemonic == mnemonic]
    return pcs[nth]


def packet(ethertype_low: int, ihl: int = 5, port: bytes = b"\x12\x34",
           length: int = 80) -> bytes:
    data = bytearray(length)
    data[12], data[14] = ethertype_low, 0x40 | ihl
    start = 14 + 4 * ihl if ethertype_low == 8 else 54
    data[start + 2:start + 4] = port
    return bytes(data)


def test_the_joined_header_is_proven_after_its_null_test():
    prog = xdp(TESTED)
    verified = bpfjit.verify(prog)
    assert pc_of(prog, "ldxh") in verified.proven
    bpfjit.verify(prog, mode="strict")              # every access proven: accepted


@pytest.mark.parametrize("data, expected", [
    (packet(8), 0x3412),                     # IPv4, ihl 5: header at 34, port 0x12 0x34
    (packet(8, ihl=7, port=b"\x00\x50"), 0x5000),    # ihl 7: header at 42
    (packet(0x86, port=b"\xab\xcd"), 0xCDAB),        # IPv6: header at 54
    (packet(6), 0),                          # neither: NULL, nothing read
    (packet(8, ihl=15), 0),                  # header at 74, ends at 94 > 80: not read
    (packet(0x86)[:60], 0),                  # IPv6 header ends past the packet's end
])
def test_the_joined_header_is_read_on_every_engine(engine, data, expected):
    fn = bpfjit.compile(xdp(TESTED), engine)
    assert fn(bpfjit.XdpContext(data)) == expected


def test_a_load_before_the_null_test_is_refused_in_strict_mode():
    text = PARSE + "ldxh %r0, [%r6+2]\nout:\nexit"
    prog = xdp(text)
    with pytest.raises(bpfjit.VerifierError, match="packet pointer or NULL.*compare it "
                                                   "with 0") as info:
        bpfjit.verify(prog, mode="strict")
    assert info.value.pc == pc_of(prog, "ldxh")


def test_a_load_before_the_null_test_traps_on_the_null_path(engine):
    # checked mode: checked at run time; on the NULL path it reads address 2
    prog = xdp(PARSE + "ldxh %r0, [%r6+2]\nout:\nexit")
    assert pc_of(prog, "ldxh") not in bpfjit.verify(prog).proven
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(packet(8))) == 0x3412
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bpfjit.XdpContext(packet(6)))
    assert info.value.pc == pc_of(prog, "ldxh") and info.value.address == 2


def test_the_null_edge_leaves_null():
    # after `jne r6, 0`, the fall-through holds 0: a load there is no packet access
    prog = xdp(PARSE + """
        jne %r6, 0, out
        ldxb %r0, [%r6+0]
    out:
        exit
    """)
    assert pc_of(prog, "ldxb", 2) not in bpfjit.verify(prog).proven


def test_arithmetic_before_the_null_test_makes_a_number(engine):
    # r6 + 2 is 2 on the NULL path, never 0: its test proves nothing, and the load
    # through it reads address 2 on every engine
    prog = xdp(PARSE + """
        add %r6, 2
        jeq %r6, 0, out
        ldxb %r0, [%r6+0]
    out:
        exit
    """)
    load = pc_of(prog, "ldxb", 2)
    assert load not in bpfjit.verify(prog).proven
    with pytest.raises(bpfjit.VerifierError):
        bpfjit.verify(prog, mode="strict")
    fn = bpfjit.compile(prog, engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bpfjit.XdpContext(packet(6)))
    assert info.value.pc == load and info.value.address == 2


def test_a_32_bit_test_is_decided_on_the_null_path(engine):
    # joined, r6 is NULL or a pointer and a 32-bit test (the low half of a packet
    # address may be 0 while the pointer is not NULL) cannot tell which; tested on
    # each incoming path (bpfjit.verifier.analysis, _block_edges), NULL's path always
    # jumps, so only pointers fall through to the load, which is proven, as the
    # kernel, following each path, proves it
    prog = xdp(TESTED.replace("jeq %r6, 0, out", "jeq32 %r6, 0, out"))
    assert pc_of(prog, "ldxh") in bpfjit.verify(prog).proven
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(packet(8))) == 0x3412
    assert fn(bpfjit.XdpContext(packet(6))) == 0         # NULL: nothing read


def test_a_non_zero_constant_on_one_path_is_no_null():
    # 1 on the other path is no NULL: the joined value is a number, the load unproven
    prog = xdp(TESTED.replace("mov %r6, 0\n", "mov %r6, 1\n"))
    assert pc_of(prog, "ldxh") not in bpfjit.verify(prog).proven


def test_the_pointer_survives_a_spill_and_fill(engine):
    prog = xdp(PARSE + """
        stxdw [%r10-8], %r6
        mov %r6, 7
        ldxdw %r7, [%r10-8]
        jeq %r7, 0, out
        mov %r4, %r7
        add %r4, 20
        jgt %r4, %r3, out
        ldxh %r0, [%r7+2]
    out:
        exit
    """)
    assert pc_of(prog, "ldxh") in bpfjit.verify(prog, mode="strict").proven
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(packet(0x86, port=b"\x01\x02"))) == 0x0201
    assert fn(bpfjit.XdpContext(packet(9))) == 0


@pytest.mark.parametrize("leak", [
    "mov %r0, %r6\nout:\nexit",                          # returned
    "stxdw [%r2+0], %r6\nout:\nexit",                    # stored into the packet
])
def test_strict_mode_refuses_to_leak_it(leak):
    with pytest.raises(bpfjit.VerifierError, match="strict mode: .*(leak|pointer)"):
        bpfjit.verify(xdp(PARSE + leak), mode="strict")


def test_the_verifier_log_names_it():
    prog = xdp(PARSE + "jeq %r6, 0, out\nout:\nmov %r0, 0\nexit")
    log = "\n".join(bpfjit.verify(prog, log=True).log)
    assert "r6=mem_or_null(off=[14,74])" in log     # 14 + [0, 60] and 54
