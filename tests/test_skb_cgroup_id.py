"""bpf_skb_cgroup_id (79): the cgroup v2 id of the socket a packet belongs to, 0 for a
packet of no socket; tc and cgroup_skb programs have it (the kernel's func_protos, held
to the kernel by tests/test_helper_availability.py).  kubeshark's packet sniffer tags
the packets it captures with it; until 2026-12-03 bpfjit had no such helper and refused
the program at load.

A socket's id is its `cgroup_id`, or by default the current task's (`env.cgroup_id`,
this process's): the kernel's test run makes the packet's socket in the calling task's
cgroup, so its answer there is this process's id."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map
from skb_programs import asm_program

# ids[0] = bpf_skb_cgroup_id(ctx); r0 = 1 (pass)
STORE_ID = """
    call 79
    stxdw [%r10-8], %r0
    stw [%r10-12], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -12
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 2
    mov %r0, 1
    exit
"""
FRAME = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + bytes(40)


def program(prog_type: str) -> bpfjit.Program:
    ids = make_map(MapSpec("ids", 2, 4, 8, 1))
    return asm_program(STORE_ID, "skb", prog_type, [ids])


def stored(prog: bpfjit.Program) -> int:
    return struct.unpack("<Q", prog.maps["ids"][0])[0]


@pytest.mark.parametrize("prog_type", ["sched_cls", "cgroup_skb"])
@pytest.mark.parametrize("socket_id, expected", [
    ("none", 0),                # no socket: 0
    (None, 4242),               # the current task's: env.cgroup_id
    (77, 77),                   # the socket's own
])
def test_the_packet_s_socket_s_cgroup(engine, prog_type, socket_id, expected):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_skb_cgroup_id (see the kernel's "
                    "test run below)")
    prog = program(prog_type)
    prog.env.cgroup_id = 4242
    socket = None if socket_id == "none" else \
        bpfjit.Socket("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000), cgroup_id=socket_id)
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(FRAME, socket=socket)) == 1
    assert stored(prog) == expected


def test_a_socket_s_cgroup_id_is_checked():
    with pytest.raises(bpfjit.BpfError, match="cgroup_id"):
        bpfjit.Socket("tcp", ("10.0.0.1", 80), cgroup_id=-1)


def test_the_kernel_gives_the_calling_task_s_cgroup():
    """The kernel's test run makes a socket for the packet in the calling task's cgroup,
    for tc and cgroup_skb programs alike: its answer is this process's cgroup id, what
    every engine answers for a socket of the default id in the default environment."""
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    socket = bpfjit.Socket("tcp", ("10.0.0.1", 80), ("10.0.0.2", 5000))
    for prog_type in ("sched_cls", "cgroup_skb"):
        fd = bpfsys.map_create(2, 4, 8, 1)
        try:
            prog = bpfsys.prog_load(_with_map_fds(program(prog_type).to_bytes(), [fd]),
                                    prog_type)
            try:
                assert bpfsys.test_run(prog, data=FRAME).retval == 1
            finally:
                bpfsys.close(prog)
            kernel_id = struct.unpack("<Q", bpfsys.map_lookup(fd, bytes(4), 8))[0]
        finally:
            bpfsys.close(fd)
        for engine in bpfjit.engines():
            ours = program(prog_type)
            bpfjit.compile(ours, engine)(bpfjit.SkbContext(FRAME, socket=socket))
            assert stored(ours) == kernel_id, (prog_type, engine)
