"""Registers a loop writes only with copies of values it has just loaded
(bpfjit.verifier.loadedcopies), whose bounds its head joins rather than widens."""

import bpfjit
from bpfjit.cfg import block_graph
from bpfjit.verifier.loadedcopies import loaded_copies, loaded_round

from test_verifier_soundness import assert_proofs_hold


def loop_of(text: str, head: int) -> tuple[bpfjit.Program, set[int]]:
    """`text` assembled, and the blocks of its loop at `head`: from the head to the last
    block that jumps back to it (tests/test_carried_thresholds.py too)."""
    prog = bpfjit.assemble(text)
    members, preds, succs = block_graph(prog)
    back = max(b for b in members if head in succs.get(b, ()) and b >= head)
    return prog, {b for b in members if head <= b <= back}


def _picks(text: str, head: int, find=loaded_copies) -> set[int]:
    """The registers `find` (loaded_copies or loaded_round) gives for the loop at `head`."""
    prog, body = loop_of(text, head)
    bits = find(prog, body, head)
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


def _round_picks(text: str, head: int) -> set[int]:
    return _picks(text, head, loaded_round)


def test_a_value_that_comes_round_loaded_is_a_pick():
    # r4 comes round the loop as it was loaded through r6, though the loop shifts it
    # first: the loads bound it; r6 and r5 are computed
    text = """
        mov %r4, 0
        mov %r5, 0
    head:
        lsh %r4, 32
        rsh %r4, 32
        mov %r6, %r10
        add %r6, -64
        add %r6, %r4
        ldxb %r4, [%r6]
        add %r5, 1
        jeq %r4, 0, out
        jlt %r5, 64, head
    out:
        mov %r0, 0
        exit
    """
    assert _round_picks(text, 2) == {4}


def test_a_reload_a_dead_value_or_one_way_round_is_no_pick():
    # a spilled counter reloaded from its slot (the slot's widening settles it)
    reload = """
        mov %r4, 0
        mov %r5, 0
    head:
        add %r4, 1
        stxdw [%r10-8], %r4
        ldxdw %r4, [%r10-8]
        add %r5, 1
        jlt %r5, 64, head
        mov %r0, 0
        exit
    """
    assert _round_picks(reload, 2) == set()
    # in LOOP, r4 and r8 are loaded from slots, and written before they are read
    assert _round_picks(LOOP, 4) == set()
    # r4 is loaded only when r5 is odd; on the other way it comes round as it was
    one_way = """
        mov %r0, 0
        mov %r4, 0
        mov %r5, 0
    head:
        add %r0, %r4
        jset %r5, 1, skip
        ldxb %r4, [%r1]
    skip:
        add %r5, 1
        jne %r5, 4, head
        exit
    """
    assert _round_picks(one_way, 3) == set()


