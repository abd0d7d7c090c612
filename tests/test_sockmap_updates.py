"""Socket maps changed by programs: bpf_map_update_elem with a socket as the value, and
bpf_map_delete_elem, on a sockmap or sockhash (OpenTelemetry eBPF Instrumentation's
tc tracer registers the connections it sees in a sockhash this way).

The kernel lets only the programs that can never hold a locked socket do so (its
`may_update_sockmap`): socket filters, tc, XDP, sk_reuseport, flow dissector and
sk_lookup programs update and delete; sock_ops programs delete (they add their own
socket with bpf_sock_map_update / bpf_sock_hash_update); no other program touches the
map but to look up.  The update's value is a socket (a lookup's, tested for NULL);
the kernel takes TCP sockets that are established or listening, and UDP ones.  Each
verdict below is also the running kernel's, where this process may load programs;
results are worked out from those rules and the fixture's C."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.elf import ElfObject
from bpfjit.kernel import KernelEnv
from bpfjit.maps import ArrayMap, MapSpec, MapTable, SockHash, SockMap
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"
EEXIST, E2BIG, ENOENT, EOPNOTSUPP = 17, 7, 2, 95
TCP_SYN_SENT = 2


def frame(sport: int, dport: int, flags: int = 0x18, src=(10, 0, 0, 1), dst=(10, 0, 0, 2)):
    """An IPv4 TCP frame from src:sport to dst:dport with the given TCP flags."""
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes(src),
                     bytes(dst))
    return eth + ip + tcp


def conn_key(sport: int, dport: int) -> bytes:
    """struct conn_key of 10.0.0.1:sport -> 10.0.0.2:dport: addresses and ports as the
    packet has them (network order)."""
    return bytes([10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack("!HH", sport, dport)


def fixture(flags: int = 0, slot: int = 0, sockets=()):
    """(remember, forget) sharing the fixture's maps, `update_flags` and `slot` set."""
    obj = ElfObject(ELF / "sockmap_update.o")
    remember, forget = obj.program("tc", None), obj.program("xdp", None)
    remember.maps[".bss"][0] = struct.pack("<QI", flags, slot)
    for sock in sockets:
        remember.env.sockets.add(sock)
    return remember, forget


def results(prog) -> list[int]:
    return [struct.unpack("<q", prog.maps["results"][i])[0] for i in range(3)]


CONNECTED = dict(local=("10.0.0.2", 80), remote=("10.0.0.1", 40000))


def test_a_tc_program_registers_the_connection(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine does not give its test runs these sockets")
    sock = bpfjit.Socket("tcp", **CONNECTED)
    remember, _ = fixture(sockets=[sock])
    assert bpfjit.compile(remember, engine)(bpfjit.SkbContext(frame(40000, 80))) == 0
    assert results(remember)[:2] == [0, 0]
    assert remember.maps["conns"][conn_key(40000, 80)] is sock
    assert remember.maps["slots"][0] is sock


@pytest.mark.parametrize("flags, slot, expected", [
    (1, 0, [-EEXIST, 0]),          # BPF_NOEXIST on a key already there; slots: BPF_ANY
    (2, 0, [0, 0]),                # BPF_EXIST
    (0, 4, [0, -E2BIG]),           # an index past the sockmap's 4 entries
])
def test_the_update_flags_and_limits(engine, flags, slot, expected):
    if engine == "kernel":
        pytest.skip("the kernel engine does not give its test runs these sockets")
    sock = bpfjit.Socket("tcp", **CONNECTED)
    remember, _ = fixture(sockets=[sock])
    fn = bpfjit.compile(remember, engine)
    fn(bpfjit.SkbContext(frame(40000, 80)))
    remember.maps[".bss"][0] = struct.pack("<QI", flags, slot)
    fn(bpfjit.SkbContext(frame(40000, 80)))
    assert results(remember)[:2] == expected


@pytest.mark.parametrize("sock, expected", [
    (bpfjit.Socket("tcp", local=("10.0.0.2", 80)), 0),                     # listening
    (bpfjit.Socket("tcp", state=TCP_SYN_SENT, **CONNECTED), -EOPNOTSUPP),  # neither
])
def test_only_established_or_listening_tcp_sockets(engine, sock, expected):
    if engine == "kernel":
        pytest.skip("the kernel engine does not give its test runs these sockets")
    remember, _ = fixture(sockets=[sock])
    bpfjit.compile(remember, engine)(bpfjit.SkbContext(frame(40000, 80, flags=0x02)))
    assert results(remember)[:2] == [expected, expected]
    assert len(remember.maps["conns"]) == (1 if expected == 0 else 0)


def test_an_xdp_program_deletes_on_reset(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine does not give its test runs these sockets")
    sock = bpfjit.Socket("tcp", **CONNECTED)
    remember, forget = fixture(sockets=[sock])
    bpfjit.compile(remember, engine)(bpfjit.SkbContext(frame(40000, 80)))
    drop = bpfjit.compile(forget, engine)
    assert drop(bpfjit.XdpContext(frame(40000, 80, flags=0x14))) == 2      # XDP_PASS
    assert results(forget)[2] == 0 and len(forget.maps["conns"]) == 0
    drop(bpfjit.XdpContext(frame(40000, 80, flags=0x14)))
    assert results(forget)[2] == -ENOENT


def test_the_kernel_loads_the_fixture():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    for section, prog_type in (("tc", "sched_cls"), ("xdp", "xdp")):
        prog = bpfjit.load_elf(ELF / "sockmap_update.o", section=section)
        fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
               for m in prog.maps.list]
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), prog_type)
        finally:
            for fd in fds:
                bpfsys.close(fd)


