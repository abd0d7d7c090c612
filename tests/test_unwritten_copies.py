"""A copy of a register nothing wrote is a register nothing wrote, refused where it is
read, in the checked and unchecked modes; strict mode refuses the copy itself, as the
kernel does (its `!read_ok` on any read of an unset register).

clang -O1 moves registers it never set: corpus/plain's kvparse at `-O1 -mcpu=v3` copies
`w0 = w7` on a path whose next test, of a register just set to 1, always goes round
its loop again, where w0 is written before it is read; bsearch's search loop copies
`w8 = w9` on its first way round, r9 being written only later in the loop.  Such a
copy reads nothing the program depends on: whatever the register held (engines differ:
a JIT's register keeps what it kept) goes nowhere.  Where a copy is read, the error
names the instruction that made it."""

import pytest

import bpfjit

# r9 is written only at the end of the loop's body; its copy in r8 on the first way
# round (copied back in r9, and in r7 in 32 bits) is never read: r8 is written again
# before anything reads it.  r0 = 3 + 2 + 1.
DEAD_COPY = """
    mov %r0, 0
    mov %r6, 3
loop:
    mov %r8, %r9
    mov %r9, %r8
    mov32 %r7, %r8
    mov %r8, %r6
    add %r0, %r8
    mov %r9, %r0
    add %r6, -1
    jne %r6, 0, loop
    exit
"""


def _program(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns)


@pytest.mark.parametrize("mode", ["checked", "unchecked"])
def test_a_dead_copy_of_an_unwritten_register_is_accepted(mode):
    bpfjit.verify(_program(DEAD_COPY), mode=mode, cache=False)


def test_strict_mode_refuses_the_copy_as_the_kernel_does():
    with pytest.raises(bpfjit.VerifierError) as info:
        bpfjit.verify(_program(DEAD_COPY), mode="strict", cache=False)
    assert info.value.pc == 2 and "r9 is read before anything was written" in str(info.value)


def test_the_dead_copy_runs_alike_on_every_engine(engine):
    assert bpfjit.compile(_program(DEAD_COPY), engine)(None) == 6


@pytest.mark.parametrize("use, pc", [
    ("add %r0, %r7", 5),                    # an operand
    ("jeq %r7, 0, +0", 5),                  # a test
    ("stxdw [%r10-8], %r7", 5),             # a store
    ("mov %r1, %r7\n    add %r0, %r1", 6),  # a copy of the copy, then an operand
])
def test_a_copy_read_is_refused_naming_where_it_was_made(use, pc):
    text = DEAD_COPY.replace("    mov %r8, %r6\n", f"    {use}\n    mov %r8, %r6\n")
    with pytest.raises(bpfjit.VerifierError) as info:
        bpfjit.verify(_program(text), cache=False)
    # r7 is a copy of r8, itself a copy of r9 made at pc 2
    assert info.value.pc == pc
    assert "holds a copy, made at pc 2, of a register nothing had written" in str(info.value)


def test_a_copy_returned_is_refused_at_the_exit():
    with pytest.raises(bpfjit.VerifierError) as info:
        bpfjit.verify(_program("mov %r6, %r7\nmov %r0, %r6\nexit"), cache=False)
    assert info.value.pc == 2 and "r0 holds a copy, made at pc 0" in str(info.value)


def test_a_copy_on_a_path_a_constant_test_leaves_is_accepted():
    # kvparse's shape: r0 = r7 (never written) where r2 = 1 sends the loop round again,
    # and r0 is written before the exit reads it
    text = """
        mov %r6, 4
    loop:
        mov %r0, %r7
        mov %r2, 1
        add %r6, -1
        jeq %r6, 0, out
        jne %r2, 0, loop
    out:
        mov %r0, %r6
        exit
    """
    bpfjit.verify(_program(text), cache=False)


def test_a_result_a_subprogram_may_not_set_is_refused_at_its_copy():
    # only registers nothing wrote are copied unread; a callee's r0 that some path does
    # not set is refused where it is first read, copy or not, naming the callee
    text = "call local f\nmov %r6, %r0\nmov %r0, 0\nexit\nf:\nexit"
    with pytest.raises(bpfjit.VerifierError, match="pc 1: r0 is read before anything was "
                                                   "written to it \\(the subprogram at pc 4"):
        bpfjit.verify(_program(text), cache=False)
