"""A ring buffer's record is the program's to give back: what bpf_ringbuf_reserve
returned (tested for NULL) must be submitted or discarded on every path before the
program exits, once, through the pointer the reservation gave (the kernel tracks it as
a reference, as a socket lookup's, and refuses a program that leaks one or gives one
back twice).  bpfjit took such programs, whose records were then never committed.
Each verdict below is also the running kernel's, where this process may load
programs."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map
from context_oracle import kernel_loads

# r6 = bpf_ringbuf_reserve(&events, 8, 0); NULL: exit 0; then {body}; exit 1
RESERVE = """
    lddw %r1, map_by_fd(0)
    mov %r2, 8
    mov %r3, 0
    call 131
    mov %r6, %r0
    mov %r0, 0
    jeq %r6, 0, out
    stdw [%r6+0], 7
{body}
    mov %r0, 1
out:
    exit
"""
SUBMIT = "    mov %r1, %r6\n    mov %r2, 0\n    call 132\n"
DISCARD = "    mov %r1, %r6\n    mov %r2, 0\n    call 133\n"

CASES = {
    "submitted": (SUBMIT, True),
    "discarded": (DISCARD, True),
    "spilled, filled and submitted": ("    stxdw [%r10-8], %r6\n    mov %r6, 0\n"
                                      "    ldxdw %r6, [%r10-8]\n" + SUBMIT, True),
    "never given back": ("", False),
    "given back on one path only": ("    call 7\n    jeq %r0, 0, +3\n" + SUBMIT, False),
    "submitted twice": (SUBMIT + SUBMIT, False),
    "written after submitting": (SUBMIT + "    stdw [%r6+0], 1\n", False),
    "written through a pointer into it after submitting": (
        "    mov %r7, %r6\n    add %r7, 4\n" + SUBMIT + "    stw [%r7+0], 1\n", False),
    "submitted by a pointer into it": (
        "    mov %r1, %r6\n    add %r1, 4\n    mov %r2, 0\n    call 132\n", False),
    "copied, and submitted through the copy": (
        "    mov %r7, %r6\n    mov %r1, %r7\n    mov %r2, 0\n    call 132\n", True),
}


def _program(body: str) -> bpfjit.Program:
    return _assembled(RESERVE.format(body=body))


def _assembled(source: str) -> bpfjit.Program:
    ring = make_map(MapSpec("events", 27, 0, 0, 4096))
    return bpfjit.Program(bpfjit.assemble(source).insns, env=KernelEnv(MapTable([ring])),
                          context="xdp", prog_type="xdp")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_record_is_given_back_once_on_every_path(case):
    body, allowed = CASES[case]
    prog = _program(body)
    try:
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
        verdict = True
    except bpfjit.VerifierError:
        verdict = False
    assert verdict is allowed
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit.backends.kerneljit import _with_map_fds
        fd = bpfsys.map_create(27, 0, 0, 4096)
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), "xdp") is allowed
        finally:
            bpfsys.close(fd)


# across a local call: bpfjit follows a record within one function (records.py), and
# accepts these as the kernel does
ACROSS_CALLS = {
    "submitted by the subprogram it is given to": RESERVE.format(
        body="    mov %r1, %r6\n    call local give_back\n") + """
give_back:
    mov %r2, 0
    call 132
    mov %r0, 0
    exit
""",
    "reserved by a subprogram, submitted by its caller": """
    call local reserve
    mov %r6, %r0
    mov %r0, 0
    jeq %r6, 0, out
    stdw [%r6+0], 7
""" + SUBMIT + """
    mov %r0, 1
out:
    exit
reserve:
    lddw %r1, map_by_fd(0)
    mov %r2, 8
    mov %r3, 0
    call 131
    exit
""",
}


@pytest.mark.parametrize("case", sorted(ACROSS_CALLS))
def test_a_record_given_to_or_by_a_subprogram(case):
    prog = _assembled(ACROSS_CALLS[case])
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit.backends.kerneljit import _with_map_fds
        fd = bpfsys.map_create(27, 0, 0, 4096)
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), "xdp")
        finally:
            bpfsys.close(fd)


@pytest.mark.parametrize("case", sorted(ACROSS_CALLS))
def test_a_record_across_calls_is_committed(engine, case):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run the ring buffer helpers")
    prog = _assembled(ACROSS_CALLS[case])
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(64))) == 1
    assert prog.maps["events"].drain() == [(7).to_bytes(8, "little")]


def test_the_refusals_say_why():
    with pytest.raises(bpfjit.VerifierError, match="ring buffer record .* bpf_ringbuf_submit"):
        prog = _program("")
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)


@pytest.mark.parametrize("body, committed", [(SUBMIT, 1), (DISCARD, 0)])
def test_a_submitted_record_is_read_out(engine, body, committed):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run the ring buffer helpers")
    prog = _program(body)
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(64))) == 1
    records = prog.maps["events"].drain()
    assert records == [(7).to_bytes(8, "little")] * committed
