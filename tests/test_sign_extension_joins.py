"""A sign-extended copy of len, `n = (int)len` (`lsh 32; arsh 32`), tested against a
loop's counter: where the test shows n >= 1 the extension changed nothing, so n == len
there, and the path carries that relation instead of the extension; the other path
(and the loop's entry) still holds the extension.  Where they meet, each implies the
other's fact only in part, and both were lost: the next trip's test bounded the
counter by a number related to nothing, and `mem[i]` stayed checked.  A join now keeps
the extension where every path holds it or holds n == len with n in [0, 2^31)."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# for (i = 0; i < 64; i++) sum += i < (int)len ? mem[i] : 7;  as clang -O2 emits it
PROGRAM = """
    mov %r6, %r1
    mov %r0, %r2
    lsh %r0, 32
    arsh %r0, 32
    mov %r4, 0
    mov %r3, 0
head:
    mov %r2, 7
    jsge %r4, %r0, add
    mov %r2, %r6
    add %r2, %r4
    ldxb %r2, [%r2]
add:
    add %r3, %r2
    add %r4, 1
    jne %r4, 64, head
    mov %r0, %r3
    exit
"""
LOAD_PC = 10


def test_the_load_below_the_sign_extended_length_is_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert prog.at(LOAD_PC).spec.mnemonic == "ldxb"
    assert LOAD_PC in verify(prog, cache=False).proven


@pytest.mark.parametrize("size", [0, 1, 5, 63, 64, 100])
def test_every_engine_sums_the_bytes_below_the_length(engine, size):
    mem = bytes((3 * k + 1) % 256 for k in range(size))
    # worked out by hand: the first min(size, 64) bytes, 7 for each index past them
    want = sum(mem[:64]) + 7 * (64 - min(size, 64))
    assert bpfjit.compile(bpfjit.assemble(PROGRAM), engine)(bytearray(mem)) == want


def test_a_negative_extension_proves_nothing():
    # len with bit 31 set: (int)len is negative, the counter is never below it and
    # no load runs; a program that then reads mem[i] for i >= (int)len is refused
    # its proof (the join must not turn the extension into n == len there)
    text = PROGRAM.replace("jsge %r4, %r0, add", "jslt %r4, %r0, add")
    prog = bpfjit.assemble(text)
    assert LOAD_PC not in verify(prog, cache=False).proven
