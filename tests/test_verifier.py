"""The verifier: what it rejects and why, what it proves, and how it shows its reasoning."""

import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import analysis, verify

PROGRAMS = Path(__file__).parent.parent / "bench" / "programs"


def rejected(text: str, mode: str = "checked", helpers=None) -> bpfjit.VerifierError:
    with pytest.raises(bpfjit.VerifierError) as info:
        verify(bpfjit.assemble(text), mode=mode, helpers=helpers if helpers is not None else {})
    return info.value


# (program, pc, words of the reason): each must be rejected, for that reason.
BAD = [
    ("mov %r10, 1\nmov %r0, 0\nexit", 0, "r10 is the read-only frame pointer"),
    ("add %r10, 8\nmov %r0, 0\nexit", 0, "r10 is the read-only frame pointer"),
    # regression: a fetching atomic writes its source register, r10 included
    ("stdw [%r10-8], 0\nlock fetch add [%r10-8], %r10\nmov %r0, 0\nexit", 1,
     "r10 is the read-only frame pointer"),
    ("stdw [%r10-8], 0\nlock xchg [%r10-8], %r10\nmov %r0, 0\nexit", 1,
     "r10 is the read-only frame pointer"),
    ("exit", 0, "r0 is read before"),
    # a copy of a register nothing wrote is refused where it is read, naming the copy
    # (strict mode refuses the copy: tests/test_unwritten_copies.py)
    ("mov %r0, %r7\nexit", 1, "r0 holds a copy, made at pc 0,"),
    ("mov %r0, 0\njeq %r2, 0, +1\nmov %r3, 1\nmov %r0, %r3\nexit", 4,
     "r0 holds a copy, made at pc 3,"),
    ("mov %r0, 0\njeq %r2, 0, +1\nmov %r3, 1\nadd %r0, %r3\nexit", 3, "r3 is read before"),
    # stack bytes no path wrote, read in a callee's frame (the entry's reads 0 there:
    # tests/test_unwritten_stack.py)
    ("call local f\nexit\nf:\nldxdw %r0, [%r10-8]\nexit", 2, "reads the stack at r10-8"),
    ("call local f\nexit\nf:\nstw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit", 3,
     "reads the stack at r10-4"),
    ("call local f\nexit\nf:\nstb [%r10-1], 1\nldxb %r0, [%r10-2]\nexit", 3, "r10-2"),
    ("mov %r0, 0\ncall 7\nexit", 1, "helper 7, which is not registered"),
    ("call btf 3\nexit", 0, "BTF id 3"),
    ("lddw %r1, map_by_fd(3)\nmov %r0, 0\nexit", 0, "needs maps"),
    ("ja +1\nexit", 0, "outside the program"),
    ("mov %r0, 0\njeq %r0, 1, -1", 1, "fall through off the end"),
]

RECURSIVE = [("f:\ncall local f\nexit", 0),
             ("call local f\nexit\nf:\ncall local g\nexit\ng:\ncall local f\nexit", 4)]


@pytest.mark.parametrize("text,pc", RECURSIVE, ids=["self", "through-another"])
def test_recursion_is_refused_in_strict_mode_only(text, pc):
    error = rejected(text, mode="strict")
    assert error.pc == pc and "recursion" in str(error)
    verified = verify(bpfjit.assemble(text))      # checked: bounded at run time
    assert verified.recursive and verified.frames == 8


@pytest.mark.parametrize("text,pc,words", BAD, ids=[b[2][:30] + f"@{b[1]}" for b in BAD])
def test_bad_programs_are_rejected_with_a_reason(text, pc, words):
    error = rejected(text)
    assert error.pc == pc
    assert words in str(error)


def test_reasons_read_as_sentences():
    assert str(rejected("exit")) == "pc 0: r0 is read before anything was written to it"


def test_written_stack_may_be_read_back():
    v = verify(bpfjit.assemble("stdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit"))
    assert v.proven == {0, 1}


def test_a_variable_offset_write_counts_for_every_byte_it_may_touch():
    text = """
        ldxb %r3, [%r1]
        and %r3, 7              # 0..7
        mov %r4, %r10
        add %r4, -16
        add %r4, %r3            # r10-16 .. r10-9
        stb [%r4], 1
        ldxb %r0, [%r10-12]
        exit
    """
    verify(bpfjit.assemble(text))      # accepted


# ---- what it proves -------------------------------------------------------------------

PARSER = """
    # Ethernet + IPv4 parser with the checks clang emits: p + n > end -> give up
    mov %r0, 0
    mov %r2, %r2
    add %r2, %r1            # end = mem + len
    mov %r3, %r1
    add %r3, 14
    jgt %r3, %r2, out       # need the 14-byte Ethernet header
    ldxh %r4, [%r1+12]      # ether type
    jne %r4, 0x8, out
    mov %r3, %r1
    add %r3, 34
    jgt %r3, %r2, out       # and a 20-byte IPv4 header
    ldxb %r0, [%r1+23]      # protocol
    ldxw %r5, [%r1+30]      # destination address
    add %r0, %r5
out:
    exit
"""

BUFFER_LOOP = """
    mov %r0, 0
    mov %r3, 0
    jeq %r2, 0, done
loop:
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4]
    add %r0, %r4
    add %r3, 1
    jlt %r3, %r2, loop      # i < len
done:
    exit
"""

STACK_ARRAY = """
    mov %r0, 0
    jeq %r2, 0, out         # the index comes from the buffer: it must not be empty
    mov %r3, 0
zero:
    mov %r4, %r10
    add %r4, -64
    add %r4, %r3
    stxdw [%r4], %r3        # 8 slots of 8 bytes, r10-64 .. r10-8
    add %r3, 8
    jlt %r3, 64, zero
    ldxb %r5, [%r1]
    and %r5, 7              # masked index
    lsh %r5, 3
    mov %r4, %r10
    add %r4, -64
    add %r4, %r5
    ldxdw %r0, [%r4]
out:
    exit
"""

CALL_WITH_STACK_POINTER = """
    stdw [%r10-8], 0
    mov %r1, %r10
    add %r1, -8
    call local put
    ldxdw %r0, [%r10-8]
    exit
put:
    stdw [%r1], 7           # the caller's frame
    mov %r0, 0
    exit
"""

# struct cursor { u8 *pos; u8 *end; } on the caller's stack, moved on by a callee that
# reads two bytes a call (their value + 1; 0 when fewer remain), at most 8 calls: the
# callee knows pos and end from the caller's spills, and pos + 2 <= end proves its loads
CURSOR_MOVED_ON_BY_A_CALLEE = """
    stxdw [%r10-16], %r1     # pos = mem
    add %r1, %r2
    stxdw [%r10-8], %r1      # end = mem + len
    mov %r6, 0
    mov %r7, 0
loop:
    mov %r1, %r10
    add %r1, -16
    call local take
    jeq %r0, 0, out
    add %r6, %r0
    add %r7, 1
    jlt %r7, 8, loop
out:
    mov %r0, %r6
    exit
take:
    ldxdw %r2, [%r1]         # pos
    ldxdw %r3, [%r1+8]       # end
    mov %r4, %r2
    add %r4, 2
    mov %r0, 0
    jgt %r4, %r3, done
    ldxb %r0, [%r2]
    ldxb %r5, [%r2+1]
    lsh %r5, 8
    or %r0, %r5
    add %r0, 1
    stxdw [%r1], %r4         # pos += 2
done:
    exit
"""


