"""Control-flow structure of a program: jump targets, basic blocks, subprograms.

`check_structure` rejects what no engine can run safely (jumps out of the
program or into the middle of an lddw, falling off the end); `block_leaders`
gives the basic-block starts at which every engine charges the instruction
budget, and `budget_checkpoints` the blocks where every engine checks it, so
that all engines run out of budget at the same pc.
"""

from __future__ import annotations

import functools
from typing import Callable

from .errors import VerifierError
from .isa import LDDW_CODE, Kind, read_registers, written_registers
from .limits import limits
from .program import Program

__all__ = ["branch_targets", "jump_targets", "check_structure", "block_leaders",
           "block_costs", "elided_code",
           "block_graph", "block_of", "budget_checkpoints", "subprogram_starts", "subprogram_ranges",
           "check_size", "per_program", "code_addresses", "top_frame_end"]



def per_program(fn):
    """Compute once per Program (programs are immutable; results are too)."""
    @functools.wraps(fn)
    def cached(prog: Program):
        cache = prog.__dict__.setdefault("_cfg_cache", {})
        if fn.__name__ not in cache:
            cache[fn.__name__] = fn(prog)
        return cache[fn.__name__]
    return cached


def branch_targets(prog: Program, pc: int) -> list[int]:
    """The pcs that the instruction at `pc` may transfer control to (not fall-through)."""
    return _all_targets(prog).get(pc, [])


@per_program
def _all_targets(prog: Program) -> dict[int, list[int]]:
    """branch_targets of every jump and call, in one pass."""
    return {pc: targets for pc, insn in prog if (targets := _targets(insn, pc))}


@per_program
def jump_targets(prog: Program) -> frozenset[int]:
    """Every pc a jump or a local call of the program goes to."""
    return frozenset(t for targets in _all_targets(prog).values() for t in targets)


def _targets(insn, pc: int) -> list[int]:
    kind = insn.kind
    if kind is Kind.JA:
        return [pc + 1 + (insn.off if insn.spec.width == 64 else insn.imm)]
    if kind is Kind.JCOND:
        return [pc + 1 + insn.off]
    if kind is Kind.CALL_LOCAL:
        return [pc + 1 + insn.imm]
    return []


@per_program
def code_addresses(prog: Program) -> dict[int, int]:
    """pc of each `lddw rX, code_addr(...)` -> the pc it names (a callback's entry)."""
    return {pc: pc + 1 + insn.imm for pc, insn in prog
            if insn.kind is Kind.LDDW and insn.src == LDDW_CODE}


TIMER_SET_CALLBACK = 170      # bpf_timer_set_callback(timer, callback)
# what ends a straight run of instructions, or may take a register elsewhere
_LEAVES = frozenset((Kind.JA, Kind.JCOND, Kind.EXIT, Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL,
                     Kind.CALL_BTF))


@per_program
def timer_callback_addresses(prog: Program) -> frozenset[int]:
    """pcs of the `lddw r2, code_addr(...)` that go straight to bpf_timer_set_callback:
    the path falls through to the call, nothing on the way reads or writes r2, jumps or
    calls.  Such a callback runs later, on its own (as the kernel's timers call it), not
    a frame below the subprogram that names it; any other code address is a callback
    called from there (bpf_loop), a call as far as frames and recursion go."""
    found = set()
    for pc, insn in prog:
        if insn.kind is not Kind.LDDW or insn.src != LDDW_CODE or insn.dst != 2:
            continue
        at = pc + insn.slots
        while at < prog.slot_count:
            nxt = prog.at(at)
            if nxt.kind is Kind.CALL and nxt.imm == TIMER_SET_CALLBACK:
                found.add(pc)
                break
            if nxt.kind in _LEAVES or 2 in read_registers(nxt) or 2 in written_registers(nxt):
                break
            at += nxt.slots
    return frozenset(found)


