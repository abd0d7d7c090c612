"""The llvm engine loads an integer clang reads byte by byte whole (backends/
llvmidioms.py), where LLVM alone keeps the bytes apart: a record's 32-bit word read
from four bytes, one of its fields (the low three bits) taken before another (the bits
from 9 up), as C bit-fields are.  Expected values from int.from_bytes and shifts."""

import pytest

import bpfjit

DATA = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
              0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xF0, 0x0F])

FIELDS = """
    mov %r0, 0
    jlt %r2, 16, out
    ldxb %r3, [%r1+1]
    lsh %r3, 8
    ldxb %r4, [%r1+0]
    or %r3, %r4
    ldxb %r4, [%r1+3]
    lsh %r4, 8
    ldxb %r5, [%r1+2]
    or %r4, %r5
    lsh %r4, 16
    or %r4, %r3
    mov %r0, %r4
    and %r0, 7
    rsh %r4, 9
    add %r0, %r4
out:
    exit
"""


def test_two_fields_of_a_word_read_byte_by_byte_on_every_engine(engine):
    word = int.from_bytes(DATA[:4], "little")
    fn = bpfjit.compile(bpfjit.assemble(FIELDS), engine)
    assert fn(bytearray(DATA)) == (word & 7) + (word >> 9)
    assert fn(bytearray(DATA[:15])) == 0


def test_the_llvm_engine_loads_the_word_whole():
    if "llvm" not in bpfjit.engines():
        pytest.skip("the llvm engine is not available")
    fn = bpfjit.compile(bpfjit.assemble(FIELDS), "llvm", keep_ir=True, cache=False)
    optimised = fn.extra["optimised_ir"]
    # one 4-byte load of the buffer; no byte of it loaded apart
    assert optimised.count("load i32") == 1 and "load i8" not in optimised, optimised


def test_a_checked_byte_is_not_joined():
    # the bytes of a buffer the program did not test the length of are checked one by
    # one (the first out of bounds traps at its own pc): no wide load
    if "llvm" not in bpfjit.engines():
        pytest.skip("the llvm engine is not available")
    unguarded = FIELDS.replace("    jlt %r2, 16, out\n", "")
    fn = bpfjit.compile(bpfjit.assemble(unguarded), "llvm", keep_ir=True, cache=False)
    assert "load i32" not in fn.extra["optimised_ir"]
    with pytest.raises(bpfjit.BpfError, match=r"^pc 5: out-of-bounds read of 1 byte"):
        fn(bytearray(DATA[:3]))


# r1 reads a stack byte, then takes the buffer's address again: FIELDS' word and fields
REBASED = FIELDS.replace("    ldxb %r3, [%r1+1]\n", """    mov %r7, %r1
    stb [%r10-8], 5
    mov %r1, %r10
    add %r1, -8
    ldxb %r6, [%r1+0]
    mov %r1, %r7
    ldxb %r3, [%r1+1]
""").replace("    add %r0, %r4\n", "    add %r0, %r4\n    add %r0, %r6\n")


def test_fields_of_a_word_read_through_a_register_that_pointed_elsewhere_on_every_engine(
        engine):
    word = int.from_bytes(DATA[:4], "little")
    fn = bpfjit.compile(bpfjit.assemble(REBASED), engine)
    assert fn(bytearray(DATA)) == (word & 7) + (word >> 9) + 5


def test_the_wide_load_is_made_through_the_base_as_it_is_at_the_or():
    # the buffer's own loads make it, not the stack byte read through r1 before (which
    # would have given it the stack's region, and left the bytes apart)
    if "llvm" not in bpfjit.engines():
        pytest.skip("the llvm engine is not available")
    fn = bpfjit.compile(bpfjit.assemble(REBASED), "llvm", keep_ir=True, cache=False)
    optimised = fn.extra["optimised_ir"]
    assert optimised.count("load i32") == 1, optimised
