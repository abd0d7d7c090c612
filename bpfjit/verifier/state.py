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
from .domain import (BIG, GIVEN_BACK, MAX_LEN, NULLABLE, NUMERIC, RELEASED, SOCKETS, UNINIT,
                     Value, map_indices, multiple, replace, scalar, top_scalar)
from .bands import apply_bands, narrow_line
from .bytecaps import forget_caps
from .guards import describe_guards
from .joins import LOCKS_DIFFER, JoinRules, joined_lock, merge, spill_value
from .variables import (COPY_LINKS, FULL_FRAME, GHOST, LEN, META, META_FLOOR, SLOT_BASE,
                        byte_runs, frame_bits, outer_slot, slot_depth, slot_offset, slot_var)
from .zone import MIRROR, Zone

__all__ = ["State", "LEN", "META", "GHOST", "slot_var", "slot_offset", "outer_slot", "slot_depth",
           "FULL_FRAME", "frame_bits", "merge", "spill_value", "LOCKS_DIFFER", "joined_lock"]


def _implies(st: "State", other: "State") -> bool:
    """Whether every difference other's zone holds is a bound `st` knows too."""
    for x, row in other.zone.out.items():
        for y, c in row.items():
            b = st.bound(x, y)
            if b is None or b > c:
                return False
    return True


def _mirrored(var: int) -> int | None:
    """x when `var` is the mirror len - x of a register, a slot or len, else None."""
    return var - MIRROR if MIRROR <= var < MIRROR + GHOST else None