def test_a_callee_reads_a_cursor_its_caller_passed_by_address():
    prog = bpfjit.assemble(CURSOR_MOVED_ON_BY_A_CALLEE)
    verified = verify(prog, mode="strict")      # every access proven, as the kernel does
    lines = [line.split("#")[0].strip() for line in CURSOR_MOVED_ON_BY_A_CALLEE.splitlines()]
    code = [line for line in lines if line and not line.endswith(":")]
    loads = {code.index("ldxb %r0, [%r2]"), code.index("ldxb %r5, [%r2+1]")}
    assert loads <= verified.proven


@pytest.mark.parametrize("mem, expected", [
    (bytes([1, 2, 3, 4, 5]), (0x0201 + 1) + (0x0403 + 1)),     # the fifth byte is alone
    (bytes([0xff] * 20), 8 * 0x10000),                         # eight calls, no more
    (b"", 0),
])
def test_a_cursor_moved_on_by_a_callee_runs_alike_on_every_engine(engine, mem, expected):
    prog = bpfjit.assemble(CURSOR_MOVED_ON_BY_A_CALLEE)
    assert bpfjit.compile(prog, engine)(bytearray(mem)) == expected


# a record's value walked byte by byte: value[i] with i < length, once
# value + length <= end is known
RECORD_VALUE = """
    mov %r0, 0
    jlt %r2, 2, out
    ldxb %r8, [%r1+1]       # length
    ldxb %r9, [%r1]         # padding before the value: 0-15 bytes
    and %r9, 15
    mov %r5, %r1
    add %r5, %r2            # end
    mov %r6, %r1
    add %r6, 2
    add %r6, %r9            # value
    mov %r7, %r6
    add %r7, %r8
    jgt %r7, %r5, out       # value + length > end
    jeq %r8, 0, out
    mov %r3, 0
loop:
    mov %r4, %r6
    add %r4, %r3
    ldxb %r4, [%r4]         # value[i]
    add %r0, %r4
    add %r3, 1
    jlt %r3, %r8, loop      # i < length
out:
    exit
"""


@pytest.mark.parametrize("text,accesses", [
    (PARSER, 3), (BUFFER_LOOP, 1), (STACK_ARRAY, 3), (CALL_WITH_STACK_POINTER, 3),
    (RECORD_VALUE, 3),
], ids=["parser", "buffer-loop", "stack-array", "call-with-stack-pointer", "record-value"])
def test_accesses_are_proven(text, accesses):
    v = verify(bpfjit.assemble(text))
    assert len(v.accesses) == accesses
    assert v.proven == set(v.accesses)
    assert v.stats == f"accesses={accesses} proven={accesses}"


def stats(text: str) -> str:
    """The verifier's `accesses=N proven=M` for an assembled program, verified afresh."""
    return verify(bpfjit.assemble(text), cache=False).stats


# 4-byte words, `for (i = 0; i < len / 4; i++)` as clang emits it: a pointer p = mem +
# 4 * i + 3 moves in lockstep with i, and only `i < len / 4` bounds it.  Each word's
# first and last bytes are folded: r0 = r0 * 31 + (first | last << 8)
STRIDED = """
    mov %r0, 0
    jlt %r2, 4, out
    rsh %r2, 2              # words = len / 4
    mov %r3, 0              # i
    add %r1, 3              # p = mem + 3
loop:
    ldxb %r5, [%r1-3]       # mem[4 * i]
    ldxb %r4, [%r1]         # mem[4 * i + 3]
    lsh %r4, 8
    or %r4, %r5
    mul %r0, 31
    add %r0, %r4
    add %r1, 4
    add %r3, 1
    jlt %r3, %r2, loop      # i < words
out:
    exit
"""


def test_a_strided_index_below_a_divided_length_is_proven():
    # p = 4 * i + 3 with i <= words - 1 and 4 * words <= len: p <= len - 1
    assert stats(STRIDED) == "accesses=2 proven=2"


@pytest.mark.parametrize("change,proven", [
    # i <= len / 4: one word too many, neither byte of the last word is in bounds
    (("jlt %r3, %r2, loop", "jle %r3, %r2, loop"), 0),
    (("rsh %r2, 2", "rsh %r2, 1"), 0),                  # len / 2 words of 4 bytes
    (("ldxb %r4, [%r1]", "ldxb %r4, [%r1+1]"), 1),      # mem[4 * i + 4]: the next word
], ids=["one-more", "half", "past-the-word"])
def test_a_strided_index_past_the_divided_length_is_not_proven(change, proven):
    assert stats(STRIDED.replace(*change)) == f"accesses=2 proven={proven}"


