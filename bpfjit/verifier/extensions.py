"""32-bit extensions in the abstract: `lsh r, 32` then `rsh`/`arsh r, 32 + k`, as clang
spells a zero or sign extension (then a shift by k), and the same two shifts moved
apart (`zone.shifted`).  An extension of a value already in range changes nothing, so
the value keeps its relations; one whose upper half is a single constant moves by it;
the rest are remembered as wraps or sign-extended copies that a later branch can
resolve.  A right shift of a copy is remembered too ("rsh" links): clang shifts one
`lsh r, 32` right in two places, and the second shift makes the two registers equal.
Mixed into the analysis (bpfjit.verifier.analysis) beside AluRules."""

from __future__ import annotations

from .. import semantics as sem
from .domain import M32, SCALAR, Value, const, s32_view, scalar
from .intervals import alu_result
from .state import State

__all__ = ["ExtensionRules", "fits32"]


def fits32(v: Value, signed: bool) -> bool:
    """Whether a 32-bit zero (or sign) extension of every number `v` describes gives
    the number back: a scalar below 2^32 (or within the signed 32-bit range)."""
    if v.kind != SCALAR:
        return False
    return -(1 << 31) <= v.smin and v.smax < 1 << 31 if signed else v.umax <= M32


class ExtensionRules:
    """Mixed into the analysis: the fused extension and its split halves."""

    def _note_extension(self, pc: int, fits: bool) -> None:
        """One run's verdict on the extension at pc: exact only if every run's is."""
        self.extension_fits[pc] = fits and self.extension_fits.get(pc, True)

    def _unshift(self, st: State, op: str, dst: int, count: int) -> bool:
        """`rsh`/`arsh dst, 32 + k` of dst == y << 32: y (sign-extended from 32 bits,
        which changes nothing below 2^31), shifted by k, with y's relations.  True when
        done; False leaves the shift to the general rule."""
        y, kind, c = st.zone.shifted[dst]
        lo, hi = st.lower(y), st.upper(y)
        if kind != "shl" or count < 32 or lo is None or hi is None or lo + c < 0 or \
                hi + c > (M32 if op == "rsh" else M32 >> 1):
            return False
        st.copy_register(dst, y, scalar(lo, hi))
        if c:                               # dst == y + c
            v = st.regs[dst]
            self._relate(st, "add", 64, dst, None, v, const(c), alu_result("add", 64, v, const(c)))
        if count > 32:
            v = st.regs[dst]
            self._relate(st, "rsh", 64, dst, None, v, const(count - 32),
                         alu_result("rsh", 64, v, const(count - 32)))
        return True

    @staticmethod
    def _shift_twins(st: State, dst: int, count: int) -> tuple[int | None, list[int]]:
        """Before `rsh dst, count` (64 bits): a variable other than dst that holds dst's
        value (whose shift dst's result will be), and the variables that hold the same
        shift of dst's value already (`x == y >> count`, y dst or equal to it), which the
        result equals."""
        zone = st.zone
        equal = [y for y, d in zone.offsets(dst) if d == 0 and y != dst]
        twins = []
        if zone.shifted:
            sources = {dst, *equal}
            twins = [x for x, (y, kind, c) in zone.shifted.items()
                     if kind == "rsh" and c == count and y in sources and x != dst]
        return (equal[0] if equal else None), twins

    @staticmethod
    def _link_shift_twins(st: State, dst: int, count: int, source: int | None,
                          twins: list[int]) -> None:
        """After `rsh dst, count` (64 bits): dst equals each twin, the same 64 bits (a
        test of one bounds the other: clang's `r9 = r7 >> 32` in a loop and `r7 >>= 32;
        if r7 == 0` after it); else dst == source >> count, until either changes."""
        zone = st.zone
        for x in twins:
            if not (zone.add(dst, x, 0) and zone.add(x, dst, 0)):
                return
            st.tighten(x)
            st.tighten(dst)
        if not twins and source is not None and not st.regs[dst].is_const:
            zone.shifted[dst] = (source, "rsh", count)

    def _extend32(self, st: State, reg: int, signed: bool, then_shift: int) -> None:
        """`lsh r, 32` followed by `rsh`/`arsh r, 32 + k`: a 32-bit zero or sign extension
        (then a shift by k).  An extension of a value already in range changes nothing,
        so the value keeps its relations (clang's -mcpu=v1 code does this constantly)."""
        v = st.regs[reg]
        if v.is_const:
            x = sem.sext(v.umin & M32, 32) if signed else v.umin & M32
            st.forget_register(reg, const(x >> then_shift))
            return
        # a value whose upper half is one constant k on its whole range loses k << 32
        # (clang's `(u32)(n - 4)`: n + 0xfffffffc, then zero-extended): a shift that
        # keeps its relations, as the zone moves it by a constant -- in the signed
        # values the zone counts in (an unsigned k of 0xffffffff is -1 there)
        window = v.smin + (1 << 31) >> 32 if signed else v.umin >> 32
        same = v.kind == SCALAR and (
            (v.smax + (1 << 31) >> 32) == window if signed else v.umax >> 32 == window)
        if same and window:
            moved = -(window << 32)
            if signed:
                st.regs[reg] = scalar(smin=v.smin + moved, smax=v.smax + moved)
            else:
                st.regs[reg] = scalar(v.umin + moved, v.umax + moved)
                moved = -((v.smin >> 32) << 32)     # the same window, counted signed
            st.zone.shift(reg, moved, moved)
        elif signed:
            if not fits32(v, True):
                # a copy of a u32 variable y, sign-extended: where it is not negative it
                # is y (an `int` kept zero-extended and tested through `(s64)(s32)`,
                # clang's -mcpu=v1 `if (sp >= 2)`): a branch relates them then
                copy = st.zone.equal_plus(reg) if v.kind == SCALAR and v.umax <= M32 else None
                view = s32_view(v) or (-(1 << 31), (1 << 31) - 1)
                st.forget_register(reg, scalar(smin=view[0], smax=view[1]))
                if copy is not None and copy[1] == 0 and copy[0] != reg and \
                        st.lower(copy[0]) is not None and st.lower(copy[0]) >= 0 and \
                        st.upper(copy[0]) is not None and st.upper(copy[0]) <= M32:
                    st.zone.shifted[reg] = (copy[0], "sext", 0)
        else:
            if not fits32(v, False):
                # y + k that may cross 0 or 2^32 (clang's `(u32)(sp - 1) < 15` for
                # `sp >= 1 && sp < 16`): remembered as a wrap, which a branch on the
                # result that leaves out the wrapped values turns into reg == y + k
                base = st.zone.equal_plus(reg) if v.kind == SCALAR and \
                    -(1 << 32) < v.smin and v.smax < 1 << 33 else None
                st.forget_register(reg, scalar(0, M32))
                if base is not None and base[0] != reg and then_shift == 0:
                    st.zone.wraps[reg] = base
        if then_shift:
            v = st.regs[reg]
            half = st.zone.halves.get(reg) if st.zone.halves else None
            op = "arsh" if signed else "rsh"
            self._relate(st, op, 64, reg, None, v, const(then_shift),
                         alu_result(op, 64, v, const(then_shift)))
            if half is not None and v.kind == SCALAR and v.smin >= 0:
                # the extension changed nothing: the shift halves what it held
                st.zone.halves[reg] = half[:2] + (half[2] + then_shift,)
