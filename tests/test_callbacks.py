"""bpf_loop (helper 181): a callback subprogram, named by `lddw rX, code_addr(...)`,
called with (index, ctx) until it returns 1 -- from the ELF loader through the verifier
to every engine, and the kernel's verdict and results where it can run them."""

from pathlib import Path

import pytest

import bpfjit
from bpfjit.cfg import subprogram_starts

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS = 1, 2
M64 = (1 << 64) - 1
EINVAL, E2BIG = 22, 7


def plain(source: str) -> bpfjit.Program:
    """Hand-written code on a plain buffer, with the kernel's helpers (an object's)."""
    env = bpfjit.load_elf(ELF / "loops.o", function="count_byte").env
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env)


def helpers(prog):
    return bpfjit.helper_ids(prog)


# r0 = the trips made | the sum of the indices the callback saw << 32
SUM_OF_INDICES = """
    stdw [%r10-8], 0
    mov %r1, {trips}
    lddw %r2, code_addr(add_index)
    mov %r3, %r10
    add %r3, -8
    mov %r4, {flags}
    call 181
    ldxdw %r1, [%r10-8]
    lsh %r1, 32
    or %r0, %r1
    exit
add_index:
    ldxdw %r3, [%r2]
    add %r3, %r1
    stxdw [%r2], %r3
    mov %r0, 0
    jne %r1, {stop_at}, +1
    mov %r0, 1
    exit
"""


def sum_program(trips: int, flags: int = 0, stop_at: int = -1) -> bpfjit.Program:
    return plain(SUM_OF_INDICES.format(trips=trips, flags=flags, stop_at=stop_at))


@pytest.mark.parametrize("trips, stop_at, made, total", [
    (10, -1, 10, 45),           # 0 + 1 + ... + 9
    (1, -1, 1, 0),
    (0, -1, 0, 0),              # no trip: the callback never runs
    (10, 4, 5, 10),             # it returns 1 at index 4: five trips, 0 + ... + 4
    (10, 0, 1, 0),
])
def test_loop_calls_back_until_done_or_told_to_stop(engine, trips, stop_at, made, total):
    fn = bpfjit.compile(sum_program(trips, stop_at=stop_at), engine)
    assert fn(bytearray(8)) == total << 32 | made


KERNEL_INLINES = "the kernel's inlined bpf_loop compares all of r1 with 2^23 and " \
    "returns -E2BIG in 32 bits (its helper, as bpfjit, takes a u32 and returns a long)"


def test_loop_counts_the_low_half_of_r1(engine):
    # nr_loops is a u32: 2^32 + 3 is 3 trips
    if engine == "kernel":
        pytest.skip(KERNEL_INLINES)
    prog = sum_program(0)
    source = bpfjit.disassemble(prog).replace("mov %r1, 0\n", "lddw %r1, 0x100000003\n", 1)
    fn = bpfjit.compile(bpfjit.Program(bpfjit.assemble(source).insns, env=prog.env), engine)
    assert fn(bytearray(8)) == 3 << 32 | 3


@pytest.mark.parametrize("trips, flags, result", [
    (10, 1, -EINVAL),                   # flags must be 0
    ((1 << 23) + 1, 0, -E2BIG),         # at most 2^23 trips
])
def test_loop_refuses_flags_and_too_many_trips_without_calling_back(engine, trips, flags,
                                                                     result):
    if engine == "kernel" and not flags:
        pytest.skip(KERNEL_INLINES)
    fn = bpfjit.compile(sum_program(trips, flags), engine)
    assert fn(bytearray(8)) == result & M64


def test_the_callback_can_loop_too(engine):
    # an outer loop of 3 trips whose callback runs an inner loop of 4 trips, each
    # adding 1 to the counter at ctx: 12
    prog = plain("""
        stdw [%r10-8], 0
        mov %r1, 3
        lddw %r2, code_addr(outer)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 181
        ldxdw %r0, [%r10-8]
        exit
    outer:
        mov %r3, %r2
        mov %r1, 4
        lddw %r2, code_addr(inner)
        mov %r4, 0
        call 181
        mov %r0, 0
        exit
    inner:
        ldxdw %r3, [%r2]
        add %r3, 1
        stxdw [%r2], %r3
        mov %r0, 0
        exit
    """)
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 12


