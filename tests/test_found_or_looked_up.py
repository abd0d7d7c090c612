"""A map value found on one path (its NULL test passed) and a lookup's unchecked
result on another meet as a map value or NULL (loxilb's connection tracker: `if
(!(x = lookup(k))) { update(k, v); x = lookup(k); }` with x in a register and in a
spill).  They met as MIXED — a pointer or a number — which no NULL test could turn back
into a pointer: every access through it was checked at run time, strict mode refused
it, and a store through it made the verifier forget every spill of the frame (in
loxilb's slow path, the context pointer it reloads for the helpers that need it).  The
joined value is linked to no lookup: on the path where it was found it was no copy of
the other path's result."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

LOOKUP = """
    stw [%r10-4], {key}
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
"""

IN_REGISTER = LOOKUP.format(key=0) + """
    jne %r0, 0, found
""" + LOOKUP.format(key="%r9") + """
found:
    jeq %r0, 0, out
    ldxdw %r0, [%r0+8]
    exit
out:
    mov %r0, 99
    exit
"""

# the same through a spill, tested in a copy reloaded from it (clang's way)
IN_SPILL = LOOKUP.format(key=0) + """
    stxdw [%r10-16], %r0
    jne %r0, 0, found
""" + LOOKUP.format(key="%r9") + """
    stxdw [%r10-16], %r0
found:
    ldxdw %r1, [%r10-16]
    jeq %r1, 0, out
    ldxdw %r6, [%r10-16]
    ldxdw %r0, [%r6+8]
    exit
out:
    mov %r0, 99
    exit
"""


def program(text: str, present: dict[int, int]) -> bpfjit.Program:
    m = make_map(MapSpec("table", 1, 4, 16, 4))
    for key, number in present.items():
        m[key] = bytes(8) + number.to_bytes(8, "little")
    # the second lookup's key is the buffer's first byte (r9)
    body = "ldxb %r9, [%r1+0]\n" + text.replace("stw [%r10-4], %r9", "stxw [%r10-4], %r9")
    return bpfjit.Program(bpfjit.assemble(body).insns, env=KernelEnv(MapTable([m])))


@pytest.mark.parametrize("text", [IN_REGISTER, IN_SPILL], ids=["register", "spill"])
def test_the_access_after_the_null_test_is_proven(text):
    verified = bpfjit.verify(program(text, {}), cache=False)
    loads = [pc for pc in verified.accesses if pc != 0]      # pc 0 reads the buffer
    assert loads and all(pc in verified.proven for pc in loads)


@pytest.mark.parametrize("text", [IN_REGISTER, IN_SPILL], ids=["register", "spill"])
def test_every_path_reads_what_it_found(engine, text):
    # key 0 present: its value; absent: key mem[0]'s value, or 99 when absent too
    assert bpfjit.compile(program(text, {0: 7, 2: 5}), engine, cache=False)(bytes([2])
                                                                            + bytes(7)) == 7
    fn = bpfjit.compile(program(text, {2: 5}), engine, cache=False)
    assert fn(bytes([2]) + bytes(7)) == 5
    assert fn(bytes([3]) + bytes(7)) == 99
