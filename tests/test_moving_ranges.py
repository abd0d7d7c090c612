"""Range tests that move with counted trips (bpfjit.checkplan, bpfjit.loopaddress): an
address summed from an invariant stack slot, a u32 index wrapped by a 32-bit add, a
pointer stepped by a row's width, or a late copy of the counter is hoisted to one test
at the loop's entry, and every engine computes what the interpreter computes and traps
where it traps (the same pc), in the fast copy's place too."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.checkplan import RangeTest, WrappedTerm, versioned_loops
from bpfjit.verifier import verify
from test_hoisted_checks import _outcome, explorer_verdict

# a grid of w x h bytes after a 2-byte header (w, h), summed row by row: the row's
# offset y * w lives in the stack slot [r10-8], and the cell's index is the u32
# `row + x` (add32), as clang keeps a u32 index
GRID = """
    ldxb %r7, [%r1]
    ldxb %r8, [%r1+1]
    mov %r0, 0
    mov %r6, 0
    mov %r9, 0
    stxdw [%r10-8], %r9
outer:
    jge %r6, %r8, done
    mov %r4, 0
inner:
    ldxdw %r3, [%r10-8]
    add32 %r3, %r4
    mov %r5, %r1
    add %r5, %r3
    ldxb %r3, [%r5+2]
    mul %r0, 31
    add %r0, %r3
    add %r4, 1
    jlt %r4, %r7, inner
    ldxdw %r3, [%r10-8]
    add %r3, %r7
    stxdw [%r10-8], %r3
    add %r6, 1
    ja outer
done:
    exit
"""
GRID_HEAD, GRID_LOAD = 8, 12
# GRID with the buffer's start spilled and reloaded every trip: no register carries
# the entry test's POISON, so the hoisted accesses add the "adjust" peachpy keeps in
# memory (bpfjit.speculation.poisoned_registers is None)
GRID_RELOADED = GRID.replace("    stxdw [%r10-8], %r9\n",
                             "    stxdw [%r10-8], %r9\n    stxdw [%r10-16], %r1\n") \
    .replace("    mov %r5, %r1\n", "    ldxdw %r5, [%r10-16]\n")

# the same grid walked down its columns: a pointer stepped by the width (a register)
COLUMNS = """
    ldxb %r7, [%r1]
    ldxb %r8, [%r1+1]
    mov %r0, 0
    mov %r6, 0
col:
    jge %r6, %r7, done
    mov %r5, %r1
    add %r5, %r6
    mov %r4, 0
down:
    ldxb %r3, [%r5+2]
    mul %r0, 31
    add %r0, %r3
    add %r5, %r7
    add %r4, 1
    jlt %r4, %r8, down
    add %r6, 1
    ja col
done:
    exit
"""
COLUMNS_HEAD = COLUMNS_LOAD = 8

# mem[6 + o + s + i] for i < n (n = mem[0], s = mem[1], o the u32 at mem[2:6], which
# no buffer's length bounds), through r4: s on the first trip, then a copy of the
# counter r9 made at the end of each trip (clang's rotated loops)
LATE_COPY = """
    ldxb %r7, [%r1]
    ldxb %r4, [%r1+1]
    ldxw %r6, [%r1+2]
    add %r6, %r1
    add %r6, 6
    mov %r0, 0
    mov %r9, %r4
loop:
    mov %r5, %r6
    add %r5, %r4
    ldxb %r3, [%r5]
    mul %r0, 31
    add %r0, %r3
    add %r9, 1
    mov %r4, %r9
    jlt %r9, %r7, loop
    exit
"""
LATE_HEAD, LATE_LOAD = 7, 9


# a u32 index from 2^32 - 16 through its wrap, added to mem - 2^32 + 16: mem[i] for
# i < 16, then 2^32 bytes before the buffer; n = mem[0] trips
WRAPPING = """
    lddw %r6, -4294967280
    add %r6, %r1
    lddw %r8, 4294967280
    ldxb %r7, [%r1]
    mov %r0, 0
    mov %r4, 0
loop:
    mov32 %r5, %r8
    add32 %r5, %r4
    mov %r3, %r6
    add %r3, %r5
    ldxb %r3, [%r3]
    add %r0, %r3
    add %r4, 1
    jlt %r4, %r7, loop
    exit
