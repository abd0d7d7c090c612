"""The verifier proves accesses to XDP metadata as the kernel does: `data_meta` is where
the metadata starts (the zone's META), so `p` with `p >= data_meta` and `p + size <=
data` (the test every program makes before touching it, `meta + n > data`) lies in it.
Before, every such access was checked at run time and strict mode refused the program
(the kernel's samples/bpf `xdp2skb_meta`, which the kernel loads).

Each program gives itself metadata with bpf_xdp_adjust_meta, reloads `data_meta` and
`data` (the call invalidates packet pointers), and checks the metadata's end against
`data`; expected values are the bytes written, worked out here."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"

PROLOGUE = """
    mov %r6, %r1
    mov %r2, -8
    call 54
    jne %r0, 0, fail
    ldxw %r2, [%r6+8]
    ldxw %r3, [%r6+0]
    mov %r4, %r2
    add %r4, {checked}
    jgt %r4, %r3, fail
"""
EPILOGUE = """
    exit
fail:
    mov %r0, 1
    exit
"""


def program(body: str, checked: int = 8) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    text = PROLOGUE.format(checked=checked) + body + EPILOGUE
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp",
                          prog_type="xdp")


def verify(prog: bpfjit.Program, mode: str) -> bpfjit.VerifiedProgram:
    return bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)


WRITE_TWO_READ_ONE = """
    stw [%r2+0], 0x11223344
    stw [%r2+4], 0x55667788
    ldxw %r0, [%r2+4]
"""


def test_metadata_checked_against_data_is_proven(engine):
    prog = program(WRITE_TWO_READ_ONE)
    verified = verify(prog, "strict")
    assert set(verified.accesses) <= set(verified.proven)
    ctx = bpfjit.XdpContext(bytes(range(20)))
    assert bpfjit.compile(prog, engine)(ctx) == 0x55667788
    assert ctx.metadata == bytes.fromhex("4433221188776655")
    assert ctx.packet == bytes(range(20))


@pytest.mark.parametrize("engine_name", ["llvm", "peachpy"])
def test_proven_metadata_accesses_run_under_every_speculation_clamp(engine_name):
    # at speculation="all" a proven access whose offset varies is clamped against its
    # region: the metadata must be inside the buffer's bounds the clamp uses
    prog = program(WRITE_TWO_READ_ONE)
    if engine_name not in bpfjit.engines():
        pytest.skip(f"{engine_name} is not available")
    fn = bpfjit.compile(prog, engine_name, speculation="all", cache=False)
    ctx = bpfjit.XdpContext(bytes(range(20)))
    assert fn(ctx) == 0x55667788
    assert ctx.metadata == bytes.fromhex("4433221188776655")


def test_below_data_meta_nothing_is_proven(engine):
    # 4 bytes before data_meta: in the headroom, not in the metadata
    prog = program("stw [%r2-4], 7\nmov %r0, 0")
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(prog, "strict")
    assert not set(verify(prog, "checked").accesses) <= set(verify(prog, "checked").proven)
    with pytest.raises(bpfjit.MemoryAccessError):
        bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(20)))


def test_past_what_the_program_checked_nothing_is_proven():
    # data_meta + 4 <= data checked, a word at data_meta + 4 read: the packet's first
    # bytes, which the program did not check are there
    prog = program("ldxw %r0, [%r2+4]", checked=4)
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(prog, "strict")


def test_metadata_pointers_do_not_outlive_a_resize():
    # adjust_meta again: the old data_meta no longer says where the metadata starts
    prog = program("""
        mov %r7, %r2
        mov %r1, %r6
        mov %r2, 4
        call 54
        stw [%r7+0], 1
        mov %r0, 0
    """)
    with pytest.raises(bpfjit.VerifierError, match="pc 13: strict mode: cannot prove"):
        verify(prog, "strict")


def test_a_copy_of_data_meta_moved_back_is_not_proven():
    # r2 - 4 + 4 is data_meta again, but r5 = r2 - 4 is before it
    prog = program("mov %r5, %r2\nadd %r5, -4\nldxw %r0, [%r5+0]")
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(prog, "strict")
    prog = program("mov %r5, %r2\nadd %r5, -4\nldxw %r0, [%r5+4]")
    assert set(verify(prog, "strict").accesses) <= set(verify(prog, "strict").proven)
