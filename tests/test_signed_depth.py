"""A depth kept as an `int` in a zero-extended register and used as an index into
per-depth arrays, as clang -O2 emits an explicit-stack backtracking loop (`while (d >=
0) { if (!avail[d]) { d--; continue; } ... if (d == n - 1) { count++; continue; } d++;
... }`): the depth goes one deeper only while it is not the top, and backs up, tested
through a sign-extended copy of its old value, until it falls below 0.  No test ever
says d <= top; it holds because d starts below the top and the only way deeper is
guarded by d != top.  The verifier tries that order at the loop head for the pairs the
loop compares (one moving round it, one not), keeps it when the way round does, and
so proves every access by the depth.  The trip count is checked on every engine
against the count worked out by hand."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# a walk down the depths 0..top (top = (len & 3) + 4) and back: at each visit of the
# head, a[d] == 0 below top is set and the walk goes one deeper; otherwise a[d] is
# cleared and the walk backs up (d - 1, tested through the sign-extended old depth)
# until it falls below 0.  r0 counts the visits: top on the way down, one at the top,
# top on the way back (each depth's cell was set), so 2 * top + 1.
PROGRAM = """
    mov %r3, %r2
    and %r3, 3
    add %r3, 4
    stdw [%r10-8], 0
    stdw [%r10-16], 0
    stdw [%r10-24], 0
    stdw [%r10-32], 0
    mov %r7, 0
    mov %r0, 0
head:
    lsh %r7, 32
    rsh %r7, 32
    mov %r1, %r7
    lsh %r1, 2
    mov %r4, %r10
    add %r4, -32
    add %r4, %r1
    ldxw %r5, [%r4]
    add %r0, 1
    jne %r5, 0, back
    jeq %r7, %r3, back
    stw [%r4], 1
    add %r7, 1
    ja head
back:
    stw [%r4], 0
    mov %r1, %r7
    add %r1, -1
    lsh %r7, 32
    mov %r4, %r7
    arsh %r4, 32
    mov %r7, %r1
    mov %r1, 1
    jsgt %r1, %r4, out
    ja head
out:
    exit
"""


def visits(length: int) -> int:
    return 2 * ((length & 3) + 4) + 1


def test_every_access_by_the_depth_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert verified.accesses and verified.proven == set(verified.accesses)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 9])
def test_the_walk_counts_the_same_on_every_engine(engine, length):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(length)) == visits(length)
