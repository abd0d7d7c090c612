"""A register whose value at a loop's head reaches none of the loop's comparisons (a
number the loop only carries round: a block counter bumped and stored) is widened
there at once, not through the constants its register is compared with elsewhere in
the loop, which belong to other variables clang put in the same register.

ChaCha20 (corpus chacha.c) keeps its block counter in r4 at the outer loop's head,
spills it, and reuses r4 for the byte index compared with 64 and the position compared
with 44; the counter climbed 1, 2, 43, 44, 45, 61, 62, 63 one outer round at a time,
and each round ran the 389-instruction rounds loop twice: 10,069 instruction visits in
all, 4,934 now, every access proven as before."""

from pathlib import Path

import bpfjit
from bpfjit.verifier import analysis
from bpfjit.verifier.thresholds import compared_from_head, loop_thresholds

from test_loaded_copies import loop_of
from test_verifier_soundness import assert_proofs_hold

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"

# r6 carries a counter round the outer loop (spilled, the register reused for an inner
# index compared with 44, reloaded and bumped); r7 is compared with len
CARRIED = """
    mov %r6, 1
    mov %r7, 0
head:
    stxdw [%r10-8], %r6
    mov %r6, 0
inner:
    add %r6, 1
    jlt %r6, 44, inner
    ldxdw %r6, [%r10-8]
    add %r6, 1
    add %r7, 64
    jlt %r7, %r2, head
    mov %r0, %r6
    exit
"""


def test_only_values_that_reach_a_comparison_count():
    prog, body = loop_of(CARRIED, 2)
    bits = compared_from_head(prog, body, 2)
    assert {r for r in range(10) if bits >> r & 1} == {2, 7}


def test_a_carried_register_takes_no_borrowed_thresholds():
    prog, body = loop_of(CARRIED, 2)
    everywhere = tuple((0,) for _ in range(11))
    # without the head, r6 takes the inner index's 43, 44, 45; at the head, nothing
    assert 44 in loop_thresholds(prog, body, everywhere)[6]
    assert loop_thresholds(prog, body, everywhere, head=2)[6] == (0,)


def test_the_counter_is_right_on_every_engine(engine):
    fn = bpfjit.compile(bpfjit.assemble(CARRIED), engine)
    # one trip per 64 bytes of len, rounded up, the counter bumped on each from 1
    for n, trips in ((0, 1), (1, 1), (64, 1), (65, 2), (640, 10)):
        assert fn(bytearray(n)) == 1 + trips


def test_chacha_settles_in_fewer_visits(monkeypatch):
    # 10,069 visits before: refused as too complex under this limit; 4,934 now
    monkeypatch.setattr(analysis, "WORK_LIMIT", 7_000)
    verified = bpfjit.verify(bpfjit.load_elf(CORPUS / "chacha.o", function="entry"),
                             cache=False)
    assert len(verified.accesses) == 228
    assert verified.proven == set(verified.accesses)


def test_chacha_proofs_hold_on_runs():
    key = bytes(range(44))
    assert_proofs_hold(bpfjit.load_elf(CORPUS / "chacha.o", function="entry"),
                       [b"", key, key + bytes(200), key + b"\xff" * 131])
