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
    prog = bpfjit.load_elf(Path(__file__).parent / "elf" / "lpm_route.o", function="route")
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


# ---- updates and deletes from programs ------------------------------------------------------

UPDATE, DELETE, LOOKUP = 1, 2, 3
EINVAL, ENOENT, EEXIST, ENOSPC = 22, 2, 17, 28


def operation_program(key_size: int, max_entries: int) -> bpfjit.Program:
    """One map operation per run, read from the buffer: u32 op (1 update, 2 delete,
    3 lookup), u32 flags, the key, then a u32 value; r0 = the helper's result (an
    update's or a delete's errno as u64) or the value found (NONE on a miss)."""
    lines = ["mov %r6, %r1"]
    for at in range(0, key_size, 4):
        lines += [f"ldxw %r3, [%r6+{8 + at}]", f"stxw [%r10-{key_size - at}], %r3"]
    lines += [f"ldxw %r3, [%r6+{8 + key_size}]", f"stxw [%r10-{key_size + 4}], %r3",
              "ldxw %r7, [%r6+0]", "ldxw %r4, [%r6+4]",
              "lddw %r1, map_by_fd(0)", "mov %r2, %r10", f"add %r2, -{key_size}",
              f"jeq %r7, {UPDATE}, update", f"jeq %r7, {DELETE}, delete",
              "call 1", "jeq %r0, 0, miss", "ldxw %r0, [%r0+0]", "exit",
              "miss:", f"mov %r0, {NONE}", "exit",
              "update:", "mov %r3, %r10", f"add %r3, -{key_size + 4}", "call 2", "exit",
              "delete:", "call 3", "exit"]
    trie = LpmTrieMap(MapSpec("routes", 11, key_size, 4, max_entries, 1))
    return bpfjit.Program(bpfjit.assemble("\n".join(lines)).insns,
                          env=KernelEnv(MapTable([trie])))


class TrieModel:
    """What the kernel's LPM trie does, written from its documented behaviour: prefixes
    (length, data masked to it) holding the key as last given and a value."""

    def __init__(self, width: int, max_entries: int):
        self.width, self.max_entries, self.entries = width, max_entries, {}

    def prefix(self, length: int, data: bytes) -> tuple[int, int]:
        address = int.from_bytes(data, "big")
        return length, address >> (self.width - length) << (self.width - length)

    def update(self, flags: int, length: int, data: bytes, key: bytes, value: int) -> int:
        if flags > 2 or length > self.width:
            return -EINVAL
        prefix = self.prefix(length, data)
        if prefix in self.entries and flags == 1:
            return -EEXIST
        if prefix not in self.entries:
            if flags == 2:
                return -ENOENT
            if len(self.entries) == self.max_entries:
                return -ENOSPC
        self.entries[prefix] = (key, value)
        return 0

    def delete(self, length: int, data: bytes) -> int:
        if length > self.width:
            return -EINVAL
        return 0 if self.entries.pop(self.prefix(length, data), None) is not None else -ENOENT

    def lookup(self, length: int, data: bytes) -> int:
        return naive_longest({p: v for p, (_, v) in self.entries.items()}, self.width,
                             length, data)


