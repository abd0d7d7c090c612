"""A zone seen from a callee (bpfjit.verifier.localcalls): the relations among the
variables a call passes, each under the name the callee knows it by."""

from __future__ import annotations

from .zone import MIRROR, Zone

__all__ = ["renamed"]


def renamed(zone: Zone, names: dict[int, int]) -> Zone:
    """The relations among the variables `names` maps, each under its new name (a
    mirror follows its variable): what a callee's entry keeps of its caller's zone,
    whose slots are the callee's caller slots.  A closed zone stays closed."""
    def new(v: int) -> int | None:
        if v >= MIRROR:
            w = names.get(v - MIRROR)
            return None if w is None else MIRROR + w
        return names.get(v)

    out = {}
    for x, row in zone.out.items():
        nx = new(x)
        if nx is not None:
            kept = {ny: c for y, c in row.items() if (ny := new(y)) is not None}
            if kept:
                out[nx] = kept
    affine = {(new(x), new(y)): f for (x, y), f in zone.affine.items()
              if new(x) is not None and new(y) is not None}
    quot = {new(x): (new(y), c, times) for x, (y, c, times) in zone.quot.items()
            if new(x) is not None and new(y) is not None}
    sums = {new(x): (new(a), new(b)) for x, (a, b) in zone.sums.items()
            if None not in (new(x), new(a), new(b))}
    shifted = {new(x): (new(y), kind, c) for x, (y, kind, c) in zone.shifted.items()
               if new(x) is not None and new(y) is not None}
    scaled = {new(y): f for y, f in zone.scaled.items() if new(y) is not None}
    halves = {new(x): (new(a), new(b), e) for x, (a, b, e) in zone.halves.items()
              if None not in (new(x), new(a), new(b))}
    floors = {(min(na, nb), max(na, nb)): c for (a, b), c in zone.floors.items()
              if (na := new(a)) is not None and (nb := new(b)) is not None}
    ceilings = {(min(na, nb), max(na, nb)): c for (a, b), c in zone.ceilings.items()
                if (na := new(a)) is not None and (nb := new(b)) is not None}
    plus = {new(x): (new(a), new(b), k) for x, (a, b, k) in zone.plus.items()
            if None not in (new(x), new(a), new(b))}
    wraps = {new(x): (new(y), k) for x, (y, k) in zone.wraps.items()
             if new(x) is not None and new(y) is not None}
    unequal = {(min(na, nb), max(na, nb)): True for (a, b) in zone.unequal
               if (na := new(a)) is not None and (nb := new(b)) is not None
               and na != nb}
    mirrored = {names[x] for x in zone.mirrored if x in names}
    # what a pointer or NULL keeps (its guards, its bound where set) and a number's
    # len floors: a struct of header pointers and flags passed by address
    guards = {(new(v), new(f)): g for (v, f), g in zone.guards.items()
              if new(v) is not None and new(f) is not None}
    ifset = {new(v): c for v, c in zone.ifset.items() if new(v) is not None}
    lenfloors = {new(f): m for f, m in zone.lenfloors.items() if new(f) is not None}
    return Zone(out, affine or None, quot or None, sums or None, mirrored or None,
                shifted or None, scaled or None, halves or None, floors or None,
                plus or None, wraps or None, guards or None, ifset or None,
                lenfloors or None, ceilings or None, unequal=unequal or None)
