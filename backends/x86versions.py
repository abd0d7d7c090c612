"""Two copies of some code in the peachpy backend (bpfjit.checkplan): each versioned
loop's blocks emitted a second time, after the subprograms, without the accesses a
long-enough buffer proves (jumps into the loop from outside go through a test of the
buffer's length placed just before the checked copy's head); and a group of accesses
from one base checked once, its instructions emitted in line without their checks and
again out of line with every check, where a failing group check goes.  A mixin of
backends.x86's lowering."""

from __future__ import annotations

from bpfjit.isa import Kind
from bpfjit.speculation import poisoned_registers

from .copies import CopyTracking
from .x86asm import Mem
from .x86layout import CTX, CTX_SLOT, S1, S2

__all__ = ["VersionLowering"]


class VersionLowering(CopyTracking):
    """Labels that know about the fast copies; the entry tests; the fast copies."""

    def _prepare_versions(self) -> None:
        self.prepare_copies(self.verified, 0, self.prog.slot_count, budget_free=False)
        self.each_copies: list[tuple] = []   # (label, back label, span, loop) to emit
        # per loop: the registers its entry poisons (bpfjit.speculation), None: adjust
        self.poisoned = {pc: poisoned_registers(self.prog, loop)
                         for pc, loop in self.loops.items()}

    def label_of(self, source: int, pc: int) -> object:
        """The label a jump (or fall-through) from `source` to `pc` goes to."""
        where = self.copy_of(source, pc)
        return pc if where is None else (where, pc)

    def emit_group(self, body: list, i: int) -> int:
        """One check of the group's whole extent, then its instructions without the
        members' checks; the per-access copy goes out of line.  Returns the body entries
        consumed (up to the group's last member)."""
        a, group = self.a, self.groups[body[i][0]]
        end = i
        while body[end][0] != group.last:
            end += 1
        span = body[i:end + 1]
        each, back = a.new_label(), a.new_label()
        width = group.hi - group.lo
        a("LEA", S2, Mem(8, self.reg[group.base], group.lo))    # r11 = the group's start
        a("SUB", S2, Mem(8, CTX, CTX_SLOT["mem"]))               # - the buffer's start
        a("MOV", S1, Mem(8, CTX, CTX_SLOT["mem_bound1"]))        # r10 = buffer length
        a("SUB", S1, width)                                      # - the group's width
        self._check_jump("b", each)                              # shorter than the group
        base = self.reg[group.base]
        self._poison_if("B", base)      # (speculation: every member's address non-canonical)
        a("CMP", S2, S1)
        self._check_jump("a", each)                              # beyond the last fit
        self._poison_if("A", base)
        self.grouped = group
        self._emit_span(span)
        self.grouped = None
        a.label(back)
        self.each_copies.append((each, back, span, self.fast))
        return len(span)

    def emit_each_copies(self) -> None:
        """The out-of-line copies of the groups' instructions, every access checked."""
        while self.each_copies:
            each, back, span, loop = self.each_copies.pop(0)
            self.fast = loop
            self.a.label(each)
            self._emit_span(span)
            self.a.jump("jmp", back)
        self.fast = None

    def _emit_span(self, span: list) -> None:
        k = 0
        while k < len(span):
            self.a.mark(span[k][0])
            k += self.lower_op(span, k)

    def enter_test(self, pc: int) -> None:
        """Before the checked copy of a versioned loop's head: into the fast copy when
        the buffer is long enough (mem_bound1 is the buffer's length) and each of the
        loop's ranges lies in it; else on into the checked copy."""
        loop = self.loops[pc]
        a = self.a
        a.label(("enter", pc))
        poisoned = self.poisoned[pc]
        if self.spec and poisoned is None:
            a("MOV", Mem(8, CTX, CTX_SLOT["adjust"]), 0)       # POISON once a test fails
        if loop.need:
            a("CMP", Mem(8, CTX, CTX_SLOT["mem_bound1"]), loop.need)   # len >= need?
            self._unless_hoisted("b", pc, poisoned)
        for test in loop.ranges:
            a("MOV", S1, Mem(8, CTX, CTX_SLOT["mem_bound1"]))    # r10 = buffer length
            a("SUB", S1, test.hi - test.lo)                      # - the range's width
            self._unless_hoisted("b", pc, poisoned)              # shorter than the range
            first, *rest = test.registers
            a("LEA", S2, Mem(8, self.reg[first], test.lo))       # r11 = the range's start
            for reg in rest:
                a("ADD", S2, self.reg[reg])
            a("SUB", S2, Mem(8, CTX, CTX_SLOT["mem"]))           # - the buffer's start
            a("CMP", S2, S1)
            self._unless_hoisted("a", pc, poisoned)              # beyond the last fit
        a.jump("jmp", ("fast", pc))

    def _unless_hoisted(self, cond: str, pc: int, poisoned) -> None:
        """On `cond` (an entry test failed), to the checked copy's head at `pc`; for
        speculation past that branch, POISON into the registers every hoisted address
        derives from, or else into the hoisted accesses' "adjust"."""
        self._check_jump(cond, pc)
        if not self.spec:
            return
        if poisoned is None:
            a = self.a
            a("MOV", S2, Mem(8, CTX, CTX_SLOT["adjust"]))        # (mov: the flags stay)
            a("CMOV" + cond.upper(), S2, Mem(8, CTX, CTX_SLOT["poison"]))
            a("MOV", Mem(8, CTX, CTX_SLOT["adjust"]), S2)
        for r in sorted(poisoned or ()):
            self._poison_if(cond.upper(), self.reg[r])           # cmov r, POISON

    def emit_fast_copies(self) -> None:
        """Each loop's fast copy, run by run of consecutive pcs; a run that can fall
        through ends with a jump to where the checked code would have gone."""
        for loop in self.loops.values():
            self.fast = loop
            run: list = []
            for pc, insn in self.prog:
                if pc in loop.body:
                    if run and run[-1][0] + run[-1][1].slots != pc:
                        self._emit_run(run)
                        run = []
                    run.append((pc, insn))
            self._emit_run(run)
            self.fast = None

    def _emit_run(self, run: list) -> None:
        i = 0
        while i < len(run):
            i += self._instruction(run, i)
        pc, insn = run[-1]
        if insn.kind not in (Kind.JA, Kind.EXIT):
            self.a.jump("jmp", self.label_of(pc, pc + insn.slots))
