"""cgroup sock_addr programs (`cgroup/connect4`, `sendmsg4`, `recvmsg4`, `connect6`,
...): their context, `struct bpf_sock_addr`, in bpfjit.SockAddrContext; which fields
each hook may read and write and what it may return, as the kernel's verifier has it
(each case is also loaded into the running kernel where the kernel engine exists, and
the two verdicts must agree); the socket and namespace cookies; and a socket-level
load balancer (tests/elf/sock_lb.c, which the running kernel loads too) on every
engine.  Addresses and ports are written by hand in network byte order."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys

FIXTURE = Path(__file__).parent / "elf" / "sock_lb.o"
KERNEL = bpfsys.unavailable() is None


def service(ip: str, port: int) -> bytes:
    """A `struct service` key or value: the address and the port in network order."""
    return ipaddress.ip_address(ip).packed + port.to_bytes(2, "big") + bytes(2)


def loaded(section: str) -> bpfjit.Program:
    return bpfjit.load_elf(FIXTURE, section=section)


# ---- the load balancer -----------------------------------------------------------------------

def test_sections_name_the_type_and_the_hook():
    for section, hook in (("cgroup/connect4", "connect4"), ("cgroup/sendmsg4", "sendmsg4"),
                          ("cgroup/recvmsg4", "recvmsg4"), ("cgroup/connect6", "connect6")):
        prog = loaded(section)
        assert (prog.prog_type, prog.context, prog.attach_type) == \
            ("cgroup_sock_addr", "sock_addr", hook)


def test_connect_turns_a_service_into_its_backend(engine):
    prog = loaded("cgroup/connect4")
    prog.maps["backends"][service("10.96.0.10", 80)] = service("192.168.1.7", 8080)
    fn = bpfjit.compile(prog, engine, cache=False)
    ctx = bpfjit.SockAddrContext("10.96.0.10", 80, socket_cookie=0x1234, netns_cookie=77)
    assert fn(ctx) == 1
    assert (ctx.address, ctx.port) == (ipaddress.ip_address("192.168.1.7"), 8080)
    # the service remembered under the socket's cookie, the namespace seen
    assert prog.maps["origins"][0x1234] == service("10.96.0.10", 80)
    assert prog.maps["last_netns"].ints() == {0: 77}
    # another destination, or a UDP socket, is left alone
    other = bpfjit.SockAddrContext("10.96.0.11", 80)
    udp = bpfjit.SockAddrContext("10.96.0.10", 80, type=2)
    assert (fn(other), fn(udp)) == (1, 1)
    assert (str(other.address), other.port, str(udp.address), udp.port) == \
        ("10.96.0.11", 80, "10.96.0.10", 80)


def test_udp_goes_through_sendmsg_and_answers_come_back_from_the_service(engine):
    send, receive = loaded("cgroup/sendmsg4"), loaded("cgroup/recvmsg4")
    send.maps["backends"][service("10.96.0.53", 53)] = service("172.16.0.2", 5353)
    to_send = bpfjit.compile(send, engine, cache=False)
    ctx = bpfjit.SockAddrContext("10.96.0.53", 53, type=2, socket_cookie=9)
    assert to_send(ctx) == 1
    assert (str(ctx.address), ctx.port) == ("172.16.0.2", 5353)
    # recvmsg4 is another program of the object with maps of its own: give it the
    # origin sendmsg4 recorded
    receive.maps["origins"][9] = send.maps["origins"][9]
    on_receive = bpfjit.compile(receive, engine, cache=False)
    answer = bpfjit.SockAddrContext("172.16.0.2", 5353, type=2, socket_cookie=9)
    assert on_receive(answer) == 1
    assert (str(answer.address), answer.port) == ("10.96.0.53", 53)
    stranger = bpfjit.SockAddrContext("172.16.0.2", 5353, type=2, socket_cookie=10)
    assert on_receive(stranger) == 1 and str(stranger.address) == "172.16.0.2"


@pytest.mark.parametrize("address, port, verdict", [
    ("2001:db8::1", 23, 0), ("2001:db8:ffff::", 23, 0), ("2001:db9::1", 23, 1),
    ("2001:db8::1", 22, 1), ("::1", 23, 1)])
def test_connect6_refuses_telnet_to_the_documentation_prefix(engine, address, port, verdict):
    fn = bpfjit.compile(loaded("cgroup/connect6"), engine, cache=False)
    assert fn(bpfjit.SockAddrContext(address, port)) == verdict


# ---- the rules, against the kernel's ------------------------------------------------------------

# (program, hook, whether the kernel's verifier accepts it): offsets of struct
# bpf_sock_addr: user_ip4 4, user_ip6 8-23, user_port 24, family 28, type 32,
# protocol 36, msg_src_ip4 40, msg_src_ip6 44-59
RULES = [
    ("ldxw %r2, [%r1+4]\nmov %r0, 1\nexit", "connect4", True),
    ("ldxw %r2, [%r1+8]\nmov %r0, 1\nexit", "connect4", False),     # IPv6 on an IPv4 hook
    ("ldxw %r2, [%r1+8]\nmov %r0, 1\nexit", "connect6", True),
    ("ldxw %r2, [%r1+4]\nmov %r0, 1\nexit", "connect6", False),
    ("ldxh %r2, [%r1+24]\nmov %r0, 1\nexit", "bind6", True),        # a narrow load
    ("ldxb %r2, [%r1+6]\nmov %r0, 1\nexit", "getpeername4", True),
    ("stw [%r1+4], 1\nmov %r0, 1\nexit", "connect4", True),
    ("stw [%r1+24], 1\nmov %r0, 1\nexit", "recvmsg6", True),
    ("stw [%r1+28], 1\nmov %r0, 1\nexit", "connect4", False),       # family: read-only
    ("sth [%r1+4], 1\nmov %r0, 1\nexit", "connect4", False),        # a narrow store
    ("stw [%r1+40], 1\nmov %r0, 1\nexit", "connect4", False),       # msg_src: sendmsg's
    ("stw [%r1+40], 1\nmov %r0, 1\nexit", "sendmsg4", True),
    ("ldxw %r2, [%r1+48]\nmov %r0, 1\nexit", "sendmsg6", True),
    ("ldxw %r2, [%r1+48]\nmov %r0, 1\nexit", "recvmsg6", False),
    ("ldxdw %r2, [%r1+64]\nmov %r0, 1\nexit", "connect4", True),    # sk
    ("ldxw %r2, [%r1+64]\nmov %r0, 1\nexit", "connect4", False),    # sk: 8 bytes only
    ("mov %r2, 0\nstxdw [%r1+64], %r2\nmov %r0, 1\nexit", "connect4", False),
    ("ldxdw %r2, [%r1+64]\nldxw %r0, [%r2+4]\nand %r0, 1\nexit", "recvmsg6", False),
    ("ldxdw %r2, [%r1+64]\nldxw %r0, [%r2+4]\nand %r0, 1\nexit", "sendmsg4", True),
    ("ldxdw %r2, [%r1+64]\nstw [%r2+16], 1\nmov %r0, 1\nexit", "connect4", False),
    ("mov %r0, 2\nexit", "connect4", False),
    ("mov %r0, 0\nexit", "recvmsg4", False),
    ("mov %r0, 1\nexit", "recvmsg4", True),
    ("mov %r0, 3\nexit", "bind4", True),
    ("mov %r0, 4\nexit", "bind4", False),
    ("ldxw %r0, [%r1+36]\nexit", "connect4", False),                # any protocol number
    ("ldxh %r2, [%r1+28]\nmov %r0, 1\nexit", "connect4", False),    # family: whole only
    ("ldxb %r2, [%r1+47]\nmov %r0, 1\nexit", "sendmsg6", True),     # msg_src_ip6: in part
]
# where bpfjit refuses what the kernel accepts: none
BPFJIT_REFUSES: set[str] = set()


def sock_addr_program(text: str, hook: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type=hook)


def bpfjit_accepts(text: str, hook: str) -> bool:
    try:
        bpfjit.verify(sock_addr_program(text, hook), cache=False)
    except bpfjit.VerifierError:
        return False
    return True


@pytest.mark.parametrize("text, hook, kernel", RULES)
def test_the_hook_decides_what_a_program_may_touch(text, hook, kernel):
    assert bpfjit_accepts(text, hook) == (kernel and text not in BPFJIT_REFUSES)


@pytest.mark.skipif(not KERNEL, reason="no kernel engine here")
@pytest.mark.parametrize("text, hook, kernel", RULES)
def test_the_running_kernel_decides_the_same(text, hook, kernel):
    code = bpfjit.assemble(text).to_bytes()
    try:
        bpfsys.close(bpfsys.prog_load(code, "cgroup_sock_addr", attach=hook))
        accepted = True
    except bpfjit.VerifierError:
        accepted = False
    assert accepted == kernel


def test_without_a_hook_only_the_common_fields_are_read():
    prog = bpfjit.Program(bpfjit.assemble("ldxw %r2, [%r1+4]\nmov %r0, 1\nexit").insns,
                          context="sock_addr", prog_type="cgroup_sock_addr")
    with pytest.raises(bpfjit.VerifierError, match="not a field of a cgroup_sock_addr program"):
        bpfjit.verify(prog, cache=False)


# ---- the context and the helpers -------------------------------------------------------------

# a program's result can only be 0 or 1: what it computes in r7 goes to map "out"
REPORT = """
    stxdw [%r10-16], %r7
    stw [%r10-4], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, done
    ldxdw %r7, [%r10-16]
    stxdw [%r0+0], %r7
