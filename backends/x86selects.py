"""Conditional moves for the peachpy JIT: a jump over one register move that the data
decides (backends.selectshapes) becomes a cmov:

    jCC a, b, +1          ->    cmp a, b
    mov d, s                    cmov<not CC> d, s

and `jCC head; mov d, s; ja head` -> `cmp a, b; cmov<not CC> d, s; jmp head`.  A
template JIT that keeps the jump pays a misprediction whenever the data decides it (an
edit distance's minimum of three costs: peachpy ran it at 4.8x native, three
unpredictable jumps a cell).  The move is 64-bit (cmov of 32-bit operands would clear
d's upper half when it does not move), its source a register or an immediate that
needs no blinding (put in r10 after the compare: mov leaves the flags alone), and its
block has no budget test.  The budget stays exact: the move's block charge, when it
has one (the move, or the move and its `ja`), is subtracted under the same condition
(`set<cond> r11b; sub r9, r11`: a cmov of the budget, two dependent instructions on
it, made grid's Life step 10% slower).
"""

from __future__ import annotations

from .selectshapes import data_decided, loaded_on_entry, select_join
from .x86asm import r8, r32
from .x86layout import BUDGET, JCC, NEGATED_CC, S1, S2

__all__ = ["SelectLowering"]


class SelectLowering:
    """Mixed into the peachpy lowering (backends.x86._Lowering)."""

    def select_at(self, body: list, i: int) -> int:
        """Emit body[i] (a conditional jump) and the move it jumps over as a compare and a
        cmov when the pattern holds; how many instructions that consumed (0: none).  In
        the second form the `ja` after the move is left to be lowered as usual."""
        if i + 1 >= len(body):
            return 0
        (pc, jump), (move_pc, move) = body[i], body[i + 1]
        join = select_join(self.prog, self.leaders, pc, jump)
        if join is None or not self._selectable(pc, jump, move_pc, move, join):
            return 0
        if join == pc + 2:
            self.select_joins.add(join)
        a = self.a
        charge = self.charges.get(move_pc, 0)
        if charge:
            a("MOV", r32(S2), 0)                                    # mov r11d, 0
        self._compare(jump)                                         # cmp a, b
        cond = NEGATED_CC[JCC[jump.spec.op]].upper()   # (the move happens)
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

    def _selectable(self, pc: int, jump, move_pc: int, move, join: int) -> bool:
        if move.spec.source == "imm" and self.blinds(move.imm) \
                or self.charges.get(move_pc, 0) > (1 if join == pc + 2 else 2):
            return False
        if move_pc in self.checkpoints or move_pc in self.elided \
                or self.wants_group(move_pc) or self.idioms(move_pc).touches(move_pc):
            return False
        if self.loaded_entry is None:
            self.loaded_entry = loaded_on_entry(self.prog)
        return data_decided(self.prog, self.leaders, self.targets, pc, join,
                            self.select_joins, self.loaded_entry)
