"""A count of words clamped to a limit: `words = len / 4; if (words > 4096) words =
4096;` then `mem[4 * w .. 4 * w + 3]` for w < words.

On the path that clamps, words is a constant, and the relation `4 * words <= len`
that the quotient gave on the other path holds only because the test showed
`len / 4 >= 4096`, so `len >= 16384`.  The verifier learns that bound from the
quotient's own lower bound, and the join keeps `4 * words <= len` from both paths
(corpus hll and mandel, a HyperLogLog and a Mandelbrot set written the same way); a
buffer pointer made from `4 * w` keeps that equality when the register that held the
product is reused.
Variants that break the relation must stay unproven, and trap where they should."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

M64 = (1 << 64) - 1


def _words(shift: int = 2, limit: int = 4096, clamp_to: int = 4096, stride: int = 4) -> str:
    """clang's code for the loop (corpus.h get_le32 of each word), with the quotient's
    shift, the limit tested, the value the clamp sets and the words' stride."""
    return f"""
    rsh r2, {shift}
    mov r3, {limit}
    jgt r3, r2, counted
    mov r2, {clamp_to}
counted:
    mov r0, 0
    jeq r2, 0, done
    mov r3, 0
    add r1, 3
    mov r4, 0
loop:
    ldxb r0, [r1-2]
    lsh r0, 8
    ldxb r5, [r1-3]
    or r0, r5
    ldxb r5, [r1-1]
    lsh r5, 16
    or r0, r5
    ldxb r5, [r1+0]
    lsh r5, 24
    or r0, r5
    mul r4, 31
    add r0, r4
    add r1, {stride}
    add r3, 1
    mov r4, r0
    jgt r2, r3, loop
done:
    exit
"""


# hll's shape: the register that held 4 * w takes a loaded byte before the word's
# last bytes are read, so the pointer itself must carry `p == 4 * w`
REUSED = """
    rsh r2, 2
    mov r3, 4096
    jgt r3, r2, counted
    mov r2, 4096
counted:
    mov r0, 0
    jeq r2, 0, done
    mov r3, 0
loop:
    mov r6, r3
    lsh r6, 2
    mov r7, r1
    add r7, r6
    ldxb r6, [r7+1]
    ldxb r8, [r7+0]
    add r0, r8
    ldxb r8, [r7+3]
    add r0, r6
    add r0, r8
    add r3, 1
    jgt r2, r3, loop
done:
    exit
"""


def _model(mem: bytes, shift: int = 2, limit: int = 4096) -> int:
    words = len(mem) >> shift
    if words > limit:
        words = limit
    s = 0
    for w in range(words):
        s = (s * 31 + int.from_bytes(mem[4 * w:4 * w + 4], "little")) & M64
    return s


def _unproven(text: str) -> list[int]:
    v = bpfjit.verify(bpfjit.assemble(text), mode="checked", cache=False)
    return sorted(pc for pc in v.accesses if pc not in v.proven)


def test_the_clamped_count_bounds_every_word():
    assert _unproven(_words()) == []
    bpfjit.verify(bpfjit.assemble(_words()), mode="strict", cache=False)


def test_a_pointer_keeps_its_stride_when_the_index_register_is_reused():
    assert _unproven(REUSED) == []


@pytest.mark.parametrize("length", [0, 5, 64, 16387, 16400])
def test_the_reused_register_program_on_every_engine(engine, length):
    mem = bytes((5 * i + 9) & 0xFF for i in range(length))
    words = min(length // 4, 4096)
    expected = sum(mem[4 * w] + mem[4 * w + 1] + mem[4 * w + 3] for w in range(words))
    fn = bpfjit.compile(bpfjit.assemble(REUSED), engine, cache=False)
    assert fn(bytearray(mem)) == expected


def test_a_shift_of_three_bounds_words_of_four_too():
    # len / 8 words of 4 bytes each stay inside the buffer
    assert _unproven(_words(shift=3, limit=1000, clamp_to=1000)) == []


def test_a_quotients_lower_bound_bounds_the_length():
    # words = len / 4 >= 4096 shows len >= 16384: byte 16383 is there
    text = """
    rsh r2, 2
    jlt r2, 4096, short
    ldxb r0, [r1+16383]
    exit
short:
    mov r0, 0
    exit
"""
    assert _unproven(text) == []
    over = text.replace("[r1+16383]", "[r1+16384]")
    assert _unproven(over) == [2]


def test_a_copy_of_the_quotient_bounds_the_length_too():
    # the test is of a zero-extended copy (clang's `u32 n = len / 2`): n >= 128 shows
    # len >= 256 (corpus qselect)
    text = """
    rsh r2, 1
    mov r4, r2
    lsh r4, 32
    rsh r4, 32
    jlt r4, 128, short
    ldxb r0, [r1+255]
    exit
short:
    mov r0, 0
    exit
"""
    assert _unproven(text) == []
    assert _unproven(text.replace("[r1+255]", "[r1+256]")) == [5]


@pytest.mark.parametrize("variant", [
    dict(shift=1),                        # len / 2 words of 4 bytes: past the end
    dict(clamp_to=4097),                  # clamped above the limit tested
    dict(stride=8),                       # words 8 bytes apart
], ids=["half-length-count", "clamped-above-the-test", "wider-stride"])
def test_counts_that_overrun_stay_unproven(variant):
    with pytest.raises(VerifierError):
        bpfjit.verify(bpfjit.assemble(_words(**variant)), mode="strict", cache=False)


@pytest.mark.parametrize("length", [0, 3, 4, 17, 4096, 16383, 16384, 16387, 20000])
def test_runs_on_every_engine(engine, length):
    mem = bytes((7 * i * i + 3 * i + 1) & 0xFF for i in range(length))
    fn = bpfjit.compile(bpfjit.assemble(_words()), engine, cache=False)
    assert fn(bytearray(mem)) == _model(mem)


@pytest.mark.parametrize("variant, length, pc", [
    (dict(shift=1), 64, 9),               # word 16 of 32 starts at byte 64
    (dict(clamp_to=4097), 16384, 9),      # word 4096 starts at byte 16384
], ids=["half-length-count", "clamped-above-the-test"])
def test_overruns_trap_on_every_engine(engine, variant, length, pc):
    fn = bpfjit.compile(bpfjit.assemble(_words(**variant)), engine, cache=False)
    with pytest.raises(MemoryAccessError) as caught:
        fn(bytearray(length))
    assert caught.value.pc == pc
