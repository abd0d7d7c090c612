"""Where paths meet, for zones (bpfjit.verifier.zone): the constraints every path
satisfies (`join_zones`), and the widening of an older zone by a newer one at a loop
head (`widen_zone`), with the side tables every path holds alike and the floors and
ceilings joined apart."""

from __future__ import annotations

from typing import Callable

from .zone import LEN_VAR, MAX_RELATION, MIRROR, Bound, Zone

__all__ = ["join_zones", "widen_zone"]

# the side tables a join keeps where every path holds the same entry (all but `floors`
# and `ceilings`, which are joined apart: the least floor, the greatest ceiling)
_AGREED = ("affine", "quot", "sums", "shifted", "scaled", "halves", "midsums", "plus",
           "wraps", "unequal", "masked")


def join_zones(zones: list[Zone], implied: list[Callable[[int, int], Bound]],
               implied_result: Callable[[int, int], Bound],
               lowers: list[Callable[[int], Bound]] | None = None,
               uppers: list[Callable[[int], Bound]] | None = None,
               extra_pairs: list[tuple[int, int]] = ()) -> Zone:
    """The constraints that hold on every path.  A pair constrained on some paths
    only is bounded on the others by their intervals (`implied[i](x, y)`: the bound
    on x - y that path i's intervals give, or None); a result no better than what
    the joined intervals imply is not stored.  `extra_pairs` are bounded so too where
    no path constrains them (numbers each path knows exactly)."""
    out: dict[int, dict[int, int]] = {}
    pairs = set(extra_pairs)
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
            if free is not None and free <= c and c not in (-1, 0):
                # (x <= y and x < y stay: a counter below its limit, implied by the
                # intervals only while the counter is small; widen_zone keeps them)
                continue
            out.setdefault(x, {})[y] = c
    floors = ceilings = None
    if lowers is not None and any(z.floors for z in zones):
        floors = _joined_sums(zones, "floors", lowers, widening=False)
    if uppers is not None and any(z.ceilings for z in zones):
        ceilings = _joined_sums(zones, "ceilings", uppers, widening=False)
    zone = _merged(zones, out, set().union(*(z.mirrored for z in zones)), floors, ceilings,
                   lowers, uppers)
    if lowers is not None and uppers is not None and any(z.quot or z.scaled for z in zones):
        # (what every path holds alike is among them)
        zone.scaled = _joined_scaled(zones, lowers, uppers)
    return zone


def _joined_scaled(zones: list[Zone], lowers: list[Callable[[int], Bound]],
                   uppers: list[Callable[[int], Bound]]) -> dict:
    """a * y <= len + e on every path (the zone's `scaled`): a path says so by its own
    entry, by y == z // a for a z >= 0 at most len + e, or by y being a constant k >= 0
    where len >= a * k - e.  The least e all paths allow: `words = len / 4` joined with
    the constant a clamp set where `len / 4 >= 4096` (so len >= 16384)."""
    wanted = set()
    for z in zones:
        wanted.update((y, a) for y, (a, _) in z.scaled.items())
        wanted.update((y, c) for y, (_, c, times) in z.quot.items() if not times)
    joined: dict[int, tuple[int, int]] = {}
    for y, a in sorted(wanted):
        worst = None
        for z, lower, upper in zip(zones, lowers, uppers):
            e = _scaled_on(z, lower, upper, y, a)
            if e is None:
                break
            worst = e if worst is None or e > worst else worst
        else:
            if worst is not None and abs(worst) < MAX_RELATION and y not in joined:
                joined[y] = (a, worst)
    return joined


def _scaled_on(zone: Zone, lower: Callable[[int], Bound], upper: Callable[[int], Bound],
               y: int, a: int) -> Bound:
    """The least e with a * y <= len + e on one path that the path shows, or None."""
    entry = zone.scaled.get(y)
    if entry is not None and entry[0] == a:
        return entry[1]
    fact = zone.quot.get(y)
    if fact is not None and not fact[2] and fact[1] == a:
        z = fact[0]
        low = lower(z)
        if low is None or low < 0:
            return None
        return 0 if z == LEN_VAR else zone.bound(z, LEN_VAR)
    lo, hi = lower(y), upper(y)
    floor = lower(LEN_VAR)
    if lo is None or lo != hi or lo < 0 or floor is None:
        return None
    return a * lo - floor


