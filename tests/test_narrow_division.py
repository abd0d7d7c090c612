"""Unsigned 64-bit division and remainder by a register, where peachpy divides in 32
bits when both operands are below 2^32 (as clang's BypassSlowDivision does) and in 64
bits otherwise: every pairing of narrow and wide operands, 0 as divisor (x / 0 = 0,
x % 0 = x, RFC 9669), and the registers x86's divide uses itself (BPF r0 is rax, r3
rdx in peachpy's map) as dividend and divisor, on every engine."""

import struct

import pytest

import bpfjit

M64 = (1 << 64) - 1

# dividend at mem[0..8], divisor at mem[8..16]
PROGRAM = """
    ldxdw %r{a}, [%r1+0]
    ldxdw %r{b}, [%r1+8]
    {op} %r{a}, %r{b}
    mov %r0, %r{a}
    exit
"""

PAIRS = [(100, 7), (0xFFFFFFFF, 1), (0xFFFFFFFF, 0xFFFFFFFF), (1 << 32, 3),
         (5, 1 << 32), (M64, 0xFFFFFFFF), (M64, M64), ((1 << 32) + 5, (1 << 32) + 2),
         (123456789, 0), (1 << 40, 0), (0, 9)]


def _expected(op: str, x: int, y: int) -> int:
    if y == 0:
        return 0 if op == "div" else x
    return x // y if op == "div" else x % y


@pytest.mark.parametrize("a, b", [(0, 3), (3, 0), (4, 5), (2, 6)],
                         ids=["rax-by-rdx", "rdx-by-rax", "r4-by-r5", "r2-by-r6"])
@pytest.mark.parametrize("op", ["div", "mod"])
def test_register_division_on_every_engine(engine, op, a, b):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM.format(a=a, b=b, op=op)), engine,
                        cache=False)
    for x, y in PAIRS:
        assert fn(bytearray(struct.pack("<QQ", x, y))) == _expected(op, x, y), (x, y)


@pytest.mark.parametrize("op", ["div", "mod"])
def test_llvm_divides_behind_a_branch_not_selects(op):
    # the divisor's test for 0 is a branch round the division, which LLVM may not
    # hoist the division past: no select feeds or follows it (a loop of dependent
    # divisions, Newton's integer square root, paid 17% for `cmp; adc` and `cmove`)
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM.format(a=4, b=5, op=op)), "llvm",
                        keep_ir=True, cache=False)
    lines = fn.extra["ir"].splitlines()
    instruction = "udiv i64" if op == "div" else "urem i64"
    (divide,) = [line for line in lines if instruction in line]
    result = divide.split("=")[0].strip()
    divisor = divide.rsplit(",", 1)[1].strip()
    defined = {line.split("=")[0].strip(): line for line in lines if " = " in line}
    assert "select" not in defined[divisor]                 # divides by the register
    assert not [line for line in lines if "select" in line and result in line]
    assert [line for line in lines if "phi i64" in line and result in line]
