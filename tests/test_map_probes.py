"""A checked access whose region the verifier cannot name (a pointer that is a map value
on some paths and the stack on others) is tried against the buffer, the stack and, out
of line, every map's value arena.  peachpy tests the arenas in one routine per access
size that every such access calls; these programs reach it from several sites, with
four sizes and three maps of different value sizes, and must find what the maps hold
and trap on an access that runs past a value's end, on every engine and speculation
level.  Expected values are the bytes the test put in the maps."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

VALUE_SIZES = (16, 8, 32)
STACK_BYTES = bytes(range(0xA0, 0xB0))             # 16 bytes at r10-16


def program(size: int) -> bpfjit.Program:
    """r0 = the `size`-byte load at offset mem[1] from a value of map mem[0] (0-2) or
    from 16 bytes on the stack (3); 99 when the lookup finds nothing.  The load is
    emitted twice (two call sites of the same probe routine), the sum returned."""
    width = {1: "b", 2: "h", 4: "w", 8: "dw"}[size]
    lookups = ""
    for index in range(3):
        lookups += f"""
        jne %r6, {index}, not{index}
        lddw %r1, map_by_fd({index})
        mov %r2, %r10
        add %r2, -20
        call 1
        jeq %r0, 0, miss
        mov %r8, %r0
        ja use
    not{index}:"""
    words = struct.unpack("<2Q", STACK_BYTES)
    text = f"""
        ldxb %r6, [%r1+0]
        ldxb %r7, [%r1+1]
        stw [%r10-20], 0
        lddw %r2, {words[0]:#x}
        stxdw [%r10-16], %r2
        lddw %r2, {words[1]:#x}
        stxdw [%r10-8], %r2
        mov %r8, %r10
        add %r8, -16
        {lookups}
    use:
        add %r8, %r7
        ldx{width} %r0, [%r8+0]
        ldx{width} %r9, [%r8+0]
        add %r0, %r9
        exit
    miss:
        mov %r0, 99
        exit
    """
    maps = []
    for index, value_size in enumerate(VALUE_SIZES):
        m = make_map(MapSpec(f"m{index}", 2, 4, value_size, 1))
        m[0] = bytes((index * 64 + i) & 0xFF for i in range(value_size))
        maps.append(m)
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable(maps)))


def expected(which: int, offset: int, size: int) -> int:
    data = STACK_BYTES if which == 3 else bytes((which * 64 + i) & 0xFF
                                                for i in range(VALUE_SIZES[which]))
    return 2 * int.from_bytes(data[offset:offset + size], "little") % 2**64


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_accesses_of_unknown_region_find_every_map_value(engine, size):
    fn = bpfjit.compile(program(size), engine)
    for which, region in enumerate(VALUE_SIZES + (16,)):
        for offset in (0, region - size):
            assert fn(bytes([which, offset]) + bytes(6)) == expected(which, offset, size)


@pytest.mark.parametrize("size", [2, 4, 8])
def test_an_access_running_past_a_value_traps(engine, size):
    fn = bpfjit.compile(program(size), engine)
    for which, region in enumerate(VALUE_SIZES):
        with pytest.raises(bpfjit.MemoryAccessError):
            fn(bytes([which, region - size + 1]) + bytes(6))


@pytest.mark.parametrize("speculation", ["off", "checks", "all"])
def test_every_speculation_level_finds_them_on_peachpy(speculation):
    if "peachpy" not in bpfjit.engines():
        pytest.skip("peachpy is not available")
    fn = bpfjit.compile(program(4), "peachpy", speculation=speculation, cache=False)
    assert fn(bytes([2, 28]) + bytes(6)) == expected(2, 28, 4)
    assert fn(bytes([1, 0]) + bytes(6)) == expected(1, 0, 4)
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bytes([0, 13]) + bytes(6))
