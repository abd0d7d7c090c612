"""The verifier: reject malformed programs with a clear reason, and prove accesses safe.

    verify(prog, mode="checked", helpers=None, log=False) -> VerifiedProgram

1. Structure (bpfjit.cfg): jump and call targets, lddw halves, falling through.
2. The call graph: no recursion, at most 8 frames deep (the kernel's limit).
3. Abstract interpretation (bpfjit.verifier.analysis): registers and stack bytes
   are written before they are read, r10 is never written, r0 is set at exit,
   helpers are registered, and each load and store is proven in bounds or not.

Modes: "checked" (default) runs unproven accesses with a runtime check;
"strict" rejects any unproven access and any loop (bpfjit does not prove loop
termination, so strict programs are loop-free, as the kernel once required);
"unchecked" trusts the program and the engines check nothing (unsafe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cfg import check_structure, subprogram_ranges
from ..errors import BpfError, VerifierError
from ..isa import MAX_CALL_DEPTH, OPCODES, Insn, Kind
from ..asm import format_insn
from ..program import Program
from .analysis import Analysis

__all__ = ["verify", "VerifiedProgram", "MODES", "reasoning_until_rejection"]

MODES = ("checked", "strict", "unchecked")


@dataclass
class VerifiedProgram:
    """A program the verifier accepted, with what it proved for the engines."""
    program: Program
    mode: str
    proven: frozenset[int]                   # pcs of accesses proven in bounds
    accesses: tuple[int, ...]                # pcs of every load, store and atomic
    unreachable: tuple[int, ...] = ()        # pcs no path reaches (a warning)
    regions: dict[int, str] = field(default_factory=dict)  # pc -> "mem" / "stack", if known
    log: list[str] = field(default_factory=list)
    frames: int = MAX_CALL_DEPTH            # the most stack frames a run can have live
    # map_lookup_elem calls whose map is always the same and whose key is read in
    # bounds: pc -> map index (a JIT may do these lookups itself, for array maps)
    lookups: dict[int, int] = field(default_factory=dict)

    @property
    def stats(self) -> str:
        """The last line of `bpfjit verify --stats`."""
        return f"accesses={len(self.accesses)} proven={len(self.proven)}"

    def needs_check(self, pc: int) -> bool:
        """Whether the access at `pc` must be checked at run time in this mode."""
        return self.mode == "checked" and pc not in self.proven


def _call_order(prog: Program) -> tuple[list[int], int]:
    """Subprograms in an order where every caller precedes its callees, and the
    deepest chain of frames a run can reach.

    VerifierError for recursion or a call chain deeper than the kernel's 8 frames.
    """
    ranges = subprogram_ranges(prog)
    owner = {}
    calls: dict[int, list[tuple[int, int]]] = {first: [] for first, _ in ranges}
    for first, end in ranges:
        for pc, insn in prog:
            if first <= pc < end:
                owner[pc] = first
                if insn.kind is Kind.CALL_LOCAL:
                    calls[first].append((pc, pc + 1 + insn.imm))
    order: list[int] = []
    depth: dict[int, int] = {}
    state: dict[int, str] = {}

    def visit(sub: int, stack: list[int]) -> int:
        if state.get(sub) == "done":
            return depth[sub]
        state[sub] = "active"
        deepest = 1
        for pc, callee in calls[sub]:
            if state.get(callee) == "active":
                raise VerifierError(pc, f"recursion: the call to pc {callee} re-enters a "
                                        f"subprogram that is still running")
            deepest = max(deepest, 1 + visit(callee, stack + [sub]))
        state[sub] = "done"
        depth[sub] = deepest
        order.append(sub)
        return deepest

    frames = visit(0, [])
    # check the depth along chains from the entry, naming the call that goes too deep
    def check(sub: int, frames: int) -> None:
        for pc, callee in calls[sub]:
            if frames + 1 > MAX_CALL_DEPTH:
                raise VerifierError(pc, f"this call would be frame {frames + 1}; at most "
                                        f"{MAX_CALL_DEPTH} frames (7 nested calls) are allowed")
            check(callee, frames + 1)
    check(0, 1)
    order.reverse()
    return order + [first for first, _ in ranges if first not in order], frames


def verify(prog: Program, mode: str = "checked", helpers=None, log: bool = False) -> VerifiedProgram:
    """Check `prog` and compute its facts; VerifierError(pc, reason) when it is rejected.

    `helpers` (ids, or a dict keyed by id) are the helpers calls may name; None
    skips that check.
    """
    if not isinstance(prog, Program):
        raise BpfError(f"verify() takes a bpfjit.Program, not {type(prog).__name__}")
    if mode not in MODES:
        raise BpfError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    # a program's verdict depends only on the program, the mode and the helper ids, so it
    # is kept with the program: compiling it again, or for another engine, reuses it
    key = (mode, None if helpers is None else frozenset(helpers))
    cache = prog.__dict__.setdefault("_verified", {})
    if not log and key in cache:
        return cache[key]
    check_structure(prog)
    order, frames = _call_order(prog)
    analysis = Analysis(prog, None if helpers is None else set(helpers), order, want_log=log)
    analysis.run()
    accesses = tuple(sorted(analysis.accesses))
    proven = frozenset(pc for pc, ok in analysis.accesses.items() if ok)
    if mode == "strict":
        unproven = [pc for pc in accesses if pc not in proven]
        if unproven:
            pc = unproven[0]
            raise VerifierError(pc, f"strict mode: cannot prove that "
                                    f"`{format_insn(prog.at(pc))}` stays in bounds")
        if analysis.loops:
            pc = min(analysis.loops)
            raise VerifierError(pc, "strict mode: this backward jump makes a loop, and "
                                    "bpfjit does not prove that loops terminate")
    unreachable = tuple(pc for pc in prog.pcs if pc not in analysis.reached)
    lines = []
    if log:
        for pc, insn in prog:
            state = analysis.log.get(pc)
            text = format_insn(insn)
            lines.append(f"{pc}: {text:<32} ; {state}" if state is not None
                         else f"{pc}: {text:<32} ; unreachable")
    regions = {pc: r for pc, r in analysis.regions.items() if r is not None}
    original = prog
    if analysis.ctx_loads:
        prog = _rewrite_context_loads(prog, analysis.ctx_loads)
    lookups = {pc: m for pc, m in analysis.lookups.items() if m is not None}
    verified = VerifiedProgram(prog, mode, proven, accesses, unreachable, regions, lines,
                               frames, lookups)
    if not log:
        original.__dict__["_verified"][key] = verified
    return verified


def _rewrite_context_loads(prog: Program, loads: dict[int, tuple[int, int]]) -> Program:
    """Context field loads become loads from the engines' context block, as the kernel's
    verifier rewrites them (a 32-bit `data` field becomes a 64-bit pointer load)."""
    sizes = {4: "ldxw", 8: "ldxdw"}
    insns = []
    for pc, insn in prog:
        if pc in loads:
            offset, size = loads[pc]
            spec = next(s for s in OPCODES if s.mnemonic == sizes[size] and s.kind is Kind.LDX)
            insn = Insn(spec, insn.dst, insn.src, offset, 0)
        insns.append(insn)
    return prog.with_insns(insns)


def reasoning_until_rejection(prog: Program, mode: str, helpers=None) -> str:
    """The verifier log up to the instruction it rejects, for `verify --log`."""
    analysis = Analysis(prog, None if helpers is None else set(helpers),
                        [first for first, _ in subprogram_ranges(prog)], want_log=True)
    analysis.log_live = True
    try:
        analysis.run()
    except BpfError:
        pass
    lines = [f"{pc}: {format_insn(prog.at(pc)):<32} ; {state}"
             for pc, state in sorted(analysis.log.items())]
    return "\n".join(lines) + ("\n" if lines else "")
