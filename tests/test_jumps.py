"""JMP and JMP32: every condition, register and immediate forms, and the unconditional jumps."""

import pytest

import bpfjit

U64 = 2**64
INT64_MIN = 1 << 63


def taken(run, op: str, a: int, b: int | str) -> bool:
    """Run `op a, b` (b a register value, or an immediate written as a string)."""
    if isinstance(b, str):
        compare = f"{op} %r1, {b}, +1"
        setup = ""
    else:
        compare = f"{op} %r1, %r2, +1"
        setup = f"lddw %r2, {b:#x}\n"
    text = (f"lddw %r1, {a:#x}\n{setup}mov %r0, 0\n{compare}\nexit\n"
            f"mov %r0, 1\nexit")
    return run(text) == 1


# (op, a, b, taken?) with b a register value; each outcome decided by hand.
REGISTER_CASES = [
    ("jeq", 5, 5, True), ("jeq", 5, 6, False),
    ("jeq", 0x100000005, 5, False), ("jeq32", 0x100000005, 5, True),
    ("jne", 5, 5, False), ("jne", 0x100000005, 5, True), ("jne32", 0x100000005, 5, False),
    # 2**63 is large unsigned but negative signed
    ("jgt", INT64_MIN, 1, True), ("jsgt", INT64_MIN, 1, False), ("jgt", 1, INT64_MIN, False),
    ("jge", 5, 5, True), ("jge", 4, 5, False), ("jsge", U64 - 1, U64 - 1, True),
    ("jsge", U64 - 1, 0, False),
    ("jlt", 1, U64 - 1, True), ("jslt", 1, U64 - 1, False), ("jslt", U64 - 1, 1, True),
    ("jle", 5, 5, True), ("jle", 6, 5, False), ("jsle", U64 - 5, U64 - 5, True),
    ("jsle", 0, U64 - 1, False),
    ("jset", 0b1010, 0b0100, False), ("jset", 0b1010, 0b0010, True),
    ("jset32", 0x100000000, 0x100000000, False), ("jset", 0x100000000, 0x100000000, True),
    # 32-bit compares look at the low halves only
    ("jsgt32", 0x80000000, 0, False), ("jsgt", 0x80000000, 0, True),
    ("jgt32", 0x100000000, 0, False), ("jlt32", 0xFFFFFFFF00000001, 2, True),
    ("jge32", 0x1FFFFFFFF, 0xFFFFFFFF, True), ("jle32", 0x200000000, 1, True),
    ("jslt32", 0xFFFFFFFF, 0, True), ("jsle32", 0x7FFFFFFF, 0x80000000, False),
    ("jsge32", 0x80000000, 0x80000000, True),
]

# (op, a, imm text, taken?): immediates are sign-extended to 64 bits for JMP.
IMMEDIATE_CASES = [
    ("jeq", U64 - 1, "-1", True),
    ("jeq", 0xFFFFFFFF, "-1", False),          # -1 becomes 0xffff_ffff_ffff_ffff
    ("jeq32", 0xFFFFFFFF, "-1", True),
    ("jeq", 0xFFFFFFFF80000000, "0x80000000", True),   # 0x80000000 as imm is INT32_MIN
    ("jgt", 0xFFFFFFFF, "0xffffffff", False),  # imm is 2**64-1 after sign extension
    ("jgt32", 0xFFFFFFFF, "0xfffffffe", True),
    ("jsgt", 0, "-1", True), ("jslt", U64 - 2, "-1", True),
    ("jsge32", 0x1FFFFFFFF, "-1", True), ("jset", 0x80, "0x80", True),
    ("jne", 7, "7", False), ("jlt", 3, "4", True), ("jle", 5, "4", False),
    ("jge", 9, "9", True), ("jsle", U64 - 1, "0", True),
]


@pytest.mark.parametrize("op,a,b,expected", REGISTER_CASES,
                         ids=[f"{c[0]}-{c[1]:#x}-{c[2]:#x}" for c in REGISTER_CASES])
def test_conditional_register(run, op, a, b, expected):
    assert taken(run, op, a, b) is expected


@pytest.mark.parametrize("op,a,imm,expected", IMMEDIATE_CASES,
                         ids=[f"{c[0]}-{c[1]:#x}-{c[2]}" for c in IMMEDIATE_CASES])
def test_conditional_immediate(run, op, a, imm, expected):
    assert taken(run, op, a, imm) is expected


def test_compare_register_with_itself(run):
    assert run("mov %r1, 3\nmov %r0, 0\njeq %r1, %r1, +1\nexit\nmov %r0, 1\nexit") == 1


def test_ja_forward_and_backward(run):
    text = """
        mov %r0, 1
        ja forward
        mov %r0, 99          # skipped
    back:
        add %r0, 10
        exit
    forward:
        add %r0, 100
        ja back
    """
    assert run(text) == 111


def test_ja32_long_form(run):
    # gotol: the offset lives in imm; jump over one instruction
    assert run("mov %r0, 1\nja32 +1\nmov %r0, 2\nexit") == 1


def test_jump_over_lddw_counts_two_slots(run):
    # ja +2 skips the two slots of lddw
    assert run("mov %r0, 7\nja +2\nlddw %r0, 0x1122334455667788\nexit") == 7


def test_jump_to_first_instruction(run):
    # a loop whose body starts at pc 0: count r2 (0 without memory) up to 5
    text = "add %r2, 1\njlt %r2, 5, -2\nmov %r0, %r2\nexit"
    assert run(text) == 5


def test_loop_sums(run):
    text = "mov %r0, 0\nmov %r1, 1\nloop:\nadd %r0, %r1\nadd %r1, 1\njle %r1, 100, loop\nexit"
    assert run(text) == 5050          # 1 + 2 + ... + 100


def test_exit_not_last(run):
    assert run("mov %r0, 3\nja +1\nexit\nja -2") == 3


@pytest.mark.parametrize("text,pc", [
    ("ja +5\nexit", 0),                       # past the end
    ("mov %r0, 0\nja -3\nexit", 1),           # before the start
    ("ja +1\nlddw %r0, 1\nexit", 0),          # into the middle of lddw
    ("mov %r0, 0\njeq %r0, 0, +0", 1),        # conditional last: falls off the end
    ("mov %r0, 0", 0),                        # no exit at all
    ("call local f\nja f\nexit\nf:\nexit", 1),  # jump into another subprogram
    ("call local f\nmov %r0, 0\nf:\nexit", 1),    # main falls through into f
])
def test_bad_control_flow_is_rejected(engine, text, pc):
    with pytest.raises(bpfjit.VerifierError) as info:
        bpfjit.compile(bpfjit.assemble(text), engine)
    assert info.value.pc == pc
