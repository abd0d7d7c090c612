"""What a checked access that did not trap tells the verifier of its base.

An access the verifier cannot prove is checked at run time; a run that goes on past
it passed the check, so its base pointed where the check admits: into the live
frames for a stack pointer ([r10 - 512, r10) when the entry subprogram's frame is the
top one), into the buffer for a buffer pointer (offset + size <= len).  Without that
a pointer stepped round a loop whose exit does not bound it widens past every bound,
a step more wraps it to an unknown offset, and the next store through it may hit any
slot of the frame: a buffer pointer spilled below the array was lost, and every access
through it reloaded was checked against the buffer and the stack at once.  So was one
whose row pointer an outer loop moves down into its table: its lowest offset, widened
at the inner loop's head, went to 2^63 below the frame, and the check's bottom of the
frame under the spill; it stops at the table's start first now
(thresholds.frame_bases).  Each expected value below is worked out by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import verify
from bpfjit.verifier.domain import S64_MIN, STACK, pointer, scalar, widen
from bpfjit.verifier.thresholds import frame_bases

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"

# a buffer pointer spilled at r10-400, below a 256-byte array the loop fills from its
# start while the buffer's byte 1 is not 0; then the pointer reloaded and byte 7 read
SPILL_BELOW = """
    mov %r0, 0
    jlt %r2, 8, out
    stxdw [%r10-400], %r1
    mov %r3, %r10
    add %r3, -256
loop:
    stb [%r3+0], 1
    add %r3, 1
    ldxb %r5, [%r1+1]
    jne %r5, 0, loop
    ldxdw %r1, [%r10-400]
    ldxb %r0, [%r1+7]
out:
    exit
"""

# the same array filled the other way, from its top down: the loop's store reaches no
# lower than the frame's bottom, r10-512, where the pointer now lies: it is not kept
SPILL_IN_REACH = SPILL_BELOW.replace("add %r3, -256", "add %r3, -1").replace(
    "add %r3, 1", "add %r3, -1")


def test_a_store_the_check_keeps_above_the_array_leaves_the_spill_below():
    v = verify(bpfjit.assemble(SPILL_BELOW), cache=False)
    # pc 5: the loop's store, checked; pc 10: the reloaded pointer's read, proven
    assert set(v.accesses) == {2, 5, 7, 9, 10}
    assert set(v.accesses) - v.proven == {5}
    assert v.regions[10] == "mem"


def test_a_store_that_may_reach_the_spill_loses_it():
    v = verify(bpfjit.assemble(SPILL_IN_REACH), cache=False)
    assert set(v.accesses) - v.proven == {5, 10}


@pytest.mark.parametrize("text", [SPILL_BELOW, SPILL_IN_REACH], ids=["below", "in-reach"])
def test_every_engine_reads_the_byte_through_the_reloaded_pointer(engine, text):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    # byte 1 is 0: one trip; byte 7 is returned
    assert fn(bytearray([9, 0, 9, 9, 9, 9, 9, 0x5A])) == 0x5A
    assert fn(bytearray(7)) == 0                # shorter than 8: r0 = 0


@pytest.mark.parametrize("text", [SPILL_BELOW, SPILL_IN_REACH], ids=["below", "in-reach"])
def test_a_store_run_past_the_frame_traps_at_the_store(engine, text):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    # byte 1 not 0: the loop runs until its store leaves the frame, at r10 (upwards) or
    # under r10-512 (downwards), after 256 or 512 stores
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray([9, 1, 9, 9, 9, 9, 9, 9]))
    assert info.value.pc == 5 and info.value.write


def test_the_frame_bases_are_where_the_program_points_into_its_frame():
    # r3 = r10 - 256 and r4 = r10 - 40 (after a copy); r5's -8 is added to a number,
    # r6's -100 after r6 was overwritten; the frame's bottom always
    prog = bpfjit.assemble("""
        mov %r3, %r10
        add %r3, -256
        mov %r4, %r10
        mov %r0, 1
        add %r4, -40
        add %r5, -8
        mov %r6, %r10
        mov %r6, 7
        add %r6, -100
        exit
    """)
    assert frame_bases(prog) == (-512, -256, -40)


def test_a_stack_pointer_moving_down_stops_at_the_next_frame_base():
    old, new = pointer(STACK, -320, -2), pointer(STACK, -384, -2)
    assert widen(old, new, (), (-512, -448, -384)).smin == -384
    assert widen(old, new, (), (-512, -448)).smin == -448
    assert widen(old, new).smin == S64_MIN
    # a number is not a pointer: the frame's bases are no thresholds of it
    assert widen(scalar(smin=-320, smax=-2), scalar(smin=-384, smax=-2), (),
                 (-512, -384)).smin == S64_MIN


def test_a_table_row_moved_down_by_the_outer_loop_keeps_the_spill_below_the_table():
    # corpus/plain/rmq.c: its sparse table (r10-384) is built row by row through a
    # pointer to row k - 1 (the outer loop's first row starts at r10-320, its later
    # ones from r10-384); the buffer pointer spilled at r10-440 below it is read back
    # for the query loop's two input loads (pcs 130 and 135)
    v = verify(bpfjit.load_elf(CORPUS / "rmq.o", function="entry"), cache=False)
    assert {130, 135} <= v.proven
    assert v.regions[130] == v.regions[135] == "mem"


# a 16-byte list at r10-16 holding 0..15; c = mem[0] & 15; a search that only the
# list's contents stop, so that the check of its load is all that bounds it: r8 counts
# the trips, r7 = (u32)(r8 - 1) indexes (mtf-like C with a u32 index: a copy of the
# count shifted up and back down); then list[r8 - 1] read again through r10 - 17 + r8
SEARCH = """
    mov %r3, 0
