"""Counted loops without the budget's test (bpfjit.tripcount): a loop whose trips its exit
test bounds runs a copy that never tests the budget when, at its entry, the budget
covers the most trips times the costliest trip.  The budget must still run out at the
same pc after the same work as in the interpreter, whichever copy runs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.checkplan import versioned_loops
from bpfjit.tripcount import RANGE, StepBound, TripBound
from bpfjit.verifier import verify
from test_verifier import BUFFER_LOOP


HELPERS = {7: lambda *args: 0}


def bounds(text: str) -> list[tuple[int, TripBound | None]]:
    prog = bpfjit.assemble(text)
    return [(loop.header, loop.trips)
            for loop in versioned_loops(verify(prog, helpers=HELPERS, cache=False))]


# r0 = 0 + 1 + ... + (len - 1): the test after the increment, continuing while r3 < len
UP = """
    mov %r0, 0
    mov %r3, 0
loop:
    add %r0, %r3
    add %r3, 1
    jlt %r3, %r2, loop
    exit
"""

# counting len down to 1, signed: continuing while r3 > 0 after the decrement
DOWN = """
    mov %r0, 0
    mov %r3, %r2
loop:
    add %r0, %r3
    sub %r3, 1
    jsgt %r3, 0, loop
    exit
"""

# the test at the head, as clang emits an unrotated loop: while (i < len) { ...; i += 2; }
HEAD_TESTED = """
    mov %r0, 0
    mov %r3, 0
head:
    jge %r3, %r2, out
    add %r0, 1
    add %r3, 2
    ja head
out:
    exit
"""

# clang's checksum shape: the register tested (r4) is the counter's previous value plus
# 2, a derived induction variable; continuing while r4 + 4 <= len
DERIVED = """
    mov %r0, 0
    mov %r3, 0
    mov %r4, 0
loop:
    add %r0, 1
    add %r3, 2
    mov %r5, %r4
    add %r5, 4
    mov %r4, %r3
    jle %r5, %r2, loop
    exit
"""

# up by one to len, by inequality, with a branch in the body (the costlier trip: 4)
NOT_EQUAL = """
    mov %r0, 0
    mov %r3, 0
loop:
    jset %r3, 1, odd
    add %r0, 1
odd:
    add %r3, 1
    jne %r3, %r2, loop
    exit
"""

# clang's count down over a 32-bit index it keeps as a 64-bit offset from a bound (as
# in `for (i = n - 4; i >= 0; i--)`): the tested sum q + r3 (q = r4 = len, r3 = -k in
# trip k) goes on while it is above 0, signed: len trips (one when len is 0)
SUMMED = """
    mov %r0, 0
    mov %r3, 0
    mov %r4, %r2
loop:
    add %r0, 1
    sub %r3, 1
    mov %r5, %r4
    add %r5, %r3
    jsgt %r5, 0, loop
    exit
"""

# up by 4 to len, by inequality (clang's `i != 256` over 4-byte words): len / 4 trips
# when len is a positive multiple of 4; any other len is never met, and the loop runs
# until the budget ends it
STEPPED = """
    mov %r0, 0
    mov %r3, 0
loop:
    add %r0, 1
    add %r3, 4
    jne %r3, %r2, loop
    exit
"""

# a counted loop that calls a subprogram without loops: a trip is charged the loop's five
# instructions and the callee's longest path (five, when r1 >= 3); r0 = the sum of f(i)
# for i < max(len, 1), f(i) = i below 3, else i + 20
CALLING = """
    mov %r7, %r2
    mov %r6, 0
    mov %r8, 0
loop:
    mov %r1, %r6
    call local f
    add %r8, %r0
    add %r6, 1
    jlt %r6, %r7, loop
    mov %r0, %r8
    exit
f:
    mov %r0, %r1
    jlt %r1, 3, small
    add %r0, 10
    add %r0, 10
small:
    exit
