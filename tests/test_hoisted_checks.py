"""Where checks go (bpfjit.checkplan): loops whose unproven buffer accesses have bounded
offsets run a check-free copy when the buffer is long enough, or when the range their
addresses move in from registers at the loop's entry lies in it, and accesses from one
base in a block share one check; with the same results and the same traps (error, pc,
earlier writes) as the interpreter's on every engine."""

import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.checkplan import (MIN_HOISTED_TRIPS, CheckGroup, RangeTest, check_groups,
                              versioned_loops)
from bpfjit.verifier import verify

# sum of the 16 little-endian u64 at mem[0..128): i in [0, 15], so the load's offset is
# in [0, 120] and a buffer of 128 bytes or more proves it
TABLE_SUM = """
    mov %r0, 0
    mov %r3, 0
loop:
    mov %r4, %r3
    lsh %r4, 3
    mov %r5, %r1
    add %r5, %r4
    ldxdw %r6, [%r5]
    add %r0, %r6
    add %r3, 1
    jlt %r3, 16, loop
    exit
"""
TABLE_LOAD_PC = 6

# the first byte, at most 15, is a count n; then sums the u64 at mem[8 * i] for
# i = 1..n and doubles each in place: a buffer of 8 * 16 = 128 bytes proves the
# accesses, a shorter one may still hold all n of them.  The loop is laid out as
# clang often does: its body first, entered by a backward jump from after it.
COUNTED = """
    ldxb %r3, [%r1]
    jgt %r3, 15, out
    mov %r0, 0
    mov %r4, 1
    ja check
body:
    mov %r5, %r4
    lsh %r5, 3
    add %r5, %r1
    ldxdw %r6, [%r5]
    add %r0, %r6
    add %r6, %r6
    stxdw [%r5], %r6
    add %r4, 1
check:
    jle %r4, %r3, body
    exit
out:
    mov %r0, 0
    exit
"""
COUNTED_LOAD_PC, COUNTED_STORE_PC = 8, 11


def qwords(values, length):
    raw = b"".join(struct.pack("<Q", v) for v in values)
    return bytearray(raw + bytes(length - len(raw)))


def test_the_plan_names_the_loop_its_accesses_and_the_length():
    loops = versioned_loops(verify(bpfjit.assemble(TABLE_SUM), helpers={}, cache=False))
    assert [(l.header, sorted(l.body), sorted(l.unchecked), l.need) for l in loops] == \
        [(2, list(range(2, 10)), [TABLE_LOAD_PC], 128)]


def test_a_loop_entered_by_a_backward_jump_is_found_by_dominance():
    loops = versioned_loops(verify(bpfjit.assemble(COUNTED), helpers={}, cache=False))
    # the backward jump at pc 13 goes to pc 5, but the entry reaches the loop at pc 13
    # (from `ja check`): pc 13 dominates the loop's blocks, so it is the head; the
    # store goes back where the load read, which its check admitted: proven, not hoisted
    assert [(l.header, sorted(l.body), sorted(l.unchecked), l.need) for l in loops] == \
        [(13, list(range(5, 14)), [COUNTED_LOAD_PC], 128)]


def test_proven_or_unbounded_accesses_hoist_nothing():
    # (both loops are counted, so they may still have a budget-free copy:
    # tests/test_budget_free_loops.py)
    proven = "mov %r0, 0\nmov %r3, 0\nl:\nstxdw [%r10-8], %r3\nadd %r3, 1\njlt %r3, 4, l\nexit"
    unbounded = "mov %r0, 0\nl:\nldxb %r3, [%r1]\nadd %r1, %r3\nadd %r0, 1\njlt %r0, 4, l\nexit"
    for text in (proven, unbounded):
        loops = versioned_loops(verify(bpfjit.assemble(text), helpers={}, cache=False))
        assert [loop.unchecked for loop in loops] in ([], [frozenset()])


