"""Difference constraints between the verifier's variables: x - y <= c.

The variables are numbered (registers, spilled stack slots, the buffer length; see
bpfjit.verifier.state) and denote mathematical integers: a scalar's signed value or a
pointer's offset.  A zone (a difference-bound matrix, as in PREVAIL) keeps the
relations that intervals alone lose across loop iterations: `i + 64 <= n`,
`n <= len`, `p == q - 14`, `j < m`.  Constraints are only added where the program's
arithmetic cannot wrap, so they hold of the real 64-bit values.

The matrix is sparse (only related pairs are stored) and kept closed: adding x - y <= c
also tightens every i - j through it, so a bound between two variables is always one
lookup away and joins can be taken pair by pair.  Rows are shared between copies and
copied on first write, because states are copied at every branch.

A zone also relates what remains of the buffer after a value: the mirror variable
`MIRROR + x` is len - x.  `while (end - p >= 16)`, or a (pointer, size) pair with
`ptr + size <= len`, is a sum of two unknowns, out of a zone's reach, but it is a
difference with a mirror (`size - (len - ptr) <= 0`).  Mirrors follow their variable:
copied with it, shifted opposite to it, forgotten with it.

Beside the differences, a zone keeps affine equalities x == a * y + b (|a| >= 2) between
pairs of variables that move in lockstep with different strides: clang's loops count
`i += 8` while a pointer moves `p += 16`, and only p == 2 * i + base bounds p by i's
exit test.  They are found where two paths meet with different constants (the entry
and the first way round a loop) and kept while both variables only move by constants.

Sums are out of a zone's reach, but two kinds are kept beside it: a floor a + b >= c
and a ceiling a + b <= c.  clang turns `for (i = n - 4; i >= 0; i--) p[i]` into a base
b = n - 4 and a counter a = 0, -1, -2, ... tested as `b + a + 1 > 0` in a register of its
own; the floor is what that test says once the register is reused, and what bounds
`p + b + a` below.  A copy of `run` bytes after `n + run <= 256` counts n up and run
down: the ceiling n + run <= 256 holds on every trip and bounds n while run >= 1.
"""

from __future__ import annotations

from typing import Callable, Optional

from .bands import assign_bands, forget_bands, shift_bands
from .guards import copy_guards, drop_guards, moved_floors

__all__ = ["Zone", "MIRROR", "mirror"]

Bound = Optional[int]
# relations with a larger constant are not worth keeping: `x <= y + 4294967289` between
# two 32-bit values says almost nothing, and such bounds multiply through the closure
MAX_RELATION = 1 << 31
MIRROR = 20000        # MIRROR + x: len - x (see above)
LEN_VAR = 11          # the buffer length (bpfjit.verifier.state.LEN)
_PLAIN = 10000        # registers, slots and len are below; ghosts and mirrors above




def mirror(x: int) -> int:
    return MIRROR + x


