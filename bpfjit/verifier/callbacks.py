"""Helpers that call a subprogram back, in the abstract: bpf_loop and
bpf_for_each_map_elem.

`bpf_loop(nr, callback, ctx, flags)` calls `callback(i, ctx)` for i = 0, 1, ... below
nr until it returns 1.  The verifier reads it as a loop around a local call: the
callback (a FUNC value, one known subprogram) is entered with r1 in [0, trips - 1] and
r2 = ctx, a pointer into the caller's stack or 0, and the caller's state after the
call is the fixpoint of "no trip, or one more trip" — the join of the state before it
and the callback's summary applied to the state so far (what it writes through ctx
is seen by the next trip), widened after a few rounds.  As in the kernel, the callback
must return 0 or 1.

`bpf_for_each_map_elem(map, callback, ctx, flags)` is the same loop over the elements
of the map in r1 (an array, hash or LRU hash, per-CPU or not; or one of several known
maps, when clang merged calls on different maps or the map is an inner map of a map of
maps, and the engines choose by r1's handle): the callback gets r1 = the map, r2 = the
element's key (MAP_KEY: read only, every read proven inside it), r3 = its value (a map
value at offset 0) and r4 = ctx; r0 afterwards is the number of elements visited, at
most max_entries, or -EINVAL for flags.
"""

from __future__ import annotations

import errno

from ..helpers.loops import FOR_EACH_MAP_ELEM, MAX_LOOPS
from ..maps.base import MAP_TYPE_NAMES
from .domain import (FUNC, M32, MAP_KEY, MAP_PTR, MAP_VALUE, SCALAR, STACK, UNINIT, Value,
                     map_indices, pointer, scalar)
from .state import State, merge

__all__ = ["CallbackRules"]

# rounds of "one more trip" joined before the caller's state is widened
_JOINS_BEFORE_WIDENING = 3


