"""Versioned loops in the peachpy backend (bpfjit.checkplan): each loop's blocks emitted
a second time, after the subprograms, without the accesses a long-enough buffer
proves; jumps into the loop from outside go through a test of the buffer's length
placed just before the checked copy's head.  A mixin of backends.x86's lowering."""

from __future__ import annotations

from bpfjit.isa import Kind

from .x86asm import Mem
from .x86layout import CTX, CTX_SLOT

__all__ = ["VersionLowering"]


class VersionLowering:
    """Labels that know about the fast copies; the entry tests; the fast copies."""

    def _prepare_versions(self, loops) -> None:
        self.loops = {loop.header: loop for loop in loops}
        self.fast = None                     # the loop whose fast copy is being emitted

    def label_of(self, source: int, pc: int) -> object:
        """The label a jump (or fall-through) from `source` to `pc` goes to: inside a
        fast copy, its own; into a versioned loop from outside, the entry test."""
        if self.fast is not None and pc in self.fast.body:
            return ("fast", pc)
        loop = self.loops.get(pc)
        if loop is not None and source not in loop.body:
            return ("enter", pc)
        return pc

    def unchecked(self, pc: int) -> bool:
        """Whether the access at `pc` runs without a check here: proven, or hoisted into
        the fast copy's entry test."""
        return not self.verified.needs_check(pc) or \
            (self.fast is not None and pc in self.fast.unchecked)

    def enter_test(self, pc: int) -> None:
        """Before the checked copy of a versioned loop's head: into the fast copy when
        the buffer is long enough (mem_bound1 is the buffer's length)."""
        loop = self.loops[pc]
        a = self.a
        a.label(("enter", pc))
        a("CMP", Mem(8, CTX, CTX_SLOT["mem_bound1"]), loop.need)   # len >= need?
        a.jump("ae", ("fast", pc))

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
