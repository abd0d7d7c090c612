"""The reference interpreter: the semantics every other engine must match.

Each instruction is decoded once into a small Python closure `step(r, st) ->
next pc`, where `r` is the register file (a list of eleven unsigned 64-bit
ints) and `st` the run state.  The run loop is just `pc = steps[pc](r, st)`.
The closures at basic-block starts first deduct their whole block from the
instruction budget, and at subprogram entries and loop heads check that it has
not run out: the accounting every engine follows (bpfjit.cfg.budget_checkpoints).

Registers no instruction has written read as 0: at entry (except r1, r2 and
r10), r0 and r6-r9 in a callee, and r1-r5 after any call returns.  The kernel's
verifier rejects such reads; defining them keeps every engine in agreement.
"""

from __future__ import annotations

import errno
import threading
from typing import Callable, Mapping

from . import traps
from . import semantics as sem
from .cfg import block_costs, block_leaders, budget_checkpoints, check_structure
from .errors import BpfError, BudgetExceeded, CallDepthExceeded, HelperCallsExceeded
from .isa import LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, MAX_CALL_DEPTH, STACK_SIZE, Kind
from .limits import helper_call_limit
from .context import CONTEXTS, copy_back, legacy_headers, refuse_context
from .helpers import SOCKET_LOOKUPS, TCP_SOCK, TailCalled
from .helpers.loops import FOR_EACH_MAP_ELEM, loop_result
from .maps import SOCKET_MAP_TYPES, map_handle
from .testrun import TestRunnable
from .memory import (CTX_BASE, KEY_BASE, MAP_BASE, MEM_BASE, STACK_TOP, AddressSpace,
                     as_buffer)
from .program import Program

__all__ = ["Interpreter", "DEFAULT_BUDGET", "Helper"]

DEFAULT_BUDGET = 10_000_000     # executed instructions per run

Helper = Callable[[int, int, int, int, int], int]
Step = Callable[[list, "RunState"], int]

M64 = sem.M64
M32 = 0xFFFFFFFF
_ZEROS4 = (0, 0, 0, 0)
_ZEROS5 = (0, 0, 0, 0, 0)


class _Halt(Exception):
    """Raised by the main program's exit; carries nothing, r0 is in the registers."""


class RunState:
    """What one run needs besides the registers: memory, call frames, budget, the
    helper calls it may still make (and their limit)."""

    __slots__ = ("space", "frames", "remaining", "helpers", "calls_left", "calls_limit",
                 "loops")

    def __init__(self, space: AddressSpace, helpers: Mapping[int, Helper], budget: int,
                 helper_calls: int):
        self.space = space
        self.frames: list[tuple] = []
        self.remaining = budget
        self.helpers = helpers
        self.calls_left = self.calls_limit = helper_calls
        # bpf_loops running: [index, trips, ctx]; for_each_map_elems: [slot, visited, ctx,
        # the map's walk, its handle]
        self.loops: list[list[int]] = []


def _alu_step(insn, pc: int) -> Step:
    spec = insn.spec
    f = sem.alu_function(spec.op, spec.width, insn.off if spec.op == "movsx" else 0)
    d, s, nxt = insn.dst, insn.src, pc + 1
    if spec.source == "reg":
        def step(r, st):
            r[d] = f(r[d], r[s])
            return nxt
    else:
        k = insn.imm & M64          # sign-extended to 64 bits
        def step(r, st):
            r[d] = f(r[d], k)
            return nxt
    return step


def _neg_step(insn, pc: int) -> Step:
    f = sem.alu_function("neg", insn.spec.width)
    d, nxt = insn.dst, pc + 1
    def step(r, st):
        r[d] = f(r[d], 0)
        return nxt
    return step


def _end_step(insn, pc: int) -> Step:
    op, bits, d, nxt = insn.spec.op, insn.imm, insn.dst, pc + 1
    swap = sem.byte_swap
    def step(r, st):
        r[d] = swap(op, bits, r[d])
        return nxt
    return step


def _ja_step(insn, pc: int) -> Step:
    target = pc + 1 + (insn.off if insn.spec.width == 64 else insn.imm)
    return lambda r, st: target


