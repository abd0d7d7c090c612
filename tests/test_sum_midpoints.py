"""Two shapes of clang's array code that the verifier follows exactly.

A binary search's midpoint `(lo + hi) / 2` of unsigned ints: clang adds the bounds
and rounds the sum down to even (`& 0xfffffffe`, or `& -2`) before `>> 1`, or shifts
the sum at once.  The verifier records the rounded sum (zone.midsums) and, at the
shift, that the midpoint lies between the bounds: with lo < hi it is at most hi - 1,
so `lo = mid + 1` and `hi = mid` keep lo <= hi <= n round the loop, and the insertion
point `t[lo]` after it is proven where n < 16 (by intervals alone, lo could be 16).

An insertion's shift `for (j = n; j > lo; j--) t[j] = t[j - 1]`: clang makes the row
pointer from `4 * n`, computed from one copy of n, and steps the other copy with it.
The product is recorded against every variable equal to n (zone.affine), and a pointer
made by adding it to a fixed stack address keeps the equality: the pointer is
`fp - 64 + 4 * j` on every trip, and each store is proven.
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

from test_verifier_soundness import assert_proofs_hold

# 16 keys 0, 2, 4, ..., 30 at fp-64; of the first n = min(len, 16), how many are below
# len: lo, where 99 is then stored unless the table is full (n == 16) and lo is 16, as
# an insertion into a sorted array does
TABLE = "\n".join(f"    stw [%r10-{64 - 4 * i}], {2 * i}" for i in range(16))
ROUNDINGS = {
    "mask -2": "    and %r4, -2\n",
    "mask 0xfffffffe": "    lddw %r5, 0xfffffffe\n    and %r4, %r5\n",
    "none": "",
}


def halving(rounding: str, done: str, goes_left: str) -> str:
    """The search loop on lo (r1) and hi (r3): mid = (lo + hi) >> 1, the sum rounded as
    `rounding` says, t[mid] loaded into r0; `goes_left` (a jump with no target) sends
    it to hi = mid, else lo = mid + 1; at lo >= hi, to `done`."""
    return f"""loop:
    jge %r1, %r3, {done}
    mov %r4, %r1
    add %r4, %r3
{ROUNDINGS[rounding]}    rsh %r4, 1
    mov %r5, %r4
    lsh %r5, 2
    mov %r7, %r10
    add %r7, -64
    add %r7, %r5
    ldxw %r0, [%r7+0]
    {goes_left}, left
    mov %r1, %r4
    add %r1, 1
    ja loop
left:
    mov %r3, %r4
    ja loop"""


def search(rounding: str) -> str:
    return TABLE + f"""
    mov %r6, %r2
    mov %r1, 0
    mov %r3, %r2
    jle %r3, 16, counted
    mov %r3, 16
counted:
    mov %r8, %r3
{halving(rounding, "done", "jge %r0, %r6")}
done:
    jne %r8, 16, insert
    jgt %r1, 15, full
insert:
    mov %r5, %r1
    lsh %r5, 2
    mov %r7, %r10
    add %r7, -64
    add %r7, %r5
    stw [%r7+0], 99
full:
    mov %r0, %r1
    exit
"""


# n = min(len, 15) in r3 and its copy r4; t[j - 1] = j for j = n down to 1, through a
# pointer made from 4 * n and stepped with one of the copies; returns t[0] + 16 * t[14]
def shift(stepped: int) -> str:
    return f"""
    mov %r3, %r2
    jle %r3, 15, ok
    mov %r3, 15
ok:
    mov %r4, %r3
    mov %r0, %r3
    lsh %r0, 2
    mov %r9, %r10
    add %r9, -64
    add %r9, %r0
    jeq %r{stepped}, 0, done
loop:
    stxw [%r9-4], %r{stepped}
    add %r9, -4
    add %r{stepped}, -1
    jne %r{stepped}, 0, loop
done:
    ldxw %r0, [%r10-64]
    ldxw %r1, [%r10-8]
    lsh %r1, 4
    add %r0, %r1
    exit
"""


@pytest.mark.parametrize("rounding", sorted(ROUNDINGS))
def test_the_midpoint_of_a_sum_is_proven(rounding):
    # (checked mode: strict mode's termination proof wants one variable moving toward
    # a bound, and a binary search's measure is hi - lo)
    v = verify(bpfjit.assemble(search(rounding)), cache=False)
    assert v.proven == set(v.accesses) and v.accesses


@pytest.mark.parametrize("rounding", sorted(ROUNDINGS))
@pytest.mark.parametrize("length", [0, 1, 2, 5, 6, 14, 15, 16, 29, 30, 31, 40])
def test_the_search_counts_the_keys_below_len_on_every_engine(engine, rounding, length):
    below = sum(1 for i in range(min(length, 16)) if 2 * i < length)
    fn = bpfjit.compile(bpfjit.assemble(search(rounding)), engine, cache=False)
    assert fn(bytes(length)) == below


@pytest.mark.parametrize("stepped", [3, 4])
def test_a_row_pointer_stepped_with_either_copy_is_proven(stepped):
    v = verify(bpfjit.assemble(shift(stepped)), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and v.accesses


@pytest.mark.parametrize("stepped", [3, 4])
@pytest.mark.parametrize("length", [0, 1, 2, 14, 15, 16, 100])
def test_the_shift_fills_the_row_on_every_engine(engine, stepped, length):
    n = min(length, 15)
    row = [0] * 16
    for j in range(n, 0, -1):
        row[j - 1] = j
    fn = bpfjit.compile(bpfjit.assemble(shift(stepped)), engine, cache=False)
    assert fn(bytes(length)) == row[0] + 16 * row[14]


# the midpoint of bounds read from the buffer, in either order (lo may start above
# hi): t[mid] for a 16-entry table at fp-64, mid up to 30, so that some runs leave the
# frame and the verifier must not prove that load
def wandering(rounding: str) -> str:
    return TABLE + f"""
    mov %r0, 0
    jlt %r2, 2, out
    ldxb %r3, [%r1+1]
    and %r3, 31
    ldxb %r1, [%r1+0]
    and %r1, 31
{halving(rounding, "out", "jgt %r0, 20")}
out:
    exit
"""


@pytest.mark.parametrize("rounding", sorted(ROUNDINGS))
def test_the_midpoint_proofs_hold_for_bounds_in_either_order(rounding):
    # every (lo, hi) below 32, as the interpreter runs them: no access proven in
    # bounds traps, and the table load is not proven (mid reaches 30)
    prog = bpfjit.assemble(wandering(rounding))
    assert_proofs_hold(prog, [bytes([lo, hi]) for lo in range(32) for hi in range(32)])
    v = verify(prog, cache=False)
    load = max(pc for pc, insn in v.program if insn.spec.mnemonic == "ldxw")
    assert load not in v.proven
