"""Helpers that call a subprogram back, in the abstract: bpf_loop.

`bpf_loop(nr, callback, ctx, flags)` calls `callback(i, ctx)` for i = 0, 1, ... below
nr until it returns 1.  The verifier reads it as a loop around a local call: the
callback (a FUNC value, one known subprogram) is entered with r1 in [0, trips - 1] and
r2 = ctx, a pointer into the caller's stack or 0, and the caller's state after the
call is the fixpoint of "no trip, or one more trip" — the join of the state before it
and the callback's summary applied to the state so far (what it writes through ctx
is seen by the next trip), widened after a few rounds.  As in the kernel, the callback
must return 0 or 1.
"""

from __future__ import annotations

import errno

from ..helpers.loops import MAX_LOOPS
from .domain import FUNC, M32, SCALAR, STACK, UNINIT, Value, scalar
from .state import State, merge

__all__ = ["CallbackRules"]

# rounds of "one more trip" joined before the caller's state is widened
_JOINS_BEFORE_WIDENING = 3


class CallbackRules:
    """Mixed into the analysis: bpf_loop."""

    def _loop_call(self, pc: int, st: State) -> list | None:
        """bpf_loop at `pc`: the edge to the next instruction with the state after any
        number of trips, or [] while the callback has not returned yet."""
        nr, fn, ctx, flags = (self._read(st, reg, pc) for reg in (1, 2, 3, 4))
        if nr.kind != SCALAR:
            self.fail(pc, f"loop takes the number of trips in r1, not {nr.describe()}")
        if fn.kind != FUNC or not fn.ident:
            self.fail(pc, f"loop takes one subprogram's address in r2 (lddw rX, "
                          f"code_addr(...)), not {fn.describe()}")
        null = ctx.kind == SCALAR and ctx.is_const and ctx.umin == 0
        if ctx.kind != STACK and not null:
            self.fail(pc, f"loop takes a pointer into the stack or 0 in r3 (what the "
                          f"callback gets in r2), not {ctx.describe()}")
        if flags.kind != SCALAR:
            self.fail(pc, f"loop takes flags (0) in r4, not {flags.describe()}")
        if ctx.kind == STACK:
            self._fact(self._note_stack_reach, -ctx.smin)
        target = fn.ident - 1
        self._fact(self._note_callback, pc, target)
        trips = MAX_LOOPS if nr.umax > M32 else min(nr.umax, MAX_LOOPS)
        calls_back = trips > 0 and flags.umin == 0
        after = st
        if calls_back:
            rounds = 0
            while True:
                entry = None if self.checking else self._callback_entry(after, trips)
                summary = self._call_subprogram(target, entry)
                if summary is None:
                    return []
                r0 = summary.r0
                if r0.kind != SCALAR or r0.umax > 1:
                    self.fail(pc, f"loop's callback (the subprogram at pc {target}) must "
                                  f"return 0 or 1, not {r0.describe()}")
                once = after.copy()
                self._apply_frame_effects(once, summary)
                joined = merge([st, once])
                rounds += 1
                if rounds > _JOINS_BEFORE_WIDENING:
                    joined = after.widen(joined, self.thresholds)
                if joined == after:
                    break
                after = joined
        self._clobber_after_call(after)
        after.forget_register(0, self._loop_result(nr, flags, trips, calls_back))
        return [(pc + 1, after)]

    @staticmethod
    def _loop_result(nr: Value, flags: Value, trips: int, calls_back: bool) -> Value:
        """r0 after bpf_loop: the trips made, or -EINVAL (flags), or -E2BIG (too many)."""
        errors = flags.umax != 0 or min(nr.umax, M32) > MAX_LOOPS
        if not calls_back and not errors:
            return scalar(0, 0)
        low = -errno.EINVAL if errors else 0        # (-E2BIG, -7, lies above it)
        return scalar(smin=low, smax=trips if calls_back else 0)

    def _callback_entry(self, st: State, trips: int) -> State:
        """The callback's entry: r1 the trip's index, r2 the caller's r3 (ctx)."""
        call = st.copy()
        call.forget_register(1, scalar(0, trips - 1))
        call.copy_register(2, 3, st.regs[3])
        for reg in (3, 4, 5):
            call.forget_register(reg, Value(UNINIT))
        return self._callee_entry(call)

    def _note_callback(self, pc: int, target: int) -> None:
        self.callbacks[pc] = target
