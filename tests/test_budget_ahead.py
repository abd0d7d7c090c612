"""The budget charged ahead (bpfjit.budgetahead): a program that writes nothing but its
stack and calls no helper is compiled to deduct, where a segment of code starts, the
most that segment can cost, and is run again with the budget counted exactly when that
runs out.  Whatever the JITs charge, every run must end as the interpreter's does: the
same r0, or BudgetExceeded at the same pc."""

import pytest

import bpfjit
from bpfjit.budgetahead import segment_costs
from bpfjit.verifier import verify

JITS = [e for e in ("llvm", "peachpy") if e in bpfjit.engines()]

# r0 = 2 for each even r3 below len: a trip costs 5 (pcs 2, 3-4, 5-6) when r3 is even,
# 3 when it is odd.  Blocks: 0-1 (2), 2 (1), 3-4 (2), 5-6 (2), 7-8 (2); checkpoints:
# 0 (the entry) and 2 (a backward jump's target); 7 is the loop's way out
BRANCHY = """
    mov %r0, 0
    mov %r3, 0
loop:
    jset %r3, 1, odd
    add %r0, 1
    add %r0, 1
odd:
    add %r3, 1
    jlt %r3, %r2, loop
    mov %r1, %r0
    exit
"""

# a call: the caller's blocks 0-1 (2) and 2-4 (3) are one segment, the callee's 5-6 (2)
CALLING = """
    mov %r6, 0
    call local f
    add %r6, %r0
    mov %r0, %r6
    exit
f:
    mov %r0, 7
    exit
"""


def test_segment_costs_worked_out_by_hand():
    # from 0: its block, then the loop's checkpoint; from 2: 2, 3-4, 5-6 (the even
    # trip, the costlier) up to the checkpoint again or the way out; from 7: 7-8
    assert segment_costs(bpfjit.assemble(BRANCHY)) == {0: 2, 2: 5, 7: 2}
    # the caller's segment runs on past the call's return; the callee's entry charges it
    assert segment_costs(bpfjit.assemble(CALLING)) == {0: 5, 5: 2}


@pytest.mark.parametrize("text,expected", [
    (BRANCHY, True),
    ("mov %r0, 1\nstxdw [%r10-8], %r0\nldxdw %r0, [%r10-8]\nexit", True),
    ("mov %r0, 1\nstxdw [%r10-8], %r0\nlock add [%r10-8], %r0\nldxdw %r0, [%r10-8]\nexit",
     True),
    # a store into the caller's buffer would be seen twice by a second run
    ("mov %r0, 1\njeq %r2, 0, out\nstxb [%r1], %r0\nout:\nexit", False),
    # a helper may do anything
    ("call 7\nexit", False),
], ids=["loop", "stack", "stack-atomic", "buffer-store", "helper"])
def test_which_programs_can_be_run_again(text, expected):
    prog = bpfjit.assemble(text)
    helpers = {7: lambda *args: 0}
    assert (not verify(prog, helpers=helpers, cache=False).writes_beyond_stack) is expected


@pytest.mark.parametrize("engine_name", JITS)
def test_the_jits_charge_ahead_where_a_run_can_be_run_again(engine_name):
    prog = bpfjit.assemble(BRANCHY)
    assert bpfjit.compile(prog, engine_name, cache=False).extra["budget_ahead"] is True
    exact = bpfjit.compile(prog, engine_name, cache=False, exact_budget=True)
    assert exact.extra["budget_ahead"] is False
    writer = bpfjit.assemble("mov %r0, 1\njeq %r2, 0, out\nstxb [%r1], %r0\nout:\nexit")
    assert bpfjit.compile(writer, engine_name, cache=False).extra["budget_ahead"] is False


def outcome(fn, mem):
    try:
        return fn(mem)
    except bpfjit.BudgetExceeded as exc:
        return ("budget", exc.pc)


def branchy_by_hand(budget: int):
    """BRANCHY on 4 bytes, from the rules: 2 at the entry's checkpoint, then the loop's
    checkpoint after 3, 8 (+5, r3 = 0), 11 (+3, r3 = 1) and 16 (+5, r3 = 2)
    instructions; the last trip (+2) and the way out (+2) pass no checkpoint: 20 in all,
    r0 = 4 (r3 = 0 and 2)."""
    if budget < 2:
        return ("budget", 0)
    if budget < 16:
        return ("budget", 2)
    return 4


@pytest.mark.parametrize("budget", range(1, 24))
def test_the_budget_runs_out_where_the_interpreter_says(engine, budget):
    # charged ahead, a JIT stops at the loop's checkpoint after 2 + 4 x 5 = 22 charged:
    # budgets 16-21 run out ahead and must be run again to return 4; a segment charged
    # less than its costliest path (the odd trip's 3) would return 4 from 14 on
    fn = bpfjit.compile(bpfjit.assemble(BRANCHY), engine, budget=budget)
    assert outcome(fn, bytearray(4)) == branchy_by_hand(budget)
    assert outcome(fn, bytearray(4)) == branchy_by_hand(budget)      # (the exact code now)