@pytest.mark.parametrize("length", [128, 200])
def test_fast_copy_result(engine, length):
    values = [(i * 0x0123456789ABCDEF + 7) % 2**64 for i in range(16)]
    fn = bpfjit.compile(bpfjit.assemble(TABLE_SUM), engine)
    assert fn(qwords(values, length)) == sum(values) % 2**64


@pytest.mark.parametrize("length", [127, 64, 7])
def test_checked_copy_traps_where_the_interpreter_does(engine, length):
    fn = bpfjit.compile(bpfjit.assemble(TABLE_SUM), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(qwords(range(length // 8), length))
    assert (info.value.pc, info.value.size, info.value.write) == (TABLE_LOAD_PC, 8, False)


@pytest.mark.parametrize("count,length", [(15, 128), (15, 300), (3, 32), (0, 8), (5, 48)])
def test_counted_loop_in_either_copy(engine, count, length):
    values = [count] + [1000 * i + 3 for i in range(1, count + 1)]
    mem = qwords(values, length)
    fn = bpfjit.compile(bpfjit.assemble(COUNTED), engine)
    assert fn(mem) == sum(values[1:])
    assert list(struct.unpack_from(f"<{count + 1}Q", mem)) == \
        [count] + [2 * v for v in values[1:]]


@pytest.mark.parametrize("count,length,pc,write", [
    (5, 40, COUNTED_LOAD_PC, False),       # the fifth entry is mem[40..48): not there
    (4, 36, COUNTED_LOAD_PC, False),
])
def test_counted_loop_trap_and_earlier_writes(engine, count, length, pc, write):
    values = [count] + list(range(10, 10 + count))
    mem = qwords(values[:length // 8], length)
    fn = bpfjit.compile(bpfjit.assemble(COUNTED), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(mem)
    assert (info.value.pc, info.value.write) == (pc, write)
    fitted = (length - 8) // 8              # the entries doubled before the trap
    assert list(struct.unpack_from(f"<{fitted}Q", mem, 8)) == [2 * v for v in values[1:fitted + 1]]


# ---- one check for a group of accesses ----------------------------------------------

# p = mem + mem[0]; then loads and a store at p+1 .. p+6 in one block: one group
GROUPED = """
    ldxb %r3, [%r1]
    add %r1, %r3
    ldxb %r0, [%r1+1]
    stb [%r1+3], 7
    ldxb %r4, [%r1+2]
    add %r0, %r4
    ldxh %r4, [%r1+4]
    add %r0, %r4
    exit
"""


def test_a_group_covers_one_base_in_one_block():
    verified = verify(bpfjit.assemble(GROUPED), helpers={}, cache=False)
    # (the load of p+2 at pc 4 is proven: the store's check before it admitted p+3)
    assert check_groups(verified) == {
        2: CheckGroup(first=2, last=6, members=frozenset({2, 3, 6}), base=1, lo=1, hi=6)}


@pytest.mark.parametrize("text,groups", [
    # the base is written between the accesses: two singletons, no group
    ("ldxb %r0, [%r1+1]\nadd %r1, 1\nldxb %r2, [%r1+1]\nexit", {}),
    # a jump ends the block: the access after it is in another one
    ("ldxb %r0, [%r1+1]\njeq %r0, 0, +1\nldxb %r2, [%r1+2]\nexit", {}),
    # a load into its own base ends the group with it
    ("ldxb %r0, [%r1+1]\nldxdw %r1, [%r1+2]\nldxb %r2, [%r1]\nexit",
     {0: CheckGroup(first=0, last=1, members=frozenset({0, 1}), base=1, lo=1, hi=10)}),
])
def test_what_ends_a_group(text, groups):
    assert check_groups(verify(bpfjit.assemble(text), helpers={}, cache=False)) == groups


@pytest.mark.parametrize("skip", [0, 9])
def test_a_group_that_fits(engine, skip):
    mem = bytearray([skip] + [0] * skip + [0x10, 0x20, 0x30, 0x40, 0x01, 0x02])
    fn = bpfjit.compile(bpfjit.assemble(GROUPED), engine)
    p = skip
    expected = mem[p + 1] + mem[p + 2] + (mem[p + 4] | mem[p + 5] << 8)
    assert fn(mem) == expected
    assert mem[p + 3] == 7


@pytest.mark.parametrize("room,pc,size,write,stored", [
    (1, 2, 1, False, False),     # p+1 is already outside: the first member traps
    (3, 3, 1, True, False),      # the store at p+3 traps; nothing written
    (5, 6, 2, False, True),      # the last load traps, after the store took effect
])
def test_a_group_that_does_not_fit_traps_at_the_access(engine, room, pc, size, write, stored):
    skip = 4
    mem = bytearray([skip] + [0xEE] * (skip + room - 1))       # p + room bytes in all
    fn = bpfjit.compile(bpfjit.assemble(GROUPED), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(mem)
    assert (info.value.pc, info.value.size, info.value.write) == (pc, size, write)
    if stored:
        assert mem[skip + 3] == 7
    assert mem.count(7) == int(stored)


# ---- both copies agree with the interpreter, whatever the buffer ----------------------

def _outcome(fn, mem):
    """(r0 or the trap's (type, pc, size, write)), and the buffer after the run."""
    try:
        result = fn(mem)
    except bpfjit.BpfTrap as exc:
        result = (type(exc).__name__, exc.pc, getattr(exc, "size", None),
                  getattr(exc, "write", None))
    return result, bytes(mem)


@st.composite
def table_walks(draw):
    """A loop over a table in the buffer, i < trips, entry i at i << shift, reading and
    writing a few fields of each entry through one base (a group, in a loop whose
    extent is bounded: both kinds of copy)."""
    trips, shift = draw(st.integers(1, 6)), draw(st.integers(0, 4))
    lines = ["mov %r0, 0", "mov %r3, 0", "loop:", "mov %r5, %r3"]
    if shift:
        lines.append(f"lsh %r5, {shift}")
    lines.append("add %r5, %r1")
    extent = 0
    for _ in range(draw(st.integers(1, 4))):
        size = draw(st.sampled_from([1, 2, 4, 8]))
        off = draw(st.integers(0, 12))
        extent = max(extent, off + size)
        suffix = {1: "b", 2: "h", 4: "w", 8: "dw"}[size]
        if draw(st.booleans()):
            lines += [f"ldx{suffix} %r4, [%r5+{off}]", "add %r0, %r4"]
        else:
            lines.append(f"stx{suffix} [%r5+{off}], %r3")
    lines += ["add %r3, 1", f"jlt %r3, {trips}, loop", "exit"]
    need = ((trips - 1) << shift) + extent
    length = draw(st.integers(max(0, need - 12), need + 4))
    return "\n".join(lines), length


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(table_walks())
def test_table_walks_agree_with_the_interpreter(case):
    text, length = case
    prog = bpfjit.assemble(text)
    seed = bytes((7 * i + 3) & 0xFF for i in range(length))
    expected = _outcome(bpfjit.compile(prog, "interp"), bytearray(seed))
    for engine in bpfjit.engines():
        if engine != "interp":
            assert _outcome(bpfjit.compile(prog, engine), bytearray(seed)) == expected, engine


# ---- ranges that move with registers ----------------------------------------------------

# r6 = p = mem + d, d = mem[1] sign-extended (in [-128, 127]: no extent from the
# buffer's start); r0 = 0, r4 = 0
MOVING_START = """
    ldxb %r3, [%r1+1]
    lsh %r3, 56
    arsh %r3, 56
    mov %r6, %r1
    add %r6, %r3
    mov %r0, 0
    mov %r4, 0
"""
# sums p[4 + i] for i < 40, i in [0, 39] at the head: the entry tests that [p + 4,
# p + 44) lies in the buffer
MOVING = MOVING_START + """
loop:
    mov %r5, %r6
    add %r5, %r4
    ldxb %r7, [%r5+4]
    add %r0, %r7
    add %r4, 1
    jlt %r4, 40, loop
    exit
"""
MOVING_LOAD_PC = 9
# the same p stepped by 3 for 33 trips (a counter in [0, 32] at the head), reading a u16
# at p + 2 each time: the last at p + 2 + 3 * 32, so [p + 2, p + 100)
STEPPED = MOVING_START + """
loop:
    ldxh %r7, [%r6+2]
    add %r0, %r7
    add %r6, 3
    add %r4, 1
    jlt %r4, 33, loop
    exit
"""
STEPPED_LOAD_PC = 7


def _plan(text):
    loops = versioned_loops(verify(bpfjit.assemble(text), helpers={}, cache=False))
    return [(l.header, sorted(l.unchecked), l.need, l.ranges) for l in loops]


def test_the_verifier_reports_the_numbers_at_loop_heads(tmp_path, monkeypatch):
    # MOVING's head (pc 7): r2 the buffer's length (the verifier assumes below 4 GiB),
    # at least 2 once the run is past the check of mem[1] at pc 0,
    # i in [0, 39], d a sign-extended byte, whose signed interval [-128, 127] is the
    # narrower; the sum r0 has no bound, and r7 is not yet set on entry: neither is
    # reported.  The same from a verdict read back from the cache.
    monkeypatch.setenv("BPFJIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("BPFJIT_CACHE", raising=False)
    fresh = verify(bpfjit.assemble(MOVING), helpers={})
    cached = verify(bpfjit.assemble(MOVING), helpers={})
    assert cached is not fresh and cached.cache_name == fresh.cache_name
    for verified in (fresh, cached):
        assert verified.head_ranges == {7: {2: (2, 2**32 - 1), 3: (-128, 127), 4: (0, 39)}}
    assert verify(bpfjit.assemble(MOVING), mode="unchecked", helpers={}).head_ranges == {}


def test_an_address_from_an_invariant_base_and_a_counter_is_hoisted():
    assert _plan(MOVING) == [(7, [MOVING_LOAD_PC], 0,
                              (RangeTest((6,), 4, 44, frozenset({MOVING_LOAD_PC})),))]


def test_an_address_stepped_every_trip_is_hoisted():
    assert _plan(STEPPED) == [(7, [STEPPED_LOAD_PC], 0,
                               (RangeTest((6,), 2, 100, frozenset({STEPPED_LOAD_PC})),))]


def explorer_verdict(text: str, pc: int) -> tuple[str, str]:
    """The explorer's verdict on the access at `pc` of the program `text`, and why."""
    from bpfjit.explorer.verdicts import access_verdicts, log_states
    prog = bpfjit.assemble(text)
    verified = verify(prog, helpers={}, cache=False)
    log = verify(prog, helpers={}, log=True).log
    return access_verdicts(verified, prog, log_states(log))[pc]


def test_the_explorer_names_the_range_tested():
    verdict, why = explorer_verdict(MOVING, MOVING_LOAD_PC)
    assert verdict == "hoisted"
    assert "the loop at pc 7 is entered through one test that the bytes [r6+4, r6+44) " \
        "at its entry lie in the buffer" in why


def test_a_loop_of_few_trips_keeps_its_checks():
    trips = MIN_HOISTED_TRIPS - 1
    for text in (MOVING.replace("jlt %r4, 40,", f"jlt %r4, {trips},"),
                 STEPPED.replace("jlt %r4, 33,", f"jlt %r4, {trips},")):
        assert all(not unchecked and not ranges for _, unchecked, _, ranges in _plan(text))


def test_a_row_of_31_trips_is_hoisted():
    # corpus/plain/maze's rows: at most 31 trips (a width of at most 32), each row
    # reading mem[row + x]; the entry tests [p + 4, p + 35)
    text = MOVING.replace("jlt %r4, 40,", "jlt %r4, 31,")
    assert _plan(text) == [(7, [MOVING_LOAD_PC], 0,
                            (RangeTest((6,), 4, 35, frozenset({MOVING_LOAD_PC})),))]


def _moving_buffer(d: int, length: int) -> bytearray:
    mem = bytearray((5 * i + 11) & 0xFF for i in range(length))
    if length > 1:
        mem[1] = d & 0xFF
    return mem


@pytest.mark.parametrize("d,length", [(0, 44), (0, 300), (60, 104), (-1, 43), (-4, 40)])
def test_a_moving_range_in_the_buffer(engine, d, length):
    mem = _moving_buffer(d, length)
    expected = sum(mem[d + 4 + i] for i in range(40))
    assert bpfjit.compile(bpfjit.assemble(MOVING), engine)(mem) == expected


@pytest.mark.parametrize("d,length", [(0, 43), (60, 100), (-5, 100), (-128, 200), (127, 150)])
def test_a_moving_range_out_of_the_buffer_traps_at_its_access(engine, d, length):
    fn = bpfjit.compile(bpfjit.assemble(MOVING), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(_moving_buffer(d, length))
    assert (info.value.pc, info.value.size, info.value.write) == (MOVING_LOAD_PC, 1, False)


@pytest.mark.parametrize("d,length,fits", [(0, 100, True), (10, 200, True), (-2, 98, True),
                                           (0, 99, False), (-3, 120, False)])
def test_a_stepped_range(engine, d, length, fits):
    mem = _moving_buffer(d, length)
    fn = bpfjit.compile(bpfjit.assemble(STEPPED), engine)
    if fits:
        assert fn(mem) == sum(int.from_bytes(mem[d + 2 + 3 * k:d + 4 + 3 * k], "little")
                              for k in range(33))
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(mem)
        assert (info.value.pc, info.value.size) == (STEPPED_LOAD_PC, 2)


@st.composite
def moving_walks(draw):
    """A loop from p = mem + d (d a signed byte of the buffer) that reads and writes a
    few fields at p + i * scale + off or at a pointer stepped every trip, for a number
    of trips around MIN_HOISTED_TRIPS, over a buffer about as long as it needs."""
    trips = draw(st.integers(MIN_HOISTED_TRIPS - 2, MIN_HOISTED_TRIPS + 12))
    stepped = draw(st.booleans())
    scale = draw(st.integers(1, 3))
    lines = [MOVING_START, "loop:"]
    if stepped:
        base = "%r6"
    else:
        lines += ["mov %r5, %r4", f"mul %r5, {scale}", "add %r5, %r6"]
        base = "%r5"
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.sampled_from([1, 2, 4, 8]))
        off = draw(st.integers(-6, 12))
        suffix = {1: "b", 2: "h", 4: "w", 8: "dw"}[size]
        if draw(st.booleans()):
            lines += [f"ldx{suffix} %r7, [{base}{off:+d}]", "add %r0, %r7"]
        else:
            lines.append(f"stx{suffix} [{base}{off:+d}], %r4")
    if stepped:
        lines.append(f"add %r6, {scale}")
    lines += ["add %r4, 1", f"jlt %r4, {trips}, loop", "exit"]
    d = draw(st.integers(-8, 40))
    need = d + 12 + 8 + scale * trips
    length = draw(st.integers(max(2, need - 14), need + 4))
    return "\n".join(lines), d, length


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(moving_walks())
def test_moving_walks_agree_with_the_interpreter(case):
    text, d, length = case
    prog = bpfjit.assemble(text)
    seed = _moving_buffer(d, length)
    expected = _outcome(bpfjit.compile(prog, "interp"), bytearray(seed))
    for engine in bpfjit.engines():
        if engine != "interp":
            assert _outcome(bpfjit.compile(prog, engine), bytearray(seed)) == expected, engine


# a row of 64 bytes at fp-80 filled from mem[k + 4 ..] (k the buffer's first u32) through
# a pointer spilled at fp-8 and reloaded every trip, stored through a pointer of its own
# (r5): the verifier proves the row store within fp-80..fp-17 (`stack_extents`), so the
# spill is invariant and the load's range (the slot plus [4, 68)) is tested once at
# the entry
SPILLED_BASE = """
    ldxw %r6, [%r1+0]
    add %r1, %r6
    stxdw [%r10-8], %r1
    mov %r5, %r10
    add %r5, -80
    mov %r3, 0
loop:
    ldxdw %r4, [%r10-8]
    add %r4, %r3
    ldxb %r0, [%r4+4]
    stxb [%r5+0], %r0
    add %r5, 1
    add %r3, 1
    jlt %r3, 64, loop
    ldxdw %r0, [%r10-80]
    ldxdw %r1, [%r10-24]
    xor %r0, %r1
    exit
"""
SPILLED_BASE_LOAD, SPILLED_BASE_STORE = 8, 9


def test_a_store_proven_elsewhere_in_the_frame_leaves_a_spilled_base_invariant():
    verified = verify(bpfjit.assemble(SPILLED_BASE), helpers={}, cache=False)
    assert verified.stack_extents[SPILLED_BASE_STORE] == (0, -80, -16)
    assert _plan(SPILLED_BASE) == [(6, [SPILLED_BASE_LOAD], 0,
                                    (RangeTest((), 4, 68, frozenset({SPILLED_BASE_LOAD}),
                                               slots=(-8,)),))]


@pytest.mark.parametrize("k", [0, 3, 40])
@pytest.mark.parametrize("extra", [0, 63, 64, 90])
def test_the_spilled_base_runs_and_traps_as_the_interpreter(engine, k, extra):
    # k + 4 + extra bytes: the row's 64 fit when extra >= 64
    prog = bpfjit.assemble(SPILLED_BASE)
    mem = bytearray((7 * i + 3) & 0xFF for i in range(k + 4 + extra))
    mem[:4] = struct.pack("<I", k) if len(mem) >= 4 else mem[:4]
    expected = _outcome(bpfjit.compile(prog, "interp"), bytearray(mem))
    assert _outcome(bpfjit.compile(prog, engine), mem) == expected
    if extra >= 64:         # the row is mem[k + 4 .. k + 68): its first and last words
        assert expected[0] == int.from_bytes(mem[k + 4:k + 12], "little") ^ \
            int.from_bytes(mem[k + 60:k + 68], "little")
    else:                   # the first byte past the buffer: at the load
        assert expected[0][:2] == ("MemoryAccessError", SPILLED_BASE_LOAD)


# sums mem[2 + i] for i < n, n the buffer's first u16, kept on the stack and reloaded
# for every trip's exit test (clang -mcpu=v3 spills `len` so: corpus blur's rows): the
# trips are counted from the slot at the entry, so the range tested moves with them,
# [mem + 2, mem + 2 + n), and not the whole [mem + 2, mem + 65,537) i's interval allows
SLOT_BOUND = """
    ldxh %r3, [%r1]
    stxdw [%r10-8], %r3
    mov %r0, 0
    mov %r4, 0
    jeq %r3, 0, out
loop:
    mov %r5, %r1
    add %r5, %r4
    ldxb %r7, [%r5+2]
    add %r0, %r7
    add %r4, 1
    ldxdw %r6, [%r10-8]
    jlt %r4, %r6, loop
out:
    exit
"""
SLOT_BOUND_LOAD = 7


def test_a_bound_kept_in_a_stack_slot_counts_the_trips_of_a_moving_range():
    (loop,) = versioned_loops(verify(bpfjit.assemble(SLOT_BOUND), helpers={}, cache=False))
    assert loop.counted is not None and loop.counted.bound_slot == -8
    assert loop.ranges == (RangeTest((1, 4), 2, 3, frozenset({SLOT_BOUND_LOAD}), step=1),)


@pytest.mark.parametrize("n,length", [(1, 3), (40, 42), (40, 100), (300, 302), (0, 2),
                                      (40, 41), (300, 200), (65535, 64)])
def test_a_bound_kept_in_a_stack_slot_runs_and_traps_as_the_interpreter(engine, n, length):
    mem = bytearray((13 * i + 5) & 0xFF for i in range(length))
    mem[:2] = struct.pack("<H", n)
    fn = bpfjit.compile(bpfjit.assemble(SLOT_BOUND), engine)
    if n + 2 <= length:
        assert fn(mem) == sum(mem[2:2 + n])
    else:                   # the first byte past the buffer, at the load
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(mem)
        assert (info.value.pc, info.value.size, info.value.write) == (SLOT_BOUND_LOAD, 1, False)


# n = mem[0] records of 8 bytes from mem + 0 on: the big-endian u16s at +2 and +4 of
# each, summed.  The loads of +3 and +5 are checked (grouped: [3, 6) once); the loads
# of +2 and +4 are proven by the check of the load before them
RECORD_PAIRS = """
    mov %r0, 0
    jlt %r2, 1, out
    ldxb %r4, [%r1+0]
    mov %r3, %r1
loop:
    jeq %r4, 0, out
    ldxb %r5, [%r3+3]
    ldxb %r6, [%r3+2]
    lsh %r6, 8
    or %r5, %r6
    ldxb %r6, [%r3+5]
    ldxb %r7, [%r3+4]
    lsh %r7, 8
    or %r6, %r7
    add %r0, %r5
    add %r0, %r6
    add %r3, 8
    sub %r4, 1
    ja loop
out:
    exit
"""


def _buffer_indices(ir: str, block_prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    """For each block of `ir` whose name starts with one of `block_prefixes`: the
    second operand of the `add` each buffer access's getelementptr index is (None
    where the index is not an add)."""
    defs, found, block = {}, {}, None
    for line in ir.splitlines():
        label = re.match(r'^"([^"]+)":', line)
        if label:
            block = label.group(1)
            continue
        d = re.match(r'\s*(%"[^"]+") = add i64 (%"[^"]+"|-?\d+), (%"[^"]+"|-?\d+)', line)
        if d:
            defs[d.group(1)] = d.group(3)
        g = re.match(r'\s*%"[^"]+" = getelementptr i8, ptr %"\.9", i64 (%"[^"]+")', line)
        if g and block and block.startswith(block_prefixes):
            found.setdefault(block, []).append(defs.get(g.group(1)))
    return found


def test_every_buffer_access_of_a_checked_once_copy_adds_the_same_adjustment():
    llvm = pytest.importorskip("llvmlite")      # noqa: F841 - the llvm engine's IR
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm engine not available")
    prog = bpfjit.assemble(RECORD_PAIRS)
    v = verify(prog, cache=False)
    assert set(v.accesses) - v.proven == {5, 9}         # the loads of +3 and +5
    fn = bpfjit.compile(prog, "llvm", cache=False, blind=False, keep_ir=True)
    ir = fn.extra["ir"]
    base = re.search(r'%"(\.9)" = getelementptr', ir)
    assert base is not None
    copies = _buffer_indices(ir, ("group", "fast"))
    assert copies, "no checked-once or fast copy"
    for block, adjusted in copies.items():
        # the proven loads (+2, +4) take the adjustment the checked ones (+3, +5) take:
        # one base, so LLVM sees the bytes side by side
        assert len(adjusted) >= 3 and None not in adjusted and len(set(adjusted)) == 1, \
            (block, adjusted)


@pytest.mark.parametrize("data", [bytes([2]) + bytes(range(1, 16)), bytes([3, 0, 0, 1, 2, 3]),
                                  bytes([0]), bytes([1, 9, 8, 7, 6, 5, 4, 3])],
                         ids=["two", "short", "none", "one"])
def test_record_pairs(engine, data):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(RECORD_PAIRS), engine, cache=False)
    n = data[0]
    if 8 * (n - 1) + 6 > len(data) and n:
        with pytest.raises(bpfjit.MemoryAccessError):
            fn(bytearray(data))
        return
    total = sum((data[8 * k + 2] << 8 | data[8 * k + 3]) + (data[8 * k + 4] << 8 |
                data[8 * k + 5]) for k in range(n))
    assert fn(bytearray(data)) == total
