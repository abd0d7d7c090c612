"""A pointer made by adding a counter to another pointer is followed as a sum.

`for (i = 0; i < 8; i++) { if (p + i + 1 > end) break; sum += p[i]; }` comes out of
clang as a load of `q = p + i`, then `i += 1`, `q += 2` and the test `q <= end`:
the test is of a register that is no longer p + i but moved with it by constants.
The verifier records q == p + i + k for a pointer too (zone.plus, as for numbers), so
the test bounds i against what remains after p, and the load at the loop's head is
proven.  The kernel's verifier accepts such a loop (it walks the eight trips); strict
mode refused it (an XDP snap-length program written here, corpus/xdp/trunc.c).
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify

from test_verifier_soundness import assert_proofs_hold

# the sum of up to 8 bytes from p = mem + (len & 7) to the end of the buffer
BYTES_AFTER = """
    mov %r0, 0
    mov %r6, %r1
    add %r6, %r2
    mov %r7, %r2
    and %r7, 7
    mov %r3, %r1
    add %r3, %r7
    mov %r5, %r3
    add %r5, 1
    jgt %r5, %r6, out
    mov %r8, 0
loop:
    mov %r4, %r3
    add %r4, %r8
    ldxb %r5, [%r4+0]
    add %r0, %r5
    jgt %r8, 6, out
    add %r8, 1
    add %r4, 2
    jge %r6, %r4, loop
out:
    exit
"""


def test_the_load_through_a_pointer_sum_is_proven_in_strict_mode():
    v = verify(bpfjit.assemble(BYTES_AFTER), mode="strict", cache=False)
    assert v.proven == set(v.accesses) and v.accesses


def test_one_step_further_is_not_proven():
    # `q += 1`: the test then lets p + i reach the end itself, one past the last byte
    text = BYTES_AFTER.replace("    add %r4, 2\n", "    add %r4, 1\n")
    v = verify(bpfjit.assemble(text), cache=False)
    assert set(v.accesses) - v.proven
    assert_proofs_hold(text, [bytes(range(n)) for n in range(20)])


@pytest.mark.parametrize("length", [0, 1, 2, 7, 8, 9, 15, 16, 17, 40])
def test_the_bytes_after_are_summed_on_every_engine(engine, length):
    data = bytes((37 * i + 5) & 0xFF for i in range(length))
    start = length & 7
    expected = sum(data[start:min(start + 8, length)]) if start + 1 <= length else 0
    fn = bpfjit.compile(bpfjit.assemble(BYTES_AFTER), engine, cache=False)
    assert fn(bytearray(data)) == expected
