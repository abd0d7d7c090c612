"""bpf_timer in the abstract, as the kernel's verifier has it: the helpers take a
pointer to the `struct bpf_timer` of a map value (at the timer's constant offset, as a
spin lock: LockRules._field_argument), bpf_timer_init the very map the timer is in,
and bpf_timer_set_callback one known subprogram, which the kernel later calls with
(map, key, value) and which must return 0.  No load or store touches a timer's bytes
(LockRules._touches_fields).

Each (set_callback pc, callback, map) is recorded in `timer_callbacks`; bpfjit.verifier
then checks the callback as the program that calls it back
(bpfjit.helpers.timers.trampoline), so a callback the kernel would refuse is refused
when the program that names it is verified."""

from __future__ import annotations

from .domain import FUNC, Value, map_indices

__all__ = ["TimerRules"]


class TimerRules:
    """Mixed into the analysis: the timer helpers' arguments."""

    def _timer_callback(self, pc: int, name: str, reg: int, fn: Value, maps: int | None
                        ) -> None:
        """r`reg` must name one subprogram; it is called back for the maps' timers."""
        if fn.kind != FUNC or not fn.ident:
            self.fail(pc, f"{name} takes one subprogram's address in r{reg} (lddw rX, "
                          f"code_addr(...)), not {fn.describe()}")
        for index in map_indices(maps or 0):
            self._fact(self._note_timer_callback, pc, fn.ident - 1, index)

    def _same_timer_map(self, pc: int, name: str, timer_maps: int, handle: Value) -> None:
        """bpf_timer_init's map is the one its timer is in, as the kernel checks."""
        if handle.maps != timer_maps:
            mine = ", ".join(repr(self.maps[i].name) for i in map_indices(timer_maps))
            given = ", ".join(repr(self.maps[i].name) for i in map_indices(handle.maps))
            self.fail(pc, f"{name}: the timer in r1 is in map {mine}, but r2 is map {given}; "
                          f"a timer is initialised with its own map")

    def _note_timer_callback(self, pc: int, target: int, index: int) -> None:
        self.timer_callbacks.add((pc, target, index))
