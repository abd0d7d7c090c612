"""`x % n` for a number n known only at run time, as clang -O2 compiles it for BPF:
`mov s, x; div s, n; mul s, n; sub x, s` (its BPF target expands the unsigned
remainder so, corpus/plain/modhash.c's `key % size`).  With n at least 1 the result is
below n; a table of 64 counters at the top of the frame, indexed by `key % size` with
size in [1, 64], is then proven in bounds.  (x / 0 is 0, so with n possibly 0 the
"remainder" is x itself: no bound.)  Checked on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

FOLD = "".join(f"    ldxdw %r1, [%r10{off}]\n    mul %r0, 3\n    add %r0, %r1\n"
               for off in range(-64, 0, 8))

# size = (mem[0] & 63) + 1; counts[key % size] += 1 for each 4-byte little-endian key
# after it; r0 folds the 64 counters (eight words, little-endian) as r0 * 3 + word
PROGRAM = """
    stdw [%r10-64], 0
    stdw [%r10-56], 0
    stdw [%r10-48], 0
    stdw [%r10-40], 0
    stdw [%r10-32], 0
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r6, [%r1]
    and %r6, 63
    add %r6, 1
    mov %r7, %r1
    mov %r8, 1
    mov %r9, %r2
loop:
    mov %r3, %r8
    add %r3, 4
    jgt %r3, %r9, done
    mov %r3, %r7
    add %r3, %r8
    ldxw %r4, [%r3]
    add %r8, 4
    mov %r2, %r4
    div %r2, %r6
    mul %r2, %r6
    sub %r4, %r2
    mov %r3, %r10
    add %r3, -64
    add %r3, %r4
    ldxb %r5, [%r3]
    add %r5, 1
    stxb [%r3], %r5
    ja loop
done:
""" + FOLD + """
out:
    exit
