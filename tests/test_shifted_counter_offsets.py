"""A counter plus a constant, scaled into an offset, keeps its equality with the counter
(bpfjit.verifier.alu: `dst == m * (y + d)` after `lsh`/`mul` of a dst equal to y + d).

corpus/plain/bubble.c (written here) sorts 40 u16 keys with the classic triangle
`for i < 39: for j < 39 - i: if (key[j] > key[j + 1]) swap`.  clang keeps j + 1 in r5
and makes the offset of key[j] as `r9 = r5 - 1; r9 <<= 1; r8 = fp - 76 + r9` on the
path into its run of swaps, whose loop then steps r8 by 2 with r5: without `r9 == 2 *
r5 - 2` the pointer had no relation to r5 at that loop's head, was widened to the
frame's top, and `key[j + 1]` was checked at run time.  With it, r8 == 2 * r5 - 78
holds round the loop and r5 <= 39 - i bounds every access."""

import json
from pathlib import Path

import bpfjit

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def bubble() -> bpfjit.Program:
    return bpfjit.load_elf(CORPUS / "bubble.o", function="entry")


def test_every_access_of_the_bubble_sort_is_proven():
    verified = bpfjit.verify(bubble(), cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)


def test_the_bubble_sort_sorts_on_every_engine(engine):
    fn = bpfjit.compile(bubble(), engine)
    for k in range(4):
        data = (CORPUS / "inputs" / f"bubble-{k}.bin").read_bytes()
        assert fn(bytearray(data)) == EXPECTED[f"bubble-{k}.bin"]
