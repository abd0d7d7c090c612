"""Widening thresholds: the bounds worth widening a register to at a loop head (the
constants the program compares it, or a copy of it, with), so that loops converge at
their tests rather than at the registers' limits (bpfjit.verifier.analysis)."""

from __future__ import annotations

from ..cfg import block_graph
from ..isa import Kind
from ..liveness import use_def
from ..program import Program

__all__ = ["thresholds", "loop_thresholds", "loop_writes"]


def thresholds(prog: Program, pcs=None, known: dict[int, int] | None = None
               ) -> tuple[tuple[int, ...], ...]:
    """Bounds worth widening each register to: the constants the program (or its
    instructions at `pcs`) compares that register with (a counter tested against 64
    stops at 64, not at the 8, 13 and 32 a switch elsewhere compares other registers
    with), or compares a copy of it with: clang's -mcpu=v1 tests an `int` counter
    through a zero- or sign-extended copy (`mov r3, r2; lsh r3, 32; rsh r3, 32; jne r3,
    20`), which bounds the counter as `jne32 r2, 20` would.  Spilled slots have none of
    their own: a value that grows in a slot stops at 2^32 - 1, then at its limit
    (joins._SLOT_THRESHOLDS), and the final, descending pass brings it back.  A register compared with another that the program sets to a few constants
    (clang's -mcpu=v1 `r2 = 23` before a loop tested by `jgt r2, r5`) is compared with
    those constants, or with the constant `known` gives it (a loop's invariant
    register, constant at its head).  A copy masked to its low bits (`r3 = r1 &
    0xffff`, a u16 counter in a 64-bit register) is still the copy.  A sum of registers
    compared with a constant (`n + run <= 256`, `mov r8, r0; add r8, r3; jgt r8, 256`)
    gives that constant to each of them."""
    found: list[set[int]] = [{0} for _ in range(11)]
    constants = _register_constants(prog)
    if known:
        constants.update((r, (c,)) for r, c in known.items())
    # register -> (the register it copies, plus what): within a run of instructions
    copied: dict[int, tuple[int, int]] = {}
    addends: dict[int, tuple[int, ...]] = {}     # register -> registers it is a sum of
    last = None
    for pc, insn in (prog if pcs is None else ((pc, prog.at(pc)) for pc in pcs)):
        if last is not None and pc != last:
            copied.clear()          # another block: its copies are not this one's
            addends.clear()
        last = pc + insn.slots
        if insn.kind is Kind.JCOND and insn.spec.source == "reg":
            for reg, other in ((insn.dst, insn.src), (insn.src, insn.dst)):
                for c in constants.get(other, ()):
                    found[reg].update((c - 1, c, c + 1))
                    for source, plus in _sources(copied, reg):
                        found[source].update((c - plus - 1, c - plus, c - plus + 1))
        if insn.kind is Kind.JCOND and insn.spec.source == "imm":
            c = insn.imm
            found[insn.dst].update((c - 1, c, c + 1))
            if insn.spec.width == 32:
                found[insn.dst].update(((c & 0xFFFFFFFF) - 1, c & 0xFFFFFFFF))
            if -(1 << 31) <= c <= 0xFFFFFFFF:
                for source, plus in _sources(copied, insn.dst):
                    found[source].update((c - plus - 1, c - plus, c - plus + 1))
            if 0 <= c <= 0xFFFFFFFF:
                for reg in addends.get(insn.dst, ()):
                    found[reg].update((c - 1, c, c + 1))
        written = use_def(insn)[1]
        if insn.kind is Kind.ALU and insn.spec.width == 64 and insn.spec.source == "reg" \
                and insn.spec.op == "mov" and insn.src != insn.dst:
            copied = {r: (src, k) for r, (src, k) in copied.items() if r != insn.dst}
            copied[insn.dst] = (insn.src, 0)
            addends = {r: a for r, a in addends.items() if r != insn.dst and insn.dst not in a}
            if insn.src in addends:
                addends[insn.dst] = addends[insn.src]
        elif insn.kind is Kind.ALU and insn.spec.source == "imm" and insn.imm == 32 \
                and insn.spec.width == 64 and insn.spec.op in ("lsh", "rsh", "arsh") \
                and insn.dst in copied:
            pass                    # the halves of a 32-bit extension: still the copy's
        elif insn.kind is Kind.ALU and insn.spec.source == "imm" and insn.spec.op == "and" \
                and insn.dst in copied and insn.imm in _LOW_MASKS:
            pass                    # its low 8, 16 or 32 bits: still the copy's
        elif insn.kind is Kind.ALU and insn.spec.source == "imm" and insn.spec.width == 64 \
                and insn.spec.op in ("add", "sub") and insn.dst in copied \
                and abs(insn.imm) < 1 << 16:
            # `r4 = r0 + 8` tested against 60: r0's bound is 52 (clang -mcpu=v2 and up
            # rotate a loop so that its exit test compares such a sum)
            source, plus = copied[insn.dst]
            copied[insn.dst] = (source, plus + (insn.imm if insn.spec.op == "add"
                                                else -insn.imm))
        elif insn.kind is Kind.ALU and insn.spec.source == "reg" and insn.spec.width == 64 \
                and insn.spec.op == "add" and insn.dst in copied and insn.src != insn.dst:
            # a sum: its own copy no longer, but each addend's bound below the sum's
            source = copied.pop(insn.dst)[0]
            addends[insn.dst] = addends.get(insn.dst, (source,)) + (insn.src,)
            copied = {r: ks for r, ks in copied.items() if ks[0] != insn.dst}
        elif written:
            # a copy whose source changes afterwards still bounds the value the source
            # had, which is what a loop head widens: only the copy's own write ends it
            copied = {r: ks for r, ks in copied.items() if not written >> r & 1}
            addends = {r: a for r, a in addends.items() if not written >> r & 1}
    return tuple(tuple(sorted(f)) for f in found)


