"""corpus/plain/intervals.c as clang 14 -O1 -mcpu=v3 writes it: the batch's count n and
the pointer to its next slot, fp-192 + 8n, move in lockstep, and a test `if w2 == 0`
makes n a constant on one path, where its relations go.  Where the paths met the join
looked for the line through the points the paths bring, but through the first two
only, and the loop's first trip and its exit bring the same point: no line, the
pointer lost its bound, and the batch's loads and stores (14 accesses) were left
to run-time checks.  The line is now taken through the first point and the first different
one, and is looked for at every join, not only at loop heads.  Checked on every
engine against the program written again in Python (which agrees with the native
build on the corpus's four inputs)."""

import random

import pytest

import bpfjit
from bpfjit.verifier import verify

# bpfjit disasm of the -O1 -mcpu=v3 object (r1 = mem, r2 = len; r0 = the fold)
PROGRAM = """
    stxdw [%r10-232], %r1
    mov %r0, 0
    stxdw [%r10-216], %r2
    jlt %r2, 4, +175
    mov %r3, 0
    mov %r1, %r10
    add %r1, -180
    stxdw [%r10-256], %r1
    mov %r5, 0
    ja +20
    mov32 %r1, %r9
    ldxw %r2, [%r10-208]
    mov32 %r0, %r2
    lsh %r0, 16
    xor %r0, %r1
    ldxdw %r1, [%r10-200]
    lsh %r1, 40
    xor %r0, %r1
    ldxdw %r1, [%r10-224]
    mul %r1, 31
    add %r0, %r1
    ldxdw %r5, [%r10-248]
    jgt %r5, 0x1f9f, +156
    add %r5, 96
    mov %r1, %r5
    or %r1, 4
    mov %r3, %r0
    ldxdw %r2, [%r10-216]
    jle %r1, %r2, +1
    ja +149
    stxdw [%r10-224], %r3
    mov %r3, %r10
    add %r3, -192
    mov %r4, %r5
    or %r4, 4
    mov %r2, 0
    stxdw [%r10-248], %r5
    ja +46
    add %r9, -1
    mov %r0, %r9
    lsh %r0, 32
    rsh %r0, 32
    lsh %r0, 3
    mov %r5, %r10
    add %r5, -192
    add %r5, %r0
    ldxh %r1, [%r5]
    mov %r0, %r6
    jle32 %r1, %r4, +12
    ldxh %r1, [%r5+2]
    ldxh %r0, [%r5]
    ldxh %r6, [%r5+6]
    ldxh %r5, [%r5+4]
    stxh [%r8+4], %r5
    stxh [%r8+6], %r6
    stxh [%r8], %r0
    stxh [%r8+2], %r1
    mov %r0, 0
    add %r8, -8
    mov %r6, %r9
    jne32 %r9, 0, -23
    add %r2, 1
    mov32 %r1, %r4
    add32 %r1, %r7
    lsh %r0, 32
    rsh %r0, 32
    lsh %r0, 3
    mov %r5, %r10
    add %r5, -192
    add %r5, %r0
    mov32 %r0, 0
    stxh [%r5+6], %r0
    ldxw %r0, [%r10-208]
    stxh [%r5+4], %r0
    stxh [%r5+2], %r1
    stxh [%r5], %r4
    ldxdw %r5, [%r10-200]
    mov %r4, %r5
    add %r4, 4
    ldxdw %r1, [%r10-216]
    jgt %r4, %r1, +31
    add %r3, 8
    jlt32 %r2, 24, +1
    ja +28
    stxdw [%r10-200], %r4
    ldxdw %r1, [%r10-232]
    mov %r4, %r1
    add %r4, %r5
    ldxb %r0, [%r4]
    mov %r4, %r5
    or %r4, 1
    mov %r6, %r1
    add %r6, %r4
    ldxb %r4, [%r6]
    lsh32 %r4, 8
    or32 %r4, %r0
    mov %r0, %r5
    or %r0, 3
    or %r5, 2
    mov %r6, %r1
    add %r6, %r5
    mov %r5, %r1
    add %r5, %r0
    ldxb %r1, [%r5]
    stxw [%r10-208], %r1
    ldxb %r7, [%r6]
    mov %r0, %r2
    jeq32 %r2, 0, -47
    mov %r8, %r3
    mov %r6, %r2
    mov %r9, %r6
    ja -74
    mov32 %r1, 0
    stxw [%r10-208], %r1
    mov32 %r9, 0
    mov32 %r1, 0
    stxdw [%r10-200], %r1
    ldxdw %r1, [%r10-224]
    jeq32 %r2, 0, -109
    mov32 %r1, 0
    stxdw [%r10-200], %r1
    mov %r3, 0
    ldxh %r1, [%r10-192]
    stxw [%r10-240], %r1
    ldxh %r6, [%r10-190]
    ldxh %r5, [%r10-188]
    lsh %r2, 32
    rsh %r2, 32
    ldxdw %r4, [%r10-256]
    mov32 %r9, 0
    mov32 %r1, 0
    stxw [%r10-208], %r1
    ja +7
    ldxh %r0, [%r4]
    add32 %r5, %r0
    mov32 %r6, %r1
    add %r4, 8
    add %r3, 1
    jlt %r3, %r2, +1
    ja -130
    mov %r8, %r3
    add %r8, 1
    jge %r8, %r2, +6
    ldxh %r1, [%r4-4]
    jlt32 %r6, %r1, +4
    ldxh %r1, [%r4-2]
    jlt32 %r6, %r1, -14
    mov32 %r1, %r6
    ja -16
    mov32 %r1, %r5
    mov32 %r7, %r5
    jgt32 %r5, %r9, +1
    mov32 %r1, %r9
    mov32 %r0, %r6
    ldxw %r5, [%r10-240]
    sub32 %r0, %r5
    ldxw %r9, [%r10-208]
    add32 %r9, %r0
    stxw [%r10-208], %r9
    ldxdw %r9, [%r10-224]
    mul %r9, 131
    mov32 %r0, %r5
    mul32 %r0, 7
    add %r9, %r0
    mov32 %r0, %r6
    add %r9, %r0
    stxdw [%r10-224], %r9
    ldxdw %r0, [%r10-200]
    add32 %r0, 1
    stxdw [%r10-200], %r0
    mov32 %r9, %r1
    mov32 %r5, %r7
    jge %r8, %r2, -37
    ldxh %r5, [%r4]
    ldxh %r6, [%r4-2]
    ldxh %r0, [%r4-4]
    stxw [%r10-240], %r0
    mov32 %r9, %r1
    ja -43
    exit
"""