"""

COUNT_LOAD, COUNT_STORE = 30, 32

# the same with a size that may be 0 (mem[0] & 63): key % 0 is key, unbounded
MAYBE_ZERO = PROGRAM.replace("    add %r6, 1\n", "    mov %r6, %r6\n")


def expected(mem: bytes, zero_allowed: bool = False) -> int:
    if not mem:
        return 0
    size = mem[0] & 63 if zero_allowed else (mem[0] & 63) + 1
    counts = [0] * 64
    for off in range(1, len(mem) - 3, 4):
        key = int.from_bytes(mem[off:off + 4], "little")
        slot = key % size if size else key
        counts[slot] = (counts[slot] + 1) & 0xFF
    r0 = 0
    for w in range(8):
        r0 = (r0 * 3 + int.from_bytes(bytes(counts[8 * w:8 * w + 8]), "little")) \
            & (2**64 - 1)
    return r0


def test_the_counters_are_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(COUNT_LOAD)) == "ldxb %r5, [%r3]"
    assert bpfjit.asm.format_insn(prog.at(COUNT_STORE)) == "stxb [%r3], %r5"
    verified = verify(prog, cache=False)
    assert {COUNT_LOAD, COUNT_STORE} <= verified.proven
    assert set(verified.accesses) == verified.proven


def test_a_divisor_that_may_be_zero_proves_nothing():
    verified = verify(bpfjit.assemble(MAYBE_ZERO), cache=False)
    assert COUNT_LOAD not in verified.proven
    # (the store writes back the byte the load read: its address passed the load's check)
    assert COUNT_STORE in verified.proven


def test_the_model():
    # size 5 (mem[0] = 4): keys 7, 12, 5 land in slots 2, 2, 0
    mem = bytes([4]) + b"".join(k.to_bytes(4, "little") for k in (7, 12, 5))
    assert expected(mem) == (1 * 3**7 + 2 * 2**16 * 3**7)  # word 0 holds counts[0..7]


@pytest.mark.parametrize("mem", [b"", b"\x04", bytes([4]) + bytes(range(12)),
                                 bytes([63]) + bytes(range(255, 0, -1)),
                                 bytes([10]) + bytes(range(3, 203))])
def test_the_counters_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)


@pytest.mark.parametrize("mem", [bytes([64, 3, 0, 0, 0, 9, 0, 0, 0]),
                                 bytes([5]) + bytes(range(40))])
def test_a_divisor_of_zero_leaves_the_key_on_every_engine(engine, mem):
    # mem[0] & 63 == 0: key % 0 is the key itself, 3 and 9 (slots 3 and 9 counted);
    # the accesses are checked at run time and stay within the frame
    fn = bpfjit.compile(bpfjit.assemble(MAYBE_ZERO), engine)
    assert fn(bytearray(mem)) == expected(mem, zero_allowed=True)


# clang -mcpu=v3 computes `key % size` in 32 bits, and into a copy of the key made after
# the product, with another instruction between (corpus/plain/modhash.c's probe start:
# `w6 = w9; w6 /= w3; w6 *= w3; w4 = 0; w5 = w9; w5 -= w6`)
V3_FORM = PROGRAM.replace(
    "    mov %r2, %r4\n    div %r2, %r6\n    mul %r2, %r6\n    sub %r4, %r2\n"
    "    mov %r3, %r10\n    add %r3, -64\n    add %r3, %r4\n",
    "    mov32 %r2, %r4\n    div32 %r2, %r6\n    mul32 %r2, %r6\n    mov %r3, 0\n"
    "    mov32 %r5, %r4\n    sub32 %r5, %r2\n"
    "    mov %r3, %r10\n    add %r3, -64\n    add %r3, %r5\n")
V3_LOAD, V3_STORE = COUNT_LOAD + 2, COUNT_STORE + 2
# the same where the key changes before it is copied: key + 1 - (key / size) * size may
# be size itself, one past the counters
V3_STALE = V3_FORM.replace("    mov %r3, 0\n", "    add %r4, 1\n")


def test_the_32_bit_form_through_a_copy_is_proven():
    prog = bpfjit.assemble(V3_FORM)
    assert bpfjit.asm.format_insn(prog.at(V3_LOAD)) == "ldxb %r5, [%r3]"
    assert bpfjit.asm.format_insn(prog.at(V3_STORE)) == "stxb [%r3], %r5"
    verified = verify(prog, cache=False)
    assert set(verified.accesses) == verified.proven


def test_a_copy_of_a_key_changed_since_proves_nothing():
    verified = verify(bpfjit.assemble(V3_STALE), cache=False)
    assert V3_LOAD not in verified.proven


@pytest.mark.parametrize("mem", [b"", bytes([4]) + bytes(range(12)),
                                 bytes([63]) + bytes(range(255, 0, -1)),
                                 bytes([10]) + bytes(range(3, 203))])
def test_the_32_bit_form_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(V3_FORM), engine)
    assert fn(bytearray(mem)) == expected(mem)


# the subtraction is a jump's target: a run that jumps there (mem[1] == 0xaa) brings
# s = 0 and the whole key, so nothing about the remainder holds there.  The index is the
# key (mem[1..4], 0x10aa below), far past the 64 counters: the access must be checked
# and fail.
JOINED = """
    stdw [%r10-64], 0
    mov %r0, 0
    jlt %r2, 8, out
    ldxb %r6, [%r1]
    and %r6, 63
    add %r6, 1
    ldxw %r4, [%r1+1]
    mov %r2, 0
    ldxb %r3, [%r1+1]
    jeq %r3, 0xaa, subtract
    mov %r2, %r4
    div %r2, %r6
    mul %r2, %r6
subtract:
    sub %r4, %r2
    mov %r3, %r10
    add %r3, -64
    add %r3, %r4
    ldxb %r0, [%r3]
out:
    exit
"""
JOINED_LOAD = 17


def test_a_subtraction_control_may_reach_from_elsewhere_proves_nothing():
    prog = bpfjit.assemble(JOINED)
    assert bpfjit.asm.format_insn(prog.at(JOINED_LOAD)) == "ldxb %r0, [%r3]"
    assert JOINED_LOAD not in verify(prog, cache=False).proven


def test_a_subtraction_reached_from_elsewhere_traps_on_every_engine(engine):
    fn = bpfjit.compile(bpfjit.assemble(JOINED), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray([5, 0xAA, 0x10, 0, 0, 0, 0, 0]))      # key 0x10aa: far out
    assert info.value.pc == JOINED_LOAD
    # the other way: key 0x10cc % 6 = 4296 % 6 = 0, counter 0 of the zeroed row
    assert fn(bytearray([5, 0xCC, 0x10, 0, 0, 0, 0, 0])) == 0
