"""Loop peeling, the verifier's way of following a short loop trip by trip as the
kernel's path-by-path verifier does: where accesses inside a loop stay unproven and a
number the loop writes takes only a few values at its head, the program is analysed
again with that loop's first trips laid out one after another (a copy of the loop's
code per trip, each trip's way round jumping to the next copy, the last copy's back to
the loop), and an access every copy of which is proven is proven.

The copies run exactly what the loop runs, so both analyses hold of every run of the
program and so does what either proves.  What a join at the loop head loses is kept
apart: rotating an image layer by layer (`for layer < 8: for i in [layer, 15 -
layer)`), each layer's inner bounds and row pointers are constants in their own copy,
where together the pointers stepping by 16, -1 and -16 with a bound of 15 - 2*layer
need more than differences and two-variable equalities can say.

Applied to a program of one subprogram (no local calls or callbacks, whose pcs the
copies would move), to a loop whose code lies in one stretch of pcs and whose unproven
accesses are not all reads of the buffer nor left unproven by the loop's first trip
(`Analysis.first_verdicts`) -- or, failing those, to a loop that leads to such an
access computed from what it writes --, one loop per program (PEEL_TRIES) and a few
trips (PEEL_COPIES), within PEEL_BUDGET instructions of copies and PEEL_WORK times the
program's own analysis."""

from __future__ import annotations

from typing import Callable

from ..cfg import block_graph, block_of as cfg_block_of, code_addresses, subprogram_ranges
from ..errors import BpfError
from ..isa import OPCODES, Insn, Kind, written_registers
from ..liveness import use_def
from ..program import Program
from .domain import SCALAR

__all__ = ["PEEL_COPIES", "PEEL_BUDGET", "PEEL_TRIES", "peel_candidates", "peeled",
           "reprove_by_peeling"]

PEEL_COPIES = 24        # a loop's trips analysed apart, at most
PEEL_BUDGET = 2048      # instructions the copies of one loop may add, at most
# loops peeled (one analysis each) per program, at most: the innermost candidate, whose
# peeling proves most where any does (a second try proved one more access over 192
# programs, and a failed one cost up to another 2.5 analyses of the program)
PEEL_TRIES = 1
# a peeled program's analysis may make at most so many times the instruction visits
# of the program's own (at least WORK_FLOOR), or it is given up: over 192 programs and
# this session's new ones, those that proved more took 1.8-2.4 times as many (corpus
# rotimg, itoa), and 3.3-6.9 times for a few proofs that made no program faster; those
# that proved nothing up to 13 times (corpus winmedian, 0.45 s)
PEEL_WORK = 2.5
WORK_FLOOR = 5_000      # (a number triangle of 19 rows, corpus trimax, takes 3,700)
AFTER_BLOCKS = 8        # blocks after a loop's exits whose accesses it may prove
_JA = next(spec for spec in OPCODES if spec.kind is Kind.JA and spec.width == 64)
_INT16 = range(-(1 << 15), 1 << 15)


