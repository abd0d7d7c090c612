"""`(u32)pos % 160` as clang -mcpu=v1 writes it for a u32 kept in a 64-bit register that
was never truncated: `mov s, t; lsh s, 32; rsh s, 32; div s, 160; mul s, 160; mov d, t;
sub d, s; lsh d, 32; rsh d, 32`.  The dividend is t's low half L, s = L / 160 * 160 <= L,
so d's low half is L - s, L's remainder, in [0, 159], whatever t's upper half is: the
verifier proves the access it indexes.  (A range coder's output `out[pos % 160]` was
the only access left unproven, and peeling spent 250 ms trying.)  Checked on every
engine against the remainder worked out in Python."""

import struct

import pytest

import bpfjit
from bpfjit.verifier import verify


def program(copy_after_step: bool = False) -> str:
    """The remainder as clang writes it; `copy_after_step` takes d's copy of t after t
    has moved on (d's low half may then be 160 or more: nothing is proven)."""
    step = "    add %r6, 1\n"
    return f"""
    mov %r0, 0
    mov %r3, 0
zero:
    mov %r4, %r10
    add %r4, -160
    add %r4, %r3
    stb [%r4], 0
    add %r3, 1
    jlt %r3, 160, zero
    jlt %r2, 8, out
    ldxdw %r6, [%r1]
    mov %r9, 8
loop:
    jge %r9, %r2, done
    mov %r4, %r1
    add %r4, %r9
    ldxb %r5, [%r4]
    mov %r3, %r6
    lsh %r3, 32
    rsh %r3, 32
    div %r3, 160
    mul %r3, 160
{step if copy_after_step else ""}    mov %r7, %r6
    sub %r7, %r3
    lsh %r7, 32
    rsh %r7, 32
    mov %r8, %r10
    add %r8, -160
    add %r8, %r7
    stxb [%r8], %r5
    mul %r5, 4097
    add %r6, %r5
{"" if copy_after_step else step}    add %r9, 1
    jlt %r9, 1000, loop
done:
    ldxb %r0, [%r10-160]
    ldxb %r5, [%r10-1]
    lsh %r0, 8
    or %r0, %r5
    ldxb %r5, [%r10-80]
    lsh %r0, 8
    or %r0, %r5
out:
    exit
"""


def expected(mem: bytes) -> int:
    if len(mem) < 8:
        return 0
    stack = bytearray(160)
    pos = struct.unpack_from("<Q", mem)[0]
    for i in range(8, min(len(mem), 1000)):
        byte = mem[i]
        stack[(pos & 0xFFFFFFFF) % 160] = byte
        pos = (pos + byte * 4097 + 1) & (1 << 64) - 1
    return stack[0] << 16 | stack[159] << 8 | stack[80]


def _store_pc(text: str) -> int:
    prog = bpfjit.assemble(text)
    return next(pc for pc in range(len(prog)) if prog.at(pc).spec.mnemonic == "stxb")


def test_the_low_half_remainder_indexes_a_proven_store():
    verified = verify(bpfjit.assemble(program()), cache=False)
    assert _store_pc(program()) in verified.accesses
    assert verified.accesses and verified.proven == set(verified.accesses)


def test_a_copy_taken_after_the_dividend_moved_proves_nothing():
    # s = L / 160 * 160 of the old t, d = t + 1 - s: d's low half may be 160
    verified = verify(bpfjit.assemble(program(copy_after_step=True)), cache=False)
    assert _store_pc(program(True)) not in verified.proven


@pytest.mark.parametrize("mem", [b"", bytes(8) + b"\x07",
                                 struct.pack("<Q", 0xFFFFFFFF_FFFFFF9C) + bytes(range(200)),
                                 struct.pack("<Q", 0x12345678_9ABCDEF0) + bytes([255]) * 300,
                                 struct.pack("<Q", 159) + bytes(range(256)) * 5])
def test_the_stores_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(program()), engine)
    assert fn(mem) == expected(mem)
