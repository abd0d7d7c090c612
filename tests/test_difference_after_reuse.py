"""`n = end - i` is kept as end == n + i; once n is tested (`n == 4`) it says
end == i + 4, which bounds a read at p + 3 where p = mem + i.  clang reuses i's
register before the test (corpus isodate: `r4 = 0xffffffff` between the subtraction
and `if n == 20`), which dropped the fact; the pointer p is an exact copy of i (its
offset equals i), so the fact is now kept in terms of p and the read is proven.
Run on every engine against the lines of the input split in Python."""

import pytest

import bpfjit
from bpfjit.verifier import verify

# r0 = the sum of the 4th byte of every line of exactly four bytes ('\n' ends a line)
PROGRAM = """
    mov %r0, 0
    mov %r4, 0
loop:
    jge %r4, %r2, done
    mov %r6, %r4
scan:
    jge %r6, %r2, found
    mov %r3, %r1
    add %r3, %r6
    ldxb %r5, [%r3]
    jeq %r5, 10, found
    add %r6, 1
    ja scan
found:
    mov %r3, %r1
    add %r3, %r4
    mov %r7, %r6
    sub %r7, %r4
    mov %r4, 0
    jne %r7, 4, next
    ldxb %r5, [%r3+3]
    add %r0, %r5
next:
    mov %r4, %r6
    add %r4, 1
    ja loop
done:
    exit
"""


def expected(mem: bytes) -> int:
    lines = mem.split(b"\n")
    if mem.endswith(b"\n"):
        lines.pop()             # (no line after the last newline)
    return sum(line[3] for line in lines if len(line) == 4)


def test_the_read_at_p_plus_3_is_proven():
    verified = verify(bpfjit.assemble(PROGRAM), cache=False)
    assert len(verified.accesses) == 2
    assert verified.proven == set(verified.accesses)


@pytest.mark.parametrize("mem", [b"", b"abcd", b"abcd\n", b"abc\nabcde\nwxyz\n\nqrst",
                                 b"\n\n\n", b"1234\n" * 50])
def test_the_sum_on_every_engine(engine, mem):
    fn = bpfjit.compile(bpfjit.assemble(PROGRAM), engine)
    assert fn(mem) == expected(mem)
