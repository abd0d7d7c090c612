"""Loop peeling (bpfjit.verifier.peeling): a short loop's trips analysed apart, as the
kernel's verifier walks them, where joining them at the loop head lost what bounds an
inner loop's accesses.

The triangle below reads row k of a 16x16 byte image from column k on, 15 - 2k bytes
down its diagonal-and-below stretch: the pointer is fp - 256 + 17k + 16j with j <
15 - 2k, so at most fp - 256 + 224 (k = 0, j = 14), and never below fp - 256.  Joined
over k, j's bound 15 - 2k and the row base 17k are unrelated numbers (no difference or
two-variable equality relates three), and the pointer's offset reaches 17 * 7 + 16 *
14 = 343 past the image: unproven.  Each trip of the outer loop apart, k is a constant
and j's bound with it.

corpus/plain/rotimg.c (written here) rotates a 16x16 image in place layer by layer;
its four-way swap reads and writes through pointers stepping by 16, -1 and -16 at
once, bounded by 15 - 2 * layer: 7 of its accesses unproven before, and one store
whose check admitted the whole frame took every spilled row pointer with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import peeling
from bpfjit.verifier.analysis import Analysis
from bpfjit.verifier import _analysed

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())

# the outer loop's trip k: 15 - 2k bytes down the image from fp - 256 + 17k, each
# stored and read back (the loop's exit `{exit}`)
TRIP = """
outer:
    mov %r6, 15
    sub %r6, %r8
    sub %r6, %r8
    mov %r5, 0
    mov %r2, %r7
inner:
    jge %r5, %r6, {exit}
    stxb [%r2+0], %r5
    ldxb %r1, [%r2+0]
    add %r0, %r1
    add %r2, 16
    add %r5, 1
    ja inner
"""
START = """
    mov %r0, 0
    mov %r8, 0
    mov %r7, %r10
    add %r7, -256
"""
NEXT = """
    add %r7, 17
    add %r8, 1
    jne %r8, 8, outer
    exit