done:
    mov %r0, 1
    exit
"""


def reporting(text: str, hook: str):
    """The program `text` (which leaves its result in r7), and its result's map."""
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapSpec, MapTable, make_map
    out = make_map(MapSpec("out", 2, 4, 8, 1))
    prog = bpfjit.Program(bpfjit.assemble(text + REPORT).insns, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type=hook,
                          env=KernelEnv(MapTable([out])))
    return prog, out


def test_the_block_holds_what_the_kernel_would(engine):
    # r7 = family | type << 8 | protocol << 16 | first byte of the port << 24 |
    # user_ip6[3] << 32
    prog, out = reporting("""
    ldxw %r7, [%r1+28]
    ldxw %r2, [%r1+32]
    lsh %r2, 8
    or %r7, %r2
    ldxw %r2, [%r1+36]
    lsh %r2, 16
    or %r7, %r2
    ldxb %r2, [%r1+24]
    lsh %r2, 24
    or %r7, %r2
    ldxw %r2, [%r1+20]
    lsh %r2, 32
    or %r7, %r2
    """, "connect6")
    fn = bpfjit.compile(prog, engine, cache=False)
    # port 0x1F90 (8080): its first byte in memory is 0x1F; user_ip6[3] of ::1 is
    # 00 00 00 01 in memory, 0x01000000 as a little-endian u32
    assert fn(bpfjit.SockAddrContext("::1", 8080, type=2)) == 1
    assert out.ints()[0] == 10 | 2 << 8 | 17 << 16 | 0x1F << 24 | 0x01000000 << 32


