"""Numbers spilled in fewer than 8 bytes: as the kernel's verifier does for privileged
programs, a 1-, 2- or 4-byte store of a number (a register or an immediate) at a stack
offset aligned to its width (the kernel keeps one at an 8-aligned slot only) keeps its
value, and a load of those bytes reads it back.  clang keeps `int ret` in a 4-byte slot
across helper calls: merbridge's connect6 hook returns such a slot, which bpfjit read as
any 32-bit number and refused.

A load of more bytes than were stored, bytes written over since, a value wider than
the bytes that hold it, and paths that spilled different widths are each checked to
give what the bytes really hold (hand-worked values, run on every engine; the running
kernel agrees on the verdicts where it can load the program)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import verify

ELF = Path(__file__).parent / "elf"
KERNEL = "kernel" in bpfjit.engines(kernel=True)


def _connect4(text: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "sock_lb.o", section="cgroup/connect4").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type="connect4")


def _kernel_accepts(text: str) -> bool:
    from bpfjit import bpfsys
    try:
        bpfsys.close(bpfsys.prog_load(bpfjit.assemble(text).to_bytes(), "cgroup_sock_addr",
                                      attach="connect4"))
    except bpfjit.VerifierError:
        return False
    return True


# ---- a connect hook's verdict in a narrow slot -------------------------------------------

# r3 = 0 when the destination port (bpf_sock_addr.user_port, offset 24: the port in
# network order in the field's first two bytes) is 80, else 1; stored as STORE bytes,
# kept across a helper call (which takes r1-r5), read back as the verdict
VERDICT = """
    ldxw %r2, [%r1+24]
    mov32 %r3, 0
    jeq %r2, 0x5000, +1
    mov32 %r3, 1
    STORE [%r10-152], %r3
    call 5
    LOAD %r0, [%r10-152]
    exit
"""
WIDTHS = [("stxw", "ldxw"), ("stxh", "ldxh"), ("stxb", "ldxb")]


def _verdict(store: str, load: str) -> str:
    return VERDICT.replace("STORE", store).replace("LOAD", load)


@pytest.mark.parametrize("store, load", WIDTHS)
def test_a_verdict_kept_in_a_narrow_slot_is_read_back(store, load):
    text = _verdict(store, load)
    for mode in ("checked", "strict"):
        verify(_connect4(text), mode=mode, cache=False)
    if KERNEL:
        assert _kernel_accepts(text)


@pytest.mark.parametrize("store, load", WIDTHS)
@pytest.mark.parametrize("port, verdict", [(80, 0), (443, 1), (0x5001, 1)])
def test_the_verdict_runs_alike(engine, store, load, port, verdict):
    fn = bpfjit.compile(_connect4(_verdict(store, load)), engine, cache=False)
    assert fn(bpfjit.SockAddrContext("10.0.0.1", port)) == verdict


IMMEDIATES = """
    ldxw %r2, [%r1+24]
    jeq %r2, 0x5000, +2
    stw [%r10-8], 1
    ja +1
    stw [%r10-8], 0
    call 5
    ldxw %r0, [%r10-8]
    exit
"""


def test_immediates_stored_on_two_paths_are_read_back_as_either():
    verify(_connect4(IMMEDIATES), mode="strict", cache=False)
    if KERNEL:
        assert _kernel_accepts(IMMEDIATES)


@pytest.mark.parametrize("text, why", [
    # 1 in the low four bytes, -1 in the high four (stored before): the 8-byte load is
    # 0xffffffff00000001
    ("stdw [%r10-8], -1\nmov %r3, 1\nstxw [%r10-8], %r3\nldxdw %r0, [%r10-8]\nexit",
     "more bytes than stored"),
    # 1 stored, then its second byte set: the load is 0x101
    ("mov %r3, 1\nstxw [%r10-8], %r3\nstb [%r10-7], 1\nldxw %r0, [%r10-8]\nexit",
     "a byte written over"),
    # the same through a copy of r10
    ("mov %r3, 1\nstxw [%r10-8], %r3\nmov %r4, %r10\nadd %r4, -6\nsth [%r4+0], 1\n"
     "ldxw %r0, [%r10-8]\nexit", "bytes written over through a pointer"),
    # 0x1ff stored as 1 byte reads back 0xff
    ("mov %r3, 0x1ff\nstxb [%r10-8], %r3\nldxb %r0, [%r10-8]\nexit", "a wider value"),
])
def test_bytes_that_do_not_hold_the_number_are_not_read_as_it(text, why):
    with pytest.raises(bpfjit.VerifierError, match="returns 0 to 1"):
        verify(_connect4(text), cache=False)
    if KERNEL:
        assert not _kernel_accepts(text)


# 1 stored as 4 bytes at fp-4, the upper half of a slot, where clang puts a `u32` whose
# address it passes to a function (bpfjit.verifier.memory's `_spill`)
UPPER_HALF = "mov %r3, 1\nstxw [%r10-4], %r3\nldxw %r0, [%r10-4]\nexit"


def test_a_number_aligned_to_its_width_is_read_back_where_the_kernel_would_not():
    # the kernel keeps a narrow spill only at a slot's start, so it sees r0 as any u32
    # and refuses the program; bpfjit keeps it at any offset aligned to its width: r0
    # is the 1 stored, in the hook's [0, 1]
    for mode in ("checked", "strict"):
        verify(_connect4(UPPER_HALF), mode=mode, cache=False)
    if KERNEL:
        assert not _kernel_accepts(UPPER_HALF)


def test_the_upper_half_runs_alike(engine):
    fn = bpfjit.compile(_connect4(UPPER_HALF), engine, cache=False)
    assert fn(bpfjit.SockAddrContext("10.0.0.1", 80)) == 1


def test_a_value_wider_than_its_bytes_reads_back_as_its_low_bytes():
    # 0x100000001 stored as 4 bytes: the load is 1
    text = "lddw %r3, 0x100000001\nstxw [%r10-8], %r3\nldxw %r0, [%r10-8]\nexit"
    verify(_connect4(text), mode="strict", cache=False)
    if KERNEL:
        assert _kernel_accepts(text)


# ---- proofs through a narrow slot (plain programs: r1 the buffer, r2 its length) ---------

INDEX = """
    mov %r0, 0
    jlt %r2, 16, out
    ldxb %r3, [%r1+0]
    and %r3, 15
    STORE [%r10-16], %r3
    mov %r3, 0
    LOAD %r4, [%r10-16]
    add %r1, %r4
    ldxb %r0, [%r1+0]
