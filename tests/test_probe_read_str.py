"""bpf_probe_read_kernel_str (115): copy the string at an address a program computed,
up to and including its NUL, into `size` bytes; a string that does not fit is cut to
size - 1 bytes and a NUL.  r0 is the bytes copied, the NUL counted (0 for a size of 0),
or with the room zeroed -EFAULT (-ERANGE for NULL and numbers below 64 KiB, as x86-64's
kernel answers for the user half).  The bytes after the NUL are left as they were.
ptcpdump's cgroup programs read the current task's names so; until 2026-12-03 bpfjit
had no such helper and refused them (the kernel loads them).  bpf_probe_read_user (112)
and bpf_probe_read_user_str (114) read user memory, of which a run has none: the
kernel refuses them every address a run holds (its buffer, stack and maps are kernel
memory), -EFAULT with the room zeroed (114 with a size of 0: 0).

Each case runs on every engine and, where this process may load programs, through the
running kernel's BPF_PROG_TEST_RUN on the same packet: an XDP program copies a string
from the packet (or from an address with no memory) into 16 bytes of its stack that
held 0xff, and writes those 16 bytes over the packet's first 16.  Expected bytes are
worked out by hand from strncpy_from_kernel_nofault's contract."""

from __future__ import annotations

import pytest

import bpfjit
from skb_programs import asm_program

EFAULT, ERANGE = 14, 34

COPY = """
    ldxw %r6, [%r1+0]
    ldxw %r7, [%r1+4]
    mov %r0, 0
    mov %r2, %r6
    add %r2, 48
    jgt %r2, %r7, out
    stdw [%r10-16], -1
    stdw [%r10-8], -1
    mov %r1, %r10
    add %r1, -16
    mov %r2, {size}
    {source}
    call {helper}
    ldxdw %r2, [%r10-16]
    stxdw [%r6+0], %r2
    ldxdw %r2, [%r10-8]
    stxdw [%r6+8], %r2
out:
    exit
"""
FROM_PACKET = "mov %r3, %r6\n    add %r3, 16"        # the string at the packet's byte 16
NOWHERE = "lddw %r3, 0xffff800000000000"            # the kernel's half, nothing there
LOW = "lddw %r3, 0x1000"                            # a user address: refused
FF = b"\xff"


def program(size: int, source: str = FROM_PACKET, helper: int = 115) -> bpfjit.Program:
    text = COPY.format(size=size, source=source, helper=helper)
    return asm_program(text)


def packet(string: bytes) -> bytes:
    return bytes(16) + string.ljust(32, b"z")


CASES = [
    # string, size, r0, the 16 bytes of room after
    (b"hello\0", 16, 6, b"hello\0" + FF * 10),
    (b"abcdefghijklmnopqrst", 16, 16, b"abcdefghijklmno\0"),      # cut: 15 and a NUL
    (b"abcdefghijklmno\0", 16, 16, b"abcdefghijklmno\0"),        # just fits
    (b"hi\0", 3, 3, b"hi\0" + FF * 13),
    (b"hello\0", 1, 1, b"\0" + FF * 15),                          # room for the NUL only
    (b"hello\0", 0, 0, FF * 16),                                  # no room: nothing
    (b"\0abc", 8, 1, b"\0" + FF * 15),                            # the empty string
]


USER = [
    # helper, size, r0, the room after: user memory there is none of
    (114, 8, -EFAULT, bytes(8) + FF * 8),
    (114, 0, 0, FF * 16),
    (112, 8, -EFAULT, bytes(8) + FF * 8),
    (112, 0, -EFAULT, FF * 16),
]


@pytest.mark.parametrize("string, size, r0, room", CASES)
def test_what_is_copied(engine, string, size, r0, room):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_probe_read_kernel_str (see the "
                    "kernel's test run below)")
    ctx = bpfjit.XdpContext(packet(string))
    assert bpfjit.compile(program(size), engine)(ctx) == r0
    assert ctx.packet[:16] == room
    assert ctx.packet[16:] == packet(string)[16:]


@pytest.mark.parametrize("source, error", [(NOWHERE, EFAULT), (LOW, ERANGE)])
def test_nothing_to_read_gives_an_error_and_zeroes(engine, source, error):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_probe_read_kernel_str")
    ctx = bpfjit.XdpContext(packet(b"hello\0"))
    assert bpfjit.compile(program(16, source), engine)(ctx) == -error & (1 << 64) - 1
    assert ctx.packet[:16] == bytes(16)


@pytest.mark.parametrize("helper, size, r0, room", USER)
def test_there_is_no_user_memory(engine, helper, size, r0, room):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_probe_read_user")
    ctx = bpfjit.XdpContext(packet(b"hello\0"))
    assert bpfjit.compile(program(size, helper=helper), engine)(ctx) == r0 & (1 << 64) - 1
    assert ctx.packet[:16] == room


def test_the_kernel_computes_the_same():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit import bpfsys
    cases = [(115, string, size, FROM_PACKET, r0, room) for string, size, r0, room in CASES]
    cases += [(helper, b"hello\0", 16, source, -error, bytes(16)) for helper in (113, 115)
              for source, error in ((NOWHERE, EFAULT), (LOW, ERANGE))]
    cases += [(helper, b"hello\0", size, FROM_PACKET, r0, room)
              for helper, size, r0, room in USER]
    for helper, string, size, source, r0, room in cases:
        fd = bpfsys.prog_load(program(size, source, helper).to_bytes(), "xdp")
        try:
            run = bpfsys.test_run(fd, data=packet(string))
        finally:
            bpfsys.close(fd)
        assert (run.retval, run.data[:16]) == (r0 & 0xFFFFFFFF, room), (helper, string, size)