def test_helpers_read_the_cookies_and_the_ids(engine):
    prog, out = reporting("""
    mov %r6, %r1
    call 46
    mov %r7, %r0
    mov %r1, %r6
    call 122
    lsh %r0, 16
    add %r7, %r0
    call 15
    lsh %r0, 32
    add %r7, %r0
    """, "connect4")
    prog.env.uid, prog.env.gid = 1000, 50
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.SockAddrContext("1.2.3.4", 1, socket_cookie=5, netns_cookie=3)) == 1
    # get_current_uid_gid is gid << 32 | uid: shifted up 32 bits only the uid is left;
    # socket cookie 5 + netns cookie 3 << 16
    assert out.ints()[0] == (1000 << 32) + 5 + (3 << 16)


def test_the_context_takes_addresses_in_every_form():
    v6 = bpfjit.SockAddrContext(ipaddress.ip_address("2001:db8::5"), 443)
    raw = bpfjit.SockAddrContext(bytes([10, 0, 0, 9]), 53, msg_src="10.0.0.1")
    assert (str(v6.address), v6.port, str(raw.address), str(raw.msg_src)) == \
        ("2001:db8::5", 443, "10.0.0.9", "10.0.0.1")
    assert repr(raw) == "<SockAddrContext 10.0.0.9 port 53>"
    for bad in ({"address": "10.0.0.300"}, {"address": "1.2.3.4", "port": 70000},
                {"address": "::1", "msg_src": "1.2.3.4"}):
        with pytest.raises(bpfjit.BpfError):
            bpfjit.SockAddrContext(**bad)


def test_a_sock_addr_program_wants_its_context(engine):
    fn = bpfjit.compile(sock_addr_program("mov %r0, 1\nexit", "connect4"), engine,
                        cache=False)
    with pytest.raises(bpfjit.BpfError, match="SockAddrContext"):
        fn(bytes(8))


def test_the_pytest_plugin_runs_them_and_compares_the_rewritten_address():
    from bpfjit.pytest_plugin import BpfTester, EnginesDisagree, LoadedProgram
    ctx = BpfTester.sock_addr("10.96.0.10", 80, socket_cookie=3)
    assert (str(ctx.address), ctx.port, ctx.socket_cookie) == ("10.96.0.10", 80, 3)
    prog = loaded("cgroup/connect4")
    tested = LoadedProgram(prog, "interp", loaded("cgroup/connect4"), {}, None)
    mine, theirs = bpfjit.SockAddrContext("10.0.0.1", 80), bpfjit.SockAddrContext("10.0.0.1", 81)
    with pytest.raises(EnginesDisagree, match="address: interp 10.0.0.1 port 80 .*port 81"):
        tested._compare(1, None, mine, 1, None, theirs)


# bpf_get_current_comm(buf, size): the current task's name, cut to size - 1 bytes, NUL
# and zeros after it (the kernel's strscpy_pad); here the loaded object's env.comm.
# Copies it into an 8-byte buffer of {size} bytes after 0xff fill, returns the buffer
COMM = """
    lddw %r1, 0xffffffffffffffff
    stxdw [%r10-8], %r1
    mov %r1, %r10
    add %r1, -8
    mov %r2, {size}
    call 16
    ldxdw %r0, [%r10-8]
    exit
"""


