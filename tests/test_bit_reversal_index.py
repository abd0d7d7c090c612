"""The bit-reversal permutation of a number-theoretic transform (corpus/plain/ntt.c),
as clang -O2 compiles `for (; j & bit; bit >>= 1) j ^= bit; j ^= bit;`: the index j
only ever changes by xor with a bit below 64, so it stays below 64 -- but nothing
compares it with a constant, and widening it to the thresholds of its comparisons
took it to 2^32 - 1.  A register that the loop xors or ors widens to the next
all-ones mask (2^k - 1) first: [0, 32] -> [0, 63], where the xor keeps it.  The swaps
of a[i] and a[j] (a table of 64 words at the bottom of the frame) are then proven;
checked on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# a[64] (u32) at fp-512 takes mem[k] for k < min(len, 64), the rest 0; then
# a[i] <-> a[rev(i)] for i < rev(i), with rev the 6-bit reversal; r0 = a[1] << 32 | a[2]
PROGRAM = """
    mov %r3, 0
fill:
    mov %r0, 0
    jge %r3, %r2, zero
    mov %r4, %r1
    add %r4, %r3
    ldxb %r0, [%r4]
zero:
    mov %r4, %r3
    lsh %r4, 2
    mov %r5, %r10
    add %r5, -512
    add %r5, %r4
    stxw [%r5], %r0
    add %r3, 1
    jlt %r3, 64, fill
    mov %r1, 0
    mov %r2, 1
    lddw %r3, 0xfffffffe
next:
    mov %r4, 32
    mov %r5, %r1
reverse:
    xor %r1, %r4
    and %r5, %r4
    and %r4, %r3
    rsh %r4, 1
    lsh %r5, 32
    mov %r0, %r5
    rsh %r0, 32
    mov %r5, %r1
    jne %r0, 0, reverse
    mov %r4, %r1
    lsh %r4, 32
    rsh %r4, 32
    jge %r2, %r4, step
    lsh %r4, 2
    mov %r5, %r10
    add %r5, -512
    add %r5, %r4
    mov %r4, %r2
    lsh %r4, 2
    mov %r0, %r10
    add %r0, -512
    add %r0, %r4
    ldxw %r4, [%r0]
    ldxw %r6, [%r5]
    stxw [%r0], %r6
    stxw [%r5], %r4
step:
    add %r2, 1
    jne %r2, 64, next
    ldxw %r0, [%r10-508]
    lsh %r0, 32
    ldxw %r1, [%r10-504]
    or %r0, %r1
    exit
"""

SWAP_LOAD, SWAP_STORE = 43, 45        # ldxw r6, [r5] and stxw [r5], r4: a[j]


def reversed6(i: int) -> int:
    return int(format(i, "06b")[::-1], 2)


def expected(mem: bytes) -> int:
    a = [mem[k] if k < len(mem) else 0 for k in range(64)]
    for i in range(1, 64):
        j = reversed6(i)
        if i < j:
            a[i], a[j] = a[j], a[i]
    return a[1] << 32 | a[2]


def test_the_swaps_are_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(SWAP_LOAD)) == "ldxw %r6, [%r5]"
    assert bpfjit.asm.format_insn(prog.at(SWAP_STORE)) == "stxw [%r5], %r4"
    verified = verify(prog, cache=False)
    assert {SWAP_LOAD, SWAP_STORE} <= verified.proven
    assert set(verified.accesses) == verified.proven


def test_the_model():
    # 1 = 0b000001 reverses to 0b100000 = 32, 2 to 16: a[1] = mem[32], a[2] = mem[16]
    assert reversed6(1) == 32 and reversed6(2) == 16 and reversed6(63) == 63
    mem = bytes(range(100, 164))
    assert expected(mem) == (100 + 32) << 32 | (100 + 16)


@pytest.mark.parametrize("mem", [b"", b"\x05", bytes(range(100, 164)), bytes(range(1, 40)),
                                 bytes(range(255, 155, -1))])
def test_the_permutation_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)
