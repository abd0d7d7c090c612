"""Abstract interpretation of a program over its control-flow graph.

Each subprogram is analysed once, from the join of the argument values of all
its call sites (context-insensitive); a worklist of basic blocks runs to a
fixpoint, joining states where paths meet and widening at loop heads, with a
hard cap on the work done.  Along the way it rejects reads of uninitialised
registers and stack bytes, and records for every load and store whether it
was in bounds in every state that reached it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .. import semantics as sem
from ..cfg import block_leaders, budget_checkpoints, branch_targets, subprogram_ranges
from ..errors import VerifierError
from ..isa import LDDW_MAP, LDDW_MAP_VALUE, LDDW_PSEUDO, STACK_SIZE, Kind
from ..program import Program
from .domain import (CTX, MAP_OR_NULL, MAP_PTR, MAP_VALUE, MAX_LEN, MEM, S64_MAX, S64_MIN,
                     SCALAR, STACK, U64, UNINIT, Value, replace,
                     const, join, offset_value, scalar, top_scalar, trailing_zeros, widen,
                     with_len_bound)

__all__ = ["Analysis", "State", "WORK_LIMIT"]

WORK_LIMIT = 400_000         # instruction visits before the verifier gives up (seconds)
WIDEN_AFTER = 3              # visits of a loop head before its bounds are widened
THRESHOLD_STEPS = 8          # widenings to the next threshold before widening to the limit
M32 = (1 << 32) - 1
_ACCESS = {Kind.LDX: "src", Kind.LDSX: "src", Kind.ST: "dst", Kind.STX: "dst",
           Kind.ATOMIC: "dst"}
_FULL_FRAME = (1 << STACK_SIZE) - 1
# struct xdp_md field (offset, size) -> (offset, size) in the context block the engines
# fill (bpfjit.context), and what the loaded value is
CTX_FIELDS = {"xdp": {(0, 4): (0, 8, "data"), (4, 4): (8, 8, "data_end"),
                      (8, 4): (16, 8, "data_meta"), (12, 4): (24, 4, "ingress_ifindex"),
                      (16, 4): (28, 4, "rx_queue_index"), (20, 4): (32, 4, "egress_ifindex")}}
_MAP_HELPER_ARGS = {1: (2,), 2: (2, 3), 3: (2,)}     # pointer arguments of the map helpers


@dataclass
class State:
    """Registers, the current frame's stack and the buffer length known at one point."""
    regs: list[Value]
    init: int = 0                                   # bit i: byte r10-512+i was written
    spills: dict[int, Value] = field(default_factory=dict)   # 8-byte slots by offset
    min_len: int = 0                                # the buffer has at least this many bytes

    def copy(self) -> "State":
        return State(list(self.regs), self.init, dict(self.spills), self.min_len)

    def join(self, other: "State", widening: tuple[int, ...] | None = None) -> "State":
        """The state describing both; `widening` (thresholds) at a loop head."""
        same_len = self.min_len == other.min_len

        def merge(a: Value, b: Value) -> Value:
            if a is b and same_len:         # unchanged on both paths (the common case)
                return a
            # make bounds relative to len explicit first, so that they survive the join
            a, b = with_len_bound(a, self.min_len), with_len_bound(b, other.min_len)
            return widen(a, b, widening) if widening is not None else join(a, b)
        spills = {off: replace(merge(v, other.spills[off]), link=None)
                  for off, v in self.spills.items() if off in other.spills}
        regs = _keep_relations(self.regs, other.regs,
                               [merge(a, b) for a, b in zip(self.regs, other.regs)])
        return State(regs, self.init & other.init, spills, min(self.min_len, other.min_len))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, State) and (self.regs, self.init, self.spills,
                                             self.min_len) == (other.regs, other.init,
                                                               other.spills, other.min_len)


_IDS = itertools.count(1)


def _thresholds(prog: Program) -> tuple[int, ...]:
    """Bounds worth widening to: the constants loops compare against, and neighbours."""
    found = {0}
    for _, insn in prog:
        if insn.kind is Kind.JCOND and insn.spec.source == "imm":
            c = insn.imm
            found.update((c - 1, c, c + 1))
            if insn.spec.width == 32:
                found.update(((c & M32) - 1, c & M32))
    return tuple(sorted(found))


def _relation(v: Value):
    """(class, delta) when v is a known constant offset from something: its link,
    or, for a constant, from zero."""
    if v.is_const:          # a constant is its own best description: no link needed
        return ("const",), v.umin
    if v.link is not None:
        return ("link", v.link[0]), v.link[1]
    return None


