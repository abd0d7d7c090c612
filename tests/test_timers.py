"""bpf_timer: timers in map values that call a subprogram back (helpers 169-172).

The fixture (tests/elf/timers.c) expires idle flows: each packet arms its flow's timer
for 1 s from now, and the callback adds the flow's packets to `expired[0]` and
deletes it; a second program runs a periodic 250 ms timer in an array.  Timers fire
when the test says so, `env.run_timers()`, against `env.clock`, which the tests set.
The expected values follow from the kernel's helpers (kernel/bpf/helpers.c): init is
-EBUSY on an initialised timer and -EINVAL for a clock other than 0, 1 and 7; start
and set_callback are -EINVAL before init (start also before a callback, or with
flags beyond BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN); cancel is 1 when the timer was
armed, else 0, forgets the callback, and is -EDEADLK from the timer's own callback;
an update or a delete of the element frees its timer.  The running kernel loads the
fixture (bpftool prog loadall), returns the same for each case of the helpers' results
(the kernel engine runs them) and refuses each program the verifier refuses; it cannot
fire timers at env.run_timers(), so the tests of firing skip it.
"""

import errno
from pathlib import Path

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map

ELF = Path(__file__).parent / "elf"
SECOND = 1_000_000_000
PERIOD = 250_000_000


def neg(code: int) -> int:
    return -code & (1 << 64) - 1


def not_on_the_kernel(engine: str) -> None:
    if engine == "kernel":
        pytest.skip("the kernel engine's timers fire in the kernel as time passes, not at "
                    "env.run_timers(), and its twin maps are refilled before each run, "
                    "which frees their timers")


def loaded(function: str, start: int = 5_000):
    """The fixture's `function`, its clock at `start` ns (a list the test moves)."""
    prog = bpfjit.load_elf(ELF / "timers.o", function=function)
    now = [start]
    prog.env.clock = lambda: now[0]
    return prog, now


def flow_packet(first: int, length: int = 14) -> bpfjit.XdpContext:
    return bpfjit.XdpContext(first.to_bytes(4, "little") + bytes(length - 4))


def flows(prog) -> dict[int, int]:
    """flow key -> packets counted (bytes 0-7 of the value)."""
    return {int.from_bytes(k, "little"): int.from_bytes(v[:8], "little")
            for k, v in prog.maps["flows"].items()}


