"""Jumps in the peachpy backend, and one layout fix: a conditional jump over a `ja`.

clang's BPF output ends many loops' latch blocks with `if a > b goto +1; goto exit`,
the loop's head right after (the latch is laid out before the body).  Lowered one
instruction at a time, every trip takes two jumps: the `jcc` over the `jmp`, then the
body's own way back to the latch.  When nothing else reaches the `ja` (its block is
the conditional jump's fall-through alone, not a checkpoint, not a versioned loop's
entry), the pair becomes one jump on the negated condition to where the `ja` goes,
and the jump's target is reached by falling through:

    jgt r3, r2, +1      ->    cmp rdx, rsi
    ja +34                    jbe exit          (or to a stub: sub r9, cost; jmp exit)

The `ja` itself is emitted out of line, after the code, under its own label
(`sub r9, cost; jmp target`, the charge its block makes, if any): the negated jump
goes there when the block charges (so the budget stays exact), and so does code that
falls through into the `ja` from elsewhere (the end of a run of a loop's fast copy,
backends.x86versions).  A mixin of backends.x86's lowering.
"""

from __future__ import annotations

from bpfjit.cfg import branch_targets
from bpfjit.isa import Kind

from .x86layout import BUDGET, JCC, NEGATED_CC, s32, sized

__all__ = ["JumpLowering"]


class JumpLowering:
    """_ja, _jcond and the compare they share; the jump over a jump."""

    def _ja(self, pc: int, insn) -> None:
        (target,) = branch_targets(self.prog, pc)
        self.a.jump("jmp", self.label_of(pc, target))

    def _jcond(self, pc: int, insn) -> None:
        self._compare(insn)
        self.a.jump(JCC[insn.spec.op], self.label_of(pc, pc + 1 + insn.off))

    def jump_over_jump(self, body: list, i: int) -> int:
        """body[i] a conditional jump to the instruction after a `ja` that only it
        reaches: both as one jump on the negated condition (module docstring).
        Instructions consumed (0: not this shape)."""
        if i + 2 >= len(body):
            return 0
        (pc, jump), (ja_pc, ja), (next_pc, _) = body[i], body[i + 1], body[i + 2]
        if not (jump.kind is Kind.JCOND and jump.off == 1 and ja.kind is Kind.JA
                and ja_pc == pc + 1 and next_pc == pc + 2):
            return 0
        (target,) = branch_targets(self.prog, ja_pc)
        if target == next_pc or ja_pc in self.targets or ja_pc in self.checkpoints \
                or ja_pc in self.elided or ja_pc in self.loops:
            return 0
        a = self.a
        self._compare(jump)
        away = self.label_of(ja_pc, target)
        charge = self.charges.get(ja_pc, 0)
        # the `ja` itself, out of line: where a copy's run that ends before it (x86versions'
        # fast copies) falls through to, and where the negated jump goes when it charges
        stub = ja_pc if self.fast is None else ("fast", ja_pc)
        self.jump_stubs.append((stub, ja_pc, charge, away))
        a.jump(NEGATED_CC[JCC[jump.spec.op]], stub if charge else away)  # j<not cc>
        return 2

    def emit_jump_stubs(self) -> None:
        """The `ja`s folded into conditional jumps, out of line, with their charges."""
        a = self.a
        for label, pc, charge, away in self.jump_stubs:
            a.label(label)
            a.mark(pc)
            if charge:
                a("SUB", BUDGET, charge)                        # sub r9, cost
            a.jump("jmp", away)
        self.jump_stubs = []

    def _compare(self, insn) -> None:
        """The flags a conditional jump tests: cmp (test for jset) of its operands."""
        a, spec = self.a, insn.spec
        w = spec.width
        d = sized(self.reg[insn.dst], w)
        if spec.source == "reg":
            a("TEST" if spec.op == "jset" else "CMP", d, sized(self.reg[insn.src], w))
        elif insn.imm == 0 and spec.op != "jset":
            a("TEST", d, d)
        elif self.blinds(insn.imm):
            operand = self._blinded_operand(insn.imm, w)
            if spec.op == "jset":
                a("TEST", operand, d)                   # (test takes r/m first)
            else:
                a("CMP", d, operand)
        else:
            a("TEST" if spec.op == "jset" else "CMP", d,
              insn.imm if w == 64 else s32(insn.imm))