def _jcond_step(insn, pc: int) -> Step:
    spec = insn.spec
    cond = sem.cond_function(spec.op, spec.width)
    d, s, nxt, target = insn.dst, insn.src, pc + 1, pc + 1 + insn.off
    if spec.source == "reg":
        def step(r, st):
            return target if cond(r[d], r[s]) else nxt
    else:
        k = insn.imm & M64
        def step(r, st):
            return target if cond(r[d], k) else nxt
    return step


def _charge_call(st: RunState, pc: int) -> None:
    """One helper call of the run's allowance; HelperCallsExceeded when none is left."""
    if st.calls_left <= 0:
        raise HelperCallsExceeded(pc, st.calls_limit)
    st.calls_left -= 1


def _call_helper(st: RunState, r: list, helper_id: int, pc: int) -> None:
    fn = st.helpers.get(helper_id)
    if fn is None:
        raise traps.unknown_helper(pc, helper_id)
    _charge_call(st, pc)
    try:
        result = fn(r[1], r[2], r[3], r[4], r[5])
    except (BpfError, TailCalled):
        raise
    except Exception as exc:
        raise traps.helper_failed(pc, helper_id, exc) from exc
    if not isinstance(result, int):
        raise traps.helper_bad_result(pc, helper_id, result)
    r[0] = result & M64
    r[1:6] = _ZEROS5


def _call_step(insn, pc: int) -> Step:
    helper_id, nxt = insn.imm, pc + 1
    def step(r, st):
        _call_helper(st, r, helper_id, pc)
        return nxt
    return step


def _callx_step(insn, pc: int) -> Step:
    d, nxt = insn.dst, pc + 1
    def step(r, st):
        _call_helper(st, r, r[d], pc)
        return nxt
    return step


def _call_btf_step(insn, pc: int) -> Step:
    btf_id = insn.imm
    def step(r, st):
        raise traps.btf_call(pc, btf_id)
    return step


def _call_local_step(insn, pc: int) -> Step:
    return _frame_step(pc, pc + 1 + insn.imm, pc + 1)


def _frame_step(pc: int, target: int, ret: int) -> Step:
    """A step at `pc` entering the subprogram at `target` with a frame of its own, whose
    exit goes on at `ret` (a local call's, and each trip of a bpf_loop's callback)."""
    def step(r, st):
        frames = st.frames
        depth = len(frames) + 2             # frames after the call, main included
        if depth > MAX_CALL_DEPTH:
            raise CallDepthExceeded(pc, MAX_CALL_DEPTH)
        frames.append((ret, r[6], r[7], r[8], r[9], r[10]))
        st.space.set_depth(depth)
        r[0] = 0
        r[6:10] = _ZEROS4
        r[10] = STACK_TOP - STACK_SIZE * (depth - 1)
        return target
    return step


def _loop_steps(pc: int, target: int, back: int) -> tuple[Step, Step]:
    """bpf_loop at `pc` calling the subprogram at `target`: the call's step, and the
    step (at pc `back`, past the program) each trip of the callback returns to."""
    nxt = pc + 1
    enter = _frame_step(pc, target, back)

    def trip(r, st, index: int, ctx: int) -> int:      # the callback gets (index, ctx)
        r[1], r[2], r[3], r[4], r[5] = index, ctx, 0, 0, 0
        return enter(r, st)

    def call(r, st):
        _charge_call(st, pc)
        if r[2] != target:
            raise traps.helper_failed(pc, 181, BpfError(
                f"r2 holds {r[2]:#x}, not the callback the verifier found (pc {target})"))
        trips = r[1] & M32
        early = loop_result(trips, r[4])
        if early is not None or trips == 0:
            r[0] = 0 if early is None else early
            r[1:6] = _ZEROS5
            return nxt
        st.loops.append([0, trips, r[3]])
        return trip(r, st, 0, r[3])

    def returned(r, st):
        loop = st.loops[-1]
        made = loop[0] + 1
        if r[0] or made == loop[1]:         # the callback returned 1, or the last trip
            st.loops.pop()
            r[0] = made
            r[1:6] = _ZEROS5
            return nxt
        loop[0] = made
        return trip(r, st, made, loop[2])
    return call, returned


