"""A pointer that rises while the count of bytes left falls keeps their sum.

`while (len >= 4) { h = f(h, p[0..3]); p += 4; len -= 4; } while (len) { h = g(h, *p);
p++; len--; }` -- the tail of xxhash32 and of most hashes over a variable length.  No
difference of the two is kept round the loop, but their sum is: `p + len` is where the
key ends on every trip, and `len >= 4` then bounds p.  The sum is a difference with
what remains of the packet after p, `len - (end - p) <= c`, found where the loop's
first paths meet: on each path a constant p and the bounds of len
(bpfjit.verifier.joins).  clang writes the count three ways: 32-bit ALU (-mcpu=v3),
which the kernel loads; 64-bit with a 32-bit extension before each test (v1), where
the kernel's bounds give up; and 64-bit adding 0xfffffffc, whose high half grows every
trip and which only the extension reads (v1 xxhash32: the verifier follows its low
half, bpfjit.verifier.lowhalves), which the kernel loads where the count is a constant
and it can walk the trips one by one.  A key on the stack walked the same way keeps
`p + len <= c` as a ceiling beside the zone (`joins._stack_ceilings`), which a test of
len passes on to p (`State.apply_sum_bounds`, from `tighten`).
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable
from bpfjit.verifier import verify

# r1 = data, r2 = data_end, r0 = 0; the first 64 bytes are there, else out
PROLOGUE = """
    ldxw %r2, [%r1+4]
    ldxw %r1, [%r1+0]
    mov32 %r0, 0
    mov %r3, %r1
    add %r3, 64
    jgt %r3, %r2, out
"""

# r1 = data + 8, r2 = (data[0] & 31) + EXTRA bytes to hash from there; r0 sums the first
# and fourth byte of each 4-byte word, then each byte of the tail, masked to 32 bits
HEAD = PROLOGUE + """
    ldxb %r2, [%r1+0]
    add %r1, 8
    and32 %r2, 31
    add32 %r2, EXTRA
"""

# xxhash32 over a key of a constant length: the count is EXTRA itself
CONSTANT_HEAD = PROLOGUE + """
    add %r1, 8
    mov %r2, EXTRA
"""

# the 24 bytes from data + 8 copied to the stack (fp-24 .. fp-1), walked from fp-24: a
# key hashed on the stack; the count is (data[0] & 15) + EXTRA
STACK_HEAD = PROLOGUE + """
    ldxdw %r3, [%r1+8]
    stxdw [%r10-24], %r3
    ldxdw %r3, [%r1+16]
    stxdw [%r10-16], %r3
    ldxdw %r3, [%r1+24]
    stxdw [%r10-8], %r3
    ldxb %r2, [%r1+0]
    mov %r1, %r10
    add %r1, -24
    and32 %r2, 15
    add32 %r2, EXTRA
"""

WORD = """
    ldxb %r4, [%r1+0]
    add32 %r0, %r4
    ldxb %r4, [%r1+3]
    add32 %r0, %r4
    add %r1, 4
"""

BYTE = """
    ldxb %r4, [%r1+0]
    add32 %r0, %r4
    add %r1, 1
"""

# -mcpu=v3: the count in 32-bit registers
ALU32 = HEAD + """
    jlt32 %r2, 4, tail
words:""" + WORD + """
    add32 %r2, -4
    jgt32 %r2, 3, words
tail:
    jeq32 %r2, 0, out
bytes:""" + BYTE + """
    add32 %r2, -1
    jne32 %r2, 0, bytes
out:
    exit
"""

# -mcpu=v1: 64-bit steps, each test through a 32-bit extension of a copy
EXTENDED = HEAD + """
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    jlt %r3, 4, tail
words:""" + WORD + """
    add %r2, -4
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    jgt %r3, 3, words
tail:
    jeq %r3, 0, out
bytes:""" + BYTE + """
    add %r2, -1
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    jne %r3, 0, bytes
out:
    exit
"""

# -mcpu=v1 xxhash32: `len - 4` as a 64-bit add of 0xfffffffc (the high half grows
# every trip; only the extension at the loop's head reads the count)
WIDE_LOOP = """
head:
    mov %r3, %r2
    lsh %r3, 32
    rsh %r3, 32
    mov %r5, 4
    jgt %r5, %r3, tail""" + WORD + """
    lddw %r6, 0xfffffffc
    add %r6, %r2
    mov %r2, %r6
    ja head
tail:
    jeq %r3, 0, out""" + BYTE + """
    lddw %r6, 0xffffffff
    add %r6, %r2
    mov %r2, %r6
    ja head
