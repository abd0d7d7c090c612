"""bpf_strncmp (182): the first bytes of a buffer against a string of read-only data,
as the kernel's strncmp (-1, 0 or 1; it stops at the first difference or at a NUL both
share).  tests/elf/strncmp.c tells an HTTP request's method; the expected results are
worked out from the packets' bytes.  The kernel takes the string only from read-only
data (a frozen map), NUL-terminated inside it: both refusals are checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"


@pytest.mark.parametrize("payload, expected", [
    (b"GET / HTTP/1.1", 10),
    (b"POST /x HTTP/1.1", 11),
    (b"HEAD\0\0\0\0", 20),          # equal up to the NUL both have at byte 4
    (b"HEAD / H", 21),              # ' ' (0x20) > the string's NUL: 1
    (b"HE\x00D....", 19),           # NUL < 'A': -1
    (b"\xffEAD....", 21),           # bytes compare unsigned: 0xff > 'H'
    (b"GET", 2),                    # fewer than 8 bytes
])
def test_http_methods(engine, payload, expected):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "strncmp.o"), engine)
    if len(payload) >= 8:           # (what follows the first 8 bytes is never compared;
        payload = payload.ljust(16, b".")       # 16 bytes: the kernel runs it too)
    assert fn(bpfjit.XdpContext(payload)) == expected


# s2 must be read-only data with its NUL inside: a stack string, and a .rodata string
# pointed at past its NUL's map end, are refused
STACK_STRING = """
    stw [%r10-8], 0x544547
    mov %r1, %r10
    add %r1, -8
    mov %r2, 3
    mov %r3, %r10
    add %r3, -8
    call 182
    exit
"""


def test_a_stack_string_is_refused():
    env = bpfjit.load_elf(ELF / "strncmp.o").env
    prog = bpfjit.Program(bpfjit.assemble(STACK_STRING).insns, env=env, context="xdp",
                          prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError, match="strncmp takes a NUL-terminated string "
                                                   "of read-only data in r3"):
        bpfjit.verify(prog, cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit.backends.kerneljit import KernelProgram
        with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
            KernelProgram(prog, frozenset())
