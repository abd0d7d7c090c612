"""Sums that every path into a loop head satisfies, though no path recorded them: `y ==
a + b + k` (zone.plus) where on one path b was a constant and y a copy of a.

Shell sort's inner index starts at `i = gap` and `i - gap = 0`; both step by one, so
`i == gap + (i - gap)` on every trip, and `i < n` then bounds `gap + (i - gap)` — what
`a[j - gap]` with `j <= i` needs.  Entering, the sum is a constant and a copy
(bpfjit.verifier.joins finds it where the paths meet, as it finds differences)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import SCALAR

if TYPE_CHECKING:
    from .state import State

__all__ = ["plus_from_points"]


def _sum_constant(st: "State", y: int, a: int, b: int) -> int | None:
    """k with y == a + b + k on the path `st`: its recorded sum, three constants, or a
    constant b (or a) with y an exact offset of the other; None if the path shows none."""
    fact = st.zone.plus.get(y) if st.zone.plus else None
    if fact is not None and {fact[0], fact[1]} == {a, b}:
        return fact[2]
    ys, xs, cs = st.regs[y], st.regs[a], st.regs[b]
    if ys.is_const and xs.is_const and cs.is_const:
        return ys.smin - xs.smin - cs.smin
    for x, c in ((a, b), (b, a)):
        v = st.regs[c]
        if v.is_const and not st.regs[x].is_const:
            d = st.zone.bound(y, x)
            if d is not None and st.zone.bound(x, y) == -d:
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
        if st.regs[y].is_const:
            continue
        for a, d in st.zone.offsets(y):
            if a in numbers and not st.regs[a].is_const:
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
