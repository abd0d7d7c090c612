"""LPM trie lookups in native code (bpfjit.backends.lpmops): the JIT engines look up
without Python and find what a naive longest-prefix search over the stored prefixes
finds, for IPv4 and IPv6 keys, prefixes of every length from 0 to the key's width,
keys asking for fewer bits than the trie holds (or more: clamped), and after deletes."""

import random
import struct

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import LpmTrieMap, MapSpec, MapTable
from bpfjit.maps.lpm import normalized_key

NONE = 0xDEAD                                       # what the program returns on a miss


def lookup_program(key_size: int) -> bpfjit.Program:
    """Copy a key_size-byte key from the buffer to the stack; r0 = the u32 value found
    in map 0, or NONE."""
    lines = []
    for at in range(0, key_size, 4):
        lines += [f"ldxw %r3, [%r1+{at}]", f"stxw [%r10-{key_size - at}], %r3"]
    lines += ["lddw %r1, map_by_fd(0)", "mov %r2, %r10", f"add %r2, -{key_size}", "call 1",
              "jeq %r0, 0, miss", "ldxw %r0, [%r0+0]", "exit", "miss:",
              f"mov %r0, {NONE}", "exit"]
    trie = LpmTrieMap(MapSpec("routes", 11, key_size, 4, 512, 1))
    return bpfjit.Program(bpfjit.assemble("\n".join(lines)).insns,
                          env=KernelEnv(MapTable([trie])))


def naive_longest(stored: dict, width: int, length: int, data: bytes):
    """The value of the longest stored prefix (bits, data) matching data's first
    min(length, width) bits: every stored prefix compared bit by bit."""
    wanted = min(length, width)
    address = int.from_bytes(data, "big")
    best = None
    for (bits, prefix), value in stored.items():
        if bits <= wanted and (bits == 0 or address >> (width - bits) == prefix >> (width - bits)):
            if best is None or bits > best[0]:
                best = (bits, value)
    return NONE if best is None else best[1]


@pytest.mark.parametrize("data_size", [4, 16])
def test_native_lookups_find_the_longest_prefix(engine, data_size, monkeypatch):
    rng = random.Random(data_size)
    width = 8 * data_size
    prog = lookup_program(4 + data_size)
    trie = prog.maps["routes"]
    stored = {}
    base = rng.getrandbits(width)
    lengths = [0, 1, 7, 8, 9, width // 2, width - 1, width] + rng.sample(range(width + 1), 6)
    for n, bits in enumerate(lengths * 4):
        # prefixes near one address, so that many of them nest
        address = base ^ (rng.getrandbits(width) >> rng.randrange(width + 1))
        data = address.to_bytes(data_size, "big")
        trie[struct.pack("<I", bits) + data] = n + 1
        masked = address >> (width - bits) << (width - bits) if bits else 0
        stored[bits, masked] = n + 1
    for bits, masked in rng.sample(sorted(stored), 10):       # and some deleted again
        del trie[normalized_key(bits, masked.to_bytes(data_size, "big"))]
        del stored[bits, masked]
    if engine != "interp":                       # the JITs must not ask Python
        def refuse(*args):
            raise AssertionError("an LPM lookup went through Python")
        monkeypatch.setattr(LpmTrieMap, "lookup_slot", refuse)
    fn = bpfjit.compile(prog, engine, cache=False)
    for _ in range(300):
        address = base ^ (rng.getrandbits(width) >> rng.randrange(width + 1))
        length = rng.choice([width, width, rng.randrange(width + 1), width + 5, 2**32 - 1])
        data = address.to_bytes(data_size, "big")
        key = struct.pack("<I", length) + data
        assert fn(key) == naive_longest(stored, width, length, data), (length, data.hex())


def test_an_empty_trie_misses(engine):
    assert bpfjit.compile(lookup_program(8), engine)(struct.pack("<I", 32) + bytes(4)) == NONE


def test_normalized_keys_clear_the_bits_past_the_prefix():
    # /12 of 172.31.255.255: 172 = 0xac, 31 = 0x1f -> the top 4 bits of the second byte
    assert normalized_key(12, bytes([172, 31, 255, 255])) == \
        struct.pack("<I", 12) + bytes([172, 0x10, 0, 0])
    assert normalized_key(0, b"\xff\xff") == bytes(4) + b"\0\0"
    assert normalized_key(16, b"\xab\xcd") == struct.pack("<I", 16) + b"\xab\xcd"


def test_a_clang_built_route_lookup(engine):
    """tests/elf/lpm_route.c: routes added from Python, packets whose first four bytes
    are the address.  (The running kernel returns the same seven values for the same
    routes and packets, through bpftool prog run.)"""
    from pathlib import Path
    prog = bpfjit.load_elf(Path(__file__).parent / "elf" / "lpm_route.o")
    routes = prog.maps["routes"]
    for bits, address, value in [(8, (10, 0, 0, 0), 1), (16, (10, 1, 0, 0), 2),
                                 (24, (10, 1, 2, 0), 3), (0, (0, 0, 0, 0), 9),
                                 (32, (10, 1, 2, 3), 4), (12, (172, 16, 0, 0), 5)]:
        routes[struct.pack("<I", bits) + bytes(address)] = value
    fn = bpfjit.compile(prog, engine)
    packets = [(10, 1, 2, 3), (10, 1, 2, 4), (10, 1, 9, 9), (10, 200, 0, 1), (192, 168, 0, 1),
               (172, 31, 0, 1), (172, 32, 0, 1)]
    # /32, /24, /16, /8, the default route, 172.16.0.0/12 (172.16-172.31), default
    assert [fn(bytes(p) + bytes(60)) for p in packets] == [4, 3, 2, 1, 9, 5, 9]
    assert fn(bytes(3)) == 98                          # too short for an address
