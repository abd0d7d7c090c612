"""`w - weight` as clang -mcpu=v3 writes it for a knapsack's `best[w - weight]`: the
weight negated in 32 bits (`w8 = -w8`, 2^32 - weight for a weight of at least 1) and
added to w in 32 bits, which wraps exactly once when w >= weight.  The verifier keeps
the negation as a sum `neg + weight == 2^32` and, where the zone shows the 64-bit sum
of the add is at least 2^32, takes its result as that sum less 2^32: here w - weight
in [0, 62], which indexes a 64-byte row on the stack, proven."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# weight = mem[0] & 63 (not 0), w = mem[1] & 63 (at least weight); r0 = row[w - weight]
# (the zeroed row) + (w - weight)
PROGRAM = "\n".join(f"    stdw [%r10-{o}], 0" for o in range(8, 65, 8)) + """
    mov %r0, 0
    jlt %r2, 2, out
    ldxb %r7, [%r1]
    and %r7, 63
    jeq %r7, 0, out
    ldxb %r9, [%r1+1]
    and %r9, 63
    jlt %r9, %r7, out
    mov32 %r8, %r7
    neg32 %r8
    mov32 %r3, %r8
    add32 %r3, %r9
    mov %r4, %r10
    add %r4, -64
    add %r4, %r3
    ldxb %r0, [%r4]
    add %r0, %r3
out:
    exit
"""
ROW_LOAD = 23
# without the test of w against the weight the add may not wrap: 2^32 - weight + w
# for a w below the weight, far past the row
UNTESTED = PROGRAM.replace("    jlt %r9, %r7, out\n", "    mov %r5, 0\n")
# a weight that may be 0: -0 is 0, not 2^32, so `neg + weight == 2^32` does not hold
# and is not learned (the verifier keeps the weight at least 1 for it)
MAYBE_ZERO = PROGRAM.replace("    jeq %r7, 0, out\n", "    mov %r5, 0\n")


def test_the_difference_indexes_a_proven_row():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(ROW_LOAD)) == "ldxb %r0, [%r4]"
    verified = verify(prog, cache=False)
    assert set(verified.accesses) == verified.proven


@pytest.mark.parametrize("text", [UNTESTED, MAYBE_ZERO], ids=["w untested", "weight 0"])
def test_without_its_conditions_nothing_is_proven(text):
    assert ROW_LOAD not in verify(bpfjit.assemble(text), cache=False).proven


@pytest.mark.parametrize("weight,w", [(1, 1), (1, 63), (5, 40), (63, 63), (7, 3), (0, 9),
                                      (64 + 2, 128 + 9)])
def test_the_difference_on_every_engine(engine, weight, w):
    mem = bytearray([weight, w, 0xAA])
    weight, w = weight & 63, w & 63
    expected = w - weight if weight and w >= weight else 0
    assert bpfjit.compile(bpfjit.assemble(PROGRAM), engine)(mem) == expected


def test_a_difference_past_the_row_traps_on_every_engine(engine):
    # UNTESTED with w < weight: 2^32 - 2 + 1 past the row's start: checked, and out
    fn = bpfjit.compile(bpfjit.assemble(UNTESTED), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray([2, 1]))
    assert info.value.pc == ROW_LOAD
