"""`int best = -1;` then `best = i` in a loop, then `if (best < 0) ...; a[best]`: the
textbook "none found yet" sentinel, as clang -O2 emits it for BPF.  The int lives
zero-extended in a 64-bit register, so -1 is 0xffffffff there, and its sign is tested
through a sign-extended copy (`lsh 32; arsh 32`), either of a copy of the register (a
use inside the loop) or of the register shifted in place (`lsh r6, 32; mov r7, r6;
arsh r7, 32; ...; rsh r6, 32`, after it).  Joined, 0xffffffff and an index in [0, 15]
make [0, 0xffffffff] as a 64-bit interval; as a signed 32-bit value they make [-1,
15], which the verifier keeps beside it, so that the test of the sign leaves [0, 15]
and every access by the index is proven (corpus `dijkstra`'s nearest node, `keyval`'s
matched name).  Results are checked on every engine against the index found by hand."""

import random

import pytest

import bpfjit
from bpfjit.verifier import verify

# n = mem[0] & 15; best = the last i < n with mem[1 + i] > 100, else -1.  Inside the
# loop, while best >= 0, the stack byte at best counts the trips since it was found
# (tested through a sign-extended copy); after the loop, tested through the register
# shifted in place, r0 = stack[best] << 8 | (best + 1), or 0 when none was found.
PROGRAM = """
    mov %r0, 0
    jlt %r2, 17, out
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    ldxb %r3, [%r1]
    and %r3, 15
    lddw %r6, 0xffffffff
    mov %r4, 0
loop:
    jge %r4, %r3, done
    mov %r9, %r6
    lsh %r9, 32
    mov %r7, %r9
    arsh %r7, 32
    jslt %r7, 0, look
    rsh %r9, 32
    mov %r8, %r10
    add %r8, -16
    add %r8, %r9
    ldxb %r5, [%r8]
    add %r5, 1
    stxb [%r8], %r5
look:
    mov %r5, %r1
    add %r5, %r4
    ldxb %r5, [%r5+1]
    jle %r5, 100, next
    mov %r6, %r4
    mov %r8, %r10
    add %r8, -16
    add %r8, %r4
    stb [%r8], 0
next:
    add %r4, 1
    ja loop
done:
    lsh %r6, 32
    mov %r7, %r6
    arsh %r7, 32
    jslt %r7, 0, out
    rsh %r6, 32
    mov %r8, %r10
    add %r8, -16
    add %r8, %r6
    ldxb %r0, [%r8]
    lsh %r0, 8
    add %r0, %r6
    add %r0, 1
out:
    exit
"""


def expected(mem: bytes) -> int:
    if len(mem) < 17:
        return 0
    best, since = -1, 0
    for i in range(mem[0] & 15):
        if best >= 0:
            since += 1
        if mem[1 + i] > 100:
            best, since = i, 0
    return 0 if best < 0 else since << 8 | (best + 1)


def test_every_access_by_the_index_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert verified.accesses and verified.proven == set(verified.accesses)


def test_strict_mode_accepts_it():
    verify(bpfjit.assemble(PROGRAM), mode="strict", cache=False)


@pytest.mark.parametrize("seed", range(6))
def test_the_index_found_on_every_engine(engine, seed):
    rng = random.Random(seed)
    mem = bytes([rng.randrange(256)]) + bytes(rng.choice((0, 100, 101, 255))
                                              for _ in range(16 + seed % 3))
    if seed == 0:
        mem = bytes([15]) + bytes(16)            # none found: -1 all the way
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)
    assert fn(mem[:16]) == 0


def test_the_join_keeps_the_signed_32_bit_range():
    from bpfjit.verifier.domain import const, join, s32_view, scalar, widen
    # -1 as a zero-extended int, and an index 0..15: as 64-bit intervals every number
    # from 0 to 0xffffffff; as a signed 32-bit number -1..15
    joined = join(const(0xFFFFFFFF), scalar(0, 15))
    assert (joined.umin, joined.umax) == (0, 0xFFFFFFFF)
    assert s32_view(joined) == (-1, 15)
    # a loop head widening it: the upper end moves out to the next threshold (20)
    assert s32_view(widen(joined, join(joined, scalar(0, 17)), (20, 100))) == (-1, 20)
    # a number that may be 2^32 or more has no such range
    assert s32_view(join(const(0xFFFFFFFF), scalar(0, 1 << 32))) is None


# the same search as clang -mcpu=v3 writes it: `w6 = -1` (a 32-bit move, so
# 0xffffffff), the sign tested by a 32-bit signed jump, the index taken by a 32-bit
# move; r0 = best + 1 and the stack byte at best (1 where found), or 0
PROGRAM_ALU32 = """
    mov %r0, 0
    jlt %r2, 17, out
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    ldxb %r3, [%r1]
    and %r3, 15
    mov32 %r6, -1
    mov %r4, 0
loop:
    jge %r4, %r3, done
    mov %r5, %r1
    add %r5, %r4
    ldxb %r5, [%r5+1]
    jle %r5, 100, next
    mov32 %r6, %r4
next:
    add %r4, 1
    ja loop
done:
    jslt32 %r6, 0, out
    mov32 %r7, %r6
    mov %r8, %r10
    add %r8, -16
    add %r8, %r7
    stb [%r8], 1
    ldxb %r0, [%r8]
    lsh %r0, 8
    add %r0, %r7
    add %r0, 1
out:
    exit
"""


def expected_alu32(mem: bytes) -> int:
    if len(mem) < 17:
        return 0
    found = [i for i in range(mem[0] & 15) if mem[1 + i] > 100]
    return 1 << 8 | (found[-1] + 1) if found else 0


def test_the_32_bit_form_is_proven_too():
    verified = verify(bpfjit.assemble(PROGRAM_ALU32), cache=False)
    assert verified.accesses and verified.proven == set(verified.accesses)


@pytest.mark.parametrize("seed", range(4))
def test_the_32_bit_form_on_every_engine(engine, seed):
    rng = random.Random(seed)
    mem = bytes([rng.randrange(256)]) + bytes(rng.choice((0, 100, 101, 255))
                                              for _ in range(16 + seed))
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM_ALU32), engine)
    assert fn(mem) == expected_alu32(mem)
