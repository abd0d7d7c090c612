"""bpf_skb_get_tunnel_key (20) and bpf_skb_set_tunnel_key (21), as net/core/filter.c
has them.

`struct bpf_tunnel_key` (44 bytes): tunnel_id (u32, at 0), remote_ipv4 / remote_ipv6
(at 4, 16 bytes), tunnel_tos (20), tunnel_ttl (21), tunnel_ext / tunnel_flags (22, a
big-endian u16), tunnel_label (24), local_ipv4 / local_ipv6 (28, 16 bytes); IPv4
addresses are host-order u32s.  A set records the remote address as the outer
destination and the local one as the source; a get reports the source as remote and
the destination as local (a received packet's remote end sent it), so a get after a
set swaps them.  A set always adds the tunnel flags NOCACHE (0x2000) and, unless told
otherwise, CSUM (0x0001) and KEY (0x0004); SEQ (0x0008) and DONT_FRAGMENT (0x0100) on
request.  A packet with no tunnel metadata (every test run's) makes a get fail with
-EINVAL, its buffer zeroed; a get whose flags name the other address family fails with
-EPROTO (found by the kernel engine: the kernel reads no IPv6 key as IPv4 or the other
way round).

Each program sets (optionally) from a key on its stack, gets into a second buffer first
filled with 0xaa, stores the results in cb[0] (get) and cb[1] (set), and copies the
second buffer into the packet at offset 14 (skb_store_bytes), so the kernel engine,
where it is available, checks every expected value here against the kernel's own.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest

import bpfjit
from bpfjit.context import TunnelInfo

from skb_programs import tc_program

EINVAL = 0xFFFFFFEA                       # -22 as the u32 cb[] keeps it
EPROTO = 0xFFFFFFB9                       # -71
IPV6, ZERO_CSUM, SEQ, NO_KEY, TUNINFO_FLAGS = 1, 2, 8, 16, 16
FRAME = bytes(range(1, 13)) + b"\x08\x00" + bytes(60)


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def v6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def key(tunnel_id=0, remote=b"", tos=0, ttl=0, ext=0, label=0, local=b"") -> bytes:
    """A struct bpf_tunnel_key; addresses given as u32 (IPv4) or 16 bytes (IPv6)."""
    def address(a) -> bytes:
        return struct.pack("<I", a) + bytes(12) if isinstance(a, int) else a.ljust(16, b"\0")
    return (struct.pack("<I", tunnel_id) + address(remote) + struct.pack("<BBHI", tos, ttl,
                                                                           ext, label)
            + address(local))


def program(get_size: int, get_flags: int, set_key: bytes | None = None,
            set_size: int = 44, set_flags: int = 0) -> bpfjit.Program:
    text = ["mov %r6, %r1"]
    text += [f"stw [%r10{-96 + 4 * i}], 0xaaaaaaaa" for i in range(11)]
    if set_key is not None:
        words = struct.unpack("<11I", set_key)
        text += [f"stw [%r10{-48 + 4 * i}], {w:#x}" for i, w in enumerate(words)]
        text += ["mov %r1, %r6", "mov %r2, %r10", "add %r2, -48", f"mov %r3, {set_size}",
                 f"mov %r4, {set_flags}", "call 21", "stxw [%r6+52], %r0"]
    text += ["mov %r1, %r6", "mov %r2, %r10", "add %r2, -96", f"mov %r3, {get_size}",
             f"mov %r4, {get_flags}", "call 20", "stxw [%r6+48], %r0",
             "mov %r1, %r6", "mov %r2, 14", "mov %r3, %r10", "add %r3, -96", "mov %r4, 44",
             "mov %r5, 0", "call 9", "mov %r0, 0", "exit"]
    return tc_program("\n".join(text))


def run(engine: str, prog: bpfjit.Program, ctx: bpfjit.SkbContext | None = None):
    ctx = ctx or bpfjit.SkbContext(FRAME)
    assert bpfjit.compile(prog, engine)(ctx) == 0
    return ctx.cb[0], ctx.cb[1], ctx.packet[14:58]


def test_a_packet_without_tunnel_metadata_has_no_key(engine):
    got, _, buffer = run(engine, program(44, 0))
    assert (got, buffer) == (EINVAL, bytes(44))


def test_a_set_ipv4_key_reads_back_with_its_ends_swapped(engine):
    sent = key(0x1234, v4("10.0.0.2"), tos=0x10, ttl=64, local=v4("10.0.0.1"))
    got, was_set, buffer = run(engine, program(44, TUNINFO_FLAGS, sent))
    assert (got, was_set) == (0, 0)
    # flags NOCACHE | KEY | CSUM = 0x2005, big-endian
    assert buffer == key(0x1234, v4("10.0.0.1"), tos=0x10, ttl=64, ext=0x0520,
                         local=v4("10.0.0.2"))


def test_a_set_ipv6_key_keeps_its_flow_label(engine):
    sent = key(7, v6("2001:db8::2"), ttl=3, label=0xF12345, local=v6("2001:db8::1"))
    got, was_set, buffer = run(engine, program(44, IPV6 | TUNINFO_FLAGS, sent, 44,
                                               IPV6 | ZERO_CSUM | SEQ))
    assert (got, was_set) == (0, 0)
    # the label's low 20 bits; flags NOCACHE | KEY | SEQ = 0x200c
    assert buffer == key(7, v6("2001:db8::1"), ttl=3, ext=0x0C20, label=0x12345,
                         local=v6("2001:db8::2"))


def test_without_tuninfo_flags_the_ext_field_reads_zero(engine):
    sent = key(1, v4("192.0.2.1"), local=v4("192.0.2.9"))
    got, _, buffer = run(engine, program(44, 0, sent, 44, NO_KEY))
    assert (got, buffer) == (0, key(1, v4("192.0.2.9"), local=v4("192.0.2.1")))


def test_a_key_asked_for_in_the_other_family_is_refused(engine):
    sent = key(5, v6("2001:db8:1:2::3"), local=v6("2001:db8::1"))
    got, was_set, buffer = run(engine, program(44, 0, sent, 44, IPV6))
    assert (got, was_set, buffer) == (EPROTO, 0, bytes(44))
    got, was_set, buffer = run(engine, program(44, IPV6, key(1, 1, local=2)))
    assert (got, was_set, buffer) == (EPROTO, 0, bytes(44))


def test_the_older_layouts_are_read_and_written(engine):
    # a 24-byte set (up to tunnel_label) and a 28-byte get (up to local_ipv4): the get
    # writes 28 bytes and leaves the rest of its buffer
    sent = key(9, v4("10.1.1.1"), tos=1, ttl=2)[:24] + bytes(20)
    got, was_set, buffer = run(engine, program(28, 0, sent, 24))
    assert (got, was_set) == (0, 0)
    assert buffer == key(9, 0, tos=1, ttl=2, local=v4("10.1.1.1"))[:28] + b"\xaa" * 16
    # 8 bytes: the id and the remote IPv4 address only
    got, _, buffer = run(engine, program(8, 0, sent, 24))
    assert (got, buffer) == (0, key(9, 0)[:8] + b"\xaa" * 36)


@pytest.mark.parametrize("get_size, get_flags, set_size, set_flags, sent", [
    (44, 2, 44, 0, key(1, 1, local=2)),               # a get flag the kernel does not know
    (40, 0, 44, 0, key(1, 1, local=2)),               # a size of no layout
])
def test_a_get_the_kernel_refuses_zeroes_the_buffer(engine, get_size, get_flags, set_size,
                                                    set_flags, sent):
    got, was_set, buffer = run(engine, program(get_size, get_flags, sent, set_size,
                                               set_flags))
    assert (got, was_set) == (EINVAL, 0)
    assert buffer == bytes(get_size) + b"\xaa" * (44 - get_size)


@pytest.mark.parametrize("set_size, set_flags, sent", [
    (44, 32, key(1, 1)),                              # a set flag the kernel does not know
    (40, 0, key(1, 1)),                               # a size of no layout
    (44, 0, key(1, 1, label=5)),                      # a flow label on an IPv4 key
    (44, 0, key(1, 1, ext=1)),                        # tunnel_ext is not zero
])
def test_a_set_the_kernel_refuses_leaves_no_key(engine, set_size, set_flags, sent):
    got, was_set, buffer = run(engine, program(44, 0, sent, set_size, set_flags))
    assert (got, was_set, buffer) == (EINVAL, EINVAL, bytes(44))


def test_a_received_packet_brings_its_tunnel_metadata(engine):
    ctx = bpfjit.SkbContext(FRAME)
    ctx.tunnel_info = TunnelInfo(src=bytes([203, 0, 113, 5]), dst=bytes([198, 51, 100, 1]),
                                 tunnel_id=42, ttl=9)
    got, _, buffer = run(engine, program(44, 0), ctx)
    assert (got, buffer) == (0, key(42, v4("203.0.113.5"), ttl=9, local=v4("198.51.100.1")))


def test_a_set_leaves_metadata_for_the_sending_device():
    ctx = bpfjit.SkbContext(FRAME)
    sent = key(0x77, v4("10.0.0.2"), local=v4("10.0.0.1"))
    run("interp", program(44, 0, sent, 44, SEQ), ctx)
    assert ctx.tunnel_info == TunnelInfo(src=bytes([10, 0, 0, 1]), dst=bytes([10, 0, 0, 2]),
                                         tunnel_id=0x77, flags=0x2000 | 0x8 | 0x4 | 0x1)


def test_tunnel_info_addresses_are_one_family():
    # a BpfError, as every error of bad input (it was a bare ValueError)
    with pytest.raises(bpfjit.BpfError, match="both 4 .IPv4. or 16"):
        TunnelInfo(src=bytes(4), dst=bytes(16))
