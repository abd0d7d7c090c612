"""A loop head widens a counter to the constants its loop leaves at first.

SHA-1 runs 80 rounds: the round number t is compared with 16, 20, 40 and 60 inside
the loop (each test of a zero-extended copy of t, as clang's default CPU tests a u32),
and with 80 to leave it.  Widening up through every constant the loop compares t with
spent the head's threshold steps on 15 .. 60 and then went to the limit, so the copy
told nothing of t itself, and `w[t]` on the rounds below 16 was not proven.  The
constants of the loop's exit tests come first now: t is [0, 79] at the head.

A counter clang keeps in a stack slot is tested through the register it is reloaded
into: the slot takes that exit test's constants as thresholds of its own (it had only
2^32 - 1) at the heads of loops that do not store to it, so an inner loop's head that
widens it as the outer loop moves stops there.
"""

from __future__ import annotations

import pytest

from pathlib import Path

import bpfjit
from bpfjit.cfg import block_graph
from bpfjit.checkplan import natural_loops
from bpfjit.verifier import verify
from bpfjit.verifier.thresholds import (SLOT_LIMIT, _thresholds_each, copied_thresholds,
                                        loop_exits, slot_thresholds, thresholds)

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"

ROUNDS = """
    mov %r4, 0
    mov %r0, 0
loop:
    mov %r5, %r4
    lsh %r5, 32
    rsh %r5, 32
    jgt %r5, 15, late
    mov %r6, %r4
    lsh %r6, 2
    mov %r7, %r10
    add %r7, -64
    add %r7, %r6
    stxw [%r7+0], %r4
    ja next
late:
    jgt %r5, 19, later
    add %r0, 1
    ja next
later:
    jgt %r5, 39, latest
    add %r0, 2
    ja next
latest:
    jgt %r5, 59, last
    add %r0, 3
    ja next
last:
    add %r0, 4
next:
    add %r4, 1
    mov %r1, %r4
    lsh %r1, 32
    rsh %r1, 32
    jne %r1, 80, loop
    ldxw %r1, [%r10-4]
    add %r0, %r1
    exit
"""


def test_the_round_number_is_bounded_by_the_exit_test():
    v = verify(bpfjit.assemble(ROUNDS), cache=False)
    assert v.proven == set(v.accesses) and v.accesses


def test_the_rounds_sum_alike_on_every_engine(engine):
    # rounds 16-19 add 1, 20-39 add 2, 40-59 add 3, 60-79 add 4; w[15] holds 15
    expected = sum(1 if t < 20 else 2 if t < 40 else 3 if t < 60 else 4
                   for t in range(16, 80)) + 15
    assert bpfjit.compile(bpfjit.assemble(ROUNDS), engine, cache=False)(bytearray()) \
        == expected


# a counter clang keeps in a stack slot (Shell sort's index into its gap table): the
# loop is entered at the store; each later trip reloads it, increments it, tests it
# against 6 and stores it back, and the register is then reused by an inner loop
# (which runs len times, adding t[g] each time).  t[g] = g + 1 in a table of six u16 at
# fp-32; returns the sum of t[g] * len over g, plus t[0] + t[5].
SPILLED = """
    mov %r0, 0
    mov %r3, 0
    ja store
next:
    ldxdw %r3, [%r10-8]
    add %r3, 1
    jeq %r3, 6, done
store:
    stxdw [%r10-8], %r3
    mov %r4, %r3
    lsh %r4, 1
    mov %r5, %r10
    add %r5, -32
    add %r5, %r4
    add %r3, 1
    stxh [%r5+0], %r3
    ldxh %r3, [%r5+0]
    mov %r7, 0
    jeq %r2, 0, next
inner:
    add %r0, %r3
    add %r7, 1
    jgt %r2, %r7, inner
    ja next
done:
    ldxh %r1, [%r10-32]
    add %r0, %r1
    ldxh %r1, [%r10-22]
    add %r0, %r1
    exit
"""


