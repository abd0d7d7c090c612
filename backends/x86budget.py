"""Where the peachpy engine subtracts the instruction budget: fewer times than once per
block, with the same budget wherever it is observed.

Every engine charges a block's cost on entry and checks the budget at checkpoints
(bpfjit.cfg).  A `sub r9, cost` at every block is a chain of dependent instructions
through the budget's register, which branchy code (a state machine, a parser) pays for
in every block.  A block that is not a checkpoint and has one predecessor can leave its
cost pending to its successors instead: the charge is carried down a tree of such
blocks and subtracted, summed, where the budget is observed — at a block that a
checkpoint follows or another predecessor reaches, or one that calls, exits, or may
leave the program early.  So at every checkpoint the budget is exactly what charging
each block would have left, and a run stops at the same pc.
"""

from __future__ import annotations

from bpfjit.cfg import block_costs, block_graph, block_leaders, budget_checkpoints
from bpfjit.isa import Kind

__all__ = ["budget_charges"]

# the budget must be exact before these (they call out, leave the program, or return)
_OBSERVERS = (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL, Kind.CALL_BTF, Kind.EXIT,
              Kind.LD_PACKET)


def budget_charges(prog) -> dict[int, int]:
    """Block leader -> what to subtract from the budget at its start (0: nothing, the
    block's cost is carried to its successors)."""
    leaders = block_leaders(prog)
    costs = block_costs(prog, leaders)
    checkpoints = budget_checkpoints(prog)
    members, preds, succs = block_graph(prog)

    def inherits(block: int) -> bool:
        return block not in checkpoints and len(preds.get(block, ())) == 1

    carried: dict[int, int] = {}            # block -> the pending charge it enters with
    charges: dict[int, int] = {}
    for block in _predecessors_first(members, preds, inherits):
        due = carried.get(block, 0) + costs[block]
        observes = any(prog.at(pc).kind in _OBSERVERS for pc in members[block])
        if observes or block in checkpoints or \
                not all(inherits(after) for after in succs.get(block, ())):
            charges[block], due = due, 0
        else:
            charges[block] = 0
        for after in succs.get(block, ()):
            if inherits(after):
                carried[after] = due
    return charges


def _predecessors_first(members, preds, inherits) -> list[int]:
    """The blocks, each after its only predecessor when it inherits from one: those form
    trees hanging from the other blocks (every cycle passes a checkpoint, which does not
    inherit), so walking up from any block ends."""
    order, placed = [], set()
    for block in sorted(members):
        chain = []
        while block not in placed and inherits(block):
            chain.append(block)
            (block,) = preds[block]
        for item in [block] + chain[::-1]:
            if item not in placed:
                placed.add(item)
                order.append(item)
    return order