@pytest.mark.parametrize("data_size", [4, 16])
def test_program_updates_and_deletes_agree_with_the_model(engine, data_size, monkeypatch):
    rng = random.Random(100 + data_size)
    width, max_entries = 8 * data_size, 8
    key_size = 4 + data_size
    prog = operation_program(key_size, max_entries)
    trie = prog.maps["routes"]
    if engine != "interp":                       # the JITs must not ask Python
        def refuse(*args, **kwargs):
            raise AssertionError("an LPM operation went through Python")
        for method in ("lookup_slot", "update", "delete"):
            monkeypatch.setattr(LpmTrieMap, method, refuse)
    fn = bpfjit.compile(prog, engine, cache=False)
    model = TrieModel(width, max_entries)
    base = rng.getrandbits(width)
    lengths = [0, 1, 7, 8, 9, width // 2, width - 1, width, width + 1, 2**32 - 1]
    for step in range(900):
        op = rng.choice([UPDATE] * 4 + [DELETE] * 2 + [LOOKUP] * 2)
        flags = rng.choice([0, 0, 0, 1, 2, 3]) if op == UPDATE else 0
        length = rng.choice(lengths + [rng.randrange(width + 1)] * 4)
        # addresses near one base, so that prefixes nest and repeat with other low bits
        address = base ^ (rng.getrandbits(width) >> rng.randrange(width + 1))
        if op != LOOKUP and model.entries and rng.random() < (0.5 if op == DELETE else 0.2):
            # a stored prefix, its bits past the prefix changed
            length, prefix = rng.choice(sorted(model.entries))
            address = prefix | rng.getrandbits(width) >> length if length < width else prefix
        data = address.to_bytes(data_size, "big")
        key = struct.pack("<I", length) + data
        value = step + 1
        record = struct.pack("<II", op, flags) + key + struct.pack("<I", value)
        got = fn(record)
        if op == UPDATE:
            want = model.update(flags, length, data, key, value) & (2**64 - 1)
        elif op == DELETE:
            want = model.delete(length, data) & (2**64 - 1)
        else:
            want = model.lookup(length, data)
        assert got == want, (step, op, flags, length, data.hex())
    monkeypatch.undo()
    # Python sees what the program did: the keys as last given, their values, the count,
    # and its own longest-prefix lookups
    assert len(trie) == len(model.entries) > 0, (len(trie), len(model.entries))
    assert sorted(trie) == sorted(key for key, _ in model.entries.values())
    for key, value in model.entries.values():
        assert trie[key] == struct.pack("<I", value)
    for _ in range(200):
        length = rng.choice([width, rng.randrange(width + 1)])
        data = (base ^ (rng.getrandbits(width) >> rng.randrange(width + 1))).to_bytes(
            data_size, "big")
        slot = trie.lookup_slot(struct.pack("<I", length) + data)
        found = NONE if slot is None else int.from_bytes(trie.slot_bytes(slot), "little")
        assert found == model.lookup(length, data)


def test_python_and_program_changes_interleave(engine):
    """A prefix Python adds is found by the program and one the program adds by Python;
    a delete on either side is seen by the other."""
    prog = operation_program(8, 8)
    trie, fn = prog.maps["routes"], bpfjit.compile(prog, engine, cache=False)

    def record(op, bits, address, value=0, flags=0):
        return struct.pack("<II", op, flags) + struct.pack("<I", bits) + bytes(address) + \
            struct.pack("<I", value)
    trie[struct.pack("<I", 8) + bytes((10, 0, 0, 0))] = 1                 # Python: 10/8
    assert fn(record(LOOKUP, 32, (10, 1, 2, 3))) == 1
    assert fn(record(UPDATE, 16, (10, 1, 77, 77), 2)) == 0                 # program: 10.1/16
    assert trie.lookup_slot(struct.pack("<I", 32) + bytes((10, 1, 2, 3))) is not None
    assert trie[struct.pack("<I", 16) + bytes((10, 1, 0, 0))] == struct.pack("<I", 2)
    assert sorted(trie) == sorted([struct.pack("<I", 8) + bytes((10, 0, 0, 0)),
                                   struct.pack("<I", 16) + bytes((10, 1, 77, 77))])
    del trie[struct.pack("<I", 16) + bytes((10, 1, 0, 0))]                 # Python deletes
    assert fn(record(LOOKUP, 32, (10, 1, 2, 3))) == 1
    assert fn(record(DELETE, 8, (10, 9, 9, 9))) == 0                       # program deletes
    assert fn(record(LOOKUP, 32, (10, 1, 2, 3))) == NONE
    assert len(trie) == 0 and list(trie) == []
    assert trie.lookup_slot(struct.pack("<I", 32) + bytes((10, 1, 2, 3))) is None


def test_a_clang_built_program_changes_its_trie(engine):
    """tests/elf/lpm_route.c's `learn`: one update, delete or lookup per packet, on a
    trie of at most 8 prefixes.  (The running kernel returned the same results for a
    220-packet sequence of all of these, and held the same keys afterwards, through
    bpftool prog run.)"""
    from pathlib import Path
    prog = bpfjit.load_elf(Path(__file__).parent / "elf" / "lpm_route.o", function="learn")
    fn = bpfjit.compile(prog, engine)

    def run(op, bits, address, value=0, flags=0):
        packet = struct.pack("<BBBB4sI", op, flags, bits, 0, bytes(address), value)
        result = fn(bpfjit.XdpContext(packet + bytes(52))) & 0xFFFF_FFFF
        return result - 2**32 if result >= 2**31 else result
    assert run(UPDATE, 8, (10, 0, 0, 0), 1) == 0
    assert run(LOOKUP, 0, (10, 1, 2, 3)) == 1
    assert run(UPDATE, 16, (10, 1, 77, 77), 2, flags=1) == 0           # BPF_NOEXIST
    assert run(UPDATE, 16, (10, 1, 9, 9), 3, flags=1) == -EEXIST       # same /16
    assert run(UPDATE, 24, (10, 1, 2, 0), 4, flags=2) == -ENOENT       # BPF_EXIST
    assert run(UPDATE, 33, (10, 1, 2, 0), 4) == -EINVAL                # longer than 32
    assert run(UPDATE, 24, (10, 1, 2, 0), 4, flags=3) == -EINVAL       # no such flag
    assert run(LOOKUP, 0, (10, 1, 2, 3)) == 2
    assert sorted(prog.maps["learned"]) == [struct.pack("<I", 8) + bytes((10, 0, 0, 0)),
                                            struct.pack("<I", 16) + bytes((10, 1, 77, 77))]
    assert run(DELETE, 16, (10, 1, 0, 0)) == 0
    assert run(DELETE, 16, (10, 1, 0, 0)) == -ENOENT
    assert run(LOOKUP, 0, (10, 1, 2, 3)) == 1
    assert [run(UPDATE, 32, (192, 168, 0, n), n) for n in range(7)] == [0] * 7   # 8 held
    assert run(UPDATE, 32, (192, 168, 0, 7), 7) == -ENOSPC
    assert run(LOOKUP, 0, (192, 168, 0, 6)) == 6
    assert run(LOOKUP, 0, (11, 0, 0, 0)) == 99


# the kernel's rules for an LPM trie (trie_alloc): map_flags with BPF_F_NO_PREALLOC,
# keys of a u32 prefix length and 1 to 256 data bytes, values of at least one byte
@pytest.mark.parametrize("key_size, value_size, flags, accepted", [
    (8, 4, 1, True),
    (5, 1, 1, True),
    (260, 4, 1, True),
    (8, 4, 0, False),          # preallocated: refused (NLnet Labs' RRL filter declares one)
    (4, 4, 1, False),          # no data byte
    (261, 4, 1, False),        # 257 data bytes
    (8, 0, 1, False),
])
def test_lpm_tries_are_made_as_the_kernel_makes_them(key_size, value_size, flags, accepted):
    spec = MapSpec("routes", 11, key_size, value_size, 16, flags)
    if accepted:
        assert len(LpmTrieMap(spec)) == 0
    else:
        with pytest.raises(bpfjit.BpfError, match="LPM trie 'routes'"):
            LpmTrieMap(spec)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        if accepted:
            bpfsys.close(bpfsys.map_create(11, key_size, value_size, 16, flags=flags))
        else:
            with pytest.raises(bpfjit.BpfError, match="Invalid argument"):
                bpfsys.map_create(11, key_size, value_size, 16, flags=flags)