"""
TRIANGLE = START + TRIP.format(exit="next") + "next:" + NEXT
# sum over k < 8 of 0 + 1 + ... + (14 - 2k): 105 + 78 + 55 + 36 + 21 + 10 + 3 + 0
TRIANGLE_SUM = 308


def triangle() -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(TRIANGLE).insns)


def rotimg() -> bpfjit.Program:
    return bpfjit.load_elf(CORPUS / "rotimg.o", function="entry")


def test_the_triangles_accesses_are_proven_with_its_outer_loop_peeled():
    verified = bpfjit.verify(triangle(), cache=False)
    assert len(verified.accesses) == 2
    assert set(verified.proven) == set(verified.accesses)
    assert all(verified.regions[pc] == "stack" for pc in verified.accesses)
    # their offsets vary, within a trip and from one trip to the next: a JIT clamps
    # them under speculation="all" as it clamps the verifier's other such proofs
    assert all(pc in verified.variable for pc in verified.accesses)


def test_without_peeling_the_triangle_stays_unproven(monkeypatch):
    # what the joined trips can say: the mechanism, not some other rule, proves it
    monkeypatch.setattr(peeling, "PEEL_TRIES", 0)
    verified = bpfjit.verify(triangle(), cache=False)
    store = min(verified.accesses)      # (the load after it reads what the check let by)
    assert store not in verified.proven


def test_the_triangle_runs_on_every_engine(engine):
    assert bpfjit.compile(triangle(), engine)(None) == TRIANGLE_SUM


def test_the_log_names_the_peeled_loop():
    verified = bpfjit.verify(triangle(), log=True, cache=False)
    peeled = [line for line in verified.log if "peeled" in line]
    # the store, proven through the loop at pc 4 (`outer`); the load after it reads
    # what the store's check let by either way
    assert len(peeled) == 1 and peeled[0].startswith("10: stxb")
    assert "the loop at pc 4 peeled" in peeled[0]


def test_rotimg_proves_its_rotation():
    prog = rotimg()
    verified = bpfjit.verify(prog, cache=False)
    unproven = sorted(pc for pc in verified.accesses if pc not in verified.proven)
    # only the checksum's read of the rows, whose pointer steps by 16 while the
    # multipliers clang keeps for `(c + 1) * (r * 3 + 1)` step by other amounts
    assert len(unproven) == 1 and verified.regions[unproven[0]] == "stack"
    # the rotation: four loads and four stores of one byte a trip
    swap = [pc for pc in verified.accesses if prog.at(pc).spec.size == 1
            and 90 <= pc < 124]
    assert len(swap) == 8 and all(pc in verified.proven for pc in swap)


def _loop(prog: bpfjit.Program) -> tuple[int, int, int]:
    """The head and stretch [lo, end) of rotimg's layer loop, as the candidates name
    them."""
    analysis = _analysed(prog, None, [0], "checked", False, False)
    assert isinstance(analysis, Analysis)
    (head, lo, end, _, _, _), = [c for c in peeling.peel_candidates(prog, analysis)
                                 if c[2] - c[1] == 33]
    return head, lo, end


@pytest.mark.parametrize("copies", [2, 3, 8, 16])
def test_a_peeled_program_computes_what_the_program_computes(copies):
    # fewer copies than trips (2, 3) chain back to the loop itself: the same runs
    prog = rotimg()
    head, lo, end = _loop(prog)
    program, origin = peeling.peeled(prog, head, lo, end, copies)
    body = sum(1 for pc in prog.pcs if lo <= pc < end)
    assert len(program.insns) == len(prog.insns) + (copies - 1) * body  # (ends in a ja)
    assert origin[:prog.slot_count] == [pc for pc, insn in prog for _ in range(insn.slots)]
    original, peeled_fn = bpfjit.compile(prog, "interp"), bpfjit.compile(program, "interp")
    for k in range(4):
        data = (CORPUS / "inputs" / f"rotimg-{k}.bin").read_bytes()
        want = EXPECTED[f"rotimg-{k}.bin"]
        assert original(bytearray(data)) == want
        assert peeled_fn(bytearray(data)) == want


def test_a_program_with_local_calls_is_not_peeled():
    text = TRIANGLE.replace("    exit\n", "    call local sub\n    exit\nsub:\n    mov %r0, 1\n    exit\n")
    prog = bpfjit.Program(bpfjit.assemble(text).insns)
    analysis = _analysed(prog, None, [0, len(prog.insns) - 2], "checked", False, False)
    assert peeling.peel_candidates(prog, analysis) == []


# the triangle with clang's layout: the outer loop's latch before its head (`lo` <
# head), the exit block between them, the inner loop's exit jumping straight to it
ROTATED = START + "    ja outer\nlatch:" + NEXT + TRIP.format(exit="latch")


def rotated() -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(ROTATED).insns)


def test_a_loop_whose_latch_comes_before_its_head_is_peeled():
    prog = rotated()
    analysis = _analysed(prog, None, [0], "checked", False, False)
    # the outer loop first (it holds the inner one, whose bound its trips fix), then
    # the inner loop: its index too takes at most 16 values
    (head, lo, end, copies, _, _), inner = peeling.peel_candidates(prog, analysis)
    assert (head, lo, end) == (9, 5, 21) and copies >= 8 and inner[:3] == (14, 14, 21)
    verified = bpfjit.verify(prog, cache=False)
    assert set(verified.proven) == set(verified.accesses)


def test_the_rotated_triangle_runs_on_every_engine(engine):
    assert bpfjit.compile(rotated(), engine)(None) == TRIANGLE_SUM


@pytest.mark.parametrize("copies", [2, 3, 8])
def test_a_rotated_loop_peeled_computes_what_it_computes(copies):
    prog = rotated()
    program, _ = peeling.peeled(prog, 9, 5, 21, copies)
    assert bpfjit.compile(program, "interp")(None) == TRIANGLE_SUM


def test_a_loop_of_buffer_reads_alone_is_not_peeled():
    # what a loop leaves unproven of the buffer is bounded by the length, which no
    # trip's constants bound: not peeled (8 reads of the input at 8 * k + i, k < 8)
    text = """
    mov %r0, 0
    mov %r8, 0
    mov %r7, %r1