"""
WRAPPING_HEAD, WRAPPING_LOAD = 8, 12


def _plan(text):
    loops = versioned_loops(verify(bpfjit.assemble(text), helpers={}, cache=False))
    return [(loop.header, sorted(loop.unchecked), loop.ranges, loop.copies,
             loop.counted is not None) for loop in loops]


def _hash(cells) -> int:
    value = 0
    for cell in cells:
        value = (value * 31 + cell) & (2**64 - 1)
    return value


def _grid(w: int, h: int, length: int) -> bytearray:
    mem = bytearray([w, h]) + bytearray((7 * i + 3) & 0xFF for i in range(length - 2))
    return mem[:length]


def test_a_u32_index_from_a_stack_slot_is_hoisted():
    # inner = u32([r10-8] + x), x stepped by 1 for trips counted against w at the entry
    wrap = WrappedTerm((4,), (-8,), 0, 0, 1)
    assert _plan(GRID) == [(GRID_HEAD, [GRID_LOAD],
                            (RangeTest((1,), 2, 3, frozenset({GRID_LOAD}), (), 1, None, wrap),),
                            (), True)]


def test_a_pointer_stepped_by_a_register_is_hoisted():
    assert _plan(COLUMNS) == [(COLUMNS_HEAD, [COLUMNS_LOAD],
                               (RangeTest((5,), 2, 3, frozenset({COLUMNS_LOAD}), (), 0, 7),),
                               (), True)]


def test_a_late_copy_of_the_counter_is_checked_at_the_entry():
    # r4 reads as r9 + 0 from the second trip on: the entry also requires r4 == r9
    assert _plan(LATE_COPY) == [(LATE_HEAD, [LATE_LOAD],
                                 (RangeTest((6, 9), 0, 1, frozenset({LATE_LOAD}), (), 1),),
                                 ((4, 9, 0),), True)]


def test_the_reloaded_grid_adjusts_its_accesses():
    from bpfjit.poisoning import poisoned_registers
    prog = bpfjit.assemble(GRID_RELOADED)
    loop, = versioned_loops(verify(prog, helpers={}, cache=False))
    assert loop.ranges and poisoned_registers(prog, loop) is None


@pytest.mark.parametrize("w,h,length", [(40, 30, 1202), (40, 30, 1201), (9, 9, 60),
                                        (255, 3, 767), (255, 3, 766)])
def test_a_reloaded_grid(engine, w, h, length):
    mem = _grid(w, h, length)
    fn = bpfjit.compile(bpfjit.assemble(GRID_RELOADED), engine)
    if 2 + w * h <= length:
        assert fn(mem) == _hash(mem[2:2 + w * h])
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(mem)
        assert info.value.pc == GRID_LOAD + 1       # (one more instruction before it)


def test_a_slot_the_loop_writes_is_not_invariant():
    text = GRID.replace("    mul %r0, 31\n", "    mul %r0, 31\n    stxdw [%r10-8], %r0\n")
    assert [(unchecked, ranges) for _, unchecked, ranges, _, _ in _plan(text)] == [([], ())]


@pytest.mark.parametrize("w,h,length", [(1, 1, 3), (40, 30, 1202), (255, 3, 767),
                                        (5, 200, 1002), (3, 0, 2)])
def test_a_grid_walked_by_rows(engine, w, h, length):
    mem = _grid(w, h, length)
    fn = bpfjit.compile(bpfjit.assemble(GRID), engine)
    assert fn(mem) == _hash(mem[2:2 + w * h])


@pytest.mark.parametrize("w,h,length", [(40, 30, 1201), (255, 3, 700), (5, 200, 3)])
def test_a_grid_short_of_its_cells_traps_at_the_load(engine, w, h, length):
    fn = bpfjit.compile(bpfjit.assemble(GRID), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(_grid(w, h, length))
    assert (info.value.pc, info.value.size, info.value.write) == (GRID_LOAD, 1, False)


@pytest.mark.parametrize("w,h,length", [(40, 30, 1202), (1, 255, 257), (255, 2, 512)])
def test_a_grid_walked_by_columns(engine, w, h, length):
    mem = _grid(w, h, length)
    fn = bpfjit.compile(bpfjit.assemble(COLUMNS), engine)
    assert fn(mem) == _hash(mem[2 + y * w + x] for x in range(w) for y in range(h))


@pytest.mark.parametrize("w,h,length", [(40, 30, 1201), (1, 255, 256), (200, 2, 300)])
def test_a_column_beyond_the_buffer_traps_at_the_load(engine, w, h, length):
    fn = bpfjit.compile(bpfjit.assemble(COLUMNS), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(_grid(w, h, length))
    assert (info.value.pc, info.value.size) == (COLUMNS_LOAD, 1)


@pytest.mark.parametrize("n,s,length", [(40, 0, 46), (200, 3, 209), (40, 2, 46)])
def test_a_late_copy(engine, n, s, length):
    mem = bytearray([n, s, 0, 0, 0, 0]) + bytearray((5 * i + 1) & 0xFF
                                                    for i in range(length - 6))
    fn = bpfjit.compile(bpfjit.assemble(LATE_COPY), engine)
    if 6 + max(s, n - 1) < length:
        # trip 0 reads mem[6 + s]; trip k >= 1 reads mem[6 + s + k] (r9 started at s)
        assert fn(mem) == _hash(mem[6 + s + k] for k in range(max(n - s, 1)))
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(mem)
        assert info.value.pc == LATE_LOAD


def test_a_first_trip_beyond_the_buffer_through_the_copy_traps(engine):
    # r4 = 250 on the first trip (the copy of r9 = 0 only from the second trip): a range
    # test from r9 would cover mem[6 .. 6 + 40) and miss mem[256]
    text = LATE_COPY.replace("    mov %r9, %r4\n", "    mov %r9, 0\n")
    mem = bytearray([40, 250, 0, 0, 0, 0]) + bytearray(60)
    fn = bpfjit.compile(bpfjit.assemble(text), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(mem)
    assert info.value.pc == LATE_LOAD


def test_a_wrapping_index_is_hoisted_only_with_its_wrap_tested():
    wrap = WrappedTerm((4, 8), (), 0, 0, 1)
    assert _plan(WRAPPING) == [(WRAPPING_HEAD, [WRAPPING_LOAD],
                                (RangeTest((6,), 0, 1, frozenset({WRAPPING_LOAD}), (), 1,
                                           None, wrap),), (), True)]


@pytest.mark.parametrize("n", [1, 16])
def test_a_u32_index_short_of_its_wrap(engine, n):
    mem = bytearray([n]) + bytearray(range(1, 64))
    fn = bpfjit.compile(bpfjit.assemble(WRAPPING), engine)
    assert fn(mem) == sum(mem[:n])


@pytest.mark.parametrize("n", [17, 40, 255])
def test_a_u32_index_that_wraps_traps_at_the_load(engine, n):
    # trip 16 reads 2^32 - 16 bytes before the buffer: its range [mem, mem + n) without
    # the wrap would lie in the 64 bytes
    mem = bytearray([n]) + bytearray(range(1, 64))
    fn = bpfjit.compile(bpfjit.assemble(WRAPPING), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(mem)
    assert (info.value.pc, info.value.size) == (WRAPPING_LOAD, 1)


@st.composite
def grid_walks(draw):
    """GRID or COLUMNS with the cell access moved by an offset, widened to 1-8 bytes,
    or made a store, over a w x h grid in a buffer about as long as it needs."""
    text = draw(st.sampled_from([GRID, GRID_RELOADED, COLUMNS]))
    load = "ldxb %r3, [%r5+2]"
    size = draw(st.sampled_from([1, 2, 4, 8]))
    off = draw(st.integers(-3, 6))
    suffix = {1: "b", 2: "h", 4: "w", 8: "dw"}[size]
    if draw(st.booleans()):
        access = f"ldx{suffix} %r3, [%r5{off:+d}]"
    else:
        access = f"stx{suffix} [%r5{off:+d}], %r0\n    mov %r3, 1"
    w, h = draw(st.integers(1, 60)), draw(st.integers(1, 40))
    need = 2 + w * h + off + size - 3
    length = draw(st.integers(max(2, need - 6), max(2, need + 6)))
    return text.replace(load, access), w, h, length


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(grid_walks())
def test_grid_walks_agree_with_the_interpreter(case):
    text, w, h, length = case
    prog = bpfjit.assemble(text)
    seed = _grid(w, h, length)
    expected = _outcome(bpfjit.compile(prog, "interp"), bytearray(seed))
    for engine in bpfjit.engines():
        if engine != "interp":
            assert _outcome(bpfjit.compile(prog, engine), bytearray(seed)) == expected, engine


def test_the_explorer_names_the_range_and_its_motion():
    verdict, why = explorer_verdict(COLUMNS, COLUMNS_LOAD)
    assert verdict == "hoisted"
    assert "the loop at pc 8 is entered through one test that the bytes [r5+2, r5+3) at " \
        "its entry, moved +r7 a trip over the trips it counts, lie in the buffer" in why
