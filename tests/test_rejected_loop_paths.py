"""Two ways a loop's later trips went unseen by the verifier (both 2026-12-03; each
verdict here is the running kernel's too, where this process may load programs).

A loop whose widened state meets a rejection on its way round (the path ends there
while fixpoints are computed) must not have its head narrowed, in the final pass, to
what comes from outside the loop alone: the pass would run the loop as one trip and
prove what that trip does.  bpfjit did: the program READS_A_SPILL, whose load walks
down into the bytes of a spilled pointer on its second trip, was refused in strict
mode for a reason that came of the collapse (its loop "could not be shown to end")
and its load shown proven for the first trip only; it is now refused for what it does,
as the kernel refuses it ("invalid size of register fill").

A helper's stack argument must lie in the frame in strict mode, every byte it may
reach, as the kernel proves ("invalid indirect read from stack"): a map key that walks
64 bytes down each trip, out of the frame on the ninth (KEY_WALKS_DOWN), was accepted;
checked mode still accepts it, and the helper refuses the key when it runs."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

READS_A_SPILL = """
    stdw [%r10-8], 0
    stxdw [%r10-16], %r10
    mov %r1, 0
head:
    mov %r4, %r10
    add %r4, -8
    mov %r3, 0
    sub %r3, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    add %r1, 1
    jlt %r1, 20, head
    mov %r0, %r5
    exit
"""

KEY_WALKS_DOWN = """
    stdw [%r10-8], 0
    mov %r6, 0
head:
    lddw %r1, map_by_fd(0)
    mov %r7, -8
    sub %r7, %r6
    mov %r2, %r10
    add %r2, %r7
    call 1
    add %r6, 64
    jlt %r6, 4096, head
    mov %r0, 0
    exit
"""

# the same walk stopping while the key is still in the (zeroed) frame: accepted
KEY_STAYS = KEY_WALKS_DOWN.replace("jlt %r6, 4096, head", "jlt %r6, 448, head") \
    .replace("stdw [%r10-8], 0", "stdw [%r10-8], 0\n    mov %r1, 0\n" + "".join(
        f"    stxdw [%r10-{8 + 8 * i}], %r1\n" for i in range(1, 64)))


def program(source: str) -> bpfjit.Program:
    table = MapTable([make_map(MapSpec("h", 1, 4, 4, 4))])
    return bpfjit.Program(bpfjit.assemble(source).insns, env=KernelEnv(table))


def verdict(source: str, mode: str) -> str | None:
    prog = program(source)
    try:
        bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)
        return None
    except bpfjit.VerifierError as exc:
        return str(exc)


def kernel_loads(source: str) -> bool:
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    fd = bpfsys.map_create(1, 4, 4, 4)
    try:
        code = _with_map_fds(program(source).to_bytes(), [fd])
        try:
            bpfsys.close(bpfsys.prog_load(code, "xdp"))
            return True
        except bpfjit.BpfError:
            return False
    finally:
        bpfsys.close(fd)


def test_a_loop_that_meets_a_rejection_is_refused_for_it():
    why = verdict(READS_A_SPILL, "strict")
    assert why is not None and "pc 8" in why and "spilled pointer (at r10-16)" in why


def test_a_key_that_leaves_the_frame():
    why = verdict(KEY_WALKS_DOWN, "strict")
    assert why is not None and "outside its 512-byte frame" in why
    assert verdict(KEY_WALKS_DOWN, "checked") is None


def test_the_helper_refuses_the_key_when_it_runs(engine):
    if engine == "kernel":
        pytest.skip("the kernel refuses the program")
    with pytest.raises(bpfjit.HelperError):
        bpfjit.compile(program(KEY_WALKS_DOWN), engine)(bytes(8))


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_a_key_that_stays_in_the_frame_is_accepted(mode):
    assert verdict(KEY_STAYS, mode) is None


def test_what_it_computes(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel engine runs it as XDP elsewhere")
    # 7 lookups of key 0 in an empty map, then r0 = 0
    assert bpfjit.compile(program(KEY_STAYS), engine)(bytes(8)) == 0


def test_the_kernel_agrees():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here")
    assert not kernel_loads(READS_A_SPILL)
    assert not kernel_loads(KEY_WALKS_DOWN)
    assert kernel_loads(KEY_STAYS)
