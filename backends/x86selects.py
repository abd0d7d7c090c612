"""Conditional moves for the peachpy JIT: a jump over one register move becomes a cmov.

clang's BPF target has no select instruction, so `best = x < best ? x : best` or
`d = (a != b)` come out as a conditional jump over one `mov`:

    jCC a, b, +1          ->    cmp a, b
    mov d, s                    cmov<not CC> d, s

or, as the last step of a loop body, a jump to the loop's head over a move and a `ja`
there (`jCC head; mov d, s; ja head`), converted only as the next step of a chain of
minimums (below).

A template JIT that keeps the jump pays a misprediction whenever the data decides it
(an edit distance's minimum of three costs: peachpy ran it at 4.8x native, three
unpredictable jumps a cell).  But a cmov waits for its compare where a predicted jump
does not, so only jumps the data decides are converted: the compared values come from
a load in the same block (a clamp of a counter, a loop's own test, are predicted well),
and the moved value does not go on to form an address (`lo = mid` of a binary search,
the larger child of a heap: with a jump the CPU runs ahead to the next load on its
guess; with a cmov every load waits for the one before; measured, both ran 12-35%
slower converted), and the block after does not branch on the moved value or the
compared ones again (`r9 = a[j] < a[i]; if (r9 == up)` in a sorting network: the jump
left is mispredicted as often, and the cmov only adds to it; bitonic ran 19% slower
converted).  The move is 64-bit (cmov of 32-bit operands would clear
d's upper half when it does not move), its source a register or an immediate that
needs no blinding (put in r10 after the compare: mov leaves the flags alone), and its
block has no other way in (no jump targets it) and no budget test.  The budget stays
exact: the move's block charge, when it has one (of one instruction: the move), is
subtracted under the same condition (`set<cond> r11b; sub r9, r11`: a cmov of the
budget, two dependent instructions on it, made grid's Life step 10% slower).
"""

from __future__ import annotations

from collections import deque

from bpfjit.isa import Kind
from bpfjit.liveness import use_def

from .x86asm import r8, r32
from .x86layout import BUDGET, JCC, S1, S2

__all__ = ["SelectLowering"]

# the condition under which the jump is not taken (the move happens)
_NOT = {"e": "NE", "ne": "E", "a": "BE", "ae": "B", "b": "AE", "be": "A",
        "g": "LE", "ge": "L", "l": "GE", "le": "G"}


class SelectLowering:
    """Mixed into the peachpy lowering (backends.x86._Lowering)."""

    def select_at(self, body: list, i: int) -> int:
        """Emit body[i] (a conditional jump) and the move it jumps over as a compare and a
        cmov when the pattern holds; how many instructions that consumed (0: none).  In
        the second form the `ja` after the move is left to be lowered as usual."""
        if i + 1 >= len(body):
            return 0
        (pc, jump), (move_pc, move) = body[i], body[i + 1]
        join = self._select_join(pc, jump)
        if join is None or not self._selectable(pc, jump, move_pc, move, join):
            return 0
        if join == pc + 2:
            self.select_joins.add(join)
        a = self.a
        charge = self.charges.get(move_pc, 0)
        if charge:
            a("MOV", r32(S2), 0)                                    # mov r11d, 0
        self._compare(jump)                                         # cmp a, b
        cond = _NOT[JCC[jump.spec.op]]
        a.mark(move_pc)
        source = self.reg[move.src] if move.spec.source == "reg" else S1
        if move.spec.source == "imm":
            a("MOV", S1, move.imm)                                  # mov r10, imm
        self._move_if(cond, self.reg[move.dst], source, charge)
        return 2

    def _move_if(self, cond: str, d: str, source: str, charge: int) -> None:
        """The move and its budget charge, on the flags of the compare just made."""
        self.a("CMOV" + cond, d, source)                            # cmov d, s
        if charge:      # (after the cmov: the sub sets the flags)
            self.a("SET" + cond, r8(S2))                            # set<cond> r11b
            if charge == 2:
                self.a("ADD", S2, S2)                               # add r11, r11
            self.a("SUB", BUDGET, S2)                               # sub r9, r11

    def _select_join(self, pc: int, jump) -> int | None:
        """Where both ways of a conditional jump over one move meet: right after the move
        (`jCC +1; mov d, s`), or the jump's own target when the move's block is the move
        and a `ja` there (`jCC X; mov d, s; ja X`: clang's last minimum of a loop body,
        whose both ways go round); None for any other jump."""
        if jump.kind is not Kind.JCOND:
            return None
        if jump.off == 1:
            return pc + 2
        after = pc + 2
        if after not in self.prog.pcs or after in self.leaders:
            return None
        ja = self.prog.at(after)
        if ja.kind is not Kind.JA or ja.spec.width != 64 or after + 1 + ja.off != pc + 1 + jump.off:
            return None
        return pc + 1 + jump.off

    def _selectable(self, pc: int, jump, move_pc: int, move, join: int) -> bool:
        if move.kind is not Kind.ALU or move.spec.op != "mov" or move.spec.width != 64:
            return False
        if move.spec.source == "imm" and self.blinds(move.imm) \
                or self.charges.get(move_pc, 0) > (1 if join == pc + 2 else 2):
            return False
        if move_pc in self.targets or move_pc in self.checkpoints \
                or move_pc in self.elided or join == pc + 2 and join not in self.leaders \
                or self.wants_group(move_pc) or self.idioms(move_pc).touches(move_pc):
            return False
        if jump.spec.source != "reg":
            return False
        compared = 1 << jump.dst | 1 << jump.src
        loaded, selected = _loaded_in_block(self.prog, self.leaders, pc, self.select_joins)
        if join != pc + 2:
            # going round the loop either way, the jump is the loop's own: converted only
            # as the next step of a chain of minimums (an edit distance's third cost),
            # where the data decides each; a jump on a loaded value alone was mostly
            # predicted well (dnsname's case test, hll's running maximum: 1.3-1.5x slower
            # converted)
            loaded &= selected
        return bool(compared & loaded) \
            and not _tested_again(self.prog, join, compared, move.dst,
                                  move.spec.source == "reg" and bool(compared & selected)) \
            and not _feeds_address(self.prog, join, move.dst)