fill:
    mov %r4, %r10
    add %r4, -16
    add %r4, %r3
    stxb [%r4], %r3
    add %r3, 1
    jne %r3, 16, fill
    mov %r0, 0
    jlt %r2, 1, out
    ldxb %r6, [%r1]
    and %r6, 15
    mov %r8, 0
    mov %r9, 0
search:
    add %r8, 1
    lsh %r9, 32
    mov %r7, %r9
    rsh %r7, 32
    mov %r9, %r10
    add %r9, -16
    add %r9, %r7
    ldxb %r5, [%r9]
    mov %r9, %r8
    jne %r5, %r6, search
    mov %r9, %r10
    add %r9, -17
    add %r9, %r8
    ldxb %r0, [%r9]
out:
    exit
"""


def test_a_checked_load_bounds_the_index_it_was_made_of():
    v = verify(bpfjit.assemble(SEARCH), cache=False)
    # pc 4: the fill's store (r3 < 16 by its loop test); pc 9: mem[0] (len >= 1);
    # pc 20: the search's load, checked; past it r9 in [r10-16, r10-1], so r7 in
    # [0, 15] and the count r8 = r7 + 1 in [1, 16], and pc 26 reads [r10-16, r10-1]
    assert set(v.accesses) == {4, 9, 20, 26}
    assert set(v.accesses) - v.proven == {20}


def test_every_engine_finds_the_byte_it_searched_for(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(SEARCH), engine, cache=False)
    assert fn(bytearray([0x2B])) == 0x0B             # 0x2b & 15 = 11, found at list[11]
    assert fn(bytearray([0xF0, 7])) == 0             # 0 is list[0]: the first trip
    assert fn(bytearray()) == 0                      # len 0: r0 = 0


def test_a_merge_keeps_its_inner_loop_proven():
    # corpus/plain/merge.c: `src[i] <= src[j]` in the merge loop (pcs 145 and 146),
    # i < mid <= n <= 64 and j < hi <= n, into the 64-key array; a store's check does
    # not narrow the output cursor k (see MemoryRules._passed_check)
    v = verify(bpfjit.load_elf(CORPUS / "merge.o", function="entry"), cache=False)
    assert {145, 146} <= v.proven
