"""A count the loop's end copies from another register, as clang -mcpu=v3 keeps a
heap's size: `w6 = n + 1` is tested against 48 (`jne32 w6, 48`), then `w7 = w6` carries
it round to the head, where w7 itself is only ever tested against 0.  The head's
widening took w7's own thresholds (0 and 1) and widened it to its limits, so the
store indexed by it went unproven; a register only tested against 0 and 1 that the
loop's latches copy another into now takes that one's thresholds too (47, 48, 49),
and the count settles at 47.  Run on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# s (48 bytes at fp-48) takes the input bytes in turn at s[n]; when n reaches 48,
# r0 += s[0] and n drops back to 32 (a batch flushed)
PROGRAM = """
    mov32 %r7, 0
    mov %r9, 0
    mov %r0, 0
loop:
    jge %r9, %r2, done
    mov %r3, %r1
    add %r3, %r9
    ldxb %r4, [%r3]
    mov %r3, %r10
    add %r3, -48
    add %r3, %r7
    stxb [%r3], %r4
    mov32 %r6, 1
    jeq32 %r7, 0, latch
    mov32 %r6, %r7
    add32 %r6, 1
    mov %r7, 0
    jne32 %r6, 48, latch
    ldxb %r4, [%r10-48]
    add %r0, %r4
    mov32 %r6, 32
latch:
    add %r9, 1
    mov32 %r7, %r6
    ja loop
done:
    exit
"""


def expected(mem: bytes) -> int:
    s, n, total = [0] * 48, 0, 0
    for byte in mem:
        s[n] = byte
        n += 1
        if n == 48:
            total += s[0]
            n = 32
    return total


def test_the_store_by_the_count_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert len(verified.accesses) == 3
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"\x09", bytes(range(47)), bytes(range(48)),
                                 bytes(range(200, 100, -1)), bytes([7, 1, 2]) * 100])
def test_the_flushed_sum_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)
