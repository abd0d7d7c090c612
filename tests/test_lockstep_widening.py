"""A pointer that moves in lockstep with a loop counter (`p = &v->items[i]`, 48-byte
items, 16 of them: loxilb's endpoint selection) is widened with the counter: its bound
is the counter's widened bound through their equality `p == 48 * i + 8`.  Widened with
the thresholds of its own register — the constants the program compares that register
with when it holds something else — it stopped at one of them, the equality pulled the
counter back below its threshold, and every trip round the loop spent a widening step
until both went to their limits: the access through the pointer stayed unproven, and
strict mode refused the program."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

VALUE_SIZE = 800
UNRELATED = (60, 100, 150, 200, 250, 300, 350, 400)


def program(unrelated=UNRELATED) -> bpfjit.Program:
    """Sum the bytes at 8 + 48 * i of map value 0, i = 0..15; r2 is compared with
    `unrelated` constants while it holds a number, before the loop."""
    guards = "".join(f"    jgt %r2, {c}, out\n" for c in unrelated)
    text = f"""
    mov %r2, 5
{guards}
    stw [%r10-4], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    mov %r1, 0
    mov %r2, %r0
    add %r2, 8
    mov %r7, 0
loop:
    ldxb %r5, [%r2+0]
    add %r7, %r5
    add %r2, 48
    add %r1, 1
    jne %r1, 16, loop
    mov %r0, %r7
    exit
out:
    mov %r0, 0
    exit
"""
    m = make_map(MapSpec("items", 2, 4, VALUE_SIZE, 1))
    m[0] = bytes(j % 251 for j in range(VALUE_SIZE))
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([m])))


@pytest.mark.parametrize("unrelated", [(), UNRELATED[:3], UNRELATED])
def test_the_pointer_follows_the_counters_widening(unrelated):
    bpfjit.verify(program(unrelated), mode="strict", cache=False)


def test_the_loop_runs_alike_on_every_engine(engine):
    fn = bpfjit.compile(program(), engine, cache=False)
    assert fn(bytes(8)) == sum((8 + 48 * i) % 251 for i in range(16))
