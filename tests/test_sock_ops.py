"""sock_ops programs (SEC("sockops")): the TCP socket-operations context, struct
bpf_sock_ops, and the helpers that tune a connection (setsockopt, getsockopt,
sock_ops_cb_flags_set) or put its socket into a socket map.

The kernel has no test run for sock_ops programs, so the kernel engine does not run
them; where this process may load programs, the kernel's verifier is asked instead:
the fixture must load, and every offset and size of a context access is accepted here
exactly when the kernel accepts it (but the pointers bpfjit does not give: sk,
skb_data, skb_data_end).  Expected values are worked out from the fixture's C and the
kernel's rules."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from context_oracle import disagreements, kernel_loads

ELF = Path(__file__).parent / "elf"
EINVAL, ENOENT, EOPNOTSUPP = 22, 2, 95


def tune():
    return bpfjit.load_elf(ELF / "sock_ops.o")


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def run(engine, op: int, **kwargs):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    kwargs.setdefault("local", ("10.0.0.2", 80))
    kwargs.setdefault("remote", ("10.0.0.1", 55601))
    ctx = bpfjit.SockOpsContext(op, **kwargs)
    assert bpfjit.compile(tune(), engine)(ctx) == 1
    return ctx


@pytest.mark.parametrize("op, remote_port, reply", [
    (1, 55601, 10),         # TIMEOUT_INIT from port 55601 (bpf_ntohl of remote_port)
    (1, 55602, -1),
    (2, 1, 40),             # RWND_INIT
    (9, 1, -1),             # an op the program does not handle
])
def test_replies(engine, op, remote_port, reply):
    ctx = run(engine, op, remote=("10.0.0.1", remote_port))
    assert signed(ctx.reply) == reply and ctx.options == {}


def test_setsockopt_congestion(engine):
    ctx = run(engine, 3)
    assert (ctx.reply, ctx.options) == (0, {(6, 13): "reno"})


def test_buffers_window_and_callbacks(engine):
    ctx = run(engine, 4)
    # three setsockopt, 0 each; then RTO (1) | STATE (4) asked for and read back: 5
    assert (ctx.reply, ctx.cb_flags) == (5, 5)
    assert ctx.options == {(1, 7): 150000, (1, 8): 150000, (6, 1001): 40}


def test_txhash_and_tcp_fields(engine):
    ctx = run(engine, 5, local=("fd00::2", 8080), remote=("fd00::1", 1000), srtt_us=1234)
    assert (ctx.sk_txhash, ctx.reply) == (8080 * 3 + 1000, 1234)
    # a socket that is not a full one shows no TCP fields: srtt_us reads 0
    assert run(engine, 5, srtt_us=1234, is_fullsock=0).reply == 0


@pytest.mark.parametrize("options, reply", [
    ({}, -1),                               # the default congestion control, cubic
    ({(6, 13): "reno"}, 80),
])
def test_getsockopt_congestion(engine, options, reply):
    assert signed(run(engine, 7, options=options).reply) == reply


def test_each_run_starts_from_the_sockets_options(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    fn = bpfjit.compile(tune(), engine)
    ctx = bpfjit.SockOpsContext(3, local=("10.0.0.2", 80), remote=("10.0.0.1", 1))
    fn(ctx)
    assert ctx.options == {(6, 13): "reno"}
    ctx.op = 2
    fn(ctx)
    assert ctx.options == {}


# ---- helper results, in assembly --------------------------------------------------------

# r0 = {helper}(ctx, level r2, optname r3, optval at fp-16 (8 bytes: {value}), optlen r5);
# returns 1 with the result in reply and the buffer's first 8 bytes in sk_txhash/...
OPTION = """
    mov %r6, %r1
    lddw %r1, {value}
    stxdw [%r10-16], %r1
    mov %r1, %r6
    mov %r2, {level}
    mov %r3, {name}
    mov %r4, %r10
    add %r4, -16
    mov %r5, {size}
    call {helper}
    stxw [%r6+4], %r0
    ldxw %r0, [%r10-16]
    stxw [%r6+164], %r0
    mov %r0, 1
    exit
