"""The shipped benchmark programs compute what an independent Python version computes."""

from pathlib import Path

import bpfjit

PROGRAMS = Path(__file__).parent.parent / "bench" / "programs"
M64 = 2**64 - 1


def internet_checksum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data) - 1, 2))
    if len(data) % 2:
        total += data[-1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total ^ 0xFFFF


def xorshift_sum() -> int:
    x, total = 0x9E3779B97F4A7C15, 0
    for _ in range(1000):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        total = (total + x) & M64
    return total


def primes_below(n: int) -> int:
    return sum(all(k % d for d in range(2, int(k ** 0.5) + 1)) for k in range(2, n))


def load(name: str) -> bpfjit.Program:
    return bpfjit.assemble((PROGRAMS / f"{name}.s").read_text())


def test_checksum(engine):
    data = (PROGRAMS / "checksum.mem").read_bytes()
    fn = bpfjit.compile(load("checksum"), engine)
    assert fn(data) == internet_checksum(data)
    assert fn(data[:7]) == internet_checksum(data[:7])      # odd length


def test_xorshift(engine):
    assert bpfjit.compile(load("xorshift"), engine)() == xorshift_sum()


def test_sieve(engine):
    assert bpfjit.compile(load("sieve"), engine)() == primes_below(512)


def test_calls(engine):
    assert bpfjit.compile(load("calls"), engine)() == sum(i * i + 1 for i in range(200))
