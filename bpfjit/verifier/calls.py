"""Calls and exits in the abstract: helpers, bpf-to-bpf calls, and what a call returns.

A local call's callee is analysed from the join of the states its call sites pass
(arguments, their relations, the buffer length known), and leaves a summary for its
callers: r0 at its exits (uninitialised if some exit does not set it: a `void`
function; only a caller that reads r0 is then wrong, as in the kernel), the least
buffer length every return has shown, and which bytes of its callers' frames it may
have written, so that their spills and written-byte masks stay true.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .domain import (ANY_CALLER, CTX, MAP_OR_NULL, MAP_PTR, MAP_VALUE, MEM, POINTERS,
                     SCALAR, STACK, UNINIT, Value, join, map_indices, pointer, replace,
                     scalar, top_scalar, widen)
from .state import LEN, State
from .zone import MIRROR

__all__ = ["CallRules", "Summary"]

_MAP_HELPER_ARGS = {1: (2,), 2: (2, 3), 3: (2,)}     # pointer arguments of the map helpers
_HELPER_RESULTS = {7: scalar(0, (1 << 32) - 1), 8: scalar(0, 0)}   # known result ranges


@dataclass
class Summary:
    """What callers learn from a subprogram's returns."""
    r0: Value | None = None            # join over its exits; None: it has not returned yet
    min_len: int | None = None         # every return has seen a buffer at least this long
    # frame depth (1 = the caller's) -> (lo, hi): the offsets it may have written there
    frame_writes: dict[int, tuple[int, int]] = field(default_factory=dict)
    unknown_writes: bool = False       # it wrote through a pointer the verifier lost
    changes: int = 0                   # analyses that changed it (recursion widens it)

    def key(self) -> tuple:
        return (self.r0, self.min_len, tuple(sorted(self.frame_writes.items())),
                self.unknown_writes)


