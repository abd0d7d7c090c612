"""Results only their low half of which is read (bpfjit.verifier.lowhalves).

clang -mcpu=v1 keeps 32-bit arithmetic in 64-bit registers: xxhash32's `len - 4` is a
64-bit add of 0xfffffffc whose high half grows every trip, and only the extension
before the loop's test reads the count.  The backward pass below decides which 64-bit
results nothing reads above bit 31; the verifier follows those as their 32-bit twins
where the 64-bit value surely leaves 32 bits.  Each case is worked out by hand from
the readers of the result; the engines must agree with a hand computation wherever
the high half is garbage.
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.verifier import verify
from bpfjit.verifier.lowhalves import low_half_results


def _low(text: str) -> set[int]:
    return set(low_half_results(bpfjit.assemble(text)))


@pytest.mark.parametrize("text, expected", [
    # read by a 32-bit copy: low half only
    ("add %r2, %r3\nmov32 %r0, %r2\nexit", {0}),
    # returned whole
    ("add %r2, %r3\nmov %r0, %r2\nexit", set()),
    # extended to 64 bits by a shift pair: the left shift reads the low half
    ("add %r2, %r3\nlsh %r2, 32\nrsh %r2, 32\nmov %r0, %r2\nexit", {0}),
    # a right shift reads the high half
    ("add %r2, %r3\nrsh %r2, 32\nmov %r0, %r2\nexit", set()),
    # a store of 4 bytes reads the low half, of 8 bytes the whole
    ("add %r2, %r3\nstxw [%r10-4], %r2\nmov %r0, 0\nexit", {0}),
    ("add %r2, %r3\nstxdw [%r10-8], %r2\nmov %r0, 0\nexit", set()),
    # a 32-bit test reads the low half, a 64-bit one the whole
    ("add %r2, %r3\njgt32 %r2, 7, +1\nmov %r0, 0\nexit", {0}),
    ("add %r2, %r3\njgt %r2, 7, +1\nmov %r0, 0\nexit", set()),
    # a mask of the low byte reads only the low byte
    ("add %r2, %r3\nand %r2, 255\nmov %r0, %r2\nexit", {0}),
    # a copy passes on what its readers read: the 64-bit copy is returned
    ("add %r2, %r3\nmov %r4, %r2\nmov %r0, %r4\nexit", set()),
    # each path counts: the value is returned whole on one of them
    ("add %r2, %r3\njeq %r1, 0, +2\nmov32 %r0, %r2\nexit\nmov %r0, %r2\nexit", set()),
    # round a loop: the count falls by 0xffffffff (1 in 32 bits) and only its
    # extension is tested and returned (pc 5 is lddw, two slots)
    ("""
        mov %r2, 10
    head:
        mov %r3, %r2
        lsh %r3, 32
        rsh %r3, 32
        jeq %r3, 0, out
        lddw %r4, 0xffffffff
        add %r4, %r2
        mov %r2, %r4
        ja head
    out:
        mov %r0, %r3
        exit
    """, {0, 1, 7, 8}),
    # a division reads the whole of both operands
    ("add %r2, %r3\ndiv %r2, 3\nmov32 %r0, %r2\nexit", set()),
    # a helper's argument is read whole
    ("add %r1, %r3\ncall 5\nmov32 %r0, %r0\nexit", set()),
])
def test_which_results_are_read_in_their_low_half_only(text, expected):
    assert _low(text) == expected


def test_a_helper_reads_only_its_arguments():
    # r5 is not an argument of a two-argument helper, which clobbers it: its sum is
    # never read at all; a helper of unknown arity may read r5 whole
    text = "add %r5, %r3\nmov %r1, 0\nmov %r2, 0\ncall 1\nexit"
    prog = bpfjit.assemble(text)
    assert 0 in low_half_results(prog, lambda helper: 2)
    assert 0 not in low_half_results(prog)


# the count of bytes to sum is data[0] & 7, stepped down in 64 bits by 0xffffffff (1 in
# 32 bits) and tested through its extension; HIGH returns the count's high half beside
# the sum -- the number of trips, since it gains 1 with every step -- and LOW does not
LOOP = """
    mov %r0, 0
    jlt %r2, 16, out
    ldxb %r3, [%r1+0]
    and %r3, 7
    mov %r4, %r1
    add %r4, 8
head:
    mov %r5, %r3
    lsh %r5, 32
    rsh %r5, 32
    jeq %r5, 0, done
    ldxb %r6, [%r4+0]
    add %r0, %r6
    add %r4, 1
    lddw %r6, 0xffffffff
    add %r6, %r3
    mov %r3, %r6
    ja head
done:
"""
HIGH = LOOP + """
    mov %r6, %r3
    rsh %r6, 32
    lsh %r0, 8
    or %r0, %r6
out:
    exit
"""
LOW = LOOP + """
out:
    exit
"""
STEP = 16           # `add %r6, %r3`


def expected(text: str, data: bytes) -> int:
    """The sum of data[8 : 8 + n] (n = data[0] & 7), for HIGH shifted left by 8 and
    or-ed with n."""
    if len(data) < 16:
        return 0
    n = data[0] & 7
    total = sum(data[8:8 + n])
    return total << 8 | n if text is HIGH else total


def test_a_count_read_in_its_low_half_only_proves_its_reads():
    assert STEP in low_half_results(bpfjit.assemble(LOW))
    v = verify(bpfjit.assemble(LOW), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)


def test_a_count_whose_high_half_is_read_is_followed_whole():
    assert STEP not in low_half_results(bpfjit.assemble(HIGH))
    # its 64-bit value leaves every bound after a trip: the read stays checked
    v = verify(bpfjit.assemble(HIGH), cache=False)
    assert set(v.accesses) - v.proven == {10}


PACKETS = [bytes(range(16)), bytes([7]) + bytes(range(1, 20)), bytes([5]) * 16,
           bytes([0xFF]) + bytes(15), bytes([3]) + bytes(range(200, 215)), bytes(15)]


@pytest.mark.parametrize("text", [LOW, HIGH], ids=["low", "high"])
@pytest.mark.parametrize("data", PACKETS, ids=range(len(PACKETS)))
def test_every_engine_computes_both(engine, text, data):
    if engine == "kernel":
        pytest.skip("a plain program: the kernel runs packet programs")
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    assert fn(bytearray(data)) == expected(text, data)