_LOW_MASKS = (0xFF, 0xFFFF, 0x7FFFFFFF)      # (an imm 0xffffffff is -1: all 64 bits)


def _sources(copied: dict[int, tuple[int, int]], reg: int) -> list[tuple[int, int]]:
    """(source, plus) for each register `reg` is a copy of, plus a constant, following
    copies of copies (at most three): clang's `r7 = r8 + 1` for `n + 1`, copied again
    and zero-extended before its test against 48, bounds r8 by 47."""
    found = []
    plus = 0
    while reg in copied and len(found) < 3:
        reg, more = copied[reg]
        plus += more
        if any(reg == r for r, _ in found):
            break
        found.append((reg, plus))
    return found


def loop_writes(prog: Program, body: set[int]) -> int:
    """The registers (a bit each) some instruction of the blocks `body` writes."""
    members = block_graph(prog)[0]
    written = 0
    for block in body:
        for pc in members[block]:
            written |= use_def(prog.at(pc))[1]
    return written


def _register_constants(prog: Program) -> dict[int, tuple[int, ...]]:
    """The constants the program moves into each register (`mov rX, imm`), for those
    given at most four: reg -> those constants (hints: the register may hold others)."""
    values: dict[int, set[int]] = {}
    for _, insn in prog:
        if insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "imm":
            values.setdefault(insn.dst, set()).add(insn.imm)
    return {r: tuple(sorted(v)) for r, v in values.items() if len(v) <= 4}


def loop_thresholds(prog: Program, body: set[int], everywhere: tuple,
                    known: dict[int, int] | None = None) -> tuple[tuple[int, ...], ...]:
    """The thresholds of a loop's head: for a register its loop compares with constants,
    those constants only — `for (i = 0; i != 64; i++)` in a program that compares the
    same register with 54, 55 and 56 elsewhere would spend its few threshold steps on
    those and widen past 63 — else the program's.  `known`: registers the loop does
    not write that are constant at its head (loxilb's `r4 = 31` before a loop tested
    by `jgt r4, r3`, where the program moves many constants into r4)."""
    members = block_graph(prog)[0]
    local = thresholds(prog, sorted(pc for block in body for pc in members[block]), known)
    return tuple(mine if len(mine) > 1 else everywhere[r] for r, mine in enumerate(local))