@pytest.mark.parametrize("length", [0, 3, 4, 7, 8, 13, 64])
def test_a_strided_loop_folds_every_word_on_every_engine(engine, length):
    data = bytes((7 * i + 3) & 0xFF for i in range(length))
    expected = 0
    for i in range(length // 4):
        expected = (expected * 31 + (data[4 * i] | data[4 * i + 3] << 8)) % 2**64
    assert bpfjit.compile(bpfjit.assemble(STRIDED), engine)(bytearray(data)) == expected


# An outer loop moves p = keys + 4 * (i + 1) with i; an inner loop starts at q = p, j = i
# and stores keys[j + 1] = j while j + 1 < 16.  p == 4 * i - 60 holds at the outer head;
# the inner head, entered again on the outer loop's second trip, is widened against its
# state from the first, where p and i were constants satisfying that line but no table
# said so: the equality must survive that widening, or p, and then q, lose their bounds.
NESTED_LOCKSTEP = """
    mov %r0, 0
    mov %r2, %r10
    add %r2, -60            # p = keys + 4, keys at r10-64
    mov %r3, 0              # i
outer:
    mov %r4, %r2            # q = p
    mov %r5, %r3            # j = i
inner:
    stxw [%r4], %r5         # keys[j + 1] = j
    add %r4, 4
    add %r5, 1
    jlt %r5, 15, inner
    add %r2, 4
    add %r3, 1
    jlt %r3, 15, outer
    ldxw %r0, [%r10-4]      # keys[15]
    mul %r0, 100
    ldxw %r1, [%r10-56]     # keys[2]
    add %r0, %r1
    exit
"""


def test_an_inner_loop_keeps_its_outer_loops_lockstep_equality():
    # q = p + 4 * (j - i) = 4 * j - 60 <= -4 for j <= 14: all three accesses
    assert stats(NESTED_LOCKSTEP) == "accesses=3 proven=3"


ONE_TOO_FAR = NESTED_LOCKSTEP.replace("jlt %r5, 15, inner", "jle %r5, 15, inner")


def test_an_inner_loop_one_store_too_far_is_not_proven():
    # j <= 15 stores at q = 0, past the frame's top: the store is checked; a run past
    # its check has q <= -4, so j <= 14 and the inner loop goes round again: no run
    # leaves it, and the two loads after the loops are unreachable (pcs 13 and 15)
    assert stats(ONE_TOO_FAR) == "accesses=1 proven=0"
    assert {13, 15} <= set(verify(bpfjit.assemble(ONE_TOO_FAR), cache=False).unreachable)


def test_one_store_too_far_traps_on_every_engine(engine):
    # the first outer trip's j reaches 15: the store at q = 0 (pc 6) traps
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        bpfjit.compile(bpfjit.assemble(ONE_TOO_FAR), engine)()
    assert info.value.pc == 6 and info.value.write


def test_nested_lockstep_stores_on_every_engine(engine):
    # keys[j + 1] = j: keys[15] = 14, keys[2] = 1
    assert bpfjit.compile(bpfjit.assemble(NESTED_LOCKSTEP), engine)() == 14 * 100 + 1


# A binary search over the buffer's first 32 words for the word at offset 128:
# `mid = lo + ((hi - lo) >> 1)` lies between lo and hi while lo <= hi, so keys[mid] is
# in the 128 bytes the length test proves.  Intervals alone lose it: lo = mid + 1 and
# hi = mid - 1 feed mid back, and widening loses every bound.
BINARY_SEARCH = """
    mov %r0, 0
    jlt %r2, 132, out
    ldxw %r6, [%r1+128]     # x
    mov %r3, 0              # lo
    mov %r4, 31             # hi
loop:
    jsgt %r3, %r4, out
    mov %r5, %r4
    sub %r5, %r3
    rsh %r5, 1
    add %r5, %r3            # mid = lo + ((hi - lo) >> 1)
    mov %r7, %r5
    lsh %r7, 2
    mov %r8, %r1
    add %r8, %r7
    ldxw %r8, [%r8]         # keys[mid]
    jeq %r8, %r6, found
    jgt %r6, %r8, right
    mov %r4, %r5
    add %r4, -1             # hi = mid - 1
    ja loop
right:
    mov %r3, %r5
    add %r3, 1              # lo = mid + 1
    ja loop
found:
    mov %r0, %r5
    add %r0, 1              # the index found, plus one
out:
    exit
"""

# the same with clang's default-CPU int arithmetic: (hi - lo) sign-extended from 32 bits
# and halved in one `lsh 32; arsh 33`, mid = lo + that
BINARY_SEARCH_INT = BINARY_SEARCH.replace("    rsh %r5, 1\n", "    lsh %r5, 32\n    arsh %r5, 33\n")
# and the unsigned average (lo + hi) >> 1, of a sum the zone knows
BINARY_SEARCH_SUM = BINARY_SEARCH.replace(
    "    mov %r5, %r4\n    sub %r5, %r3\n    rsh %r5, 1\n    add %r5, %r3",
    "    mov %r5, %r3\n    add %r5, %r4\n    rsh %r5, 1")
# and clang -mcpu=v3's: the difference, its half and the midpoint in 32 bits, which wrap
# nowhere (lo <= hi, both below 2^32)
BINARY_SEARCH_32 = BINARY_SEARCH.replace(
    "    mov %r5, %r4\n    sub %r5, %r3\n    rsh %r5, 1\n    add %r5, %r3",
    "    mov32 %r5, %r4\n    sub32 %r5, %r3\n    rsh32 %r5, 1\n    add32 %r5, %r3")
SEARCHES = [BINARY_SEARCH, BINARY_SEARCH_INT, BINARY_SEARCH_SUM, BINARY_SEARCH_32]
SEARCH_IDS = ["difference", "int", "sum", "32-bit"]


@pytest.mark.parametrize("text", SEARCHES, ids=SEARCH_IDS)
def test_a_binary_search_midpoint_is_proven_between_its_bounds(text):
    assert stats(text) == "accesses=2 proven=2"


@pytest.mark.parametrize("text", SEARCHES, ids=SEARCH_IDS)
def test_a_binary_search_past_its_keys_is_not_proven(text):
    # hi starting at 33: keys[33] is bytes 132-135, past a 132-byte buffer
    assert stats(text.replace("mov %r4, 31", "mov %r4, 33")) == "accesses=2 proven=1"


@pytest.mark.parametrize("text", SEARCHES, ids=SEARCH_IDS)
@pytest.mark.parametrize("x", [0, 3, 45, 93, 94, 200])
def test_a_binary_search_finds_each_key_on_every_engine(engine, text, x):
    keys = [3 * i for i in range(32)]
    data = b"".join(k.to_bytes(4, "little") for k in keys) + x.to_bytes(4, "little")
    expected = keys.index(x) + 1 if x in keys else 0
    assert bpfjit.compile(bpfjit.assemble(text), engine)(bytearray(data)) == expected


# `for (i = n - 4; i >= 0; i--)` over 4-byte windows of the buffer, as clang emits it:
# a base b = n - 4 and a counter a = 0, -1, -2, ..., the window at mem + b + a, and the
# exit test `b + a + 1 > 0` in a register reused at once.  Only the floor b + a >= 0 the
# test leaves bounds the window below; the zone's differences cannot say it.
DESCENDING = """
    mov %r0, 0
    jlt %r2, 8, out
    mov %r5, %r2
    add %r5, -4
    and %r5, 1023           # n <= len - 4, at most 1023
    add %r5, -4             # b = n - 4 (or below 0: no window)
    jslt %r5, 0, out
    mov %r4, 0              # a
loop:
    mov %r7, %r1
    add %r7, %r5
    add %r7, %r4            # mem + b + a
    ldxw %r3, [%r7]
    add %r0, %r3
    ldxb %r3, [%r7+3]
    add %r0, %r3
    add %r4, -1
    mov %r2, %r5
    add %r2, %r4
    add %r2, 1
    jsgt %r2, 0, loop       # b + a + 1 > 0
out:
    exit
"""


def test_a_descending_window_is_proven_by_the_floor_of_its_exit_sum():
    assert stats(DESCENDING) == "accesses=2 proven=2"


def test_a_descending_window_one_step_too_far_is_not_proven():
    # b + a + 2 > 0 lets b + a reach -1: the word at mem - 1 is not proven; its last
    # byte, at mem + 2 or above, still is
    assert stats(DESCENDING.replace("    add %r2, 1\n", "    add %r2, 2\n")) \
        == "accesses=2 proven=1"


@pytest.mark.parametrize("size", [0, 7, 8, 9, 12, 40])
def test_a_descending_window_sums_on_every_engine(engine, size):
    data = bytes((7 * i + 1) & 0xff for i in range(size))
    expected = 0
    if size >= 8:
        n = (size - 4) & 1023
        for start in range(n - 4, -1, -1):          # every window from b down to 0
            expected += int.from_bytes(data[start:start + 4], "little") + data[start + 3]
    assert bpfjit.compile(bpfjit.assemble(DESCENDING), engine)(bytearray(data)) == expected


# The same search for the last '.', leaving the loop when it finds one; the base
# register is then reloaded with n from its slot, and `n + a - 4` is the dot's index:
# the floor b + a >= 0 passes to the slot when b is overwritten (n + a >= 4), and from
# there to the copy, so the byte after the dot is proven too.
LAST_DOT = """
    mov %r0, 0
    jlt %r2, 8, out
    mov %r5, %r2
    add %r5, -4
    and %r5, 1023
    stxdw [%r10-8], %r5     # n, kept in a slot
    add %r5, -4             # b = n - 4
    jslt %r5, 0, out
    mov %r4, 0              # a
loop:
    mov %r7, %r1
    add %r7, %r5
    add %r7, %r4
    ldxb %r3, [%r7]         # mem[b + a]
    jeq %r3, 0x2e, found
    add %r4, -1
    mov %r2, %r5
    add %r2, %r4
    add %r2, 1
    jsgt %r2, 0, loop
    exit
found:
    ldxdw %r5, [%r10-8]     # b's register reused
    add %r5, %r4
    add %r5, -4             # n + a - 4
    mov %r7, %r1
    add %r7, %r5
    ldxb %r0, [%r7+1]       # the byte after the dot
out:
    exit
"""


def test_a_floor_passes_to_a_slot_when_its_register_is_reused():
    assert stats(LAST_DOT) == "accesses=4 proven=4"     # the slot store too


def test_the_byte_before_the_window_is_not_proven_by_a_passed_floor():
    assert stats(LAST_DOT.replace("[%r7+1]", "[%r7-1]")) == "accesses=4 proven=3"


@pytest.mark.parametrize("text", ["ab.cdefgh.ijk", "........", "abcdefgh", "a.bcdefghijklmnopq",
                                  "abcdefg.hijkl"])
def test_the_last_dot_search_on_every_engine(engine, text):
    data = text.encode()
    n = (len(data) - 4) & 1023
    window = data[:max(n - 3, 0)]           # starts b = n - 4 down to 0
    at = window.rfind(b".")
    expected = data[at + 1] if at >= 0 else 0
    assert bpfjit.compile(bpfjit.assemble(LAST_DOT), engine)(bytearray(data)) == expected


# `for (i = 0; i < 15; i++)` as clang counts it down: the next count n - 1 is computed
# in 32 bits before the test `n != 0`, so it may wrap when computed; the branch then
# shows it did not.  Without that the count widened to [0, 2^32), strict mode could not
# prove the loop ends (the kernel accepts it: its selftest test_parse_tcp_hdr_opt has
# this loop), and the table access below was unproven.
COUNTDOWN = """
    mov %r0, 0
    mov32 %r5, 14
loop:
    mov32 %r6, %r5
    add32 %r6, -1           # n - 1, maybe wrapped
    jeq32 %r5, 0, out       # ... but not when n != 0
    mov32 %r5, %r6
    mov %r7, %r10
    add %r7, -120
    mov %r8, %r5
    lsh %r8, 3
    add %r7, %r8
    stxdw [%r7], %r5        # table[n], 15 slots of 8 bytes
    add %r0, %r5
    ja loop
out:
    exit
"""


def test_a_count_decremented_before_its_test_is_exact_once_tested():
    assert stats(COUNTDOWN) == "accesses=1 proven=1"
    assert verify(bpfjit.assemble(COUNTDOWN), mode="strict", cache=False).stats \
        == "accesses=1 proven=1"


def test_a_count_tested_against_the_wrong_value_may_wrap():
    # from 0 with the test n != 1: n - 1 wraps to 2^32 - 1, past the table
    text = COUNTDOWN.replace("jeq32 %r5, 0, out", "jeq32 %r5, 1, out") \
        .replace("mov32 %r5, 14", "mov32 %r5, 0")
    assert stats(text) == "accesses=1 proven=0"
    with pytest.raises(bpfjit.VerifierError, match="cannot prove"):
        verify(bpfjit.assemble(text), mode="strict", cache=False)


def test_the_countdown_on_every_engine(engine):
    assert bpfjit.compile(bpfjit.assemble(COUNTDOWN), engine)() == sum(range(14))


# `for (i = 0; i != 64; i++) sum += mem[i]` after a length test, in a program that
# compares the same register with 54, 55 and 56 elsewhere (clang reuses registers):
# widened through the program's constants, i spent its few threshold steps on 54-56
# and went past 63 to unbounded; the loop's own constants (63, 64, 65) stop it at 63.
LOOP_AMONG_OTHER_CONSTANTS = """
    mov %r0, 0
    jlt %r2, 64, out
    mov %r2, 0
loop:
    mov %r3, %r1
    add %r3, %r2
    ldxb %r3, [%r3]
    add %r0, %r3
    add %r2, 1
    jeq %r2, 64, after
    ja loop
after:
    ldxb %r2, [%r1+1]
    jgt %r2, 54, big
    jeq %r2, 55, big
    jslt %r2, 56, out
big:
    add %r0, 1000
out:
    exit
"""


def test_a_loop_widens_through_its_own_constants():
    assert stats(LOOP_AMONG_OTHER_CONSTANTS) == "accesses=2 proven=2"


def test_a_loop_one_byte_too_far_is_not_proven():
    assert stats(LOOP_AMONG_OTHER_CONSTANTS.replace("jeq %r2, 64, after", "jeq %r2, 65, after")) \
        == "accesses=2 proven=1"


@pytest.mark.parametrize("second", [0, 54, 55, 200])
def test_a_loop_among_other_constants_sums_on_every_engine(engine, second):
    data = bytes([7, second]) + bytes(range(2, 64))
    expected = sum(data) + (1000 if second > 54 else 0)
    assert bpfjit.compile(bpfjit.assemble(LOOP_AMONG_OTHER_CONSTANTS), engine)(
        bytearray(data)) == expected


# 16-bit big-endian pairs under 32-bit arithmetic, as clang emits `for (u32 i = 0; i <
# len / 2; i++)` reading mem[2 * i] and mem[2 * i + 1]: the second byte's offset is a
# 32-bit counter j = 2 * i + 1 (`add32 2` a trip), the first's is `j - 1` (`add32 -1`,
# which stays in [0, 2^32) and so keeps its relation to j)
PAIRS32 = """
    mov %r0, 0
    rsh %r2, 1              # pairs = len / 2
    jeq32 %r2, 0, out
    mov %r3, 0              # i
    mov32 %r4, 1            # j
loop:
    mov32 %r5, %r4
    add32 %r5, -1           # j - 1 = 2 * i
    mov %r6, %r1
    add %r6, %r5
    ldxb %r6, [%r6]         # mem[2 * i]
    mov %r7, %r1
    add %r7, %r4
    ldxb %r7, [%r7]         # mem[2 * i + 1]
    lsh %r6, 8
    or %r6, %r7
    add %r0, %r6
    add32 %r4, 2
    add %r3, 1
    jlt %r3, %r2, loop      # i < pairs
out:
    exit
"""


def test_a_32_bit_strided_index_is_proven():
    # mem + j with j = 2 * i + 1, i <= pairs - 1, 2 * pairs <= len: j <= len - 1; and
    # mem + (j - 1), whose offset is j's minus one
    assert stats(PAIRS32) == "accesses=2 proven=2"


@pytest.mark.parametrize("length", [0, 1, 2, 5, 6, 33])
def test_32_bit_pairs_sum_on_every_engine(engine, length):
    data = bytes((11 * i + 5) & 0xFF for i in range(length))
    expected = sum(data[2 * i] << 8 | data[2 * i + 1] for i in range(length // 2))
    assert bpfjit.compile(bpfjit.assemble(PAIRS32), engine)(bytearray(data)) == expected


# `for (int i = (int)len - 1; i >= 0; i--)` as clang emits it for the default CPU: the
# length's halves are taken apart by shifts that are not next to each other (`lsh 32`
# once, `arsh 32` for the signed test `(int)len >= 1`, `rsh 32` later for the count),
# and only the sign-extended copy's test says that len is at least 1
COUNT_DOWN = """
    mov %r0, 0
    lsh %r2, 32
    mov %r3, %r2
    arsh %r3, 32            # (int)len
    jslt %r3, 1, out
    rsh %r2, 32             # len again
    mov %r3, %r2
    add %r3, -1             # i = len - 1
loop:
    mov %r4, %r1
    add %r4, %r3
    ldxb %r4, [%r4]         # mem[i]
    mul %r0, 33
    xor %r0, %r4
    add %r3, -1
    jsge %r3, 0, loop
out:
    exit
"""


def test_a_signed_count_down_from_a_split_extension_is_proven():
    # (int)len >= 1 and (int)len == len when not negative: len >= 1, so i = len - 1
    # starts in the buffer; `rsh 32` of `len << 32` is len again, with its relations
    assert stats(COUNT_DOWN) == "accesses=1 proven=1"
    # without the signed test, i = len - 1 may be -1
    assert stats(COUNT_DOWN.replace("    jslt %r3, 1, out\n", "")) == "accesses=1 proven=0"


# a count of the bytes left, kept beside a pointer that walks the buffer (protobuf's
# varint decoders, as clang emits them): `left` starts as len and drops by one with
# every byte, so only the relation left == len - p says that it is not negative, once
# a trip shows p <= len; then `skip <= left`, tested unsigned, bounds p + skip
SKIP_AFTER_STAR = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r8, [%r1]         # skip = mem[0]
    mov %r3, %r1            # p
    mov %r5, %r1
    add %r5, %r2            # end
    mov %r6, %r2            # left = len (len - p)
scan:
    jge %r3, %r5, out       # p < end
    ldxb %r4, [%r3]
    add %r3, 1
    add %r6, -1             # left = len - p, still
    jne %r4, 0x2a, scan     # up to and past a '*'
    jgt %r8, %r6, out       # skip > left: out
    add %r3, %r8            # p + skip <= p + left = end
    ldxb %r0, [%r3-1]       # the skip's last byte
out:
    exit
"""


def test_a_count_of_bytes_left_bounds_a_skip():
    # p <= len after a trip (p < end, then p + 1), and left == len - p: left >= 0, so
    # the unsigned test orders skip <= left as numbers, and p + skip <= len.  The
    # relation alone gave no bound to left's interval, which the loop widened
    assert stats(SKIP_AFTER_STAR) == "accesses=3 proven=3"
    bpfjit.verify(bpfjit.assemble(SKIP_AFTER_STAR), mode="strict")
    # left not counted down is len, which bounds nothing: p + skip may pass the end
    assert stats(SKIP_AFTER_STAR.replace("    add %r6, -1 ", "    add %r6, 0 ")) \
        == "accesses=3 proven=2"


@pytest.mark.parametrize("data, expected", [
    (b"", 0),
    (bytes([3]) + b"x*ABCD", ord("C")),     # p = 3 after the '*', + 3: mem[5]
    (bytes([2]) + b"*ab", ord("b")),        # left = 2 exactly: the last byte
    (bytes([9]) + b"*ab", 0),               # 9 > 2 bytes left
    (bytes([0]) + b"y*", ord("*")),         # a skip of 0 reads the '*' at p - 1
    (bytes([1, 2, 3]), 0),                  # no '*'
])
def test_a_count_of_bytes_left_on_every_engine(engine, data, expected):
    assert bpfjit.compile(bpfjit.assemble(SKIP_AFTER_STAR), engine)(bytearray(data)) \
        == expected


@pytest.mark.parametrize("length", [0, 1, 2, 9, 64])
def test_a_signed_count_down_hashes_on_every_engine(engine, length):
    data = bytes((13 * i + 1) & 0xFF for i in range(length))
    expected = 0
    for i in reversed(range(length)):
        expected = (expected * 33 ^ data[i]) % 2**64
    assert bpfjit.compile(bpfjit.assemble(COUNT_DOWN), engine)(bytearray(data)) == expected


# a record count read from the header and checked as `8 * n + 1 <= len` (clang writes
# the + 1 as `| 1`, the product's low bits being zero), then n records of 8 bytes from
# offset 1; the register that held the product is reused as the loop's counter
COUNTED = """
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r3, [%r1]         # n
    mov %r4, %r3
    lsh %r4, 3
    or %r4, 1               # 8 * n + 1
    jgt %r4, %r2, out
    jeq %r3, 0, out
    mov %r4, 0              # i
    add %r1, 1              # p = mem + 1 + 8 * i
loop:
    ldxw %r5, [%r1]
    add %r0, %r5
    ldxb %r5, [%r1+7]
    xor %r0, %r5
    add %r1, 8
    add %r4, 1
    jlt %r4, %r3, loop
out:
    exit
"""


def test_records_counted_in_the_header_are_proven():
    # p = 8 * i + 1, i <= n - 1, 8 * n <= len - 1: p + 8 <= len, which outlives r4
    assert stats(COUNTED) == "accesses=3 proven=3"
    # checked as 8 * n <= len, the last record's last byte may lie past the end
    short = COUNTED.replace("    or %r4, 1               # 8 * n + 1\n", "")
    assert stats(short) == "accesses=3 proven=2"


@pytest.mark.parametrize("count,length", [(0, 1), (1, 8), (1, 9), (3, 25), (3, 24), (5, 60)])
def test_counted_records_fold_on_every_engine(engine, count, length):
    data = bytes([count]) + bytes((17 * i + 9) & 0xFF for i in range(1, length))
    expected = 0
    if 8 * count + 1 <= length:
        for i in range(count):
            word = int.from_bytes(data[1 + 8 * i:5 + 8 * i], "little")
            expected = (expected + word) % 2**64 ^ data[8 + 8 * i]
    assert bpfjit.compile(bpfjit.assemble(COUNTED), engine)(bytearray(data)) == expected


# the last 4 bytes as clang's default CPU reaches `mem + (u32)(len - 4)`: len plus
# 0xfffffffc (len - 4 + 2^32 for len >= 4), zero-extended by `lsh 32; rsh 32`
LAST_WORD = """
    mov %r0, 0
    jlt %r2, 4, out
    mov %r3, %r2
    lddw %r4, 0xfffffffc
    add %r3, %r4
    lsh %r3, 32
    rsh %r3, 32             # len - 4: the upper half was 1 on the whole range
    add %r1, %r3
    ldxw %r0, [%r1]
out:
    exit
"""


def test_a_zero_extension_that_drops_a_constant_upper_half_keeps_relations():
    assert stats(LAST_WORD) == "accesses=1 proven=1"


@pytest.mark.parametrize("length", [4, 5, 11])
def test_the_last_word_is_read_on_every_engine(engine, length):
    data = bytes(range(30, 30 + length))
    expected = int.from_bytes(data[-4:], "little")
    assert bpfjit.compile(bpfjit.assemble(LAST_WORD), engine)(bytearray(data)) == expected


def test_the_log_shows_quotients_split_extensions_and_scaled_bounds():
    # the state before each pc: after `rsh %r2, 2` of len (STRIDED pc 2), r2 is len / 4;
    # after `lsh %r2, 32` (COUNT_DOWN pc 1) r2 is len << 32, and its copy shifted back
    # arithmetically (pc 3) is len sign-extended; once `jgt %r4, %r2` (COUNTED pc 6)
    # has bounded r4 = 8 * r3 + 1 by len, 8 * r3 <= len - 1
    strided = verify(bpfjit.assemble(STRIDED), cache=False, log=True).log
    assert "r2=len/4" in strided[3].split()
    count_down = verify(bpfjit.assemble(COUNT_DOWN), cache=False, log=True).log
    assert "r2=len<<32" in count_down[2].split()
    assert "r3=sext32(len)" in count_down[4].split()
    counted = verify(bpfjit.assemble(COUNTED), cache=False, log=True).log
    assert "8*r3<=len-1" in counted[7].split()


@pytest.mark.parametrize("length", [0, 1, 5, 30])
def test_a_record_value_sums_on_every_engine(engine, length):
    value = bytes(range(200, 200 + length))
    mem = bytes([0x73, length]) + bytes(3) + value      # 3 bytes of padding (0x73 & 15)
    fn = bpfjit.compile(bpfjit.assemble(RECORD_VALUE), engine)
    assert fn(mem) == sum(value)
    if length:
        assert fn(mem[:-1]) == 0                # the value does not fit: no walk


def test_clangs_record_walk_is_proven():
    """bench/c/tlv.c's inner loops (clang -O2): at the loop head, the join keeps
    `i < length` and `length <= len - value` but not what they imply together (on the way
    in, i = 0 < length came from intervals), so the proof goes through `length`."""
    prog = bpfjit.Program.from_bytes((PROGRAMS / "tlv.bin").read_bytes())
    v = verify(prog, cache=False)
    assert len(v.accesses) == 21 and v.proven == set(v.accesses)


def test_the_packet_parser_runs_on_every_engine(engine):
    packet = bytes(12) + b"\x08\x00" + bytes(9) + b"\x06" + bytes(6) + b"\x01\x02\x03\x04"
    expected = 6 + int.from_bytes(b"\x01\x02\x03\x04", "little")
    fn = bpfjit.compile(bpfjit.assemble(PARSER), engine)
    assert fn(packet) == expected
    assert fn(packet[:20]) == 0          # too short for IPv4: the program gives up


def test_an_access_nothing_bounds_is_not_proven_and_is_checked_at_run_time(engine):
    text = "ldxb %r3, [%r1]\nadd %r1, %r3\nldxb %r0, [%r1]\nexit"
    v = verify(bpfjit.assemble(text))
    assert v.proven == set()             # not even the first: the buffer may be empty
    fn = bpfjit.compile(bpfjit.assemble(text), engine)
    assert fn(bytes([1, 9])) == 9
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytes([5, 9]))
    assert info.value.pc == 2


def test_clang_output_is_mostly_proven():
    total = proven = 0
    for path in sorted(PROGRAMS.glob("*.bin")):
        v = verify(bpfjit.Program.from_bytes(path.read_bytes()))
        total += len(v.accesses)
        proven += len(v.proven)
    assert total >= 200 and proven / total >= 0.9


def test_loops_converge_quickly():
    # a loop with a large trip count must not be unrolled by the analysis
    text = "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 100000, loop\nexit"
    verify(bpfjit.assemble(text))


def test_a_bound_that_creeps_up_by_one_still_converges(monkeypatch, engine):
    # found by the fuzzer (a 2-trip loop, 212 instructions, 13 s to give up): r1 is the
    # buffer on entry and 64 after the loop's lddw, compared signed and unsigned with
    # r3; at the loop head its upper bound rose by one on every visit, each time by a
    # join rather than a widening (the way round the loop did not "move" it), so the
    # fixpoint never came and the verifier gave up after 400,000 visits.  The cap here
    # is ten times what the loop needs once widening ends the climb.
    monkeypatch.setattr(analysis, "WORK_LIMIT", 2_000)
    monkeypatch.setenv("BPFJIT_CACHE", "off")
    text = """
        mov %r0, 0
        lddw %r3, 0x8000000080000000
        lddw %r7, 0xffffffff
        mov %r9, 2
    loop:
        jgt32 %r3, %r7, skip
        arsh %r3, 32
        jne32 %r3, %r1, a
    a:
        jsgt32 %r3, %r1, b
    b:
        jsgt %r3, %r1, c
    c:
        lddw %r1, 0x40
    skip:
        sub %r9, 1
        jne %r9, 0, loop
        exit
    """
    verify(bpfjit.assemble(text))
    # it runs: two trips, r0 stays 0
    assert bpfjit.compile(bpfjit.assemble(text), engine)(bytearray(8)) == 0


def test_work_is_capped(monkeypatch):
    monkeypatch.setattr(analysis, "WORK_LIMIT", 5)
    monkeypatch.setenv("BPFJIT_CACHE", "off")   # the program's verdict may be cached
    error = rejected("mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 100000, loop\nexit")
    assert "too complex to verify" in str(error)


# ---- modes ----------------------------------------------------------------------------

def test_strict_rejects_unproven_accesses():
    error = rejected("ldxb %r3, [%r1]\nadd %r1, %r3\nldxb %r0, [%r1]\nexit", mode="strict")
    assert error.pc == 0 and "cannot prove" in str(error)


# loops strict mode accepts: a value moves by at least 1 toward a bound it cannot pass
# on every way round (as the kernel requires of the loops it accepts)
ENDING_LOOPS = {
    "counter": "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 10, loop\nexit",
    # two trips: the way back has r0 == 1, a constant, whose relation to its value at
    # the head (one more) was dropped with it until 2026-12-02, and the loop refused
    "two-trips": "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 2, loop\nexit",
    "two-trips-down": "mov %r0, 2\nloop:\nsub %r0, 1\njgt %r0, 0, loop\nexit",
    "down-to-zero": "mov %r0, 100\nloop:\nsub %r0, 3\njsgt %r0, 0, loop\nexit",
    "bounded-by-len": """
        mov %r0, 0
        mov %r3, 0
    loop:
        jge %r3, %r2, done
        add %r3, 4              # r3 < len, then moves up by 4: bounded by len
        add %r0, 1
        ja loop
    done:
        exit""",
    "spilled-counter": """
        stdw [%r10-8], 0
    loop:
        ldxdw %r1, [%r10-8]
        add %r1, 1
        stxdw [%r10-8], %r1
        jne %r1, 8, loop        # the counter lives on the stack
        mov %r0, %r1
        exit""",
    "nested": """
        mov %r0, 0
        mov %r6, 0
    outer:
        mov %r7, 0
    inner:
        add %r0, 1
        add %r7, 1
        jlt %r7, 5, inner
        add %r6, 1
        jlt %r6, 5, outer
        exit""",
}

# loops it refuses: nothing is known to move toward a bound every time
ENDLESS_LOOPS = {
    "waits-on-memory": ("mov %r0, 0\njeq %r2, 0, +3\nloop:\nldxb %r3, [%r1]\n"
                        "jeq %r3, 0, loop\nmov %r0, 1\nexit", 3),
    "no-progress": ("mov %r0, 5\nloop:\nsub %r0, 1\nadd %r0, 1\njgt %r0, 0, loop\nexit", 3),
    "unbounded-up": ("mov %r0, 1\nloop:\nadd %r0, 1\njne %r0, 0, loop\nexit", 2),
}


@pytest.mark.parametrize("name", sorted(ENDING_LOOPS))
def test_strict_accepts_loops_it_proves_end(engine, name):
    fn = bpfjit.compile(bpfjit.assemble(ENDING_LOOPS[name]), engine, mode="strict")
    # 100 = 3 * 33 + 1: the 34th subtraction leaves -2; 9 bytes: r3 = 0, 4, 8, 12
    expected = {"counter": 10, "down-to-zero": 2**64 - 2, "nested": 25, "two-trips": 2,
                "two-trips-down": 0,
                "spilled-counter": 8, "bounded-by-len": 3}[name]
    assert fn(bytes(9) if name == "bounded-by-len" else None) == expected


@pytest.mark.parametrize("name", sorted(ENDLESS_LOOPS))
def test_strict_rejects_loops_it_cannot_prove_end(name):
    text, pc = ENDLESS_LOOPS[name]
    error = rejected(text, mode="strict")
    assert error.pc == pc and "cannot prove that the loop" in str(error)
    verify(bpfjit.assemble(text))                 # checked mode runs them (budget)


def test_strict_accepts_a_proven_loop_free_parser(engine):
    assert bpfjit.compile(bpfjit.assemble(PARSER), engine, mode="strict")(bytes(40)) == 0


def test_unchecked_mode_needs_no_proof(engine):
    text = "ldxb %r3, [%r1]\nadd %r1, %r3\nldxb %r0, [%r1]\nexit"
    assert bpfjit.compile(bpfjit.assemble(text), engine, mode="unchecked")(bytes([1, 9])) == 9


def test_unknown_mode():
    with pytest.raises(bpfjit.BpfError, match="mode must be one of"):
        verify(bpfjit.assemble("mov %r0, 0\nexit"), mode="lenient")


# ---- output for people --------------------------------------------------------------------

def test_log_shows_the_state_at_each_instruction():
    v = verify(bpfjit.assemble(PARSER), log=True)
    assert len(v.log) == len(bpfjit.assemble(PARSER))
    assert v.log[0].startswith("0: mov %r0, 0")
    assert "r1=mem(off=0)" in v.log[0] and "r10=fp(off=0)" in v.log[0]
    assert "len>=14" in v.log[6]          # learnt from `jgt %r3, %r2, out`


def test_unreachable_code_is_a_warning():
    v = verify(bpfjit.assemble("mov %r0, 0\nja +1\nmov %r0, 1\nexit"))
    assert v.unreachable == (2,)


# sub32 r0, r4 with r4 = 0x80000000: in 32 bits that adds 2^31, and r0 in [0, 255] gives
# [0x80000000, 0x800000ff].  The verifier bounded it also by the 64-bit difference
# r0 - r4 <= 255 - 2^31, which the 32-bit result is not: an empty range, so it took the
# paths after it for impossible (the main campaign's mismatch-9175604530).
SUB32_BIT31 = """
    mov %r0, 0
    jle %r2, 0, +1
    ldxb %r0, [%r1]
    lddw %r4, 0x80000000
    sub32 %r0, %r4
    mov %r3, 1
    jgt %r0, 5, +1
    mov %r3, 2
    mov %r0, %r3
    exit
"""


def test_sub32_of_a_constant_with_bit_31_set_keeps_its_range():
    prog = bpfjit.assemble(SUB32_BIT31)
    # r0 >= 0x80000000 > 5: only `mov %r3, 2` (pc 8: the lddw takes two) never runs
    assert verify(prog).unreachable == (8,)
    executed, r0 = bpfjit.compile(prog, "interp").trace(bytearray(4))
    assert r0 == 1 and {9, 10} <= set(executed) and 8 not in executed


def test_a_loop_after_sub32_with_bit_31_set_is_followed_round(engine):
    # the second trip reads the byte before the buffer (r3 became 0, so r1 = r6 - 1):
    # the verifier took the way back round the loop for impossible, and both JITs ran
    # that read unchecked
    prog = bpfjit.assemble("""
        mov %r6, %r1
        mov %r3, 1
        mov %r9, 2
        lddw %r4, 0x80000000
        mov %r0, 0
    loop:
        mov %r1, %r3
        and %r1, 3
        sub %r1, 1
        add %r1, %r6
        ldxb %r0, [%r1]
        ldxb %r3, [%r1+1]
        sub32 %r0, %r4
        sub %r9, 1
        jne %r9, 0, loop
        exit
    """)
    with pytest.raises(bpfjit.MemoryAccessError) as caught:
        bpfjit.compile(prog, engine)(bytearray(4))
    assert caught.value.pc == 10


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_stats_is_the_last_line(tmp_path):
    path = tmp_path / "parser.s"
    path.write_text(PARSER)
    proc = cli("verify", str(path), "--stats")
    assert proc.returncode == 0
    assert proc.stdout.strip().splitlines()[-1] == "accesses=3 proven=3"


def test_cli_rejection_shows_the_reasoning_then_one_error_line(tmp_path):
    path = tmp_path / "bad.s"
    path.write_text("mov %r1, 2\nadd %r0, %r1\nexit\n")
    proc = cli("verify", str(path), "--log")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1].startswith("1: add %r0, %r1")
    assert proc.stderr.strip() == "bpfjit: error: pc 1: r0 is read before anything was " \
                                  "written to it"


BOUNDARY_OPS = ["jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jeq", "jne"]


@pytest.mark.parametrize("op", BOUNDARY_OPS)
def test_proofs_hold_at_the_buffer_boundary(engine, op):
    """A length check of every kind, then an access just inside or just outside it:
    wherever the verifier proved the access (so the engine does not check it), the
    engine must still agree with the interpreter, which checks everything."""
    def outcome(fn, mem):
        try:
            return fn(bytearray(mem))
        except bpfjit.BpfTrap as exc:
            return type(exc).__name__, exc.pc

    for c1, c2, size, swap in [(0, 0, 2, False), (14, 13, 2, False), (14, 13, 2, True),
                               (14, 6, 8, False), (8, 0, 8, True), (0, 13, 8, False)]:
        compare = f"{op} %r2, %r3, out" if swap else f"{op} %r3, %r2, out"
        suffix = {2: "h", 8: "dw"}[size]
        prog = bpfjit.assemble(f"mov %r0, 0\nadd %r2, %r1\nmov %r3, %r1\nadd %r3, {c1}\n"
                               f"{compare}\nldx{suffix} %r0, [%r1+{c2}]\nout:\nexit")
        reference = bpfjit.compile(prog, "interp")
        fn = bpfjit.compile(prog, engine)
        for length in range(0, 24):
            mem = bytes(range(1, length + 1))
            assert outcome(fn, mem) == outcome(reference, mem), (c1, c2, size, swap, length)


def test_cli_verify_checks_helpers_as_run_does(tmp_path):
    # regression: `verify` accepted calls to helpers that `run` then refused
    path = tmp_path / "helper.s"
    path.write_text("mov %r0, 0\ncall 7\nexit\n")
    verified, ran = cli("verify", str(path)), cli("run", str(path))
    assert verified.returncode == ran.returncode == 1
    assert verified.stderr == ran.stderr == \
        "bpfjit: error: pc 1: call to helper 7, which is not registered " \
        "(pass helpers={7: function})\n"
    # an object file may call the kernel's helpers (counter.o calls map_lookup_elem)
    elf = Path(__file__).parent / "elf" / "counter.o"
    assert cli("verify", str(elf), "--section", "xdp").returncode == 0


# ---- pointer leaks (strict mode, as the kernel refuses them to unprivileged programs) ----

LEAKS = {
    "returned": ("mov %r0, %r10\nexit", 1, "returns a pointer"),
    "into-the-buffer": ("jlt %r2, 8, +1\nstxdw [%r1], %r1\nmov %r0, 0\nexit", 1,
                        "stores a pointer into the buffer"),
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_strict_mode_refuses_pointer_leaks(name):
    text, pc, words = LEAKS[name]
    error = rejected(text, mode="strict")
    assert error.pc == pc and words in str(error)
    verify(bpfjit.assemble(text))                  # checked mode: the program's business


def test_strict_mode_refuses_a_pointer_stored_into_a_map_value():
    maps = bpfjit.load_elf(Path(__file__).parent / "elf" / "counter.o", section="xdp")
    leak = bpfjit.assemble("""
        stw [%r10-4], 0
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, +1
        stxdw [%r0], %r10       # a stack address into the map value
        mov %r0, 2
        exit
    """)
    leak = bpfjit.Program(leak.insns, env=maps.env)   # with counter.o's maps
    with pytest.raises(bpfjit.VerifierError, match="stores a pointer into a map value") \
            as info:
        verify(leak, mode="strict", helpers={1})
    assert info.value.pc == 7
    verify(leak, helpers={1})


@pytest.mark.parametrize("text", [
    # a store far below the frame (it traps at run time) of an unknown value, then a join
    "ldxdw %r2, [%r1+0]\nstxdw [%r10-7240], %r2\njeq %r2, 0, +1\nmov %r3, 1\nmov %r0, 0\nexit",
    # ... then a loop head
    "mov %r9, 3\nldxdw %r2, [%r1+0]\nstxdw [%r10-7240], %r2\nsub %r9, 1\njne %r9, 0, -3\n"
    "mov %r0, 0\nexit",
])
def test_a_store_outside_the_frame_is_no_spill(engine, text):
    # found by the hostile fuzzer: the store was kept as a spill whose zone variable
    # (1000 + offset) fell among the registers' numbers, and a join read regs[-6240]
    prog = bpfjit.assemble(text)
    bpfjit.verify(prog, cache=False)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        bpfjit.compile(prog, engine)(bytearray(8))
    assert info.value.pc == text.split("\n").index("stxdw [%r10-7240], %r2")


# ---- bytes known to be zero on the stack ------------------------------------------------

# merbridge's connect6 hook keeps its verdict in a 4-byte stack slot (`int ret = 0` when
# a lookup fails), spilled across a helper call and read back as r0: the kernel knows
# the slot holds 0 (STACK_ZERO) and accepts the exit (a connect hook returns 0 or 1);
# bpfjit read an unknown 32-bit number and refused it until 2026-12-02
ZERO_SLOT = """
    mov32 %r1, 0
    stxw [%r10-152], %r1
    sth [%r10-140], 0
    stb [%r10-130], 0
    call 5
    ldxw %r0, [%r10-152]
    ldxh %r2, [%r10-140]
    ldxb %r3, [%r10-130]
    or %r0, %r2
    or %r0, %r3
    exit
"""


ELF = Path(__file__).parent / "elf"


def _connect4(text: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "sock_lb.o", section="cgroup/connect4").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type="connect4")


def test_zeros_stored_are_read_back_as_zero():
    for mode in ("checked", "strict"):
        verify(_connect4(ZERO_SLOT), mode=mode, cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        bpfsys.close(bpfsys.prog_load(bpfjit.assemble(ZERO_SLOT).to_bytes(),
                                      "cgroup_sock_addr", attach="connect4"))


@pytest.mark.parametrize("overwrite", ["stb [%r10-139], 1", "mov %r4, %r10\n"
                                       "add %r4, -139\nstb [%r4+0], 1"])
def test_a_zero_written_over_is_no_longer_known(overwrite):
    # a nonzero byte stored over the zeros (directly, or through a copy of r10): the load
    # gives 0x100, and the exit is refused as the kernel refuses it
    text = ZERO_SLOT.replace("    call 5\n", f"    {overwrite}\n    call 5\n")
    with pytest.raises(bpfjit.VerifierError, match="returns 0 to 1"):
        verify(_connect4(text), cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
            bpfsys.prog_load(bpfjit.assemble(text).to_bytes(), "cgroup_sock_addr",
                             attach="connect4")


def test_unchecked_mode_learns_nothing_from_a_check_it_does_not_make():
    # without run-time checks a run goes on past the store at q = 0 (the program is
    # trusted, its stores too): the loads after the loops stay reachable
    v = verify(bpfjit.assemble(ONE_TOO_FAR), mode="unchecked", cache=False)
    assert not {13, 15} & set(v.unreachable)
