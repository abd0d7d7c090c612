"""bpf_l3_csum_replace and bpf_l4_csum_replace in native code (backends.helperops): they
take no memory from the program, only the packet the run holds, so the JITs always call
a native routine for them (as the kernel computes them, RFC 1624's incremental update)
instead of the Python helper, ~2 µs a call.

A tc program: the packet's first byte is the offset of the checksum to update; the
field's old and new values, the flags and the helper are written into the program;
r0 = the helper's result.  The packets after the call are worked out by hand or by
computing the whole checksum again (RFC 791), each engine's compared, the kernel's
included where it runs."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.backends.helperops import L3_CSUM_REPLACE, L4_CSUM_REPLACE, native_helper_ids
from skb_programs import asm_program

PROGRAM = """
    mov %r6, %r1
    ldxw %r2, [%r6+76]
    ldxw %r3, [%r6+80]
    mov %r0, 99
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, out
    ldxb %r2, [%r2+0]
    mov %r1, %r6
    lddw %r3, {old:#x}
    lddw %r4, {new:#x}
    mov %r5, {flags}
    call {helper}
out:
    exit
"""
EFAULT, EINVAL = 2**64 - 14, 2**64 - 22
# Ethernet (its first byte the offset of the IPv4 checksum, 24), then RFC 791's example
# header of a UDP datagram from 192.168.0.1 to 192.168.0.199 (checksum 0xb861)
IPV4 = bytes.fromhex("450000730000400040 11b861c0a80001c0a800c7".replace(" ", ""))
FRAME = bytes([24]) + bytes(11) + b"\x08\x00" + IPV4 + bytes(26)


def program(helper: int, old: int, new: int, flags: int) -> bpfjit.Program:
    return asm_program(PROGRAM.format(helper=helper, old=old, new=new, flags=flags),
                       context="skb", prog_type="sched_cls")


def ipv4_checksum(header: bytes) -> bytes:
    """RFC 791: the ones' complement of the ones' complement sum of the header's 16-bit
    words, the checksum field taken as 0."""
    header = header[:10] + b"\0\0" + header[12:]
    total = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, len(header), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF).to_bytes(2, "big")


def le(data: bytes) -> int:
    """A field as a program loads it (ldxh / ldxw: little-endian)."""
    return int.from_bytes(data, "little")


def run(engine: str, prog: bpfjit.Program, frame: bytes) -> tuple[int, bytes]:
    ctx = bpfjit.SkbContext(frame)
    return bpfjit.compile(prog, engine)(ctx), ctx.packet


def test_a_ttl_decrement_adds_0x100():
    # the checksum of the header with TTL 63 is the old one plus 0x0100 (RFC 1624 3.)
    lowered = IPV4[:8] + b"\x3f" + IPV4[9:]
    assert ipv4_checksum(IPV4) == b"\xb8\x61" and ipv4_checksum(lowered) == b"\xb9\x61"


def test_l3_two_bytes(engine):
    # TTL 64 -> 63: the word (TTL, protocol) 0x4011 -> 0x3f11
    prog = program(10, le(b"\x40\x11"), le(b"\x3f\x11"), 2)
    result, packet = run(engine, prog, FRAME)
    assert result == 0 and packet == FRAME[:24] + b"\xb9\x61" + FRAME[26:]


def test_l3_four_bytes(engine):
    # the source address 192.168.0.1 -> 10.0.0.1; the whole checksum computed again
    prog = program(10, le(bytes([192, 168, 0, 1])), le(bytes([10, 0, 0, 1])), 4)
    result, packet = run(engine, prog, FRAME)
    header = IPV4[:12] + bytes([10, 0, 0, 1]) + IPV4[16:]
    assert result == 0 and packet == FRAME[:24] + ipv4_checksum(header) + FRAME[26:]


def test_l3_a_difference(engine):
    # size 0: `new` is a checksum difference added to the complemented checksum:
    # ~0x61b8 = 0x9e47, + 0x00ff = 0x9f46, complemented 0x60b9 (bytes b9 60)
    result, packet = run(engine, program(10, 0, 0xFF, 0), FRAME)
    assert result == 0 and packet == FRAME[:24] + b"\xb9\x60" + FRAME[26:]


# a UDP checksum field at 16: zero (no checksum), or 0x0001 that a change makes 0
def udp_frame(checksum: bytes) -> bytes:
    return bytes([16]) + bytes(15) + checksum + bytes(40)


@pytest.mark.parametrize("flags, stored, written", [
    (0x22, b"\0\0", b"\0\0"),           # BPF_F_MARK_MANGLED_0: no checksum stays none
    (0x02, b"\0\0", b"\xfe\xff"),       # without it: ~0 + ~0 = 0xffff, + 1 = 0x0001: 0xfffe
    (0x22, b"\1\0", b"\xff\xff"),       # 0x0001 -> 0, written as CSUM_MANGLED_0
    (0x02, b"\1\0", b"\0\0"),           # without the flag: 0
])
def test_l4_and_mangled_zeros(engine, flags, stored, written):
    # from 0x0000 to 0x0001: ~0x0001 + ~0x0000 + 0x0001 = 0xfffe + 0xffff + 1 folds to
    # 0xffff, complemented 0
    result, packet = run(engine, program(11, 0, 1, flags), udp_frame(stored))
    assert result == 0 and packet == udp_frame(written)


@pytest.mark.parametrize("helper", [10, 11])
@pytest.mark.parametrize("offset, flags, result", [
    (58, 2, 0),                         # the last two bytes of 60
    (59, 2, EFAULT),                    # one of them past the end
    (24, 3, EINVAL),                    # a field of 3 bytes
    (24, 8, EINVAL),
])
def test_errors(engine, helper, offset, flags, result):
    frame = bytes([offset]) + FRAME[1:]
    got, packet = run(engine, program(helper, 0x1234, 0x1234, flags), frame)
    assert got == result and packet == frame      # (0x1234 for 0x1234 changes nothing)


def test_the_jits_call_the_native_routines(engine):
    if engine not in ("llvm", "peachpy"):
        pytest.skip("the JITs' helper table")
    for hid in (L3_CSUM_REPLACE, L4_CSUM_REPLACE):
        prog = program(hid, 0, 1, 2)
        fn = bpfjit.compile(prog, engine)
        entry = int(bpfjit.native.ffi.cast("uintptr_t", fn.helpers.table[hid]))
        assert entry == native_helper_ids(bpfjit.verify(prog), None)[hid]
