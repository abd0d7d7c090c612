"""peachpy turns a jump over one register move into a cmov where the data decides the
jump (backends/x86selects.py), and leaves the jump where a cmov would only add to it:
a value that goes on to form an address, or a decision a jump tests again right after.
Results and budget exhaustion must not change, on any engine."""

from __future__ import annotations

import random

import pytest

import bpfjit

from test_x86 import lines_by_pc

# for each 4-byte record: the smaller of bytes 0 and 1 summed into r0 (a running
# minimum of loaded data), and whether bytes 2 and 3 differ counted in r6 (a boolean
# made by a jump over `mov %r9, 0`); returns count << 32 | sum
MIN_AND_DIFFER = """
    mov %r0, 0
    mov %r6, 0
    mov %r3, %r2
    rsh %r3, 2
    jeq %r3, 0, out
    mov %r4, %r1
loop:
    ldxb %r5, [%r4]
    ldxb %r7, [%r4+1]
    mov %r8, %r5
    jle %r5, %r7, +1
    mov %r8, %r7
    add %r0, %r8
    ldxb %r5, [%r4+2]
    ldxb %r7, [%r4+3]
    mov %r9, 1
    jne %r5, %r7, +1
    mov %r9, 0
    add %r6, %r9
    add %r4, 4
    add %r3, -1
    jne %r3, 0, loop
out:
    lsh %r6, 32
    or %r0, %r6
    exit
"""

# the same minimum, but the chosen value is the next record's offset (a walk through
# the buffer): as an address it stays a jump, the CPU running ahead on its guess
CHOSEN_OFFSET = """
    mov %r0, 0
    mov %r3, 0
    mov %r6, 16
loop:
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    ldxb %r7, [%r4+1]
    mov %r3, %r5
    jle %r5, %r7, +1
    mov %r3, %r7
    and %r3, 15
    add %r0, %r3
    add %r6, -1
    jne %r6, 0, loop
    exit
"""

# a boolean made by a jump and then tested by another jump over more than one move:
# the second jump stays, so the first does too
TESTED_AGAIN = """
    mov %r0, 0
    ldxb %r5, [%r1]
    ldxb %r7, [%r1+1]
    mov %r9, 1
    jgt %r5, %r7, +1
    mov %r9, 0
    jeq %r9, 0, out
    mov %r0, 7
    add %r0, %r5
out:
    exit
"""

# the same decision made twice, the second time by a jump over one move, itself a
# select: r9 = a > b and r0 = max(a, b), returned summed; both become cmovs (no jump
# is left to mispredict)
TESTED_BY_A_SELECT = """
    ldxb %r5, [%r1]
    ldxb %r7, [%r1+1]
    mov %r9, 1
    jgt %r5, %r7, +1
    mov %r9, 0
    mov %r0, %r5
    jgt %r5, %r7, +1
    mov %r0, %r7
    add %r0, %r9
    exit
"""

# a loaded byte against an immediate: r0 counts the bytes above 127 through a jump
# over `mov %r9, 0` (pc 7); a test against a constant is as much the data's as one
# between two loaded values
ABOVE_AN_IMMEDIATE = """
    mov %r0, 0
    mov %r3, %r2
    jeq %r3, 0, out
    mov %r4, %r1
loop:
    ldxb %r5, [%r4]
    mov %r9, 1
    jgt %r5, 127, +1
    mov %r9, 0
    add %r0, %r9
    add %r4, 1
    add %r3, -1
    jne %r3, 0, loop
out:
    exit
"""

# a function's result is data as a load's is: the byte `first` returns, against 99,
# decides the move at pc 4
AFTER_A_CALL = """
    call local first
    mov %r9, 1
    jgt %r0, 99, +1
    mov %r9, 0
    mov %r0, %r9
    exit
first:
    ldxb %r0, [%r1]
    exit
"""


def cmovs_by_pc(text: str) -> dict[int, int]:
    """pc -> how many cmov instructions peachpy emitted under that pc's mark (bounds
    checks have cmovs of their own, under the access's pc)."""
    counts = {pc: sum(": cmov" in line for line in lines)
              for pc, lines in lines_by_pc(text).items()}
    return {pc: n for pc, n in counts.items() if n}


def expected_min_and_differ(data: bytes) -> int:
    total = differ = 0
    for i in range(0, len(data) - len(data) % 4, 4):
        total += min(data[i], data[i + 1])
        differ += data[i + 2] != data[i + 3]
    return differ << 32 | total


