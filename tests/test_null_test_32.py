"""A 32-bit test of a packet pointer against 0, decided as the kernel decides it.

clang knows `skb->data` and `xdp->data` as 32-bit fields, so with -mcpu=v3 it may test
a pointer made from one against NULL with `jeq32`/`jne32` (the kernel's selftest
test_cls_redirect: `if (encap == NULL)` after its buffer helper).  The kernel takes a
pointer that cannot be NULL as unequal to 0 at either width, follows only that way,
and hard-wires the jump (opt_hard_wire_dead_code_branches), so the run never looks at
the address.  bpfjit compared the address's low half at run time: the interpreter's
packet lies at 0x1000_0000_0000 (low half 0) and took the jump, the JITs' real
buffers did not, and strict mode refused the program.  Now every engine goes the
kernel's way.

Expected values: `r0 = 2` on the way that takes the pointer for non-NULL, 1 on the
other, by reading the programs.
"""

from __future__ import annotations

import pytest

import bpfjit

NOT_NULL, NULL = 2, 1


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="xdp", prog_type="xdp")


def null_test_of(jump: str, offset: int = 0) -> str:
    """data (+ offset) tested against 0 in 32 bits by `jump`; the way taken for NULL
    sets r0 = 1, the other r0 = 2."""
    null_on_jump = jump.startswith("jeq")
    first, second = (NOT_NULL, NULL) if null_on_jump else (NULL, NOT_NULL)
    return f"""
        ldxw %r2, [%r1+0]
        add %r2, {offset}
        {jump} %r2, 0, +2
        mov %r0, {first}
        exit
        mov %r0, {second}
        exit
    """


FRAME = bytes(range(64))


@pytest.mark.parametrize("jump", ["jeq32", "jne32"])
@pytest.mark.parametrize("offset", [0, 14])
def test_every_engine_takes_the_pointer_for_not_null(engine, jump, offset):
    fn = bpfjit.compile(xdp(null_test_of(jump, offset)), engine)
    assert fn(bpfjit.XdpContext(FRAME)) == NOT_NULL


@pytest.mark.parametrize("jump", ["jeq32", "jne32"])
def test_strict_mode_accepts_it(jump):
    bpfjit.verify(xdp(null_test_of(jump)), mode="strict")


def test_the_null_way_is_unreachable():
    verified = bpfjit.verify(xdp(null_test_of("jeq32")))
    assert 5 in verified.unreachable and 3 not in verified.unreachable


def test_a_64_bit_test_is_decided_as_before(engine):
    fn = bpfjit.compile(xdp(null_test_of("jeq")), engine)
    assert fn(bpfjit.XdpContext(FRAME)) == NOT_NULL


@pytest.mark.parametrize("text", [
    # another constant: the address decides, and strict mode refuses it as before
    "ldxw %r2, [%r1+0]\njeq32 %r2, 5, +1\nmov %r0, 0\nexit",
    # a pointer below the packet's room may wrap to 0 in its low half: not decided
    "ldxw %r2, [%r1+0]\nadd %r2, -4096\njeq32 %r2, 0, +1\nmov %r0, 0\nexit",
])
def test_what_the_address_decides_is_still_refused_in_strict_mode(text):
    with pytest.raises(bpfjit.VerifierError, match="compares a pointer"):
        bpfjit.verify(xdp(text), mode="strict")


def test_a_register_that_is_a_number_on_another_path_is_not_decided(engine):
    # r2 is the packet pointer when the first byte is 0, else the number 0: one jump
    # cannot go one way for both, so it stays a test, analysed as one on both paths
    text = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, +8
        ldxb %r5, [%r2+0]
        jeq %r5, 0, +1
        mov %r2, 0
        jeq32 %r2, 0, +2
        mov %r0, 2
        exit
        mov %r0, 1
        exit
        mov %r0, 0
        exit
    """
    prog = xdp(text)
    verified = bpfjit.verify(prog)
    assert 9 not in verified.unreachable and 11 not in verified.unreachable
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(b"\x07" + FRAME[1:])) == NULL     # the number 0
    # on the pointer's path the address's low half decides, as it does in the kernel
    # for a jump it cannot hard-wire: strict mode refuses that
    with pytest.raises(bpfjit.VerifierError, match="compares a pointer"):
        bpfjit.verify(prog, mode="strict")
