"""Loops whose exit test compares a zero- or sign-extended copy of the counter.

clang's default CPU (-mcpu=v1) has no 32-bit compare: `for (int i = 0; i < 10; i++)
sum += *p++;` becomes a byte offset stepping by 2 and the test `mov r3, r2; lsh r3,
32; rsh r3, 32; jeq r3, 20`, where -mcpu=v3 writes `jeq32 r2, 20`.  The verifier
widens a counter at a loop head to the constants the loop compares it with; it now
takes those its extended copy is compared with too, so the counter stops at 20 as
it does under `jeq32`, the copy equals it, and the test bounds it.  (Before, the
counter was widened past 2^32, where its copy is no longer equal to it, and every
access through it stayed unproven.)  The kernel follows these loops trip by trip and
loads them; strict mode must prove them too.

Expected values are worked out here from the packets, independently of the programs.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS = 1, 2

ETH = bytes([0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x0a, 0xfb, 0x90, 0x07, 0x66, 0xe1, 0x08, 0x00])
IPV4 = bytes([0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01,
              0xb1, 0xe6, 0xc0, 0xa8, 0x00, 0x68, 0xc0, 0xa8, 0x00, 0x01])
PACKET = ETH + IPV4 + bytes(range(30))


def fixture(function: str) -> bpfjit.Program:
    return bpfjit.load_elf(ELF / "header_sums_v1.o", function=function)


def header_checksum(packet: bytes) -> int:
    total = sum(struct.unpack_from("<10H", packet, 14))      # the program's u16 loads
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def mac_mix(packet: bytes) -> int:
    return sum((packet[i] * 3) ^ packet[6 + i] for i in range(6))


def address_words(packet: bytes) -> int:
    return sum(struct.unpack_from(">5I", packet, 14))        # each word byte-swapped


EXPECTED = {"header_checksum": header_checksum, "mac_mix": mac_mix,
            "address_words": address_words}


def test_the_fixture_compares_a_zero_extended_copy():
    # what the tests below are about: clang -mcpu=v1's exit test, not a jeq32
    text = bpfjit.disassemble(fixture("header_checksum"))
    assert "lsh %r3, 32\nrsh %r3, 32\njeq %r3, 20" in text
    assert "jeq32" not in text


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_counter_loops_built_for_cpu_v1_are_proven_in_strict_mode(function):
    prog = fixture(function)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_counter_loops_compute_on_every_engine(engine, function):
    prog = fixture(function)
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(PACKET)) == XDP_PASS
    assert prog.maps["sums"].ints() == {0: EXPECTED[function](PACKET)}


@pytest.mark.parametrize("function, shortest", [
    ("header_checksum", 34), ("mac_mix", 14), ("address_words", 34)])
def test_a_packet_too_short_for_the_loop_is_dropped(engine, function, shortest):
    prog = fixture(function)
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(PACKET[:shortest - 1])) == XDP_DROP
    assert prog.maps["sums"].ints() == {0: 0}
    assert fn(bpfjit.XdpContext(PACKET[:shortest])) == XDP_PASS


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="xdp", prog_type="xdp")


# the sum of the words at data + 14 + r2 for r2 = 0, 2, ..., 18, the exit test on the
# zero-extended copy in r3 (as header_checksum, without its map)
WORD_SUM = """
    ldxw %r2, [%r1+4]
    ldxw %r1, [%r1]
    mov %r3, %r1
    add %r3, 34
    mov %r0, 1
    jgt %r3, %r2, out
    mov %r2, 0
    add %r1, 14
    mov %r0, 0
loop:
    mov %r3, %r1
    add %r3, %r2
    ldxh %r3, [%r3]
    add %r0, %r3
    add %r2, 2
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    {test}
out:
    exit
