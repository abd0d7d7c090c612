"""Two copies of some code in the llvm backend (bpfjit.checkplan): a loop's blocks lowered a
second time without the accesses a long-enough buffer proves, entered from a block
that tests the buffer's length; and a group of accesses from one base checked once,
with a per-access copy of its instructions for when that check fails.  A mixin of
backends.llvm's per-subprogram lowering.

Registers are allocas, so the two copies need no phis: both read and write the
same slots, and mem2reg builds the phis where they meet again."""

from __future__ import annotations

from llvmlite import ir

from bpfjit.checkplan import check_groups

from .llvmtypes import I8, I64, const, fit_bound

__all__ = ["VersionLowering"]


class VersionLowering:
    """Branch targets that know about the fast copies; the fast copies themselves."""

    def _prepare_versions(self) -> None:
        """Blocks of this function's versioned loops: each fast copy's, and the block
        that chooses a copy on entry.  Called after self.blocks exists."""
        self.loops = {loop.header: loop for loop in self.m.versioned
                      if self.first <= loop.header < self.end}
        self.fast = None                     # the loop whose fast copy is being lowered
        self.groups = {first: group for first, group in check_groups(self.m.verified).items()
                       if self.first <= first < self.end}
        self.grouped = None                  # the group whose checked-once copy is lowered
        self.resume = 0                      # the pc after the group last lowered
        self.fast_blocks: dict[int, dict[int, object]] = {}
        self.enter: dict[int, object] = {}
        for header, loop in self.loops.items():
            self.fast_blocks[header] = {
                pc: self.func.append_basic_block(f"fast{pc}")
                for pc in sorted(loop.body) if pc in self.blocks}
            self.enter[header] = self.func.append_basic_block(f"enter{header}")

    def target(self, source: int, pc: int):
        """The LLVM block a jump (or fall-through) from `source` to `pc` goes to: inside
        a fast copy, its own blocks; into a versioned loop from outside, the entry
        test; otherwise the checked code."""
        if self.fast is not None and pc in self.fast.body:
            return self.fast_blocks[self.fast.header][pc]
        loop = self.loops.get(pc)
        if loop is not None and source not in loop.body:
            return self.enter[pc]
        return self.blocks[pc]

    def unchecked(self, pc: int) -> bool:
        """Whether the access at `pc` runs without a check here: proven, or hoisted into
        the fast copy's entry test."""
        return not self.m.verified.needs_check(pc) or \
            (self.fast is not None and pc in self.fast.unchecked) or \
            (self.grouped is not None and pc in self.grouped.members)

    def wants_group(self, pc: int) -> bool:
        """Whether a group of accesses starts at `pc` and some of them need a check here."""
        group = self.groups.get(pc)
        return group is not None and self.grouped is None and \
            not all(self.unchecked(member) for member in group.members)

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
        width = group.hi - group.lo
        if self.m.metadata:
            lo, length = self._region()
            fits = b.icmp_unsigned("<", b.sub(start, lo), fit_bound(b, length, width))
        else:
            fits = b.icmp_unsigned("<", b.sub(start, self.mem_i), self._bound("mem", width))
        once = self.func.append_basic_block(f"group{group.first}")
        each = self.func.append_basic_block(f"each{group.first}")
        after = self.func.append_basic_block(f"after{group.first}")
        b.cbranch(fits, once, each).set_metadata("prof", self.m.unlikely_second)
        for copy, block in ((group, once), (None, each)):
            b.position_at_end(block)
            self.grouped = copy
            for at, insn in span:
                self.lower_op(at, insn)
            b.branch(after)
        self.grouped = None
        b.position_at_end(after)

    def lower_fast_copies(self, prog) -> None:
        """The entry tests and the fast copy of each versioned loop (after the checked
        code, so that every block it may leave to exists)."""
        for header, loop in self.loops.items():
            b = ir.IRBuilder(self.enter[header])
            long_enough = b.icmp_unsigned(">=", self.mem_len, const(I64, loop.need))
            b.cbranch(long_enough, self.fast_blocks[header][header], self.blocks[header])
            self.fast, self.b, self.resume = loop, b, 0
            blocks = self.fast_blocks[header]
            last = None                      # the last instruction lowered
            for pc, insn in prog:
                if pc not in loop.body or pc < self.resume:
                    continue
                if pc in blocks:
                    if last is not None and not b.block.is_terminated:
                        b.branch(self.target(last[0], last[0] + last[1].slots))
                    b.position_at_end(blocks[pc])
                self.lower_insn(pc, insn)
                last = pc, insn
            if not b.block.is_terminated:
                b.branch(self.target(last[0], last[0] + last[1].slots))
            self.fast = None
