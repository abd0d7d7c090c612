"""Which BPF registers are live (may still be read) at the end of each basic block.

A backward dataflow over `cfg.block_graph`: a block's live-in is what it reads before
writing, plus its live-out less what it writes.  Calls read r1-r5 and write r0-r5; a
local call's callee is not a successor, so r6-r9 stay live across it when read after;
exit reads r0 only (a subprogram's r6-r9 are its caller's, restored by every engine).
The peachpy backend uses it to drop instructions whose results a fused idiom made
unread (backends/x86idioms.py).
"""

from __future__ import annotations

from bpfjit.cfg import backward_masks, block_graph, per_program
from bpfjit.isa import Kind, read_registers, written_registers
from bpfjit.program import Program

__all__ = ["block_live_out", "block_live_in", "use_def"]


def use_def(insn) -> tuple[int, int]:
    """(registers read, registers written) of one instruction, as bit masks: the same
    as isa.read_registers and isa.written_registers, without building sets (this runs
    on every instruction of every program the peachpy backend compiles)."""
    kind = insn.kind
    if kind is Kind.ALU:
        spec = insn.spec
        use = 0 if spec.op in ("mov", "movsx") else 1 << insn.dst
        if spec.source == "reg":
            use |= 1 << insn.src
        return use, 1 << insn.dst
    if kind is Kind.LDX or kind is Kind.LDSX:
        return 1 << insn.src, 1 << insn.dst
    if kind is Kind.JCOND:
        use = 1 << insn.dst
        return (use | 1 << insn.src if insn.spec.source == "reg" else use), 0
    if kind is Kind.EXIT:
        return 1, 0
    use = def_ = 0                      # the rest (calls, stores, ...) through the tables
    for r in read_registers(insn):
        use |= 1 << r
    for r in written_registers(insn):
        def_ |= 1 << r
    return use, def_


def block_live_out(prog: Program) -> dict[int, int]:
    """Each block's live-out registers (a bit mask, bit r for BPF register r), keyed by
    the block's first pc."""
    return _liveness(prog)[1]


def block_live_in(prog: Program) -> dict[int, int]:
    """Each block's live-in registers (those it or a block after it may read before
    writing), as block_live_out."""
    return _liveness(prog)[0]


@per_program
def _liveness(prog: Program) -> tuple[dict[int, int], dict[int, int]]:
    members, _, succs = block_graph(prog)
    gen: dict[int, int] = {}
    kill: dict[int, int] = {}
    for first, pcs in members.items():
        g = k = 0
        for pc in reversed(pcs):
            use, def_ = use_def(prog.at(pc))
            g = (g & ~def_) | use
            k |= def_
        gen[first], kill[first] = g, k
    live_in = backward_masks(prog, lambda first, out: gen[first] | (out & ~kill[first]))
    live_out = {}
    for first in members:
        out = 0
        for succ in succs.get(first, ()):
            out |= live_in.get(succ, 0)
        live_out[first] = out
    return live_in, live_out
