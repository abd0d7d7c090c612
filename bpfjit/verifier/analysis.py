"""Abstract interpretation of a whole program: subprograms, fixpoints, the final check.

Each subprogram is analysed from the join of its call sites' states (context-
insensitive) and summarises its returns for its callers (bpfjit.verifier.localcalls); a
callee is analysed when a call reaches it, so its summary is ready when the caller
goes on, and recursion (allowed in checked mode) is iterated until nothing changes.

Inside a subprogram, basic blocks are processed in reverse postorder with a priority
worklist, so an inner loop settles before the code after it runs; at loop heads,
bounds still moving after a few visits are widened (to the program's own comparison
constants first; a head entered again with more, as its outer loop moves on, starts
those steps over once); the final pass then recomputes each state from its predecessors',
a descending pass that wins back what widening gave away
(`i` widened to "any" is again `i <= n - 1` once the loop test is seen).

While fixpoints are computed, an instruction that would be rejected ends its path
there: a state that is still growing may not be the final one.  Afterwards one check
pass runs every block once with its final state; that pass raises the rejections,
records which accesses are proven, and writes the log.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Callable

from ..cfg import block_leaders, branch_targets, subprogram_ranges
from ..errors import VerifierError
from ..isa import MEMORY_KINDS, Kind
from ..program import Program
from .alu import AluRules
from .bytecaps import ZEROED
from .extensions import ExtensionRules, fits32
from .remainders import RemainderRules
from .pointerarith import PointerRules
from .branches import BranchRules
from .calls import CallRules
from .callbacks import CallbackRules
from .domain import (COPIED_AT, GIVEN_BACK, M32, MAX_LEN, MEM, MIXED, RELEASED, SCALAR, UNINIT,
                     Value, pointer, scalar, top_scalar)
from .journal import Journal
from .localcalls import LocalCallRules, Summary
from .lowhalves import low_half_results, moved_copy32, twin32
from .loopheads import WIDEN_AFTER, LoopHeadRules
from .locks import LockRules
from .frames import FrameRules
from .memory import MemoryRules
from .perpath import PerPathRules
from .records import RecordRules
from .sockets import SocketRules
from .state import LEN, State, merge
from .subprograms import Subprogram, block_pcs, edge_states, extensions
from .termination import TerminationRules
from .thresholds import frame_bases, thresholds
from .timers import TimerRules

__all__ = ["Analysis", "WORK_LIMIT", "TooComplex"]

WORK_LIMIT = 400_000         # instruction visits before the verifier gives up
# the widest interval of a number at a loop head that Analysis.head_ranges reports
HEAD_RANGE_LIMIT = 1 << 32


# ALU instructions a block tested on each incoming edge may run before its jump

class TooComplex(VerifierError):
    """The work limit was reached (never a path-local rejection)."""



PC_MASK = (1 << 32) - 1     # a subprogram analysis's key: its first pc in the low bits


def _both_ranges(a: dict[int, tuple[int, int]], b: dict[int, tuple[int, int]]
                 ) -> dict[int, tuple[int, int]]:
    """The head ranges two analyses of one subprogram both allow: each register both
    know, its ranges joined where both are non-negative numbers (the signed and unsigned
    readings alike) and the join stays under HEAD_RANGE_LIMIT, or equal."""
    out = {}
    for reg, (lo, hi) in a.items():
        other = b.get(reg)
        if other is None:
            continue
        if other == (lo, hi):
            out[reg] = other
        elif min(lo, other[0]) >= 0 and max(hi, other[1]) < 1 << 63 \
                and max(hi, other[1]) - min(lo, other[0]) < HEAD_RANGE_LIMIT:
            out[reg] = (min(lo, other[0]), max(hi, other[1]))
    return out


class Analysis(AluRules, RemainderRules, ExtensionRules, PointerRules, MemoryRules, FrameRules,
               BranchRules, CallRules, LocalCallRules, CallbackRules, LockRules, TimerRules,
               SocketRules, RecordRules, PerPathRules, TerminationRules, LoopHeadRules):
    """Runs the abstract interpretation; results in `accesses`, `regions`, `map_calls`..."""

    def __init__(self, prog: Program, helpers: dict | None, order: list[int],
                 mode: str = "checked", want_log: bool = False, recursive: bool = False,
                 undecided: frozenset[int] = frozenset()):
        self.prog = prog
        self.order = order                  # subprograms, callers before callees
        self.helpers = helpers            # id -> Signature | None; None: any id is accepted
        if helpers is None and prog.env is not None:   # still, the kernel's are known
            from ..helpers import kernel_signatures
            self.signatures = kernel_signatures(prog.context)
        else:
            self.signatures = helpers or {}
        self.mode = mode
        self.want_log = want_log
        self.ranking = False        # a termination proof's run (prove_termination)
        self.leaders = block_leaders(prog)
        self.call_sources: dict[int, tuple[int, ...]] = {}  # block -> (perpath.py)
        self.live_in: dict[int, int] | None = None        # block -> registers (perpath.py)
        self.extensions = extensions(prog, self.leaders)
        self.thresholds = thresholds(prog)[:11]      # (a slot's come from loops' exits)
        self.frame_stops = frame_bases(prog)        # where its stack objects start
        self.maps = prog.maps.list
        self.context = prog.context
        self.prog_type = prog.prog_type
        self.attach_type = prog.attach_type
        self.ranges = dict(subprogram_ranges(prog))
        # results
        self.accesses: dict[int, bool] = {}        # pc -> proven in bounds
        # pc -> whether the access's first run (the fixpoint's first visit: its loop's
        # first trip, from the first way in) proved it; loop peeling's candidates
        self.first_verdicts: dict[int, bool] = {}
        self.regions: dict[int, str | None] = {}   # pc -> the region it always touches
        # unproven buffer accesses with bounded offsets: pc -> (lowest, highest + size)
        # byte offset from the buffer's start (a buffer that long would prove them)
        self.extents: dict[int, tuple[int, int] | None] = {}   # None: a run outside
        # proven stack accesses: pc -> (frame, first byte, end byte) under that frame's
        # top, or None where runs differ in frame (VerifiedProgram.stack_extents)
        self.stack_extents: dict[int, tuple[int, int, int] | None] = {}
        # proven accesses whose offset varies: pc -> the maps a map value may be in
        self.variable: dict[int, frozenset[int]] = {}
        self.first_offsets: dict[int, int] = {}
        self.stack_reach = 0         # bytes under a frame's top that a run may touch
        # map_lookup_elem / update_elem / delete_elem pc -> the map, if a JIT may do it
        self.map_calls: dict[int, tuple[int, ...] | None] = {}
        # helper call pc -> whether its memory arguments were in bounds on every visit
        self.native_helpers: dict[int, bool] = {}
        self.callbacks: dict[int, int] = {}        # bpf_loop pc -> its callback's pc
        self.iterated: dict[int, tuple[int, ...]] = {}  # for_each_map_elem pc -> maps
        # ldabs/ldind pcs whose offset may be negative (SKF_NET_OFF, SKF_LL_OFF, ...)
        self.header_loads: set[int] = set()
        # unproven accesses to the own frame: pc -> (lowest, highest) offset of their
        # first byte from r10 on any run, None if some run's is another frame's
        # (VerifiedProgram.stack_ranges)
        self.stack_ranges: dict[int, tuple[int, int] | None] = {}
        # unproven accesses into map values: pc -> the maps their bases may point into
        # on every run so far (VerifiedProgram.map_regions)
        self.checked_maps: dict[int, frozenset[int]] = {}
        # bpf_timer_set_callback pc, the callback's pc, the timer's map (verifier.timers)
        self.timer_callbacks: set[tuple[int, int, int]] = set()
        self.constant_maps: set[int] = set()       # read-only data whose values it used
        # (map, lo, hi, size, signed) -> (least, greatest) value a .rodata table holds
        self._table_extents: dict[tuple, tuple[int, int]] = {}
        # 32-bit NULL tests of a packet pointer (branches.py): pc -> the ways the final
        # pass decided (True: taken, False: not, None: a visit it did not decide); the
        # pcs in `undecided` are not decided (a second analysis after a conflict)
        self.null_tests: dict[int, set] = {}
        self.undecided = undecided
        # extensions (a fused `lsh r, 32; rsh|arsh r, 32 + k`, at the lsh, or `w = w'`):
        # pc -> whether the operand was in range, so that it changed nothing, on every
        # run of the final pass (VerifiedProgram.exact_extensions); none hold once an
        # instruction was verified as its 32-bit twin (lowhalves): the value it leaves
        # is its low half, which fits though the register's high half is not zero
        self.extension_fits: dict[int, bool] = {}
        self.twinned = False
        self.ctx_accesses: dict[int, tuple[int, int]] = {}   # pc -> rewritten (offset, size):
        #                                                   context loads and stores
        self.reached: set[int] = set()
        self.log: dict[int, str] = {}
        # interprocedural state
        self.entry_states: dict[int, State] = {}
        self.entry_joins: dict[int, int] = defaultdict(int)
        self.entry_sites: dict[int, set[int]] = defaultdict(set)   # target -> call pcs
        self.summaries: dict[int, Summary] = {}
        self.callers: dict[int, set[int]] = defaultdict(set)
        self._waiting: dict[int, set[int]] = defaultdict(set)
        self.subs: dict[int, Subprogram] = {}
        # subprogram pc -> its pointer arguments ({register: (kind, frame)}) in each
        # analysis of it (LocalCallRules._callee_key), the first under the pc itself
        self.shapes: dict[int, list[dict[int, tuple]]] = {}
        # (caller's analysis, call pc) -> the analysis its last run entered
        self.call_keys: dict[tuple[int, int], int] = {}
        self.dirty: set[int] = set()
        self.active: list[int] = []
        self.current = 0
        self.checking = False
        # the journal of the block the fixpoint is running (None: facts are not kept —
        # with a log, which only a run in the final pass writes)
        self.journal: Journal | None = None
        self.work = 0
        self.work_limit = WORK_LIMIT        # (lower for a peeled program: peeling.py)
        # called (self, pc) for each access found unproven while fixpoints are computed
        # (a peeled program's analysis ends early by it: peeling.py)
        self.watch: Callable[[Analysis, int], None] | None = None
        self.widen_after = WIDEN_AFTER
        # calls can recurse: summaries are widened after a few changes, or they could
        # grow for ever; without recursion each follows its (widened) entry state, and a
        # callback's return value stays what its exits give (bpf_loop wants 0 or 1)
        self.recursive = recursive
        # 64-bit results only their low half of which is ever read (lowhalves), and
        # the 32-bit twins verified in their place where the 64-bit value may leave 32 bits
        self.low_halves = low_half_results(prog, self._arg_count)
        self._twins: dict[int, object] = {}

    def fail(self, pc: int, reason: str):
        raise VerifierError(pc, reason)

    # ---- driver --------------------------------------------------------------------------

    def run(self) -> None:
        regs = [Value(UNINIT)] * 11
        state = State(regs, caps=ZEROED)         # (the entry's frame starts zeroed)
        if self.context is not None:             # r1 = the context; the packet is `mem`
            regs[1] = pointer("ctx", 0, 0)
        else:
            regs[1] = pointer(MEM, 0, 0)
            regs[2] = scalar(0, MAX_LEN)
            state.zone.add(2, LEN, 0)
            state.zone.add(LEN, 2, 0)
        regs[10] = pointer("stack", 0, 0)
        self.entry_states[0] = state
        self.dirty.add(0)
        rank = {sub: i for i, sub in enumerate(self.order)}

        def ranked(key: int) -> tuple[int, int]:     # (a subprogram's analyses in turn)
            return rank.get(key & PC_MASK, len(rank)), key
        while self.dirty:
            sub = min(self.dirty, key=ranked)
            self.dirty.discard(sub)
            self._analyse(sub)
        self.checking = True
        for sub in sorted(self.subs, key=ranked):
            self._check(sub)

    def _enter(self, target: int, entry: State, site: int) -> None:
        """The call at pc `site` passes `entry` to the subprogram at `target`.  Its
        entry state is the join of its callers'; only a call site entering again (a
        call in a loop, recursion) counts toward widening it: a function called from
        six places with six stack structs keeps the six offsets' range rather than one
        widened to the frame's edge (microsoft/retina's packetparser)."""
        self.callers[target].add(self.current)
        old = self.entry_states.get(target)
        again = site in self.entry_sites[target]
        self.entry_sites[target].add(site)
        if old is not None:
            if again:
                self.entry_joins[target] += 1
            entry = old.widen(entry, self.thresholds, frame_stops=self.frame_stops) \
                if self.entry_joins[target] > WIDEN_AFTER else merge([old, entry], True)
            if entry == old or entry.equivalent(old):
                return
        self.entry_states[target] = entry
        if target in self.active:              # recursion: iterate once this one is done
            self.dirty.add(target)
        else:
            self._analyse(target)

    def _analyse(self, first: int) -> None:
        """The fixpoint of one subprogram for its current entry state."""
        sub = self.subs.get(first)
        if sub is None:
            pc = first & PC_MASK
            sub = self.subs[first] = Subprogram(self.prog, pc, self.ranges[pc], self.leaders,
                                                first)
        before = self.summaries[first].key() if first in self.summaries else None
        self.active.append(first)
        outer, self.current = self.current, first
        try:
            self._ascend(sub)
        finally:
            self.current = outer
            self.active.pop()
        after = self.summaries[first].key() if first in self.summaries else None
        if after != before:
            self.summaries[first].changes += 1
            self.dirty |= self.callers[first] | self._waiting.pop(first, set())

    def _incoming(self, sub: Subprogram, block: int, around: bool | None = None
                  ) -> list[State]:
        """The states on every feasible edge into a block, as last computed (with
        `around`, only those that come round its loop, or only those that do not)."""
        states = [self.entry_states[sub.key]] if block == sub.first and not around else []
        if around is None:
            return states + edge_states(sub, sub.out_edges, block)
        body = sub.loop_bodies.get(block, ())
        return states + edge_states(sub, sub.out_edges, block,
                                     lambda pred: (pred in body) == around)

    def _ascend(self, sub: Subprogram) -> None:
        """Process blocks (earliest in reverse postorder first) until no state changes;
        a block's state is the join of its incoming edges, widened at loop heads."""
        work = [(sub.index[b], b) for b in (sub.in_states or [sub.first])]
        heapq.heapify(work)
        queued = {b for _, b in work}
        # analysed again (a callee's summary or the entry changed): every block runs once
        # more, whether or not its own state changed
        force = set(sub.in_states)
        outer = self.journal                # a caller's block, when a call analyses this
        try:
            self._ascend_blocks(sub, work, queued, force)
        finally:
            self.journal = outer

    def _ascend_blocks(self, sub: Subprogram, work: list, queued: set[int],
                       force: set[int]) -> None:
        while work:
            _, block = heapq.heappop(work)
            queued.discard(block)
            incoming = self._incoming(sub, block)
            if not incoming:
                continue
            head = block in sub.heads
            new = merge(incoming, discover=head or block == sub.first)
            old = sub.in_states.get(block)
            if old is not None and head and self._entered_afresh(sub, block, old):
                incoming = self._incoming(sub, block)       # (its entry edges alone now)
                new, old = merge(incoming, discover=True), None
            if old is not None:
                if head:
                    sub.joins[block] += 1
                    joins = sub.joins[block]
                    if joins > WIDEN_AFTER:
                        new = self._head_widened(sub, block, old, new, joins,
                                                 self._incoming(sub, block, around=True))
                    else:
                        new = merge([old, new], discover=True)
            apart = self._apart(sub, block, incoming)
            if old is not None and new == old and block not in force and not apart:
                continue                # (a block run apart: its edges may differ all the same)
            force.discard(block)
            sub.in_states[block] = new
            journal = self.journal = None if self.want_log else Journal(incoming)
            edges = self._run_safely(sub, block, new.copy(), apart)
            if journal is not None:
                sub.journals[block] = journal
            sub.out_edges[block] = edges
            for succ, out in edges:
                if out is not None and succ not in queued:
                    queued.add(succ)
                    heapq.heappush(work, (sub.index[succ], succ))

    def head_ranges(self) -> dict[int, dict[int, tuple[int, int]]]:
        """Loop head pc -> {register: (lo, hi)} for the registers r0-r9 that hold a
        number there on every trip, with the narrower of its unsigned and signed
        intervals (wider than HEAD_RANGE_LIMIT: left out).  Read after the final pass,
        for the JITs' hoisted loop checks (bpfjit.checkplan)."""
        ranges: dict[int, dict[int, tuple[int, int]]] = {}
        seen: set[int] = set()
        for sub in self.subs.values():
            for head in sub.heads:
                st = sub.in_states.get(head)
                if st is None:
                    continue
                known = {}
                for reg in range(10):
                    v = st.regs[reg]
                    if v.kind != SCALAR:
                        continue
                    lo, hi = (v.umin, v.umax) if v.umax - v.umin <= v.smax - v.smin \
                        else (v.smin, v.smax)
                    if hi - lo < HEAD_RANGE_LIMIT:
                        known[reg] = (lo, hi)
                if head in seen:        # another analysis of its subprogram: both hold
                    known = _both_ranges(known, ranges.get(head, {}))
                seen.add(head)
                if known:
                    ranges[head] = known
                else:
                    ranges.pop(head, None)
        return ranges

    def _run_safely(self, sub: Subprogram, block: int, st: State, apart=None) -> list:
        """Run a block while fixpoints are computed: a rejection ends the path."""
        journal = self.journal
        try:
            edges = self._block_edges(sub, block, st, apart)
        except TooComplex:
            raise
        except VerifierError:
            if not self.ranking:
                sub.rejected.add(block)
            return []
        if not self.ranking:
            sub.rejected.discard(block)
        if journal is not None:
            journal.completed = True
        return edges

    @property
    def keeps_facts(self) -> bool:
        """Whether a fact reported now is kept (in the final pass, or in a journal)."""
        return self.checking or self.journal is not None

    def _fact(self, record: Callable, *args) -> None:
        """A fact of the final pass (a proof, a region...): recorded now in that pass,
        kept in the running block's journal during the fixpoint."""
        if self.checking:
            record(*args)
        elif self.journal is not None:      # unbound: a journal never refers back to self
            self.journal.facts.append((record.__func__, args))

    def _check(self, first: int) -> None:
        """The final pass over one subprogram: rejections, proofs, the log.  It is a
        descending pass (each state recomputed from its predecessors', no widening), so
        it also wins back precision that widening gave away — but not at the head of a
        loop one of whose blocks met a rejection (`rejected`).  (A descending pass after
        every fixpoint of a subprogram made verification a third slower and proved
        nothing more on the corpus.)"""
        sub = self.subs[first]
        self.current = first
        for block in sub.rpo:
            if block not in sub.in_states:
                continue
            incoming = self._incoming(sub, block)
            if not incoming:
                continue
            apart = self._apart(sub, block, incoming)
            journal = sub.journals.get(block)
            if journal is not None and block not in sub.heads and block != sub.first \
                    and journal.same_sources(incoming):
                state = sub.in_states[block]        # their merge, as the fixpoint made it
            elif block in sub.heads and sub.rejected & sub.loop_bodies[block]:
                # a way round the loop ended at a rejection: what comes round is not all
                # known, so the head keeps its fixpoint state (narrowed to what comes from
                # outside, it would show the loop one trip and prove what that trip does)
                state = merge([sub.in_states[block], *incoming], discover=True)
                journal = None
            else:
                state = merge(incoming, discover=block in sub.heads)
                if block in sub.heads:
                    state = self._entry_invariants(sub, block, state)
                if journal is not None and (state != sub.in_states[block] or apart):
                    journal = None          # (a block run apart: its edges follow its sources)
            if journal is not None and journal.replayable(self.summaries) \
                    and self._replay(sub, block, journal):
                continue                    # the same run as the fixpoint's last
            sub.in_states[block] = state
            sub.out_edges[block] = self._block_edges(sub, block, state.copy(), apart)

    def _replay(self, sub: Subprogram, block: int, journal: Journal) -> bool:
        """Apply a block's journal in the final pass as its run would: its pcs reached,
        its instruction visits counted (False, nothing done, if they would pass the
        work limit: the run then stops at the very pc it always did)."""
        pcs, visits = block_pcs(self.prog, block, self.leaders, self.extensions, sub.end)
        if self.work + visits > self.work_limit:
            return False
        self.work += visits
        self.reached.update(pcs)
        journal.replay(self)
        return True

    # ---- one block --------------------------------------------------------------------------

    def _run_block(self, start: int, st: State, end: int) -> list:
        """Interpret one block; the (successor pc, state or None) of each edge out."""
        prog, checking, leaders, extensions = self.prog, self.checking, self.leaders, \
            self.extensions
        pc = start
        while True:
            self.work += 1
            if self.work > self.work_limit:
                raise TooComplex(pc, f"the program is too complex to verify (more than "
                                     f"{self.work_limit} instruction visits)")
            insn = prog.at(pc)
            if checking:
                self.reached.add(pc)
                if self.want_log:
                    self.log[pc] = st.describe()
            fused = extensions.get(pc)
            if fused is not None:
                self._fact(self._note_extension, pc,
                           fits32(self._read(st, insn.dst, pc), fused[0]))
                if checking:
                    self.reached.add(pc + 1)
                    if self.want_log:
                        shifted = st.copy()
                        self._alu(pc, insn, shifted)
                        self.log[pc + 1] = shifted.describe()
                if fused != (False, 0) or not self._low_half_remainder(pc + 1, st, insn.dst):
                    self._extend32(st, insn.dst, *fused)
                pc += 2
            else:
                edges = self._step(pc, insn, st)
                if edges is not None:
                    return edges
                pc += insn.slots
            if pc in leaders or pc >= end:
                return [(pc, st)]

    def _arg_count(self, helper: int) -> int:
        """How many registers from r1 on a helper reads (all five if unknown)."""
        signature = self.signatures.get(helper)
        return 5 if signature is None else len(signature.args)

    @staticmethod
    def _constant_plus_number(insn, st: State) -> bool:
        """Whether `dst += src` adds a number below 2^32 to a constant dst."""
        return insn.spec.source == "reg" and insn.src != insn.dst \
            and st.regs[insn.dst].kind == SCALAR and st.regs[insn.dst].is_const \
            and st.regs[insn.src].kind == SCALAR and st.regs[insn.src].umax <= M32

    def _twin(self, pc: int, insn):
        """The 32-bit instruction verified in place of a 64-bit one whose high half
        nothing reads (made once per pc)."""
        twin = self._twins.get(pc)
        if twin is None:
            twin = self._twins[pc] = twin32(insn)
        return twin

    @staticmethod
    def _leaves_32_bits(insn, st: State) -> bool:
        """Whether a 64-bit add, subtraction, multiply, left shift or copy of numbers
        that are not negative gives a result above 2^32 - 1 on every path here: its
        32-bit twin's is then the same less 2^32 times a constant, which nothing can
        tell apart (lowhalves).  Otherwise the 64-bit rules keep at least as much."""
        spec = insn.spec
        op = spec.op
        if spec.source == "reg":
            src = st.regs[insn.src]
            if src.kind != SCALAR or src.smin < 0:
                return False
            lo, hi = src.umin, src.umax
        else:
            lo = hi = insn.imm
            if lo < 0:
                return False
        if op == "mov":
            return lo > M32
        old = st.regs[insn.dst]
        if old.kind != SCALAR or old.smin < 0:
            return False
        if op == "add":
            return old.umin + lo > M32
        if op == "sub":
            return old.umin - hi > M32
        if op == "mul":
            return old.umin * lo > M32
        if op == "lsh":
            return old.umin << lo > M32
        return False

    def _read(self, st: State, reg: int, pc: int) -> Value:
        value = st.regs[reg]
        if value.kind == UNINIT:
            if value.ident <= COPIED_AT:
                self.fail(pc, f"r{reg} holds a copy, made at pc {COPIED_AT - value.ident}, "
                              f"of a register nothing had written; it cannot be read")
            why = f" (the subprogram at pc {value.ident - 1} can return without setting " \
                  f"it)" if value.ident > 0 else " (it held a socket bpf_sk_release gave " \
                  "back)" if value.ident == RELEASED else " (it held a ring buffer record " \
                  "submitted or discarded)" if value.ident == GIVEN_BACK else ""
            self.fail(pc, f"r{reg} is read before anything was written to it{why}")
        if value.kind == MIXED:         # paths joined a pointer with something else
            if self.mode == "strict":
                self.fail(pc, f"strict mode: r{reg} holds a pointer on some paths and a "
                              f"number or another kind of pointer on others; using it would "
                              f"make an address a number (the kernel refuses such leaks)")
            return top_scalar()
        return value

    def _step(self, pc: int, insn, st: State):
        """Update `st` for one instruction; the successor edges of a jump, else None."""
        kind = insn.kind
        if kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX) \
                and insn.dst == 10:
            self.fail(pc, "r10 is the read-only frame pointer; it cannot be written")
        if kind is Kind.ATOMIC and insn.spec.fetch and insn.spec.op != "cmpxchg" \
                and insn.src == 10:
            self.fail(pc, "r10 is the read-only frame pointer; a fetching atomic cannot "
                          "write its old value into it")
        if st.lock is not None:
            self._while_locked(pc, insn, st)
        if kind is Kind.ALU:
            if insn.spec.op == "mov" and insn.spec.width == 32 and insn.spec.source == "reg":
                self._fact(self._note_extension, pc, fits32(st.regs[insn.src], False))
            if pc in self.low_halves and self._leaves_32_bits(insn, st):
                insn = self._twin(pc, insn)
                self.twinned = True
            if insn.spec.op == "add" and insn.spec.width == 32 and \
                    self._constant_plus_number(insn, st):
                # k + x in 32 bits is x moved by k's 32-bit value (`w2 = -4; w2 += w0`
                # for `len - 4`, xxhash32's `len + 0xfffffffc` twinned): a copy keeps
                # x's relations, which a sum that may wrap would drop
                for step in moved_copy32(insn.dst, insn.src, st.regs[insn.dst].umin):
                    self._alu(pc, step, st)
            else:
                self._alu(pc, insn, st)
        elif kind in (Kind.NEG, Kind.END):
            self._unary(pc, insn, st)
        elif kind is Kind.LDDW:
            st.forget_register(insn.dst, self._lddw(pc, insn))
        elif kind in MEMORY_KINDS:
            self._memory(pc, insn, st)
        elif kind is Kind.JA:
            return [(branch_targets(self.prog, pc)[0], st)]
        elif kind is Kind.JCOND:
            return self._jcond(pc, insn, st)
        elif kind is Kind.EXIT:
            self._exit(pc, st)
            return []
        elif kind is Kind.CALL:
            signature = self.signatures.get(insn.imm)
            if signature is not None and "callback" in signature.args and \
                    (self.helpers is None or insn.imm in self.helpers):
                return self._loop_call(pc, st)
            self._helper_call(pc, insn, st)
        elif kind is Kind.CALLX:
            self._callx(pc, insn, st)
        elif kind is Kind.CALL_BTF:
            self.fail(pc, f"helper calls by BTF id are not supported (BTF id {insn.imm})")
        elif kind is Kind.LD_PACKET:
            self._packet_load(pc, insn, st)
        elif kind is Kind.CALL_LOCAL:
            if not self._local_call(pc, insn, st):
                return []
        return None
