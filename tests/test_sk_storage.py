"""Socket storage (BPF_MAP_TYPE_SK_STORAGE) and its helpers, bpf_sk_storage_get (107)
and bpf_sk_storage_delete (108): a value per socket, made on request and found again
by the same socket in any program (tests/elf/sk_storage.c: a connect hook, sock_ops,
sk_msg and tc), on every engine.  Counts and ports are worked out by hand from the
fixture's comments; which programs may call the helpers, and with what, is the
running kernel's verdict (tested against it where this process may load programs)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.maps.sk_storage import CAPACITY
from context_oracle import kernel_loads

FIXTURE = Path(__file__).parent / "elf" / "sk_storage.o"
KERNEL = "kernel" in bpfjit.engines(kernel=True)


def loaded(section: str) -> bpfjit.Program:
    return bpfjit.load_elf(FIXTURE, section=section)


def conn(connects: int = 0, port: int = 0, packets: int = 0) -> bytes:
    """The fixture's `struct conn`: connects, port (network order in the low half of a
    u32, as user_port), packets."""
    return struct.pack("<I", connects) + port.to_bytes(2, "big") + bytes(2) + \
        struct.pack("<Q", packets)


def _compile(prog, engine):
    if engine == "kernel":
        pytest.skip("the kernel engine has no socket storage twin (and no test run for "
                    "most of these program types)")
    return bpfjit.compile(prog, engine, cache=False)


SOCK = dict(local=("10.0.0.2", 40000), remote=("10.96.0.1", 80))


def test_the_map_is_declared_as_the_kernel_wants_it():
    m = loaded("sockops").maps["conns"]
    assert (m.spec.type, m.key_size, m.value_size, m.max_entries, m.spec.flags) == \
        (24, 4, 16, 0, 1)
    assert len(m) == 0


# ---- a value made by one program, found by others --------------------------------------------

def test_the_connect_hook_makes_a_value_and_counts(engine):
    prog = loaded("cgroup/connect4")
    fn = _compile(prog, engine)
    sock = bpfjit.Socket("tcp", **SOCK)
    for connects in (1, 2, 3):
        assert fn(bpfjit.SockAddrContext("10.96.0.1", 80, socket=sock)) == 1
        assert prog.maps["conns"][sock] == conn(connects, 80)
    # another socket has a value of its own; a context without a socket keeps one too
    other = bpfjit.Socket("udp", local=("10.0.0.2", 5353))
    assert fn(bpfjit.SockAddrContext("10.96.0.10", 53, type=2, socket=other)) == 1
    bare = bpfjit.SockAddrContext("10.96.0.11", 443)
    assert fn(bare) == 1
    storage = prog.maps["conns"]
    assert (storage[sock], storage[other], storage[bare]) == \
        (conn(3, 80), conn(1, 53), conn(1, 443))
    assert len(storage) == 3 and set(map(id, storage)) == {id(sock), id(other), id(bare)}


@pytest.mark.parametrize("value, full, reply", [
    (conn(7, 80), 1, 7),            # the socket's count
    (None, 1, 0xFFFF),              # no value: none made (flags 0)
    (conn(7, 80), 0, 0xFFFE),       # not a full socket: sk is NULL
])
def test_sock_ops_reads_the_value_the_socket_keeps(engine, value, full, reply):
    prog = loaded("sockops")
    sock = bpfjit.Socket("tcp", **SOCK)
    if value is not None:
        prog.maps["conns"][sock] = value
    ctx = bpfjit.SockOpsContext(4, socket=sock, is_fullsock=full, **SOCK)
    assert _compile(prog, engine)(ctx) == 1
    assert ctx.reply == reply
    assert len(prog.maps["conns"]) == (value is not None)


def test_sk_msg_passes_sockets_with_a_value_and_q_forgets_it(engine):
    prog = loaded("sk_msg")
    fn = _compile(prog, engine)
    sock = bpfjit.Socket("tcp", **SOCK)
    assert fn(bpfjit.SkMsgContext(b"hello", socket=sock)) == 0         # SK_DROP
    prog.maps["conns"][sock] = conn(1, 80)
    assert fn(bpfjit.SkMsgContext(b"hello", socket=sock)) == 1         # SK_PASS
    assert fn(bpfjit.SkMsgContext(b"Quit", socket=sock)) == 1          # passes, forgets
    assert sock not in prog.maps["conns"]
    assert fn(bpfjit.SkMsgContext(b"hello", socket=sock)) == 0


def _tcp_packet(src: str, sport: int, dst: str, dport: int) -> bytes:
    import ipaddress
    ip = bytes([0x45, 0]) + (40).to_bytes(2, "big") + bytes(4) + bytes([64, 6]) + bytes(2) \
        + ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
    tcp = sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + bytes(16)
    return bytes(12) + b"\x08\x00" + ip + tcp


def test_tc_counts_packets_in_the_value_of_the_socket_a_lookup_found(engine):
    prog = loaded("tc")
    listener = prog.env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80)))
    fn = _compile(prog, engine)
    packet = _tcp_packet("10.0.0.1", 40000, "10.0.0.2", 80)
    # made from the starting value (1000 packets), then counted: 1001, 1002
    assert fn(bpfjit.SkbContext(packet)) == 1001
    assert fn(bpfjit.SkbContext(packet)) == 1002
    assert prog.maps["conns"][listener] == conn(packets=1002)
    assert fn(bpfjit.SkbContext(_tcp_packet("10.0.0.1", 40000, "10.0.0.2", 81))) == 0


# ---- the helper's edges ----------------------------------------------------------------------

# r0 = bpf_sk_storage_get(conns, msg->sk, NULL, FLAGS) != NULL
GET = """
    ldxdw %r2, [%r1+72]
    lddw %r1, map_by_fd(0)
    mov %r3, 0
    mov %r4, FLAGS
    call 107
    mov %r6, %r0
    mov %r0, 0
    jeq %r6, 0, +1
    mov %r0, 1
    exit
