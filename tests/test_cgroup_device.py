"""cgroup device programs (`cgroup/dev`): their context, `struct bpf_cgroup_dev_ctx`, in
bpfjit.DeviceContext; a container runtime's allow-list (tests/elf/device_allow.c) on
every engine; what the kernel checks of them.  The kernel has no test run for this
program type, so results are worked out by hand from the rules; the kernel loads the
programs where this process may load programs (eunomia-bpf's tutorial's cgroup guard
has one, which bpfjit could not load before: it had no device context)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from context_oracle import kernel_loads_program
from skb_programs import asm_program

FIXTURE = Path(__file__).parent / "elf" / "device_allow.o"
ANY_MINOR = 0xFFFFFFFF
BLOCK, CHAR = 1, 2
MKNOD, READ, WRITE = 1, 2, 4


def allow_list(engine) -> tuple[bpfjit.Program, object]:
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup device programs")
    prog = bpfjit.load_elf(FIXTURE)
    for (kind, major, minor), allowed in {(CHAR, 1, 3): READ | WRITE,
                                          (CHAR, 136, ANY_MINOR): READ | WRITE,
                                          (BLOCK, 8, 0): READ}.items():
        prog.maps["rules"][struct.pack("<III", kind, major, minor)] = struct.pack("<I", allowed)
    return prog, bpfjit.compile(prog, engine, cache=False)


def test_the_section_names_the_type_and_the_context():
    prog = bpfjit.load_elf(FIXTURE)
    assert (prog.prog_type, prog.context) == ("cgroup_device", "device")


@pytest.mark.parametrize("access, allowed", [
    (("char", "rw", 1, 3), 1),          # /dev/null, read-write
    (("char", "m", 1, 3), 0),           # mknod of it: not in the rule
    (("char", "r", 136, 7), 1),         # a pty, by the major's wildcard
    (("char", "w", 136, 12), 1),
    (("char", "rwm", 136, 1), 0),
    (("block", "r", 8, 0), 1),          # /dev/sda, read only
    (("block", "w", 8, 0), 0),
    (("block", "r", 8, 1), 0),          # /dev/sda1: no rule
    (("char", "r", 5, 1), 0),           # /dev/console: no rule
])
def test_the_allow_list(engine, access, allowed):
    prog, run = allow_list(engine)
    assert run(bpfjit.DeviceContext(*access)) == allowed
    refused = int.from_bytes(prog.maps["refused"][bytes(4)], "little")
    assert refused == 1 - allowed


def test_the_kernel_loads_what_strict_mode_proves():
    prog = bpfjit.load_elf(FIXTURE)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "cgroup_device") in (True, None)


def device_program(text: str) -> bpfjit.Program:
    return asm_program(text, "device", "cgroup_device")


@pytest.mark.parametrize("access, field", [
    ("ldxw %r0, [%r1+0]", 2 << 16 | 2),     # access_type: read (2) << 16 | char (2)
    ("ldxh %r0, [%r1+2]", 2),               # its access half
    ("ldxb %r0, [%r1+0]", 2),               # its type's low byte
    ("ldxw %r0, [%r1+4]", 4),               # major
    ("ldxw %r0, [%r1+8]", 64),              # minor
])
def test_fields_as_the_kernel_fills_them(engine, access, field):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup device programs")
    # r0 = the field, and 1 if it is what the kernel puts there (else 0)
    prog = device_program(f"{access}\nmov %r1, 0\njne %r0, {field}, +1\nmov %r1, 1\n"
                          f"mov %r0, %r1\nexit")
    assert bpfjit.compile(prog, engine)(bpfjit.DeviceContext("char", "r", 4, 64)) == 1


def test_a_program_returns_0_or_1():
    prog = device_program("mov %r0, 2\nexit")
    with pytest.raises(bpfjit.VerifierError, match="returns 0 to 1"):
        bpfjit.verify(prog, cache=False)
    assert kernel_loads_program(prog, "cgroup_device") in (False, None)


@pytest.mark.parametrize("args, message", [
    (("pipe", "r", 1, 3), "char"),
    (("char", "x", 1, 3), "mrw"),
    (("char", "", 1, 3), "mrw"),
    (("char", 8, 1, 3), "mask"),
    (("char", "r", -1, 3), "u32"),
    (("char", "r", 1, 1 << 32), "u32"),
])
def test_a_device_that_cannot_be(args, message):
    with pytest.raises(bpfjit.BpfError, match=message):
        bpfjit.DeviceContext(*args)


def test_a_device_program_takes_a_device_context(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for cgroup device programs")
    run = bpfjit.compile(device_program("mov %r0, 1\nexit"), engine)
    with pytest.raises(bpfjit.BpfError, match="DeviceContext"):
        run(b"\x00" * 12)


def test_the_pytest_plugin_builds_the_context_and_names_the_verdict():
    from bpfjit.pytest_plugin import BpfTester, LoadedProgram
    prog = bpfjit.load_elf(FIXTURE)
    prog.maps["rules"][struct.pack("<III", CHAR, 1, 3)] = struct.pack("<I", READ)
    shadow = bpfjit.load_elf(FIXTURE)
    tested = LoadedProgram(prog, "interp", shadow, {}, None)
    allowed = tested.run(BpfTester.device("char", "r", 1, 3))
    refused = tested.run(BpfTester.device("char", "w", 1, 3))
    assert (allowed.r0, allowed.verdict, refused.r0, refused.verdict) == \
        (1, "allow", 0, "EPERM")