def widen_zone(old: Zone, new: Zone, implied_new: Callable[[int, int], Bound],
               lowers: list[Callable[[int], Bound]] | None = None,
               uppers: list[Callable[[int], Bound]] | None = None,
               implied_old: Callable[[int, int], Bound] | None = None,
               around: tuple[Zone, Callable[[int], Bound]] | None = None,
               guesses: list[tuple[int, int]] = ()) -> Zone:
    """Constraints of `old` (the older state's) that still hold in `new`; the others
    are dropped, never loosened step by step, so that loops converge.  Given
    `implied_old` (old's intervals' bound on x - y), a constraint x <= y or x <= y - 1
    that `new` holds and old's intervals imply is kept too: a counter's `k < n`, which
    the zone learns only once k is no longer one constant (the first way round), when
    its range is about to be widened.  `guesses` (pairs the loop compares, one moving
    round it and one not) are tried as x <= y where both states keep that, by their
    intervals or new's zone, though neither zone says so: a depth below its top on
    entry (d in [0, 1], top in [4, 7]) that goes one deeper only while it is not the
    top is d <= top on every trip; the next widening drops it if the way round does
    not keep it.  A ceiling a + b <= c that grew is joined where
    what comes round the loop (`around`: its zone, its upper bounds) is within the old
    one: the loop is entered with more (an inner loop, as its outer loop moves on), and
    the outer loop's head bounds that; a ceiling that grows on the way round goes."""
    out: dict[int, dict[int, int]] = {}
    for x, row in old.out.items():
        for y, c in row.items():
            b = new.bound(x, y)
            if b is None:
                b = implied_new(x, y)
            if b is not None and b <= c:
                out.setdefault(x, {})[y] = c
    if implied_old is not None:
        for x, row in new.out.items():
            for y, b in row.items():
                if b in (-1, 0) and old.bound(x, y) is None and x < MIRROR and y < MIRROR:
                    i = implied_old(x, y)
                    if i is not None and i <= b:
                        out.setdefault(x, {})[y] = b
        for x, y in guesses:
            had = old.bound(x, y)
            if had is not None and had <= 0 or out.get(x, {}).get(y, 1) <= 0:
                continue
            i, b, kept = implied_old(x, y), implied_new(x, y), new.bound(x, y)
            if b is None or (kept is not None and kept < b):
                b = kept
            if i is not None and b is not None and i <= 0 and b <= 0:
                out.setdefault(x, {})[y] = 0
    floors = ceilings = None
    if lowers is not None and (old.floors or new.floors):
        floors = _joined_sums([old, new], "floors", lowers, widening=True,
                              grow=implied_old is not None)
    if uppers is not None and (old.ceilings or new.ceilings):
        ceilings = _joined_sums([old, new], "ceilings", uppers, widening=True, around=around)
    return _merged([old, new], out, old.mirrored | new.mirrored, floors, ceilings,
                   lowers, uppers)


def _merged(zones: list[Zone], out: dict, mirrored: set, floors: dict | None,
            ceilings: dict | None, lowers: list[Callable[[int], Bound]] | None = None,
            uppers: list[Callable[[int], Bound]] | None = None) -> Zone:
    """The zone of a join or widening: the differences `out`, every side table's
    entries all `zones` hold alike (sign extensions also where the others imply them:
    `_implied_extensions`), and the floors and ceilings joined apart."""
    zone = Zone(out, mirrored=mirrored or None, floors=floors, ceilings=ceilings)
    for name in _AGREED:
        agreed = _agreed([getattr(z, name) for z in zones])
        if agreed:
            setattr(zone, name, agreed)
    if lowers is not None and uppers is not None and any(z.shifted for z in zones):
        implied = _implied_extensions(zones, lowers, uppers)
        if implied:
            zone.shifted = {**zone.shifted, **implied}
    return zone


