"""What happens at a loop's head (mixed into bpfjit.verifier.analysis.Analysis): when
and how far its bounds widen, the thresholds they widen to, a loop entered afresh as
its outer loop moves on, and what the final pass narrows back from the loop's entry.

A head joins what comes round its loop a few times (WIDEN_AFTER) before widening it;
bounds still moving then go to the next of the loop's own comparison constants
(thresholds.loop_thresholds) for THRESHOLD_STEPS widenings, then to their limits;
later still a value moving only because the loop is entered with more is widened too
(FORCE_AFTER; for STEADY_JOINS joins not yet one in a register the loop neither writes
nor tests), and one still moving loses its relations (UNRELATE_AFTER).  The final
pass and strict mode's ghost runs (bpfjit.verifier.termination) widen the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..isa import STACK_SIZE
from .domain import SCALAR, join, meet
from .loadedcopies import loaded_copies, loaded_round
from .state import State, merge
from .thresholds import (compared_pairs, exit_slot_thresholds, loop_tests, loop_thresholds,
                         loop_writes, slot_stores)

if TYPE_CHECKING:
    from .subprograms import Subprogram

__all__ = ["LoopHeadRules", "WIDEN_AFTER", "THRESHOLD_STEPS", "FORCE_AFTER",
           "UNRELATE_AFTER", "STEADY_JOINS"]

WIDEN_AFTER = 1              # joins at a loop head before its bounds are widened
THRESHOLD_STEPS = 6          # widenings to the next threshold before widening to the limit
CAPS_STEPS = THRESHOLD_STEPS  # (the same for each byte of the frame: bytecaps.widen_caps)
RESTARTS = 1                 # times a loop head starts its widening over when entered with more
FRESH_STARTS = 1             # times a loop gone to its limits is analysed again from its entry
# joins at a loop head after which a value is widened even when the way round the loop
# does not raise it (before, such a value is joined: an inner loop's start that the
# outer loop moves); programs that converge do so long before
FORCE_AFTER = WIDEN_AFTER + THRESHOLD_STEPS + 8
# joins at a loop head after which a value still moving also loses its relations
# (State.widen without `related`): a loop that has not settled by then never would
UNRELATE_AFTER = FORCE_AFTER + 4
# forced joins during which a register the loop neither writes nor tests keeps the join
# of its bounds (_held_steady); 4, or for good, lost corpus intervals' four proofs
STEADY_JOINS = 2
_NO_THRESHOLDS = ((),) * 11


def _let_go(state: State, entry: State) -> bool:
    """Whether a loop head's state holds a number the widening took to its limits that
    the loop's entry bounds closely (an index entered below 2^16, widened to 2^24 or more)."""
    for v, e in zip(state.regs[:10], entry.regs[:10]):
        if v.kind == SCALAR and e.kind == SCALAR and v.umax >= 1 << 24 \
                and e.umax < 1 << 16:
            return True
    return False


def _floors_kept_dropped(widened: State, old: State, dropped: set) -> State:
    """`widened` without the floors a + b >= c that an earlier widening at its head
    dropped (`dropped`, which gains those `old` had and `widened` lacks).  A widening
    that still discovers relations takes a floor the old intervals imply; one that the
    loop's body then weakens is dropped at the next widening, taken again at the one
    after, and so on until relations are no longer discovered (UNRELATE_AFTER joins):
    a Z-function's window loop ran its body twenty times where four do."""
    had = old.zone.floors or {}
    now = widened.zone.floors or {}
    dropped.update(pair for pair in had if pair not in now)
    again = [pair for pair in now if pair not in had and pair in dropped]
    if again:
        widened.zone.floors = {pair: c for pair, c in now.items() if pair not in again}
    return widened


def _joined_in(widened: State, old: State, new: State, regs: int) -> State:
    """`widened` with each register of `regs` (a bit each) that holds a number in all
    three narrowed to the join of its `old` and `new` values, not their widening."""
    bounds = {reg: join(old.regs[reg], new.regs[reg]) for reg in range(10)
              if regs >> reg & 1 and widened.regs[reg].kind == SCALAR
              and old.regs[reg].kind == SCALAR and new.regs[reg].kind == SCALAR}
    return _narrowed_to(widened, bounds)


def _narrowed_to(state: State, bounds: dict) -> State:
    """`state` with each register of `bounds` ({register: Value}) met with its bound
    and the rest tightened by it, or `state` itself where nothing narrows or a bound
    leaves a register no value (no run gets there: left as it was)."""
    narrowed = None
    for reg, bound in bounds.items():
        v = state.regs[reg]
        new = meet(v, bound)
        if new is not v:
            if narrowed is None:
                narrowed = state.copy()
            narrowed.regs[reg] = new
    if narrowed is None:
        return state
    for reg in bounds:
        if narrowed.regs[reg] is not state.regs[reg] and not narrowed.tighten(reg):
            return state
    return narrowed