def test_callee_saved_registers_survive_the_loop(engine):
    # r6-r9 of the caller, as the callback overwrites them on every trip
    prog = plain("""
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        mov %r1, 5
        lddw %r2, code_addr(clobber)
        mov %r3, 0
        mov %r4, 0
        call 181
        add %r0, %r6
        add %r0, %r7
        add %r0, %r8
        add %r0, %r9
        exit
    clobber:
        mov %r6, 100
        mov %r7, 100
        mov %r8, 100
        mov %r9, 100
        mov %r0, 0
        exit
    """)
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 5 + 6 + 7 + 8 + 9


def test_the_budget_counts_every_trip(engine):
    # 2^23 trips of a 2-instruction callback: more than a budget of 1,000 instructions
    # allows; the run stops at the callback's entry, a checkpoint, on every engine
    prog = plain("""
        lddw %r1, 0x800000
        lddw %r2, code_addr(nothing)
        mov %r3, 0
        mov %r4, 0
        call 181
        exit
    nothing:
        mov %r0, 0
        exit
    """)
    if engine == "kernel":
        pytest.skip("the kernel has no instruction budget")
    with pytest.raises(bpfjit.BudgetExceeded) as caught:
        bpfjit.compile(prog, engine, budget=1000)(None)
    assert caught.value.pc == 8


def test_a_loop_is_one_helper_call_and_the_callbacks_calls_count_too(engine):
    # the callback calls ktime_get_ns (5) on each of 3 trips: 4 calls in all
    prog = plain("""
        mov %r1, 3
        lddw %r2, code_addr(tick)
        mov %r3, 0
        mov %r4, 0
        call 181
        exit
    tick:
        call 5
        mov %r0, 0
        exit
    """)
    if engine == "kernel":
        pytest.skip("the kernel engine calls no time helper")
    assert bpfjit.compile(prog, engine, helper_calls=4)(None) == 3
    with pytest.raises(bpfjit.HelperCallsExceeded):
        bpfjit.compile(prog, engine, helper_calls=3)(None)


# ---- the verifier ---------------------------------------------------------------------------

def test_the_index_is_bounded_by_the_trips():
    # the callback reads byte r1 of an 8-byte array on the caller's stack: proven for 8
    # trips, not for 9
    source = """
        stdw [%r10-8], 0
        mov %r1, {trips}
        lddw %r2, code_addr(peek)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 181
        exit
    peek:
        add %r2, %r1
        ldxb %r0, [%r2]
        and %r0, 1
        exit
    """
    prog = plain(source.format(trips=8))
    verified = bpfjit.verify(prog, mode="strict", helpers=helpers(prog))
    assert verified.callbacks == {7: 9} and 10 in verified.proven
    prog = plain(source.format(trips=9))
    with pytest.raises(bpfjit.VerifierError, match="pc 10: "):
        bpfjit.verify(prog, mode="strict", helpers=helpers(prog))


STACK_OFFSET = """
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r1, {trips}
    lddw %r2, code_addr(store)
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 181
    ldxdw %r1, [%r10-8]
    mov %r2, %r10
    add %r2, -16
    add %r2, %r1
    ldxb %r0, [%r2]
    exit
store:
    stdw [%r2], 100
    mov %r0, 0
    exit
"""


def test_what_the_callback_writes_through_ctx_is_seen_after_the_loop():
    # the offset at fp-8 is 0, or 100 once a trip ran: the load at fp-16 + offset is
    # not proven, so strict mode refuses it
    prog = plain(STACK_OFFSET.format(trips=1))
    with pytest.raises(bpfjit.VerifierError, match="pc 13: "):
        bpfjit.verify(prog, mode="strict", helpers=helpers(prog))


@pytest.mark.parametrize("trips", [0, 1])
def test_a_write_through_ctx_moves_a_checked_access(engine, trips):
    # checked mode: with no trip the load reads fp-16 (0); after one, fp+84, outside
    # the stack, which every engine stops at
    fn = bpfjit.compile(plain(STACK_OFFSET.format(trips=trips)), engine)
    if trips == 0:
        assert fn(bytearray(8)) == 0
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as caught:
            fn(bytearray(8))
        assert caught.value.pc == 13


@pytest.mark.parametrize("callback_body, message", [
    ("mov %r0, 2\nexit", "callback .*must return 0 or 1, not 2"),
    ("exit", "r0 is read before anything was written|must return 0 or 1"),
])
def test_the_callback_must_return_0_or_1(callback_body, message):
    prog = plain(f"""
        mov %r1, 3
        lddw %r2, code_addr(cb)
        mov %r3, 0
        mov %r4, 0
        call 181
        exit
    cb:
        {callback_body}
    """)
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(prog, helpers=helpers(prog))


