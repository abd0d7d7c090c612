"""Facts about a program that every engine may rely on, computed once.

Today: which loads and stores are provably inside the current stack frame,
because they address r10 plus a constant offset in a subprogram that never
writes r10.  Such accesses need no runtime check in any engine; the verifier
extends this set with everything its abstract interpretation proves.
"""

from __future__ import annotations

from .cfg import subprogram_ranges
from .isa import STACK_SIZE, Kind
from .program import Program

__all__ = ["frame_accesses", "writes_register"]

_MEMORY = {Kind.LDX: "src", Kind.LDSX: "src", Kind.ST: "dst", Kind.STX: "dst",
           Kind.ATOMIC: "dst"}
_WRITES_DST = {Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX}


def writes_register(insn, reg: int) -> bool:
    """True when the instruction may change register `reg` (calls aside)."""
    if insn.kind in _WRITES_DST and insn.dst == reg:
        return True
    if insn.kind is Kind.ATOMIC:
        if insn.spec.op == "cmpxchg":
            return reg == 0
        return insn.spec.fetch and insn.src == reg
    return False


def frame_accesses(prog: Program) -> set[int]:
    """pcs of loads/stores/atomics at r10 + off that stay inside the current frame."""
    proven: set[int] = set()
    for first, end in subprogram_ranges(prog):
        body = [(pc, insn) for pc, insn in prog if first <= pc < end]
        if any(writes_register(insn, 10) for _, insn in body):
            continue
        for pc, insn in body:
            base = _MEMORY.get(insn.kind)
            if base and getattr(insn, base) == 10 and \
                    -STACK_SIZE <= insn.off and insn.off + insn.spec.size <= 0:
                proven.add(pc)
    return proven
