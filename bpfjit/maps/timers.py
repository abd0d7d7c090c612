"""`struct bpf_timer` in map values: timers that call a subprogram back later.

A hash, LRU hash or array map whose value type has a `struct bpf_timer` member (its BTF
says where: `MapSpec.timer`, a byte offset) has a timer in every value.  A program
initialises it with bpf_timer_init (169) on a clock, names the subprogram to call with
bpf_timer_set_callback (170), arms it with bpf_timer_start (171) and disarms it with
bpf_timer_cancel (172), as in the kernel (bpfjit.helpers.timers).  A run never waits
for a timer: the kernel fires them from an interrupt, here they fire when a test says
so, `env.run_timers()`, on the engine of the run that named the callback.

What a timer holds lives beside the map (`Map.timers`: slot -> Timer), not in its
bytes, which read as 0 and which no update writes; as in the kernel, an update of the
element (from a program or from Python) or its deletion cancels and frees its timer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TIMER_SIZE", "TIMER_TYPES", "CLOCKS", "Timer"]

TIMER_SIZE = 16                 # struct bpf_timer { __u64 __opaque[2]; }, 8-byte aligned
TIMER_TYPES = (1, 2, 9)         # hash, array, lru_hash: the kinds a value with a timer may be in
CLOCKS = {0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 7: "CLOCK_BOOTTIME"}


@dataclass
class Timer:
    """One initialised timer: its clock, the callback a program named (`program`'s
    subprogram at pc `callback`, on `engine`), and when it fires (`expires`, ns on its
    clock; None while disarmed)."""
    clock: int
    program: object = None
    engine: str | None = None
    callback: int | None = None
    expires: int | None = None
