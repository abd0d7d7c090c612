"""Hash maps in native code: the map's native index (bpfjit.maps.hashindex), the lookup,
update and delete the JITs run (backends/mapops.py), and programs using them on every
engine.  Expected values come from a dict model kept by the test."""

import errno
import random
import struct
from collections import OrderedDict
from pathlib import Path

import pytest

import bpfjit
from bpfjit.backends.mapops import routine_image, routine_symbol
from bpfjit.maps import MapError, MapSpec, make_map
from bpfjit.maps.hashindex import HashIndex
from bpfjit.native import ffi

OBJECT = Path(__file__).parent / "elf" / "hash_probe.o"
MISS = 1000          # what the fixture adds for a key it does not find
M64 = (1 << 64) - 1


def test_a_fresh_index_hands_out_slots_in_order_and_every_one_once():
    # the free list starts full, slot 0 on top: keys get slots 0, 1, 2, ... until
    # max_entries, then the map is full; a deleted key's slot is the next one given
    index = HashIndex(key_size=4, value_size=8, max_entries=1000, values_address=0)
    slots = [index.update(struct.pack("<I", k), 0) for k in range(1000)]
    assert slots == list(range(1000))
    assert index.update(struct.pack("<I", 1000), 0) == -errno.E2BIG
    assert index.delete(struct.pack("<I", 517)) == 517
    assert index.update(struct.pack("<I", 5000), 0) == 517


def test_index_agrees_with_a_dict_model():
    rng = random.Random(7)
    index = HashIndex(key_size=6, value_size=8, max_entries=40, values_address=0)
    model: dict[bytes, int] = {}
    universe = [rng.randbytes(6) for _ in range(120)]
    for _ in range(4000):
        key, flags = rng.choice(universe), rng.choice([0, 0, 1, 2])
        if rng.random() < 0.45:
            slot = index.delete(key)
            assert slot == model.pop(key, None)
            continue
        result = index.update(key, flags)
        if key in model:
            assert result == (-errno.EEXIST if flags == 1 else model[key])
        elif flags == 2:
            assert result == -errno.ENOENT
        elif len(model) == 40:
            assert result == -errno.E2BIG
        else:
            assert 0 <= result < 40 and result not in model.values()
            model[key] = result
        assert len(index) == len(model)
    for key in universe:
        assert index.find(key) == model.get(key)
    assert sorted(index) == sorted(model.items())


def _native(code, image, operation):
    """The routine for `operation` in `code` (the placed image: keep it referenced)."""
    return code.function(
        "uint64_t(*)(void *, void *, void *, uint64_t)" if operation == "update"
        else "uint64_t(*)(void *, void *)", image.symbols[routine_symbol(("hash",), operation)])


@pytest.mark.parametrize("lru", [False, True], ids=["hash", "lru"])
@pytest.mark.parametrize("key_size", [1, 3, 4, 7, 8, 13, 16, 21])
def test_native_routines_and_python_share_one_map(key_size, lru):
    # operations alternate at random between the native routines and Python's methods
    # on one map; both must always see the model the test keeps (for an LRU map, keys
    # oldest use first: lookups and updates are uses, a full map evicts the oldest)
    rng = random.Random(key_size)
    image = routine_image(("hash", key_size, lru))
    code = image.place()
    lookup, update, delete = (_native(code, image, op) for op in ("lookup", "update", "delete"))
    m = make_map(MapSpec("h", 9 if lru else 1, key_size, 16, 12))
    index = ffi.cast("void *", m.index.address)
    model: OrderedDict[bytes, bytes] = OrderedDict()
    universe = [rng.randbytes(key_size) for _ in range(30)]
    for step in range(600):
        key, value = rng.choice(universe), rng.randbytes(16)
        flags = rng.choice([0, 1, 2, 5])
        native = step % 3 != 0
        action = rng.random()
        if action < 0.3:
            expected = 0 if key in model else -errno.ENOENT
            model.pop(key, None)
            if native:
                assert delete(index, ffi.new("uint8_t[]", key)) == expected & M64
            elif expected:
                with pytest.raises(MapError):
                    m.delete(key)
            else:
                m.delete(key)
            continue
        if action < 0.5:
            if native:
                found = lookup(index, ffi.new("uint8_t[]", key))
                got = None if found == 0 else bytes(ffi.buffer(ffi.cast("uint8_t *", found), 16))
            else:
                got = m.get(key)
            assert got == model.get(key)
            if key in model:
                model.move_to_end(key)
            continue
        if flags == 5:
            expected = -errno.EINVAL
        elif key in model:
            expected = -errno.EEXIST if flags == 1 else 0
        elif flags == 2:
            expected = -errno.ENOENT
        elif len(model) == 12 and not lru:
            expected = -errno.E2BIG
        else:
            expected = 0
            if len(model) == 12:
                model.popitem(last=False)         # the least recently used goes
        if expected == 0:
            model[key] = value
            model.move_to_end(key)
        if native:
            got = update(index, ffi.new("uint8_t[]", key), ffi.new("uint8_t[]", value), flags)
            assert got == expected & M64
        elif expected:
            with pytest.raises(MapError) as error:
                m.update(key, value, flags)
            assert error.value.errno == -expected
        else:
            m.update(key, value, flags)
        # (reading every value from Python would count as uses: compare the index)
        assert sorted(key for key, _ in m.index) == sorted(model)
        if lru:
            assert [key for key, _ in m.index] == list(model)
    for key in universe:
        assert m.index.find(key) is None or m.slot_bytes(m.index.find(key)) == model[key]
    assert len(m) == len(model)


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


