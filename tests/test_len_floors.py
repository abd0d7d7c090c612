"""A number that tells how long the packet was checked to be: each protocol checks its
own header length at one offset (TCP 20 bytes, UDP 8, ICMPv6 4 after an IPv6 header),
the paths meet, and a later test of the protocol picks TCP again, whose flags lie
beyond the shortest check.  The kernel follows the TCP path; bpfjit's join kept the
least length.  A len floor (bpfjit.verifier.guards) keeps `len >= 74 where next is 6`,
`len >= 62 where next is 17`, `len >= 58 where next is 58`, and the branch that makes
`next` 6 raises len's floor (`len>=74 when r.. in [6,6]|...` in the log).  davidcoles/xvs
parses its requests so (8 accesses left to run-time checks before, 4 now with clang 14,
none with clang 19; the kernel loads both).

Fixture tests/elf/l4_lengths.c: returns XDP_DROP (1) for a TCP SYN without ACK or a
truncated header, XDP_TX (3) for an ICMPv6 echo request, XDP_PASS (2) otherwise, and
counts packets per next-header value in `seen`.  Results worked out by hand."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3


def frame(next_header: int, l4: bytes) -> bytes:
    ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(l4), next_header, 64, bytes(15) + b"\x01",
                      bytes(15) + b"\x02")
    return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip6 + l4


def tcp(flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x50, flags, 512, 0, 0)


def test_every_access_is_proven_and_the_log_shows_the_floors():
    prog = bpfjit.load_elf(ELF / "l4_lengths.o")
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses) and len(verified.accesses) == 7
    log = "\n".join(bpfjit.verify(prog, log=True, cache=False).log)
    assert "len>=74 when" in log and "62 when" in log and "58 when" in log


def test_the_kernel_loads_it():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here")
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    prog = bpfjit.load_elf(ELF / "l4_lengths.o")
    fd = bpfsys.map_create(2, 4, 8, 256)
    try:
        bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), [fd]), "xdp"))
    finally:
        bpfsys.close(fd)


@pytest.mark.parametrize("next_header, l4, result", [
    (6, tcp(0x02), XDP_DROP),                   # SYN
    (6, tcp(0x12), XDP_PASS),                   # SYN+ACK
    (6, tcp(0x10), XDP_PASS),                   # ACK
    (6, tcp(0x02)[:19], XDP_DROP),              # TCP header one byte short
    (17, struct.pack("!HHHH", 53, 53, 8, 0), XDP_PASS),
    (17, bytes(7), XDP_DROP),
    (58, bytes([128, 0, 0, 0]), XDP_TX),        # echo request
    (58, bytes([129, 0, 0, 0]), XDP_PASS),      # echo reply
    (58, bytes(3), XDP_DROP),
    (0, bytes(8), XDP_PASS),                    # hop-by-hop options: not parsed
])
def test_what_it_computes(engine, next_header, l4, result):
    prog = bpfjit.load_elf(ELF / "l4_lengths.o")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(frame(next_header, l4))) == result
    needed = {6: 20, 17: 8, 58: 4}.get(next_header)
    counted = needed is not None and len(l4) >= needed      # the lookup ran
    assert struct.unpack("<Q", prog.maps["seen"][next_header])[0] == int(counted)
