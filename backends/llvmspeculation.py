"""Speculation-safe accesses in the llvm backend (bpfjit.speculation): a compare and a
conditional move in inline asm that LLVM cannot drop after the branch on the same
test, lfence, and the clamps of proven accesses whose offset varies.  A mixin of
backends.llvm's per-subprogram lowering."""

from __future__ import annotations

from . import irtext as ir

from bpfjit import speculation
from bpfjit.speculation import FRAME_MASK, POISON, clamp_region

from .llvmtypes import I1, I8, I64, PTR, const

__all__ = ["SpeculationLowering"]


class SpeculationLowering:
    """guard() and fence(); the pointers of unchecked accesses (_clamped)."""

    def predicted(self, ok):
        """The condition a bounds test branches on: `ok`, or under
        bpfjit.speculation.MISPREDICT (testing) true, as a CPU may predict it."""
        return const(I1, 1) if speculation.MISPREDICT else ok

    def guard(self, x, bound, keep, strict: bool = True, builder=None, poison: int = POISON):
        """`keep` when x < bound (x <= bound unless `strict`), else `poison` (an index
        becomes 0), by a compare and a conditional move in inline asm: LLVM cannot see
        that a branch on the same test already decided it, so the move stays, and the
        CPU does not predict it."""
        move = "cmovaeq" if strict else "cmovaq"
        asm = ir.InlineAsm(ir.FunctionType(I64, [I64, I64, I64, I64]),
                           f"cmpq $2, $1; {move} $3, $0", "=r,r,r,r,0,~{flags}", False)
        return (builder or self.b).call(asm, [x, bound, const(I64, poison), keep],
                                        attrs=("readnone", "nounwind"))

    def wrap_in_frame(self, d):
        """`d & 511`: a checked access's offset from the top frame's bottom, which its
        check keeps below 512 - size, kept there when the check is mispredicted
        (bpfjit.speculation.FRAME_MASK)."""
        return self.and_in_asm(d, FRAME_MASK)

    def and_in_asm(self, x, mask: int):
        """`x & mask` in inline asm, which LLVM cannot drop after a check that already
        bounds x, as it would the same `and` in IR (wrap_in_frame; an index masked for a
        mispredicted check: _masked_index)."""
        asm = ir.InlineAsm(ir.FunctionType(I64, [I64]), f"andq $${mask}, $0",
                           "=r,0,~{flags}", False)
        return self.b.call(asm, [x], attrs=("readnone", "nounwind"))

    def fence(self) -> None:
        """lfence: no later instruction runs, even speculatively, before the earlier
        ones are done (where an access's region is not one range to clamp to)."""
        asm = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "lfence", "~{memory}", True)
        self.b.call(asm, [])

    def _clamped(self, pc: int, addr, size: int, region):
        """The pointer of a proven access at `addr`, clamped when its offset varies."""
        b, clamp = self.b, clamp_region(self.m.verified, pc, self.m.speculation)
        if clamp == "fence":
            self.fence()
        if region == "mem":
            d = b.sub(addr, self.mem_i)
            if clamp == "mem":
                x, bound = self.buffer_test(addr, size)
                d = self.guard(x, bound, d)
            # (a fast copy's or a group's adjustment on every buffer access in it, the
            # proven ones too: one base for all, whose loads LLVM can then combine)
            adjust = self._adjustment(pc, any_in_buffer=True)
            if adjust is not None:
                d = b.add(d, adjust)
            return b.gep(self.mem, [d], source_etype=I8)
        if region == "stack":
            if clamp == "stack":
                d = b.sub(addr, self.frame_lo_i)
                d = self.guard(d, self._bound("stack", size), d, strict=False)
                return b.gep(self.frame_lo, [d], source_etype=I8)
            base = b.ptrtoint(self.stack_base, I64)
            d = b.sub(addr, base)
            # (an access a fast copy's stack range test hoisted: POISON added when the
            # test failed, a mispredicted entry then faults instead of reading)
            adjust = self._adjustment(pc)
            if adjust is not None:
                d = b.add(d, adjust)
            return b.gep(self.stack_base, [d], source_etype=I8)
        if isinstance(clamp, tuple):
            arena = self.m.map_address(clamp[1])
            d = b.sub(addr, arena)
            room = const(I64, self.m.prog.maps.list[clamp[1]].size - size)
            addr = b.add(arena, self.guard(d, room, d, strict=False))
        adjust = self._adjustment(pc)
        if adjust is not None:
            addr = b.add(addr, adjust)
        return b.inttoptr(addr, PTR)

    def _adjustment(self, pc: int, any_in_buffer: bool = False):
        """What the access at `pc` adds to its offset (self.adjust) when it is a group
        member or an access the fast copy's entry test hoisted, or with `any_in_buffer`
        any buffer access lowered in a fast copy or a group's checked-once copy (which
        the adjustment's test dominates); else None."""
        if self.adjust is None:
            return None
        if any_in_buffer and (self.fast is not None or self.grouped is not None):
            return self.adjust
        if (self.grouped is not None and pc in self.grouped.members) or \
                (self.fast is not None and pc in self.fast.unchecked):
            return self.adjust
        return None
