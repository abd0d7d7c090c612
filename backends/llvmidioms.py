"""Wide loads for the llvm engine: an integer clang reads byte by byte (`p[0] | p[1] << 8
| ...`), loaded whole where the or that completes it stands.

backends/x86idioms.py finds them for peachpy, block by block; the llvm engine takes
the same plans.  LLVM joins such bytes itself only while the whole tree of shifts and
ors is intact: where a field of the integer is read before (`w & 7` beside `w >> 9`,
a record of C bit-fields), InstCombine narrows that read to the one byte it needs
first, and the bytes stay apart (corpus/plain's `bitfields` ran 1.39-1.45x native,
1.02-1.07x with this).  Only reads of the buffer are taken: a spilled u32 reloaded
whole and zero-extended (`ldxdw r4, [r10-16]; lsh r4, 32; rsh r4, 32`), a wide load of
its low half, kept the slot out of LLVM's registers (corpus `strtol` 0.69x -> 1.13x
native when stack slots were taken too).  Only the form whose base register still
holds the address at the or is taken (the others, a value built in its base's own
register or after its base is overwritten, are peachpy's alone); every byte load runs
unchecked and unclamped in the copy being lowered (x86idioms' `free_load`), so the
wide load, made through the pc of one of them (its region, its alias scope, a fast
copy's adjustment), is in bounds too.  The byte loads, shifts and ors stay in the IR; LLVM
deletes those no one reads.  Rotations are left to LLVM, which finds them itself."""

from __future__ import annotations

from bpfjit.cfg import block_graph, block_of
from bpfjit.isa import Kind, written_registers
from bpfjit.liveness import block_live_out
from bpfjit.speculation import clamp_region

from .llvmtypes import I64, INT
from .x86idioms import Plan, WideLoad, plan_block

__all__ = ["IdiomLowering"]


class IdiomLowering:
    """Mixed into the llvm engine's _Function."""

    def wide_load(self, pc: int) -> bool:
        """Lower the ALU instruction at pc as the wide load it completes, if it does."""
        what = self._plan_of(pc).replaced.get(pc)
        if not isinstance(what, WideLoad) or what.first:
            return False
        source = self._first_byte_load(pc, what)
        if self.m.verified.regions.get(source) != "mem":
            return False        # (the stack's slots are LLVM's to keep in registers)
        b, bits = self.b, 8 * what.size
        ptr = self.address(source, what.base, what.off, what.size, write=False)
        value = self.scoped(source, b.load(ptr, typ=INT[bits], align=1))
        if what.swapped:                                    # big-endian: a byte swap
            value = b.call(self.m.module.declare_intrinsic("llvm.bswap", [INT[bits]]),
                           [value])
        if what.size < 8:
            value = b.zext(value, I64)
            self.upper[value.ref] = (1 << bits) - 1
        self.set(what.dst, value)
        return True

    def _plan_of(self, pc: int) -> Plan:
        """The idioms of pc's block in the copy being lowered (planned once per block and
        copy)."""
        prog = self.m.prog
        members = block_graph(prog)[0]
        first = block_of(prog)[pc]
        key = (first, None if self.fast is None else self.fast.header)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = plan_block(prog, members[first], self._free_load,
                                                 lambda: block_live_out(prog)[first])
        return plan

    def _free_load(self, pc: int) -> bool:
        """Whether the access at pc runs here as a plain load: proven or hoisted into
        this copy's entry test (not only covered by a group's check), and not clamped."""
        return self.unchecked_in_copy(pc) and \
            clamp_region(self.m.verified, pc, self.m.speculation) is None

    def _first_byte_load(self, pc: int, what: WideLoad) -> int:
        """The pc of the last load before pc, in its block, of some of the wide value's
        bytes (a byte, or a wider load whose upper half it is: `ldxw r3, [r1+8]; rsh r3,
        16`): every one of them read through `what.base` as it is at pc, so none comes
        before the base's last write (where it may have pointed elsewhere)."""
        prog = self.m.prog
        before = [q for q in block_graph(prog)[0][block_of(prog)[pc]] if q < pc]
        for q in reversed(before):
            insn = prog.at(q)
            if insn.kind is Kind.LDX and insn.src == what.base and \
                    insn.off < what.off + what.size and what.off < insn.off + insn.spec.size:
                return q
            if what.base in written_registers(insn):
                break
        raise AssertionError(f"pc {pc}: a wide load without its byte loads")
