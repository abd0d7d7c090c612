"""A count kept in 32 bits (`w4 += 1`, `w4 += 3`) and tested in 32 bits (`if w4 < 125`),
as clang -mcpu=v3 keeps utf16's output offset.  A widening that sent it straight to
the 64-bit limit left it there: a 32-bit test bounds only the low half of a number
that may exceed 2^32, so the store it indexes moved a frame pointer by an unknown
amount, which wrote over every spill -- the spilled input pointer too, and every read
through it became unproven.  A number still below 2^32 now widens to 2^32 - 1 first,
where the 32-bit test bounds it.  Run on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# each input byte goes to buf[o] (128 bytes at fp-128), a byte >= 0x80 three more
# times after it; at o >= 125 the buffer is flushed: r0 += buf[0], o = 0.
# r0 = (the flushed sum << 8) | o at the end
PROGRAM = """
    stxdw [%r10-144], %r1
    mov %r0, 0
    mov32 %r4, 0
    mov %r9, 0
loop:
    jge %r9, %r2, done
    ldxdw %r3, [%r10-144]
    add %r3, %r9
    ldxb %r6, [%r3]
    jlt32 %r4, 125, put
    ldxb %r5, [%r10-128]
    add %r0, %r5
    mov32 %r4, 0
put:
    mov %r3, %r10
    add %r3, -128
    add %r3, %r4
    stxb [%r3], %r6
    add32 %r4, 1
    jlt32 %r6, 0x80, next
    stxb [%r3+1], %r6
    stxb [%r3+2], %r6
    stxb [%r3+3], %r6
    add32 %r4, 3
next:
    add %r9, 1
    ja loop
done:
    lsh %r0, 8
    or %r0, %r4
    exit
"""


def expected(mem: bytes) -> int:
    buf, o, flushed = [0] * 128, 0, 0
    for byte in mem:
        if o >= 125:
            flushed += buf[0]
            o = 0
        buf[o] = byte
        o += 1
        if byte >= 0x80:
            buf[o:o + 3] = [byte] * 3
            o += 3
    return (flushed << 8 | o) & 0xFFFF_FFFF_FFFF_FFFF


def test_the_reads_through_the_spilled_pointer_are_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert len(verified.accesses) == 8
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"a", bytes(range(200)), bytes([0x90, 1]) * 90,
                                 bytes(range(255, 0, -1)) * 2])
def test_the_buffer_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)
