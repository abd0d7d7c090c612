"""An inner loop's head that nothing has come round yet: its state grows only because
it is entered with more (its enclosing loops moved on), so it is joined, not widened.

Bottom-up merge sort keeps two rows on the stack and swaps their pointers, spilled, at
the end of each pass; an inner copy loop reloads the source row's pointer.  On the
first pass the copy runs once per block (its index and end differ by exactly one), so
its back edge is never taken while the block loop widens; when the second pass enters
it with the pointer at either row, widening it as if the loop had moved it (there were
no states from round the loop to tell) pushed the pointer's offset past the rows, then
past the frame, and every access through either row was checked at run time, against
the buffer as well as the stack.  The enclosing loop's head still widens what grows
there, so the fixpoint ends.

And a bound that a widening did not move stays where it was when a band (x - k*y in
[lo, hi]: bpfjit.verifier.bands) gives the widened register its bounds from the
counter's: counting the cells written in r0, the block start `lo` (0 on every entry)
fell in a band with r0 reaching -8, took -8 as its floor, and the row pointer the
floor of the frame's spills."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

# rows at fp-64 and fp-128 (eight 8-byte cells each); passes of width 1, 2, 4; blocks of
# `width` cells from lo = 0, 2 * width, ... below 8, each copied by a do-while loop
SWAPPED_ROWS = """
    mov %r0, 0
    mov %r1, %r10
    add %r1, -64
    stxdw [%r10-136], %r1
    mov %r1, %r10
    add %r1, -128
    stxdw [%r10-144], %r1
    mov %r7, 1
passes:
    mov %r8, 0
blocks:
    mov %r6, %r8
    mov %r5, %r8
    add %r5, %r7
    jle %r5, 8, copy
    mov %r5, 8
copy:
    ldxdw %r1, [%r10-136]
    mov %r3, %r6
    lsh %r3, 3
    add %r1, %r3
    stxdw [%r1+0], %r0
    add %r0, 1
    add %r6, 1
    jgt %r5, %r6, copy
    add %r8, %r7
    add %r8, %r7
    jlt %r8, 8, blocks
    ldxdw %r2, [%r10-136]
    ldxdw %r3, [%r10-144]
    stxdw [%r10-136], %r3
    stxdw [%r10-144], %r2
    lsh %r7, 1
    jlt %r7, 8, passes
    ldxdw %r1, [%r10-136]
    ldxdw %r2, [%r1+0]
    lsh %r0, 8
    or %r0, %r2
    exit
"""


# the same without the count: every cell gets 0 (the swap alone)
SWAPPED_ROWS_UNCOUNTED = SWAPPED_ROWS.replace("    add %r0, 1\n", "")


@pytest.mark.parametrize("text", [SWAPPED_ROWS_UNCOUNTED, SWAPPED_ROWS],
                         ids=["uncounted", "counted"])
def test_a_row_pointer_swapped_by_an_outer_loop_is_proven_in_its_inner_loop(text):
    v = verify(bpfjit.assemble(text), cache=False)
    assert v.proven == set(v.accesses) and v.accesses


def test_the_swapped_rows_hold_what_each_pass_wrote_on_every_engine(engine):
    # the program's passes replayed: each cell written gets the running count; the
    # result is the count (12: four cells a pass) above the first cell of the row the
    # slot points at after the last swap
    rows = {-64: [None] * 8, -128: [None] * 8}
    src, dst, count, width = -64, -128, 0, 1
    while width < 8:
        lo = 0
        while lo < 8:
            i, end = lo, min(lo + width, 8)
            while True:
                rows[src][i] = count
                count, i = count + 1, i + 1
                if not end > i:
                    break
            lo += 2 * width
        src, dst = dst, src
        width *= 2
    assert count == 12 and rows[src][0] == 4      # (pass 2, width 2, writes it first)
    fn = bpfjit.compile(bpfjit.assemble(SWAPPED_ROWS), engine, cache=False)
    assert fn(b"") == 12 << 8 | 4


# a band's widened register keeps its alignment too: `at` starts at 2 * n and steps by
# 2 beside a counter stepping by 1 (a band at - 2*q in [0, 64]); the loop's test is
# `(at | 1) < len`, which says `at + 1 < len` only while `at` is known even, and the
# value the band gave `at` at the head had dropped that (segtree's query loop)
EVEN_PAIRS = """
    mov %r0, 0
    mov %r3, %r2
    rsh %r3, 1
    jle %r3, 32, ok
    mov %r3, 32
ok:
    lsh %r3, 1
    mov %r4, 0
    mov %r6, %r3
    or %r6, 1
    jge %r6, %r2, out
loop:
    mov %r7, %r1
    add %r7, %r3
    ldxb %r5, [%r7+0]
    ldxb %r8, [%r7+1]
    add %r0, %r5
    add %r0, %r8
    add %r4, 1
    add %r3, 2
    mov %r6, %r3
    or %r6, 1
    jlt %r6, %r2, loop
out:
    lsh %r4, 32
    or %r0, %r4
    exit
"""


def test_an_even_index_stepped_beside_a_counter_is_proven():
    v = verify(bpfjit.assemble(EVEN_PAIRS), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and len(v.accesses) == 2


@pytest.mark.parametrize("length", [0, 1, 2, 3, 64, 65, 66, 67, 100, 101])
def test_the_even_pairs_after_the_first_half_on_every_engine(engine, length):
    data = bytes((7 * i + 3) & 0xFF for i in range(length))
    at, total, pairs = 2 * min(length >> 1, 32), 0, 0
    while at | 1 < length:
        total, pairs, at = total + data[at] + data[at + 1], pairs + 1, at + 2
    fn = bpfjit.compile(bpfjit.assemble(EVEN_PAIRS), engine, cache=False)
    assert fn(data) == pairs << 32 | total
