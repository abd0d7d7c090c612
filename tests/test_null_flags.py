"""A pointer or NULL whose NULL-ness a number tells: clang keeps `found = p != NULL` (or
"discard this packet") in a register on each path and tests that instead of the
pointer (Inspektor Gadget's trace_sni and trace_dns: `skb_val = lookup(...)` NULL
with the flag 1 on one path, a map value with the flag 0 on another; after the
paths meet, `if (flag == 0)` reads through `skb_val`).  The kernel follows each path
apart and loads them; bpfjit joined the paths and refused the load ("a map value or
NULL").  Where the paths meet, a guard now records which values of the number go with
NULL and which with a pointer, and a branch that leaves only one side decides it.
Each verdict below is also the running kernel's, where this process may load
programs."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import verify
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"

# r6 = entry 7 of proto_counts when rx_queue_index (ctx+16) is not 0 and the lookup
# finds it, with r8 = 0; else r6 = NULL with r8 = 1.  Where the paths meet r8 is tested,
# not r6: 1 without the entry, else its value + 2.
FLAGGED = """
    ldxw %r7, [%r1+16]
    mov %r6, 0
    {flag_null}
    jeq %r7, 0, join
    stw [%r10-4], 7
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(1)
    call 1
    jeq %r0, 0, join
    mov %r6, %r0
    {flag_found}
join:
    mov %r0, 1
{between}
    {test}
    ldxdw %r0, [%r6+0]
    add %r0, 2
out:
    exit
"""
TEST_64 = "jne %r8, 0, out"
TEST_32 = "jne32 %r8, 0, out"       # as clang tests a bool
# a loop between the join and the test that leaves r6 and r8 alone
LOOP = """
    mov %r1, 0
again:
    add %r1, 1
    jlt %r1, 4, again
"""
# the flag spilled across a helper call (which sets r0) and tested from the slot's fill
SPILLED = """
    stxdw [%r10-16], %r8
    call 7
    mov %r0, 1
    ldxdw %r1, [%r10-16]
"""


def _program(found: int = 0, between: str = "", test: str = TEST_64,
             flag: str = "mov %r8, {}") -> bpfjit.Program:
    text = FLAGGED.format(flag_null=flag.format(1), flag_found=flag.format(found),
                          between=between, test=test)
    env = bpfjit.load_elf(ELF / "counter.o", section="xdp").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp",
                          prog_type="xdp")


def _kernel_verdict(prog: bpfjit.Program) -> bool | None:
    """Whether the running kernel loads `prog` (None: this process may not load)."""
    if "kernel" not in bpfjit.engines(kernel=True):
        return None
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
           for m in prog.maps.list]
    try:
        return kernel_loads(_with_map_fds(prog.to_bytes(), fds), "xdp")
    finally:
        for fd in fds:
            bpfsys.close(fd)


ACCEPTED = {
    "tested where the paths meet": dict(),
    "a loop before the test": dict(between=LOOP),
    "a loop, then a 32-bit test": dict(between=LOOP, test=TEST_32),
    "a loop, then a test for 1": dict(between=LOOP, test="jeq %r8, 1, out"),
    "a loop, then a copy tested": dict(between=LOOP + "    mov %r3, %r8",
                                       test="jne %r3, 0, out"),
    "the flag spilled and filled": dict(between=SPILLED, test="jne %r1, 0, out"),
    # each path stores its flag in 4 bytes of a slot (a narrow spill, as clang keeps an
    # int), filled and tested after a loop (Inspektor Gadget's trace_dns)
    "the flag kept in 4 bytes of a slot": dict(
        flag="stw [%r10-16], {}", between=LOOP + "    ldxw %r1, [%r10-16]",
        test="jne32 %r1, 0, out"),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_the_flag_decides_the_pointer(case, mode):
    verified = verify(_program(**ACCEPTED[case]), mode=mode, helpers={1, 7}, cache=False)
    assert verified.proven == frozenset(verified.accesses)


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_the_kernel_accepts_them_too(case):
    verdict = _kernel_verdict(_program(**ACCEPTED[case]))
    if verdict is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert verdict


@pytest.mark.parametrize("queue, expected", [(0, 1), (3, 42)])
@pytest.mark.parametrize("case", ["tested where the paths meet", "a loop before the test",
                                  "the flag spilled and filled",
                                  "the flag kept in 4 bytes of a slot"])
def test_they_run_alike_on_every_engine(engine, case, queue, expected):
    prog = _program(**ACCEPTED[case])
    prog.maps["proto_counts"][7] = 40
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(bytes(20), rx_queue_index=queue)) == expected


# numbers that do not tell NULL from a pointer: the same flag on both sides, the flag
# written again after the join, moved so that 0 means NULL, or a copy of it written
# (after a loop, so that the paths are joined before the test: tested where they
# meet, the test runs once per path, bpfjit.verifier.analysis._threads)
REFUSED = {
    "the same flag on both sides": dict(found=1, between=LOOP, test="jeq %r8, 0, out"),
    "the flag written after the join": dict(between=LOOP + "    mov %r8, 0"),
    "the flag moved": dict(between=LOOP + "    add %r8, -1"),
    "a fill of the slot written over": dict(
        between=SPILLED.replace("call 7", "stdw [%r10-16], 0"), test="jne %r1, 0, out"),
    "a slot's flag read wider than it was kept": dict(
        flag="stdw [%r10-16], 0\n    stw [%r10-16], {}",
        between=LOOP + "    ldxdw %r1, [%r10-16]",
        test="jne %r1, 0, out"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_number_that_does_not_tell_decides_nothing(case):
    # strict mode refuses the load through r6, as the kernel does; checked mode leaves
    # it unproven, checked at run time (NULL lies in no region)
    prog = _program(**REFUSED[case])
    with pytest.raises(bpfjit.VerifierError, match=r"r6 is a map value or NULL: compare "
                                                   r"it with 0 before using it"):
        verify(prog, mode="strict", helpers={1, 7}, cache=False)
    verified = verify(prog, mode="checked", helpers={1, 7}, cache=False)
    load = next(pc for pc, insn in prog if insn.spec.mnemonic == "ldxdw" and insn.src == 6)
    assert load in verified.accesses and load not in verified.proven


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_kernel_refuses_them_too(case):
    verdict = _kernel_verdict(_program(**REFUSED[case]))
    if verdict is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert not verdict


def test_the_log_shows_the_guard():
    text = str(verify(_program(), helpers={1}, cache=False, log=True).log)
    assert "r6 NULL when r8 in [1,1], not NULL when r8 in [0,0]" in text