@pytest.mark.parametrize("setup, message", [
    ("mov %r2, 12", "takes one subprogram's address in r2 .*not 0xc"),
    ("mov %r3, %r6", "takes a pointer into the stack or 0 in r3 .*not mem"),
    ("mov %r1, %r10", "takes the number of trips in r1, not fp"),
])
def test_loop_arguments_are_checked(setup, message):
    prog = plain(f"""
        mov %r6, %r1
        mov %r1, 3
        lddw %r2, code_addr(cb)
        mov %r3, 0
        mov %r4, 0
        {setup}
        call 181
        exit
    cb:
        mov %r0, 0
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(prog, helpers=helpers(prog))


def test_two_callbacks_joined_are_refused():
    # r2 names one callback on one path and another on the other: which one runs is
    # not known statically (the kernel refuses it too)
    prog = plain("""
        ldxb %r5, [%r1]
        mov %r1, 3
        lddw %r2, code_addr(one)
        jeq %r5, 0, +2
        lddw %r2, code_addr(other)
        mov %r3, 0
        mov %r4, 0
        call 181
        exit
    one:
        mov %r0, 0
        exit
    other:
        mov %r0, 1
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="one subprogram's address in r2"):
        bpfjit.verify(prog, helpers=helpers(prog))


def test_recursion_through_a_callback_is_refused():
    prog = plain("""
        call local again
        exit
    again:
        mov %r1, 2
        lddw %r2, code_addr(again)
        mov %r3, 0
        mov %r4, 0
        call 181
        mov %r0, 0
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="recursion.*callbacks"):
        bpfjit.verify(prog, helpers=helpers(prog))


def test_a_code_address_must_name_an_instruction_of_the_program():
    for imm, message in ((100, "code address to pc 104 is outside the program"),
                         (-2, "code address to pc 2 lands in the middle of the lddw")):
        prog = plain(f"mov %r0, 0\nlddw %r3, 1\nlddw %r2, code_addr({imm})\nexit\nexit")
        with pytest.raises(bpfjit.VerifierError, match=message):
            bpfjit.verify(prog, helpers=helpers(prog))


def test_strict_mode_keeps_a_callbacks_address_out_of_numbers():
    prog = plain("""
        lddw %r0, code_addr(cb)
        exit
    cb:
        mov %r0, 0
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="returns a pointer .*func@pc3"):
        bpfjit.verify(prog, mode="strict", helpers=helpers(prog))


def test_a_python_helper_cannot_take_a_callback():
    with pytest.raises(bpfjit.BpfError, match="cannot call back"):
        bpfjit.Helper(lambda *r: 0, args=("any", "callback", "callback_ctx", "any"))


def test_a_loop_called_through_a_register_fails_at_run_time(engine):
    prog = plain("""
        mov %r1, 3
        lddw %r2, code_addr(cb)
        mov %r3, 0
        mov %r4, 0
        mov %r6, 181
        callx %r6
        exit
    cb:
        mov %r0, 0
        exit
    """)
    if engine == "kernel":
        pytest.skip("the kernel has no callx")
    with pytest.raises(bpfjit.BpfError, match="through a register"):
        bpfjit.compile(prog, engine)(bytearray(8))


# ---- the assembler and the ELF loader -------------------------------------------------------

def test_code_addr_takes_a_label_relative_to_the_next_slot():
    prog = bpfjit.assemble("lddw %r2, code_addr(cb)\nexit\ncb:\nexit")
    assert prog.insns[0].src == 4 and prog.insns[0].imm == 2     # pc 3 - (pc 0 + 1)
    assert "code_addr(2)" in bpfjit.disassemble(prog)
    assert bpfjit.assemble(bpfjit.disassemble(prog)) == prog


@pytest.mark.parametrize("packet, count, trips, action", [
    (b"ab aab" + b"a" * 58, 61, 64, XDP_DROP),          # 64 bytes: every trip runs
    (b"xyz" + bytes(100) + b"xxxxx", 1, 64, XDP_PASS),   # only the first byte is an x
    (b"    " + bytes(10), 4, 15, XDP_DROP),    # 14 bytes: the 15th trip stops the loop
])
def test_clang_built_callback_reads_the_packet(engine, packet, count, trips, action):
    prog = bpfjit.load_elf(ELF / "loops.o", function="count_byte")
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(packet)) == action
    assert prog.maps["found"].ints() == {0: count, 1: trips}


