"""A counter whose limit is tested through a copy made at the end of the loop's text:
`while (q < len && q < 64 && mem[q] != 0) q++;` as clang lays it out (corpus
swalign's query scan): `r3 = r7` late in the body, `63 > r3` tested early in it, on
the way round.  The loop head's widening thresholds follow the copy round the loop, so
r7 stops at 64 instead of at 2^32 and `line[q]` afterwards is proven.  With a limit
past the line, the store stays unproven, and past the frames it traps."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

# q = length of the NUL-terminated prefix, at most LIMIT + 1; then three calls of a
# function that sets line[q] = 1 in its own 72-byte line at r10-72 and returns it: a
# loop after the scan, entered (as the analysis goes) before the scan's loop has
# settled, and a callee entered from it; returns q | line[q] << 8
PROGRAM = """
    mov %r7, 0
    mov %r5, {limit}
    jeq %r2, 0, done
    ja first
head:
    jge %r7, %r2, done
    jle %r5, %r3, done
first:
    mov %r3, %r7
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4+0]
    jeq %r4, 0, done
    mov %r7, %r3
    add %r7, 1
    ja head
done:
    mov %r8, 3
again:
    mov %r1, %r7
    call local mark
    add %r8, -1
    jne %r8, 0, again
    lsh %r0, 8
    or %r0, %r7
    exit
mark:
    mov %r6, %r10
    add %r6, -72
    add %r6, %r1
    stb [%r6+0], 1
    ldxb %r0, [%r6+0]
    exit
"""


def _program(limit: int) -> bpfjit.Program:
    return bpfjit.assemble(PROGRAM.format(limit=limit))


def _model(mem: bytes, limit: int) -> int:
    q = 0
    while q < len(mem) and mem[q] != 0:
        q += 1
        if q - 1 >= limit:
            break
    return q | 1 << 8


def test_the_copy_round_the_loop_bounds_the_counter():
    v = bpfjit.verify(_program(63), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


def test_a_limit_past_the_line_stays_unproven():
    with pytest.raises(VerifierError):
        bpfjit.verify(_program(80), mode="strict", cache=False)


@pytest.mark.parametrize("mem", [b"", b"\0", b"abc\0def", b"x" * 10, b"y" * 100],
                         ids=["empty", "nul", "short", "no-nul", "past-the-limit"])
def test_runs_on_every_engine(engine, mem):
    fn = bpfjit.compile(_program(63), engine, cache=False)
    assert fn(bytearray(mem)) == _model(mem, 63)


def test_past_the_frames_traps_on_every_engine(engine):
    # no NUL: the scan stops at q = 601 (the limit 600 reached): r10-72+601 in the
    # callee's frame is past the caller's frame too, the top of the stack
    fn = bpfjit.compile(_program(600), engine, cache=False)
    with pytest.raises(MemoryAccessError):
        fn(bytearray(b"z" * 700))
