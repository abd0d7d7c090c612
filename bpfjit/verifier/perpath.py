"""Blocks run once per incoming path: where a join would lose what the kernel's
path-by-path verifier keeps, a block is run from each incoming edge's state apart and
each successor gets the join of the edges that reach it (mixed into the analysis,
bpfjit.verifier.analysis)."""

from __future__ import annotations

from ..errors import VerifierError
from ..isa import Kind
from ..liveness import use_def
from .domain import MAP_PTR, MIXED, STACK, UNINIT
from .state import State, merge
from .subprograms import Subprogram

__all__ = ["PerPathRules"]

_THREADED_ALU = 4            # ALU instructions before a threaded conditional jump, at most
_THREADED_CALL_PATHS = 4     # at most so many incoming edges run apart for a helper call


class PerPathRules:
    """Mixed into the analysis: which blocks run per incoming path, and running them."""

    def _block_edges(self, sub: Subprogram, block: int, st: State,
                     threaded: list[State] | None) -> list:
        """The edges out of a block run from `st`, the join of its incoming edges; or,
        given them as `threaded` (the block passed `_threads`), run once per incoming
        edge, its successors getting the join of the edges that reach them.  That is clang's
        `err = p + n > end ? -EINVAL : 0; if (err == 0) ... *p`: joined first, the
        state at the test has lost which paths checked the bound; the kernel's
        verifier, which follows each path, keeps it."""
        if threaded is None:
            return self._run_block(block, st, sub.end)
        reached: dict[int, list[State]] = {}
        for path in threaded:
            try:
                edges = self._run_block(block, path.copy(), sub.end)
            except VerifierError:
                if self._call_parts_paths(sub, block, threaded):
                    # a helper refuses one path's argument (xdp_load_bytes given the
                    # packet): run joined, as before paths were told apart, the helper
                    # checking what it is given when it runs (checked mode; strict
                    # mode refuses the joined argument)
                    return self._run_block(block, st, sub.end)
                if self.checking:
                    raise
                if self.journal is not None:    # the final pass runs it and raises
                    self.journal.dropped = True
                continue                    # (while fixpoints are computed: its path ends)
            for succ, out in edges:
                states = reached.setdefault(succ, [])
                if out is not None:
                    states.append(out)
        if self.checking and self.want_log:
            self.log[block] = st.describe()
        return [(succ, merge(states) if states else None) for succ, states in reached.items()]

    def _threads(self, sub: Subprogram, block: int, incoming: list[State]) -> bool:
        """Whether `block` is run once per incoming edge (see _block_edges): a
        conditional jump on registers that are constants on some incoming edge, or a
        few ALU instructions before it (clang -mcpu=v1 zero-extends a flag with `lsh 32;
        rsh 32` first) that read only registers constant on every incoming edge (so no
        relation a joined run would keep is lost)."""
        if len(incoming) < 2 or block in sub.heads or block == sub.first:
            return False
        if len(incoming) <= _THREADED_CALL_PATHS and self._call_parts_paths(sub, block,
                                                                             incoming):
            return True
        written: set[int] = set()
        pc = block
        for _ in range(_THREADED_ALU + 1):
            insn = self.prog.at(pc)
            read = {insn.src} if insn.spec.source == "reg" else set()
            if insn.kind is Kind.JCOND:
                read.add(insn.dst)
                if not written:
                    return any(all(st.regs[r].is_const for r in read) for st in incoming)
                return all(st.regs[r].is_const for st in incoming for r in read - written)
            if insn.kind is not Kind.ALU or insn.spec.width != 64 and insn.spec.op != "mov":
                return False
            if insn.spec.op not in ("mov", "movsx"):
                read.add(insn.dst)
            if any(not st.regs[r].is_const for st in incoming for r in read - written):
                return False
            written.add(insn.dst)
            pc += insn.slots
            if pc in self.leaders or pc >= sub.end:
                return False
        return False

    def _call_parts_paths(self, sub: Subprogram, block: int, incoming: list[State]) -> bool:
        """Whether a helper call in `block` takes an argument that is a different kind
        of value on different incoming edges (a packet pointer on one, a stack pointer
        on another; one map or another): `bpf_map_update_elem(ip ? &v4 : &v6, ip ?
        &ip->saddr : &addr6, ...)`.  Joined, the argument is a pointer or a number,
        which no helper takes; per edge, each is a pointer the helper's signature fits,
        as the kernel, which follows each path, sees it (gamemann/XDP-Firewall).  Or a
        stack pointer at a different constant offset on each edge (clang's one call
        for keys in several places, netobserv's counters): joined, it would read the
        bytes between them too."""
        sources = self.call_sources.get(block)
        if sources is None:
            sources = self.call_sources[block] = self._call_sources(sub, block)
        return any(_parted(incoming, r) for r in sources)

    def _call_sources(self, sub: Subprogram, block: int) -> tuple[int, ...]:
        """The registers, as the block is entered, whose values a helper call in it
        takes as arguments: an argument copied in the block (`mov r2, r7`, then moved by
        a constant) is its source's value; () when no helper is called before the
        block ends.  The program's alone: found once per block."""
        origin: list[int | None] = list(range(11))     # an incoming register's value
        pc = block
        while pc < sub.end:
            insn = self.prog.at(pc)
            if insn.kind is Kind.CALL:
                signature = self.signatures.get(insn.imm)
                count = len(signature.args) if signature is not None else 0
                return tuple(r for r in origin[1:count + 1] if r is not None)
            if insn.kind in (Kind.JA, Kind.JCOND, Kind.EXIT, Kind.CALL_LOCAL, Kind.CALLX,
                             Kind.CALL_BTF):
                return ()
            written = use_def(insn)[1]
            spec = insn.spec
            if insn.kind is Kind.ALU and spec.width == 64 and spec.op == "mov" \
                    and spec.source == "reg":
                origin[insn.dst] = origin[insn.src]     # a copy (`mov r2, r7`)
            elif insn.kind is Kind.ALU and spec.width == 64 and spec.op in ("add", "sub") \
                    and spec.source == "imm":
                pass                                    # moved by a constant: its kind stays
            else:
                for r in range(11):
                    if written >> r & 1:
                        origin[r] = None
            pc += insn.slots
            if pc in self.leaders:
                return ()
        return ()

def _parted(incoming: list[State], reg: int) -> bool:
    """Register `reg` holds values of different kinds (or handles of different maps, or
    stack pointers at different constant offsets) on the incoming edges, none of them
    already mixed."""
    values = [st.regs[reg] for st in incoming]
    kinds = {v.kind for v in values}
    if MIXED in kinds or UNINIT in kinds:
        return False
    if kinds == {STACK}:        # one frame's slots at a constant offset on each edge
        return len({v.frame for v in values}) == 1 and len({v.smin for v in values}) > 1 \
            and all(v.smin == v.smax for v in values)
    return len(kinds) > 1 or (kinds == {MAP_PTR} and len({v.maps for v in values}) > 1)
