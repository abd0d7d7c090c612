"""cgroup sock programs (`cgroup/sock`, `cgroup/sock_create`, `cgroup/sock_release`,
`cgroup/post_bind4`, `cgroup/post_bind6`): their context, `struct bpf_sock`, in
bpfjit.SockContext; what each hook may read, write and return, against the running
kernel's verifier where the kernel engine exists; and a socket policy
(tests/elf/sock_policy.c, which the running kernel loads) on every engine."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys

FIXTURE = Path(__file__).parent / "elf" / "sock_policy.o"
KERNEL = bpfsys.unavailable() is None
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3


def loaded(section: str) -> bpfjit.Program:
    return bpfjit.load_elf(FIXTURE, section=section)


@pytest.mark.parametrize("section, hook", [
    ("cgroup/sock_create", "sock_create"), ("cgroup/post_bind4", "post_bind4"),
    ("cgroup/sock_release", "sock_release")])
def test_sections_name_the_type_and_the_hook(section, hook):
    prog = loaded(section)
    assert (prog.prog_type, prog.context, prog.attach_type) == ("cgroup_sock", "sock", hook)


def test_older_section_names_are_creation_hooks():
    from bpfjit.progtypes import attach_type, section_type
    assert [attach_type(s) for s in ("cgroup/sock", "cgroup/sock1", "cgroup/post_bind6")] \
        == ["sock_create", "sock_create", "post_bind6"]
    assert section_type("cgroup/sock2").name == "cgroup_sock"


def test_creation_refuses_raw_sockets_and_marks_udp(engine):
    fn = bpfjit.compile(loaded("cgroup/sock_create"), engine, cache=False)
    raw, udp, tcp = (bpfjit.SockContext(type=t) for t in (SOCK_RAW, SOCK_DGRAM, SOCK_STREAM))
    assert [fn(raw), fn(udp), fn(tcp)] == [0, 1, 1]
    assert (udp.mark, udp.bound_dev_if, tcp.mark, tcp.bound_dev_if) == (0x53, 4, 0, 0)


@pytest.mark.parametrize("port, verdict", [(22, 1), (80, 0), (1023, 0), (1024, 1),
                                           (8080, 1), (0, 0)])
def test_binding_to_a_low_port_is_refused_after_the_fact(engine, port, verdict):
    fn = bpfjit.compile(loaded("cgroup/post_bind4"), engine, cache=False)
    assert fn(bpfjit.SockContext(src="10.0.0.1", src_port=port)) == verdict


def test_releases_are_counted_by_cookie(engine):
    prog = loaded("cgroup/sock_release")
    fn = bpfjit.compile(prog, engine, cache=False)
    for cookie in (0x101, 0x201, 0x17):
        assert fn(bpfjit.SockContext(socket_cookie=cookie)) == 1
    counts = {k: v for k, v in prog.maps["released"].ints().items() if v}
    assert counts == {0x01: 2, 0x17: 1}


# offsets of struct bpf_sock: bound_dev_if 0, family 4, type 8, protocol 12, mark 16,
# priority 20, src_ip4 24, src_ip6 28-43, src_port 44, dst_port 48, dst_ip4 52,
# dst_ip6 56-71, state 72, rx_queue_mapping 76; (program, hook, the kernel's verdict)
RULES = [
    ("ldxw %r2, [%r1+16]\nmov %r0, 1\nexit", "sock_create", True),
    ("stw [%r1+16], 7\nmov %r0, 1\nexit", "sock_release", True),
    ("stw [%r1+0], 7\nmov %r0, 1\nexit", "sock_create", True),
    ("ldxw %r2, [%r1+16]\nmov %r0, 1\nexit", "post_bind4", False),   # mark: not post_bind
    ("stw [%r1+20], 7\nmov %r0, 1\nexit", "post_bind6", False),
    ("stw [%r1+4], 7\nmov %r0, 1\nexit", "sock_create", False),       # family: read-only
    ("ldxw %r2, [%r1+24]\nmov %r0, 1\nexit", "post_bind4", True),
    ("ldxw %r2, [%r1+24]\nmov %r0, 1\nexit", "post_bind6", False),
    ("ldxw %r2, [%r1+24]\nmov %r0, 1\nexit", "sock_create", False),
    ("ldxw %r2, [%r1+32]\nmov %r0, 1\nexit", "post_bind6", True),
    ("ldxw %r2, [%r1+44]\nmov %r0, 1\nexit", "post_bind4", True),
    ("ldxw %r2, [%r1+44]\nmov %r0, 1\nexit", "sock_release", False),
    ("ldxh %r2, [%r1+48]\nmov %r0, 1\nexit", "sock_create", True),    # dst_port in part
    ("ldxb %r2, [%r1+25]\nmov %r0, 1\nexit", "post_bind4", True),
    ("ldxh %r2, [%r1+16]\nmov %r0, 1\nexit", "sock_create", False),   # mark: whole only
    ("ldxw %r2, [%r1+72]\nmov %r0, 1\nexit", "post_bind6", True),
    ("ldxw %r2, [%r1+80]\nmov %r0, 1\nexit", "sock_create", False),   # past the struct
    ("mov %r0, 2\nexit", "sock_create", False),
    ("mov %r0, 0\nexit", "post_bind4", True),
]


def sock_program(text: str, hook: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="sock",
                          prog_type="cgroup_sock", attach_type=hook)


@pytest.mark.parametrize("text, hook, kernel", RULES)
def test_the_hook_decides_what_a_program_may_touch(text, hook, kernel):
    try:
        bpfjit.verify(sock_program(text, hook), cache=False)
        accepted = True
    except bpfjit.VerifierError:
        accepted = False
    assert accepted == kernel


@pytest.mark.skipif(not KERNEL, reason="no kernel engine here")
@pytest.mark.parametrize("text, hook, kernel", RULES)
def test_the_running_kernel_decides_the_same(text, hook, kernel):
    try:
        bpfsys.close(bpfsys.prog_load(bpfjit.assemble(text).to_bytes(), "cgroup_sock",
                                      attach=hook))
        accepted = True
    except bpfjit.VerifierError:
        accepted = False
    assert accepted == kernel


def test_the_block_holds_what_the_kernel_would(engine):
    # r0 is 0 or 1 only: 1 when dst_port's first byte is 0x1F (8080 in network order),
    # src_port 8080 (host order), dst_ip6[3] 0x01000000 (::1), rx_queue_mapping -1
    # and family 10, each checked in turn
    text = """
    ldxb %r2, [%r1+48]
    jne %r2, 0x1f, no
    ldxw %r2, [%r1+44]
    jne %r2, 8080, no
    ldxw %r2, [%r1+68]
    jne %r2, 0x01000000, no
    ldxw %r2, [%r1+76]
    jne32 %r2, -1, no
    ldxw %r2, [%r1+4]
    jne %r2, 10, no
    mov %r0, 1
    exit
