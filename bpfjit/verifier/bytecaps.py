"""What the bytes of the current frame can hold: an upper bound per byte, on every path.

An array on the stack indexed by a variable (`next[s]`, `t[k].sibling`) is written and
read at offsets the verifier knows only as a range, so a spill cannot describe it; yet
what a program stores there is often a small number — an index into the same array,
which it reads back and indexes with.  `State.caps` keeps, for each byte r10-512+i of
the current frame, the largest value it may hold (a `bytes` of 512; None: nothing known
of any byte).  The entry subprogram's frame starts zeroed (every engine zeroes the
bytes a run may touch); a callee's starts unknown.  Any write the verifier follows
makes the bytes it may touch unknown (`State.write_bits`), and a store of a number then
bounds them again: exactly at a known offset, or joined with what they held at a
variable one (a checked store too, at the offsets that keep it inside the frame).  A
load of bytes no spill describes is bounded by the largest value each of its bytes may
hold at any of its offsets.
"""

from __future__ import annotations

from .domain import SCALAR, Value
from .variables import STACK_SIZE, byte_runs

__all__ = ["ZEROED", "forget_caps", "stored_caps", "store_caps", "load_bound", "join_caps",
           "widen_caps"]

ZEROED = bytes(STACK_SIZE)          # the entry frame: every byte 0
_UNKNOWN = 0xFF


def forget_caps(caps: bytes | None, bits: int) -> bytes | None:
    """`caps` with the bytes set in `bits` (bit i: byte r10-512+i) unknown."""
    if caps is None or not bits:
        return caps
    out = bytearray(caps)
    for lo, hi in byte_runs(bits):
        out[lo + STACK_SIZE:hi + STACK_SIZE] = b"\xff" * (hi - lo)
    return bytes(out)


def stored_caps(value: Value | None, size: int, fixed: bool) -> list[int]:
    """An upper bound of each of the `size` low bytes of `value` (a register or an
    immediate stored): its bytes when it is a constant, else what its maximum allows.
    A number of 4 or 8 bytes stored at a known offset is a spill, which keeps it: its
    bytes are left unknown, so that a counter kept in a slot does not make its loop run
    once more while its bytes catch up with its widened value."""
    if value is None or value.kind != SCALAR:
        return [_UNKNOWN] * size
    if value.is_const:
        return [(value.umin >> 8 * j) & 0xFF for j in range(size)]
    if fixed and size >= 4:
        return [_UNKNOWN] * size
    return [min(_UNKNOWN, value.umax >> 8 * j) for j in range(size)]


def store_caps(caps: bytes | None, before: bytes | None, lo: int, hi: int,
               stored: list[int], step: int = 1) -> bytes | None:
    """The caps after a store of bytes bounded by `stored` at an offset from r10 in
    [lo, hi] (inside the frame; every `step` bytes from lo), given `caps` (its bytes
    already made unknown) and `before` (the caps before it): at one offset the stored
    bounds, at a range of them each byte's former bound joined with the stored bytes
    that can land on it (with a step of one, the largest of them; with the element
    size, its own byte of the value)."""
    if caps is None or before is None:
        return caps
    out = bytearray(caps)
    first = lo + STACK_SIZE
    if lo == hi:
        out[first:first + len(stored)] = bytes(stored)
        return bytes(out)
    end = hi + STACK_SIZE + len(stored)
    if step == 1:
        most = max(stored)
        out[first:end] = bytes(max(b, most) for b in before[first:end])
        return bytes(out)
    if any(stored[1:]):
        # a value of more than a byte, as a count in an array grows to be, bounds each
        # of its bytes by its largest: else each would grow in turn, a count's widening
        # taking a round per byte (the other fields of a struct keep theirs)
        stored = [max(stored)] * len(stored)
    out[first:end] = before[first:end]      # (the bytes between the elements: not written)
    for at in range(first, hi + STACK_SIZE + 1, step):
        for j, b in enumerate(stored):
            if b > out[at + j]:
                out[at + j] = b
    return bytes(out)


def load_bound(caps: bytes | None, lo: int, hi: int, size: int, step: int = 1) -> int | None:
    """The largest value a `size`-byte load at an offset from r10 in [lo, hi] (inside
    the frame; every `step` bytes from lo) can read, or None when nothing bounds it
    below all ones.  With a step of the element's size, byte j of the load is byte j
    of some element: an array of small ints reads back small ints."""
    if caps is None:
        return None
    first, last = lo + STACK_SIZE, hi + STACK_SIZE
    bound = 0
    for j in range(size):
        bound |= max(caps[first + j:last + j + 1:step]) << 8 * j
    return bound if bound < (1 << 8 * size) - 1 else None


def join_caps(states) -> bytes | None:
    """The caps of a join of `states`: each byte's largest bound."""
    caps = states[0].caps
    for st in states[1:]:
        other = st.caps
        if caps is None or other is None:
            return None
        if other != caps:
            caps = bytes(map(max, caps, other))
    return caps


def widen_caps(old: bytes | None, new: bytes | None,
               thresholds: tuple[tuple[int, ...], ...],
               steps: bytearray | None = None, most_steps: int = 0) -> bytes | None:
    """The caps at a loop head that widens: a byte whose bound still grows jumps to the
    next of the loop's thresholds (a bound it compares with, or one less) that covers
    it, else to 255; so `count[i]++` settles in a few rounds, not 255.  `steps`
    counts, per byte, the thresholds it took at this head: past `most_steps` of them
    it goes to 255 (a count kept in an int array climbs the program's thresholds one
    round at a time, as a register does, and stops so too)."""
    if old is None or new is None:
        return None
    if old == new:
        return old
    limits = sorted({t - d for ts in thresholds for t in ts for d in (0, 1) if 0 <= t - d < 255}
                    | {_UNKNOWN})
    out = bytearray(old)
    for i, (a, b) in enumerate(zip(old, new)):
        if b > a:
            if steps is not None:
                steps[i] = min(steps[i] + 1, 255)
                if steps[i] > most_steps:
                    out[i] = _UNKNOWN
                    continue
            out[i] = next(t for t in limits if t >= b)
    return bytes(out)
