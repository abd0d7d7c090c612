"""Extensions that change nothing: clang without -mcpu=v3 zero-extends a 32-bit index
with `lsh r, 32; rsh r, 32` (and sign-extends with `arsh`), with -mcpu=v3 with `w = w`,
before nearly every use, though the value is most often already below 2^32.  Where the
verifier shows it is on every path (`VerifiedProgram.exact_extensions`), the JITs leave
the value as it is: LLVM then sees the index itself, not a 32-bit copy of it that its
induction variables and address modes cannot see through (an LZW dictionary scan at
1.77x native, its index masked anew every trip)."""

import pytest

import bpfjit

# each extension's operand, and whether it fits its extension (by hand), after a
# length test that proves every load (strict mode):
#   pc 4-5   zero-extends a 4-byte load (at most 0xffffffff)       fits
#   pc 7-8   zero-extends an 8-byte load                           does not
#   pc 11-12 sign-extends a byte less 100 (-100 to 155)            fits
#   pc 14-15 sign-extends a 4-byte load (up to 0xffffffff)         does not
#   pc 17    w7 = w7 of a byte                                     fits
#   pc 19    w8 = w9 of an 8-byte load                             does not
#   pc 21-22 zero-extends then shifts by 3 (rsh 35): a 4-byte load  fits
#   pc 25-26 zero-extends a byte less 100 (-100 to 155)            does not
SITES = """
    mov %r0, 0
    jlt %r2, 8, out
    ldxw %r2, [%r1+0]
    mov %r0, %r2
    lsh %r0, 32
    rsh %r0, 32
    ldxdw %r3, [%r1+0]
    lsh %r3, 32
    rsh %r3, 32
    ldxb %r4, [%r1+0]
    sub %r4, 100
    lsh %r4, 32
    arsh %r4, 32
    ldxw %r5, [%r1+0]
    lsh %r5, 32
    arsh %r5, 32
    ldxb %r7, [%r1+1]
    mov32 %r7, %r7
    ldxdw %r9, [%r1+0]
    mov32 %r8, %r9
    ldxw %r6, [%r1+4]
    lsh %r6, 32
    rsh %r6, 35
    ldxb %r9, [%r1+2]
    sub %r9, 100
    lsh %r9, 32
    rsh %r9, 32
    xor %r0, %r9
    xor %r0, %r3
    xor %r0, %r4
    xor %r0, %r5
    xor %r0, %r7
    xor %r0, %r8
    xor %r0, %r6
out:
    exit
"""

M64 = (1 << 64) - 1


def _expected(mem: bytes) -> int:
    """SITES's result, from the instruction set's definitions."""
    w0 = int.from_bytes(mem[0:4], "little")
    d0 = int.from_bytes(mem[0:8], "little")
    b0, b1 = mem[0], mem[1]
    w4 = int.from_bytes(mem[4:8], "little")

    def sext32(x: int) -> int:
        x &= 0xFFFFFFFF
        return (x - (1 << 32) if x >> 31 else x) & M64

    r0 = w0
    r3 = d0 & 0xFFFFFFFF
    r4 = sext32(b0 - 100)
    r5 = sext32(w0)
    r7 = b1
    r8 = d0 & 0xFFFFFFFF
    r6 = w4 >> 3
    r9 = (mem[2] - 100) & 0xFFFFFFFF
    return r0 ^ r3 ^ r4 ^ r5 ^ r7 ^ r8 ^ r6 ^ r9


def test_the_extensions_whose_operand_fits_are_exact():
    verified = bpfjit.verify(bpfjit.assemble(SITES), cache=False)
    assert verified.exact_extensions == frozenset({4, 11, 17, 21})
    strict = bpfjit.verify(bpfjit.assemble(SITES), mode="strict", cache=False)
    assert strict.exact_extensions == frozenset({4, 11, 17, 21})


def test_unchecked_mode_claims_none():
    # a stray store of an unchecked program could change any value the verifier knows
    verified = bpfjit.verify(bpfjit.assemble(SITES), mode="unchecked", cache=False)
    assert verified.exact_extensions == frozenset()


