"""What an array of ints on the stack holds (bpfjit.verifier.bytecaps with a step): an
`int parent[16]` stored as 15 - i is read back and used as an index again, as a
union-find forest or a linked list kept in ints is.  A store at a variable offset used
to bound every byte it might touch by the largest byte stored, so the high bytes of
each element held the low bytes' bound and an int read back was bounded by 0x0f0f0f0f:
nothing.  A stack pointer moved by `i << 2` now keeps its offset's alignment (a
multiple of 4: `offset_align`), so the store and the load touch byte j of an element
only at byte j, and the int read back is at most 15.  Expected values are worked out
by hand from the program text."""

import pytest

import bpfjit
from bpfjit.verifier import verify
from bpfjit.verifier.bytecaps import ZEROED, load_bound, store_caps, widen_caps
from bpfjit.verifier.domain import STACK, join, offset_align, pointer, replace

# parent[i] = 15 - i (an int array at r10-64), x = mem[0] & 15, then x = parent[x]
# twice: r0 = parent[parent[x]] = x.  `{poke}` may write a byte into an element first.
TEMPLATE = """
    mov %r3, 0
init:
    mov %r4, %r3
    lsh %r4, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r4
    mov %r7, 15
    sub %r7, %r3
    stxw [%r5], %r7
    add %r3, 1
    jlt %r3, 16, init
    mov %r0, 0
    jlt %r2, 2, out
{poke}
    ldxb %r6, [%r1]
    and %r6, 15
    lsh %r6, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    ldxw %r6, [%r5]
    lsh %r6, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    ldxw %r0, [%r5]
out:
    exit
"""

# byte 1 of parent[mem[1] & 15] = 200: that element may now hold 200 * 256 + 15
POKE = """
    ldxb %r8, [%r1+1]
    and %r8, 15
    lsh %r8, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r8
    stb [%r5+1], 200
"""


def reads(prog) -> list[int]:
    """The pcs of the two ldxw (from the text, not the verifier)."""
    return [pc for pc, insn in prog if insn.spec.mnemonic == "ldxw"]


def test_an_int_read_back_from_the_array_is_an_index():
    prog = bpfjit.assemble(TEMPLATE.format(poke=""))
    verified = verify(prog, cache=False)
    # the first read: x < 16; the second: parent[x] <= 15, so also inside the array
    assert set(reads(prog)) <= verified.proven


@pytest.mark.parametrize("first", [0x00, 0x37, 0xFF])
def test_every_engine_follows_the_ints(engine, first):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(TEMPLATE.format(poke="")), engine, cache=False)
    assert fn(bytes([first, 0])) == first & 15


def test_a_byte_poked_into_an_element_undoes_the_second_proof():
    prog = bpfjit.assemble(TEMPLATE.format(poke=POKE))
    verified = verify(prog, cache=False)
    first, second = reads(prog)
    assert first in verified.proven            # x < 16 still
    assert second not in verified.proven       # parent[x] may be 200 * 256 + 15 - x


def test_the_poked_element_is_caught_at_run_time(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog = bpfjit.assemble(TEMPLATE.format(poke=POKE))
    fn = bpfjit.compile(prog, engine, cache=False)
    # x = 3 and parent[3] poked: 12 + 200 * 256 = 51212, times 4 past the frame, at
    # the second read
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes([3, 3]))
    assert info.value.pc == reads(prog)[1]
    assert fn(bytes([3, 12])) == 3 + 200 * 256  # parent[12], poked, read back whole
    assert fn(bytes([3, 5])) == 3              # another element poked: x comes back


def test_a_stack_pointer_keeps_the_alignment_of_what_moved_it():
    # r10 - 64 (a multiple of 64) plus i << 2 (a multiple of 4): a multiple of 4
    at = pointer(STACK, -64, -64)
    assert offset_align(at) == 6
    moved = replace(pointer(STACK, -64, -4), align=2)
    assert offset_align(moved) == 2
    # joined with the constant r10 - 62 (a multiple of 2 only): a multiple of 2
    assert join(moved, pointer(STACK, -62, -62)).align == 1
    assert join(moved, pointer(STACK, -32, -32)).align == 2


