"""A difference tested against a constant: `n = end - i; if (n == 8) read 8 bytes at
mem + i`, where end is a line's end found before (at most len) and i its start.

The subtraction leaves `end == n + i` (the zone's `plus`); the branch that fixes n
now bounds end - i by n's range, so `i + 8 <= end <= len` (corpus isodate's fixed-width
fields, bench/'s firewall).  A length one short must stay unproven and trap."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

# r3 = end = min(len, 100); r4 = i = mem[0]; n = end - i; n == WIDTH: 8 bytes at mem + i
PROGRAM = """
    jeq r2, 0, out
    mov r3, r2
    jle r3, 100, clamped
    mov r3, 100
clamped:
    ldxb r4, [r1+0]
    jge r4, r3, out
    mov r7, r3
    sub r7, r4
    jne r7, {width}, out
    mov r6, r1
    add r6, r4
    ldxdw r0, [r6+0]
    exit
out:
    mov r0, 0
    exit
"""


def _program(width: int) -> bpfjit.Program:
    return bpfjit.assemble(PROGRAM.format(width=width))


def test_a_fixed_difference_bounds_the_read():
    v = bpfjit.verify(_program(8), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


def test_a_difference_one_short_stays_unproven():
    with pytest.raises(VerifierError):
        bpfjit.verify(_program(7), mode="strict", cache=False)


def _model(mem: bytes, width: int) -> int:
    if not mem:
        return 0
    end, i = min(len(mem), 100), mem[0]
    if i >= end or end - i != width:
        return 0
    return int.from_bytes(mem[i:i + 8], "little")


@pytest.mark.parametrize("mem", [b"", b"\x05" + bytes(range(1, 13)), b"\x02" + bytes(9),
                                 bytes([92]) + bytes(range(200))],
                         ids=["empty", "eight-left", "other-length", "clamped-end"])
def test_runs_on_every_engine(engine, mem):
    fn = bpfjit.compile(_program(8), engine, cache=False)
    assert fn(bytearray(mem)) == _model(mem, 8)


def test_one_short_traps_on_every_engine(engine):
    # i = 6 in a 13-byte buffer: end - i == 7, and 8 bytes at 6 run one past the end
    fn = bpfjit.compile(_program(7), engine, cache=False)
    with pytest.raises(MemoryAccessError):
        fn(bytearray(b"\x06" + bytes(12)))
