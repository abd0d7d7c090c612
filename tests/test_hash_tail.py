"""A hash's tail: after its four-byte blocks, `switch (n & 3)` reads the last n & 3
bytes from p + (n & -4).  clang keeps n & -4 in a register it then reuses for n & 3,
its value still held as the tail pointer's offset: the reads are below n only because
(n & -4) + (n & 3) == n, which the verifier learns from the quotient n & -4 and the
remainder n & 3 of the same n (verifier.alu._remainder_of_quotient, the quotient
passing to the pointer's offset when its register is reused, zone._forget_quot), so
that a branch on the remainder bounds the pointer (MurmurHash3's tail, corpus
murmur3)."""

import pytest

import bpfjit

TAIL = """
    mov %r4, %r2
    mov %r5, %r4
    and %r5, -4
    mov %r3, %r1
    add %r3, %r5
    mov %r5, %r4
    and %r5, 3
    mov %r0, 0
    jeq %r5, 1, one
    jeq %r5, 2, two
    jeq %r5, 3, three
    exit
three:
    ldxb %r6, [%r3+2]
    lsh %r6, 16
    or %r0, %r6
two:
    ldxb %r6, [%r3+1]
    lsh %r6, 8
    or %r0, %r6
one:
    ldxb %r6, [%r3+0]
    or %r0, %r6
    exit
"""


def test_the_tail_reads_are_proven():
    prog = bpfjit.assemble(TAIL)
    reads = {pc for pc, insn in prog if insn.kind.value == "ldx"}
    assert len(reads) == 3
    assert reads <= set(bpfjit.verify(prog, cache=False).proven)
    assert reads <= set(bpfjit.verify(prog, mode="strict", cache=False).proven)


@pytest.mark.parametrize("mem", [b"", b"a", b"ab", b"abc", b"abcd", b"abcdefg",
                                 bytes(range(1, 12)), bytes(range(200, 256))])
def test_the_tail_is_read_on_every_engine(engine, mem):
    # the last len & 3 bytes, little-endian: "efg" of "abcdefg" is 0x676665
    whole = len(mem) & ~3
    assert bpfjit.compile(bpfjit.assemble(TAIL), engine)(mem) == \
        int.from_bytes(mem[whole:], "little")


def test_the_remainder_of_another_number_proves_nothing():
    # n & 3 of a different number m: (n & -4) + (m & 3) may pass n, and reads there
    # stay checked (a buffer of 5 bytes, m = 7: p + 4 + 2 is past its end)
    prog = bpfjit.assemble(TAIL.replace("    mov %r5, %r4\n    and %r5, 3",
                                        "    ldxb %r5, [%r1+0]\n    and %r5, 3"))
    reads = [pc for pc, insn in prog if insn.kind.value == "ldx"][1:]
    verified = bpfjit.verify(prog, cache=False)
    assert not set(reads) <= set(verified.proven)
    with pytest.raises(bpfjit.MemoryAccessError):
        bpfjit.compile(prog, "interp")(bytes([7, 0, 0, 0, 0]))


# the hash of a prefix, n = len - cut: the sum is len - cut, which the verifier keeps
# as a variable of its own beside len (clang -O1 -mcpu=v3's murmur3 of its prefixes)
PREFIX_TAIL = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r6, [%r1+0]
    and %r6, 3
    jgt %r6, %r2, out
    mov %r4, %r2
    sub %r4, %r6
""" + TAIL.replace("    mov %r4, %r2\n", "", 1).replace("    exit\nthree:",
                                                        "    ja out\nthree:") + """
out:
    exit
"""


def test_the_tail_of_a_prefix_is_proven():
    prog = bpfjit.assemble(PREFIX_TAIL)
    reads = {pc for pc, insn in prog if insn.kind.value == "ldx"}
    assert len(reads) == 4
    assert reads <= set(bpfjit.verify(prog, mode="strict", cache=False).proven)


@pytest.mark.parametrize("mem", [b"", b"\x00", b"\x03ab", b"\x01abcdefg", b"\x02abcdef",
                                 bytes([7]) + bytes(range(1, 12))])
def test_the_tail_of_a_prefix_on_every_engine(engine, mem):
    expected = 0
    if mem and mem[0] & 3 <= len(mem):
        n = len(mem) - (mem[0] & 3)
        expected = int.from_bytes(mem[n & ~3:n], "little")
    assert bpfjit.compile(bpfjit.assemble(PREFIX_TAIL), engine)(mem) == expected