class Zone:
    """Closed difference constraints; `out[x][y] = c` means x - y <= c."""

    __slots__ = ("guards", "out", "owned", "affine", "quot", "sums", "mirrored", "shifted",
                 "scaled", "halves", "floors", "ceilings", "plus", "wraps", "ifset",
                 "lenfloors", "bands", "midsums", "unequal", "masked")

    def __init__(self, out: dict | None = None, affine: dict | None = None,
                 quot: dict | None = None, sums: dict | None = None,
                 mirrored: set | None = None, shifted: dict | None = None,
                 scaled: dict | None = None, halves: dict | None = None,
                 floors: dict | None = None, plus: dict | None = None,
                 wraps: dict | None = None, guards: dict | None = None,
                 ifset: dict | None = None, lenfloors: dict | None = None,
                 ceilings: dict | None = None, bands: dict | None = None,
                 midsums: dict | None = None, unequal: dict | None = None,
                 masked: dict | None = None):
        self.out: dict[int, dict[int, int]] = {} if out is None else out
        self.owned: set[int] = set()          # rows this zone may change in place
        # (x, y) -> (a, b): x == a * y + b
        self.affine: dict[tuple[int, int], tuple[int, int]] = {} if affine is None else affine
        # (x, y) -> (k, lo, hi): x - k * y in [lo, hi], registers only (bpfjit.verifier.bands)
        self.bands: dict[tuple[int, int], tuple[int, int, int]] = {} if bands is None else bands
        # x -> (y, c, times): x == y // c (unsigned), times c when `times`: half of the
        # `y - y / c * c` that compilers emit for `y % c`
        self.quot: dict[int, tuple[int, int, bool]] = {} if quot is None else quot
        # x -> (a, b): x == a + b (for what a comparison of x with len says of a and b)
        self.sums: dict[int, tuple[int, int]] = {} if sums is None else sums
        # variables whose mirror may be related to something
        self.mirrored: set[int] = set() if mirrored is None else mirrored
        # x -> (y, "shl"): x == y << 32, y in [0, 2^32): half of a 32-bit extension whose
        # two shifts clang moved apart (`lsh r, 32` ... `rsh r, 32` gives y back);
        # x -> (y, "sext"): x == y sign-extended from 32 bits (`arsh r, 32` of the
        # former), which is y itself once a branch shows x >= 0; x -> (y, "upper"): x == y
        # s>> 32, y's low half 0 (`arsh r, 32` of a copy of an `lsh r, 32`), so y is
        # within x's range << 32 (a branch on x bounds y); x -> (y, "rsh", k): x == y >> k,
        # the same 64 bits (y >>= k later makes y equal to x: bpfjit.verifier.extensions).
        # The third field of the others is c: (y + c) in place of y
        self.shifted: dict[int, tuple[int, str, int]] = {} if shifted is None else shifted
        # y -> (a, e): a * y <= len + e (a >= 2): what `8 * n + 1 <= len` says of n once
        # the register that held the product is reused
        self.scaled: dict[int, tuple[int, int]] = {} if scaled is None else scaled
        # x -> (a, b, e): x == floor((a - b) / 2^e), with a - b >= 0 (e < 0: times
        # 2^-e, exactly): a binary search's `lo + ((hi - lo) >> 1)` on its way, which
        # then lies between lo and hi (bpfjit.verifier.alu)
        self.halves: dict[int, tuple[int, int, int]] = {} if halves is None else halves
        # x -> (a, b): x == (a + b) & ~1, with a + b >= 0 and exact: a midpoint `(lo + hi)
        # / 2` on its way (clang rounds the sum down to even before `>> 1`), which then
        # lies between a and b (bpfjit.verifier.alu)
        self.midsums: dict[int, tuple[int, int]] = {} if midsums is None else midsums
        # x -> (a, b, e, k): a halves fact (a, b, e) of x rounded down to a multiple of
        # 2^k (clang's u32 `(hi - lo) / 2` as `(hi - lo) & 0xfffffffe` then `>> 1`), a
        # halves fact again once x is shifted right by k or more (bpfjit.verifier.alu)
        self.masked: dict[int, tuple[int, int, int, int]] = {} if masked is None else masked
        # (a, b) -> c, a < b: a + b >= c (see the module docstring)
        self.floors: dict[tuple[int, int], int] = {} if floors is None else floors
        # (a, b) -> c, a < b: a + b <= c
        self.ceilings: dict[tuple[int, int], int] = {} if ceilings is None else ceilings
        # x -> (a, b, k): x == a + b + k, for what a branch on x says of a + b
        self.plus: dict[int, tuple[int, int, int]] = {} if plus is None else plus
        # x -> (y, k): x == (y + k) mod 2^32, a 32-bit add that may have wrapped (clang's
        # `n - 1` computed before the test `n != 0`): exactly y + k once a branch shows
        # y + k in [0, 2^32) (bpfjit.verifier.branches)
        self.wraps: dict[int, tuple[int, int]] = {} if wraps is None else wraps
        # (v, f) -> the values of number f where v is NULL, and where it is not
        # (bpfjit.verifier.guards); forgotten with either variable
        self.guards: dict = {} if guards is None else guards
        # v -> c: v - len <= c wherever v, a buffer pointer or NULL, is not NULL (what
        # each path that set it had checked: `tcp + 1 > data_end` on the TCP path, NULL
        # on the others); its NULL test gives it back (bpfjit.verifier.branches)
        self.ifset: dict[int, int] = {} if ifset is None else ifset
        # f -> ((lo, hi, m), ...): where f was in [lo, hi], len >= m on every path here
        # (bpfjit.verifier.guards, len floors); forgotten with f or len, moved with f
        self.lenfloors: dict[int, tuple] = {} if lenfloors is None else lenfloors
        # (x, y) -> True, x < y: x != y, from a `!=` edge that could not yet make a
        # comparison strict; a later `x <= y` on the same path is `x < y` (`if (s == k)
        # break; if (s < k) lo = s + 1; else hi = s - 1;`: s > k there, so s >= 1)
        self.unequal: dict[tuple[int, int], bool] = {} if unequal is None else unequal

    # copy and __eq__ name each side table rather than loop over their names: both run
    # at every branch, and a loop of getattr made them 1.5-2x slower
    def copy(self) -> "Zone":
        self.owned = set()                    # rows are shared from now on
        return Zone(dict(self.out), dict(self.affine) if self.affine else None,
                    dict(self.quot) if self.quot else None,
                    dict(self.sums) if self.sums else None,
                    set(self.mirrored) if self.mirrored else None,
                    dict(self.shifted) if self.shifted else None,
                    dict(self.scaled) if self.scaled else None,
                    dict(self.halves) if self.halves else None,
                    dict(self.floors) if self.floors else None,
                    dict(self.plus) if self.plus else None,
                    dict(self.wraps) if self.wraps else None,
                    dict(self.guards) if self.guards else None,
                    dict(self.ifset) if self.ifset else None,
                    dict(self.lenfloors) if self.lenfloors else None,
                    dict(self.ceilings) if self.ceilings else None,
                    dict(self.bands) if self.bands else None,
                    dict(self.midsums) if self.midsums else None,
                    dict(self.unequal) if self.unequal else None,
                    dict(self.masked) if self.masked else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Zone) and self.out == other.out and self.same_tables(other)

    def same_tables(self, other: "Zone") -> bool:
        """Whether every side table but the differences themselves (`out`) is the same."""
        return self.affine == other.affine and self.bands == other.bands \
            and self.quot == other.quot \
            and self.sums == other.sums and self.shifted == other.shifted \
            and self.scaled == other.scaled and self.halves == other.halves \
            and self.midsums == other.midsums \
            and self.floors == other.floors and self.ceilings == other.ceilings \
            and self.plus == other.plus \
            and self.wraps == other.wraps and self.guards == other.guards \
            and self.ifset == other.ifset and self.lenfloors == other.lenfloors \
            and self.unequal == other.unequal and self.masked == other.masked

    def __repr__(self) -> str:
        return "Zone(" + ", ".join(f"v{x}-v{y}<={c}" for x, row in sorted(self.out.items())
                                   for y, c in sorted(row.items())) + ")"

    def _row(self, x: int) -> dict[int, int]:
        row = self.out.get(x)
        if row is None:
            row = self.out[x] = {}
            self.owned.add(x)
        elif x not in self.owned:
            row = self.out[x] = dict(row)
            self.owned.add(x)
        return row

    # ---- queries -------------------------------------------------------------------------

    def bound(self, x: int, y: int) -> Bound:
        """The least c known with x - y <= c, or None."""
        row = self.out.get(x)
        return None if row is None else row.get(y)

    def floor(self, a: int, b: int) -> Bound:
        """The greatest c known with a + b >= c, or None."""
        return self.floors.get((a, b) if a < b else (b, a)) if self.floors else None

    def ceiling(self, a: int, b: int) -> Bound:
        """The least c known with a + b <= c, or None."""
        return self.ceilings.get((a, b) if a < b else (b, a)) if self.ceilings else None

    def learn_floor(self, a: int, b: int, c: int) -> None:
        """Learn a + b >= c (a and b distinct variables below the mirrors)."""
        key = (a, b) if a < b else (b, a)
        old = self.floors.get(key)
        if old is None or c > old:
            self.floors[key] = c

    def known_unequal(self, a: int | None, b: int | None) -> bool:
        """Whether a != b was learned (by a `!=` edge) and neither has changed since."""
        return bool(self.unequal) and a is not None and b is not None \
            and ((a, b) if a < b else (b, a)) in self.unequal

    def learn_unequal(self, a: int, b: int) -> None:
        """Learn a != b (a and b distinct variables)."""
        self.unequal[(a, b) if a < b else (b, a)] = True

    def learn_ceiling(self, a: int, b: int, c: int) -> None:
        """Learn a + b <= c (a and b distinct variables below the mirrors)."""
        key = (a, b) if a < b else (b, a)
        old = self.ceilings.get(key)
        if old is None or c < old:
            self.ceilings[key] = c

    def offsets(self, x: int) -> list[tuple[int, int]]:
        """(y, d) for every variable y known to hold exactly x - d (x == y + d)."""
        return [(y, d) for y, d in self.out.get(x, {}).items()
                if y < _PLAIN and y != LEN_VAR and self.bound(y, x) == -d]

    def related(self, x: int) -> list[tuple[int, Bound, Bound]]:
        """(y, bound of x - y, bound of y - x) for every y related to x."""
        found = {y: [c, None] for y, c in self.out.get(x, {}).items()}
        for y, row in self.out.items():
            c = row.get(x)
            if c is not None:
                found.setdefault(y, [None, None])[1] = c
        return [(y, up, down) for y, (up, down) in found.items()]

    def has_edge(self, x: int, y: int) -> bool:
        """Whether x and y are related (either way)."""
        row = self.out.get(x)
        if row is not None and y in row:
            return True
        row = self.out.get(y)
        return row is not None and x in row

    # ---- changes -------------------------------------------------------------------------

    def forget(self, x: int) -> None:
        """x takes a value unrelated to anything (and so does its mirror)."""
        self._forget(x)
        if x in self.mirrored:
            self._forget(MIRROR + x)
            self.mirrored.discard(x)

    def _forget(self, x: int) -> None:
        if self.guards:
            drop_guards(self.guards, x)
        if self.ifset:
            self._forget_ifset(x)
        if self.lenfloors:
            if x == LEN_VAR:
                self.lenfloors.clear()
            else:
                self.lenfloors.pop(x, None)
        if self.sums:
            self._forget_sums(x)
        if self.floors or self.ceilings:
            self._forget_sum_bounds(x)
        if self.plus:
            self._forget_plus(x)
        if self.wraps:
            self._forget_wraps(x)
        if self.unequal:
            self._forget_unequal(x)
        if self.halves or self.masked:
            self._forget_halves(x)
        if self.midsums:
            self._forget_midsums(x)
        if self.affine:
            self._forget_affine(x)
        if self.bands:
            forget_bands(self.bands, x)
        if self.quot:
            self._forget_quot(x)
        if self.shifted:
            self._forget_shifted(x)
        if self.scaled:
            if x == LEN_VAR:
                self.scaled.clear()
            else:
                self.scaled.pop(x, None)
        if self.out.pop(x, None) is not None:
            self.owned.discard(x)
        for y in [y for y, row in self.out.items() if x in row]:
            row = self._row(y)
            del row[x]
            if not row:
                del self.out[y]
                self.owned.discard(y)

    def _forget_ifset(self, x: int) -> None:
        """x moved or forgotten: its bound where not NULL goes (all of them with len)."""
        if x == LEN_VAR:
            self.ifset.clear()
        else:
            self.ifset.pop(x, None)

    def _forget_unequal(self, x: int) -> None:
        for key in [k for k in self.unequal if x in k]:
            del self.unequal[key]

    def _forget_wraps(self, x: int) -> None:
        for key in [k for k, (y, _) in self.wraps.items() if x in (k, y)]:
            del self.wraps[key]

    def _forget_sum_bounds(self, x: int) -> None:
        """Drop x's floors and ceilings, each passed on to a variable that still holds
        x + d: clang reuses a loop's base register at its exit while a slot keeps the
        value."""
        heirs = None
        for table, learn in ((self.floors, self.learn_floor),
                             (self.ceilings, self.learn_ceiling)):
            doomed = [k for k in table if x in k]
            if doomed and heirs is None:
                heirs = self.offsets(x)
            for key in doomed:
                f = table.pop(key)
                z = key[1] if key[0] == x else key[0]
                for y, d in heirs:      # x + z >= f (<= f), x == y + d: y + z >= f - d
                    if y != z:
                        learn(y, z, f - d)

    def assign(self, x: int, y: int, c: int = 0) -> None:
        """x := y + c (x and y distinct); x's mirror becomes y's mirror - c."""
        self.forget(x)
        self._assign(x, y, c)
        if c == 0 and self.shifted and y in self.shifted:
            self.shifted[x] = self.shifted[y]
        if c == 0 and self.quot and y in self.quot:
            # a copy of a quotient (or of a quotient multiplied back) is one too: clang
            # divides in one register and multiplies back in a copy (`r5 = r2; r5 *= 9`)
            self.quot[x] = self.quot[y]
        if self.scaled and y in self.scaled:        # a * (y + c) <= len + e + a * c
            a, e = self.scaled[y]
            self.scaled[x] = (a, e + a * c)
        if y in self.mirrored and x < MIRROR and y < MIRROR:
            self._assign(MIRROR + x, MIRROR + y, -c)
            self.mirrored.add(x)
        if y >= MIRROR and x < MIRROR:   # x = len - v + c, so len - x = v - c
            self.mirrored.add(y - MIRROR)
            self._assign(MIRROR + x, y - MIRROR, -c)
            self.mirrored.add(x)

    def _assign(self, x: int, y: int, c: int) -> None:
        self._forget(x)
        incoming = [(z, row[y]) for z, row in self.out.items() if y in row]
        row_x = self._row(x)
        for z, b in self.out.get(y, {}).items():         # y - z <= b  =>  x - z <= b + c
            if z != x:
                row_x[z] = b + c
        for z, a in incoming:                             # z - y <= a  =>  z - x <= a - c
            if z != x:
                self._row(z)[x] = a - c
        row_x[y] = c
        self._row(y)[x] = -c
        if self.guards:
            copy_guards(self.guards, x, y, c)
        if self.lenfloors and y in self.lenfloors:
            self.lenfloors[x] = moved_floors(self.lenfloors[y], c)
        for table, learn in ((self.floors, self.learn_floor),
                             (self.ceilings, self.learn_ceiling)):
            # x == y + c: y + z >= f (<= f) gives x + z >= f + c (<= f + c)
            for (u, v), f in list(table.items()) if table else ():
                if y in (u, v):
                    z = v if u == y else u
                    if z != x:
                        learn(x, z, f + c)
        if self.plus and y in self.plus and x not in self.plus[y][:2]:
            a, b, k = self.plus[y]
            self.plus[x] = (a, b, k + c)
        if self.affine:                   # x == y + c inherits y's affine equalities
            for (u, v), (a, b) in list(self.affine.items()):
                if u == y:
                    self.affine[(x, v)] = (a, b + c)
                elif v == y:
                    self.affine[(u, x)] = (a, b - a * c)
        if self.bands:
            assign_bands(self.bands, x, y, c)

    def shift(self, x: int, lo: Bound, hi: Bound) -> None:
        """x := x + d for some d in [lo, hi] (None: unbounded on that side); its mirror
        moves the other way."""
        self._shift(x, lo, hi)
        if x in self.mirrored:
            self._shift(MIRROR + x, None if hi is None else -hi, None if lo is None else -lo)

    def _shift(self, x: int, lo: Bound, hi: Bound) -> None:
        if self.ifset and (lo != 0 or hi != 0):
            self._forget_ifset(x)
        if self.lenfloors and (lo != 0 or hi != 0):
            if x == LEN_VAR:
                self.lenfloors.clear()
            elif x in self.lenfloors:
                if lo is not None and lo == hi:
                    self.lenfloors[x] = moved_floors(self.lenfloors[x], lo)
                else:
                    del self.lenfloors[x]
        if self.guards and (lo != 0 or hi != 0):
            drop_guards(self.guards, x)
        if self.sums:
            self._forget_sums(x)
        if self.floors:                   # x + z >= f, x moved by at least lo
            for key in [k for k in self.floors if x in k]:
                if lo is None:
                    del self.floors[key]
                else:
                    self.floors[key] += lo
        if self.ceilings:                 # x + z <= f, x moved by at most hi
            for key in [k for k in self.ceilings if x in k]:
                if hi is None:
                    del self.ceilings[key]
                else:
                    self.ceilings[key] += hi
        if self.wraps:
            self._forget_wraps(x)
        if self.unequal and (lo != 0 or hi != 0):
            self._forget_unequal(x)
        if self.plus:
            exact = lo is not None and lo == hi
            for key, (a, b, k) in list(self.plus.items()):
                if x == key or x in (a, b):
                    if not exact:
                        del self.plus[key]
                    else:
                        self.plus[key] = (a, b, k + lo if x == key else k - lo)
        if self.halves or self.masked:
            self._forget_halves(x)
        if self.midsums and (lo != 0 or hi != 0):
            self._forget_midsums(x)
        if self.affine:
            if lo is not None and lo == hi:
                for (u, v), (a, b) in list(self.affine.items()):
                    if u == x:
                        self.affine[(u, v)] = (a, b + lo)
                    elif v == x:
                        self.affine[(u, v)] = (a, b - a * lo)
            else:
                self._forget_affine(x)
        if self.bands:
            shift_bands(self.bands, x, lo, hi)
        if self.quot and (lo != 0 or hi != 0):
            self._forget_quot(x)
        if self.shifted and (lo != 0 or hi != 0):
            self._forget_shifted(x)
        if self.scaled:
            if x == LEN_VAR and (lo != 0 or hi != 0):
                self.scaled.clear()
            elif x in self.scaled:
                if lo is not None and lo == hi:     # a * (x + s) <= len + e + a * s
                    a, e = self.scaled[x]
                    self.scaled[x] = (a, e + a * lo)
                elif hi is None or hi > 0:          # x may grow
                    del self.scaled[x]
        row = self.out.get(x)
        if row:
            if hi is None:
                del self.out[x]
                self.owned.discard(x)
            elif hi:
                row = self._row(x)
                for z in row:
                    row[z] += hi
        for z in [z for z, r in self.out.items() if x in r]:
            r = self._row(z)
            if lo is None:
                del r[x]
                if not r:
                    del self.out[z]
                    self.owned.discard(z)
            elif lo:
                r[x] -= lo

    def keep_upper(self, x: int) -> None:
        """x := something at most x: bounds on x - z still hold, bounds on z - x do not."""
        self.shift(x, None, 0)

    def add(self, x: int, y: int, c: int) -> bool:
        """Learn x - y <= c and close over it; False when that contradicts the zone.
        The mirrors learn it too: (len - y) - (len - x) <= c."""
        if x == y:
            return c >= 0
        for v in (x, y):
            if v >= MIRROR:
                self.mirrored.add(v - MIRROR)
        if not self._add(x, y, c):
            return False
        if (x in self.mirrored or y in self.mirrored) and x < _PLAIN and y < _PLAIN \
                and LEN_VAR not in (x, y):
            self.mirrored.update((x, y))
            return self._add(MIRROR + y, MIRROR + x, c)
        return True

    def _add(self, x: int, y: int, c: int) -> bool:
        old = self.bound(x, y)
        if old is not None and old <= c:
            return True
        back = self.bound(y, x)
        if back is not None and back + c < 0:
            return False
        # every i with i - x <= a, every j with y - j <= b: i - j <= a + c + b
        out = self.out
        into_x = [(i, row[x]) for i, row in out.items() if x in row]
        into_x.append((x, 0))
        from_y = list(out.get(y, {}).items())
        from_y.append((y, 0))
        for i, a in into_x:
            a += c
            row = out.get(i)
            mine = False            # row is i's own (copied on first write)
            for j, b in from_y:
                bound = a + b
                if i == j:
                    if bound < 0:
                        return False
                    continue
                if bound >= MAX_RELATION or bound <= -MAX_RELATION:
                    continue
                if row is None or row.get(j, bound + 1) > bound:
                    if not mine:
                        row, mine = self._row(i), True
                    row[j] = bound
        return True

    def drop_where(self, keep: Callable[[int], bool]) -> None:
        """Forget every variable for which keep(v) is false."""
        doomed = {x for x in self.out if not keep(x)}
        for row in self.out.values():
            doomed.update(y for y in row if not keep(y))
        for pair in list(self.floors) + list(self.ceilings) \
                + [(k,) + ab[:2] for k, ab in self.plus.items()] \
                + [(k, y) for k, (y, _) in self.wraps.items()] + list(self.guards) \
                + list(self.bands) + list(self.unequal) \
                + [(k, a, b) for k, (a, b, _, _) in self.masked.items()]:
            doomed.update(v for v in pair if not keep(v))
        if self.ifset:              # (bounds against len: gone with len)
            doomed.update(v for v in self.ifset if not keep(v))
            if not keep(LEN_VAR):
                self.ifset.clear()
        if self.lenfloors:
            doomed.update(v for v in self.lenfloors if not keep(v))
            if not keep(LEN_VAR):
                self.lenfloors.clear()
        for x in doomed:
            self.forget(x)

    # ---- affine equalities -------------------------------------------------------------------

    def _forget_affine(self, x: int) -> None:
        for key in [k for k in self.affine if x in k]:
            del self.affine[key]

    def _forget_quot(self, x: int) -> None:
        """Drop the quotients that name x; one that x held goes to a variable equal to
        x, which holds it as well: clang keeps `len & -4` in a register it then reuses
        for `len & 3`, its copy in the tail pointer's offset (MurmurHash's tail)."""
        held = self.quot.get(x)
        for key in [k for k, (y, _, _) in self.quot.items() if x in (k, y)]:
            del self.quot[key]
        if held is not None and held[0] != x:
            stand_in = self.equal_to(x)
            if stand_in is not None and stand_in not in self.quot and stand_in != held[0]:
                self.quot[stand_in] = held

    def _forget_shifted(self, x: int) -> None:
        for key in [k for k, (y, *_) in self.shifted.items() if x in (k, y)]:
            del self.shifted[key]

    def _forget_halves(self, x: int) -> None:
        for key in [k for k, (a, b, _) in self.halves.items() if x in (k, a, b)]:
            del self.halves[key]
        if self.masked:
            for key in [k for k, (a, b, _, _) in self.masked.items() if x in (k, a, b)]:
                del self.masked[key]

    def _forget_midsums(self, x: int) -> None:
        for key in [k for k, (a, b) in self.midsums.items() if x in (k, a, b)]:
            del self.midsums[key]

    def _forget_plus(self, x: int) -> None:
        """Drop the facts k == a + b + c that name x, or name instead a variable equal
        to x, which keeps them: clang's `n = end - i` tested after i's register was
        reused, its copy `p = mem + i` kept (corpus isodate's `p[19]` once n == 20)."""
        facts = [(k, f) for k, f in self.plus.items() if x in (k, f[0], f[1])]
        for key, _ in facts:
            del self.plus[key]
        found = self.equal_plus(x)
        if found is None or found[0] == x:
            return
        # a variable y == x - d stands in, the constant moved by d: clang steps a copy
        # of a counter and then moves it back (`r4 += 1; r3 = r4`)
        stand_in, d = found
        for key, (a, b, c) in facts:
            c = c - d if key == x else c + d
            key, a, b = (stand_in if v == x else v for v in (key, a, b))
            if len({key, a, b}) == 3 and key not in self.plus:
                self.plus[key] = (a, b, c)

    def _forget_sums(self, x: int) -> None:
        for key in [k for k, (a, b) in self.sums.items() if x in (k, a, b)]:
            del self.sums[key]

    def record_plus(self, x: int, a: int, b: int, k: int) -> None:
        """Learn x == a + b + k, for a pointer x; another sum of the same two variables
        (or of variables equal to them), z == a + b + j, makes x - z == k - j exactly:
        clang computes `p + o + 1` for the end test and `o + p`, then + 1, for the next
        position, which the test then bounds.  (Sums of numbers are recorded without
        this: related so, corpus shell's index lost four proofs through its joins.)"""
        self.plus[x] = (a, b, k)
        for z, (u, v, j) in list(self.plus.items()):
            moved = self.terms_offset(a, b, u, v) if z != x else None
            if moved is not None and abs(k + moved - j) < 1 << 31:
                self.add(x, z, k + moved - j)
                self.add(z, x, j - k - moved)

    def terms_offset(self, a: int, b: int, u: int, v: int) -> int | None:
        """c with a + b == u + v + c, where the zone shows each of a, b an exact offset
        of one of u, v (either order); None if it does not."""
        for p, q in ((u, v), (v, u)):
            c, d = self.difference(a, p), self.difference(b, q)
            if c is not None and d is not None:
                return c + d
        return None

    def difference(self, x: int, y: int) -> int | None:
        """c with x == y + c exactly, if the zone shows one."""
        if x == y:
            return 0
        up, down = self.bound(x, y), self.bound(y, x)
        return up if up is not None and down is not None and up == -down else None

    def equal_to(self, x: int) -> int | None:
        """A variable known to hold exactly x's value, if any."""
        found = self.equal_plus(x)
        return found[0] if found is not None and found[1] == 0 else None

    def equal_plus(self, x: int) -> tuple[int, int] | None:
        """(y, c) with x == y + c exactly (|c| < 2^31), y == x's value preferred."""
        found = None
        for y, c in self.out.get(x, {}).items():
            if self.bound(y, x) == -c and abs(c) < 1 << 31:
                if c == 0:
                    return y, 0
                found = found or (y, c)
        return found

    def add_affine(self, x: int, y: int, a: int, b: int) -> None:
        """Learn x == a * y + b."""
        self.affine[(x, y)] = (a, b)
