"""A register equal to the buffer length that a comparison pins to a constant keeps its
relation to len.  clang unrolls an instruction decoder's prefix loop (`while pos < len
... if (pos - start == 2) break`) into copies that each test `pos + k >= len` and meet
again; on the first trip pos is 0, so the edge that leaves the copy with `k >= r2` knows
r2 == k.  The verifier forgot a constant register's relations, and len has no interval
of its own beyond its least value: len <= r2 went with them, the meeting point kept only
r2 <= len + k - 1, and every load of the loop after it was left to a run-time check.
Checked on every engine against the decoder worked out in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# clang -O2 of: for each instruction, at most two 0x66 prefixes, an optional 0x4X byte,
# an opcode, and (opcode & 3) bytes more; r0 counts the instructions
DECODER = """
    mov %r0, 0
    jeq %r2, 0, done
    mov %r4, 0
    mov %r0, 0
    mov %r3, %r4
    ja prefixes
next:
    jge %r3, %r2, done
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4]
    and %r4, 3
    add %r3, %r4
    add %r0, 1
    add %r3, 1
    mov %r4, %r3
    jgt %r2, %r3, prefixes
done:
    exit
prefixes:
    jge %r4, %r2, rex
    mov %r3, %r1
    add %r3, %r4
    ldxb %r5, [%r3]
    mov %r3, %r4
    jne %r5, 102, rex
    mov %r3, %r4
    add %r3, 1
    jge %r3, %r2, rex
    mov %r5, %r1
    add %r5, %r3
    ldxb %r5, [%r5]
    jne %r5, 102, rex
    add %r4, 2
    mov %r3, %r4
rex:
    jge %r3, %r2, next
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4]
    and %r4, 240
    jne %r4, 64, next
    add %r3, 1
    ja next
"""


def expected(mem: bytes) -> int:
    """The decoder in Python: the number of instructions it counts."""
    pos = count = 0
    while pos < len(mem):
        start = pos
        while pos < len(mem) and mem[pos] == 0x66:
            pos += 1
            if pos - start == 2:
                break
        if pos < len(mem) and mem[pos] & 0xF0 == 0x40:
            pos += 1
        if pos >= len(mem):
            break
        pos += 1 + (mem[pos] & 3)
        count += 1
    return count


def test_every_load_of_the_decoder_is_proven():
    verified = verify(bpfjit.assemble(DECODER), cache=False)
    assert len(verified.accesses) == 4
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"\x66", b"\x66\x66", b"\x66\x66\x66\x41\x03abc",
                                 b"\x41", b"\x90" * 7, bytes(range(256)),
                                 b"\x66\x41\x02xx\x66\x66\x4f\x01y\x66"])
def test_the_decoder_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(DECODER), engine)
    assert fn(mem) == expected(mem)
