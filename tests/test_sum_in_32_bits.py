"""Runs of input bytes appended to a 256-byte window while `n + run <= 256`, the count
n kept in 32 bits and the test made as clang -mcpu=v3 makes it: `w7 = w5; w7 += w3;
if w7 > 256`.  The sum cannot wrap while n is small, so it is the 64-bit sum and
bounds n + run; and the constant it is tested against is a widening threshold of
both addends, so n stops at 256 at the loop's head rather than at its limit, where
the 32-bit sum could wrap and would bound nothing.  The window's stores are proven;
checked on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# each control byte c is followed by (c & 31) + 1 literal bytes, appended to the
# window at fp-256; r0 = (the last byte appended << 16) | n, or 0 for none
PROGRAM = """
    mov32 %r3, 0
    mov %r6, 0
loop:
    jge %r6, %r2, done
    mov %r4, %r1
    add %r4, %r6
    ldxb %r5, [%r4]
    add %r6, 1
    and32 %r5, 31
    add32 %r5, 1
    mov %r4, %r6
    add %r4, %r5
    jgt %r4, %r2, done
    mov32 %r7, %r5
    add32 %r7, %r3
    jgt32 %r7, 256, done
    mov32 %r8, 0
copy:
    mov %r4, %r1
    add %r4, %r6
    add %r4, %r8
    ldxb %r9, [%r4]
    mov32 %r4, %r3
    add32 %r4, %r8
    mov %r0, %r10
    add %r0, -256
    add %r0, %r4
    stxb [%r0], %r9
    add32 %r8, 1
    jlt32 %r8, %r5, copy
    add32 %r3, %r8
    add %r6, %r5
    ja loop
done:
    mov %r0, 0
    jeq32 %r3, 0, out
    mov %r4, %r10
    add %r4, -257
    add %r4, %r3
    ldxb %r0, [%r4]
    lsh %r0, 16
    or %r0, %r3
out:
    exit
"""


def expected(mem: bytes) -> int:
    window: list[int] = []
    i = 0
    while i < len(mem):
        run = (mem[i] & 31) + 1
        i += 1
        if i + run > len(mem) or len(window) + run > 256:
            break
        window += mem[i:i + run]
        i += run
    return window[-1] << 16 | len(window) if window else 0


def test_the_window_stores_are_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    stores = {25, 36}           # window[n + k], and window[n - 1] after the loop
    assert stores <= set(verified.accesses)
    assert stores <= verified.proven


@pytest.mark.parametrize("mem", [b"", b"\x00", b"\x02abc", b"\x1f" + bytes(range(40)),
                                 (b"\x1f" + bytes(range(1, 33))) * 9, b"\x05ab"])
def test_the_window_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)


# regression (found by `bpfjit fuzz --seconds 600 --jobs 2 --seed 2205`): a 32-bit add
# of a register whose value does not fit in 32 bits adds only its low half, so the sum
# is not the register plus the old value; the verifier related them so, found the
# branch that compares them infeasible both ways, and the JITs trapped as unreachable
# where the interpreter ran on
WIDE_ADDEND = """
    mov %r2, %r2
    and %r2, 0xffff
    lddw %r0, 0xffffffff00000000
    add32 %r2, %r0
    mov %r3, 1
    jeq %r2, %r0, +1
    mov %r3, 2
    mov %r0, %r3
    exit
"""


def test_a_32_bit_add_of_a_wide_register_is_not_its_sum(engine):
    prog = bpfjit.assemble(WIDE_ADDEND)
    assert verify(prog, cache=False).unreachable == ()
    # r2 = len & 0xffff plus 0 (the low half of r0): never r0, so r0 = 2
    assert bpfjit.compile(prog, engine)(bytearray(5)) == 2
