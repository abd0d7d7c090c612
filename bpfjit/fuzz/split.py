"""Hostile programs whose paths meet with different verdicts: one path defines what the
code after the join uses soundly, the other leaves it wrong (a register never written,
a NULL or wild pointer, a stack pointer outside the frame), and a test after the join
may be decided by a constant one path set.  A verifier must refuse every one of them
(the bad path reaches the use); one that drops the bad path somewhere and keeps a fact
from the good one accepts it, and the JIT code it allows crashes the host.

That is how bpfjit crashed on 2026-12-02: a block run once per incoming path (a test
of a register one path set to a constant) dropped the path that read an undefined
register, and the final pass replayed the block's journal without raising.  Mutating
generated programs a byte at a time never wrote such a program in 8,000 tries; this
writes one every time, varied by a random source (`split_program(rng)`).
"""

from __future__ import annotations

import random

__all__ = ["split_program", "SPLIT_BAD"]

# what the bad path leaves in r7 (the register a test after the join reads) and in r4
# (the pointer used after it); at least one of the two is wrong
R7 = {"r7 unwritten": [], "r7 the same constant": ["mov %r7, {c}"],
      "r7 another constant": ["mov %r7, {d}"]}
R4 = {"r4 sound": ["mov %r4, %r10", "add %r4, -16"], "r4 NULL": ["mov %r4, 0"],
      "r4 a number from the buffer": ["ldxdw %r4, [%r6+0]"],
      "r4 below the frame": ["mov %r4, %r10", "add %r4, -600"],
      "r4 past the buffer": ["mov %r4, %r6", "add %r4, 100000"], "r4 unwritten": []}
SPLIT_BAD = [(r7, r4) for r7 in R7 for r4 in R4
             if r7 == "r7 unwritten" or r4 != "r4 sound"]
_GOOD = [["mov %r4, %r10", "add %r4, -16"], ["mov %r4, %r10", "add %r4, -8"]]
_TESTS = ["jeq %r7, {c}, +0", "jne %r7, {c}, +1\nmov %r0, 7", "jeq %r7, {c}, +1\nmov %r0, 9",
          "jgt %r7, {c}, +0"]
_USES = ["ldxw %r0, [%r4+0]", "ldxdw %r0, [%r4+0]", "ldxb %r0, [%r4+0]",
         "stxw [%r4+0], %r0\nmov %r0, 1", "stdw [%r4+0], 5\nmov %r0, 2"]
_SPLITS = ["jne %r2, {k}, +{good}", "jlt %r2, {k}, +{good}", "jset %r3, {bit}, +{good}"]
_FILLER = ["mov %r0, {n}", "add %r5, {n}", "xor %r8, %r5", "mov %r3, %r3", "lsh %r5, 3"]


def split_program(rng: random.Random) -> tuple[str, bytes, str]:
    """(assembly text, input buffer, what the bad path does) of one such program: the
    bad path first (the split jumps over it to the good one), then the join."""
    c, k = rng.choice([0, 1, 5]), rng.randint(0, 12)
    r7, r4 = rng.choice(SPLIT_BAD)
    bad = [line.format(c=c, d=c + 1) for line in R7[r7] + R4[r4]]
    what = f"{r7}, {r4}"
    good = [f"mov %r7, {c}"] + rng.choice(_GOOD)
    filler = [rng.choice(_FILLER).format(n=rng.randint(0, 99))
              for _ in range(rng.randint(0, 3))]
    bad += [f"ja +{len(good)}"]
    split = rng.choice(_SPLITS).format(k=k, good=len(bad), bit=1 << rng.randint(0, 7))
    lines = ["mov %r6, %r1", "stdw [%r10-16], 0", "stdw [%r10-8], 0", "mov %r0, 0",
             "mov %r5, 3", "mov %r8, 1", "mov %r3, 0"]
    lines += ["jlt %r2, 8, +2", "ldxb %r3, [%r6+0]", "ja +0"] if rng.random() < 0.7 else []
    lines += filler + [split] + bad + good
    lines += rng.choice(_TESTS).format(c=c).split("\n")
    lines += rng.choice(_USES).split("\n") + ["exit"]
    mem = rng.randbytes(rng.choice([0, 2, 8, 16]))
    return "\n".join(lines), mem, what