@per_program
def subprogram_starts(prog: Program) -> tuple[int, ...]:
    """pc 0, every local-call target and every code address, sorted: where each
    subprogram begins (a callback is one)."""
    starts = {0}
    for pc, insn in prog:
        if insn.kind is Kind.CALL_LOCAL:
            starts.add(pc + 1 + insn.imm)
    starts.update(code_addresses(prog).values())
    return tuple(sorted(s for s in starts if 0 <= s < prog.slot_count))


@per_program
def subprogram_ranges(prog: Program) -> tuple[tuple[int, int], ...]:
    """(first pc, end pc) of each subprogram; they tile the program in order."""
    starts = subprogram_starts(prog)
    return tuple(zip(starts, starts[1:] + (prog.slot_count,)))


@per_program
def top_frame_end(prog: Program) -> int:
    """The end of the entry subprogram's pcs when no call or callback enters it (its
    frame is then the top one whenever it runs), else 0."""
    entered = set(code_addresses(prog).values()) | {
        pc + 1 + insn.imm for pc, insn in prog if insn.kind is Kind.CALL_LOCAL}
    return 0 if 0 in entered else subprogram_ranges(prog)[0][1]


def check_size(prog: Program) -> None:
    """VerifierError when the program has more slots than the limit in force
    (bpfjit.limits: program_slots)."""
    limit = limits().program_slots
    if prog.slot_count > limit:
        raise VerifierError(-1, f"the program has {prog.slot_count} instruction slots; "
                                f"the limit is {limit} (bpfjit.set_limits(program_slots=...))")


def check_structure(prog: Program) -> bool:
    """Raise VerifierError for a program no engine can run.

    Rejected: an empty or oversized program, a jump or call outside the program
    or into the middle of an lddw, a jump from one subprogram into another, and
    a subprogram whose last instruction can fall through (off the end of the
    program, or into the next subprogram).  (The size is checked every time: the
    limit may change; the rest once per program.)
    """
    check_size(prog)
    return _check_shape(prog)


@per_program
def _check_shape(prog: Program) -> bool:
    if not prog.insns:
        raise VerifierError(-1, "the program is empty; it needs at least an exit")
    named = [(pc, [target]) for pc, target in code_addresses(prog).items()]
    for pc, targets in list(_all_targets(prog).items()) + named:
        insn = prog.at(pc)
        for target in targets:
            what = "call" if insn.kind is Kind.CALL_LOCAL else \
                "code address" if insn.kind is Kind.LDDW else "jump"
            if not 0 <= target < prog.slot_count:
                raise VerifierError(pc, f"{what} to pc {target} is outside the program "
                                        f"(pcs 0-{prog.slot_count - 1})")
            if not prog.is_insn_start(target):
                raise VerifierError(pc, f"{what} to pc {target} lands in the middle of "
                                        f"the lddw at pc {target - 1}")
    ranges = iter(subprogram_ranges(prog))
    first, end = next(ranges)
    for index, (pc, insn) in enumerate(prog):
        if pc >= end:
            first, end = next(ranges)
        if insn.kind is not Kind.CALL_LOCAL:
            for target in branch_targets(prog, pc):
                if not first <= target < end:
                    raise VerifierError(pc, f"jump to pc {target} leaves the subprogram at "
                                            f"pcs {first}-{end - 1}; use a call instead")
        last_of_subprogram = index + 1 == len(prog) or prog.pcs[index + 1] >= end
        if last_of_subprogram and insn.kind not in (Kind.EXIT, Kind.JA):
            where = "off the end of the program" if end == prog.slot_count else \
                f"into the subprogram at pc {end}"
            raise VerifierError(pc, f"execution can fall through {where}: the last "
                                    f"instruction of a subprogram must be exit or ja")
    return True


@per_program
def block_leaders(prog: Program) -> frozenset[int]:
    """pcs that begin a basic block: entry, branch and call targets, and the
    instruction after any jump, call or exit."""
    leaders = {0} | jump_targets(prog)
    for pc, insn in prog:
        if insn.spec.cls.name in ("JMP", "JMP32"):
            leaders.add(pc + 1)
    leaders.discard(prog.slot_count)
    return frozenset(leaders)