def _steps_at(counts: dict[int, bytearray], head: int) -> bytearray:
    """The per-byte threshold steps counted at `head` (made on its first widening)."""
    found = counts.get(head)
    if found is None:
        found = counts[head] = bytearray(STACK_SIZE)
    return found


class LoopHeadRules:
    """Mixed into the analysis: widening at loop heads and what the final pass narrows."""

    def _head_widened(self, sub: Subprogram, head: int, old: State, new: State,
                      joins: int, around: list[State],
                      caps_steps: dict[int, bytearray] | None = None,
                      floors_dropped: dict[int, set] | None = None) -> State:
        """The state at a loop head after its `joins`-th join (past WIDEN_AFTER): `old`
        widened by `new`, given `around`, the states coming round the loop.  `caps_steps`
        and `floors_dropped`: where the bytes' threshold steps and the floors dropped
        are kept per head (the fixpoint's, in `sub`, unless a ghost run keeps its own,
        as it keeps its own joins)."""
        late = joins > WIDEN_AFTER + THRESHOLD_STEPS
        # at last every value still moving is widened, even one that only the loop's
        # entry seems to raise: joined, a bound can climb by one on every visit and the
        # fixpoint never comes
        if joins > FORCE_AFTER:
            around = None
        if around == []:
            # nothing has come round the loop yet (its body has not reached a back edge
            # on this entry): only the entry grew, which the enclosing loop's head
            # widens if it must
            return merge([old, new], discover=True)
        limits = _NO_THRESHOLDS if late else self._head_thresholds(sub, head, old)
        widened = old.widen(new, limits, merge(around) if around else None,
                            related=joins <= UNRELATE_AFTER,
                            compared=self._compared(sub, head),
                            # (late too: a byte stops at the program's thresholds, a
                            # few stops each, where an index it holds is bounded)
                            caps_limits=self.thresholds,
                            frame_stops=self.frame_stops,
                            caps_steps=_steps_at(sub.caps_steps if caps_steps is None
                                                 else caps_steps, head),
                            most_caps_steps=CAPS_STEPS)
        widened = _floors_kept_dropped(widened, old, (sub.floors_dropped if floors_dropped
                                                      is None else floors_dropped)
                                       .setdefault(head, set()))
        if joins <= FORCE_AFTER:
            widened = self._picks_joined(sub, head, widened, old, new)
        return self._held_steady(sub, head, widened, old, new) \
            if around is None and joins <= FORCE_AFTER + STEADY_JOINS else widened

    def _picks_joined(self, sub: Subprogram, head: int, widened: State, old: State,
                      new: State) -> State:
        """Until FORCE_AFTER: a number the loop writes only with copies of values it has
        just loaded, or that comes round it as loaded (loadedcopies: a running pick of a
        table's entries, a chased index) keeps the join of `old` and `new`, not the
        widened bound; the loads' own bounds stop it."""
        picks = sub.loop_picks.get(head)
        if picks is None:
            body = sub.loop_bodies[head]
            picks = sub.loop_picks[head] = (loaded_copies(self.prog, body, head)
                                            | loaded_round(self.prog, body, head))
        return _joined_in(widened, old, new, picks) if picks else widened

    def _held_steady(self, sub: Subprogram, head: int, widened: State, old: State,
                     new: State) -> State:
        """After one of the first STEADY_JOINS forced widenings: a number in a register
        the loop neither writes nor tests is at its head only what came in (the way
        round brings it back as it was), so it keeps the join of `old` and `new`, not
        the widened bound; the outer loop that moves it widens it at its own head.
        (corpus myers.c: the snake loop's head, joined again as the loops around it
        moved on, widened the outer `d` it never writes to 2^32, and every `v[k]` lost
        its bounds.)  Later joins widen it as before: corpus intervals.c's batch count,
        which its inner loop neither writes nor tests either, creeps up one at the
        middle loop's head until an inner widening ends it."""
        held = self._loop_writes(sub, head) | self._loop_tests(sub, head)
        steady = sum(1 << reg for reg in range(10)
                     if not held >> reg & 1 and not widened.regs[reg].is_const)
        return _joined_in(widened, old, new, steady)

    def _loop_tests(self, sub: Subprogram, head: int) -> int:
        """The registers (a bit each) a conditional jump of the loop at `head` reads."""
        found = sub.loop_tests.get(head)
        if found is None:
            found = sub.loop_tests[head] = loop_tests(self.prog, sub.loop_bodies[head])
        return found

    def _head_thresholds(self, sub: Subprogram, head: int, at_head: State) -> tuple:
        """The widening thresholds at a loop head whose state is `at_head`: its
        loop's comparisons, with the registers the loop does not write that are
        constant there taken as those constants."""
        written = self._loop_writes(sub, head)
        known = tuple((r, v.umin) for r, v in enumerate(at_head.regs[:10])
                      if not written >> r & 1 and v.kind == SCALAR and v.is_const)
        found = sub.loop_thresholds.get((head, known))
        if found is None:
            if sub.slot_thresholds is None:
                sub.slot_thresholds = exit_slot_thresholds(
                    self.prog, [sub.loop_bodies[h] for h in sorted(sub.heads)])
            slots = sub.slot_thresholds
            if slots:           # (for the slots this loop does not store to)
                stored = slot_stores(self.prog, sub.loop_bodies[head])
                slots = {off: t for off, t in slots.items() if off not in stored}
            found = sub.loop_thresholds[(head, known)] = loop_thresholds(
                self.prog, sub.loop_bodies[head], self.thresholds, dict(known), slots, head)
        return found

    def _entered_afresh(self, sub: Subprogram, head: int, old: State) -> bool:
        """A loop head entered with more than before (its outer loop, or the code before
        it, moved on): once (RESTARTS) its widening takes the thresholds' steps again;
        when its widening has gone to the limits already and either the loop holds
        another (whose entry it makes) or a number at its head the entry bounds closely
        went there (_let_go), the loop is analysed again from its entry alone, up to
        FRESH_STARTS times -- True, the loop forgotten (corpus `intervals`' insertion
        sort: the inner loop's index, entered below 24, had been widened past 2^30
        while its outer loop still counted up)."""
        entering = self._incoming(sub, head, around=False)
        entry = merge(entering) if entering else None
        last = sub.entries.get(head)
        sub.entries[head] = entry
        if last is None or entry is None or entry == last or entry.equivalent(last):
            return False
        if sub.joins[head] > WIDEN_AFTER + THRESHOLD_STEPS and sub.fresh[head] < FRESH_STARTS \
                and ((sub.heads - {head}) & sub.loop_bodies[head] or _let_go(old, entry)):
            sub.fresh[head] += 1
            self._forget_loop(sub, head)
            return True
        if sub.restarts[head] < RESTARTS:
            sub.joins[head] = min(sub.joins[head], WIDEN_AFTER)
            sub.restarts[head] += 1
        return False

    @staticmethod
    def _forget_loop(sub: Subprogram, head: int) -> None:
        """Drop what the fixpoint knew of the loop at `head` but its head's entry: its
        blocks' states and edges, its inner heads' counts."""
        for block in sub.loop_bodies[head]:
            if block != head:
                sub.in_states.pop(block, None)
                sub.out_edges.pop(block, None)
                sub.journals.pop(block, None)
                sub.entries.pop(block, None)
            sub.joins[block] = 0
            sub.caps_steps.pop(block, None)
            sub.floors_dropped.pop(block, None)

    def _loop_writes(self, sub: Subprogram, head: int) -> int:
        """The registers (a bit each) the loop at `head` writes (thresholds.loop_writes)."""
        found = sub.loop_writes.get(head)
        if found is None:
            found = sub.loop_writes[head] = loop_writes(self.prog, sub.loop_bodies[head])
        return found

    def _compared(self, sub: Subprogram, head: int) -> frozenset:
        """The register pairs the loop at `head` compares (thresholds.compared_pairs)."""
        found = sub.loop_compares.get(head)
        if found is None:
            found = sub.loop_compares[head] = compared_pairs(self.prog, sub.loop_bodies[head])
        return found

    def _entry_invariants(self, sub: Subprogram, head: int, state: State) -> State:
        """At a loop head in the final pass: a number in a register no instruction of
        the loop writes is on every trip what it was on entry, so its intervals (and
        what the zone relates to them) are narrowed to the join of the entering edges'.
        What comes round is the fixpoint's, which may have widened it while an outer
        loop still moved (clang -mcpu=v3's insertion sort in corpus `intervals`: its
        count widened past the batch)."""
        written = self._loop_writes(sub, head)
        entering, bounds = None, {}
        for reg in range(10):
            v = state.regs[reg]
            if written >> reg & 1 or v.kind != SCALAR or v.is_const:
                continue
            if entering is None:
                entering = self._incoming(sub, head, around=False)
                if not entering:
                    return state
            bound = entering[0].regs[reg]
            for other in entering[1:]:
                bound = join(bound, other.regs[reg])
            bounds[reg] = bound
        return _narrowed_to(state, bounds)
