"""Unproven accesses checked against the one region the verifier names, on every
engine alike.

An unproven access whose base points into one map's values on every run is checked
against that map's value arena alone (VerifiedProgram.map_regions), as unproven
buffer accesses are checked against the buffer: one range, and under speculation the
address poisoned on the compares' flags, with no barrier.

Before, such an access was checked against every region (the buffer, the live frames,
every map's arena) and fenced with lfence in a program with maps: a Morse decoder
reading its code tree from .rodata at an index clang had reasoned below 64 through
undefined behaviour ran 2.2x native on llvm, the fence its whole cost.  And the
engines could disagree: in the interpreter's address space map i's values start at
MAP_BASE + i * 2^32, so map 0's pointer moved by 2^32 read map 1's values there,
where the JITs, whose arenas lie elsewhere, trapped.

The same for the stack: an unproven access through a frame pointer is checked against
the live frames by the JITs; the interpreter checked it against every region, and a
frame pointer moved by MEM_BASE - STACK_TOP read the buffer there."""

from __future__ import annotations

import signal

import pytest

import bpfjit
from bpfjit.memory import MEM_BASE, STACK_TOP
from bpfjit.kernel import KernelEnv
from bpfjit.maps import ArrayMap, MapSpec, MapTable
from bpfjit.nativedis import native_listing

from test_speculation import _run_mispredicted

# r0 = byte (little-endian u64 of the buffer's first 8 bytes) of map a's value 0
INDEXED = """
    ldxdw r6, [r1+0]
    stw [r10-4], 0
    lddw r1, map_by_fd(0)
    mov r2, r10
    add r2, -4
    call 1
    jeq r0, 0, missing
    add r0, r6
    ldxb r0, [r0+0]
    exit
missing:
    mov r0, 77
    exit
"""


def program() -> bpfjit.Program:
    """INDEXED over map a (one 64-byte value holding 100..163) beside map b (one
    64-byte value of 9s)."""
    a = ArrayMap(MapSpec("a", 2, 4, 64, 1))
    a[(0).to_bytes(4, "little")] = bytes(range(100, 164))
    b = ArrayMap(MapSpec("b", 2, 4, 64, 1))
    b[(0).to_bytes(4, "little")] = bytes([9] * 64)
    return bpfjit.Program(bpfjit.assemble(INDEXED).insns, env=KernelEnv(MapTable([a, b])))


def load_pc(prog: bpfjit.Program) -> int:
    (pc,) = [pc for pc, insn in prog if insn.kind is bpfjit.isa.Kind.LDX
             and insn.spec.size == 1]
    return pc


def offset(n: int) -> bytearray:
    return bytearray((n % (1 << 64)).to_bytes(8, "little"))


def test_the_verifier_names_the_one_map():
    prog = program()
    verified = bpfjit.verify(prog, cache=False)
    pc = load_pc(prog)
    assert pc not in verified.proven and verified.regions[pc] == "map"
    assert verified.map_regions == {pc: 0}


def test_a_pointer_that_may_be_either_maps_is_checked_against_every_region():
    text = INDEXED.replace("    stw [r10-4], 0\n    lddw r1, map_by_fd(0)\n",
                           "    stw [r10-4], 0\n    lddw r1, map_by_fd(0)\n"
                           "    jeq r6, 3, +2\n    lddw r1, map_by_fd(1)\n")
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=program().env)
    verified = bpfjit.verify(prog, cache=False)
    assert verified.regions[load_pc(prog)] == "map" and verified.map_regions == {}


@pytest.mark.parametrize("index, expected", [(0, 100), (5, 105), (63, 163)])
def test_inside_the_value(engine, index, expected):
    assert bpfjit.compile(program(), engine)(offset(index)) == expected


@pytest.mark.parametrize("index", [64, -1, 1 << 32, (1 << 32) + 5, -(1 << 40)])
def test_outside_the_value_traps_at_the_load(engine, index):
    # 2^32 and 2^32 + 5: map b's values, in the interpreter's address space
    prog = program()
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        bpfjit.compile(prog, engine)(offset(index))
    assert info.value.pc == load_pc(prog)


def test_the_check_has_no_barrier(engine, monkeypatch):
    if engine == "interp":
        pytest.skip("the interpreter runs no code speculatively")
    fn = bpfjit.compile(program(), engine, cache=False, line_info=True,
                        speculation="checks")
    listing = native_listing(fn.program, fn.memory.code, fn.memory.address,
                             fn.extra.get("symbols", {}), fn.extra.get("lines"))
    assert "lfence" not in listing and "cmov" in listing
    # a mispredicted check (its branch left out) reads nothing: the address is POISON
    assert _run_mispredicted(program(), engine, "checks", monkeypatch,
                             make_arg=lambda: offset(4096)) == ("signal", signal.SIGSEGV)


# r0 = the byte at r10 + (the buffer's first 8 bytes, a little-endian u64) - 8
FRAMED = """
    ldxdw r6, [r1+0]
    mov r3, r10
    add r3, r6
    ldxb r0, [r3-8]
    exit
"""


def test_a_frame_pointers_access_reads_the_frame(engine):
    prog = bpfjit.assemble(FRAMED)
    verified = bpfjit.verify(prog, cache=False)
    assert verified.regions[load_pc(prog)] == "stack"
    assert load_pc(prog) not in verified.proven
    assert bpfjit.compile(prog, engine)(offset(0)) == 0      # fp - 8: zeroed at entry


@pytest.mark.parametrize("distance", [0, 8, 16])
def test_a_frame_pointer_never_reaches_the_buffer(engine, distance):
    # fp + MEM_BASE - STACK_TOP - 8 + 8 + distance is the buffer's byte `distance` in
    # the interpreter's address space
    prog = bpfjit.assemble(FRAMED)
    mem = offset(MEM_BASE - STACK_TOP + 8 + distance) + bytearray(range(50, 90))
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        bpfjit.compile(prog, engine)(mem)
    assert info.value.pc == load_pc(prog)