def block_costs(prog: Program, leaders: set[int]) -> dict[int, int]:
    """Instructions in each basic block, keyed by the block's first pc."""
    costs: dict[int, int] = {}
    current = 0
    for pc, _ in prog:
        if pc in leaders:
            current = pc
            costs[pc] = 0
        costs[current] += 1
    return costs


@per_program
def block_graph(prog: Program) -> tuple[dict[int, list[int]], dict[int, set[int]],
                                        dict[int, list[int]]]:
    """Each basic block's pcs, its predecessors and its successors (blocks by their first
    pc; a call's target is not a successor: the block after it is)."""
    leaders = block_leaders(prog)
    members: dict[int, list[int]] = {}
    current = None
    for pc, _ in prog:
        if pc in leaders or current is None:
            current = members.setdefault(pc, [])
        current.append(pc)
    preds: dict[int, set[int]] = {}
    succs: dict[int, list[int]] = {}
    for first, pcs in members.items():
        last = pcs[-1]
        insn = prog.at(last)
        after = list(branch_targets(prog, last)) if insn.kind in (Kind.JA, Kind.JCOND) else []
        if insn.kind not in (Kind.JA, Kind.EXIT):
            after.append(last + insn.slots)
        succs[first] = after
        for target in after:
            preds.setdefault(target, set()).add(first)
    return members, preds, succs


@per_program
def block_of(prog: Program) -> dict[int, int]:
    """Each pc's basic block, by its first pc (block_graph's members, inverted)."""
    return {pc: first for first, pcs in block_graph(prog)[0].items() for pc in pcs}


def backward_masks(prog: Program, block_in: Callable[[int, int], int]) -> dict[int, int]:
    """A backward dataflow over register bit masks: each block's mask at its entry,
    `block_in(first, out)` giving it from `out`, the union of its successors' entry
    masks; iterated until nothing changes (liveness, the high halves a program reads)."""
    members, preds, succs = block_graph(prog)
    entry = dict.fromkeys(members, 0)
    work = list(members)
    queued = set(work)
    while work:
        first = work.pop()
        queued.discard(first)
        out = 0
        for succ in succs.get(first, ()):
            out |= entry.get(succ, 0)
        new = block_in(first, out)
        if new != entry[first]:
            entry[first] = new
            for pred in preds.get(first, ()):
                if pred not in queued:
                    queued.add(pred)
                    work.append(pred)
    return entry


@per_program
def budget_checkpoints(prog: Program) -> frozenset[int]:
    """Blocks where the budget is checked: subprogram entries and loop heads.

    Every block deducts its cost from the budget when entered; only these
    blocks then check that it has not gone negative.  Every cycle passes a
    loop head (the target of a backward jump) and every call a subprogram
    entry, so a run can never exceed its budget by more than one pass through
    acyclic code, while straight-line code needs no test at all.
    """
    points = set(subprogram_starts(prog))
    for pc, targets in _all_targets(prog).items():
        if prog.at(pc).kind is not Kind.CALL_LOCAL:
            points.update(t for t in targets if t <= pc)
    return frozenset(points)


# the fewest slots of consecutive unreachable instructions the JITs leave out
ELIDE_FROM = 8


def elided_code(prog: Program, unreachable) -> frozenset[int]:
    """The unreachable pcs (`VerifiedProgram.unreachable`) the JITs emit no code for:
    those in runs of ELIDE_FROM slots or more.  A large dead region (a feature a
    program's read-only configuration turns off: 1,101 of pping's 1,757 instructions)
    cost LLVM a second to compile; a small one (`mov %r3, 0` after a test that always
    jumps) costs nothing, and lowered as it is LLVM folds it into a select, where a
    trap in its place added an exit to the loop (corpus `bitonic`: 1.12x -> 1.42x
    native on llvm)."""
    dead = set(unreachable)
    elided, run, slots = set(), [], 0
    for pc, insn in [*prog, (None, None)]:          # (a sentinel ends the last run)
        if pc in dead:
            run.append(pc)
            slots += insn.slots
            continue
        if slots >= ELIDE_FROM:
            elided.update(run)
        run, slots = [], 0
    return frozenset(elided)
