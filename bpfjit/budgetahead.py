"""The instruction budget charged ahead, for runs that can be run again.

Counted exactly, the budget costs compiled code a subtraction on every path through
every branch (clang's diamonds become chains of setcc and add) and keeps LLVM from
folding the blocks it charges.  A run that writes nothing but its own stack and calls
no helper leaves no trace until it returns, so it can be run again: compiled with the
budget charged ahead, each block that charges (`segment_costs`: the checkpoints of
bpfjit.cfg.budget_checkpoints and the first block after each way out of a loop)
deducts the most the code from it to the next such block can cost, and a checkpoint
that leaves the budget negative stops the run with TrapCode.RERUN.  The budget charged
ahead is never above the exact one at a checkpoint, so a run that does not stop this
way would not have run out counted exactly, and returns what it would have; a run that
does stop is run again from the start by code that counts exactly (compiled then,
once), which raises BudgetExceeded at the interpreter's pc after the same work, or
returns.  `VerifiedProgram.writes_beyond_stack` says which programs do not qualify.
"""

from __future__ import annotations

from .cfg import block_costs, block_graph, block_leaders, budget_checkpoints, per_program
from .checkplan import natural_loops
from .program import Program

__all__ = ["segment_costs", "block_charges"]


@per_program
def segment_costs(prog: Program) -> dict[int, int]:
    """The blocks that charge the budget ahead, each with the most instructions a run can
    execute from entering it to entering the next such block (or leaving its
    subprogram), its own included; a local call's callee is charged by its own entry.

    They are the checkpoints, which test what is left, and the first block after each
    way out of a loop, which only deducts: a loop's head is charged a trip or the way to
    its exit, not also all that follows the loop.  Every edge into a block that is not
    a checkpoint goes forward (the target of a backward jump is one), so one pass from
    the last block back computes the costliest path on from every block."""
    members, _, succs = block_graph(prog)
    costs = block_costs(prog, block_leaders(prog))
    charged = set(budget_checkpoints(prog))
    for body, _, _ in natural_loops(prog).values():
        charged.update(s for first in members if first in body
                       for s in succs[first] if s not in body)
    most: dict[int, int] = {}
    for first in sorted(members, reverse=True):
        onward = [most[s] for s in succs[first] if s not in charged]
        most[first] = costs[first] + max(onward, default=0)
    return {pc: most[pc] for pc in charged if pc in most}


def block_charges(prog: Program) -> dict[int, int]:
    """Block leader -> what it deducts when charged ahead: its segment's cost where it
    charges, else nothing."""
    segments = segment_costs(prog)
    return {pc: segments.get(pc, 0) for pc in block_leaders(prog)}