def _count_words_model(words, model, capacity=8):
    """What count_words returns, and does to `model` (key -> count)."""
    total = 0
    for w in words:
        if w & 0x80000000:
            total += 1 if model.pop(w & 0x7FFFFFFF, None) is not None else 1000
        elif w in model:
            model[w] += 1
            total += 3
        elif len(model) < capacity:
            model[w] = 1
            total += 1
        else:
            total += 7000
    return total


def test_programs_insert_count_and_delete_on_every_engine(engine):
    rng = random.Random(3)
    prog = bpfjit.load_elf(OBJECT, function="count_words")
    fn = bpfjit.compile(prog, engine)
    counts = prog.maps["counts"]
    model: dict[int, int] = {}
    counts[100] = 41                          # from Python first: the program sees it
    model[100] = 41
    for _ in range(12):
        words = [rng.choice([100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) | (
            0x80000000 if rng.random() < 0.3 else 0) for _ in range(32)]
        expected = _count_words_model(words, model)
        assert fn(bpfjit.XdpContext(struct.pack("<32I", *words))) == expected
        assert counts.ints() == model
    assert counts.ints().get(100) == model.get(100)
    counts.pop(100, None)                     # and from Python afterwards
    model.pop(100, None)
    words = [100, 100 | 0x80000000]
    assert fn(bpfjit.XdpContext(struct.pack("<2I", *words))) == \
        _count_words_model(words, model)
    assert counts.ints() == model


def test_lru_programs_keep_the_order_of_use_on_every_engine(engine):
    rng = random.Random(5)
    prog = bpfjit.load_elf(OBJECT, function="remember_words")
    fn = bpfjit.compile(prog, engine)
    model: OrderedDict[int, int] = OrderedDict()       # least recently used first
    for _ in range(10):
        words = [rng.randrange(7) for _ in range(32)]
        total = 0
        for w in words:
            if w in model:
                model.move_to_end(w)
                total += model[w]
            else:
                if len(model) == 4:
                    model.popitem(last=False)
                model[w] = 2 * w + 1
                total += 1000
        assert fn(bpfjit.XdpContext(struct.pack("<32I", *words))) == total
        recent = prog.maps["recent"]
        assert [int.from_bytes(key, "little") for key, _ in recent.index] == list(model)


def test_array_updates_and_deletes_on_every_engine(engine):
    # the kernel's order of checks: flags (EINVAL), index (E2BIG), BPF_NOEXIST (EEXIST)
    prog = bpfjit.load_elf(OBJECT, function="set_slots")
    fn = bpfjit.compile(prog, engine)
    rng = random.Random(9)
    model = [0] * 6
    words, total = [], 0
    for _ in range(16):
        key, flags, value = rng.choice([0, 1, 5, 6, 200]), rng.choice([0, 1, 2, 3]), \
            rng.randrange(1 << 16)
        words.append(key | flags << 8 | value << 16)
        if flags > 2:
            error = errno.EINVAL
        elif key >= 6:
            error = errno.E2BIG
        elif flags == 1:
            error = errno.EEXIST
        else:
            error, model[key] = 0, value
        total = (total * 31 + (-(-error) & M64)) & M64
    total = (total * 31 + errno.EINVAL) & M64          # the delete
    assert fn(bpfjit.XdpContext(struct.pack("<16I", *words))) == total & 0xFFFFFFFF
    assert [prog.maps["slots"].ints()[i] for i in range(6)] == model


def test_inner_lru_maps_chosen_at_run_time_on_every_engine(engine):
    # the map r1 holds at the update is one of two LRU maps (the verifier knows both):
    # the engines pick its index from the handle at run time, as katran's flow table does
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import ArrayOfMaps, MapTable
    inner = MapSpec("flows", 9, 4, 8, 2)
    outer = ArrayOfMaps(MapSpec("by_cpu", 12, 4, 4, 2, inner=inner))
    first, second = make_map(inner), make_map(MapSpec("spare", 9, 4, 8, 2))
    env = KernelEnv(MapTable([outer, first, second]))
    outer[0], outer[1] = first, second
    prog = bpfjit.Program(bpfjit.assemble("""
        mov %r6, %r1
        ldxb %r2, [%r6+0]
        stxw [%r10-4], %r2
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, none
        mov %r1, %r0
        ldxb %r2, [%r6+1]
        stxw [%r10-8], %r2
        ldxb %r3, [%r6+2]
        stxdw [%r10-16], %r3
        mov %r2, %r10
        add %r2, -8
        mov %r3, %r10
        add %r3, -16
        mov %r4, 0
        call 2
        exit
    none:
        mov %r0, 99
        exit
    """).insns, env=env)
    fn = bpfjit.compile(prog, engine)
    assert bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog)).map_calls[19] == (1, 2)
    models = [OrderedDict(), OrderedDict()]
    for table, key, value in [(0, 1, 10), (1, 1, 20), (0, 2, 30), (0, 3, 40), (1, 4, 50),
                              (0, 2, 31), (1, 5, 60), (1, 6, 70)]:
        assert fn(bytes([table, key, value])) == 0
        model = models[table]
        if key not in model and len(model) == 2:
            model.popitem(last=False)
        model[key] = value
        model.move_to_end(key)
    for m, model in zip((first, second), models):
        assert [int.from_bytes(k, "little") for k, _ in m.index] == list(model)
        assert {k: m.ints()[k] for k in model} == dict(model)
    assert fn(bytes([7, 1, 1])) == 99                   # no inner map in slot 7


