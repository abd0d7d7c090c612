"""corpus/plain/lz.c as clang 14 -O2 -mcpu=v3 writes it: the output count n is a
32-bit register, `n + run > 256` is `w7 = w5; w7 += w3; if w7 > 256`, and the
back-reference copy counts k up in 32 bits (`w6 += 1; if w6 < w5`).  Two gaps
kept the copies' accesses unproven:

- a 32-bit sum that cannot wrap (both addends below 2^32 and their maxima summing
  below it) is the 64-bit sum, so it now keeps the sum's relations and ceilings
  (n + run <= 256 once the test is passed), as a 64-bit add does;
- a loop head tries the order `k <= run` that its loop compares even where the
  older state holds a weaker bound of k against run (k <= run + 254, from a join),
  not only where it holds none.

Checked on every engine against the decoder written again in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# bpfjit disasm of the -mcpu=v3 object (r1 = mem, r2 = len; r0 = a hash of the window)
PROGRAM = """
    mov %r0, 0
    jeq %r2, 0, +86
    mov %r0, 0
    mov32 %r3, 0
    mov %r4, %r1
    add %r4, 1
    stxdw [%r10-264], %r4
    mov %r6, %r0
    ja +25
    mov32 %r8, %r3
    add32 %r8, %r6
    mov %r9, %r10
    add %r9, -256
    mov %r4, %r9
    add %r4, %r8
    mov32 %r8, %r7
    add32 %r8, %r6
    add %r9, %r8
    ldxb %r8, [%r9]
    stxb [%r4], %r8
    add32 %r6, 1
    jlt32 %r6, %r5, -13
    add32 %r3, %r6
    mov %r6, %r0
    mov32 %r7, %r3
    mov32 %r3, %r7
    mov %r0, %r6
    jlt %r6, %r2, +6
    mov %r0, 0
    jeq32 %r3, 0, +58
    mov32 %r1, %r3
    mov %r2, 0
    mov %r0, %r1
    ja +46
    mov %r5, %r1
    add %r5, %r0
    add %r6, 1
    ldxb %r5, [%r5]
    mov32 %r7, %r5
    lsh32 %r7, 24
    arsh32 %r7, 24
    jslt32 %r7, 0, +18
    add32 %r5, 1
    add %r6, %r5
    jgt %r6, %r2, -17
    mov32 %r7, %r5
    add32 %r7, %r3
    jgt32 %r7, 256, -20
    ldxdw %r8, [%r10-264]
    add %r8, %r0
    mov %r0, %r10
    add %r0, -256
    add %r0, %r3
    ldxb %r9, [%r8]
    stxb [%r0], %r9
    add %r8, 1
    add32 %r3, 1
    add %r5, -1
    jeq %r5, 0, -34
    ja -10
    jge %r6, %r2, -33
    mov %r7, %r1
    add %r7, %r6
    ldxb %r7, [%r7]
    mov32 %r6, %r5
    lsh32 %r6, 3
    and32 %r6, 768
    or32 %r6, %r7
    jeq32 %r6, 0, -41
    jgt32 %r6, %r3, -42
    and32 %r5, 31
    add32 %r5, 3
    mov32 %r7, %r5
    add32 %r7, %r3
    jgt32 %r7, 256, -47
    add %r0, 2
    mov32 %r7, %r3
    sub32 %r7, %r6
    mov32 %r6, 0
    ja -71
    mov %r3, %r10
    add %r3, -256
    add %r3, %r2
    ldxb %r3, [%r3]
    mul %r0, 131
    add %r0, %r3
    add %r2, 1
    jlt %r2, %r1, -8
    exit
"""


def decoded(mem: bytes) -> int:
    """The window's hash, as corpus/plain/lz.c computes it."""
    out: list[int] = []
    i = 0
    while i < len(mem):
        c = mem[i]
        i += 1
        if c < 0x80:
            run = c + 1
            if i + run > len(mem) or len(out) + run > 256:
                break
            out += mem[i:i + run]
            i += run
        else:
            if i >= len(mem):
                break
            length = (c & 0x1F) + 3
            dist = ((c >> 5) & 3) << 8 | mem[i]
            i += 1
            if dist == 0 or dist > len(out) or len(out) + length > 256:
                break
            for _ in range(length):
                out.append(out[len(out) - dist])
    h = len(out)
    for byte in out:
        h = (h * 131 + byte) & 0xFFFF_FFFF_FFFF_FFFF
    return h


def test_the_window_stores_are_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    # the copy's load and store (out[n - dist], out[n]), the literal's (mem[i], out[n])
    copies = {18, 19, 53, 54}
    assert copies <= set(verified.accesses)
    assert copies <= verified.proven


@pytest.mark.parametrize("mem", [b"", b"\x02abc", b"\x03abcd\x81\x04", b"\x00a\x9f\x01" * 20,
                                 b"\x7f" + bytes(range(128)) + b"\x7f" + bytes(128) + b"\x00z",
                                 b"\x01xy\xe0\x02\x80\x00"])
def test_the_decoder_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == decoded(mem)
