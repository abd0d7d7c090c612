"""The shipped benchmark programs compute what an independent Python version computes.

The programs are clang-compiled C (bench/c/*.c -> bench/programs/*.bin) and one
hand-written assembly kernel; each runs on every engine with its shipped input.
"""

import struct
from pathlib import Path

import pytest

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


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def sorted_weighted(data: bytes) -> int:
    keys = sorted(struct.unpack_from("<64I", data))
    acc = 0
    for k in keys:
        acc = (acc * 31 + k) & M64
    return acc


def primes_below(n: int) -> int:
    return sum(all(k % d for d in range(2, int(k ** 0.5) + 1)) for k in range(2, n))


def parse_packets(data: bytes) -> int:
    acc = 0
    for off in range(0, len(data) - 63, 64):
        p = data[off:off + 64]
        kind, at = p[12:14], 14
        if kind == b"\x81\x00":
            kind, at = p[16:18], 18
        if kind != b"\x08\x00":
            continue
        ihl = (p[at] & 0x0F) * 4
        total = int.from_bytes(p[at + 2:at + 4], "big")
        if p[at + 9] != 6 or ihl < 20 or at + ihl + 20 > 64:
            continue
        tcp = p[at + ihl:]
        if int.from_bytes(tcp[2:4], "big") != 80:
            continue
        acc += (1 << 32) | ((total - ihl - (tcp[12] >> 4) * 4) & 0xFFFF)
    return acc


def http_requests(data: bytes) -> int:
    text = data.decode("latin-1")
    count, state = 0, 0
    table = {0: {"G": 1, "P": 5}, 1: {"E": 2}, 2: {"T": 3}, 3: {" ": 4},
             5: {"O": 6}, 6: {"S": 7}, 7: {"T": 3}}
    for c in text:
        if state == 4:
            count += c == "/"
            state = 0
        else:
            state = table[state].get(c, 0)
    return count


def mix(x: int, k: int) -> int:
    x ^= x >> 33
    x = (x * k) & M64
    return x ^ (x >> 29)


def calls(data: bytes) -> int:
    acc = len(data)
    for i in range(0, len(data) - 7, 8):
        word = int.from_bytes(data[i:i + 8], "little")
        acc = ((acc ^ mix(word, 0xFF51AFD7ED558CCD)) * 0x9E3779B97F4A7C15) & M64
    return mix(acc, 0xC4CEB9FE1A85EC53)


def histogram(data: bytes) -> int:
    buckets = [0] * 64
    for byte in data:
        buckets[byte >> 2] += 1
    acc = 0
    for count in buckets:
        acc = (acc * 33 + count) & M64
    return acc


def xorshift_sum(_: bytes) -> int:
    x, total = 0x9E3779B97F4A7C15, 0
    for _ in range(1000):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        total = (total + x) & M64
    return total


REFERENCES = {
    "checksum": internet_checksum, "fnv1a": fnv1a, "sort": sorted_weighted,
    "sieve": lambda _: primes_below(2048), "parser": parse_packets, "state": http_requests,
    "calls": calls, "histogram": histogram, "xorshift": xorshift_sum,
}


def load(name: str) -> tuple[bpfjit.Program, bytes]:
    binary, source = PROGRAMS / f"{name}.bin", PROGRAMS / f"{name}.s"
    prog = bpfjit.Program.from_bytes(binary.read_bytes()) if binary.exists() \
        else bpfjit.assemble(source.read_text())
    mem = PROGRAMS / f"{name}.mem"
    return prog, (mem.read_bytes() if mem.exists() else b"")


def test_every_shipped_program_has_a_reference():
    shipped = {p.stem for p in PROGRAMS.iterdir() if p.suffix in (".bin", ".s")}
    assert shipped == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_program(engine, name):
    prog, mem = load(name)
    assert bpfjit.compile(prog, engine)(mem or None) == REFERENCES[name](mem)


def test_checksum_of_odd_length(engine):
    prog, mem = load("checksum")
    assert bpfjit.compile(prog, engine)(mem[:7]) == internet_checksum(mem[:7])