needs_peachpy = pytest.mark.skipif("peachpy" not in bpfjit.engines(),
                                   reason="the peachpy engine is not available here")


@needs_peachpy
def test_jumps_the_data_decides_become_cmovs():
    # the moves at pcs 10 (`mov %r8, %r7`) and 16 (`mov %r9, 0`): a cmov each, in each
    # copy of the loop (checked, and without checks when the buffer is long enough)
    counts = cmovs_by_pc(MIN_AND_DIFFER)
    assert counts.get(10, 0) >= 1 and counts.get(10) == counts.get(16)


@needs_peachpy
@pytest.mark.parametrize("text, move", [(CHOSEN_OFFSET, 10), (TESTED_AGAIN, 5)],
                         ids=["address", "tested-again"])
def test_jumps_a_cmov_would_slow_stay_jumps(text, move):
    assert move not in cmovs_by_pc(text)


@needs_peachpy
@pytest.mark.parametrize("text, moves", [(TESTED_BY_A_SELECT, {4, 7}),
                                         (ABOVE_AN_IMMEDIATE, {7}), (AFTER_A_CALL, {3})],
                         ids=["tested-by-a-select", "immediate", "after-a-call"])
def test_more_jumps_the_data_decides_become_cmovs(text, moves):
    assert moves <= set(cmovs_by_pc(text))


@pytest.mark.parametrize("data, expected", [
    (b"\x05\x03", 6), (b"\x03\x05", 5), (b"\x04\x04", 4)])
def test_a_select_tested_by_a_select_on_every_engine(engine, data, expected):
    # max(a, b) + (a > b)
    fn = bpfjit.compile(bpfjit.assemble(TESTED_BY_A_SELECT), engine, cache=False)
    assert fn(data) == expected


@pytest.mark.parametrize("seed", range(3))
def test_the_bytes_above_an_immediate_and_after_a_call_on_every_engine(engine, seed):
    rng = random.Random(seed)
    data = bytes(rng.choice((0, 99, 100, 127, 128, 255)) for _ in range(rng.randint(1, 60)))
    count = bpfjit.compile(bpfjit.assemble(ABOVE_AN_IMMEDIATE), engine, cache=False)
    assert count(data) == sum(b > 127 for b in data)
    after = bpfjit.compile(bpfjit.assemble(AFTER_A_CALL), engine, cache=False)
    assert after(data) == (data[0] > 99)


@pytest.mark.parametrize("seed", range(4))
def test_the_minimum_and_the_differing_pairs_on_every_engine(engine, seed):
    rng = random.Random(seed)
    data = bytes(rng.choice((0, 1, 2, 200, 255)) for _ in range(4 * rng.randint(0, 40) + seed))
    fn = bpfjit.compile(bpfjit.assemble(MIN_AND_DIFFER), engine, cache=False)
    assert fn(data) == expected_min_and_differ(data)


def test_the_chosen_offsets_on_every_engine(engine):
    data = bytes(range(7, 7 + 40))
    total, at = 0, 0
    for _ in range(16):
        at = min(data[at], data[at + 1]) & 15
        total += at
    fn = bpfjit.compile(bpfjit.assemble(CHOSEN_OFFSET), engine, cache=False)
    assert fn(data) == total


def outcome(prog, engine: str, budget: int, data: bytes):
    try:
        return bpfjit.compile(prog, engine, budget=budget, cache=False)(data)
    except bpfjit.BudgetExceeded as exc:
        return ("budget", exc.pc)


def test_the_budget_runs_out_where_the_interpreter_says(engine):
    # the moves a cmov does or not cost one instruction or none, as the jumps did
    prog = bpfjit.assemble(MIN_AND_DIFFER)
    data = bytes([3, 1, 5, 5, 2, 9, 4, 6, 1, 1, 8, 8])
    budgets = range(1, 60)
    reference = [outcome(prog, "interp", budget, data) for budget in budgets]
    assert reference[-1] == expected_min_and_differ(data)
    assert [outcome(prog, engine, budget, data) for budget in budgets] == reference


