"""Where paths meet: the join and widening of states, and what they keep besides the
intervals (relations the intervals showed on every path, affine equalities through
constant points, guards, len floors, bounds of buffer pointers), mixed into
bpfjit.verifier.state.State; `merge` joins a list of states."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import (BIG, CTX, MAX_LEN, MEM, MEM_OR_NULL, MIXED, NULLABLE, NUMERIC, SCALAR,
                     STACK, UNINIT, Value, join, low_bytes, offset_align, replace, same_region,
                     widen)
from .bands import follow_bands, followed, join_bands
from .bytecaps import join_caps, widen_caps
from .guards import GUARDED, joined_guards, joined_len_floors
from .pluses import plus_from_points
from .references import unify_refs
from .variables import GHOST, LEN, META, slot_var
from .zone import MAX_RELATION, MIRROR, Zone
from .thresholds import SLOT_LIMIT, slot_thresholds
from .zonejoin import join_zones, widen_zone

if TYPE_CHECKING:                   # (State mixes these in: bpfjit.verifier.state)
    from .state import State

__all__ = ["JoinRules", "merge", "spill_value", "joined_lock", "LOCKS_DIFFER", "len_bound_of"]


class JoinRules:
    """Mixed into State: its join and widening."""

    # ---- merging paths ---------------------------------------------------------------------

    def widen(self, new: "State", thresholds: tuple[tuple[int, ...], ...],
              around: "State | None" = None, related: bool = True,
              compared: frozenset = frozenset(), caps_limits: tuple = (),
              frame_stops: tuple[int, ...] = (), caps_steps: bytearray | None = None,
              most_caps_steps: int = 0) -> "State":
        """The old state (self) widened by a new one at a loop head: bounds still moving
        jump to the next threshold (`thresholds[r]` for register r) or their limit, and
        relations that moved are dropped.  Given `around` (the states coming round the
        loop), only values that grow on the way round are widened; a value that grows
        because the loop is entered with more (an inner loop's start, as an outer loop
        moves on) is joined: the outer loop's head widens it if needed.  Without
        `related`, a value still moving also loses every relation: two variables whose
        relation bounds each by the other (`x <= y + c`, `y <= x + d`, both growing)
        would otherwise narrow each other's widened bounds back after every widening,
        one step higher each time, and the loop would never settle.  `compared`: the
        register pairs the loop compares, where an order no path shows yet is tried
        (zonejoin.widen_zone's guesses).  `frame_stops`: where a pointer into the stack
        stops first when its lowest offset falls (thresholds.frame_bases)."""
        if self.refs or new.refs:
            old, new = unify_refs([self, new])
            if old is not self:
                return old.widen(new, thresholds, around, related, compared, caps_limits,
                                 frame_stops, caps_steps, most_caps_steps)
        if new.zone.plus:
            # what a kept sum bounds on the way round (a counter falling while its
            # partner rises) is not growth: the widening would take it for some
            new = new.copy()
            new.apply_plus_bounds()

        def moves(old: Value, back: Value | None) -> bool:
            return around is None or back is None or not _within(back, old)
        regs = [a if a is b else widen(a, b, t, frame_stops) if moves(a, c) else join(a, b)
                for a, b, t, c in zip(self.regs, new.regs, thresholds,
                                      around.regs if around is not None else self.regs)]
        narrow, differ = _joined_widths([self, new])
        slots = slot_thresholds(thresholds)
        spills = {}
        for off, v in self.spills.items():
            w = new.spills.get(off)
            if w is not None:
                back = around.spills.get(off) if around is not None else None
                if off in narrow:
                    width = narrow[off]
                    v, w = spill_value(self, off, width), spill_value(new, off, width)
                    back = None if back is None else spill_value(around, off, width)
                m = v if v is w else widen(v, w, slots.get(off, _SLOT_THRESHOLDS),
                                           frame_stops) \
                    if moves(v, back) \
                    else join(v, w)
                if m.kind != UNINIT:
                    spills[off] = m
        if related:
            _follow_counters(regs, self, new)
        result = type(self)(regs, spills, self.written | new.written,
                       widen_zone(self.zone, new.zone, new.implied, [self.lower, new.lower],
                                  [self.upper, new.upper], self.implied if related else None,
                                  (around.zone, around.upper) if around is not None else None,
                                  _orders_to_try(self, new, compared) if related else ()),
                       min(self.min_len, new.min_len), joined_lock([self, new]),
                       self.refs | new.refs, self.zeros & new.zeros,
                       {off: n for off, n in narrow.items() if off in spills},
                       self.remnants | new.remnants,
                       widen_caps(self.caps, new.caps, thresholds + caps_limits, caps_steps,
                                  most_caps_steps))
        for off in differ:
            result.zone.forget(slot_var(off))
        if not related:
            moved = [r for r in range(10) if regs[r] != self.regs[r]]
            moved += [slot_var(off) for off, v in spills.items() if v != self.spills.get(off)]
            for var in moved:
                result.zone.forget(var)
        result._settle_join([self, new], differ, discover=related, widening=True,
                            around=around)
        if result.zone.bands:
            follow_bands(result, self)
            result.reduce()
        return result

    def _settle_join(self, states: list["State"], differ: list[int], discover: bool,
                     widening: bool = False, around: "State | None" = None) -> None:
        """Finish a join: drop relations of variables whose meaning changed, keep the
        affine equalities every path satisfies, find new relations, reduce.  `differ`:
        the slots spilled at different widths on the paths (`_joined_widths`)."""
        zone = self.zone
        _link_copies(self, states)
        unstable = []
        for var in _variables(self):
            kind = _kind(self, var)
            if any(_kind(st, var) != kind for st in states) or not self.numeric(var):
                unstable.append(var)
        for var in unstable:
            # different kinds on different paths mean different numbers (an offset on
            # one, an address on another): its relations do not carry
            zone.forget(var)
        # a slot spilled at different widths on different paths is its low bytes here,
        # not the same number on each path: no equality or relation is found for it
        # from the paths' values (the whole 0x7fff on one, the byte 0 on another made
        # `slot == 32767 * r5` of two points)
        mixed = {slot_var(key) for key in differ}
        if not widening:
            for st in states:
                _keep_satisfied_affine(zone, st, states, mixed)
        else:
            # an equality the new state holds that the old one satisfied with constants
            # (a loop entered again from its enclosing loop) is kept, as a join keeps it;
            # the next way round checks it as it checks the others
            _keep_satisfied_affine(zone, states[1], states, mixed)
        if discover:
            self._relate_changed(states, widening, mixed)
        elif not widening:
            # a counter and a pointer that are constants on every path, all on one line,
            # keep that line where the paths meet (a test that made the counter 0 on one
            # path dropped its relations there: clang -O1's intervals)
            self._affine_from_points(states, [r for r, v in enumerate(self.regs[:10])
                                              if v.kind in NUMERIC and not v.fixed])
        if discover or any(st.zone.plus for st in states):
            # (also once relations are no longer discovered: a sum kept round a loop
            # is a constant and a copy again on every entry)
            plus_from_points(self, states)
        if discover or any(st.zone.bands or st.zone.affine for st in states):
            join_bands(self, states, widening, discover, around)
        self.reduce()
        self._guard(states, widening)
        self._bound_if_set(states, widening)
        if not discover:
            self._bound_packet_pointers(states)

    def _guard(self, states: list["State"], widening: bool) -> None:
        """The guards of the joined state (bpfjit.verifier.guards): pointers or NULL
        whose NULL-ness a number tells on every path."""
        pointers = [r for r, v in enumerate(self.regs) if v.kind in GUARDED]
        pointers += [slot_var(key) for key, v in self.spills.items() if v.kind in GUARDED]
        floored = any(st.min_len != self.min_len or st.zone.lenfloors for st in states)
        if not pointers and not floored:
            return
        numbers = [r for r, v in enumerate(self.regs) if v.kind == SCALAR and not v.fixed]
        numbers += [slot_var(key) for key, v in self.spills.items()
                    if v.kind == SCALAR and not v.fixed
                    and all(st.narrow.get(key, 8) == self.narrow.get(key, 8) for st in states)]
        if pointers:
            self.zone.guards = joined_guards(self, states, pointers, numbers, widening)
        if floored:
            self.zone.lenfloors = joined_len_floors(self, states, numbers, widening)

    def _bound_packet_pointers(self, states: list["State"]) -> None:
        """A buffer pointer whose offset differs between the paths (`tcp + 14` on one,
        `udp + 4` on the other, each a constant its own length check bounds) keeps the
        weakest `v - len <= c` of the paths, as a loop head's discovery would find it."""
        for var in [r for r, v in enumerate(self.regs[:10]) if v.kind == MEM and not v.fixed] \
                + [slot_var(key) for key, v in self.spills.items() if v.kind == MEM
                   and not v.fixed]:
            if self.zone.bound(var, LEN) is not None:
                continue
            bounds = []
            for st in states:
                w = st.value_of(var)
                if w is None or w.kind != MEM or w.smax >= BIG:
                    break
                bounds.append(len_bound_of(st, var, w))
            else:
                self.zone.add(var, LEN, max(bounds))

    def _bound_if_set(self, states: list["State"], widening: bool) -> None:
        """`zone.ifset` of the joined buffer pointers or NULL: the weakest `v - len <= c`
        of the paths where v is a pointer (a path where it is NULL says nothing), kept
        only if every such path has one; a widening keeps only what did not change."""
        for var in [r for r, v in enumerate(self.regs) if v.kind == MEM_OR_NULL] + \
                [slot_var(key) for key, v in self.spills.items() if v.kind == MEM_OR_NULL]:
            bounds = []
            null = self.value_of(var).frame         # NULL, or NULL moved
            for st in states:
                w = st.value_of(var)
                if w is None:
                    break
                if w.kind == SCALAR and w.is_const and w.umin == null:
                    continue
                if w.kind == MEM:
                    c = len_bound_of(st, var, w)
                else:
                    c = st.zone.ifset.get(var) if w.kind == MEM_OR_NULL else None
                if c is None:
                    break
                bounds.append(c)
            else:
                # a widening keeps a bound that did not change, or the first bound of
                # a pointer that was NULL on every way so far (one step, then stable)
                if bounds and (not widening or states[0].zone.ifset.get(var) == max(bounds)
                               or _null_before(states[0], var, null)):
                    self.zone.ifset[var] = max(bounds)
                    continue
            self.zone.ifset.pop(var, None)

    def _relate_changed(self, states: list["State"], widening: bool,
                        mixed: set[int] = frozenset()) -> None:
        """Relations that only the intervals showed on each path, but hold on all.

        A loop counter that is 0 on entry and 64 on the way back, while the bound it
        is tested against is at least 64 and 128, is `counter <= bound - 64` on both
        paths; neither zone says so, because constants are not zone variables.  Only
        variables that differ between the paths are candidates (the others keep their
        relations through the zones' join), which keeps this linear in practice."""
        # variables that vary in the result (a constant's relations are its interval)
        varying = [r for r, v in enumerate(self.regs[:10]) if v.kind in NUMERIC and not v.fixed]
        varying += [slot_var(off) for off, v in self.spills.items()
                    if v.kind in NUMERIC and not v.fixed and slot_var(off) not in mixed]
        first, rest = states[0], states[1:]
        changed = []
        for x in varying:
            was = first.value_of(x)
            for st in rest:
                now = st.value_of(x)
                if now is not was and now != was:
                    changed.append(x)
                    break
        if not changed:
            return
        self._affine_from_points(states, changed)
        # partners: variables some path already relates, and the ones that change (a
        # byte just loaded, related to nothing, would only bring noise)
        related = set(changed)
        for st in states:
            for x, row in st.zone.out.items():
                related.add(x)
                related.update(row)
        candidates = [v for v in varying if v in related] + [LEN]
        # per path: its zone's rows, and (lower, upper) of each candidate
        tables = [(st.zone.out, _bounds(st, candidates)) for st in states]
        zone, mine = self.zone, _bounds(self, candidates)
        # x - y <= c needs, on every path, an edge or both x's upper and y's lower bound
        uppers = {v for v in candidates if all(b[v][1] is not None for _, b in tables)}
        lowers = {v for v in candidates if all(b[v][0] is not None for _, b in tables)}
        edged = {(x, y) for st in states for x, row in st.zone.out.items() for y in row}
        for x in changed:
            for y in candidates:
                if y == x:
                    continue
                for u, v in ((x, y), (y, x)):
                    if not (u in uppers and v in lowers) and (u, v) not in edged:
                        continue
                    c = None
                    for rows, bounds in tables:     # _pair_bound, inlined: the hot loop
                        row = rows.get(u)
                        b = None if row is None else row.get(v)
                        hi, lo = bounds[u][1], bounds[v][0]
                        if hi is not None and lo is not None and (b is None or hi - lo < b):
                            b = hi - lo
                        if b is None:
                            c = None
                            break
                        if c is None or b > c:
                            if widening and c is not None:   # moved: not stable
                                c = None
                                break
                            c = b
                    if c is None or c >= MAX_RELATION:
                        continue
                    free = _pair_bound(zone, mine, u, v)
                    if free is None or c < free:
                        zone.add(u, v, c)
        # what remains of the buffer after a moving pointer (len - p), against the other
        # variables: a count of remaining bytes kept beside the pointer, say
        for x in changed:
            if self.value_of(x).kind != MEM:
                continue
            m = MIRROR + x
            # a pointer at a constant offset on every path (a loop's first ways round)
            # against a bounded count: `while (n >= 4) { p += 4; n -= 4; }` keeps
            # n - (len - p), where the bytes it reads end, which each path's intervals give
            fixed = all(st.value_of(x).fixed for st in states)
            for y in candidates:
                # only what every path relates to len or to len - x can gain a relation
                if y == x or y == LEN:
                    continue
                related = all(st.zone.has_edge(y, m) or st.zone.has_edge(y, LEN)
                              for st in states)
                if not related and not (fixed and _falls_as_it_rises(states, x, y)):
                    continue
                for u, v in ((y, m), (m, y)):
                    c = _weakest((st.bound(u, v) for st in states), widening)
                    if c is None or c >= MAX_RELATION:
                        continue
                    if not related:
                        # from the paths' intervals alone: kept where the joined
                        # intervals say less (relations they imply cost closure work:
                        # corpus kruskal's verification 91 -> 135 ms when all were kept)
                        free = self.bound(u, v)
                        if free is not None and free <= c:
                            continue
                    zone.add(u, v, c)
        for x in changed:
            if self.value_of(x).kind == STACK and all(st.value_of(x).fixed for st in states):
                self._stack_ceilings(states, x, candidates, widening)

    def _stack_ceilings(self, states: list["State"], x: int, candidates: list[int],
                        widening: bool) -> None:
        """A stack pointer at a constant offset on every path (a loop's first ways
        round) and a bounded count: walking a key on the stack, `while (n >= 4) { p +=
        4; n -= 4; }` keeps p + n <= c, where the key ends, as the mirror relation
        above keeps it for the packet (zone ceilings: `State.apply_sum_bounds`)."""
        for y in candidates:
            w = self.value_of(y) if y != LEN else None
            if y == x or w is None or w.kind != SCALAR:
                continue
            c = _weakest((_path_ceiling(st, x, y) for st in states), widening)
            a, b = self.upper(x), self.upper(y)
            if c is not None and abs(c) < MAX_RELATION and (a is None or b is None
                                                             or c < a + b):
                self.zone.learn_ceiling(x, y, c)

    def _affine_from_points(self, states: list["State"], changed: list[int]) -> None:
        """x == k * y + c for pairs that are constants on every path, all on one line:
        the first states of a loop counter and a pointer that move in lockstep."""
        points = {}
        for var in changed:
            values = [st.value_of(var) for st in states]
            if all(v is not None and v.fixed and v.kind == values[0].kind for v in values):
                points[var] = [v.smin for v in values]
        for x, xs in points.items():
            for y, ys in points.items():
                # the line through the first point and the first of another y (two
                # paths may bring the same point: a loop's first trip and its exit)
                other = next((i for i, yi in enumerate(ys) if yi != ys[0]), None)
                if x == y or other is None:
                    continue
                k, rest = divmod(xs[other] - xs[0], ys[other] - ys[0])
                c = xs[0] - k * ys[0]
                if rest == 0 and k not in (0, 1) and all(
                        xi == k * yi + c for xi, yi in zip(xs, ys)):
                    self.zone.add_affine(x, y, k, c)


# a slot no load tests (bpfjit.verifier.thresholds.slot_thresholds) stops at 2^32 - 1
# first: a counter kept in one and tested through a 32-bit extension of a copy (clang
# -mcpu=v1) is bounded by the test only while the extension changes nothing
_SLOT_THRESHOLDS = (SLOT_LIMIT,)


def _null_before(st: "State", var: int, null: int) -> bool:
    """Whether `var` holds NULL (or NULL moved to `null`) in `st`: no pointer yet."""
    w = st.value_of(var)
    return w is not None and w.kind == SCALAR and w.is_const and w.umin == null


def len_bound_of(st: "State", var: int, w: Value) -> int | None:
    """The least c known with var - len <= c where var holds the buffer pointer `w`: its
    bound in the zone, or its highest offset against the least len (None: neither)."""
    known = st.len_bound(var) if not w.fixed else None
    if w.smax >= BIG:
        return known
    at_least = w.smax - st.min_len
    return at_least if known is None else min(known, at_least)


def _within(inner: Value, outer: Value) -> bool:
    """Whether every value `inner` describes is one `outer` describes."""
    if inner is outer:
        return True
    if inner.kind != outer.kind:
        return outer.kind == UNINIT
    return (outer.umin <= inner.umin and inner.umax <= outer.umax and outer.smin <= inner.smin
            and inner.smax <= outer.smax and inner.frame == outer.frame
            and inner.maps | outer.maps == outer.maps
            and (offset_align(inner) >= offset_align(outer) if inner.kind == STACK
                 else inner.align >= outer.align))


def _link_copies(joined: State, states: list[State]) -> None:
    """Link the pointers or NULL of a joined state that are NULL together on every path
    (`ident`, shared by their copies, so that a NULL test of one refines all): per path,
    NULL, one link, or not NULL — for a buffer pointer, one offset or offsets the zone
    shows equal, since its copies must also stay equal.  A lookup's result kept in a
    register and spilled on one path, both 0 on another (dae's tproxy), is tested once.
    Every link is given anew at each join, from the lowest variable of its group, so no
    link made at an earlier join (a loop's last trip) survives to tie values that
    differ now."""
    found = [r for r, v in enumerate(joined.regs) if v.kind in NULLABLE]
    if joined.spills:
        found += [slot_var(key) for key, v in joined.spills.items() if v.kind in NULLABLE]
    if not found:
        return
    variables = sorted(found)
    keys = [(joined.value_of(var).kind,) + tuple(_identity(st, var, variables)
                                                   for st in states) for var in found]
    lowest: dict[tuple, int] = {}
    for var, key in zip(found, keys):
        lowest[key] = min(lowest.get(key, var), var)
    for var, key in zip(found, keys):
        joined.put(var, replace(joined.value_of(var), ident=-1 - lowest[key]))


def _identity(st: State, var: int, variables: list[int]) -> tuple:
    """What a variable holds on one path, so that variables with the same identity are
    NULL together there (and buffer pointers equal): NULL, a link, not NULL (a map
    value, a map, the context), a buffer offset, or the lowest variable the zone shows
    equal to it; else the variable itself (tied to nothing else)."""
    v = st.value_of(var)
    if v is None:
        return ("alone", var)
    if v.kind == SCALAR and v.is_const and v.umin == 0:
        return ("null",)
    if v.kind in NULLABLE and v.ident:
        return ("link", v.ident)
    if v.kind in _NOT_NULL:
        return ("not null",)
    if v.kind == MEM:
        if v.smin == v.smax:
            return ("at", v.smin)
        for w in variables:
            if w == var:
                break
            other = st.value_of(w)
            if other is not None and other.kind == MEM and \
                    st.zone.bound(var, w) == 0 and st.zone.bound(w, var) == 0:
                return ("equal", w)
        return ("equal", var)
    return ("alone", var)


# what a NULL test gives back, but a buffer pointer (whose copies must also be equal)
_NOT_NULL = frozenset(NULLABLE.values()) - {MEM}


def _kind(st: State, var: int) -> str | None:
    if var == LEN or var == META or var >= GHOST:
        return "number"
    v = st.value_of(var)
    if v is None:
        return None
    # a pointer joined with something else: its number is the raw value, as a scalar's
    return SCALAR if v.kind == MIXED else v.kind


def _bounds(st: State, variables) -> dict[int, tuple[int | None, int | None]]:
    """(lower, upper) of each variable, and of LEN, in one state."""
    out = {var: (st.lower(var), st.upper(var)) for var in variables}
    out[LEN] = (st.min_len, MAX_LEN)
    return out


def _weakest(bounds, widening: bool) -> int | None:
    """The greatest of the paths' upper `bounds` (None if a path has none); widening
    (old, new), None too where the new path's is greater: still moving."""
    c = None
    for b in bounds:
        if b is None or (widening and c is not None and b > c):
            return None
        c = b if c is None or b > c else c
    return c


def _path_ceiling(st: State, x: int, y: int) -> int | None:
    """What one path says of x + y (x a pointer at a constant offset): its ceiling, or
    the offset plus y's upper bound, the less of the two."""
    hi = st.upper(y)
    f = None if hi is None else st.value_of(x).smin + hi
    known = st.zone.ceiling(x, y)
    return known if known is not None and (f is None or known < f) else f


def _falls_as_it_rises(states: list[State], x: int, y: int) -> bool:
    """Whether number y's upper bound moves against pointer x's constant offset on
    every path after the first (a count of bytes left as the pointer walks them)."""
    first_x, first_y = states[0].value_of(x).smin, states[0].upper(y)
    if first_y is None:
        return False
    for st in states[1:]:
        hi = st.upper(y)
        if hi is None or (st.value_of(x).smin - first_x) * (hi - first_y) >= 0:
            return False
    return True


def _pair_bound(zone: Zone, bounds: dict, x: int, y: int) -> int | None:
    """The best bound on x - y from a zone and a table of intervals."""
    z = zone.bound(x, y)
    hi, lo = bounds[x][1], bounds[y][0]
    if hi is None or lo is None:
        return z
    i = hi - lo
    return i if z is None or i < z else z


def _keep_satisfied_affine(zone: Zone, a: State, states: list[State],
                           mixed: set[int] = frozenset()) -> None:
    """An equality of path a that every other path satisfies with constants holds on all
    (but not of the `mixed` slots, whose values differ in width between the paths)."""
    for (x, y), (k, c) in a.zone.affine.items():
        if (x, y) in zone.affine or x in mixed or y in mixed:
            continue
        for b in states:
            if b is a or b.zone.affine.get((x, y)) == (k, c):
                continue
            vx, vy = b.value_of(x), b.value_of(y)
            if not (vx is not None and vy is not None and vx.fixed and vy.fixed
                    and vx.smin == k * vy.smin + c and _kind(a, x) == vx.kind
                    and _kind(a, y) == vy.kind):
                break
        else:
            zone.add_affine(x, y, k, c)


def _orders_to_try(old: "State", new: "State", compared: frozenset
                   ) -> list[tuple[int, int]]:
    """The pairs of `compared` worth an order at a loop head: a number that moves round
    the loop against one that does not (a depth against its top; neither a constant)."""
    found = []
    for x, y in compared:
        if x < 10 and y < 10:
            a, b, c, d = old.regs[x], new.regs[x], old.regs[y], new.regs[y]
            if a.kind == b.kind == c.kind == d.kind == SCALAR and a != b and c == d \
                    and not b.fixed and not c.fixed:
                found.append((x, y))
                found.append((y, x))
    return found


def _follow_counters(regs: list[Value], old: "State", new: "State") -> None:
    """A widened register x equal to k*y + c (k >= 2: a pointer or index stepping in
    lockstep with a counter y, on both paths) takes its bounds from y's widened ones:
    widened with the thresholds of its own register (the constants it is compared with
    when it holds something else), x would stop short, the equality would pull y back
    below its threshold, and every trip would spend a widening step until both went to
    their limits.  Sound: x lies in k*y + c over y's widened range on either path."""
    for (x, y), (k, c) in old.zone.affine.items():
        if x >= 10 or y >= 10 or k < 2 or new.zone.affine.get((x, y)) != (k, c) \
                or regs[x] is old.regs[x]:
            continue
        value = followed(regs[x], regs[y], k, c, c, old.regs[x])
        if value is not None:
            regs[x] = value


LOCKS_DIFFER = ("differ",)     # State.lock where paths holding different locks met


def joined_lock(states: list[State]) -> tuple | None:
    """The spin lock held where `states` meet: theirs when they agree, else LOCKS_DIFFER
    (the kernel follows each path; a program whose paths meet holding different locks
    is refused at its next lock, unlock, call or exit)."""
    first = states[0].lock
    return first if all(st.lock == first for st in states[1:]) else LOCKS_DIFFER


def merge(states: list[State], discover: bool = False) -> State:
    """The state describing every path in `states` (where control flow meets); with
    `discover`, also the relations only the paths' intervals showed (loop heads)."""
    if len(states) == 1:
        return states[0]
    states = unify_refs(states)
    first = states[0]
    regs = list(first.regs)
    narrow, differ = _joined_widths(states)
    spills = dict(first.spills)
    for off, width in narrow.items():
        if off in spills:
            spills[off] = spill_value(first, off, width)
    written, min_len = first.written, first.min_len
    for st in states[1:]:
        for i, v in enumerate(st.regs):
            if regs[i] is not v:
                regs[i] = join(regs[i], v)
        for off in list(spills):
            w = st.spills.get(off)
            if w is None:
                del spills[off]
                continue
            if off in narrow:
                w = spill_value(st, off, narrow[off])
            if w is not spills[off]:
                spills[off] = join(spills[off], w)
        written |= st.written
        min_len = min(min_len, st.min_len)
    spills = {off: v for off, v in spills.items() if v.kind != UNINIT}
    zeros, remnants = first.zeros, first.remnants
    for st in states[1:]:
        zeros &= st.zeros
        remnants |= st.remnants
    result = type(first)(regs, spills, written, None, min_len, joined_lock(states),
                   frozenset().union(*(st.refs for st in states)), zeros,
                   {off: n for off, n in narrow.items() if off in spills}, remnants,
                   join_caps(states))
    result.zone = join_zones([st.zone for st in states], [st.implied_at_join for st in states],
                                result.implied, [st.lower for st in states],
                                [st.upper for st in states],
                                () if discover else _steady_pairs(states))
    for off in differ:          # (the slot's variable is its low bytes now)
        result.zone.forget(slot_var(off))
    result._settle_join(states, differ, discover)
    return result


def _steady_pairs(states: list[State]) -> list[tuple[int, int]]:
    """The pairs of registers each path knows exactly, though not alike on every path,
    whose difference is the same on every path: x == y + d where the paths meet, which
    no zone holds (a value known exactly has no relations).  Two numbers only where they
    are equal: a count k of some of n trips, 0 and 0 one way and 1 and 1 the other, is
    k == n there, and k <= n after the loop's head, which keeps it bounded (clang
    -mcpu=v3's `size += found` in corpus/plain/lis.c); any equal difference, and any
    bound of the differences, were measured too: they moved other fixpoints, and cost
    an -O1 build of corpus unescape two proofs.  Two pointers into one region at one
    offset each, at any difference: katran's QUIC parser takes `cid = quic + 1` before
    it moves to the header, on paths where the header sits at 54 or at 102 bytes;
    joined without it, the check of cid's end no longer bounded the header's pointer."""
    first, rest = states[0].regs, [st.regs for st in states[1:]]

    def exact(reg: int) -> bool:
        v = first[reg]
        if v.kind == SCALAR and v.is_const:
            return all(regs[reg].kind == SCALAR and regs[reg].is_const for regs in rest)
        return v.kind in (MEM, STACK, CTX) and v.fixed and all(
            regs[reg].fixed and same_region(v, regs[reg]) for regs in rest)

    moving = [r for r in range(10)
              if exact(r) and any(regs[r].smin != first[r].smin for regs in rest)]
    pairs = []
    for x in moving:
        for y in moving:
            d = first[x].smin - first[y].smin
            comparable = same_region(first[x], first[y]) if first[x].kind != SCALAR \
                else first[y].kind == SCALAR and d == 0
            if x != y and comparable and all(regs[x].smin - regs[y].smin == d
                                             for regs in rest):
                pairs.append((x, y))
    return pairs


def spill_value(st: State, key: int, width: int = 8) -> Value:
    """What the low `width` bytes of spilled slot `key` hold (all it holds, for its own
    width)."""
    v = st.spills[key]
    return v if st.narrow.get(key, 8) == width else low_bytes(v, width)


def _joined_widths(states: list[State]) -> tuple[dict[int, int], list[int]]:
    """Where `states` meet: the narrow spills' widths (the narrowest of the paths'), and
    the slots whose width differs between paths (their values are seen at that width:
    a number's low bytes, which the slot's relations need not describe)."""
    if not any(st.narrow for st in states):
        return {}, []
    widths: dict[int, set[int]] = {}
    for st in states:
        for key in st.narrow:
            widths[key] = set()
    for key, seen in widths.items():
        for st in states:
            if key in st.spills:
                seen.add(st.narrow.get(key, 8))
    return ({key: min(seen) for key, seen in widths.items() if seen},
            [key for key, seen in widths.items() if len(seen) > 1])


def _variables(st: State) -> list[int]:
    """Every zone variable the state's relations mention."""
    found = set(st.zone.out)
    for row in st.zone.out.values():
        found.update(row)
    for x, y in st.zone.affine:
        found.update((x, y))
    for x, y in st.zone.bands:
        found.update((x, y))
    found.discard(LEN)
    return list(found)