def _tested_again(prog, join: int, compared: int, moved: int, chain: bool) -> bool:
    """Whether the code after `join` (its fall-through path, _RETEST_WINDOW
    instructions) tests the same decision again: a conditional jump on the compared
    registers or the moved one as they were at the join, or on a value and, or, xor or
    a copy make of them tested against a constant: `r9 = a[j] < a[i]` then `if (r9 ==
    up)`, the same compare made again, `if (bigger & nonzero)`.  That jump is
    mispredicted as often as the one removed, and the cmov only adds to it.  A value
    computed from them and compared with another (the running minimum of an edit
    distance's three costs) is a new decision.  In a chain (`chain`: a minimum or
    maximum, a move of a register, of a value that a select made before it), the
    result compared with anything else is a new decision too (Smith-Waterman's
    `max(diagonal + score, up)` against `left`, then against 0); only the old values
    compared among themselves, or a compared one against a constant, test it again.
    Outside a chain that stays a retest: a median of three (`max(min(a, b), min(max(a,
    b), c))`) converted whole ran 1.6x slower."""
    direct, derived, pc = compared | 1 << moved, 0, join
    for _ in range(_RETEST_WINDOW):
        if pc not in prog.pcs:
            return False
        insn = prog.at(pc)
        use, written = use_def(insn)
        if insn.kind is Kind.JCOND:
            if not chain:
                retest = use & direct or insn.spec.source == "imm" and use & derived
            elif insn.spec.source == "reg":     # the old values compared among themselves
                retest = not use & ~(direct | derived)
            else:                               # a compared value (not the result) again
                retest = use & direct & ~(1 << moved)
            if retest:
                return True
        elif insn.kind in (Kind.JA, Kind.EXIT):
            return False
        logic = insn.kind is Kind.ALU and insn.spec.op in ("and", "or", "xor", "mov")
        carried = derived | direct
        derived = derived | written if logic and use & carried else derived & ~written
        direct &= ~written
        pc += insn.slots
    return False


_RETEST_WINDOW = 12


def _loaded_in_block(prog, leaders, pc: int, joins: set[int]) -> tuple[int, int]:
    """The registers (bit masks) holding, at `pc`, a value computed in its block from a
    load made in the block, and those holding one computed from a select's result.  A
    block that is the join of a select made (`joins`) runs on from the block of its
    jump, as the emitted code does (the cmov a move: the moved value counts as loaded
    when its source does)."""
    start = pc
    while start not in leaders or start in joins:
        start -= 2 if start in joins else 1
    loaded = selected = 0
    at = start
    while at < pc:
        insn = prog.at(at)
        use, written = use_def(insn)
        if insn.kind in (Kind.LDX, Kind.LDSX):
            loaded |= written
            selected &= ~written
        elif insn.kind is Kind.ALU and at + 1 in joins:     # a select's move
            loaded = loaded | written if use & loaded else loaded
            selected |= written
        elif insn.kind is Kind.ALU:
            loaded = loaded | written if use & loaded else loaded & ~written
            selected = selected | written if use & selected else selected & ~written
        else:
            loaded &= ~written
            selected &= ~written
        at += insn.slots
    return loaded, selected


_LOOK_AHEAD = 64        # instructions followed from the join, over every path


def _feeds_address(prog, start: int, reg: int) -> bool:
    """Whether register `reg`'s value at `start` (or one computed from it) is the base
    of a memory access on some path, nearest instructions first, round loops too, up to
    _LOOK_AHEAD instructions."""
    work, seen = deque([(start, 1 << reg)]), {}
    while work and len(seen) < _LOOK_AHEAD:
        pc, carried = work.popleft()
        known = seen.get(pc, 0)
        if not carried & ~known or pc not in prog.pcs:
            continue
        seen[pc] = carried = known | carried
        insn = prog.at(pc)
        use, written = use_def(insn)
        kind = insn.kind
        if kind in (Kind.LDX, Kind.LDSX) and carried >> insn.src & 1 \
                or kind in (Kind.ST, Kind.STX, Kind.ATOMIC) and carried >> insn.dst & 1:
            return True
        carried = carried | written if kind is Kind.ALU and use & carried \
            else carried & ~written
        if kind is Kind.EXIT:
            continue
        if kind is Kind.JA:
            work.append((pc + 1 + (insn.off if insn.spec.width == 64 else insn.imm), carried))
            continue
        if kind is Kind.JCOND:
            work.append((pc + 1 + insn.off, carried))
        work.append((pc + insn.slots, carried))
    return False
