"""Local (bpf-to-bpf) calls, helper calls, callx, and the instruction budget."""

import pytest

import bpfjit

U64 = 2**64


def test_local_call_passes_arguments_and_preserves_r6_to_r9(run):
    text = """
        mov %r1, 1
        mov %r2, 2
        mov %r3, 3
        mov %r4, 4
        mov %r5, 5
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        call local sum
        jne %r6, 6, bad
        jne %r7, 7, bad
        jne %r8, 8, bad
        jne %r9, 9, bad
        exit
    bad:
        mov %r0, -1
        exit
    sum:
        mov %r0, %r1
        add %r0, %r2
        add %r0, %r3
        add %r0, %r4
        add %r0, %r5
        mov %r6, 0
        mov %r7, 0
        mov %r8, 0
        mov %r9, 0
        exit
    """
    assert run(text) == 15


@pytest.mark.parametrize("text,pc,reg,checked_pc,words", [
    # a callee's r0 and r6-r9 are not its caller's: its copy of r6 is a register nothing
    # wrote, which the callee returns, and its caller reads
    ("mov %r0, 5\nmov %r6, 6\ncall local f\nexit\nf:\nmov %r0, %r6\nexit", 4, 6,
     3, "r0 is read before anything was written to it (the subprogram at pc 4"),
    # f returns without setting r0 (a void function): only reading r0 after the call
    # is wrong, as in the kernel
    ("mov %r0, 5\ncall local f\nexit\nf:\nexit", 2, 0, 2, "r0 is read before"),
    # r1-r5 are clobbered by any call: copied into r0, refused at the exit that reads it
    ("mov %r1, 1\ncall local f\nmov %r0, %r1\nexit\nf:\nmov %r0, 0\nexit", 2, 1,
     3, "r0 holds a copy, made at pc 2,"),
    ("mov %r5, 5\ncall 1\nmov %r0, %r5\nexit", 2, 5, 3, "r0 holds a copy, made at pc 2,"),
    # an argument the caller never set
    ("mov %r1, 1\ncall local f\nexit\nf:\nmov %r0, %r3\nexit", 3, 3,
     2, "r0 is read before anything was written to it (the subprogram at pc 3"),
])
def test_registers_a_call_does_not_define_are_rejected(engine, text, pc, reg, checked_pc,
                                                       words):
    # strict mode refuses the first read, copy or not, as the kernel does; checked mode
    # refuses the first read that is no copy (tests/test_unwritten_copies.py)
    with pytest.raises(bpfjit.VerifierError) as info:
        bpfjit.compile(bpfjit.assemble(text), engine, helpers={1: lambda *a: 0})
    assert info.value.pc == checked_pc and words in str(info.value)
    with pytest.raises(bpfjit.VerifierError, match=f"r{reg} is read before") as info:
        bpfjit.compile(bpfjit.assemble(text), engine, mode="strict", helpers={1: lambda *a: 0})
    assert info.value.pc == pc


def test_callee_has_its_own_stack_frame(run):
    text = """
        stdw [%r10-8], 0x11
        call local f
        ldxdw %r0, [%r10-8]
        exit
    f:
        stdw [%r10-8], 0x22
        mov %r0, 0
        exit
    """
    assert run(text) == 0x11


def test_callee_writes_through_pointer_into_callers_frame(run):
    text = """
        stdw [%r10-8], 0
        mov %r1, %r10
        sub %r1, 8
        call local f
        ldxdw %r0, [%r10-8]
        exit
    f:
        stdw [%r1], 0x33
        mov %r0, 0
        exit
    """
    assert run(text) == 0x33


def test_r10_is_restored_after_call(run):
    text = """
        mov %r6, %r10
        call local f
        mov %r0, 0
        jeq %r6, %r10, +1
        mov %r0, 1
        exit
    f:
        mov %r0, 0
        exit
    """
    assert run(text) == 0


