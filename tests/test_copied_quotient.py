"""A column index `i % 9` as clang -O2 computes it in corpus/plain/sudoku.c's second
pass: the quotient is divided in one register and multiplied back in a copy of it
(`r2 = r1 / 9; r5 = r2; r5 *= 9; r4 = i - r5`), so the copy must carry the fact "a
quotient of i by 9" for the difference to be known as the remainder, in [0, 8].  Then
`cols[i % 9]`, a table at the top of the frame, is proven in bounds; checked on every
engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# cols[9] (u16) at fp-24: cols[i % 9] += mem[i] for i < min(len, 81); r0 folds the
# table: (cols[0..3] as a u64 * 3 + cols[4..7]) * 5 + cols[8]
PROGRAM = """
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r6, 0
    mov %r7, %r1
    mov %r8, %r2
loop:
    jge %r6, %r8, done
    mov %r1, %r6
    and %r1, 255
    mov %r2, %r1
    div %r2, 9
    mov %r5, %r2
    mul %r5, 9
    mov %r4, %r6
    sub %r4, %r5
    and %r4, 255
    lsh %r4, 1
    mov %r3, %r10
    add %r3, -24
    add %r3, %r4
    ldxh %r0, [%r3]
    mov %r9, %r7
    add %r9, %r6
    ldxb %r9, [%r9]
    add %r0, %r9
    stxh [%r3], %r0
    add %r6, 1
    jlt %r6, 81, loop
done:
    ldxdw %r0, [%r10-24]
    ldxdw %r1, [%r10-16]
    ldxh %r2, [%r10-8]
    mul %r0, 3
    add %r0, %r1
    mul %r0, 5
    add %r0, %r2
    exit
"""

COLUMN_LOAD, COLUMN_STORE = 20, 25


def expected(mem: bytes) -> int:
    cols = [0] * 9
    for i in range(min(len(mem), 81)):
        cols[i % 9] = (cols[i % 9] + mem[i]) & 0xFFFF
    low = sum(c << 16 * k for k, c in enumerate(cols[:4]))
    high = sum(c << 16 * k for k, c in enumerate(cols[4:8]))
    return ((low * 3 + high) * 5 + cols[8]) & (2**64 - 1)


def test_the_column_accesses_are_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(COLUMN_LOAD)) == "ldxh %r0, [%r3]"
    assert bpfjit.asm.format_insn(prog.at(COLUMN_STORE)) == "stxh [%r3], %r0"
    verified = verify(prog, cache=False)
    assert {COLUMN_LOAD, COLUMN_STORE} <= verified.proven
    assert set(verified.accesses) == verified.proven


def test_the_model():
    # bytes 1..18: column k holds (k + 1) + (k + 10); column 8 is 9 + 18 = 27
    mem = bytes(range(1, 19))
    cols = [(k + 1) + (k + 10) for k in range(9)]
    assert cols[8] == 27
    low = cols[0] | cols[1] << 16 | cols[2] << 32 | cols[3] << 48
    high = cols[4] | cols[5] << 16 | cols[6] << 32 | cols[7] << 48
    assert expected(mem) == ((low * 3 + high) * 5 + 27) & (2**64 - 1)


@pytest.mark.parametrize("mem", [b"", b"\x07", bytes(range(1, 19)), bytes(range(200, 256)) * 2,
                                 bytes([255]) * 81])
def test_the_columns_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)
