"""A value rounded down by a mask and then shifted: clang computes a binary heap's
parent `(i - 1) / 2` of an unsigned int as `(i - 1) & 0xfffffffe` (an lddw: the mask's
upper half is zeros, which clear nothing of a value below 2^32) and then `>> 1`, and
keeps the rounded value for `4 * parent`.  The verifier records the mask's result as
`(y / 2) * 2` and the shift's as `y / 2` (zone.quot), so that the loop's test `i - 1 > 1`
shows the parent is at least 1: the sift-up's `i > 0` holds round the loop, and
`h[parent]` is proven.  The same fact makes `y - (y & ~7)` the remainder `y % 8`."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

SIFT_UP = """
    mov %r8, %r2
    jle %r8, 47, ok
    mov %r8, 47
ok:
    mov %r0, 0
    jeq %r8, 0, out
loop:
    mov %r2, %r8
    add %r2, -1
    mov %r6, %r2
    lddw %r4, 0xfffffffe
    and %r6, %r4
    rsh %r6, 1
    mov %r4, %r6
    lsh %r4, 2
    mov %r9, %r10
    add %r9, -192
    add %r9, %r4
    stxw [%r9+0], %r8
    add %r0, 1
    mov %r8, %r6
    jgt %r2, 1, loop
out:
    exit
"""

REMAINDER = """
    stdw [%r10-8], 0
    mov %r3, %r2
    lddw %r4, 0xfffffff8
    mov %r5, %r3
    and %r5, %r4
    sub %r3, %r5
    mov %r6, %r10
    add %r6, -8
    add %r6, %r3
    stb [%r6+0], 1
    ldxdw %r0, [%r10-8]
    exit
"""


def test_the_parent_index_is_proven():
    v = verify(bpfjit.assemble(SIFT_UP), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and v.accesses


@pytest.mark.parametrize("length", [0, 1, 2, 3, 6, 7, 46, 47, 100])
def test_the_sift_up_counts_its_steps_on_every_engine(engine, length):
    i, steps = min(length, 47), 0
    while i > 0:
        i, steps = (i - 1) // 2, steps + 1
    assert bpfjit.compile(bpfjit.assemble(SIFT_UP), engine, cache=False)(bytes(length)) == steps


def test_a_value_less_its_rounded_self_is_a_remainder():
    v = verify(bpfjit.assemble(REMAINDER), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and v.accesses


@pytest.mark.parametrize("length", [0, 5, 8, 13, 1000])
def test_the_remainder_picks_its_byte_on_every_engine(engine, length):
    # byte `len % 8` of the zeroed slot is set: little-endian, 1 << 8 * (len % 8)
    fn = bpfjit.compile(bpfjit.assemble(REMAINDER), engine, cache=False)
    assert fn(bytes(length)) == 1 << 8 * (length % 8)


# `n = len / 2`, then `if (len >= 128) n = 64` (clang computes the quotient before the
# test, so the test bounds len through a copy of it): len < 128 must bound the quotient
# too, to 63, or the store at 2 * n - 130 is not shown to stay below the frame's top
HALF_LENGTH_CLAMPED = """
    mov %r8, %r2
    rsh %r8, 1
    jlt %r2, 128, small
    mov %r8, 64
small:
    mov %r3, %r8
    lsh %r3, 1
    mov %r4, %r10
    add %r4, -130
    add %r4, %r3
    stxh [%r4+0], %r8
    ldxh %r0, [%r4+0]
    exit
"""


def test_a_length_bound_bounds_the_length_halved():
    v = verify(bpfjit.assemble(HALF_LENGTH_CLAMPED), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and v.accesses


@pytest.mark.parametrize("length, expected", [(0, 0), (1, 0), (2, 1), (127, 63), (128, 64),
                                              (129, 64), (1000, 64)])
def test_the_clamped_half_length_is_stored_and_read_back_on_every_engine(engine, length,
                                                                         expected):
    fn = bpfjit.compile(bpfjit.assemble(HALF_LENGTH_CLAMPED), engine, cache=False)
    assert fn(bytes(length)) == expected
