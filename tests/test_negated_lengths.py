"""What remains after a header of w bytes, computed the way clang computes `len - 1 - w`:
`~w + len` (`xor r, -1; add r, len`), or `-w` then `- 1` then `+ len`.

`~w` is `-w - 1` and `-w` is `0 - w`, each an exact sum with w (`~w + w == -1`), and
adding len to `c - w` gives `(len - w) + c`, what remains after w, plus c: the loop
`for (i = 0; i < n; i++) text[i]`, text at 1 + w, then reads inside the buffer, as it
does when n is written `len - w - 1` (corpus rabinkarp, horspool and substr compute it
so).  Variants one byte too long must stay unproven and trap."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError, VerifierError

# r3 = w = mem[0] in [1, 32], 1 + w <= len; r5 = n, spilled; then sum text[i], i < n,
# text = mem + 1 + w (+ `extra`: 1 reads one byte past the end on the last trip)
BODY = """
    jeq r2, 0, out
    ldxb r3, [r1+0]
    jeq r3, 0, out
    jgt r3, 32, out
    mov r4, r3
    add r4, 1
    jgt r4, r2, out
{n}
    stxdw [r10-8], r5
    mov r0, r1
    add r0, 1
    add r0, r3
    mov r6, 0
    mov r7, 0
loop:
    ldxdw r5, [r10-8]
    jge r6, r5, done
    mov r8, r0
    add r8, r6
    ldxb r9, [r8+{extra}]
    add r7, r9
    add r6, 1
    ja loop
done:
    mov r0, r7
    exit
out:
    mov r0, 0
    exit
"""
FORMS = {
    "not": "    mov r5, r3\n    xor r5, -1\n    add r5, r2",          # ~w + len
    "not-then-len-first": "    mov r5, r3\n    xor r5, -1\n    mov r6, r2\n    add r6, r5\n"
                          "    mov r5, r6",                            # len + ~w
    "negated": "    mov r5, 0\n    sub r5, r3\n    sub r5, 1\n    add r5, r2",   # -w - 1 + len
    "neg": "    mov r5, r3\n    neg r5\n    add r5, -1\n    add r5, r2",      # neg w, - 1, + len
}


def _program(form: str, extra: int = 0) -> bpfjit.Program:
    return bpfjit.assemble(BODY.format(n=FORMS[form], extra=extra))


@pytest.mark.parametrize("form", sorted(FORMS))
def test_what_remains_bounds_the_text(form):
    v = bpfjit.verify(_program(form), mode="strict", cache=False)
    assert sorted(v.proven) == sorted(v.accesses)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_one_byte_more_stays_unproven(form):
    with pytest.raises(VerifierError):
        bpfjit.verify(_program(form, extra=1), mode="strict", cache=False)


def _model(mem: bytes) -> int:
    if not mem or not 1 <= mem[0] <= 32 or 1 + mem[0] > len(mem):
        return 0
    return sum(mem[1 + mem[0]:])


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("mem", [b"", b"\x00", b"\x05abc", b"\x03abc", b"\x03abcd",
                                 bytes([32]) + bytes(range(200))],
                         ids=["empty", "zero-width", "short", "header-only", "one-byte",
                              "long"])
def test_runs_on_every_engine(engine, form, mem):
    fn = bpfjit.compile(_program(form), engine, cache=False)
    assert fn(bytearray(mem)) == _model(mem)


@pytest.mark.parametrize("form", ["not", "negated"])
def test_one_byte_more_traps_on_every_engine(engine, form):
    fn = bpfjit.compile(_program(form, extra=1), engine, cache=False)
    with pytest.raises(MemoryAccessError):
        fn(bytearray(b"\x03abcdef"))
