"""A header pointer bounds-checked on one path and NULL on another keeps its bound where
the paths meet: `v - len <= c if not NULL` (zone.ifset), given back by its NULL test or
by the guard that tells it is not NULL (bpfjit.verifier.guards).  The kernel, which
follows each path, proves such accesses; bpfjit joined the paths and lost the check
behind the join, so an access through the pointer was left to a run-time check and
strict mode refused the program (davidcoles/xvs's reply path: 4 of 60 accesses).

clang also takes a field's address of such a pointer before the test that tells which
path it is on (`tcp + 14` where tcp may be NULL: NULL moved by 14, `null+14` in the
log), which made it a number to bpfjit; it now stays a pointer or a moved NULL, whose
guard tells its sides apart, and the join of the two fields' pointers keeps the weakest
bound each path checked.

Fixture tests/elf/l4_reply.c (Ethernet, IPv4 without options, then TCP or UDP):
`l4_reply` counts the packet by protocol in `replies`, inverts the bits of the TCP or
UDP checksum and returns XDP_TX (3), XDP_PASS (2) for other protocols or an unset
counter; `l4_peek` returns XDP_TX for a TCP window of 0 or a UDP length of 8, else
XDP_PASS; both XDP_DROP (1) for a truncated header.  Each verdict here is also the
running kernel's (it loads both).  Expected frames and results are worked out by
hand."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3


def frame(proto: int, l4: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + l4


TCP = struct.pack("!HHIIHHHH", 1234, 80, 1, 0, 0x5010, 512, 0x1234, 0)
UDP = struct.pack("!HHHH", 53, 5353, 8, 0xBEEF)


@pytest.mark.parametrize("function, accesses", [("l4_reply", 9), ("l4_peek", 6)])
def test_every_access_is_proven(function, accesses):
    prog = bpfjit.load_elf(ELF / "l4_reply.o", function=function)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert len(verified.accesses) == accesses


def test_the_log_shows_the_bound_and_the_moved_null():
    log = "\n".join(bpfjit.verify(bpfjit.load_elf(ELF / "l4_reply.o", function="l4_reply"),
                                  log=True, cache=False).log)
    assert "<=len-20 if not NULL" in log and "<=len-8 if not NULL" in log
    log = "\n".join(bpfjit.verify(bpfjit.load_elf(ELF / "l4_reply.o", function="l4_peek"),
                                  log=True, cache=False).log)
    assert "mem_or_null(off=48,null+14)" in log


def test_the_kernel_loads_both():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here")
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    for function in ("l4_reply", "l4_peek"):
        prog = bpfjit.load_elf(ELF / "l4_reply.o", function=function)
        fd = bpfsys.map_create(2, 4, 8, 256)
        try:
            bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), [fd]), "xdp"))
        finally:
            bpfsys.close(fd)


@pytest.mark.parametrize("proto, l4, checksum_at, result", [
    (6, TCP, 14 + 20 + 16, XDP_TX),
    (17, UDP, 14 + 20 + 6, XDP_TX),
    (6, TCP[:19], None, XDP_DROP),          # one byte short of a TCP header
    (17, UDP[:7], None, XDP_DROP),
    (1, b"\x08\x00" + bytes(6), None, XDP_PASS),
])
def test_what_it_computes(engine, proto, l4, checksum_at, result):
    prog = bpfjit.load_elf(ELF / "l4_reply.o", function="l4_reply")
    prog.maps["replies"][6] = struct.pack("<Q", 0)
    prog.maps["replies"][17] = struct.pack("<Q", 0)
    packet = frame(proto, l4)
    ctx = bpfjit.XdpContext(packet)
    assert bpfjit.compile(prog, engine)(ctx) == result
    if checksum_at is None:
        assert ctx.packet == packet
        return
    old = struct.unpack_from("!H", packet, checksum_at)[0]
    expected = bytearray(packet)
    struct.pack_into("!H", expected, checksum_at, old ^ 0xFFFF)
    assert ctx.packet == bytes(expected)
    assert struct.unpack("<Q", prog.maps["replies"][proto])[0] == 1


@pytest.mark.parametrize("proto, l4, result", [
    (6, TCP, XDP_PASS),                                    # window 512
    (6, TCP[:14] + b"\x00\x00" + TCP[16:], XDP_TX),        # window 0
    (17, UDP, XDP_TX),                                     # length 8
    (17, UDP[:4] + b"\x00\x0c" + UDP[6:], XDP_PASS),       # length 12
    (6, TCP[:15], XDP_DROP),
])
def test_what_the_peek_computes(engine, proto, l4, result):
    prog = bpfjit.load_elf(ELF / "l4_reply.o", function="l4_peek")
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(frame(proto, l4))) == result


# the pointer is bounds-checked on one path and NULL on the other, then the packet
# moves (bpf_xdp_adjust_head): where it is not NULL it points into the old packet, so
# neither it nor its bound may be used after (the kernel: "invalid mem access 'scalar'")
STALE = """
    mov %r6, %r1
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r7, 0
    ldxw %r8, [%r1+12]
    jeq %r8, 0, joined
    mov %r4, %r2
    add %r4, 20
    jgt %r4, %r3, out
    mov %r7, %r2
