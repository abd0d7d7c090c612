"""The socket a context's `sk` field points at: cgroup sock_addr programs (the socket
making the call), sock_ops (the connection, NULL when it is no full socket) and sk_msg
(the sending socket).  Each `struct bpf_sock` field read through `sk` is worked out by
hand from the context's arguments (addresses and dst_port in network byte order,
src_port in host order), on every engine; the verifier's rules for `sk` are the
kernel's (tests/test_sock_addr.py, test_sock_ops.py and test_sk_msg.py hold them to
the running kernel offset by offset)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import bpfjit
from context_oracle import kernel_loads


ELF = Path(__file__).parent / "elf"


def _program(text: str, context: str, prog_type: str, attach: str | None = None):
    # an object's environment: the kernel's helpers, with their signatures
    env = bpfjit.load_elf(ELF / "sk_msg.o").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context=context,
                          prog_type=prog_type, attach_type=attach)


def _run(engine: str, prog: bpfjit.Program, ctx) -> int:
    if engine == "kernel":
        pytest.skip("the kernel cannot test-run this program type")
    return bpfjit.compile(prog, engine, cache=False)(ctx)


# ---- sk_msg: the sending socket ------------------------------------------------------------

# r0 = family | protocol << 8 | src_port << 16 | dst_port (its 2 bytes as stored) << 32
#      | state << 48
SK_MSG_FIELDS = """
    ldxdw %r2, [%r1+72]
    ldxw %r0, [%r2+4]
    ldxw %r3, [%r2+12]
    lsh %r3, 8
    or %r0, %r3
    ldxw %r3, [%r2+44]
    lsh %r3, 16
    or %r0, %r3
    ldxh %r3, [%r2+48]
    lsh %r3, 32
    or %r0, %r3
    ldxw %r3, [%r2+72]
    lsh %r3, 48
    or %r0, %r3
    exit
"""


def test_sk_msg_reads_its_sending_socket(engine):
    prog = _program(SK_MSG_FIELDS, "sk_msg", "sk_msg")
    ctx = bpfjit.SkMsgContext(b"GET /", local=("10.0.0.2", 80), remote=("10.0.0.1", 4000))
    # AF_INET 2, IPPROTO_TCP 6, local port 80; remote port 4000 = 0x0fa0 stored as the
    # bytes 0f a0, a little-endian u16 0xa00f; an established connection: state 1
    assert _run(engine, prog, ctx) == 2 | 6 << 8 | 80 << 16 | 0xA00F << 32 | 1 << 48


SK_MSG_ADDRESSES = """
    ldxdw %r2, [%r1+72]
    ldxw %r0, [%r2+ADDRESS]
    exit
"""


@pytest.mark.parametrize("local, remote, offset, expected", [
    # src_ip4 (24) and dst_ip4 (52): the address's bytes read as a little-endian u32
    (("10.0.0.2", 80), ("192.168.7.9", 4000), 24, bytes([10, 0, 0, 2])),
    (("10.0.0.2", 80), ("192.168.7.9", 4000), 52, bytes([192, 168, 7, 9])),
    # src_ip6[3] (40) and dst_ip6[0] (56)
    (("2001:db8::5", 80), ("fe80::1", 4000), 40, bytes([0, 0, 0, 5])),
    (("2001:db8::5", 80), ("fe80::1", 4000), 56, bytes([0xfe, 0x80, 0, 0])),
])
def test_sk_msg_reads_the_addresses(engine, local, remote, offset, expected):
    prog = _program(SK_MSG_ADDRESSES.replace("ADDRESS", str(offset)), "sk_msg", "sk_msg")
    ctx = bpfjit.SkMsgContext(b"x", local=local, remote=remote)
    assert _run(engine, prog, ctx) == int.from_bytes(expected, "little")


def test_sk_msg_shows_the_socket_it_was_given(engine):
    sock = bpfjit.Socket("tcp", local=("10.1.1.1", 8080), remote=("10.2.2.2", 9),
                         mark=0x77, priority=3)
    prog = _program("ldxdw %r2, [%r1+72]\nldxw %r0, [%r2+16]\nldxw %r3, [%r2+20]\n"
                    "lsh %r3, 8\nor %r0, %r3\nexit", "sk_msg", "sk_msg")
    assert _run(engine, prog, bpfjit.SkMsgContext(b"x", socket=sock)) == 0x77 | 3 << 8


# ---- sock_ops: the connection, or NULL ------------------------------------------------------

# reply = sk ? sk->src_port : 7; r0 = sk != NULL
SOCK_OPS = """
    ldxdw %r2, [%r1+184]
    mov %r0, 0
    mov %r3, 7
    jeq %r2, 0, out
    ldxw %r3, [%r2+44]
    mov %r0, 1
