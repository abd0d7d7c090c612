"""An insertion sort of indices, as corpus/plain/hull.c sorts its points: `order[j] =
order[j - 1]` and `order[j] = i` keep indices below the point count (at most 40) in a
byte array on the stack, and `val[order[j - 1]]` reads through them.  The byte caps
(bpfjit.verifier.bytecaps) of `order` grow as i does; widened to the loop's own
thresholds, which know nothing of 40 (the loop compares i with n, a register), they
jumped to 255 and no read through them was proven.  A head's caps now widen through
the program's thresholds as well (the copy loop's `jge r3, 40`), so they stop at 39
and 40: the reads of `val` (40 bytes at the top of the frame) are proven.  Checked on
every engine against a Python model."""

from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import verify

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"

# val[40] at fp-40 takes the first min(len, 40) bytes; order[40] at fp-80 is sorted by
# val, stably; r0 = the sum of order[k] * (k + 1)
PROGRAM = """
    mov %r3, 0
copy:
    jge %r3, %r2, copied
    jge %r3, 40, copied
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    mov %r4, %r10
    add %r4, -40
    add %r4, %r3
    stxb [%r4], %r5
    add %r3, 1
    ja copy
copied:
    mov %r0, 0
    jeq %r3, 0, out
    mov %r6, 0
outer:
    mov %r7, %r6
inner:
    jeq %r7, 0, place
    mov %r4, %r10
    add %r4, -81
    add %r4, %r7
    ldxb %r8, [%r4]
    mov %r5, %r10
    add %r5, -40
    add %r5, %r8
    ldxb %r5, [%r5]
    mov %r9, %r10
    add %r9, -40
    add %r9, %r6
    ldxb %r9, [%r9]
    jle %r5, %r9, place
    stxb [%r4+1], %r8
    sub %r7, 1
    ja inner
place:
    mov %r4, %r10
    add %r4, -80
    add %r4, %r7
    stxb [%r4], %r6
    add %r6, 1
    jlt %r6, %r3, outer
    mov %r6, 0
fold:
    mov %r4, %r10
    add %r4, -80
    add %r4, %r6
    ldxb %r5, [%r4]
    add %r6, 1
    mul %r5, %r6
    add %r0, %r5
    jlt %r6, %r3, fold
out:
    exit
"""

THROUGH_ORDER = 24          # ldxb %r5, [%r5]: val[order[j - 1]]


def expected(mem: bytes) -> int:
    val = mem[:40]
    order = sorted(range(len(val)), key=lambda k: val[k])      # stable, as the sort
    return sum(k_index * (k + 1) for k, k_index in enumerate(order))


def test_the_reads_through_the_indices_are_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(THROUGH_ORDER)) == "ldxb %r5, [%r5]"
    verified = verify(prog, cache=False)
    assert THROUGH_ORDER in verified.proven
    assert set(verified.accesses) == verified.proven


def test_the_model():
    # values 30, 10, 20: sorted indices 1, 2, 0 -> 1*1 + 2*2 + 0*3
    assert expected(bytes([30, 10, 20])) == 5
    # equal values keep their order: 0, 1 -> 0*1 + 1*2
    assert expected(bytes([7, 7])) == 2


@pytest.mark.parametrize("mem", [b"", b"\x05", bytes([30, 10, 20]), bytes([7, 7]),
                                 bytes((k * 37) % 256 for k in range(40)),
                                 bytes(range(60, 0, -1))])
def test_the_sort_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)


def test_late_widening_keeps_the_programs_thresholds_for_the_bytes():
    # corpus/plain/hull.c: the chains' `hull[k++] = order[i]` store point indices below
    # 40 into hull[] in loops nested deep enough that their heads widen late, without
    # the loops' own thresholds; the bytes then went straight to 255, and four reads of
    # points through indices held in hull[] and order[] (pcs 132, 135, 142, 147) were
    # checked.
    # A byte still stops at the program's thresholds (40, one less: 39) late too
    v = verify(bpfjit.load_elf(CORPUS / "hull.o", function="entry"), cache=False)
    assert {132, 135, 142, 147} <= v.proven
