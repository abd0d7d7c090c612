"""Strict mode's termination proofs (mixed into bpfjit.verifier.analysis.Analysis): every
loop must be shown to end, as the kernel requires of the loops it accepts.

Each loop's body runs once more from its head's final state with a ghost copy
(`GHOST + v`) of every variable; some variable must then move by at least 1 toward a
bound it cannot pass on every way back to the head (subprograms.moves_to_a_bound).
Failing that, an innermost loop's ways round are run apart — no join, at most
RANKED_PATHS of them — and a difference of two registers that falls on every one ends
it (subprograms.pair_closes: a binary search's `hi - lo`)."""

from __future__ import annotations

import heapq
from collections import defaultdict

from .state import GHOST, State, merge, slot_var
from .subprograms import Subprogram, block_end, edge_states, moves_to_a_bound, pair_closes

__all__ = ["TerminationRules", "RANKED_PATHS"]

RANKED_PATHS = 32            # ways round an innermost loop ranked apart, at most


class TerminationRules:
    """Mixed into the analysis: prove_termination and the ghost runs it makes."""

    def prove_termination(self) -> None:
        """Strict mode: every loop must provably end.  Some variable (a register or a
        spilled slot) must move by at least 1 toward a fixed bound on every way round
        the loop: strictly up while bounded above (by a constant or the buffer length),
        or strictly down while bounded below — or, in an innermost loop, the difference
        of two registers on each way round taken apart (a binary search's hi - lo).
        Then the loop runs a bounded number of times, whatever the input, as the kernel
        requires of loops it accepts."""
        for first in sorted(self.subs):
            sub = self.subs[first]
            self.current = first
            for head in sorted(sub.heads):
                if head in sub.in_states and not self._terminates(sub, head):
                    pc = max(src for src, h in sub.back_edges if h == head)
                    jump = block_end(self.prog, pc, self.leaders, sub.end) - 1
                    self.fail(jump, f"strict mode: cannot prove that the loop at pc {head} "
                                    f"ends: no value moves toward a fixed bound on every way "
                                    f"round it (checked mode runs it under the budget)")

    def _terminates(self, sub: Subprogram, head: int) -> bool:
        """Run the loop's body once more from its head's state with a ghost copy of every
        variable, to the back edges; then look for a ranking variable."""
        self.ranking = True
        try:
            return self._ranked(sub, head)
        finally:
            self.ranking = False

    def _ranked(self, sub: Subprogram, head: int) -> bool:
        candidates, back = self._ghost_trip(sub, head)
        if not back or any(all(moves_to_a_bound(st, var) for st in back)
                           for var in candidates):
            return True
        return self._innermost(sub, head) and self._pair_closes(sub, head)

    def _innermost(self, sub: Subprogram, head: int) -> bool:
        body = sub.loop_bodies[head]
        return not any(h in body for h in sub.heads if h != head)

    def _pair_closes(self, sub: Subprogram, head: int) -> bool:
        """pair_closes over the ways round an innermost loop, each apart."""
        paths = self._ghost_paths(sub, head)
        return paths is not None and bool(paths[1]) and \
            pair_closes(paths[1], [r for r in paths[0] if r < 10])

    def _ghosted(self, sub: Subprogram, head: int) -> tuple[list[int], State]:
        """The head's state with a ghost copy of each variable's value there, and the
        variables."""
        start = sub.in_states[head].copy()
        candidates = [r for r in range(10) if start.numeric(r)]
        candidates += [slot_var(off) for off in start.spills if start.numeric(slot_var(off))]
        for var in candidates:
            start.zone.assign(GHOST + var, var)
        return candidates, start

    def _ghost_paths(self, sub: Subprogram, head: int) -> tuple[list[int], list[State]] | None:
        """An innermost loop's body run from its head's ghosted state along each path to
        a back edge apart (no join: a binary search's two ways each move one bound, and
        their join keeps neither move); None past RANKED_PATHS paths."""
        candidates, start = self._ghosted(sub, head)
        body = sub.loop_bodies[head]
        back: list[State] = []
        pending = [(head, start)]
        runs = 0
        while pending:
            block, st = pending.pop()
            runs += 1
            if runs > 4 * RANKED_PATHS:
                return None
            for succ, out in self._run_safely(sub, block, st):
                if out is None or succ not in body:
                    continue
                if succ == head:
                    back.append(out)
                    if len(back) > RANKED_PATHS:
                        return None
                else:
                    pending.append((succ, out))
        return candidates, back

    def _ghost_trip(self, sub: Subprogram, head: int) -> tuple[list[int], list[State]]:
        """Run the loop's body once from its head's state, each variable with a ghost
        copy of its value at the head: the variables, and the states at the back edges."""
        candidates, start = self._ghosted(sub, head)
        body = sub.loop_bodies[head]
        states = {head: start}
        edges: dict[int, list] = {}
        joins: dict[int, int] = defaultdict(int)
        caps_steps: dict[int, bytearray] = {}       # (the ghost run's own, as its joins)
        floors_dropped: dict[int, set] = {}
        work = [(sub.index[head], head)]
        queued = {head}
        while work:
            _, block = heapq.heappop(work)
            queued.discard(block)
            incoming = [start] if block == head else \
                edge_states(sub, edges, block, body.__contains__)
            if not incoming:
                continue
            new = merge(incoming, discover=block in sub.heads)
            old = states.get(block)
            if old is not None and block != head:
                if block in sub.heads:
                    joins[block] += 1
                    if joins[block] > self.widen_after:
                        # (as the fixpoint widens: to the limits at last, so that an
                        # inner loop settles: corpus shell's ran out of work)
                        new = self._head_widened(sub, block, old, new, joins[block],
                                                 edge_states(sub, edges, block,
                                                             sub.loop_bodies[block].__contains__),
                                                 caps_steps, floors_dropped)
                if new == old and block in edges:
                    continue
            states[block] = new
            edges[block] = self._run_safely(sub, block, new.copy())
            for succ, out in edges[block]:
                if out is not None and succ in body and succ != head and succ not in queued:
                    queued.add(succ)
                    heapq.heappush(work, (sub.index[succ], succ))
        return candidates, edge_states(sub, edges, head, body.__contains__)
