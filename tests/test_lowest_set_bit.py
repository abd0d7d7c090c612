"""`i & -i`, the lowest set bit of i: at least 1 and at most i when i is at least 1.

A Fenwick tree climbs by `i += i & -i` and descends by `i -= i & -i`; clang copies i,
negates the copy and ands the two.  The verifier knew nothing of the negation (a new
number, related to nothing), so the and gave [0, ...] and strict mode found no value
moving on every trip of either loop.  A negation now records `-x + x == 0` as a sum
(zone floors and ceilings), and an and of a positive value with its own negation is
in [1, the value]."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

# 64 counters at fp-256 (index i at fp-260 + 4 * i, i in 1..64): each input byte adds 1
# at (byte & 63) + 1 climbing, then sums descending from 64 - (byte & 63); r0 = the sum
# of those sums
CLIMB_AND_DESCEND = "".join(f"    stdw [%r10-{k}], 0\n" for k in range(8, 257, 8)) + """
    mov %r0, 0
    mov %r7, 0
bytes:
    jge %r7, %r2, out
    mov %r6, %r1
    add %r6, %r7
    ldxb %r6, [%r6+0]
    and %r6, 63
    add %r6, 1
climb:
    mov %r9, %r6
    lsh %r9, 2
    add %r9, %r10
    ldxw %r3, [%r9-260]
    add %r3, 1
    stxw [%r9-260], %r3
    mov %r4, %r6
    neg %r4
    and %r4, %r6
    add %r6, %r4
    jle %r6, 64, climb
    mov %r6, %r1
    add %r6, %r7
    ldxb %r6, [%r6+0]
    and %r6, 63
    mov %r8, 64
    sub %r8, %r6
descend:
    mov %r9, %r8
    lsh %r9, 2
    add %r9, %r10
    ldxw %r3, [%r9-260]
    add %r0, %r3
    mov %r4, %r8
    neg %r4
    and %r4, %r8
    sub %r8, %r4
    jgt %r8, 0, descend
    add %r7, 1
    ja bytes
out:
    exit
"""


def test_strict_mode_proves_both_walks_end():
    v = verify(bpfjit.assemble(CLIMB_AND_DESCEND), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def _model(data: bytes) -> int:
    tree, total = [0] * 65, 0
    for b in data:
        i = (b & 63) + 1
        while i <= 64:
            tree[i] += 1
            i += i & -i
        i = 64 - (b & 63)
        while i > 0:
            total += tree[i]
            i -= i & -i
    return total


@pytest.mark.parametrize("data", [b"", bytes([0]), bytes([63, 0, 63]), bytes(range(64)),
                                  bytes(range(255, 100, -3))])
def test_the_walks_count_on_every_engine(engine, data):
    fn = bpfjit.compile(bpfjit.assemble(CLIMB_AND_DESCEND), engine, cache=False)
    assert fn(bytearray(data)) == _model(data)


# the climb with its edges moved: the negated register off by one from the anded one,
# an index that may be 0, the and of a plain copy; some of these never end (a budget
# stops them) or reach outside the counters, which the interpreter traps
def _climb_variant(neg_of: str, start: int, step: str) -> str:
    return "".join(f"    stdw [%r10-{k}], 0\n" for k in range(8, 257, 8)) + f"""
    mov %r0, 0
    jlt %r2, 1, out
    ldxb %r6, [%r1+0]
    and %r6, 63
    add %r6, {start}
climb:
    mov %r9, %r6
    lsh %r9, 2
    add %r9, %r10
    ldxw %r3, [%r9-260]
    add %r0, %r3
    mov %r4, {neg_of}
    neg %r4
    and %r4, %r6
    {step} %r6, %r4
    jle %r6, 64, climb
out:
    exit
"""


@pytest.mark.parametrize("neg_of", ["%r6", "%r9", "%r0"])
@pytest.mark.parametrize("start", [0, 1])
@pytest.mark.parametrize("step", ["add", "sub"])
def test_proofs_of_lowest_set_bit_walks_hold(neg_of, start, step):
    # the interpreter is the oracle (tests/test_verifier_soundness.py): an access it
    # stops out of bounds was not proven
    from test_verifier_soundness import assert_proofs_hold
    assert_proofs_hold(_climb_variant(neg_of, start, step),
                       [b"", bytes([0]), bytes([1]), bytes([63]), bytes([64]), bytes([127]),
                        bytes([255])])
