"""ALU and ALU64 semantics, every operation, with values worked out by hand from RFC 9669."""

import pytest

U64 = 2**64

# (id, program, expected r0).  Each expected value is computed by hand in the comment.
CASES = [
    # ---- 64-bit arithmetic -------------------------------------------------
    ("add", "mov %r0, 1\nadd %r0, 2\nexit", 3),
    ("add-wraps", "lddw %r0, 0xffffffffffffffff\nadd %r0, 1\nexit", 0),
    # the imm -1 is sign-extended to 0xffff_ffff_ffff_ffff
    ("add-neg-imm", "mov %r0, 0\nadd %r0, -1\nexit", U64 - 1),
    ("add-reg", "mov %r0, 40\nmov %r1, 2\nadd %r0, %r1\nexit", 42),
    ("sub-borrows", "mov %r0, 3\nsub %r0, 5\nexit", U64 - 2),
    ("mul", "lddw %r0, 0x100000000\nmul %r0, 0x10\nexit", 0x1000000000),
    ("mul-wraps", "lddw %r0, 0x8000000000000000\nmul %r0, 2\nexit", 0),
    ("div", "mov %r0, 100\ndiv %r0, 7\nexit", 14),
    ("div-by-zero-imm", "mov %r0, 100\ndiv %r0, 0\nexit", 0),
    ("div-by-zero-reg", "mov %r0, 100\nmov %r1, 0\ndiv %r0, %r1\nexit", 0),
    # unsigned: -1 as imm is 2**64-1, so 5 / (2**64-1) = 0 and (2**64-1)/(2**64-1) = 1
    ("div-neg-imm-small", "mov %r0, 5\ndiv %r0, -1\nexit", 0),
    ("div-neg-imm-equal", "lddw %r0, 0xffffffffffffffff\ndiv %r0, -1\nexit", 1),
    ("mod", "mov %r0, 100\nmod %r0, 7\nexit", 2),
    ("mod-by-zero-keeps-dst", "lddw %r0, 0x123456789\nmov %r1, 0\nmod %r0, %r1\nexit",
     0x123456789),
    ("or", "mov %r0, 0xf0\nor %r0, 0x0f\nexit", 0xFF),
    ("and", "lddw %r0, 0xffffffffffffffff\nand %r0, 0xf0\nexit", 0xF0),
    # and with imm -1: sign-extended to all ones, so dst is unchanged
    ("and-neg-imm", "lddw %r0, 0x123456789abcdef0\nand %r0, -1\nexit", 0x123456789ABCDEF0),
    ("xor-self", "lddw %r0, 0x123456789abcdef0\nxor %r0, %r0\nexit", 0),
    ("xor", "mov %r0, 0b1100\nxor %r0, 0b1010\nexit", 0b0110),
    ("lsh", "mov %r0, 1\nlsh %r0, 63\nexit", 1 << 63),
    # shift counts are masked to 6 bits: 65 & 63 = 1, 64 & 63 = 0
    ("lsh-masked-reg", "mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit", 2),
    ("lsh-by-64-imm", "mov %r0, 3\nlsh %r0, 64\nexit", 3),
    ("rsh", "lddw %r0, 0x8000000000000000\nrsh %r0, 63\nexit", 1),
    ("rsh-by-dst-itself", "mov %r0, 0x41\nrsh %r0, %r0\nexit", 0x41 >> 1),   # 0x41 & 63 = 1
    ("arsh-negative", "lddw %r0, 0x8000000000000000\narsh %r0, 63\nexit", U64 - 1),
    ("arsh-positive", "mov %r0, 0x40\narsh %r0, 2\nexit", 0x10),
    ("neg", "mov %r0, 5\nneg %r0\nexit", U64 - 5),
    ("neg-intmin", "lddw %r0, 0x8000000000000000\nneg %r0\nexit", 1 << 63),
    ("mov-imm-sign-extends", "mov %r0, -2\nexit", U64 - 2),
    ("mov-reg", "mov %r1, -2\nmov %r0, %r1\nexit", U64 - 2),
    # signed division truncates toward zero: -7 / 2 = -3, -7 % 2 = -1, 7 % -2 = 1
    ("sdiv", "mov %r0, -7\nsdiv %r0, 2\nexit", U64 - 3),
    ("sdiv-by-zero", "mov %r0, -7\nmov %r1, 0\nsdiv %r0, %r1\nexit", 0),
    ("sdiv-intmin-by-minus-one",
     "lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit", 1 << 63),
    ("smod", "mov %r0, -7\nsmod %r0, 2\nexit", U64 - 1),
    ("smod-pos-by-neg", "mov %r0, 7\nsmod %r0, -2\nexit", 1),
    ("smod-intmin-by-minus-one",
     "lddw %r0, 0x8000000000000000\nmov %r1, -1\nsmod %r0, %r1\nexit", 0),
    ("smod-by-zero-keeps-dst", "mov %r0, -7\nmov %r1, 0\nsmod %r0, %r1\nexit", U64 - 7),
    ("movsx864", "mov %r1, 0x80\nmovsx864 %r0, %r1\nexit", U64 - 0x80),
    ("movsx1664-positive", "mov %r1, 0x17fff\nmovsx1664 %r0, %r1\nexit", 0x7FFF),
    ("movsx3264", "lddw %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit", 0xFFFFFFFF80000000),
    # ---- 32-bit arithmetic: results are zero-extended -----------------------
    ("add32-wraps-and-clears-upper", "lddw %r0, 0xffffffffffffffff\nadd32 %r0, 1\nexit", 0),
    ("add32-ignores-upper", "lddw %r0, 0x1234567800000001\nadd32 %r0, 1\nexit", 2),
    ("sub32", "mov %r0, 0\nsub32 %r0, 1\nexit", 0xFFFFFFFF),
    ("mul32-wraps", "mov %r0, 0x10000\nmul32 %r0, 0x10000\nexit", 0),
    ("mul32-low-half", "lddw %r0, 0x100000003\nmul32 %r0, 3\nexit", 9),
    ("mul32-intmin-by-minus-one", "mov32 %r0, 0x80000000\nmul32 %r0, -1\nexit", 0x80000000),
    ("div32-low-half", "lddw %r0, 0x100000010\ndiv32 %r0, 4\nexit", 4),
    ("div32-by-zero", "mov %r0, 9\ndiv32 %r0, 0\nexit", 0),
    # the divisor's low half is 0: division by zero although the register is not 0
    ("div32-by-high-only-divisor", "mov %r0, 9\nlddw %r1, 0x100000000\ndiv32 %r0, %r1\nexit", 0),
    # imm -1 as an unsigned 32-bit value is 0xffffffff
    ("div32-neg-imm", "mov32 %r0, -1\ndiv32 %r0, -1\nexit", 1),
    ("mod32", "mov %r0, 100\nmod32 %r0, 7\nexit", 2),
    ("mod32-by-zero-zero-extends",
     "lddw %r0, 0x123456789\nmov %r1, 0\nmod32 %r0, %r1\nexit", 0x23456789),
    ("or32-clears-upper", "lddw %r0, 0xffffffff00000000\nor32 %r0, 1\nexit", 1),
    ("and32", "lddw %r0, 0x12345678ffffffff\nand32 %r0, 0xff\nexit", 0xFF),
    ("xor32", "lddw %r0, 0xffffffff0000ffff\nxor32 %r0, -1\nexit", 0xFFFF0000),
    ("lsh32", "mov %r0, 1\nlsh32 %r0, 31\nexit", 0x80000000),
    ("lsh32-by-32-is-by-0", "mov %r0, 3\nlsh32 %r0, 32\nexit", 3),
    ("lsh32-clears-upper", "lddw %r0, 0x100000001\nlsh32 %r0, 1\nexit", 2),
    ("rsh32", "lddw %r0, 0xffffffff00000010\nrsh32 %r0, 4\nexit", 1),
    ("arsh32-negative", "mov32 %r0, 0x80000000\narsh32 %r0, 4\nexit", 0xF8000000),
    ("arsh32-ignores-upper", "lddw %r0, 0xffffffff00000010\narsh32 %r0, 1\nexit", 8),
    # a 64-bit count of 0x100000001 is masked to 1 for a 32-bit shift
    ("arsh32-high-count", "mov %r0, 8\nlddw %r1, 0x100000001\narsh32 %r0, %r1\nexit", 4),
    ("neg32", "mov %r0, 1\nneg32 %r0\nexit", 0xFFFFFFFF),
    ("neg32-intmin", "mov32 %r0, 0x80000000\nneg32 %r0\nexit", 0x80000000),
    ("mov32-imm-zero-extends", "mov32 %r0, -1\nexit", 0xFFFFFFFF),
    ("mov32-reg-truncates", "lddw %r1, 0xffffffffffffffff\nmov32 %r0, %r1\nexit", 0xFFFFFFFF),
    ("sdiv32", "mov32 %r0, -7\nsdiv32 %r0, 2\nexit", 0xFFFFFFFD),
    ("sdiv32-intmin-by-minus-one", "mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit", 0x80000000),
    ("sdiv32-by-zero", "mov32 %r0, -7\nsdiv32 %r0, 0\nexit", 0),
    ("smod32", "mov32 %r0, -7\nsmod32 %r0, 2\nexit", 0xFFFFFFFF),
    ("smod32-intmin-by-minus-one", "mov32 %r0, 0x80000000\nsmod32 %r0, -1\nexit", 0),
    ("smod32-by-zero-zero-extends",
     "lddw %r0, 0xfffffffffffffff9\nmov %r1, 0\nsmod32 %r0, %r1\nexit", 0xFFFFFFF9),
    # movsx to 32 bits: sign-extend the low 8/16 bits to 32, then zero-extend
    ("movsx832", "mov %r1, 0x180\nmovsx832 %r0, %r1\nexit", 0xFFFFFF80),
    ("movsx1632", "mov %r1, 0x8000\nmovsx1632 %r0, %r1\nexit", 0xFFFF8000),
    # ---- byte order: this machine is little-endian -----------------------------
    ("le16", "lddw %r0, 0x1122334455667788\nle16 %r0\nexit", 0x7788),
    ("le32", "lddw %r0, 0x1122334455667788\nle32 %r0\nexit", 0x55667788),
    ("le64", "lddw %r0, 0x1122334455667788\nle64 %r0\nexit", 0x1122334455667788),
    ("be16", "lddw %r0, 0x1122334455667788\nbe16 %r0\nexit", 0x8877),
    ("be32", "lddw %r0, 0x1122334455667788\nbe32 %r0\nexit", 0x88776655),
    ("be64", "lddw %r0, 0x1122334455667788\nbe64 %r0\nexit", 0x8877665544332211),
    ("bswap16", "lddw %r0, 0x1122334455667788\nbswap16 %r0\nexit", 0x8877),
    ("bswap32", "lddw %r0, 0x1122334455667788\nbswap32 %r0\nexit", 0x88776655),
    ("bswap64", "lddw %r0, 0x1122334455667788\nbswap64 %r0\nexit", 0x8877665544332211),
    # ---- lddw --------------------------------------------------------------------
    ("lddw", "lddw %r0, 0x1122334455667788\nexit", 0x1122334455667788),
    ("lddw-high-bit-of-low-word", "lddw %r0, 0x80000000\nexit", 0x80000000),
    ("lddw-negative", "lddw %r0, -2\nexit", U64 - 2),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_alu(run, text, expected):
    assert run(text) == expected


@pytest.mark.parametrize("reg", range(10))
def test_every_register_holds_64_bits(run, reg):
    text = f"lddw %r{reg}, 0xfedcba9876543210\nmov %r0, %r{reg}\nexit"
    assert run(text) == 0xFEDCBA9876543210


def test_r1_and_r2_are_zero_without_memory(run):
    assert run("mov %r0, %r1\nor %r0, %r2\nexit") == 0


@pytest.mark.parametrize("reg", [0, 3, 4, 5, 6, 7, 8, 9])
def test_reading_a_register_nothing_wrote_is_rejected(engine, reg):
    import bpfjit
    with pytest.raises(bpfjit.VerifierError, match=f"r{reg} is read before") as info:
        bpfjit.compile(bpfjit.assemble(f"mov %r1, 1\nadd %r1, %r{reg}\nmov %r0, 0\nexit"),
                       engine)
    assert info.value.pc == 1
    # a copy of it is refused where the copy is read (strict mode: at the copy, as the
    # kernel does; tests/test_unwritten_copies.py)
    copied = bpfjit.assemble(f"mov %r1, %r{reg}\nmov %r0, 0\nadd %r0, %r1\nexit")
    with pytest.raises(bpfjit.VerifierError, match="r1 holds a copy, made at pc 0") as info:
        bpfjit.compile(copied, engine)
    assert info.value.pc == 2
    with pytest.raises(bpfjit.VerifierError, match=f"r{reg} is read before") as info:
        bpfjit.compile(copied, engine, mode="strict")
    assert info.value.pc == 0