# for each 3-byte record, min(min(a, b), c) summed: the second minimum is the loop's
# last step, both its ways going round (`jle %r6, %r9, next; mov %r8, %r9; ja next`,
# on a narrowed copy of the first minimum), as clang ends an edit distance's or a time
# warping's cell; a chain of minimums, each decided by the data, is converted whole
# (the moves at pcs 16 and 20)
CHAIN_OF_MINIMUMS = """
    mov %r0, 0
    mov %r3, %r2
    div %r3, 3
    mov %r8, 0
    jeq %r3, 0, out
    mov %r4, %r1
    ja first
next:
    add %r0, %r8
    add %r4, 3
    add %r3, -1
    jeq %r3, 0, out
first:
    ldxb %r5, [%r4]
    ldxb %r7, [%r4+1]
    ldxb %r9, [%r4+2]
    mov %r8, %r5
    jle %r5, %r7, +1
    mov %r8, %r7
    mov %r6, %r8
    and %r6, 0xffff
    jle %r6, %r9, next
    mov %r8, %r9
    ja next
out:
    exit
"""

# a median of three, max(min(a, b), min(max(a, b), c)): min and max of the same pair
# test it twice, but each test is itself a select, so the whole median becomes cmovs
# (corpus `ringmod`, a ring buffer's moving median, on 32 varied inputs: 3.18x native
# with its inner jumps kept, 1.07x converted whole; 1.30x and 1.05x on its one fixed
# input)
MEDIAN = """
    ldxb %r5, [%r1]
    ldxb %r6, [%r1+1]
    ldxb %r8, [%r1+2]
    mov %r7, %r6
    jgt %r5, %r6, +1
    mov %r7, %r5
    jgt %r6, %r5, +1
    mov %r6, %r5
    jgt %r8, %r6, +1
    mov %r6, %r8
    mov %r0, %r6
    jgt %r6, %r7, +1
    mov %r0, %r7
    exit
"""


def expected_chain(data: bytes) -> int:
    return sum(min(data[i:i + 3]) for i in range(0, len(data) - len(data) % 3, 3))


@needs_peachpy
def test_a_chain_of_minimums_becomes_cmovs_to_the_loops_end():
    counts = cmovs_by_pc(CHAIN_OF_MINIMUMS)
    assert counts.get(16, 0) >= 1 and counts.get(20) == counts.get(16)


@needs_peachpy
def test_a_median_of_three_becomes_cmovs_whole():
    assert {5, 7, 9, 12} <= set(cmovs_by_pc(MEDIAN))


@pytest.mark.parametrize("seed", range(4))
def test_the_chain_of_minimums_on_every_engine(engine, seed):
    rng = random.Random(seed)
    data = bytes(rng.choice((0, 1, 7, 200, 255)) for _ in range(3 * rng.randint(0, 40) + seed))
    fn = bpfjit.compile(bpfjit.assemble(CHAIN_OF_MINIMUMS), engine, cache=False)
    assert fn(data) == expected_chain(data)


@pytest.mark.parametrize("abc", [(1, 2, 3), (3, 2, 1), (2, 3, 1), (5, 5, 0), (0, 9, 9),
                                 (7, 1, 4)])
def test_the_median_on_every_engine(engine, abc):
    fn = bpfjit.compile(bpfjit.assemble(MEDIAN), engine, cache=False)
    assert fn(bytes(abc)) == sorted(abc)[1]


def test_the_budget_runs_out_where_the_interpreter_says_in_the_chain(engine):
    # the move and its `ja`, two instructions charged under the cmov's condition
    prog = bpfjit.assemble(CHAIN_OF_MINIMUMS)
    data = bytes([3, 1, 5, 5, 2, 9, 4, 6, 1, 1, 8, 8, 9, 9, 0])
    budgets = range(1, 90)
    reference = [outcome(prog, "interp", budget, data) for budget in budgets]
    assert reference[-1] == expected_chain(data)
    assert [outcome(prog, engine, budget, data) for budget in budgets] == reference


def test_the_jumps_the_data_decides_are_found_for_every_backend():
    # the jumps just before the moves peachpy makes cmovs (the tests above): the
    # chain's both, the median's four, the minimum's and the boolean's; none where the
    # moved value forms an address or its decision is tested again by a jump
    from bpfjit.backends.selectshapes import decided_jumps
    assert decided_jumps(bpfjit.assemble(CHAIN_OF_MINIMUMS)) == {15, 19}
    assert decided_jumps(bpfjit.assemble(MEDIAN)) == {4, 6, 8, 11}
    assert decided_jumps(bpfjit.assemble(MIN_AND_DIFFER)) == {9, 15}
    assert decided_jumps(bpfjit.assemble(CHOSEN_OFFSET)) == set()
    assert decided_jumps(bpfjit.assemble(TESTED_AGAIN)) == set()


