"""A subprogram that checks the packet's length and says so in its result.

netobserv's flow agent (tc) parses the Ethernet and IP headers in a function of its own
that returns DISCARD (1) when the packet is too short and SUBMIT (0) after checking
`ip + sizeof(*ip) <= data_end`; its caller returns on DISCARD and then reads the
Ethernet addresses through its own copy of `data`.  The kernel follows each of the
callee's returns apart, so on the SUBMIT path the caller's pointer has the range the
callee checked.  bpfjit summarises a callee once for its callers: the length every
return has seen was the least (0, from the DISCARD return), so the caller's six reads
were left to run-time checks and strict mode refused the program.  A summary now keeps
how far the packet was checked for each range of r0 (`Summary.r0_floors`), and the
caller's test of r0 gives it back, as a test of a flag set on each path does.

Each program is loaded by the running kernel where this process may load programs.
Results are worked out by hand from the frames."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program
from skb_programs import asm_program

XDP_DROP, XDP_PASS = 1, 2

# the caller: r6 = data; r0 = check(data, data_end); PASS when too short (r0 != 0),
# else DROP for TCP (the IPv4 protocol byte, data + 23) and PASS for anything else
CALLER = """
    ldxw %r6, [%r1+0]
    ldxw %r2, [%r1+4]
    mov %r1, %r6
    call local check
    lsh %r0, 32
    rsh %r0, 32
    jne %r0, 0, short
    ldxb %r1, [%r6+23]
    mov %r0, 2
    jne %r1, 6, out
    mov %r0, 1
out:
    exit
short:
    mov %r0, 2
    exit
"""

# check(data, data_end): 0 when the packet holds an Ethernet and an IPv4 header (34
# bytes), 1 when it is shorter -- returned from two exits, or from one after a join
TWO_EXITS = """
check:
    mov %r3, %r1
    add %r3, 34
    jgt %r3, %r2, too_short
    mov %r0, 0
    exit
too_short:
    mov %r0, 1
    exit
"""
ONE_EXIT = """
check:
    mov %r0, 1
    mov %r3, %r1
    add %r3, 34
    jgt %r3, %r2, done
    mov %r0, 0
done:
    exit
"""
# the same with the results the other way round (1: checked), tested `jeq r0, 0`
INVERTED = CALLER.replace("jne %r0, 0, short", "jeq %r0, 0, short") + \
    TWO_EXITS.replace("mov %r0, 0", "mov %r0, 7").replace("mov %r0, 1", "mov %r0, 0") \
    .replace("mov %r0, 7", "mov %r0, 1")

PROGRAMS = {"two exits": CALLER + TWO_EXITS, "one exit": CALLER + ONE_EXIT,
            "inverted": INVERTED}


def xdp_program(text: str) -> bpfjit.Program:
    return asm_program(text)


def frame(protocol: int) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, protocol, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + header


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_caller_reads_what_the_callee_checked(name):
    prog = xdp_program(PROGRAMS[name])
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    # (pc 0 and 1 read the context; pc 7 the packet)
    assert set(verified.proven) == set(verified.accesses) == {0, 1, 7}
    assert kernel_loads_program(prog, "xdp") in (True, None)


def test_a_return_that_checked_less_proves_less():
    # the checked return (r0 == 0) saw only 20 bytes: the read of byte 23 stays unproven
    # in checked mode, and strict mode refuses it, as the kernel does
    prog = xdp_program(CALLER + TWO_EXITS.replace("add %r3, 34", "add %r3, 20"))
    verified = bpfjit.verify(prog, cache=False)
    assert 7 in verified.accesses and 7 not in verified.proven
    with pytest.raises(bpfjit.VerifierError):
        bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_loads_program(prog, "xdp") in (False, None)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("packet, result", [
    (frame(6), XDP_DROP), (frame(17), XDP_PASS), (frame(6)[:33], XDP_PASS),
    (frame(6)[:24], XDP_PASS), (frame(6)[:34], XDP_DROP),
])
def test_what_it_returns(engine, name, packet, result):
    prog = xdp_program(PROGRAMS[name])
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(packet)) == result


# Also netobserv's (clang 14): one map update after paths that each pass a key at a
# constant place on the stack, 24 bytes apart, with a spilled pointer between them.
# Joined, the key pointer ranges over fp-24..fp-8 and its read covers the spill, which
# strict mode refuses (a pointer's bytes would become a map's key); the kernel, path by
# path, reads one key or the other.  The block of the call now runs once per path where
# a stack pointer argument is at a different constant offset on each.
# r7 = data, spilled at fp-16; key 1 at fp-8 for an empty packet, key 2 at fp-24 else;
# returns the value of that key in an array map
TWO_KEYS = """
    ldxw %r7, [%r1+0]
    ldxw %r3, [%r1+4]
    stxdw [%r10-16], %r7
    mov %r2, 1
    stxw [%r10-8], %r2
    mov %r2, 2
    stxw [%r10-24], %r2
    mov %r2, %r10
    add %r2, -8
    mov %r4, %r7
    add %r4, 1
    jgt %r4, %r3, lookup
    mov %r2, %r10
    add %r2, -24
lookup:
    lddw %r1, map_by_fd(0)
    call 1
    mov %r1, %r0
    mov %r0, 0
    jeq %r1, 0, out
    ldxw %r0, [%r1+0]
out:
    exit
"""


def two_keys() -> bpfjit.Program:
    actions = make_map(MapSpec("actions", 2, 4, 4, 3))
    actions[struct.pack("<I", 1)] = struct.pack("<I", XDP_DROP)
    actions[struct.pack("<I", 2)] = struct.pack("<I", XDP_PASS)
    return asm_program(TWO_KEYS, maps=[actions])


def test_keys_at_two_places_are_read_path_by_path():
    prog = two_keys()
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


@pytest.mark.parametrize("packet, result", [(b"", XDP_DROP), (frame(6), XDP_PASS)])
def test_what_the_two_key_program_returns(engine, packet, result):
    assert bpfjit.compile(two_keys(), engine)(bpfjit.XdpContext(packet)) == result


# And netobserv's L4 header pointer: the callee stores `data + 14` in its caller's slot
# (initially NULL) when 14 + 8 bytes are there; the caller loads the slot, tests it for
# NULL and reads the 2 bytes at +4 (a UDP header's length).  The summary carried the
# slot's value but not how far the packet was checked beyond it: the read was left to a
# run-time check and strict mode refused it.  r0 = that u16, or 2 (XDP_PASS) for none.
STORED = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    stdw [%r10-8], 0
    mov %r1, %r10
    add %r1, -8
    call local fill
    ldxdw %r1, [%r10-8]
    mov %r0, 2
    jeq %r1, 0, out
    ldxh %r0, [%r1+4]
out:
    exit
fill:
    mov %r4, %r2
    add %r4, 14
    mov %r5, %r4
    add %r5, 8
    jgt %r5, %r3, none
    stxdw [%r1+0], %r4
none:
    mov %r0, 0
    exit
"""


def test_a_pointer_the_callee_stored_keeps_its_bound():
    prog = xdp_program(STORED)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


@pytest.mark.parametrize("packet, result", [
    (bytes(14) + bytes([0, 0, 0, 0, 0x34, 0x12, 0, 0]), 0x1234),
    (bytes(21), 2),
])
def test_what_the_stored_pointer_program_returns(engine, packet, result):
    assert bpfjit.compile(xdp_program(STORED), engine)(bpfjit.XdpContext(packet)) == result