out:
    stxw [%r1+4], %r3
    exit
"""


@pytest.mark.parametrize("full, r0, reply", [(1, 1, 443), (0, 0, 7)])
def test_sock_ops_reads_the_connection_when_it_is_a_full_socket(engine, full, r0, reply):
    prog = _program(SOCK_OPS, "sock_ops", "sock_ops")
    ctx = bpfjit.SockOpsContext(4, local=("10.0.0.2", 443), remote=("10.0.0.1", 5000),
                                is_fullsock=full)
    assert _run(engine, prog, ctx) == r0
    assert ctx.reply == reply


def test_sock_ops_sk_state_is_the_contexts_state(engine):
    # both are the socket's TCP state; r0 = sk->state == ctx->state
    text = ("ldxdw %r2, [%r1+184]\nmov %r0, 0\njeq %r2, 0, +4\nldxw %r3, [%r2+72]\n"
            "ldxw %r4, [%r1+88]\njne %r3, %r4, +1\nmov %r0, 1\nexit")
    prog = _program(text, "sock_ops", "sock_ops")
    ctx = bpfjit.SockOpsContext(4, local=("10.0.0.2", 443), remote=("10.0.0.1", 5000),
                                state=8)
    assert _run(engine, prog, ctx) == 1


# ---- sock_addr: the socket making the call --------------------------------------------------

# user_ip4 = type | protocol << 8 | state << 16 | family << 24; user_port = src_port
SOCK_ADDR = """
    ldxdw %r2, [%r1+64]
    ldxw %r3, [%r2+8]
    ldxw %r4, [%r2+12]
    lsh %r4, 8
    or %r3, %r4
    ldxw %r4, [%r2+72]
    lsh %r4, 16
    or %r3, %r4
    ldxw %r4, [%r2+4]
    lsh %r4, 24
    or %r3, %r4
    stxw [%r1+4], %r3
    ldxw %r4, [%r2+44]
    stxw [%r1+24], %r4
    mov %r0, 1
    exit
