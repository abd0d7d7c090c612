"""Which 64-bit results the program only ever reads the low half of.

clang -mcpu=v1 computes 32-bit arithmetic in 64-bit registers and extends it to 64
bits only where a test or an address needs it: xxhash32's `len - 4` is a 64-bit add of
0xfffffffc, whose high half grows by one every trip round the loop while the extension
before the loop's test reads only the low half.  Followed as a 64-bit number such a
count has no bound after the first trip; followed as its low half it is the count.

A backward pass over the program finds, at each instruction, the registers whose high
half (bits 32-63) some later instruction may read: a 64-bit test, an address, a
helper's argument, a store of 8 bytes, r0 at exit, a division or right shift read them
whole; a 32-bit instruction, a store of 1-4 bytes or a 32-bit test reads no high half;
an add, subtraction, multiply, `or`, `xor` or copy reads its operands' high halves only
where its own result's is read (carries go up, never down), a left shift by 32 or more
never, an `and` with a constant whose high half is zeros never.  An add, subtraction,
multiply, copy or left shift by less than 32 whose result's high half nothing reads
(`low_half_results`) may be verified as its 32-bit twin, whose value -- zero-extended
-- has the same low half: every reader computes the same from either, so whatever the
verifier proves from the twin holds of the program as it runs
(bpfjit.verifier.analysis)."""

from __future__ import annotations

from typing import Callable

from ..cfg import backward_masks, block_graph
from ..isa import SPECS_BY_OPCODE, Insn, Kind
from ..liveness import use_def
from ..program import Program

__all__ = ["low_half_results", "twin32", "moved_copy32"]

LOW = 0xFFFF_FFFF
# the 64-bit operations whose result's low half is the 32-bit operation's
_TWINNED = frozenset(("add", "sub", "mul", "mov", "lsh"))
# the 64-bit operations whose operands' high halves matter only to the result's
_CARRY_UP = frozenset(("add", "sub", "mul", "or", "xor", "and", "mov"))


def _step_back(insn: Insn, high: int, arg_count: Callable[[int], int]) -> int:
    """The registers whose high half is read from before the instruction on, given
    `high`, those read from after it on (bit r for register r)."""
    kind = insn.kind
    if kind is Kind.ALU:
        spec = insn.spec
        dst = 1 << insn.dst
        wanted = high & dst
        high &= ~dst
        src = 1 << insn.src if spec.source == "reg" else 0
        op = spec.op
        if spec.width == 32:
            return high
        if op in _CARRY_UP:
            if not wanted or op == "and" and not src and insn.imm >= 0:
                return high
            return high | src | (0 if op == "mov" else dst)
        if op == "lsh" and not src:
            return high | dst if wanted and (insn.imm & 63) < 32 else high
        if op == "movsx":
            return high | src
        return high | dst | src
    if kind is Kind.JCOND:
        if insn.spec.width == 32:
            return high
        return high | 1 << insn.dst | (1 << insn.src if insn.spec.source == "reg" else 0)
    if kind is Kind.LDDW:
        return high & ~(1 << insn.dst)
    if kind is Kind.STX and insn.spec.width < 64:
        return high | 1 << insn.dst
    if kind is Kind.EXIT:
        return high | 1
    if kind is Kind.CALL:               # a helper reads its arguments, no more
        return high & ~0x3F | ((1 << arg_count(insn.imm)) - 1) << 1
    # everything else (negations, byte swaps, loads, stores of 8 bytes, atomics, local
    # calls, legacy packet loads) reads whole what it reads and writes what it writes
    use, def_ = use_def(insn)
    return high & ~def_ | use


def _twinnable(insn: Insn) -> bool:
    spec = insn.spec
    return insn.kind is Kind.ALU and spec.width == 64 and spec.op in _TWINNED and (
        spec.op != "lsh" or spec.source == "imm" and 0 <= insn.imm < 32)


def low_half_results(prog: Program,
                     arg_count: Callable[[int], int] = lambda helper: 5) -> frozenset[int]:
    """The pcs of 64-bit ALU instructions with a 32-bit twin (`twin32`) whose result's
    high half nothing reads; `arg_count`: how many registers a helper (by id) reads, r1
    on (the verifier's signatures: a lookup reads r1 and r2, not r5)."""
    candidates = {pc for pc, insn in prog if _twinnable(insn)}
    if not candidates:
        return frozenset()
    members = block_graph(prog)[0]
    after: dict[int, bool] = {}         # a candidate: whether its result's high half is read

    def block_in(first: int, high: int) -> int:
        for pc in reversed(members[first]):
            insn = prog.at(pc)
            if pc in candidates:
                after[pc] = bool(high >> insn.dst & 1)
            high = _step_back(insn, high, arg_count)
        return high

    backward_masks(prog, block_in)
    return frozenset(pc for pc, read in after.items() if not read)


def twin32(insn: Insn) -> Insn:
    """The 32-bit instruction computing the low half of a 64-bit ALU instruction's
    result, zero-extended."""
    spec = _spec(insn.spec.mnemonic + "32", insn.spec.source)
    return Insn(spec, dst=insn.dst, src=insn.src, off=insn.off, imm=insn.imm)


def moved_copy32(dst: int, src: int, k: int) -> list[Insn]:
    """`mov32 dst, src; add32 dst, k`: the low half of `dst = k; dst += src`, as a copy
    of src moved by k's 32-bit value (0xfffffffc: -4)."""
    k &= LOW
    return [Insn(_MOV32_REG, dst=dst, src=src),
            Insn(_ADD32_IMM, dst=dst, imm=k - (1 << 32) if k >> 31 else k)]


def _spec(mnemonic: str, source: str | None):
    for specs in SPECS_BY_OPCODE.values():
        for spec in specs:
            if spec.mnemonic == mnemonic and spec.source == source:
                return spec
    raise KeyError(mnemonic)


_MOV32_REG = _spec("mov32", "reg")
_ADD32_IMM = _spec("add32", "imm")