def peel_candidates(prog: Program, analysis
                    ) -> list[tuple[int, int, int, int, frozenset, bool]]:
    """(head, lo, end, copies, targets, after) for each loop worth peeling: it holds an
    access the analysis left unproven that is not a read of the buffer (targets: those), its
    code lies in the stretch [lo, end) (its head anywhere in it: clang puts a loop's
    latch and exit block before its head; at most as many other instructions as its
    own between), and at its head a number it writes takes at most PEEL_COPIES + 1
    values (an index counting through a fixed range), so that the copies may cover
    every trip.  Those holding another loop first (an inner loop whose bounds a trip's
    constants fix: the usual gain), innermost first within each kind; then the loops
    that hold no such access but lead to one (`_after_exits`: a tree's node index
    computed by a short loop, read after it: `after`), which no other candidate could
    prove."""
    if len(subprogram_ranges(prog)) != 1 or code_addresses(prog):
        return []
    unproven = {pc for pc, ok in analysis.accesses.items() if not ok}
    sub = analysis.subs.get(0)
    if not unproven or sub is None:
        return []
    members, _, succs = block_graph(prog)
    block_of = cfg_block_of(prog)
    found = []
    for head in sorted(sub.heads):
        state = sub.in_states.get(head)
        pcs = sorted(pc for block in sub.loop_bodies[head] for pc in members[block])
        # (an access its loop's first trip left unproven, from the first way in, is
        # left so by the copies' first trip: no copy proves what that one cannot)
        inside = {pc for pc in unproven.intersection(pcs)
                  if analysis.first_verdicts.get(pc, True)
                  and analysis.regions.get(pc) != "mem"}
        # (reads of the buffer a loop leaves unproven are bounded by the length, which
        # is no trip's constant: peeling such loops proved nothing over 192 programs and
        # cost up to 2.5 s of verification, corpus toksort)
        after = not inside
        writes = analysis._loop_writes(sub, head)       # (loopheads: cached per head)
        if after:
            # (an access whose address nothing the loop writes feeds in its block, a
            # pointer reloaded from the stack say, gains nothing: corpus nextperm's try
            # cost 0.7 of an analysis)
            inside = {pc for pc in unproven.intersection(_after_exits(sub, head, members, succs))
                      if analysis.regions.get(pc) != "mem"
                      and _address_feeds(prog, members[block_of[pc]], pc) & writes}
        if state is None or not inside:
            continue
        lo, end = pcs[0], pcs[-1] + prog.at(pcs[-1]).slots
        if sum(1 for pc in prog.pcs if lo <= pc < end) > 2 * len(pcs):
            # (code of its own mostly: the copies copy what lies between its blocks too,
            # clang's exit blocks among them, which run in a copy as they run anywhere)
            continue
        steps = _steps(prog, pcs)
        values = [(v.umax - v.umin) // steps.get(reg, 1) + 1
                  for reg, v in enumerate(state.regs[:10])
                  if writes >> reg & 1 and v.kind == SCALAR and not v.is_const]
        if not values or min(values) > PEEL_COPIES + 1:
            continue
        copies = min(min(values), PEEL_COPIES)
        if (copies - 1) * (end - lo + 1) <= PEEL_BUDGET:
            nests = bool(sub.heads.intersection(sub.loop_bodies[head]) - {head})
            found.append((after, not nests, end - lo, head, lo, end, copies, frozenset(inside)))
    return [item[3:] + item[:1] for item in sorted(found, key=lambda item: item[:4])]


def _after_exits(sub, head: int, members, succs) -> set[int]:
    """The pcs of the blocks a loop's exits lead to, up to the next loop head and
    within the loop that holds it (at most AFTER_BLOCKS blocks): where what the loop
    computed is used before another loop begins."""
    body = sub.loop_bodies[head]
    around = [sub.loop_bodies[h] for h in sub.heads if h != head and head in sub.loop_bodies[h]]
    inside = min(around, key=len) if around else None
    todo = [b for block in body for b in succs.get(block, ()) if b not in body]
    seen: set[int] = set()
    while todo and len(seen) < AFTER_BLOCKS:
        block = todo.pop()
        if block in seen or block in sub.heads or (inside is not None and block not in inside):
            continue
        seen.add(block)
        todo.extend(succs.get(block, ()))
    return {pc for block in seen for pc in members[block]}


def _address_feeds(prog: Program, block: list[int], pc: int) -> int:
    """The registers (a bit each) whose values at the start of `block` the address of
    the access at `pc` is computed from, within the block (through the addresses of
    loads too: an index read from a table indexed by them)."""
    insn = prog.at(pc)
    need = 1 << (insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst)
    for at in reversed(block[:block.index(pc)]):
        use, written = use_def(prog.at(at))
        if need & written:
            need = need & ~written | use
    return need & ~(1 << 10)