def _implied_extensions(zones: list[Zone], lowers: list[Callable[[int], Bound]],
                        uppers: list[Callable[[int], Bound]]) -> dict:
    """x == sext32(y) (`zone.shifted`) that some paths hold and every other one implies
    by x == y with x in [0, 2^31), where the extension changes nothing.  A test of `(int)
    len` that resolves the extension into x == len on its way round a loop (branches:
    a sign-extended copy not negative) met, at the loop's head, the entry that still
    held the extension, and both were lost: every later test of the loop's counter
    against x bounded it by nothing (`for (int i = 0; i < 64; i++) ... i < (int)len ?
    mem[i] : 0`)."""
    held = {}
    for z in zones:
        for x, link in z.shifted.items():
            if link[1] == "sext" and link[2] == 0:
                held.setdefault(x, link)
    found = {}
    for x, link in held.items():
        y = link[0]
        for z, lower, upper in zip(zones, lowers, uppers):
            if z.shifted.get(x) == link:
                continue
            lo, hi = lower(x), upper(x)
            if z.bound(x, y) != 0 or z.bound(y, x) != 0 or lo is None or lo < 0 \
                    or hi is None or hi >= 1 << 31:
                break
        else:
            found[x] = link
    return found


def _joined_sums(zones: list[Zone], name: str, bounds: list[Callable[[int], Bound]],
                 widening: bool, around: tuple[Zone, Callable[[int], Bound]] | None = None,
                 grow: bool = False) -> dict | None:
    """The floors a + b >= c (`name` "floors", `bounds` the paths' lower bounds) or the
    ceilings a + b <= c ("ceilings", upper bounds) that hold on every path: a path
    without one has its intervals' (the least a plus the least b, or the greatest).
    Widening (zones = old, new) keeps the old one only where the new one is no looser:
    one still moving is dropped.  With `grow`, a widening also takes a new floor that
    the old state's intervals imply (`b + a >= 0`, learned from a loop's exit test on
    the way round, where the entry had a = 0 and b >= 0)."""
    looser = min if name == "floors" else max
    out = {}
    # widening adds nothing the old zone lacked once relations are no longer discovered
    # (`grow` false: a loop head's later visits, and always for ceilings): one held on
    # alternate rounds comes and goes for ever (a floor a + b >= 0 that a loop's body
    # weakens to -1, below what the intervals imply, and the next join makes 0 again
    # from them: a Horspool search's inner loop ran 400,000 instruction visits); a join
    # takes what any path has, the others' intervals bounding it
    pairs = getattr(zones[0], name) if widening and not grow \
        else set().union(*(getattr(z, name) for z in zones))
    for pair in pairs:
        c = None
        for zone, bound in zip(zones, bounds):
            f = _path_sum(getattr(zone, name), bound, pair)
            if f is None:
                break
            if c is None:
                c = f
            elif widening and looser(f, c) != c:
                if around is None or name != "ceilings" or not _within(around, pair, c):
                    break
                c = f
            elif not widening:
                c = looser(c, f)
        else:
            if c is not None:
                out[pair] = c
    return out or None


def _path_sum(table: dict, bound: Callable[[int], Bound], pair: tuple[int, int]) -> Bound:
    """What one path says of a + b: its floor or ceiling `table`'s entry, else its
    intervals' (`bound`: the least or the greatest value of a variable); None if
    neither."""
    f = table.get(pair) if table else None
    if f is None:
        a, b = bound(pair[0]), bound(pair[1])
        f = None if a is None or b is None else a + b
    return f


def _within(around: tuple[Zone, Callable[[int], Bound]], pair: tuple[int, int],
            c: int) -> bool:
    """Whether what comes round the loop keeps a + b <= c (its ceiling, else its
    intervals)."""
    f = _path_sum(around[0].ceilings, around[1], pair)
    return f is not None and f <= c


def _agreed(facts: list[dict]) -> dict | None:
    """The entries every zone's table (affine, quotient or sum facts) holds alike, in a
    table of their own; None when there are none."""
    first, rest = facts[0], facts[1:]
    if not first:
        return None
    return {k: v for k, v in first.items() if all(f.get(k) == v for f in rest)} or None
