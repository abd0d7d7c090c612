"""Which context a kernel helper acts on, when JIT code calls it from Python.

A helper such as bpf_xdp_adjust_head works on the context of the run that called it.
JIT runs do not note their context per thread before every run (that note cost ~180 ns
of a ~700 ns call); a helper finds it from the run's packet address instead.  These
tests hold that to hand-computed results where several contexts are in play at once:
a helper that starts a run on another context, a program run from two threads, and a
context made afresh for packet bytes.
"""

import threading

import pytest

import bpfjit
from skb_programs import asm_program, contexts_noted

XDP_ADJUST_HEAD = 44
RUN_OTHER = 200         # a helper of the test's own: runs another program
XDP_PASS = 2

def _grows_head(delta: int, first: str = "") -> str:
    """r0 = the packet's length after `first` and bpf_xdp_adjust_head(ctx, delta) (at
    least 14 bytes, an Ethernet header, must remain, or the helper fails: r0 = 1000)."""
    return f"""
    mov r6, r1
    {first}
    mov r1, r6
    mov r2, {delta}
    call {XDP_ADJUST_HEAD}
    jne r0, 0, failed
    ldxw r2, [r6+0]
    ldxw r3, [r6+4]
    mov r0, r3
    sub r0, r2
    exit
failed:
    mov r0, 1000
    exit
"""


OUTER = _grows_head(-8, f"call {RUN_OTHER}")     # helper RUN_OTHER first
INNER = _grows_head(-2)


def test_a_helper_acts_on_its_own_run_context_when_a_helper_ran_another(python_helper_engine):
    inner = bpfjit.compile(asm_program(INNER), python_helper_engine, cache=False)
    seen = []

    def run_other(*args):
        other = bpfjit.XdpContext(bytes(20))
        seen.append(inner(other))           # 20 + 2 bytes
        seen.append(len(other.packet))
        return 0
    outer = bpfjit.compile(asm_program(OUTER), python_helper_engine, cache=False,
                           helpers={RUN_OTHER: run_other})
    ctx = bpfjit.XdpContext(bytes(64))
    assert outer(ctx) == 64 + 8
    assert len(ctx.packet) == 72
    assert seen == [22, 22]


def test_a_helper_finds_the_context_made_for_packet_bytes(python_helper_engine):
    fn = bpfjit.compile(asm_program(INNER), python_helper_engine, cache=False)
    assert fn(bytes(30)) == 32
    assert fn(bytearray(16)) == 18
    assert fn(bytearray(12)) == 14
    assert fn(bytearray(11)) == 1000    # 13 bytes: -EINVAL, less than an Ethernet header


def test_runs_on_two_threads_each_adjust_their_own_context(python_helper_engine):
    fn = bpfjit.compile(asm_program(INNER), python_helper_engine, cache=False)
    results: dict[int, list[int]] = {20: [], 40: []}

    def work(size):
        for _ in range(300):
            ctx = bpfjit.XdpContext(bytes(size))
            results[size].append(fn(ctx))
    threads = [threading.Thread(target=work, args=(size,)) for size in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[20] == [22] * 300 and results[40] == [42] * 300


def test_jit_runs_note_no_context_per_thread(python_helper_engine, monkeypatch):
    # the interpreter notes its run's context (KernelEnv.begin); JIT code is found by
    # its packet address, and its calls skip the note
    began = contexts_noted(monkeypatch)
    fn = bpfjit.compile(asm_program(INNER), python_helper_engine, cache=False)
    ctx = bpfjit.XdpContext(bytes(16))
    assert fn(ctx) == 18
    if hasattr(fn, "run_batch"):
        assert fn.run_batch(bpfjit.XdpContext(bytes(16)), 3)[0] == 16 + 3 * 2   # (one packet)
    assert (began == []) == (python_helper_engine != "interp")
