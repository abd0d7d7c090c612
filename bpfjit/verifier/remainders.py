"""Remainders in the abstract: `x % n` as clang's BPF target spells it, with no
remainder instruction it trusts (`q = x / n; q *= n; r = x - q`), whose result is below
n although no interval or difference shows it.  Three shapes: a constant divisor,
followed step by step in the zone (`zone.quot`); a divisor known only at run time, in
straight code; and the remainder of a number's low half, `(u32)t % c` for a u32 that
clang -mcpu=v1 keeps in a 64-bit register without truncating it.  Mixed into the
analysis (bpfjit.verifier.analysis) beside AluRules, whose `_straight_writes` they use.
"""

from __future__ import annotations

from ..isa import Kind, written_registers
from .domain import M32, SCALAR, Value, scalar
from .state import State

__all__ = ["RemainderRules"]

# how far back from `sub d, s` a register remainder's `mov s, x` may lie (clang puts
# one or two unrelated instructions among its four)
_REMAINDER_REACH = 8
# how far back from `rsh d, 32` a low half's remainder may begin: its nine instructions
# and as many others among them
_LOW_REACH = 18


def _alu(insn, op: str, width: int = 64, imm: int | None = None) -> bool:
    """Whether `insn` is the ALU `op` at `width`, on an immediate `imm` if one is given,
    else on a register."""
    if insn.kind is not Kind.ALU or insn.spec.op != op or insn.spec.width != width:
        return False
    if imm is None:
        return insn.spec.source == "reg"
    return insn.spec.source != "reg" and insn.imm == imm


class RemainderRules:
    """Mixed into the analysis: a remainder's three steps, and its bound."""

    @staticmethod
    def _remainder(st: State, op: str, dst: int, src_reg: int | None, src: Value,
                   result: Value) -> bool:
        """`q = y / c; q *= c; r = y - q` is `r = y % c`, in [0, c - 1], which no interval
        or difference shows: follow the three steps (True when this op completed one)."""
        zone = st.zone
        fact = zone.quot.get(dst) if zone.quot else None
        if op == "div" and src.is_const and src.umin >= 2:
            y = zone.equal_to(dst)
            if y is None:
                return False
            st.forget_register(dst, result)
            zone.quot[dst] = (y, src.umin, False)
            return True
        if op in ("mul", "lsh") and src.is_const and fact is not None and not fact[2]:
            y, c, _ = fact
            if (src.umin if op == "mul" else 1 << (src.umin & 63)) != c:
                return False
            st.forget_register(dst, result)
            zone.quot[dst] = (y, c, True)
            return True
        if op == "sub" and src_reg is not None and zone.quot:
            fact = zone.quot.get(src_reg)
            if fact is None or not fact[2]:
                return False
            y, c, _ = fact
            if dst != y and zone.equal_to(dst) != y and not (
                    zone.bound(dst, y) == 0 and zone.bound(y, dst) == 0):
                return False
            st.forget_register(dst, scalar(0, c - 1))
            return True
        return False

    def _register_remainder(self, pc: int, st: State, width: int, dst: int, src_reg: int,
                            old: Value) -> bool:
        """`mov s, x; div s, n; mul s, n; sub d, s` at one width, straight code: x % n, as
        clang expands `x % n` for a number n known only at run time (its BPF target has
        no unsigned remainder). d is x, or a copy `mov d, x` made later (clang -mcpu=v3:
        `w6 = w9; w6 /= w3; w6 *= w3; w4 = 0; w5 = w9; w5 -= w6`); neither x nor n
        changes in between. Below n where n is at least 1 (True, d set); where n may be
        0, x / 0 is 0 and d stays x: nothing learned (False)."""
        writes = self._straight_writes(pc, src_reg, _REMAINDER_REACH)
        if writes is None or len(writes) != 3:
            return False
        (p_mov, mov), (p_div, div), (p_mul, mul) = writes
        s, n = src_reg, div.src

        def shaped(insn, op: str) -> bool:
            return _alu(insn, op, width) and insn.dst == s
        x = mov.src
        if not (shaped(mov, "mov") and shaped(div, "div") and shaped(mul, "mul")) \
                or mul.src != n or n in (s, x) or x == s or dst == s:
            return False
        prog = self.prog
        between = [p for p in range(p_mov + 1, pc) if prog.is_insn_start(p)]
        if any(n in written_registers(prog.at(p)) for p in between if p > p_div):
            return False
        copy = None
        if dst != x:        # the last write of d: a copy of x at the same width
            copy = next((p for p in reversed(between)
                         if dst in written_registers(prog.at(p))), None)
            insn = None if copy is None else prog.at(copy)
            if insn is None or not (_alu(insn, "mov", width) and insn.src == x):
                return False
        if any(x in written_registers(prog.at(p)) for p in between
               if copy is None or p < copy):
            return False
        divisor = st.regs[n]
        if old.kind != SCALAR or divisor.kind != SCALAR or divisor.umin < 1 \
                or (width == 32 and divisor.umax > M32):
            return False
        low = old.umax if width == 64 else min(old.umax, M32)
        st.forget_register(dst, scalar(0, min(divisor.umax - 1, low)))
        if not divisor.fixed:
            st.zone.add(dst, n, -1)                 # d <= n - 1
        return True

    def _low_half_remainder(self, pc: int, st: State, dst: int) -> bool:
        """`rsh d, 32` (at pc) ending `mov s, t; lsh s, 32; rsh s, 32; div s, c; mul s,
        c; mov d, t; sub d, s; lsh d, 32` in straight code, t unchanged between its two
        copies: d is (u32)t % c, in [0, c - 1] (True, d set), whatever t's upper half.
        With L = t's low half, s = L / c * c is at most L, so d's low half is L - s.
        (clang -mcpu=v1 for `out[pos % 160]` with a u32 pos kept untruncated.)"""
        found = self._straight_writes(pc, dst, _LOW_REACH)
        if found is None or len(found) != 3:
            return False
        (p_copy, copy), (p_sub, sub), (_, raise_) = found
        t, s = copy.src, sub.src
        if not (_alu(copy, "mov") and _alu(sub, "sub") and _alu(raise_, "lsh", imm=32)) \
                or len({t, s, dst}) != 3:
            return False
        steps = self._straight_writes(p_sub, s, _LOW_REACH)
        if steps is None or len(steps) != 5:
            return False
        (p_first, first), (_, up), (_, down), (_, div), (_, mul) = steps
        c = div.imm
        if not (_alu(first, "mov") and first.src == t and _alu(up, "lsh", imm=32)
                and _alu(down, "rsh", imm=32) and _alu(div, "div", imm=c) and c >= 1
                and _alu(mul, "mul", imm=c)):
            return False
        prog = self.prog
        lo, hi = min(p_first, p_copy), max(p_first, p_copy)
        if any(t in written_registers(prog.at(p)) for p in range(lo + 1, hi)
               if prog.is_insn_start(p)):
            return False                    # (the two copies hold one value of t)
        st.forget_register(dst, scalar(0, c - 1))
        return True
