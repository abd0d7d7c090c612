"""bpf_csum_level (135): the levels of checksums a device verified
(CHECKSUM_UNNECESSARY) that tc programs raise and lower around an encapsulation, with
bpf_skb_adjust_room's BPF_F_ADJ_ROOM_NO_CSUM_RESET keeping them (the kernel's
selftest cls_redirect calls both).

Each program calls the helper with the levels given, in turn, and returns the low
byte of each result, the first in the highest byte used.  Expected values by hand
from the kernel's rules: a test run's packet has no verified checksum (QUERY answers
-EACCES, whose low byte is 0xf3), INC makes the first level 0 and adds one up to 3,
DEC takes one off and makes none below 0, RESET makes none, any other level is
-EINVAL (low byte 0xea).  The kernel engine runs these too where it can.
"""

from __future__ import annotations

import pytest

import bpfjit
from skb_programs import asm_program

QUERY, INC, DEC, RESET = 0, 1, 2, 3
EACCES, EINVAL = 0xF3, 0xEA
CSUM_LEVEL, ADJUST_ROOM = 135, 50
NO_CSUM_RESET, ADJ_ROOM_MAC = 1 << 5, 1

# Ethernet + IPv4 (20 bytes) + 8 bytes of UDP + 12 of payload
FRAME = bytes(12) + b"\x08\x00" + bytes.fromhex("4500002800000000401100000a0000010a000002") \
    + bytes(20)


def calls(*levels: int, adjust_flags: int | None = None) -> str:
    """A tc program: csum_level(ctx, level) for each level, the low bytes of the results
    shifted into r7; with `adjust_flags`, skb_adjust_room(ctx, 8, MAC, flags) after the
    first call (its result in the same way)."""
    text = "mov %r6, %r1\nmov %r7, 0\n"
    for i, level in enumerate(levels):
        text += f"""
            mov %r1, %r6
            lddw %r2, {level:#x}
            call {CSUM_LEVEL}
            and %r0, 0xff
            lsh %r7, 8
            or %r7, %r0
        """
        if i == 0 and adjust_flags is not None:
            text += f"""
                mov %r1, %r6
                mov %r2, 8
                mov %r3, {ADJ_ROOM_MAC}
                mov %r4, {adjust_flags}
                call {ADJUST_ROOM}
                and %r0, 0xff
                lsh %r7, 8
                or %r7, %r0
            """
    return text + "mov %r0, %r7\nexit\n"


def folded(*results: int) -> int:
    value = 0
    for result in results:
        value = value << 8 | result
    return value


def run(engine: str, text: str, **context) -> tuple[int, bpfjit.SkbContext]:
    prog = asm_program(text, context="skb", prog_type="sched_cls")
    ctx = bpfjit.SkbContext(FRAME, **context)
    return bpfjit.compile(prog, engine)(ctx), ctx


@pytest.mark.parametrize("levels, results", [
    ((QUERY,), (EACCES,)),
    ((INC, QUERY), (0, 0)),                        # the first verified: level 0
    ((INC, INC, INC, INC, INC, QUERY), (0, 0, 0, 0, 0, 3)),     # at most 3
    ((INC, INC, DEC, QUERY), (0, 0, 0, 0)),        # 1, then 0
    ((INC, DEC, QUERY), (0, 0, EACCES)),           # below 0: none verified
    ((INC, INC, RESET, QUERY), (0, 0, 0, EACCES)),
    ((DEC, RESET, QUERY), (0, 0, EACCES)),         # none to lower or reset: no change
    ((4, QUERY), (EINVAL, EACCES)),
    ((1 << 32 | INC, QUERY), (EINVAL, EACCES)),    # the level is all 64 bits
])
def test_levels(engine, levels, results):
    assert run(engine, calls(*levels))[0] == folded(*results)


def test_adjust_room_forgets_the_levels_unless_told_not_to(engine):
    # INC, adjust_room (0: done), then QUERY: reset by default, kept with the flag
    assert run(engine, calls(INC, QUERY, adjust_flags=0))[0] == folded(0, 0, EACCES)
    assert run(engine, calls(INC, QUERY, adjust_flags=NO_CSUM_RESET))[0] == folded(0, 0, 0)


def test_the_context_holds_the_level(engine):
    if engine == "kernel":
        pytest.skip("a kernel test run's packet has no verified checksum to start from")
    result, ctx = run(engine, calls(QUERY, INC, QUERY), csum_level=1)
    assert result == folded(1, 0, 2) and ctx.csum_level == 2
    result, ctx = run(engine, calls(DEC), csum_level=0)
    assert result == 0 and ctx.csum_level is None


def test_a_bad_level_for_the_context_is_an_error():
    with pytest.raises(bpfjit.BpfError, match="csum_level is None or 0 to 3, not 4"):
        bpfjit.SkbContext(FRAME, csum_level=4)


def test_socket_filters_may_not_call_it():
    prog = asm_program(calls(QUERY), context="skb", prog_type="socket_filter")
    with pytest.raises(bpfjit.VerifierError, match="csum_level"):
        bpfjit.verify(prog)