def test_the_btf_places_each_timer_and_the_cli_lists_them(capsys):
    # struct flow { u64 packets; struct bpf_timer idle; u32 first_len; }: bytes 8-23;
    # struct ticker { struct bpf_timer timer; u64 fired; }: bytes 0-15
    from bpfjit.cli import main
    assert main(["maps", str(ELF / "timers.o")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "flows type=hash key=4 value=32 max_entries=16 timer=8",
        "ticks type=array key=4 value=24 max_entries=1 timer=0",
        "expired type=array key=4 value=8 max_entries=1"]


def test_idle_flows_expire(engine):
    not_on_the_kernel(engine)
    prog, now = loaded("track")
    fn = bpfjit.compile(prog, engine)
    for first in (1, 2, 1):
        assert fn(flow_packet(first)) == 2                    # XDP_PASS
    assert flows(prog) == {1: 2, 2: 1}
    now[0] += SECOND - 1
    assert prog.env.run_timers() == 0                         # 1 ns early
    now[0] += 1
    assert prog.env.run_timers() == 2
    assert flows(prog) == {} and prog.maps["expired"].ints() == {0: 3}


def test_each_packet_pushes_the_expiry_back(engine):
    not_on_the_kernel(engine)
    prog, now = loaded("track")
    fn = bpfjit.compile(prog, engine)
    fn(flow_packet(7))
    now[0] += SECOND * 6 // 10
    fn(flow_packet(7))
    now[0] += SECOND * 4 // 10                                 # 1 s after the first
    assert prog.env.run_timers() == 0 and flows(prog) == {7: 2}
    now[0] += SECOND * 6 // 10                                 # 1 s after the second
    assert prog.env.run_timers() == 1
    assert flows(prog) == {} and prog.maps["expired"].ints() == {0: 2}


def test_a_periodic_timer_arms_itself_again(engine):
    not_on_the_kernel(engine)
    prog, now = loaded("tick")
    fn = bpfjit.compile(prog, engine)
    ctx = bpfjit.XdpContext(bytes(14))
    assert fn(ctx) == 2                     # initialised: XDP_PASS
    assert fn(ctx) == 1                     # -EBUSY the second time: XDP_DROP
    fired = []
    for _ in range(3):
        now[0] += PERIOD
        fired.append(prog.env.run_timers())
        fired.append(prog.env.run_timers())         # at most once per call
    assert fired == [1, 0, 1, 0, 1, 0]
    value = prog.maps["ticks"][0]
    assert value[:16] == bytes(16)                  # the timer's bytes read as 0
    assert int.from_bytes(value[16:], "little") == 3


def test_an_update_or_a_delete_frees_the_timer(engine):
    not_on_the_kernel(engine)
    prog, now = loaded("tick")
    fn = bpfjit.compile(prog, engine)
    ctx = bpfjit.XdpContext(bytes(14))
    assert fn(ctx) == 2
    prog.maps["ticks"][0] = bytes(24)               # as the kernel's update: timer freed
    now[0] += PERIOD
    assert prog.env.run_timers() == 0
    assert fn(ctx) == 2                             # so init succeeds again
    track, now = loaded("track")
    fn = bpfjit.compile(track, engine)
    fn(flow_packet(3))
    del track.maps["flows"][3]
    now[0] += SECOND
    assert track.env.run_timers() == 0 and track.maps["expired"].ints() == {0: 0}


# ---- the helpers' results, on the fixture's `ticks` array (timer at byte 0) ---------------

def ticks_program(body: str, callback: str = "mov %r0, 0\nexit") -> bpfjit.Program:
    """`body` with r6 = &ticks[0] (its timer), then `callback` if the body names it (the
    kernel refuses unreachable code)."""
    env = bpfjit.load_elf(ELF / "timers.o", function="tick").env
    if "code_addr(callback)" not in body:
        callback = ""
    source = f"""
        stw [%r10-4], 0
        lddw %r1, map_by_fd(1)
        mov %r2, %r10
        add %r2, -4
        call 1
        jne %r0, 0, found
        exit
    found:
        mov %r6, %r0
        {body}
        exit
    callback:
        {callback}
    """
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env)


INIT = "mov %r1, %r6\nlddw %r2, map_by_fd(1)\nmov %r3, {clock}\ncall 169\n"
CALLBACK = "mov %r1, %r6\nlddw %r2, code_addr(callback)\ncall 170\n"
START = "mov %r1, %r6\nmov %r2, {ns}\nmov %r3, {flags}\ncall 171\n"
CANCEL = "mov %r1, %r6\ncall 172\n"


