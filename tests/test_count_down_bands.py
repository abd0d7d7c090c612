"""A copy loop as clang -O2 shapes `for (i = 0; i < n; i++) table[i] = ...` when the
index only steps pointers (corpus/plain/rmq.c): a counter runs down from n to 0 while
a stack pointer steps up by 2.  No affine equality holds on entry (n varies), but the
pointer's offset plus twice the counter is the same on every trip, within the range
the entry gives it (n in [1, 32]): a band `p + 2*c in [lo, hi]`, k = -2, proposed
where the pointer moved by k times what the counter's bound moved.  The store is then
proven, where the pointer alone widened past the frame.  Checked on every engine."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# n = (mem[0] & 31) + 1; table[k] = n - k (u16) for k < n at fp-512, counted down;
# r0 = table[0] | table[n - 1] << 16
PROGRAM = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r3, [%r1]
    and %r3, 31
    add %r3, 1
    mov %r4, %r10
    add %r4, -512
    mov %r6, %r3
loop:
    stxh [%r4], %r6
    add %r4, 2
    add %r6, -1
    jne %r6, 0, loop
    ldxh %r0, [%r10-512]
    mov %r5, %r3
    add %r5, -1
    lsh %r5, 1
    mov %r7, %r10
    add %r7, -512
    add %r7, %r5
    ldxh %r7, [%r7]
    lsh %r7, 16
    or %r0, %r7
out:
    exit
"""

ROW_STORE = 8               # stxh [%r4], %r6


def expected(mem: bytes) -> int:
    if not mem:
        return 0
    n = (mem[0] & 31) + 1
    table = [n - k for k in range(n)]
    return table[0] | table[n - 1] << 16


def test_the_store_is_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(ROW_STORE)) == "stxh [%r4], %r6"
    verified = verify(prog, cache=False)
    assert ROW_STORE in verified.proven
    assert set(verified.accesses) == verified.proven


def test_the_model():
    assert expected(b"\x00") == 1 | 1 << 16          # n = 1: table[0] = 1
    assert expected(b"\x1f") == 32 | 1 << 16         # n = 32: table[0] = 32, table[31] = 1


@pytest.mark.parametrize("mem", [b"", b"\x00", b"\x01", b"\x07", b"\x1f", b"\xff\x03"])
def test_the_table_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)
