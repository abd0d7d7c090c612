"""One map helper call whose map is of another kind on each path: clang merges
`v4 ? lookup(&v4_trie, &k4) : lookup(&v6_trie, &k6)` into one call (userspace-xdp's
ACL program: an IPv4 trie of 8-byte keys and an IPv6 one of 20), and the JITs did
such a call through Python (2.2 µs a packet there; 37 ns in the kernel) since their
native routines served one kind of map per call.  Now the engine picks the kind's
routine from r1's map at run time.

The program: byte 0 of the buffer picks map 0 (a hash map), 1 (an LPM trie) or 2 (an
LRU hash), all of 8-byte keys and u32 values; bytes 4-11 are the key; r0 = the value
found or NONE.  Results worked out by hand from the entries stored."""

from __future__ import annotations

import struct

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import HashMap, LpmTrieMap, LruHashMap, MapSpec, MapTable

NONE = 0xDEAD
# r1 = map 0, 1 or 2 as byte 0 says, the 8-byte key at fp-8 (from bytes 4-11)
CHOOSE = """
    ldxb %r6, [%r1+0]
    ldxw %r3, [%r1+4]
    stxw [%r10-8], %r3
    ldxw %r3, [%r1+8]
    stxw [%r10-4], %r3
    lddw %r1, map_by_fd(0)
    jeq %r6, 0, chosen
    lddw %r1, map_by_fd(1)
    jeq %r6, 1, chosen
    lddw %r1, map_by_fd(2)
chosen:
    mov %r2, %r10
    add %r2, -8
"""
TEXT = CHOOSE + f"""
    call 1
    jeq %r0, 0, miss
    ldxw %r0, [%r0+0]
    exit
miss:
    mov %r0, {NONE}
    exit
"""
KEY = bytes([1, 2, 3, 4, 5, 6, 7, 8])
ROUTE = struct.pack("<I", 8) + bytes([10, 0, 0, 0])        # 10.0.0.0/8


def program() -> bpfjit.Program:
    table = HashMap(MapSpec("flows", 1, 8, 4, 64))
    trie = LpmTrieMap(MapSpec("routes", 11, 8, 4, 64, 1))
    recent = LruHashMap(MapSpec("recent", 9, 8, 4, 64))
    table[KEY] = struct.pack("<I", 111)
    trie[ROUTE] = struct.pack("<I", 222)
    recent[KEY] = struct.pack("<I", 333)
    return bpfjit.Program(bpfjit.assemble(TEXT).insns,
                          env=KernelEnv(MapTable([table, trie, recent])))


def buffer(which: int, key: bytes) -> bytes:
    return bytes([which, 0, 0, 0]) + key


CASES = [
    (0, KEY, 111), (0, bytes(8), NONE),                                 # the hash map
    (1, struct.pack("<I", 32) + bytes([10, 9, 8, 7]), 222),             # in 10.0.0.0/8
    (1, struct.pack("<I", 32) + bytes([11, 0, 0, 1]), NONE),
    (2, KEY, 333), (2, bytes([9]) * 8, NONE),                           # the LRU hash
]


def test_every_engine_finds_each_map_s_entries(engine, monkeypatch):
    if engine != "interp":                       # the JITs must not ask Python
        def refuse(*args):
            raise AssertionError("a lookup went through Python")
        for kind in (HashMap, LpmTrieMap, LruHashMap):
            monkeypatch.setattr(kind, "lookup_slot", refuse)
    fn = bpfjit.compile(program(), engine, cache=False)
    for which, key, result in CASES:
        assert fn(buffer(which, key)) == result, (which, key.hex())


# r0 = map_update_elem(that map, the key, 1234, BPF_ANY)
UPDATE = CHOOSE + """
    stw [%r10-12], 1234
    mov %r3, %r10
    add %r3, -12
    mov %r4, 0
    call 2
    exit
"""


@pytest.mark.parametrize("speculation", ["checks", "off"])
def test_an_update_goes_to_the_map_of_its_path(engine, speculation, monkeypatch):
    if engine == "interp" and speculation == "off":
        pytest.skip("the interpreter has no speculation masks")
    prog = program()
    prog = bpfjit.Program(bpfjit.assemble(UPDATE).insns, env=prog.env)
    if engine != "interp":
        def refuse(*args):
            raise AssertionError("an update went through Python")
        for kind in (HashMap, LpmTrieMap, LruHashMap):
            monkeypatch.setattr(kind, "update", refuse)
    options = {} if engine == "interp" else {"speculation": speculation}
    fn = bpfjit.compile(prog, engine, cache=False, **options)
    new_key = bytes([8, 7, 6, 5, 4, 3, 2, 1])
    route = struct.pack("<I", 16) + bytes([192, 168, 0, 0])
    for which, key in [(0, new_key), (1, route), (2, new_key)]:
        assert fn(buffer(which, key)) == 0
    flows, routes, recent = (prog.maps[name] for name in ("flows", "routes", "recent"))
    assert flows[new_key] == struct.pack("<I", 1234)
    assert routes[route] == struct.pack("<I", 1234)
    assert recent[new_key] == struct.pack("<I", 1234)
    assert len(flows) == 2 and len(recent) == 2 and len(routes) == 2
