"""Loops whose exit test compares a sum of the counter, computed before the counter
moves: clang at -mcpu=v2 and up rotates `for (int i = 8; i < 64; i += 4) h ^=
get_le32(rec + i)` into `r4 = r0 + 8; r0 = r7; if r4 < 60 goto head`, where r7 counts
by 4 and r0 is its copy (corpus/plain/records.c built by clang 19 at -mcpu=v2, v3 or
v4).  The loop head widens a counter to the constants its loop compares it with, or a
copy of it; r0 is compared with nothing, its sum with 60, so r0 widened to its limit,
the arithmetic that relates it to r7 and r4 could wrap from there and was no longer
followed, and the loads through `rec + r0` stayed unproven: 4 of records' 48.  The
sum's constant now counts for the register it was copied from (60 - 8 for r0), also
when that register is written before the test."""

from __future__ import annotations

import pytest

import bpfjit

# r6 = the sum of buf[8 + 4k], k = 0..13 (the loop's last load is at 60 when the test
# sees r0 + 8 = 60); 64 bytes or more, else 0
ROTATED = """
    mov %r6, 0
    jlt %r2, 64, out
    mov %r7, 0
    mov %r0, 0
head:
    mov %r9, %r1
    add %r9, %r0
    ldxb %r8, [%r9+8]
    add %r6, %r8
    add %r7, 4
    mov %r4, %r0
    add %r4, 8
    mov %r0, %r7
    jlt %r4, 60, head
out:
    mov %r0, %r6
    exit
"""


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_the_sum_tested_bounds_the_counter(mode):
    verified = bpfjit.verify(bpfjit.assemble(ROTATED), mode=mode, cache=False)
    assert len(verified.accesses) == 1
    assert verified.proven == frozenset(verified.accesses)


def test_the_rotated_loop_runs_alike(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs no such buffer")
    data = bytes(range(1, 81))
    fn = bpfjit.compile(bpfjit.assemble(ROTATED), engine)
    assert fn(bytearray(data)) == sum(data[8 + 4 * k] for k in range(14))
    assert fn(bytearray(data[:63])) == 0
