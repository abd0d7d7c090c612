"""bpf_timer: bpf_timer_init (169), bpf_timer_set_callback (170), bpf_timer_start (171)
and bpf_timer_cancel (172), and firing the timers.

What a timer holds lives beside its map (bpfjit.maps.timers); the verifier's rules (a
pointer to the value's timer, the timer's own map to init, a callback that returns 0)
are bpfjit.verifier.timers'.  The results are the kernel's: init -EBUSY when the timer
is initialised already and -EINVAL for a clock other than CLOCK_MONOTONIC, REALTIME or
BOOTTIME; set_callback and start -EINVAL before init (start also before a callback is
named, and for flags other than BPF_F_TIMER_ABS and BPF_F_TIMER_CPU_PIN); cancel 1
when the timer was armed, else 0, -EDEADLK from the timer's own callback, and it
forgets the callback (start is -EINVAL again until the next set_callback).

A callback runs as the kernel calls it, `callback(map, key, value)`, through a small
program of its own (`trampoline`): it copies the key it is given to its stack, looks
the element up, and calls the callback subprogram of the program that named it with
the map, the key and the value.  The verifier checks that program when it checks the
one that names the callback, so a callback it refuses is refused at load time.
"""

from __future__ import annotations

import dataclasses
import errno
import threading

from ..asm import assemble
from ..isa import Kind
from ..maps.timers import CLOCKS, Timer
from ..program import Program
from ..semantics import M64
from .fields import value_field
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS", "TIMER_CALLBACK", "trampoline", "fire_due"]

TIMER_CALLBACK = "timer_callback"   # the attach type of a trampoline (returns 0)
BPF_F_TIMER_ABS, BPF_F_TIMER_CPU_PIN = 1, 2
MAX_CLOCKS = 16
_KTIME_MAX = (1 << 63) - 1
_running = threading.local()        # .timer: the Timer whose callback runs on this thread


def now(env, clock: int) -> int:
    """The time on a timer's clock (ns): env.realtime for CLOCK_REALTIME, else env.clock."""
    return env.realtime() if clock == 0 else env.clock()


def _init(call, r1, r2, r3, *_) -> int:
    m, slot = value_field(call, r1, "timer")
    flags = r3 & M64
    if flags >= MAX_CLOCKS or flags not in CLOCKS:
        return errno_result(errno.EINVAL)
    if slot in m.timers:
        return errno_result(errno.EBUSY)
    m.timers[slot] = Timer(flags)
    return 0


def _set_callback(call, r1, r2, *_) -> int:
    m, slot = value_field(call, r1, "timer")
    timer = m.timers.get(slot)
    if timer is None:
        return errno_result(errno.EINVAL)
    program, callback = call.program, r2 & M64
    root = getattr(program, "timer_root", None)
    if root is not None:            # named by a callback: its pc in the program it came from
        program, callback = root[0], callback - root[1]
    timer.program, timer.engine, timer.callback = program, call.engine, callback
    return 0


def _start(call, r1, r2, r3, *_) -> int:
    m, slot = value_field(call, r1, "timer")
    if r3 & M64 & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN):
        return errno_result(errno.EINVAL)
    timer = m.timers.get(slot)
    if timer is None or timer.callback is None:
        return errno_result(errno.EINVAL)
    nsecs = r2 & M64
    at = nsecs if r3 & BPF_F_TIMER_ABS else now(call.env, timer.clock) + nsecs
    timer.expires = min(at, _KTIME_MAX)
    return 0


def _cancel(call, r1, *_) -> int:
    m, slot = value_field(call, r1, "timer")
    timer = m.timers.get(slot)
    if timer is None:
        return errno_result(errno.EINVAL)
    if getattr(_running, "timer", None) is timer:
        return errno_result(errno.EDEADLK)
    armed = timer.expires is not None
    timer.expires = None
    timer.program = timer.engine = timer.callback = None
    return int(armed)


