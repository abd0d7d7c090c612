"""A count kept across an inner loop that never writes it, as clang -mcpu=v3 leaves an
insertion sort: the outer loop counts n up and tests the old count in 32 bits
(`w5 = w6; w6 += 1; if w5 < 23`), the inner loop walks j down from n.  While the
outer loop still counts up, the inner loop's head sees n grow and widens it past the
batch; the final pass then took what came round the inner loop (the widened n) as
well as what enters it.  A register no instruction of a loop writes holds on every
trip what it held on entry, so the head narrows it to the entering edges' value, and
the accesses by j <= n and by n after the loop are proven.  Run on every engine
against the maximum of the first 24 bytes, worked out in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# s[0..n-1] (u64 slots from fp-192) holds the first n = min(len, 24) input bytes,
# insertion-sorted ascending; r0 = s[n - 1], their largest, or 0 for no input
PROGRAM = """
    mov %r6, 0
    mov %r9, 0
outer:
    jge %r9, %r2, done
    mov %r3, %r1
    add %r3, %r9
    ldxb %r4, [%r3]
    mov %r7, %r6
inner:
    jeq %r7, 0, place
    mov %r8, %r7
    lsh %r8, 3
    mov %r3, %r10
    add %r3, -200
    add %r3, %r8
    ldxdw %r0, [%r3]
    jle %r0, %r4, place
    stxdw [%r3+8], %r0
    sub %r7, 1
    ja inner
place:
    lsh %r7, 3
    mov %r3, %r10
    add %r3, -192
    add %r3, %r7
    stxdw [%r3], %r4
    mov32 %r5, %r6
    add %r6, 1
    add %r9, 1
    jlt32 %r5, 23, outer
done:
    mov %r0, 0
    jeq %r6, 0, out
    lsh %r6, 3
    mov %r3, %r10
    add %r3, -200
    add %r3, %r6
    ldxdw %r0, [%r3]
out:
    exit
"""


def test_every_access_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert len(verified.accesses) == 5
    assert verified.proven == set(verified.accesses)


def test_strict_mode_accepts_it():
    verify(bpfjit.assemble(PROGRAM), mode="strict", cache=False)


@pytest.mark.parametrize("mem", [b"", b"\x07", bytes([9, 3, 200, 3, 0]),
                                 bytes(range(40, 0, -1)), bytes(range(30)),
                                 bytes([1] * 23 + [250]), bytes([1] * 24 + [250])])
def test_the_largest_of_the_batch_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == (max(mem[:24]) if mem else 0)