class CallRules:
    """Mixed into the analysis: CALL, CALLX, CALL_LOCAL and EXIT."""

    # ---- helpers ------------------------------------------------------------------------

    def _helper_call(self, pc: int, insn, st: State) -> None:
        helper = insn.imm
        if self.helpers is not None and helper not in self.helpers:
            self.fail(pc, f"call to helper {helper}, which is not registered "
                          f"(pass helpers={{{helper}: function}})")
        result = self._map_helper(pc, helper, st) if self.maps else None
        self._clobber_after_call(st)
        st.forget_register(0, result or _HELPER_RESULTS.get(helper, top_scalar()))

    def _map_helper(self, pc: int, helper: int, st: State) -> Value | None:
        """Check a map helper's arguments as the kernel does; r0's value, for a lookup."""
        if helper not in _MAP_HELPER_ARGS:
            return None
        handle = self._read(st, 1, pc)
        if handle.kind != MAP_PTR:
            self.fail(pc, f"helper {helper} takes a map in r1 (lddw rX, map), not "
                          f"{handle.describe()}")
        for reg in _MAP_HELPER_ARGS[helper]:
            arg = self._read(st, reg, pc)
            if arg.kind not in (STACK, MEM, MAP_VALUE):
                self.fail(pc, f"helper {helper} takes a pointer to the stack, the buffer or a "
                              f"map value in r{reg}, not {arg.describe()}")
        if helper != 1:
            return None
        if self.checking:   # an array lookup whose key is read in bounds may be inlined
            maps = map_indices(handle.maps)
            fits = len(maps) == 1 and self._in_bounds(st, 2, st.regs[2], 0,
                                                      self.maps[maps[0]].key_size)
            self.lookups[pc] = maps[0] if fits else None
        return Value(MAP_OR_NULL, 0, 0, 0, 0, maps=handle.maps, ident=pc + 1)

    def _packet_load(self, pc: int, insn, st: State) -> None:
        """ldabs/ldind, the legacy packet loads: r6 must hold the socket buffer; like a
        helper call they clobber r1-r5, and r0 is the loaded (zero-extended) value."""
        if self.context != "skb":
            self.fail(pc, "legacy packet loads (ldabs/ldind) need a socket filter or tc "
                          "program, with struct __sk_buff in r6")
        if len(self.ranges) > 1:
            self.fail(pc, "legacy packet loads (ldabs/ldind) cannot be mixed with "
                          "bpf-to-bpf calls, as in the kernel")
        ctx = self._read(st, 6, pc)
        if ctx.kind != CTX or ctx.smin != 0 or ctx.smax != 0:
            self.fail(pc, f"legacy packet loads read the packet of the context in r6, "
                          f"which holds {ctx.describe()}")
        if insn.spec.op == "ind":
            offset = self._read(st, insn.src, pc)
            if offset.kind != SCALAR:
                self.fail(pc, f"ldind takes a number in r{insn.src}, not {offset.describe()}")
        self._clobber_after_call(st)
        st.forget_register(0, scalar(0, (1 << insn.spec.width) - 1))

    @staticmethod
    def _clobber_after_call(st: State) -> None:
        for i in range(1, 6):
            st.regs[i] = Value(UNINIT)
            st.zone.forget(i)

    def _callx(self, pc: int, insn, st: State) -> None:
        self._read(st, insn.dst, pc)
        self._clobber_after_call(st)
        st.forget_register(0)

    # ---- local calls ------------------------------------------------------------------------

    def _local_call(self, pc: int, insn, st: State) -> bool:
        """Enter the callee with this call site's arguments and apply its summary;
        False while the callee has not returned on any path yet (nothing follows)."""
        target = pc + 1 + insn.imm
        if not self.checking:
            self._enter(target, self._callee_entry(st))
        summary = self.summaries.get(target)
        if summary is None or summary.r0 is None:
            self._waiting[target].add(self.current)
            return False
        for depth, (lo, hi) in summary.frame_writes.items():
            if depth in (1, ANY_CALLER):
                st.write_frame(lo, hi)
            if depth != 1:              # a frame further up: this function's callers'
                self._note_frame_write(depth if depth == ANY_CALLER else depth - 1, lo, hi)
        if summary.unknown_writes:
            self._forget_frame(st)
            self._note_frame_write(None, 0, 0)
        self._clobber_after_call(st)
        r0 = summary.r0
        if r0.kind == UNINIT:           # a `void` function: fine unless r0 is read
            r0 = Value(UNINIT, ident=target + 1)
        elif r0.kind == STACK:      # the callee's frame is gone; its callers' move down one
            r0 = replace(r0, frame=r0.frame - 1) if r0.frame >= 1 else top_scalar()
        st.forget_register(0, r0)
        if summary.min_len is not None and summary.min_len > st.min_len:
            st.clamp(LEN, summary.min_len, None)
        return True

    @staticmethod
    def _callee_entry(st: State) -> State:
        regs = [Value(UNINIT)] * 11
        for i in range(1, 6):
            v = st.regs[i]
            if v.kind == STACK and v.frame != ANY_CALLER:
                v = replace(v, frame=v.frame + 1)
            if v.kind == MAP_OR_NULL:
                v = replace(v, ident=0)         # its copies stay behind in the caller
            regs[i] = v
        regs[10] = pointer(STACK, 0, 0)
        zone = st.zone.copy()
        zone.drop_where(lambda var: 1 <= var <= 5 or var == LEN or 1 <= var - MIRROR <= 5)
        return State(regs, {}, 0, zone, st.min_len)

    def _note_frame_write(self, depth: int | None, lo: int, hi: int) -> None:
        """The current subprogram writes its caller's (depth 1), its caller's caller's
        (2)... frame at offsets [lo, hi), or one of them (ANY_CALLER); depth None:
        somewhere unknown."""
        summary = self._summary(self.current)
        if depth is None:
            summary.unknown_writes = True
            return
        if depth == 0:
            return
        old = summary.frame_writes.get(depth)
        summary.frame_writes[depth] = (lo, hi) if old is None else (min(old[0], lo),
                                                                    max(old[1], hi))

    # ---- exits ------------------------------------------------------------------------------

    def _exit(self, pc: int, st: State) -> None:
        if self.current == 0:           # the program's end (a recursive call of it too)
            r0 = self._read(st, 0, pc)
            if self.mode == "strict" and (r0.kind in POINTERS or r0.kind in (MAP_PTR,
                                                                            MAP_OR_NULL)):
                self.fail(pc, f"strict mode: the program returns a pointer "
                              f"({r0.describe()}), which would leak an address")
        summary = self._summary(self.current)
        r0 = st.regs[0]
        if summary.r0 is None:
            summary.r0 = r0
        elif summary.changes > self.widen_after:     # recursion: make it converge
            summary.r0 = widen(summary.r0, join(summary.r0, r0), self.thresholds[0])
        else:
            summary.r0 = join(summary.r0, r0)
        summary.min_len = st.min_len if summary.min_len is None else min(summary.min_len,
                                                                         st.min_len)

    def _summary(self, sub: int) -> Summary:
        summary = self.summaries.get(sub)
        if summary is None:
            summary = self.summaries[sub] = Summary()
        return summary
