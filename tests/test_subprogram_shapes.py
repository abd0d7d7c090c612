"""A subprogram analysed once per shape of the pointers it is given.

The kernel's verifier follows each call on its own; bpfjit analyses a subprogram from
the join of its calls' states.  Where the calls pass pointers that join badly -- a
stack pointer into frames at different depths (the frame became "some caller's", and
what it holds unknown), or a packet pointer from one call and a stack pointer from
another (joined, a number) -- each shape of pointer arguments now has an analysis of
its own (at most four per subprogram; a recursive program keeps one).  The kernel
selftest cls_redirect built with its header walkers as subprograms was refused in
checked mode: its walker, called at two depths below the frame holding the buffer's
struct, read the spilled context pointer there as a number.

Expected values by reading the programs: each returns the XDP context's
rx_queue_index once per call that reads it.
"""

from __future__ import annotations

import pytest

import bpfjit
from context_oracle import kernel_loads_program

# main spills the context at fp-8 and passes its address to `leaf` directly (leaf's
# caller's frame) and through `middle` (leaf's caller's caller's frame); leaf reads
# the context back through it and returns its rx_queue_index
TWO_DEPTHS = """
    stxdw [%r10-8], %r1
    mov %r1, %r10
    add %r1, -8
    call local middle
    mov %r6, %r0
    mov %r1, %r10
    add %r1, -8
    call local leaf
    add %r0, %r6
    exit
middle:
    call local leaf
    exit
leaf:
    ldxdw %r1, [%r1+0]
    ldxw %r0, [%r1+16]
    exit
"""

# `byte2` returns the byte at r1 + 2: given the packet (bounds checked) by one call and
# a copy of its first 4 bytes on the stack by the other; main returns their sum
PACKET_OR_COPY = """
    mov %r6, %r1
    ldxw %r7, [%r6+0]
    ldxw %r2, [%r6+4]
    mov %r0, 0
    mov %r3, %r7
    add %r3, 4
    jgt %r3, %r2, out
    ldxw %r4, [%r7+0]
    stxw [%r10-8], %r4
    mov %r1, %r7
    call local byte2
    mov %r8, %r0
    mov %r1, %r10
    add %r1, -8
    call local byte2
    add %r0, %r8
out:
    exit
byte2:
    ldxb %r0, [%r1+2]
    exit
"""


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="xdp", prog_type="xdp")


@pytest.mark.parametrize("text", [TWO_DEPTHS, PACKET_OR_COPY], ids=["two-depths", "packet-or-copy"])
def test_every_access_is_proven_and_strict_mode_accepts(text):
    prog = xdp(text)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


@pytest.mark.parametrize("queue", [0, 3, 77])
def test_both_calls_read_the_context_through_main_s_frame(engine, queue):
    fn = bpfjit.compile(xdp(TWO_DEPTHS), engine)
    assert fn(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == 2 * queue


@pytest.mark.parametrize("packet, result", [
    (bytes([9, 8, 7, 6, 5]) + bytes(10), 14),   # byte 2 in place, then in the copy
    (bytes([1, 2, 3]), 0),                      # shorter than 4 bytes: not read
])
def test_the_byte_is_read_from_the_packet_and_from_the_copy(engine, packet, result):
    fn = bpfjit.compile(xdp(PACKET_OR_COPY), engine)
    assert fn(bpfjit.XdpContext(packet)) == result