@pytest.mark.parametrize("engine_name", JITS)
def test_a_batch_is_run_again_whole(engine_name):
    fn = bpfjit.compile(bpfjit.assemble(BRANCHY), engine_name, budget=17)
    r0, _ = fn.run_batch(bytearray(4), 5)
    assert r0 == 4
    with pytest.raises(bpfjit.BudgetExceeded) as info:
        bpfjit.compile(bpfjit.assemble(BRANCHY), engine_name, budget=15).run_batch(
            bytearray(4), 5)
    assert info.value.pc == 2


# an XDP program summing its packet's bytes, writing nothing: blocks 0-2 (3), 3 (1),
# 4-7 (4), 8 (1); the loop's checkpoint comes after 4 + 5k instructions for k = 0..n
XDP_SUM = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 0
loop:
    jge %r2, %r3, out
    ldxb %r4, [%r2+0]
    add %r0, %r4
    add %r2, 1
    ja loop
out:
    exit
"""


@pytest.mark.parametrize("budget", [2, 3, 53, 54, 55, 57, 58, 100])
def test_a_context_program_is_run_again_on_the_same_packet(engine, budget):
    prog = bpfjit.Program(bpfjit.assemble(XDP_SUM).insns, context="xdp", prog_type="xdp")
    packet = bytes(range(1, 11))                 # 1 + ... + 10 = 55; the last checkpoint
    expected = ("budget", 0) if budget < 3 else ("budget", 3) if budget < 54 else 55
    fn = bpfjit.compile(prog, engine, budget=budget)    # after 4 + 50 = 54 instructions
    assert outcome(fn, packet) == expected
    assert outcome(fn, bpfjit.XdpContext(packet)) == expected


# ---- random loops: every engine against the interpreter near the budget's end ----------

from hypothesis import HealthCheck, given, settings          # noqa: E402
from hypothesis import strategies as st                      # noqa: E402

_OPS = ["add", "xor", "mul", "and", "or", "lsh", "rsh", "sub"]
_REGS = ["%r0", "%r4", "%r5", "%r7"]
_TESTS = ["jeq", "jne", "jgt", "jlt", "jset", "jsgt"]


@st.composite
def _straight(draw, labels: list[int]) -> list[str]:
    """Random operations on r0, r4, r5, r7 and the stack, now and then skipping one to
    three of them on a test of a register: a diamond whose two ways cost differently."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 5))
        reg = draw(st.sampled_from(_REGS))
        if kind <= 2:
            lines.append(f"{draw(st.sampled_from(_OPS))} {reg}, {draw(st.integers(1, 40))}")
        elif kind == 3:
            lines += [f"stxdw [%r10-{8 * draw(st.integers(1, 4))}], {reg}",
                      f"ldxdw {draw(st.sampled_from(_REGS))}, [%r10-8]"]
        else:
            labels[0] += 1
            skip = [f"add {draw(st.sampled_from(_REGS))}, {draw(st.integers(1, 9))}"
                    for _ in range(draw(st.integers(1, 3)))]
            lines += [f"{draw(st.sampled_from(_TESTS))} {reg}, {draw(st.integers(0, 9))}, "
                      f"skip{labels[0]}", *skip, f"skip{labels[0]}:"]
    return lines


@st.composite
def _loops(draw) -> str:
    """An outer loop of 1-12 trips around random code and, half the time, an inner loop
    of 1-6 trips; r0 is returned."""
    labels = [0]
    outer, inner = draw(st.integers(1, 12)), draw(st.integers(1, 6))
    body = draw(_straight(labels))
    if draw(st.booleans()):
        body += ["mov %r6, 0", "inner:", *draw(_straight(labels)), "add %r6, 1",
                 f"jlt %r6, {inner}, inner"]
    body += draw(_straight(labels))
    return "\n".join(["mov %r0, 0", "mov %r4, 3", "mov %r5, 7", "mov %r7, 1",
                      "stdw [%r10-8], 0", "stdw [%r10-16], 0", "stdw [%r10-24], 0",
                      "stdw [%r10-32], 0", "mov %r3, 0", "outer:", *body, "add %r3, 1",
                      f"jlt %r3, {outer}, outer", "exit"])


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_loops(), back=st.integers(0, 30))
def test_random_loops_run_out_where_the_interpreter_does(engine, text, back):
    # budgets around the run's exact cost: what a JIT charges ahead runs out first
    # there, and must be run again to end as the interpreter does
    prog = bpfjit.assemble(text)
    reference = bpfjit.compile(prog, "interp")
    reference(None)
    cost = reference.last_executed
    for budget in {max(1, cost - back), max(1, cost // 2), cost}:
        fn = bpfjit.compile(prog, engine, budget=budget)
        expected = outcome(bpfjit.compile(prog, "interp", budget=budget), None)
        assert outcome(fn, None) == expected
