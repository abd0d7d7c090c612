"""bpf_check_mtu (163): whether a packet, grown or shrunk by len_diff, fits a device's
MTU, for tc and XDP programs (the kernel's selftest cls_redirect asks before it adds a
GRE header).

The program stores mtu_len at fp-4, calls check_mtu(ctx, ifindex, fp-4, len_diff,
flags) and returns the result's low 32 bits above the mtu_len the call left.  Expected
values by hand from the kernel's rules: a device's length limit is its MTU plus the
14-byte Ethernet header; the packet's length (or mtu_len + 14 where mtu_len is not 0)
plus len_diff must not pass it (0), else 1 (BPF_MTU_CHK_RET_FRAG_NEEDED); either way
mtu_len becomes the MTU.  -EINVAL (0xffffffea) for unknown flags, -ENODEV (0xffffffed)
for a device that does not exist, mtu_len untouched.  The kernel engine runs these
where it can: its test runs' device is the loopback, ifindex 1 with an MTU of 65536,
which env.mtus gives the other engines.
"""

from __future__ import annotations

import pytest

import bpfjit
from skb_programs import asm_program

CHECK_MTU = 163
EINVAL, ENODEV = 0xFFFFFFEA, 0xFFFFFFED
SEGS = 1
LOOPBACK_MTU = 65536
FRAME = bytes(12) + b"\x08\x00" + bytes(86)         # 100 bytes
LIMIT = LOOPBACK_MTU + 14                            # what fits the loopback


def program(ifindex: int, mtu_len: int, diff: int, flags: int, context: str) -> bpfjit.Program:
    text = f"""
        mov %r6, %r1
        mov %r1, {mtu_len}
        stxw [%r10-4], %r1
        mov %r1, %r6
        mov %r2, {ifindex}
        mov %r3, %r10
        add %r3, -4
        mov %r4, {diff}
        mov %r5, {flags}
        call {CHECK_MTU}
        lsh %r0, 32
        ldxw %r1, [%r10-4]
        or %r0, %r1
        exit
    """
    prog = asm_program(text, context=context, prog_type="sched_cls" if context == "skb"
                       else "xdp")
    prog.env.mtus = {1: LOOPBACK_MTU}
    return prog


def run(engine: str, context: str, ifindex=0, mtu_len=0, diff=0, flags=0) -> tuple[int, int]:
    fn = bpfjit.compile(program(ifindex, mtu_len, diff, flags, context), engine)
    ctx = bpfjit.SkbContext(FRAME) if context == "skb" else bpfjit.XdpContext(FRAME)
    result = fn(ctx)
    return result >> 32, result & 0xFFFFFFFF


@pytest.mark.parametrize("context", ["skb", "xdp"])
@pytest.mark.parametrize("ifindex, mtu_len, diff, expected", [
    (0, 0, 0, 0),                                    # 100 bytes on the packet's device
    (1, 0, 0, 0),                                    # ... named by its ifindex
    (0, 0, LIMIT - 100, 0),                          # exactly the limit
    (0, 0, LIMIT - 100 + 1, 1),                      # one byte more
    (0, 0, -50, 0),                                  # shrinking
    (0, LOOPBACK_MTU, 0, 0),                         # an L3 length given: 65536 + 14
    (0, LOOPBACK_MTU + 1, 0, 1),
    (0, LOOPBACK_MTU - 10, 11, 1),                   # given, and grown past it
])
def test_fits(engine, context, ifindex, mtu_len, diff, expected):
    assert run(engine, context, ifindex, mtu_len, diff) == (expected, LOOPBACK_MTU)


@pytest.mark.parametrize("context, mtu_len, diff, flags, expected", [
    ("skb", 0, 0, SEGS, (0, LOOPBACK_MTU)),      # no GSO packet: measured whole
    ("skb", 0, 5, SEGS, (EINVAL, 0)),            # SEGS takes no len_diff
    ("skb", 7, 0, SEGS, (EINVAL, 7)),            # ... nor an mtu_len
    ("skb", 0, 0, 2, (EINVAL, 0)),               # an unknown flag
    ("xdp", 0, 0, SEGS, (EINVAL, 0)),            # XDP has none
])
def test_flags(engine, context, mtu_len, diff, flags, expected):
    assert run(engine, context, 0, mtu_len, diff, flags) == expected


@pytest.mark.parametrize("context", ["skb", "xdp"])
def test_a_device_that_does_not_exist(engine, context):
    assert run(engine, context, ifindex=0xFFFF, mtu_len=3) == (ENODEV, 3)


@pytest.mark.parametrize("context", ["skb", "xdp"])
def test_the_devices_env_mtus_lists(engine, context):
    if engine == "kernel":
        pytest.skip("the kernel asks its own devices")
    prog = program(7, 0, 0, 0, context)
    prog.env.mtus = {7: 9000}
    fn = bpfjit.compile(prog, engine)
    ctx = bpfjit.SkbContext(FRAME) if context == "skb" else bpfjit.XdpContext(FRAME)
    assert fn(ctx) == (0 << 32 | 9000)
    # the packet's own device (the context's ifindex, 1 by default) is Ethernet's 1500
    # unless listed: 100 + 1414 bytes fit 1500 + 14, one more does not
    for diff, expected in ((1414, 0), (1415, 1)):
        prog = program(0, 0, diff, 0, context)
        prog.env.mtus = {}
        fn = bpfjit.compile(prog, engine)
        ctx = bpfjit.SkbContext(FRAME) if context == "skb" else bpfjit.XdpContext(FRAME)
        assert fn(ctx) == (expected << 32 | 1500)


def test_mtu_len_must_be_on_the_stack_or_in_a_map():
    # a 4-byte argument: a pointer to the packet is refused, as the kernel refuses it
    text = """
        ldxw %r3, [%r1+0]
        ldxw %r4, [%r1+4]
        mov %r5, %r3
        add %r5, 4
        jgt %r5, %r4, +6
        mov %r2, 0
        mov %r4, 0
        mov %r5, 0
        call 163
        mov %r0, 2
        exit
        mov %r0, 1
        exit
    """
    with pytest.raises(bpfjit.VerifierError, match="check_mtu"):
        bpfjit.verify(asm_program(text))