@pytest.mark.skipif("llvm" not in bpfjit.engines(), reason="the llvm engine is not available here")
def test_llvm_marks_the_jumps_the_data_decides_unpredictable():
    # kept selects: LLVM's x86 cmov converter would make them jumps again
    fn = bpfjit.compile(bpfjit.assemble(CHAIN_OF_MINIMUMS), "llvm", cache=False, keep_ir=True)
    marked = [line for line in fn.extra["ir"].splitlines() if "!unpredictable" in line]
    # (in the loop and in its budget-free copy)
    assert marked and all(line.lstrip().startswith("br i1") for line in marked)
    plain = bpfjit.compile(bpfjit.assemble(CHOSEN_OFFSET), "llvm", cache=False, keep_ir=True)
    assert "!unpredictable" not in plain.extra["ir"]


# for each 2-byte record, min(a + 1 unless a is 255, b) summed, then each record's
# first byte clamped to at most 200 through a register holding 200, summed into r6:
# the minimum's operands were loaded before the saturating increment's diamond, and
# count as this trip's data at its join (the move at pc 12 becomes a cmov); the clamp
# compares with a constant clang put in a register, as predictable as an immediate
# (the move at pc 18 stays a jump)
AFTER_A_DIAMOND = """
    mov %r0, 0
    mov %r6, 0
    mov %r3, %r2
    rsh %r3, 1
    jeq %r3, 0, out
    mov %r4, %r1
loop:
    ldxb %r5, [%r4]
    ldxb %r7, [%r4+1]
    jeq %r5, 255, +1
    add %r5, 1
    mov %r8, %r5
    jle %r5, %r7, +1
    mov %r8, %r7
    add %r0, %r8
    ldxb %r5, [%r4]
    mov %r9, 200
    mov %r8, %r5
    jgt %r9, %r5, +1
    mov %r8, %r9
    add %r6, %r8
    add %r4, 2
    add %r3, -1
    jne %r3, 0, loop
out:
    lsh %r6, 32
    or %r0, %r6
    exit
"""


def expected_after_a_diamond(data: bytes) -> int:
    total = clamped = 0
    for i in range(0, len(data) - len(data) % 2, 2):
        a = data[i] + (data[i] != 255)
        total += min(a, data[i + 1])
        clamped += min(data[i], 200)
    return clamped << 32 | total


@needs_peachpy
def test_a_minimum_after_a_diamond_becomes_a_cmov_and_a_clamp_does_not():
    counts = cmovs_by_pc(AFTER_A_DIAMOND)
    assert counts.get(12, 0) >= 1 and 18 not in counts


@pytest.mark.parametrize("seed", range(4))
def test_the_minimum_after_a_diamond_on_every_engine(engine, seed):
    rng = random.Random(seed)
    data = bytes(rng.choice((0, 1, 199, 200, 201, 254, 255))
                 for _ in range(2 * rng.randint(0, 40) + seed % 2))
    fn = bpfjit.compile(bpfjit.assemble(AFTER_A_DIAMOND), engine, cache=False)
    assert fn(data) == expected_after_a_diamond(data)


# rmq's query (corpus/plain/rmq.c): for each pair of bytes, the two low nibbles put in
# order (`if (l > r) swap`, two selects on one compare) and a stack table read at
# both this trip, t[i] = 3 * i; the sum of t[hi] - t[lo].  The moved values form
# addresses, but only this trip's: no later trip waits on them, so the jumps become
# cmovs (with random pairs a jump is mispredicted every other trip); CHOSEN_OFFSET's
# moved value is the next trip's address, and stays a jump
ORDERED_PAIR = """
    mov %r0, 0
    mov %r6, 0
fill:
    mov %r7, %r10
    add %r7, -16
    add %r7, %r6
    mov %r8, %r6
    mul %r8, 3
    stxb [%r7], %r8
    add %r6, 1
    jlt %r6, 16, fill
    mov %r3, %r2
    rsh %r3, 1
    jeq %r3, 0, out
    mov %r4, %r1
loop:
    ldxb %r5, [%r4]
    ldxb %r7, [%r4+1]
    and %r5, 15
    and %r7, 15
    mov %r8, %r5
    jle %r5, %r7, +1
    mov %r8, %r7
    mov %r9, %r7
    jle %r5, %r7, +1
    mov %r9, %r5
    mov %r6, %r10
    add %r6, -16
    add %r6, %r8
    ldxb %r6, [%r6]
    mov %r7, %r10
    add %r7, -16
    add %r7, %r9
    ldxb %r7, [%r7]
    sub %r7, %r6
    add %r0, %r7
    add %r4, 2
    add %r3, -1
    jne %r3, 0, loop
out:
    exit
"""
ORDER_JUMPS = (19, 22)          # `jle %r5, %r7, +1` twice


