"""Affine bands: x - k*y in [lo, hi] (|k| >= 2) between two registers that move in
lockstep, x by k each time y moves by one, from a start that differs between paths.

An affine equality (bpfjit.verifier.zone) needs one start: `p == 2*j + base` with a
constant base.  A textbook dynamic programme keeps two rows on the stack and swaps
them by pointer after each row, so an inner loop's row pointer starts at one of two
addresses (`cur = row0` or `row1`, alternately) while its index starts at 0; the
pointer is 2*j plus fp-164 on one row and fp-82 on the next.  No equality holds on
both, and without one the pointer's widened offset ran past the frame: every store
through it was left to a run-time check, which may land anywhere in the frame, so
every spill was forgotten (the rows' own pointers among them), and with them the
proofs of the row accesses.  A band keeps what holds on both: `p - 2*j` in [-162, -80],
which bounds p by j's exit test.

Bands are kept for registers only, in `Zone.bands`: (x, y) -> (k, lo, hi), x and y
numbers or pointers' offsets.  A join makes one where every path gives the pair's range
(its band, its affine equality, or its intervals where y or x is a constant: a loop's
entry) and the hull is narrower than 2^31 and not a single point (an equality, which
the affine equalities keep).  The other way round, a counter stepping by 2 for every
byte a pointer moves from a row's start (clang -Os: an s16 row filled from the buffer)
keeps `counter - 2*pointer` in a band.  A loop
head's widening keeps a band only if what comes round the loop lies in the old band,
so it can grow only by the loop's entry, which its enclosing loop's widening bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import BIG, MAX_LEN, MEM, MEM_OR_NULL, MIXED, NUMERIC, SCALAR, Value, replace, scalar

if TYPE_CHECKING:
    from .state import State

__all__ = ["band_range", "join_bands", "apply_bands", "follow_bands", "narrow_line",
           "followed", "forget_bands", "assign_bands", "shift_bands"]

Band = tuple[int, int, int]           # (k, lo, hi): x - k*y in [lo, hi]
_WIDEST = 1 << 31                     # a wider band says nothing worth keeping
# what a band may relate: a number or a pointer's offset (not MIXED's raw value)
_OFFSETS = NUMERIC - {MIXED}


def band_range(st: "State", x: int, y: int, k: int) -> tuple[int, int] | None:
    """The range of x - k*y on one path: its band, its equality x == k*y + c, or its
    intervals when one of the two is a constant; None if none of these bounds it."""
    band = st.zone.bands.get((x, y)) if st.zone.bands else None
    if band is not None and band[0] == k:
        return band[1], band[2]
    eq = st.zone.affine.get((x, y)) if st.zone.affine else None
    if eq is not None and eq[0] == k:
        return eq[1], eq[1]
    vx, vy = st.regs[x], st.regs[y]
    if vy.kind not in _OFFSETS or vx.kind not in _OFFSETS:
        return None
    if not (-BIG < vx.smin <= vx.smax < BIG and -BIG < vy.smin <= vy.smax < BIG):
        return None
    if not (vy.fixed or vx.fixed):
        return None
    least, most = sorted((k * vy.smin, k * vy.smax))
    return vx.smin - most, vx.smax - least


def join_bands(joined: "State", states: list["State"], widening: bool, discover: bool,
               around: "State | None" = None) -> None:
    """The bands of a state joined from `states` (at a widening: [old, new], with
    `around` the states coming round the loop); with `discover` (a loop head), also
    the pairs whose intervals step in lockstep (`_lockstep_pairs`)."""
    pairs: dict[tuple[int, int], int] = _lockstep_pairs(states) if discover else {}
    for st in states:
        for (x, y), (k, _, _) in st.zone.bands.items():
            pairs.setdefault((x, y), k)
        for (x, y), (k, _) in st.zone.affine.items():
            if x < 10 and y < 10 and abs(k) >= 2:
                pairs.setdefault((x, y), k)
    bands = {}
    for (x, y), k in pairs.items():
        if (x, y) in joined.zone.affine or not _same_kinds(joined, states, x, y):
            continue
        lo = hi = None
        for st in states:
            r = band_range(st, x, y, k)
            if r is None:
                break
            lo = r[0] if lo is None else min(lo, r[0])
            hi = r[1] if hi is None else max(hi, r[1])
        else:
            if lo is None or lo == hi or hi - lo >= _WIDEST:
                continue
            if widening and not _settled(states[0], around, x, y, k, lo, hi):
                continue
            bands[(x, y)] = (k, lo, hi)
    joined.zone.bands = bands


def _lockstep_pairs(states: list["State"]) -> dict[tuple[int, int], int]:
    """(x, y) -> k (|k| >= 2) for a register y that is a different constant on two
    paths and a register x whose interval moved by k times as much, both ends (a loop's
    entry and its first way round, a pointer entered at one of several offsets); or
    for a y not constant whose interval moved at one end only, by dy, and a pointer x
    at one offset on both paths that moved by k * dy (a counter clang runs down from n
    to 0 while a pointer steps up: entered at n in [1, 32], back at [1, 31]).  A
    proposal only: the join keeps a band where every path's range bounds it
    (band_range)."""
    a, b = states[0], states[1]
    found = {}
    for y in range(10):
        va, vb = a.regs[y], b.regs[y]
        if va.kind != SCALAR or vb.kind != SCALAR \
                or not (-BIG < va.smin <= va.smax < BIG and -BIG < vb.smin <= vb.smax < BIG):
            continue
        constant = va.fixed and vb.fixed
        if constant:
            if va.smin == vb.smin:
                continue
            dy = vb.smin - va.smin
        else:
            low, high = vb.smin - va.smin, vb.smax - va.smax
            if (low == 0) == (high == 0):
                continue            # neither end moved, or both (that is a constant's case)
            dy = low or high
        for x in range(10):
            ua, ub = a.regs[x], b.regs[x]
            if x == y or ua.kind != ub.kind or ua.kind not in _OFFSETS \
                    or not (-BIG < ua.smin <= ua.smax < BIG and -BIG < ub.smin <= ub.smax < BIG):
                continue
            if constant and (ua.fixed and ub.fixed) or not constant and not (
                    ua.fixed and ub.fixed and ua.kind != SCALAR):
                continue
            k, rest = divmod(ub.smin - ua.smin, dy)
            # (a y not constant: counting down only, k < 0; a counter counting up with a
            # pointer is an affine equality's, and bands proposed there from any number
            # whose one end moved took a run-length encoder's output pointer's bounds
            # from its run counter's, corpus rlenc)
            if rest == 0 and abs(k) >= 2 and ub.smax - ua.smax == k * dy \
                    and (constant or k < 0):
                found[(x, y)] = k
    found.update(_counted_pairs(a, b))
    return found


def _counted_pairs(a: "State", b: "State") -> dict[tuple[int, int], int]:
    """(x, y) -> k (|k| >= 2) for a register x that is a different constant on the two
    paths and a y not constant whose interval moved by the same dy at both ends, x by
    k * dy: a counter stepping by k for every step of a pointer or index entered at one
    of several values (clang -Os's `r5 += 2` for the offset of an s16 row element while
    the pointer into the buffer steps by 1 from a row's start: corpus matmul)."""
    found = {}
    for x in range(10):
        va, vb = a.regs[x], b.regs[x]
        if va.kind != SCALAR or vb.kind != SCALAR or not (va.fixed and vb.fixed) \
                or va.smin == vb.smin or not -BIG < va.smin < BIG or not -BIG < vb.smin < BIG:
            continue
        for y in range(10):
            ua, ub = a.regs[y], b.regs[y]
            if y == x or ua.kind != ub.kind or ua.kind not in _OFFSETS \
                    or ua.frame != ub.frame or ua.fixed or ub.fixed \
                    or not (-BIG < ua.smin <= ua.smax < BIG and -BIG < ub.smin <= ub.smax < BIG):
                continue
            dy = ub.smin - ua.smin
            if dy == 0 or ub.smax - ua.smax != dy:
                continue
            k, rest = divmod(vb.smin - va.smin, dy)
            if rest == 0 and abs(k) >= 2:
                found[(x, y)] = k
    return found


def _same_kinds(joined: "State", states: list["State"], x: int, y: int) -> bool:
    """Whether x and y each hold the same kind of number (and pointer frame) on every
    path: offsets of different frames are different numbers."""
    vx, vy = joined.regs[x], joined.regs[y]
    if vy.kind not in _OFFSETS or vx.kind not in _OFFSETS:
        return False
    return all(st.regs[x].kind == vx.kind and st.regs[x].frame == vx.frame
               and st.regs[y].kind == vy.kind and st.regs[y].frame == vy.frame
               for st in states)


def _settled(old: "State", around: "State | None", x: int, y: int, k: int,
             lo: int, hi: int) -> bool:
    """At a widening: whether the band may stand, because the loop itself does not
    move it (what comes round lies in the old band; without `around`, the whole new
    one must)."""
    before = band_range(old, x, y, k)
    if before is None:
        return False
    now = (lo, hi) if around is None else band_range(around, x, y, k)
    return now is not None and before[0] <= now[0] and now[1] <= before[1]


def apply_bands(st: "State", only: int | None = None) -> bool:
    """Narrow intervals through the bands (those of `only`, if given): x within
    k*y + [lo, hi], y within (x - [lo, hi]) / k; False if one becomes empty."""
    for (x, y), (k, lo, hi) in list(st.zone.bands.items()):
        if (only is None or only in (x, y)) and not narrow_line(st, x, y, k, lo, hi):
            return False
    return True


def narrow_line(st: "State", x: int, y: int, k: int, lo: int, hi: int) -> bool:
    """Narrow x and y by x - k*y in [lo, hi] (k != 0): x within k*y + [lo, hi], then y
    within (x - [lo, hi]) / k; False if one becomes empty.  A band, or an affine
    equality x == k*y + c, the band [c, c] (State._apply_affine)."""
    ylo, yhi = st.lower(y), st.upper(y)
    if ylo is not None and yhi is not None:
        least, most = sorted((k * ylo, k * yhi))
        if not st.clamp(x, least + lo, most + hi):
            return False
    xlo, xhi = st.lower(x), st.upper(x)
    if xlo is not None and xhi is not None:
        low, high = (xlo - hi, xhi - lo) if k > 0 else (xhi - lo, xlo - hi)
        if not st.clamp(y, -(-low // k), high // k):
            return False
    return True


def follow_bands(st: "State", old: "State") -> None:
    """After a widening: a widened x in a band with a counter y takes its bounds from
    y's widened ones, as `joins._follow_counters` does for an equality (on its own
    register's thresholds it would stop short, and the band would pull y back)."""
    for (x, y), (k, lo, hi) in st.zone.bands.items():
        if st.regs[x] != old.regs[x]:
            value = followed(st.regs[x], st.regs[y], k, lo, hi, old.regs[x])
            if value is not None:
                st.regs[x] = value


def followed(vx: Value, vy: Value, k: int, lo: int, hi: int,
             before: Value | None = None) -> Value | None:
    """x's value where x - k*y lies in [lo, hi] (|k| >= 2) over y's interval: a pointer or
    index stepping in lockstep with a counter y takes y's widened bounds; None where y
    is no bounded number, x no number, or the result out of range.  With `before` (x's
    value before the widening), a bound of x that did not move keeps its own value where
    it is the tighter: both hold, and only a moving bound needs y's to settle (`lo` at
    0 on every trip, with y's band from -8, had become -8)."""
    if vy.kind != SCALAR or vx.kind not in _OFFSETS \
            or not -BIG < vy.smin <= vy.smax < BIG:
        return None
    least, most = sorted((k * vy.smin, k * vy.smax))
    low, high = least + lo, most + hi
    if before is not None and before.kind == vx.kind:
        if vx.smin >= before.smin:
            low = max(low, vx.smin)
        if vx.smax <= before.smax:
            high = min(high, vx.smax)
    if not -BIG < low <= high < BIG or (vx.kind in (MEM, MEM_OR_NULL) and high > MAX_LEN):
        return None
    if vx.kind != SCALAR:
        return replace(vx, smin=low, smax=high)
    # (x's alignment holds of every value it may take: `at` stepping by 2 from 2 * n
    # stays even, and `at | 1` is `at + 1`)
    return scalar(smin=low, smax=high, align=vx.align, mod=vx.mod)


# ---- what the zone's changes do to its bands (bpfjit.verifier.zone) --------------------

def forget_bands(bands: dict[tuple[int, int], Band], x: int) -> None:
    for key in [key for key in bands if x in key]:
        del bands[key]


def assign_bands(bands: dict[tuple[int, int], Band], x: int, y: int, c: int) -> None:
    """x := y + c: x inherits y's bands (x a register)."""
    if x >= 10:
        return
    for (u, v), (k, lo, hi) in list(bands.items()):
        if u == y and v != x:
            bands[(x, v)] = (k, lo + c, hi + c)
        elif v == y and u != x:
            bands[(u, x)] = (k, lo - k * c, hi - k * c)


def shift_bands(bands: dict[tuple[int, int], Band], x: int, lo: int | None,
                hi: int | None) -> None:
    """x := x + d for some d in [lo, hi]: its bands move with it (or go, unbounded)."""
    if lo is None or hi is None:
        forget_bands(bands, x)
        return
    for (u, v), (k, a, b) in list(bands.items()):
        if u == x:
            bands[(u, v)] = (k, a + lo, b + hi)
        elif v == x:                # x - k*(y + d): less k*d, for d in [lo, hi]
            least, most = sorted((k * lo, k * hi))
            bands[(u, v)] = (k, a - most, b - least)
