"""The verifier: reject malformed programs with a clear reason, and prove accesses safe.

    verify(prog, mode="checked", helpers=None, log=False) -> VerifiedProgram

1. Structure (bpfjit.cfg): jump and call targets, lddw halves, falling through.
2. The call graph: at most 8 frames deep (the kernel's limit); recursion is bounded
   at run time in checked mode and rejected in strict mode.
3. Abstract interpretation (bpfjit.verifier.analysis): registers are written before
   they are read and stack bytes before some path reads them, r10 is never written,
   r0 is set at the main program's exit, helpers are registered, and each load and
   store is proven in bounds or not.

Modes: "checked" (default) runs unproven accesses with a runtime check;
"strict" rejects any unproven access, any pointer leak and any loop it cannot prove
to terminate, as the kernel does; "unchecked" trusts the program and the engines
check nothing (unsafe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..cfg import (check_size, check_structure, code_addresses, subprogram_ranges,
                   timer_callback_addresses)
from ..errors import BpfError, VerifierError
from ..isa import LDDW_CODE, MAX_CALL_DEPTH, OPCODES, STACK_SIZE, Insn, Kind
from .. import cache as disk
from ..asm import format_insn
from ..program import Program
from .analysis import Analysis
from .peeling import reprove_by_peeling

__all__ = ["verify", "VerifiedProgram", "MODES", "reasoning_until_rejection"]

MODES = ("checked", "strict", "unchecked")
_STORE_KINDS = frozenset((Kind.ST, Kind.STX, Kind.ATOMIC))
_CALL_KINDS = frozenset((Kind.CALL, Kind.CALL_BTF, Kind.CALLX))


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
    # pc -> the map indices r1 may be, for map_lookup_elem / update_elem / delete_elem
    # calls whose key (and value) reads are in bounds for each: a JIT may do them
    # itself (array lookups, hash maps); and the program arrays r2 may be at a
    # tail_call, the maps r1 may be at a redirect_map, whose entries a JIT may test
    map_calls: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # local calls can recurse (checked mode only): the engines must bound the depth
    recursive: bool = False
    # unproven buffer accesses with bounded offsets: pc -> (first byte, end byte) from
    # the buffer's start; a buffer at least `end` long proves them (bpfjit.checkplan)
    extents: dict[int, tuple[int, int]] = field(default_factory=dict)
    # proven stack accesses: pc -> (frame, first byte, end byte), the bytes under the
    # top of the frame (0: the access's own subprogram's, k: its k-th caller's) that
    # it may touch (bpfjit.loopaddress: which slots a loop's stores leave alone)
    stack_extents: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # loop head pc -> {register: (lo, hi)}: the registers holding a number within those
    # bounds (signed, or unsigned: the narrower) whenever the head runs, checked mode
    # only (bpfjit.checkplan hoists checks with them)
    head_ranges: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    # proven accesses whose offset varies (a mispredicted branch before one could carry
    # it out of its region, so a JIT clamps it: bpfjit.speculation): pc -> the maps a
    # map value it touches may be in (empty for the buffer and the stack)
    variable: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # how many bytes under the top of a frame any access or helper of a run may touch
    # (a multiple of ZERO_STEP; the whole frame when an access is checked at run time
    # against the live frames): the engines zero only that much of the deepest frame
    stack_depth: int = STACK_SIZE
    # the verdict's name in the code cache (bpfjit.cache), None when not cached: the
    # engines cache their code under it
    cache_name: str | None = field(default=None, compare=False, repr=False)
    # the program as given, before context field accesses were rewritten into block
    # accesses (`program`): what the kernel engine loads into the kernel
    source: Program | None = field(default=None, compare=False, repr=False)
    # bpf_loop call pc -> the pc of the callback subprogram it calls (r2's FUNC value)
    callbacks: dict[int, int] = field(default_factory=dict)
    # the bpf_for_each_map_elem calls among them -> the maps (indices) r1 may name there
    iterated: dict[int, tuple[int, ...]] = field(default_factory=dict)
    # legacy packet loads (ldabs/ldind) whose offset may be negative: a header named by
    # SKF_NET_OFF or SKF_LL_OFF, which the kernel engine's socket filter runs place
    # otherwise than bpfjit does
    header_loads: frozenset[int] = frozenset()
    # helper calls a JIT may make natively (verifier.calls.NATIVE_MEMORY_HELPERS: csum_diff,
    # skb_load_bytes, skb_store_bytes): every byte their memory
    # arguments reach lies in bounds, or their size is 0 (backends.helperops)
    native_helpers: frozenset[int] = frozenset()
    # unproven accesses whose base is the own frame's pointer on every run: pc -> the
    # lowest and highest offset of the first byte from r10 (checked mode; a JIT may
    # mask an index it then knows cannot be negative: backends.llvm._masked_index)
    stack_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    # unproven accesses whose base points into the values of one map on every run: pc
    # -> that map's index (checked mode): the engines check such an access against
    # that map's value arena alone, one range, with no barrier under speculation
    map_regions: dict[int, int] = field(default_factory=dict)
    # extensions that change nothing (checked and strict modes): the pcs of fused
    # `lsh r, 32; rsh|arsh r, 32 + k` pairs (the lsh's) and of `w = w'` moves whose
    # operand is below 2^32 (in the signed 32-bit range for arsh) on every run, which a
    # JIT may take as the plain value (shifted right by k) and its 64-bit copy; none in
    # a program with an instruction verified as its 32-bit twin (verifier.lowhalves)
    exact_extensions: frozenset[int] = frozenset()

    @property
    def stack_used(self) -> int:
        """The bytes under the top of the stack a run may touch: every frame but the
        deepest whole, and `stack_depth` of that one.  The engines zero them at entry,
        and helpers are given pointers into them only (the rest is never written)."""
        return (self.frames - 1) * STACK_SIZE + self.stack_depth

    @property
    def stats(self) -> str:
        """The last line of `bpfjit verify --stats`."""
        return f"accesses={len(self.accesses)} proven={len(self.proven)}"

    @property
    def writes_memory(self) -> bool:
        """Whether a run may write the caller's memory: a store or atomic not known to
        touch only the stack or a map value, or a helper call (a helper may be handed
        the buffer).  When it cannot, the JITs take read-only memory (bytes) in place."""
        cached = self.__dict__.get("_writes_memory")
        if cached is None:
            cached = self.__dict__["_writes_memory"] = self._writes_beyond(("stack", "map"))
        return cached

    @property
    def writes_beyond_stack(self) -> bool:
        """Whether a run may leave anything behind but its result: a store or atomic a
        run can reach that is not known to touch only its stack, or a helper call.  A
        run that cannot may be run again (bpfjit.budgetahead)."""
        cached = self.__dict__.get("_writes_beyond_stack")
        if cached is None:
            cached = self.__dict__["_writes_beyond_stack"] = self._writes_beyond(
                ("stack",), frozenset(self.unreachable))
        return cached

    @property
    def writes_context(self) -> bool:
        """Whether a run may store to a field of its context (the JITs read the
        writable fields back into the context's attributes after such a run only)."""
        return any(insn.kind in _STORE_KINDS and self.regions.get(pc) == "ctx"
                   for pc, insn in self.program)

    def _writes_beyond(self, kept: tuple[str, ...], skipped: frozenset = frozenset()) -> bool:
        """Whether an instruction but those at `skipped` calls a helper, or stores or
        does an atomic not known to touch only the regions in `kept`."""
        return any(
            insn.kind in _CALL_KINDS
            or (insn.kind in _STORE_KINDS and self.regions.get(pc) not in kept)
            for pc, insn in self.program if pc not in skipped)

    def needs_check(self, pc: int) -> bool:
        """Whether the access at `pc` must be checked at run time in this mode."""
        return self.mode == "checked" and pc not in self.proven


def _call_graph(prog: Program) -> tuple[list[int], int, tuple[int, int] | None]:
    """Subprograms with every caller before its callees (as far as cycles allow), the
    deepest chain of frames a run can reach, and the first call found (depth first from
    the entry) that re-enters a running subprogram, if calls can recurse.

    Without recursion the chain is bounded statically, and one deeper than the kernel's
    8 frames is a VerifierError naming the call.  With recursion, a run can reach all
    8 frames and the engines stop a call that would exceed them (CallDepthExceeded).
    """
    ranges = subprogram_ranges(prog)
    starts = [first for first, _ in ranges]
    calls: dict[int, list[tuple[int, int]]] = {first: [] for first in starts}
    sub = iter(ranges)
    first, end = next(sub)
    timers = timer_callback_addresses(prog)     # run later, on their own: no calls
    for pc, insn in prog:
        while pc >= end:
            first, end = next(sub)
        if insn.kind is Kind.CALL_LOCAL or (insn.kind is Kind.LDDW and insn.src == LDDW_CODE
                                            and pc not in timers):
            calls[first].append((pc, pc + 1 + insn.imm))    # a callback runs a frame deeper
    order: list[int] = []
    state: dict[int, str] = {}
    recursion: tuple[int, int] | None = None
    stack = [(0, iter(calls[0]))]
    state[0] = "active"
    while stack:                    # depth-first, without Python recursion
        node, it = stack[-1]
        for pc, callee in it:
            if state.get(callee) == "active":
                recursion = recursion or (pc, callee)
            elif callee not in state:
                state[callee] = "active"
                stack.append((callee, iter(calls[callee])))
                break
        else:
            stack.pop()
            state[node] = "done"
            order.append(node)
    order.reverse()
    order += [first for first in starts if first not in state]
    if recursion is not None:
        return order, MAX_CALL_DEPTH, recursion
    depth: dict[int, int] = {}
    for node in reversed(order):    # callees first
        depth[node] = 1 + max((depth.get(callee, 1) for _, callee in calls[node]), default=0)
    frames = depth.get(0, 1)
    if frames > MAX_CALL_DEPTH:     # name the call that goes one frame too deep
        node, level = 0, 1
        while True:
            pc, callee = max(calls[node], key=lambda c: depth[c[1]])
            if level + 1 > MAX_CALL_DEPTH:
                raise VerifierError(pc, f"this call would be frame {level + 1}; at most "
                                        f"{MAX_CALL_DEPTH} frames (7 nested calls) are allowed")
            node, level = callee, level + 1
    return order, frames, None


def _signatures(prog: Program, helpers) -> dict:
    """id -> Signature or None.  From a dict: its Signatures and Nones as they are, and
    a helper function's declared signature (a bpfjit.Helper) or None; from ids: the
    kernel's signatures for a loaded object, None otherwise."""
    from ..helpers import Signature, signature_of
    if isinstance(helpers, dict):
        return {hid: given if given is None or isinstance(given, Signature)
                else signature_of(hid, given, False) for hid, given in helpers.items()}
    return {hid: signature_of(hid, None, prog.env is not None, prog.context)
            for hid in helpers}


def _verify_timer_callback(prog: Program, call_pc: int, callback: int, index: int, mode: str,
                           signatures) -> None:
    """Check the subprogram at `callback`, which bpf_timer_set_callback at `call_pc`
    names for a timer of map `index`, as the kernel will call it: (map, key, value),
    returning 0 (bpfjit.helpers.timers.trampoline).  VerifierError at its pc."""
    from ..helpers.timers import trampoline
    root = getattr(prog, "timer_root", None)    # named by a callback: check it once, in
    shift = 0                                   # the program it came from
    if root is not None:
        prog, shift = root
        call_pc, callback = call_pc - shift, callback - shift
    checked = prog.__dict__.setdefault("_timer_callbacks_checked", set())
    key = (callback, index, mode, None if signatures is None else frozenset(signatures.items()))
    if key in checked:          # checked already, or being checked (it names itself)
        return
    checked.add(key)
    caller = trampoline(prog, callback, index)
    offset = caller.timer_root[1]
    try:
        verify(caller, mode, signatures)
    except VerifierError as exc:
        checked.discard(key)
        where = f"the timer callback at pc {callback}, of map {prog.maps.list[index].name!r}"
        pc = exc.pc - offset if exc.pc >= offset else call_pc
        reason = f"{exc.reason} ({where})" if exc.pc >= offset else f"{where}: {exc.reason}"
        raise VerifierError(pc + shift, reason) from None     # (at the caller's pcs)


def verify(prog: Program, mode: str = "checked", helpers=None, log: bool = False,
           cache: bool = True) -> VerifiedProgram:
    """Check `prog` and compute its facts; VerifierError(pc, reason) when it is rejected.

    `helpers` are the helpers calls may name: ids, or a dict of id -> Signature (None:
    unknown arguments) or the helper itself (a bpfjit.Helper declares its signature);
    the kernel's helpers of a loaded object have their signatures from the registry.
    None skips the check.  An accepted program's verdict is kept in the code cache
    (bpfjit.cache) unless `cache` is False or a log is asked for.
    """
    if not isinstance(prog, Program):
        raise BpfError(f"verify() takes a bpfjit.Program, not {type(prog).__name__}")
    if mode not in MODES:
        raise BpfError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    # a program's verdict depends only on the program, the mode and the helper ids, so it
    # is kept with the program: compiling it again, or for another engine, reuses it
    # (the size limit is checked first: it may have been lowered since)
    check_size(prog)
    signatures = None if helpers is None else _signatures(prog, helpers)
    key = (mode, None if signatures is None else frozenset(signatures.items()))
    cache_on = cache and disk.enabled()
    cache = prog.__dict__.setdefault("_verified", {})
    if not log and key in cache:
        return cache[key]
    name = verdict_name(prog, mode, signatures) if cache_on and not log else None
    if name is not None:
        hit = disk.load("verdict", name)
        if hit is not None:
            verified = _from_record(prog, mode, hit[0])
            if verified is not None:
                verified.cache_name = name
                cache[key] = verified
                return verified
    check_structure(prog)
    order, frames, recursion = _call_graph(prog)
    if recursion is not None and code_addresses(prog):
        pc, callee = recursion
        raise VerifierError(pc, f"recursion: the call to pc {callee} re-enters a subprogram "
                                f"that is still running, in a program with callbacks "
                                f"(bpfjit bounds recursion only through calls)")
    if recursion is not None and mode == "strict":
        pc, callee = recursion
        raise VerifierError(pc, f"strict mode: recursion: the call to pc {callee} re-enters "
                                f"a subprogram that is still running (the kernel refuses "
                                f"recursion; checked mode bounds it at run time)")
    analysis = _analysed(prog, signatures, order, mode, log, recursion is not None)
    for call_pc, callback, index in sorted(analysis.timer_callbacks):
        _verify_timer_callback(prog, call_pc, callback, index, mode, signatures)
    for index in analysis.constant_maps:     # what it read is now fixed, as the kernel does
        prog.maps.list[index].freeze()
    # accesses a short loop's joined trips left unproven: its trips analysed apart
    peeled = reprove_by_peeling(prog, analysis, lambda program, limit, watch: _analysed(
        program, signatures, [0], mode, False, False, limit, watch)) \
        if mode != "unchecked" else {}
    accesses = tuple(sorted(analysis.accesses))
    proven = frozenset(pc for pc, ok in analysis.accesses.items() if ok)
    if mode == "strict":
        unproven = [pc for pc in accesses if pc not in proven]
        if unproven:
            pc = unproven[0]
            raise VerifierError(pc, f"strict mode: cannot prove that "
                                    f"`{format_insn(prog.at(pc))}` stays in bounds")
        analysis.prove_termination()
    unreachable = tuple(pc for pc in prog.pcs if pc not in analysis.reached)
    lines = []
    if log:
        for pc, insn in prog:
            state = analysis.log.get(pc)
            text = format_insn(insn)
            if pc in peeled:
                state = f"{state} ; proven with the loop at pc {peeled[pc]} peeled " \
                        f"(its trips analysed apart)"
            lines.append(f"{pc}: {text:<32} ; {state}" if state is not None
                         else f"{pc}: {text:<32} ; unreachable")
    regions = {pc: r for pc, r in analysis.regions.items() if r is not None}
    original = prog
    if analysis.ctx_accesses:
        prog = _rewrite_context_accesses(prog, analysis.ctx_accesses)
    wired = _hard_wired(analysis)
    if wired:
        prog = _hard_wire(prog, wired)
    map_calls = {pc: m for pc, m in analysis.map_calls.items() if m is not None}
    verified = VerifiedProgram(prog, mode, proven, accesses, unreachable, regions, lines,
                               frames, map_calls, recursion is not None,
                               extents={pc: e for pc, e in analysis.extents.items()
                                        if e is not None} if mode == "checked" else {},
                               stack_extents={pc: e for pc, e in analysis.stack_extents.items()
                                              if e is not None and pc in proven},
                               # (every access of a strict program is proven, so the
                               # intervals hold of its runs; an unchecked one's stray
                               # store could move a counter anywhere)
                               head_ranges=analysis.head_ranges() if mode != "unchecked"
                               else {},
                               variable={pc: tuple(sorted(maps)) for pc, maps
                                         in analysis.variable.items() if pc in proven},
                               stack_depth=_rounded_depth(analysis.stack_reach),
                               source=original, callbacks=dict(analysis.callbacks),
                               iterated=dict(analysis.iterated),
                               header_loads=frozenset(analysis.header_loads),
                               native_helpers=frozenset(
                                   pc for pc, ok in analysis.native_helpers.items() if ok),
                               stack_ranges={pc: r for pc, r in analysis.stack_ranges.items()
                                             if r is not None and pc not in proven
                                             and regions.get(pc) == "stack"}
                               if mode == "checked" else {},
                               map_regions=_map_regions(prog, analysis, proven, regions)
                               if mode == "checked" else {},
                               exact_extensions=frozenset(
                                   pc for pc, ok in analysis.extension_fits.items() if ok)
                               if mode != "unchecked" and not analysis.twinned
                               else frozenset())
    if not log:
        original.__dict__["_verified"][key] = verified
    verified.cache_name = name
    if name is not None:
        disk.store("verdict", name, {
            "proven": sorted(proven), "accesses": accesses, "unreachable": unreachable,
            "regions": sorted(regions.items()), "frames": frames,
            "map_calls": sorted(map_calls.items()), "recursive": recursion is not None,
            "extents": sorted(verified.extents.items()),
            "stack_extents": sorted(verified.stack_extents.items()),
            "head_ranges": sorted((pc, sorted(regs.items()))
                                  for pc, regs in verified.head_ranges.items()),
            "variable": sorted(verified.variable.items()),
            "stack_depth": verified.stack_depth,
            "context": sorted(analysis.ctx_accesses.items()),
            "wired": sorted(wired.items()),
            "frozen": sorted(analysis.constant_maps),
            "callbacks": sorted(verified.callbacks.items()),
            "iterated": sorted(verified.iterated.items()),
            "header_loads": sorted(verified.header_loads),
            "native_helpers": sorted(verified.native_helpers),
            "stack_ranges": sorted((pc, lo, hi)
                                   for pc, (lo, hi) in verified.stack_ranges.items()),
            "map_regions": sorted(verified.map_regions.items()),
            "exact_extensions": sorted(verified.exact_extensions)})
    return verified


ZERO_STEP = 64          # the engines zero the stack 64 bytes at a time


def _map_regions(prog: Program, analysis: Analysis, proven: frozenset[int],
                 regions: dict[int, str]) -> dict[int, int]:
    """pc -> map index for the unproven accesses whose base points into the values of
    that one map on every run (VerifiedProgram.map_regions), where its arena holds an
    access of that size at all (else every region's check, which fails as surely)."""
    found = {}
    for pc, maps in analysis.checked_maps.items():
        if len(maps) == 1 and pc not in proven and regions.get(pc) == "map":
            index = next(iter(maps))
            if prog.maps.list[index].size >= prog.at(pc).spec.size:
                found[pc] = index
    return found


def _rounded_depth(reach: int) -> int:
    """`reach` bytes under a frame's top, rounded up to whole ZERO_STEPs (at most a
    frame)."""
    return min(STACK_SIZE, max(0, -(-reach // ZERO_STEP) * ZERO_STEP))


def verdict_name(prog: Program, mode: str, signatures) -> str:
    """The cache entry name of `prog`'s verdict: everything the verifier reads."""
    maps = [(type(m).__name__, m.spec, m.arena[:] if m.spec.read_only else None)
            for m in prog.maps.list]
    return disk.digest("verdict", disk.source_digest(), prog.to_bytes(), prog.context,
                       prog.prog_type, prog.attach_type, maps, mode, signatures)


def _from_record(prog: Program, mode: str, record: dict) -> VerifiedProgram | None:
    """A VerifiedProgram rebuilt from its cache record (None if the record is not one):
    the same rewriting of context accesses, the same maps frozen."""
    try:
        context = {int(pc): (int(off), int(size)) for pc, (off, size) in record["context"]}
        wired = {int(pc): bool(taken) for pc, taken in record["wired"]}
        frozen = [int(i) for i in record["frozen"]]
        program = _rewrite_context_accesses(prog, context) if context else prog
        verified = VerifiedProgram(
            _hard_wire(program, wired) if wired else program, mode,
            frozenset(int(pc) for pc in record["proven"]),
            tuple(int(pc) for pc in record["accesses"]),
            tuple(int(pc) for pc in record["unreachable"]),
            {int(pc): str(r) for pc, r in record["regions"]}, [], int(record["frames"]),
            {int(pc): tuple(int(i) for i in m) for pc, m in record["map_calls"]},
            bool(record["recursive"]),
            extents={int(pc): (int(lo), int(end)) for pc, (lo, end) in record["extents"]},
            stack_extents={int(pc): (int(frame), int(lo), int(end))
                           for pc, (frame, lo, end) in record["stack_extents"]},
            head_ranges={int(pc): {int(r): (int(lo), int(hi)) for r, (lo, hi) in regs}
                         for pc, regs in record["head_ranges"]},
            variable={int(pc): tuple(int(i) for i in maps)
                      for pc, maps in record["variable"]},
            stack_depth=_rounded_depth(int(record["stack_depth"])),
            source=prog,
            callbacks={int(pc): int(target) for pc, target in record["callbacks"]},
            iterated={int(pc): tuple(int(i) for i in maps)
                      for pc, maps in record["iterated"]},
            header_loads=frozenset(int(pc) for pc in record["header_loads"]),
            native_helpers=frozenset(int(pc) for pc in record["native_helpers"]),
            stack_ranges={int(pc): (int(lo), int(hi))
                          for pc, lo, hi in record["stack_ranges"]},
            map_regions={int(pc): int(index) for pc, index in record["map_regions"]},
            exact_extensions=frozenset(int(pc) for pc in record["exact_extensions"]))
        maps = [prog.maps.list[i] for i in frozen]
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    for the_map in maps:
        the_map.freeze()
    return verified


def _analysed(prog: Program, signatures, order: list[int], mode: str, log: bool,
              recursive: bool, work_limit: int | None = None,
              watch: Callable | None = None) -> Analysis:
    """The analysis of `prog`, run (`watch`: Analysis.watch).  A 32-bit NULL test that
    one run of the final pass decided and another did not (a packet pointer on one
    path, a number on another) is analysed again as a test on every path: its decided
    runs took one way only, which the engines follow only where the jump is
    hard-wired."""
    undecided: frozenset[int] = frozenset()
    while True:
        analysis = Analysis(prog, signatures, order, mode, want_log=log, recursive=recursive,
                            undecided=undecided)
        if work_limit is not None:
            analysis.work_limit = work_limit
        analysis.watch = watch
        analysis.run()
        mixed = {pc for pc, ways in analysis.null_tests.items()
                 if len(ways) > 1 and ways != {None}}
        if not mixed:
            return analysis
        undecided |= mixed


def _hard_wired(analysis: Analysis) -> dict[int, bool]:
    """pc -> whether it jumps, for the 32-bit NULL tests of packet pointers that every
    run of the final pass decided alike (bpfjit.verifier.branches: `_null_test_32`)."""
    return {pc: next(iter(ways)) for pc, ways in analysis.null_tests.items()
            if ways in ({True}, {False})}


_JA = next(spec for spec in OPCODES if spec.kind is Kind.JA)


def _hard_wire(prog: Program, wired: dict[int, bool]) -> Program:
    """The decided jumps made unconditional, as the kernel's verifier rewrites a jump
    one of whose ways no path takes: `ja` to the target for one that jumps, `ja +0` for
    one that does not (an instruction still, for the budget and every pc)."""
    insns = [Insn(_JA, 0, 0, insn.off if wired[pc] else 0, 0) if pc in wired else insn
             for pc, insn in prog]
    return prog.with_insns(insns)


def _rewrite_context_accesses(prog: Program, loads: dict[int, tuple[int, int]]) -> Program:
    """Context field accesses become accesses to the engines' context block, as the
    kernel's verifier rewrites them (a 32-bit `data` load becomes a 64-bit pointer
    load); stores keep their kind and size, at the field's offset in the block."""
    insns = []
    for pc, insn in prog:
        if pc in loads:
            offset, size = loads[pc]
            if insn.kind is Kind.LDX and size != insn.spec.size:
                spec = next(s for s in OPCODES if s.kind is Kind.LDX and s.size == size)
                insn = Insn(spec, insn.dst, insn.src, offset, 0)
            else:
                insn = Insn(insn.spec, insn.dst, insn.src, offset, insn.imm)
        insns.append(insn)
    return prog.with_insns(insns)


def reasoning_until_rejection(prog: Program, mode: str, helpers=None) -> str:
    """The verifier log up to the instruction it rejects, for `verify --log`."""
    try:
        recursive = _call_graph(prog)[2] is not None
    except BpfError:            # (too deep: refused before any state is worth showing)
        recursive = True
    analysis = Analysis(prog, None if helpers is None else _signatures(prog, helpers),
                        [first for first, _ in subprogram_ranges(prog)], mode, want_log=True,
                        recursive=recursive)
    try:
        analysis.run()
    except BpfError:
        pass
    lines = [f"{pc}: {format_insn(prog.at(pc)):<32} ; {state}"
             for pc, state in sorted(analysis.log.items())]
    return "\n".join(lines) + ("\n" if lines else "")
