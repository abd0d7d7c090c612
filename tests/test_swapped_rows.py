"""Two rows on the stack swapped by pointer after each outer trip, as a textbook dynamic
programme keeps them (edit distance: `prev` and `cur`, `t = prev; prev = cur; cur = t`).
The inner loop's pointer starts at either row, so it is 2*j plus one of two offsets:
no affine equality holds on both, and without the band `p - 2*j in [-84, -42]` its
widened offset ran past the frame.  The store through it was then checked at run time,
a checked store may land anywhere in the frame, so every spill was forgotten as well
(bpfjit.verifier.bands)."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.isa import Kind
from bpfjit.verifier import verify

ROWS = 5


def program(limit: int, spill: bool = False) -> bpfjit.Program:
    """Rows A (fp-84) and B (fp-42) of 21 u16 each; m = min(len, limit); for i in
    0..4: cur[j] = j + i for j in 0..m, then the rows swap; returns the sum of the row
    written last.  `spill`: the row pointers live in stack slots, as clang keeps them."""
    if spill:
        load = "    ldxdw %r4, [%r10-96]\n    ldxdw %r5, [%r10-104]\n"
        store = "    stxdw [%r10-96], %r4\n    stxdw [%r10-104], %r5\n"
    else:
        load = store = ""
    text = f"""
    mov %r3, %r2
    jle %r3, {limit}, ok
    mov %r3, {limit}
ok:
    mov %r4, %r10
    add %r4, -84
    mov %r5, %r10
    add %r5, -42
    mov %r6, 0
{store}outer:
{load}    mov %r0, %r5
    mov %r8, 0
inner:
    mov %r9, %r8
    add %r9, %r6
    stxh [%r0+0], %r9
    add %r0, 2
    add %r8, 1
    jle %r8, %r3, inner
    mov %r9, %r4
    mov %r4, %r5
    mov %r5, %r9
{store}    add %r6, 1
    jlt %r6, {ROWS}, outer
    mov %r0, 0
    mov %r8, 0
sum:
    ldxh %r9, [%r4+0]
    add %r0, %r9
    add %r4, 2
    add %r8, 1
    jle %r8, %r3, sum
    exit
"""
    return bpfjit.assemble(text)


def expected(length: int, limit: int) -> int:
    """The rows run by hand: the last row written holds j + 4 for j in 0..m."""
    m = min(length, limit)
    rows = {"A": [0] * 21, "B": [0] * 21}
    prev, cur = "A", "B"
    for i in range(ROWS):
        for j in range(m + 1):
            rows[cur][j] = j + i
        prev, cur = cur, prev
    return sum(rows[prev][:m + 1])


@pytest.mark.parametrize("spill", [False, True])
def test_every_access_through_the_swapped_rows_is_proven(spill):
    # strict mode refuses an access it cannot prove: before bands it refused the store
    v = verify(program(20, spill), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and len(v.accesses) >= 2


@pytest.mark.parametrize("spill", [False, True])
@pytest.mark.parametrize("length", [0, 1, 7, 20, 64])
def test_the_rows_run_alike_on_every_engine(engine, spill, length):
    fn = bpfjit.compile(program(20, spill), engine, cache=False)
    assert fn(bytes(length)) == expected(length, 20)


def test_a_row_one_entry_too_long_is_not_proven_and_traps_on_every_engine(engine):
    # m up to 21 writes entry 21 of row B, at fp+0: past the frame
    prog = program(21)
    v = verify(prog, cache=False)
    store = next(pc for pc, insn in prog if insn.kind == Kind.STX)
    assert store in v.accesses and store not in v.proven
    with pytest.raises(bpfjit.BpfError, match="strict"):
        verify(prog, mode="strict", cache=False)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bytes(20)) == expected(20, 21)        # m = 20: in the rows
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes(21))
    assert info.value.pc == store


DRIFT = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r6, [%r1+0]
    mov %r3, %r10
    add %r3, -40
    mov %r8, 0
loop:
    stxh [%r3+0], %r8
    add %r3, 2
    jne %r8, 3, step
    jeq %r6, 0, step
    add %r3, 2
step:
    add %r8, 1
    jlt %r8, 20, loop
    ldxh %r0, [%r10-2]
out:
    exit
"""


def test_a_pointer_that_drifts_from_its_counter_keeps_no_band(engine):
    # p - 2*j is -40 until the trip with j = 3, which may add 2 more: no band holds
    # from then on (what comes round the loop leaves the old one), and with the extra
    # step taken the last store lands at fp+0, past the frame
    prog = bpfjit.assemble(DRIFT)
    store = 6
    assert prog.insns[store].kind == Kind.STX
    v = verify(prog, cache=False)
    assert store in v.accesses and store not in v.proven
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(b"\x00") == 19                 # no drift: the row's last entry, j = 19
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(b"\x01")
    assert info.value.pc == store