"""


def _msg_program(text: str) -> bpfjit.Program:
    env = loaded("sk_msg").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="sk_msg",
                          prog_type="sk_msg")


@pytest.mark.parametrize("flags, made", [(0, False), (1, True), (2, False), (3, False)])
def test_only_the_create_flag_makes_a_value(engine, flags, made):
    prog = _msg_program(GET.replace("FLAGS", str(flags)))
    sock = bpfjit.Socket("tcp", **SOCK)
    assert _compile(prog, engine)(bpfjit.SkMsgContext(b"m", socket=sock)) == int(made)
    assert (sock in prog.maps["conns"]) == made
    if made:
        assert prog.maps["conns"][sock] == bytes(16)       # zeros: no starting value


def test_a_full_map_makes_no_more_values(engine):
    prog = _msg_program(GET.replace("FLAGS", "1"))
    storage = prog.maps["conns"]
    for i in range(CAPACITY):
        storage[bpfjit.Socket("tcp", local=("10.0.0.2", 1000 + i))] = conn(i)
    with pytest.raises(bpfjit.MapError, match="hold a value already"):
        storage[bpfjit.Socket("tcp", local=("10.0.0.3", 1))] = conn()
    # the program's call returns NULL, as the kernel's does when it cannot allocate
    assert _compile(prog, engine)(bpfjit.SkMsgContext(b"m", socket=bpfjit.Socket(
        "tcp", **SOCK))) == 0
    assert len(storage) == CAPACITY


# r0 = bpf_sk_storage_delete(conns, msg->sk) (0, or -ENOENT: 0xff..fe)
DELETE = """
    ldxdw %r2, [%r1+72]
    lddw %r1, map_by_fd(0)
    call 108
    exit