# clang -O2 of a two-level skip list of u16 keys in index arrays, node 0 the head: each
# pair of input bytes is a key, found by chasing `x = next[l][x]` (x a u32, zero-extended
# before each index) while key[next[l][x]] < k, then linked in after update[l] on both
# levels; the result hashes the keys in level-0 order.  The chased index comes round its
# loop as it was loaded from next[], whose entries are node numbers below 64 (stored as
# `used++` under `used < 64`, or copied from next[]): every access is proven
SKIPLIST = """
    mov %r0, 0
    stxh [%r10-128], %r0
    stxb [%r10-256], %r0
    stxb [%r10-192], %r0
    mov %r3, 2
    jgt %r3, %r2, done
    mov %r3, 0
    mov %r0, 1
    ja next_key
upper:
    mov %r7, %r8
    mov %r6, %r7
    lsh %r6, 32
    rsh %r6, 32
    mov %r8, %r10
    add %r8, -256
    add %r8, %r6
    ldxb %r8, [%r8+64]
    jeq %r8, 0, lower
    mov %r9, %r8
    lsh %r9, 1
    mov %r4, %r10
    add %r4, -128
    add %r4, %r9
    ldxh %r4, [%r4]
    mov %r9, %r0
    and %r9, 65535
    jgt %r9, %r4, upper
lower:
    lsh %r7, 32
    mov %r8, %r7
    rsh %r8, 32
    mov %r4, %r10
    add %r4, -256
    add %r4, %r8
    ldxb %r7, [%r4]
    jeq %r7, 0, link
    mov %r4, %r7
    lsh %r4, 1
    mov %r9, %r10
    add %r9, -128
    add %r9, %r4
    ldxh %r4, [%r9]
    mov %r9, %r0
    and %r9, 65535
    jgt %r9, %r4, lower
link:
    mov %r4, %r10
    add %r4, -256
    mov %r7, %r4
    add %r7, %r8
    add %r4, %r5
    ldxb %r8, [%r7]
    stxb [%r4], %r8
    mov %r4, %r5
    lsh %r4, 1
    mov %r8, %r10
    add %r8, -128
    add %r8, %r4
    stxh [%r8], %r0
    stxb [%r7], %r5
    mov %r4, %r10
    add %r4, -192
    mov %r0, %r4
    add %r0, %r6
    add %r4, %r5
    ldxb %r6, [%r0]
    stxb [%r4], %r6
    stxb [%r0], %r5
    add %r3, 2
    mov %r4, %r3
    or %r4, 1
    jge %r4, %r2, walk
    mov %r0, %r5
    add %r0, 1
    mov %r4, 63
    jgt %r4, %r5, next_key
    ja walk
next_key:
    mov %r5, %r0
    mov %r0, %r1
    add %r0, %r3
    ldxb %r6, [%r0+1]
    ldxb %r0, [%r0]
    lsh %r0, 8
    or %r0, %r6
    mov %r8, 0
    ja upper
walk:
    mov %r0, 0
    ldxb %r3, [%r10-256]
    jeq %r3, 0, done
    mov %r2, 0
    mov %r1, 63
    mov %r0, 0
hash:
    mov %r4, %r3
    lsh %r4, 1
    mov %r5, %r10
    add %r5, -128
    add %r5, %r4
    ldxh %r4, [%r5]
    mul %r0, 31
    add %r0, %r4
    mov %r4, %r10
    add %r4, -256
    add %r4, %r3
    ldxb %r3, [%r4]
    jeq %r3, 0, done
    mov %r4, %r2
    add %r4, 1
    lsh %r2, 32
    mov %r5, %r2
    rsh %r5, 32
    mov %r2, %r4
    jgt %r1, %r5, hash
done:
    exit
"""


def skiplist(mem: bytes) -> int:
    """The skip list in Python: the keys' hash in level-0 order."""
    key, nxt, used = [0] * 64, [[0] * 64, [0] * 64], 1
    for p in range(0, len(mem) - 1, 2):
        if used >= 64:
            break
        k, x, update = mem[p] << 8 | mem[p + 1], 0, [0, 0]
        for level in (1, 0):
            while nxt[level][x] and key[nxt[level][x]] < k:
                x = nxt[level][x]
            update[level] = x
        z, used = used, used + 1
        key[z] = k
        for level in (0, 1):
            nxt[level][z] = nxt[level][update[level]]
            nxt[level][update[level]] = z
    h, x, count = 0, nxt[0][0], 0
    while x and count < 64:
        h = (h * 31 + key[x]) & (1 << 64) - 1
        x, count = nxt[0][x], count + 1
    return h


def test_every_access_of_the_skip_list_is_proven():
    verified = bpfjit.verify(bpfjit.assemble(SKIPLIST), cache=False)
    assert len(verified.accesses) >= 10
    assert verified.proven == set(verified.accesses)


SKIPLIST_INPUTS = [b"", b"\x00\x05", bytes(range(40)), bytes(range(255, 0, -1)),
                   bytes((i * 37) & 255 for i in range(300)), b"\x00\x01" * 80]


def test_the_skip_list_proofs_hold():
    assert_proofs_hold(SKIPLIST, SKIPLIST_INPUTS)


def test_the_skip_list_on_every_engine(engine):
    fn = bpfjit.compile(bpfjit.assemble(SKIPLIST), engine)
    for mem in SKIPLIST_INPUTS:
        assert fn(bytearray(mem)) == skiplist(mem), mem[:8]
