"""Which registers hold the frame's top plus a register plus a constant, within a block.

The peachpy backend checks an access through such a pointer by the sum of what was added
(`lea r11, [x + c + off + 512]`), not by the pointer minus the frame's bottom (`lea
r11, [p + off + 512]; sub r11, rbp`): one instruction less, and one less on the way to
the load.  clang builds a stack pointer from r10 right before the access
(`r9 = r10; r9 += -32; r9 += r8`), which is what this follows.
"""

from __future__ import annotations

from bpfjit.isa import Kind
from bpfjit.liveness import use_def

__all__ = ["FrameTerms", "follow"]

FP = 10

# register -> (the register added to the frame's top, or None; the constant added)
FrameTerms = dict[int, tuple[int | None, int]]


def follow(terms: FrameTerms, insn) -> None:
    """Update `terms` past `insn`: what it writes is forgotten (and every entry that
    adds a register it writes), then a 64-bit `mov` from r10 or from a followed
    register, an `add`/`sub` of a constant to one, or the `add` of a register to one
    that adds none yet is followed."""
    made = None
    if insn.kind is Kind.ALU and insn.spec.width == 64:
        op, dst, spec = insn.spec.op, insn.dst, insn.spec
        if op == "mov" and spec.source == "reg":
            made = (None, 0) if insn.src == FP else terms.get(insn.src)
        elif op in ("add", "sub") and spec.source == "imm" and dst in terms:
            added, constant = terms[dst]
            made = added, constant + (insn.imm if op == "add" else -insn.imm)
        elif op == "add" and spec.source == "reg" and dst in terms and terms[dst][0] is None \
                and insn.src not in (dst, FP):
            made = insn.src, terms[dst][1]
    written = use_def(insn)[1]
    if written:
        for reg in [r for r, (added, _) in terms.items()
                    if written >> r & 1 or (added is not None and written >> added & 1)]:
            del terms[reg]
    if made is not None and not (made[0] is not None and written >> made[0] & 1):
        terms[insn.dst] = made
