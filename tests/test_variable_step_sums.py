"""Indices that move by a step held in a register, as shell sort's do.

Two facts no difference bound holds, both `y == a + b + k` (zone.plus):

- `x -= s` with a copy c of the old x kept: c == x + s.  Clang tests the copy after the
  subtraction (`while (j >= gap) ... j -= gap`), so `c >= s` must give the new x >= 0;
- a sum every path into a loop head satisfies though none recorded it: shell sort's
  `i = gap` and `k = i - gap = 0` on entry, both stepped by one, are `i == gap + k` on
  every trip, which `i < n` turns into a ceiling on `gap + k`, the index of `a[k + gap]`.

Before either, every access through such an index was checked at run time (corpus
`shell`: 3 of its 10 accesses, llvm 2.07x native)."""

from __future__ import annotations

import random

import pytest

import bpfjit
from bpfjit.verifier import verify

# a[i] = i for i < 32 on the stack; j = mem[0] & 31, step = (mem[1] & 7) + 1; sum a[j]
# while j keeps at least 0: the loop tests the old j (a copy) against the step
COUNTDOWN = """
    jlt %r2, 2, out0
    lddw %r4, 0x0706050403020100
    stxdw [%r10-32], %r4
    lddw %r4, 0x0f0e0d0c0b0a0908
    stxdw [%r10-24], %r4
    lddw %r4, 0x1716151413121110
    stxdw [%r10-16], %r4
    lddw %r4, 0x1f1e1d1c1b1a1918
    stxdw [%r10-8], %r4
    ldxb %r7, [%r1+0]
    and %r7, 31
    ldxb %r3, [%r1+1]
    and %r3, 7
    add %r3, 1
    mov %r0, 0
loop:
    mov %r9, %r10
    add %r9, -32
    add %r9, %r7
    ldxb %r6, [%r9+0]
    add %r0, %r6
    mov %r8, %r7
    sub %r7, %r3
    jge %r8, %r3, loop
    exit
out0:
    mov %r0, 0
    exit
"""

# byte r4 of the buffer copied to fp-32 + r4, r4 stepped (the two copy loops' body)
COPY_BYTE = """
    mov %r9, %r1
    add %r9, %r4
    ldxb %r0, [%r9+0]
    mov %r9, %r10
    add %r9, -32
    add %r9, %r4
    stxb [%r9+0], %r0
    add %r4, 1
"""

# n = min(len, 32) bytes copied to the stack; gap = (mem[0] & 15) + 1; for i from gap
# below n, with k = i - gap stepped alongside: sum a[k + gap] (a[i], through the sum)
STEPPED_PAIR = """
    jlt %r2, 1, out0
    jlt %r2, 32, short
    mov %r2, 32
short:
    mov %r4, 0
copy:""" + COPY_BYTE + """    jlt %r4, %r2, copy
    ldxb %r3, [%r1+0]
    and %r3, 15
    add %r3, 1
    mov %r0, 0
    mov %r4, 0
    mov %r5, %r3
rows:
    jge %r5, %r2, out
    mov %r9, %r4
    add %r9, %r3
    add %r9, %r10
    ldxb %r6, [%r9-32]
    add %r0, %r6
    add %r4, 1
    add %r5, 1
    ja rows
out:
    exit
out0:
    mov %r0, 0
    exit
"""

# shell sort of the first 32 bytes (gaps n/2, n/4, ..., 1) on the stack, then the
# sorted bytes folded h = h * 31 + b; j - gap in r7, i - gap in r4, i in r5
SHELL_SORT = """
    jlt %r2, 32, short
    mov %r2, 32
short:
    mov %r4, 0
copy:
    jge %r4, %r2, copied""" + COPY_BYTE + """    ja copy
copied:
    mov %r3, %r2
    rsh %r3, 1
gaps:
    jeq %r3, 0, done
    mov %r4, 0
    mov %r5, %r3
rows:
    jge %r5, %r2, next_gap
    mov %r9, %r10
    add %r9, -32
    add %r9, %r5
    ldxb %r6, [%r9+0]
    mov %r7, %r4
shift:
    mov %r9, %r10
    add %r9, -32
    add %r9, %r7
    ldxb %r0, [%r9+0]
    jle %r0, %r6, place
    mov %r9, %r7
    add %r9, %r3
    add %r9, %r10
    stxb [%r9-32], %r0
    mov %r8, %r7
    sub %r7, %r3
    jge %r8, %r3, shift
place:
    mov %r9, %r7
    add %r9, %r3
    add %r9, %r10
    stxb [%r9-32], %r6
    add %r4, 1
    add %r5, 1
    ja rows
next_gap:
    rsh %r3, 1
    ja gaps
done:
    mov %r0, 0
    mov %r4, 0
fold:
    jge %r4, %r2, out
    mov %r9, %r10
    add %r9, -32
    add %r9, %r4
    ldxb %r6, [%r9+0]
    mul %r0, 31
    add %r0, %r6
    add %r4, 1
    ja fold
out:
    exit
"""

