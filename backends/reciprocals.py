"""Division by an invariant integer without a divide instruction (Granlund and
Montgomery, "Division by invariant integers using multiplication", 1994): the rounded
reciprocals both JITs multiply by when a `div`/`mod` has a constant divisor."""

from __future__ import annotations

__all__ = ["magic_divisor", "magic_divisor32", "magic_divisor_short"]


def magic_divisor(divisor: int) -> tuple[int, int]:
    """(m, s) for an unsigned 64-bit division by `divisor` (2 to 2**64 - 1) without a
    DIV: with t = (x * m) >> 64, x // divisor == (t + ((x - t) >> 1)) >> s for every
    64-bit x (Granlund and Montgomery, "Division by invariant integers using
    multiplication", 1994, figure 4.1: m is the rounded-up reciprocal
    2**(64 + l) / divisor less its 65th bit, l = ceil(log2 divisor), s = l - 1)."""
    bits = (divisor - 1).bit_length()
    return (1 << (64 + bits)) // divisor - (1 << 64) + 1, bits - 1


def magic_divisor32(divisor: int) -> tuple[int, int] | None:
    """(m, s) with x // divisor == (x * m) >> s for every x below 2**32, m below 2**32
    (so the product fits 64 bits: one multiply and one shift, as compilers divide a
    32-bit value), or None where no such m exists (2039, 7: then magic_divisor's
    sequence).  m = ceil(2**s / divisor) for the least s >= 32 with
    m * divisor - 2**s <= 2**(s - 32), the condition for exactness."""
    if not 2 <= divisor < 1 << 32:
        return None
    for s in range(32, 65):
        m = -(-(1 << s) // divisor)
        if m >= 1 << 32:
            return None
        if m * divisor - (1 << s) <= 1 << (s - 32):
            return m, s
    return None


def magic_divisor_short(divisor: int) -> tuple[int, int, int] | None:
    """(k, m, s) with x // divisor == (((x >> k) * m) >> 64) >> s for every 64-bit x, m
    below 2**64: a multiply and shifts, without magic_divisor's add, which only the
    divisors with no such m need (7, 65521; about three in ten).  k is 0, or the
    divisor's trailing zero bits where only its odd part has one (1000 = 125 << 3: the
    dividend shifted first is below 2**61).  m = ceil(2**(64 + s) / d), d = divisor >>
    k, for the least s with m * d - 2**(64 + s) <= 2**(s + k): the error it adds to
    x / d stays below 1 / d for every x below 2**(64 - k), so the floor is exact.  None
    where none exists, and for powers of two."""
    if not 2 <= divisor < 1 << 64:
        return None
    zeros = (divisor & -divisor).bit_length() - 1
    for k in (0, zeros) if zeros else (0,):
        d = divisor >> k
        for s in range(64):
            m = -(-(1 << (64 + s)) // d)
            if m >= 1 << 64:
                break
            if m * d - (1 << (64 + s)) <= 1 << (s + k):
                return k, m, s
    return None
