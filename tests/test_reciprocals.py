"""The reciprocals the JITs multiply by instead of dividing (backends.reciprocals),
checked against Python's integer division on dividends where a rounded reciprocal
goes wrong first: around the divisor's multiples and at the top of the range."""

import random

import pytest

from bpfjit.backends.reciprocals import magic_divisor, magic_divisor32, magic_divisor_short

M64 = (1 << 64) - 1


def _dividends(d: int, rng: random.Random) -> list[int]:
    near = [d * k + j for k in (1, 2, 3, 1000, M64 // d, M64 // d - 1) for j in (-1, 0, 1)]
    edges = [0, 1, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, 1 << 63, M64 - 1, M64]
    return sorted({x for x in near + edges + [rng.getrandbits(64) for _ in range(200)]
                   if 0 <= x <= M64})


_RNG = random.Random(20261206)
DIVISORS = sorted({3, 7, 10, 12, 100, 641, 1000, 3600, 65521, 86400, 1000003, 998244353,
                   1000000007, (1 << 32) - 5, (1 << 63) + 1, M64, 6 << 40, 1 << 20}
                  | {_RNG.randrange(2, 1 << 32) for _ in range(40)}
                  | {_RNG.randrange(2, 1 << 64) for _ in range(20)}
                  | {_RNG.randrange(1, 1 << 24) << _RNG.randrange(1, 30) for _ in range(20)})


@pytest.mark.parametrize("divisor", DIVISORS)
def test_the_short_reciprocal_is_exact_where_it_is_given(divisor):
    found = magic_divisor_short(divisor)
    if found is None:
        return
    k, m, s = found
    assert 0 <= m < 1 << 64 and 0 <= s < 64 and divisor % (1 << k) == 0
    for x in _dividends(divisor, random.Random(divisor)):
        assert (((x >> k) * m) >> 64) >> s == x // divisor, hex(x)


@pytest.mark.parametrize("divisor", DIVISORS)
def test_the_sequence_with_its_add_is_exact_for_every_divisor(divisor):
    m, s = magic_divisor(divisor)
    for x in _dividends(divisor, random.Random(divisor)):
        t = (x * m) >> 64
        assert (t + ((x - t) >> 1)) >> s == x // divisor, hex(x)


@pytest.mark.parametrize("divisor", [d for d in DIVISORS if d < 1 << 32])
def test_the_32_bit_reciprocal_is_exact_below_2_32(divisor):
    found = magic_divisor32(divisor)
    if found is None:
        return
    m, s = found
    for x in _dividends(divisor, random.Random(divisor)):
        x &= (1 << 32) - 1
        assert (x * m) >> s == x // divisor, hex(x)


def test_short_reciprocals_exist_where_compilers_find_them():
    # worked out by hand: 2**93 / 1000000007 rounded up is below 2**64 and misses by at
    # most 2**29; 7's and 65521's need a 65th bit (the add); 1000's odd part 125, after
    # a shift by 3, has m = 0x20c49ba5e353f7cf, s = 4 (what clang emits for x / 1000)
    k, m, s = magic_divisor_short(1000000007)
    assert (k, s) == (0, 29) and m == -(-(1 << 93) // 1000000007)
    assert magic_divisor_short(7) is None and magic_divisor_short(65521) is None
    assert magic_divisor_short(1000) == (3, 0x20C49BA5E353F7CF, 4)
    # most divisors have one: among the 40 random 32-bit ones above, at least half
    small = [d for d in DIVISORS if d < 1 << 32]
    assert sum(magic_divisor_short(d) is not None for d in small) * 2 >= len(small)
