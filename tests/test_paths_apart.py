"""Where paths meet: what a join used to lose and the kernel, which follows each path,
keeps -- found on public programs the kernel loads (2026-12-03).

- tailscale's STUN responder keeps `ip` in one register on the IPv4 path and `ip6` in
  another on the IPv6 path, each a stale number on the other path, and reads each
  under its own test of a flag after the paths met: joined, both were "a pointer or a
  number" (61 of 267 accesses left to run-time checks; strict mode refused it).  A
  block whose incoming edges would make a live register such a mixture now runs once
  per group of edges that agree (`PerPathRules._partitions`), and its edges out stay
  apart until the register is dead or overwritten.
- calico keeps `tcp == NULL` as a flag, ORs it with another and tests the result
  (`r1 = r0 | flag; r1 &= 1; if r1 != 0`); the block of that test runs once per
  incoming edge where the flag is a different constant on each, whatever else the
  ALU instructions before the jump read (`_threads`).
- calico's `tcp` pointer, spilled: a map value at an offset on one path, a map value
  or NULL at that offset on another; joined it was a pointer or a number, now a map
  value or NULL (`domain._found_or_looked_up`, at any offset).
- dae's connection state: a pointer 12 bytes into one map's value on one path, 32
  bytes into another map's on the other; joined, either offset was taken for either
  map (a union of both maps at offsets 12 to 32) and a read at +8 was left to a
  run-time check.  Such a register also makes its block run apart.
- the same pointer spilled where the paths meet (CentaurusInfra/mizar's agent keeps
  a MAC address's pointer, 4 bytes into a flow cache's value or 0x458 into its
  metadata's, in a slot across bpf_xdp_adjust_head): joined, the slot was either map
  at either offset; a slot holding values of different maps at different offsets now
  keeps the paths apart as such a register does (`_lost_in_join`).
- a packet pointer spilled at a different constant offset on each path (tailscale's
  UDP header, 20 or 40 bytes after the Ethernet header), each checked for 8 bytes:
  the joined slot keeps `slot - len <= -8`, as a register does (`_bound_packet_pointers`).

- an XDP GRE decapsulator written here (corpus/xdp/gre_decap.c): the checksum bit
  says both how far the header is checked (`p + (csum ? 8 : 4) <= end`) and, after
  the paths met, which byte is read (`p[csum ? 7 : 3]`); the kernel loads it, strict
  mode refused it.  A block run apart now keeps its edges apart to a successor that
  runs apart on what they still tell apart (not in a loop), and a block whose access
  is computed from a register that is a different constant on each incoming edge
  runs apart (`_threads`).
- gtp-guard's MAP-E program (2026-12-05) ORs "the inner header does not fit" into its
  recursion flag and tests the result, with two moves of other registers between:
  the instructions that compute the jump's operands count toward `_THREADED_ALU`,
  not every instruction before it (`FLAG_AMONG_MOVES`).

- the kernel's selftest cls_redirect (2026-12-06) reads a header where the packet has
  it, else copies it to the stack with a helper and reads the copy, keeping the
  pointer it got in a struct on the stack: the slot, joined, was a pointer into the
  packet or the frame ("a pointer or a number"), and strict mode refused the program
  the kernel loads.  A slot that holds a packet pointer on some paths and a stack
  pointer on others now keeps the paths apart too (`SCRATCH_OR_PACKET`).

Each program is verified (every access proven, strict mode accepts), held to the
running kernel's verdict where this process may load programs, and run on every
engine with results worked out by hand.
"""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program
from skb_programs import asm_program

# r1 = data + 14 (the IPv6 header) where byte 12 is not 0, with r9 byte 13; else
# r9 = data + 14 (the IPv4 header) and r1 byte 13; the flag at fp-8 says which.
# After the paths meet: IPv6, the 4 bytes at 22; IPv4, the 2 bytes at 18.
EITHER_HEADER = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 34
    mov %r0, 0
    jgt %r4, %r3, out
    ldxb %r5, [%r2+12]
    jeq %r5, 0, v4
    mov %r1, %r2
    add %r1, 14
    ldxb %r9, [%r2+13]
    stdw [%r10-8], 1
    ja join
v4:
    mov %r9, %r2
    add %r9, 14
    ldxb %r1, [%r2+13]
    stdw [%r10-8], 0
join:
    ldxdw %r4, [%r10-8]
    jeq %r4, 0, other
    ldxw %r0, [%r1+8]
    exit
