"""A sum two counters keep round a loop bounds the one that falls.

Reversing a string in place, `for (i = 0; i < len / 2; i++) swap(s[i], s[len - 1 - i])`,
clang keeps `len - 1 - i` as its own register falling by one while `i` rises by one
(xdp-tools' DNS deny list, its name reversed on the stack for an LPM lookup; the kernel
loads it).  Widened, the falling index had no lower bound: the store through it might
hit any slot of the frame, so every spill was forgotten, the length kept on the stack
with them, and the accesses after the loop were left to run-time checks too.  The
loop's head now keeps `len == hi + lo - 7` (zone.plus, with the length in its stack
slot: `pluses.plus_from_points` takes spilled numbers, and a term the body moves through
a copy stays in the fact), and the sum bounds each term by the other's bounds and by
what the zone says of `len - lo` (`State.apply_plus_bounds`, also on the state coming
round the loop, before the widening takes that for growth).
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import peeling, verify

from test_verifier_soundness import assert_proofs_hold

# the 64 bytes from fp-72 to fp-9 hold 0..63; len = input[0] & 63 is spilled at fp-80; the
# string is the len bytes from fp-68, reversed as clang -O2 compiles the loop above;
# r0 = s[0] | s[1] << 8 afterwards
REVERSE = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r1, [%r1+0]
    and %r1, 63
    stxdw [%r10-80], %r1
{fill}
    ldxdw %r2, [%r10-80]
    and %r2, 255
    mov %r3, 2
    jgt %r3, %r2, done
    mov %r3, 4
    add %r1, 3
    ldxdw %r2, [%r10-80]
    and %r2, 254
    rsh %r2, 1
    mov %r4, 4
loop:
    mov %r5, %r10
    add %r5, -72
    mov %r0, %r5
    add %r0, %r1
    add %r5, %r3
    ldxb %r6, [%r5]
    ldxb %r9, [%r0]
    stxb [%r5], %r9
    stxb [%r0], %r6
    add %r1, -1
    add %r4, 1
    mov %r5, %r3
    add %r5, -3
    mov %r3, %r4
    jgt %r2, %r5, loop
done:
    ldxb %r0, [%r10-68]
    ldxb %r1, [%r10-67]
    lsh %r1, 8
    or %r0, %r1
out:
    exit
""".format(fill="\n".join(
    f"    lddw %r6, {int.from_bytes(bytes(range(8 * k, 8 * k + 8)), 'little'):#x}\n"
    f"    stxdw [%r10{-72 + 8 * k}], %r6" for k in range(8)))


def expected(first: int) -> int:
    """s[0] | s[1] << 8 after reversing the len = first & 63 bytes 4, 5, ..., 63, then
    the zeros of fp-8 (not filled: the stack starts zeroed)."""
    n = first & 63
    s = list(range(4, 64)) + [0] * 4
    s[:n] = reversed(s[:n])
    return s[0] | s[1] << 8


def test_the_reversal_is_proven():
    v = verify(bpfjit.assemble(REVERSE), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def test_counters_out_of_step_keep_a_band(monkeypatch):
    # the rising counter steps by 2: len - 1 - i and i no longer keep their sum, but the
    # rising one (4 on entry, 6 the first way round) and the falling index (len + 3,
    # then len + 2) keep r4 + 2 * r1 within a band the entry's len bounds
    # (bpfjit.verifier.bands: _counted_pairs), which bounds the falling one by the
    # rising one's test without peeling the loop (until 2026-12-07 it stayed unproven)
    text = REVERSE.replace("    add %r4, 1\n", "    add %r4, 2\n")
    monkeypatch.setattr(peeling, "PEEL_TRIES", 0)
    v = verify(bpfjit.assemble(text), cache=False)
    assert v.accesses and v.proven == set(v.accesses)
    assert_proofs_hold(text, [bytes([n]) for n in (0, 1, 2, 3, 17, 62, 63, 64, 127, 255)])


def test_counters_out_of_step_are_proven_trip_by_trip():
    # the loop runs at most 16 trips (trip k goes on while len / 2 > 2k - 1, len / 2 <=
    # 31), and walked one by one (bpfjit.verifier.peeling), as the kernel walks them,
    # trip k's falling index len + 4 - k is at least 3k: every swap is inside the 64
    # bytes (the band above now proves them before any peeling; tests/test_loop_peeling.py
    # peels loops no band bounds)
    text = REVERSE.replace("    add %r4, 1\n", "    add %r4, 2\n")
    v = verify(bpfjit.assemble(text), cache=False)
    assert v.accesses and v.proven == set(v.accesses)
    assert_proofs_hold(text, [bytes([n]) for n in range(0, 256, 3)])


def test_the_proofs_hold():
    assert_proofs_hold(REVERSE, [bytes([n]) for n in range(0, 256, 5)])


@pytest.mark.parametrize("first", [0, 1, 2, 3, 4, 9, 32, 62, 63, 64 + 7, 255])
def test_every_engine_reverses(engine, first):
    fn = bpfjit.compile(bpfjit.assemble(REVERSE), engine, cache=False)
    assert fn(bytes([first, 1, 2])) == expected(first)
