"""A function that hands a number back through a pointer to its caller's `u32`
(`find(tab, rec, &slot)` writing `*free_slot = h`, h in [0, 15]): the callee's 4-byte
store into the caller's frame is kept as a narrow spill there (bpfjit.verifier.memory's
`_spill`), every return's goes into the summary with its width (`Summary.frame_widths`),
and the caller's load reads it back, so `tab[slot]` is proven.  The u32 sits in the
upper half of an 8-byte slot (fp-12), where clang puts it: a narrow spill needs only
to be aligned to its width."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify


def program(mask: int, width: str = "w") -> bpfjit.Program:
    """pick(&out, len) stores `(len * 7) & mask` into out (a `width` store at fp-12);
    the caller sets byte `out` of a 16-byte array at fp-32 to 7 and returns the array's
    two words xored."""
    return bpfjit.assemble(f"""
    mov %r6, %r2
    mov %r1, %r10
    add %r1, -12
    mov %r2, %r6
    call local pick
    stdw [%r10-32], 0
    stdw [%r10-24], 0
    ldx{width} %r3, [%r10-12]
    mov %r4, %r10
    add %r4, -32
    add %r4, %r3
    stb [%r4+0], 7
    ldxdw %r0, [%r10-32]
    ldxdw %r5, [%r10-24]
    xor %r0, %r5
    exit
pick:
    mov %r3, %r2
    mul %r3, 7
    and %r3, {mask}
    stx{width} [%r1+0], %r3
    mov %r0, 0
    exit
""")


def expected(length: int, mask: int) -> int:
    """The array by hand: byte (len * 7) & mask (below 16) set to 7, its two words
    xored."""
    array = bytearray(16)
    array[(length * 7) & mask] = 7
    return int.from_bytes(array[:8], "little") ^ int.from_bytes(array[8:], "little")


@pytest.mark.parametrize("width", ["w", "h", "b"])
def test_the_index_the_callee_hands_back_is_proven(width):
    v = verify(program(15, width), mode="strict", cache=False)
    assert v.proven == set(v.accesses)


def test_a_too_wide_index_is_not_proven_and_traps_on_every_engine(engine):
    # (len * 7) & 63 reaches 32 bytes past the array's start, fp+0: out of the frame
    prog = program(63)
    v = verify(prog, cache=False)
    store = 11
    assert store in v.accesses and store not in v.proven
    fn = bpfjit.compile(prog, engine, cache=False)
    for length in (0, 1, 2, 3, 4, 6):            # indices 0, 7, 14, 21, 28, 42 - 42 & 63
        index = (length * 7) & 63
        if index < 32:                           # bytes 16 and up are outside the words
            assert fn(bytes(length)) == (expected(length, 63) if index < 16 else 0)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes(5))                             # index 35: fp+3
    assert info.value.pc == store


@pytest.mark.parametrize("length", [0, 1, 2, 3, 16, 100])
def test_the_callee_picks_the_same_byte_on_every_engine(engine, length):
    fn = bpfjit.compile(program(15), engine, cache=False)
    assert fn(bytes(length)) == expected(length, 15)