def intervals(mem: bytes) -> int:
    M64 = (1 << 64) - 1
    h, base = 0, 0
    while base + 4 <= len(mem) and base < 8192:
        spans = []
        i = base
        while i + 4 <= len(mem) and len(spans) < 24:
            start = mem[i] | mem[i + 1] << 8
            x = (start, (start + mem[i + 2]) & 0xFFFF, mem[i + 3])
            j = len(spans)
            spans.append(None)
            while j > 0 and spans[j - 1][0] > x[0]:
                spans[j] = spans[j - 1]
                j -= 1
            spans[j] = x
            i += 4
        n = len(spans)
        cur_start, cur_end, weight = spans[0]
        total = heaviest = runs = 0
        for k in range(1, n + 1):
            if k < n and spans[k][0] <= cur_end:
                cur_end = max(cur_end, spans[k][1])
                weight = (weight + spans[k][2]) & 0xFFFFFFFF
                continue
            runs += 1
            total = (total + cur_end - cur_start) & 0xFFFFFFFF
            heaviest = max(heaviest, weight)
            h = (h * 131 + cur_start * 7 + cur_end) & M64
            if k < n:
                cur_start, cur_end, weight = spans[k]
        h = (h * 31 + (runs << 40 ^ total << 16 ^ heaviest)) & M64
        base += 4 * 24
    return h


def test_every_access_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    # every load and store of the text is an access (the batch's, the input's, spills)
    assert len(verified.accesses) == sum("[" in line for line in PROGRAM.splitlines())
    assert verified.proven == set(verified.accesses)


def _random_input(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


@pytest.mark.parametrize("mem", [b"", b"\x01\x02\x03\x04", bytes(range(20)),
                                 _random_input(1, 122), _random_input(2, 400),
                                 bytes([0x10, 0, 5, 1]) * 30])
def test_the_sweep_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == intervals(mem)