"""


@pytest.mark.parametrize("kind, protocol, local, port", [
    (1, 6, None, 0), (2, 17, ("10.0.0.9", 5000), 5000)])
def test_sock_addr_reads_the_calling_socket(engine, kind, protocol, local, port):
    prog = _program(SOCK_ADDR, "sock_addr", "cgroup_sock_addr", "connect4")
    ctx = bpfjit.SockAddrContext("10.96.0.1", 80, type=kind, local=local)
    assert _run(engine, prog, ctx) == 1
    # the u32 stored into user_ip4 is little-endian in memory: AF_INET 2, TCP_CLOSE 7
    value = kind | protocol << 8 | 7 << 16 | 2 << 24
    assert ctx.address == ipaddress.IPv4Address(value.to_bytes(4, "little"))
    # src_port (host order) stored as a u32: its first two bytes are the port ctx shows
    assert ctx.port == int.from_bytes(port.to_bytes(4, "little")[:2], "big")


def test_sock_addr_reads_the_bound_source_address(engine):
    prog = _program("ldxdw %r2, [%r1+64]\nldxw %r3, [%r2+24]\nstxw [%r1+4], %r3\n"
                    "mov %r0, 1\nexit", "sock_addr", "cgroup_sock_addr", "connect4")
    ctx = bpfjit.SockAddrContext("10.96.0.1", 80, local=("172.16.5.4", 0))
    assert _run(engine, prog, ctx) == 1
    assert str(ctx.address) == "172.16.5.4"


def test_a_local_address_of_another_family_is_refused():
    with pytest.raises(bpfjit.BpfError, match="not of the destination's family"):
        bpfjit.SockAddrContext("10.96.0.1", 80, local=("::1", 0))


# ---- what the verifier refuses, as the kernel does -------------------------------------------

@pytest.mark.parametrize("text, context, prog_type, why", [
    # sock_ops' sk may be NULL: tested first
    ("ldxdw %r2, [%r1+184]\nldxw %r0, [%r2+4]\nand %r0, 1\nexit", "sock_ops", "sock_ops",
     "compare it with 0"),
    # a socket's fields are read, never written
    ("ldxdw %r2, [%r1+72]\nstw [%r2+16], 1\nmov %r0, 1\nexit", "sk_msg", "sk_msg",
     "may only read"),
    # past struct bpf_sock
    ("ldxdw %r2, [%r1+72]\nldxw %r0, [%r2+80]\nexit", "sk_msg", "sk_msg", "invalid access"),
    # sk itself is read whole and never written
    ("ldxw %r2, [%r1+72]\nmov %r0, 1\nexit", "sk_msg", "sk_msg", "not a field"),
    ("mov %r2, 0\nstxdw [%r1+72], %r2\nmov %r0, 1\nexit", "sk_msg", "sk_msg", "may not write"),
    # it holds no reference to give back
    ("ldxdw %r1, [%r1+72]\ncall 86\nmov %r0, 1\nexit", "sk_msg", "sk_msg", "sk_release"),
])
def test_what_a_program_may_not_do_with_sk(text, context, prog_type, why):
    prog = _program(text, context, prog_type)
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(prog, cache=False)
    assert kernel_loads(prog.to_bytes(), prog_type) in (None, False)


def test_the_socket_reads_are_proven():
    # every access: the context's two loads and the socket's five
    prog = _program(SK_MSG_FIELDS, "sk_msg", "sk_msg")
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert verified.stats == "accesses=6 proven=6"
    assert kernel_loads(prog.to_bytes(), "sk_msg") in (None, True)


# ---- the socket's network namespace ---------------------------------------------------------

def test_sk_msg_and_sock_ops_ask_for_their_namespace_cookie(engine):
    # bpf_get_netns_cookie(ctx): the context's namespace; (NULL: env.init_netns_cookie)
    msg = _program("call 122\nexit", "sk_msg", "sk_msg")
    ctx = bpfjit.SkMsgContext(b"x", netns_cookie=0x5150)
    assert _run(engine, msg, ctx) == 0x5150
    msg.env.init_netns_cookie = 0x77
    null = _program("mov %r1, 0\ncall 122\nexit", "sk_msg", "sk_msg")
    null.env.init_netns_cookie = 0x77
    assert _run(engine, null, bpfjit.SkMsgContext(b"x")) == 0x77
    ops = _program("mov %r6, %r1\ncall 122\nstxw [%r6+4], %r0\nmov %r0, 1\nexit",
                   "sock_ops", "sock_ops")
    ctx = bpfjit.SockOpsContext(4, netns_cookie=0x4242)
    assert _run(engine, ops, ctx) == 1 and ctx.reply == 0x4242
    for prog, kind in ((msg, "sk_msg"), (null, "sk_msg"), (ops, "sock_ops")):
        assert kernel_loads(prog.to_bytes(), kind) in (None, True)


# ---- __sk_buff: the packet's socket, or NULL ------------------------------------------------

# r0 = sk ? family | src_port << 16 | type of its full socket << 32 : 0xffff
SKB_SOCKET = """
    ldxdw %r6, [%r1+168]
    mov %r0, 0xffff
    jeq %r6, 0, out
    ldxw %r0, [%r6+4]
    ldxw %r2, [%r6+44]
    lsh %r2, 16
    or %r0, %r2
    mov %r7, %r0
    mov %r1, %r6
    call 95
    mov %r2, %r0
    mov %r0, %r7
    jeq %r2, 0, out
    ldxw %r3, [%r2+8]
    lsh %r3, 32
    or %r0, %r3
