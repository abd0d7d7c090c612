"""bpf_skb_load_bytes in native code (backends.helperops): where the verifier proved
`to` writable for every length the call may be given, the JITs copy the packet bytes
themselves instead of calling the Python helper, with its errors: -EFAULT for an
offset below 0 (a signed 32-bit number), a length of 0, or bytes past the packet.

A tc program: the packet's first byte is the offset, its second the length - 1 (&
31, then + 1, so that the kernel's verifier, which wants a length of at least 1, runs
it too; a variant without the + 1 gives 0);
the bytes are copied to fp-32 and r0 = the helper's result, or where it is 0 the first
4 copied bytes as a little-endian u32.  Results worked out by hand."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.backends.helperops import SKB_LOAD_BYTES, SKB_STORE_BYTES, native_helper_ids
from skb_programs import asm_program

PROGRAM = """
    mov %r6, %r1
    ldxw %r2, [%r6+76]
    ldxw %r3, [%r6+80]
    mov %r0, 99
    mov %r4, %r2
    add %r4, 2
    jgt %r4, %r3, out
    ldxb %r7, [%r2+0]
    ldxb %r4, [%r2+1]
    and %r4, 31
    add %r4, 1
    stdw [%r10-32], 0
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r1, %r6
    mov %r2, %r7
    {offset}
    mov %r3, %r10
    add %r3, -32
    call 26
    jne %r0, 0, out
    ldxw %r0, [%r10-32]
out:
    exit
"""
PLAIN = PROGRAM.format(offset="")
# the length as given, 0 included
ZERO = PLAIN.replace("    add %r4, 1\n", "")
# the offset as a signed byte: 0x80-0xff below 0
SIGNED = PROGRAM.format(offset="lsh %r2, 56\n    arsh %r2, 56")
# a length not bounded: the Python helper checks `to` itself
UNBOUNDED = PLAIN.replace("    and %r4, 31\n", "").replace("    add %r4, 1\n", "")
EFAULT = 2**64 - 14


def program(text: str) -> bpfjit.Program:
    return asm_program(text, context="skb", prog_type="sched_cls")


def packet(offset: int, length: int, plus_one: bool = True) -> bytes:
    return bytes([offset, length - plus_one]) + bytes(range(2, 60))


@pytest.mark.parametrize("text, native", [(PLAIN, True), (UNBOUNDED, False)],
                         ids=["bounded", "unbounded"])
def test_the_verifier_says_which_calls_may_be_native(text, native):
    verified = bpfjit.verify(program(text), cache=False)
    assert (SKB_LOAD_BYTES in native_helper_ids(verified, None)) == native


@pytest.mark.parametrize("text, offset, length, result", [
    (PLAIN, 4, 4, 0x07060504),          # bytes 4-7
    (PLAIN, 56, 4, 0x3B3A3938),         # the last 4 of 60
    (PLAIN, 57, 4, EFAULT),             # one past the end
    (PLAIN, 2, 1, 2),                   # one byte, the rest of fp-32 still 0
    (SIGNED, 0xFC, 4, EFAULT),          # offset -4
    (SIGNED, 0x7F, 4, EFAULT),          # offset 127, past a 60-byte packet
])
def test_what_it_copies(engine, text, offset, length, result):
    run = bpfjit.compile(program(text), engine)
    assert run(bpfjit.SkbContext(packet(offset, length))) == result


def test_a_length_of_0_is_a_fault(engine):
    run = bpfjit.compile(program(ZERO), engine)
    assert run(bpfjit.SkbContext(packet(10, 0, plus_one=False))) == EFAULT
    assert run(bpfjit.SkbContext(packet(4, 4, plus_one=False))) == 0x07060504


def test_the_jits_call_the_native_routine(engine):
    if engine not in ("llvm", "peachpy"):
        pytest.skip("the JITs' helper table")
    native = bpfjit.compile(program(PLAIN), engine)
    python = bpfjit.compile(program(UNBOUNDED), engine)
    entry = int(bpfjit.native.ffi.cast("uintptr_t", native.helpers.table[SKB_LOAD_BYTES]))
    assert entry == native_helper_ids(bpfjit.verify(program(PLAIN)), None)[SKB_LOAD_BYTES]
    assert int(bpfjit.native.ffi.cast("uintptr_t", python.helpers.table[SKB_LOAD_BYTES])) \
        != entry


# skb_store_bytes: the 4 bytes 0xAABBCCDD (little-endian at fp-8) written at the offset
# the packet's first byte names, r0 = the helper's result
STORE = """
    mov %r6, %r1
    stw [%r10-8], 0xAABBCCDD
    ldxw %r2, [%r6+76]
    ldxw %r3, [%r6+80]
    mov %r0, 99
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, out
    ldxb %r2, [%r2+0]
    mov %r1, %r6
    mov %r3, %r10
    add %r3, -8
    mov %r4, 4
    mov %r5, 0
    call 9
out:
    exit
"""


@pytest.mark.parametrize("offset, result", [(8, 0), (56, 0), (57, EFAULT)])
def test_store_bytes_writes_the_packet(engine, offset, result):
    prog = program(STORE)
    if engine in ("llvm", "peachpy"):
        assert SKB_STORE_BYTES in native_helper_ids(bpfjit.verify(prog), None)
    run = bpfjit.compile(prog, engine)
    ctx = bpfjit.SkbContext(bytes([offset]) + bytes(range(1, 60)))
    assert run(ctx) == result
    expected = bytearray([offset]) + bytearray(range(1, 60))
    if result == 0:
        expected[offset:offset + 4] = bytes([0xDD, 0xCC, 0xBB, 0xAA])
    assert ctx.packet == bytes(expected)