"""


def option_call(engine, helper: int, level: int, name: int, size: int, value: int = 0,
                **ctx):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    env = tune().env
    source = OPTION.format(helper=helper, level=level, name=name, size=size, value=value)
    prog = bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="sock_ops",
                          prog_type="sock_ops")
    context = bpfjit.SockOpsContext(4, **ctx)
    bpfjit.compile(prog, engine)(context)
    return signed(context.reply), context.sk_txhash, context


@pytest.mark.parametrize("level, name, size, value, result", [
    (1, 36, 4, 7, 0),                       # SO_MARK
    (1, 36, 8, 7, -EINVAL),                 # an int option takes 4 bytes
    (1, 99, 4, 7, -EINVAL),                 # not an option BPF may set
    (6, 13, 6, int.from_bytes(b"vegas\0", "little"), -ENOENT),    # not a known algorithm
])
def test_setsockopt_results(engine, level, name, size, value, result):
    reply, _, ctx = option_call(engine, 49, level, name, size, value)
    assert reply == result
    assert ctx.options == ({(1, 36): 7} if result == 0 else {})


def test_setsockopt_needs_a_full_socket(engine):
    assert option_call(engine, 49, 1, 36, 4, 7, is_fullsock=0)[0] == -EINVAL


@pytest.mark.parametrize("level, name, size, options, result, first_word", [
    (1, 36, 4, {(1, 36): 9}, 0, 9),                 # SO_MARK set before
    (1, 36, 4, {}, -ENOENT, 0),                     # never set: the buffer zeroed
    (6, 1001, 4, {(6, 1001): 3}, -EINVAL, 0),       # TCP_BPF_IW: not readable by BPF
    (6, 13, 8, {}, 0, int.from_bytes(b"cubi", "little")),
])
def test_getsockopt_results(engine, level, name, size, options, result, first_word):
    reply, word, _ = option_call(engine, 57, level, name, size, 0x1111111111111111,
                                 options=options)
    assert (reply, word) == (result, first_word)


# bpf_sock_ops_cb_flags_set(ctx, r2): the flags beyond ALL_CB_FLAGS (0x7f) come back
CB_FLAGS = """
    mov %r2, {flags}
    mov %r6, %r1
    call 59
    stxw [%r6+4], %r0
    mov %r0, 1
    exit