out:
    exit
"""


@pytest.mark.parametrize("prog_type", ["sched_cls", "sched_act"])
@pytest.mark.parametrize("socket, expected", [
    (bpfjit.Socket("tcp", local=("10.0.0.2", 80), remote=("10.0.0.1", 4000)),
     2 | 80 << 16 | 1 << 32),                            # AF_INET, port 80, SOCK_STREAM
    (bpfjit.Socket("udp", local=("fd00::2", 53)), 10 | 53 << 16 | 2 << 32),
    (None, 0xFFFF),                                       # no socket: NULL
])
def test_a_packets_socket(engine, prog_type, socket, expected):
    if engine == "kernel":
        pytest.skip("the kernel's test run gives a packet a socket of its own making")
    prog = _program(SKB_SOCKET, "skb", prog_type)
    ctx = bpfjit.SkbContext(bytes(64), socket=socket)
    assert bpfjit.compile(prog, engine, cache=False)(ctx) == expected
    assert kernel_loads(prog.to_bytes(), prog_type) in (None, True)


def test_cgroup_skb_programs_read_it_too(engine):
    # the same reads, in a program whose verdict is 1 (cgroup_skb programs return 0 or 1)
    prog = _program(SKB_SOCKET.replace("out:\n    exit", "out:\n    mov %r0, 1\n    exit"),
                    "skb", "cgroup_skb")
    assert kernel_loads(prog.to_bytes(), "cgroup_skb") in (None, True)
    if engine != "kernel":
        assert bpfjit.compile(prog, engine, cache=False)(bpfjit.SkbContext(bytes(64))) == 1


@pytest.mark.parametrize("text, prog_type, why", [
    # NULL first
    ("ldxdw %r2, [%r1+168]\nldxw %r0, [%r2+4]\nexit", "sched_cls", "compare it with 0"),
    # a sock_common: no type, protocol, mark or priority
    ("ldxdw %r2, [%r1+168]\nmov %r0, 0\njeq %r2, 0, +1\nldxw %r0, [%r2+8]\nexit",
     "sched_cls", "invalid access"),
    # read whole
    ("ldxw %r2, [%r1+168]\nmov %r0, 0\nexit", "cgroup_skb", "not a field"),
    # socket filters may read it, but not ask for the full socket
    ("ldxdw %r1, [%r1+168]\nmov %r0, 0\njeq %r1, 0, +1\ncall 95\nmov %r0, 0\nexit",
     "socket_filter", "not available"),
])
def test_what_a_program_may_not_do_with_a_packets_socket(text, prog_type, why):
    prog = _program(text, "skb", prog_type)
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(prog, cache=False)
    assert kernel_loads(prog.to_bytes(), prog_type) in (None, False)


# a subprogram given the packet's socket (which holds no reference): r0 = its family, or
# 0xffff for NULL (kmesh's cgroup_skb programs hand skb->sk to a helper function)
SUBPROGRAM = """
    ldxdw %r1, [%r1+168]
    call local family
    exit
family:
    mov %r0, 0xffff
    jeq %r1, 0, +1
    ldxw %r0, [%r1+4]
    exit
"""


@pytest.mark.parametrize("socket, expected", [
    (bpfjit.Socket("tcp", local=("fd00::2", 80)), 10), (None, 0xFFFF)])
def test_a_subprogram_reads_the_packets_socket(engine, socket, expected):
    prog = _program(SUBPROGRAM, "skb", "sched_cls")
    assert kernel_loads(prog.to_bytes(), "sched_cls") in (None, True)
    if engine == "kernel":
        pytest.skip("the kernel's test run gives a packet a socket of its own making")
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.SkbContext(bytes(64), socket=socket)) == expected
