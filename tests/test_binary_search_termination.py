"""Strict mode's termination proof of a binary search.

`lo = mid + 1` on one way round, `hi = mid` on the other, with `lo <= mid < hi`: no
register moves on both ways, and the join of the two keeps neither move, so the proof
that wants one variable moving toward a bound on every back edge refused it (checked mode
ran it under the budget).  Taken apart, each way makes `hi - lo` fall by at least 1, and
that ends the loop.  The variant with `lo = mid` loops for ever once `hi == lo + 1` and
the key is above table[lo]: it stays refused."""

from __future__ import annotations

import bisect

import pytest

import bpfjit
from bpfjit.verifier import verify

# table[i] = 3 * i (16 u16 keys at fp-32), then the first i with table[i] >= mem[0]
LOWER_BOUND = """
    mov %r0, 0
    jlt %r2, 1, out
    mov %r3, 0
fill:
    mov %r4, %r3
    mul %r4, 3
    mov %r5, %r3
    lsh %r5, 1
    add %r5, %r10
    stxh [%r5-32], %r4
    add %r3, 1
    jlt %r3, 16, fill
    ldxb %r6, [%r1+0]
    mov %r7, 0
    mov %r8, 16
search:
    jge %r7, %r8, found
    mov %r9, %r7
    add %r9, %r8
    rsh %r9, 1
    mov %r5, %r9
    lsh %r5, 1
    add %r5, %r10
    ldxh %r4, [%r5-32]
    jge %r4, %r6, upper
    mov %r7, %r9
    add %r7, 1
    ja search
upper:
    mov %r8, %r9
    ja search
found:
    mov %r0, %r7
out:
    exit
"""

STUCK = LOWER_BOUND.replace("    mov %r7, %r9\n    add %r7, 1\n", "    mov %r7, %r9\n")


def test_strict_mode_proves_the_binary_search_ends():
    v = verify(bpfjit.assemble(LOWER_BOUND), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def test_strict_mode_refuses_the_search_that_can_stick():
    with pytest.raises(bpfjit.VerifierError, match="cannot prove that the loop at pc 14 ends"):
        verify(bpfjit.assemble(STUCK), mode="strict", cache=False)


def test_the_stuck_search_runs_out_of_budget_in_checked_mode(engine):
    # key 4: lo = 1 (table[0] = 0 < 4), hi = 2 (table[1] = 3 < 4 ... table[2] = 6), then
    # mid = 1 for ever
    fn = bpfjit.compile(bpfjit.assemble(STUCK), engine, cache=False)
    with pytest.raises(bpfjit.BudgetExceeded):
        fn(bytearray([4]))


def test_the_search_finds_the_lower_bound_on_every_engine(engine):
    table = [3 * i for i in range(16)]
    fn = bpfjit.compile(bpfjit.assemble(LOWER_BOUND), engine, mode="strict", cache=False)
    for key in range(0, 60):
        assert fn(bytearray([key])) == bisect.bisect_left(table, key), key
