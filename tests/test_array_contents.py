"""What a stack array holds (bpfjit.verifier.bytecaps): a byte array of 16 indices, each
stored as 15 - i, is read back and used as an index again, as a union-find forest or a
linked list in an array is.  The verifier proves those accesses from the largest value
any store put in the array; one store of a larger value anywhere in it must undo the
proof, and the access must then be checked and trap where the interpreter traps."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# parent[i] = 15 - i for i < 16 at r10-16, then four steps of x = parent[x] from
# x = mem[0] & 15, r0 = parent[x] at each step: x alternates between x0 and 15 - x0,
# and after four steps r0 = 15 - x0.  `{poke}` may store into the array first.
TEMPLATE = """
    mov %r3, 0
init:
    mov %r4, %r10
    add %r4, -16
    add %r4, %r3
    mov %r7, 15
    sub %r7, %r3
    stxb [%r4], %r7
    add %r3, 1
    jlt %r3, 16, init
    mov %r0, 0
    jlt %r2, 2, out
{poke}
    ldxb %r5, [%r1]
    and %r5, 15
    mov %r6, 4
chase:
    mov %r4, %r10
    add %r4, -16
    add %r4, %r5
    ldxb %r5, [%r4]
    mov %r4, %r10
    add %r4, -16
    add %r4, %r5
    ldxb %r0, [%r4]
    sub %r6, 1
    jne %r6, 0, chase
out:
    exit
"""

# parent[mem[1] & 15] = 200: a byte of the array may now hold an index past it
POKE = """
    ldxb %r8, [%r1+1]
    and %r8, 15
    mov %r4, %r10
    add %r4, -16
    add %r4, %r8
    mov %r7, 200
    stxb [%r4], %r7
"""


def chase_pcs(prog) -> list[int]:
    """The pcs of the two loads in the chase loop (counted from the text, not the
    verifier): the ldxb instructions through r4 after the first ldxb of r1."""
    loads = [pc for pc, insn in prog if insn.spec.mnemonic == "ldxb" and insn.src == 4]
    return loads[-2:]


def test_indices_read_back_from_the_array_are_proven():
    prog = bpfjit.assemble(TEMPLATE.format(poke=""))
    verified = verify(prog, cache=False)
    assert set(chase_pcs(prog)) <= verified.proven


@pytest.mark.parametrize("first", [0x00, 0x37, 0xFF])
def test_the_chase_runs_alike_on_every_engine(engine, first):
    fn = bpfjit.compile(bpfjit.assemble(TEMPLATE.format(poke="")), engine)
    assert fn(bytes([first, 0])) == 15 - (first & 15)


def test_a_larger_value_stored_anywhere_undoes_the_proof():
    prog = bpfjit.assemble(TEMPLATE.format(poke=POKE))
    verified = verify(prog, cache=False)
    first, second = chase_pcs(prog)
    # the step's second load reads parent[x] with x read from the array: checked.  Its
    # first load is still proven: on the first trip x = mem[0] & 15, on a later one x
    # is the index the second load's check let through, r10 - 16 + x in the frame and
    # x a byte, so 0 <= x <= 15
    assert second not in verified.proven
    assert first in verified.proven


def test_the_larger_value_is_caught_at_run_time(engine):
    prog = bpfjit.assemble(TEMPLATE.format(poke=POKE))
    fn = bpfjit.compile(prog, engine)
    # parent[3] = 200 and x0 = 12: the first step reads x = parent[12] = 3 (and r0 =
    # parent[3]), the second x = parent[3] = 200, then parent[200], r10 - 16 + 200:
    # past the frame, at the step's second load
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes([12, 3]))
    assert info.value.pc == chase_pcs(prog)[1]
    # where the chase never meets the 200, it runs as before
    assert fn(bytes([0x37, 3])) == 8
