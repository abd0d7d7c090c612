"""Spilled pointers read back, on every engine.

clang spills the buffer pointer when registers run short and reloads it in the loop
that uses it; a JIT that made such a pointer from what the verifier knows of it,
instead of loading it, would have to give the same pointer in every case: the empty
buffer's r1 (0) included, in a subprogram, and a frame pointer whose accesses are
checked at the frame's edges."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError


# r2 = r1 read back from r10-8: r0 = r2 - r1 (0), + 100 when r2 is NULL (the empty
# buffer's r1), else + the byte at r2 + 3 (checked: the buffer may be shorter)
BUFFER = """
    stxdw [%r10-8], %r1
    ldxdw %r2, [%r10-8]
    mov %r0, %r2
    sub %r0, %r1
    jne %r2, 0, +2
    add %r0, 100
    exit
    ldxb %r3, [%r2+3]
    add %r0, %r3
    exit
"""


def _outcome(fn, mem):
    try:
        return fn(mem)
    except MemoryAccessError as error:
        return ("trap", error.pc)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 9])
def test_a_reloaded_buffer_pointer_is_the_stored_one(engine, length):
    fn = bpfjit.compile(bpfjit.assemble(BUFFER), engine, cache=False)
    mem = bytearray(range(40, 40 + length))
    expected = 100 if length == 0 else ("trap", 7) if length < 4 else 43
    assert _outcome(fn, mem) == expected


@pytest.mark.parametrize("length", [0, 4, 9])
def test_a_subprogram_reloads_the_pointer_it_was_given(engine, length):
    # the entry passes r1 on (as r1) to a subprogram that spills and reloads it
    text = "    call local +1\n    exit\n" + BUFFER
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    mem = bytearray(range(40, 40 + length))
    expected = 100 if length == 0 else 43
    assert _outcome(fn, mem) == expected


@pytest.mark.parametrize("index", [0, 63, 64, 200])
def test_a_reloaded_frame_pointer_is_the_stored_one(engine, index):
    # r2 = r10 - 64 read back from r10-8; a byte at r2 + (the buffer's first byte) is
    # stored and loaded (in the frame below index 64, a trap at 64 and above), and
    # r0 = that byte + (r2 - r10) + 64 << 8
    text = """
    mov %r3, %r10
    add %r3, -64
    stxdw [%r10-8], %r3
    ldxb %r4, [%r1]
    ldxdw %r2, [%r10-8]
    mov %r5, %r2
    add %r5, %r4
    stb [%r5], 77
    ldxb %r0, [%r5]
    sub %r2, %r10
    add %r2, 64
    lsh %r2, 8
    add %r0, %r2
    exit
"""
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    got = _outcome(fn, bytearray([index, 0]))
    # r10 - 64 + index lies in the frame for index < 64 (56..63: on the spill's own
    # bytes, read back before the store), above its top from 64 up
    assert got == (77 if index < 64 else ("trap", 7))
