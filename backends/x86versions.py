"""Two copies of some code in the peachpy backend (bpfjit.checkplan): each versioned
loop's blocks emitted a second time, after the subprograms, without the accesses a
long-enough buffer proves (jumps into the loop from outside go through a test of the
buffer's length placed just before the checked copy's head); and a group of accesses
from one base checked once, its instructions emitted in line without their checks and
again out of line with every check, where a failing group check goes.  A mixin of
backends.x86's lowering."""

from __future__ import annotations

from bpfjit.isa import Kind
from bpfjit.poisoning import poisoned_registers

from .copies import CopyTracking
from .x86asm import Mem, r32
from .x86layout import CTX, CTX_SLOT, S1, S2

__all__ = ["VersionLowering"]


class VersionLowering(CopyTracking):
    """Labels that know about the fast copies; the entry tests; the fast copies."""

    def _prepare_versions(self) -> None:
        # (the stack's range tests: the llvm backend's alone for now)
        self.prepare_copies(self.verified, 0, self.prog.slot_count, budget_free=False,
                           moving_ranges=self._moving_ranges, stack_ranges=False)
        self.each_copies: list[tuple] = []   # (label, back label, span, loop) to emit
        # per loop: the registers its entry poisons (bpfjit.speculation), None: adjust
        self.poisoned = {pc: poisoned_registers(self.prog, loop)
                         for pc, loop in self.loops.items()}

    @staticmethod
    def _moving_ranges(loop) -> bool:
        """Whether _count_trips computes the loop's trips: an unsigned bound, a
        power-of-two step and 32-bit immediates (else only its plain ranges stay)."""
        trips = loop.counted
        if trips is None:
            return True
        step = abs(trips.step)
        numbers = (trips.bound_imm, trips.offset + int(trips.strict),
                   trips.offset - int(trips.strict), trips.offset + trips.step,
                   int(trips.strict) + trips.step)
        return not trips.signed and step & (step - 1) == 0 and \
            all(-(1 << 31) <= v < 1 << 31 for v in numbers)

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
        if loop.counted is not None:
            self._count_trips(pc, loop.counted, poisoned)
        for r, atom, c in loop.copies:
            self._load_atom(S1, atom)                            # r10 = the source
            if c:
                a("ADD", S1, c)                                  # + c
            a("CMP", self.reg[r], S1)
            self._unless_hoisted("ne", pc, poisoned)             # not its copy
        for test in loop.ranges:
            self._range(pc, test, poisoned)
        a.jump("jmp", ("fast", pc))

    def _range(self, pc: int, test, poisoned) -> None:
        """The range of a RangeTest in the buffer, or to the checked copy: its width (the
        span of its trips counted at the entry, save0 holding them less one) against the
        buffer's length, then its start from the registers, stack slots and wrapped u32
        term.  A failed test's POISON goes through r11 (_unless_hoisted), so nothing
        stays in r11 across one: the wrapped term waits in save1, the start comes last."""
        a = self.a
        moved = Mem(8, CTX, CTX_SLOT["save0"])
        low = Mem(8, CTX, CTX_SLOT["save1"])
        if test.wrap is not None:
            wrap = test.wrap
            self._sum(S1, wrap.registers, wrap.slots, wrap.const)
            a("MOV", r32(S1), r32(S1))                           # r10 = u32(inner sum)
            a("MOV", low, S1)
            if wrap.step:
                a("IMUL", S2, moved, wrap.step)                  # r11 = step x trips
                a("ADD", S2, S1)
            else:
                a("MOV", S2, S1)
            if wrap.spread:
                a("ADD", S2, wrap.spread)                        # + its accesses' spread
            a("SHR", S2, 32)
            self._unless_hoisted("ne", pc, poisoned)             # wraps on some trip
        if test.step_register is not None:
            a("MOV", S1, self.reg[test.step_register])
            a("SHR", S1, 31)
            self._unless_hoisted("ne", pc, poisoned)             # a step of 2^31 or more
        if test.step or test.step_register is not None:          # r10 = the span moved
            if test.step_register is not None:
                a("MOV", S1, self.reg[test.step_register])
                if test.step:
                    a("ADD", S1, test.step)
                a("IMUL", S1, moved)
            else:
                a("IMUL", S1, moved, abs(test.step))
            a("ADD", S1, test.hi - test.lo)                      # r10 = the width
            a("NEG", S1)
            a("ADD", S1, Mem(8, CTX, CTX_SLOT["mem_bound1"]))    # r10 = length - width
            self._unless_hoisted("ae", pc, poisoned)             # (no carry: shorter)
        else:
            a("MOV", S1, Mem(8, CTX, CTX_SLOT["mem_bound1"]))    # r10 = buffer length
            a("SUB", S1, test.hi - test.lo)                      # - the range's width
            self._unless_hoisted("b", pc, poisoned)              # shorter than the range
        if test.step < 0:                                        # (moving down)
            a("IMUL", S2, moved, -test.step)
            a("NEG", S2)
            self._sum(S2, test.registers, test.slots, test.lo, into=True)
        else:
            self._sum(S2, test.registers, test.slots, test.lo)   # r11 = the range's start
        if test.wrap is not None:
            a("ADD", S2, low)
        a("SUB", S2, Mem(8, CTX, CTX_SLOT["mem"]))               # - the buffer's start
        a("CMP", S2, S1)
        self._unless_hoisted("a", pc, poisoned)                  # beyond the last fit

    def _load_atom(self, reg: str, atom) -> None:
        if isinstance(atom, int):
            self.a("MOV", reg, self.reg[atom])
        else:
            self.a("MOV", reg, Mem(8, self.reg[10], atom[1]))    # a stack slot

    def _sum(self, reg: str, registers, slots, const: int, into: bool = False) -> None:
        """reg = (reg if `into`) + registers + slots + const."""
        a = self.a
        slots = [Mem(8, self.reg[10], off) for off in slots]
        if not into and registers:
            first, *rest = registers
            a("LEA", reg, Mem(8, self.reg[first], const))        # reg = first + const
            const, terms = 0, [self.reg[r] for r in rest] + slots
        else:
            terms = [self.reg[r] for r in registers] + slots
            if not into:
                a("MOV", reg, 0)
        for term in terms:
            a("ADD", reg, term)
        if const:
            a("ADD", reg, const)

    def _count_trips(self, pc: int, trips, poisoned) -> None:
        """save0 = the most runs of the loop's head from this entry, less one
        (TripBound.trips's arithmetic, for unsigned bounds and power-of-two steps,
        which only moving_ranges() lets through), or to the checked copy."""
        a = self.a
        n = Mem(8, CTX, CTX_SLOT["save1"])
        x = self.reg[trips.base]
        if trips.bound_negated:
            a("MOV", S1, trips.bound_imm)
            a("SUB", S1, self.reg[trips.bound_reg])
        elif trips.bound_reg is not None or trips.bound_slot is not None:
            self._load_atom(S1, trips.bound_reg if trips.bound_slot is None
                            else ("slot", trips.bound_slot))     # r10 = the bound
            if trips.bound_imm:
                a("ADD", S1, trips.bound_imm)
        else:
            a("MOV", S1, trips.bound_imm)
        a("MOV", n, S1)                                          # save1 = n
        a("SHR", S1, 61)
        self._unless_hoisted("ne", pc, poisoned)                 # n beyond 2^61
        a("MOV", S1, x)
        a("SHR", S1, 61)
        self._unless_hoisted("ne", pc, poisoned)                 # x beyond 2^61
        strict, offset = int(trips.strict), trips.offset
        if trips.relation == "<=":                               # n - strict - offset - x
            a("MOV", S2, n)
            if strict + offset:
                a("SUB", S2, strict + offset)
            a("SUB", S2, x)
        elif trips.relation == ">=":                             # x + offset - n - strict
            a("MOV", S2, x)
            if offset - strict:
                a("ADD", S2, offset - strict)
            a("SUB", S2, n)
        elif trips.step > 0:                                     # n - offset - x
            a("MOV", S2, n)
            if offset:
                a("SUB", S2, offset)
            a("SUB", S2, x)
        else:                                                    # x + offset - n
            a("MOV", S2, x)
            if offset:
                a("ADD", S2, offset)
            a("SUB", S2, n)
        shift = abs(trips.step).bit_length() - 1
        if trips.relation == "!=":                               # not passed, whole steps
            a("CMP", S2, 0)
            self._unless_hoisted("l", pc, poisoned, scratch=S1)
            if shift:
                a("TEST", S2, abs(trips.step) - 1)
                self._unless_hoisted("ne", pc, poisoned, scratch=S1)
        elif trips.relation == ">=":                             # no wrap below zero
            a("MOV", S1, n)
            a("ADD", S1, strict + trips.step)
            self._unless_hoisted("l", pc, poisoned, scratch=S1)  # (n + strict < -step)
            a("LEA", S1, Mem(8, x, offset + trips.step))
            a("CMP", S1, 0)
            self._unless_hoisted("l", pc, poisoned, scratch=S1)  # (x + offset < -step)
        a("XOR", r32(S1), r32(S1))
        a("TEST", S2, S2)
        a("CMOVS", S2, S1)                                       # max(distance, 0)
        if shift:
            a("SHR", S2, shift)
        a("ADD", S2, 1)                                          # most - 1
        a("MOV", Mem(8, CTX, CTX_SLOT["save0"]), S2)
        a("SHR", S2, 32)
        self._unless_hoisted("ne", pc, poisoned)                 # most beyond 2^32

    def _unless_hoisted(self, cond: str, pc: int, poisoned, scratch: str = S2) -> None:
        """On `cond` (an entry test failed), to the checked copy's head at `pc`; for
        speculation past that branch, POISON into the registers every hoisted address
        derives from, or else into the hoisted accesses' "adjust" (through `scratch`,
        which it overwrites)."""
        self._check_jump(cond, pc)
        if not self.spec:
            return
        if poisoned is None:
            a = self.a
            a("MOV", scratch, Mem(8, CTX, CTX_SLOT["adjust"]))   # (mov: the flags stay)
            a("CMOV" + cond.upper(), scratch, Mem(8, CTX, CTX_SLOT["poison"]))
            a("MOV", Mem(8, CTX, CTX_SLOT["adjust"]), scratch)
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