no:
    mov %r0, 0
    exit
    """
    fn = bpfjit.compile(sock_program(text, "post_bind6"), engine, cache=False)
    ctx = bpfjit.SockContext(10, src="::1", src_port=8080, dst="::1", dst_port=8080)
    assert fn(ctx) == 1
    assert fn(bpfjit.SockContext(10, src="::1", src_port=8081, dst="::1",
                                 dst_port=8080)) == 0


def test_the_pytest_plugin_builds_them_and_compares_what_a_program_set():
    from bpfjit.pytest_plugin import BpfTester, EnginesDisagree, LoadedProgram
    ctx = BpfTester.sock(10, 2, src="::2", src_port=53)
    assert (ctx.family, ctx.type, ctx.protocol, str(ctx.src), ctx.src_port) == \
        (10, 2, 17, "::2", 53)
    tested = LoadedProgram(loaded("cgroup/sock_create"), "llvm", loaded("cgroup/sock_create"),
                           {}, None)
    mine, theirs = bpfjit.SockContext(mark=5), bpfjit.SockContext(mark=6)
    with pytest.raises(EnginesDisagree, match=r"mark, priority\): llvm \(0, 5, 0\), interp"):
        tested._compare(1, None, mine, 1, None, theirs)


def test_the_context_checks_what_it_is_given():
    for bad in ({"family": 7}, {"src_port": 70000}, {"src": "::1"}):
        with pytest.raises(bpfjit.BpfError):
            bpfjit.SockContext(**bad)
    fn = bpfjit.compile(sock_program("mov %r0, 1\nexit", "sock_create"), "interp")
    with pytest.raises(bpfjit.BpfError, match="SockContext"):
        fn(bytes(8))