def test_a_store_at_every_fourth_offset_bounds_only_its_own_bytes():
    # an int of at most 15 stored somewhere in r10-16 .. r10-4, every 4 bytes: bytes
    # -16, -12, -8, -4 get 15, the three above each keep 0
    caps = store_caps(ZEROED, ZEROED, -16, -4, [15, 0, 0, 0], step=4)
    assert list(caps[512 - 16:512]) == [15, 0, 0, 0] * 4
    assert load_bound(caps, -16, -4, 4, step=4) == 15
    # read without the step, byte j of the load may be any byte: 0x0f0f0f0f
    assert load_bound(caps, -16, -4, 4) == 0x0F0F0F0F
    # a step of one: every byte gets the largest stored (as before)
    caps = store_caps(ZEROED, ZEROED, -16, -4, [15, 0, 0, 0])
    assert list(caps[512 - 16:512]) == [15] * 16


def test_a_value_of_more_than_a_byte_bounds_every_byte_it_may_land_on():
    # 300 = 0x12c: bytes [0x2c, 0x01]; stored every 2 bytes, it bounds each byte in
    # reach by 0x2c (the count of an array growing past a byte, not an index)
    caps = store_caps(ZEROED, ZEROED, -8, -2, [0x2C, 0x01], step=2)
    assert list(caps[512 - 8:512]) == [0x2C] * 8


def test_a_cap_climbs_a_few_thresholds_then_goes_to_the_top():
    steps = bytearray(512)
    old, new = bytearray(ZEROED), bytearray(ZEROED)
    old[0], new[0] = 3, 4
    thresholds = ((5, 9, 12),)       # stops (t and t - 1): 4, 5, 8, 9, 11, 12, 255
    assert widen_caps(bytes(old), bytes(new), thresholds, steps, 2)[0] == 4
    old[0], new[0] = 4, 5
    assert widen_caps(bytes(old), bytes(new), thresholds, steps, 2)[0] == 5
    old[0], new[0] = 5, 6            # a third step: past the two allowed
    assert widen_caps(bytes(old), bytes(new), thresholds, steps, 2)[0] == 255
    assert steps[0] == 3 and steps[1] == 0


# 16 four-byte elements at r10-64 whose byte 2 (`next`) is 15 - i, written through
# `&t[i].next` as clang makes it for a u8 field of an aligned struct: `r5 |= 2`; then
# x = t[x].next twice from x = mem[0] & 15: r0 = x.  `{bits}` is what is or-ed in.
FIELDS = """
    mov %r3, 0
fill:
    mov %r4, %r3
    lsh %r4, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r4
    or %r5, {bits}
    mov %r7, 15
    sub %r7, %r3
    stxb [%r5], %r7
    add %r3, 1
    jlt %r3, 16, fill
    mov %r0, 0
    jlt %r2, 1, out
    ldxb %r6, [%r1]
    and %r6, 15
    lsh %r6, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    or %r5, 2
    ldxb %r6, [%r5]
    lsh %r6, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    or %r5, 2
    ldxb %r0, [%r5]
out:
    exit
"""


def field_reads(prog) -> list[int]:
    return [pc for pc, insn in prog if insn.spec.mnemonic == "ldxb" and insn.src == 5]


def test_or_into_the_clear_low_bits_of_a_stack_address_adds():
    prog = bpfjit.assemble(FIELDS.format(bits=2))
    verified = verify(prog, cache=False)
    store = next(pc for pc, insn in prog if insn.spec.mnemonic == "stxb")
    # the store: r10 - 64 + 4i + 2 for i < 16; the reads: x < 16, then t[x].next <= 15
    assert store in verified.proven
    assert set(field_reads(prog)) <= verified.proven


def test_or_of_a_bit_the_offset_may_have_set_is_no_add():
    # 4 is not below 2^2: r10 - 64 + 4i | 4 is not r10 - 64 + 4i + 4 for odd i
    prog = bpfjit.assemble(FIELDS.format(bits=4))
    verified = verify(prog, cache=False)
    store = next(pc for pc, insn in prog if insn.spec.mnemonic == "stxb")
    assert store not in verified.proven


