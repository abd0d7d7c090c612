"""bpf_tcp_check_syncookie (100): whether an ACK answers a SYN cookie of a listening
socket (the kernel's selftest cls_redirect asks it of a TCP segment whose socket
lookup found a listener).

The program looks the segment's socket up (skc_lookup_tcp over env.sockets), asks the
helper with the IPv4 and TCP headers in the packet and the lengths given, gives the
socket back, and returns the answer (2 if the lookup found nothing).  Expected values
from the kernel's rules, in its order: -EINVAL (2**64 - 22) for a socket that is not a
TCP listener or a TCP header under 20 bytes, -ENOENT (2**64 - 2) for a segment that is
not a plain ACK, -EINVAL for an IP header under 20 bytes; then -ENOENT, since the
kernel answers that for a listener whose SYN queue has not overflowed lately, before
it looks at the cookie, and the sockets of env.sockets never had a SYN queue.
"""

from __future__ import annotations

import struct

import pytest

import bpfjit
from skb_programs import asm_program

EINVAL, ENOENT = 2**64 - 22, 2**64 - 2
ACK, SYN, RST = 0x10, 0x02, 0x04


def segment(flags: int) -> bytes:
    """Ethernet, IPv4 from 10.0.0.1 to 10.0.0.2, TCP 1234 -> 80 with `flags`."""
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes((10, 0, 0, 1)),
                     bytes((10, 0, 0, 2)))
    tcp = struct.pack("!HHIIBBHHH", 1234, 80, 1, 2, 5 << 4, flags, 512, 0, 0)
    return eth + ip + tcp


def program(ip_len: int, tcp_len: int) -> bpfjit.Program:
    # r6 ctx, r7 the IPv4 header (14), r8 the TCP header (34); the tuple at fp-16:
    # saddr, daddr, sport, dport as they lie in the packet
    text = f"""
        mov %r6, %r1
        ldxw %r7, [%r6+0]
        ldxw %r2, [%r6+4]
        mov %r0, 3
        mov %r3, %r7
        add %r3, 54
        jgt %r3, %r2, out
        mov %r8, %r7
        add %r8, 34
        add %r7, 14
        ldxw %r1, [%r7+12]
        stxw [%r10-16], %r1
        ldxw %r1, [%r7+16]
        stxw [%r10-12], %r1
        ldxw %r1, [%r8+0]
        stxw [%r10-8], %r1
        mov %r1, %r6
        mov %r2, %r10
        add %r2, -16
        mov %r3, 12
        mov %r4, -1
        mov %r5, 0
        call 99
        mov %r9, %r0
        mov %r0, 2
        jeq %r9, 0, out
        mov %r1, %r9
        mov %r2, %r7
        mov %r3, {ip_len}
        mov %r4, %r8
        mov %r5, {tcp_len}
        call 100
        mov %r6, %r0
        mov %r1, %r9
        call 86
        mov %r0, %r6
    out:
        exit
    """
    return asm_program(text)


def run(engine: str, flags: int, socket: bpfjit.Socket | None, ip_len=20, tcp_len=20) -> int:
    prog = program(ip_len, tcp_len)
    if socket is not None:
        prog.env.sockets.add(socket)
    return bpfjit.compile(prog, engine)(bpfjit.XdpContext(segment(flags)))


LISTENER = bpfjit.Socket("tcp", local=("10.0.0.2", 80))
ESTABLISHED = bpfjit.Socket("tcp", local=("10.0.0.2", 80), remote=("10.0.0.1", 1234))


@pytest.mark.parametrize("flags, socket, ip_len, tcp_len, expected", [
    (ACK, LISTENER, 20, 20, ENOENT),            # no cookie was ever sent
    (ACK | 0x08, LISTENER, 20, 20, ENOENT),     # ACK and PSH: still an ACK
    (SYN, LISTENER, 20, 20, ENOENT),            # not an ACK
    (ACK | SYN, LISTENER, 20, 20, ENOENT),
    (ACK | RST, LISTENER, 20, 20, ENOENT),
    (ACK, LISTENER, 20, 19, EINVAL),            # a TCP header too short
    (SYN, LISTENER, 20, 19, EINVAL),            # ... tested before the flags
    (ACK, LISTENER, 19, 20, EINVAL),            # an IP header too short
    (SYN, LISTENER, 19, 20, ENOENT),            # ... tested after the flags
    (ACK, ESTABLISHED, 20, 20, EINVAL),         # not a listener
    (ACK, None, 20, 20, 2),                     # no socket: the lookup finds none
])
def test_answers(python_helper_engine, flags, socket, ip_len, tcp_len, expected):
    assert run(python_helper_engine, flags, socket, ip_len, tcp_len) == expected


def test_the_headers_may_be_in_the_packet_and_are_checked():
    bpfjit.verify(program(20, 20), mode="strict")