PROGRAMS = {"countdown": COUNTDOWN, "stepped pair": STEPPED_PAIR, "shell sort": SHELL_SORT}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_every_access_is_proven(name):
    v = verify(bpfjit.assemble(PROGRAMS[name]), cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def _inputs():
    rng = random.Random(9669)
    yield b""
    yield b"\x00"
    yield bytes([31, 0])
    yield bytes([31, 7])
    yield bytes([15]) + bytes(range(40))
    yield bytes(range(32, 0, -1))
    for n in (2, 3, 17, 31, 32, 33, 64):
        yield bytes(rng.randrange(256) for _ in range(n))


def _countdown(data: bytes) -> int:
    if len(data) < 2:
        return 0
    j, step, total = data[0] & 31, (data[1] & 7) + 1, 0
    while True:
        total += j                   # a[j] == j
        if j < step:
            return total
        j -= step


def _stepped_pair(data: bytes) -> int:
    if not data:
        return 0
    n, gap = min(len(data), 32), (data[0] & 15) + 1
    return sum(data[gap:n])


def _shell_sort(data: bytes) -> int:
    h = 0
    for b in sorted(data[:32]):
        h = (h * 31 + b) % (1 << 64)
    return h


MODELS = {"countdown": _countdown, "stepped pair": _stepped_pair, "shell sort": _shell_sort}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_the_programs_compute_their_models_on_every_engine(engine, name):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAMS[name]), engine, cache=False)
    for data in _inputs():
        assert fn(bytearray(data)) == MODELS[name](data), data


def _shell_variant(size: int, limit: int, gap_mask: int, gap_add: int, test: str,
                   delta: int, start: int) -> str:
    """SHELL_SORT's shape with its edges moved: an array of `size` bytes, n clamped to
    `limit`, the gap a masked input byte plus `gap_add` (0 allowed), the inner loop's
    test `jge` or `jgt`, the shifted store `delta` bytes off, j - gap starting at
    i - gap + `start`.  Many of these go out of bounds."""
    zeros = "".join(f"    stdw [%r10-{k}], 0\n" for k in range(8, size + 1, 8))
    return f"""
    jlt %r2, 1, out
    jlt %r2, {limit}, short
    mov %r2, {limit}
short:
{zeros}    mov %r9, %r10
    add %r9, -{size}
    ldxb %r3, [%r1+0]
    and %r3, {gap_mask}
    add %r3, {gap_add}
    mov %r4, 0
    mov %r5, %r3
rows:
    jge %r5, %r2, out
    mov %r7, %r4
    add %r7, {start}
shift:
    mov %r8, %r9
    add %r8, %r7
    ldxb %r0, [%r8+0]
    jgt %r0, 200, out
    mov %r8, %r7
    add %r8, %r3
    add %r8, %r9
    stxb [%r8{delta:+d}], %r0
    mov %r6, %r7
    sub %r7, %r3
    {test} %r6, %r3, shift
    add %r4, 1
    add %r5, 1
    ja rows
out:
    mov %r0, 0
    exit
"""


def test_proofs_of_stepped_indices_hold_where_the_edges_move():
    # the interpreter is the oracle: an access it stops out of bounds was not proven
    # (tests/test_verifier_soundness.py), over edges moved one way or the other
    from test_verifier_soundness import assert_proofs_hold
    rng = random.Random(1208)
    inputs = [bytes([rng.randrange(256) for _ in range(n)]) for n in (1, 2, 7, 16, 31, 40)]
    inputs += [bytes([g]) + bytes(39) for g in (0, 1, 7, 15, 31)]
    proven_somewhere = 0
    for _ in range(24):
        size = rng.choice([8, 16, 32])
        text = _shell_variant(size, size + rng.choice([-1, 0, 1, 8]), rng.choice([3, 7, 15]),
                              rng.choice([0, 1]), rng.choice(["jge", "jgt"]),
                              rng.choice([-1, 0, 1]), rng.choice([0, 1]))
        verified = verify(bpfjit.assemble(text), cache=False)
        proven_somewhere += len(verified.proven)
        assert_proofs_hold(text, inputs)
    assert proven_somewhere > 0