@pytest.mark.parametrize("size, expected", [
    (8, b"dae\0\0\0\0\0"),              # short name: NUL and zeros to the end
    (3, b"da\0\xff\xff\xff\xff\xff"),     # cut to 2 bytes and a NUL; the rest untouched
])
def test_get_current_comm(engine, size, expected):
    if engine == "kernel":
        pytest.skip("the kernel's current task is this process, not env.comm")
    env = bpfjit.load_elf(FIXTURE.parent / "tc_classify.o").env
    env.comm = "dae"
    prog = bpfjit.Program(bpfjit.assemble(COMM.format(size=size)).insns, env=env)
    assert bpfjit.compile(prog, engine)(None) == int.from_bytes(expected, "little")


def test_get_current_cgroup_id(engine):
    # this process's cgroup v2 id by default (what the kernel's test run, made by this
    # process, reports too); a test may set another
    env = bpfjit.load_elf(FIXTURE.parent / "tc_classify.o").env
    prog = bpfjit.Program(bpfjit.assemble("call 80\nexit").insns, env=env)
    fn = bpfjit.compile(prog, engine)
    assert fn(None) == env.cgroup_id
    if engine != "kernel":
        env.cgroup_id = 4242
        assert bpfjit.compile(prog, engine)(None) == 4242


# bpf_bind(ctx, &sockaddr, len) in a connect hook: the socket bound to a source before it
# connects (merbridge binds to its pod's address).  sockaddr_in at fp-16: family
# {family}, port {port} (as stored: network order), 10.0.0.7; returns 1 when the bind
# gives {first} and a second bind of the same socket {second}, else 0
BIND = """
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    sth [%r10-16], {family}
    sth [%r10-14], {port}
    stw [%r10-12], 0x0700000a
    mov %r6, %r1
    mov %r2, %r10
    add %r2, -16
    mov %r3, {size}
    call 64
    mov %r8, %r0
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    mov %r3, {size}
    call 64
    mov %r7, %r0
    mov %r0, 0
    jne %r8, {first}, out
    jne %r7, {second}, out
    mov %r0, 1
out:
    exit
"""


def bind_program(attach: str, family: int = 2, port: int = 0x3930, size: int = 16,
                 first: int = 0, second: int = 0):
    env = bpfjit.load_elf(FIXTURE, section="cgroup/connect4").env
    text = BIND.format(family=family, port=port, size=size, first=first, second=second)
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type=attach)


@pytest.mark.parametrize("family, size, first, second, bound", [
    # port 12345 (0x3039, stored 0x3930); bound once: a second bind is -EINVAL
    (2, 16, 0, -22, ("10.0.0.7", 12345)),
    (2, 8, -22, -22, None),             # shorter than a sockaddr_in: -EINVAL
    (1, 16, -97, -97, None),            # AF_UNIX: -EAFNOSUPPORT
])
def test_bind_in_a_connect_hook(engine, family, size, first, second, bound):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup sock_addr programs")
    prog = bind_program("connect4", family=family, port=0x3930, size=size, first=first,
                        second=second)
    ctx = bpfjit.SockAddrContext("10.0.0.2", 80)
    assert bpfjit.compile(prog, engine)(ctx) == 1
    assert ctx.bound == (None if bound is None else (ipaddress.ip_address(bound[0]), bound[1]))


def test_bind_is_for_connect_hooks_as_in_the_kernel():
    with pytest.raises(bpfjit.VerifierError, match="bind is available to connect4, "
                                                   "connect6 hooks only"):
        bpfjit.verify(bind_program("sendmsg4"), cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        code = bind_program("connect4").to_bytes()
        bpfsys.close(bpfsys.prog_load(code, "cgroup_sock_addr", attach="connect4"))
        with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
            bpfsys.prog_load(code, "cgroup_sock_addr", attach="sendmsg4")


@pytest.mark.parametrize("size, message", [
    (0, "get_current_comm takes 1 byte or more"),        # the kernel refuses it at load
    (0x7FFFFFFF, "outside the buffer, the stack"),       # no room that large: no 2 GiB built
])
def test_get_current_comm_with_a_wild_size(engine, size, message):
    if engine == "kernel":
        pytest.skip("the kernel refuses these sizes at load")
    env = bpfjit.load_elf(FIXTURE.parent / "tc_classify.o").env
    prog = bpfjit.Program(bpfjit.assemble(COMM.format(size=size)).insns, env=env)
    with pytest.raises(bpfjit.HelperError, match=message):
        bpfjit.compile(prog, engine)(None)
