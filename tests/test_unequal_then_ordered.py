"""`!=` first, an order after: `if (s == k) break; if (s < k) lo = s + 1; else
hi = s - 1;` (corpus qselect's Lomuto partition, a binary search's three-way step).

On the last edge s >= k and s != k, so s > k >= 0 and `s - 1` is at least 0.  The
zone keeps `s != k` from the first branch (nothing orders them yet) until either
register changes; the second branch then learns the strict order.  Without the
disequality, or once k is loaded afresh, `s - 1` may be -1 and the read must stay
unproven and trap."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

# s = mem[0] & 15, k = mem[1]; if s == k or k > s: 99; else mem[s - 1]
PROGRAM = """
    jlt r2, 16, out
    ldxb r3, [r1+0]
    and r3, 15
    ldxb r4, [r1+1]
    {unequal}
    {reload}
    jgt r4, r3, out
    add r3, -1
    add r1, r3
    ldxb r0, [r1+0]
    exit
out:
    mov r0, 99
    exit
"""


def _program(unequal: bool = True, reload: bool = False) -> bpfjit.Program:
    return bpfjit.assemble(PROGRAM.format(
        unequal="jeq r3, r4, out" if unequal else "",
        reload="ldxb r4, [r1+2]" if reload else ""))


def _model(mem: bytes, unequal: bool = True, reload: bool = False) -> int:
    if len(mem) < 16:
        return 99
    s, k = mem[0] & 15, mem[1]
    if unequal and s == k:
        return 99
    if reload:
        k = mem[2]
    if k > s:
        return 99
    return mem[s - 1]


def test_unequal_then_not_greater_proves_the_read():
    v = bpfjit.verify(_program(), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


@pytest.mark.parametrize("unequal, reload", [(False, False), (True, True)],
                         ids=["no-unequal-test", "k-loaded-again"])
def test_without_the_disequality_the_read_stays_unproven(unequal, reload):
    with pytest.raises(VerifierError):
        bpfjit.verify(_program(unequal, reload), mode="strict", cache=False)


@pytest.mark.parametrize("mem", [bytes(8), bytes([0, 0]) + bytes(range(14)),
                                 bytes([7, 3]) + bytes(range(10, 24)),
                                 bytes([0x1f, 15]) + bytes(14),
                                 bytes([2, 9]) + bytes(14)],
                         ids=["short", "equal", "greater", "equal-low-bits", "less"])
def test_runs_on_every_engine(engine, mem):
    fn = bpfjit.compile(_program(), engine, cache=False)
    assert fn(bytearray(mem)) == _model(mem)


@pytest.mark.parametrize("unequal, reload, mem", [
    (False, False, bytes(16)),                              # s == k == 0
    (True, True, bytes([0, 5, 0]) + bytes(13)),             # s != 5, then k == 0 == s
], ids=["no-unequal-test", "k-loaded-again"])
def test_the_unproven_forms_trap_on_every_engine(engine, unequal, reload, mem):
    # s - 1 == -1: one byte before the buffer
    fn = bpfjit.compile(_program(unequal, reload), engine, cache=False)
    with pytest.raises(MemoryAccessError):
        fn(bytearray(mem))
