"""A helper writing an unbounded number of bytes from a stack pointer reaches upward only.

calico's ICMPv6 reply program spills its context low in the frame, then copies up to
the packet's length into a buffer above it with `skb_load_bytes` (clang lost the
bound on the length).  The copy starts at the buffer and runs toward the top of the
frame and into the callers' frames, never below its start; a run-time check keeps it
inside the live frames.  The verifier forgot every spill of the frame for such a
size, the context among them: a load through it trapped at run time, and a helper
call on it was refused."""

import pytest

import bpfjit
from skb_programs import tc_program

# skb_load_bytes(ctx, 0, r10-160, skb->len), the context spilled at SLOT
COPY = """
    stxdw [%r10SLOT], %r1
    ldxw %r4, [%r1+0]
    mov %r2, 0
    mov %r3, %r10
    add %r3, -160
    call 26
    jne %r0, 0, out
    ldxdw %r1, [%r10SLOT]
"""
# then r0 = skb->len + the first byte copied
LOAD_LENGTH = """
    ldxw %r0, [%r1+0]
    ldxb %r2, [%r10-160]
    add %r0, %r2
out:
    exit
"""
# then the first byte again, through the helper, to r10-168
COPY_AGAIN = """
    mov %r2, 0
    mov %r3, %r10
    add %r3, -168
    mov %r4, 1
    call 26
out:
    exit
"""


def program(slot: int, rest: str) -> bpfjit.Program:
    return tc_program(COPY.replace("SLOT", str(slot)) + rest)


@pytest.mark.parametrize("size", [1, 40, 160])
def test_a_spill_below_the_copy_is_still_the_context(engine, size):
    prog = program(-224, LOAD_LENGTH)
    packet = bytes([0x11]) + bytes(size - 1)
    # the whole packet fits in the 160 bytes from r10-160: r0 = len + 0x11
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(packet)) == size + 0x11


def test_a_helper_takes_it_back():
    prog = program(-224, COPY_AGAIN)
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))


def test_a_spill_the_copy_may_reach_is_forgotten():
    # spilled above the copy's start, where up to 2^32 - 1 bytes may have overwritten
    # it: no longer a context
    prog = program(-8, COPY_AGAIN)
    with pytest.raises(bpfjit.VerifierError, match="pc 12: skb_load_bytes takes the "
                                                   "program's context in r1, not scalar"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))
