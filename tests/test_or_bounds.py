"""The range of `x | y` and `x ^ y`: no more than x + y, and exactly the sum's range
where no bit can be common.

An implicit binary tree (node k's children at 2k + 1 and 2k + 2) walks down by
`k = 2 * k + 1 + bit`, which clang emits as `((k << 1) | bit) + 1`.  The range of an
or was the bits of the wider operand (`[14, 64] | [0, 1]` gave [14, 127]), so six
levels down the index had left a 127-node array and every counter the walk bumped was
checked at run time (corpus `radix`: 9 of 150 accesses, 1.31x native on llvm where
unchecked code runs 0.82x).  An or or xor is now at most the sum of the operands' upper
bounds, and the sum's range itself when one operand lies below the other's alignment."""

from __future__ import annotations

import random

import pytest

import bpfjit
from bpfjit.verifier import verify
from bpfjit.verifier.domain import scalar
from bpfjit.verifier.intervals import alu_result


def _values(lo: int, hi: int, align: int) -> list[int]:
    step = 1 << align
    return list(range(-(-lo // step) * step, hi + 1, step))


@pytest.mark.parametrize("op", ["or", "xor"])
@pytest.mark.parametrize("width", [32, 64])
def test_or_and_xor_ranges_hold_every_pair(op, width):
    # every pair drawn from two small ranges (with alignments) lies in the computed
    # range, which is also no wider than the sum's where the bits are disjoint
    rng = random.Random(f"{op}{width}")
    for _ in range(300):
        a_lo = rng.randrange(0, 200)
        a_hi = a_lo + rng.randrange(0, 80)
        b_lo = rng.randrange(0, 20)
        b_hi = b_lo + rng.randrange(0, 20)
        a_align, b_align = rng.choice([0, 0, 1, 2, 3]), rng.choice([0, 0, 1])
        xs, ys = _values(a_lo, a_hi, a_align), _values(b_lo, b_hi, b_align)
        if not xs or not ys:
            continue
        a = scalar(xs[0], xs[-1], align=a_align)
        b = scalar(ys[0], ys[-1], align=b_align)
        got = alu_result(op, width, a, b)
        results = [x | y if op == "or" else x ^ y for x in xs for y in ys]
        assert got.umin <= min(results) and max(results) <= got.umax, (a, b, got)
        assert got.umax <= xs[-1] + ys[-1]


def test_a_shifted_index_ored_with_a_bit_is_their_sum():
    # [14, 64] even, or [0, 1]: the values 14..65, not up to 127
    got = alu_result("or", 64, scalar(14, 64, align=1), scalar(0, 1))
    assert (got.umin, got.umax) == (14, 65)


# six levels of `k = ((k << 1) | bit) + 1` from the root, unrolled as clang unrolls a
# walk of constant depth, each bit from the input's first byte, bumping a u16 counter
# per node of a 127-node tree at fp-254 (node k at fp-254 + 2k); r0 = the counter of
# the node reached last
_LEVEL = """
    mov %r9, %r5
    rsh %r9, {shift}
    and %r9, 1
    lsh %r8, 1
    or %r8, %r9
    add %r8, 1
    mov %r3, %r8
    lsh %r3, 1
    add %r3, %r10
    ldxh %r0, [%r3-254]
    add %r0, 1
    stxh [%r3-254], %r0
"""


def tree_walk(levels: int = 6, step: int = 1, mask: int = 1) -> str:
    """The walk's text: `levels` levels of `k = ((k << 1) | (bit & mask)) + step`."""
    level = _LEVEL.replace("and %r9, 1", f"and %r9, {mask}").replace(
        "add %r8, 1", f"add %r8, {step}")
    return "".join(f"    stdw [%r10-{k}], 0\n" for k in range(8, 257, 8)) + """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r5, [%r1+0]
    mov %r8, 0
""" + "".join(level.format(shift=d % 8) for d in range(levels - 1, -1, -1)) + """
out:
    exit
"""


TREE_WALK = tree_walk()


def test_strict_mode_proves_the_tree_walk():
    v = verify(bpfjit.assemble(TREE_WALK), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def _model(data: bytes) -> int:
    if not data:
        return 0
    k, count = 0, {}
    for d in range(5, -1, -1):
        k = 2 * k + 1 + (data[0] >> d & 1)
        count[k] = count.get(k, 0) + 1
    return count[k]


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff", b"\x2a", b"\x3f\x01"])
def test_the_tree_walk_on_every_engine(engine, data):
    fn = bpfjit.compile(bpfjit.assemble(TREE_WALK), engine, cache=False)
    assert fn(bytearray(data)) == _model(data)


# the walk with its edges moved: a seventh level (nodes past the array, and past the
# frame), a step of 2 (`+ 2`), the bit taken from two bits (`& 3`, which overlaps the
# shifted index); the interpreter is the oracle (tests/test_verifier_soundness.py)
@pytest.mark.parametrize("levels", [6, 7])
@pytest.mark.parametrize("step", [1, 2])
@pytest.mark.parametrize("mask", [1, 3])
def test_proofs_of_tree_walks_hold(levels, step, mask):
    from test_verifier_soundness import assert_proofs_hold
    assert_proofs_hold(tree_walk(levels, step, mask),
                       [b"", b"\x00", b"\xff", b"\x7f", b"\x80", b"\x55", b"\xaa"])
