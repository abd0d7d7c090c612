"""A count clamped to a constant keeps its bound against the buffer's end.

`nb = len - 1 - na; if (nb > 96) nb = 96;` (corpus `lcs`: the second string's length,
cut to the row's width) leaves nb <= (len - na) - 1 on both paths: on the clamped one
because 96 <= the old nb there.  The join of the two paths took that path's bound from
intervals alone (96 - (len - na) with len - na as small as the intervals allow), so a
loop over `b[j]`, b = mem + 1 + na and j < nb, kept a run-time check in its inner loop
(lcs 2.05x native on llvm).  A mirror's lower bound (len - na >= 97 there, which the
zone holds as na <= len - 97) now enters the bound a join gives a path that lacks the
relation."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

WIDTH = 96


def _program(clamp_when: str = "jgt", width: int = WIDTH, start: int = 1) -> str:
    """r0 = the sum of mem[start + na + j] for j < min(len - 1 - na, width), na = mem[0]
    (at most len - 1); `clamp_when` is the test that keeps the count (jgt: width > n)."""
    return f"""
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r3, [%r1+0]
    mov %r4, %r2
    add %r4, -1
    jgt %r3, %r4, out
    sub %r4, %r3
    mov %r5, {width}
    {clamp_when} %r5, %r4, counted
    mov %r4, {width}
counted:
    mov %r6, %r1
    add %r6, %r3
    add %r6, {start}
    mov %r7, 0
loop:
    jge %r7, %r4, out
    mov %r8, %r6
    add %r8, %r7
    ldxb %r8, [%r8+0]
    add %r0, %r8
    add %r7, 1
    ja loop
out:
    exit
"""


def _model(data: bytes, width: int = WIDTH) -> int:
    if not data or data[0] > len(data) - 1:
        return 0
    na = data[0]
    n = min(len(data) - 1 - na, width)
    return sum(data[1 + na + j] for j in range(n))


INPUTS = [b"", bytes([0]), bytes([0, 7]), bytes([3, 1, 2, 3, 4, 5, 6]), bytes([9, 1, 2]),
          bytes([2]) + bytes(range(1, 200)), bytes([150]) + bytes(range(250)),
          bytes([0]) + bytes([255] * 97), bytes([1]) + bytes([255] * 97)]


def test_strict_mode_proves_the_loop_over_the_clamped_count():
    v = verify(bpfjit.assemble(_program()), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


@pytest.mark.parametrize("data", INPUTS)
def test_the_clamped_sum_on_every_engine(engine, data):
    fn = bpfjit.compile(bpfjit.assemble(_program()), engine, cache=False)
    assert fn(bytearray(data)) == _model(data)


# the clamp with its edges moved: taken on the wrong side of the test (a count above
# the bytes left), a width past the bytes the test guarantees, a start one byte late;
# the interpreter is the oracle (tests/test_verifier_soundness.py)
@pytest.mark.parametrize("clamp_when", ["jgt", "jge", "jlt", "jle"])
@pytest.mark.parametrize("start", [1, 2])
def test_proofs_of_clamped_counts_hold(clamp_when, start):
    from test_verifier_soundness import assert_proofs_hold
    assert_proofs_hold(_program(clamp_when, start=start), INPUTS)
