"""bpf_tcp_sock (96): a TCP socket's `struct bpf_tcp_sock` (congestion window, RTT,
counters) from any socket a program holds — a lookup's, a context's `sk` — or NULL for
one that is no TCP socket.  Its fields are a test's `Socket(tcp={...})` (a sock_ops
context's TCP fields for its connection), read by the kernel's rules (u32 fields whole,
bytes_received and bytes_acked as 8 bytes, no writes), which the running kernel
decides alike offset by offset."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"
KERNEL = "kernel" in bpfjit.engines(kernel=True)
# struct bpf_tcp_sock: 20 u32 fields, bytes_received and bytes_acked (u64), 4 u32 more
U32_OFFSETS = [4 * i for i in range(20)] + [96, 100, 104, 108]
U64_OFFSETS = [80, 88]


def _program(text: str, context: str, prog_type: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "sk_msg.o").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context=context,
                          prog_type=prog_type)


# r0 = skb->sk ? (tcp = bpf_tcp_sock(sk)) ? srtt_us + bytes_acked : 0xfffe : 0xffff
SKB_TCP = """
    ldxdw %r1, [%r1+168]
    mov %r0, 0xffff
    jeq %r1, 0, out
    call 96
    mov %r1, %r0
    mov %r0, 0xfffe
    jeq %r1, 0, out
    ldxw %r0, [%r1+4]
    ldxdw %r2, [%r1+88]
    add %r0, %r2
out:
    exit
"""


@pytest.mark.parametrize("socket, expected", [
    (bpfjit.Socket("tcp", local=("10.0.0.2", 80), remote=("10.0.0.1", 4000),
                   tcp={"srtt_us": 800, "bytes_acked": 1 << 40}), 800 + (1 << 40)),
    (bpfjit.Socket("tcp", local=("10.0.0.2", 80)), 0),          # every field 0
    (bpfjit.Socket("udp", local=("10.0.0.2", 53)), 0xFFFE),     # no TCP socket: NULL
    (None, 0xFFFF),
])
def test_tc_reads_the_packets_tcp_socket(engine, socket, expected):
    prog = _program(SKB_TCP, "skb", "sched_cls")
    assert kernel_loads(prog.to_bytes(), "sched_cls") in (None, True)
    if engine == "kernel":
        pytest.skip("the kernel's test run gives a packet a socket of its own making")
    assert bpfjit.compile(prog, engine, cache=False)(
        bpfjit.SkbContext(bytes(64), socket=socket)) == expected


def test_a_looked_up_socket_gives_its_tcp_socket(engine):
    # tests/elf/sk_storage.o's tc program finds the listener; here a program of our own
    # looks it up the same way and returns its snd_cwnd (0 without a socket)
    text = """
        ldxw %r2, [%r1+80]
        ldxw %r3, [%r1+76]
        mov %r0, 0
        mov %r4, %r3
        add %r4, 38
        jgt %r4, %r2, out
        ldxw %r4, [%r3+26]
        stxw [%r10-12], %r4
        ldxw %r4, [%r3+30]
        stxw [%r10-8], %r4
        ldxw %r4, [%r3+34]
        stxw [%r10-4], %r4
        mov %r2, %r10
        add %r2, -12
        mov %r3, 12
        mov %r4, -1
        mov %r5, 0
        call 84
        jeq %r0, 0, out
        mov %r6, %r0
        mov %r1, %r0
        call 96
        mov %r7, 0
        jeq %r0, 0, release
        ldxw %r7, [%r0+0]
    release:
        mov %r1, %r6
        call 86
        mov %r0, %r7
    out:
        exit
    """
    prog = _program(text, "skb", "sched_cls")
    prog.env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80), tcp={"snd_cwnd": 42}))
    import ipaddress
    packet = bytes(12) + b"\x08\x00" + bytes([0x45, 0]) + bytes(10) + \
        ipaddress.ip_address("10.0.0.1").packed + ipaddress.ip_address("10.0.0.2").packed + \
        (40000).to_bytes(2, "big") + (80).to_bytes(2, "big") + bytes(20)
    if engine == "kernel":
        pytest.skip("the kernel's sockets are not env.sockets")
    assert bpfjit.compile(prog, engine, cache=False)(bpfjit.SkbContext(packet)) == 42


def test_sock_ops_tcp_socket_shows_the_contexts_tcp_fields(engine):
    # reply = bpf_tcp_sock(skops->sk)->snd_cwnd; the same field as skops->snd_cwnd
    text = """
        mov %r6, %r1
        ldxdw %r1, [%r6+184]
        jeq %r1, 0, out
        call 96
        jeq %r0, 0, out
        ldxw %r2, [%r0+0]
        stxw [%r6+4], %r2
    out:
        mov %r0, 1
        exit
    """
    prog = _program(text, "sock_ops", "sock_ops")
    assert kernel_loads(prog.to_bytes(), "sock_ops") in (None, True)
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    ctx = bpfjit.SockOpsContext(4, local=("10.0.0.2", 80), remote=("10.0.0.1", 4000),
                                snd_cwnd=33)
    assert bpfjit.compile(prog, engine, cache=False)(ctx) == 1 and ctx.reply == 33


# ---- the kernel's rules ---------------------------------------------------------------------

ACCESS = """
    ldxdw %r1, [%r1+168]
    mov %r0, 1
    jeq %r1, 0, +4
    call 96
    jeq %r0, 0, +1
    ACCESS
    mov %r0, 1
    exit
