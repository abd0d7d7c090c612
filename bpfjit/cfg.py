"""Control-flow structure of a program: jump targets, basic blocks, subprograms.

`check_structure` rejects what no engine can run safely (jumps out of the
program or into the middle of an lddw, falling off the end); `block_leaders`
gives the basic-block starts at which every engine charges the instruction
budget, so that all engines run out of budget at the same pc.
"""

from __future__ import annotations

from .errors import VerifierError
from .isa import Kind
from .program import Program

__all__ = ["branch_targets", "check_structure", "block_leaders", "MAX_INSNS"]

MAX_INSNS = 1_000_000   # the kernel's limit on program size, in slots


def branch_targets(prog: Program, pc: int) -> list[int]:
    """The pcs that the instruction at `pc` may transfer control to (not fall-through)."""
    insn = prog.at(pc)
    kind = insn.kind
    if kind is Kind.JA:
        return [pc + 1 + (insn.off if insn.spec.width == 64 else insn.imm)]
    if kind is Kind.JCOND:
        return [pc + 1 + insn.off]
    if kind is Kind.CALL_LOCAL:
        return [pc + 1 + insn.imm]
    return []


def check_structure(prog: Program) -> None:
    """Raise VerifierError for a program no engine can run: bad jump targets, no exit."""
    if not prog.insns:
        raise VerifierError(-1, "the program is empty; it needs at least an exit")
    if prog.slot_count > MAX_INSNS:
        raise VerifierError(-1, f"the program has {prog.slot_count} instruction slots; "
                                f"the limit is {MAX_INSNS}")
    for pc, insn in prog:
        for target in branch_targets(prog, pc):
            what = "call" if insn.kind is Kind.CALL_LOCAL else "jump"
            if not 0 <= target < prog.slot_count:
                raise VerifierError(pc, f"{what} to pc {target} is outside the program "
                                        f"(pcs 0-{prog.slot_count - 1})")
            if not prog.is_insn_start(target):
                raise VerifierError(pc, f"{what} to pc {target} lands in the middle of "
                                        f"the lddw at pc {target - 1}")
    last_pc, last = prog.pcs[-1], prog.insns[-1]
    if last.kind not in (Kind.EXIT, Kind.JA):
        raise VerifierError(last_pc, "execution can fall off the end of the program: "
                                     "the last instruction must be exit or ja")


def block_leaders(prog: Program) -> set[int]:
    """pcs that begin a basic block: entry, branch and call targets, and the
    instruction after any jump, call or exit."""
    leaders = {0}
    for pc, insn in prog:
        leaders.update(branch_targets(prog, pc))
        if insn.spec.cls.name in ("JMP", "JMP32"):
            leaders.add(pc + 1)
    leaders.discard(prog.slot_count)
    return leaders
