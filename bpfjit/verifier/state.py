"""The abstract state at one program point: registers, the current stack frame, the
relations between them (a zone), and what is known of the buffer's length.

Zone variables are numbered: registers r0-r9 are 0-9 (r10 is always the frame's top),
`LEN` is the buffer length (the packet's, for XDP), `META` where the metadata before
the packet starts (`data_meta`, an offset from the packet's start), and an 8-byte slot
that holds a spilled register is `slot_var(key)`: the key is the slot's offset in the
current frame, or `outer_slot(depth, offset)` in a caller's (what a callee reads
through a pointer its caller gave it: a cursor struct's fields); above them, `MIRROR + v` is
len - v (bpfjit.verifier.zone) and `GHOST + v` the value v had at a loop head (strict
mode's termination proofs).  A variable is related only while its value is numeric (a
scalar or a pointer's offset).
"""

from __future__ import annotations

from ..isa import STACK_SIZE
from .domain import (BIG, GIVEN_BACK, MAX_LEN, MEM, MEM_OR_NULL, MIXED, NULLABLE, NUMERIC,
                     RELEASED, SCALAR, SOCKETS, UNINIT,
                     Value, join, low_bytes,
                     map_indices, multiple, replace, scalar, top_scalar, widen)
from .guards import GUARDED, describe_guards, joined_guards, joined_len_floors
from .references import unify_refs
from .zone import MAX_RELATION, MIRROR, Zone

__all__ = ["State", "LEN", "META", "GHOST", "slot_var", "slot_offset", "outer_slot", "slot_depth",
           "FULL_FRAME", "frame_bits", "merge", "spill_value", "LOCKS_DIFFER", "joined_lock"]

LEN = 11
META = 12
# the metadata starts at most this many bytes before the packet (in the headroom)
META_FLOOR = -256
_SLOT_BASE = 5000   # slot keys reach down to -MAX_CALL_DEPTH * STACK_SIZE: variables >= 904
GHOST = 10000       # GHOST + v: the value v had at a loop head (termination proofs only)
# the links State.link_copy makes: _COPY_LINKS - v, v the variable copied (joins link
# with -1 - v, bpfjit.verifier.state._link_copies; lookups with their pc + 1)
_COPY_LINKS = -(1 << 20)
FULL_FRAME = (1 << STACK_SIZE) - 1


def slot_var(offset: int) -> int:
    return _SLOT_BASE + offset


def slot_offset(var: int) -> int:
    return var - _SLOT_BASE


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