@pytest.mark.parametrize("body, result", [
    (INIT.format(clock=1), 0),
    (INIT.format(clock=0) + INIT.format(clock=7), neg(errno.EBUSY)),
    (INIT.format(clock=7), 0),
    (INIT.format(clock=2), neg(errno.EINVAL)),          # CLOCK_PROCESS_CPUTIME_ID
    (INIT.format(clock=17), neg(errno.EINVAL)),         # 16 and above: not a clock
    (CALLBACK, neg(errno.EINVAL)),                      # before init
    (START.format(ns=SECOND, flags=0), neg(errno.EINVAL)),  # before init
    (INIT.format(clock=1) + START.format(ns=SECOND, flags=0), neg(errno.EINVAL)),  # no callback
    (INIT.format(clock=1) + CALLBACK, 0),
    (INIT.format(clock=1) + CALLBACK + START.format(ns=SECOND, flags=3), 0),
    (INIT.format(clock=1) + CALLBACK + START.format(ns=SECOND, flags=4), neg(errno.EINVAL)),
    (CANCEL, neg(errno.EINVAL)),                        # before init
    (INIT.format(clock=1) + CANCEL, 0),                 # not armed
    (INIT.format(clock=1) + CALLBACK + START.format(ns=SECOND, flags=0) + CANCEL, 1),
    (INIT.format(clock=1) + CALLBACK + START.format(ns=SECOND, flags=0) + CANCEL + CANCEL, 0),
    # cancel forgets the callback: start wants a new one
    (INIT.format(clock=1) + CALLBACK + CANCEL + START.format(ns=SECOND, flags=0),
     neg(errno.EINVAL)),
    (INIT.format(clock=1) + CALLBACK + CANCEL + CALLBACK + START.format(ns=SECOND, flags=0), 0),
])
def test_the_helpers_return_what_the_kernel_returns(engine, body, result):
    assert bpfjit.compile(ticks_program(body), engine)(bytearray(8)) == result


def test_an_absolute_time_and_the_realtime_clock(engine):
    not_on_the_kernel(engine)
    prog = ticks_program(INIT.format(clock=0) + CALLBACK + START.format(ns=900, flags=1),
                         callback="ldxdw %r0, [%r3+16]\nadd %r0, 1\nstxdw [%r3+16], %r0\n"
                                  "mov %r0, 0\nexit")
    prog.env.clock = lambda: 10_000                 # monotonic: not this timer's clock
    wall = [899]
    prog.env.realtime = lambda: wall[0]
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 0
    assert prog.env.run_timers() == 0
    wall[0] = 900                                   # BPF_F_TIMER_ABS: at 900 exactly
    assert prog.env.run_timers() == 1
    assert int.from_bytes(prog.maps["ticks"][0][16:], "little") == 1


def test_a_callback_cannot_cancel_its_own_timer(engine):
    not_on_the_kernel(engine)
    # the callback stores what bpf_timer_cancel of its own timer returned
    prog = ticks_program(INIT.format(clock=1) + CALLBACK + START.format(ns=0, flags=0),
                         callback="mov %r6, %r3\nmov %r1, %r3\ncall 172\n"
                                  "stxdw [%r6+16], %r0\nmov %r0, 0\nexit")
    prog.env.clock = lambda: 0
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 0
    assert prog.env.run_timers() == 1
    assert prog.maps["ticks"][0][16:] == neg(errno.EDEADLK).to_bytes(8, "little")


# ---- what the verifier refuses, as the kernel's does ------------------------------------

REFUSED = [
    ("mov %r1, %r6\nadd %r1, 8\ncall 172", "mov %r0, 0\nexit",
     "pc 11: timer_cancel: r1 points to byte 8 of a value of map 'ticks', whose struct "
     "bpf_timer is at byte 0"),
    ("mov %r1, %r6\nlddw %r2, map_by_fd(0)\nmov %r3, 1\ncall 169", "mov %r0, 0\nexit",
     "timer_init: the timer in r1 is in map 'ticks', but r2 is map 'flows'"),
    ("ldxdw %r0, [%r6+8]", "mov %r0, 0\nexit",
     "pc 9: a 8-byte load at r6\\+8 may touch the struct bpf_timer of map 'ticks'"),
    ("mov %r1, %r6\nmov %r2, 0\ncall 170", "mov %r0, 0\nexit",
     "timer_set_callback takes one subprogram's address in r2"),
    (CALLBACK, "mov %r0, 1\nexit",
     "pc 12: the timer callback at pc 14, of map 'ticks': a timer callback returns 0, as "
     "the kernel checks; r0 may be 1"),
    (CALLBACK, "ldxdw %r0, [%r3+24]\nmov %r0, 0\nexit",
     "pc 14: r3\\+24 is outside the 24-byte value of map 'ticks' .*\\(the timer callback "
     "at pc 14, of map 'ticks'\\)"),
]


