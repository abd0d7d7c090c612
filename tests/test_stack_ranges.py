"""Range tests of the stack (bpfjit.checkplan, region "stack"): a loop that walks an
array on the stack by a pointer stepped each trip, the trips counted from a number the
verifier cannot bound, checks the whole walk once at the loop's entry on the llvm
engine (the peachpy engine keeps each access's check); every engine computes what the
interpreter computes and traps where it traps (the same pc, size and direction)."""

import pytest

import bpfjit
from bpfjit.checkplan import versioned_loops
from bpfjit.verifier import verify

# n = the first byte (up to 255), three times over: a u16 array of 32 at fp-64 filled
# with i * 3 + 1 by a pointer stepped by 2 while i < n, each element read back and
# summed; 32 elements end at the frame's top, so n > 32 stores past it (at i = 32, the
# pointer at fp + 0).  (The walk in a loop of its own: a loop run once is left checked)
FILL = """
    ldxb %r3, [%r1]
    mov %r0, 0
    jeq %r3, 0, done
    mov %r9, 3
again:
    mov %r4, %r10
    add %r4, -64
    mov %r5, 0
loop:
    mov %r6, %r5
    mul %r6, 3
    add %r6, 1
    stxh [%r4], %r6
    ldxh %r7, [%r4]
    add %r0, %r7
    add %r4, 2
    add %r5, 1
    jlt %r5, %r3, loop
    sub %r9, 1
    jne %r9, 0, again
done:
    exit
"""
FILL_HEAD, FILL_STORE, FILL_LOAD = 7, 10, 11

# the same walk with the pointer starting at fp-64 plus a distance read from the input
# (the second byte, times 2): a combsort-style `a[i + gap]` whose start the entry adds up
FILL_FROM = FILL.replace("    add %r4, -64\n",
                         "    add %r4, -64\n    ldxb %r8, [%r1+1]\n    lsh %r8, 1\n"
                         "    add %r4, %r8\n")


def _expected(n: int) -> int:
    """The sum the loops compute, by hand: element i holds (3i + 1) & 0xffff."""
    return 3 * sum((3 * i + 1) & 0xFFFF for i in range(n))


def test_a_walk_run_once_keeps_its_checks():
    once = FILL.replace("    mov %r9, 3\n", "    mov %r9, 1\n").replace(
        "    sub %r9, 1\n    jne %r9, 0, again\n", "")
    loops = versioned_loops(verify(bpfjit.assemble(once), helpers={}, cache=False))
    assert all(test.region != "stack" for loop in loops for test in loop.ranges)


def test_a_walk_with_another_access_left_checked_keeps_its_checks():
    # a load through the input's second byte as a frame offset, every trip: the fast
    # copy would check it still
    other = FILL.replace("    add %r0, %r7\n",
                         "    add %r0, %r7\n    ldxb %r8, [%r1+1]\n    mov %r2, %r10\n"
                         "    sub %r2, %r8\n    ldxb %r8, [%r2]\n    add %r0, %r8\n")
    loops = versioned_loops(verify(bpfjit.assemble(other), helpers={}, cache=False))
    assert all(test.region != "stack" for loop in loops for test in loop.ranges)


def test_the_walk_is_one_stack_range_test_moving_two_bytes_a_trip():
    verified = verify(bpfjit.assemble(FILL), helpers={}, cache=False)
    loop, = versioned_loops(verified)
    test, = loop.ranges
    # [r4, r4 + 2) at the entry, moving 2 bytes a trip, in the stack, the trips counted
    # at the entry: the store (the load after it is proven by the store's check)
    assert loop.header == FILL_HEAD and loop.counted is not None
    assert (test.region, test.registers, test.lo, test.hi, test.step) == \
        ("stack", (4,), 0, 2, 2)
    assert test.accesses == {FILL_STORE} <= loop.unchecked
    assert FILL_LOAD in verified.proven
    assert test.describe() == "[r4+0, r4+2) moving +2 a trip in the stack"


def test_a_counter_the_check_bounds_is_not_folded():
    # the verifier relates the pointer to the counter and narrows both where the store's
    # check passes (the counter at the head is within [0, 32]): a range folded from that
    # interval would hold only because the check the fast copy drops passed, so the
    # stack's tests count the trips at the entry instead (above) and fold no interval
    verified = verify(bpfjit.assemble(FILL), helpers={}, cache=False)
    assert verified.head_ranges[FILL_HEAD][5] == (0, 32)
    test, = versioned_loops(verified)[0].ranges
    assert test.moves and (test.lo, test.hi) == (0, 2)


def test_the_peachpy_engine_keeps_the_checks_of_a_stack_range():
    from bpfjit.backends.copies import CopyTracking
    verified = verify(bpfjit.assemble(FILL), helpers={}, cache=False)
    kept = CopyTracking()
    kept.prepare_copies(verified, 0, verified.program.slot_count, budget_free=False,
                        stack_ranges=False)
    assert all(not loop.ranges and FILL_STORE not in loop.unchecked
               for loop in kept.loops.values())


@pytest.mark.parametrize("n", [1, 2, 24, 31, 32])
def test_a_walk_within_the_frame(engine, n):
    fn = bpfjit.compile(bpfjit.assemble(FILL), engine)
    assert fn(bytearray([n, 0, 0, 0])) == _expected(n)


@pytest.mark.parametrize("n", [33, 40, 255])
def test_a_walk_past_the_frame_traps_at_the_store(engine, n):
    fn = bpfjit.compile(bpfjit.assemble(FILL), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray([n, 0, 0, 0]))
    assert (info.value.pc, info.value.size, info.value.write) == (FILL_STORE, 2, True)


@pytest.mark.parametrize("n,gap", [(1, 0), (32, 0), (16, 16), (31, 1), (1, 31),
                                   (33, 0), (17, 16), (2, 31), (1, 32), (200, 100)])
def test_a_walk_from_a_distance_the_input_gives(engine, n, gap):
    fn = bpfjit.compile(bpfjit.assemble(FILL_FROM), engine)
    mem = bytearray([n, gap, 0, 0])
    if gap + n <= 32:
        assert fn(mem) == _expected(n)
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(mem)
        assert (info.value.pc, info.value.size) == (FILL_STORE + 3, 2)     # (3 more before)
