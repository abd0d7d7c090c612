"""A heap's size n is tested through its successor: clang keeps `n + 1` in a register of
its own (`r7 = r8; r7 += 1`), copies and zero-extends it, and compares that with 48
(`if (++n == 48)`), so the only constant that bounds n is 47, three copies away.  The
widening thresholds follow copies of copies (`thresholds._sources`), and a loop head
has four threshold steps, so that a few small constants compared with another copy of
n (the sift-up's `i - 1 > 1`: 1, 2 and 3) do not use up the steps before 47."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify
from bpfjit.verifier.thresholds import thresholds


def program(small_tests: bool) -> bpfjit.Program:
    """Store `off` at h[n] (48 u32 at fp-192) for off in 0..999; n + 1 == 48 resets n
    to 32; the copy tested is overwritten before the loop goes round, as clang reuses
    the register.  `small_tests`: a copy of n - 1 is compared with 1 in the loop, as the
    sift-up's `i > 0` is tested on `i - 1` after `i = (i - 1) / 2`."""
    small = """
    mov %r2, %r8
    add %r2, -1
    jgt %r2, 1, one
one:
""" if small_tests else ""
    return bpfjit.assemble(f"""
    mov %r8, 0
    mov %r6, 0
loop:
{small}    mov %r2, %r8
    lsh %r2, 2
    mov %r3, %r10
    add %r3, -192
    add %r3, %r2
    stxw [%r3+0], %r6
    mov %r7, %r8
    add %r7, 1
    mov %r1, %r7
    lsh %r1, 32
    rsh %r1, 32
    jne %r1, 48, keep
    mov %r7, 32
keep:
    mov %r1, 0
    mov %r8, %r7
    add %r6, 1
    jlt %r6, 1000, loop
    ldxw %r0, [%r10-4]
    exit
""")


def test_a_copy_of_a_copy_gives_its_threshold_to_the_first():
    found = thresholds(program(False))
    assert 47 in found[8] and 47 in found[7] and 48 in found[1]


@pytest.mark.parametrize("small_tests", [False, True])
def test_the_size_stops_at_47_and_the_store_is_proven(small_tests):
    v = verify(program(small_tests), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


def test_the_loop_runs_alike_on_every_engine(engine):
    # the last store at h[47] is made when off = 47 + 16 * k: the greatest below 1000
    last = max(off for off in range(1000) if _size_at(off) == 47)
    assert bpfjit.compile(program(True), engine, cache=False)(b"") == last


def _size_at(off: int) -> int:
    """n when `off` is stored, by running the loop by hand."""
    n = 0
    for k in range(off + 1):
        if k == off:
            return n
        n = 32 if n + 1 == 48 else n + 1
    raise AssertionError
