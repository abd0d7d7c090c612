"""cgroup sysctl programs (`cgroup/sysctl`): their context, `struct bpf_sysctl`, in
bpfjit.SysctlContext, and their four helpers (sysctl_get_name, _get_current_value,
_get_new_value, _set_new_value), as the kernel's kernel/bpf/cgroup.c answers them;
a guard (tests/elf/sysctl_guard.c) on every engine.  The kernel has no test run for
this program type (and nothing may be attached here), so results are worked out by
hand from that code; the kernel loads the programs where this process may load
programs, and every offset and size of a context access and the helpers it gives
are compared with it (test_context_access.py, test_helper_availability.py).
eunomia-bpf's tutorial's cgroup guard has a sysctl program, which bpfjit could not
load before."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit.helpers.sysctl import BASE_NAME, sysctl_name
from bpfjit.maps import MapSpec, make_map
from context_oracle import disagreements, kernel_loads_program
from skb_programs import asm_program

FIXTURE = Path(__file__).parent / "elf" / "sysctl_guard.o"
KERNEL = "kernel" in bpfjit.engines(kernel=True)
E2BIG = 7


def _compile(prog, engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup sysctl programs")
    return bpfjit.compile(prog, engine, cache=False)


def count(prog, name: str) -> int:
    return int.from_bytes(prog.maps[name][bytes(4)], "little")


@pytest.mark.parametrize("access, verdict, new_value, clamped", [
    (("net/ipv4/ip_forward", "1\n"), 1, None, 0),                              # a read
    (("kernel/hostname", "box\n", "guest\n"), 0, b"guest\n", 0),               # refused
    (("net/core/somaxconn", "4096\n", "128\n"), 1, b"128\n", 0),
    (("net/core/somaxconn", "4096\n", "65535\n"), 1, b"4096\n", 1),            # rewritten
    (("net/core/somaxconn", "4096\n", "many\n"), 0, b"many\n", 0),             # no number
    (("net/ipv4/conf/default/accept_source_route", "0\n", "1\n"), 0, b"1\n", 0),  # 41 bytes
])
def test_the_guard(engine, access, verdict, new_value, clamped):
    prog = bpfjit.load_elf(FIXTURE)
    name, value, *written = access
    ctx = bpfjit.SysctlContext(name, value, new_value=written[0] if written else None,
                               file_pos=3 if written else 0)
    assert _compile(prog, engine)(ctx) == verdict
    assert (ctx.new_value, ctx.new_updated, count(prog, "clamped")) == \
        (new_value, bool(clamped), clamped)
    assert ctx.file_pos == (0 if clamped else 3 if written else 0)
    assert count(prog, "reads") == (0 if written else 1)


def test_the_kernel_loads_what_strict_mode_proves():
    prog = bpfjit.load_elf(FIXTURE)
    assert (prog.prog_type, prog.context) == ("cgroup_sysctl", "sysctl")
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "cgroup_sysctl") in (True, None)


def test_every_access_as_the_kernel_decides():
    # write: read-only; file_pos: read in part, written whole
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert disagreements("sysctl", "cgroup_sysctl", 12, set()) == []


# sysctl_get_name, part by part as the kernel's sysctl_cpy_dir and strscpy copy it
@pytest.mark.parametrize("size, flags, out, result", [
    (32, 0, b"net/ipv4/tcp_mem\0", 16),
    (17, 0, b"net/ipv4/tcp_mem\0", 16),
    (16, 0, b"net/ipv4/tcp_me\0", -E2BIG),      # the last part truncated
    (6, 0, b"net/i\0", -E2BIG),                 # stops in "ipv4"
    (4, 0, b"net\0", -E2BIG),                   # "net" fits, its '/' does not
    (8, BASE_NAME, b"tcp_mem\0", 7),
    (7, BASE_NAME, b"tcp_me\0", -E2BIG),
    (1, BASE_NAME, b"\0", -E2BIG),
])
def test_the_name(size, flags, out, result):
    left, got = sysctl_name("net/ipv4/tcp_mem", size, flags, b"\xee" * size)
    assert got == result
    assert left == (out + b"\xee" * size)[:size]       # bytes past the NUL untouched


def _run_helper(engine, text: str, ctx) -> tuple[int, bytes]:
    """r0 of a program that calls a helper on 8 bytes at fp-8 (filled with 0xee first),
    and those bytes, read back through the map `out`."""
    out = make_map(MapSpec("out", 2, 4, 16, 1))
    prog = asm_program(
        "mov %r6, %r1\nlddw %r2, 0xeeeeeeeeeeeeeeee\nstxdw [%r10-8], %r2\n" + text +
        "\nmov %r7, %r0\nstw [%r10-16], 0\nlddw %r1, map_by_fd(0)\nmov %r2, %r10\n"
        "add %r2, -16\ncall 1\njeq %r0, 0, +4\nstxdw [%r0+0], %r7\nldxdw %r1, [%r10-8]\n"
        "stxdw [%r0+8], %r1\nmov %r0, 1\nexit", "sysctl", "cgroup_sysctl", [out])
    assert _compile(prog, engine)(ctx) == 1
    raw = out[bytes(4)]
    return int.from_bytes(raw[:8], "little", signed=True), raw[8:]


GET = "mov %r1, %r6\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\ncall {}"


@pytest.mark.parametrize("helper, access, result, buf", [
    (102, ("a/b", "1\n"), 2, b"1\n" + bytes(6)),               # the rest zeroed
    (102, ("a/b", "123456789\n"), -E2BIG, b"1234567\0"),       # truncated, NUL last
    (102, ("a/b", ""), -22, bytes(8)),                         # no value: -EINVAL, zeroed
    (103, ("a/b", "1\n"), -22, bytes(8)),                      # a read: -EINVAL, zeroed
    (103, ("a/b", "1\n", "22\n"), 3, b"22\n" + bytes(5)),
])
def test_the_values(engine, helper, access, result, buf):
    name, value, *written = access
    ctx = bpfjit.SysctlContext(name, value, new_value=written[0] if written else None)
    assert _run_helper(engine, GET.format(helper), ctx) == (result, buf)


@pytest.mark.parametrize("access, size, result, new_value", [
    (("a/b", "1\n", "2\n"), 5, 0, b"\xee" * 5),     # replaced by the 5 bytes at fp-8
    (("a/b", "1\n"), 5, -22, None),                # a read: -EINVAL
    (("a/b", "1\n", ""), 5, -22, b""),             # nothing was written: -EINVAL
])
def test_setting_the_new_value(engine, access, size, result, new_value):
    name, value, *written = access
    ctx = bpfjit.SysctlContext(name, value, new_value=written[0] if written else None)
    text = f"mov %r1, %r6\nmov %r2, %r10\nadd %r2, -8\nmov %r3, {size}\ncall 104"
    assert _run_helper(engine, text, ctx)[0] == result
    assert (ctx.new_value, ctx.new_updated) == (new_value, result == 0)


@pytest.mark.parametrize("args, message", [
    (("/net/core", "1"), "path"),
    (("net//core", "1"), "path"),
    (("net/core", 1), "str or bytes"),
    (("net/core", "1"), None),
])
def test_a_sysctl_that_cannot_be(args, message):
    if message is None:
        assert bpfjit.SysctlContext(*args).value == b"1"
        return
    with pytest.raises(bpfjit.BpfError, match=message):
        bpfjit.SysctlContext(*args)
