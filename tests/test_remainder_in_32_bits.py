"""`x % 100` as clang -mcpu=v3 writes it for a byte x: `w3 = w5; w3 /= 100; w3 *= 100;
w5 -= w3`, four 32-bit operations that never wrap on a number below 2^32.  The
remainder is in [0, 99], which no interval or difference shows; the verifier follows
the three steps (as it does in 64 bits) and proves the access it indexes.  Checked on
every engine against `%` worked out in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# r0 = the byte at stack[mem[i] % 100] after each is counted up once, for each i: a
# count of the input bytes that share the first byte's remainder
PROGRAM = """
    mov %r0, 0
    mov %r6, 0
    mov %r3, 0
zero:
    mov %r4, %r10
    add %r4, -104
    add %r4, %r3
    stb [%r4], 0
    add %r3, 1
    jlt %r3, 104, zero
loop:
    jge %r6, %r2, done
    mov %r4, %r1
    add %r4, %r6
    ldxb %r5, [%r4]
    mov32 %r3, %r5
    div32 %r3, 100
    mul32 %r3, 100
    sub32 %r5, %r3
    mov %r7, %r10
    add %r7, -104
    add %r7, %r5
    ldxb %r8, [%r7]
    add %r8, 1
    stxb [%r7], %r8
    add %r6, 1
    jlt %r6, 200, loop
done:
    jeq %r2, 0, out
    ldxb %r5, [%r1]
    mod %r5, 100
    mov %r7, %r10
    add %r7, -104
    add %r7, %r5
    ldxb %r0, [%r7]
out:
    exit
"""


def expected(mem: bytes) -> int:
    if not mem:
        return 0
    seen = mem[:200]
    return sum(b % 100 == mem[0] % 100 for b in seen) & 0xFF


def test_the_remainder_indexes_a_proven_access():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert verified.accesses and verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"\x05", bytes([5, 105, 205, 6, 99]),
                                 bytes(range(256)), bytes([200]) * 250])
def test_the_count_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)
