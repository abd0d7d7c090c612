"""A function called from several places, each passing a struct on its caller's stack at
another offset.  bpfjit analyses a function once, for the join of its callers' entry
states; until 2026-12-03 the third distinct caller counted as a second join, widened the
entry, and the stack pointer's offset went to the frame's edge: every access through
it was left to a run-time check and strict mode refused the program.  The kernel, which
verifies each call site on its own, loads it.  microsoft/retina's packetparser (clang
19) counts TCP flags so: 16 accesses unproven, now none.  Now only a call site that
enters again (a call in a loop, recursion) counts toward widening.

Fixture tests/elf/flag_counts.c: load_counts() copies a map value into a struct
(called with four structs), count_flags() adds a packet's TCP flags to one (called from
four places); the four structs go back to the `report` array.  Counts worked out by
hand from the flags of each packet."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from context_oracle import kernel_loads_program

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS = 1, 2
SYN, ACK, FIN, RST, PSH, URG, ECE, CWR = 0x02, 0x10, 0x01, 0x04, 0x08, 0x20, 0x40, 0x80
ORDER = (SYN, ACK, FIN, RST, PSH, URG, ECE, CWR)        # struct flag_counts' fields


def packet(sport: int, dport: int, flags: int, ihl: int = 5, tcp_len: int = 20) -> bytes:
    ip = bytes([0x40 | ihl, 0]) + bytes(7) + bytes([6]) + bytes(2) + bytes(8) \
        + bytes(4 * (ihl - 5))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 512, 0, 0)[:tcp_len]
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


def test_every_access_is_proven_in_strict_mode():
    prog = bpfjit.load_elf(ELF / "flag_counts.o")
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)


def test_the_entry_keeps_the_callers_offsets():
    """The struct pointer's offsets at count_flags' entry stay those of the structs
    (all within 128 bytes of the frame's top), not widened toward the frame's edge."""
    prog = bpfjit.load_elf(ELF / "flag_counts.o")
    log = bpfjit.verify(prog, log=True, cache=False).log
    offsets = [line.split("r2=fp[caller 1](off=", 1)[1].split(")", 1)[0]
               for line in log if "r2=fp[caller 1](off=" in line]
    assert offsets and "?" not in "".join(offsets)
    for text in offsets:
        lo, hi = (int(x) for x in text.strip("[]").split(","))
        assert -128 <= lo <= hi <= -32


def test_the_kernel_loads_it():
    loaded = kernel_loads_program(bpfjit.load_elf(ELF / "flag_counts.o"), "xdp")
    if loaded is None:
        pytest.skip("the kernel engine is not available here")
    assert loaded


def counts(flags: int, times: int = 1) -> list[int]:
    return [times if flags & bit else 0 for bit in ORDER]


def test_what_it_counts(engine):
    prog = bpfjit.load_elf(ELF / "flag_counts.o")
    run = bpfjit.compile(prog, engine)
    sent = [(1234, 80, SYN), (1234, 80, ACK | PSH), (80, 1234, SYN | ACK),
            (5000, 6000, FIN | ACK | URG | ECE | CWR | RST)]
    for sport, dport, flags in sent:
        assert run(bpfjit.XdpContext(packet(sport, dport, flags))) == XDP_PASS
    stored = [list(struct.unpack("<8I", prog.maps["report"][key])) for key in range(4)]
    expected_in = [a + b for a, b in zip(counts(SYN), counts(ACK | PSH))]
    expected_out = counts(SYN | ACK)
    expected_other = counts(FIN | ACK | URG | ECE | CWR | RST)
    expected_all = [a + b + c for a, b, c in zip(expected_in, expected_out, expected_other)]
    assert stored == [expected_all, expected_in, expected_out, expected_other]
    assert expected_all == [2, 3, 1, 1, 1, 1, 1, 1]         # by hand: SYN twice, ACK thrice


@pytest.mark.parametrize("frame, result", [
    (packet(1, 80, SYN, tcp_len=19), XDP_DROP),          # TCP header one byte short
    (packet(1, 80, SYN, ihl=6)[:14 + 24 + 19], XDP_DROP),  # short behind IP options
    (b"\x02" * 12 + b"\x86\xdd" + bytes(40), XDP_PASS),   # IPv6: not counted
])
def test_what_it_leaves_alone(engine, frame, result):
    prog = bpfjit.load_elf(ELF / "flag_counts.o")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(frame)) == result
    assert all(prog.maps["report"][key] == bytes(32) for key in range(4))