def test_values_moved_into_this_trips_addresses_are_selects():
    from bpfjit.backends.selectshapes import decided_jumps
    prog = bpfjit.assemble(ORDERED_PAIR)
    assert all(bpfjit.asm.format_insn(prog.at(pc)) == "jle %r5, %r7, +1"
               for pc in ORDER_JUMPS)
    assert decided_jumps(prog) == set(ORDER_JUMPS)


@needs_peachpy
def test_values_moved_into_this_trips_addresses_become_cmovs():
    counts = cmovs_by_pc(ORDERED_PAIR)
    assert all(counts.get(pc + 1, 0) >= 1 for pc in ORDER_JUMPS)


@pytest.mark.parametrize("seed", range(3))
def test_the_ordered_pairs_on_every_engine(engine, seed):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    data = bytes(random.Random(seed).randrange(256) for _ in range(64 + seed))
    expected = sum(3 * abs((data[i] & 15) - (data[i + 1] & 15))
                   for i in range(0, len(data) - 1, 2))
    assert bpfjit.compile(bpfjit.assemble(ORDERED_PAIR), engine)(bytearray(data)) == expected


# pairs i < j of the first 16 bytes with a[i] > a[j] (inversions), counted through a
# flag that the inner loop's last step picks between two constants and carries round:
# `mov %r6, 1; jgt %r3, %r5, inner; mov %r6, 0; ja inner`, as clang ends `inv += a[i] >
# a[j]`.  Two loaded values' order is the data's: the move (pc 19) becomes a cmov.  The
# same flag of their equality (`jeq`) stays a jump: mostly one way on real data.
INVERSIONS = """
    mov %r9, %r2
    jle %r9, 16, +1
    mov %r9, 16
    mov %r0, 0
    mov %r7, 0
outer:
    jge %r7, %r9, out
    mov %r4, %r1
    add %r4, %r7
    ldxb %r3, [%r4]
    mov %r8, %r7
    mov %r6, 0
inner:
    add %r0, %r6
    add %r8, 1
    jge %r8, %r9, next
    mov %r4, %r1
    add %r4, %r8
    ldxb %r5, [%r4]
    mov %r6, 1
    jgt %r3, %r5, inner
    mov %r6, 0
    ja inner
next:
    add %r7, 1
    ja outer
out:
    exit
"""
INVERSION_JUMP = 18
EQUAL_PAIRS = INVERSIONS.replace("jgt %r3, %r5, inner", "jeq %r3, %r5, inner")


def expected_inversions(data: bytes, equal: bool = False) -> int:
    a = data[:16]
    return sum((a[i] == a[j]) if equal else (a[i] > a[j])
               for i in range(len(a)) for j in range(i + 1, len(a)))


def test_an_ordered_flag_closing_a_loop_is_decided_by_the_data():
    from bpfjit.backends.selectshapes import decided_jumps
    prog = bpfjit.assemble(INVERSIONS)
    assert bpfjit.asm.format_insn(prog.at(INVERSION_JUMP)).startswith("jgt %r3, %r5")
    assert decided_jumps(prog) == {INVERSION_JUMP}
    assert decided_jumps(bpfjit.assemble(EQUAL_PAIRS)) == set()


@needs_peachpy
def test_an_ordered_flag_closing_a_loop_becomes_a_cmov():
    assert cmovs_by_pc(INVERSIONS).get(INVERSION_JUMP + 1, 0) >= 1
    assert INVERSION_JUMP + 1 not in cmovs_by_pc(EQUAL_PAIRS)


@pytest.mark.parametrize("seed", range(3))
def test_the_inversions_on_every_engine(engine, seed):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    rng = random.Random(seed)
    data = bytes(rng.choice((1, 2, 3, 200, 255)) for _ in range(5 + 6 * seed))
    for text, equal in ((INVERSIONS, False), (EQUAL_PAIRS, True)):
        fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
        assert fn(bytearray(data)) == expected_inversions(data, equal)


def test_the_budget_runs_out_where_the_interpreter_says_in_the_flag(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog = bpfjit.assemble(INVERSIONS)
    data = bytes([3, 1, 5, 5, 2, 9])
    budgets = range(1, 400, 4)
    reference = [outcome(prog, "interp", budget, data) for budget in budgets]
    assert reference[-1] == expected_inversions(data)
    assert [outcome(prog, engine, budget, data) for budget in budgets] == reference