@pytest.mark.parametrize("lru", [False, True], ids=["hash", "lru"])
@pytest.mark.parametrize("key_size", [1, 4, 8, 13])
def test_the_walk_visits_the_slots_holding_keys_in_order(key_size, lru):
    # bpf_for_each_map_elem walks a hash map's slots in order, those holding a key:
    # the native `next` routine, Map.next_slot (Python) and the model the test keeps of
    # which slot each key got agree after every random insert and delete
    rng = random.Random(100 + key_size)
    image = routine_image(("hash", key_size, lru))
    code = image.place()
    following = code.function("uint64_t(*)(void *, uint64_t)",
                               image.symbols[routine_symbol(("hash",), "next")])
    m = make_map(MapSpec("h", 9 if lru else 1, key_size, 8, 20))
    index = ffi.cast("void *", m.index.address)
    universe = [rng.randbytes(key_size) for _ in range(60)]
    for _ in range(300):
        key = rng.choice(universe)
        if rng.random() < 0.4 or (len(m) == 20 and key not in m and not lru):
            m.pop(key, None)                                # (a full hash map: delete)
        else:
            m[key] = 0
        used = sorted(m.index.find(k) for k in m)         # the slots holding keys
        for start in range(21):
            expected = next((s for s in used if s >= start), 20)
            assert m.next_slot(start) == expected
            assert following(index, start) == expected


@pytest.mark.parametrize("lru", [False, True], ids=["hash", "lru"])
def test_a_cleared_map_hands_out_slots_as_a_new_one(lru):
    m = make_map(MapSpec("h", 9 if lru else 1, 4, 8, 6))
    for key in (5, 9, 2, 7, 1, 3):
        m[key] = key
    for key in (9, 1, 5):
        del m[key]
    m[11] = 11
    m.clear()
    assert len(m) == 0 and list(m) == [] and m.index.find(struct.pack("<I", 2)) is None
    assert [m.index.update(struct.pack("<I", k), 0) for k in (40, 41, 42)] == [0, 1, 2]
    assert [m.next_slot(s) for s in range(7)] == [0, 1, 2, 6, 6, 6, 6]
    if lru:                                 # the order of use starts afresh too
        assert [key for key, _ in m.index] == [struct.pack("<I", k) for k in (40, 41, 42)]
