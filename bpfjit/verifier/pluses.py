"""Sums that every path into a loop head satisfies, though no path recorded them: `y ==
a + b + k` (zone.plus) where on one path b was a constant and y a copy of a.

Shell sort's inner index starts at `i = gap` and `i - gap = 0`; both step by one, so
`i == gap + (i - gap)` on every trip, and `i < n` then bounds `gap + (i - gap)` — what
`a[j - gap]` with `j <= i` needs.  Entering, the sum is a constant and a copy
(bpfjit.verifier.joins finds it where the paths meet, as it finds differences).

The sum may be held in a spilled number: reversing `s[0..len)` in place, clang keeps
`len - 1 - i` (falling) and `i` (rising) in registers and len on the stack; entering,
`len == hi - 3` and `lo == 4`, so `len == hi + lo - 7` round the loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import SCALAR
from .variables import slot_var

if TYPE_CHECKING:
    from .state import State

__all__ = ["plus_from_points"]


def _sum_constant(st: "State", y: int, a: int, b: int) -> int | None:
    """k with y == a + b + k on the path `st`: its recorded sum, three constants, or a
    constant b (or a) with y an exact offset of the other; None if the path shows none."""
    fact = st.zone.plus.get(y) if st.zone.plus else None
    if fact is not None:
        # its terms, or variables the path shows equal to them up to a constant
        moved = st.zone.terms_offset(a, b, fact[0], fact[1])
        if moved is not None:
            return fact[2] - moved
    ys, xs, cs = st.value_of(y), st.value_of(a), st.value_of(b)
    if ys is None or xs is None or cs is None:
        return None
    if ys.is_const and xs.is_const and cs.is_const:
        return ys.smin - xs.smin - cs.smin
    for x, c in ((a, b), (b, a)):
        v, w = st.value_of(c), st.value_of(x)
        if v is not None and w is not None and v.is_const and not w.is_const:
            d = st.zone.difference(y, x)
            if d is not None:
                return d - v.smin
    return None


def _candidates(st: "State", numbers: list[int], regs: list[int]):
    """(y, a, b, k) with y == a + b + k on the path `st`, b among `regs`: its recorded
    sums, and each constant b with a copy y == a + d of a number a."""
    for y, (a, b, k) in (st.zone.plus or {}).items():
        if y in numbers and a in numbers and b in numbers:
            if b in regs:
                yield y, a, b, k
            if a in regs:
                yield y, b, a, k
    consts = [b for b in regs if st.regs[b].is_const]
    if not consts:
        return
    for y in numbers:
        value = st.value_of(y)
        if value is None or value.is_const:
            continue
        for a, d in st.zone.offsets(y):
            if a in numbers and a < 10 and not st.regs[a].is_const:
                for b in consts:
                    if b != y and b != a:
                        yield y, a, b, d - st.regs[b].smin


def plus_from_points(result: "State", states: list["State"]) -> None:
    """Record in `result` (the join of `states`) each sum y == a + b + k that holds on
    every path with the same k: b a register whose value differs between the paths, y and
    a numbers in the result; one sum per y, a recorded one kept."""
    zone = result.zone
    numbers = [r for r, v in enumerate(result.regs[:10]) if v.kind == SCALAR and not v.fixed]
    regs = [r for r in numbers if any(st.regs[r] != states[0].regs[r] for st in states[1:])]
    # a spilled number may hold the sum too (a length kept on the stack: `str[len - 1 -
    # i]` walked by two counters, one up, one down)
    numbers += [slot_var(off) for off, v in result.spills.items()
                if v.kind == SCALAR and not v.fixed and off not in result.narrow]
    if not regs:
        return
    tried = set()
    for st in states:
        for y, a, b, k in _candidates(st, numbers, regs):
            if (zone.plus and y in zone.plus) or (y, a, b) in tried:
                continue
            tried.add((y, a, b))
            if all(other is st or _sum_constant(other, y, a, b) == k for other in states):
                zone.plus[y] = (a, b, k)
