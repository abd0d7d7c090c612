"""corpus/plain/insert.c as clang 14 -O2 -mcpu=v2 writes it: the table's count n is
tested through zero-extended copies against 24, and its loop head also sees it
compared with 1, 2 and 3.  Widening walked n up through the thresholds 1, 2, 3, 22
and 23 and, its four steps spent, went to the limit one step short of 24, so every
access to the table by n or by the search's index was unproven (12 of them).  A head
now takes six threshold steps before its limit.  Checked on every engine against the
table written again in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# bpfjit disasm of the -mcpu=v2 object (r1 = mem, r2 = len; r0 = a hash of the table)
PROGRAM = """
    mov %r7, %r1
    mov %r0, 0
    jlt %r2, 2, +138
    stxdw [%r10-120], %r2
    mov %r6, 0
    mov %r3, 2
    lddw %r5, 0xfffffffe
    mov %r4, 0
    stxdw [%r10-112], %r7
    stxdw [%r10-104], %r3
    mov %r2, %r7
    add %r2, %r4
    or %r4, 1
    add %r7, %r4
    ldxb %r4, [%r2]
    ldxb %r2, [%r7]
    lsh %r2, 8
    or %r2, %r4
    mov %r1, %r6
    mov %r3, %r6
    lsh %r3, 32
    rsh %r3, 32
    mov %r8, 0
    jeq %r3, 0, +11
    mov %r7, 0
    mov %r4, %r1
    ja +29
    mov %r0, %r4
    lsh %r0, 32
    rsh %r0, 32
    mov %r6, %r8
    lsh %r6, 32
    rsh %r6, 32
    mov %r7, %r8
    jlt %r6, %r0, +21
    mov %r4, %r8
    lsh %r4, 32
    rsh %r4, 32
    jge %r4, %r3, +36
    lsh %r4, 2
    mov %r3, %r10
    add %r3, -96
    add %r3, %r4
    ldxh %r3, [%r3]
    mov %r0, %r2
    and %r0, 0xffff
    jne %r3, %r0, +28
    mov %r2, %r10
    add %r2, -96
    add %r2, %r4
    ldxh %r3, [%r2+2]
    add %r3, 1
    stxh [%r2+2], %r3
    mov %r6, %r1
    ldxdw %r7, [%r10-112]
    ja +45
    mov %r9, %r4
    add %r9, %r7
    and %r9, %r5
    rsh %r9, 1
    mov %r0, %r9
    lsh %r0, 2
    mov %r6, %r10
    add %r6, -96
    add %r6, %r0
    ldxh %r0, [%r6]
    mov %r6, %r2
    and %r6, 0xffff
    mov %r8, %r9
    add %r8, 1
    jlt %r0, %r6, +1
    mov %r8, %r7
    jlt %r0, %r6, -46
    mov %r4, %r9
    ja -48
    mov %r6, %r1
    mov %r3, %r6
    lsh %r3, 32
    rsh %r3, 32
    ldxdw %r7, [%r10-112]
    jne %r3, 24, +5
    mov %r6, 23
    mov %r3, %r8
    lsh %r3, 32
    rsh %r3, 32
    jgt %r3, 23, +15
    lsh %r8, 32
    mov %r3, %r8
    rsh %r3, 32
    mov %r9, %r6
    lsh %r9, 32
    rsh %r9, 32
    jgt %r9, %r3, +15
    lsh %r3, 2
    mov %r4, %r10
    add %r4, -96
    add %r4, %r3
    mov %r1, 1
    stxh [%r4+2], %r1
    stxh [%r4], %r2
    add %r6, 1
    ldxdw %r4, [%r10-104]
    jgt %r4, 0x1fff, +20
    mov %r3, %r4
    add %r3, 2
    ldxdw %r1, [%r10-120]
    jle %r3, %r1, -98
    ja +15
    mov %r3, %r9
    lsh %r3, 2
    mov %r4, %r10
    add %r4, -96
    add %r4, %r3
    mov %r3, %r8
    rsh %r3, 32
    ldxh %r0, [%r4-2]
    stxh [%r4+2], %r0
    ldxh %r0, [%r4-4]
    stxh [%r4], %r0
    add %r4, -4
    add %r9, -1
    jgt %r9, %r3, -7
    ja -30
    mov %r0, 0
    lsh %r6, 32
    rsh %r6, 32
    jeq %r6, 0, +13
    mov %r1, 0
    mov %r2, %r10
    add %r2, -94
    mov %r0, %r6
    mul %r0, 31
    ldxh %r3, [%r2-2]
    add %r0, %r3
    mul %r0, 31
    ldxh %r3, [%r2]
    add %r0, %r3
    add %r2, 4
    add %r1, 1
    jlt %r1, %r6, -9
    exit
"""


def table_hash(mem: bytes) -> int:
    """The hash corpus/plain/insert.c returns."""
    table: list[list[int]] = []
    off = 0
    while off + 2 <= len(mem) and off < 8192:
        key = mem[off] | mem[off + 1] << 8
        off += 2
        lo, hi = 0, len(table)
        while lo < hi:
            mid = (lo + hi) // 2
            if table[mid][0] < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(table) and table[lo][0] == key:
            table[lo][1] = (table[lo][1] + 1) & 0xFFFF
            continue
        if len(table) == 24:
            table.pop()
            if lo > len(table):
                continue
        table.insert(lo, [key, 1])
    h = len(table)
    for key, count in table:
        h = ((h * 31 + key) * 31 + count) & 0xFFFF_FFFF_FFFF_FFFF
    return h


def test_every_access_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    # every load and store of the text is an access (the table's, the input's, spills)
    assert len(verified.accesses) == sum("[" in line for line in PROGRAM.splitlines())
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"\x01\x02", bytes(range(60)), bytes(range(256)) * 2,
                                 bytes([5, 0, 3, 0, 5, 0, 9, 0]) * 20,
                                 bytes(range(255, -1, -1)) * 4])
def test_the_table_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == table_hash(mem)