@pytest.mark.parametrize("mem", [
    bytes(8),
    bytes([0xFF] * 8),                                  # 0xffffffff: fits, and sign-extends
    bytes([0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x80]),   # 2^31, high half set
    bytes([99, 7, 3, 0x7F, 0xF8, 0xFF, 0xFF, 0x7F]),    # a byte of 99: -1 after sub 100
    bytes([0x9C, 0xFE, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC]),
])
def test_every_engine_computes_the_extensions(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(SITES), engine)
    assert fn(mem) == _expected(mem)


# a counter moved by 2^30 a trip, zero-extended each trip: it fits on the first trips
# and passes 2^32 on the fourth, so the loop's extension is not exact; the sum of the
# extended values, by hand for a start of s: trips k = 0..5 add (s + k 2^30) mod 2^32
LOOP = """
    ldxw %r2, [%r1+0]
    mov %r0, 0
    mov %r4, 0
again:
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    add %r0, %r3
    add %r2, 0x40000000
    add %r4, 1
    jlt %r4, 6, again
    exit
"""


def test_an_extension_that_fits_on_early_trips_only_is_not_exact():
    assert bpfjit.verify(bpfjit.assemble(LOOP), cache=False).exact_extensions == frozenset()


@pytest.mark.parametrize("start", [0, 1, 0x3FFFFFFF, 0xC0000000, 0xFFFFFFFF])
def test_every_engine_runs_the_loop(engine, start):
    expected = sum((start + k * 0x40000000) % (1 << 32) for k in range(6))
    fn = bpfjit.compile(bpfjit.assemble(LOOP), engine)
    assert fn(start.to_bytes(4, "little")) == expected


# a 64-bit sum only whose low half anything reads, above 2^32 on every path, is
# verified as its 32-bit twin (verifier.lowhalves): the verifier's value is then the low
# half alone, below 2^32, though the register holds 2^32 more.  Its extension is not
# exact (corpus hull's cross products: llvm loaded through the whole sum and crashed)
TWINNED = """
    ldxb %r2, [%r1+0]
    lddw %r3, 0x100000000
    add %r2, %r3
    lsh %r2, 32
    rsh %r2, 32
    mov %r0, %r2
    exit
"""


def test_an_extension_of_a_twinned_sum_is_not_exact():
    assert bpfjit.verify(bpfjit.assemble(TWINNED), cache=False).exact_extensions == \
        frozenset()


@pytest.mark.parametrize("byte", [0, 1, 0x7F, 0xFF])
def test_every_engine_extends_the_twinned_sum(engine, byte):
    assert bpfjit.compile(bpfjit.assemble(TWINNED), engine)(bytes([byte])) == byte


# an Adler sum: the sum zero-extended, then copied and divided (clang's `% 65521` of a
# u32): the llvm engine keeps such an extension, whose zero high half lets LLVM divide
# in 32 bits; every engine's remainders, by hand
ADLER_STEP = """
    ldxw %r4, [%r1+0]
    ldxb %r3, [%r1+4]
    rsh %r4, 1
    add %r4, %r3
    lsh %r4, 32
    rsh %r4, 32
    mov %r5, %r4
    div %r5, 65521
    mul %r5, 65521
    sub %r4, %r5
    mov %r0, %r4
    exit
"""


def test_an_extension_that_a_division_reads_is_exact_too():
    assert bpfjit.verify(bpfjit.assemble(ADLER_STEP), cache=False).exact_extensions == \
        frozenset({4})


@pytest.mark.parametrize("word, byte", [(0, 0), (131041, 1), (0xFFFFFFFF, 0xFF),
                                        (2 * 65521 - 2, 1), (123456789, 200)])
def test_every_engine_divides_the_extended_sum(engine, word, byte):
    mem = word.to_bytes(4, "little") + bytes([byte])
    assert bpfjit.compile(bpfjit.assemble(ADLER_STEP), engine)(mem) == \
        ((word >> 1) + byte) % 65521
