"""cgroup sockopt programs (`cgroup/getsockopt`, `cgroup/setsockopt`): their context,
`struct bpf_sockopt`, in bpfjit.SockoptContext; which fields each hook may read and
write, as the running kernel decides it offset by offset; and a sidecar's programs
(tests/elf/sockopt.c: SO_ORIGINAL_DST answered from a map, SO_MARK limited,
SO_RCVBUFFORCE turned into SO_RCVBUF) on every engine.  The expected option values are
written by hand: a struct sockaddr_in with the port and address in network order."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from context_oracle import disagreements, kernel_loads

FIXTURE = Path(__file__).parent / "elf" / "sockopt.o"
SOL_SOCKET, SOL_IP, SO_RCVBUF, SO_RCVBUFFORCE, SO_MARK, SO_ORIGINAL_DST = 1, 0, 8, 33, 36, 80
ENOENT = 2


def loaded(section: str) -> bpfjit.Program:
    return bpfjit.load_elf(FIXTURE, section=section)


def endpoint(address: str, port: int) -> bytes:
    """The fixture's `struct endpoint`: the address, then the port in the low half of a
    u32, both in network order."""
    return ipaddress.ip_address(address).packed + port.to_bytes(2, "big") + bytes(2)


def sockaddr_in(address: str, port: int) -> bytes:
    return (2).to_bytes(2, "little") + port.to_bytes(2, "big") + \
        ipaddress.ip_address(address).packed + bytes(8)


def _compile(prog, engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup sockopt programs")
    return bpfjit.compile(prog, engine, cache=False)


def test_sections_name_the_type_and_the_hook():
    for section, hook in (("cgroup/getsockopt", "getsockopt"),
                          ("cgroup/setsockopt", "setsockopt")):
        prog = loaded(section)
        assert (prog.prog_type, prog.context, prog.attach_type) == \
            ("cgroup_sockopt", "sockopt", hook)


# ---- getsockopt: the original destination ---------------------------------------------------

CLIENT = ("10.1.2.3", 40000)
PROXY = ("10.0.0.5", 15001)


def _original_dst(engine):
    prog = loaded("cgroup/getsockopt")
    prog.maps["originals"][endpoint(*CLIENT)] = endpoint("10.96.0.10", 80)
    return _compile(prog, engine)


def test_the_original_destination_is_answered(engine):
    fn = _original_dst(engine)
    accepted = bpfjit.Socket("tcp", local=PROXY, remote=CLIENT)
    # what the kernel answered first: ENOENT (no NAT entry), the caller's 16 bytes
    ctx = bpfjit.SockoptContext(SOL_IP, SO_ORIGINAL_DST, bytes(16), retval=-ENOENT,
                                socket=accepted)
    assert fn(ctx) == 1
    assert (ctx.retval, ctx.optlen) == (0, 16)
    assert ctx.optval == sockaddr_in("10.96.0.10", 80)


@pytest.mark.parametrize("case", ["other option", "other level", "unknown client",
                                  "ipv6", "short buffer"])
def test_everything_else_passes_untouched(engine, case):
    fn = _original_dst(engine)
    level, optname, value = SOL_IP, SO_ORIGINAL_DST, bytes(range(16))
    sock = bpfjit.Socket("tcp", local=PROXY, remote=CLIENT)
    if case == "other option":
        optname = 81
    elif case == "other level":
        level = SOL_SOCKET
    elif case == "unknown client":
        sock = bpfjit.Socket("tcp", local=PROXY, remote=("10.1.2.4", 40000))
    elif case == "ipv6":
        sock = bpfjit.Socket("tcp", local=("fd00::5", 15001), remote=("fd00::3", 40000))
    else:
        value = bytes(range(8))
    ctx = bpfjit.SockoptContext(level, optname, value, retval=-ENOENT, socket=sock)
    assert fn(ctx) == 1
    assert (ctx.level, ctx.optname, ctx.optlen, ctx.retval, ctx.optval) == \
        (level, optname, len(value), -ENOENT, value)


def test_a_run_starts_from_the_calls_own_values(engine):
    # the context is reused: each run sees the call as it was made, not as the last
    # run left it
    fn = _original_dst(engine)
    sock = bpfjit.Socket("tcp", local=PROXY, remote=CLIENT)
    ctx = bpfjit.SockoptContext(SOL_IP, SO_ORIGINAL_DST, bytes(16), optlen=12, retval=-ENOENT,
                                socket=sock)
    for _ in range(2):
        assert fn(ctx) == 1 and (ctx.optlen, ctx.retval) == (16, 0)
    other = bpfjit.SockoptContext(SOL_IP, 81, bytes(16), optlen=12, retval=-ENOENT,
                                  socket=sock)
    for _ in range(2):
        assert fn(other) == 1 and (other.optlen, other.retval) == (12, -ENOENT)


# ---- setsockopt: marks and buffers ----------------------------------------------------------

@pytest.mark.parametrize("level, optname, value, verdict, after", [
    (SOL_SOCKET, SO_MARK, (0x7F).to_bytes(4, "little"), 1, SO_MARK),
    (SOL_SOCKET, SO_MARK, (0xFF).to_bytes(4, "little"), 1, SO_MARK),
    (SOL_SOCKET, SO_MARK, (0x100).to_bytes(4, "little"), 0, SO_MARK),
    (SOL_SOCKET, SO_MARK, b"\x01\x00", 0, SO_MARK),        # shorter than an int
    (SOL_SOCKET, SO_RCVBUFFORCE, (1 << 20).to_bytes(4, "little"), 1, SO_RCVBUF),
    (6, SO_MARK, (0x100).to_bytes(4, "little"), 1, SO_MARK),    # not SOL_SOCKET
])
def test_marks_are_limited_and_forced_buffers_are_not(engine, level, optname, value,
                                                       verdict, after):
    fn = _compile(loaded("cgroup/setsockopt"), engine)
    ctx = bpfjit.SockoptContext(level, optname, value)
    assert fn(ctx) == verdict
    assert (ctx.level, ctx.optname, ctx.optval) == (level, after, value)


# ---- the hooks' rules, as the kernel has them -----------------------------------------------

@pytest.mark.parametrize("hook", ["getsockopt", "setsockopt"])
def test_context_accesses_match_the_kernel(hook):
    if kernel_loads(bpfjit.assemble("mov %r0, 1\nexit").to_bytes(), "cgroup_sockopt",
                    hook) is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert disagreements("sockopt", "cgroup_sockopt", 44, set(), hook) == []


@pytest.mark.parametrize("text, hook, accepted", [
    ("ldxw %r2, [%r1+36]\nmov %r0, 1\nexit", "getsockopt", True),     # retval
    ("ldxw %r2, [%r1+36]\nmov %r0, 1\nexit", "setsockopt", False),
    ("stw [%r1+36], 0\nmov %r0, 1\nexit", "getsockopt", True),
    ("stw [%r1+28], 0\nmov %r0, 1\nexit", "getsockopt", False),       # optname
    ("stw [%r1+28], 0\nmov %r0, 1\nexit", "setsockopt", True),
    ("stw [%r1+32], 0\nmov %r0, 1\nexit", "setsockopt", True),        # optlen
    ("ldxdw %r2, [%r1+0]\nldxw %r0, [%r2+4]\nand %r0, 1\nexit", "getsockopt", True),
    ("mov %r0, 2\nexit", "getsockopt", False),
    # the value is the packet: read only below optval_end (in checked mode an unproven
    # read is checked at run time instead)
    ("ldxdw %r2, [%r1+8]\nldxb %r0, [%r2+0]\nand %r0, 1\nexit", "setsockopt", False),
    ("ldxdw %r2, [%r1+8]\nldxdw %r3, [%r1+16]\nmov %r4, %r2\nadd %r4, 1\n"
     "mov %r0, 1\njgt %r4, %r3, +2\nldxb %r0, [%r2+0]\nand %r0, 1\nexit", "setsockopt", True),
])
def test_the_hook_decides(text, hook, accepted):
    prog = bpfjit.Program(bpfjit.assemble(text).insns, context="sockopt",
                          prog_type="cgroup_sockopt", attach_type=hook)
    try:         # strict: every access proven, as the kernel proves them
        bpfjit.verify(prog, mode="strict", cache=False)
        mine = True
    except bpfjit.VerifierError:
        mine = False
    assert mine == accepted
    assert kernel_loads(prog.to_bytes(), "cgroup_sockopt", hook) in (None, accepted)


def test_the_kernel_loads_the_fixture():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    for section, hook in (("cgroup/getsockopt", "getsockopt"),
                          ("cgroup/setsockopt", "setsockopt")):
        prog = loaded(section)
        fds = [bpfsys.map_create(m.spec.type, m.spec.key_size, m.spec.value_size,
                                 m.spec.max_entries) for m in prog.maps.list]
        try:
            bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), fds),
                                          "cgroup_sockopt", attach=hook))
        finally:
            for fd in fds:
                bpfsys.close(fd)


# ---- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, kwargs, words", [
    (("x", 1), {}, "level is a 32-bit int"),
    ((1, 2, b""), {"optlen": 1 << 40}, "optlen is a 32-bit int"),
    ((1, 2, b""), {"retval": 1.5}, "retval is a 32-bit int"),
])
def test_a_context_of_wrong_values_is_refused(args, kwargs, words):
    with pytest.raises(bpfjit.BpfError, match=words):
        bpfjit.SockoptContext(*args, **kwargs)


def test_a_sockopt_program_wants_its_context(engine):
    fn = _compile(loaded("cgroup/setsockopt"), engine)
    with pytest.raises(bpfjit.BpfError, match="SockoptContext"):
        fn(b"\x00" * 4)


def test_the_pytest_plugin_builds_the_context_and_compares_what_a_run_left():
    from bpfjit.pytest_plugin import BpfTester, EnginesDisagree, LoadedProgram
    ctx = BpfTester.sockopt(SOL_SOCKET, SO_MARK, b"\x07\x00\x00\x00", retval=-1)
    assert (ctx.level, ctx.optname, ctx.optlen, ctx.retval, ctx.optval) == \
        (SOL_SOCKET, SO_MARK, 4, -1, b"\x07\x00\x00\x00")
    prog = loaded("cgroup/setsockopt")
    tested = LoadedProgram(prog, "interp", loaded("cgroup/setsockopt"), {}, None)
    mine = bpfjit.SockoptContext(SOL_SOCKET, SO_RCVBUF, bytes(4))
    theirs = bpfjit.SockoptContext(SOL_SOCKET, SO_RCVBUFFORCE, bytes(4))
    with pytest.raises(EnginesDisagree, match=r"optlen, retval\): interp \(1, 8, 4, 0\), "
                                              r"interp \(1, 33, 4, 0\)"):
        tested._compare(1, None, mine, 1, None, theirs)


def test_the_network_namespace_cookie(engine):
    # retval = bpf_get_netns_cookie(ctx): the context's namespace; optlen =
    # bpf_get_netns_cookie(NULL): the initial one (env.init_netns_cookie)
    env = loaded("cgroup/getsockopt").env
    env.init_netns_cookie = 0x77
    prog = bpfjit.Program(bpfjit.assemble(
        "mov %r6, %r1\ncall 122\nstxw [%r6+36], %r0\nmov %r1, 0\ncall 122\n"
        "stxw [%r6+32], %r0\nmov %r0, 1\nexit").insns, env=env, context="sockopt",
        prog_type="cgroup_sockopt", attach_type="getsockopt")
    ctx = bpfjit.SockoptContext(SOL_SOCKET, SO_MARK, bytes(4), netns_cookie=0x5150)
    assert _compile(prog, engine)(ctx) == 1
    assert (ctx.retval, ctx.optlen) == (0x5150, 0x77)
    assert kernel_loads(prog.to_bytes(), "cgroup_sockopt", "getsockopt") in (None, True)
