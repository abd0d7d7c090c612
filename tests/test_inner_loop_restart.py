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


def frame_accesses(name: str) -> tuple[int, list[int]]:
    """How many accesses a corpus program makes into its frame, and those not proven."""
    verified = verify(bpfjit.load_elf(CORPUS / f"{name}.o", function="entry"), cache=False)
    frame = [pc for pc, region in verified.regions.items() if region == "stack"]
    return len(frame), [pc for pc in frame if pc not in verified.proven]


def test_every_access_into_the_frame_is_proven():
    count, unproven = frame_accesses("tokptr")
    assert count > 10 and unproven == []


def test_an_inner_loop_widened_to_its_limits_is_analysed_again_from_its_entry():
    # corpus/plain/intervals.c fills an array of 24 structs, inserting each new one by
    # moving the larger ones up: `j = n++` with n < 24, then `while (j > 0 && s[j - 1]
    # ...) { s[j] = s[j - 1]; j--; }`.  Every index into s[] is below 24, so every access
    # into the frame is in bounds.  The fill loop counts n up one at a time in lockstep
    # with its input offset; by the time its head settled on n < 24, the insertion
    # loop's head had gone to its limits (j past 2^30) and kept them, and every access
    # into the array was checked at run time (4.7x native on llvm).  Entered again with
    # more once that happened, a loop holding another is now analysed again from its
    # entry alone.
    count, unproven = frame_accesses("intervals")
    assert count > 15 and unproven == []
