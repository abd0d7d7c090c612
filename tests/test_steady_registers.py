"""A register an inner loop neither writes nor tests, held at its entry's bounds when
the loop's head is widened by force (bpfjit.verifier.loopheads._held_steady).

corpus/plain/myers.c computes Myers' O(ND) edit distance: `for (d = 0; d <= n + m;
d++) for (k = -d; k <= d; k += 2) { ...; while (x < n && y < m && a[x] == b[y]) {
x++; y++; } v[off + k] = x; }` with n = m = 40, off = 81 and `s16 v[163]`.  Every
index into v is off + k +- 1 with |k| <= d <= 80: in [0, 162], so every stack access
is in bounds; only the snake loop's reads of the two slices, bounded by the caller's
`p + 80 <= len` through x and y, are left to run-time checks.  The snake loop's head
is joined again each time the loops around it move on; past FORCE_AFTER joins every
value still moving there was widened, `d` too, which the snake loop never writes and
which only grew because the loop was entered with more: widened to 2^32, it took the
bounds of k and of every `v[...]` with it (7 accesses unproven, llvm 1.85x native on
this machine's Xeon, 1.67x after).  A register the loop tests stays widened (corpus
intervals.c's count, which creeps up one batch at a time until an inner widening ends
it), and after STEADY_JOINS more joins everything is widened as before, so the
fixpoint still comes."""

from pathlib import Path

import bpfjit
from bpfjit.isa import Kind

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"


def test_myers_proves_every_access_but_the_snake_loops_two_reads():
    prog = bpfjit.load_elf(CORPUS / "myers.o", function="entry")
    verified = bpfjit.verify(prog, cache=False)
    unproven = sorted(pc for pc in verified.accesses if pc not in verified.proven)
    assert [verified.regions.get(pc) for pc in unproven] == ["mem", "mem"]
    assert all(prog.at(pc).kind is Kind.LDX and prog.at(pc).spec.size == 1
               for pc in unproven)
    stack = [pc for pc in verified.accesses if verified.regions.get(pc) == "stack"]
    assert len(stack) >= 6 and all(pc in verified.proven for pc in stack)


def test_the_insertion_sorts_count_still_ends_its_creep():
    # corpus intervals.c: its inner loop does not test the batch count n either; held
    # steady for good, n crept up at the middle loop's head until that head dropped its
    # relations, and four reads of the input lost their proofs
    prog = bpfjit.load_elf(CORPUS / "intervals.o", function="entry")
    verified = bpfjit.verify(prog, cache=False)
    assert verified.proven == set(verified.accesses)