loop:
    ldxb %r3, [%r7+0]
    add %r0, %r3
    add %r7, 7
    add %r8, 1
    jne %r8, 8, loop
    exit
"""
    prog = bpfjit.Program(bpfjit.assemble(text).insns)
    analysis = _analysed(prog, None, [0], "checked", False, False)
    assert not all(analysis.accesses.values())
    assert peeling.peel_candidates(prog, analysis) == []


def test_a_loop_whose_first_trip_leaves_the_access_unproven_is_not_peeled():
    # the store's index is a byte of the input on every trip, the first one included:
    # no copy of the loop would prove it (fp - 64 + [0, 255] leaves the frame), so the
    # loop is not peeled (before 2026-12-07 it was, for nothing: corpus tokptr, huffman,
    # lrucache's tries)
    text = """
    mov %r0, 0
    jlt %r2, 4, out
    mov %r6, 0
loop:
    mov %r7, %r1
    add %r7, %r6
    ldxb %r3, [%r7+0]
    mov %r4, %r10
    add %r4, -64
    add %r4, %r3
    stb [%r4+0], 1
    add %r6, 1
    jne %r6, 4, loop
out:
    exit
"""
    prog = bpfjit.Program(bpfjit.assemble(text).insns)
    analysis = _analysed(prog, None, [0], "checked", False, False)
    assert analysis.accesses[9] is False
    assert peeling.peel_candidates(prog, analysis) == []


def test_strict_mode_accepts_the_triangle():
    # as the kernel, walking its 8 trips, accepts it; refused before (its store unproven)
    verified = bpfjit.verify(triangle(), mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)


def test_a_number_triangle_of_19_rows_is_proven():
    # corpus/plain/trimax.c (written here): `for r = 18 down to 0: for c <= r: v[row + c]
    # += max(v[below + c], v[below + c + 1])`, the row starts r(r+1)/2 stepped by clang
    # as a sum of a growing step, which no interval or relation bounds joined over the
    # rows; its 19 trips apart, each row's start is a constant
    prog = bpfjit.load_elf(CORPUS / "trimax.o", function="entry")
    verified = bpfjit.verify(prog, cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)


def test_the_number_triangle_runs_on_every_engine(engine):
    fn = bpfjit.compile(bpfjit.load_elf(CORPUS / "trimax.o", function="entry"), engine)
    for k in range(4):
        data = (CORPUS / "inputs" / f"trimax-{k}.bin").read_bytes()
        assert fn(bytearray(data)) == EXPECTED[f"trimax-{k}.bin"]


# an inner loop's store at fp - 64 + s, s = 0 on its first trip (proven there), then a
# byte of the input (up to 255: past the frame's top, in every trip of the outer loop)
HOPELESS = """
    mov %r0, 0
    jlt %r2, 8, out
    mov %r8, 0
outer:
    mov %r6, 0
    mov %r5, 0
inner:
    mov %r4, %r10
    add %r4, -64
    add %r4, %r6
    stb [%r4+0], 1
    mov %r3, %r1
    add %r3, %r5
    ldxb %r6, [%r3+0]
    add %r0, %r6
    add %r5, 1
    jne %r5, 4, inner
    add %r8, 1
    jne %r8, 3, outer
out:
    exit
