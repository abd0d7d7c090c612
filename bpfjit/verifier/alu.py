"""ALU instructions in the abstract: the destination's new value and its relations.

The interval comes from bpfjit.verifier.intervals; what this module adds is how the
destination stays related to other variables in the zone.  A copy keeps every
relation of its source; adding a known range shifts them; and, shifting right,
dividing and taking a remainder of a non-negative value only lower it, so its upper
relations survive (`n = min(len, 4096) & ~63` is still at most len).  Subtracting a
value from len gives what remains after it (its mirror, len - x), and adding two values
is remembered so that a later test of the sum against len bounds each against what
remains after the other.  Relations are only kept where the 64-bit (or 32-bit)
arithmetic cannot wrap.
"""

from __future__ import annotations

from .. import semantics as sem
from ..isa import (FRAME_ALIGN_BITS, LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, LDDW_PSEUDO, Kind,
                   written_registers)
from .domain import (BIG, COPIED_AT, CTX, FUNC, M32, MAP_OR_NULL, MAP_PTR, MAP_VALUE, MEM,
                     MEM_OR_NULL, MIXED, NUMERIC, SOCKETS, S64_MIN, SCALAR, STACK, U64, UNINIT,
                     Value, const, offset_align, pointer, same_region, scalar, top_scalar)
from .intervals import alu_result, fits_signed
from .state import LEN, State
from .sumbounds import sum_ceiling, sum_floor
from .zone import MIRROR

__all__ = ["AluRules"]

_REGIONS = (MEM, STACK, CTX)       # pointers whose differences are offsets (same_region)


def _signed(value: int, width: int = 64) -> int:
    return sem.sext(value, width)


def _bounded(v: Value) -> bool:
    return -BIG < v.smin and v.smax < BIG


def _remainder_of_quotient(zone, dst: int, src: Value, width: int,
                           old: Value | None) -> tuple[int, int] | None:
    """(whole, q) when `dst & (2^k - 1)` takes the low bits of a copy of `whole` whose
    rounded-down multiple q == whole & -2^k another variable holds (zone.quot): then
    whole == q + dst, exactly, so a branch on dst bounds whole - q
    (branches._bound_terms).  A hash's tail after its four-byte blocks: `switch (n & 3)`
    reads p[n & -4 .. n - 1], below n only by that sum."""
    if not src.is_const or src.umin == 0 or src.umin & (src.umin + 1) \
            or (width == 32 and (old is None or old.umax > M32)):
        return None
    whole = zone.equal_to(dst)
    if whole is None or whole in zone.plus:
        return None
    for q, (y, n, times) in zone.quot.items():
        if times and y == whole and n == src.umin + 1 and q not in (dst, whole):
            return whole, q
    return None


def _low_mask(m: int) -> int:
    """k when m (a 64-bit mask) is ~(2**k - 1): clearing the low k bits; else -1."""
    low = (~m) & U64
    return low.bit_length() if low & (low + 1) == 0 and low != U64 else -1


def _summed_pair(zone, x: int) -> tuple[int, int] | None:
    """(a, b) when x == a + b exactly, or (a + b) & ~1 (zone.midsums): the sum whose
    half a `>> 1` of x is about to take."""
    if zone.midsums and x in zone.midsums:
        return zone.midsums[x]
    fact = zone.plus.get(x) if zone.plus else None
    return fact[:2] if fact is not None and fact[2] == 0 else None


