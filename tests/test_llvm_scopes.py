"""Alias scopes on the stack accesses the verifier proved (backends/llvmscopes.py): an
access of a subprogram's own frame lists, as `noalias`, the byte ranges it cannot touch,
so LLVM keeps a spilled value in a register across a store the verifier proved lands
elsewhere, and keeps it in memory where the ranges meet."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit

# the row's length n spilled at fp-8 and reloaded every trip; the row (64 bytes at
# fp-80) written through a pointer of its own: r0 = sum of j * 3 for j < n, n = min(len, 64)
SPILLED_LENGTH = """
    mov %r3, %r2
    jle %r3, 64, ok
    mov %r3, 64
ok:
    stxdw [%r10-8], %r3
    mov %r5, %r10
    add %r5, -80
    mov %r0, 0
    mov %r4, 0
    jeq %r3, 0, done
loop:
    mov %r1, %r4
    mul %r1, 3
    stxb [%r5+0], %r1
    ldxb %r1, [%r5+0]
    add %r0, %r1
    add %r5, 1
    add %r4, 1
    ldxdw %r3, [%r10-8]
    jgt %r3, %r4, loop
done:
    exit
"""
ROW_STORE, SLOT_LOAD = 12, 17

# a store through a pointer that may land on the slot: fp-16 or fp-8 (len & 8), over the
# 1 stored at fp-8, which is then read back: 2 where it landed there, else 1
OVERLAP = """
    stdw [%r10-8], 1
    mov %r3, %r2
    and %r3, 8
    mov %r4, %r10
    add %r4, -16
    add %r4, %r3
    stdw [%r4+0], 2
    ldxdw %r0, [%r10-8]
    exit
"""


def _ir(text: str) -> str:
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available")
    return bpfjit.compile(bpfjit.assemble(text), "llvm", keep_ir=True,
                          cache=False).extra["ir"]


def _metadata(ir: str) -> dict[str, str]:
    return dict(re.findall(r"^(![0-9]+) = (.*)$", ir, re.M))


def test_the_row_store_and_the_slot_reload_miss_each_other():
    ir = _ir(SPILLED_LENGTH)
    nodes = _metadata(ir)
    # the two byte ranges of the loop's accesses: the slot [-8, 0) and the row [-80, -16)
    scopes = {name: text for name, text in nodes.items() if '"bpfjit.frame.0.' in text}
    assert {re.search(r'frame\.0\.(-?\d+)\.(-?\d+)', t).groups()
            for t in scopes.values()} == {("-80", "-16"), ("-8", "0")}
    row = next(n for n, t in scopes.items() if '.-80.-16"' in t)
    slot = next(n for n, t in scopes.items() if '.-8.0"' in t)
    tagged = [line for line in ir.splitlines() if "!noalias" in line]
    loads = [line for line in tagged if "load i64" in line]
    stores = [line for line in tagged if "store i8" in line]
    assert loads and stores
    for line in loads:          # the slot's reload misses the row
        listed = nodes[re.search(r"!noalias (![0-9]+)", line).group(1)]
        assert row in re.findall(r"![0-9]+", listed)
    for line in stores:         # the row's store misses the slot
        listed = nodes[re.search(r"!noalias (![0-9]+)", line).group(1)]
        assert slot in re.findall(r"![0-9]+", listed)


@pytest.mark.parametrize("length", [0, 1, 5, 64, 100])
def test_the_row_sums_alike_on_every_engine(engine, length):
    n = min(length, 64)
    expected = sum((3 * j) & 0xFF for j in range(n))
    fn = bpfjit.compile(bpfjit.assemble(SPILLED_LENGTH), engine, cache=False)
    assert fn(bytes(length)) == expected


def test_ranges_that_meet_claim_nothing():
    # the pointer's store may cover [-16, 0), the slot's [-8, 0): no access is told it
    # misses the other (the slot's first store and its reload share its range)
    assert "!noalias" not in _ir(OVERLAP)


@pytest.mark.parametrize("length", [0, 7, 8, 9, 24])
def test_a_store_that_may_land_on_the_slot_is_read_back_on_every_engine(engine, length):
    fn = bpfjit.compile(bpfjit.assemble(OVERLAP), engine, cache=False)
    assert fn(bytes(length)) == (2 if length & 8 else 1)


def row_walk(size: int, count_mask: int, factor: int, row: int = 64) -> str:
    """A row of `row` bytes at fp-312 below its loop's trip count, spilled at fp-248
    and reloaded every trip (StepBound; the scopes of the row, the slot and the sum's
    slot at fp-8): element j = j * factor stored and read back, summed in that slot.  A count past the row's end stores over the count itself, which the reload
    must then see."""
    suffix = {1: "b", 2: "h", 4: "w", 8: "dw"}[size]
    return f"""
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r3, [%r1+0]
    and %r3, {count_mask}
    add %r3, 1
    stxdw [%r10-248], %r3
    stdw [%r10-8], 0
    mov %r4, %r10
    add %r4, -{248 + row}
    mov %r9, 0
loop:
    mov %r5, %r9
    mul %r5, {factor}
    stx{suffix} [%r4+0], %r5
    ldx{suffix} %r5, [%r4+0]
    ldxdw %r0, [%r10-8]
    add %r0, %r5
    stxdw [%r10-8], %r0
    add %r4, {size}
    add %r9, 1
    ldxdw %r3, [%r10-248]
    jgt %r3, %r9, loop
out:
    exit
"""


def row_walk_model(size: int, count_mask: int, factor: int, first: int):
    """The walk run by hand on a model of the frame (frame[k] is fp-312+k): the sum,
    or ("trap", 12) where a store would pass the frame's top (a count stored over
    grows the walk until then)."""
    frame = bytearray(312)                     # the count at 64 (fp-248), the sum at 304
    frame[64:72] = ((first & count_mask) + 1).to_bytes(8, "little")
    j, at = 0, 0
    while True:
        if at + size > len(frame):
            return ("trap", 12)
        value = (j * factor) & ((1 << 8 * size) - 1)
        frame[at:at + size] = value.to_bytes(size, "little")
        total = int.from_bytes(frame[304:312], "little") + \
            int.from_bytes(frame[at:at + size], "little")
        frame[304:312] = (total & (2**64 - 1)).to_bytes(8, "little")
        at, j = at + size, j + 1
        if not int.from_bytes(frame[64:72], "little") > j:
            return total & (2**64 - 1)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.sampled_from([1, 2, 4, 8]), over=st.booleans(),
       factor=st.sampled_from([1, 3, 255, 65537, -1]), first=st.integers(0, 255))
def test_row_walks_agree_with_a_model_on_every_engine(engine, size, over, factor, first):
    # the count fits the row, or (over) runs up to two elements into the count's slot
    fits = 64 // size
    mask = (fits + 2 if size >= 4 else fits) - 1 if over else fits - 1
    if over and size < 4:
        return                                   # (a 1- or 2-byte row cannot reach it)
    fn = bpfjit.compile(bpfjit.assemble(row_walk(size, mask, factor)), engine, cache=False)
    try:
        outcome = fn(bytes([first]))
    except bpfjit.MemoryAccessError as exc:
        outcome = ("trap", exc.pc)
    assert outcome == row_walk_model(size, mask, factor, first)
