"""Speculation-safe accesses in the peachpy backend (bpfjit.speculation): the
conditional moves to POISON after bounds checks, the clamps of proven accesses whose
offset varies, and the branches a test build leaves out.  A mixin of backends.x86's
lowering."""

from __future__ import annotations

from bpfjit import speculation
from bpfjit.isa import STACK_SIZE
from bpfjit.speculation import FRAME_MASK, clamp_region

from .x86asm import Mem
from .x86layout import CTX, CTX_SLOT, S1, S2

__all__ = ["SpeculationLowering"]


class SpeculationLowering:
    """What backends.x86's lowering calls around accesses when self.spec is set."""

    def clamp_of(self, pc: int) -> object:
        """How the unchecked access at `pc` is made speculation-safe: "adjust" (hoisted
        into a fast copy's entry test), or as clamp_region says (None: not at all)."""
        if self.spec and self.fast is not None and pc in self.fast.unchecked \
                and self.poisoned[self.fast.header] is None:
            return "adjust"
        return clamp_region(self.verified, pc, self.speculation)

    def _check_jump(self, cond: str, label) -> None:
        """A bounds check's branch (left out under bpfjit.speculation.MISPREDICT)."""
        if not speculation.MISPREDICT:
            self.a.jump(cond, label)

    def _poison_if(self, cond: str, reg: str = S2) -> None:
        """cmov<cond> reg, POISON: on the flags a bounds check's branch just tested."""
        if self.spec:
            self.a("CMOV" + cond, reg, Mem(8, CTX, CTX_SLOT["poison"]))

    def _wrap_in_frame(self, reg: str) -> None:
        """and reg, 511: a checked access's height above the top frame's bottom, which
        its check keeps below 512 - size, kept there when the check is mispredicted
        (bpfjit.speculation.FRAME_MASK)."""
        if self.spec:
            self.a("AND", reg, FRAME_MASK)

    def _zero_if(self, cond: str, reg: str) -> None:
        """cmov<cond> reg, 0 (r10 is clobbered): after an index's bounds test, as the
        kernel masks array indices, a mispredicted test reads entry 0."""
        if self.spec:
            self.a("MOV", S1, 0)                            # (mov: the flags stay)
            self.a("CMOV" + cond, reg, S1)

    def _clamp(self, clamp: object, size: int) -> None:
        """Replace the address in r11 by POISON unless it lies in the region `clamp`
        names (a proven access with a variable offset), without a branch."""
        a = self.a
        if clamp == "mem":
            a("MOV", S1, S2)
            a("SUB", S1, Mem(8, CTX, CTX_SLOT["mem"]))
            a("CMP", S1, Mem(8, CTX, CTX_SLOT[f"mem_bound{size}"]))   # in the buffer?
            self._poison_if("AE")
        elif clamp == "stack":
            a("CMP", S2, Mem(8, CTX, CTX_SLOT[f"stack_end{size}"]))  # below the stack's end
            self._poison_if("A")
            a("LEA", S1, Mem(8, self.fp, -STACK_SIZE))                # in a live frame?
            a("CMP", S2, S1)
            self._poison_if("B")
        elif clamp == "fence":
            a("LFENCE")
        elif clamp == "adjust":                  # 0, or POISON if the entry test failed
            a("ADD", S2, Mem(8, CTX, CTX_SLOT["adjust"]))
        else:                                    # ("map", index): in its value arena?
            self._in_map_arena(clamp[1], size)

    def _in_map_arena(self, index: int, size: int, fail=None) -> None:
        """Compare the address in r11 with map `index`'s value arena's first byte and
        the last an access of `size` bytes may start at (r10 clobbered), jumping to
        `fail` (a checked access's) when outside, and poisoning r11 on each compare's
        flags."""
        for offset, outside in ((0, "B"), (self.prog.maps.list[index].size - size, "A")):
            self._placed(S1, ("map", index, offset))            # mov r10, arena + offset
            self.a("CMP", S2, S1)
            if fail is not None:
                self._check_jump(outside.lower(), fail)
            self._poison_if(outside)
