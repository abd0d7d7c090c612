"""Two copies of some code in the llvm backend (bpfjit.checkplan): a loop's blocks lowered a
second time without the accesses a long-enough buffer proves, entered from a block
that tests the buffer's length; and a group of accesses from one base checked once,
with a per-access copy of its instructions for when that check fails.  A mixin of
backends.llvm's per-subprogram lowering.

Registers are allocas, so the two copies need no phis: both read and write the
same slots, and mem2reg builds the phis where they meet again."""

from __future__ import annotations

from . import irtext as ir

from bpfjit.tripcount import RANGE

from .copies import CopyTracking
from .llvmtypes import I1, I8, I64, const, fit_bound

__all__ = ["VersionLowering"]


class VersionLowering(CopyTracking):
    """Branch targets that know about the copies; the copies themselves."""

    def _prepare_versions(self) -> None:
        """Blocks of this function's versioned loops: each fast copy's, and the block
        that chooses a copy on entry.  Called after self.blocks exists."""
        self.prepare_copies(self.m.verified, self.first, self.end, budget_free=True)
        self.resume = 0                      # the pc after the group last lowered
        self.fast_blocks: dict[int, dict[int, object]] = {}
        self.enter: dict[int, object] = {}
        for header, loop in self.loops.items():
            self.fast_blocks[header] = {
                pc: self.func.append_basic_block(f"fast{pc}")
                for pc in sorted(loop.body) if pc in self.blocks}
            self.enter[header] = self.func.append_basic_block(f"enter{header}")

    def target(self, source: int, pc: int):
        """The LLVM block a jump (or fall-through) from `source` to `pc` goes to."""
        where = self.copy_of(source, pc)
        if where == "fast":
            return self.fast_blocks[self.fast.header][pc]
        return self.enter[pc] if where == "enter" else self.blocks[pc]

    def lower_group(self, pc: int) -> None:
        """One check of the group's whole extent; its instructions lowered twice, without
        the members' checks when it passes and with every check when it does not; then
        on from the instruction after its last member (self.resume)."""
        group, b, prog = self.groups[pc], self.b, self.m.prog
        span = []
        while pc <= group.last:
            insn = prog.at(pc)
            span.append((pc, insn))
            pc += insn.slots
        self.resume = pc
        start = b.add(self.get(group.base), const(I64, group.lo))
        x, bound = self.buffer_test(start, group.hi - group.lo)
        fits = b.icmp_unsigned("<", x, bound)
        # (speculation: the members' offsets + POISON when the check fails)
        adjust = self.guard(x, bound, const(I64, 0)) if self.m.spec else None
        once = self.func.append_basic_block(f"group{group.first}")
        each = self.func.append_basic_block(f"each{group.first}")
        after = self.func.append_basic_block(f"after{group.first}")
        b.cbranch(self.predicted(fits), once, each).set_metadata("prof", self.m.unlikely_second)
        outer = self.adjust
        for copy, block in ((group, once), (None, each)):
            b.position_at_end(block)
            self.grouped = copy
            self.adjust = outer if copy is None or adjust is None else \
                adjust if outer is None else b.or_(adjust, outer)
            for at, insn in span:
                self.lower_op(at, insn)
            b.branch(after)
        self.grouped, self.adjust = None, outer
        b.position_at_end(after)

    def _enter_fast(self, b, loop, tests: list) -> None:
        """Branch from the entry block into the fast copy when every one of `tests` (the
        entry's conditions but the budget's) holds and the budget covers the loop's
        trips, else into the checked copy.  When the verifier bounds the trips of every
        entry (`most_trips`), the budget is compared with what that many trips cost: one
        compare, where counting this entry's trips takes about fifteen instructions (a
        short inner loop entered often paid for them on every entry); a budget below it
        runs the checked copy, as exact."""
        condition = tests[0] if tests else None
        for test in tests[1:]:
            condition = b.and_(condition, test)
        trips = loop.trips
        if trips is not None:
            # charged ahead (bpfjit.budgetahead), a trip passes each checkpoint of the body
            # (the head, or the target of the backward jump of a rotated loop) at most
            # once, which deducts its segment
            per_trip = sum(self.m.segments[pc] for pc in loop.body
                           if pc in self.m.checkpoints) if self.m.ahead else trips.iteration_cost
            most = loop.most_trips
            if most is not None:
                cost = const(I64, most * per_trip)
                covered = b.icmp_signed(">=", b.load(self.budget, typ=I64), cost)
            else:
                covered = self._budget_covers(b, trips, per_trip)
            condition = covered if condition is None else b.and_(condition, covered)
        if condition is None:
            condition = const(I1, 1)
        if loop.unchecked:
            condition = self.predicted(condition)
        b.cbranch(condition, self.fast_blocks[loop.header][loop.header],
                  self.blocks[loop.header])

    def _budget_covers(self, b, trips, per_trip: int):
        """Whether the budget left covers the loop's most trips (TripBound.trips, the
        same arithmetic) at `per_trip` each: its fast copy then never tests the budget."""
        most, ok = self._most_trips(b, trips)
        left = b.load(self.budget, typ=I64)
        covered = b.icmp_signed("<=", most, b.sdiv(left, const(I64, per_trip)))
        return b.and_(ok, covered)

    def _most_trips(self, b, trips) -> tuple:
        """(most, ok): when ok, the loop's head runs at most `most` times from this
        entry (TripBound.trips, the same arithmetic)."""
        x = b.load(self.regs[trips.base], typ=I64)
        n = self.imm(trips.bound_imm)
        if trips.bound_negated:     # the test compared x + c + q with the immediate
            n = b.sub(n, b.load(self.regs[trips.bound_reg], typ=I64))
        elif trips.bound_reg is not None:
            n = b.add(b.load(self.regs[trips.bound_reg], typ=I64), n)
        elif trips.bound_slot is not None:      # a spilled bound no trip writes
            n = b.add(self._slot(b, trips.bound_slot), n)
        span = const(I64, 2 * RANGE if trips.signed else RANGE)
        if trips.signed:        # -RANGE <= x, n <= RANGE
            x_ok = b.icmp_unsigned("<=", b.add(x, const(I64, RANGE)), span)
            n_ok = b.icmp_unsigned("<=", b.add(n, const(I64, RANGE)), span)
        else:                   # 0 <= x, n <= RANGE
            x_ok = b.icmp_unsigned("<=", x, span)
            n_ok = b.icmp_unsigned("<=", n, span)
        strict = const(I64, int(trips.strict))
        offset = self.imm(trips.offset)
        if trips.relation == "<=":
            distance = b.sub(b.sub(b.sub(n, strict), offset), x)
        elif trips.relation == ">=":
            distance = b.sub(b.sub(b.add(x, offset), n), strict)
        elif trips.step > 0:
            distance = b.sub(b.sub(n, offset), x)
        else:
            distance = b.sub(b.add(x, offset), n)
        zero = const(I64, 0)
        positive = b.select(b.icmp_signed(">", distance, zero), distance, zero)
        most = b.add(b.udiv(positive, const(I64, abs(trips.step))), const(I64, 2))
        ok = b.and_(x_ok, n_ok)
        if trips.relation == "!=":      # n is met: not passed, a whole number of steps away
            ok = b.and_(ok, b.icmp_signed(">=", distance, const(I64, 0)))
            if abs(trips.step) != 1:
                rest = b.urem(distance, const(I64, abs(trips.step)))
                ok = b.and_(ok, b.icmp_unsigned("==", rest, const(I64, 0)))
        elif trips.relation == ">=" and not trips.signed:    # no wrap below zero
            step = const(I64, -trips.step)
            ok = b.and_(ok, b.and_(b.icmp_signed(">=", b.add(n, strict), step),
                                   b.icmp_signed(">=", b.add(x, offset), step)))
        return most, ok

    def _slot(self, b, off: int):
        """The 8 bytes at r10 + off (a stack slot no trip of the loop writes)."""
        d = b.sub(b.add(b.load(self.regs[10], typ=I64), const(I64, off)), self.frame_lo_i)
        return b.load(b.gep(self.frame_lo, [d], source_etype=I8), typ=I64, align=1)

    def _entry_value(self, b, atom):
        return self._slot(b, atom[1]) if isinstance(atom, tuple) else \
            b.load(self.regs[atom], typ=I64)

    def _sum_at_entry(self, b, registers, slots, start):
        for reg in registers:
            start = b.add(start, b.load(self.regs[reg], typ=I64))
        for off in slots:
            start = b.add(start, self._slot(b, off))
        return start

    def _range_holds(self, b, test, moved):
        """Whether the test's range lies in its region (the buffer, or the stack a checked
        stack access may touch), the adjustment of its accesses for
        speculation when it does not, and the conditions the range's arithmetic needs
        (its wrapped term wraps on no trip, the register step below 2^31); `moved` is
        the most trips less one, counted at the entry (None: the loop counts none)."""
        start = self._sum_at_entry(b, test.registers, test.slots, const(I64, test.lo))
        checks = []
        span = None
        if moved is not None and (test.step or test.step_register is not None):
            per_trip = const(I64, abs(test.step))
            if test.step_register is not None:
                by = b.load(self.regs[test.step_register], typ=I64)
                checks.append(b.icmp_unsigned("<", by, const(I64, 1 << 31)))  # (no overflow)
                per_trip = b.add(per_trip, by)
            span = b.mul(per_trip, moved)
        if test.wrap is not None:
            wrap = test.wrap
            inner = self._sum_at_entry(b, wrap.registers, wrap.slots, const(I64, wrap.const))
            low = b.and_(inner, const(I64, 0xFFFFFFFF))          # zext32 at the entry
            top = b.add(low, const(I64, wrap.spread))
            if wrap.step and moved is not None:
                top = b.add(top, b.mul(const(I64, wrap.step), moved))
            checks.append(b.icmp_unsigned("<=", top, const(I64, 0xFFFFFFFF)))
            start = b.add(start, low)
        width = test.hi - test.lo
        if span is not None:
            if test.step < 0:
                start = b.sub(start, span)
            width = b.add(const(I64, width), span)
        if test.region == "stack":
            x = b.sub(start, self.frame_lo_i)
            bound = fit_bound(b, self.stack_room(), width)
        else:
            x, bound = b.sub(start, self.mem_i), fit_bound(b, self.mem_len, width)
        holds = b.icmp_unsigned("<", x, bound)
        adjust = self.guard(x, bound, const(I64, 0), builder=b) if self.m.spec else None
        return holds, adjust, checks

    def lower_fast_copies(self, prog) -> None:
        """The entry tests and the fast copy of each versioned loop (after the checked
        code, so that every block it may leave to exists)."""
        for header, loop in self.loops.items():
            b = self.b = ir.IRBuilder(self.enter[header])
            tests = []
            self.adjust = None
            if loop.need:               # (accesses hoisted by their extents)
                tests.append(b.icmp_unsigned(">=", self.mem_len, const(I64, loop.need)))
                if self.m.spec:     # the hoisted accesses' offsets + POISON if len < need
                    self.adjust = self.guard(const(I64, loop.need - 1), self.mem_len,
                                             const(I64, 0), builder=b)
            moved, conditions = None, []
            if loop.counted is not None:    # (the ranges that move: trips counted here)
                most, ok = self._most_trips(b, loop.counted)
                conditions += [ok, b.icmp_unsigned("<=", most, const(I64, 1 << 32))]
                moved = b.sub(most, const(I64, 1))
            for r, atom, c in loop.copies:  # a copy the ranges read as its source + c
                conditions.append(b.icmp_unsigned(
                    "==", b.load(self.regs[r], typ=I64),
                    b.add(self._entry_value(b, atom), const(I64, c))))
            for test in loop.ranges:    # [sum at the entry + lo, ... + hi) in the buffer
                holds, adjust, checks = self._range_holds(b, test, moved)
                tests.append(holds)
                conditions += checks
                if adjust is not None:
                    self.adjust = adjust if self.adjust is None else b.or_(self.adjust, adjust)
            if conditions:
                tests += conditions
                if self.m.spec:     # POISON unless every condition holds, not predicted
                    failed = b.zext(b.not_(conditions[0]), I64)
                    for condition in conditions[1:]:
                        failed = b.or_(failed, b.zext(b.not_(condition), I64))
                    adjust = self.guard(failed, const(I64, 1), const(I64, 0), builder=b)
                    self.adjust = adjust if self.adjust is None else b.or_(self.adjust, adjust)
            self._enter_fast(b, loop, tests)
            self.fast, self.b, self.resume = loop, b, 0
            blocks = self.fast_blocks[header]
            # the last instruction lowered, and the pc after it: after a group, the pc
            # after its last member (self.resume), where a fall-through goes on
            last = following = None
            for pc, insn in prog:
                if pc not in loop.body or pc < self.resume:
                    continue
                if pc in blocks:
                    if last is not None and not b.block.is_terminated:
                        b.branch(self.target(last, following))
                    b.position_at_end(blocks[pc])
                self.lower_insn(pc, insn)
                last, following = pc, max(pc + insn.slots, self.resume)
            if not b.block.is_terminated:
                b.branch(self.target(last, following))
            self.fast, self.adjust = None, None
