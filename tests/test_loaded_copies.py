"""Registers a loop writes only with copies of values it has just loaded
(bpfjit.verifier.loadedcopies), whose bounds its head joins rather than widens."""

import bpfjit
from bpfjit.cfg import block_graph
from bpfjit.verifier.loadedcopies import loaded_copies

from test_verifier_soundness import assert_proofs_hold


def _picks(text: str, head: int) -> set[int]:
    prog = bpfjit.assemble(text)
    members, preds, succs = block_graph(prog)
    # the loop of `head`: the blocks from it to the last block that jumps back to it
    back = max(b for b in members if head in succs.get(b, ()) and b >= head)
    body = {b for b in members if head <= b <= back}
    bits = loaded_copies(prog, body, head)
    return {r for r in range(11) if bits >> r & 1}


LOOP = """
    mov %r3, 0
    mov %r6, 0
    mov %r7, 0
    mov %r5, 0
head:
    ldxb %r4, [%r10-8]
    jgt %r4, 9, skip
    mov %r3, %r4
skip:
    mov %r6, %r5
    ldxb %r8, [%r10-16]
    add %r8, 1
    mov %r7, %r8
    add %r5, 1
    jne %r5, 4, head
    mov %r0, 0
    exit
"""


def test_only_copies_of_fresh_loads_are_picks():
    # r3 takes r4, loaded on the way from the head (a pick); r6 takes r5, which comes
    # round the loop; r7 takes r8, loaded but then moved; r4, r5, r8 are no copies
    assert _picks(LOOP, 4) == {3}


def test_a_copy_loaded_on_one_way_only_is_no_pick():
    # r4 is loaded only when r5 is odd; on the other way it comes round the loop
    text = """
        mov %r3, 0
        mov %r5, 0
        mov %r4, 0
    head:
        jset %r5, 1, copy
        ldxb %r4, [%r10-8]
    copy:
        mov %r3, %r4
        add %r5, 1
        jne %r5, 4, head
        mov %r0, 0
        exit
    """
    assert _picks(text, 3) == set()


def test_a_pick_of_a_spilled_counter_is_still_bounded_soundly():
    # r3 picks the value of a slot the loop counts up: joined at the head rather than
    # widened, it keeps growing with the slot until the slot's own widening settles it;
    # what the verifier proves of r3 holds on every run
    text = """
        mov %r0, 0
        jlt %r2, 64, out
        stdw [%r10-8], 0
        mov %r3, 0
    head:
        ldxdw %r4, [%r10-8]
        mov %r3, %r4
        add %r4, 1
        stxdw [%r10-8], %r4
        ldxb %r6, [%r1+0]
        jgt %r4, %r6, done
        ja head
    done:
        and %r3, 63
        add %r1, %r3
        ldxb %r0, [%r1+0]
    out:
        exit
    """
    assert_proofs_hold(text, [bytes([n]) + bytes(range(63)) for n in (0, 1, 5, 62, 63, 255)])
    for engine in bpfjit.engines():
        fn = bpfjit.compile(bpfjit.assemble(text), engine)
        for n in (0, 5, 63, 200):
            data = bytes([n]) + bytes(range(1, 64))
            # the loop stops once the count passes buf[0]: r3 is its last value, n
            assert fn(bytearray(data)) == data[n & 63]
