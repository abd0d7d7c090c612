"""The runtime ABI shared by the JIT backends, and the Python side of a JIT call.

Generated code has the signature

    uint64_t entry(void *mem, uint64_t mem_len, struct bpfjit_run *run);

(layout of `run` in bpfjit.runfields).  A trap stores its code, pc and argument
in `run` and returns; JitProgram turns that into the same exception, with the
same pc and message, that the interpreter raises (both build it with
bpfjit.traps).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Callable, Mapping

from .errors import (BpfError, BpfTrap, BudgetExceeded, CallDepthExceeded, HelperArgumentError,
                     HelperCallsExceeded, MemoryAccessError, UnreachableReached)
from .limits import helper_call_limit
from .nativeclock import CLOCK_HELPERS, native_clock_address
from .isa import MAX_CALL_DEPTH
from .context import CONTEXTS, PacketContext, copy_packet_back, refuse_context
from .helpers import TailCalled
from .context.xdp import REDIRECT_AT
from .helpers.packet import XDP_RESIZING
from .helpers.redirect import REDIRECT, REDIRECT_MAP
from .memory import as_buffer
from .batchloop import batch_loop, rotation_loop
from .native import ENTRY_CTYPE, ffi
from .pycall import PythonEntries
from .runfields import TRAPPED
from .testrun import TestRunnable
from .traps import (WRITE_FLAG, TrapCode, btf_call, helper_bad_result, helper_failed,
                    helper_not_called, lddw_pseudo, unknown_helper)

__all__ = ["HelperTable", "JitProgram", "ContextJitProgram", "MAX_HELPER_ID", "helper_table", "JitMemory"]

M64 = (1 << 64) - 1
_BYTES = ffi.typeof("uint8_t[]")
_RUN_PTR = ffi.typeof("struct bpfjit_run *")
_from_buffer = ffi.from_buffer
_NULL = ffi.NULL
MAX_HELPER_ID = 0xFFFF          # helper tables are dense arrays up to the largest id


# ---- helpers as native function pointers -------------------------------------------------

class HelperTable:
    """Python helpers as native functions (bpfjit.pycall trampolines, in W^X memory) in
    a table indexed by helper id.

    A helper that raises, or returns something other than an int, sets the
    HELPER_FAILED trap and returns 0; the JIT code then stops at the call.
    """

    def __init__(self, helpers: Mapping[int, Callable] | None,
                 see_run: frozenset[int] = frozenset()):
        # per thread: the run structure of the helper call in progress (noted only for
        # the helpers in `see_run`, which read the run's memory), and a helper failure
        # waiting to be raised
        self.local = threading.local()
        helpers = dict(helpers or {})
        for hid, fn in helpers.items():
            if not isinstance(hid, int) or not 0 <= hid <= MAX_HELPER_ID:
                raise BpfError(f"helper ids must be ints from 0 to {MAX_HELPER_ID}, got {hid!r}")
            if not callable(fn):
                raise BpfError(f"helper {hid} is not callable")
        self.helpers = helpers
        self.size = max(helpers, default=-1) + 1
        self.table = ffi.new("void *[]", max(self.size, 1))
        self._runs: dict[int, object] = {}          # run structure address -> its cdata
        ids = sorted(helpers)
        self._entries = PythonEntries([self._wrap(hid, helpers[hid], hid in see_run)
                                       for hid in ids], run_arg=True) if ids else None
        self._python = {hid: self._entries.address(i) for i, hid in enumerate(ids)}
        for hid, address in self._python.items():
            self.table[hid] = ffi.cast("void *", address)
        self.clock_ids: tuple[int, ...] = ()    # the env's time helpers (set_native_clock)
        self.native: set[int] = set()           # the helpers native code answers

    def set_native(self, hid: int, address: int) -> None:
        """Point helper `hid` at native code with the helpers' signature (one the
        verifier proved safe to call so for this program: backends.helperops)."""
        if hid not in self._python:
            raise BpfError(f"helper {hid} is not in this table")
        self.table[hid] = ffi.cast("void *", address)
        self.native.add(hid)

    def answered_in_line(self, hid: int) -> None:
        """Note that JIT code answers some calls of helper `hid` itself, in line
        (bpf_redirect_map: backends.mapops), its table entry kept for the others."""
        self.native.add(hid)

    def set_native_clock(self, native: bool) -> None:
        """Point the kernel's time helpers at the native monotonic clock, or back at
        Python (bpfjit.nativeclock; the env calls this when its clock is replaced)."""
        address = native_clock_address() if native else None
        for hid in self.clock_ids:
            self.table[hid] = ffi.cast("void *", address or self._python[hid])

    def _run(self, address: int):
        """The run structure at `address` as cdata (runs on one thread reuse a few
        stack addresses, so the casts are kept)."""
        run = self._runs.get(address)
        if run is None:
            if len(self._runs) >= 64:
                self._runs.clear()
            run = self._runs[address] = ffi.cast(_RUN_PTR, address)
        return run

    def _wrap(self, hid: int, fn: Callable, see_run: bool) -> Callable:
        local, run_at = self.local, self._run

        def call(r1, r2, r3, r4, r5, run):
            # a kernel helper (`see_run`) finds the run's memory through the address
            # noted here (memory() casts it when the run changes); one frame for both
            # kinds, as every Python helper a run calls goes through it
            if see_run:
                state = local.__dict__
                outer = state.get("run")      # a helper may start a nested run
                state["run"] = run
            try:
                result = fn(r1, r2, r3, r4, r5)
                if not isinstance(result, int):
                    raise _BadResult(result)
                return result & M64
            except BaseException as exc:      # noqa: BLE001 - re-raised after the call
                local.failure = (hid, exc)
                run_at(run).trap = TrapCode.HELPER_FAILED
                return 0
            finally:
                if see_run:
                    state["run"] = outer
        return call

    def __contains__(self, helper_id: int) -> bool:
        return helper_id in self.helpers


class _BadResult(Exception):
    def __init__(self, result: object):
        self.result = result


class JitMemory:
    """A JIT run's memory as helpers see it: real addresses, checked against the buffer,
    the stack and the map values before any byte is touched."""

    def __init__(self, run, maps, address: int = 0):
        self.run = run
        self.maps = maps
        self.address = address          # the run structure's, as its helper wrapper got it

    def _inside(self, address: int, size: int) -> bool:
        """Whether [address, address + size) lies in the buffer, the stack or a map's
        values."""
        run = self.run
        for lo, hi in ((run.mem, run.mem + run.mem_len), (run.stack_lo, run.stack_hi)):
            if lo <= address and address + size <= hi:
                return True
        return self.maps.find(address, size) is not None

    def _check(self, address: int, size: int) -> None:
        if not self._inside(address, size):
            raise HelperArgumentError.outside(address, size)

    def read(self, address: int, size: int) -> bytes:
        # the keys a for_each walk points at may be read too (never written), looked
        # for last: most reads are of the stack, the buffer or a value
        if not self._inside(address, size) and self.maps.find_keys(address, size) is None:
            raise HelperArgumentError.outside(address, size)
        return ffi.unpack(ffi.cast("char *", address), size)

    def write(self, address: int, data: bytes) -> None:
        self._check(address, len(data))
        ffi.memmove(ffi.cast("uint8_t *", address), data, len(data))

    def map_address(self, index: int) -> int:
        return self.maps.list[index].address

    def socket_base(self, table) -> int:
        return table.address

    def tcp_socket_base(self, table) -> int:
        return table.tcp_address

    def packet(self) -> tuple[int, int]:
        return int(self.run.mem), int(self.run.mem_len)

    def set_packet_length(self, length: int, metalen: int = 0) -> None:
        """The JIT code reloads the length (and, from the context block, where the
        metadata starts) after a helper that changes the packet."""
        self.run.mem_len = length

    def end_run(self, r0: int) -> None:
        """End the run with `r0` when the helper returns (a tail call ran its program):
        the JIT code tests for TAIL_DONE after each call of bpf_tail_call and returns
        trap_arg from the program."""
        run = self.run
        run.trap_arg = r0 & M64
        run.trap = TrapCode.TAIL_DONE


def helper_table(program, helpers: Mapping[int, Callable] | None,
                 engine: str = "llvm") -> HelperTable:
    """The helper table of a JIT program: the caller's helpers, and the kernel's when the
    program was loaded from an object file (the caller's win on the same id)."""
    if program.env is None:
        return HelperTable(helpers)
    table: HelperTable | None = None
    maps = program.maps

    def memory() -> JitMemory:
        """The view of the run whose helper call is in progress on this thread (the
        address its wrapper noted; a view is made when the run changes)."""
        local = table.local.__dict__
        view, address = local.get("memory"), local["run"]
        if view is None or view.address != address:
            view = local["memory"] = JitMemory(table._run(address), maps, address)
        return view

    merged = program.env.helpers(memory, engine, program.prog_type, program)
    kernel = frozenset(merged) - frozenset(helpers or {})
    merged.update(helpers or {})
    table = HelperTable(merged, see_run=kernel)
    table.clock_ids = tuple(hid for hid in CLOCK_HELPERS if hid in kernel)
    if table.clock_ids:
        program.env.watch_clock(table)
    return table


# ---- calling JIT code ---------------------------------------------------------------------

# per thread: the trap the last run on it reported, until its caller takes it
_reports = threading.local()
_reporter: list = []


def _check_count(name: str, value: object) -> None:
    """A count of runs or rounds for the native loops: an int in [0, 2^63)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise BpfError(f"{name} must be a non-negative int, got {value!r}")


def _record_trap(address: int, *unused) -> int:
    run = ffi.cast(_RUN_PTR, address)
    _reports.trap = (int(run.trap), int(run.trap_pc), int(run.trap_arg), int(run.trap_size))
    return 0


def _trap_reporter():
    """The native function a trapping run calls with its run structure (one per process,
    a bpfjit.pycall trampoline)."""
    if not _reporter:
        entries = PythonEntries([_record_trap], note_failures=True)
        _reporter.extend((entries, ffi.cast("void *", entries.address(0))))
    return _reporter[1]


def _report_lost() -> bool:
    """Whether the last trap report on this thread failed to reach Python (Python raised
    before `_record_trap` ran: a RecursionError at the recursion limit); forgets it."""
    failed = _reporter[0].failed_thread
    if failed[0] and failed[0] == threading.get_ident():
        failed[0] = 0
        return True
    return False


class JitProgram(TestRunnable):
    """A compiled program in executable memory, callable like the interpreter.

    `memory` is the ExecMemory holding the code (kept alive here), `entry` the
    offset of the entry function.
    """

    _takes_redirect = False     # (ContextJitProgram: native code records redirects)
    _resizes = False            # (ContextJitProgram: native code resizes the frame)
    _map_names: tuple[str, ...] = ()

    def __init__(self, program, engine: str, memory, entry: int, helpers: HelperTable,
                 budget: int, extra: dict | None = None, helper_calls: int | None = None,
                 writes_memory: bool = True, rerun=None, writes_context: bool = True):
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise BpfError(f"budget must be a positive int, got {budget!r}")
        self.program = program
        self.engine = engine
        self.budget = budget
        self.helper_calls = helper_call_limit(helper_calls)
        self.helpers = helpers
        self.memory = memory
        self._entry = memory.function(ENTRY_CTYPE, entry)
        self._local = helpers.local
        # what every run starts from (each copies it into its own structure)
        self._config = config = ffi.new("struct bpfjit_run *")
        config.helpers = helpers.table
        config.n_helpers = helpers.size
        config.budget_limit = budget
        config.helper_calls = self.helper_calls
        config.report_trap = _trap_reporter()
        self.extra = extra or {}
        # a run without memory, its arguments bound (a C-level call: ~10 ns less than
        # passing them from Python)
        self._run_without_memory = functools.partial(self._entry, _NULL, 0, config)
        self._context = CONTEXTS.get(program.context)     # None: the plain convention
        # whether a run may write its memory (VerifiedProgram.writes_memory): if not,
        # read-only memory (bytes) is handed over in place rather than copied
        self._writes_memory = writes_memory
        # whether a run may store to a field of its context (VerifiedProgram.writes_context)
        self._writes_context = writes_context
        # code charged ahead (bpfjit.budgetahead): what compiles the exact code a run that
        # stopped on the budget runs again on, and that code once compiled
        self._rerun, self._exact = rerun, None

    @classmethod
    def from_image(cls, verified, engine: str, image, helpers: HelperTable,
                   budget: int | None, extra: dict,
                   helper_calls: int | None = None, rerun=None) -> "JitProgram":
        """Place a bpfjit.codeimage.CodeImage (its maps and helpers filled in) and wrap
        it as the compiled form of `verified` (a VerifiedProgram); `rerun` makes the
        exact code for an image charged ahead (bpfjit.budgetahead)."""
        from .interpreter import DEFAULT_BUDGET
        program = verified.program
        memory = image.place(program.maps.list, helpers)
        extra = dict(extra, symbols=image.symbols, text_range=image.text_range,
                     lines=image.lines)
        if program.context is not None and cls is JitProgram:
            cls = ContextJitProgram
        return cls(program, engine, memory, image.symbols["bpf_entry"], helpers,
                   DEFAULT_BUDGET if budget is None else budget, extra=extra,
                   helper_calls=helper_calls, writes_memory=verified.writes_memory,
                   rerun=rerun, writes_context=verified.writes_context)

    def _pointer(self, mem: object):
        """(pointer, length, keep-alive) for the caller's memory, without copying a
        writable buffer (bytes are copied once: the program may write to its memory)."""
        if self._context is not None:
            ctx = self._context.wrap(mem)
            ctx.fill(ctx.native_address)
            return ctx.native_packet, ctx.length, (ctx, None)
        refuse_context(mem)
        if mem is None:
            return _NULL, 0, None
        buf = as_buffer(mem)
        n = len(buf)
        return (_from_buffer(_BYTES, buf, True) if n else _NULL), n, buf

    def __call__(self, mem: object = None) -> int:
        """Run once on `mem` (bytes-like or None) and return r0 as an unsigned int."""
        # the hot path, kept flat: every Python-level step costs 10-40 ns next to the
        # ~240 ns of cffi's own call (see the README's figures)
        if mem is None:
            r0 = self._run_without_memory()
        else:
            try:
                if self._writes_memory:
                    # any writable contiguous buffer in place; bytes copied once, since
                    # the program may write to its memory
                    ptr = _from_buffer(_BYTES, mem if type(mem) is not bytes
                                       else bytearray(mem), True)
                else:           # it cannot: any contiguous buffer in place, bytes too
                    ptr = _from_buffer(_BYTES, mem, False)
            except Exception:                           # noqa: BLE001 - str, read-only, ...
                return self._call_converted(mem)
            n = len(ptr)                    # (the entry point gives r1 = 0 when it is 0)
            entry = self._entry
            r0 = entry(ptr, n, self._config)
        if r0 == TRAPPED:
            return self._ended(r0, mem)
        return r0

    def _call_converted(self, mem: object) -> int:
        """A run on memory cffi cannot point at directly: bytes (copied once), a
        non-contiguous or odd buffer (a clear error), a context (refused)."""
        ptr, n, keep = self._pointer(mem)      # noqa: F841 - alive for the call
        r0 = self._entry(ptr, n, self._config)
        if r0 == TRAPPED:
            return self._ended(r0, mem)
        return r0

    def _rerunning(self) -> "JitProgram | None":
        """The exact code, when the run that just returned TRAPPED stopped on the budget
        charged ahead (bpfjit.budgetahead): made once, it runs every later call too (a
        program that came that near its budget once will again)."""
        report = _reports.__dict__.get("trap")
        if report is None or report[0] != TrapCode.RERUN or self._rerun is None:
            return None
        del _reports.trap
        if self._exact is None:
            self._exact = exact = self._rerun()
            self._entry, self._run_without_memory = exact._entry, exact._run_without_memory
        return self._exact

    def _ended(self, r0: int, mem: object = None) -> int:
        """The result of a run that returned TRAPPED: r0 itself when the program returned
        that value, a tail call's result, the exception of the trap it reported, or,
        when it stopped on the budget charged ahead, the result of running `mem` again."""
        exact = self._rerunning()
        if exact is not None:
            return exact(mem)
        report = _reports.__dict__.pop("trap", None)
        lost = _report_lost()       # (forgotten in any case: an earlier one is stale)
        if report is None:
            if lost:
                raise BpfError("the program stopped on a trap whose report could not reach "
                               "Python (the exception was reported as unraisable)")
            return r0
        error = self._trap(*report)
        if isinstance(error, TailCalled):
            return error.r0 & M64
        try:
            raise error
        finally:
            # no cycle through this frame: a traceback cycle holding the caller's frame
            # (and its ffi.from_buffer pointer) makes the garbage collector crash in cffi
            del error

    def run_batch(self, mem: object, count: int) -> tuple[int, float]:
        """Run `count` times inside one native loop; returns (r0, ns per run).

        Each run gets the full budget; the same buffer is used every time.  A trap ends
        the batch (a tail call into a set slot ends its run only, with the r0 of the
        program it ran).
        """
        _check_count("count", count)
        ptr, n, keep = self._pointer(mem)
        loop, entry = batch_loop(), ffi.cast("void *", self._entry)
        start = time.perf_counter_ns()
        r0 = loop(entry, ptr, n, self._config, count)
        elapsed = time.perf_counter_ns() - start
        if self._resizes:
            keep[0].catch_up()          # (native code may have resized the frame)
        if self._takes_redirect:        # where the last run sent the packet
            keep[0].take_redirect(self._map_names)
        if r0 == TRAPPED:
            exact = self._rerunning()
            if exact is not None:
                return exact.run_batch(mem, count)
            r0 = self._ended(r0)
        return r0, elapsed / max(count, 1)

    def run_rotating(self, memories: list, rounds: int) -> tuple[int, float]:
        """Run once on each of `memories` in turn, `rounds` times over, inside one native
        loop; returns (the last run's r0, ns per run).  Timing programs on data the
        CPU has not just seen (corpus/speed.py); plain memory only, no context.  A trap
        ends the loop, as in run_batch."""
        _check_count("rounds", rounds)
        if self._context is not None:
            raise BpfError("run_rotating takes plain memory; this program runs on a context")
        memories = list(memories)
        pointers = [self._pointer(mem) for mem in memories]
        pairs = ffi.new("uint64_t[]", 2 * len(pointers) or 1)
        for k, (ptr, n, _) in enumerate(pointers):
            pairs[2 * k], pairs[2 * k + 1] = int(ffi.cast("uintptr_t", ptr)), n
        loop, entry = rotation_loop(), ffi.cast("void *", self._entry)
        start = time.perf_counter_ns()
        r0 = loop(entry, pairs, len(pointers), self._config, rounds)
        elapsed = time.perf_counter_ns() - start
        if r0 == TRAPPED:
            exact = self._rerunning()
            if exact is not None:
                return exact.run_rotating(memories, rounds)
            r0 = self._ended(r0)
        return r0, elapsed / max(rounds * len(pointers), 1)

    def _trap(self, code: int, pc: int, arg: int, size: int) -> BpfTrap | BaseException:
        code = TrapCode(code)
        if code is TrapCode.MEMORY:
            return MemoryAccessError(pc, arg, size & 0xFF, write=bool(size & WRITE_FLAG))
        if code in (TrapCode.BUDGET, TrapCode.RERUN):
            # (RERUN comes only from code charged ahead, which _rerunning runs again)
            return BudgetExceeded(pc, self.budget)
        if code is TrapCode.HELPER_CALLS:
            return HelperCallsExceeded(pc, self.helper_calls)
        if code is TrapCode.CALL_DEPTH:
            return CallDepthExceeded(pc, MAX_CALL_DEPTH)
        if code is TrapCode.UNREACHABLE:
            return UnreachableReached(pc)
        if code is TrapCode.HELPER_UNKNOWN:
            return unknown_helper(pc, arg)
        if code is TrapCode.BTF_CALL:
            return btf_call(pc, arg)
        if code is TrapCode.LDDW_PSEUDO:
            return lddw_pseudo(pc, arg)
        hid, failure = self._local.__dict__.pop("failure", (-1, None))
        if failure is None:     # Python failed before the helper ran (bpfjit.pycall)
            return helper_not_called(pc)
        if isinstance(failure, _BadResult):
            return helper_bad_result(pc, hid, failure.result)
        if isinstance(failure, (BpfError, TailCalled)) or not isinstance(failure, Exception):
            return failure          # a BpfError passes through; KeyboardInterrupt too
        error = helper_failed(pc, hid, failure)
        error.__cause__ = failure
        return error


class ContextJitProgram(JitProgram):
    """A compiled program with a context (XDP, tc, socket filter, cgroup): called with
    its context (or a packet to put in one), it returns r0 and leaves the packet and
    writable fields in the context.

    The context block and the packet share one buffer, whose native address the context
    keeps; the entry point is given the packet and finds the block just before it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # whether the context has fields a program may write and this one stores to one
        # (read back after a run)
        self._reads_back = self._context.read_back is not PacketContext.read_back \
            and self._writes_context
        # whether native code may record a redirect in the block (backends.helperops,
        # backends.mapops), and the names of the maps one may go through
        self._takes_redirect = bool({REDIRECT, REDIRECT_MAP} & self.helpers.native)
        # whether native code may resize the frame (backends.helperops)
        self._resizes = bool(XDP_RESIZING & self.helpers.native)
        self._map_names = tuple(m.name for m in self.program.maps.list) \
            if self._takes_redirect and self.program.maps is not None else ()
        # the context the last call with packet bytes made, kept to be refilled by the
        # next (PacketContext._reload: as fresh as a new one, without making one);
        # popped by the call using it, so a nested or concurrent call makes its own
        self._spares: list = []
        self._reuses = self._context._reload is not PacketContext._reload

    def _context_for(self, mem: object):
        """A context for the packet `mem` (bytes, a buffer, a scapy packet)."""
        spares = self._spares
        if spares:
            try:
                ctx = spares.pop()
            except IndexError:          # (another thread took it)
                pass
            else:
                if ctx._reload(mem):
                    return ctx
                # (a packet longer than it has room for: the context made now, with
                # room for this one, takes its place after the call)
        return self._context.wrap(mem)

    def __call__(self, mem: object = None) -> int:
        """Run once on a context, or on a packet's bytes (a context is made for it)."""
        ctx = mem if type(mem) is self._context else self._context_for(mem)
        address = ctx.native_address
        if ctx.block_for != address:
            ctx.fill(address)
        else:                           # the block is as the last JIT run left it
            ctx.redirect = None
        # (a helper finds the context by its packet: bpfjit.context.base.context_at)
        r0 = self._entry(ctx.native_packet, ctx.length, self._config)
        if self._resizes:               # (native code may have resized the frame)
            ctx.catch_up()
        if self._takes_redirect and ctx.buffer[REDIRECT_AT]:   # (a record is set)
            ctx.take_redirect(self._map_names)
        if mem is not ctx:
            copy_packet_back(mem, ctx)
            if self._reuses and not self._spares:
                self._spares.append(ctx)
        elif self._reads_back:
            ctx.read_back()
        if r0 == TRAPPED:
            return self._ended(r0, mem)
        return r0