other:
    ldxh %r0, [%r9+4]
out:
    exit
"""

# r4 = the entry of an array of 4 at rx_queue_index (NULL: none), the flag r2 = (r4 ==
# 0), r6 = bit 4 of the queue (another flag); r3 = r6 | r2, tested at bit 0; then the 8
# bytes of the entry, or 1
FLAG_ORED = """
    ldxw %r6, [%r1+16]
    stxw [%r10-4], %r6
    rsh32 %r6, 4
    and32 %r6, 1
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(0)
    call 1
    mov %r4, %r0
    mov %r0, 1
    mov32 %r2, 1
    jeq %r4, 0, test
    mov32 %r2, 0
test:
    mov32 %r3, %r6
    or32 %r3, %r2
    and32 %r3, 1
    jne32 %r3, 0, out
    ldxdw %r0, [%r4+0]
out:
    exit
"""

# r6 = &value[16] of entry 1; where rx_queue_index is 1 it is kept, where 2 it is kept
# too but meets NULL (any other queue) first; spilled at fp-16, reloaded after the
# paths meet and tested: the 8 bytes at value + 16, or 1 for NULL
FIELD_OR_NULL = """
    ldxw %r7, [%r1+16]
    stw [%r10-4], 1
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(0)
    call 1
    jeq %r0, 0, none
    add %r0, 16
    stxdw [%r10-16], %r0
    jeq %r7, 1, kept
    jeq %r7, 2, joined
    stdw [%r10-16], 0
joined:
    mov %r0, 0
kept:
    call 8
    ldxdw %r1, [%r10-16]
    mov %r0, 1
    jeq %r1, 0, none
    ldxdw %r0, [%r1+0]
none:
    exit
"""

# r6 = 12 bytes into entry 0 of `short` (28-byte values) where rx_queue_index is not 0,
# else 32 bytes into entry 0 of `long` (48-byte values); then the 8 bytes at r6 + 8
TWO_MAPS = """
    ldxw %r7, [%r1+16]
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    jeq %r7, 0, long
    lddw %r1, map_by_fd(0)
    call 1
    jeq %r0, 0, none
    mov %r6, %r0
    add %r6, 12
    ja join
long:
    lddw %r1, map_by_fd(1)
    call 1
    jeq %r0, 0, none
    mov %r6, %r0
    add %r6, 32
join:
    ldxdw %r0, [%r6+8]
    exit
none:
    mov %r0, 0
    exit
"""

# TWO_MAPS with the pointer spilled where the paths meet, and a flag (the queue is 2
# or more) set on a path of its own before it is reloaded: mizar's agent keeps a MAC
# address's pointer (4 bytes into a flow cache's value, or 0x454 + 4 into its
# metadata's) in a slot across bpf_xdp_adjust_head
TWO_MAPS_SPILLED = TWO_MAPS.replace("""join:
    ldxdw %r0, [%r6+8]
""", """join:
    stxdw [%r10-16], %r6
    mov %r6, 0
    jlt %r7, 2, low
    mov %r6, 1
low:
    ldxdw %r1, [%r10-16]
    ldxdw %r0, [%r1+8]
    add %r0, %r6
""")

# p = data + 34 (IPv4: byte 12 is 8) or data + 54, each checked for 8 bytes and
# spilled from a register of its own; after the paths meet a helper call clobbers
# r1-r5 and p, reloaded, gives its 2 bytes at +4 (a UDP header's length)
SPILLED_HEADER = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 14
    mov %r0, 0
    jgt %r4, %r3, out
    ldxb %r5, [%r2+12]
    jne %r5, 8, v6
    mov %r4, %r2
    add %r4, 34
    mov %r5, %r4
    add %r5, 8
    jgt %r5, %r3, out
    stxdw [%r10-8], %r4
    ja join
v6:
    mov %r6, %r2
    add %r6, 54
    mov %r5, %r6
    add %r5, 8
    jgt %r5, %r3, out
    stxdw [%r10-8], %r6
join:
    call 8
    ldxdw %r1, [%r10-8]
    ldxh %r0, [%r1+4]
out:
    exit
"""


# the first byte's top bit decides how far the packet is checked, 8 or 4 bytes, and,
# after a spill and the paths' meeting, which byte is read: 7 or 3
CHECKED_AS_FAR = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 0
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, out
    ldxb %r5, [%r2+0]
    and %r5, 0x80
    mov %r6, 4
    jeq %r5, 0, four
    mov %r6, 8
