"""Assembler and disassembler: the .data syntax, errors with line and column, round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.program import Program
from test_decode import valid_insns

# Each line next to the bytes RFC 9669's encoding gives for it, worked out by hand:
# opcode, regs (src << 4 | dst), offset (le16), imm (le32).
ENCODINGS = [
    ("mov %r0, 1", "b700000001000000"),
    ("mov r0, 1", "b700000001000000"),
    ("mov %r0, -1", "b7000000ffffffff"),
    ("mov32 %r1, %r2", "bc21000000000000"),
    ("add32 %r1, %r2", "0c21000000000000"),
    ("add64 %r1, 5", "0701000005000000"),
    ("ldxw %r0, [%r1+4]", "6110040000000000"),
    ("ldxdw %r0, [%r1]", "7910000000000000"),
    ("ldxsb %r0, [%r1+0]", "9110000000000000"),
    ("ldxsh %r2, [%r3-2]", "8932feff00000000"),
    ("stxdw [%r10-8], %r1", "7b1af8ff00000000"),
    ("stw [%r1+2], -1", "62010200ffffffff"),
    ("stb [%r1 + 0x10], 7", "7201100007000000"),
    ("ja +3", "0500030000000000"),
    ("ja -1", "0500ffff00000000"),
    ("ja32 +5", "0600000005000000"),
    ("gotol +5", "0600000005000000"),
    ("jne32 %r1, 5, +1", "5601010005000000"),
    ("jsgt %r1, %r2, -4", "6d21fcff00000000"),
    ("call 1", "8500000001000000"),
    ("call helper 1", "8500000001000000"),
    ("call %r2", "8d02000000000000"),
    ("callx %r2", "8d02000000000000"),
    ("call btf 12", "852000000c000000"),
    ("exit", "9500000000000000"),
    ("be16 %r0", "dc00000010000000"),
    ("le32 %r3", "d403000020000000"),
    ("bswap64 %r0", "d700000040000000"),
    ("swap16 %r0", "d700000010000000"),
    ("neg %r4", "8704000000000000"),
    ("neg32 %r4", "8404000000000000"),
    ("movsx832 %r0, %r1", "bc10080000000000"),
    ("movsx3264 %r0, %r1", "bf10200000000000"),
    ("sdiv %r0, 3", "3700010003000000"),
    ("smod32 %r0, %r1", "9c10010000000000"),
    ("lock add [%r10-8], %r1", "db1af8ff00000000"),
    ("lock fetch add [%r10-8], %r1", "db1af8ff01000000"),
    ("lock or32 [%r1], %r2", "c321000040000000"),
    ("lock fetch xor32 [%r1], %r2", "c3210000a1000000"),
    ("lock xchg [%r1], %r2", "db210000e1000000"),
    ("lock cmpxchg32 [%r1], %r2", "c3210000f1000000"),
    ("lddw %r0, 0x1122334455667788", "1800000088776655" "0000000044332211"),
    ("lddw %r1, map_by_fd(3)", "1811000003000000" "0000000000000000"),
    ("lddw %r1, map_val_by_idx(2, 16)", "1861000002000000" "0000000010000000"),
    # the conformance files' assembler keeps the low 32 bits of a wider immediate
    ("mov32 %r1, 0x876543210", "b401000010325476"),
]


@pytest.mark.parametrize("line,hexbytes", ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_encoding(line, hexbytes):
    prog = bpfjit.assemble(line + "\nexit")
    assert prog.to_bytes()[:len(hexbytes) // 2].hex() == hexbytes


def test_labels_comments_and_local_calls():
    text = """
    # a comment line
    start:  mov %r0, 0      # trailing comment
            jeq %r0, 0, done
            call local func
    done:   exit
    func:
            mov %r0, 1
            exit
    """
    prog = bpfjit.assemble(text)
    insns = prog.insns
    assert insns[1].off == 1          # jeq at pc 1 to done at pc 3
    assert insns[2].imm == 1          # call at pc 2 to func at pc 4
    assert insns[2].src == 1


def test_label_offsets_count_lddw_as_two_slots():
    prog = bpfjit.assemble("ja end\nlddw %r0, 1\nend:\nexit")
    assert prog.insns[0].off == 2


def test_exit_label_names_first_exit_when_undefined():
    prog = bpfjit.assemble("mov %r0, 0\njne %r0, 1, exit\nexit\nmov %r0, 1\nexit")
    assert prog.insns[1].off == 0     # to pc 2, the first exit


def test_explicit_exit_label_wins():
    prog = bpfjit.assemble("jne %r0, 1, exit\nexit\nexit:\nexit")
    assert prog.insns[0].off == 1


@pytest.mark.parametrize("text,line,column,words", [
    ("mov %r0, 1\nfrob %r0\nexit", 2, 1, "unknown instruction 'frob'"),
    ("  mov %r11, 1", 1, 7, "r11 does not exist"),
    ("mov %r0, %q1", 1, 10, "expected immediate"),
    ("ldxw %q0, [%r1]", 1, 6, "expected a register"),
    ("jeq %r0, 1, nowhere\nexit", 1, 13, "undefined label 'nowhere'"),
    ("a:\nexit\na:\nexit", 3, 1, "defined twice"),
    ("add %r0\nexit", 1, 1, "takes 2 operands"),
    ("exit %r0", 1, 1, "takes 0 operands"),
    ("ldxw %r0, %r1+4", 1, 11, "memory operand"),
    ("ldxw %r0, [%r1+70000]", 1, 11, "does not fit"),
    ("lddw %r0, 0x10000000000000000", 1, 11, "does not fit"),
    ("mov %r0, 12abc", 1, 10, "expected immediate"),
    ("mov %r0, 1,, 2", 1, 12, "empty operand"),
    ("movsx832 %r0, 5", 1, 15, "needs a register"),
    ("lddw %r0, map_by_name(3)", 1, 11, "unknown lddw form"),
])
def test_assemble_errors(text, line, column, words):
    with pytest.raises(bpfjit.AssembleError) as info:
        bpfjit.assemble(text)
    assert (info.value.line, info.value.column) == (line, column)
    assert words in str(info.value)
    assert str(info.value).startswith(f"line {line}, column {column}: ")


def test_jump_too_far_for_16_bits():
    text = "ja end\n" + "mov %r0, 0\n" * 40000 + "end:\nexit"
    with pytest.raises(bpfjit.AssembleError, match="does not fit in 16 bits"):
        bpfjit.assemble(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(valid_insns(), min_size=1, max_size=20))
def test_disassemble_then_assemble_is_identity(insns):
    prog = Program(insns)
    assert bpfjit.assemble(bpfjit.disassemble(prog)) == prog


def test_disassemble_data_syntax():
    prog = bpfjit.assemble("mov %r0, -1\nldxw %r1, [%r10-8]\njeq %r1, 0x1000, +1\n"
                           "lddw %r2, 0x1122334455667788\nexit")
    assert bpfjit.disassemble(prog) == (
        "mov %r0, -1\n"
        "ldxw %r1, [%r10-8]\n"
        "jeq %r1, 0x1000, +1\n"
        "lddw %r2, 0x1122334455667788\n"
        "exit\n")


def test_disassemble_with_pcs():
    prog = bpfjit.assemble("lddw %r0, 1\nexit")
    assert bpfjit.disassemble(prog, pcs=True) == "0: lddw %r0, 0x1\n2: exit\n"


# The llvm-objdump pseudo-C form, written by hand for each instruction kind.
C_SYNTAX = [
    ("mov %r0, 1", "r0 = 1"),
    ("add32 %r1, %r2", "w1 += w2"),
    ("arsh %r1, 3", "r1 s>>= 3"),
    ("sdiv32 %r1, %r2", "w1 s/= w2"),
    ("neg %r3", "r3 = -r3"),
    ("movsx1664 %r0, %r1", "r0 = (s16)r1"),
    ("be32 %r2", "r2 = be32 r2"),
    ("ldxw %r0, [%r1+4]", "r0 = *(u32 *)(r1 + 4)"),
    ("ldxsb %r0, [%r1-1]", "r0 = *(s8 *)(r1 - 1)"),
    ("stdw [%r10-8], 5", "*(u64 *)(r10 - 8) = 5"),
    ("stxb [%r1], %r2", "*(u8 *)(r1 + 0) = r2"),
    ("jsge32 %r1, 7, +2", "if w1 s>= 7 goto +2"),
    ("jne %r1, %r2, -1", "if r1 != r2 goto -1"),
    ("ja +4", "goto +4"),
    ("ja32 +4", "gotol +4"),
    ("call 6", "call 6"),
    ("callx %r3", "callx r3"),
    ("lddw %r1, 0x2a", "r1 = 0x2a ll"),
    ("lock add [%r10-8], %r1", "lock *(u64 *)(r10 - 8) += r1"),
    ("lock fetch and32 [%r2+4], %r1", "w1 = atomic_fetch_and((u32 *)(r2 + 4), w1)"),
    ("lock xchg [%r2], %r1", "r1 = xchg_64(r2 + 0, r1)"),
    ("lock cmpxchg32 [%r2], %r1", "w0 = cmpxchg32_32(r2 + 0, w0, w1)"),
    ("exit", "exit"),
]


@pytest.mark.parametrize("line,expected", C_SYNTAX, ids=[c[0] for c in C_SYNTAX])
def test_disassemble_pseudo_c(line, expected):
    prog = bpfjit.assemble(line + "\nexit")
    assert bpfjit.disassemble(prog, syntax="c").splitlines()[0] == expected


def test_unknown_syntax_is_an_error():
    with pytest.raises(bpfjit.BpfError, match="syntax"):
        bpfjit.disassemble(bpfjit.assemble("exit"), syntax="intel")


def test_an_error_names_its_line_and_column_however_often_its_text_was_seen():
    # the assembler remembers how an instruction's text parses, which must not change
    # what an error says: the line it is on and the column, whatever came before
    # (the empty operand after a trailing comma starts in the column after it)
    for text, line, column in (("mov %r0, 0\nmov %r0, 1,\nexit", 2, 12),
                               ("mov %r0, 1,\nexit", 1, 12),
                               ("mov %r0, 0\nmov %r0, 0\nexit\nfoo %r1", 4, 1),
                               ("foo %r1", 1, 1),
                               ("x: foo %r1", 1, 4)):
        for _ in range(2):
            with pytest.raises(bpfjit.AssembleError) as err:
                bpfjit.assemble(text)
            assert (err.value.line, err.value.column) == (line, column), text
    # and the same text assembles to the same instruction on every line
    prog = bpfjit.assemble("mov %r0, 7\nmov %r0, 7\nl: mov %r0, 7\nexit")
    assert [i.imm for i in prog.insns[:3]] == [7, 7, 7]
