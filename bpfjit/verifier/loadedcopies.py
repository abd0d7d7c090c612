"""Which registers a loop writes only with copies of values it has just loaded: `mov x,
y` where, on every way from the loop's head to the copy, y was last written by a load
(`ldx`).  Such an x is a running pick of loaded values (clang -Os's `if (primes[i] <=
k) size = primes[i]`), whose bounds at the loop's head grow only as far as the loads'
do: its head joins them rather than widening them (bpfjit.verifier.loopheads), and the
loads' own bounds, set by a table's entries or a load's width and by addresses the
widening of the loop's counters settles, stop it.  Widened, such a pick went to its
limit, or to what a relation with the byte it was compared with allowed (255 + 7 where
the table's greatest entry is 61)."""

from __future__ import annotations

from ..cfg import block_graph
from ..isa import Kind, written_registers
from ..program import Program

__all__ = ["loaded_copies"]


def _is_copy(insn) -> bool:
    return insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "reg"


def loaded_copies(prog: Program, body: set[int], head: int) -> int:
    """The registers (a bit each) that the loop of blocks `body` (head block `head`)
    writes, and writes only by copies of a register loaded since the head on every way
    to the copy."""
    members, preds, _ = block_graph(prog)
    writers: dict[int, list[int]] = {}
    for block in body:
        for pc in members[block]:
            for reg in written_registers(prog.at(pc)):
                writers.setdefault(reg, []).append(pc)
    block_of = {pc: block for block in body for pc in members[block]}
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
        """Whether reg was last written by a load on every way from the head to the
        `index`-th instruction of `block`."""
        for pc in reversed(members[block][:index]):
            insn = prog.at(pc)
            if reg in written_registers(insn):
                return insn.kind in (Kind.LDX, Kind.LDSX) and insn.dst == reg
        if block == head:               # reached the head: reg may come round the loop
            return False
        inside = [p for p in preds.get(block, ()) if p in body]
        return bool(inside) and all(loaded_at_end(p, reg, visiting) for p in inside)

    found = 0
    for reg, pcs in writers.items():
        if reg == 10:
            continue
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
