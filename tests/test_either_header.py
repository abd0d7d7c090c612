"""One of two header pointers, the other NULL (gamemann/XDP-Firewall: `iph` for IPv4,
`iph6` for IPv6, tested with `if (iph) ... else if (iph6) ...` wherever the program
needs to know which it has).  Facts the kernel has path by path, which bpfjit's joins
lost until 2026-12-03, so that strict mode refused both builds of the firewall (clang
14 and 19) that the kernel loads (the first three were what they needed):

- `iph6 == NULL` of `iph6 = data + 14` is never true: a context's packet pointer is an
  address in a real buffer.  clang keeps the test as a flag computed where the pointer
  is set; joined with the flag of a path where the pointer is NULL, a flag that was 1
  on the (impossible) NULL side of a packet pointer told nothing (`NEVER_NULL`).
- A helper whose arguments are a map and a key that fit each other on each path (IPv4's
  map and the header's 4-byte address, IPv6's map and a 16-byte copy on the stack),
  joined where clang merged the two calls, took a map of either kind and a pointer of
  either kind: the block of the call now runs once per incoming path (`EITHER_KEY`).
- What a caller knows of a pointer it passes by address (which flag tells whether it is
  NULL, how far the packet was checked where it is set) held in the caller only; a
  callee (a bpf_loop callback reading the header pointers from a struct on the caller's
  stack) saw a pointer or NULL and the shortest length (`CALLBACK`); and where the
  same call enters the callee again, NULL on the first trips, the widened entry kept
  no bound the pointer got later (`CALLED_AGAIN`).

Each program is loaded by the running kernel where this process may load programs.
Results are worked out by hand from the packets."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.isa import Kind
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program
from skb_programs import asm_program

XDP_DROP, XDP_PASS = 1, 2


def ipv6(next_header: int, hop_limit: int = 64, source: bytes = bytes(15) + b"\x01") -> bytes:
    header = struct.pack("!IHBB16s16s", 6 << 28, 0, next_header, hop_limit, source,
                         bytes(15) + b"\x02")
    return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + header


def ipv4(protocol: int, source: bytes = bytes([10, 0, 0, 1])) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, protocol, 0, source,
                         bytes([10, 0, 0, 2]))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + header + bytes(20)  # (a UDP header...)


def xdp_program(text: str, maps=()) -> bpfjit.Program:
    return asm_program(text, maps=maps)


def kernel_loads(prog: bpfjit.Program, functions: tuple[int, ...] = ()) -> None:
    """The running kernel loads it, where this process may load programs."""
    assert kernel_loads_program(prog, "xdp", functions) in (True, None)


# r6 = ip6 (data + 14 for IPv6, else NULL) and r7 = (ip6 == NULL), as clang computes
# it where ip6 is set; after the join and a helper call, r0 = ip6->nexthdr where the
# flag says IPv6 (tested right at the join, the test would run per path: not this case)
NEVER_NULL = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 1
    mov %r5, %r2
    add %r5, 54
    jgt %r5, %r3, out
    ldxh %r5, [%r2+12]
    mov %r6, 0
    mov %r7, 1
    jne %r5, 0xdd86, joined
    mov %r6, %r2
    add %r6, 14
    mov %r7, 1
    jeq %r6, 0, joined
    mov %r7, 0
joined:
    call 5
    mov %r0, 2
    jne %r7, 0, out
    ldxb %r0, [%r6+6]
out:
    exit
"""


def test_a_packet_pointer_is_never_null():
    prog = xdp_program(NEVER_NULL)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    kernel_loads(prog)


def test_a_plain_buffer_may_be_null(engine):
    # a plain program's r1 is NULL when it runs without memory: its test goes both ways
    prog = bpfjit.assemble("mov %r0, 7\njeq %r1, 0, +1\nmov %r0, 9\nexit")
    if engine == "kernel":
        pytest.skip("the kernel runs a plain program on a buffer it allocates")
    run = bpfjit.compile(prog, engine)
    assert (run(None), run(b"x")) == (7, 9)


@pytest.mark.parametrize("frame, result", [
    (ipv6(17), 17), (ipv6(58), 58), (ipv4(6), XDP_PASS), (ipv6(6)[:53], XDP_DROP),
])
def test_what_the_flag_program_returns(engine, frame, result):
    assert bpfjit.compile(xdp_program(NEVER_NULL), engine)(bpfjit.XdpContext(frame)) == result


# IPv4: map 0 (4-byte keys) and the header's source address (data + 26); IPv6: map 1
# (16-byte keys) and a copy of the source address at r10-16; one lookup after the join
# (clang merges the two calls so); a hit drops, a miss returns the family (4 or 6)
EITHER_KEY = """
    ldxw %r6, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 1
    mov %r5, %r6
    add %r5, 54
    jgt %r5, %r3, out
    ldxh %r5, [%r6+12]
    mov %r7, 4
    lddw %r1, map_by_fd(0)
    mov %r2, %r6
    add %r2, 26
    jeq %r5, 8, lookup
    mov %r0, 2
    jne %r5, 0xdd86, out
    ldxdw %r2, [%r6+22]
    stxdw [%r10-16], %r2
    ldxdw %r2, [%r6+30]
    stxdw [%r10-8], %r2
    mov %r7, 6
    lddw %r1, map_by_fd(1)
    mov %r2, %r10
    add %r2, -16
lookup:
    call 1
    jne %r0, 0, hit
    mov %r0, %r7
    exit
hit:
    ldxdw %r1, [%r0+0]
    mov %r0, 1
out:
    exit
"""


