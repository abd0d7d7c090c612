"""A register that is a header pointer on some paths and an unrelated number on others,
stored through only where it is the pointer (tailscale's DERP STUN responder: `struct
ipv6hdr *ip6` is set on the IPv6 path only, and clang keeps whatever the other path
left in its register and stack slot).  The join was MIXED, a pointer or a number, and a
store through it could land anywhere, so the verifier forgot every spill of every frame
— the spilled context among them, and the next context load trapped on every engine.
The kernel follows each path and runs it (the kernel engine runs the test's program).  Such a register is now a packet pointer or a
number: an access through it is checked against the packet alone at run time (in the
interpreter too), so it cannot write the stack, and the spills stay.  Since 2026-12-03
the blocks after such a join run once per path while the register is live
(bpfjit.verifier.perpath._partitions), so each path sees a pointer or a number of
its own."""

from __future__ import annotations

import pytest

import bpfjit
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


def test_strict_mode_proves_it_path_by_path():
    # since 2026-12-03 the blocks after the paths meet run once per path while r4 is
    # a pointer on one and a number on the other (bpfjit.verifier.perpath._partitions):
    # the store is proven on the path that makes it, as the kernel proves it
    from context_oracle import kernel_loads_program
    prog = xdp(STORE_UNDER_THE_SAME_TEST)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


# the number is the stack's own address (r10 made a number by an `and`) and the store
# goes through it on every path.  Joined, r4 was a packet pointer or a number, checked
# against the packet alone, and the store trapped on every engine; since 2026-12-03 the
# store's block runs once per path: on the number's, a store through a number, checked
# at run time against every region, as any store through a number is -- it lands in
# the stack slot (which the verifier forgets on that path), on every engine alike
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


def test_a_store_through_the_number_is_checked_against_every_region(engine):
    if engine == "kernel":
        pytest.skip("the kernel refuses the store through a number")
    prog = xdp(STORE_THROUGH_THE_NUMBER)
    verified = bpfjit.verify(prog, cache=False)
    assert 14 in verified.accesses and 14 not in verified.proven
    assert 14 not in verified.regions       # a number on one path: any region
    fn = bpfjit.compile(prog, engine)
    # the packet path: the store lands in the packet and the stack slot keeps 7
    assert fn(bpfjit.XdpContext(bytes([6]) + bytes(60))) == 7
    # the number's path: the number is fp-8's address, and the store lands there
    assert fn(bpfjit.XdpContext(bytes([7]) + bytes(60))) == 99
