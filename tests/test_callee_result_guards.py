"""A callee that stores a lookup's result in its caller's struct and returns a code
that says whether it found one: gtp-guard's `if_rule_parse_pkt(ctx, &d)` sets `d->r =
bpf_map_lookup_elem(...)`, returns XDP_PASS or XDP_DROP where `d->r` is NULL and the
rule's own action byte (any of 0-255) where it is not; its caller returns the codes up
to XDP_REDIRECT and reads through `d->r` past them.  The kernel walks the callee once
per path and loads it; bpfjit summed the callee's returns up as "r0 in [0, 255], the
slot a map value or NULL", and strict mode refused the read.  The two ranges meet (the
action byte may be 2), yet a caller that has seen r0 above 4 has left every NULL
return behind: a guard may tell apart ranges that overlap, and a callee's summary now
says how its callers' slots go with r0.

Results worked out by hand: an array of 4 entries of 8 bytes, keyed by the receive
queue; queues above 7 return 1 (no lookup), 4-7 return 2 (none found); an entry whose
first byte is at most 4 returns that byte, else the entry's second byte."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.cfg import subprogram_ranges
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program
from skb_programs import asm_program

# the caller's struct d at fp-16: d.r at fp-16 (NULL to start), the key at fp-8
CALLER = """
    ldxw %r6, [%r1+16]
    stdw [%r10-16], 0
    stxw [%r10-8], %r6
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    call local parse
    {test}
    exit
found:
    ldxdw %r1, [%r10-16]
    ldxb %r0, [%r1+1]
    exit
"""
# r1 = the queue, r2 = &d
PARSE = """
parse:
    mov %r0, 1
    jgt %r1, 7, out
    mov %r6, %r2
    lddw %r1, map_by_fd(0)
    add %r2, 8
    call 1
    stxdw [%r6+0], %r0
    mov %r1, %r0
    mov %r0, 2
    jeq %r1, 0, out
    ldxb %r0, [%r1+0]
out:
    exit
"""
TESTS = {
    "unsigned": "jgt %r0, 4, found",
    # clang's: the code as a 32-bit int, tested through a copy
    "signed copy": "mov32 %r7, %r0\n    jsgt32 %r7, 4, found\n    mov32 %r0, %r7",
}


def program(test: str, entries: dict[int, bytes] | None = None) -> bpfjit.Program:
    table = make_map(MapSpec("rules", 2, 4, 8, 4))
    for key, value in (entries or {}).items():
        table[struct.pack("<I", key)] = value
    return asm_program(CALLER.format(test=TESTS[test]) + PARSE, maps=[table])


@pytest.mark.parametrize("test", TESTS)
def test_strict_mode_proves_the_read_past_the_codes(test):
    prog = program(test)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)
    functions = tuple(first for first, _ in subprogram_ranges(prog))
    assert kernel_loads_program(prog, "xdp", functions) in (True, None)


def test_a_code_both_kinds_of_return_give_proves_nothing():
    # the caller reads through d.r where r0 is 2, which a NULL return gives too: refused
    text = CALLER.format(test="jeq %r0, 2, found") + PARSE
    table = make_map(MapSpec("rules", 2, 4, 8, 4))
    prog = asm_program(text, maps=[table])
    with pytest.raises(bpfjit.VerifierError, match="map value or NULL"):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    functions = tuple(first for first, _ in subprogram_ranges(prog))
    assert kernel_loads_program(prog, "xdp", functions) in (False, None)


ENTRIES = {0: bytes([9, 0x5A]) + bytes(6), 1: bytes([3, 0x77]) + bytes(6),
           2: bytes([2, 0x66]) + bytes(6)}


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("queue, result", [
    (0, 0x5A),      # action 9: past the codes, the entry's second byte
    (1, 3),         # action 3 returned as it is
    (2, 2),         # action 2, as a NULL return's
    (3, 0),         # an entry of zeros: action 0
    (5, 2),         # outside the array: none found
    (9, 1),         # above 7: no lookup
])
def test_what_it_returns(engine, test, queue, result):
    run = bpfjit.compile(program(test, ENTRIES), engine)
    assert run(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == result
