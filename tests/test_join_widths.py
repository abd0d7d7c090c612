"""A stack slot spilled whole on one path and written narrower on another (`*(u64 *)(r10
- 48) = 0x7fff` before a loop, `*(u8 *)(r10 - 48) = 0` in it) means its low bytes where
the paths meet (bpfjit.verifier.joins: spill widths).  Its values on each path are then
not one variable's: the 8-byte 0x7fff on the first trip, the byte 0 on the second.  The
join's discovery took them as points of one line, `slot == 32767 * r5`, and the slot's
joined byte, 0 to 255, then narrowed r5 to 0 at the loop head, dropping the first
trip's r5 = 1.  The fuzzer's main campaign found it (program 1 in ~100,000 of the
session's, interp trapping where both JITs read a byte before the buffer): the access
`r6 + (r5 & 1) - 1` was taken to stay at offset 0, and its check hoisted away."""

import pytest

import bpfjit

# trip 1: r5 = 1, reads mem[0]; trip 2: r5 = the zero byte at r10 - 1, reads mem[-1]
NARROWED_IN_LOOP = """
    mov %r6, %r1
    stdw [%r10-8], 0
    stdw [%r10-48], 0x7fff
    mov %r5, 1
    mov %r9, 2
loop:
    mov %r1, %r5
    and %r1, 1
    sub %r1, 1
    add %r1, %r6
    ldxb %r0, [%r1]
    ldxb %r5, [%r10-1]
    stb [%r10-48], 0
    sub %r9, 1
    jne %r9, 0, loop
    mov %r0, 0
    exit
"""
READ_PC = 9


def test_the_second_trip_reads_before_the_buffer_on_every_engine(engine):
    fn = bpfjit.compile(bpfjit.assemble(NARROWED_IN_LOOP), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as caught:
        fn(bytearray(2))
    assert caught.value.pc == READ_PC


def test_the_read_is_not_taken_to_stay_in_the_buffer():
    verified = bpfjit.verify(bpfjit.assemble(NARROWED_IN_LOOP), cache=False)
    assert READ_PC not in verified.proven
    extent = verified.extents.get(READ_PC)
    assert extent is None or extent[0] <= -1       # offset -1 on the second trip


def test_a_slot_of_one_width_on_every_path_still_gets_its_line():
    # the same loop storing the slot whole: 32767 on the first trip, 0 on the second,
    # r5 1 then 0, a true line slot == 32767 * r5 that the join may keep
    text = NARROWED_IN_LOOP.replace("stb [%r10-48], 0", "stdw [%r10-48], 0")
    fn = bpfjit.compile(bpfjit.assemble(text), "interp")
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytearray(2))
    verified = bpfjit.verify(bpfjit.assemble(text), cache=False)
    assert READ_PC not in verified.proven