def _between(st: State, mid: int, a: int, b: int) -> None:
    """mid == floor((a + b) / 2): with a <= b + g (g <= 0), a <= mid <= b + floor(g / 2)
    (so mid < b when a < b: a binary search's `(lo + hi) / 2`), and alike with a and b
    swapped."""
    for x, y in ((a, b), (b, a)):
        g = st.bound(x, y)
        if g is not None and g <= 0:
            st.zone.add(x, mid, 0)
            st.zone.add(mid, y, g // 2)


def _inherit_affine(zone, dst: int, y: int, c: int) -> None:
    """dst, a stack pointer, now has offset y + c exactly (c constant): it takes y's
    affine equalities y == a * v + b as dst == a * v + b + c (a row pointer made from
    `4 * j`, which then steps with j).  A buffer pointer has its mirrors for that, and
    the entries cost a sixth more work in the joins of a program of such pointers, so
    it takes them only where a quotient or a scaled count could bound it through them
    (`mem + 4 * w` for w < len / 4, once the register that held 4 * w is reused)."""
    for (u, v), (a, b) in list(zone.affine.items()):
        if u == y and v != dst:
            zone.affine[(dst, v)] = (a, b + c)


def _remaining_facts(zone, op: str, dst: int, src: int) -> tuple:
    """Before `dst += src` or `dst -= src`: what the mirrors (len - x) and equalities
    say of the result's distance to len, to be applied once dst has its new value.

    For an addition dst' = dst + src:  dst' - len = src - (len - dst) = dst - (len - src),
    and len - dst' = (len - dst) - src = (len - src) - dst; so a bound of src against
    dst's mirror (or the other way round) bounds dst' against len.  A subtraction from
    a value equal to len + k is a mirror itself: dst' = (len - src) + k."""
    if op == "add":
        up = [b for b in (zone.bound(src, MIRROR + dst), zone.bound(dst, MIRROR + src))
              if b is not None]
        down = [b for b in (zone.bound(MIRROR + dst, src), zone.bound(MIRROR + src, dst))
                if b is not None]
        # and through one other variable k: src - k <= a and k - (len - dst) <= b give
        # src - (len - dst) <= a + b (a loop head's join keeps both facts, `i < n` and
        # `n <= len - p`, but not always the one they imply: on the way in, i < n came
        # from intervals, which the sparse zone does not close over)
        for k, a, d in zone.related(src):
            if a is not None and k < MIRROR:
                b = zone.bound(k, MIRROR + dst)
                if b is not None:
                    up.append(a + b)
            if d is not None and k < MIRROR:
                b = zone.bound(MIRROR + dst, k)
                if b is not None:
                    down.append(b + d)
        return ("add", min(up) if up else None, min(down) if down else None,
                zone.equal_to(dst))
    k = zone.bound(dst, LEN)
    if k is not None and zone.bound(LEN, dst) == -k:
        return ("len-minus", k)
    return None


def _complement(st: State, width: int, dst: int, old: Value, src: Value,
                result: Value) -> bool:
    """`x ^ -1` (64-bit) is -x - 1: an exact sum with every variable the old x
    equalled (x == y + d: dst + y == -1 - d), kept as a floor and a ceiling, as neg
    leaves it (clang writes `len - 1 - w` as `~w + len`).  True when this was one."""
    if width != 64 or src.umin != U64:
        return False
    copies = [(y, d) for y, d in st.zone.offsets(dst) if y < MIRROR]
    exact = scalar(smin=-old.smax - 1, smax=-old.smin - 1)
    st.forget_register(dst, exact if not exact.empty else result)
    for y, d in copies:
        st.zone.learn_floor(dst, y, -1 - d)
        st.zone.learn_ceiling(dst, y, -1 - d)
    return True


def _len_plus_negation(zone, dst: int, src: int) -> list[tuple[int, int]]:
    """Before `dst += src`, one of them equal to len and the other to c - y exactly
    (a floor and a ceiling of its sum with y, both c): each such (y, c), since the
    result is then len - y + c, y's mirror plus c."""
    if not (zone.floors and zone.ceilings):
        return []
    for length, other in ((src, dst), (dst, src)):
        if zone.bound(length, LEN) != 0 or zone.bound(LEN, length) != 0:
            continue
        found = []
        for (a, b), c in zone.floors.items():
            if other in (a, b) and zone.ceilings.get((a, b)) == c:
                y = b if a == other else a
                if y != length and y < MIRROR:
                    found.append((y, c))
        return found
    return []


def _scale(op: str, width: int, old: Value | None, src: Value) -> int:
    """The factor m of `dst := m * dst` for a shift left or a multiplication by a
    constant m >= 2 that cannot wrap (0 otherwise): dst then equals m times what it was
    equal to, an affine equality that a stride's bound can use."""
    if width != 64 or not src.is_const or old is None or old.kind != SCALAR or \
            old.is_const or old.smin < 0:
        return 0
    if op == "lsh" and 1 <= src.umin < 63:
        m = 1 << src.umin
    elif op == "mul" and 2 <= src.umin < 1 << 31:
        m = src.umin
    else:
        return 0
    return m if old.umax * m < 1 << 62 else 0


def _apply_remaining(zone, dst: int, src: int, facts) -> None:
    if facts is None:
        return
    if facts[0] == "len-minus":                   # dst = len + k - src
        k = facts[1]
        zone.add(dst, MIRROR + src, k)
        zone.add(MIRROR + src, dst, -k)
        return
    _, up, down, addend = facts
    if up is not None:
        zone.add(dst, LEN, up)
    if down is not None:
        zone.add(LEN, dst, down)
    if addend is not None and addend != src:      # dst == addend + src, for later tests
        zone.sums[dst] = (addend, src)


def _unwritten(v: Value) -> bool:
    """Whether a register holds what nothing wrote (or a copy of that), rather than a
    value given back or a result a subprogram may not have set (whose copies are refused
    where they are made: the message names the cause)."""
    return v.kind == UNINIT and (v.ident == 0 or v.ident <= COPIED_AT)


def _keeps(old: Value, imm: int, width: int) -> bool:
    """Whether `and` with the immediate `imm` leaves every value `old` may hold as it is:
    a mask of low bits (sign-extended to 64 bits, or cut to 32) covering old's range (a
    32-bit one also zero-extends, so old must fit 32 bits)."""
    mask = imm & (U64 if width == 64 else M32)
    return mask & (mask + 1) == 0 and old.umax <= mask


class AluRules:
    """Mixed into the analysis: ALU, NEG, END and LDDW."""

    def _alu(self, pc: int, insn, st: State) -> None:
        spec = insn.spec
        op, width, dst = spec.op, spec.width, insn.dst
        if op in ("mov", "movsx") and spec.source == "reg" and self.mode != "strict" \
                and _unwritten(st.regs[insn.src]):
            # a copy of a register nothing wrote is one nothing wrote either, refused
            # where it is read (clang -O1 moves a register it sets only later in a loop
            # on the first way round, into one it writes again before reading, or on a
            # path a constant test then leaves); strict mode refuses the copy itself, as
            # the kernel does
            copied = st.regs[insn.src].ident
            st.forget_register(dst, Value(UNINIT, ident=copied if copied <= COPIED_AT
                                          else COPIED_AT - pc))
            return
        if spec.source == "reg":
            src_reg, src = insn.src, self._read(st, insn.src, pc)
        else:
            src_reg, src = None, const(insn.imm)
        old = None if op in ("mov", "movsx") else self._read(st, dst, pc)
        if src_reg == dst and op == "mov" and width == 64:
            return
        if (src.kind in SOCKETS or (old is not None and old.kind in SOCKETS)) and \
                not (op == "mov" and width == 64):
            which = src if src.kind in SOCKETS else old
            self.fail(pc, f"{spec.mnemonic} on a socket pointer ({which.describe()}): only "
                          f"its fields may be read, as the kernel allows")
        if op == "mov" and width == 32 and src.kind == SCALAR and src.umax <= M32 \
                and src_reg is not None:
            # the zero-extension of a number already below 2^32 (clang -mcpu=v3's
            # `w3 = w3` before a loop over w3 bytes) is that number: a copy, relations
            # and all, or nothing at all in place
            if src_reg != dst:
                st.copy_register(dst, src_reg, src)
            return
        if width == 64 and op == "mov":
            if src_reg is not None and st.regs[src_reg].kind == MIXED:
                src = st.regs[src_reg]      # a copy is no use: a helper may take it still
            st.copy_register(dst, src_reg, src)
            return
        if width == 64 and op in ("add", "sub") and st.regs[dst].kind == MIXED \
                and src.kind == SCALAR and not (src_reg is not None
                                                and st.regs[src_reg].kind == MIXED):
            # a pointer on some paths moved by a number is one still (`&state->addr` of a
            # map value or a stack copy): a helper may take it, checked when it runs
            st.forget_register(dst, st.regs[dst])
            return
        if width == 64 and op in ("add", "sub") and st.regs[dst].kind == MEM_OR_NULL \
                and src.is_const and abs(sem.sext(src.umin, 64)) < 1 << 16:
            self._move_maybe_null(st, dst, sem.sext(src.umin, 64) * (1 if op == "add" else -1))
            return
        if width == 64 and op in ("add", "sub") and st.regs[dst].kind == MAP_OR_NULL \
                and src.kind == SCALAR and self.mode != "strict":
            # checked mode: a map value or NULL moved by a number is a pointer on some
            # paths and a number on others (the kernel and strict mode refuse the move)
            st.forget_register(dst, Value(MIXED))
            return
        if op == "and" and src_reg is None and old.kind == SCALAR and \
                _keeps(old, insn.imm, width):
            return          # x & (2^k - 1) of an x below 2^k: x, relations and all
        if op == "and" and width == 64 and src_reg is not None and src_reg != dst \
                and self._lowest_set_bit(st, dst, src_reg, old, src):
            return
        if op == "mov" and width == 32 and src_reg is not None and \
                src.kind in _REGIONS and self._less_a_pointer_next(pc, dst):
            # clang's `(u32)(data_end - data)`: the low half of a pointer, from which the
            # next instruction subtracts a pointer (in 32 bits: only low halves count);
            # the pointer stands for its low half that one step, and the difference of
            # offsets is the result (anything else at pc + 1 turns it into a number)
            st.copy_register(dst, src_reg, src)
            return
        if op == "or" and width == 64 and old is not None and old.kind == STACK \
                and src.kind == SCALAR and 0 <= src.smin and \
                src.umax < 1 << min(offset_align(old), FRAME_ALIGN_BITS):
            # r10 is 8-byte aligned on every engine, so a stack address whose offset is
            # a multiple of 2^k has its k low bits clear, and or-ing fewer bits in adds
            # them: clang's `r8 |= 2` for `&t[i].next` of 4-byte structs (a field of an
            # element, the element's address a multiple of 4), and `r1 |= r2` for
            # `&nxt[p][c]` of a u8 nxt[][4] with c = x & 3 (a suffix automaton's
            # transitions: a stack access again, not one of unknown region)
            self._pointer_arith(pc, st, "add", dst, src_reg, old, src)
            return
        pointers = src.kind != SCALAR or (old is not None and old.kind != SCALAR)
        if pointers:
            if width == 64 and op in ("add", "sub") and old is not None:
                self._pointer_arith(pc, st, op, dst, src_reg, old, src)
            elif op == "sub" and same_region(old, src) and src_reg is not None:
                # `w4 -= w2` of `ctx->data_end - ctx->data` (u32 fields): the low half of
                # the difference of two offsets, which is the difference when it fits
                self._pointer_arith(pc, st, op, dst, src_reg, old, src)
                if not 0 <= st.regs[dst].smin <= st.regs[dst].smax <= M32:
                    st.forget_register(dst, scalar(0, M32))
            else:       # anything else turns a pointer (or map handle) into a number
                self._leak(pc, f"{spec.mnemonic} on a pointer")
                st.forget_register(dst, top_scalar() if width == 64 else scalar(0, M32))
            return
        if op == "rsh" and width == 64 and src_reg is None and insn.imm == 32 \
                and self._low_half_remainder(pc, st, dst):
            return
        link = st.zone.shifted.get(dst) if op in ("rsh", "arsh") and width == 64 and \
            src_reg is None and st.zone.shifted else None
        if link is not None and self._unshift(st, op, dst, insn.imm & 63):
            return
        zone = st.zone
        half = zone.halves.get(dst) if zone.halves else None
        if half is None and zone.masked and op == "rsh" and width == 64 and src_reg is None:
            # a halving rounded down to a multiple of 2^k, shifted right by k or more:
            # the rounding is shifted out, the halving exact again
            rounded = zone.masked.get(dst)
            if rounded is not None and insn.imm & 63 >= rounded[3]:
                half = rounded[:3]
        # (a 32-bit step of numbers below 2^32 that cannot wrap is the 64-bit one: clang
        # -mcpu=v3's `w0 = w6; w0 -= w7; w0 >>= 1; w0 += w7` for `lo + (hi - lo) / 2`)
        whole_width = width == 64 or (old is not None and _unwrapped32(old, src))
        minuend = zone.equal_to(dst) if op == "sub" and whole_width and src_reg is not None \
            and src_reg != dst else None
        scale = _scale(op, width, old, src)
        high = op == "lsh" and width == 64 and src_reg is None and insn.imm & 63 == 32 \
            and old.umax <= M32 and not old.is_const        # dst == whole << 32
        # dst == y + c (clang's v1 counter `r1 = r2 + 1; r2 <<= 32; r3 = r2 >> 32`: r2 is
        # no longer a variable's value, but r1 - 1's)
        equal = st.zone.equal_plus(dst) if scale or high else None
        whole = equal[0] if equal is not None and equal[1] == 0 else None
        # every variable that holds the value (a counter and its copy, say: the copy
        # is the one a loop then steps with the pointer made from the product)
        wholes = [whole] + [y for y, d in st.zone.offsets(dst) if d == 0 and y < 10
                            and y != whole] if scale and whole is not None else ()
        # or a counter minus or plus a constant (clang's `r9 = r5 - 1` doubled into the
        # offset of key[j] while r5 already counts j + 1: dst == 2 * r5 - 2)
        shifted_by = [(y, d) for y, d in st.zone.offsets(dst) if d != 0 and y < 10] \
            if scale and not high and whole is None and equal is not None else ()
        # `arsh x, 32` of a copy of y << 32: x is y's upper half, sign-extended, and
        # what a branch learns of x bounds y (clang's `lsh r6, 32; mov r7, r6; arsh r7,
        # 32; jslt r7, 0; rsh r6, 32` for `if ((int)best < 0)`, best kept zero-extended)
        upper_of = st.zone.equal_to(dst) if link is None and op == "arsh" and width == 64 \
            and src_reg is None and insn.imm & 63 == 32 and old is not None \
            and old.kind == SCALAR and old.align >= 32 else None
        if op == "sub" and src_reg is not None \
                and self._register_remainder(pc, st, width, dst, src_reg, old):
            return
        # (a right shift of a value another variable holds: bpfjit.verifier.extensions)
        count = insn.imm & 63 if op == "rsh" and width == 64 and src_reg is None else 0
        source, twins = self._shift_twins(st, dst, count) if count else (None, ())
        result = alu_result(op, width, old, src, insn.off if op == "movsx" else 0)
        self._relate(st, op, width, dst, src_reg, old, src, result)
        if source is not None or twins:
            self._link_shift_twins(st, dst, count, source, twins)
        if upper_of is not None and upper_of != dst:
            st.zone.shifted[dst] = (upper_of, "upper", 0)
        if whole is not None and not st.regs[dst].fixed:    # until dst moves:
            for y in wholes:                                # dst == scale * y
                st.zone.add_affine(dst, y, scale, 0)
            if high:
                st.zone.shifted[dst] = (whole, "shl", 0)
        elif shifted_by and not st.regs[dst].fixed:         # dst == scale * (y + d)
            for y, d in shifted_by:
                st.zone.add_affine(dst, y, scale, scale * d)
        elif high and equal is not None and not st.regs[dst].fixed:   # (y + c) << 32
            st.zone.shifted[dst] = (equal[0], "shl", equal[1])
        elif link is not None and link[1] == "shl" and link[2] == 0 and op == "arsh" \
                and insn.imm & 63 == 32:
            st.zone.shifted[dst] = (link[0], "sext", 0)
        if whole_width and old is not None and old.kind == SCALAR and \
                st.regs[dst].kind == SCALAR and (half or minuend is not None):
            self._midpoint(st, op, width, dst, src_reg, old, src, half, minuend)

    @staticmethod
    def _wrapped_once(st: State, op: str, width: int, dst: int, src_reg: int | None,
                      old: Value, src: Value) -> bool:
        """A 32-bit `add` of two numbers below 2^32 whose 64-bit sum the zone shows is
        at least 2^32 (a floor of the sum: 2^32 - weight, a 32-bit negation, plus a w
        >= weight): it wraps exactly once, so dst is the sum less 2^32 (True, dst set)."""
        if op != "add" or width != 32 or src_reg is None or src_reg == dst \
                or old.umax > M32 or src.umax > M32:
            return False
        floor = sum_floor(st.zone, dst, src_reg)
        if floor is None or floor < 1 << 32:
            return False
        high = old.umax + src.umax                  # below 2^33: one wrap at most
        ceiling = sum_ceiling(st.zone, dst, src_reg)
        if ceiling is not None:
            high = min(high, ceiling)
        st.forget_register(dst, scalar(floor - (1 << 32), high - (1 << 32)))
        return True

    @staticmethod
    def _midpoint(st: State, op: str, width: int, dst: int, src_reg: int | None, old: Value,
                  src: Value, half, minuend: int | None) -> None:
        """A binary search's midpoint lies between its bounds: `lo + ((hi - lo) >> 1)`
        with lo <= hi, followed as dst == floor((hi - lo) / 2^e) (zone.halves) until lo
        is added back, then dst <= hi (and dst >= lo, as every add relates).  Exact
        arithmetic only: every operand within +-2^62 (in 32 bits, below 2^32: hi - lo
        with lo <= hi does not wrap, nor does lo plus a part of it, at most hi)."""
        zone = st.zone
        exact = _bounded(old) and _bounded(src)
        if minuend is not None:                     # dst := a - b, a - b >= 0
            if exact and minuend != src_reg:
                gap = st.bound(src_reg, minuend)    # b - a <= gap
                if gap is not None and gap <= 0:
                    zone.halves[dst] = (minuend, src_reg, 0)
                    # exact and not negative: at most the greatest a less the least b
                    st.clamp(dst, -gap, old.smax - src.smin)
            return
        if half is not None and src_reg is None and old.smin >= 0:
            a, b, e = half
            k = src.umin & (width - 1)
            top = 62 if width == 64 else 32         # (in 32 bits: no bit shifted out,
            if op == "lsh" and e <= 0 and old.smax < 1 << (top - k):    # nor sign copied)
                zone.halves[dst] = (a, b, e - k)    # still exactly (a - b) * 2^(k - e)
            elif op == "rsh" or (op == "arsh" and old.umax < 1 << (width - 1)):
                zone.halves[dst] = (a, b, e + k)    # floor of a floor by a power of 2
            return
        if half is not None and op == "add" and src_reg == half[1] and half[2] >= 0 \
                and exact and old.smin >= 0 and half[0] != dst:
            # b + floor((a - b) / 2^e) <= b + (a - b) = a; below a when a - b >= 1 and
            # e >= 1 (a halving of a gap of at least one is less than the gap: a binary
            # search's `while (lo < hi)` midpoint, which `hi = mid` then moves)
            gap = st.bound(half[1], half[0])        # b - a <= gap
            zone.add(dst, half[0], -1 if half[2] >= 1 and gap is not None and gap <= -1
                     else 0)
            AluRules._tighten_from_zone(st, dst)

    def _relate(self, st: State, op: str, width: int, dst: int, src_reg: int | None,
                old: Value | None, src: Value, result: Value) -> None:
        """Set dst to `result` and update its relations (scalar operands)."""
        zone = st.zone
        if op == "or" and src.is_const and old is not None and 0 <= src.umin < 1 << old.align:
            # x | c with c below x's alignment is x + c (clang's `n * 8 | 1` for `+ 1`)
            op, result = "add", alu_result("add", width, old, src)
        if result.is_const:
            st.forget_register(dst, result)
            return
        if (width == 64 or _unwrapped32(old, src)) and \
                self._remainder(st, op, dst, src_reg, src, result):
            return
        if op == "xor" and src.is_const and old is not None and old.kind == SCALAR \
                and _complement(st, width, dst, old, src, result):
            return
        narrow = old is None or (old.smin >= 0 and (width == 64 or old.umax <= M32))
        if op in ("mov", "movsx") and result is src:          # an exact copy
            st.copy_register(dst, src_reg, result)
            return
        if op in ("add", "sub") and src_reg != dst:
            sign = 1 if op == "add" else -1
            lo, hi = (src.smin, src.smax) if sign > 0 else (-src.smax, -src.smin)
            if src.is_const and width == 32:
                lo = hi = sign * _signed(src.umin & M32, 32)
            if width == 64:
                exact = _bounded(src) and _bounded(old) and fits_signed(old.smin + lo,
                                                                        old.smax + hi)
            else:
                least = old.umin + lo
                if sign < 0 and src_reg is not None and not src.is_const and src.smin >= 0:
                    # x - y of two 32-bit numbers with y <= x - k (k >= 0) in the zone:
                    # at least k, so the 32-bit difference does not wrap
                    down = st.bound(src_reg, dst)
                    if down is not None and -down > least:
                        least = -down
                exact = (old.umax <= M32 and (src.is_const or src.umax <= M32)
                         and 0 <= least and old.umax + hi <= M32)
                if exact and least > old.umin + lo:
                    result = scalar(least, old.umax + hi)
            if not exact and self._wrapped_once(st, op, width, dst, src_reg, old, src):
                return
            if not exact:
                # a 32-bit add of a constant that may wrap: remembered, for the branch
                # that shows it did not (zone.wraps)
                base = next(((y, d) for y, d in zone.offsets(dst) if y != dst), None) \
                    if width == 32 and src_reg is None and old.umax <= M32 else None
                st.forget_register(dst, result)
                if base is not None:
                    zone.wraps[dst] = (base[0], base[1] + lo)
                return
            # the result is x + y or x - y: not so a 32-bit add or sub of a constant with
            # bit 31 set, which moves x by k - 2^32 or 2^32 - k (lo above); relations of
            # the sum or difference hold only where it is
            plain = (lo, hi) == ((src.smin, src.smax) if sign > 0 else (-src.smax, -src.smin))
            if sign < 0 and src_reg is not None and plain:    # x - y bounded by the zone
                up, down = st.bound(dst, src_reg), st.bound(src_reg, dst)
                result = scalar(result.umin, result.umax,
                                max(result.smin, -down) if down is not None else result.smin,
                                min(result.smax, up) if up is not None else result.smax,
                                result.align)
            facts = _remaining_facts(zone, op, dst, src_reg) \
                if src_reg is not None and plain else None
            # (a 32-bit sum that does not wrap is the 64-bit one: clang -mcpu=v3's
            # `w7 = w5; w7 += w3; if w7 > 256` for `n + run > 256` -- when the register
            # added is its own low half, `plain`: a constant 0xffffffff00000000 adds 0)
            summed = sign > 0 and src_reg is not None and src.kind in NUMERIC and plain
            offsets = zone.offsets(dst) if summed else []
            partner = next(((y, d) for y, d in offsets if y != src_reg), None)
            # x -= y with a copy c == x + d of the old x kept: c == x + y - d, for the
            # test of c against y that follows (`while (j >= gap) ... j -= gap`)
            minuends = [(c, d) for c, d in zone.offsets(dst) if c != src_reg
                        and c not in zone.plus] \
                if sign < 0 and src_reg is not None and src.kind in NUMERIC \
                and width == 64 and plain else []
            floor = sum_floor(zone, dst, src_reg) if summed else None
            ceiling = sum_ceiling(zone, dst, src_reg) if summed else None
            # len + (c - y), either order: what remains after y, plus c
            remains = _len_plus_negation(zone, dst, src_reg) if summed else ()
            # 0 - src, a negation as neg makes it: dst + src == 0 (not k - src of every
            # constant k: `64 - i` then walked down to 0 by its lowest set bits made
            # tests/test_lowest_set_bit.py's termination proof run out of work)
            taken = 0 if sign < 0 and src_reg is not None and plain and width == 64 \
                and old.is_const and old.umin == 0 and src.kind == SCALAR else None
            st.regs[dst] = result
            zone.shift(dst, lo, hi)
            for c, d in minuends:
                zone.plus[c] = (dst, src_reg, -d)
            if summed:
                zone.add(dst, src_reg, old.smax)              # dst - src == the old dst
                zone.add(src_reg, dst, -old.smin)
                if partner is not None:                       # dst == y + src + d
                    zone.plus[dst] = (partner[0], src_reg, partner[1])
            if facts is not None:
                _apply_remaining(zone, dst, src_reg, facts)
            for y, c in remains:
                zone.add(dst, MIRROR + y, c)
                zone.add(MIRROR + y, dst, -c)
                zone.mirrored.add(y)
            if taken is not None:
                zone.learn_floor(dst, src_reg, taken)
                zone.learn_ceiling(dst, src_reg, taken)
            if floor is not None:
                st.clamp(dst, floor, None)
            if ceiling is not None:
                st.clamp(dst, None, ceiling)
            self._tighten_from_zone(st, dst)
            return
        st.regs[dst] = result
        if op == "and" and narrow:
            # (a value below 2^32 is cleared alike by a mask's upper half of ones or
            # zeros: clang's `& 0xfffffffe` of an unsigned int)
            wide = width == 64 and (old is None or old.umax > M32)
            k = _low_mask(src.umin if wide else src.umin | ~M32 & U64) \
                if src.is_const else -1
            if k >= 0:                                  # x & ~(2**k - 1) = x - (x mod 2**k)
                whole = zone.equal_to(dst) if k >= 1 else None
                pair = zone.plus.get(dst) if k == 1 and zone.plus else None
                half = zone.halves.get(dst) if k >= 1 and zone.halves else None
                zone.shift(dst, -((1 << k) - 1), 0)
                if half is not None and half[2] >= 0:   # a halving, rounded down
                    zone.masked[dst] = half + (k,)
                if whole is not None:                   # dst == whole // 2**k * 2**k
                    zone.quot[dst] = (whole, 1 << k, True)
                if pair is not None and pair[2] == 0:   # dst == (a + b) & ~1
                    zone.midsums[dst] = pair[:2]
            else:
                rest = _remainder_of_quotient(zone, dst, src, width, old)
                zone.keep_upper(dst)
                if src_reg is not None and src.smin >= 0:
                    zone.add(dst, src_reg, 0)
                if rest is not None:                    # whole == q + dst
                    zone.plus[rest[0]] = (rest[1], dst, 0)
        elif op in ("rsh", "div", "mod") and narrow:
            whole = zone.equal_to(dst) if op == "rsh" and src.is_const and \
                1 <= src.umin < width - 1 else None
            rounded = zone.quot.get(dst) if op == "rsh" and src.is_const and zone.quot else None
            halved = _summed_pair(zone, dst) if op == "rsh" and src.is_const and \
                src.umin == 1 else None
            zone.keep_upper(dst)                         # only ever lowers a non-negative x
            if halved is not None:
                _between(st, dst, *halved)
            if whole is not None:                        # dst == whole // 2**k
                zone.quot[dst] = (whole, 1 << src.umin, False)
            elif rounded is not None and rounded[2] and rounded[1] == 1 << src.umin:
                # (y // 2**k * 2**k) >> k == y // 2**k: `(i - 1) & ~1` then `>> 1`
                zone.quot[dst] = (rounded[0], rounded[1], False)
        elif op == "arsh" and narrow and width == 64:
            zone.keep_upper(dst)
        else:
            zone.forget(dst)
        self._tighten_from_zone(st, dst)

    @staticmethod
    def _lowest_set_bit(st: State, dst: int, src_reg: int, old: Value, src: Value) -> bool:
        """`x & -x` (either order) of an x of at least 1: its lowest set bit, in [1, x],
        and no more than x's copies (True when this was it).  The zone shows src == -dst
        by the floor and ceiling a negation left: src + y == c both ways, dst == y + d,
        c + d == 0.  (A Fenwick tree's `i += i & -i`, `i -= i & -i`.)"""
        zone = st.zone
        if not (zone.floors and zone.ceilings) or old.kind != SCALAR or \
                src.kind != SCALAR:
            return False
        for x, other, value in ((dst, src_reg, old), (src_reg, dst, src)):
            if value.smin < 1:
                continue
            copies = [(x, 0)] + zone.offsets(x)
            if not any((c := zone.floor(other, y)) is not None
                       and zone.ceiling(other, y) == c
                       and c + d == 0 for y, d in copies if y != other):
                continue
            # the result: dst <= x, and <= each copy of x (x == y + d: dst - y <= d)
            kept = [(y, d) for y, d in copies if y != dst]
            st.forget_register(dst, scalar(1, value.smax))
            for y, d in kept:
                zone.add(dst, y, d)
            return True
        return False

    def _straight_writes(self, pc: int, reg: int, reach: int) -> list | None:
        """The instructions (pc, insn) that write `reg` in the straight code before pc,
        in order, from the first that writes it without reading it (a `mov`) — None if
        a block starts (control may come from elsewhere) or `reach` instructions pass
        before that."""
        prog, found, p = self.prog, [], pc
        for _ in range(reach):
            if p in self.leaders or p == 0:
                return None
            p -= 1
            while p > 0 and not prog.is_insn_start(p):
                p -= 1
            insn = prog.at(p)
            if reg in written_registers(insn):
                found.append((p, insn))
                if insn.kind is Kind.ALU and insn.spec.op == "mov":
                    return found[::-1]
        return None

    @staticmethod
    def _tighten_from_zone(st: State, var: int) -> None:
        """Narrow var's interval by what its relations and their intervals imply."""
        lo = hi = None
        for other, up, down in st.zone.related(var):
            if up is not None:
                o = st.zone_upper(other)
                if o is not None and (hi is None or o + up < hi):
                    hi = o + up
            if down is not None:
                o = st.zone_lower(other)
                if o is not None and (lo is None or o - down > lo):
                    lo = o - down
        if lo is not None or hi is not None:
            st.clamp(var, lo, hi)

    def _less_a_pointer_next(self, pc: int, dst: int) -> bool:
        """Whether the instruction after `pc` is `sub32 dst, rX` with rX a register
        other than dst (the pointer subtracted is checked there: same_region)."""
        following = pc + 1
        if not (following < self.prog.slot_count and self.prog.is_insn_start(following)):
            return False
        insn = self.prog.at(following)
        return insn.kind is Kind.ALU and insn.spec.op == "sub" and insn.spec.width == 32 \
            and insn.spec.source == "reg" and insn.dst == dst and insn.src != dst

    def _leak(self, pc: int, what: str) -> None:
        """Strict mode: `what` would turn an address into a number the program could
        return, store or test; the kernel refuses it to unprivileged programs."""
        if self.mode == "strict":
            self.fail(pc, f"strict mode: {what} would make an address a number (the kernel "
                          f"refuses such leaks)")

    def _unary(self, pc: int, insn, st: State) -> None:
        """neg and the byte swaps: new values, related to nothing."""
        v = self._read(st, insn.dst, pc)
        if v.kind != SCALAR:
            self._leak(pc, f"{insn.spec.mnemonic} on a pointer")
        if insn.kind is Kind.NEG:
            width = insn.spec.width
            fn = sem.alu_function("neg", width)
            # -x of a 64-bit x that is not INT64_MIN is exact: dst + y == -d for each y
            # the old dst equalled (dst == y + d), a sum the zone keeps as a floor and a
            # ceiling (an and with it is then the lowest set bit: _lowest_set_bit)
            exact = width == 64 and v.kind == SCALAR and not v.is_const and v.smin > S64_MIN
            # -x in 32 bits of an x in [1, 2^32 - 1] is 2^32 - x exactly: dst + y == 2^32 -
            # d, kept alike (clang -mcpu=v3's knapsack: `w8 = -w8` for `- weight`, added
            # in 32 bits to a w >= weight, which wraps once: _wrapped_once)
            exact32 = width == 32 and v.kind == SCALAR and not v.is_const \
                and 1 <= v.umin and v.umax <= M32
            copies = st.zone.offsets(insn.dst) if exact or exact32 else []
            st.forget_register(insn.dst, const(fn(v.umin, 0)) if v.is_const else
                               top_scalar() if width == 64 else scalar(0, M32))
            if exact or exact32:
                top = 0 if exact else 1 << 32           # dst + x == top
                st.regs[insn.dst] = scalar(0, U64, -v.smax, -v.smin) if exact \
                    else scalar(top - v.umax, top - v.umin)     # (exact: v.smin > S64_MIN)
                for y, d in copies:
                    if y < MIRROR:
                        st.zone.learn_floor(insn.dst, y, top - d)
                        st.zone.learn_ceiling(insn.dst, y, top - d)
            return
        bits = insn.imm
        if v.is_const:
            st.forget_register(insn.dst, const(sem.byte_swap(insn.spec.op, bits, v.umin)))
        elif insn.spec.op == "le" and v.kind == SCALAR and v.umax <= (1 << bits) - 1:
            pass                            # truncation to a width the value already fits
        else:
            st.forget_register(insn.dst, scalar(0, (1 << bits) - 1) if bits < 64
                               else top_scalar())

    def _lddw(self, pc: int, insn) -> Value:
        if insn.src == 0:
            return const(insn.imm64)
        if insn.src == LDDW_CODE:               # a callback's address (bpf_loop's r2)
            return Value(FUNC, ident=pc + 1 + insn.imm + 1)
        index = insn.imm & M32
        if insn.src in (LDDW_MAP, LDDW_MAP_VALUE) and index < len(self.maps):
            if insn.src == LDDW_MAP:
                return Value(MAP_PTR, maps=1 << index)
            offset = insn.next_imm & M32
            return pointer(MAP_VALUE, offset, offset, maps=1 << index)
        if insn.src in (LDDW_MAP, LDDW_MAP_VALUE) and self.maps:
            self.fail(pc, f"lddw refers to map {index}, but the program has "
                          f"{len(self.maps)} map(s)")
        self.fail(pc, f"lddw {LDDW_PSEUDO[insn.src]} needs maps, which this program was "
                      f"not loaded with")


def _unwrapped32(old: Value | None, src: Value) -> bool:
    """Whether a 32-bit step of the remainder's three (`/ c`, `* c`, `y - q`, clang
    -mcpu=v3's `x % c`) computes what the 64-bit one would: both operands below 2^32 (the
    quotient times c is then at most y, so neither the product nor the difference
    wraps)."""
    return old is not None and old.kind == SCALAR and old.umax <= M32 \
        and src.kind == SCALAR and src.umax <= M32
