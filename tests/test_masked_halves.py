"""A binary search's midpoint in unsigned 32-bit arithmetic: `lo + (hi - lo) / 2` of
u32 bounds, which clang computes as `((hi - lo) & 0xfffffffe) >> 1` (corpus lis's
lower bound).  The mask rounds the gap down to even before the shift, which shifts the
rounding out, so the midpoint is still `lo + floor((hi - lo) / 2)`, below hi while lo <
hi: `t[mid]` is proven.  With a gap rounded up instead (`+ 2` before the mask) the
midpoint can reach hi, and the read past the table stays unproven and traps."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

# key = mem[0]; a table of 16 bytes at r10-16 from mem[1..16], of which the first n =
# (mem[17] & 15) + 1 are searched; the lower bound of the key in them (the first index
# whose byte is not below the key, on a sorted table)
PROGRAM = """
    jlt %r2, 18, out
    ldxdw %r3, [%r1+1]
    stxdw [%r10-16], %r3
    ldxdw %r3, [%r1+9]
    stxdw [%r10-8], %r3
    ldxb %r6, [%r1+0]
    lddw %r4, 0xfffffffe
    mov %r9, 0
    ldxb %r8, [%r1+17]
    and %r8, 15
    add %r8, 1
loop:
    jge %r9, %r8, done
    mov %r7, %r8
    sub %r7, %r9
    {round_up}
    and %r7, %r4
    rsh %r7, 1
    add %r7, %r9
    mov %r5, %r10
    add %r5, -16
    add %r5, %r7
    ldxb %r5, [%r5+0]
    jge %r5, %r6, upper
    mov %r9, %r7
    add %r9, 1
    ja loop
upper:
    mov %r8, %r7
    ja loop
done:
    mov %r0, %r9
    exit
out:
    mov %r0, 99
    exit
"""


def _program(round_up: bool = False) -> bpfjit.Program:
    return bpfjit.assemble(PROGRAM.format(round_up="add %r7, 2" if round_up else ""))


def _lower_bound(mem: bytes) -> int:
    if len(mem) < 18:
        return 99
    key, table = mem[0], mem[1:17]
    lo, hi = 0, (mem[17] & 15) + 1
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if table[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def test_the_masked_midpoint_is_below_hi():
    v = bpfjit.verify(_program(), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


def test_a_midpoint_rounded_up_stays_unproven():
    with pytest.raises(VerifierError):
        bpfjit.verify(_program(round_up=True), mode="strict", cache=False)


@pytest.mark.parametrize("key, n", [(0, 16), (1, 16), (50, 16), (51, 7), (150, 16),
                                    (255, 16), (255, 1), (30, 3)])
def test_runs_on_every_engine(engine, key, n):
    table = bytes(range(0, 160, 10))        # 0, 10, ..., 150
    mem = bytes([key]) + table + bytes([n - 1])
    fn = bpfjit.compile(_program(), engine, cache=False)
    assert fn(bytearray(mem)) == _lower_bound(mem)


def test_short_input_on_every_engine(engine):
    fn = bpfjit.compile(_program(), engine, cache=False)
    assert fn(bytearray(17)) == 99


def test_rounded_up_past_the_table_traps_on_every_engine(engine):
    # every byte below the key, all 16 searched: lo climbs to 15 with hi 16, and the
    # gap of one rounded up to two puts mid at 16, r10 itself, past the frame
    fn = bpfjit.compile(_program(round_up=True), engine, cache=False)
    with pytest.raises(MemoryAccessError):
        fn(bytearray(bytes([200]) + bytes(16) + bytes([15])))