def _for_each_steps(pc: int, target: int, back: int, maps: list, indices: tuple[int, ...]
                    ) -> tuple[Step, Step]:
    """bpf_for_each_map_elem at `pc` over the map r1 names (one of the program's maps
    `indices`), calling the subprogram at `target` with (map, key, value, ctx) for each
    element in slot order (Map.next_slot): the call's step, and the step each trip
    returns to."""
    nxt = pc + 1
    enter = _frame_step(pc, target, back)
    walks = {}                  # handle -> (map, keys base, key stride, values base)
    for index in indices:
        the_map = maps[index]
        walks[map_handle(index)] = (the_map, KEY_BASE + (index << 32),
                                    the_map.key_area()[1], MAP_BASE + (index << 32))

    def trip(r, st, walk: list) -> int:
        the_map, keys, stride, values = walk[3]
        slot = walk[0]
        r[1], r[2], r[3], r[4], r[5] = walk[4], keys + slot * stride, \
            values + slot * the_map.value_size, walk[2], 0
        return enter(r, st)

    def done(r, visited: int) -> int:
        r[0] = visited
        r[1:6] = _ZEROS5
        return nxt

    def call(r, st):
        _charge_call(st, pc)
        if r[2] != target or r[1] not in walks:
            raise traps.helper_failed(pc, FOR_EACH_MAP_ELEM, BpfError(
                f"r1, r2 hold {r[1]:#x}, {r[2]:#x}: not a map and the callback the "
                f"verifier found (pc {target})"))
        if r[4]:
            return done(r, -errno.EINVAL & M64)
        found = walks[r[1]]
        slot = found[0].next_slot(0)
        if slot >= found[0].max_entries:
            return done(r, 0)
        walk = [slot, 0, r[3], found, r[1]]      # [slot, visited, ctx, map, handle]
        st.loops.append(walk)
        return trip(r, st, walk)

    def returned(r, st):
        walk = st.loops[-1]
        visited = walk[1] + 1
        the_map = walk[3][0]
        # the callback returned 1: stop
        slot = the_map.max_entries if r[0] else the_map.next_slot(walk[0] + 1)
        if slot >= the_map.max_entries:
            st.loops.pop()
            return done(r, visited)
        walk[0], walk[1] = slot, visited
        return trip(r, st, walk)
    return call, returned


def _exit_step(insn, pc: int) -> Step:
    def step(r, st):
        frames = st.frames
        if not frames:
            raise _Halt
        ret, r[6], r[7], r[8], r[9], r[10] = frames.pop()
        r[1:6] = _ZEROS5
        st.space.set_depth(len(frames) + 1)
        return ret
    return step


def _packet_load_step(insn, pc: int, headers: tuple[int | None, int]) -> Step:
    """ldabs/ldind: r0 = the big-endian value at the packet offset imm (+ src, as a
    signed 32-bit sum; below 0, an offset from a header: sem.legacy_packet_offset, with
    the MAC and network headers at `headers`); outside the packet the program ends
    with r0 = 0."""
    size, imm, nxt = insn.spec.size, insn.imm, pc + 1
    src = insn.src if insn.spec.op == "ind" else None
    mac, net = headers
    def step(r, st):
        offset = imm if src is None else sem.sext((r[src] + imm) & M32, 32)
        if offset < 0:
            offset = sem.legacy_packet_offset(offset, mac, net)
        mem = st.space.mem
        r[1:6] = _ZEROS5
        if offset is not None and offset + size <= mem.hi - MEM_BASE:
            at = MEM_BASE - mem.base + offset
            r[0] = int.from_bytes(mem.buf[at:at + size], "big")
            return nxt
        r[0] = 0
        raise _Halt
    return step


def _lddw_step(insn, pc: int) -> Step:
    if insn.src == LDDW_MAP:                    # a map's handle
        value = map_handle(insn.imm & 0xFFFFFFFF)
    elif insn.src == LDDW_MAP_VALUE:            # an address inside a map's value
        value = MAP_BASE + ((insn.imm & 0xFFFFFFFF) << 32) + (insn.next_imm & 0xFFFFFFFF)
    elif insn.src == LDDW_CODE:                 # a callback: its pc (no code address)
        value = pc + 1 + insn.imm
    elif insn.src != 0:
        src = insn.src
        def step(r, st):
            raise traps.lddw_pseudo(pc, src)
        return step
    else:
        value = insn.imm64
    d, nxt = insn.dst, pc + 2
    def step(r, st):
        r[d] = value
        return nxt
    return step


