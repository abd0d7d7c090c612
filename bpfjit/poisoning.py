"""Which registers a versioned loop's entry poisons (bpfjit.speculation): when the
entry test that hoisted some of the loop's accesses is mispredicted, a conditional
move puts POISON into a few registers, and every hoisted access's address must then
be POISON plus a bounded offset, non-canonical: it faults and reads nothing.

A forward walk of one trip (the loop is innermost: its blocks in topological order)
tracks, per register, whether it *carries* POISON (POISON plus what the program added
to it), is *clean* (holds no POISON), or may hold it in another form (*tainted*: two
POISONs added cancel, a 32-bit operation drops it).  Poisoned registers carry; a
64-bit `mov` passes a register's state on, `add`/`sub` of an immediate or of a clean
register keeps it, a clean register plus one that carries carries, a load gives a
clean value (no tainted value is ever stored, so none comes back from memory) and
anything else taints what it writes from a register that is not clean.  Paths that
meet with different states leave the register tainted.  The loop's head sees the
entry's state and what every back edge brings: a register poisoned at the entry must
come round carrying, or it is not poisoned.  The set works when every hoisted
access's base carries where it runs, on every path.
"""

from __future__ import annotations

from itertools import combinations

from .cfg import block_graph
from .isa import Kind, written_registers
from .tripcount import merge_forms, walk_forms

__all__ = ["poisoned_registers"]

CARRIES, CLEAN = "carries", "clean"     # a register's state; absent: tainted
# what a register is made of (_dependencies): nothing of the head's registers, or
# anything (where paths that made it differently meet)
_NOTHING = (frozenset(), frozenset())
_ANYTHING = (frozenset(), frozenset(range(11)))
_CALLS = (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL, Kind.CALL_BTF, Kind.LD_PACKET)
# the most registers an entry poisons (the sets tried grow with it; corpus/plain's
# loops need one or two: a pointer, or a counter and its copy)
MOST_POISONED = 3
# the walks before giving up (each drops a register from the set or taints one more at
# the head, so a loop's few registers settle in a handful)
_MOST_WALKS = 32


def poisoned_registers(prog, loop) -> frozenset[int] | None:
    """The registers the entry of `loop` (a checkplan.VersionedLoop) poisons so that
    every access its test hoisted has a non-canonical address under misprediction, or
    None when no set of them does (each hoisted address then adds its own adjustment).
    The candidates are the registers the hoisted bases are computed from in the loop
    (`mov`, `add`); the smallest working set of at most MOST_POISONED of them is
    taken (each costs a conditional move per entry test, and poisoning both of two
    registers the loop adds together would cancel)."""
    bases = {pc: _base(prog.at(pc)) for pc in loop.unchecked}
    if not bases or 10 in bases.values():
        return None
    graph = block_graph(prog)
    members, _, succs = graph
    latches = [first for first in members
               if first in loop.body and loop.header in succs.get(first, ())]
    walked = _dependencies(prog, loop, graph, latches, bases)
    if walked is None:
        return None
    deps, back = walked
    # the registers the bases add up, and those that bring them round: a pointer made
    # each trip from a counter's copy, `r4 = r9` at the back edge (the copy alone,
    # poisoned at the entry, would come round clean)
    pool = set().union(*(linear for linear, _ in deps.values()))
    grew = True
    while grew:
        more = set().union(*(back.get(r, _NOTHING)[0] for r in pool)) - pool
        pool |= more
        grew = bool(more)
    pool = sorted(pool - {10})
    for size in range(1, MOST_POISONED + 1):
        for chosen in combinations(pool, size):
            # each base must add up an odd number of the poisoned registers' values
            # (POISON is 2^63: two cancel), and none of them in another way
            if all(len(linear.intersection(chosen)) % 2 and not other.intersection(chosen)
                   for linear, other in deps.values()):
                working = _working(prog, loop, graph, latches, bases, set(chosen))
                if working is not None:
                    return frozenset(working)
    return None


