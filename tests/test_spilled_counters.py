"""A loop counter kept in a stack slot and tested through a 32-bit zero-extension.

netobserv's TLS parser (tc, clang 14: -mcpu=v1 has no 32-bit jumps) walks the extensions
of a ClientHello in a loop of at most 29 trips whose counter lives on the stack: each
trip loads it, zero-extends a copy (`lsh 32; rsh 32`), leaves when the copy is above
28, and stores the counter + 1 back.  The kernel walks the trips and loads it.  bpfjit
widened the growing slot to its limit at the loop head (slots had no thresholds); the
copy of a value past 2^32 - 1 is not the value, so the test bounded only the copy, the
counter stayed unbounded and strict mode found no value that moves toward a bound:
"cannot prove that the loop ends".  A growing slot now stops at 2^32 - 1 first, where
the extension changes nothing and the test bounds the slot itself.

The kernel loads each program where this process may load programs; sums are worked
out by hand."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable
from context_oracle import kernel_loads_program

# r6 = 1 + 2 + ... + 29 = 435: the counter at fp-8 counts 0..28 in the loop
COUNTER = """
    stdw [%r10-8], 0
    mov %r6, 0
loop:
    ldxdw %r2, [%r10-8]
    lsh %r2, 32
    rsh %r2, 32
    jgt %r2, {limit}, done
    ldxdw %r3, [%r10-8]
    add %r3, 1
    stxdw [%r10-8], %r3
    add %r6, %r3
    ja loop
done:
    mov %r0, %r6
    exit
"""


def program(limit: int = 28) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(COUNTER.format(limit=limit)).insns,
                          env=KernelEnv(MapTable([])), context="xdp", prog_type="xdp")


def test_strict_mode_proves_the_loop_ends():
    prog = program()
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_loads_program(prog, "xdp") in (True, None)


@pytest.mark.parametrize("limit, total", [(28, 435), (0, 1), (3, 10)])
def test_what_it_returns(engine, limit, total):
    assert bpfjit.compile(program(limit), engine)(bpfjit.XdpContext(bytes(64))) == total
