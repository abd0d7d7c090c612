"""Lookup tables in read-only data: a load from .rodata at an offset the verifier
bounds (a table indexed by a bounded number) gives the least to the greatest value the
table holds at those offsets, so an access indexed by what the table holds can be
proven.  The kernel folds only constant offsets; this follows clang's table-driven
code (an automaton's next state, a byte's class)."""

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv, MapTable
from bpfjit.maps import make_map
from bpfjit.maps.base import MapSpec

from test_verifier_soundness import assert_proofs_hold


def rodata(table: bytes):
    return make_map(MapSpec(".rodata", 2, 4, len(table), 1, initial=table, read_only=True))


def program(text: str, table: bytes) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([rodata(table)])))


# r0 = buf[table[buf[0] & 15]] on a buffer of at least `need` bytes (else 0xff)
INDEXED = """
    mov %r0, 0xff
    jlt %r2, {need}, out
    ldxb %r3, [%r1]
    and %r3, 15
    lddw %r4, map_val_by_fd(0, 0)
    add %r4, %r3
    {load} %r5, [%r4]
    {shift}
    mov %r7, %r1
    add %r7, %r5
    ldxb %r0, [%r7]
out:
    exit
"""
TABLE = bytes([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3])     # greatest: 9
LOAD_PC = 11        # the buffer's load (lddw takes two slots)


def indexed(table: bytes, need: int, signed: bool = False) -> bpfjit.Program:
    return program(INDEXED.format(need=need, load="ldxsb" if signed else "ldxb",
                                  shift=f"add %r5, {4 if signed else 0}"), table)


def expected(table: bytes, data: bytes, signed: bool = False) -> int:
    entry = table[data[0] & 15]
    if signed:
        entry = (entry - 256 if entry > 127 else entry) + 4
    return data[entry]


@pytest.mark.parametrize("signed", [False, True], ids=["ldxb", "ldxsb"])
def test_an_access_indexed_by_a_table_entry_is_proven(engine, signed):
    # ldxsb: entries -4 .. 5, then + 4: offsets 0 .. 9 as the unsigned table's
    table = TABLE if not signed else bytes((b - 4) & 0xff for b in TABLE)
    prog = indexed(table, 10, signed)
    assert LOAD_PC in bpfjit.verify(prog).proven
    fn = bpfjit.compile(indexed(table, 10, signed), engine)
    for first in range(16):
        data = bytes([first]) + bytes(range(100, 109))
        assert fn(bytearray(data)) == expected(table, data, signed)


@pytest.mark.parametrize("signed", [False, True], ids=["ldxb", "ldxsb"])
def test_the_greatest_and_least_entries_bound_the_access(engine, signed):
    # one entry past what the buffer was checked for: 10 unsigned, -5 signed
    table = bytearray(TABLE if not signed else bytes((b - 4) & 0xff for b in TABLE))
    table[13] = 10 if not signed else (-5) & 0xff
    prog = indexed(bytes(table), 10, signed)
    assert LOAD_PC not in bpfjit.verify(prog).proven
    fn = bpfjit.compile(indexed(bytes(table), 10, signed), engine)
    data = bytes([13]) + bytes(range(100, 109))
    with pytest.raises(bpfjit.MemoryAccessError):   # offset 10 of 10 bytes, or -1
        fn(bytearray(data))
    if not signed:
        assert fn(bytearray(data + b"!")) == ord("!")


# r0 = the 16-bit number at any byte offset 0 .. 3 of the table, as an index
UNALIGNED = """
    mov %r0, 0xffff
    jlt %r2, {need}, out
    ldxb %r3, [%r1]
    and %r3, 3
    lddw %r4, map_val_by_fd(0, 0)
    add %r4, %r3
    ldxh %r5, [%r4]
    mov %r7, %r1
    add %r7, %r5
    ldxb %r0, [%r7]
out:
    exit
"""