"""


def test_bounds_of_the_shapes_compilers_emit():
    # worked out from each loop's text: base register, step, the offset of the tested
    # value from base@entry + step * k, the bound, and the longest trip in instructions
    assert bounds(UP) == [(2, TripBound(3, 1, 1, 2, 0, "<=", True, False, 3))]
    assert bounds(DOWN) == [(2, TripBound(3, -1, -1, None, 0, ">=", True, True, 3))]
    assert bounds(HEAD_TESTED) == [(2, TripBound(3, 2, 0, 2, 0, "<=", True, False, 4))]
    # r4@head(k) = r3@head(k-1) + 2 = 2k for k >= 1 and r5 = r4 + 4: offset 4
    assert bounds(DERIVED) == [(3, TripBound(3, 2, 4, 2, 0, "<=", False, False, 6))]
    assert bounds(NOT_EQUAL) == [(2, TripBound(3, 1, 1, 2, 0, "!=", False, False, 4))]
    # the sum r4 + r3, r3 stepped by -1: n = 0 - r4, compared with r3 - 1 (as DOWN)
    assert bounds(SUMMED) == [(3, TripBound(3, -1, -1, 4, 0, ">=", True, True, 5, True))]
    assert bounds(STEPPED) == [(2, TripBound(3, 4, 4, 2, 0, "!=", False, False, 3))]
    assert bounds(CALLING) == [(3, TripBound(6, 1, 1, 7, 0, "<=", True, False, 5 + 5))]


def test_an_unsigned_sum_has_no_bound():
    # r4 + r3 > 0 unsigned: with r4 = 2 and r3 = -1 the sum is 1, but r3 - 1 and -r4
    # order the other way round; the sum cannot be moved to the bound's side
    assert bounds(SUMMED.replace("jsgt", "jgt")) == []


# the loop head's runs, counted by hand for each buffer length
@pytest.mark.parametrize("text,runs", [
    (UP, {0: 1, 1: 1, 2: 2, 9: 9}),                 # max(len, 1)
    (DOWN, {1: 1, 2: 2, 9: 9}),                     # len
    (HEAD_TESTED, {0: 1, 1: 2, 2: 2, 3: 3, 9: 6}),  # 1 + ceil(len / 2)
    (DERIVED, {0: 1, 3: 1, 4: 2, 5: 2, 10: 5}),     # r5 = 4, 6, ...: first k with 2k+4 > len, + 1
    (NOT_EQUAL, {2: 2, 9: 9}),                      # len
    (SUMMED, {0: 1, 1: 1, 2: 2, 9: 9}),             # max(len, 1)
    (STEPPED, {8: 2, 12: 3, 64: 16}),               # len / 4
])
def test_the_bound_is_never_below_the_runs_taken(text, runs):
    bound = bounds(text)[0][1]
    for length, taken in runs.items():
        base = length if text is DOWN else 0
        n = bound.bound_imm + (length if bound.bound_reg == 2 else 0)
        if bound.bound_negated:
            n = bound.bound_imm - length
        most = bound.trips(base, n)
        assert most is not None and taken <= most <= taken + 2, (length, taken, most)


@pytest.mark.parametrize("length, expected", [(0, 0), (1, 0), (7, 0 + 1 + 2 + 23 + 24 + 25 + 26)])
def test_a_loop_calling_a_subprogram_computes_alike_on_every_engine(engine, length, expected):
    assert bpfjit.compile(bpfjit.assemble(CALLING), engine)(bytearray(length)) == expected


def test_out_of_range_or_wrong_side_entries_have_no_bound():
    up = bounds(UP)[0][1]
    assert up.trips(0, RANGE) is not None
    assert up.trips(0, RANGE + 1) is None           # n too large: it could wrap
    assert up.trips(-1, 5) is None                  # unsigned: a "negative" start
    ne = bounds(NOT_EQUAL)[0][1]
    assert ne.trips(0, 0) is None                   # already past n: ~2^64 trips
    assert ne.trips(0, 1) == 2                      # equal in the first trip: one trip
    stepped = bounds(STEPPED)[0][1]
    assert stepped.trips(0, 8) is not None
    assert stepped.trips(0, 10) is None             # 4, 8, 12, ...: never 10
    assert stepped.trips(0, -8) is None             # behind: met only after a wrap


@pytest.mark.parametrize("text", [
    # the bound changes inside the loop
    "mov %r0, 0\nl:\nadd %r0, 1\nsub %r2, 1\njlt %r0, %r2, l\nexit",
    # a call in the body
    "mov %r6, 0\nl:\ncall 7\nadd %r6, 1\njlt %r6, 3, l\nmov %r0, 0\nexit",

    # the step comes from a register
    "mov %r0, 0\nl:\nadd %r0, %r2\njlt %r0, 100, l\nexit",
    # a 32-bit comparison (wraps at 2^32)
    "mov %r0, 0\nl:\nadd %r0, 1\njlt32 %r0, %r2, l\nexit",
    # counting up towards a lower bound (runs until it wraps)
    "mov %r0, 0\nl:\nadd %r0, 1\njgt %r0, %r2, l\nexit",
])
def test_loops_without_a_bound(text):
    assert all(trips is None for _, trips in bounds(text))


@pytest.mark.parametrize("callee", [
    "f:\nsub %r1, 1\njne %r1, 0, f\nmov %r0, 0\nexit",        # a loop back to its entry
    "f:\nmov %r0, 0\nm:\nadd %r0, 1\njlt %r0, 3, m\nexit",    # a loop further in
    "f:\ncall 7\nexit",                                       # a helper call
    "f:\ncall local g\nexit\ng:\nmov %r0, 0\nm:\nadd %r0, 1\njlt %r0, 3, m\nexit",
])
def test_a_loop_calling_what_has_no_bound_has_none(callee):
    # the loop at pc 1 calls f; f's own loop may be bounded, the caller's is not
    text = "mov %r6, 0\nl:\nmov %r1, 3\ncall local f\nadd %r6, 1\njlt %r6, 3, l\n" \
           "mov %r0, 0\nexit\n" + callee
    assert dict(bounds(text)).get(1) is None


def test_only_the_inner_loop_of_a_nest_is_bounded():
    nest = """
        mov %r0, 0
        mov %r6, 0
    outer:
        mov %r7, 0
    inner:
        add %r0, 1
        add %r7, 1
        jlt %r7, 4, inner
        add %r6, 1
        jlt %r6, 3, outer
        exit
    """
    assert bounds(nest) == [(3, TripBound(7, 1, 1, None, 4, "<=", True, False, 3))]
    assert bpfjit.compile(bpfjit.assemble(nest), "interp")() == 12


# ---- the budget runs out where the interpreter says -----------------------------------

# counting down by 2 from 17 while r3 >= 0 (or > 0), unsigned: past 1 the counter wraps
# to 2^64 - 1 and the loop never ends; likewise from 1 while r3 >= 2, where the first
# trip already wraps.  A bound that forgot the wrap let the budget-free copy run forever
@pytest.mark.parametrize("start,jump", [(17, "jge %r3, 0"), (17, "jgt %r3, 0"),
                                        (17, "jge %r3, %r4"), (1, "jge %r3, 2")])
def test_an_unsigned_count_down_past_zero_runs_out_of_budget(engine, start, jump):
    text = f"mov %r0, 0\nmov %r3, {start}\nmov %r4, 0\nl:\nadd %r0, 1\nsub %r3, 2\n{jump}, l\nexit"
    with pytest.raises(bpfjit.BudgetExceeded) as info:
        bpfjit.compile(bpfjit.assemble(text), engine, budget=1000)()
    assert info.value.pc == 3


def outcome(prog, engine, budget, mem):
    try:
        return bpfjit.compile(prog, engine, budget=budget)(mem)
    except bpfjit.BudgetExceeded as exc:
        return ("budget", exc.pc)


# a counted loop, then a second loop in which the budget left by the first runs out:
# the first loop's charge must be exact whichever copy ran
TWO_LOOPS = """
    mov %r0, 0
    mov %r3, 0