out:
    exit
"""

SHAPES = {"alu32": ALU32, "extended": EXTENDED, "wide-step": HEAD + WIDE_LOOP,
          "wide-step-constant": CONSTANT_HEAD + WIDE_LOOP,
          "stack-alu32": ALU32.replace(HEAD, STACK_HEAD),
          "stack-wide-step": STACK_HEAD + WIDE_LOOP}
# the count that keeps every read within the 64 bytes tested (or the 24 bytes of the
# key on the stack), and one that does not
IN_BOUNDS = {"alu32": 3, "extended": 3, "wide-step": 3, "wide-step-constant": 34,
             "stack-alu32": 9, "stack-wide-step": 9}
TOO_FAR = {"alu32": 26, "extended": 26, "wide-step": 26, "wide-step-constant": 57,
           "stack-alu32": 10, "stack-wide-step": 10}
# the kernel follows a 64-bit count through its extension only where it is a constant
KERNEL_LOADS = {"alu32", "wide-step-constant", "stack-alu32"}


def _program(shape: str, extra: int) -> bpfjit.Program:
    text = SHAPES[shape].replace("EXTRA", str(extra))
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")


def expected(shape: str, data: bytes, extra: int) -> int:
    """The sum the programs compute, read off the packet by hand."""
    if len(data) < 64:
        return 0
    mask = 15 if shape.startswith("stack") else 31
    count = extra if shape == "wide-step-constant" else (data[0] & mask) + extra
    pos, total = 8, 0
    while count >= 4:
        total += data[pos] + data[pos + 3]
        pos, count = pos + 4, count - 4
    for _ in range(count):
        total += data[pos]
        pos += 1
    return total & 0xFFFFFFFF


def _packets() -> list[bytes]:
    out = [bytes(range(64)), bytes(range(1, 65)), bytes(range(3, 67)), bytes(63)]
    for first in (0, 1, 2, 3, 4, 5, 17, 29, 30, 31, 0xFF, 0xE0):
        out.append(bytes([first]) + bytes((7 * i + 3) & 0xFF for i in range(1, 80)))
    out.append(bytes([31]) + bytes(range(1, 64)))
    return out


PACKETS = _packets()


@pytest.mark.parametrize("shape", SHAPES)
def test_every_access_is_proven(shape):
    # the count is at most 31 + 3 = 34 bytes from data + 8: the last byte read is
    # data + 41, inside the 64 bytes tested
    prog = _program(shape, IN_BOUNDS[shape])
    v = verify(prog, mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        if shape in KERNEL_LOADS:
            bpfsys.close(bpfsys.prog_load(prog.to_bytes(), "xdp"))
        else:           # its count falls in 64 bits: the kernel's bounds give up
            with pytest.raises(bpfjit.BpfError, match="outside of the packet|stack"):
                bpfsys.prog_load(prog.to_bytes(), "xdp")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_count_reaching_past_the_test_is_not_proven(shape):
    # up to 31 + 26 = 57 bytes from data + 8 reach data + 64, one byte past the test
    prog = _program(shape, TOO_FAR[shape])
    v = verify(prog, cache=False)
    assert set(v.accesses) - v.proven
    if "kernel" in bpfjit.engines(kernel=True):        # nor does the kernel's verifier
        from bpfjit import bpfsys
        with pytest.raises(bpfjit.BpfError):
            bpfsys.prog_load(prog.to_bytes(), "xdp")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("data", PACKETS, ids=range(len(PACKETS)))
def test_every_engine_sums_the_key(engine, shape, data):
    if engine == "kernel" and shape not in KERNEL_LOADS:
        pytest.skip("the kernel's verifier refuses it (above)")
    fn = bpfjit.compile(_program(shape, IN_BOUNDS[shape]), engine, cache=False)
    assert fn(bpfjit.XdpContext(data)) == expected(shape, data, IN_BOUNDS[shape])


@pytest.mark.parametrize("shape", SHAPES)
def test_reading_past_the_end_traps(engine, shape):
    if engine == "kernel":
        pytest.skip("the kernel's verifier refuses it (above)")
    fn = bpfjit.compile(_program(shape, TOO_FAR[shape]), engine, cache=False)
    if shape != "wide-step-constant":       # one byte shorter stays within
        fits = bytes([30]) + bytes(range(1, 64))
        assert fn(bpfjit.XdpContext(fits)) == expected(shape, fits, TOO_FAR[shape])
    with pytest.raises(bpfjit.MemoryAccessError):
        fn(bpfjit.XdpContext(bytes([31]) + bytes(63)))