def _dependencies(prog, loop, graph, latches: list[int], bases: dict[int, int]
                  ) -> tuple | None:
    """For each hoisted access, what its base is made of in one trip, in terms of the
    registers' values at the head: (the registers it adds up, an odd number of times,
    the registers it depends on in any other way); and what each register is made of
    where the back edges meet, when they agree.  None when the body has a cycle."""
    def step(state: dict, insn) -> None:
        written = written_registers(insn)
        if not written:
            return
        kind, spec = insn.kind, insn.spec
        if kind in (Kind.LDX, Kind.LDSX, Kind.ATOMIC, Kind.LDDW):
            for r in written:
                state[r] = _NOTHING
            return
        if kind is Kind.ALU and spec.width == 64 and spec.op in ("mov", "add", "sub"):
            src = _NOTHING if spec.source == "imm" else state.get(insn.src, _ANYTHING)
            if spec.op == "mov":
                state[insn.dst] = src
            elif spec.source == "reg":
                dst = state.get(insn.dst, _ANYTHING)
                state[insn.dst] = (dst[0] ^ src[0], dst[1] | src[1])
            return
        involved = frozenset().union(*(part for r in _reads(insn)
                                       for part in state.get(r, _ANYTHING)))
        for r in written:
            state[r] = (frozenset(), involved)
    head = {r: (frozenset({r}), frozenset()) for r in range(11)}
    walked = walk_forms(prog, loop.header, loop.body, graph, head, step, each_pc=True)
    if walked is None:
        return None
    _, states, before = walked
    back = merge_forms([states[latch] for latch in latches])
    return {pc: before[pc].get(base, _ANYTHING) for pc, base in bases.items()}, back


def _base(insn) -> int:
    return insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst


def _working(prog, loop, graph, latches: list[int], bases: dict[int, int],
             poisoned: set[int]) -> set[int] | None:
    """The registers of `poisoned` that come round carrying (poisoning only those), when
    with them every hoisted base carries where it runs; else None."""
    stored: list = []

    def step(state: dict, insn) -> None:
        _step(state, insn, stored)
    head = {r: CARRIES if r in poisoned else CLEAN for r in range(11)}
    for _ in range(_MOST_WALKS):
        stored.clear()
        walked = walk_forms(prog, loop.header, loop.body, graph, head, step, each_pc=True)
        if walked is None:
            return None
        _, states, before = walked
        back = [states[latch] for latch in latches]
        kept = {r for r in poisoned if all(state.get(r) == CARRIES for state in back)}
        entry = {r: CARRIES if r in kept else CLEAN for r in range(11)}
        again = merge_forms([entry] + back)
        if kept == poisoned and again == head:
            break
        poisoned, head = kept, again
    else:
        return None
    if stored or any(before[pc].get(base) != CARRIES for pc, base in bases.items()):
        return None
    return poisoned


def _step(state: dict, insn, stored: list) -> None:
    """One instruction's effect on the registers' states (absent: tainted); a store of
    a register that is not clean is noted in `stored` (it could come back clean)."""
    kind = insn.kind
    if kind in (Kind.STX, Kind.ATOMIC) and state.get(insn.src) != CLEAN:
        stored.append(insn)
    written = written_registers(insn)
    if not written:
        return
    if kind in (Kind.LDX, Kind.LDSX, Kind.ATOMIC, Kind.LDDW):
        for r in written:           # from memory (which holds no POISON) or a constant
            state[r] = CLEAN
        return
    spec = insn.spec
    if kind is Kind.ALU and spec.width == 64 and spec.op in ("mov", "add", "sub"):
        dst = state.get(insn.dst)
        src = CLEAN if spec.source == "imm" else state.get(insn.src)
        if spec.op == "mov":
            new = src
        elif src == CLEAN:
            new = dst
        elif spec.op == "add" and dst == CLEAN and src == CARRIES:
            new = CARRIES
        else:
            new = None
        _put(state, insn.dst, new)
        return
    clean = all(state.get(r) == CLEAN for r in _reads(insn))
    for r in written:
        _put(state, r, CLEAN if clean else None)


def _reads(insn) -> set[int]:
    """The registers an instruction that writes others than by a load reads: a call's
    (or a legacy packet load's) arguments, an ALU operation's operands, or the operand
    of a negation or byte swap."""
    if insn.kind in _CALLS:
        return set(range(1, 6))
    if insn.kind is Kind.ALU:
        reads = {insn.src} if insn.spec.source == "reg" else set()
        return reads | {insn.dst} if insn.spec.op != "mov" else reads
    return {insn.dst}


def _put(state: dict, reg: int, value: str | None) -> None:
    if value is None:
        state.pop(reg, None)
    else:
        state[reg] = value