out:
    exit
"""


def _stats(text: str) -> str:
    return verify(bpfjit.assemble(text), cache=False).stats


@pytest.mark.parametrize("store, load", WIDTHS)
def test_an_index_kept_in_a_narrow_slot_proves_its_access(store, load):
    # index = mem[0] & 15 <= 15 < 16 <= len (the two stack accesses count too)
    text = INDEX.replace("STORE", store).replace("LOAD", load)
    assert _stats(text) == "accesses=4 proven=4"


@pytest.mark.parametrize("store, load", WIDTHS)
@pytest.mark.parametrize("first", [0, 7, 15, 0x3f])
def test_the_index_runs_alike(engine, store, load, first):
    text = INDEX.replace("STORE", store).replace("LOAD", load)
    mem = bytearray([first] + list(range(100, 115)))
    # mem[mem[0] & 15]: mem[0] itself for an index of 0
    index = first & 15
    assert bpfjit.compile(bpfjit.assemble(text), engine, cache=False)(mem) == mem[index]


def test_an_eight_byte_load_of_a_narrow_slot_is_not_the_index(engine):
    # the index in the low 4 bytes of a slot whose high 4 hold 1: the 8-byte load is
    # (1 << 32) + index, far outside a 16-byte buffer
    text = INDEX.replace("STORE", "stxw").replace("LOAD", "ldxdw").replace(
        "    mov %r3, 0\n", "    mov %r3, 0\n    stw [%r10-12], 1\n").replace(
        "    and %r3, 15\n", "    and %r3, 15\n    stdw [%r10-16], 0\n")
    assert _stats(text) == "accesses=6 proven=5"
    with pytest.raises(bpfjit.MemoryAccessError):
        bpfjit.compile(bpfjit.assemble(text), engine, cache=False)(bytearray(16))


# a loop whose counter lives in a 4-byte slot (`int i` kept in memory, as at -O0)
SLOT_COUNTER = """
    mov %r0, 0
    jlt %r2, 16, out
    stw [%r10-8], 0
loop:
    ldxw %r3, [%r10-8]
    jge %r3, 16, out
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4+0]
    add %r0, %r5
    add %r3, 1
    stxw [%r10-8], %r3
    ja loop
out:
    exit
"""


def test_a_loop_counter_in_a_narrow_slot_proves_the_loop():
    assert _stats(SLOT_COUNTER) == "accesses=4 proven=4"


def test_the_loop_sums_alike(engine):
    mem = bytearray(range(1, 21))
    # the first 16 bytes: 1 + 2 + ... + 16
    assert bpfjit.compile(bpfjit.assemble(SLOT_COUNTER), engine, cache=False)(mem) == 136


# paths that spilled the index in different widths: 4 bytes of [0, 7] on one, 8 bytes of
# [0, 15] on the other; a 4-byte load where they meet is [0, 15], and a 2-byte one too
MIXED_WIDTHS = """
    mov %r0, 0
    jlt %r2, 16, out
    ldxb %r3, [%r1+0]
    jset %r3, 0x80, wide
    and %r3, 7
    stxw [%r10-16], %r3
    ja meet
wide:
    and %r3, 15
    stxdw [%r10-16], %r3
meet:
    mov %r3, 0
    LOAD %r4, [%r10-16]
    add %r1, %r4
    ldxb %r0, [%r1+0]
out:
    exit
"""


@pytest.mark.parametrize("load", ["ldxw", "ldxh"])
def test_paths_that_spilled_different_widths_meet_at_the_narrower(load):
    assert _stats(MIXED_WIDTHS.replace("LOAD", load)) == "accesses=5 proven=5"


def test_an_eight_byte_load_where_widths_differ_is_not_proven():
    assert _stats(MIXED_WIDTHS.replace("LOAD", "ldxdw")) == "accesses=5 proven=4"


@pytest.mark.parametrize("first", [0x05, 0x8d, 0x87, 0x7f])
def test_the_widths_run_alike(engine, first):
    mem = bytearray([first] + list(range(100, 115)))
    index = first & 15 if first & 0x80 else first & 7
    for load in ("ldxw", "ldxh", "ldxdw"):
        fn = bpfjit.compile(bpfjit.assemble(MIXED_WIDTHS.replace("LOAD", load)), engine,
                            cache=False)
        assert fn(mem) == mem[index]