def blocklists():
    return [make_map(MapSpec("block4", 1, 4, 8, 16)), make_map(MapSpec("block6", 1, 16, 8, 16))]


def either_key() -> bpfjit.Program:
    return xdp_program(EITHER_KEY, blocklists())


def test_the_lookup_after_the_join_is_proven_in_strict_mode():
    prog = either_key()
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert set(verified.proven) == set(verified.accesses)
    kernel_loads(prog)


@pytest.mark.parametrize("frame, blocked, result", [
    (ipv4(6), None, 4),
    (ipv4(6), bytes([10, 0, 0, 1]), XDP_DROP),
    (ipv4(6, source=bytes([10, 0, 0, 9])), bytes([10, 0, 0, 1]), 4),
    (ipv6(17), None, 6),
    (ipv6(17), bytes(15) + b"\x01", XDP_DROP),
    (b"\x02" * 12 + b"\x08\x06" + bytes(40), None, XDP_PASS),    # ARP
    (ipv6(17)[:53], None, XDP_DROP),
])
def test_what_the_lookup_program_returns(engine, frame, blocked, result):
    prog = either_key()
    if blocked is not None:
        prog.maps["block4" if len(blocked) == 4 else "block6"][blocked] = bytes(8)
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(frame)) == result


# a bpf_loop callback that tests the ip6 pointer at the start of its struct for NULL
# and stores the header's last byte (offset 53) + 1 after it; returns 0 (go on)
LAST_BYTE = """
last_byte:
    ldxdw %r3, [%r2+0]
    jeq %r3, 0, nothing
    ldxb %r4, [%r3+39]
    add %r4, 1
    stxdw [%r2+8], %r4
nothing:
    mov %r0, 0
    exit
"""


def proven_and_loaded(prog: bpfjit.Program) -> None:
    """Strict mode proves every access; the kernel loads it (its last seven instructions
    are the callback LAST_BYTE, described to the kernel as a function of its own)."""
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)
    last = next(pc for pc, insn in prog if insn.kind is Kind.LDX and insn.off == 39)
    assert last in verified.proven
    kernel_loads(prog, functions=(0, [pc for pc, _ in prog][-7]))


# the caller keeps ip6 (data + 14, 54 bytes checked, or NULL; 34 bytes checked for any
# packet) in a struct on its stack and hands the struct to the callback: the caller's
# "ip6 <= len - 40 where not NULL" must reach the callback; r0 = that byte + 1, or 0
# for a packet that is not IPv6
CALLBACK = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 1
    mov %r5, %r2
    add %r5, 34
    jgt %r5, %r3, out
    ldxh %r5, [%r2+12]
    mov %r6, 0
    jne %r5, 0xdd86, store
    mov %r5, %r2
    add %r5, 54
    jgt %r5, %r3, out
    mov %r6, %r2
    add %r6, 14
store:
    stxdw [%r10-16], %r6
    stdw [%r10-8], 0
    mov %r1, 1
    lddw %r2, code_addr(last_byte)
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 181
    ldxdw %r0, [%r10-8]
out:
    exit
""" + LAST_BYTE


def test_a_callback_keeps_what_its_caller_knew_of_the_pointer():
    proven_and_loaded(xdp_program(CALLBACK))


# the same call entered again, ip6 NULL on the first three trips and set on the fourth
# (for IPv6): the callback's entry is widened by then, which keeps the first bound of a
# pointer that was NULL so far (then only a bound that does not change)
CALLED_AGAIN = """
    ldxw %r7, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 1
    mov %r5, %r7
    add %r5, 34
    jgt %r5, %r3, out
    mov %r9, %r3
    mov %r6, 0
    mov %r8, 0
    stdw [%r10-8], 0
again:
    stxdw [%r10-16], %r6
    mov %r1, 2
    lddw %r2, code_addr(last_byte)
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 181
    add %r8, 1
    jgt %r8, 3, done
    jlt %r8, 3, again
    ldxh %r5, [%r7+12]
    jne %r5, 0xdd86, done
    mov %r5, %r7
    add %r5, 54
    jgt %r5, %r9, done
    mov %r6, %r7
    add %r6, 14
    ja again
done:
    ldxdw %r0, [%r10-8]
out:
    exit
""" + LAST_BYTE


def test_a_callback_entered_again_keeps_the_bound():
    proven_and_loaded(xdp_program(CALLED_AGAIN))


@pytest.mark.parametrize("text", [CALLBACK, CALLED_AGAIN], ids=["once", "again"])
@pytest.mark.parametrize("frame, result", [
    (ipv6(17), 0x02 + 1),               # the destination's last byte is 2
    (ipv4(17), 0),
    (ipv6(17)[:53], None),              # too short for IPv6: 1 (dropped) or 0 (skipped)
    (ipv6(17)[:33], XDP_DROP),
])
def test_what_the_callback_programs_return(engine, text, frame, result):
    if result is None:
        result = XDP_DROP if text is CALLBACK else 0
    assert bpfjit.compile(xdp_program(text), engine)(bpfjit.XdpContext(frame)) == result
