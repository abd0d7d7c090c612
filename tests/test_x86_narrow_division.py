"""peachpy divides by a constant with a multiply by its reciprocal: one 32-bit
multiply when the dividend is below 2**32, else a 64-bit sequence, chosen at run time
for a 64-bit division.  A dividend the block shows below 2**32 (zero-extended, a
32-bit result, a narrow load, ...) skips the test: clang computes `(u32)(x + k) % 24`
as a zero-extension and a 64-bit mod, and a ring indexed so (corpus `ringmod`) ran
2.08x native, 1.78x without the test.  The results must not change."""

from __future__ import annotations

import struct

import pytest

import bpfjit

from test_x86 import lines_by_pc

# x = the buffer's first 8 bytes; (x mod 2**32) / 1000 << 8 | (x mod 2**32) % 24
ZERO_EXTENDED = """
    ldxdw %r3, [%r1]
    mov %r4, %r3
    lsh %r4, 32
    rsh %r4, 32
    mov %r5, %r4
    mod %r5, 24
    div %r4, 1000
    lsh %r4, 8
    or %r4, %r5
    mov %r0, %r4
    exit
"""

# the same without the zero-extension: the dividend may be any 64-bit value
WIDE = ZERO_EXTENDED.replace("    lsh %r4, 32\n    rsh %r4, 32\n", "")

VALUES = [0, 1, 23, 24, 999, 1000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000,
          0x123456789ABCDEF0, 0xFFFFFFFFFFFFFFFF]


# regression: a 64-bit shift's count is masked to 6 bits, so `rsh 64` shifts by 0 and
# leaves the dividend wide; the block analysis took any count of 32 or more as
# narrowing it, and peachpy divided 0x500000007 by 24 as if it were 7
SHIFTED_BY_64 = """
    ldxdw %r3, [%r1]
    rsh %r3, 64
    mod %r3, 24
    mov %r0, %r3
    exit
"""


@pytest.mark.parametrize("value", VALUES)
def test_a_dividend_shifted_by_a_masked_count_stays_wide_on_every_engine(engine, value):
    fn = bpfjit.compile(bpfjit.assemble(SHIFTED_BY_64), engine, cache=False)
    assert fn(struct.pack("<Q", value)) == value % 24


@pytest.mark.parametrize("value", VALUES)
def test_a_zero_extended_dividend_on_every_engine(engine, value):
    low = value & 0xFFFFFFFF
    fn = bpfjit.compile(bpfjit.assemble(ZERO_EXTENDED), engine, cache=False)
    assert fn(struct.pack("<Q", value)) == (low // 1000) << 8 | low % 24


@pytest.mark.parametrize("value", VALUES)
def test_a_wide_dividend_on_every_engine(engine, value):
    fn = bpfjit.compile(bpfjit.assemble(WIDE), engine, cache=False)
    assert fn(struct.pack("<Q", value)) == ((value // 1000) << 8 | value % 24) & (2**64 - 1)


@pytest.mark.skipif("peachpy" not in bpfjit.engines(), reason="the peachpy engine is not here")
def test_only_a_dividend_that_may_be_wide_takes_the_64_bit_way():
    # the mod is pc 5 in ZERO_EXTENDED and pc 3 in WIDE
    assert not any("mulx" in line for line in lines_by_pc(ZERO_EXTENDED)[5])
    assert any("mulx" in line for line in lines_by_pc(WIDE)[3])