def _keep_relations(a: list[Value], b: list[Value], merged: list[Value]) -> list[Value]:
    """Registers that differ by the same constant on both incoming paths stay linked.

    This keeps `i` and `i + 2` (or two copies of a counter) related across a loop
    head, so that a bound learnt for one of them reaches the others.
    """
    rel_a = [_relation(v) for v in a]
    rel_b = [_relation(v) for v in b]
    # i and j differ by the same constant on both paths exactly when they share the
    # classes and the shift between the paths: group by that key, in one pass
    groups: dict[tuple, list[int]] = {}
    for i, v in enumerate(merged):
        ra, rb = rel_a[i], rel_b[i]
        if ra is None or rb is None or v.kind in (UNINIT, STACK):
            continue
        groups.setdefault((v.kind, ra[0], rb[0], rb[1] - ra[1]), []).append(i)

    def diff(rel, i, j):
        return rel[j][1] - rel[i][1]

    out = [replace(v, link=None) if v.link is not None else v for v in merged]
    for members in groups.values():
        if len(members) < 2 or all(merged[m].is_const for m in members):
            continue
        rep = members[0]
        # reuse the first path's id when it already links exactly these registers, so
        # that a loop head's state stops changing once the relations are stable
        ids = {a[m].link[0] if a[m].link else None for m in members}
        ident = ids.pop() if len(ids) == 1 and None not in ids else next(_IDS)
        for m in members:
            out[m] = replace(merged[m], link=(ident, diff(rel_a, rep, m)))
    return out


def _bits(lo: int, hi: int) -> int:
    """Mask of the stack bytes [lo, hi) (offsets from r10, clipped to the frame)."""
    lo, hi = max(lo, -STACK_SIZE), min(hi, 0)
    if lo >= hi:
        return 0
    return ((1 << (hi - lo)) - 1) << (lo + STACK_SIZE)