def test_a_slot_takes_the_constants_its_reload_is_tested_against():
    # r3 = the slot + 1, tested against 6: the slot's thresholds are 5 and its
    # neighbours, and 2^32 - 1 (where every slot stops first)
    found = slot_thresholds(thresholds(bpfjit.assemble(SPILLED)))
    assert {4, 5, 6, SLOT_LIMIT} <= set(found[-8])
    assert set(slot_thresholds(thresholds(bpfjit.assemble(ROUNDS)))) == set()


def test_shell_sorts_gap_index_kept_in_a_slot_bounds_its_table_load():
    # corpus/plain/shell.c: `gaps[g]` (u16, read-only data) with g spilled across the
    # inner loops, whose heads widened the slot to 2^32 - 1 as g moved; its only
    # 2-byte load is that one
    prog = bpfjit.load_elf(CORPUS / "shell.o")
    v = verify(prog, cache=False)
    loads = [pc for pc, insn in v.program if insn.spec.mnemonic == "ldxh"]
    assert len(loads) == 1 and loads[0] in v.proven


@pytest.mark.parametrize("length", [0, 1, 5])
def test_the_spilled_counter_fills_its_table_on_every_engine(engine, length):
    expected = sum(g + 1 for g in range(6)) * length + 1 + 6
    fn = bpfjit.compile(bpfjit.assemble(SPILLED), engine, cache=False)
    assert fn(bytes(length)) == expected


# a count kept as `r3 = r1 + 1` where the loop's exit tests r1 against 47 (a register
# holding the constant, as clang keeps it): r1's thresholds are 46, 47 and 48, so r3,
# the copy plus one, takes 47, 48 and 49 above its own
COUNT = """
    mov %r0, 0
    mov %r3, 0
    mov %r5, 47
loop:
    mov %r1, %r3
    jeq %r2, 0, skip
    add %r0, %r1
skip:
    mov %r3, %r1
    add %r3, 1
    jgt %r5, %r1, loop
    exit
"""


def test_a_copy_plus_one_takes_the_tested_registers_thresholds_shifted():
    found = thresholds(bpfjit.assemble(COUNT), list(range(3, 9)), None, {8})
    assert {46, 47, 48} <= set(found[1])
    assert {47, 48, 49} <= set(copied_thresholds(found, 3))
    assert copied_thresholds(found, 0) == found[0]          # r0 copies nothing


def test_the_word_count_a_copy_keeps_bounds_every_index_of_the_sort():
    # corpus/plain/toksort.c: at most 48 words are scanned; the count is kept as `r3 =
    # r1 + 1` where the scan's exit tests r1 < 47, and the loop's body reuses r3 for a
    # byte compared with 230.  Widened to 230 at the scan's head, the count left the
    # sort's ten accesses to start[] and length[] unproven; bounded by 48, each of
    # those indices (below the count) is proven.  The two accesses left are the
    # buffer reads mem[start[k] + i]: an offset read back from the stack
    prog = bpfjit.load_elf(CORPUS / "toksort.o")
    v = verify(prog, cache=False)
    stack = [pc for pc in v.accesses if v.regions.get(pc) == "stack"]
    assert len(stack) > 10 and set(stack) <= v.proven
    unproven = set(v.accesses) - v.proven
    assert len(unproven) == 2 and {v.regions.get(pc) for pc in unproven} == {"mem"}


@pytest.mark.parametrize("name", ["sha1", "shell", "toksort", "chacha"])
def test_one_walk_gives_each_loop_its_bodys_and_its_exits_thresholds(name):
    # loop_thresholds reads a loop's body once for both sets of comparisons (all of
    # them, and its exits' alone); each must be what a walk of its own finds
    prog = bpfjit.load_elf(CORPUS / f"{name}.o", function="entry")
    members = block_graph(prog)[0]
    loops = natural_loops(prog)
    assert loops
    for head, (body, _latches, _dominates) in loops.items():
        pcs = sorted(pc for block in members if block in body for pc in members[block])
        exits = loop_exits(prog, {block for block in members if block in body})
        for known in ({}, {3: 7}):
            assert _thresholds_each(prog, pcs, known, [None, exits]) == \
                [thresholds(prog, pcs, known), thresholds(prog, pcs, known, exits)]
