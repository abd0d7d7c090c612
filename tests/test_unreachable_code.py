"""A large region the verifier proved no run reaches (8 slots or more,
bpfjit.cfg.elided_code) gets no machine code: a jump into it goes to a trap.
Programs written to be configured at load time (pping's options in .rodata,
read-only) leave most of their code so: 1,101 of pping's 1,757 instructions, which
LLVM optimised and compiled all the same (1.4 s a compile, 0.15 s without).  Were
the verifier wrong, a run reaching such a pc stops with UnreachableReached at that pc
instead of running on into code that is not there.  A small dead block is lowered as
it is (LLVM folds a one-move block into a select; a trap there added an exit to a
loop)."""

from __future__ import annotations

import dataclasses

import pytest

import bpfjit
from bpfjit.backends import get_engine
from bpfjit.verifier import verify

JITS = [e for e in ("llvm", "peachpy") if e in bpfjit.engines()]

# the buffer is shorter than 4 GiB (bpfjit's limit, which the verifier assumes and LLVM
# does not know): the multiplications after the test never run
DEAD_TAIL = """
    mov %r0, 1
    lddw %r3, 0x100000000
    jlt %r2, %r3, small
{dead}
    exit
small:
    mov %r0, 7
    exit
"""


def program(multiplies: int) -> bpfjit.Program:
    return bpfjit.assemble(DEAD_TAIL.format(dead="    mul %r0, 3\n" * multiplies))


def test_the_verifier_finds_the_tail_unreachable():
    # pcs: 0 mov, 1-2 lddw, 3 jlt, 4..43 the multiplications, 44 exit, 45 mov, 46 exit
    assert verify(program(40), cache=False).unreachable == tuple(range(4, 45))


@pytest.mark.parametrize("length", [0, 100])
def test_every_engine_takes_the_reachable_branch(engine, length):
    assert bpfjit.compile(program(40), engine, cache=False)(bytes(length)) == 7


@pytest.mark.parametrize("jit", JITS)
def test_unreachable_instructions_make_no_machine_code(jit):
    def size(prog):
        start, end = bpfjit.compile(prog, jit, cache=False).extra["text_range"]
        return end - start
    # 39 more multiplications, each at least 3 bytes of x86 (imul r64, r64, imm8) if
    # any were emitted; what may differ is a trap's placement
    assert size(program(40)) - size(program(1)) < 39 * 3


@pytest.mark.parametrize("jit", JITS)
def test_a_run_reaching_a_pc_called_unreachable_stops_there(jit):
    # a wrong verdict, made by hand: pc 45 (`mov %r0, 7`) and 46 run on every input
    verified = verify(program(40), cache=False)
    wrong = dataclasses.replace(verified, unreachable=verified.unreachable + (45, 46))
    fn = get_engine(jit)(wrong)
    with pytest.raises(bpfjit.UnreachableReached) as caught:
        fn(bytes(10))
    assert caught.value.pc == 45


@pytest.mark.parametrize("jit", JITS)
def test_a_small_dead_block_is_lowered_as_it_is(jit):
    # one multiplication after the test (pcs 4 and 5, two slots): emitted as written,
    # so a wrong verdict there changes nothing (the program still returns 7)
    verified = verify(program(1), cache=False)
    assert verified.unreachable == (4, 5)
    wrong = dataclasses.replace(verified, unreachable=(4, 5, 6, 7))
    assert get_engine(jit)(wrong)(bytes(10)) == 7
