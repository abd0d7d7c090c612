"""Small packet helpers programs call in passing: skb_change_type (32), skb_pull_data
(39), csum_update (40), set_hash_invalid (41), set_hash (48), skb_load_bytes_relative
(68), jiffies64 (118), ktime_get_coarse_ns (160) and xdp_get_buff_len (188), as the
kernel does them for a test run (a linear packet, no checksum offload state:
csum_update answers -ENOTSUPP).

Each tc program stores the helper's result in cb[0] and, after it, what it may have
changed: cb[1] the 4 bytes a load wrote (little-endian; the buffer held 0xaaaaaaaa),
cb[2] `hash`, cb[3] `pkt_type`, cb[4] `data_end - data`.  The kernel's test runs of
these programs give the same cb[]: the tests run on the kernel engine too, where it is
available.  Expected values are worked out from the
kernel's helpers as described in each test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit

from skb_programs import tc_program

ELF = Path(__file__).parent / "elf"
M32 = 0xFFFFFFFF
EFAULT, EINVAL, ENOMEM, ENOTSUPP = 14, 22, 12, 524
FRAME = bytes(12) + b"\x08\x00" + bytes(range(0x30, 0x30 + 26))     # 40 bytes
PACKET_HOST, PACKET_OTHERHOST = 0, 3


def err(code: int) -> int:
    return -code & M32


def record_after(call: str) -> bpfjit.Program:
    """r6 = the context; stack [r10-8] = 0xaaaaaaaa; `call`; then cb[] as above."""
    text = """
        mov %r6, %r1
        mov %r1, 0xaaaaaaaa
        stxw [%r10-8], %r1
    """ + call + """
        stxw [%r6+48], %r0
        ldxw %r2, [%r10-8]
        stxw [%r6+52], %r2
        ldxw %r2, [%r6+68]
        stxw [%r6+56], %r2
        ldxw %r2, [%r6+4]
        stxw [%r6+60], %r2
        ldxw %r2, [%r6+76]
        ldxw %r3, [%r6+80]
        sub %r3, %r2
        stxw [%r6+64], %r3
        mov %r0, 0
        exit
    """
    return tc_program(text)


def run(engine: str, call: str, packet: bytes = FRAME) -> list[int]:
    ctx = bpfjit.SkbContext(packet)
    assert bpfjit.compile(record_after(call), engine)(ctx) == 0
    return ctx.cb


def helper(number: int, *args: str) -> str:
    """mov r1, r6 (the context), r2.. the arguments, then the call."""
    moves = "".join(f"mov %r{i}, {a}\n" for i, a in enumerate(args, start=2))
    return "mov %r1, %r6\n" + moves + f"call {number}\n"


LOAD_RELATIVE = "mov %r3, %r10\nadd %r3, -8\n"      # r3 = the 4 bytes at [r10-8]


def load_relative(offset: int, start: int, size: int = 4) -> str:
    return ("mov %r1, %r6\n" f"mov %r2, {offset}\n" + LOAD_RELATIVE +
            f"mov %r4, {size}\nmov %r5, {start}\ncall 68\n")


@pytest.mark.parametrize("call, expected", [
    # skb_pull_data(skb, len): 0 when len bytes are there (0: the whole packet)
    (helper(39, "0"), [0, 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    (helper(39, "40"), [0, 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    (helper(39, "41"), [err(ENOMEM), 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    (helper(39, "-1"), [err(ENOMEM), 0xAAAAAAAA, 0, PACKET_HOST, 40]),   # 2^32 - 1 bytes
    # (a length's high 32 bits are not the kernel's u32's: 40 bytes)
    ("mov %r1, %r6\nlddw %r2, 0x100000028\ncall 39\n", [0, 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    # skb_change_type(skb, type): types up to PACKET_OTHERHOST (3) only
    (helper(32, "3"), [0, 0xAAAAAAAA, 0, PACKET_OTHERHOST, 40]),
    (helper(32, "4"), [err(EINVAL), 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    # csum_update: the test run's packet has no CHECKSUM_COMPLETE sum to update
    (helper(40, "5"), [err(ENOTSUPP), 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    # set_hash then set_hash_invalid: the hash is set, then cleared
    (helper(48, "0x12345678"), [0, 0xAAAAAAAA, 0x12345678, PACKET_HOST, 40]),
    (helper(48, "0x12345678") + helper(41), [0, 0xAAAAAAAA, 0, PACKET_HOST, 40]),
    # skb_load_bytes_relative(skb, offset, to, len, start): from the MAC header (0)
    # or the network header (1, at 14); outside the packet -EFAULT, `to` zeroed
    (load_relative(12, 0), [0, 0x31300008, 0, PACKET_HOST, 40]),
    (load_relative(0, 1), [0, 0x33323130, 0, PACKET_HOST, 40]),
    (load_relative(22, 1), [0, 0x49484746, 0, PACKET_HOST, 40]),
    (load_relative(23, 1), [err(EFAULT), 0, 0, PACKET_HOST, 40]),
    (load_relative(0, 2), [err(EFAULT), 0, 0, PACKET_HOST, 40]),
    (load_relative(0x10000, 0), [err(EFAULT), 0, 0, PACKET_HOST, 40]),
])
def test_socket_buffer_helpers(engine, call, expected):
    assert run(engine, call) == expected


def test_skb_pull_data_is_answered_in_native_code(engine):
    # the JITs point helper 39 at a routine (backends.helperops): no Python on the way
    if engine not in ("llvm", "peachpy"):
        pytest.skip("a JIT's helper table")
    fn = bpfjit.compile(record_after(helper(39, "40")), engine)
    assert 39 in fn.helpers.native


def test_xdp_get_buff_len_is_the_frame_length(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    prog = bpfjit.Program(bpfjit.assemble("call 188\nexit").insns, env=env, context="xdp",
                          prog_type="xdp")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(77))) == 77


def test_ktime_get_coarse_ns_reads_the_environments_clock(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    env.clock = lambda: 5 * 10 ** 9 + 17
    prog = bpfjit.Program(bpfjit.assemble("call 160\nexit").insns, env=env, context="xdp",
                          prog_type="xdp")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(20))) == 5 * 10 ** 9 + 17


def test_jiffies64_counts_ticks_of_the_clock_from_initial_jiffies(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    env.clock = lambda: 4_000_000_000                       # 4 s after boot
    prog = bpfjit.Program(bpfjit.assemble("call 118\nexit").insns, env=env, context="xdp",
                          prog_type="xdp")
    fn = bpfjit.compile(prog, engine)
    # INITIAL_JIFFIES = 2^32 - 300 s * 250 Hz, plus 4 s * 250 Hz
    assert fn(bpfjit.XdpContext(bytes(20))) == 2**32 - 75_000 + 1_000
    env.hz = 1000
    assert fn(bpfjit.XdpContext(bytes(20))) == 2**32 - 300_000 + 4_000