# ---- calling back --------------------------------------------------------------------------

def trampoline(program: Program, callback: int, map_index: int) -> Program:
    """A plain program that takes a key of map `map_index` as its buffer, looks the
    element up and calls `program`'s subprogram at pc `callback` with (map, key, value),
    returning what it returns (0 when the element is gone).  Its instructions are its own
    followed by `program`'s, whose entry it never reaches; attach type TIMER_CALLBACK."""
    key_size = program.env.maps.list[map_index].key_size
    room = -(-key_size // 8) * 8
    copy = []
    done = 0
    for width, suffix in ((8, "dw"), (4, "w"), (2, "h"), (1, "b")):
        while key_size - done >= width:
            copy.append(f"ldx{suffix} %r0, [%r6+{done}]\n"
                        f"stx{suffix} [%r10-{room - done}], %r0")
            done += width
    head = assemble(f"""
        mov %r6, %r1
        jlt %r2, {key_size}, gone
        {chr(10).join(copy)}
        lddw %r1, map_by_fd({map_index})
        mov %r2, %r10
        add %r2, -{room}
        call 1
        jeq %r0, 0, gone
        mov %r3, %r0
        lddw %r1, map_by_fd({map_index})
        mov %r2, %r10
        add %r2, -{room}
        call local gone
        exit
    gone:
        mov %r0, 0
        exit
    """)
    insns = list(head.insns)
    at = next(i for i, insn in enumerate(insns) if insn.kind is Kind.CALL_LOCAL)
    call_pc = head.pcs[at]
    insns[at] = dataclasses.replace(insns[at], imm=head.slot_count + callback - call_pc - 1)
    out = Program(insns + list(program.insns), env=program.env, attach_type=TIMER_CALLBACK)
    out.source_lines = {pc + head.slot_count: line
                        for pc, line in getattr(program, "source_lines", {}).items()}
    out.timer_root = (program, head.slot_count)     # the program, and where its pc 0 is
    return out


def fire_due(env) -> int:
    """Run every armed timer of `env`'s maps whose time has come, earliest first, each
    at most once; the number run (KernelEnv.run_timers)."""
    from .. import compile as compile_program
    fired: set[tuple[int, int]] = set()
    while True:
        due = []
        for index, m in enumerate(env.maps.list):
            for slot, timer in list(m.timers.items()):
                if timer.expires is not None and timer.callback is not None \
                        and (index, slot) not in fired and timer.expires <= now(env, timer.clock):
                    due.append((timer.expires, index, slot))
        if not due:
            return len(fired)
        _, index, slot = min(due)
        fired.add((index, slot))
        m = env.maps.list[index]
        timer = m.timers[slot]
        timer.expires = None
        cache = timer.program.__dict__.setdefault("_timer_callers", {})  # lives with it
        key = (timer.callback, index, timer.engine)
        fn = cache.get(key)
        if fn is None:
            fn = cache[key] = compile_program(trampoline(timer.program, timer.callback, index),
                                              timer.engine)
        _running.timer = timer
        try:
            fn(bytearray(m.key_of_slot(slot)))
        finally:
            _running.timer = None


HELPERS = [
    KernelHelper(169, "timer_init", Signature(("timer", "map", "any"), "errno"), _init,
                 "initialise the bpf_timer at r1 (of map r2) on clock r3"),
    KernelHelper(170, "timer_set_callback", Signature(("timer", "timer_callback"), "errno"),
                 _set_callback, "the subprogram r2 is called back when the timer fires "
                 "(env.run_timers())"),
    KernelHelper(171, "timer_start", Signature(("timer", "any", "any"), "errno"), _start,
                 "arm the timer to fire in r2 ns (at r2 with BPF_F_TIMER_ABS)"),
    KernelHelper(172, "timer_cancel", Signature(("timer",), "scalar"), _cancel,
                 "disarm the timer and forget its callback: 1 if it was armed, else 0"),
]