four:
    mov %r7, %r2
    add %r7, %r6
    jgt %r7, %r3, out
    stxdw [%r10-8], %r6
    mov %r6, 3
    jeq %r5, 0, three
    mov %r6, 7
three:
    mov %r1, %r2
    add %r1, %r6
    ldxb %r0, [%r1+0]
out:
    exit
"""

# "too short" (r1 = 1 where data + 20 > data_end, else 0) ORed into the queue's low
# bit, tested after two moves that compute something else: byte 19 of the packet + 7
# where it is 20 bytes long and the queue even, else 1
FLAG_AMONG_MOVES = """
    ldxw %r2, [%r1+0]
    ldxw %r8, [%r1+4]
    ldxw %r4, [%r1+16]
    and32 %r4, 1
    mov %r0, 1
    mov %r5, %r2
    add %r5, 20
    mov32 %r1, 1
    jgt %r5, %r8, joined
    mov32 %r1, 0
joined:
    or32 %r4, %r1
    mov32 %r1, %r4
    and32 %r1, 1
    mov %r3, %r2
    mov32 %r6, 7
    jne32 %r1, 0, out
    ldxb %r0, [%r3+19]
    add %r0, %r6
out:
    exit
"""


# the 8 bytes at 14, in place where byte 12 is not 0, else copied to fp-16 by
# xdp_load_bytes; the pointer to them kept at fp-24 alone when the paths meet; then
# byte 3 of them (the packet's byte 17) through it
SCRATCH_OR_PACKET = """
    mov %r6, %r1
    ldxw %r2, [%r6+0]
    ldxw %r3, [%r6+4]
    mov %r0, 0
    mov %r4, %r2
    add %r4, 22
    jgt %r4, %r3, out
    ldxb %r5, [%r2+12]
    jeq %r5, 0, copy
    mov %r7, %r2
    add %r7, 14
    stxdw [%r10-24], %r7
    ja join
copy:
    mov %r1, %r6
    mov %r2, 14
    mov %r3, %r10
    add %r3, -16
    mov %r4, 8
    call 189
    jne %r0, 0, out
    mov %r7, %r10
    add %r7, -16
    stxdw [%r10-24], %r7
join:
    mov %r7, 0
    ldxdw %r1, [%r10-24]
    ldxb %r0, [%r1+3]
out:
    exit