class State:
    """Registers, the current frame's stack and relations known at one program point."""

    __slots__ = ("regs", "spills", "written", "zone", "min_len", "lock", "refs", "zeros",
                 "narrow")

    def __init__(self, regs: list[Value], spills: dict[int, Value] | None = None,
                 written: int = 0, zone: Zone | None = None, min_len: int = 0,
                 lock: tuple | None = None, refs: frozenset[int] = frozenset(),
                 zeros: int = 0, narrow: dict[int, int] | None = None):
        self.regs = regs
        self.spills = {} if spills is None else spills   # spilled slots by offset
        # the spills of fewer than 8 bytes (a number in the slot's low bytes, as the
        # kernel keeps them): key -> how many bytes; every other spill has 8
        self.narrow = {} if narrow is None else narrow
        self.written = written        # bit i: some path may have written byte r10-512+i
        self.zone = Zone() if zone is None else zone
        self.min_len = min_len        # the buffer has at least this many bytes
        # the spin lock held: (maps bitmask, offset in the value), LOCKS_DIFFER where
        # paths holding different ones (or one and none) meet, None when none is held
        self.lock = lock
        # the references held (sockets', ring buffer records' `ref`): on a path where the pointer
        # holding one is NULL it is not held, so a join keeps every one some path holds
        self.refs = refs
        # bit i: on every path byte r10-512+i of the current frame was last written with
        # 0 (a store of a zero register or immediate, as the kernel's STACK_ZERO): a load
        # of such bytes alone is 0
        self.zeros = zeros

    def copy(self) -> "State":
        return State(list(self.regs), dict(self.spills), self.written, self.zone.copy(),
                     self.min_len, self.lock, self.refs, self.zeros, dict(self.narrow))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, State) and self.regs == other.regs
                and self.spills == other.spills and self.written == other.written
                and self.min_len == other.min_len and self.lock == other.lock
                and self.refs == other.refs and self.zeros == other.zeros
                and self.narrow == other.narrow and self.zone == other.zone)

    # ---- references (sockets, ring buffer records) -------------------------------------------------------------

    def release(self, ref: int) -> None:
        """Reference `ref` is given back: every pointer holding it, or derived from it, is
        invalid from here on (as the kernel marks them)."""
        self.refs = self.refs - {ref}
        for i, v in enumerate(self.regs):
            if v.ref and abs(v.ref) == ref:
                self.forget_register(i, _given_back(v))
        for key, v in list(self.spills.items()):
            if v.ref and abs(v.ref) == ref:
                self.spills[key] = _given_back(v)

    def untrack(self, ref: int) -> None:
        """Reference `ref` (a ring buffer record's) is no longer followed: the path does
        not hold it, and its pointers are records holding none (records.py)."""
        self.refs = self.refs - {ref}
        for i, v in enumerate(self.regs):
            if v.ref and abs(v.ref) == ref:
                self.regs[i] = replace(v, ref=0)
        for key, v in list(self.spills.items()):
            if v.ref and abs(v.ref) == ref:
                self.spills[key] = replace(v, ref=0)

    # ---- variables -------------------------------------------------------------------------

    def value_of(self, var: int) -> Value | None:
        if var < 10:
            return self.regs[var]
        if var == LEN or var == META:
            return None
        return self.spills.get(slot_offset(var))

    def lower(self, var: int) -> int | None:
        """The least value the variable may hold (signed), None if unbounded."""
        if var < 10:
            v = self.regs[var]
        elif var == LEN:
            return self.min_len
        elif var == META:
            return META_FLOOR
        elif var >= MIRROR:                     # len - x >= min_len - max(x)
            hi = self.upper(var - MIRROR)
            return None if hi is None else self.min_len - hi
        else:
            v = self.spills.get(var - _SLOT_BASE)
            if v is None:
                return None
        if v.kind not in NUMERIC or v.smin <= -BIG:
            return None
        return v.smin

    def upper(self, var: int) -> int | None:
        if var < 10:
            v = self.regs[var]
        elif var == LEN:
            return MAX_LEN
        elif var == META:
            return 0
        elif var >= MIRROR:
            lo = self.lower(var - MIRROR)
            return None if lo is None else MAX_LEN - lo
        else:
            v = self.spills.get(var - _SLOT_BASE)
            if v is None:
                return None
        if v.kind not in NUMERIC or v.smax >= BIG:
            return None
        return v.smax

    def zone_lower(self, var: int) -> int | None:
        """lower(var), and for a mirror len - x also -c where the zone has x - len <= c:
        a count of the bytes left beside a pointer (len - p) is not negative once p <=
        len, though the intervals alone say nothing of it.  (Only for narrowing the
        variables a mirror is related to: joins keep using the intervals' bounds, which
        keeps fewer relations alive.)"""
        lo = self.lower(var)
        x = _mirrored(var)
        c = None if x is None else self.zone.bound(x, LEN)
        return lo if c is None or (lo is not None and lo >= -c) else -c

    def zone_upper(self, var: int) -> int | None:
        """upper(var), and for a mirror len - x also c where the zone has len - x <= c."""
        hi = self.upper(var)
        x = _mirrored(var)
        c = None if x is None else self.zone.bound(LEN, x)
        return hi if c is None or (hi is not None and hi <= c) else c

    def implied(self, x: int, y: int) -> int | None:
        """The bound on x - y that the intervals alone give (and, for the mirror of a
        value known exactly, k: len - k, what is known against len)."""
        if y >= MIRROR or x >= MIRROR:
            k = self._fixed(y - MIRROR if y >= MIRROR else x - MIRROR)
            if k is not None and (x < MIRROR) != (y < MIRROR):
                if y >= MIRROR:                 # x - (len - k) = (x - len) + k
                    b = self.zone.bound(x, LEN) if x != LEN else 0
                    return None if b is None else b + k
                b = self.zone.bound(LEN, y)     # (len - k) - y = (len - y) - k
                return None if b is None else b - k
        hi, lo = self.upper(x), self.lower(y)
        return None if hi is None or lo is None else hi - lo

    def _fixed(self, var: int) -> int | None:
        lo = self.lower(var)
        return lo if lo is not None and lo == self.upper(var) else None

    def numeric(self, var: int) -> bool:
        if var == LEN or var == META or var >= GHOST:
            return True
        v = self.value_of(var)
        return v is not None and v.kind in NUMERIC

    def len_bound(self, x: int) -> int | None:
        """The best known bound on x - len: directly, or through what is known of
        len - x (its mirror): y - (len - x) <= c with y >= lo gives x - len <= c - lo,
        or through a scaled index (`_scaled_len_bound`)."""
        best = self.zone.bound(x, LEN)
        if x in self.zone.mirrored:
            for y, _, down in self.zone.related(MIRROR + x):
                if down is not None:
                    lo = self.lower(y)
                    if lo is not None and (best is None or down - lo < best):
                        best = down - lo
        if self.zone.affine and (self.zone.quot or self.zone.scaled):
            scaled = self._scaled_len_bound(x)
            if scaled is not None and (best is None or scaled < best):
                best = scaled
        return best

    def _scaled_len_bound(self, x: int) -> int | None:
        """x - len through a stride: `for (i = 0; i < len / 4; i++) load(p + 4 * i)`.
        With x - u <= f, u == a*y + b (a > 0), y - q <= d and q == z // c (z >= 0,
        a <= c): x <= a*q + a*d + b + f <= z + a*d + b + f, and z - len <= e bounds
        x - len by a*d + b + e + f (u is x itself, f = 0, or a variable the zone
        relates x to: the index a pointer was made from)."""
        best = None
        for (u, y), (a, b) in self.zone.affine.items():
            f = 0 if u == x else self.zone.bound(x, u)
            if f is None or a <= 0:
                continue
            b += f
            for q, (z, c, times) in self.zone.quot.items():
                d = None if times or a > c else self.zone.bound(y, q)
                if d is None:
                    continue
                low = self.lower(z)
                e = 0 if z == LEN else self.zone.bound(z, LEN)
                if e is None or low is None or low < 0:
                    continue
                if best is None or a * d + b + e < best:
                    best = a * d + b + e
            # c * q <= len + e, y - q <= d, a <= c, q >= 0: a * y <= a * q + a * d
            # <= len + e + a * d
            for q, (c, e) in self.zone.scaled.items():
                d = 0 if q == y else self.zone.bound(y, q)
                low = self.lower(q)
                if d is None or a > c or low is None or low < 0:
                    continue
                if best is None or a * d + b + e < best:
                    best = a * d + b + e
        return best

    def learn_scaled(self, x: int) -> None:
        """After x - len gained a bound: `x == a*y + b` (a >= 2) and x <= len + e give
        a*y <= len + e - b, a fact about y that outlives x (clang reuses the register
        that held `8 * n + 1` once the test `8 * n + 1 <= len` is made)."""
        e = self.zone.bound(x, LEN)
        if e is None:
            return
        for (u, y), (a, b) in self.zone.affine.items():
            if u == x and a >= 2 and y < 10:
                old = self.zone.scaled.get(y)
                if old is None or (old[0] == a and e - b < old[1]):
                    self.zone.scaled[y] = (a, e - b)

    def bound(self, x: int, y: int) -> int | None:
        """The best known bound on x - y: the zone's, or the intervals'."""
        z = self.zone.bound(x, y)
        i = self.implied(x, y)
        if z is None:
            return i
        return z if i is None or z < i else i

    # ---- merging paths ---------------------------------------------------------------------

    def widen(self, new: "State", thresholds: tuple[tuple[int, ...], ...],
              around: "State | None" = None, related: bool = True) -> "State":
        """The old state (self) widened by a new one at a loop head: bounds still moving
        jump to the next threshold (`thresholds[r]` for register r) or their limit, and
        relations that moved are dropped.  Given `around` (the states coming round the
        loop), only values that grow on the way round are widened; a value that grows
        because the loop is entered with more (an inner loop's start, as an outer loop
        moves on) is joined: the outer loop's head widens it if needed.  Without
        `related`, a value still moving also loses every relation: two variables whose
        relation bounds each by the other (`x <= y + c`, `y <= x + d`, both growing)
        would otherwise narrow each other's widened bounds back after every widening,
        one step higher each time, and the loop would never settle."""
        if self.refs or new.refs:
            old, new = unify_refs([self, new])
            if old is not self:
                return old.widen(new, thresholds, around, related)

        def moves(old: Value, back: Value | None) -> bool:
            return around is None or back is None or not _within(back, old)
        regs = [a if a is b else widen(a, b, t) if moves(a, c) else join(a, b)
                for a, b, t, c in zip(self.regs, new.regs, thresholds,
                                      around.regs if around is not None else self.regs)]
        narrow, differ = _joined_widths([self, new])
        spills = {}
        for off, v in self.spills.items():
            w = new.spills.get(off)
            if w is not None:
                back = around.spills.get(off) if around is not None else None
                if off in narrow:
                    width = narrow[off]
                    v, w = spill_value(self, off, width), spill_value(new, off, width)
                    back = None if back is None else spill_value(around, off, width)
                m = v if v is w else widen(v, w) if moves(v, back) else join(v, w)
                if m.kind != UNINIT:
                    spills[off] = m
        if related:
            _follow_counters(regs, self, new)
        result = State(regs, spills, self.written | new.written,
                       self.zone.widen(new.zone, new.implied, [self.lower, new.lower]),
                       min(self.min_len, new.min_len), joined_lock([self, new]),
                       self.refs | new.refs, self.zeros & new.zeros,
                       {off: n for off, n in narrow.items() if off in spills})
        for off in differ:
            result.zone.forget(slot_var(off))
        if not related:
            moved = [r for r in range(10) if regs[r] != self.regs[r]]
            moved += [slot_var(off) for off, v in spills.items() if v != self.spills.get(off)]
            for var in moved:
                result.zone.forget(var)
        result._settle_join([self, new], discover=related, widening=True)
        return result

    def _settle_join(self, states: list["State"], discover: bool, widening: bool = False
                     ) -> None:
        """Finish a join: drop relations of variables whose meaning changed, keep the
        affine equalities every path satisfies, find new relations, reduce."""
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
        if not widening:
            for st in states:
                _keep_satisfied_affine(zone, st, states)
        else:
            # an equality the new state holds that the old one satisfied with constants
            # (a loop entered again from its enclosing loop) is kept, as a join keeps it;
            # the next way round checks it as it checks the others
            _keep_satisfied_affine(zone, states[1], states)
        if discover:
            self._relate_changed(states, widening)
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
        for var in [r for r, v in enumerate(self.regs[:10]) if v.kind == MEM and not v.fixed]:
            if self.zone.bound(var, LEN) is not None:
                continue
            bounds = []
            for st in states:
                w = st.regs[var]
                if w.kind != MEM or w.smax >= BIG:
                    break
                c = w.smax - st.min_len
                known = st.len_bound(var) if not w.fixed else None
                bounds.append(c if known is None else min(c, known))
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
                if w.kind == MEM:           # its bound, or its offset against min len
                    c = st.len_bound(var) if not w.fixed else None
                    if w.smax < BIG:
                        at_least = w.smax - st.min_len
                        c = at_least if c is None else min(c, at_least)
                else:
                    c = st.zone.ifset.get(var) if w.kind == MEM_OR_NULL else None
                if c is None:
                    break
                bounds.append(c)
            else:
                if bounds and (not widening or states[0].zone.ifset.get(var) == max(bounds)):
                    self.zone.ifset[var] = max(bounds)
                    continue
            self.zone.ifset.pop(var, None)

    def _relate_changed(self, states: list["State"], widening: bool) -> None:
        """Relations that only the intervals showed on each path, but hold on all.

        A loop counter that is 0 on entry and 64 on the way back, while the bound it
        is tested against is at least 64 and 128, is `counter <= bound - 64` on both
        paths; neither zone says so, because constants are not zone variables.  Only
        variables that differ between the paths are candidates (the others keep their
        relations through the zones' join), which keeps this linear in practice."""
        # variables that vary in the result (a constant's relations are its interval)
        varying = [r for r, v in enumerate(self.regs[:10]) if v.kind in NUMERIC and not v.fixed]
        varying += [slot_var(off) for off, v in self.spills.items()
                    if v.kind in NUMERIC and not v.fixed]
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
            for y in candidates:
                # only what every path relates to len or to len - x can gain a relation
                if y == x or y == LEN or not all(
                        st.zone.has_edge(y, m) or st.zone.has_edge(y, LEN) for st in states):
                    continue
                for u, v in ((y, m), (m, y)):
                    c = None
                    for st in states:
                        b = st.bound(u, v)
                        if b is None or (widening and c is not None and b > c):
                            c = None
                            break
                        c = b if c is None or b > c else c
                    if c is not None and c < MAX_RELATION:
                        zone.add(u, v, c)

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
                if x == y or ys[0] == ys[1]:
                    continue
                k, rest = divmod(xs[1] - xs[0], ys[1] - ys[0])
                c = xs[0] - k * ys[0]
                if rest == 0 and k not in (0, 1) and all(
                        xi == k * yi + c for xi, yi in zip(xs[2:], ys[2:])):
                    self.zone.add_affine(x, y, k, c)

    def _apply_affine(self, only: int | None = None) -> bool:
        """Narrow intervals through the affine equalities (those of `only`, if given);
        False if one becomes empty."""
        for (x, y), (k, c) in list(self.zone.affine.items()):
            if only is not None and only not in (x, y):
                continue
            ylo, yhi = self.lower(y), self.upper(y)
            if ylo is not None and yhi is not None:
                lo, hi = sorted((k * ylo + c, k * yhi + c))
                if not self.clamp(x, lo, hi):
                    return False
            xlo, xhi = self.lower(x), self.upper(x)
            if xlo is not None and xhi is not None:
                low, high = (xlo - c, xhi - c) if k > 0 else (xhi - c, xlo - c)
                if not self.clamp(y, -(-low // k), high // k):
                    return False
        return True

    def reduce(self) -> None:
        """Narrow every interval by what the zone and the other intervals imply."""
        if self.zone.affine:
            self._apply_affine()
        for x, row in list(self.zone.out.items()):
            for y, c in list(row.items()):
                hi_y, lo_x = self.zone_upper(y), self.zone_lower(x)
                if hi_y is not None:                 # x <= y + c
                    self.clamp(x, None, hi_y + c)
                if lo_x is not None:                 # y >= x - c
                    self.clamp(y, lo_x - c, None)
        if self.zone.affine:            # a bound the zone gave (a widened counter's,
            self._apply_affine()        # from its exit test) reaches its partners
        if self.zone.floors:
            self.apply_floors()

    def apply_floors(self) -> bool:
        """Narrow intervals through the floors a + b >= c: a >= c - max(b) (a widened
        descending counter's lower bound); False if one becomes empty."""
        for (a, b), c in list(self.zone.floors.items()):
            for x, y in ((a, b), (b, a)):
                hi = self.upper(y)
                if hi is not None and not self.clamp(x, c - hi, None):
                    return False
        return True

    # ---- learning --------------------------------------------------------------------------

    def tighten(self, var: int) -> bool:
        """Pass var's interval on to every variable related to it (the zone is closed, so
        one step reaches them all); False if that empties one (an infeasible path)."""
        if self.zone.affine and not self._apply_affine(var):
            return False
        lo, hi = self.lower(var), self.upper(var)
        for other, up, down in self.zone.related(var):
            # other - var <= down  =>  other <= hi + down;   var - other <= up  =>  other >= lo - up
            new_hi = None if down is None or hi is None else hi + down
            new_lo = None if up is None or lo is None else lo - up
            if not self.clamp(other, new_lo, new_hi):
                return False
        return True

    def clamp(self, var: int, lo: int | None, hi: int | None) -> bool:
        """Narrow var's signed interval to [lo, hi]; False when it becomes empty."""
        if var == META:                 # no interval of its own: [META_FLOOR, 0]
            return (lo is None or lo <= 0) and (hi is None or hi >= META_FLOOR)
        if var == LEN:
            if lo is not None and lo > self.min_len:
                self.min_len = min(lo, MAX_LEN + 1)
            return self.min_len <= MAX_LEN and (hi is None or hi >= self.min_len)
        if MIRROR <= var < MIRROR + _SLOT_BASE:
            # len - x has no interval of its own: a bound on it is a relation of x to len
            x = var - MIRROR
            old_lo, old_hi = self.lower(var), self.upper(var)
            if lo is not None and (old_lo is None or lo > old_lo) \
                    and not self.zone.add(x, LEN, -lo):
                return False
            if hi is not None and (old_hi is None or hi < old_hi) \
                    and not self.zone.add(LEN, x, hi):
                return False
            return True
        v = self.value_of(var)
        if v is None or v.kind not in NUMERIC:
            return True
        smin = v.smin if lo is None or lo <= v.smin else lo
        smax = v.smax if hi is None or hi >= v.smax else hi
        if smin == v.smin and smax == v.smax:
            return True
        if smin > smax:
            return False
        if v.is_pointer:
            new = replace(v, smin=smin, smax=smax)
        else:
            new = scalar(v.umin, v.umax, smin, smax, v.align, multiple(v))
            if new.empty:
                return False
        self.put(var, new)
        return True

    def put(self, var: int, value: Value) -> None:
        """Variable `var` (a register or a spilled slot) holds `value` now; its relations
        are the caller's to keep or forget."""
        if var < 10:
            self.regs[var] = value
        else:
            self.spills[slot_offset(var)] = value

    def forget_register(self, reg: int, value: Value | None = None) -> None:
        """Give a register a new value unrelated to any other."""
        self.regs[reg] = top_scalar() if value is None else value
        self.zone.forget(reg)

    def copy_register(self, reg: int, var: int | None, value: Value) -> None:
        """reg := `value`, read from variable `var` (None: from no variable): it keeps the
        relations of var, being equal to it, when the zone may relate it, and its link
        (link_copy)."""
        self.regs[reg] = value
        if var is not None and var != reg and value.kind in NUMERIC and not value.fixed:
            self.zone.assign(reg, var)
        else:
            self.zone.forget(reg)
        if var is not None and var != reg:
            self.link_copy(var, reg)

    def unlink(self, ident: int) -> None:
        """The values linked by `ident` are linked no more (they may no longer be equal
        to what the link will tie next)."""
        for i, v in enumerate(self.regs):
            if v.kind in NULLABLE and v.ident == ident:
                self.regs[i] = replace(v, ident=0)
        for key, v in list(self.spills.items()):
            if v.kind in NULLABLE and v.ident == ident:
                self.spills[key] = replace(v, ident=0)

    def link_copy(self, source: int, copy: int) -> None:
        """After `copy` was given `source`'s value: a pointer or NULL that nothing links
        (ident 0: a join of two lookups, a callee's return) gets a link of its own for
        the two, so that a NULL test of either refines both.  The link is named after
        `source`, and taken first from the values an earlier copy from it tied: those
        hold what `source` held then, which may not be what it holds now."""
        value = self.value_of(source)
        if value is None or value.kind not in NULLABLE or self.value_of(copy) != value:
            return
        self.copy_if_set(source, copy)
        if value.ident:
            return
        ident = _COPY_LINKS - source
        self.unlink(ident)
        linked = replace(value, ident=ident)
        self.put(source, linked)
        self.put(copy, linked)

    def copy_if_set(self, source: int, copy: int) -> None:
        """`copy` holds the pointer or NULL `source` holds: what tells its NULL-ness
        (guards) and its bound where it is not NULL (ifset) hold for the copy too, so a
        spill outlives the register (clang keeps tcp in a slot and reuses the register
        before the test of the protocol)."""
        zone = self.zone
        for (v, f), guard in list(zone.guards.items()):
            if v == source and f != copy:
                zone.guards[(copy, f)] = guard
        if source in zone.ifset:
            zone.ifset[copy] = zone.ifset[source]

    def write_frame(self, lo: int, hi: int, depth: int = 0) -> None:
        """Bytes [lo, hi) of the current frame (or of the depth-th caller's, clipped to
        it) are written: the spills they overlap are gone."""
        self.write_bits(frame_bits(lo, hi), depth)

    def write_bits(self, bits: int, depth: int = 0) -> None:
        """The bytes of the current frame set in `bits` (as in `written`), or of the
        depth-th caller's, are written: the spills they overlap are gone."""
        if depth == 0:
            self.written |= bits
            self.zeros &= ~bits
        bottom = outer_slot(depth, -STACK_SIZE)       # the key of the frame's lowest byte
        for slot in list(self.spills):
            if slot_depth(slot) == depth and bits >> (slot - bottom) & 0xff:
                del self.spills[slot]
                self.narrow.pop(slot, None)
                self.zone.forget(slot_var(slot))

    def describe(self) -> str:
        """The state as one line of the verifier log."""
        parts = [f"r{i}={v.describe()}" for i, v in enumerate(self.regs) if v.kind != UNINIT]
        names = {LEN: "len", META: "meta"}
        seen = set()
        for x, row in sorted(self.zone.out.items()):
            for y, c in sorted(row.items()):
                if (x, y) in seen:
                    continue
                back = self.zone.bound(y, x)
                a, b = _name(x, names), _name(y, names)
                if back is not None and back == -c:
                    seen.add((y, x))
                    parts.append(f"{a}={b}{c:+d}" if c else f"{a}={b}")
                else:
                    parts.append(f"{a}<={b}{c:+d}" if c else f"{a}<={b}")
        for (x, y), (k, c) in sorted(self.zone.affine.items()):
            parts.append(f"{_name(x, names)}={k}*{_name(y, names)}{c:+d}")
        for x, (y, c, times) in sorted(self.zone.quot.items()):
            parts.append(f"{_name(x, names)}={_name(y, names)}/{c}" + (f"*{c}" if times else ""))
        for x, (y, kind, c) in sorted(self.zone.shifted.items()):
            y_name = f"({_name(y, names)}{c:+d})" if c else _name(y, names)
            parts.append(f"{_name(x, names)}=" +
                         (f"{y_name}<<32" if kind == "shl" else f"sext32({y_name})"))
        for y, (a, e) in sorted(self.zone.scaled.items()):
            parts.append(f"{a}*{_name(y, names)}<=len{e:+d}" if e else
                         f"{a}*{_name(y, names)}<=len")
        for (a, b), c in sorted(self.zone.floors.items()):
            parts.append(f"{_name(a, names)}+{_name(b, names)}>={c}")
        for x, (y, k) in sorted(self.zone.wraps.items()):
            parts.append(f"{_name(x, names)}=({_name(y, names)}{k:+d})%2^32")
        for x, (a, b, k) in sorted(self.zone.plus.items()):
            parts.append(f"{_name(x, names)}={_name(a, names)}+{_name(b, names)}"
                         + (f"{k:+d}" if k else ""))
        parts += describe_guards(self.zone.guards, lambda var: _name(var, names))
        for f, floors in sorted(self.zone.lenfloors.items()):
            parts.append(f"len>=" + "|".join(f"{m} when {_name(f, names)} in [{lo},{hi}]"
                                             for lo, hi, m in floors))
        for x, c in sorted(self.zone.ifset.items()):
            parts.append(f"{_name(x, names)}<=len{c:+d} if not NULL")
        if self.min_len:
            parts.append(f"len>={self.min_len}")
        if self.lock is LOCKS_DIFFER:
            parts.append("lock=differs")
        elif self.lock is not None:
            maps = "|".join(str(i) for i in map_indices(self.lock[0]))
            parts.append(f"lock=map_value[{maps}]+{self.lock[1]}")
        return " ".join(parts)


def _name(var: int, names: dict) -> str:
    if var in names:
        return names[var]
    if var >= MIRROR:
        return "(len-" + _name(var - MIRROR, names) + ")"
    if var >= GHOST:
        return "old(" + _name(var - GHOST, names) + ")"
    if var < 10:
        return f"r{var}"
    key = slot_offset(var)
    depth = slot_depth(key)
    if depth:
        return f"[caller{depth}{key + depth * STACK_SIZE:+d}]"
    return f"[r10{key:+d}]"


def _within(inner: Value, outer: Value) -> bool:
    """Whether every value `inner` describes is one `outer` describes."""
    if inner is outer:
        return True
    if inner.kind != outer.kind:
        return outer.kind == UNINIT
    return (outer.umin <= inner.umin and inner.umax <= outer.umax and outer.smin <= inner.smin
            and inner.smax <= outer.smax and inner.frame == outer.frame
            and inner.maps | outer.maps == outer.maps and inner.align >= outer.align)


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


def _mirrored(var: int) -> int | None:
    """x when `var` is the mirror len - x of a register, a slot or len, else None."""
    return var - MIRROR if MIRROR <= var < MIRROR + GHOST else None


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


def _pair_bound(zone: Zone, bounds: dict, x: int, y: int) -> int | None:
    """The best bound on x - y from a zone and a table of intervals."""
    z = zone.bound(x, y)
    hi, lo = bounds[x][1], bounds[y][0]
    if hi is None or lo is None:
        return z
    i = hi - lo
    return i if z is None or i < z else z


def _keep_satisfied_affine(zone: Zone, a: State, states: list[State]) -> None:
    """An equality of path a that every other path satisfies with constants holds on all."""
    for (x, y), (k, c) in a.zone.affine.items():
        if (x, y) in zone.affine:
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


def _follow_counters(regs: list[Value], old: "State", new: "State") -> None:
    """A widened register x equal to k*y + c (k >= 2: a pointer or index stepping in
    lockstep with a counter y, on both paths) takes its bounds from y's widened ones:
    widened with the thresholds of its own register (the constants it is compared with
    when it holds something else), x would stop short, the equality would pull y back
    below its threshold, and every trip would spend a widening step until both went to
    their limits.  Sound: x lies in k*y + c over y's widened range on either path."""
    for (x, y), (k, c) in old.zone.affine.items():
        if x >= 10 or y >= 10 or k < 2 or new.zone.affine.get((x, y)) != (k, c):
            continue
        vx, vy = regs[x], regs[y]
        if vx is old.regs[x] or vy.kind != SCALAR or vx.kind not in NUMERIC \
                or vx.kind == MIXED or not -BIG < vy.smin <= vy.smax < BIG:
            continue
        lo, hi = k * vy.smin + c, k * vy.smax + c
        if not -BIG < lo <= hi < BIG or (vx.kind in (MEM, MEM_OR_NULL) and hi > MAX_LEN):
            continue
        regs[x] = scalar(smin=lo, smax=hi) if vx.kind == SCALAR else \
            replace(vx, smin=lo, smax=hi)


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
    zeros = first.zeros
    for st in states[1:]:
        zeros &= st.zeros
    result = State(regs, spills, written, None, min_len, joined_lock(states),
                   frozenset().union(*(st.refs for st in states)), zeros,
                   {off: n for off, n in narrow.items() if off in spills})
    result.zone = Zone.join_all([st.zone for st in states], [st.implied for st in states],
                                result.implied, [st.lower for st in states])
    for off in differ:          # (the slot's variable is its low bytes now)
        result.zone.forget(slot_var(off))
    result._settle_join(states, discover)
    return result


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
    found.discard(LEN)
    return list(found)


def _given_back(v: Value) -> Value:
    """What a register or slot holding a reference given back holds: nothing usable."""
    return Value(UNINIT, ident=RELEASED if v.kind in SOCKETS else GIVEN_BACK)
