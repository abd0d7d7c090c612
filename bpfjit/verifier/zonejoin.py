"""Where paths meet, for zones (bpfjit.verifier.zone): the constraints every path
satisfies (`join_zones`), and the widening of an older zone by a newer one at a loop
head (`widen_zone`), with the side tables every path holds alike and the floors joined
apart."""

from __future__ import annotations

from typing import Callable

from .zone import MAX_RELATION, Bound, Zone

__all__ = ["join_zones", "widen_zone"]

# the side tables a join keeps where every path holds the same entry (all but `floors`,
# which are joined apart: the least over the paths)
_AGREED = ("affine", "quot", "sums", "shifted", "scaled", "halves", "plus", "wraps")


def join_zones(zones: list[Zone], implied: list[Callable[[int, int], Bound]],
               implied_result: Callable[[int, int], Bound],
               lowers: list[Callable[[int], Bound]] | None = None) -> Zone:
    """The constraints that hold on every path.  A pair constrained on some paths
    only is bounded on the others by their intervals (`implied[i](x, y)`: the bound
    on x - y that path i's intervals give, or None); a result no better than what
    the joined intervals imply is not stored."""
    out: dict[int, dict[int, int]] = {}
    pairs = set()
    for z in zones:
        pairs.update((x, y) for x, row in z.out.items() for y in row)
    paths = [(z.out, imp) for z, imp in zip(zones, implied)]
    for x, y in pairs:
        c = None
        for rows, imp in paths:
            row = rows.get(x)
            b = None if row is None else row.get(y)
            if b is None:
                b = imp(x, y)
                if b is None:
                    break
            if c is None or b > c:
                c = b
        else:
            if c is None or c >= MAX_RELATION:
                continue
            free = implied_result(x, y)
            if free is not None and free <= c:
                continue
            out.setdefault(x, {})[y] = c
    floors = None
    if lowers is not None and any(z.floors for z in zones):
        floors = _joined_floors(zones, lowers, widening=False)
    return _merged(zones, out, set().union(*(z.mirrored for z in zones)), floors)


def widen_zone(old: Zone, new: Zone, implied_new: Callable[[int, int], Bound],
               lowers: list[Callable[[int], Bound]] | None = None) -> Zone:
    """Constraints of `old` (the older state's) that still hold in `new`; the others
    are dropped, never loosened step by step, so that loops converge."""
    out: dict[int, dict[int, int]] = {}
    for x, row in old.out.items():
        for y, c in row.items():
            b = new.bound(x, y)
            if b is None:
                b = implied_new(x, y)
            if b is not None and b <= c:
                out.setdefault(x, {})[y] = c
    floors = None
    if lowers is not None and (old.floors or new.floors):
        floors = _joined_floors([old, new], lowers, widening=True)
    return _merged([old, new], out, old.mirrored | new.mirrored, floors)


def _merged(zones: list[Zone], out: dict, mirrored: set, floors: dict | None) -> Zone:
    """The zone of a join or widening: the differences `out`, every side table's
    entries all `zones` hold alike, and the floors joined apart."""
    zone = Zone(out, mirrored=mirrored or None, floors=floors)
    for name in _AGREED:
        agreed = _agreed([getattr(z, name) for z in zones])
        if agreed:
            setattr(zone, name, agreed)
    return zone


def _joined_floors(zones: list[Zone], lowers: list[Callable[[int], Bound]],
                   widening: bool) -> dict | None:
    """The floors a + b >= c that hold on every path: a path without one has its
    intervals' (the least a plus the least b).  Widening (zones = old, new) keeps the
    old floor only where the new one is no lower: a floor still moving is dropped."""
    out = {}
    for pair in set().union(*(z.floors for z in zones)):
        c = None
        for zone, lower in zip(zones, lowers):
            f = zone.floors.get(pair)
            if f is None:
                la, lb = lower(pair[0]), lower(pair[1])
                if la is None or lb is None:
                    break
                f = la + lb
            if c is None:
                c = f
            elif widening and f < c:
                break
            elif not widening:
                c = min(c, f)
        else:
            if c is not None:
                out[pair] = c
    return out or None


def _agreed(facts: list[dict]) -> dict | None:
    """The entries every zone's table (affine, quotient or sum facts) holds alike, in a
    table of their own; None when there are none."""
    first, rest = facts[0], facts[1:]
    if not first:
        return None
    return {k: v for k, v in first.items() if all(f.get(k) == v for f in rest)} or None