"""


def array(entries: dict[int, bytes]):
    table = make_map(MapSpec("values", 2, 4, 24, 4))
    for key, value in entries.items():
        table[struct.pack("<I", key)] = value
    return table


def program(name: str, entries: dict[int, bytes] | None = None) -> bpfjit.Program:
    maps = [array(entries or {})] if name in ("FLAG_ORED", "FIELD_OR_NULL") else []
    if name in ("TWO_MAPS", "TWO_MAPS_SPILLED"):
        maps = [make_map(MapSpec(f"{length}", 2, 4, size, 1))
                for length, size in (("short", 28), ("long", 48))]
        maps[0][0] = bytes(range(28))
        maps[1][0] = bytes(range(100, 148))
    return asm_program(globals()[name], maps=maps)


CASES = ["EITHER_HEADER", "FLAG_ORED", "FIELD_OR_NULL", "TWO_MAPS", "SPILLED_HEADER",
         "CHECKED_AS_FAR", "FLAG_AMONG_MOVES", "TWO_MAPS_SPILLED", "SCRATCH_OR_PACKET"]


@pytest.mark.parametrize("name", CASES)
def test_every_access_is_proven_and_strict_mode_accepts(name):
    prog = program(name)
    for mode in ("checked", "strict"):
        verified = bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog),
                                 cache=False)
        assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


def frame(byte12: int, byte13: int = 0x5A, length: int = 64) -> bytes:
    data = bytearray(range(length))
    data[12], data[13] = byte12, byte13
    return bytes(data)


@pytest.mark.parametrize("packet, result", [
    (frame(0x86), int.from_bytes(bytes(range(22, 26)), "little")),   # ip6: 4 bytes at 22
    (frame(0), int.from_bytes(bytes(range(18, 20)), "little")),      # ip: 2 bytes at 18
    (frame(0x86, length=33), 0),                                     # too short
], ids=["ipv6", "ipv4", "short"])
def test_the_either_header_program_reads_the_header_of_its_path(engine, packet, result):
    run = bpfjit.compile(program("EITHER_HEADER"), engine)
    assert run(bpfjit.XdpContext(packet)) == result


@pytest.mark.parametrize("first", [0x00, 0x7F, 0x80, 0xFF])
def test_the_checked_as_far_program_reads_the_byte_its_flag_names(engine, first):
    packet = bytes([first]) + bytes(range(101, 140))
    assert bpfjit.compile(program("CHECKED_AS_FAR"), engine)(bpfjit.XdpContext(packet)) \
        == packet[7 if first & 0x80 else 3]


@pytest.mark.parametrize("queue, result", [(2, 0x0102030405060708), (5, 1), (18, 1)])
def test_the_flag_ored_program_reads_only_an_entry_it_found(engine, queue, result):
    # queues 5 and 18 are outside the array of 4 (18 also sets the other flag)
    entries = {2: struct.pack("<Q", 0x0102030405060708) + bytes(16)}
    run = bpfjit.compile(program("FLAG_ORED", entries), engine)
    assert run(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == result


@pytest.mark.parametrize("queue, result", [(1, 0x1122334455667788),
                                           (2, 0x1122334455667788), (3, 1)])
def test_the_field_or_null_program_reads_the_field_or_says_null(engine, queue, result):
    value = bytes(16) + struct.pack("<Q", 0x1122334455667788)
    run = bpfjit.compile(program("FIELD_OR_NULL", {1: value}), engine)
    assert run(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == result


@pytest.mark.parametrize("queue, result", [
    (1, int.from_bytes(bytes(range(20, 28)), "little")),         # short: bytes 20-27
    (0, int.from_bytes(bytes(range(140, 148)), "little")),       # long: bytes 40-47
])
def test_the_two_maps_program_reads_its_maps_value(engine, queue, result):
    run = bpfjit.compile(program("TWO_MAPS"), engine)
    assert run(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == result


@pytest.mark.parametrize("queue, result", [
    (1, int.from_bytes(bytes(range(20, 28)), "little")),         # short: bytes 20-27
    (5, int.from_bytes(bytes(range(20, 28)), "little") + 1),     # and the flag
    (0, int.from_bytes(bytes(range(140, 148)), "little")),       # long: bytes 40-47
])
def test_the_spilled_two_maps_program_reads_its_maps_value(engine, queue, result):
    run = bpfjit.compile(program("TWO_MAPS_SPILLED"), engine)
    assert run(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == result


@pytest.mark.parametrize("packet, result", [
    (frame(8, length=42), int.from_bytes(bytes(range(38, 40)), "little")),
    (frame(0x86, length=62), int.from_bytes(bytes(range(58, 60)), "little")),
    (frame(0x86, length=61), 0),
], ids=["ipv4", "ipv6", "short"])
def test_the_spilled_header_program_reads_its_paths_header(engine, packet, result):
    run = bpfjit.compile(program("SPILLED_HEADER"), engine)
    assert run(bpfjit.XdpContext(packet)) == result


def test_the_log_shows_the_paths_kept_apart():
    # the block after the paths meet (pc 17: the flag's reload) runs once per group
    log = bpfjit.verify(program("EITHER_HEADER"), cache=False, log=True).log
    line = next(line for line in log if line.startswith("17: "))
    assert "r1=packet|number" in line and "r9=packet|number" in line     # the join
    assert line.endswith("(run once per group of paths kept apart: 2)")


@pytest.mark.parametrize("length, queue, result", [
    (20, 0, 19 + 7), (20, 3, 1), (19, 0, 1), (64, 6, 19 + 7)])
def test_the_flag_among_moves_program_reads_byte_19_where_it_fits(engine, length, queue,
                                                                   result):
    run = bpfjit.compile(program("FLAG_AMONG_MOVES"), engine)
    assert run(bpfjit.XdpContext(bytes(range(length)), rx_queue_index=queue)) == result


@pytest.mark.parametrize("packet, result", [
    (frame(0x86), 17),                  # read in place
    (frame(0), 17),                     # copied to the stack first
    (frame(0x86, length=21), 0),        # too short for the 8 bytes
], ids=["in-place", "copied", "short"])
def test_the_scratch_or_packet_program_reads_byte_17_either_way(engine, packet, result):
    run = bpfjit.compile(program("SCRATCH_OR_PACKET"), engine)
    assert run(bpfjit.XdpContext(packet)) == result