class CallbackRules:
    """Mixed into the analysis: bpf_loop and bpf_for_each_map_elem."""

    def _loop_call(self, pc: int, st: State) -> list | None:
        """bpf_loop (or for_each_map_elem) at `pc`: the edge to the next instruction with
        the state after any number of trips, or [] while the callback has not returned
        yet."""
        self._remnants_stay(pc, st, "the callback")
        if self.prog.at(pc).imm == FOR_EACH_MAP_ELEM:
            return self._for_each_call(pc, st)
        nr, fn, ctx, flags = (self._read(st, reg, pc) for reg in (1, 2, 3, 4))
        if nr.kind != SCALAR:
            self.fail(pc, f"loop takes the number of trips in r1, not {nr.describe()}")
        target = self._callback_arguments(pc, "loop", fn, ctx, flags)
        trips = MAX_LOOPS if nr.umax > M32 else min(nr.umax, MAX_LOOPS)
        calls_back = trips > 0 and flags.umin == 0
        after = self._after_trips(pc, "loop", st, target, calls_back,
                                  lambda state: self._callback_entry(state, trips))
        if after is None:
            return []
        self._clobber_after_call(after)
        after.forget_register(0, self._loop_result(nr, flags, trips, calls_back))
        return [(pc + 1, after)]

    def _for_each_call(self, pc: int, st: State) -> list | None:
        """bpf_for_each_map_elem at `pc`: as bpf_loop, one trip per element of the map
        in r1, the callback entered with (map, key, value, ctx)."""
        name = "for_each_map_elem"
        handle, fn, ctx, flags = (self._read(st, reg, pc) for reg in (1, 2, 3, 4))
        if handle.kind != MAP_PTR:
            self.fail(pc, f"{name} takes a map in r1 (lddw rX, map), not {handle.describe()}")
        indices = map_indices(handle.maps)
        if not indices:
            self.fail(pc, f"{name} takes a map in r1, not {handle.describe()}")
        for index in indices:       # (several: clang merged calls, or a map of maps)
            the_map = self.maps[index]
            if not the_map.ITERABLE:
                kinds = ", ".join(MAP_TYPE_NAMES[t] for t in (2, 6, 1, 5, 9, 10))
                self.fail(pc, f"{name} walks {kinds} maps, not {the_map.name!r} "
                              f"({the_map.spec.type_name})")
        self._check_map_use(pc, name, handle, None)
        target = self._callback_arguments(pc, name, fn, ctx, flags)
        self._fact(self._note_iterated, pc, tuple(indices))
        calls_back = flags.umin == 0
        after = self._after_trips(pc, name, st, target, calls_back,
                                  lambda state: self._element_entry(state, handle))
        if after is None:
            return []
        self._clobber_after_call(after)
        low = -errno.EINVAL if flags.umax != 0 else 0
        most = max(self.maps[i].max_entries for i in indices)
        after.forget_register(0, scalar(smin=low, smax=most if calls_back else 0))
        return [(pc + 1, after)]

    def _callback_arguments(self, pc: int, name: str, fn: Value, ctx: Value,
                            flags: Value) -> int:
        """Check r2 (one subprogram's address), r3 (a stack pointer or 0) and r4 (flags);
        the callback's pc."""
        if fn.kind != FUNC or not fn.ident:
            self.fail(pc, f"{name} takes one subprogram's address in r2 (lddw rX, "
                          f"code_addr(...)), not {fn.describe()}")
        null = ctx.kind == SCALAR and ctx.is_const and ctx.umin == 0
        if ctx.kind != STACK and not null:
            self.fail(pc, f"{name} takes a pointer into the stack or 0 in r3 (what the "
                          f"callback gets in r{2 if name == 'loop' else 4}), not "
                          f"{ctx.describe()}")
        if flags.kind != SCALAR:
            self.fail(pc, f"{name} takes flags (0) in r4, not {flags.describe()}")
        if ctx.kind == STACK:
            self._fact(self._note_stack_reach, -ctx.smin)
        target = fn.ident - 1
        self._fact(self._note_callback, pc, target)
        return target

    def _after_trips(self, pc: int, name: str, st: State, target: int, calls_back: bool,
                     entry_of) -> State | None:
        """The caller's state after any number of trips of the callback at `target`
        (entered from `entry_of(state so far)`), or None while it has not returned."""
        after = st
        if not calls_back:
            return after
        rounds = 0
        while True:
            entry = None if self.checking else entry_of(after)
            summary = self._call_subprogram(target, entry, pc)
            if summary is None:
                return None
            r0 = summary.r0
            if r0.kind != SCALAR or r0.umax > 1:
                self.fail(pc, f"{name}'s callback (the subprogram at pc {target}) must "
                              f"return 0 or 1, not {r0.describe()}")
            once = after.copy()
            self._apply_frame_effects(once, summary)
            joined = merge([st, once])
            rounds += 1
            if rounds > _JOINS_BEFORE_WIDENING:
                joined = after.widen(joined, self.thresholds, frame_stops=self.frame_stops)
            if joined == after:
                return after
            after = joined

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

    def _element_entry(self, st: State, handle: Value) -> State:
        """for_each_map_elem's callback entry: r1 the map, r2 an element's key, r3 its
        value, r4 the caller's r3 (ctx)."""
        call = st.copy()
        call.copy_register(4, 3, st.regs[3])
        call.forget_register(1, handle)
        call.forget_register(2, pointer(MAP_KEY, 0, 0, maps=handle.maps))
        call.forget_register(3, pointer(MAP_VALUE, 0, 0, maps=handle.maps))
        call.forget_register(5, Value(UNINIT))
        return self._callee_entry(call)

    def _note_callback(self, pc: int, target: int) -> None:
        """The callback the call at pc makes: one on every path (a block run once per
        incoming path may be given another on each), as the engines call the one the
        verifier names."""
        found = self.callbacks.setdefault(pc, target)
        if found != target:
            self.fail(pc, f"the call is given the callback at pc {min(found, target)} on "
                          f"one path and the one at pc {max(found, target)} on another; "
                          f"bpfjit calls the one callback it finds for a call (give each "
                          f"its own call)")

    def _note_iterated(self, pc: int, indices: tuple[int, ...]) -> None:
        self.iterated[pc] = tuple(sorted(set(self.iterated.get(pc, ())) | set(indices)))
