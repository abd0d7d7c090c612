"""A register that is a header pointer on some paths and an unrelated number on others,
stored through only where it is the pointer (tailscale's DERP STUN responder: `struct
ipv6hdr *ip6` is set on the IPv6 path only, and clang keeps whatever the other path
left in its register and stack slot).  The join was MIXED, a pointer or a number, and a
store through it could land anywhere, so the verifier forgot every spill of every frame
— the spilled context among them, and the next context load trapped on every engine.
The kernel follows each path and runs it (the kernel engine runs the test's program).  Such a register is now a packet pointer or a
number: an access through it is checked against the packet alone at run time (in the
interpreter too), so it cannot write the stack, and the spills stay."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.errors import MemoryAccessError
from skb_programs import ELF


def xdp(source: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "loops.o", function="count_byte").env
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")


# r4 = data + 14 when the first byte is 6 (and r7 = 1), else the second byte (a number,
# r7 = 0); spilled, and stored through only where r7 is 1; then the context, spilled
# before, gives data again and r0 = the byte at 14
# r2 = data, with 40 bytes at least (else r0 = 0)
FORTY_BYTES = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 0
    mov %r5, %r2
    add %r5, 40
    jgt %r5, %r3, out
"""

STORE_UNDER_THE_SAME_TEST = """
    stxdw [%r10-8], %r1
""" + FORTY_BYTES + """
    ldxb %r6, [%r2+0]
    ldxb %r4, [%r2+1]
    mov %r7, 0
    jne %r6, 6, +3
    mov %r4, %r2
    add %r4, 14
    mov %r7, 1
    stxdw [%r10-16], %r4
    jeq %r7, 0, skip
    ldxdw %r4, [%r10-16]
    stb [%r4+0], 0x55
skip:
    ldxdw %r1, [%r10-8]
""" + FORTY_BYTES + """
    ldxb %r0, [%r2+14]
out:
    exit
"""


@pytest.mark.parametrize("first, result", [(6, 0x55), (7, 0x21)])
def test_the_spilled_context_survives_the_store(engine, first, result):
    packet = bytes([first, 9]) + bytes(12) + b"\x21" + bytes(40)
    ctx = bpfjit.XdpContext(packet)
    assert bpfjit.compile(xdp(STORE_UNDER_THE_SAME_TEST), engine)(ctx) == result


def test_strict_mode_still_refuses_it():
    with pytest.raises(bpfjit.VerifierError, match="strict mode: r4 holds a pointer on "
                                                   "some paths"):
        bpfjit.verify(xdp(STORE_UNDER_THE_SAME_TEST), mode="strict", cache=False)


# the number is the stack's own address (r10 made a number by an `and`) and the store
# goes through it on every path: checked against the packet, it traps, on every engine
STORE_THROUGH_THE_NUMBER = FORTY_BYTES + """
    stdw [%r10-8], 7
    ldxb %r6, [%r2+0]
    mov %r4, %r10
    and %r4, -1
    add %r4, -8
    jne %r6, 6, +2
    mov %r4, %r2
    add %r4, 14
    stdw [%r4+0], 99
    ldxdw %r0, [%r10-8]
out:
    exit
"""


def test_the_number_never_reaches_the_stack(engine):
    if engine == "kernel":
        pytest.skip("the kernel refuses the store through a number")
    fn = bpfjit.compile(xdp(STORE_THROUGH_THE_NUMBER), engine)
    # the packet path: the store lands in the packet and the stack slot keeps 7
    assert fn(bpfjit.XdpContext(bytes([6]) + bytes(60))) == 7
    with pytest.raises(MemoryAccessError, match="pc 14: out-of-bounds write of 8 bytes"):
        fn(bpfjit.XdpContext(bytes([7]) + bytes(60)))
