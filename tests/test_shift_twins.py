"""Two registers shifted right alike from one value are equal (bpfjit.verifier.alu:
`zone.shifted`'s "rsh" links).

clang -mcpu=v1 zero-extends a 32-bit counter held in a 64-bit register by shifting it
left once and right in two places: corpus-style move-to-front code (`while (list[k] !=
c) k++;` then `for (; k > 0; k--) list[k] = list[k - 1];`) became `r7 = r3 << 32; r9 =
r7 >> 32` inside the search and `r7 >>= 32; if r7 == 0` after it, then a loop stepping
r9 down to 0.  Without `r7 == r9` the test said nothing of r9, 0 entered the loop, the
loop's index went below the array, and the array's unproven store could land on the
spilled buffer pointer under it: every buffer read through that spill was checked at
run time.  With it, r9 >= 1 enters the loop and the spill survives the store."""

import pytest

import bpfjit

# r9 and r7 are the low half of the buffer's first 8 bytes through one `lsh`; the
# loop stores 7 at fp - 257 + r9 for r9 = k down to 1 (fp - 256 up to fp - 257 + k),
# unproven (k is not bounded), and the buffer pointer spilled to fp - 264 is read
# back after it
TWINS = """
    jlt %r2, 8, +17
    stxdw [%r10-264], %r1
    ldxdw %r3, [%r1+0]
    mov %r7, %r3
    lsh %r7, 32
    mov %r9, %r7
    rsh %r9, 32
    rsh %r7, 32
    jeq %r7, 0, +6
    mov %r1, %r10
    add %r1, -257
    add %r1, %r9
    stb [%r1+0], 7
    add %r9, -1
    jne %r9, 0, -6
    ldxdw %r1, [%r10-264]
    ldxb %r0, [%r1+0]
    exit
    mov %r0, 0
    exit
"""
STORE, READ = 12, 16


def _program() -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(TWINS).insns)


def test_the_spill_under_the_array_survives_its_unproven_store():
    verified = bpfjit.verify(_program(), cache=False)
    assert STORE in verified.accesses and STORE not in verified.proven
    assert READ in verified.proven


def test_a_later_shift_of_another_value_links_nothing():
    # r7 moves by len (another value than r9's source) before its own `rsh`: no link,
    # and the spill may be overwritten again
    text = TWINS.replace("    rsh %r7, 32\n", "    add %r7, %r2\n    rsh %r7, 32\n")
    text = text.replace("jlt %r2, 8, +17", "jlt %r2, 8, +18")
    verified = bpfjit.verify(bpfjit.Program(bpfjit.assemble(text).insns), cache=False)
    assert READ + 1 in verified.accesses and READ + 1 not in verified.proven


@pytest.mark.parametrize("count", [0, 1, 2, 200, 256])
def test_the_twins_run_alike_on_every_engine(engine, count):
    fn = bpfjit.compile(_program(), engine)
    # the upper half of the first 8 bytes is shifted out; the loop writes only the
    # stack, and r0 is the first byte again
    mem = bytearray(count.to_bytes(4, "little") + b"\xa5\x5a\xff\x01" + b"tail")
    assert fn(mem) == count & 0xFF


def test_a_store_beyond_the_frame_still_traps(engine):
    # k = 257: the first store lands at fp, above the frame
    fn = bpfjit.compile(_program(), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray((257).to_bytes(4, "little") + bytes(4)))
    assert info.value.pc == STORE
    # (a too short buffer: no loop, r0 = 0)
    assert fn(bytearray(7)) == 0