@pytest.mark.parametrize("body, callback, message", REFUSED)
def test_what_the_verifier_refuses(body, callback, message):
    prog = ticks_program(body, callback)
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)


def test_the_callback_gets_the_map_the_key_and_the_value(engine):
    not_on_the_kernel(engine)
    # the callback adds the key it is given (ticks: index 0) + 5 to the value's counter,
    # through map_update_elem on the map it is given
    prog = ticks_program(INIT.format(clock=1) + CALLBACK + START.format(ns=0, flags=0),
                         callback="""
        ldxw %r4, [%r2+0]
        add %r4, 5
        stxdw [%r10-8], %r4
        ldxdw %r4, [%r3+16]
        stxdw [%r10-16], %r4
        stxdw [%r10-24], %r4
        ldxdw %r4, [%r10-8]
        stxdw [%r10-8], %r4
        mov %r3, %r10
        add %r3, -24
        mov %r4, 0
        call 2
        mov %r0, 0
        exit""")
    prog.env.clock = lambda: 0
    bpfjit.compile(prog, engine)(bytearray(8))
    assert prog.env.run_timers() == 1
    # r3 points to 24 bytes: the counter (0) twice and key + 5 at bytes 16-23
    assert prog.maps["ticks"][0] == bytes(16) + (5).to_bytes(8, "little")


def test_only_hash_lru_and_array_maps_hold_timers():
    with pytest.raises(bpfjit.BpfError, match="a percpu_array map cannot hold a struct "
                                              "bpf_timer"):
        make_map(MapSpec("per_cpu", 6, 4, 16, 1, timer=0))
    with pytest.raises(bpfjit.BpfError, match="does not fit its 16-byte values 8-byte"):
        make_map(MapSpec("odd", 2, 4, 16, 1, timer=4))


@pytest.mark.parametrize("case", range(len(REFUSED)))
def test_the_kernel_refuses_them_too(case):
    from types import SimpleNamespace
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import compile_kernel
    prog = ticks_program(*REFUSED[case][:2])
    with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
        compile_kernel(SimpleNamespace(source=prog, program=prog))


def test_a_callback_may_name_itself_again(engine):
    # the kernel's own timer test re-arms a timer with the callback that is running:
    # naming a subprogram for a timer is no call (it runs later, on its own), so the
    # callback that names itself is no recursion; each firing counts at bytes 16-23
    not_on_the_kernel(engine)
    prog = ticks_program(INIT.format(clock=1) + CALLBACK + START.format(ns=0, flags=0),
                         callback="""
        mov %r6, %r3
        ldxdw %r0, [%r6+16]
        add %r0, 1
        stxdw [%r6+16], %r0
        mov %r1, %r6
        lddw %r2, code_addr(callback)
        call 170
        mov %r1, %r6
        mov %r2, 1000
        mov %r3, 0
        call 171
        mov %r0, 0
        exit""")
    now = [0]
    prog.env.clock = lambda: now[0]
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 0
    assert prog.env.run_timers() == 1
    now[0] += 1000
    assert prog.env.run_timers() == 1
    assert int.from_bytes(prog.maps["ticks"][0][16:], "little") == 2


def test_only_a_code_address_going_straight_to_set_callback_is_no_call():
    from bpfjit.cfg import timer_callback_addresses
    straight = ticks_program(INIT.format(clock=1) + CALLBACK)
    lddw = next(pc for pc, insn in straight if insn.src == 4 and insn.kind.name == "LDDW")
    assert timer_callback_addresses(straight) == {lddw}
    # copied on the way (it could reach a bpf_loop from the copy): a call, as any other
    copied = ticks_program(INIT.format(clock=1) + CALLBACK.replace(
        "call 170", "mov %r7, %r2\ncall 170"))
    assert timer_callback_addresses(copied) == frozenset()