def test_caller_cannot_touch_a_returned_callees_frame(engine):
    text = """
        call local f
        ldxdw %r0, [%r10-520]
        exit
    f:
        stdw [%r10-8], 1
        mov %r0, 0
        exit
    """
    fn = bpfjit.compile(bpfjit.assemble(text), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn()
    assert info.value.pc == 1


def nested_calls(depth: int) -> str:
    """A chain main -> f1 -> ... -> f<depth>, each returning 1 + what it called."""
    lines = ["call local f1", "exit"]
    for i in range(1, depth + 1):
        lines.append(f"f{i}:")
        lines += [f"call local f{i + 1}", "add %r0, 1", "exit"] if i < depth else \
                 ["mov %r0, 1", "exit"]
    return "\n".join(lines)


def test_seven_nested_calls_are_allowed(run):
    assert run(nested_calls(7)) == 7


def test_eighth_nested_call_exceeds_the_depth_limit(engine):
    with pytest.raises(bpfjit.VerifierError, match="frame 9") as info:
        bpfjit.compile(bpfjit.assemble(nested_calls(8)), engine)
    # main is at pc 0-1; f<i> starts at pc 2 + 3*(i-1); f7's call would make frame 9
    assert info.value.pc == 2 + 3 * 6


def test_recursion_is_rejected_in_strict_mode(engine):
    with pytest.raises(bpfjit.VerifierError, match="recursion") as info:
        bpfjit.compile(bpfjit.assemble("f:\ncall local f\nexit"), engine, mode="strict")
    assert info.value.pc == 0


def test_unbounded_recursion_stops_at_the_depth_limit(engine):
    # checked mode accepts recursion and bounds it at run time: main is frame 1, and
    # the call that would make frame 9 stops the run, at that call's pc
    fn = bpfjit.compile(bpfjit.assemble("f:\ncall local f\nexit"), engine)
    with pytest.raises(bpfjit.CallDepthExceeded) as info:
        fn()
    assert info.value.pc == 0


RECURSIVE_SUM = """
    mov %r3, 0
    jeq %r2, 0, +1
    ldxb %r3, [%r1]         # n = the first byte, when there is one
    mov %r1, %r3
    call local sum          # r0 = n + (n-1) + ... + 1, one frame per level
    exit
sum:
    mov %r0, 0
    jeq %r1, 0, done
    mov %r6, %r1
    sub %r1, 1
    call local sum
    add %r0, %r6
done:
    exit
"""


@pytest.mark.parametrize("n,frames", [(0, 2), (6, 8), (7, 9)])
def test_recursion_within_the_depth_limit_runs(engine, n, frames):
    fn = bpfjit.compile(bpfjit.assemble(RECURSIVE_SUM), engine)
    if frames <= 8:                 # main + sum(n) ... sum(0): n + 2 frames
        assert fn(bytes([n])) == n * (n + 1) // 2
    else:
        with pytest.raises(bpfjit.CallDepthExceeded) as info:
            fn(bytes([n]))
        assert info.value.pc == 10  # the call in sum(1) would make frame 9


def test_depth_limit_is_also_enforced_at_run_time():
    # engines keep their own limit, for programs that bypass the verifier
    from bpfjit.interpreter import Interpreter
    with pytest.raises(bpfjit.CallDepthExceeded) as info:
        Interpreter(bpfjit.assemble("f:\ncall local f\nexit"))()
    assert info.value.pc == 0


# ---- helpers ----------------------------------------------------------------------

def add_helper(r1, r2, r3, r4, r5):
    return r1 + r2 + r3 + r4 + r5


def test_helper_receives_r1_to_r5(run):
    text = "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 7\nexit"
    assert run(text, helpers={7: add_helper}) == 15


def test_helper_result_is_masked_to_64_bits(run):
    assert run("call 1\nexit", helpers={1: lambda *a: -1}) == U64 - 1


def test_r6_to_r9_survive_a_helper_call(run):
    text = "mov %r6, 6\nmov %r9, 9\ncall 1\nmov %r0, %r6\nadd %r0, %r9\nexit"
    assert run(text, helpers={1: lambda *a: 0}) == 15


def test_callx_calls_the_helper_named_by_a_register(run):
    text = "mov %r1, 20\nmov %r2, 3\ncallx %r2\nexit"
    assert run(text, helpers={3: lambda r1, *rest: r1 * 2}) == 40


def test_conformance_style_callx(run):
    from bpfjit.conformance import conformance_helpers
    text = "mov %r1, -1\nmov %r2, 5\ncall %r2\nmov %r0, 2\nexit"
    assert run(text, helpers=conformance_helpers()) == 2


@pytest.mark.parametrize("text,pc,words", [
    ("mov %r0, 0\ncall 99\nexit", 1, "helper 99, which is not registered"),
    ("call btf 12\nexit", 0, "BTF id"),
])
def test_unknown_static_helper_is_rejected(engine, text, pc, words):
    with pytest.raises(bpfjit.VerifierError, match=words) as info:
        bpfjit.compile(bpfjit.assemble(text), engine, helpers={1: add_helper})
    assert info.value.pc == pc


@pytest.mark.parametrize("text,helpers,pc", [
    ("mov %r2, 42\ncallx %r2\nexit", {1: add_helper}, 1),
])
def test_unknown_helper_is_a_helper_error(engine, text, helpers, pc):
    fn = bpfjit.compile(bpfjit.assemble(text), engine, helpers=helpers)
    with pytest.raises(bpfjit.HelperError) as info:
        fn()
    assert info.value.pc == pc


def test_helper_exception_becomes_helper_error(engine):
    def broken(*args):
        raise ValueError("boom")
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\ncall 1\nexit"), engine, helpers={1: broken})
    with pytest.raises(bpfjit.HelperError, match="boom") as info:
        fn()
    assert info.value.pc == 1


def test_helper_returning_non_int_is_a_helper_error(engine):
    fn = bpfjit.compile(bpfjit.assemble("call 1\nexit"), engine, helpers={1: lambda *a: "x"})
    with pytest.raises(bpfjit.HelperError):
        fn()


def test_helper_may_raise_a_trap_itself(engine):
    def trapping(*args):
        raise bpfjit.HelperError(-1, "refused")
    fn = bpfjit.compile(bpfjit.assemble("call 1\nexit"), engine, helpers={1: trapping})
    with pytest.raises(bpfjit.HelperError, match="refused"):
        fn()


# ---- instruction budget ---------------------------------------------------------------

def test_infinite_loop_hits_the_budget(engine):
    # blocks: [pc 0] and the loop [pc 1]; 10 = 1 for pc 0 + 9 loop turns, the 10th turn fails
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 0\nja -1"), engine, budget=10)
    with pytest.raises(bpfjit.BudgetExceeded) as info:
        fn()
    assert info.value.pc == 1


def test_budget_is_charged_per_block_on_entry(engine):
    prog = bpfjit.assemble("mov %r0, 1\nadd %r0, 1\nexit")     # one block of 3
    assert bpfjit.compile(prog, engine, budget=3)() == 2
    with pytest.raises(bpfjit.BudgetExceeded) as info:
        bpfjit.compile(prog, engine, budget=2)()
    assert info.value.pc == 0


def test_default_budget_allows_long_programs(run):
    # 100000 iterations of a 3-instruction loop: 300002 instructions
    text = "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 100000, loop\nexit"
    assert run(text) == 100000


@pytest.mark.parametrize("budget", [0, -5, 1.5, "10"])
def test_bad_budget_is_rejected(engine, budget):
    with pytest.raises(bpfjit.BpfError):
        bpfjit.compile(bpfjit.assemble("exit"), engine, budget=budget)


def test_a_callee_reads_back_what_it_wrote_into_its_callers_frame(engine):
    # regression: the llvm engine told LLVM that pointers into the current frame and
    # pointers from the stack's base never alias; a store through a proven pointer into
    # the caller's frame was then dropped before a checked load of the same bytes
    text = """
        mov %r6, 0
        jeq %r2, 0, +1
        ldxb %r6, [%r1]         # 0 at run time, unknown to the verifier
        stdw [%r10-8], 0
        mov %r1, %r10
        add %r1, -8
        mov %r2, %r6
        call local f
        exit
    f:
        stdw [%r1], 1           # proven: the caller's frame
        mov %r3, %r1
        add %r3, %r2            # an unknown offset: checked at run time
        ldxdw %r0, [%r3]        # the same 8 bytes: 1
        stdw [%r1], 2
        exit
    """
    assert bpfjit.compile(bpfjit.assemble(text), engine)(bytearray([0])) == 1


# a loop whose body branches into a tree of blocks (each with one predecessor) that meet
# again at the loop's head, plus a helper-free local call and an early exit: where an
# engine may carry block costs to the next block, the budget must still run out at the
# same pc after the same work
BRANCHY = """
    mov %r0, 0
    mov %r6, 0
loop:
    add %r6, 1
    mov %r2, %r6
    and %r2, 3
    jeq %r2, 0, zero
    jeq %r2, 1, one
    add %r0, 3
    jgt %r6, 40, out
    ja loop
zero:
    add %r0, 5
    mov %r1, %r6
    call local twice
    add %r0, %r0
    and %r0, 0xffff
    ja loop
one:
    add %r0, 7
    jlt %r6, 1000, loop
out:
    exit
twice:
    mov %r0, %r1
    add %r0, %r1
    exit
"""


@pytest.mark.parametrize("text", [BRANCHY, "mov %r0, 7\nja -2"],
                         ids=["branchy", "loop-at-entry"])
def test_the_budget_runs_out_where_the_interpreter_says(engine, text):
    prog = bpfjit.assemble(text)

    def outcome(name, budget):
        try:
            return bpfjit.compile(prog, name, budget=budget)()
        except bpfjit.BudgetExceeded as exc:
            return ("budget", exc.pc)
    reference = [outcome("interp", budget) for budget in range(1, 420, 3)]
    assert [outcome(engine, budget) for budget in range(1, 420, 3)] == reference
    assert any(isinstance(r, tuple) for r in reference)     # the budget did run out


def test_a_kernel_object_s_call_to_a_helper_bpfjit_lacks_says_so():
    # a loaded object calls the kernel's helpers: one bpfjit does not provide (143,
    # bpf_store_hdr_opt, in libbpf-rs's TCP-option example) is named as such, not as
    # "not registered", which reads as the caller's omission
    from bpfjit.kernel import HELPER_NAMES, KernelEnv
    from bpfjit.maps import MapTable
    assert 143 not in HELPER_NAMES
    prog = bpfjit.Program(bpfjit.assemble("mov %r0, 0\ncall 143\nexit").insns,
                          env=KernelEnv(MapTable([])), context="xdp", prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError,
                       match=r"pc 1: call to helper 143, which bpfjit does not provide "
                             r"\(pass helpers=\{143: function\} to give one\)"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
