"""`x & (2^k - 1)` of an x already below 2^k is x itself: the verifier keeps its
relations, as it keeps a copy's.  clang masks a `u16` again before each use (loxilb's
endpoint selection: `w9 = w1; w9 &= 0xffff; if w9 > 15 ...; r1 &= 0xffff; r1 <<= 1`
indexes an array of 16 counters); without this the bound learned on the copy never
reached the index, and the access stayed unproven.  A mask that may change the value
must still lose the relation: bounding `x & 0xff` says nothing of x."""

from __future__ import annotations

import pytest

import bpfjit

TEMPLATE = """
    call 7
    and %r0, 0xffff
    mov32 %r3, %r0
    {mask}
    jgt32 %r3, 15, out
    and %r0, 0xffff
    lsh %r0, 1
    stdw [%r10-32], 0
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r4, %r10
    add %r4, -32
    add %r4, %r0
    ldxh %r0, [%r4+0]
    exit
out:
    mov %r0, 0
    exit
"""
LOAD_PC = 14


@pytest.mark.parametrize("mask", ["and32 %r3, 0xffff", "and %r3, 0xffff", "and %r3, -1",
                                  "and32 %r3, 0x1ffff", "and %r3, 0x7fffffff"])
def test_a_mask_that_keeps_the_value_keeps_its_relations(mask):
    prog = bpfjit.assemble(TEMPLATE.format(mask=mask))
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert LOAD_PC in verified.proven


@pytest.mark.parametrize("mask", ["and32 %r3, 0xff", "and %r3, 0xfff0", "and %r3, 0x7fff"])
def test_a_mask_that_may_change_it_does_not(mask):
    # r3 = r0 & mask <= 15 leaves r0 up to 0xffff: the index reaches far past 32 bytes
    prog = bpfjit.assemble(TEMPLATE.format(mask=mask))
    assert LOAD_PC not in bpfjit.verify(prog, cache=False).proven
    with pytest.raises(bpfjit.VerifierError, match="strict mode"):
        bpfjit.verify(prog, mode="strict", cache=False)