def _ldx_step(insn, pc: int) -> Step:
    d, s, off, size, nxt = insn.dst, insn.src, insn.off, insn.spec.size, pc + 1
    if insn.kind is Kind.LDSX:
        bits = size * 8
        def step(r, st):
            r[d] = sem.sext(st.space.load((r[s] + off) & M64, size, pc), bits) & M64
            return nxt
    else:
        def step(r, st):
            r[d] = st.space.load((r[s] + off) & M64, size, pc)
            return nxt
    return step


def _context_load_step(insn, pc: int) -> Step:
    """A context field load: the only access that may read the context block."""
    d, s, off, size, nxt = insn.dst, insn.src, insn.off, insn.spec.size, pc + 1
    def step(r, st):
        r[d] = st.space.load_context((r[s] + off) & M64, size, pc)
        return nxt
    return step


def _context_store_step(insn, pc: int) -> Step:
    """A store to a writable context field (the verifier allowed it)."""
    d, off, size, nxt = insn.dst, insn.off, insn.spec.size, pc + 1
    src, imm = (insn.src, None) if insn.kind is Kind.STX else (None, insn.imm)
    def step(r, st):
        st.space.store_context((r[d] + off) & M64, size, r[src] if imm is None else imm, pc)
        return nxt
    return step


def _region_only(step: Step, insn, pc: int, region: str | int) -> Step:
    """`step`, an access the verifier placed in one region without proving it, after
    checking that it lies there (the JITs' check of such an access): "mem" the buffer,
    "stack" the live frames, an int the value arena of that map."""
    base = insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst
    off, size = insn.off, insn.spec.size
    write = insn.kind not in (Kind.LDX, Kind.LDSX)
    if region == "mem":
        def checked(r, st):
            st.space.check_packet((r[base] + off) & M64, size, pc, write)
            return step(r, st)
    elif region == "stack":
        def checked(r, st):
            st.space.check_stack((r[base] + off) & M64, size, pc, write)
            return step(r, st)
    else:
        def checked(r, st):
            st.space.check_map((r[base] + off) & M64, size, pc, write, region)
            return step(r, st)
    return checked


def _st_step(insn, pc: int) -> Step:
    d, off, size, value, nxt = insn.dst, insn.off, insn.spec.size, insn.imm, pc + 1
    def step(r, st):
        st.space.store((r[d] + off) & M64, size, value, pc)
        return nxt
    return step


def _stx_step(insn, pc: int) -> Step:
    d, s, off, size, nxt = insn.dst, insn.src, insn.off, insn.spec.size, pc + 1
    def step(r, st):
        st.space.store((r[d] + off) & M64, size, r[s], pc)
        return nxt
    return step


def _atomic_step(insn, pc: int) -> Step:
    spec = insn.spec
    d, s, off, size, nxt = insn.dst, insn.src, insn.off, spec.size, pc + 1
    mask = (1 << spec.width) - 1
    if spec.op == "cmpxchg":
        def step(r, st):
            expected, new = r[0] & mask, r[s]
            r[0] = st.space.update((r[d] + off) & M64, size, pc,
                                   lambda old: new if old == expected else old)
            return nxt
    elif spec.op == "xchg":
        def step(r, st):
            new = r[s]
            r[s] = st.space.update((r[d] + off) & M64, size, pc, lambda old: new)
            return nxt
    else:
        f = sem.alu_function(spec.op, spec.width)
        fetch = spec.fetch
        def step(r, st):
            operand = r[s]
            old = st.space.update((r[d] + off) & M64, size, pc, lambda v: f(v, operand))
            if fetch:
                r[s] = old
            return nxt
    return step


_BUILDERS: dict[Kind, Callable] = {
    Kind.ALU: _alu_step, Kind.NEG: _neg_step, Kind.END: _end_step,
    Kind.JA: _ja_step, Kind.JCOND: _jcond_step,
    Kind.CALL: _call_step, Kind.CALLX: _callx_step, Kind.CALL_BTF: _call_btf_step,
    Kind.CALL_LOCAL: _call_local_step, Kind.EXIT: _exit_step,
    Kind.LDDW: _lddw_step, Kind.LDX: _ldx_step, Kind.LDSX: _ldx_step,
    Kind.ST: _st_step, Kind.STX: _stx_step, Kind.ATOMIC: _atomic_step,
}   # (and LD_PACKET, _packet_load_step, which takes the program type's headers)


