"""Where paths meet with numbers each knows exactly, their differences hold after the
join: k = 0 and n = 0 one way, k = 1 and n = 1 the other, give k <= n and n <= k.  A
count of some of a loop's trips, added to in 32 bits as clang -mcpu=v3 does (`size +=
found`, corpus/plain/lis.c), stays bounded by the trips so, and indexes a table the
verifier proves in bounds; without the relation the 32-bit sum may wrap for all the
verifier knows, and its widening reaches 2^32 - 1."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# k counts the bytes with the low bit set among the first n = min(len, 32); a branch on
# k (0 one way) meets the other path before the 32-bit add; then row[k] = 1 on the stack
# and the result is k
ODD_COUNT = """
    mov %r0, 0
    mov %r7, 0
    mov32 %r3, 0
    mov %r4, 0
    jeq %r2, 0, out
    jgt %r2, 32, out
loop:
    mov %r6, %r1
    add %r6, %r4
    ldxb %r5, [%r6]
    and32 %r5, 1
    jeq32 %r3, 0, join
    add %r7, 1
join:
    add32 %r3, %r5
    add %r4, 1
    jlt %r4, %r2, loop
    mov %r6, %r10
    add %r6, -40
    add %r6, %r3
    stb [%r6], 1
    mov %r0, %r3
out:
    exit
"""
ROW_STORE = 18


def test_the_count_stays_below_the_trips_and_its_row_store_is_proven():
    prog = bpfjit.assemble(ODD_COUNT)
    assert bpfjit.asm.format_insn(prog.at(ROW_STORE)) == "stb [%r6], 1"
    verified = verify(prog, cache=False)
    assert set(verified.accesses) == verified.proven
    low, high = verified.head_ranges[6][3]          # k at the loop's head
    assert low == 0 and high <= 32


def test_a_count_that_may_outrun_the_trips_is_not_proven():
    # k also grows by one where it is not 0: up to 2n - 1 = 63, past the 40-byte row
    text = ODD_COUNT.replace("    add %r7, 1\n", "    add %r7, 1\n    add32 %r3, 1\n")
    verified = verify(bpfjit.assemble(text), cache=False)
    assert ROW_STORE + 1 not in verified.proven     # (k may reach 64: past the row)


@pytest.mark.parametrize("mem", [b"\x01", b"\x02", bytes(range(32)), bytes(range(1, 64, 2)),
                                 bytes(range(40)), b""])
def test_the_count_on_every_engine(engine, mem):
    n = min(len(mem), 32) if len(mem) <= 32 else 0
    expected = sum(b & 1 for b in mem[:n])
    assert bpfjit.compile(bpfjit.assemble(ODD_COUNT), engine)(bytearray(mem)) == expected
