"""Which registers a loop writes only with copies of values it has just loaded: `mov x,
y` where, on every way from the loop's head to the copy, y was last written by a load
(`ldx`).  Such an x is a running pick of loaded values (clang -Os's `if (primes[i] <=
k) size = primes[i]`), whose bounds at the loop's head grow only as far as the loads'
do: its head joins them rather than widening them (bpfjit.verifier.loopheads), and the
loads' own bounds, set by a table's entries or a load's width and by addresses the
widening of the loop's counters settles, stop it.  Widened, such a pick went to its
limit, or to what a relation with the byte it was compared with allowed (255 + 7 where
the table's greatest entry is 61).

So is a register that comes round the loop as a load last wrote it, whatever the loop
did with it on the way: a skip list's `x = next[x]`, zero-extended before each index.
Widened at its head while the entries of next[] still grew, x went to 2^32, each load
of next[x] was bounded only by the frame, and the entries stored from it grew to 255."""

from __future__ import annotations

from ..cfg import block_graph
from ..isa import Kind, written_registers
from ..liveness import block_live_in
from ..program import Program

__all__ = ["loaded_copies", "loaded_round"]


def _is_copy(insn) -> bool:
    return insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "reg"


def _last_loaded(prog: Program, body: set[int], head: int, counts=lambda insn: True):
    """The blocks' pcs, their successors, and a test: whether a register was last written
    by a load (one that `counts`) on every way from the head to the index-th
    instruction of a block of the loop (bpfjit.cfg.block_graph)."""
    members, preds, succs = block_graph(prog)
    memo: dict[tuple[int, int], bool] = {}

    def loaded_at_end(block: int, reg: int, visiting: frozenset) -> bool:
        """Whether reg was last written by a load on every way from the head to the end
        of `block`."""
        key = (block, reg)
        if key in memo:
            return memo[key]
        if block in visiting:           # (a cycle of an inner loop: no new way)
            return True
        found = loaded_before(block, len(members[block]), reg, visiting | {block})
        memo[key] = found
        return found

    def loaded_before(block: int, index: int, reg: int, visiting: frozenset) -> bool:
        """Whether reg was last written by a load that counts on every way from the head
        to the `index`-th instruction of `block`."""
        for pc in reversed(members[block][:index]):
            insn = prog.at(pc)
            if reg in written_registers(insn):
                return insn.kind in (Kind.LDX, Kind.LDSX) and insn.dst == reg and counts(insn)
        if block == head:               # reached the head: reg may come round the loop
            return False
        inside = [p for p in preds.get(block, ()) if p in body]
        return bool(inside) and all(loaded_at_end(p, reg, visiting) for p in inside)

    return members, succs, loaded_before


def _written(prog: Program, members: dict, body: set[int]) -> dict[int, list[int]]:
    """Each register the loop writes (but r10): the pcs that write it."""
    writers: dict[int, list[int]] = {}
    for block in body:
        for pc in members[block]:
            for reg in written_registers(prog.at(pc)):
                if reg != 10:
                    writers.setdefault(reg, []).append(pc)
    return writers


def loaded_copies(prog: Program, body: set[int], head: int) -> int:
    """The registers (a bit each) that the loop of blocks `body` (head block `head`)
    writes, and writes only by copies of a register loaded since the head on every way
    to the copy."""
    members, _, loaded_before = _last_loaded(prog, body, head)
    block_of = {pc: block for block in body for pc in members[block]}
    found = 0
    for reg, pcs in _written(prog, members, body).items():
        ok = True
        for pc in pcs:
            insn = prog.at(pc)
            block = block_of[pc]
            if not _is_copy(insn) or insn.src == reg or not loaded_before(
                    block, members[block].index(pc), insn.src, frozenset({block})):
                ok = False
                break
        if ok:
            found |= 1 << reg
    return found


def _not_a_reload(insn) -> bool:
    """A load that is not a spilled register's reload from a slot (whose bounds its own
    widening at the head settles, as a counter's do)."""
    return insn.src != 10


def loaded_round(prog: Program, body: set[int], head: int) -> int:
    """The registers (a bit each) live at the loop's head that the loop writes and that
    come round it, on every way back to its head, as a load through a pointer (not a
    slot's reload) last wrote them, whatever the loop did to them before: a chased index
    `x = next[x]`, zero-extended before each use."""
    members, succs, loaded_before = _last_loaded(prog, body, head, _not_a_reload)
    back = [b for b in body if head in succs.get(b, ())]
    live = block_live_in(prog).get(head, 0)
    found = 0
    for reg in _written(prog, members, body):
        if live >> reg & 1 and back and all(
                loaded_before(b, len(members[b]), reg, frozenset({b})) for b in back):
            found |= 1 << reg
    return found