def _steps(prog: Program, pcs: list[int]) -> dict[int, int]:
    """reg -> |s| for the registers the loop's code writes only by one `add reg, s`
    (or `sub`) of a constant: an index stepped by s takes every s-th value of its range."""
    writers: dict[int, list] = {}
    for pc in pcs:
        insn = prog.at(pc)
        for reg in written_registers(insn):
            writers.setdefault(reg, []).append(insn)
    steps = {}
    for reg, insns in writers.items():
        insn = insns[0]
        if len(insns) == 1 and insn.kind is Kind.ALU and insn.spec.width == 64 \
                and insn.spec.op in ("add", "sub") and insn.spec.source == "imm" and insn.imm:
            steps[reg] = abs(insn.imm)
    return steps


def peeled(prog: Program, head: int, lo: int, end: int, copies: int
           ) -> tuple[Program, list[int | None]] | None:
    """`prog` with the loop whose code is [lo, end) and whose head is `head` laid out as
    `copies` trips: the loop's own code is the first, copies 2.. follow the program,
    and a jump to the head from copy k goes to copy k + 1's (from the last, to the
    loop's own head again).  Every copy is the same code, so whichever copy a jump
    enters runs as the loop does (a fall-through into the head stays in its copy).
    With the original pc of each new pc (None: a `ja` that ends a copy whose last
    instruction falls through); None where a jump's offset would not fit."""
    body = [(pc, prog.at(pc)) for pc in prog.pcs if lo <= pc < end]
    falls = body[-1][1].kind not in (Kind.JA, Kind.EXIT)
    span = end - lo + falls
    base = prog.slot_count

    def start(k: int) -> int:           # where trip k's code starts (k >= 1)
        return lo if k == 1 else base + (k - 2) * span

    def moved(insn: Insn, at: int, pc: int, k: int) -> Insn | None:
        if insn.kind not in (Kind.JA, Kind.JCOND):
            return insn
        wide = insn.kind is Kind.JA and insn.spec.width != 64
        target = pc + 1 + (insn.imm if wide else insn.off)
        if target == head:
            target = start(k + 1) + head - lo if k < copies else head
        elif lo <= target < end:
            target = start(k) + target - lo
        off = target - at - 1
        if wide:
            return Insn(insn.spec, insn.dst, insn.src, insn.off, off)
        if off not in _INT16:
            return None
        return Insn(insn.spec, insn.dst, insn.src, off, insn.imm, insn.next_imm)

    insns: list[Insn] = []
    origin: list[int | None] = []
    for pc, insn in prog:
        new = moved(insn, pc, pc, 1) if lo <= pc < end else insn
        if new is None:
            return None
        insns.append(new)
        origin.extend([pc] * insn.slots)
    for k in range(2, copies + 1):
        for pc, insn in body:
            new = moved(insn, start(k) + pc - lo, pc, k)
            if new is None:
                return None
            insns.append(new)
            origin.extend([pc] * insn.slots)
        if falls:
            at = start(k) + span - 1
            if end - at - 1 not in _INT16:
                return None
            insns.append(Insn(_JA, 0, 0, end - at - 1, 0))
            origin.append(None)
    return prog.with_insns(insns), origin


