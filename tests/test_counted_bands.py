"""A counter that steps by k for every step of a pointer entered at one of several
offsets keeps a band with it (bpfjit.verifier.bands: `_counted_pairs`).

clang -Os builds corpus/plain's matmul (an 8x8 matrix of s16 read from the buffer, a
row at a time) as two registers per row: r5 counts the element's byte offset on the
stack, 0 to 16 by 2, while r0 walks the row's bytes in the buffer by 1 from the row's
start, which the outer loop moves by 8.  No equality holds on every row (r0 - r5/2 is
the row's start), and r0's widened offset ran past the 128 bytes the program checked:
its read was checked at run time.  The band `r5 - 2*r0` in [-240, -128] holds on every
row, and r5 <= 14 inside the loop bounds r0 by 127."""

import pytest

import bpfjit

ROWS = """
    mov %r0, 0
    jlt %r2, 128, out
    mov %r2, 0
    add %r1, 64
row:
    mov %r5, 0
    mov %r0, %r1
col:
    mov %r6, %r10
    add %r6, -128
    add %r6, %r5
    ldxb %r7, [%r0+0]
    stxh [%r6+0], %r7
    add %r0, 1
    add %r5, 2
    jne %r5, 16, col
    add %r1, 8
    add %r2, 1
    jne %r2, 8, row
    ldxh %r0, [%r10-116]
out:
    exit
"""
READ = 9


def _program() -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(ROWS).insns)


def test_the_row_read_is_proven():
    verified = bpfjit.verify(_program(), cache=False)
    assert READ in verified.accesses and READ in verified.proven


@pytest.mark.parametrize("length", [0, 127, 128, 200])
def test_the_rows_run_alike_on_every_engine(engine, length):
    mem = bytearray((7 * i + 3) & 0xFF for i in range(length))
    # the last row (bytes 120-127) overwrites the 16 stack bytes; fp-116 holds its
    # element 6, byte 126; too short a buffer returns 0
    expected = (7 * 126 + 3) & 0xFF if length >= 128 else 0
    assert bpfjit.compile(_program(), engine)(mem) == expected