def test_a_wider_load_counts_every_offset_not_only_aligned_ones():
    # u16 entries 1, 2 at offsets 0, 2; at offset 1 the load reads 0x0200 (512), at 3
    # 0x0000: the verifier knows no stride, so the access needs 512 + 1 bytes
    table = bytes([1, 0, 2, 0, 0])
    assert 10 not in bpfjit.verify(program(UNALIGNED.format(need=3), table)).proven
    assert 10 not in bpfjit.verify(program(UNALIGNED.format(need=512), table)).proven
    assert 10 in bpfjit.verify(program(UNALIGNED.format(need=513), table)).proven
    assert_proofs_hold(program(UNALIGNED.format(need=3), table),
                       [bytes([k]) + bytes(k * 300) for k in range(4)] + [b"\x01\x00\x00"])


def test_a_table_the_program_reads_is_frozen(engine):
    prog = indexed(TABLE, 10)
    bpfjit.compile(prog, engine)
    with pytest.raises(bpfjit.BpfError, match="frozen"):
        prog.maps.list[0][0] = bytes(16)


def test_proofs_on_table_lookups_hold():
    inputs = [bytes([k]) + bytes(range(20)) for k in range(256)] + [b"", b"\x05" * 9]
    for table in (TABLE, bytes([200] * 16), bytes(range(16))):
        for need in (1, 10, 16, 201):
            assert_proofs_hold(indexed(table, need), inputs)
            assert_proofs_hold(indexed(table, need, True), inputs)


# a u32 table of seven primes read at entry `(buf[0] % 7) * 4`: the offset is a
# multiple of 4, so the loads are of whole entries (at most 61), not of the words across
# two entries (0x3d000000 at offset 1 of the last); the entry then indexes the buffer,
# checked for 62 bytes.  r0 = buf[prime].  (corpus/plain's portname reads its u16 table
# of well-known ports so.)
PRIMES = (7, 13, 17, 31, 37, 53, 61)
WORDS = b"".join(p.to_bytes(4, "little") for p in PRIMES)
STEPPED = """
    mov %r0, 0
    jlt %r2, 62, out
    ldxb %r5, [%r1]
    mod %r5, 7
    lsh %r5, 2
    lddw %r4, map_val_by_fd(0, 0)
    add %r4, %r5
    ldxw %r4, [%r4]
    add %r1, %r4
    ldxb %r0, [%r1]
out:
    exit
"""
STEPPED_READ = 10


def test_a_table_read_at_a_stepped_offset_reads_whole_entries():
    prog = program(STEPPED, WORDS)
    assert STEPPED_READ in bpfjit.verify(prog, cache=False).proven


# clang -Os's `for (i = 0; i < 7; i++) if (primes[i] <= buf[0]) size = primes[i];`: size
# (r3) is a running pick of loaded entries, which the loop's head joins rather than
# widens (bpfjit.verifier.loadedcopies): at most 61, so buf[size] is proven for a
# buffer checked for 62 bytes (widened, size had gone to 255 + 7 through its relation
# with the byte it is compared with).  r0 = buf[size], 7 when no prime is small enough.
PICKED = """
    mov %r0, 0
    jlt %r2, 62, out
    ldxb %r2, [%r1]
    mov %r3, 7
    mov %r5, 0
scan:
    lddw %r4, map_val_by_fd(0, 0)
    add %r4, %r5
    ldxw %r4, [%r4]
    jgt %r4, %r2, next
    mov %r3, %r4
next:
    add %r5, 4
    jne %r5, 28, scan
    add %r1, %r3
    ldxb %r0, [%r1]
out:
    exit
"""
PICKED_READ = 14


def test_a_running_pick_of_table_entries_is_bounded_by_the_table():
    verified = bpfjit.verify(program(PICKED, WORDS), cache=False)
    assert verified.accesses and verified.proven == set(verified.accesses)
    assert PICKED_READ in verified.proven


@pytest.mark.parametrize("text, entry", [
    (STEPPED, lambda first: PRIMES[first % 7]),
    (PICKED, lambda first: max([p for p in PRIMES if p <= first], default=7)),
], ids=["stepped", "picked"])
def test_the_table_programs_run_alike_on_every_engine(engine, text, entry):
    fn = bpfjit.compile(program(text, WORDS), engine)
    for first in (0, 6, 7, 12, 13, 40, 60, 61, 200, 255):
        data = bytes([first]) + bytes(range(1, 62))
        assert fn(bytearray(data)) == data[entry(first)]
