"""bpf_csum_diff (28) as kernels since 6.13 compute it, alike on every architecture.

The kernel's csum_partial on x86-64 sums the buffer as little-endian words with
end-around carry (the tail zero-padded) onto the 32-bit seed: 0 only when the seed and
every byte are 0, else the sum modulo 2^32 - 1 with 0 written 0xffffffff.  bpf_csum_diff
then folds its 32-bit result to 16 bits (csum_from32to16), so programs see the same
value on every architecture.
"""

from __future__ import annotations

import random
import struct

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable


def _xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")


def _partial(data: bytes, seed: int) -> int:
    data += bytes(-len(data) % 4)
    total = seed + sum(struct.unpack(f"<{len(data) // 4}I", data))
    if total == 0:
        return 0
    return total % 0xFFFFFFFF or 0xFFFFFFFF


def _to16(total: int) -> int:
    total = (total + ((total >> 16 | total << 16) & 0xFFFFFFFF)) & 0xFFFFFFFF
    return total >> 16


def _expected_diff(old: bytes, new: bytes, seed: int) -> int:
    if old and new:
        a, b = _partial(new, seed), ~_partial(old, 0) & 0xFFFFFFFF
        total = a + b
        return _to16((total & 0xFFFFFFFF) + (total >> 32))
    if new:
        return _to16(_partial(new, seed))
    if old:
        return _to16(~_partial(old, ~seed & 0xFFFFFFFF) & 0xFFFFFFFF)
    return _to16(seed)


@pytest.mark.parametrize("from_size, to_size, seed", [
    (0, 4, 0), (4, 0, 0), (4, 4, 0), (0, 0, 0x12345678), (0, 0, 0xFFFFF), (6, 0, 0),
    (0, 6, 0), (0, 3, 0), (600, 0, 0), (4, 8, 0x1234), (8, 4, 0xFFFF0000), (0, 516, 7),
    (20, 20, 0)])
def test_csum_diff_folds_to_16_bits_as_the_kernel_does(engine, from_size, to_size, seed):
    # from = the packet's first bytes, to = the bytes from offset 600
    prog = _xdp(f"""
        ldxw %r7, [%r1+4]
        ldxw %r6, [%r1+0]
        mov %r2, %r6
        add %r2, 1200
        jgt %r2, %r7, short
        mov %r1, {"%r6" if from_size else 0}
        mov %r2, {from_size}
        mov %r3, {"%r6" if to_size else 0}
        add %r3, {600 if to_size else 0}
        mov %r4, {to_size}
        lddw %r5, {seed}
        call 28
        exit
    short:
        mov %r0, 1
        exit
    """)
    rng = random.Random(from_size * 1000 + to_size)
    packet = bytes(rng.randrange(256) for _ in range(1200))
    if from_size == 20 == to_size:
        packet = bytes(20) + packet[20:600] + bytes(20) + packet[620:]   # all zero: 0
    expected = _expected_diff(packet[:from_size], packet[600:600 + to_size], seed)
    assert bpfjit.compile(prog, engine)(packet) == expected