# ---- which programs may ---------------------------------------------------------------------

DELETE = """
    stw [%r10-4], 1
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 3
    mov %r0, 1
    exit
"""
# a socket a lookup found, put in the map (r3 = {value})
UPDATE = """
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call 84
    mov %r7, %r0
    {test}
    stw [%r10-20], 1
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -20
    mov %r3, {value}
    mov %r4, 0
    call 2
    mov %r1, %r7
    call 86
out:
    mov %r0, 0
    exit
"""


def _program(text: str, prog_type: str, map_type: int, attach: str | None = None):
    spec = MapSpec("socks", map_type, 4, 8, 4)
    maps = MapTable([SockMap(spec) if map_type == 15 else SockHash(spec)])
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(maps),
                          context=_CONTEXTS[prog_type], prog_type=prog_type,
                          attach_type=attach)


_CONTEXTS = {"sched_cls": "skb", "xdp": "xdp", "socket_filter": "skb", "sock_ops": "sock_ops",
             "cgroup_skb": "skb", "sk_msg": "sk_msg", "cgroup_sock_addr": "sock_addr",
             "cgroup_sock": "sock"}


def _kernel(prog) -> bool | None:
    if "kernel" not in bpfjit.engines(kernel=True):
        return None
    from bpfjit.backends.kerneljit import _with_map_fds
    fd = bpfsys.map_create(prog.maps.list[0].spec.type, 4, 8, 4)
    try:
        return kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), prog.prog_type,
                            prog.attach_type)
    finally:
        bpfsys.close(fd)


def _verdict(prog) -> bool:
    try:
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    except bpfjit.VerifierError as exc:
        assert "cannot take map 'socks' in" in str(exc), exc
        return False
    return True


@pytest.mark.parametrize("map_type", [15, 18])
@pytest.mark.parametrize("prog_type, attach, allowed", [
    ("sched_cls", None, True), ("xdp", None, True), ("socket_filter", None, True),
    ("sock_ops", None, True), ("cgroup_skb", "ingress", False), ("sk_msg", None, False),
    ("cgroup_sock_addr", "connect4", False), ("cgroup_sock", "sock_create", False),
])
def test_who_may_delete(prog_type, attach, allowed, map_type):
    prog = _program(DELETE, prog_type, map_type, attach)
    assert _verdict(prog) is allowed
    assert _kernel(prog) in (None, allowed)


@pytest.mark.parametrize("map_type", [15, 18])
@pytest.mark.parametrize("prog_type, allowed", [("sched_cls", True), ("xdp", True)])
def test_who_may_update(prog_type, allowed, map_type):
    prog = _program(UPDATE.format(test="jeq %r7, 0, out", value="%r7"), prog_type, map_type)
    assert _verdict(prog) is allowed
    assert _kernel(prog) in (None, allowed)


@pytest.mark.parametrize("test, value, why", [
    ("jeq %r7, 0, out", "%r2", "takes a socket a lookup returned in r3, not fp"),
    ("ja +0", "%r7", "or NULL: compare it with 0 first"),
])
def test_the_value_is_a_socket(test, value, why):
    prog = _program(UPDATE.format(test=test, value=value), "sched_cls", 18)
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    assert _kernel(prog) in (None, False)
