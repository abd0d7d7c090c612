"""Hash map lookups in native code: the map's native index (bpfjit.maps.hashindex), the
probe the JITs run (backends/hashlookup.py), and programs looking keys up on every
engine.  Expected values come from a dict model kept by the test."""

import random
import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.maps import MapSpec, make_map
from bpfjit.maps.hashindex import HashIndex
from bpfjit.native import ffi

OBJECT = Path(__file__).parent / "elf" / "hash_probe.o"
MISS = 1000          # what the fixture adds for a key it does not find


def test_index_agrees_with_a_dict_through_deletes_and_rebuilds():
    rng = random.Random(7)
    index = HashIndex(key_size=6, value_size=8, max_entries=40, values_address=0)
    model: dict[bytes, int] = {}
    free = list(range(40))
    universe = [rng.randbytes(6) for _ in range(120)]
    rebuilt = 0
    for _ in range(3000):
        key = rng.choice(universe)
        if key in model:
            index.remove(key)
            free.append(model.pop(key))
        elif free:
            slot = free.pop(rng.randrange(len(free)))
            before = index.used
            index.insert(key, slot)
            model[key] = slot
            rebuilt += index.used < before
        # the table never fills: a probe always meets an empty entry
        assert index.used * 4 <= index.size * 3
    assert rebuilt > 0                       # deletes left tombstones that were dropped
    for key in universe:
        assert index.find(key) == model.get(key)


@pytest.mark.parametrize("key_size", [1, 3, 4, 7, 8, 13, 16, 21])
def test_native_probe_finds_what_the_map_holds(key_size):
    from bpfjit.backends.hashlookup import ROUTINE, routine_image
    rng = random.Random(key_size)
    m = make_map(MapSpec("h", 1, key_size, 16, 50))
    keys = list(dict.fromkeys(rng.randbytes(key_size) for _ in range(70)))[:50]
    for i, key in enumerate(keys):
        m[key] = i
    for key in keys[::3]:
        del m[key]
    image = routine_image(key_size)
    code = image.place()
    probe = code.function("uint64_t(*)(void *, void *)", image.symbols[ROUTINE])
    for key in keys + [bytes(key_size), b"\xff" * key_size]:
        expected = 0
        if key in m:
            expected = m.address + m.lookup_slot(key) * 16        # the value's address
        assert probe(ffi.cast("void *", m.index.address), ffi.new("uint8_t[]", key)) == expected


def _words_program(engine):
    prog = bpfjit.load_elf(OBJECT, function="probe_words")
    return prog, bpfjit.compile(prog, engine)


def test_lookups_by_u32_key_on_every_engine(engine):
    rng = random.Random(11)
    prog, fn = _words_program(engine)
    small = prog.maps["small"]
    model = {}
    for _ in range(200):                     # inserts, overwrites and deletes
        key = rng.randrange(80)
        if key in model and rng.random() < 0.4:
            del small[key]
            del model[key]
        elif len(model) < 64 or key in model:
            model[key] = rng.randrange(1 << 40)
            small[key] = model[key]
    words = [rng.randrange(80) for _ in range(32)]
    expected = sum(model.get(w, MISS) for w in words) & 0xFFFFFFFF_FFFFFFFF
    assert fn(bpfjit.XdpContext(struct.pack("<32I", *words))) == expected & 0xFFFFFFFF


def test_lookups_by_13_byte_key_on_every_engine(engine):
    rng = random.Random(13)
    prog = bpfjit.load_elf(OBJECT, function="probe_records")
    fn = bpfjit.compile(prog, engine)
    odd = prog.maps["odd"]
    keys = [rng.randbytes(13) for _ in range(16)]
    present = {key: rng.randrange(1 << 20) for key in keys[:10]}
    for key, value in present.items():
        odd[key] = value
    # a key differing only in its last byte is another key
    keys[11] = keys[0][:12] + bytes([keys[0][12] ^ 1])
    del odd[keys[9]]
    present.pop(keys[9])
    expected = sum(present.get(key, MISS) for key in keys)
    assert fn(bpfjit.XdpContext(b"".join(keys))) == expected


def test_a_replaced_lookup_helper_is_called_instead(engine):
    calls = []

    def lookup(r1, r2, r3, r4, r5):
        calls.append(r1)
        return 0                              # never found: every word counts MISS

    prog = bpfjit.load_elf(OBJECT, function="probe_words")
    prog.maps["small"][1] = 5
    fn = bpfjit.compile(prog, engine, helpers={1: lookup})
    assert fn(bpfjit.XdpContext(struct.pack("<3I", 1, 1, 1))) == 3 * MISS
    assert len(calls) == 3