"""


@pytest.mark.parametrize("flags, result, kept", [(0x81, 0x80, 1), (0x7f, 0, 0x7f)])
def test_cb_flags_set(engine, flags, result, kept):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    prog = bpfjit.Program(bpfjit.assemble(CB_FLAGS.format(flags=flags)).insns, env=tune().env,
                          context="sock_ops", prog_type="sock_ops")
    ctx = bpfjit.SockOpsContext(4)
    bpfjit.compile(prog, engine)(ctx)
    assert (ctx.reply, ctx.cb_flags) == (result, kept)


# ---- the verifier against the kernel's ------------------------------------------------

def kernel_accepts(text: str) -> bool | None:
    return kernel_loads(bpfjit.assemble(text).to_bytes(), "sock_ops")


def test_the_kernel_loads_the_fixture():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    bpfsys.close(bpfsys.prog_load(tune().to_bytes(), "sock_ops"))


def test_context_accesses_match_the_kernel():
    if kernel_accepts("mov %r0, 1\nexit") is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    # skb_data, skb_data_end: not given (refused here)
    assert disagreements("sock_ops", "sock_ops", 228, {192, 200}) == []


@pytest.mark.parametrize("r0, accepted", [(0, True), (1, True), (2, False)])
def test_returns_zero_or_one(r0, accepted):
    text = f"mov %r0, {r0}\nexit"
    prog = bpfjit.Program(bpfjit.assemble(text).insns, context="sock_ops", prog_type="sock_ops")
    if accepted:
        bpfjit.verify(prog, cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="returns 0 to 1"):
            bpfjit.verify(prog, cache=False)
    assert kernel_accepts(text) in (None, accepted)


def test_the_helpers_are_for_sock_ops():
    env = bpfjit.load_elf(ELF / "sk_lookup.o", function="xdp_v6").env
    text = "mov %r2, 0\ncall 59\nmov %r0, 2\nexit"
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp", prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError, match="sock_ops_cb_flags_set is not available"):
        bpfjit.verify(prog, cache=False)


def test_bad_contexts_are_errors():
    with pytest.raises(bpfjit.BpfError, match="no field rtt"):
        bpfjit.SockOpsContext(1, rtt=4)
    with pytest.raises(bpfjit.BpfError, match="port is 0-65535"):
        bpfjit.SockOpsContext(1, local=("10.0.0.2", 70000))
    with pytest.raises(bpfjit.BpfError, match="not an IP address"):
        bpfjit.SockOpsContext(1, local=("nowhere", 1))


def test_the_block_is_struct_bpf_sock_ops():
    ctx = bpfjit.SockOpsContext(4, local=("10.0.0.2", 80), remote=("10.0.0.1", 55601),
                                args=(1, 2, 3, 4), snd_cwnd=10, bytes_acked=1 << 40)
    ctx.write_fields()
    block = bytes(ctx.buffer[:224])
    assert struct.unpack_from("<5I", block, 0) == (4, 1, 2, 3, 4)
    assert struct.unpack_from("<I", block, 20)[0] == 2                 # AF_INET
    assert block[24:28] == bytes([10, 0, 0, 1]) and block[28:32] == bytes([10, 0, 0, 2])
    assert block[64:68] == (55601).to_bytes(4, "big")                  # ntohl gives it
    assert struct.unpack_from("<III", block, 68) == (80, 1, 10)        # port, full, cwnd
    assert struct.unpack_from("<Q", block, 176)[0] == 1 << 40


# ---- into a socket map ------------------------------------------------------------------

def test_sock_map_update_puts_the_connection_in(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    # bpf_sock_map_update(ctx, &listeners, &1, BPF_ANY); r0 into reply
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_proxy")
    text = f"""
    mov %r6, %r1
    stdw [%r10-8], 1
    mov %r1, %r6
    lddw %r2, map_by_fd({list(prog.maps).index('listeners')})
    mov %r3, %r10
    add %r3, -8
    mov %r4, 0
    call 53
    stxw [%r6+4], %r0
    mov %r0, 1
    exit
"""
    sockops = bpfjit.Program(bpfjit.assemble(text).insns, env=prog.env, context="sock_ops",
                             prog_type="sock_ops")
    fn = bpfjit.compile(sockops, engine)
    ctx = bpfjit.SockOpsContext(4)
    fn(ctx)
    assert ctx.reply == 0 and prog.maps["listeners"][1] is ctx.socket
    ctx = bpfjit.SockOpsContext(3)              # TCP_CONNECT_CB: not an op that may
    fn(ctx)
    assert signed(ctx.reply) == -EOPNOTSUPP


def test_socket_cookie(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    text = "mov %r6, %r1\ncall 46\nstxw [%r6+4], %r0\nmov %r0, 1\nexit"
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=tune().env, context="sock_ops",
                          prog_type="sock_ops")
    ctx = bpfjit.SockOpsContext(4, socket_cookie=0x1234)
    bpfjit.compile(prog, engine)(ctx)
    assert ctx.reply == 0x1234


def test_getsockopt_with_a_wild_length(engine):
    # an optlen no room has: the helper's error, without building that many zero bytes
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sock_ops programs")
    env = tune().env
    source = OPTION.format(helper=57, level=1, name=36, size=0x7FFFFFFF, value=0)
    prog = bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="sock_ops",
                          prog_type="sock_ops")
    with pytest.raises(bpfjit.HelperError, match="outside the buffer, the stack"):
        bpfjit.compile(prog, engine)(bpfjit.SockOpsContext(4))
