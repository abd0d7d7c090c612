"""bpf_skb_cgroup_classid (151): the net_cls classid of the cgroup of the socket a
packet belongs to, 0 for a packet of no socket (and for every socket on a system with
cgroup v2 alone, where no task is in a net_cls cgroup); tc programs have it, as the
kernel gives it.  openEuler's oncn-bwm (bandwidth management by priority) reads a
packet's priority from it; bpfjit refused the call until 2026-12-05.

A socket's classid is its `classid` (0 by default).  The kernel's test run makes the
packet a socket of no net_cls cgroup: 0."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map
from skb_programs import asm_program

# ids[0] = bpf_skb_cgroup_classid(ctx); r0 = 0 (TC_ACT_OK)
STORE_CLASSID = """
    call 151
    stxdw [%r10-8], %r0
    stw [%r10-12], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -12
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 2
    mov %r0, 0
    exit
"""
FRAME = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + bytes(40)


def program(prog_type: str = "sched_cls") -> bpfjit.Program:
    ids = make_map(MapSpec("ids", 2, 4, 8, 1))
    return asm_program(STORE_CLASSID, "skb", prog_type, [ids])


@pytest.mark.parametrize("classid, expected", [
    ("none", 0),                # no socket
    (0, 0),                     # a socket of no net_cls cgroup
    (0x10002, 0x10002),         # class 1:2
])
def test_the_packet_s_socket_s_classid(engine, classid, expected):
    if engine == "kernel" and classid != "none":
        pytest.skip("the kernel's test run makes its own socket (the test below)")
    prog = program()
    socket = None if classid == "none" else \
        bpfjit.Socket("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000), classid=classid)
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(FRAME, socket=socket)) == 0
    if engine != "kernel":          # (the kernel's maps are its own)
        assert struct.unpack("<Q", prog.maps["ids"][0])[0] == expected


def test_only_tc_programs_have_it():
    with pytest.raises(bpfjit.VerifierError, match="skb_cgroup_classid is not available"):
        bpfjit.verify(program("cgroup_skb"), helpers=bpfjit.helper_ids(program()))


def test_a_socket_s_classid_is_checked():
    with pytest.raises(bpfjit.BpfError, match="classid"):
        bpfjit.Socket("tcp", ("10.0.0.1", 80), classid=1 << 32)


def test_the_kernel_gives_0_for_its_test_run_s_socket():
    """The kernel's test run gives the packet a socket of no net_cls cgroup: 0, what
    every engine answers for a socket of the default classid."""
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    fd = bpfsys.map_create(2, 4, 8, 1)
    try:
        prog = bpfsys.prog_load(_with_map_fds(program().to_bytes(), [fd]), "sched_cls")
        try:
            assert bpfsys.test_run(prog, data=FRAME).retval == 0
        finally:
            bpfsys.close(prog)
        kernel_classid = struct.unpack("<Q", bpfsys.map_lookup(fd, bytes(4), 8))[0]
    finally:
        bpfsys.close(fd)
    socket = bpfjit.Socket("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000))
    for engine in bpfjit.engines():
        ours = program()
        bpfjit.compile(ours, engine)(bpfjit.SkbContext(FRAME, socket=socket))
        assert struct.unpack("<Q", ours.maps["ids"][0])[0] == kernel_classid == 0