"""


def test_the_fields_read_are_the_kernels():
    found = {}
    for offset in range(0, 116):
        for size, suffix in ((1, "b"), (2, "h"), (4, "w"), (8, "dw")):
            prog = _program(ACCESS.replace("ACCESS", f"ldx{suffix} %r2, [%r0+{offset}]"),
                            "skb", "sched_cls")
            try:
                bpfjit.verify(prog, mode="strict", cache=False)
                found.setdefault(size, []).append(offset)
            except bpfjit.VerifierError:
                pass
    # measured against Linux 6.18: u32 fields whole, the two u64 as 8 bytes, nothing more
    assert found == {4: U32_OFFSETS, 8: U64_OFFSETS}


@pytest.mark.parametrize("text, prog_type, why", [
    (ACCESS.replace("ACCESS", "stw [%r0+0], 1"), "sched_cls", "may only read"),
    ("ldxdw %r1, [%r1+168]\nmov %r0, 1\njeq %r1, 0, +2\ncall 96\nldxw %r0, [%r0+0]\n"
     "exit", "sched_cls", "compare it with 0"),
    ("mov %r1, 0\ncall 96\nmov %r0, 1\nexit", "sched_cls", "takes a socket"),
    ("ldxdw %r1, [%r1+72]\ncall 96\nmov %r0, 1\nexit", "sk_msg", "not available"),
])
def test_what_the_verifier_refuses(text, prog_type, why):
    prog = _program(text, "sk_msg" if prog_type == "sk_msg" else "skb", prog_type)
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(prog, cache=False)
    assert kernel_loads(prog.to_bytes(), prog_type) in (None, False)


def test_a_socket_of_unknown_tcp_fields_is_refused():
    with pytest.raises(bpfjit.BpfError, match="no TCP field 'cwnd'"):
        bpfjit.Socket("tcp", local=("10.0.0.2", 80), tcp={"cwnd": 1})


# a struct bpf_tcp_sock is a socket too, to the helpers that take any socket (the kernel's
# ARG_PTR_TO_SOCK_COMMON takes a tcp_sock): bpf_sk_fullsock of it gives the socket whose
# it is, bpf_tcp_sock of it itself.  r0 = fullsock(tcp_sock(skb->sk))->src_port +
# tcp_sock(tcp_sock(skb->sk))->srtt_us, or 0xffff where anything is NULL
FROM_TCP = """
    ldxdw %r1, [%r1+168]
    mov %r0, 0xffff
    jeq %r1, 0, out
    call 96
    jeq %r0, 0, out
    mov %r6, %r0
    mov %r1, %r6
    call 95
    mov %r7, %r0
    mov %r0, 0xffff
    jeq %r7, 0, out
    mov %r1, %r6
    call 96
    mov %r1, %r0
    mov %r0, 0xffff
    jeq %r1, 0, out
    ldxw %r0, [%r1+4]
    ldxw %r2, [%r7+44]
    add %r0, %r2
out:
    exit
"""


def test_a_tcp_socket_is_a_socket_to_the_socket_helpers(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_tcp_sock")
    prog = _program(FROM_TCP, "skb", "sched_cls")
    sock = bpfjit.Socket("tcp", local=("10.0.0.2", 8080), remote=("10.0.0.1", 9),
                         tcp={"srtt_us": 700})
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.SkbContext(bytes(64), socket=sock)) == 8080 + 700
    assert fn(bpfjit.SkbContext(bytes(64))) == 0xFFFF


def test_the_kernel_takes_a_tcp_socket_there_too():
    prog = _program(FROM_TCP, "skb", "sched_cls")
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    if KERNEL:
        assert kernel_loads(prog.to_bytes(), "sched_cls")