@pytest.mark.parametrize("bits", [2, 4])
def test_every_engine_walks_the_fields(engine, bits):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(FIELDS.format(bits=bits)), engine, cache=False)
    for first in (0, 7, 0x2F):
        x = first & 15
        if bits == 2:
            want = x                          # 15 - (15 - x)
        else:
            # the fill wrote 15 - i at byte 4i + 4 | (4i & 4) ... worked out per byte:
            # i even: byte 4i + 4 (element i + 1's byte 0); i odd: byte 4i (its own 0)
            t = bytearray(64)
            for i in range(16):
                t[(4 * i) | 4] = 15 - i
            want = t[4 * t[4 * x + 2] + 2] if 4 * t[4 * x + 2] + 2 < 64 else None
        assert fn(bytes([first])) == want


# 64 bytes t[k] = 3k at r10-64 (sixteen 4-byte elements); then byte j of element x,
# its address built as clang builds `nxt[p][c]` of a u8 nxt[][4]: r10 - 64 + 4x, then
# `r5 |= r8` with j in r8 (`{xmask}` and `{jmask}` bound x and j); r0 = that byte
OR_REGISTER = """
    mov %r3, 0
fill:
    mov %r4, %r10
    add %r4, -64
    add %r4, %r3
    mov %r7, %r3
    mul %r7, 3
    stxb [%r4], %r7
    add %r3, 1
    jlt %r3, 64, fill
    mov %r0, 0
    jlt %r2, 2, out
    ldxb %r6, [%r1]
    {xmask}
    ldxb %r8, [%r1+1]
    and %r8, {jmask}
    lsh %r6, 2
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    or %r5, %r8
    ldxb %r0, [%r5]
out:
    exit
"""


def _or_register(xmask: str, jmask: int):
    prog = bpfjit.assemble(OR_REGISTER.format(xmask=xmask, jmask=jmask))
    read = next(pc for pc, insn in prog if insn.spec.mnemonic == "ldxb" and insn.src == 5)
    return prog, read


def test_or_of_a_register_below_the_alignment_adds():
    # 4x is a multiple of 4 and j < 4: r10 - 64 + 4x | j is r10 - 64 + 4x + j, at most
    # r10 - 1 for x < 16: proven, and known to be a stack access
    prog, read = _or_register("and %r6, 15", 3)
    verified = verify(prog, cache=False)
    assert read in verified.proven
    assert verified.regions[read] == "stack"
    # x up to 255: 4x + j may pass the frame's top, so the read is checked, but it is
    # still an access of the stack, checked against the stack alone
    prog, read = _or_register("", 3)
    verified = verify(prog, cache=False)
    assert read not in verified.proven
    assert verified.regions[read] == "stack"


def test_or_of_a_register_that_may_reach_the_alignment_is_no_add():
    # j up to 7 against a multiple of 4: 4x | 4 is 4x for odd x, not 4x + 4
    prog, read = _or_register("and %r6, 15", 7)
    verified = verify(prog, cache=False)
    assert read not in verified.proven
    assert verified.regions.get(read) is None    # (either region: tested at run time)


@pytest.mark.parametrize("xmask, jmask", [("and %r6, 15", 3), ("", 3), ("and %r6, 15", 7)])
def test_every_engine_reads_through_an_or_of_a_register(engine, xmask, jmask):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog, read = _or_register(xmask, jmask)
    fn = bpfjit.compile(prog, engine, cache=False)
    for first, second in ((0, 0), (5, 2), (15, 3), (0x2F, 0xFE), (9, 6)):
        x = first & 15 if xmask else first
        if x >= 16:
            continue                            # (past the frame: below)
        offset = (4 * x) | (second & jmask)      # r10 - 64 is a multiple of 8
        assert fn(bytes([first, second])) == 3 * offset
    if not xmask:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            fn(bytes([16, 1]))                  # r10 - 64 + 64 + 1: past the top
        assert info.value.pc == read

def test_r10_is_8_byte_aligned_on_every_engine(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, %r10\nand %r0, 7\nexit"), engine,
                        cache=False)
    assert fn() == 0