@pytest.mark.parametrize("packet, trips", [
    (b"GET /index.html HTTP/1.1", 4),       # the space at index 3
    (b"x" * 20, 21),                        # none: the loop stops past the end
])
def test_clang_built_callback_stops_the_loop(engine, packet, trips):
    prog = bpfjit.load_elf(ELF / "loops.o", function="first_space")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(packet)) == XDP_PASS
    assert prog.maps["found"].ints()[1] == trips


def test_clang_built_callbacks_are_proven_in_strict_mode():
    for function in ("count_byte", "first_space"):
        prog = bpfjit.load_elf(ELF / "loops.o", function=function)
        verified = bpfjit.verify(prog, mode="strict", helpers=helpers(prog))
        assert verified.proven == frozenset(verified.accesses)
        (call, callback), = verified.callbacks.items()
        assert prog.at(call).imm == 181
        assert callback in subprogram_starts(prog)      # the static function's entry


def test_a_loop_in_a_callee_whose_callback_calls_a_function(engine):
    # main -> outer -> (bpf_loop) cb -> add_to: four frames; each of 4 trips adds its
    # index and 100 to the main program's slot through the pointer passed down
    prog = plain("""
        stdw [%r10-8], 0
        mov %r1, %r10
        add %r1, -8
        call local outer
        ldxdw %r0, [%r10-8]
        exit
    outer:
        mov %r6, %r1
        mov %r1, 4
        lddw %r2, code_addr(cb)
        mov %r3, %r6
        mov %r4, 0
        call 181
        mov %r0, 0
        exit
    cb:
        mov %r6, %r1
        mov %r1, %r2
        mov %r2, %r6
        call local add_to
        mov %r0, 0
        exit
    add_to:
        ldxdw %r3, [%r1]
        add %r3, %r2
        add %r3, 100
        stxdw [%r1], %r3
        mov %r0, 0
        exit
    """)
    verified = bpfjit.verify(prog, mode="strict", helpers=helpers(prog))
    assert verified.frames == 4 and verified.proven == frozenset(verified.accesses)
    assert bpfjit.compile(prog, engine)(bytearray(8)) == (0 + 1 + 2 + 3) + 4 * 100


def test_a_callback_that_stops_on_what_earlier_trips_stored(engine):
    # the callback adds its index to a running total at ctx and stops once the total
    # reaches 100: 0 + 1 + ... + 14 = 105, after 15 trips.  The total grows from one
    # analysis of the callback to the next, and its return value's summary was widened
    # as a recursive function's is, past 1: the program was refused (the kernel
    # campaign's one refusal of 2026-12-02)
    prog = plain("""
        stdw [%r10-8], 0
        mov %r1, 50
        lddw %r2, code_addr(cb)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 181
        ldxdw %r1, [%r10-8]
        lsh %r1, 32
        or %r0, %r1
        exit
    cb:
        ldxdw %r3, [%r2]
        add %r3, %r1
        stxdw [%r2], %r3
        mov %r0, 0
        jlt %r3, 100, +1
        mov %r0, 1
        exit
    """)
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 105 << 32 | 15


# Found 2026-12-03: a call whose ctx is the stack on one path and NULL on the other runs
# once per path (bpfjit.verifier.perpath), and each path named its own callback; the
# verifier kept the last one, and llvm and peachpy called it on both paths (r0 = 0 where
# the first byte is 0 and `ten` should have added 10 twice: 20).  The engines call the
# callback the verifier names, so a call given two is refused, saying so.
TWO_CALLBACKS = """
    stdw [%r10-8], 0
    ldxb %r6, [%r1+0]
    mov %r1, 2
    lddw %r2, code_addr(ten)
    mov %r3, %r10
    add %r3, -8
    jeq %r6, 0, go
    lddw %r2, code_addr(nothing)
    mov %r3, 0
go:
    mov %r4, 0
    call 181
    ldxdw %r0, [%r10-8]
    exit
ten:
    ldxdw %r3, [%r2]
    add %r3, 10
    stxdw [%r2], %r3
    mov %r0, 0
    exit
nothing:
    mov %r0, 0
    exit
"""


@pytest.mark.parametrize("mode", ["checked", "strict", "unchecked"])
def test_a_call_given_a_callback_per_path_is_refused(mode):
    prog = plain(TWO_CALLBACKS)
    starts = sorted(subprogram_starts(prog))[1:]
    with pytest.raises(bpfjit.VerifierError, match=f"pc 12: the call is given the callback "
                                                   f"at pc {starts[0]} on one path and the "
                                                   f"one at pc {starts[1]} on another"):
        bpfjit.verify(prog, mode=mode, helpers=helpers(prog), cache=False)
