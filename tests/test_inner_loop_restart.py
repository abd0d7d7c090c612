"""An inner loop entered again with more, as its outer loop moves on, widens through its
thresholds again (once) instead of going straight to the limits.

corpus/plain/tokptr.c splits lines into words, keeping up to MAXW pointers and sizes
in stack arrays, then compares every pair of words of the line (`for i < n`, `for j =
i + 1; j < n`, and a byte loop inside): every index into `word[]` and `size[]` -- i,
j, and `longest`, which only ever takes a value of i -- is below n <= MAXW, so every
access into the frame is in bounds.  A loop head counts its joins on every entry: the
inner heads had spent their threshold steps on the first line already, and entered
again for the next one with more, they widened the indices past MAXW, and those
accesses were checked at run time.  The pointers
loaded from `word[]` are another matter (the loads through them stay checked)."""

from pathlib import Path

import bpfjit
from bpfjit.verifier import verify

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "plain"


def test_every_access_into_the_frame_is_proven():
    prog = bpfjit.load_elf(CORPUS / "tokptr.o", function="entry")
    verified = verify(prog, cache=False)
    frame = [pc for pc, region in verified.regions.items() if region == "stack"]
    assert len(frame) > 10
    assert [pc for pc in frame if pc not in verified.proven] == []
