"""Loop counters that the compiler keeps in forms a loop head's widening lost, so that
strict mode could not prove the loop ends, in programs the kernel loads (it walks the
trips).  Each was found in a public project built here with clang.

- On the stack, tested through a 32-bit zero-extension (`SPILLED`): netobserv's TLS
  parser (tc, clang 14: -mcpu=v1 has no 32-bit jumps) walks a ClientHello's extensions
  in at most 29 trips; each loads the counter, zero-extends a copy (`lsh 32; rsh 32`),
  leaves when the copy is above 28, and stores the counter + 1 back.  bpfjit widened
  the growing slot to its limit (slots had no thresholds); the copy of a value past
  2^32 - 1 is not the value, so the test bounded only the copy.  A growing slot now
  stops at 2^32 - 1 first, where the extension changes nothing and the test bounds the
  slot itself.
- A `u16` in a 64-bit register, tested masked against a register holding the bound
  (`MASKED`): loxilb's NAT port allocator (tc, clang 19) walks at most 32 slots with
  `r3 = r1 & 0xffff; if r4 > r3 goto body`, `r4 = 31` set before the loop in a program
  that moves many other constants into r4.  bpfjit found no threshold for r1 (r4's
  constants were too many to be a hint, and the mask ended the copy that ties r3 to
  r1).  Now a register the loop does not write that is constant at its head counts as
  that constant, and a copy masked to its low 8, 16 or 31 bits is still the copy.

The kernel loads each program where this process may load programs; sums are worked
out by hand."""

from __future__ import annotations

import pytest

import bpfjit
from context_oracle import kernel_loads_program
from skb_programs import asm_program

# r6 = 1 + 2 + ... + (bound + 1): the counter at fp-8 counts 0..bound in the loop
SPILLED = """
    stdw [%r10-8], 0
    mov %r6, 0
loop:
    ldxdw %r2, [%r10-8]
    lsh %r2, 32
    rsh %r2, 32
    jgt %r2, {bound}, done
    ldxdw %r3, [%r10-8]
    add %r3, 1
    stxdw [%r10-8], %r3
    add %r6, %r3
    ja loop
done:
    mov %r0, %r6
    exit
"""

# r4 takes five constants before the loop (so no few of them are r4's), the bound
# last; r6 = 0 + 1 + ... + (bound - 1)
MASKED = """
    mov %r4, 1
    mov %r4, 2
    mov %r4, 3
    mov %r4, 4
    mov %r4, 5
    mov %r6, 0
    mov %r1, 0
    mov %r4, {bound}
loop:
    mov %r3, %r1
    and %r3, 0xffff
    jgt %r4, %r3, body
    mov %r0, %r6
    exit
body:
    add %r6, %r3
    add %r1, 1
    ja loop
"""
LOOPS = {"spilled": (SPILLED, 28), "masked": (MASKED, 31)}


def program(text: str, bound: int) -> bpfjit.Program:
    return asm_program(text.format(bound=bound))


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_strict_mode_proves_the_loop_ends(name):
    prog = program(*LOOPS[name])
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_loads_program(prog, "xdp") in (True, None)


@pytest.mark.parametrize("name, bound, total", [
    ("spilled", 28, 435), ("spilled", 0, 1), ("spilled", 3, 10),
    ("masked", 31, 465), ("masked", 1, 0), ("masked", 5, 10),
])
def test_what_it_returns(engine, name, bound, total):
    prog = program(LOOPS[name][0], bound)
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(64))) == total
