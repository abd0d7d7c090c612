"""Pointer arithmetic in the abstract: a 64-bit add or sub that moves a pointer (its
offset and relations follow the number added), a difference of two pointers into the
same region (a number, related as their offsets were), and a map value or NULL moved
by a constant.  Mixed into the analysis (bpfjit.verifier.analysis) beside AluRules,
whose helpers for sums and remainders it shares."""

from __future__ import annotations

from .alu import _apply_remaining, _bounded, _inherit_affine, _remaining_facts
from .domain import (ALIGNED, MEM, MEM_OR_NULL, NUMERIC, SCALAR, STACK, U64, Value, offset_align,
                     pointer, same_region, scalar)
from .intervals import fits_signed
from .state import State
from .sumbounds import sum_floor

__all__ = ["PointerRules"]


class PointerRules:
    """Mixed into the analysis: moved pointers and differences of pointers."""

    @staticmethod
    def _move_maybe_null(st: State, dst: int, k: int) -> None:
        """A buffer pointer or NULL moved by the constant k: the pointer k further on,
        or the number NULL + k (`frame`), as clang computes `&tcp->window` of a tcp
        that is NULL on some paths before the test that tells which; its guards and its
        bound against len (moved by k) still hold, and a guard tells its sides apart."""
        v = st.regs[dst]
        st.regs[dst] = Value(MEM_OR_NULL, 0, U64, v.smin + k, v.smax + k, frame=v.frame + k)
        if dst in st.zone.ifset:
            st.zone.ifset[dst] += k

    def _pointer_arith(self, pc: int, st: State, op: str, dst: int, src_reg: int | None,
                       old: Value, src: Value) -> None:
        """64-bit add/sub with a pointer operand: a moved pointer, or a difference."""
        zone = st.zone
        if op == "sub" and old.is_pointer and src.is_pointer:
            if not same_region(old, src) or src_reg is None:
                self._leak(pc, "subtracts pointers into different regions, which")
                st.forget_register(dst)
                return
            up, down = st.bound(dst, src_reg), st.bound(src_reg, dst)
            facts = _remaining_facts(zone, op, dst, src_reg)
            st.regs[dst] = scalar(smin=-down if down is not None else -(1 << 63),
                                  smax=up if up is not None else (1 << 63) - 1)
            if src.smin == src.smax and _bounded(old):       # minus a constant offset
                zone.shift(dst, -src.smin, -src.smin)
            else:
                zone.forget(dst)
            _apply_remaining(zone, dst, src_reg, facts)
            self._tighten_from_zone(st, dst)
            return
        if old.is_pointer and src.kind == SCALAR:
            ptr, delta, moved = old, src, True
        elif op == "add" and old.kind == SCALAR and src.is_pointer:
            ptr, delta, moved = src, old, False
        else:                                   # pointer + pointer, scalar - pointer, handles
            self._leak(pc, f"{op} on a pointer")
            st.forget_register(dst)
            return
        lo, hi = (delta.smin, delta.smax) if op == "add" else (-delta.smax, -delta.smin)
        exact = _bounded(delta) and _bounded(ptr) and fits_signed(ptr.smin + lo, ptr.smax + hi)
        if exact:
            # (a stack or map value offset: a multiple of what both terms are multiples
            # of, so a table read steps by its entries: MemoryRules._constant_data)
            align = min(offset_align(ptr), offset_align(delta)) if ptr.kind in ALIGNED else 0
            new = pointer(ptr.kind, ptr.smin + lo, ptr.smax + hi, ptr.frame, ptr.maps, ref=ptr.ref,
                          align=align)
        else:
            new = pointer(ptr.kind, -(1 << 63), (1 << 63) - 1, ptr.frame, ptr.maps, ref=ptr.ref)
        st.regs[dst] = new
        if not exact:
            zone.forget(dst)
            return
        floor = None
        # z == dst + src + k recorded before (clang tested `p + 1 + o <= end`, then
        # computes the next position as `o += p`): z == the new dst + k
        summed = [(z, k) for z, (a, b, k) in zone.plus.items()
                  if z != dst and {a, b} == {dst, src_reg}] \
            if op == "add" and src_reg is not None and zone.plus else []
        if moved:                # dst was the pointer: its offset moved by [lo, hi]
            facts = _remaining_facts(zone, op, dst, src_reg) if src_reg is not None \
                and delta.kind in NUMERIC else None
            partner = None
            if op == "add" and src_reg is not None:
                floor = sum_floor(zone, dst, src_reg)
                if delta.kind in NUMERIC:
                    partner = next(((y, d) for y, d in zone.offsets(dst) if y != src_reg),
                                   None)
            zone.shift(dst, lo, hi)
            if op == "add" and src_reg is not None:
                zone.add(dst, src_reg, ptr.smax)      # dst - src == the pointer's old offset
                zone.add(src_reg, dst, -ptr.smin)
                if ptr.smin == ptr.smax and zone.affine and (
                        ptr.kind == STACK or ptr.kind == MEM and (zone.scaled or zone.quot)):
                    _inherit_affine(zone, dst, src_reg, ptr.smin)
                if partner is not None:
                    # dst == y + src + d, as for numbers: followed through constant moves
                    # of all three, for what a later test of dst against the end says of
                    # src against what remains after y (`p + i + 2 <= end`, i counted up
                    # after the load of p[i])
                    zone.record_plus(dst, partner[0], src_reg, partner[1])
            if facts is not None:
                _apply_remaining(zone, dst, src_reg, facts)
        else:                    # dst was the scalar: the result is src's offset + dst
            # dst == y + d before: the pointer is src + y + d, a sum as above (`o + p`)
            partner = next(((y, d) for y, d in zone.offsets(dst) if y != src_reg), None) \
                if src_reg is not None and delta.kind in NUMERIC else None
            zone.shift(dst, ptr.smin, ptr.smax)
            if src_reg is not None:
                zone.add(dst, src_reg, delta.smax)
                zone.add(src_reg, dst, -delta.smin)
            if partner is not None:
                zone.record_plus(dst, src_reg, partner[0], partner[1])
        for z, k in summed:
            zone.add(z, dst, k)
            zone.add(dst, z, -k)
        if floor is not None:    # the offset is a sum with a known floor
            st.clamp(dst, floor, None)
        self._tighten_from_zone(st, dst)
