"""A pointer into a stack frame on some paths and NULL on others (`hdr = NULL; if (...)
hdr = &local;` then `if (hdr) ... hdr->x`): kubeshark/tracer's packet sniffer keeps such
a pointer to a struct of its caller's frame.  The join was MIXED, a pointer or a number,
which strict mode refuses to use; the kernel follows each path and loads the program.
It is now a stack pointer or NULL (of that frame), which its NULL test turns back into
the stack pointer it was, also in a callee it is passed to (the frame one further up).
Results worked out by hand: r0 = the 8 bytes at the local (0x11) where the packet's
first byte is not 0, else 7 (NULL)."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.cfg import subprogram_ranges
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable
from context_oracle import kernel_loads_program
from skb_programs import asm_program

# r6 = &local (fp-8, holding 0x11) where the first byte is not 0, else NULL; a helper
# call after the join (so the test below it is not run per path)
CHOOSE = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 2
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, out
    stdw [%r10-8], 0x11
    mov %r6, 0
    ldxb %r5, [%r2+0]
    jeq %r5, 0, joined
    mov %r6, %r10
    add %r6, -8
joined:
    call 5
"""
IN_PLACE = CHOOSE + """
    mov %r0, 7
    jeq %r6, 0, out
    ldxdw %r0, [%r6+0]
out:
    exit
"""
IN_A_CALLEE = CHOOSE + """
    mov %r1, %r6
    call local read_it
out:
    exit
read_it:
    mov %r0, 7
    jeq %r1, 0, +1
    ldxdw %r0, [%r1+0]
    exit
"""


def program(text: str) -> bpfjit.Program:
    return asm_program(text)


@pytest.mark.parametrize("text", [IN_PLACE, IN_A_CALLEE], ids=["in place", "in a callee"])
def test_strict_mode_proves_the_load_after_the_null_test(text):
    prog = program(text)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                             cache=False)
    assert verified.accesses and set(verified.proven) == set(verified.accesses)
    log = "\n".join(bpfjit.verify(prog, log=True, cache=False).log)
    assert "fp_or_null(off=-8)" in log
    functions = tuple(first for first, _ in subprogram_ranges(prog))
    assert kernel_loads_program(prog, "xdp", functions if len(functions) > 1 else ()) \
        in (True, None)


@pytest.mark.parametrize("text", [IN_PLACE, IN_A_CALLEE], ids=["in place", "in a callee"])
@pytest.mark.parametrize("first, result", [(1, 0x11), (0, 7)])
def test_what_it_reads(engine, text, first, result):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_ktime_get_ns here")
    fn = bpfjit.compile(program(text), engine)
    assert fn(bpfjit.XdpContext(bytes([first]) + bytes(15))) == result


def test_a_callee_s_frame_does_not_outlive_it():
    # a callee returns a pointer into its own frame or NULL: gone once it returns, the
    # caller may not read through it (the kernel refuses it too)
    text = """
        call local pick
        mov %r1, %r0
        mov %r0, 7
        jeq %r1, 0, +1
        ldxdw %r0, [%r1+0]
        exit
    pick:
        stdw [%r10-8], 1
        mov %r0, 0
        call 7
        jeq %r0, 0, +2
        mov %r0, %r10
        add %r0, -8
        exit
    """
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])))
    with pytest.raises(bpfjit.VerifierError):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)


RETURNS_OWN_FRAME = """
    stdw [%r10-8], 5
    call local pick
    mov %r1, %r0
    mov %r0, 7
    jeq %r1, 0, +1
    ldxdw %r0, [%r1+0]
    exit
pick:
    stdw [%r10-8], 1
    mov %r0, 0
    jeq %r2, 0, +2
    mov %r0, %r10
    add %r0, -8
    exit
"""


def test_a_pointer_or_null_into_a_finished_callee_s_frame_is_not_the_caller_s(engine):
    # regression: a callee's own frame pointer returned with NULL on another path came
    # back as a pointer into its caller's frame at the same offset, so the read through
    # it was "proven" (and r0 taken for the caller's 5): it reads the dead frame, below
    # the live one, and the interpreter traps there -- now every engine does
    fn = bpfjit.compile(bpfjit.assemble(RETURNS_OWN_FRAME), engine)
    assert fn(bytearray()) == 7                     # len 0: NULL, nothing read
    with pytest.raises(bpfjit.MemoryAccessError) as trapped:
        fn(bytearray(4))
    assert trapped.value.pc == 5
