"""sk_msg programs (SEC("sk_msg")): the message a process sends on a socket of a socket
map, struct sk_msg_md, and the verdict helpers (msg_redirect_map, msg_redirect_hash,
msg_apply_bytes, msg_cork_bytes).

The kernel has no test run for sk_msg programs; where this process may load programs,
its verifier is asked instead: the fixture loads (its socket maps created in the
kernel) and every offset and size of a context access is accepted here exactly when
the kernel accepts it (but `sk`, which bpfjit does not give).  Expected values are
worked out from the fixture's C."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from context_oracle import disagreements, kernel_loads

ELF = Path(__file__).parent / "elf"
SK_DROP, SK_PASS = 0, 1


def steer():
    """The fixture, with a frontend socket in frontends[0] and a peer in peers for
    127.0.0.1:40000 <-> 127.0.0.1:6379."""
    prog = bpfjit.load_elf(ELF / "sk_msg.o")
    front = prog.env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.9", 8080),
                                               remote=("10.0.0.2", 51000)))
    peer = prog.env.sockets.add(bpfjit.Socket("tcp", local=("127.0.0.1", 40000),
                                              remote=("127.0.0.1", 6379)))
    prog.maps["frontends"][0] = front
    # struct peer_key: local_ip4, remote_ip4 (network order), local_port, remote_port
    prog.maps["peers"][struct.pack("<4s4sII", bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]),
                                   40000, 6379)] = peer
    return prog, front, peer


@pytest.mark.parametrize("data, local_port, remote_port, verdict, to, flags, applied, corked", [
    # to port 80: the frontend socket, received (BPF_F_INGRESS); the verdict covers 14
    (b"GET / HTTP/1.1", 80, 50000, SK_PASS, "front", 1, 14, None),
    # from 40000 to 6379: the peer kept for that pair, sent
    (b"SET k v\r\n", 6379, 40000, SK_PASS, "peer", 0, 9, None),
    (b"Xbad", 80, 1, SK_DROP, None, None, None, None),           # starts with 'X'
    (b"ab", 80, 1, SK_PASS, None, None, None, 4),                # wait for 4 bytes
    (b"PING", 6379, 40001, SK_DROP, None, None, 4, None),        # no peer for that pair
])
def test_steering(engine, data, local_port, remote_port, verdict, to, flags, applied, corked):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    prog, front, peer = steer()
    ctx = bpfjit.SkMsgContext(data, local=("127.0.0.1", local_port),
                              remote=("127.0.0.1", remote_port))
    assert bpfjit.compile(prog, engine)(ctx) == verdict
    target = {"front": front, "peer": peer}.get(to)
    if target is None:
        assert ctx.redirect is None
    else:
        assert (ctx.redirect.target, ctx.redirect.flags) == (target, flags)
    assert (ctx.apply_bytes, ctx.cork_bytes) == (applied, corked)


def test_a_socket_gone_is_a_drop(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    prog, front, _ = steer()
    prog.env.sockets.remove(front)
    ctx = bpfjit.SkMsgContext(b"GET /", local=("127.0.0.1", 80))
    assert bpfjit.compile(prog, engine)(ctx) == SK_DROP and ctx.redirect is None


@pytest.mark.parametrize("socket, verdict", [
    (dict(protocol="tcp", local=("10.0.0.9", 8080)), SK_DROP),               # listening
    (dict(protocol="udp", local=("10.0.0.9", 53)), SK_DROP),                 # unconnected
    (dict(protocol="udp", local=("10.0.0.9", 53), remote=("10.0.0.1", 9)), SK_PASS),
])
def test_only_a_connected_socket_takes_a_redirect(engine, socket, verdict):
    # the kernel's sock_map_redirect_allowed: a TCP socket that is not listening, any
    # other one established
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    prog, front, _ = steer()
    other = prog.env.sockets.add(bpfjit.Socket(**socket))
    prog.maps["frontends"][0] = other
    ctx = bpfjit.SkMsgContext(b"GET / HTTP/1.1", local=("127.0.0.1", 80))
    assert bpfjit.compile(prog, engine)(ctx) == verdict
    assert (ctx.redirect is None) is (verdict == SK_DROP)


def test_the_block_is_struct_sk_msg_md():
    ctx = bpfjit.SkMsgContext(b"hello", local=("fd00::2", 80), remote=("fd00::1", 55601))
    ctx.fill(0x1000)
    block = bytes(ctx.buffer[:80])
    assert struct.unpack_from("<QQI", block, 0) == (0x1000, 0x1005, 10)     # AF_INET6
    assert block[28:44] == bytes.fromhex("fd000000000000000000000000000001")
    assert block[60:64] == (55601).to_bytes(4, "big")
    assert struct.unpack_from("<II", block, 64) == (80, 5)                  # port, size


# ---- the verifier against the kernel's ------------------------------------------------

def kernel_accepts(code: bytes) -> bool | None:
    return kernel_loads(code, "sk_msg")


def test_the_kernel_loads_the_fixture():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    prog = bpfjit.load_elf(ELF / "sk_msg.o")
    fds = [bpfsys.map_create(m.spec.type, m.spec.key_size, m.spec.value_size,
                             m.spec.max_entries) for m in prog.maps.list]
    try:
        assert kernel_accepts(_with_map_fds(prog.to_bytes(), fds))
    finally:
        for fd in fds:
            bpfsys.close(fd)


def test_context_accesses_match_the_kernel():
    if kernel_accepts(bpfjit.assemble("mov %r0, 1\nexit").to_bytes()) is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert disagreements("sk_msg", "sk_msg", 84, set()) == []


def test_any_verdict_is_accepted_as_the_kernel_does(engine):
    # the kernel checks no range: anything but SK_PASS drops the message
    prog = bpfjit.Program(bpfjit.assemble("mov %r0, 2\nexit").insns, context="sk_msg",
                          prog_type="sk_msg")
    assert kernel_accepts(prog.to_bytes()) in (None, True)
    if engine != "kernel":
        assert bpfjit.compile(prog, engine)(bpfjit.SkMsgContext(b"m")) == 2


def test_bad_contexts_are_errors():
    with pytest.raises(bpfjit.BpfError, match="port is 0-65535"):
        bpfjit.SkMsgContext(b"", local=("127.0.0.1", -1))
    with pytest.raises(bpfjit.BpfError, match="not an IP address"):
        bpfjit.SkMsgContext(b"", remote=("x", 1))
