"""Ceilings a + b <= c beside the zone (bpfjit.verifier.zone): a copy of `run` bytes
into a fixed buffer after `n + run <= SIZE` counts n up and run down, and n stays in the
buffer while run >= 1.  Each proof is held to the interpreter, and every engine to a
Python reading of the program."""

from pathlib import Path
import random

import pytest

import bpfjit

from test_verifier_soundness import assert_proofs_hold

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"

# a zeroed 64-byte stack buffer; n (r6) = 0, i (r7) = 0; while i < len: run (r0) =
# (buf[i] & 15) + 1, i += 1
RUN_HEADER = """
    stdw [%r10-64], 0
    stdw [%r10-56], 0
    stdw [%r10-48], 0
    stdw [%r10-40], 0
    stdw [%r10-32], 0
    stdw [%r10-24], 0
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r6, 0
    mov %r7, 0
loop:
    jge %r7, %r2, done
    mov %r3, %r1
    add %r3, %r7
    ldxb %r0, [%r3]
    and %r0, 15
    add %r0, 1
    add %r7, 1
"""

# runs of (byte & 15) + 1 bytes, each the count still to copy, into the buffer while
# n + run <= LIMIT (64: always inside it; 65: one byte past its end), then a hash of
# the n bytes written, read back in a second loop
COPY_RUNS = RUN_HEADER + """    mov %r4, %r0
    add %r4, %r6
    jgt %r4, {limit}, done
copy:
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    stxb [%r5], %r0
    add %r6, 1
    add %r0, -1
    jne %r0, 0, copy
    ja loop
done:
    mov %r0, 0
    mov %r8, 0
sum:
    jge %r8, %r6, end
    mov %r5, %r10
    add %r5, -64
    add %r5, %r8
    ldxb %r3, [%r5]
    mul %r0, 31
    add %r0, %r3
    add %r8, 1
    ja sum
end:
    exit
"""
STORE, LOAD = 23, 34        # pcs of the copy's store and the hash's load


def copy_runs(data: bytes, limit: int = 64) -> int | None:
    """What COPY_RUNS returns, or None where it writes past the buffer."""
    out, i = [], 0
    while i < len(data):
        run = (data[i] & 15) + 1
        i += 1
        if len(out) + run > limit:
            break
        if len(out) + run > 64:
            return None
        out += range(run, 0, -1)       # what is left to copy, stored at each step
    h = 0
    for b in out:
        h = (h * 31 + b) % (1 << 64)
    return h


def inputs() -> list[bytes]:
    rng = random.Random(7)
    cases = [b"", b"\x00", bytes([15] * 4), bytes([15] * 4 + [0]), bytes([15] * 3 + [14, 1]),
             bytes([15, 15, 15, 15, 0, 0])]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
              for _ in range(60)]
    return cases


def test_a_counted_copy_into_a_buffer_is_proven():
    verified = bpfjit.verify(bpfjit.assemble(COPY_RUNS.format(limit=64)), log=True,
                             cache=False)
    assert {STORE, LOAD} <= verified.proven
    # at the copy's head: what is left to copy (r0) and how much was (r6) make 64 at most
    head = next(line for line in verified.log if line.startswith("20: "))
    assert " r0+r6<=64" in head


def test_one_past_the_buffer_is_not_proven():
    verified = bpfjit.verify(bpfjit.assemble(COPY_RUNS.format(limit=65)), cache=False)
    assert STORE not in verified.proven


@pytest.mark.parametrize("limit", [64, 65])
def test_proofs_on_counted_copies_hold(limit):
    assert_proofs_hold(COPY_RUNS.format(limit=limit), inputs())


@pytest.mark.parametrize("limit", [64, 65])
def test_counted_copies_compute_what_python_does(engine, limit):
    fn = bpfjit.compile(bpfjit.assemble(COPY_RUNS.format(limit=limit)), engine)
    for data in inputs():
        want = copy_runs(data, limit)
        if want is None:        # 16 * 4 + 1 = 65 bytes: the last one past the buffer
            with pytest.raises(bpfjit.MemoryAccessError):
                fn(bytearray(data))
        else:
            assert fn(bytearray(data)) == want, data.hex()


# literal runs: a control byte gives run = (c & 15) + 1, and that many bytes of the
# input after it are copied to the stack while i + run <= len and n + run <= 64; the
# copy reads the input at i as run counts down, which `i + run <= len` bounds (a sum
# against len: the zone's mirror of run, len - run, against i)
COPY_LITERALS = RUN_HEADER + """    mov %r4, %r7
    add %r4, %r0
    jgt %r4, %r2, done
    mov %r4, %r0
    add %r4, %r6
    jgt %r4, 64, done
copy:
    mov %r3, %r1
    add %r3, %r7
    ldxb %r8, [%r3]
    mov %r5, %r10
    add %r5, -64
    add %r5, %r6
    stxb [%r5], %r8
    add %r6, 1
    add %r7, 1
    add %r0, -1
    jne %r0, 0, copy
    ja loop
done:
    mov %r0, %r6
    ldxdw %r3, [%r10-64]
    xor %r0, %r3
    ldxdw %r3, [%r10-8]
    xor %r0, %r3
    exit
"""
READ, WRITE = 25, 29        # the copy's read of the input and store to the stack


def copy_literals(data: bytes) -> int:
    """What COPY_LITERALS returns."""
    out, i = bytearray(64), 0
    n = 0
    while i < len(data):
        run = (data[i] & 15) + 1
        i += 1
        if i + run > len(data) or n + run > 64:
            break
        out[n:n + run] = data[i:i + run]
        n, i = n + run, i + run
    return n ^ int.from_bytes(out[:8], "little") ^ int.from_bytes(out[56:], "little")


def test_a_copy_from_the_input_is_proven_by_its_length_test():
    verified = bpfjit.verify(bpfjit.assemble(COPY_LITERALS), cache=False)
    assert {READ, WRITE} <= verified.proven
    rng = random.Random(11)
    cases = [b"", b"\x03abcd", b"\x03abc", bytes([15]) + bytes(range(16)) * 5]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 90)))
              for _ in range(80)]
    assert_proofs_hold(COPY_LITERALS, cases)


def test_copies_from_the_input_compute_what_python_does(engine):
    fn = bpfjit.compile(bpfjit.assemble(COPY_LITERALS), engine)
    rng = random.Random(12)
    for data in [b"", b"\x03abcd", b"\x03abc", bytes([15]) + bytes(range(100))] + \
            [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 90)))
             for _ in range(30)]:
        assert fn(bytearray(data)) == copy_literals(data), data.hex()


def test_an_lz77_decoder_copies_into_its_window_proven():
    # corpus/plain/lz.c as clang builds it: a literal run and a back-reference, each
    # copied after `n + length <= 256` into a 256-byte stack window (n a u32, the sum
    # checked through a 32-bit truncation), the literal read from the input after
    # `i + run <= len`: every access proven (4 of 9 before ceilings)
    prog = bpfjit.load_elf(CORPUS / "lz.o", function="entry")
    verified = bpfjit.verify(prog, cache=False)
    assert len(verified.accesses) == 9
    assert verified.proven == set(verified.accesses)
