"""Two pointers into one region, each at one offset on every path but not the same
offset on all, keep their difference where the paths meet.  katran's QUIC parser takes
the connection id's address `cid = quic + 1` as `r1 = r7 + 9` before `r7 += 8` moves
to the QUIC header, on paths where the header length is 54 or 102 bytes: on each, r7
and r1 are the packet at one offset, which no zone relates (the intervals say it
all), so where the paths met only r7 in [54, 102] and r1 in [63, 111] stayed, and the
check `r1 > data_end` no longer bounded r7.  The kernel, which follows each path,
proves the reads of cid[0..2]; bpfjit left them to run-time checks.  Checked against the
running kernel where it can load programs, and on every engine against frames worked
out by hand."""

import pytest

import bpfjit
from context_oracle import kernel_loads

XDP_DROP = 1

# r6 = 14 + 20 (IPv4) or 14 + 40 (IPv6) + 8 (UDP): the QUIC header's offset, chosen by
# the EtherType; r1 = the header + 9, its end, checked; then r7 = the header + 8 and
# r1 - r7 == 1 on both paths, which bounds the reads at r7
QUIC = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 1
    mov %r4, %r2
    add %r4, 14
    jgt %r4, %r3, out
    ldxh %r5, [%r2+12]
    mov %r7, %r2
    mov %r1, %r2
    jeq %r5, 0xdd86, six
    add %r7, 42
    add %r1, 51
    ja met
six:
    add %r7, 62
    add %r1, 71
met:
    jgt %r1, %r3, out
    add %r7, 8
    ldxb %r0, [%r7+0]
    add %r0, 16
out:
    exit
"""


def _program() -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(QUIC).insns, context="xdp", prog_type="xdp")


def test_the_reads_behind_the_met_paths_are_proven():
    verified = bpfjit.verify(_program(), cache=False)
    assert len(verified.accesses) == 4          # data, data_end, EtherType, the byte
    assert verified.proven == set(verified.accesses)


def test_the_running_kernel_loads_it():
    loads = kernel_loads(_program().to_bytes(), "xdp")
    if loads is None:
        pytest.skip("this process may not load programs into the kernel")
    assert loads


def _frame(ether: bytes, length: int, byte: int) -> bytes:
    """A frame of `length` bytes with EtherType `ether` and `byte` at the QUIC header's
    offset plus 8 (42 + 8 for IPv4, 62 + 8 for IPv6), zeros elsewhere."""
    data = bytearray(length)
    data[12:14] = ether
    at = (62 if ether == b"\x86\xdd" else 42) + 8
    if at < length:
        data[at] = byte
    return bytes(data)


# the byte read plus 16, or XDP_DROP where the frame ends before the header's ninth byte
@pytest.mark.parametrize("frame, expected", [
    (_frame(b"\x08\x00", 51, 0x41), 0x51),        # header + 9 == end: reads byte 50
    (_frame(b"\x08\x00", 80, 0x07), 0x17),
    (_frame(b"\x08\x00", 50, 0x41), XDP_DROP),    # one byte short
    (_frame(b"\x86\xdd", 71, 0x03), 0x13),        # reads byte 70
    (_frame(b"\x86\xdd", 70, 0x03), XDP_DROP),
    (_frame(b"\x86\xdd", 60, 0x03), XDP_DROP),
    (bytes(13), XDP_DROP),
])
def test_every_engine(engine, frame, expected):
    fn = bpfjit.compile(_program(), engine)
    assert fn(bpfjit.XdpContext(frame)) == expected