class State(JoinRules):
    """Registers, the current frame's stack and relations known at one program point."""

    __slots__ = ("regs", "spills", "written", "zone", "min_len", "lock", "refs", "zeros",
                 "narrow", "remnants", "caps")

    def __init__(self, regs: list[Value], spills: dict[int, Value] | None = None,
                 written: int = 0, zone: Zone | None = None, min_len: int = 0,
                 lock: tuple | None = None, refs: frozenset[int] = frozenset(),
                 zeros: int = 0, narrow: dict[int, int] | None = None, remnants: int = 0,
                 caps: bytes | None = None):
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
        # bit i: on some path byte r10-512+i of the current frame holds part of a spilled
        # pointer that a narrower store wrote over the rest of (strict mode: reading it
        # would make an address a number; kept as the kernel keeps such bytes, STACK_MISC)
        self.remnants = remnants
        # the largest value each byte of the current frame may hold (bytecaps; None:
        # nothing known, as at a callee's entry)
        self.caps = caps

    def copy(self) -> "State":
        return State(list(self.regs), dict(self.spills), self.written, self.zone.copy(),
                     self.min_len, self.lock, self.refs, self.zeros, dict(self.narrow),
                     self.remnants, self.caps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and self._same_but_zone(other) \
            and self.zone == other.zone

    def _same_but_zone(self, other: "State") -> bool:
        """Whether everything but the zone is the same."""
        return (self.regs == other.regs and self.spills == other.spills
                and self.written == other.written and self.min_len == other.min_len
                and self.lock == other.lock and self.refs == other.refs
                and self.zeros == other.zeros and self.narrow == other.narrow
                and self.remnants == other.remnants and self.caps == other.caps)

    def equivalent(self, other: "State") -> bool:
        """Whether both describe the same values: equal but for differences x - y <= c
        that one zone holds and the other implies, through its own differences or the
        intervals (which are equal).  A join drops a difference that its intervals imply
        (bpfjit.verifier.zonejoin), so joining a state with one it already covers need
        not give an equal state back; compared with ==, a fixpoint would run again on
        the same values (a subprogram analysed again for each of its call sites)."""
        return self._same_but_zone(other) and self.zone.same_tables(other.zone) \
            and _implies(self, other) and _implies(other, self)

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
            v = self.spills.get(var - SLOT_BASE)
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
            v = self.spills.get(var - SLOT_BASE)
            if v is None:
                return None
        if v.kind not in NUMERIC or v.smax >= BIG:
            return None
        return v.smax

    def zone_lower(self, var: int) -> int | None:
        """lower(var), and for a mirror len - x also -c where the zone has x - len <= c:
        a count of the bytes left beside a pointer (len - p) is not negative once p <=
        len, though the intervals alone say nothing of it.  (Only for narrowing the
        variables a mirror is related to, and for the bound a join gives a path that
        lacks a relation the others hold, `implied_at_join`.)"""
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
                    if b is not None:
                        return b + k
                else:
                    b = self.zone.bound(LEN, y)     # (len - k) - y = (len - y) - k
                    if b is not None:
                        return b - k
                # else the intervals' (a count against what remains after a pointer
                # at a constant offset: n - (len - k) <= max n - (min_len - k))
        hi, lo = self.upper(x), self.lower(y)
        return None if hi is None or lo is None else hi - lo

    def implied_at_join(self, x: int, y: int) -> int | None:
        """`implied`, and for a constant register k against a mirror len - v, k - (the
        least len - v the zone allows): the bound a join gives a path where a value is
        a constant, which no zone variable relates.  `if (n > 96) n = 96` keeps
        n <= len - v - 1 on the clamped path, where the zone knows v <= len - 97."""
        best = self.implied(x, y)
        if x < 10 and y >= MIRROR and self.regs[x].fixed:
            lo = self.zone_lower(y)
            if lo is not None and (best is None or self.regs[x].smax - lo < best):
                return self.regs[x].smax - lo
        return best

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


    def _apply_affine(self, only: int | None = None) -> bool:
        """Narrow intervals through the affine equalities (those of `only`, if given);
        False if one becomes empty."""
        for (x, y), (k, c) in list(self.zone.affine.items()):
            if (only is None or only in (x, y)) and not narrow_line(self, x, y, k, c, c):
                return False
        return True

    def reduce(self) -> None:
        """Narrow every interval by what the zone and the other intervals imply."""
        if self.zone.affine:
            self._apply_affine()
        # each difference in turn, as the zone lists them; the bounds read are kept
        # until a clamp changes something (most narrow nothing), then read afresh
        uppers: dict[int, int | None] = {}
        lowers: dict[int, int | None] = {}
        for x, row in list(self.zone.out.items()):
            for y, c in list(row.items()):
                hi_y = uppers[y] if y in uppers else uppers.setdefault(y, self.zone_upper(y))
                lo_x = lowers[x] if x in lowers else lowers.setdefault(x, self.zone_lower(x))
                if hi_y is not None and self.narrows(x, None, hi_y + c):   # x <= y + c
                    self.clamp(x, None, hi_y + c)
                    uppers.clear()
                    lowers.clear()
                if lo_x is not None and self.narrows(y, lo_x - c, None):   # y >= x - c
                    self.clamp(y, lo_x - c, None)
                    uppers.clear()
                    lowers.clear()
        if self.zone.affine:            # a bound the zone gave (a widened counter's,
            self._apply_affine()        # from its exit test) reaches its partners
        if self.zone.bands:
            apply_bands(self)
        if self.zone.floors or self.zone.ceilings:
            self.apply_sum_bounds()
        if self.zone.plus:
            self.apply_plus_bounds()

    def apply_plus_bounds(self) -> bool:
        """Narrow intervals through the sums z == a + b + k (zone.plus): a within [min z -
        max b - k, max z - min b - k], and b alike -- a counter falling as another rises
        round a loop, with their sum kept (`str[len - 1 - i]`), is bounded below so after
        its widening; False if one becomes empty."""
        zone = self.zone
        for z, (a, b, k) in list(zone.plus.items()):
            lo_z, hi_z = self.lower(z), self.upper(z)
            for x, y in ((a, b), (b, a)):
                # x == z - y - k: by the intervals, and by what the zone says of z - y
                lo_y, hi_y = self.lower(y), self.upper(y)
                lows = [] if lo_z is None or hi_y is None else [lo_z - hi_y - k]
                highs = [] if hi_z is None or lo_y is None else [hi_z - lo_y - k]
                up, down = zone.bound(z, y), zone.bound(y, z)
                if down is not None:
                    lows.append(-down - k)
                if up is not None:
                    highs.append(up - k)
                if not self.clamp(x, max(lows) if lows else None,
                                  min(highs) if highs else None):
                    return False
        return True

    def apply_sum_bounds(self, only: int | None = None) -> bool:
        """Narrow intervals through the floors a + b >= c: a >= c - max(b) (a widened
        descending counter's lower bound), and the ceilings a + b <= c: a <= c - min(b)
        (a count up while what is left counts down); with `only`, just the partners of
        that variable by its bounds (a count a test showed at least 4 puts the pointer
        walking the rest of a stack key at most 4 bytes before its end); False if one
        becomes empty."""
        for (a, b), c in list(self.zone.floors.items()):
            for x, y in ((a, b), (b, a)):
                if only is not None and y != only:
                    continue
                hi = self.upper(y)
                if hi is not None and not self.clamp(x, c - hi, None):
                    return False
        for (a, b), c in list(self.zone.ceilings.items()):
            for x, y in ((a, b), (b, a)):
                if only is not None and y != only:
                    continue
                lo = self.lower(y)
                if lo is not None and not self.clamp(x, None, c - lo):
                    return False
        return True

    # ---- learning --------------------------------------------------------------------------

    def tighten(self, var: int) -> bool:
        """Pass var's interval on to every variable related to it (the zone is closed, so
        one step reaches them all); False if that empties one (an infeasible path)."""
        if self.zone.affine and not self._apply_affine(var):
            return False
        if self.zone.bands and not apply_bands(self, var):
            return False
        lo, hi = self.lower(var), self.upper(var)
        for other, up, down in self.zone.related(var):
            # other - var <= down  =>  other <= hi + down;   var - other <= up  =>  other >= lo - up
            new_hi = None if down is None or hi is None else hi + down
            new_lo = None if up is None or lo is None else lo - up
            if not self.clamp(other, new_lo, new_hi):
                return False
        if self.zone.quot:
            for q, (y, c, times) in list(self.zone.quot.items()):
                # (q itself narrowed, or through a copy or relation: clamped above)
                if not times and (q == var or self.zone.has_edge(var, q)) and \
                        not self._apply_dividend(q, y, c):
                    return False
            for q, (y, c, times) in list(self.zone.quot.items()):
                # len has no interval of its own: what bounds it is a relation to var
                if (y == var or y == LEN and self.zone.has_edge(var, LEN)) and not times:
                    old = (self.lower(q), self.upper(q))
                    if not self._apply_quotient(q, y, c):
                        return False
                    if (self.lower(q), self.upper(q)) != old and not self.tighten(q):
                        return False
        if (self.zone.ceilings or self.zone.floors) and not self.apply_sum_bounds(var):
            return False
        return True

    def _apply_quotient(self, q: int, y: int, c: int) -> bool:
        """Narrow q == y // c (unsigned; only while y >= 0, where it is the signed
        quotient too) by y's interval; False if q becomes empty.  A heap's parent
        `(i - 1) / 2`, once the loop's test shows `i - 1 >= 2`, is at least 1."""
        lo, hi = self.lower(y), self.upper(y)
        if lo is None or lo < 0:
            return True
        if y == LEN:                # (`n = len / 2` under `len < 128`: n <= 63)
            hi = min([hi] + [self.upper(x) + d for x, d, _ in self.zone.related(LEN)
                             if d is not None and x < 10 and self.upper(x) is not None])
        return self.clamp(q, lo // c, None if hi is None else hi // c)

    def _apply_dividend(self, q: int, y: int, c: int) -> bool:
        """Narrow y by q == y // c (y >= 0: len, or a number known not negative):
        c * q <= y <= c * q + c - 1.  `words = len / 4`, shown at least 4096 by the test
        that clamps it, shows len >= 16384."""
        lo, hi = self.lower(q), self.upper(q)
        if y != LEN and (self.lower(y) is None or self.lower(y) < 0):
            return True
        return self.clamp(y, None if lo is None or lo < 0 else c * lo,
                          None if hi is None or hi < 0 else c * hi + c - 1)

    def narrows(self, var: int, lo: int | None, hi: int | None) -> bool:
        """Whether clamp(var, lo, hi) would change anything (or find var empty)."""
        if var == META:
            return False
        if var == LEN:
            return lo is not None and lo > self.min_len
        if MIRROR <= var < MIRROR + SLOT_BASE:
            if lo is not None:
                old = self.lower(var)
                if old is None or lo > old:
                    return True
            if hi is not None:
                old = self.upper(var)
                return old is None or hi < old
            return False
        v = self.value_of(var)
        if v is None or v.kind not in NUMERIC:
            return False
        return (lo is not None and lo > v.smin) or (hi is not None and hi < v.smax)

    def clamp(self, var: int, lo: int | None, hi: int | None) -> bool:
        """Narrow var's signed interval to [lo, hi]; False when it becomes empty."""
        if var == META:                 # no interval of its own: [META_FLOOR, 0]
            return (lo is None or lo <= 0) and (hi is None or hi >= META_FLOOR)
        if var == LEN:
            if lo is not None and lo > self.min_len:
                self.min_len = min(lo, MAX_LEN + 1)
            return self.min_len <= MAX_LEN and (hi is None or hi >= self.min_len)
        if MIRROR <= var < MIRROR + SLOT_BASE:
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
        ident = COPY_LINKS - source
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
            self.caps = forget_caps(self.caps, bits)
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
        for (x, y), (k, lo, hi) in sorted(self.zone.bands.items()):
            parts.append(f"{_name(x, names)}-{k}*{_name(y, names)} in [{lo},{hi}]")
        for x, (y, c, times) in sorted(self.zone.quot.items()):
            parts.append(f"{_name(x, names)}={_name(y, names)}/{c}" + (f"*{c}" if times else ""))
        for x, (y, kind, c) in sorted(self.zone.shifted.items()):
            y_name = f"({_name(y, names)}{c:+d})" if c else _name(y, names)
            parts.append(f"{_name(x, names)}=" +
                         (f"{y_name}<<32" if kind == "shl" else f"sext32({y_name})"
                          if kind == "sext" else f"{_name(y, names)}>>{c}"
                          if kind == "rsh" else f"{y_name}s>>32"))
        for y, (a, e) in sorted(self.zone.scaled.items()):
            parts.append(f"{a}*{_name(y, names)}<=len{e:+d}" if e else
                         f"{a}*{_name(y, names)}<=len")
        for (a, b), c in sorted(self.zone.floors.items()):
            parts.append(f"{_name(a, names)}+{_name(b, names)}>={c}")
        for (a, b), c in sorted(self.zone.ceilings.items()):
            parts.append(f"{_name(a, names)}+{_name(b, names)}<={c}")
        for x, (y, k) in sorted(self.zone.wraps.items()):
            parts.append(f"{_name(x, names)}=({_name(y, names)}{k:+d})%2^32")
        for x, (a, b, k) in sorted(self.zone.plus.items()):
            parts.append(f"{_name(x, names)}={_name(a, names)}+{_name(b, names)}"
                         + (f"{k:+d}" if k else ""))
        for a, b in sorted(self.zone.unequal):
            parts.append(f"{_name(a, names)}!={_name(b, names)}")
        parts += describe_guards(self.zone.guards, lambda var: _name(var, names))
        for f, floors in sorted(self.zone.lenfloors.items()):
            parts.append(f"len>=" + "|".join(f"{m} when {_name(f, names)} in [{lo},{hi}]"
                                             for lo, hi, m in floors))
        for x, c in sorted(self.zone.ifset.items()):
            parts.append(f"{_name(x, names)}<=len{c:+d} if not NULL")
        for lo, hi in byte_runs(self.remnants):
            parts.append(f"part of a pointer at r10{lo:+d}..r10{hi - 1:+d}")
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




def _given_back(v: Value) -> Value:
    """What a register or slot holding a reference given back holds: nothing usable."""
    return Value(UNINIT, ident=RELEASED if v.kind in SOCKETS else GIVEN_BACK)