"""


def test_a_peeling_that_cannot_prove_gives_up_early():
    # every copy of the store is unproven (s reaches 255 in each of the outer loop's
    # trips): the peeled analysis stops at the first copy seen unproven while the
    # fixpoint is computed, instead of running to its end (gf128's syndrome loop: 73%
    # of its verification went to such a peeling before 2026-12-07)
    prog = bpfjit.Program(bpfjit.assemble(HOPELESS).insns)
    analysis = _analysed(prog, None, [0], "checked", False, False)
    store = next(pc for pc, insn in prog if insn.kind.name == "ST")
    assert analysis.accesses[store] is False
    (head, lo, end, copies, _, _), *_ = peeling.peel_candidates(prog, analysis)
    program, _origin = peeling.peeled(prog, head, lo, end, copies)
    whole = _analysed(program, None, [0], "checked", False, False)
    runs = []

    def analyse(program, limit, watch):
        runs.append(Analysis(program, None, [0], "checked"))
        runs[-1].work_limit, runs[-1].watch = limit, watch
        runs[-1].run()
        return runs[-1]

    assert peeling.reprove_by_peeling(prog, analysis, analyse) == {}
    assert len(runs) == 1 and runs[0].work < whole.work / 2, (runs[0].work, whole.work)
    assert analysis.accesses[store] is False


# A node of a code tree kept as a heap (children of i at 2i + 1 and 2i + 2) reached by
# at most five signals, then read from a 64-byte table: node <= 2^6 - 2 = 62 after five
# trips, which no bound joined over the trips says (widened, node has none).  The table
# holds byte i at r10 - 64 + i, so the result is the node itself.  The read is after
# the loop, which holds no access: the loop is peeled as one that leads to it.
TREE_TABLE = "".join(
    f"lddw %r9, {int.from_bytes(bytes(range(8 * w, 8 * w + 8)), 'little')}\n"
    f"stxdw [%r10{-64 + 8 * w}], %r9\n" for w in range(8))
TREE_WALK = TREE_TABLE + """
    ldxb %r5, [%r1+0]
    mov %r6, %r5
    rsh %r6, 5
    jle %r6, 5, clamped
    mov %r6, 5
clamped:
    mov %r4, 0
    mov %r3, 0
    jeq %r6, 0, done
walk:
    mov %r7, %r5
    rsh %r7, %r3
    and %r7, 1
    lsh %r4, 1
    add %r4, %r7
    add %r4, 1
    add %r3, 1
    jgt %r6, %r3, walk
done:
    mov %r2, %r10
    add %r2, -64
    add %r2, %r4
    ldxb %r0, [%r2+0]
    exit
"""


def tree_node(byte: int) -> int:
    """The node five or fewer signals reach (the C it models: `for s < min(b >> 5,
    5): node = 2 * node + 1 + (b >> s & 1)`)."""
    node = 0
    for s in range(min(byte >> 5, 5)):
        node = 2 * node + 1 + (byte >> s & 1)
    return node


def test_a_read_after_a_short_loop_is_proven_by_peeling_the_loop():
    prog = bpfjit.assemble(TREE_WALK)
    read = max(pc for pc, insn in prog if insn.kind.value == "ldx")
    verified = bpfjit.verify(prog, cache=False)
    assert read in verified.proven


@pytest.mark.parametrize("byte", [0, 0x1f, 0x20, 0x21, 0x5a, 0x9f, 0xa0, 0xbf, 0xff])
def test_the_tree_walk_reads_its_node_on_every_engine(engine, byte):
    assert bpfjit.compile(bpfjit.assemble(TREE_WALK), engine)(bytes([byte])) == \
        tree_node(byte)


def test_a_32_bit_test_against_zero_does_not_stop_the_peeling():
    # clang -mcpu=v3 tests `w6 == 0` before the loop: a 32-bit test of a number against
    # 0, which the analysis records as undecided (it is no packet pointer's NULL test);
    # only a decided one keeps a peeled analysis from being used
    prog = bpfjit.assemble(TREE_WALK.replace("jeq %r6, 0, done", "jeq32 %r6, 0, done"))
    read = max(pc for pc, insn in prog if insn.kind.value == "ldx")
    assert read in bpfjit.verify(prog, cache=False).proven
    assert bpfjit.compile(prog, "interp")(bytes([0xa5])) == tree_node(0xa5)