"""


def test_delete_gives_enoent_for_a_socket_without_a_value(engine):
    prog = _msg_program(DELETE)
    fn = _compile(prog, engine)
    sock = bpfjit.Socket("tcp", **SOCK)
    prog.maps["conns"][sock] = conn(1)
    assert fn(bpfjit.SkMsgContext(b"m", socket=sock)) == 0
    assert fn(bpfjit.SkMsgContext(b"m", socket=sock)) == (1 << 64) - 2      # -ENOENT


# ---- what the verifier refuses, as the kernel does ------------------------------------------

@pytest.mark.parametrize("text, prog_type, context, why", [
    # NULL is no socket
    ("lddw %r1, map_by_fd(0)\nmov %r2, 0\nmov %r3, 0\nmov %r4, 1\ncall 107\nmov %r0, 1\nexit",
     "sk_msg", "sk_msg", "takes a socket"),
    # only the two helpers take the map
    ("mov %r2, %r10\nadd %r2, -8\nstdw [%r10-8], 0\nlddw %r1, map_by_fd(0)\ncall 1\n"
     "mov %r0, 1\nexit", "sk_msg", "sk_msg", "cannot take map"),
    # not in XDP programs, nor socket filters
    ("mov %r0, 0\nlddw %r1, map_by_fd(0)\nmov %r2, 0\ncall 108\nmov %r0, 1\nexit", "xdp", "xdp",
     "not available"),
    ("mov %r0, 0\nlddw %r1, map_by_fd(0)\nmov %r2, 0\ncall 108\nmov %r0, 1\nexit",
     "socket_filter", "skb", "not available"),
])
def test_what_the_verifier_refuses(text, prog_type, context, why):
    env = loaded("sk_msg").env
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=env, context=context,
                          prog_type=prog_type)
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(prog, cache=False)


def test_a_wrong_key_from_python_is_refused():
    storage = loaded("sk_msg").maps["conns"]
    with pytest.raises(bpfjit.BpfError, match="keyed by sockets"):
        storage[4] = conn()
    with pytest.raises(KeyError):
        storage[bpfjit.Socket("tcp", **SOCK)]


@pytest.mark.parametrize("key, max_entries, flags, words", [
    (8, 0, 1, "4-byte keys"), (4, 16, 1, "max_entries 0"), (4, 0, 0, "BPF_F_NO_PREALLOC")])
def test_a_map_the_kernel_would_refuse_is_refused(key, max_entries, flags, words):
    from bpfjit.maps import MapSpec, make_map
    with pytest.raises(bpfjit.BpfError, match=words):
        make_map(MapSpec("conns", 24, key, 16, max_entries, flags))


@pytest.mark.skipif(not KERNEL, reason="no kernel engine here")
@pytest.mark.parametrize("section, prog_type, attach", [
    ("cgroup/connect4", "cgroup_sock_addr", "connect4"), ("sockops", "sock_ops", None),
    ("sk_msg", "sk_msg", None), ("tc", "sched_cls", None)])
def test_the_kernel_loads_the_fixture(section, prog_type, attach):
    from bpfjit.backends.kerneljit import _with_map_fds
    prog = loaded(section)
    fds = [_sk_storage_fd() if m.spec.type == 24 else
           bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
           for m in prog.maps.list]
    try:
        assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), prog_type, attach)
    finally:
        for fd in fds:
            bpfsys.close(fd)


def _sk_storage_fd() -> int:
    """A socket storage map of 16-byte values in the running kernel (which wants one
    described in BTF)."""
    return bpfsys.map_create(24, 4, 16, 0, flags=1, btf=True)


def test_the_pytest_plugin_names_the_socket_whose_values_differ():
    from bpfjit.pytest_plugin import _map_differences
    mine, theirs = loaded("sk_msg").maps, loaded("sk_msg").maps
    sock = bpfjit.Socket("tcp", **SOCK)
    mine["conns"][sock], theirs["conns"][sock] = conn(1), conn(2)
    found = _map_differences("llvm", mine, theirs)
    assert len(found) == 1 and found[0].startswith("map conns[Socket(protocol='tcp'")
    assert found[0].endswith(f"llvm {conn(1).hex()}, interp {conn(2).hex()}")
