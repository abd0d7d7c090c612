"""The kernel's time helpers read the env's clock; while that is the monotonic clock,
JIT code reads it natively (bpfjit.nativeclock), and a clock a test sets is read from
Python again, in programs compiled before the change as in those compiled after."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
TIME_HELPERS = [5, 125, 160]          # ktime_get_ns, ktime_get_boot_ns, ktime_get_coarse_ns


def clock_program(env, helper: int) -> bpfjit.Program:
    """r0 = the helper's time, then the time again minus the first (never negative)."""
    text = f"call {helper}\nmov %r6, %r0\ncall {helper}\nsub %r0, %r6\nlsh %r0, 63\n" \
           f"or %r0, %r6\nexit"
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp",
                          prog_type="xdp")


@pytest.mark.parametrize("helper", TIME_HELPERS)
def test_the_default_clock_is_the_monotonic_clock(engine, helper):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    fn = bpfjit.compile(clock_program(env, helper), engine)
    before = time.monotonic_ns()
    result = fn(bpfjit.XdpContext(bytes(20)))
    after = time.monotonic_ns()
    # the first reading lies between the two around the run; the second is not earlier
    # (bit 63 holds the second reading's difference shifted up: 0 or its lowest bit)
    assert before <= result & (2**63 - 1) <= after


@pytest.mark.parametrize("helper", TIME_HELPERS)
def test_a_clock_set_after_the_compile_is_read(engine, helper):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    fn = bpfjit.compile(clock_program(env, helper), engine)
    env.clock = lambda: 12_345
    assert fn(bpfjit.XdpContext(bytes(20))) == 12_345        # twice the same: difference 0
    env.clock = time.monotonic_ns                             # and back
    before = time.monotonic_ns()
    assert before <= fn(bpfjit.XdpContext(bytes(20))) & (2**63 - 1) <= time.monotonic_ns()


def test_a_helper_given_for_the_clock_id_wins(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    prog = clock_program(env, 5)
    fn = bpfjit.compile(prog, engine, helpers={5: lambda *args: 777})
    assert fn(bpfjit.XdpContext(bytes(20))) == 777
