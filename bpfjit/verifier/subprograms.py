"""A subprogram's blocks for the fixpoint (bpfjit.verifier.analysis): successors,
reverse postorder, loop heads and bodies, the states on its edges, the pcs a block runs
(with the instruction pairs a block may run past its end as one), and whether a
variable moved toward a bound on a way round a loop (strict mode's termination proof)."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

from ..cfg import branch_targets
from ..isa import Kind
from ..program import Program
from .journal import Journal
from .state import GHOST, LEN, State

__all__ = ["Subprogram", "edge_states", "extensions", "moves_to_a_bound", "block_pcs",
           "block_end"]


class Subprogram:
    """The blocks of one subprogram and their fixpoint states."""

    def __init__(self, prog: Program, first: int, end: int, leaders: frozenset[int],
                 key: int | None = None):
        self.first, self.end = first, end
        # which analysis of it this is (Analysis.subs; LocalCallRules._callee_key): its
        # first pc, or that plus n << 32 for the n-th shape of pointer arguments more
        self.key = first if key is None else key
        succs: dict[int, list[int]] = {}
        block = first
        for pc, insn in prog:
            if not first <= pc < end:
                continue
            if pc in leaders:
                block = pc
            nxt = pc + insn.slots
            if nxt in leaders or nxt >= end or insn.kind in (Kind.JA, Kind.JCOND, Kind.EXIT):
                targets = [] if insn.kind is Kind.EXIT else list(branch_targets(prog, pc)) \
                    if insn.kind in (Kind.JA, Kind.JCOND) else []
                if insn.kind not in (Kind.JA, Kind.EXIT) and nxt < end:
                    targets.append(nxt)
                succs[block] = targets
        self.succs = succs
        self.rpo, back_edges = _reverse_postorder(first, succs)
        self.heads = {head for _, head in back_edges}
        self.index = {b: i for i, b in enumerate(self.rpo)}
        self.preds: dict[int, list[int]] = defaultdict(list)
        for b, targets in succs.items():
            for t in targets:
                self.preds[t].append(b)
        # the blocks of each loop: an edge into its head from one of them goes round it
        self.loop_bodies: dict[int, set[int]] = {}
        self.back_edges = back_edges
        for head in self.heads:
            self.loop_bodies[head] = _loop_body(
                head, [src for src, h in back_edges if h == head], self.preds)
        # (head, its invariant constant registers) -> its widening bounds
        self.loop_thresholds: dict[tuple, tuple] = {}
        # the slots' thresholds of its loops' exit tests (thresholds.exit_slot_thresholds)
        self.slot_thresholds: dict[int, tuple] | None = None
        self.loop_writes: dict[int, int] = {}           # head -> the registers it writes
        self.loop_tests: dict[int, int] = {}            # head -> the registers it tests
        # head -> the registers it writes only with values just loaded (loadedcopies)
        self.loop_picks: dict[int, int] = {}
        # head -> the register pairs its body compares (thresholds.compared_pairs)
        self.loop_compares: dict[int, frozenset] = {}
        self.in_states: dict[int, State] = {}
        self.out_edges: dict[int, list] = {}
        # blocks whose last run while fixpoints were computed met a rejection (the path
        # ended there): the loops holding them keep their fixpoint heads (_check)
        self.rejected: set[int] = set()
        self.joins: dict[int, int] = defaultdict(int)
        # head -> per byte of the frame, the thresholds its cap took there (widen_caps)
        self.caps_steps: dict[int, bytearray] = {}
        # head -> the floors (zone.floors' pairs) a widening there has dropped, which no
        # later widening there takes again (LoopHeadRules._floors_kept_dropped)
        self.floors_dropped: dict[int, set] = {}
        # head -> the join of its entry edges at its last visit; the times its widening
        # started over, and the times it was analysed again from that entry alone
        # (Analysis._entered_afresh)
        self.entries: dict[int, State | None] = {}
        self.restarts: dict[int, int] = defaultdict(int)
        self.fresh: dict[int, int] = defaultdict(int)
        self.journals: dict[int, Journal] = {}     # block -> what its last run recorded


def edge_states(sub: Subprogram, edges: dict[int, list], block: int,
                 keep: Callable[[int], bool] | None = None) -> list[State]:
    """The states on the feasible edges into `block` from its predecessors (those `keep`
    accepts), as recorded in `edges` (block -> its (successor, state or None) edges)."""
    return [out for pred in sub.preds.get(block, ()) if keep is None or keep(pred)
            for succ, out in edges.get(pred, ()) if succ == block and out is not None]


def _reverse_postorder(entry: int, succs: dict[int, list[int]]
                       ) -> tuple[list[int], list[tuple[int, int]]]:
    """Blocks reachable from entry in reverse postorder, and the retreating edges (to a
    block still on the depth-first stack: their targets are the loop heads, where
    widening happens)."""
    order, back = [], []
    state: dict[int, int] = {entry: 1}          # 1: on the DFS stack, 2: finished
    stack = [(entry, iter(succs.get(entry, ())))]
    while stack:
        block, it = stack[-1]
        for nxt in it:
            s = state.get(nxt)
            if s is None:
                state[nxt] = 1
                stack.append((nxt, iter(succs.get(nxt, ()))))
                break
            if s == 1:
                back.append((block, nxt))
        else:
            stack.pop()
            state[block] = 2
            order.append(block)
    order.reverse()
    return order, back


def _loop_body(head: int, sources: list[int], preds: dict[int, list[int]]) -> set[int]:
    """The blocks of the loop at `head`: those reaching a back edge's source without
    passing through the head."""
    body, todo = {head}, list(sources)
    while todo:
        b = todo.pop()
        if b not in body:
            body.add(b)
            todo.extend(preds.get(b, ()))
    return body


def extensions(prog: Program, leaders: frozenset[int]) -> dict[int, tuple[bool, int]]:
    """pc -> (signed, extra shift) for each `lsh rX, 32` followed in its block by
    `rsh`/`arsh rX, 32 + k`: a 32-bit extension, analysed as one step."""
    found = {}
    for pc, insn in prog:
        if not (insn.kind is Kind.ALU and insn.spec.op == "lsh" and insn.imm == 32
                and insn.spec.source == "imm" and insn.spec.width == 64):
            continue
        nxt = pc + 1
        if nxt in leaders or nxt >= prog.slot_count:
            continue
        follow = prog.at(nxt)
        if (follow.kind is Kind.ALU and follow.spec.op in ("rsh", "arsh")
                and follow.spec.source == "imm" and follow.spec.width == 64
                and follow.dst == insn.dst and 32 <= follow.imm < 64):
            found[pc] = (follow.spec.op == "arsh", follow.imm - 32)
    return found


def moves_to_a_bound(st: State, var: int) -> bool:
    """Whether, on this way round the loop, var moved by at least 1 (from its ghost)
    toward a bound it cannot pass."""
    ghost = GHOST + var
    down, up = st.zone.bound(var, ghost), st.zone.bound(ghost, var)
    if down is not None and down <= -1 and st.lower(var) is not None:
        return True
    if up is not None and up <= -1:
        return st.upper(var) is not None or st.zone.bound(var, LEN) is not None
    return False


def pair_closes(back: list[State], regs: list[int]) -> bool:
    """Whether two registers x, y have a difference x - y that fell by at least 1 from
    their ghosts on every way round the loop (`back`: the states at its back edges) and
    cannot pass a bound there; None in either place stands for 0 (one register moving
    by a varying amount).  A binary search's `lo = mid + 1` or `hi = mid`, with
    `lo <= mid < hi`: hi - lo falls on both ways, though neither moves on both."""
    return any(x != y and all(_closes(st, x, y) for st in back)
               for x in [*regs, None] for y in [*regs, None])


def _closes(st: State, x: int | None, y: int | None) -> bool:
    zone = st.zone
    down = 0 if x is None else zone.bound(x, GHOST + x)     # x - x@head <= down
    up = 0 if y is None else zone.bound(GHOST + y, y)       # y@head - y <= up
    if down is None or up is None or down + up > -1:
        return False
    if x is None:
        return st.upper(y) is not None
    if y is None:
        return st.lower(x) is not None
    return zone.bound(y, x) is not None or (st.lower(x) is not None
                                            and st.upper(y) is not None)


def block_pcs(prog: Program, start: int, leaders: frozenset[int], extensions: dict,
               end: int) -> tuple[list[int], int]:
    """The pcs a complete run of the block at `start` visits, and the visits it counts
    (a fused 32-bit extension is one), as `Analysis._run_block` walks it."""
    pcs, visits, pc = [], 0, start
    while True:
        visits += 1
        pcs.append(pc)
        if pc in extensions:
            pcs.append(pc + 1)
            pc += 2
        else:
            insn = prog.at(pc)
            pc += insn.slots
            if insn.kind in (Kind.JA, Kind.JCOND, Kind.EXIT):
                return pcs, visits
        if pc in leaders or pc >= end:
            return pcs, visits


def block_end(prog: Program, start: int, leaders: frozenset[int], end: int) -> int:
    """The pc after the block at `start`."""
    last = block_pcs(prog, start, leaders, {}, end)[0][-1]
    return last + prog.at(last).slots