"""


@pytest.mark.parametrize("test", [
    "jne %r3, 20, loop",
    "jlt %r3, 20, loop",        # unsigned, and (the copy is never negative) signed:
    "jslt %r3, 20, loop",
    "jgt %r3, 19, out\nja loop",
    "jsge %r3, 20, out\nja loop",
])
@pytest.mark.parametrize("extension", ["rsh", "arsh"])     # an unsigned or an `int` copy
def test_each_exit_test_of_the_copy_bounds_the_counter(engine, test, extension):
    prog = xdp(WORD_SUM.replace("rsh %r3, 32", f"{extension} %r3, 32").format(test=test))
    verified = bpfjit.verify(prog, mode="strict")
    assert verified.proven == set(verified.accesses)
    packet = ETH + IPV4
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(packet)) == \
        sum(struct.unpack_from("<10H", packet, 14))


# r1 = data; a packet shorter than 20 bytes returns 1
AT_LEAST_20 = """
    ldxw %r2, [%r1+4]
    ldxw %r1, [%r1]
    mov %r3, %r1
    add %r3, 20
    mov %r0, 1
    jgt %r3, %r2, out
"""


def test_a_counter_with_a_high_half_is_not_bounded_by_its_low_half(engine):
    # r2 = 4 or 2^32 + 4 (the packet's byte 14 is 0 or 1), r3 its low half = 4: r3 == 4
    # says r2 & 0xffffffff == 4, not r2 == 4, so the load at data + r2 stays unproven
    # and its check traps where r2 is 2^32 + 4
    prog = xdp(AT_LEAST_20 + """
        ldxb %r2, [%r1+14]
        and %r2, 1
        lsh %r2, 32
        add %r2, 4
        mov %r3, %r2
        lsh %r3, 32
        rsh %r3, 32
        jne %r3, 4, out
        add %r1, %r2
        ldxb %r0, [%r1]
    out:
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="cannot prove"):
        bpfjit.verify(prog, mode="strict")
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(bytes([0, 0, 0, 0, 77]) + bytes(15))) == 77
    if engine != "kernel":          # (the kernel refuses the program: checked mode runs it)
        with pytest.raises(bpfjit.MemoryAccessError):
            fn(bpfjit.XdpContext(bytes(14) + b"\x01" + bytes(5)))


def test_a_negative_constant_tells_nothing_of_the_low_half(engine):
    # `jeq r3, -1` compares the copy with 2^64 - 1, which it never is: a 32-bit test
    # would say, falling through, that the low half is not 0xffffffff.  r2 is the
    # packet's word at 14, and 0xffffffff there makes r4 = (r2 + 1) >> 32 one, and the
    # load at data + 19 + r4 read past a 20-byte packet: unproven, and trapping then
    prog = xdp(AT_LEAST_20 + """
        ldxw %r2, [%r1+14]
        mov %r3, %r2
        lsh %r3, 32
        rsh %r3, 32
        jeq %r3, -1, out
        mov %r4, %r2
        add %r4, 1
        rsh %r4, 32
        add %r1, %r4
        ldxb %r0, [%r1+19]
    out:
        exit
    """)
    verified = bpfjit.verify(prog, mode="checked")
    assert max(verified.accesses) not in verified.proven
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(bytes(19) + b"\x2a")) == 42
    if engine != "kernel":          # (the kernel refuses the program: checked mode runs it)
        with pytest.raises(bpfjit.MemoryAccessError):
            fn(bpfjit.XdpContext(bytes(14) + b"\xff" * 4 + bytes(2)))


# ---- mov32 rX, rX: -mcpu=v3's zero-extension of a value already below 2^32 --------------

# clang 19 at -mcpu=v3 zero-extends a u32 length in place (`w3 = w3`) before a loop over
# that many bytes (corpus/plain/options.c's `opt_unknown`): the value is unchanged, and
# so are its relations -- here r4 == len, which proves the load of the last byte.
SELF_EXTENDED = """
    mov %r4, %r2
    jgt %r4, 100, out
    jeq %r4, 0, out
    {extend}
    mov %r5, %r1
    add %r5, %r4
    ldxb %r0, [%r5-1]
    exit
out:
    mov %r0, 0
    exit
"""


@pytest.mark.parametrize("extend", ["mov32 %r4, %r4", "mov32 %r6, %r4\n    mov %r4, %r6",
                                    "ja +0"])
def test_a_value_extended_in_place_keeps_its_relations(extend):
    prog = bpfjit.assemble(SELF_EXTENDED.format(extend=extend))
    for mode in ("checked", "strict"):
        verified = bpfjit.verify(prog, mode=mode, cache=False)
        assert len(verified.accesses) == 1
        assert verified.proven == frozenset(verified.accesses)


