"""The 0/1 knapsack's row, walked downwards as clang -O2 compiles it (corpus/plain/
knapsack.c): the weight is negated once before the walk (`r0 = r5; r0 = -r0`), and each
trip reads `best[w - weight]` as `r0 + w`, while the loop's test keeps `weight <= w`.
So the sum is at least 0: r0 + weight >= 0 (the negation's floor) and weight <= w (the
zone) give r0 + w >= 0 -- a floor of dst with another variable than the one added,
carried through a relation of that variable to the one added.  The read is proven;
checked on every engine against a Python model."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# mem[0] & 15 is the capacity, then (weight, value) byte pairs; best[16] (u32) at the
# frame's bottom, fp-512 (a negative index would leave the frame); r0 = best[capacity]
PROGRAM = """
    stdw [%r10-512], 0
    stdw [%r10-504], 0
    stdw [%r10-496], 0
    stdw [%r10-488], 0
    stdw [%r10-480], 0
    stdw [%r10-472], 0
    stdw [%r10-464], 0
    stdw [%r10-456], 0
    stxdw [%r10-8], %r2
    mov %r0, 0
    jeq %r2, 0, out
    ldxb %r6, [%r1]
    and %r6, 15
    mov %r8, 1
item:
    ldxdw %r2, [%r10-8]
    mov %r3, %r8
    add %r3, 2
    jgt %r3, %r2, done
    mov %r3, %r1
    add %r3, %r8
    ldxb %r5, [%r3]
    ldxb %r9, [%r3+1]
    add %r8, 2
    and %r5, 15
    jeq %r5, 0, item
    jgt %r5, %r6, item
    mov %r0, %r5
    neg %r0
    mov %r4, %r6
row:
    mov %r3, %r0
    add %r3, %r4
    lsh %r3, 2
    mov %r7, %r10
    add %r7, -512
    add %r7, %r3
    ldxw %r3, [%r7]
    add %r3, %r9
    mov %r7, %r4
    lsh %r7, 2
    mov %r2, %r10
    add %r2, -512
    add %r2, %r7
    ldxw %r7, [%r2]
    jge %r7, %r3, keep
    stxw [%r2], %r3
keep:
    sub %r4, 1
    jge %r4, %r5, row
    ja item
done:
    mov %r3, %r6
    lsh %r3, 2
    mov %r7, %r10
    add %r7, -512
    add %r7, %r3
    ldxw %r0, [%r7]
out:
    exit
"""

ROW_READ = 35           # ldxw %r3, [%r7]: best[w - weight]


def expected(mem: bytes) -> int:
    if not mem:
        return 0
    capacity, best = mem[0] & 15, [0] * 16
    for off in range(1, len(mem) - 1, 2):
        weight, value = mem[off] & 15, mem[off + 1]
        if weight == 0 or weight > capacity:
            continue
        for w in range(capacity, weight - 1, -1):
            best[w] = max(best[w], best[w - weight] + value)
    return best[capacity]


def test_the_row_read_is_proven():
    prog = bpfjit.assemble(PROGRAM)
    assert bpfjit.asm.format_insn(prog.at(ROW_READ)) == "ldxw %r3, [%r7]"
    verified = verify(prog, cache=False)
    assert ROW_READ in verified.accesses
    assert ROW_READ in verified.proven
    assert set(verified.accesses) == verified.proven


def test_the_model():
    # capacity 10; items (5, 10), (4, 40), (6, 30), (3, 50): 40 + 50 (weights 4 + 3)
    # is the best within 10 (no third item fits beside them: 4 + 3 + 5 = 12)
    assert expected(bytes([10, 5, 10, 4, 40, 6, 30, 3, 50])) == 90
    # a weight of 0 and one above the capacity are skipped; 2 + 2 fits twice
    assert expected(bytes([4, 0, 99, 9, 99, 2, 7, 2, 8])) == 15


@pytest.mark.parametrize("mem", [b"", b"\x05", bytes([10, 5, 10, 4, 40, 6, 30, 3, 50]),
                                 bytes([4, 0, 99, 9, 99, 2, 7, 2, 8]),
                                 bytes([15]) + bytes((k * 37 + 11) % 256 for k in range(200)),
                                 bytes([15, 1, 1]) * 30])
def test_the_row_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(bytearray(mem)) == expected(mem)