first:
    add %r0, %r3
    add %r3, 1
    jlt %r3, %r2, first
    mov %r6, 0
second:
    add %r6, 1
    jlt %r6, 10, second
    exit
"""


@pytest.mark.parametrize("text", [UP, DOWN, HEAD_TESTED, DERIVED, NOT_EQUAL, TWO_LOOPS,
                                  SUMMED, STEPPED, CALLING],
                         ids=["up", "down", "head-tested", "derived", "not-equal", "two",
                              "summed", "stepped", "calling"])
@pytest.mark.parametrize("length", [0, 1, 7, 24])
def test_budget_exhaustion_matches_the_interpreter(engine, text, length):
    prog = bpfjit.assemble(text)
    mem = bytearray(length)
    budgets = range(1, 8 * length + 60)
    reference = [outcome(prog, "interp", budget, mem) for budget in budgets]
    assert [outcome(prog, engine, budget, mem) for budget in budgets] == reference
    assert reference[0] == ("budget", 0)


def test_the_budget_free_copy_is_vectorised():
    # the byte sum of the buffer: with its loop free of exits, LLVM vectorises it
    text = BUFFER_LOOP
    prog = bpfjit.assemble(text)
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    fn = bpfjit.compile(prog, "llvm", keep_ir=True)
    assert " x i8>" in fn.extra["optimised_ir"]          # a vector of bytes
    data = bytes(range(256)) * 3
    assert fn(bytearray(data)) == sum(data)


# a loop whose operands hypothesis picks: start, bound, step, comparison, operand order
# and budget; values near 2^61 and 2^63 exercise the entry test's range checks
VALUES = st.sampled_from([0, 1, 2, 5, 17, -1, -3, RANGE - 1, RANGE, RANGE + 1, 1 << 63,
                          (1 << 63) - 2, -RANGE, -RANGE - 1])
JUMPS = ["jlt", "jle", "jgt", "jge", "jslt", "jsle", "jsgt", "jsge", "jne", "jeq"]


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=VALUES, bound=VALUES, step=st.sampled_from([1, 2, 3, 4, -1, -2, -4]),
       jump=st.sampled_from(JUMPS), swapped=st.booleans(), at_head=st.booleans(),
       budget=st.one_of(st.integers(1, 120), st.just("bound")))
def test_random_counted_loops_agree_with_the_interpreter(engine, start, bound, step, jump,
                                                         swapped, at_head, budget):
    test = f"{jump} %r4, %r3, {{}}" if swapped else f"{jump} %r3, %r4, {{}}"
    if at_head:
        body = f"head:\n{test.format('out')}\nadd %r0, 1\nadd %r3, {step}\nja head\nout:"
    else:
        body = f"loop:\nadd %r0, 1\nadd %r3, {step}\n{test.format('loop')}"
    text = f"""
        mov %r0, 0
        lddw %r3, {start % 2**64:#x}
        lddw %r4, {bound % 2**64:#x}
        {body}
        exit
    """
    prog = bpfjit.assemble(text)
    if budget == "bound":
        # just what the fast copy's entry test asks for (3 for the entry block): a
        # bound below the trips really taken would let the loop overrun the budget
        # (a bound of 2^61 trips would be a budget no engine runs out of in a test)
        # (a StepBound's entries are bounded by the verifier's interval at the head)
        loops = versioned_loops(verify(prog, helpers=HELPERS, cache=False))
        trips = loops[0].trips if loops else None
        if isinstance(trips, StepBound):
            most = loops[0].most_trips
        else:
            n = bound if trips is not None and trips.bound_reg is not None else 0
            most = trips and trips.trips(start, n + trips.bound_imm)
        budget = 3 + most * trips.iteration_cost if most and most < 10_000 else 200
    assert outcome(prog, engine, budget, None) == outcome(prog, "interp", budget, None)


# the tested value is a counter plus an invariant register r4 (SUMMED's shape), compared
# with an immediate; sums past 2^63 wrap, which the entry test must not count on
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=VALUES, addend=VALUES, limit=st.sampled_from([0, 1, -1, 7, -20]),
       step=st.sampled_from([1, 2, 4, -1, -2, -4]),
       jump=st.sampled_from(["jslt", "jsle", "jsgt", "jsge", "jne", "jeq"]),
       budget=st.integers(1, 120))
def test_random_summed_loops_agree_with_the_interpreter(engine, start, addend, limit, step,
                                                        jump, budget):
    text = f"""
        mov %r0, 0
        lddw %r3, {start % 2**64:#x}
        lddw %r4, {addend % 2**64:#x}
    loop:
        add %r0, 1
        add %r3, {step}
        mov %r5, %r4
        add %r5, %r3
        {jump} %r5, {limit}, loop
        exit
    """
    prog = bpfjit.assemble(text)
    assert outcome(prog, engine, budget, None) == outcome(prog, "interp", budget, None)


# ---- loops the size of a tokenizer's -------------------------------------------------

# a state machine over the buffer's bytes, as clang emits a switch in a loop: 31 slots
# of body, more than a small counted loop, and as countable (state 0
# sums bytes until a space, state 1 waits for a digit, state 2 counts bytes above 128
# and goes back to 0 on a zero byte)
STATE_MACHINE = """
    mov %r0, 0
    mov %r3, 0
    mov %r4, 0
    jeq %r2, 0, out
loop:
    mov %r5, %r1
    add %r5, %r3
    ldxb %r5, [%r5]
    jeq %r4, 0, s0
    jeq %r4, 1, s1
    jgt %r5, 128, big
    jne %r5, 0, next
    mov %r4, 0
    xor %r0, 0x55
    ja next
big:
    add %r0, 16
    lsh %r0, 1
    ja next
s0:
    jeq %r5, 32, to1
    add %r0, %r5
    mov %r6, %r0
    rsh %r6, 7
    xor %r0, %r6
    ja next
to1:
    mov %r4, 1
    add %r0, 3
    ja next
s1:
    jlt %r5, 48, next
    jgt %r5, 57, next
    mov %r4, 2
    mul %r0, 3
    sub %r5, 48
    add %r0, %r5
    ja next
next:
    add %r3, 1
    jlt %r3, %r2, loop
out:
    exit
"""
STATE_INPUT = b"GET /a 12\x00\x90\xff x 7\x85\x00ab"


def test_a_loop_larger_than_a_counted_one_is_bounded():
    # r3 stepped by 1 and tested after the step against len (r2), as in UP; the
    # costliest trip, in instructions per block on its path: state 1 on a digit,
    # 4 (to the first jeq) + 1 + 1 + 1 (the three tests) + 5 + 2 (next) = 14 (state 0
    # on another byte: 4 + 1 + 5 + 2 = 12; state 2 on a zero: 4 + 1 + 1 + 1 + 3 + 2 = 12)
    assert bounds(STATE_MACHINE) == [(4, TripBound(3, 1, 1, 2, 0, "<=", True, False, 14))]


def test_a_large_straight_loop_keeps_the_budget_test():
    # 30 slots in one block, as clang unrolls a CRC's eight bit steps: one path, so the
    # budget's test is one compare per trip, not worth a second copy of the loop
    body = "\n".join(["add %r0, %r3", "rsh %r0, 1"] * 14)
    text = f"mov %r0, 0\nmov %r3, 0\nloop:\n{body}\nadd %r3, 1\njlt %r3, %r2, loop\nexit"
    assert bounds(text) == []


def test_a_loop_of_a_few_paths_is_bounded_up_to_a_larger_size():
    # the same 30 slots with a branch round half of them (window's moving maximum): 3
    # blocks, whose charge depends on the path.  Costliest trip: 1 + 14 (the test and
    # the first half) + 14 (the second half) + 2 = 31.  At 42 slots it keeps the
    # budget's test.
    half = "\n".join(["add %r0, %r3", "rsh %r0, 1"] * 7)
    def loop(extra):
        return (f"mov %r0, 0\nmov %r3, 0\nloop:\njgt %r3, 5, skip\n{half}\nskip:\n"
                f"{half}\n" + "mov %r0, %r0\n" * extra +
                "add %r3, 1\njlt %r3, %r2, loop\nexit")
    assert bounds(loop(0)) == [(2, TripBound(3, 1, 1, 2, 0, "<=", True, False, 31))]
    assert bounds(loop(11)) == []
    mem = bytearray(9)
    # r0 after each trip, by the reference: the loop's own semantics in Python
    r0 = 0
    for r3 in range(9):
        for _ in range(7 if r3 > 5 else 14):
            r0 = (r0 + r3) >> 1
    assert bpfjit.compile(bpfjit.assemble(loop(0)), "interp")(mem) == r0


def reference_state_machine(data: bytes) -> int:
    """STATE_MACHINE worked out in Python, from its comment."""
    r0, state, mask = 0, 0, (1 << 64) - 1
    for byte in data:
        if state == 0:
            if byte == 32:
                state, r0 = 1, r0 + 3
            else:
                r0 = (r0 + byte) & mask
                r0 ^= r0 >> 7
        elif state == 1:
            if 48 <= byte <= 57:
                state, r0 = 2, (r0 * 3 + byte - 48) & mask
        elif byte > 128:
            r0 = ((r0 + 16) << 1) & mask
        elif byte == 0:
            state, r0 = 0, r0 ^ 0x55
    return r0


@pytest.mark.parametrize("length", [0, 1, 9, len(STATE_INPUT)])
def test_a_state_machine_loop_runs_out_of_budget_where_the_interpreter_does(engine, length):
    prog = bpfjit.assemble(STATE_MACHINE)
    mem = bytearray(STATE_INPUT[:length])
    assert bpfjit.compile(prog, engine)(bytearray(mem)) == reference_state_machine(mem)
    budgets = range(1, 14 * length + 12)
    reference = [outcome(prog, "interp", budget, bytearray(mem)) for budget in budgets]
    assert [outcome(prog, engine, budget, bytearray(mem)) for budget in budgets] == reference
    assert reference[0] == ("budget", 0)
    assert reference[-1] == reference_state_machine(mem)


# One source loop that clang splits in two: `for (i = 0; i < len; i++) { if (!mem[i])
# { count++; continue to the outer head } ... }`.  The inner cycle (a nonzero byte) and
# the outer one (a zero byte) both step i by 1, so the inner loop is entered again after
# every zero byte and runs only while nonzero bytes repeat; its entry test, on every
# entry, cost more than the budget test it saved (corpus/plain's utf8: llvm 2.0x native
# with it, 1.2x without).  r0 counts the zero bytes.
SPLIT_LOOP = """
    mov %r0, 0
    mov %r4, 0
    jeq %r2, 0, done
outer:
    mov %r5, 0
inner:
    mov %r3, %r1
    add %r3, %r4
    ldxb %r3, [%r3]
    jeq %r3, 0, zero
    add %r4, 1
    jgt %r2, %r4, inner
    ja done
zero:
    add %r0, 1
    add %r4, 1
    jgt %r2, %r4, outer
done:
    exit
"""


def test_a_loop_that_is_one_path_of_a_loop_over_the_same_counter_is_not_versioned():
    assert bounds(SPLIT_LOOP) == []
    # the same inner loop under an outer loop that starts it again from 0 is a nest
    # (test_only_the_inner_loop_of_a_nest_is_bounded): its trips are its own
    nest = SPLIT_LOOP.replace("outer:\n    mov %r5, 0", "outer:\n    mov %r4, 0")
    assert [header for header, _ in bounds(nest)] == [4]      # the inner loop's head


@pytest.mark.parametrize("data,zeros", [(b"", 0), (b"\x00", 1), (b"\x01\x02", 0),
                                        (b"\x00\x01\x00\x00\x02", 3), (bytes(300), 300)])
def test_the_split_loop_counts_zero_bytes(engine, data, zeros):
    fn = bpfjit.compile(bpfjit.assemble(SPLIT_LOOP), engine)
    assert fn(bytearray(data) if data else None) == zeros


# the byte sum of at most 64 bytes from r1, and no further than the buffer's length:
# two exits, as clang builds `for (i = 0; i < n && i < 64; i++) s += v[i]`
TWO_EXITS = """
    mov %r0, 0
    jeq %r2, 0, out
    mov %r3, 0
loop:
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4]
    add %r0, %r4
    add %r3, 1
    jge %r3, %r2, out
    jlt %r3, 64, loop
out:
    exit
"""


def test_a_budget_free_loop_with_two_exits_is_vectorised_too():
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    fn = bpfjit.compile(bpfjit.assemble(TWO_EXITS), "llvm", keep_ir=True, cache=False)
    assert " x i8>" in fn.extra["optimised_ir"]          # a vector of bytes
    data = bytes(range(7, 250))
    assert fn(bytearray(data)) == sum(data[:64])
    assert fn(bytearray(data[:10])) == sum(data[:10])


@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 200])
def test_the_two_exit_sum_on_every_engine(engine, length):
    data = bytes((7 * i + 3) & 0xFF for i in range(length))
    fn = bpfjit.compile(bpfjit.assemble(TWO_EXITS), engine)
    assert fn(bytearray(data) if data else None) == sum(data[:64])


def test_a_budget_free_column_walk_is_unrolled():
    # a loop down a column (a pointer stepped by the row's width): nothing to vectorise,
    # but unrolled, as clang -O2 unrolls the same C; the unroller leaves its remainder
    # loop marked not to unroll again
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    from test_moving_ranges import COLUMNS
    fn = bpfjit.compile(bpfjit.assemble(COLUMNS), "llvm", keep_ir=True, cache=False)
    assert "llvm.loop.unroll.disable" in fn.extra["optimised_ir"]
    w, h = 7, 45
    mem = bytearray([w, h]) + bytearray((3 * i + 1) & 0xFF for i in range(w * h))
    expected = 0
    for x in range(w):
        for y in range(h):
            expected = (expected * 31 + mem[2 + y * w + x]) & (2**64 - 1)
    assert fn(mem) == expected


# ---- a bound on every entry, known before the run --------------------------------------

def test_the_most_trips_over_intervals_are_taken_at_the_corners():
    # continuing while x + k < n (strict "<="), x stepping by 1: trips(x, n) is
    # max(n - 1 - x, 0) + 2, largest at the least x and the greatest n
    up = TripBound(base=3, step=1, offset=0, bound_reg=2, bound_imm=0, relation="<=",
                   strict=True, signed=False, iteration_cost=3)
    assert up.most_trips((0, 5), (10, 20)) == 19 + 2
    assert up.most_trips((7, 7), (3, 3)) == 0 + 2          # never goes round
    # counting down while x > 0 by 2 (">=", strict): (x - 1) // 2 + 2, largest at the
    # greatest x whatever the bound's interval (here the immediate 0)
    down = TripBound(base=3, step=-2, offset=0, bound_reg=None, bound_imm=0, relation=">=",
                     strict=True, signed=True, iteration_cost=4)
    assert down.most_trips((1, 41), (0, 0)) == 40 // 2 + 2
    # a corner where no bound applies (an unsigned count below zero; beyond RANGE)
    assert up.most_trips((-1, 5), (10, 20)) is None
    assert up.most_trips((0, 5), (10, RANGE + 1)) is None
    # towards a bound it must meet: with steps of one, met from every corner ahead of it
    meet = TripBound(base=3, step=1, offset=0, bound_reg=2, bound_imm=0, relation="!=",
                     strict=False, signed=False, iteration_cost=2)
    assert meet.most_trips((0, 4), (5, 9)) == 9 + 2
    assert meet.most_trips((0, 6), (5, 9)) is None         # x = 6 is past n = 5
    # x == n at the first test (offset 0): one trip, within the bound of 0 + 2
    assert meet.trips(5, 5) == 2 and meet.trips(4, 5) == 3 and meet.trips(6, 5) is None
    # with larger steps whether it meets n depends on the values, not only on the corners
    assert TripBound(3, 2, 0, 2, 0, "!=", False, False, 2).most_trips((0, 0), (4, 4)) is None


# an inner loop entered once per byte of the first 64, counting down from the byte's
# index: r0 = sum over c < min(len, 64) of c + (c - 1) + ... + 1 (and c = 0 runs once)
NESTED = """
    mov %r0, 0
    mov %r6, %r2
    jle %r6, 64, capped
    mov %r6, 64
capped:
    mov %r7, 0
outer:
    jge %r7, %r6, done
    mov %r3, %r7
inner:
    add %r0, %r3
    sub %r3, 1
    jsgt %r3, 0, inner
    add %r7, 1
    ja outer
done:
    exit
"""


def nested_sum(length: int) -> int:
    return sum(c * (c + 1) // 2 for c in range(min(length, 64)))


def test_an_inner_loop_bounded_at_every_entry_has_its_most_trips():
    # at the inner head (pc 7) r3 is c (0 to 63) or what comes round (1 to 62): [0, 63];
    # entered with 63 it runs its head 63 times (r3 = 63 down to 1), the most of any entry
    loops = versioned_loops(verify(bpfjit.assemble(NESTED), cache=False))
    assert [(loop.header, loop.most_trips, loop.trips.iteration_cost) for loop in loops] \
        == [(7, 63, 3)]
    # a bound whose trips cost more than STATIC_BUDGET_TEST stays counted at the entry
    from bpfjit.checkplan import STATIC_BUDGET_TEST
    wide = NESTED.replace("64", "30000")
    assert 30000 * 3 > STATIC_BUDGET_TEST
    assert [loop.most_trips for loop in versioned_loops(verify(bpfjit.assemble(wide),
                                                               cache=False))] == [None]
    # a bound register the verifier knows nothing of: no bound before the run
    assert [loop.most_trips for loop in versioned_loops(verify(bpfjit.assemble(UP),
                                                               cache=False))] == [None]


def test_the_entry_compares_the_budget_with_the_bound():
    # 63 trips of 3 instructions: the entry tests budget >= 189, no division by the cost
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    fn = bpfjit.compile(bpfjit.assemble(NESTED), "llvm", keep_ir=True, cache=False)
    assert "sdiv" not in fn.extra["ir"]
    assert "icmp sge i64" in fn.extra["ir"] and ", 189" in fn.extra["ir"]
    assert fn(bytearray(100)) == nested_sum(100)


# ---- a bound the exit test reloads from the stack: the verifier's interval instead ------

# NESTED's sum again, the inner loop counting up to a bound it reloads from a stack slot
# on every trip (a spilled `m`, as clang leaves an edit distance's `j <= m`): no exit
# test of tripcount's forms, but r3 steps by 1 and stays in [0, 63] at the inner head
SPILLED_BOUND = NESTED.replace("""    mov %r3, %r7
inner:
    add %r0, %r3
    sub %r3, 1
    jsgt %r3, 0, inner
""", """    mov %r1, %r7
    add %r1, 1
    stxdw [%r10-8], %r1
    mov %r3, 0
inner:
    add %r0, %r3
    add %r3, 1
    ldxdw %r1, [%r10-8]
    jgt %r1, %r3, inner
""")


def test_a_reloaded_bound_leaves_the_stepped_counters_interval_to_bound_the_trips():
    loops = versioned_loops(verify(bpfjit.assemble(SPILLED_BOUND), cache=False))
    assert len(loops) == 1
    loop = loops[0]
    # r3 in [0, 63] at the head, stepped by 1: at most 64 runs of the head; 4 a trip
    assert (loop.header, loop.most_trips, loop.trips.iteration_cost) == (10, 64, 4)
    assert isinstance(loop.trips, StepBound) and (3, 1) in loop.trips.steps
    if "llvm" in bpfjit.engines():
        fn = bpfjit.compile(bpfjit.assemble(SPILLED_BOUND), "llvm", keep_ir=True,
                            cache=False)
        assert "icmp sge i64" in fn.extra["ir"] and ", 256" in fn.extra["ir"]


# both nests compute the same sum; budgets from 1 to past the whole run: below the
# bound's cost (189, 256) the inner loops run their checked copy, above it the
# budget-free one, until the budget left falls below
NESTS = pytest.mark.parametrize("text", [NESTED, SPILLED_BOUND], ids=["nested", "reloaded"])


@NESTS
@pytest.mark.parametrize("length", [0, 1, 2, 9, 64, 70])
def test_a_nested_loop_computes_alike_on_every_engine(engine, text, length):
    prog = bpfjit.assemble(text)
    assert bpfjit.compile(prog, engine)(bytearray(length)) == nested_sum(length)


@NESTS
@pytest.mark.parametrize("length", [3, 12])
def test_budgets_on_both_sides_of_the_bound_run_out_where_the_interpreter_does(
        engine, text, length):
    prog = bpfjit.assemble(text)
    mem = bytearray(length)
    budgets = list(range(1, 300)) + list(range(300, 2000, 7))
    reference = [outcome(prog, "interp", budget, mem) for budget in budgets]
    assert [outcome(prog, engine, budget, mem) for budget in budgets] == reference
    assert reference[-1] == nested_sum(length)


# ---- a loop of a few more paths, and a bound kept in a stack slot -------------------------

def _two_branches(chunk: int) -> str:
    """A counted loop of five blocks: two tests, each skipping `chunk` slots, then
    `chunk` more, the step and the exit test (as a Q15 filter's clamps do)."""
    part = "\n".join(["add %r0, %r3", "rsh %r0, 1"] * (chunk // 2))
    return (f"mov %r0, 0\nmov %r3, 0\nloop:\njgt %r3, 5, a\n{part}\na:\njgt %r3, 7, b\n"
            f"{part}\nb:\n{part}\nadd %r3, 1\njlt %r3, %r2, loop\nexit")


def test_a_loop_of_five_blocks_is_bounded_up_to_eighty_slots():
    # 46 slots: past the forked loops' 40, within 80 for five blocks or more (smooth's
    # 60-slot loop of seven blocks, whose clamps' paths each charge their own cost).
    # Costliest trip: 1 + 14 + 1 + 14 + 14 + 2 = 46.  At 88 slots it keeps the test.
    assert bounds(_two_branches(14)) == [(2, TripBound(3, 1, 1, 2, 0, "<=", True, False, 46))]
    assert bounds(_two_branches(28)) == []


@pytest.mark.parametrize("length", [0, 1, 6, 8, 20])
def test_the_five_block_loop_computes_alike_on_every_engine(engine, length):
    r0 = 0
    for r3 in range(length):
        for _ in range((7 if r3 <= 5 else 0) + (7 if r3 <= 7 else 0) + 7):
            r0 = (r0 + r3) >> 1
    assert bpfjit.compile(bpfjit.assemble(_two_branches(14)), engine)(bytearray(length)) == r0


# a byte sum whose bound, len, is spilled before the loop and reloaded on every trip (as
# clang keeps it under register pressure): the slot is the bound; r3's interval at the
# head is too wide for a bound before the run, so the trips are counted at the entry
SPILLED_LEN = """
    stxdw [%r10-8], %r2
    mov %r0, 0
    mov %r3, 0
    jeq %r2, 0, out
loop:
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4+0]
    add %r0, %r5
    add %r3, 1
    ldxdw %r6, [%r10-8]
    jgt %r6, %r3, loop
out:
    exit
"""


def test_a_bound_in_a_slot_no_trip_writes_is_counted_at_the_entry():
    loops = versioned_loops(verify(bpfjit.assemble(SPILLED_LEN), cache=False))
    assert len(loops) == 1
    trips = loops[0].trips
    # trip k tests r3@entry + (k - 1) + 1 < the slot's value: 7 slots a trip
    assert trips == TripBound(3, 1, 1, None, 0, "<=", True, False, 7, bound_slot=-8)
    assert loops[0].most_trips is None
    # a store to the slot inside the loop: no longer a bound
    moved = SPILLED_LEN.replace("    add %r3, 1\n", "    add %r3, 1\n    stxdw [%r10-8], %r2\n")
    assert all(not isinstance(loop.trips, TripBound) or loop.trips.bound_slot is None
               for loop in versioned_loops(verify(bpfjit.assemble(moved), cache=False)))


@pytest.mark.parametrize("length", [0, 1, 5, 40])
def test_the_spilled_bound_loop_runs_out_of_budget_where_the_interpreter_does(engine, length):
    prog = bpfjit.assemble(SPILLED_LEN)
    mem = bytearray((7 * i + 1) & 0xFF for i in range(length))
    budgets = list(range(1, 120)) + list(range(120, 400, 9))
    reference = [outcome(prog, "interp", budget, mem) for budget in budgets]
    assert [outcome(prog, engine, budget, mem) for budget in budgets] == reference
    assert bpfjit.compile(prog, engine)(mem) == sum(mem)


def test_a_strict_program_keeps_the_static_bound_a_checked_one_has():
    # the verifier's intervals at the loop heads hold of a strict program's runs (every
    # access proven), as of a checked one's (every unproven access trapping): both get
    # NESTED's static test, 63 trips of 3; an unchecked program's stray store could move
    # a counter, so its entry counts the trips
    prog = bpfjit.assemble(NESTED)
    most = {mode: [loop.most_trips for loop in versioned_loops(verify(prog, mode=mode,
                                                                          cache=False))]
            for mode in ("checked", "strict", "unchecked")}
    assert most["checked"] == most["strict"] == [63]
    assert most["unchecked"] == [None]
