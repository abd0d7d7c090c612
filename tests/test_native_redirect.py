"""bpf_redirect (23) in XDP programs, answered by native code on the JIT engines.

Through Python every call cost a cffi callback (~2.6 µs a call on both JITs); the
native routine (backends.helperops) answers as bpfjit.helpers.redirect does -- any
flag in the low 32 bits: XDP_ABORTED and no redirect; else XDP_REDIRECT -- and records
the target in the context block before the packet, which the call from Python turns
into `ctx.redirect` after the run (`XdpContext.take_redirect`).  A tc program's
bpf_redirect answers differently (TC_ACT_REDIRECT, BPF_F_INGRESS allowed) and stays
in Python.  Expected values are worked out from the helper's definition by hand.
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.helpers import Redirect
from skb_programs import asm_program

XDP_ABORTED, XDP_PASS, XDP_REDIRECT = 0, 2, 4
TC_ACT_REDIRECT = 7

# r0 = bpf_redirect(data[0], data[1] << 32 | data[2]); when data[3] is 1 the program
# returns XDP_PASS instead (the redirect stays recorded, as the kernel's does); when
# data[3] is 2 it then reads 8 bytes past data_end (a trap, after the redirect)
REDIRECT = """
    ldxw %r2, [%r1+DATA_END]
    ldxw %r6, [%r1+DATA]
    mov %r0, 2
    mov %r3, %r6
    add %r3, 4
    jgt %r3, %r2, out
    ldxb %r1, [%r6+0]
    ldxb %r2, [%r6+1]
    lsh %r2, 32
    ldxb %r3, [%r6+2]
    or %r2, %r3
    ldxb %r7, [%r6+3]
    call 23
    jne %r7, 1, trap
    mov %r0, 2
trap:
    jne %r7, 2, out
    ldxdw %r1, [%r6+8192]
out:
    exit
"""


def _program(context: str = "xdp", prog_type: str = "xdp") -> bpfjit.Program:
    # xdp_md's data and data_end are at 0 and 4, __sk_buff's at 76 and 80
    data, end = (0, 4) if context == "xdp" else (76, 80)
    text = REDIRECT.replace("DATA_END", str(end)).replace("DATA", str(data))
    return asm_program(text, context, prog_type)


def _packet(ifindex: int, high_flags: int, low_flags: int, then: int = 0) -> bytes:
    return bytes([ifindex, high_flags, low_flags, then]) + bytes(60)


def _set(ctx: bpfjit.XdpContext, offset: int, value: int) -> None:
    """Change a byte of the packet in place (the context reused for the next run)."""
    ctx.buffer[ctx.HEADER + offset] = value


@pytest.fixture
def xdp(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine runs XDP programs calling no helper but the map ones")
    return bpfjit.compile(_program(), engine, cache=False)


def test_the_jits_answer_it_natively(engine):
    if engine not in ("llvm", "peachpy"):
        pytest.skip("a JIT's helper table")
    assert 23 in bpfjit.compile(_program(), engine, cache=False).helpers.native
    # a tc program's bpf_redirect stays in Python
    tc = bpfjit.compile(_program("skb", "sched_cls"), engine, cache=False)
    assert 23 not in tc.helpers.native


@pytest.mark.parametrize("ifindex", [1, 3, 255])
def test_a_redirect_is_recorded_on_the_context(xdp, ifindex):
    ctx = bpfjit.XdpContext(_packet(ifindex, 0, 0))
    assert xdp(ctx) == XDP_REDIRECT
    assert ctx.redirect == Redirect(ifindex)


@pytest.mark.parametrize("high, low", [(0, 1), (0, 0x80), (1, 0)])
def test_a_flag_aborts_and_records_nothing(xdp, high, low):
    # a flag in the low 32 bits: XDP_ABORTED; in the high 32 bits (flags >> 32 = 1) the
    # helper sees none (its flags are an int of 32 bits)
    ctx = bpfjit.XdpContext(_packet(9, high, low))
    if low:
        assert xdp(ctx) == XDP_ABORTED
        assert ctx.redirect is None
    else:
        assert xdp(ctx) == XDP_REDIRECT
        assert ctx.redirect == Redirect(9)


def test_the_redirect_stays_when_the_program_returns_something_else(xdp):
    ctx = bpfjit.XdpContext(_packet(6, 0, 0, then=1))
    assert xdp(ctx) == XDP_PASS
    assert ctx.redirect == Redirect(6)


def test_each_run_starts_without_a_redirect(xdp):
    ctx = bpfjit.XdpContext(_packet(4, 0, 0))
    assert xdp(ctx) == XDP_REDIRECT and ctx.redirect == Redirect(4)
    refused = bpfjit.XdpContext(_packet(4, 0, 1))
    assert xdp(refused) == XDP_ABORTED and refused.redirect is None
    # the same context again, now with a flag: the first run's record is gone
    _set(ctx, 2, 1)
    assert xdp(ctx) == XDP_ABORTED and ctx.redirect is None
    _set(ctx, 2, 0)
    assert xdp(ctx) == XDP_REDIRECT and ctx.redirect == Redirect(4)


def test_a_trap_after_the_redirect_leaves_no_record_behind(xdp):
    ctx = bpfjit.XdpContext(_packet(5, 0, 0, then=2))
    with pytest.raises(bpfjit.MemoryAccessError):
        xdp(ctx)
    _set(ctx, 3, 0)
    _set(ctx, 2, 1)
    assert xdp(ctx) == XDP_ABORTED and ctx.redirect is None


def test_a_batch_leaves_the_last_runs_redirect(xdp):
    if not hasattr(xdp, "run_batch"):
        pytest.skip("the interpreter runs one at a time")
    ctx = bpfjit.XdpContext(_packet(8, 0, 0))
    r0, _ = xdp.run_batch(ctx, 100)
    assert r0 == XDP_REDIRECT and ctx.redirect == Redirect(8)
    _set(ctx, 2, 1)
    assert xdp(ctx) == XDP_ABORTED and ctx.redirect is None


def test_a_tc_program_redirects_through_python(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine runs tc programs calling no helper but the map ones")
    fn = bpfjit.compile(_program("skb", "sched_cls"), engine, cache=False)
    # BPF_F_INGRESS (1) is a tc flag: TC_ACT_REDIRECT, recorded with it
    ctx = bpfjit.SkbContext(_packet(7, 0, 1))
    assert fn(ctx) == TC_ACT_REDIRECT
    assert ctx.redirect == Redirect(7, flags=1)