def test_extended_in_place_it_reads_the_last_byte(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs no such buffer")
    fn = bpfjit.compile(bpfjit.assemble(SELF_EXTENDED.format(extend="mov32 %r4, %r4")),
                        engine)
    assert fn(bytearray(b"abcdefg")) == ord("g")
    assert fn(bytearray(101)) == 0          # over 100 bytes: out


# slots r10 - 64 to r10 - 8 hold 1 to 8, then a test that bounds r3, then the load of
# the slot r10 - 72 + 8 * r3
SLOTS = "".join(f"    stdw [%r10-{8 * n}], {9 - n}\n" for n in range(1, 9))
LOAD_SLOT = """
    lsh %r3, 3
    mov %r4, %r10
    add %r4, -72
    add %r4, %r3
    ldxdw %r0, [%r4]
out:
    exit
"""

# an `int` held zero-extended (a u32 loaded here) and tested through its sign-extended
# copy (clang -mcpu=v1's `if (sp >= 1 && sp <= 8)` on `mov r5, r3; lsh r5, 32; arsh r5,
# 32`): once the copy is not negative it equals r3, so r3 is 1 to 8 and the slot
# r10 - 72 + 8 * r3 lies in the 64 bytes the program wrote
STACK_INDEX = SLOTS + """
    ldxw %r3, [%r1]
    mov %r5, %r3
    lsh %r5, 32
    arsh %r5, 32
    mov %r0, 0
    jslt %r5, 1, out
    jsgt %r5, 8, out
""" + LOAD_SLOT
STACK_INDEX_LOAD = 19


def test_a_sign_extended_copy_not_negative_bounds_the_u32_it_copies():
    from bpfjit.verifier import verify
    verified = verify(bpfjit.assemble(STACK_INDEX), cache=False, log=True)
    assert verified.program.at(STACK_INDEX_LOAD).kind.name == "LDX"
    assert not verified.needs_check(STACK_INDEX_LOAD)
    assert "r5=sext32(r3)" in verified.log[13].split()


@pytest.mark.parametrize("word, expected", [
    (1, 1), (5, 5), (8, 8),                 # slot 8 * n - 72 holds n
    (0, 0), (9, 0),                         # outside 1..8: no load
    (0x80000001, 0), (0xFFFFFFFF, 0),       # negative as an int
])
def test_the_stack_index_loads_its_slot_on_every_engine(engine, word, expected):
    fn = bpfjit.compile(bpfjit.assemble(STACK_INDEX), engine)
    assert fn(bytearray(word.to_bytes(4, "little"))) == expected


# clang's `if (n >= 1 && n <= 8)` as one unsigned test of the zero-extended `n - 1`
# (`r5 = r3 - 1; (u32)r5 > 7`): r3 is a byte, so r3 - 1 is -1 to 254, and the test
# leaves out the wrapped -1 (0xffffffff): r3 is 1 to 8 and the slot r10 - 72 + 8 * r3
# lies in the 64 bytes the program wrote
RANGE_BY_WRAP = SLOTS + """
    ldxb %r3, [%r1]
    mov %r5, %r3
    add %r5, -1
    lsh %r5, 32
    rsh %r5, 32
    mov %r0, 0
    jgt %r5, 7, out
""" + LOAD_SLOT
RANGE_BY_WRAP_LOAD = 19


def test_an_unsigned_test_of_a_wrapped_difference_bounds_what_it_subtracts_from():
    from bpfjit.verifier import verify
    verified = verify(bpfjit.assemble(RANGE_BY_WRAP), cache=False)
    assert verified.program.at(RANGE_BY_WRAP_LOAD).kind.name == "LDX"
    assert not verified.needs_check(RANGE_BY_WRAP_LOAD)


@pytest.mark.parametrize("byte, expected", [(1, 1), (4, 4), (8, 8), (0, 0), (9, 0),
                                            (255, 0)])
def test_the_wrapped_range_loads_its_slot_on_every_engine(engine, byte, expected):
    fn = bpfjit.compile(bpfjit.assemble(RANGE_BY_WRAP), engine)
    assert fn(bytearray([byte])) == expected