joined:
    mov %r1, %r6
    mov %r2, 0
    call 44
    jeq %r7, 0, out
    ldxw %r0, [%r7+16]
    exit
out:
    mov %r0, 2
    exit
"""


def test_a_bound_does_not_outlive_the_packet():
    prog = bpfjit.Program(bpfjit.assemble(STALE).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")
    helpers = bpfjit.helper_ids(prog)
    with pytest.raises(bpfjit.VerifierError, match="pc 14: strict mode: cannot prove"):
        bpfjit.verify(prog, mode="strict", helpers=helpers, cache=False)
    # checked mode runs it, the load through the old pointer checked when it runs
    verified = bpfjit.verify(prog, helpers=helpers, cache=False)
    assert 14 in verified.accesses and 14 not in verified.proven
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        with pytest.raises(bpfjit.BpfError, match="invalid mem access"):
            bpfsys.prog_load(prog.to_bytes(), "xdp")


# the guarded pointer is spilled and its register reused before the flag is tested
# (clang 19's xvs reply_v6): the spill keeps the guard and the bound, as a copy
SPILLED = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    ldxw %r8, [%r1+12]
    mov %r9, 0
    jeq %r8, 0, joined
    mov %r4, %r2
    add %r4, 20
    jgt %r4, %r3, out
    mov %r9, %r2
joined:
    stxdw [%r10-8], %r9
    mov %r9, 0
    jeq %r8, 0, out
    ldxdw %r6, [%r10-8]
    ldxw %r0, [%r6+16]
    exit
out:
    mov %r0, 2
    exit
"""


def test_a_spilled_copy_keeps_the_guard_and_the_bound():
    prog = bpfjit.Program(bpfjit.assemble(SPILLED).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    assert 13 in verified.proven
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        bpfsys.close(bpfsys.prog_load(prog.to_bytes(), "xdp"))


@pytest.mark.parametrize("ifindex, packet, result", [
    (0, bytes(range(20)), 2),                   # flag 0: NULL, not read
    (1, bytes(range(20)), int.from_bytes(bytes(range(16, 20)), "little")),
    (1, bytes(19), 2),                          # too short: the check fails
])
def test_what_the_spilled_copy_reads(engine, ifindex, packet, result):
    if engine == "kernel":
        pytest.skip("the kernel's test run sets no ingress ifindex")
    prog = bpfjit.Program(bpfjit.assemble(SPILLED).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")
    ctx = bpfjit.XdpContext(packet, ingress_ifindex=ifindex)
    assert bpfjit.compile(prog, engine)(ctx) == result
