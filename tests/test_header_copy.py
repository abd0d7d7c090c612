"""tests/elf/header_copy.c, built by clang -mcpu=v3: headers read in place or copied
to the stack, the last one's pointer kept in a struct on the stack, and the Ethernet
header's pointer tested against NULL with a 32-bit jump -- the shapes of the kernel's
selftest cls_redirect, which strict mode refused (a 32-bit test of a pointer; a slot
holding a packet pointer on one path and a stack pointer on the other).

The program returns the UDP destination port plus the IPv4 TTL << 16, with
bpf_csum_level's QUERY answer (low byte) in cb[1] and bpf_check_mtu's verdict on the
packet 100 bytes longer in cb[2]; cb[0] says which headers to copy (bit 0 IPv4, bit 1
UDP).  Expected values by reading the C and the packets built here: a test run's
packet has no verified checksum (-EACCES: 0xf3), and these packets fit any MTU with
100 bytes more (0).  The kernel engine runs it too: it calls skb_load_bytes,
csum_level and check_mtu, all of which the kernel's test runs allow.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from context_oracle import kernel_loads_program

OBJECT = Path(__file__).parent / "elf" / "header_copy.o"
TC_ACT_OK, TC_ACT_SHOT = 0, 2
EACCES_LOW = 0xF3


def frame(protocol: int = 17, ttl: int = 64, dport: int = 53, ihl: int = 5,
          ethertype: int = 0x0800, cut: int | None = None) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + 4 * (ihl - 5) + 12, 0, 0, ttl,
                     protocol, 0, bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2)))
    ip += bytes(4 * (ihl - 5))
    udp = struct.pack("!HHHH", 4000, dport, 12, 0) + b"data"
    packet = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", ethertype) + ip + udp
    return packet if cut is None else packet[:cut]


def test_every_access_is_proven_and_strict_mode_accepts_it_as_the_kernel_does():
    prog = bpfjit.load_elf(OBJECT)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    # the first jeq32, the NULL test of the Ethernet header's pointer (`data`, loaded
    # just before), is made unconditional for the engines
    first = next(pc for pc, insn in prog if insn.spec.mnemonic == "jeq32")
    assert prog.at(first - 1).spec.mnemonic == "ldxw"
    assert verified.program.at(first).spec.mnemonic == "ja"
    assert kernel_loads_program(prog, "sched_cls") in (True, None)


@pytest.mark.parametrize("copies", [0, 1, 2, 3])
@pytest.mark.parametrize("packet, result", [
    (frame(), 53 | 64 << 16),
    (frame(ttl=7, dport=8080, ihl=6), 8080 | 7 << 16),     # 4 bytes of IPv4 options
])
def test_the_udp_port_and_ttl_whether_read_in_place_or_copied(engine, copies, packet, result):
    fn = bpfjit.compile(bpfjit.load_elf(OBJECT), engine)
    ctx = bpfjit.SkbContext(packet, cb=(copies, 0, 0, 0, 0))
    assert fn(ctx) == result
    assert ctx.cb[1:3] == [EACCES_LOW, 0]


@pytest.mark.parametrize("copies", [0, 3])
@pytest.mark.parametrize("packet, result", [
    (frame(protocol=6), TC_ACT_OK),                 # TCP: not read
    (frame(ethertype=0x86DD), TC_ACT_OK),           # not IPv4
    (frame(cut=40), TC_ACT_SHOT),                   # the UDP header cut short
    (frame(cut=30), TC_ACT_SHOT),                   # the IPv4 header cut short
])
def test_other_packets(engine, copies, packet, result):
    fn = bpfjit.compile(bpfjit.load_elf(OBJECT), engine)
    assert fn(bpfjit.SkbContext(packet, cb=(copies, 0, 0, 0, 0))) == result