def _charged(step: Step, pc: int, cost: int, budget: int, check: bool) -> Step:
    """Wrap a block's first step so that entering the block spends its cost,
    and, at a checkpoint, stops the run once the budget has gone negative."""
    if check:
        def checked_step(r, st):
            st.remaining -= cost
            if st.remaining < 0:
                raise BudgetExceeded(pc, budget)
            return step(r, st)
        return checked_step

    def charged_step(r, st):
        st.remaining -= cost
        return step(r, st)
    return charged_step


class Interpreter(TestRunnable):
    """A program prepared for interpretation; call it with a memory buffer.

    `helpers` maps helper ids to Python callables of (r1, r2, r3, r4, r5)
    returning r0.  `budget` caps the instructions one run may execute, `helper_calls`
    the helper calls (default: bpfjit.limits).  `context_accesses` are the verifier's
    context field accesses; `region_accesses` the unproven accesses it placed in one
    region (pc -> "mem", "stack", or a map's index: its values), which must lie there
    (as the JITs check them).
    """

    engine = "interp"

    def __init__(self, prog: Program, *, helpers: Mapping[int, Helper] | None = None,
                 budget: int = DEFAULT_BUDGET, context_accesses: frozenset[int] = frozenset(),
                 frames: int = MAX_CALL_DEPTH, helper_calls: int | None = None,
                 stack_used: int | None = None, callbacks: Mapping[int, int] | None = None,
                 region_accesses: Mapping[int, str | int] | None = None,
                 iterated: Mapping[int, tuple[int, ...]] | None = None):
        check_structure(prog)
        if not isinstance(budget, int) or budget < 1:
            raise BpfError(f"budget must be a positive int, got {budget!r}")
        if type(frames) is not int or not 1 <= frames <= MAX_CALL_DEPTH:
            raise BpfError(f"frames must be an int from 1 to {MAX_CALL_DEPTH}, got {frames!r}")
        if stack_used is not None and (type(stack_used) is not int
                                       or not 0 <= stack_used <= frames * STACK_SIZE):
            raise BpfError(f"stack_used must be None or an int from 0 to {frames * STACK_SIZE} "
                           f"({frames} frame(s) of {STACK_SIZE} bytes), got {stack_used!r}")
        self.helper_calls = helper_call_limit(helper_calls)
        self.program = prog
        self.frames = frames          # stack frames a run can reach (helpers see no others)
        self.stack_used = stack_used  # of them, the bytes a run may touch (None: all)
        self._maps = prog.maps.list
        # the keys of the maps it walks (bpf_for_each_map_elem), read-only regions
        walked = {index for indices in (iterated or {}).values() for index in indices}
        self._keys = [(index, self._maps[index]) for index in sorted(walked)]
        # the sockets its lookups return: a read-only region, for the programs that look
        self._sockets = prog.env.sockets.view() if prog.env is not None and (any(
            insn.kind is Kind.CALL and insn.imm in SOCKET_LOOKUPS for insn in prog.insns)
            or any(m.spec.type in SOCKET_MAP_TYPES for m in self._maps)
            or prog.context == "sk_lookup") else None     # (its `sk`: the socket picked)
        # ... and their struct bpf_tcp_sock, for the programs that ask for it
        self._tcp_sockets = prog.env.sockets.tcp_view() if self._sockets is not None and any(
            insn.kind is Kind.CALL and insn.imm == TCP_SOCK for insn in prog.insns) else None
        self.helpers = {}
        self._current = threading.local()       # the address space of this thread's run
        if prog.env is not None:                 # the kernel's helpers, on this run's memory
            self.helpers.update(prog.env.helpers(lambda: self._current.space, "interp",
                                                 prog.prog_type, prog))
        self.helpers.update(helpers or {})
        self.budget = budget
        leaders = block_leaders(prog)
        costs = block_costs(prog, leaders)
        checkpoints = budget_checkpoints(prog)
        steps: list[Step | None] = [None] * prog.slot_count
        returns: list[Step] = []        # after the program: where callbacks return
        for pc, insn in prog:
            if pc in context_accesses:    # the verifier's rewritten context field accesses
                step = (_context_load_step if insn.kind is Kind.LDX
                        else _context_store_step)(insn, pc)
            elif insn.kind is Kind.LD_PACKET:
                step = _packet_load_step(insn, pc, legacy_headers(prog.prog_type))
            elif callbacks and pc in callbacks and insn.kind is Kind.CALL:
                back = prog.slot_count + len(returns)
                if iterated and pc in iterated:
                    step, back = _for_each_steps(pc, callbacks[pc], back, self._maps,
                                                 iterated[pc])
                else:
                    step, back = _loop_steps(pc, callbacks[pc], back)
                returns.append(back)
            else:
                step = _BUILDERS[insn.kind](insn, pc)
                if region_accesses and pc in region_accesses:
                    step = _region_only(step, insn, pc, region_accesses[pc])
            if pc in leaders:
                step = _charged(step, pc, costs[pc], budget, pc in checkpoints)
            steps[pc] = step
        self._steps = steps + returns
        self.last_executed = 0

    def __call__(self, mem: object = None) -> int:
        """Run once on `mem` (bytes-like or None; a context or a packet for an XDP, tc or
        socket program) and
        return r0 as an unsigned int."""
        return self._call(mem, self._steps)

    def trace(self, mem: object = None) -> tuple[list[int], int | BpfError]:
        """Run once like a call, recording the pc of every instruction executed: the pcs
        and r0, or the pcs and the BpfError the run ended with (for tests and tools;
        slower than a call)."""
        return self._recorded(mem, lambda pc, r: pc)

    def trace_registers(self, mem: object = None) -> tuple[list[tuple[int, tuple]],
                                                           int | BpfError]:
        """Like `trace`, with the registers r0-r10 as they were before each step (the
        fuzzer's coverage: bpfjit.fuzz.coverage)."""
        return self._recorded(mem, lambda pc, r: (pc, tuple(r)))

    def _recorded(self, mem: object, record: Callable[[int, list], object]):
        seen: list = []

        def traced(pc: int, step: Step) -> Step:
            def run(r, st):
                seen.append(record(pc, r))
                return step(r, st)
            return run
        steps = [step if step is None or pc >= self.program.slot_count else traced(pc, step)
                 for pc, step in enumerate(self._steps)]
        try:
            return seen, self._call(mem, steps)
        except BpfError as exc:
            return seen, exc

    def _call(self, mem: object, steps: list) -> int:
        if self.program.context is not None:
            ctx = CONTEXTS[self.program.context].wrap(mem)
            ctx.fill(MEM_BASE, CTX_BASE)
            view = memoryview(ctx.buffer)
            env = self.program.env
            outer = env.begin(ctx) if env is not None else None
            room = ctx.META_ROOM
            try:
                return self.run(view[ctx.HEADER - room:], context=view[:ctx.HEADER - room],
                                steps=steps, length=len(ctx), room=room, metalen=ctx.metalen,
                                context_socket=ctx.SOCKET_AT)
            finally:
                if env is not None:
                    env.end(outer)
                copy_back(mem, ctx)
        refuse_context(mem)
        return self.run(as_buffer(mem), steps=steps)

    def run(self, buf: memoryview, context: memoryview | None = None,
            steps: list | None = None, length: int | None = None, room: int = 0,
            metalen: int = 0, context_socket: int | None = None) -> int:
        """Run on an already-prepared writable byte view (and context block).  For a
        packet: `buf` has `room` bytes of metadata room (`metalen` in use) before it, then
        `length` bytes of packet, then room to grow into.  `context_socket`: where the
        block keeps the socket its `sk` field points at (read like any socket)."""
        space = AddressSpace(buf, self._maps, context, self.frames, length, room, metalen,
                             self.stack_used, self._keys, self._sockets, context_socket,
                             self._tcp_sockets)
        outer = getattr(self._current, "space", None)   # a helper may run us again
        self._current.space = space
        st = RunState(space, self.helpers, self.budget, self.helper_calls)
        r = [0] * 11
        if context is not None:
            r[1] = CTX_BASE
        elif len(buf):
            r[1] = MEM_BASE
            r[2] = len(buf)
        r[10] = STACK_TOP
        steps = self._steps if steps is None else steps
        pc = 0
        try:
            while True:
                pc = steps[pc](r, st)
        except _Halt:
            pass
        except TailCalled as done:          # the program a tail call ran has the last word
            r[0] = done.r0 & M64
        finally:
            self.last_executed = self.budget - st.remaining   # exact: blocks run whole
            self._current.space = outer
        return r[0]