# 16 bytes t[i] = i at r10-16; x = mem[0] (any byte: the load of t[x] is checked, and
# past its check x < 16); then t[t[x]]: the byte read back is at most 15
CHECKED = """
    mov %r3, 0
fill:
    mov %r4, %r10
    add %r4, -16
    add %r4, %r3
    stxb [%r4], %r3
    add %r3, 1
    jlt %r3, 16, fill
    mov %r0, 0
    jlt %r2, 1, out
    ldxb %r6, [%r1]
    mov %r5, %r10
    add %r5, -16
    add %r5, %r6
    ldxb %r6, [%r5]
    mov %r5, %r10
    add %r5, -16
    add %r5, %r6
    ldxb %r0, [%r5]
out:
    exit
"""


def test_a_checked_load_from_the_frame_reads_what_the_frame_holds():
    prog = bpfjit.assemble(CHECKED)
    verified = verify(prog, cache=False)
    first, second = field_reads(prog)
    # the first read may leave the frame (x up to 255): checked; past its check it read
    # a byte of the frame, all of which hold at most 15 (t) or 0 (never written)
    assert first not in verified.proven
    assert second in verified.proven


def test_every_engine_reads_through_the_checked_byte(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog = bpfjit.assemble(CHECKED)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bytes([5])) == 5
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes([16]))                       # r10 - 16 + 16: the frame's top
    assert info.value.pc == field_reads(prog)[0]


# u[k] = 7k + 1 for k < 16 at r10-32; t[16] at r10-16 (zeroed).  t[mem[0]] = mem[1] % 10
# through a checked store (any byte for an index: past its check it wrote t, the frame
# being the top one); then w = t[mem[2] & 15], a proven load, and r0 = u[w]
CHECKED_STORE = """
    mov %r3, 0
fill:
    mov %r4, %r10
    add %r4, -32
    add %r4, %r3
    mov %r7, %r3
    mul %r7, 7
    add %r7, 1
    stxb [%r4], %r7
    add %r3, 1
    jlt %r3, 16, fill
    mov %r0, 0
    jlt %r2, 3, out
    ldxb %r6, [%r1]
    ldxb %r7, [%r1+1]
    mod %r7, 10
    mov %r5, %r10
    add %r5, -16
    add %r5, %r6
    stxb [%r5], %r7
    ldxb %r6, [%r1+2]
    and %r6, 15
    mov %r5, %r10
    add %r5, -16
    add %r5, %r6
    ldxb %r6, [%r5]
    mov %r5, %r10
    add %r5, -32
    add %r5, %r6
    ldxb %r0, [%r5]
out:
    exit
"""


def test_a_checked_store_bounds_the_bytes_it_may_write():
    prog = bpfjit.assemble(CHECKED_STORE)
    verified = verify(prog, cache=False)
    store = next(pc for pc, insn in prog if insn.spec.mnemonic == "stxb" and insn.dst == 5)
    last = max(pc for pc, insn in prog if insn.spec.mnemonic == "ldxb")
    # the store may leave the frame (mem[0] up to 255): checked.  Past its check it
    # wrote a byte of t, which then holds at most 9 (or the 0 it held): w <= 9, and
    # r10 - 32 + w lies in the frame (with w any byte it would not)
    assert store not in verified.proven
    assert last in verified.proven


def test_every_engine_reads_back_through_the_checked_store(engine):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    prog = bpfjit.assemble(CHECKED_STORE)
    store = next(pc for pc, insn in prog if insn.spec.mnemonic == "stxb" and insn.dst == 5)
    fn = bpfjit.compile(prog, engine, cache=False)
    for i, v, j in ((3, 27, 3), (3, 27, 4), (15, 99, 15), (0, 250, 0), (7, 5, 2)):
        t = [0] * 16
        t[i] = v % 10
        assert fn(bytes([i, v, j])) == 7 * t[j] + 1
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes([16, 1, 0]))                   # r10 - 16 + 16: the frame's top
    assert info.value.pc == store

def test_a_wide_value_stored_into_a_struct_bounds_only_its_own_bytes():
    # a u16 key of any value at bytes 0-1 of 4-byte elements: bytes 2 and 3 (other
    # fields) keep their caps
    before = bytearray(ZEROED)
    before[512 - 16:512] = bytes([0, 0, 7, 3] * 4)
    caps = store_caps(bytes(before), bytes(before), -16, -4, [0xFF, 0xFF], step=4)
    assert list(caps[512 - 16:512]) == [0xFF, 0xFF, 7, 3] * 4
