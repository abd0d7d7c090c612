"""What the zone's floors and ceilings (bpfjit.verifier.zone) say of a sum about to be
made, `dst += src`: its least and its greatest value (bpfjit.verifier.alu)."""

from __future__ import annotations

__all__ = ["sum_floor", "sum_ceiling"]


def sum_floor(zone, dst: int, src: int) -> int | None:
    """Before `dst += src`: the least value the sum is known to have, from a floor
    y + z >= f with dst >= y - e and src >= z - d in the zone (y, z may be dst, src
    themselves, or y a variable with dst == y + d): f - e - d.  The knapsack's
    `w - weight` kept as `r0 + w`, where r0 = -weight (r0 + weight >= 0) and weight <= w;
    None if none."""
    if not zone.floors or src == dst:
        return None
    found = None
    for (u, v), f in zone.floors.items():
        for y, z in ((u, v), (v, u)):
            e = 0 if y == dst else zone.bound(y, dst)
            d = 0 if z == src else zone.bound(z, src)
            if e is not None and d is not None and (found is None or f - e - d > found):
                found = f - e - d
    return found


def sum_ceiling(zone, dst: int, src: int) -> int | None:
    """Before `dst += src`: the most the sum can be, from a ceiling y + z <= f with
    dst <= y + e and src <= z + d in the zone (y, z may be dst, src themselves): f + e + d
    (a copy's `n + k` with k < run and n + run <= 256); None if none."""
    if not zone.ceilings or src == dst:
        return None
    found = None
    for (u, v), f in zone.ceilings.items():
        for y, z in ((u, v), (v, u)):
            e = 0 if y == dst else zone.bound(dst, y)
            d = 0 if z == src else zone.bound(src, z)
            if e is not None and d is not None and (found is None or f + e + d < found):
                found = f + e + d
    return found
