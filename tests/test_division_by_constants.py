"""Unsigned division and modulo by a constant (`div`/`mod` with an immediate), which the
peachpy engine does by a multiply with a rounded reciprocal instead of a DIV: every
engine computes what Python's integer division does on the RFC's operands, for
divisors at the reciprocal's edges and dividends around their multiples, in any
destination register, blinded or not, without touching the other registers."""

import pytest

import bpfjit

M32, M64 = (1 << 32) - 1, (1 << 64) - 1

# 32-bit immediates: sign-extended to 64 bits for the 64-bit operations, as unsigned
# 32-bit values for the 32-bit ones (-1: 2**64 - 1 and 2**32 - 1)
DIVISORS = [1, 2, 3, 7, 10, 16, 641, 65521, 1000003, 0x7FFFFFFF, -(1 << 31), -3, -1]
# r0, r3 and r6 start with these; the one that is the destination is divided
OTHERS = {0: 0x0123456789ABCDEF, 3: 0xFEDCBA9876543210, 6: 0x1111111122222222}


def dividends(divisor: int) -> list[int]:
    d = divisor & M64
    near = [d * k + j for k in (1, 2, 3, 1000, M64 // d) for j in (-1, 0, 1)]
    d32 = divisor & M32
    near += [d32 * k + j for k in (1, 2, M32 // d32) for j in (-1, 0, 1)]
    fixed = [0, 1, M32, M32 + 1, 1 << 63, (1 << 63) - 1, M64, M64 - 1, 0x9E3779B97F4A7C15]
    return sorted({x & M64 for x in near + fixed})


def expected(op: str, divisor: int, x: int) -> int:
    if op.endswith("32"):
        d, x = divisor & M32, x & M32
    else:
        d = divisor & M64
    return x // d if op.startswith("div") else x % d


@pytest.mark.parametrize("op", ["div", "mod", "div32", "mod32"])
@pytest.mark.parametrize("divisor", DIVISORS)
@pytest.mark.parametrize("blind", [False, True])
def test_division_by_a_constant(engine, op, divisor, blind):
    options = {} if engine in ("interp", "kernel") else {"blind": blind}
    for dst in OTHERS:
        text = "\n".join([
            *(f"lddw %r{reg}, {value:#x}" for reg, value in OTHERS.items()),
            f"ldxdw %r{dst}, [%r1]",
            f"{op} %r{dst}, {divisor}",
            # r0 + 3 * r3 + 5 * r6: every register the test set, the quotient among them
            "mov %r8, %r3", "mul %r8, 3", "mov %r9, %r6", "mul %r9, 5",
            "add %r0, %r8", "add %r0, %r9", "exit"])
        fn = bpfjit.compile(bpfjit.assemble(text), engine, **options)
        for x in dividends(divisor):
            after = dict(OTHERS)
            after[dst] = expected(op, divisor, x)
            assert fn(bytearray(x.to_bytes(8, "little"))) == \
                (after[0] + 3 * after[3] + 5 * after[6]) & M64, (dst, hex(x))
