"""Zone variables: how registers, the buffer's length, the metadata's start, spilled
slots (in this frame and callers') and loop-head ghosts are numbered
(bpfjit.verifier.state, .zone), and the byte masks of a frame."""

from __future__ import annotations

from ..isa import STACK_SIZE

__all__ = ["LEN", "META", "META_FLOOR", "SLOT_BASE", "GHOST", "COPY_LINKS", "FULL_FRAME",
           "slot_var", "slot_offset", "outer_slot", "slot_depth", "frame_bits", "byte_runs"]

LEN = 11
META = 12
# the metadata starts at most this many bytes before the packet (in the headroom)
META_FLOOR = -256
SLOT_BASE = 5000   # slot keys reach down to -MAX_CALL_DEPTH * STACK_SIZE: variables >= 904
GHOST = 10000       # GHOST + v: the value v had at a loop head (termination proofs only)
# the links State.link_copy makes: COPY_LINKS - v, v the variable copied (joins link
# with -1 - v, bpfjit.verifier.joins._link_copies; lookups with their pc + 1)
COPY_LINKS = -(1 << 20)
FULL_FRAME = (1 << STACK_SIZE) - 1


def slot_var(offset: int) -> int:
    return SLOT_BASE + offset


def slot_offset(var: int) -> int:
    return var - SLOT_BASE


def outer_slot(depth: int, offset: int) -> int:
    """The key of the slot at `offset` in the depth-th caller's frame (0: the current
    frame, whose keys are its offsets): the frames lie one under another."""
    return offset - depth * STACK_SIZE


def slot_depth(key: int) -> int:
    """The frame a slot key is in (0: the current one, k: the k-th caller's)."""
    return (-key - 1) // STACK_SIZE


def frame_bits(lo: int, hi: int) -> int:
    """Mask of the frame's bytes [lo, hi) (offsets from r10, clipped to the frame)."""
    lo, hi = max(lo, -STACK_SIZE), min(hi, 0)
    if lo >= hi:
        return 0
    return ((1 << (hi - lo)) - 1) << (lo + STACK_SIZE)


def byte_runs(bits: int) -> list[tuple[int, int]]:
    """The runs of set bits of a frame mask (frame_bits' inverse), as [lo, hi) offsets
    from r10: a step per run, not per byte, since every stack write asks
    (bytecaps.forget_caps)."""
    runs = []
    while bits:
        first = (bits & -bits).bit_length() - 1
        count = ((bits >> first) & ~((bits >> first) + 1)).bit_length()
        runs.append((first - STACK_SIZE, first + count - STACK_SIZE))
        bits &= ~(((1 << count) - 1) << first)
    return runs