class Analysis:
    """Runs the abstract interpretation; results in `proven`, `accesses`, `logs`."""

    def __init__(self, prog: Program, helpers: set[int] | None, order: list[int],
                 want_log: bool = False):
        self.prog = prog
        self.order = order
        self.helpers = helpers
        self.leaders = block_leaders(prog)
        self.loop_heads = budget_checkpoints(prog)
        self.thresholds = _thresholds(prog)
        self.accesses: dict[int, bool] = {}        # pc -> in bounds in every state so far
        self.regions: dict[int, str | None] = {}   # pc -> the region it always touches
        self.reached: set[int] = set()
        self.entry_states: dict[int, State] = {}   # first pc of a subprogram -> entry state
        self.want_log = want_log
        self.log_live = False        # record states as they are met (to explain a rejection)
        self.log: dict[int, str] = {}
        self.work = 0
        self.loops: list[int] = []                 # pcs of backward jumps
        self.maps = prog.maps.list
        self.context = prog.context
        self.ctx_loads: dict[int, tuple[int, int]] = {}   # pc -> rewritten (offset, size)
        self.lookups: dict[int, int | None] = {}   # map_lookup_elem pc -> map (if one, safe)

    # ---- driver --------------------------------------------------------------------------

    def run(self) -> None:
        regs = [Value(UNINIT)] * 11
        if self.context in CTX_FIELDS:           # r1 = the context; the packet is `mem`
            regs[1] = offset_value(CTX, 0, 0)
        else:
            regs[1] = offset_value(MEM, 0, 0)
            regs[2] = scalar(0, MAX_LEN, len_lo=0, len_hi=0)
        regs[10] = offset_value(STACK, 0, 0)
        self.entry_states[0] = State(regs)
        ranges = dict(subprogram_ranges(self.prog))
        for first in self.order:       # callers before callees: entry states are complete
            if first in self.entry_states:     # else never called: reported unreachable
                self._analyse(first, ranges[first])

    @staticmethod
    def _fresh_id() -> int:
        return next(_IDS)

    def _analyse(self, first: int, end: int) -> None:
        """Fixpoint over the blocks of one subprogram."""
        states: dict[int, State] = {first: self.entry_states[first]}
        visits: dict[int, int] = {}
        worklist = [first]
        while worklist:
            block = min(worklist)            # roughly program order: fewer revisits
            worklist.remove(block)
            for succ, out in self._run_block(block, states[block].copy(), end):
                old = states.get(succ)
                if old is None:
                    states[succ] = out
                    worklist.append(succ)
                    continue
                visits[succ] = visits.get(succ, 0) + 1
                widening = None
                if succ in self.loop_heads and visits[succ] > WIDEN_AFTER:
                    # a few steps through the thresholds, then straight to the limits,
                    # so that many comparison constants cannot make a loop slow
                    late = visits[succ] > WIDEN_AFTER + THRESHOLD_STEPS
                    widening = () if late else self.thresholds
                merged = old.join(out, widening=widening)
                if merged != old:
                    states[succ] = merged
                    if succ not in worklist:
                        worklist.append(succ)
        if self.want_log:
            for block, state in sorted(states.items()):
                self._run_block(block, state.copy(), end, logging=True)

    def _run_block(self, start: int, st: State, end: int, logging: bool = False):
        """Interpret one block; yields (successor pc, state on that edge)."""
        pc = start
        while True:
            self.work += 1
            if self.work > WORK_LIMIT:
                raise VerifierError(pc, f"the program is too complex to verify (more than "
                                        f"{WORK_LIMIT} instruction visits)")
            insn = self.prog.at(pc)
            self.reached.add(pc)
            if logging or self.log_live:
                self.log[pc] = self._describe(st)
            edges = self._step(pc, insn, st, logging)
            if edges is not None:
                return [(t, s) for t, s in edges if s is not None]
            pc += insn.slots
            if pc in self.leaders or pc >= end:
                return [(pc, st)]

    @staticmethod
    def _describe(st: State) -> str:
        parts = [f"r{i}={v.describe()}" for i, v in enumerate(st.regs) if v.kind != UNINIT]
        if st.min_len:
            parts.append(f"len>={st.min_len}")
        return " ".join(parts)

    # ---- reading and writing registers ------------------------------------------------------

    def _read(self, st: State, reg: int, pc: int) -> Value:
        value = st.regs[reg]
        if value.kind == UNINIT:
            raise VerifierError(pc, f"r{reg} is read before anything was written to it")
        return value

    def _linked(self, st: State, reg: int) -> Value:
        """The register's value, given a link id if it had none (to derive from it)."""
        value = st.regs[reg]
        if value.link is None and value.kind != UNINIT:
            value = replace(value, link=(self._fresh_id(), 0))
            st.regs[reg] = value
        return value

    # ---- one instruction ----------------------------------------------------------------------

    def _step(self, pc: int, insn, st: State, logging: bool):
        """Update `st` for one instruction; return the successor edges of a jump, else None."""
        kind = insn.kind
        if kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX) \
                and insn.dst == 10:
            raise VerifierError(pc, "r10 is the read-only frame pointer; it cannot be written")
        if kind is Kind.ATOMIC and insn.spec.fetch and insn.spec.op != "cmpxchg" \
                and insn.src == 10:
            raise VerifierError(pc, "r10 is the read-only frame pointer; a fetching atomic "
                                    "cannot write its old value into it")
        if kind is Kind.ALU:
            st.regs[insn.dst] = self._alu(pc, insn, st)
        elif kind is Kind.NEG:
            v = self._read(st, insn.dst, pc)
            st.regs[insn.dst] = self._exact1(v, lambda x: sem.alu_function(
                "neg", insn.spec.width)(x, 0), insn.spec.width)
        elif kind is Kind.END:
            v = self._read(st, insn.dst, pc)
            bits = insn.imm
            st.regs[insn.dst] = self._exact1(v, lambda x: sem.byte_swap(insn.spec.op, bits, x),
                                             bits)
        elif kind is Kind.LDDW:
            st.regs[insn.dst] = self._lddw(pc, insn)
        elif kind in _ACCESS:
            self._memory(pc, insn, st)
        elif kind is Kind.JA:
            target = branch_targets(self.prog, pc)[0]
            if target <= pc:
                self.loops.append(pc)
            return [(target, st)]
        elif kind is Kind.JCOND:
            return self._jcond(pc, insn, st)
        elif kind is Kind.EXIT:
            self._read(st, 0, pc)
            return []
        elif kind is Kind.CALL:
            if self.helpers is not None and insn.imm not in self.helpers:
                raise VerifierError(pc, f"call to helper {insn.imm}, which is not registered "
                                        f"(pass helpers={{{insn.imm}: function}})")
            result = self._map_helper(pc, insn.imm, st) if self.maps else None
            self._after_call(st)
            if result is not None:
                st.regs[0] = result
        elif kind is Kind.CALLX:
            self._read(st, insn.dst, pc)
            self._after_call(st)
        elif kind is Kind.CALL_BTF:
            raise VerifierError(pc, f"helper calls by BTF id are not supported "
                                    f"(BTF id {insn.imm})")
        elif kind is Kind.CALL_LOCAL:
            self._local_call(pc, insn, st)
        return None

    @staticmethod
    def _exact1(v: Value, fn, bits: int) -> Value:
        if v.is_const:
            return const(fn(v.umin))
        return scalar(0, (1 << bits) - 1) if bits < 64 else top_scalar()

    def _lddw(self, pc: int, insn) -> Value:
        if insn.src == 0:
            return const(insn.imm64)
        index = insn.imm & 0xFFFFFFFF
        if insn.src in (LDDW_MAP, LDDW_MAP_VALUE) and index < len(self.maps):
            if insn.src == LDDW_MAP:
                return Value(MAP_PTR, frame=index)
            offset = insn.next_imm & 0xFFFFFFFF
            return offset_value(MAP_VALUE, offset, offset, frame=index)
        if insn.src in (LDDW_MAP, LDDW_MAP_VALUE) and self.maps:
            raise VerifierError(pc, f"lddw refers to map {index}, but the program has "
                                    f"{len(self.maps)} map(s)")
        raise VerifierError(pc, f"lddw {LDDW_PSEUDO[insn.src]} needs maps, which "
                                f"this program was not loaded with")

    def _map_helper(self, pc: int, helper: int, st: State) -> Value | None:
        """Check a map helper's arguments as the kernel does; r0's value, for a lookup."""
        if helper not in _MAP_HELPER_ARGS:
            return None
        handle = self._read(st, 1, pc)
        if handle.kind != MAP_PTR:
            raise VerifierError(pc, f"helper {helper} takes a map in r1 (lddw rX, map), "
                                    f"not {handle.describe()}")
        for reg in _MAP_HELPER_ARGS[helper]:
            arg = self._read(st, reg, pc)
            if arg.kind not in (STACK, MEM, MAP_VALUE):
                raise VerifierError(pc, f"helper {helper} takes a pointer to the stack, the "
                                        f"buffer or a map value in r{reg}, not "
                                        f"{arg.describe()}")
        if helper == 1:
            # an array lookup whose key is read in bounds may be inlined by a JIT
            key = st.regs[2]
            fits = self._in_bounds(key, 0, self.maps[handle.frame].key_size, st)
            seen = self.lookups.get(pc, handle.frame if fits else None)
            self.lookups[pc] = handle.frame if fits and seen == handle.frame else None
            return Value(MAP_OR_NULL, 0, U64, 0, 0, frame=handle.frame,
                         link=(self._fresh_id(), 0))
        return None

    def _in_bounds(self, v: Value, off: int, size: int, st: State) -> bool:
        """Whether `size` bytes at v + off lie inside the region v points into, in every
        state v describes (accesses and helper arguments alike)."""
        lo, hi = v.smin + off, v.smax + off
        if v.kind == STACK:
            return lo >= -STACK_SIZE and hi + size <= 0
        if v.kind == MEM:
            return lo >= 0 and (hi + size <= st.min_len or
                                (v.len_hi is not None and v.len_hi + off + size <= 0))
        if v.kind == MAP_VALUE:
            return lo >= 0 and hi + size <= self.maps[v.frame].value_size
        return False

    def _after_call(self, st: State) -> None:
        st.regs[0] = top_scalar()
        for i in range(1, 6):
            st.regs[i] = Value(UNINIT)

    def _local_call(self, pc: int, insn, st: State) -> None:
        target = pc + 1 + insn.imm
        regs = [Value(UNINIT)] * 11
        for i in range(1, 6):
            v = st.regs[i]
            if v.kind == STACK:
                v = replace(v, frame=v.frame + 1, link=None)
                if v.frame == 1:      # the callee may write into this frame from here up
                    st.init |= _bits(v.smin, 0)
                    for off in [o for o in st.spills if o + 8 > v.smin]:
                        del st.spills[off]
            regs[i] = replace(v, link=None) if v.kind != UNINIT else v
        regs[10] = offset_value(STACK, 0, 0)
        entry = State(regs, min_len=st.min_len)
        old = self.entry_states.get(target)
        self.entry_states[target] = entry if old is None else old.join(entry)
        st.regs[0] = top_scalar()
        for i in range(1, 6):
            st.regs[i] = Value(UNINIT)

    # ---- ALU ---------------------------------------------------------------------------------

    def _alu(self, pc: int, insn, st: State) -> Value:
        spec = insn.spec
        op, width = spec.op, spec.width
        if spec.source == "reg":
            src = self._read(st, insn.src, pc)
        else:
            src = const(insn.imm)
        if op in ("mov", "movsx"):
            dst = None
        else:
            dst = self._read(st, insn.dst, pc)
        if op == "mov" and width == 64:
            if spec.source == "reg":
                return self._linked(st, insn.src)
            return src
        if width == 64 and op in ("add", "sub") and dst is not None:
            return self._add_sub(op, st, insn, dst, src)
        if src.is_const and (dst is None or dst.is_const):
            f = sem.alu_function(op, width, insn.off if op == "movsx" else 0)
            return const(f(0 if dst is None else dst.umin, src.umin))
        if dst is not None and dst.is_pointer or src.is_pointer:
            return top_scalar() if width == 64 else scalar(0, M32)
        return self._scalar_op(op, width, dst, src, insn)

    def _add_sub(self, op: str, st: State, insn, dst: Value, src: Value) -> Value:
        sign = 1 if op == "add" else -1
        swapped = dst.kind == SCALAR and src.is_pointer and op == "add"
        if swapped:
            dst, src = src, dst                       # scalar + pointer
        elif src.is_pointer:
            return top_scalar()                       # pointer - pointer, pointer + pointer
        if src.is_const:
            delta = src.umin if src.umin <= S64_MAX else src.umin - (1 << 64)
            delta *= sign
            if swapped or (insn.spec.source == "reg" and insn.dst == insn.src):
                return self._shift(dst, delta, None)
            base = self._linked(st, insn.dst)
            return self._shift(base, delta, (base.link[0], base.link[1] + delta))
        # dst +/- a non-constant scalar
        if dst.is_pointer:
            lo, hi = (src.smin, src.smax) if sign > 0 else (-src.smax, -src.smin)
            if src.smin < -MAX_LEN * 4 or src.smax > MAX_LEN * 4:
                lo, hi = S64_MIN, S64_MAX
            slo, shi = _sat(dst.smin + lo), _sat(dst.smax + hi)
            len_lo = len_hi = None
            if sign > 0:        # every valid bound; the tightest wins
                highs = [dst.smax + src.len_hi] if src.len_hi is not None \
                    and dst.smax <= MAX_LEN else []
                if dst.len_hi is not None and 0 <= src.smin and src.smax <= MAX_LEN:
                    highs.append(dst.len_hi + src.smax)
                lows = [dst.smin + src.len_lo] if src.len_lo is not None \
                    and dst.smin >= -MAX_LEN else []
                if dst.len_lo is not None and 0 <= src.smin <= MAX_LEN:
                    lows.append(dst.len_lo + src.smin)
                len_hi = min(highs) if highs else None
                len_lo = max(lows) if lows else None
            return offset_value(dst.kind, slo, shi, frame=dst.frame, len_lo=len_lo,
                                len_hi=len_hi)
        return self._scalar_op(op, 64, dst, src, insn)

    @staticmethod
    def _shift(v: Value, delta: int, link) -> Value:
        """v + delta for a constant delta."""
        len_lo = None if v.len_lo is None else v.len_lo + delta
        len_hi = None if v.len_hi is None else v.len_hi + delta
        if v.is_pointer:
            return offset_value(v.kind, _sat(v.smin + delta), _sat(v.smax + delta),
                                frame=v.frame, len_lo=len_lo, len_hi=len_hi, link=link)
        if v.is_const:
            return replace(const(v.umin + delta), link=link)
        align = min(v.align, trailing_zeros(delta & U64))
        umin, umax = v.umin + delta, v.umax + delta
        if umin < 0 or umax > U64:
            umin, umax = 0, U64
        smin, smax = v.smin + delta, v.smax + delta
        if smin < S64_MIN or smax > S64_MAX:
            smin, smax = S64_MIN, S64_MAX
        return scalar(umin, umax, smin, smax, len_lo=len_lo, len_hi=len_hi, link=link,
                      align=align)

    @staticmethod
    def _scalar_op(op: str, width: int, dst: Value | None, src: Value, insn) -> Value:
        limit = U64 if width == 64 else M32
        d_hi = dst.umax if dst is not None else 0
        d_lo = dst.umin if dst is not None else 0
        narrow = width == 64 or (d_hi <= M32 and src.umax <= M32)
        lo, hi = 0, limit
        if op == "and":
            hi = min(d_hi, src.umax, limit)
        elif op in ("or", "xor") and narrow:
            hi = min((1 << max(d_hi, src.umax).bit_length()) - 1, limit)
        elif op == "add" and narrow and d_hi + src.umax <= limit:
            lo, hi = d_lo + src.umin, d_hi + src.umax
        elif op == "sub" and narrow and d_lo >= src.umax:
            lo, hi = d_lo - src.umax, d_hi - src.umin
        elif op == "mul" and narrow and d_hi * src.umax <= limit:
            lo, hi = d_lo * src.umin, d_hi * src.umax
        elif op == "div" and src.is_const and narrow:
            c = src.umin & limit
            lo, hi = (0, 0) if c == 0 else (d_lo // c, d_hi // c)
        elif op == "mod" and src.is_const and narrow:
            c = src.umin & limit
            lo, hi = (d_lo, d_hi) if c == 0 else (0, min(c - 1, d_hi))
        elif op == "rsh" and src.is_const and narrow:
            k = src.umin & (width - 1)
            lo, hi = d_lo >> k, d_hi >> k
        elif op == "lsh" and src.is_const and narrow:
            k = src.umin & (width - 1)
            if d_hi << k <= limit:
                lo, hi = d_lo << k, d_hi << k
        elif op == "mov":
            lo, hi = (src.umin, src.umax) if src.umax <= limit else (0, limit)
        elif op == "movsx":
            bits = insn.off
            if src.umax < (1 << (bits - 1)):
                lo, hi = src.umin, src.umax
            elif width == 64:
                return scalar(smin=-(1 << (bits - 1)), smax=(1 << (bits - 1)) - 1)
        return scalar(lo, hi, align=_result_align(op, dst, src, width))


    # ---- memory -------------------------------------------------------------------------------

    def _memory(self, pc: int, insn, st: State) -> None:
        kind, spec = insn.kind, insn.spec
        base_reg = getattr(insn, _ACCESS[kind])
        base = self._read(st, base_reg, pc)
        size = spec.size
        writes = kind in (Kind.ST, Kind.STX, Kind.ATOMIC)
        reads = kind in (Kind.LDX, Kind.LDSX, Kind.ATOMIC)
        if kind in (Kind.STX, Kind.ATOMIC):
            value = self._read(st, insn.src, pc)
        if kind is Kind.ATOMIC and spec.op == "cmpxchg":
            self._read(st, 0, pc)
        lo, hi = base.smin + insn.off, base.smax + insn.off
        if base.kind == CTX:
            self._context_access(pc, insn, st, lo, hi, writes)
            return
        if base.kind in (MAP_PTR, MAP_OR_NULL):
            what = "a map handle, not memory" if base.kind == MAP_PTR else \
                "a map value or NULL: compare it with 0 before using it"
            raise VerifierError(pc, f"r{base_reg} is {what}")
        ok = self._in_bounds(base, insn.off, size, st)
        if base.kind == MAP_VALUE:
            the_map = self.maps[base.frame]
            if not ok and base.smin == base.smax:
                raise VerifierError(pc, f"r{base_reg}{insn.off:+d} is outside the "
                                        f"{the_map.value_size}-byte value of map "
                                        f"{the_map.name!r} ({size}-byte access at {lo})")
            if writes and the_map.spec.read_only:
                raise VerifierError(pc, f"map {the_map.name!r} is read-only")
        self.accesses[pc] = self.accesses.get(pc, True) and ok
        region = {MEM: "mem", STACK: "stack", MAP_VALUE: "map"}.get(base.kind)
        self.regions[pc] = region if self.regions.get(pc, region) == region else None
        loaded = None
        if base.kind == STACK and base.frame == 0 and not ok and writes:
            # checked at run time; the bytes it may write inside the frame count as written
            st.init |= _bits(lo, hi + size)
        if base.kind == STACK and base.frame == 0 and ok:
            if reads:
                missing = _bits(lo, hi + size) & ~st.init
                if missing:
                    first = min(i for i in range(STACK_SIZE) if missing >> i & 1) - STACK_SIZE
                    raise VerifierError(pc, f"reads the stack at r10{first:+d}, which nothing "
                                            f"has written yet")
                if lo == hi and size == 8 and lo in st.spills and kind is Kind.LDX:
                    loaded = st.spills[lo]
            if writes:
                if lo == hi:
                    st.init |= _bits(lo, lo + size)
                else:       # a variable offset: every byte it may touch counts as written
                    st.init |= _bits(lo, hi + size)
                for off in [o for o in st.spills if o < hi + size and o + 8 > lo]:
                    del st.spills[off]
                if kind is Kind.STX and size == 8 and lo == hi:
                    st.spills[lo] = value
        if kind in (Kind.LDX, Kind.LDSX):
            if loaded is not None:
                st.regs[insn.dst] = loaded
            elif kind is Kind.LDSX:
                bits = size * 8
                st.regs[insn.dst] = scalar(smin=-(1 << (bits - 1)), smax=(1 << (bits - 1)) - 1)
            else:
                st.regs[insn.dst] = scalar(0, (1 << (size * 8)) - 1)
        elif kind is Kind.ATOMIC:
            result = scalar(0, (1 << spec.width) - 1)
            if spec.op == "cmpxchg":
                st.regs[0] = result
            elif spec.fetch:
                st.regs[insn.src] = result

    def _context_access(self, pc: int, insn, st: State, lo: int, hi: int,
                        writes: bool) -> None:
        """A load from the context: a known field at a constant offset, rewritten later."""
        fields = CTX_FIELDS[self.context]
        field = fields.get((lo, insn.spec.size)) if lo == hi else None
        if writes or insn.kind is not Kind.LDX or field is None:
            raise VerifierError(pc, f"invalid {self.context} context access: only 32-bit "
                                    f"loads of its fields (offsets "
                                    f"{', '.join(str(o) for o, _ in fields)}) are allowed")
        offset, size, name = field
        self.ctx_loads[pc] = (offset, size)
        self.accesses[pc] = self.accesses.get(pc, True)
        self.regions[pc] = "ctx"
        if name in ("data", "data_meta"):
            value = offset_value(MEM, 0, 0)
        elif name == "data_end":
            value = offset_value(MEM, 0, MAX_LEN, len_lo=0, len_hi=0)
        else:
            value = scalar(0, 0xFFFFFFFF)
        st.regs[insn.dst] = value

    # ---- conditional jumps ----------------------------------------------------------------------

    def _jcond(self, pc: int, insn, st: State):
        spec = insn.spec
        a = self._read(st, insn.dst, pc)
        b = self._read(st, insn.src, pc) if spec.source == "reg" else const(insn.imm)
        target, fall = pc + 1 + insn.off, pc + 1
        if target <= pc:
            self.loops.append(pc)
        op = spec.op
        if a.kind == MAP_OR_NULL and op in ("jeq", "jne") and b.is_const and b.umin == 0 \
                and spec.width == 64:
            null, valid = st.copy(), st
            self._null_check(null, insn.dst, a, is_null=True)
            self._null_check(valid, insn.dst, a, is_null=False)
            return [(target, null), (fall, valid)] if op == "jeq" else \
                [(target, valid), (fall, null)]
        if spec.width == 32:
            if not (a.kind == b.kind == SCALAR and a.umax <= M32 and b.umax <= M32
                    and op[1] != "s"):
                return [(target, st), (fall, st.copy())]
        taken, not_taken = st.copy(), st
        self._refine(taken, insn, a, b, op, True)
        self._refine(not_taken, insn, a, b, op, False)
        return [(target, taken if _feasible(taken) else None),
                (fall, not_taken if _feasible(not_taken) else None)]

    @staticmethod
    def _null_check(st: State, reg: int, v: Value, is_null: bool) -> None:
        """After `if rX == 0`: rX, and every copy of it, is NULL or a valid map value."""
        new = const(0) if is_null else offset_value(MAP_VALUE, 0, 0, frame=v.frame)
        for i, other in enumerate(st.regs):
            if i == reg or (other.kind == MAP_OR_NULL and v.link is not None
                            and other.link == v.link):
                st.regs[i] = new
        for off, other in list(st.spills.items()):
            if other.kind == MAP_OR_NULL and v.link is not None and other.link == v.link:
                st.spills[off] = new

    def _refine(self, st: State, insn, a: Value, b: Value, op: str, holds: bool) -> None:
        """Learn from `a OP b` being `holds` on this edge."""
        comparable = (a.kind == b.kind and (a.kind not in (STACK, MAP_VALUE)
                                            or a.frame == b.frame)
                      and a.kind != UNINIT)
        if not comparable or op == "jset":
            return
        if not holds:
            op = _NEGATE[op]
        signed = op.startswith("js")
        rel = op[2:] if signed else op[1:]
        if rel == "ne":
            if b.is_const and a.kind == SCALAR:
                c = b.umin
                if a.is_const and a.umin == c:
                    st.regs[insn.dst] = replace(a, umin=1, umax=0)     # infeasible
                elif a.umin == c:
                    self._set(st, insn.dst, a, scalar(c + 1, a.umax, a.smin, a.smax,
                                                      len_lo=a.len_lo, len_hi=a.len_hi,
                                                      link=a.link, align=a.align))
                elif a.umax == c:
                    self._set(st, insn.dst, a, scalar(a.umin, c - 1, a.smin, a.smax,
                                                      len_lo=a.len_lo, len_hi=a.len_hi,
                                                      link=a.link, align=a.align))
                _learn_len(st)
            return
        # normalise to a <= b style constraints
        if rel in ("gt", "ge"):
            a, b, rel = b, a, {"gt": "lt", "ge": "le"}[rel]
            lhs_reg, rhs_reg = (insn.src if insn.spec.source == "reg" else None), insn.dst
        else:
            lhs_reg, rhs_reg = insn.dst, (insn.src if insn.spec.source == "reg" else None)
        strict = 1 if rel == "lt" else 0
        if rel == "eq":
            new_a, new_b = _meet(a, b, signed), _meet(b, a, signed)
        else:
            new_a, new_b = _upper(a, b, strict, signed), _lower(b, a, strict, signed)
            if not signed:
                st.min_len = max(st.min_len, _min_len_from(a, b, strict))
        self._set(st, lhs_reg, a, new_a)
        self._set(st, rhs_reg, b, new_b)
        _learn_len(st)

    def _set(self, st: State, reg: int | None, old: Value, new: Value) -> None:
        """Store a refined value, and tell every value linked to it."""
        if reg is None:
            return
        st.regs[reg] = new
        if old.link is None:
            return
        ident, delta = old.link
        for i, v in enumerate(st.regs):
            if i != reg and v.link is not None and v.link[0] == ident:
                st.regs[i] = _meet(v, self._shift(new, v.link[1] - delta, v.link), False,
                                   keep_link=True)
        for off, v in list(st.spills.items()):
            if v.link is not None and v.link[0] == ident:
                st.spills[off] = _meet(v, self._shift(new, v.link[1] - delta, v.link), False,
                                       keep_link=True)


_NEGATE = {"jeq": "jne", "jne": "jeq", "jgt": "jle", "jge": "jlt", "jlt": "jge", "jle": "jgt",
           "jsgt": "jsle", "jsge": "jslt", "jslt": "jsge", "jsle": "jsgt"}


def _learn_len(st: State) -> None:
    """A value at least `lo` and at most len + len_hi shows that len >= lo - len_hi."""
    for v in list(st.regs) + list(st.spills.values()):
        if v.len_hi is not None and v.kind in (SCALAR, MEM):
            lo = v.umin if v.kind == SCALAR else v.smin
            st.min_len = max(st.min_len, min(lo - v.len_hi, MAX_LEN))


def _sat(x: int) -> int:
    return min(max(x, S64_MIN), S64_MAX)


def _feasible(st: State) -> bool:
    return all(v.umin <= v.umax and v.smin <= v.smax for v in st.regs)


def _interval(v: Value, signed: bool) -> tuple[int, int]:
    if v.is_pointer or signed:
        return v.smin, v.smax
    return v.umin, v.umax


def _with_interval(v: Value, lo: int, hi: int, signed: bool, **extra) -> Value:
    if v.is_pointer or signed:
        new = replace(v, smin=lo, smax=hi, **extra)
    else:
        new = replace(v, umin=lo, umax=hi, **extra)
    if v.kind != SCALAR:
        return new
    return scalar(new.umin, new.umax, new.smin, new.smax, len_lo=new.len_lo,
                  len_hi=new.len_hi, link=new.link, align=new.align)


def _upper(a: Value, b: Value, strict: int, signed: bool) -> Value:
    """a after learning a < b (strict) or a <= b."""
    lo, hi = _interval(a, signed)
    _, b_hi = _interval(b, signed)
    hi = min(hi, b_hi - strict)
    len_hi = a.len_hi
    if not signed and b.len_hi is not None:
        cand = b.len_hi - strict
        len_hi = cand if len_hi is None else min(len_hi, cand)
    return _with_interval(a, lo, hi, signed, len_hi=len_hi)


def _lower(b: Value, a: Value, strict: int, signed: bool) -> Value:
    """b after learning a < b (strict) or a <= b."""
    lo, hi = _interval(b, signed)
    a_lo, _ = _interval(a, signed)
    lo = max(lo, a_lo + strict)
    len_lo = b.len_lo
    if not signed and a.len_lo is not None:
        cand = a.len_lo + strict
        len_lo = cand if len_lo is None else max(len_lo, cand)
    return _with_interval(b, lo, hi, signed, len_lo=len_lo)


def _meet(a: Value, b: Value, signed: bool, keep_link: bool = False) -> Value:
    """a after learning a == b (or that a also lies within b's bounds)."""
    if a.kind != b.kind:
        return a
    lo = max(a.smin, b.smin)
    hi = min(a.smax, b.smax)
    len_lo = a.len_lo if b.len_lo is None else (b.len_lo if a.len_lo is None
                                                  else max(a.len_lo, b.len_lo))
    len_hi = a.len_hi if b.len_hi is None else (b.len_hi if a.len_hi is None
                                                  else min(a.len_hi, b.len_hi))
    if a.is_pointer:
        return replace(a, smin=lo, smax=hi, len_lo=len_lo, len_hi=len_hi)
    return scalar(max(a.umin, b.umin), min(a.umax, b.umax), lo, hi, len_lo=len_lo,
                  len_hi=len_hi, link=a.link, align=max(a.align, b.align))


def _min_len_from(a: Value, b: Value, strict: int) -> int:
    """From a (<|<=) b with b <= len + b.len_hi: len >= a's least value - b.len_hi."""
    if b.len_hi is None:
        return 0
    a_lo = a.smin if a.is_pointer else a.umin
    return max(0, a_lo + strict - b.len_hi)


def _result_align(op: str, dst: Value | None, src: Value, width: int) -> int:
    """How many low bits of the result are known to be zero."""
    a = dst.align if dst is not None and dst.kind == SCALAR else 0
    b = src.align if src.kind == SCALAR else 0
    if op in ("add", "sub", "or", "xor"):
        return min(a, b)
    if op == "and":
        return max(a, b)
    if op == "mul":
        return min(a + b, 64)
    if op == "lsh" and src.is_const:
        return min(a + (src.umin & (width - 1)), 64)
    if op == "mov":
        return b
    return 0
