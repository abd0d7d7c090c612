"""The shipped benchmark programs compute what an independent Python version computes.

The programs are clang-compiled C (bench/c/*.c -> bench/programs/*.bin) and one
hand-written assembly kernel; each runs on every engine with its shipped input.
"""

import math
import struct
import zlib
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


def firewall(data: bytes) -> int:
    """First-match rules over extracted header fields (see bench/c/firewall.c)."""
    count = min(int.from_bytes(data[:4], "little"), 32)
    table = 4 + 32 * count
    rules = [struct.unpack_from("<IIIIHHHHBBBBI", data, 4 + 32 * i) for i in range(count)]
    verdicts, trail = [0, 0, 0, 0], 0
    for off in range(table, len(data) - 63, 64):
        p = data[off:off + 64]
        kind, at = p[12:14], 14
        if kind == b"\x81\x00":
            kind, at = p[16:18], 18
        ihl = (p[at] & 15) * 4
        if kind != b"\x08\x00" or ihl < 20:
            verdicts[3] += 1
            continue
        ttl, proto = p[at + 8], p[at + 9]
        src, dst = struct.unpack_from(">II", p, at + 12)
        fragment = int.from_bytes(p[at + 6:at + 8], "big") & 0x3FFF
        l4 = at + ihl
        sport = dport = flags = 0
        if not fragment and proto in (6, 17):
            sport, dport = struct.unpack_from(">HH", p, l4)
            flags = p[l4 + 13] if proto == 6 else 0
        action = 0
        for i, (rsrc, smask, rdst, dmask, slo, shi, dlo, dhi, rproto, fset, fclear, min_ttl,
                raction) in enumerate(rules):
            if (src & smask == rsrc and dst & dmask == rdst and rproto in (0, proto)
                    and slo <= sport <= shi and dlo <= dport <= dhi
                    and flags & fset == fset and not flags & fclear and ttl >= min_ttl):
                action = raction & 3
                trail = (trail * 31 + i) & M64
                break
        verdicts[action] += 1
    return (trail ^ verdicts[0] ^ verdicts[1] << 16 ^ verdicts[2] << 32 ^ verdicts[3] << 48) & M64


def tlv(data: bytes) -> int:
    words = high = varints = records = skipped = 0
    at = 0
    while at + 2 <= len(data):
        kind, length = data[at] & 3, data[at + 1]
        value = data[at + 2:at + 2 + length]
        if len(value) < length:
            break
        if kind == 0:
            words += sum(w & 0x7FFFFFFF for w in struct.unpack_from(f"<{length // 4}I", value))
        elif kind == 1:
            high += sum(b >> 7 for b in value)
        elif kind == 2:
            v = shift = 0
            for b in value:
                if shift >= 64:
                    break
                v |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    varints += v
                    v = shift = 0
        else:
            skipped += length
        records += 1
        at += 2 + length
    return (words + (high << 20) + (varints << 8) + (records << 40) + skipped) & M64


def tokenize(data: bytes) -> int:
    """Requests, headers, the sum of Content-Length values and errors of an HTTP stream."""
    requests = headers = content = errors = 0
    state, name, number = "method", b"", 0
    for c in data:
        ch = bytes([c])
        if state == "number":
            if ch.isdigit():
                number = number * 10 + c - 48
                continue
            content += number
            state = "value"
        if state == "method":
            if ch == b" ":
                state = "target"
            elif not b"A" <= ch <= b"Z":
                errors, state = errors + 1, "line end"
        elif state == "target":
            if ch == b" ":
                state = "version"
            elif c <= 32 or c >= 127:
                errors, state = errors + 1, "line end"
        elif state == "version":
            if ch in b"\r\n":
                requests += 1
                state = "name" if ch == b"\n" else "line end"
        elif state == "line end":
            state = "name" if ch == b"\n" else state
        elif state == "name":
            if ch == b":":
                headers, state = headers + 1, "value start"
            elif ch in b"\r\n":
                state = "method" if ch == b"\n" else "header end"
            else:
                name += ch.lower()
        elif state == "value start":
            if ch in b" \t":
                continue
            state = "value"
            if name == b"content-length" and ch.isdigit():
                state, number = "number", c - 48
            elif ch == b"\n":
                state, name = "name", b""
        elif state == "value":
            if ch == b"\n":
                state, name = "name", b""
        elif state == "header end":
            state = "method"
    return (requests | headers << 16 | content << 32 | errors << 56) & M64


def modexp(data: bytes) -> int:
    acc = 0
    for off in range(0, len(data) - 15, 16):
        base, exp, mod, other = struct.unpack_from("<4I", data, off)
        r = pow(base, exp & 0xFFFF, mod | 1)
        acc = (acc * 1000003 + r + math.gcd(r, other)) & M64
    return acc


REFERENCES = {
    "checksum": internet_checksum, "fnv1a": fnv1a, "sort": sorted_weighted,
    "sieve": lambda _: primes_below(2048), "parser": parse_packets, "state": http_requests,
    "calls": calls, "histogram": histogram, "xorshift": xorshift_sum,
    "crc32": zlib.crc32, "firewall": firewall, "tlv": tlv, "tokenizer": tokenize,
    "modexp": modexp,
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