def reprove_by_peeling(prog: Program, analysis,
                       analyse: Callable[[Program, int, Callable], object]
                       ) -> dict[int, int]:
    """Analyse `prog` again with each candidate loop peeled (`analyse(program, limit,
    watch)` runs an analysis of it within `limit` instruction visits, calling
    `watch(analysis, pc)` for each access it finds unproven while its fixpoint is
    computed) and prove in `analysis` each access every reached copy of which the
    peeled analysis proves: its verdict, region (where the copies agree), the maps and
    stack bytes it touches.  pc -> the head of the loop whose peeling proved it."""
    proved: dict[int, int] = {}
    tries = 0
    for head, lo, end, copies, targets, after in peel_candidates(prog, analysis):
        if tries == PEEL_TRIES:
            break
        if all(analysis.accesses.get(pc) is not False for pc in targets):
            continue                    # (an inner loop's peeling proved them all)
        tries += 1
        made = peeled(prog, head, lo, end, copies)
        if made is None:
            continue
        program, origin = made
        # (a loop peeled for the reads after it: given up once those are lost)
        watch = _give_up_when_all_lost(analysis, origin, targets if after else None)
        try:
            again = analyse(program, max(PEEL_WORK * analysis.work, WORK_FLOOR), watch)
        except BpfError:                # (a limit met, or a path refused: no gain)
            continue
        if any(ways - {None} for ways in again.null_tests.values()):
            # (a 32-bit NULL test it decided would have to be hard-wired in the copies'
            # way, which the engines, running the program, do not share; every other
            # 32-bit test against 0 is recorded undecided, None, and changes nothing:
            # until 2026-12-08 those stopped every peeling of -mcpu=v3 code)
            continue
        found = _proven_copies(analysis, again, origin)
        if found:
            # read-only data whose values its proofs used is frozen as the first's is
            analysis.constant_maps |= again.constant_maps
        for pc in found:
            proved[pc] = head
    return proved


def _give_up_when_all_lost(analysis, origin: list[int | None],
                           aims: frozenset | None = None) -> Callable:
    """A watch for the peeled analysis: once a copy of every access `analysis` left
    unproven (or of every one of `aims`) has been found unproven while the peeled
    fixpoint is computed, that analysis ends (its work limit set to the work done: TooComplex at the next visit,
    in whichever pass).  Its states only grow until the fixpoint, so an access found
    unproven there stays so; its final, descending pass may win one back, which over
    the corpus's peelings never happened (those that proved nothing: heap, kahn,
    reservoir, ahocorasick, and gf128, written later, ended at 11-78% of their work)."""
    targets = aims if aims is not None else \
        {pc for pc, ok in analysis.accesses.items() if not ok}
    lost: set[int] = set()

    def watch(peeled_analysis, pc: int) -> None:
        original = origin[pc] if pc < len(origin) else None
        if original in targets and original not in lost:
            lost.add(original)
            if len(lost) == len(targets):
                peeled_analysis.work_limit = peeled_analysis.work
    return watch


def _proven_copies(analysis, again, origin: list[int | None]) -> list[int]:
    """The unproven accesses of `analysis` that every reached copy in `again` proves,
    their facts copied into `analysis`."""
    copies: dict[int, list[int]] = {}
    for new, ok in again.accesses.items():
        pc = origin[new]
        if pc is not None and analysis.accesses.get(pc) is False:
            copies.setdefault(pc, []).append(new)
    proved = []
    for pc, news in copies.items():
        if not all(again.accesses[new] for new in news):
            continue
        regions = {again.regions.get(new) for new in news}
        region = regions.pop() if len(regions) == 1 else None
        if analysis.regions.get(pc) not in (None, region):
            continue
        analysis.accesses[pc] = True
        analysis.regions[pc] = region
        # an offset that varies, within a copy or from one copy to the next, is clamped
        # under speculation (bpfjit.speculation), as the verifier's own proofs are
        if len({again.first_offsets.get(new) for new in news}) > 1 \
                or any(new in again.variable for new in news):
            analysis.variable[pc] = frozenset().union(
                *(again.variable.get(new, frozenset()) for new in news))
        extents = [again.stack_extents.get(new) for new in news]
        if region == "stack" and all(e is not None and e[0] == extents[0][0]
                                     for e in extents):
            analysis.stack_extents[pc] = (extents[0][0], min(e[1] for e in extents),
                                          max(e[2] for e in extents))
        else:
            analysis.stack_extents.pop(pc, None)
        analysis.extents.pop(pc, None)
        analysis.stack_ranges.pop(pc, None)
        proved.append(pc)
    return proved
