"""Program arrays and tail calls, ring buffers and perf events, LPM tries, LRU hashes,
maps of maps, fib_lookup, csum_diff and Python helpers with declared arguments:
from clang-built fixtures and hand-written programs, on every engine."""

import errno
import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.maps import (ArrayOfMaps, HashOfMaps, LpmTrieMap, LruHashMap, MapError, MapSpec,
                         RingBuf, make_map)

ELF = Path(__file__).parent / "elf"
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX = 0, 1, 2, 3
ETH = b"\x02" * 12


def ipv4_frame(proto: int, src=(10, 0, 0, 1), dst=(10, 0, 0, 2), payload=b"x" * 8,
               ttl: int = 64) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, ttl, proto, 0,
                     bytes(src), bytes(dst))
    return ETH + b"\x08\x00" + ip + payload


def xdp_program(source: str, prog_from: str = "events") -> bpfjit.Program:
    """Hand-written XDP code with the maps (and kernel helpers) of a fixture."""
    env = bpfjit.load_elf(ELF / f"{prog_from}.o").env
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")


# ---- tail calls ---------------------------------------------------------------------------

def visits(prog) -> list[int]:
    return [v for _, v in sorted(prog.maps["visits"].ints().items())]


def test_tail_calls_follow_the_program_array(engine):
    prog = bpfjit.load_elf(ELF / "tail_calls.o", section="xdp", function="dispatch")
    fn = bpfjit.compile(prog, engine)
    # UDP: dispatch -> parse_ipv4 -> parse_udp, which drops it
    assert fn(ipv4_frame(17)) == XDP_DROP and visits(prog) == [1, 1, 1, 0]
    # TCP: dispatch -> parse_ipv4, which bounces it (XDP_TX)
    assert fn(ipv4_frame(6)) == XDP_TX and visits(prog) == [2, 2, 1, 0]
    # IPv6: slot 3 is empty, the tail call falls through to XDP_PASS
    assert fn(ETH + b"\x86\xdd" + bytes(40)) == XDP_PASS and visits(prog) == [3, 2, 1, 0]


def test_program_array_entries_can_change_from_python(engine):
    prog = bpfjit.load_elf(ELF / "tail_calls.o", section="xdp", function="dispatch")
    stages = prog.maps["stages"]
    stages[1] = "parse_udp"                 # a function of the object, by name
    fn = bpfjit.compile(prog, engine)
    assert fn(ipv4_frame(6)) == XDP_DROP and visits(prog) == [1, 0, 1, 0]
    del stages[1]
    assert fn(ipv4_frame(6)) == XDP_PASS and len(stages) == 1
    with pytest.raises(bpfjit.BpfError, match="a bpfjit.Program or the name"):
        stages[0] = 42


def test_tail_calls_stop_after_33(engine):
    # a program that tail-calls itself: the kernel allows 33 tail calls, then the call
    # falls through; each run counts itself, so 34 runs are counted and the innermost
    # returns its count
    source = """
        mov %r6, %r1
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_by_fd(0)
        call 1
        jeq %r0, 0, out
        mov %r1, 1
        lock add [%r0+0], %r1
        mov %r1, %r6
        lddw %r2, map_by_fd(1)
        mov %r3, 0
        call 12
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_by_fd(0)
        call 1
        jeq %r0, 0, out
        ldxdw %r0, [%r0+0]
        exit
    out:
        mov %r0, 0
        exit
    """
    counter = make_map(MapSpec("count", 2, 4, 8, 1))
    table = make_map(MapSpec("table", 3, 4, 4, 1))
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable
    env = KernelEnv(MapTable([counter, table]))
    prog = bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")
    table[0] = prog
    assert bpfjit.compile(prog, engine)(bytes(20)) == 34
    assert counter.ints()[0] == 34


# ---- events ---------------------------------------------------------------------------------

def test_ring_buffer_and_perf_records(engine):
    prog = bpfjit.load_elf(ELF / "events.o")
    fn = bpfjit.compile(prog, engine)
    frame = ipv4_frame(17, src=(192, 168, 1, 2), dst=(10, 9, 8, 7), ttl=33)
    assert fn(frame) == XDP_PASS
    assert fn(ETH + b"\x08\x06" + bytes(28)) == XDP_PASS          # ARP: no records
    records = prog.maps["records"].drain()
    # struct record {saddr, daddr (as stored), u16 length (host order), u8 proto, u8 ttl}
    assert records == [bytes([192, 168, 1, 2, 10, 9, 8, 7]) + struct.pack("<HBB", 28, 17, 33),
                       struct.pack("<I", len(frame))]
    samples = prog.maps["samples"].drain()
    assert [(s.cpu, s.data) for s in samples] == [
        (0, bytes([192, 168, 1, 2, 10, 9, 8, 7]) + frame[:14])]
    assert prog.maps["records"].records == []


# r0 = how many 8-byte records bpf_ringbuf_output (130) wrote before one failed
FILL_RING = """
    stdw [%r10-8], 7
    mov %r6, 0
loop:
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -8
    mov %r3, 8
    mov %r4, 0
    call 130
    jne %r0, 0, full
    add %r6, 1
    jlt %r6, 1000, loop
full:
    mov %r0, %r6
    exit
"""


def test_a_full_ring_buffer_fails_until_drained(engine):
    # each output of 8 bytes takes 16 (an 8-byte header): 256 fit in 4096 bytes
    prog = xdp_program(FILL_RING)
    fn = bpfjit.compile(prog, engine)
    assert fn(bytes(20)) == 256
    assert fn(bytes(20)) == 0
    assert len(prog.maps["records"].drain()) == 256
    assert fn(bytes(20)) == 256


def test_records_taken_from_the_list_make_room(engine):
    # reading records straight off `.records` frees their room, as drain() does: 256
    # fit; with 10 taken, 10 more; with all taken, 256 again
    prog = xdp_program(FILL_RING)
    fn = bpfjit.compile(prog, engine)
    records = prog.maps["records"]
    assert fn(bytes(20)) == 256
    del records.records[:10]
    assert fn(bytes(20)) == 10
    records.records.clear()
    assert fn(bytes(20)) == 256 and len(records) == 256


def test_ringbuf_map_checks_its_size():
    with pytest.raises(bpfjit.BpfError, match="power of 2 and a multiple of 4096"):
        make_map(MapSpec("rb", 27, 0, 0, 5000))
    rb = make_map(MapSpec("rb", 27, 0, 0, 4096))
    assert isinstance(rb, RingBuf) and rb.reserve(4089) is None and rb.reserve(8) == 0
    with pytest.raises(MapError):
        rb[0] = 1


# ---- LPM tries, LRU hashes, maps of maps ------------------------------------------------------

def lpm_key(prefix: int, address: tuple[int, ...]) -> bytes:
    return struct.pack("<I", prefix) + bytes(address)


def test_lpm_trie_finds_the_longest_prefix():
    routes = LpmTrieMap(MapSpec("routes", 11, 8, 4, 16, 1))
    routes[lpm_key(8, (10, 0, 0, 0))] = 1
    routes[lpm_key(16, (10, 1, 0, 0))] = 2
    routes[lpm_key(24, (10, 1, 2, 0))] = 3
    routes[lpm_key(0, (0, 0, 0, 0))] = 9                   # the default route

    def match(*address):
        slot = routes.lookup_slot(lpm_key(32, address))
        return int.from_bytes(routes.slot_bytes(slot), "little")
    assert [match(10, 1, 2, 3), match(10, 1, 9, 9), match(10, 200, 0, 1),
            match(192, 168, 0, 1)] == [3, 2, 1, 9]
    del routes[lpm_key(24, (10, 1, 2, 0))]
    assert match(10, 1, 2, 3) == 2 and len(routes) == 3
    with pytest.raises(MapError) as err:
        routes[lpm_key(33, (1, 2, 3, 4))] = 1
    assert err.value.errno == errno.EINVAL


def test_lpm_trie_lookups_from_a_program(engine):
    # key on the stack: prefixlen 32, the packet's first four bytes as the address
    prog = bpfjit.Program(bpfjit.assemble("""
        stw [%r10-8], 32
        ldxw %r2, [%r1+0]
        stxw [%r10-4], %r2
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -8
        call 1
        jeq %r0, 0, none
        ldxw %r0, [%r0+0]
        exit
    none:
        mov %r0, 99
        exit
    """).insns, env=_env(LpmTrieMap(MapSpec("routes", 11, 8, 4, 16, 1))))
    routes = prog.maps["routes"]
    routes[lpm_key(12, (172, 16, 0, 0))] = 12
    routes[lpm_key(24, (172, 16, 5, 0))] = 24
    fn = bpfjit.compile(prog, engine)
    assert [fn(bytes(a)) for a in ((172, 16, 5, 1), (172, 31, 0, 1), (172, 32, 0, 1))] == \
        [24, 12, 99]


def _env(*maps):
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable
    return KernelEnv(MapTable(list(maps)))


def test_lru_hash_evicts_the_least_recently_used():
    lru = LruHashMap(MapSpec("lru", 9, 4, 4, 3))
    for k in (1, 2, 3):
        lru[k] = k * 10
    assert lru.lookup_slot(lru.key(1)) is not None          # 1 is now the most recent
    lru[4] = 40                                              # evicts 2, the oldest
    assert sorted(lru.ints()) == [1, 3, 4]
    lru[3] = 31                                              # an update counts as a use
    lru[5] = 50                                              # evicts 1
    assert lru.ints() == {3: 31, 4: 40, 5: 50}


def test_array_of_maps_gives_programs_the_inner_map(engine):
    inner_spec = MapSpec("counts", 2, 4, 8, 2)
    outer = ArrayOfMaps(MapSpec("by_queue", 12, 4, 4, 2, inner=inner_spec))
    first, second = make_map(inner_spec), make_map(MapSpec("other", 2, 4, 8, 2))
    unfit = make_map(MapSpec("hashed", 1, 4, 8, 2))
    env = _env(outer, first, second, unfit)
    outer[0], outer[1] = first, "other"
    # look up the inner map of slot (byte 0 of the buffer), then add 5 to its element 1
    prog = bpfjit.Program(bpfjit.assemble("""
        ldxb %r2, [%r1+0]
        stxw [%r10-4], %r2
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        jeq %r0, 0, none
        stw [%r10-8], 1
        mov %r1, %r0
        mov %r2, %r10
        add %r2, -8
        call 1
        jeq %r0, 0, none
        mov %r1, 5
        lock add [%r0+0], %r1
        mov %r0, 1
        exit
    none:
        mov %r0, 0
        exit
    """).insns, env=env)
    fn = bpfjit.compile(prog, engine)
    assert [fn(bytes([slot])) for slot in (0, 1, 1, 7)] == [1, 1, 1, 0]
    assert first.ints() == {0: 0, 1: 5} and second.ints() == {0: 0, 1: 10}
    with pytest.raises(MapError, match="'hashed' does not match the inner definition"):
        outer[0] = unfit
    with pytest.raises(bpfjit.BpfError, match="map of the same object"):
        outer[0] = make_map(inner_spec)                     # not in the program's table


@pytest.mark.parametrize("kind", ["array", "hash"])
def test_map_of_maps_lookups_stay_in_native_code(engine, kind, monkeypatch):
    """The JITs look maps of maps up without Python: an array of maps in line (its arena
    holds 1 + each entry's inner map index), a hash of maps through its native index
    (whose slots hold the same); and find what updates and deletes left."""
    inner_spec = MapSpec("counts", 2, 4, 8, 2)
    cls, key_size, keys = (ArrayOfMaps, 4, (0, 1, 2, 3)) if kind == "array" else \
        (HashOfMaps, 2, (80, 443, 8080, 0xFFFF))
    outer = cls(MapSpec("outer", 12 if kind == "array" else 13, key_size, 4, 4,
                        inner=inner_spec))
    first, second = make_map(inner_spec), make_map(MapSpec("other", 2, 4, 8, 2))
    env = _env(outer, first, second)
    load, store = ("ldxw", "stxw") if key_size == 4 else ("ldxh", "stxh")
    # r0 = 1 + the index of the inner map under the buffer's first bytes, 0 if none (a
    # handle's bits 16-31 are its map's index)
    prog = bpfjit.Program(bpfjit.assemble(f"""
        {load} %r2, [%r1+0]
        {store} [%r10-{key_size}], %r2
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -{key_size}
        call 1
        jeq %r0, 0, none
        rsh %r0, 16
        and %r0, 0xffff
        add %r0, 1
        exit
    none:
        mov %r0, 0
        exit
    """).insns, env=env)
    if engine != "interp":
        def refuse(*args):
            raise AssertionError("the outer lookup went through Python")
        monkeypatch.setattr(cls, "program_lookup", refuse)
    fn = bpfjit.compile(prog, engine)

    def key(k):
        return k.to_bytes(key_size, "little")
    assert [fn(key(k)) for k in keys] == [0, 0, 0, 0]                # all empty
    outer[key(keys[0])], outer[key(keys[2])] = first, "other"
    assert [fn(key(k)) for k in keys] == [2, 0, 3, 0]                # maps 1 and 2
    outer[key(keys[0])] = second
    del outer[key(keys[2])]
    outer[key(keys[3])] = first
    assert [fn(key(k)) for k in keys] == [3, 0, 0, 2]
    if kind == "array":
        assert fn(key(200)) == 0                        # past max_entries


def test_maps_of_maps_need_a_null_check_on_the_inner_map():
    inner_spec = MapSpec("counts", 2, 4, 8, 2)
    env = _env(ArrayOfMaps(MapSpec("outer", 12, 4, 4, 2, inner=inner_spec)),
               make_map(inner_spec))
    prog = bpfjit.Program(bpfjit.assemble("""
        stw [%r10-4], 0
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r1, %r0
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r0, 0
        exit
    """).insns, env=env)
    with pytest.raises(bpfjit.VerifierError, match="takes a map in r1"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))


# ---- fib_lookup, csum_diff, declared helpers ---------------------------------------------------

ROUTER = """
    mov %r6, %r1
    mov %r2, 0
    stxdw [%r10-64], %r2
    stxdw [%r10-56], %r2
    stxdw [%r10-48], %r2
    stxdw [%r10-40], %r2
    stxdw [%r10-32], %r2
    stxdw [%r10-24], %r2
    stxdw [%r10-16], %r2
    stxdw [%r10-8], %r2
    stb [%r10-64], 2
    stw [%r10-32], 0x0201a8c0
    mov %r2, %r10
    add %r2, -64
    mov %r3, 64
    mov %r4, 0
    call 69
    jne %r0, 0, done
    ldxw %r0, [%r10-56]
    lsh %r0, 8
    ldxb %r1, [%r10-1]
    or %r0, %r1
done:
    exit
"""


def test_fib_lookup_asks_the_routing_callback(engine):
    prog = xdp_program(ROUTER)
    asked = []

    def routes(request):
        asked.append(request)
        return bpfjit.FibResult(ifindex=7, dmac=bytes.fromhex("0a0b0c0d0e0f"),
                                smac=bytes(6), mtu=1400)
    fn = bpfjit.compile(prog, engine)
    # no routes: BPF_FIB_LKUP_RET_NOT_FWDED (4)
    assert fn(bytes(20)) == 4
    prog.env.routes = routes
    # ifindex at offset 8 (7), the last dmac byte at offset 63 (0x0f)
    assert fn(bytes(20)) == 7 << 8 | 0x0F
    assert asked[0].family == 2 and asked[0].dst == bytes([192, 168, 1, 2])


def test_csum_diff_matches_a_checksum_computed_here(engine):
    # checksum of 8 bytes at the packet start, folded and complemented by the program
    prog = xdp_program("""
        ldxw %r7, [%r1+4]
        ldxw %r1, [%r1+0]
        mov %r2, %r1
        add %r2, 8
        jgt %r2, %r7, bad
        mov %r3, %r1
        mov %r1, 0
        mov %r2, 0
        mov %r4, 8
        mov %r5, 0
        call 28
        mov %r1, %r0
        rsh %r1, 16
        and %r0, 0xffff
        add %r0, %r1
        mov %r1, %r0
        rsh %r1, 16
        add %r0, %r1
        xor %r0, 0xffff
        and %r0, 0xffff
        exit
    bad:
        mov %r0, 0
        exit
    """)
    data = bytes([0x45, 0x00, 0x00, 0x1C, 0x12, 0x34, 0x40, 0x00])
    words = struct.unpack("<4H", data)                # the sum in memory order
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert bpfjit.compile(prog, engine)(data + bytes(10)) == ~total & 0xFFFF


def test_a_declared_helper_initialises_the_stack_it_fills(engine):
    source = """
        mov %r1, %r10
        add %r1, -16
        mov %r2, 16
        call 100
        ldxdw %r0, [%r10-16]
        ldxdw %r1, [%r10-8]
        add %r0, %r1
        exit
    """
    prog = bpfjit.assemble(source)
    calls = []

    def fill(r1, r2, r3, r4, r5):
        calls.append(r2)
        return 0
    # undeclared, the helper may have written nothing: reading the stack is refused
    with pytest.raises(bpfjit.VerifierError, match="nothing has written yet"):
        bpfjit.compile(prog, engine, helpers={100: fill})
    declared = bpfjit.Helper(fill, args=("out", "size"), result="errno")
    assert bpfjit.compile(prog, engine, helpers={100: declared})() == 0
    assert calls == [16]


def test_helper_signatures_are_checked():
    with pytest.raises(bpfjit.BpfError, match="must be followed by its size"):
        bpfjit.Helper(print, args=("out",))
    with pytest.raises(bpfjit.BpfError, match="up to 5 of"):
        bpfjit.Helper(print, args=("pointer",))
    with pytest.raises(bpfjit.BpfError, match="result"):
        bpfjit.Helper(print, result="pointer")
    prog = bpfjit.assemble("mov %r1, 5\nmov %r2, 8\ncall 100\nexit")
    helper = bpfjit.Helper(lambda *a: 0, args=("mem", "size"))
    with pytest.raises(bpfjit.VerifierError, match="takes a pointer"):
        bpfjit.compile(prog, helpers={100: helper})


# ---- redirect targets, the map table, max_entries ---------------------------------------------

def test_redirect_maps_hold_targets_that_may_be_absent():
    from bpfjit.maps import DevMap, XskMap
    ports = DevMap(MapSpec("ports", 14, 4, 4, 4))
    assert len(ports) == 0 and ports.lookup_slot(ports.key(1)) is None
    ports[1] = 7
    assert ports.ints() == {1: 7} and ports.read_only            # programs may not write
    with pytest.raises(MapError) as err:
        ports[4] = 1
    assert err.value.errno == errno.E2BIG
    del ports[1]
    with pytest.raises(KeyError):
        ports[1]
    with pytest.raises(bpfjit.BpfError, match="keys are 4 bytes"):
        XskMap(MapSpec("xsks", 17, 8, 4, 4))


def test_redirect_records_where_the_packet_went(engine):
    # bpf_redirect(5, 0) in XDP: XDP_REDIRECT; with flags: XDP_ABORTED
    prog = xdp_program("mov %r1, 5\nmov %r2, 0\ncall 23\nexit")
    ctx = bpfjit.XdpContext(bytes(20))
    assert bpfjit.compile(prog, engine)(ctx) == 4
    assert ctx.redirect == bpfjit.Redirect(target=5)
    prog = xdp_program("mov %r1, 5\nmov %r2, 1\ncall 23\nexit")
    ctx = bpfjit.XdpContext(bytes(20))
    assert bpfjit.compile(prog, engine)(ctx) == 0 and ctx.redirect is None
    # in tc: TC_ACT_REDIRECT (7), BPF_F_INGRESS (1) allowed
    tc = bpfjit.Program(bpfjit.assemble("mov %r1, 9\nmov %r2, 1\ncall 23\nexit").insns,
                        env=prog.env, context="skb", prog_type="sched_cls")
    skb = bpfjit.SkbContext(bytes(20))
    assert bpfjit.compile(tc, engine)(skb) == 7
    assert skb.redirect == bpfjit.Redirect(target=9, flags=1)


@pytest.mark.parametrize("flags, result", [(0, 7), (1, 2), (1 << 40, 2)])
def test_redirect_peer_goes_to_the_peer_of_a_device(engine, flags, result):
    # bpf_redirect_peer(ifindex, flags) (155, tc only): TC_ACT_REDIRECT (7) to the
    # device's peer (a veth's other end), recorded with peer=True; any flag at all is
    # TC_ACT_SHOT (2) and redirects nothing.  (The kernel engine cannot say where a
    # packet went, so it skips this; its run returned 7, 2 and 2 when it was let.)
    prog = skb_program(f"mov %r1, 12\nlddw %r2, {flags}\ncall 155\nexit")
    skb = bpfjit.SkbContext(bytes(20))
    assert bpfjit.compile(prog, engine)(skb) == result
    assert skb.redirect == (bpfjit.Redirect(target=12, peer=True) if result == 7 else None)
    xdp = xdp_program("mov %r1, 12\nmov %r2, 0\ncall 155\nexit")
    with pytest.raises(bpfjit.VerifierError, match="redirect_peer is not available to xdp"):
        bpfjit.verify(xdp, helpers=bpfjit.helper_ids(xdp))


def test_the_map_table_is_a_mapping_of_names():
    from collections.abc import Mapping, MutableMapping
    prog = bpfjit.load_elf(ELF / "events.o")
    assert isinstance(prog.maps, Mapping) and list(prog.maps) == ["records", "samples"]
    assert all(isinstance(m, MutableMapping) for m in prog.maps.values())
    with pytest.raises(KeyError, match="no map named 'nope'"):
        prog.maps["nope"]


def test_max_entries_for_maps_that_declare_none():
    # the perf event array declares no max_entries: one per CPU, bpfjit has one
    assert bpfjit.load_elf(ELF / "events.o").maps["samples"].max_entries == 1
    prog = bpfjit.load_elf(ELF / "events.o", max_entries={"samples": 4, "records": 8192})
    assert prog.maps["samples"].max_entries == 4 and prog.maps["records"].max_entries == 8192
    with pytest.raises(bpfjit.ElfError, match="max_entries must be a dict"):
        bpfjit.load_elf(ELF / "events.o", max_entries={"samples": 0})


def test_a_perf_event_array_declaring_max_entries_0_gets_one_per_cpu(engine):
    # libbpf makes a perf event array that declares 0 entries one slot per possible
    # CPU; bpfjit has one CPU.  The program sends each packet's first byte to it
    prog = bpfjit.load_elf(ELF / "perf_cpus.o")
    assert prog.maps["per_cpu_events"].max_entries == 1
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(b"\x2a" + bytes(13))) == 2
    records = prog.maps["per_cpu_events"].drain()
    assert [(r.cpu, r.data) for r in records] == [(0, (42).to_bytes(4, "little"))]
    # as given by the caller, it stays the caller's
    assert bpfjit.load_elf(ELF / "perf_cpus.o", max_entries={"per_cpu_events": 4}) \
        .maps["per_cpu_events"].max_entries == 4


def test_a_map_without_max_entries_is_named(tmp_path):
    # patch tail_calls.o's `visits` array to declare no size: its BTF has `max_entries`
    # as a member name; renaming that string hides it
    raw = (ELF / "tail_calls.o").read_bytes()
    assert raw.count(b"max_entries\0") >= 1             # in the BTF and debug strings
    raw = raw.replace(b"max_entries\0", b"max_entriez\0")
    with pytest.raises(bpfjit.ElfError, match="map 'visits' declares no max_entries.*"
                                              "max_entries=.*--max-entries visits=N"):
        bpfjit.load_elf(raw, max_entries={"stages": 4})
    prog = bpfjit.load_elf(raw, function="dispatch", max_entries={"visits": 4, "stages": 4})
    assert prog.maps["visits"].max_entries == 4


# ---- the verifier on what these programs do ----------------------------------------------------

def test_a_lookup_or_null_joined_with_null_is_still_checked(engine):
    # regression: `p = x ? lookup() : NULL` joined a map value or NULL with the constant
    # 0 into a plain number, so the later NULL check proved nothing (pping's pattern)
    inner = MapSpec("counts", 2, 4, 8, 2)
    prog = bpfjit.Program(bpfjit.assemble("""
        ldxb %r6, [%r1+0]
        mov %r7, 0
        jeq %r6, 0, join
        stw [%r10-4], 1
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r7, %r0
    join:
        jeq %r7, 0, none
        ldxdw %r0, [%r7+0]
        add %r0, 1
        exit
    none:
        mov %r0, 0
        exit
    """).insns, env=_env(make_map(inner)))
    verified = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))
    assert 11 in verified.proven                        # the load through r7
    prog.maps["counts"][1] = 41
    fn = bpfjit.compile(prog, engine)
    assert fn(bytes([1])) == 42 and fn(bytes([0])) == 0


def test_ring_buffer_records_are_proven_within_their_size():
    prog = bpfjit.load_elf(ELF / "events.o")
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    assert verified.proven == set(verified.accesses)
    # one byte past a 12-byte record is refused
    bad = xdp_program("""
        lddw %r1, map_by_fd(0)
        mov %r2, 12
        mov %r3, 0
        call 131
        jeq %r0, 0, out
        stb [%r0+12], 1
        mov %r1, %r0
        mov %r2, 0
        call 132
    out:
        mov %r0, 2
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="outside the 12-byte value"):
        bpfjit.verify(bad, helpers=bpfjit.helper_ids(bad))


def test_helpers_are_limited_to_their_program_types():
    prog = xdp_program("mov %r2, 0\ncall 50\nexit")      # skb_adjust_room in XDP
    with pytest.raises(bpfjit.VerifierError, match="skb_adjust_room is not available to "
                                                   "xdp programs"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))


# ---- socket-buffer helpers ----------------------------------------------------------------------

def skb_program(source: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "tc_classify.o").env
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="skb",
                          prog_type="sched_cls")


def test_clone_redirect_sends_a_copy_and_goes_on_with_the_packet(engine):
    # bpf_clone_redirect(skb, 4, 0) = 0, a copy of the packet as it is at the call goes
    # to device 4; the program then writes its first byte and returns TC_ACT_OK (0)
    prog = skb_program("""
        mov %r6, %r1
        mov %r2, 4
        mov %r3, 0
        call 13
        mov %r7, %r0
        mov %r1, %r6
        mov %r2, 0
        mov %r3, %r10
        add %r3, -8
        stdw [%r10-8], 0x5a
        mov %r4, 1
        mov %r5, 0
        call 9
        mov %r0, %r7
        exit
    """)
    skb = bpfjit.SkbContext(bytes(range(20)))
    assert bpfjit.compile(prog, engine)(skb) == 0
    assert skb.clones == [bpfjit.Clone(target=4, packet=bytes(range(20)))]
    assert skb.packet == b"\x5a" + bytes(range(1, 20))
    # BPF_F_INGRESS (1): to the device's ingress; other flags: -EINVAL, nothing sent
    for flags, result, clones in ((1, 0, [bpfjit.Clone(4, bytes(range(20)), 1)]),
                                  (2, 2**64 - 22, [])):
        skb = bpfjit.SkbContext(bytes(range(20)))
        source = prog.insns[:2] + (bpfjit.assemble(f"mov %r3, {flags}").insns[0],) \
            + prog.insns[3:]
        run = bpfjit.compile(bpfjit.Program(source, env=prog.env, context="skb",
                                            prog_type="sched_cls"), engine)
        assert run(skb) == result and skb.clones == clones
    # each run starts with no copies sent
    assert run(skb) == 2**64 - 22 and skb.clones == []


def test_clone_redirect_may_move_the_packet():
    # as in the kernel: packet pointers are invalid after the call
    source = """
        ldxw %r7, [%r1+76]
        ldxw %r8, [%r1+80]
        mov %r2, %r7
        add %r2, 1
        mov %r0, 0
        jgt %r2, %r8, out
        mov %r2, 4
        mov %r3, 0
        call 13
        ldxb %r0, [%r7]
    out:
        exit
    """
    prog = skb_program(source)
    with pytest.raises(bpfjit.VerifierError, match="pc 9: .*ldxb"):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    # without the call, the same load is proven
    prog = skb_program(source.replace("call 13", "mov %r4, 0"))
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    xdp = xdp_program("mov %r2, 4\nmov %r3, 0\ncall 13\nexit")
    with pytest.raises(bpfjit.VerifierError, match="clone_redirect is not available to "
                                                   "xdp programs"):
        bpfjit.verify(xdp, helpers=bpfjit.helper_ids(xdp))


def test_skb_load_bytes_copies_out_of_the_packet(engine):
    prog = skb_program("""
        mov %r2, 12
        mov %r3, %r10
        add %r3, -8
        mov %r4, 2
        call 26
        jne %r0, 0, out
        ldxh %r0, [%r10-8]
        exit
    out:
        exit
    """)
    fn = bpfjit.compile(prog, engine)
    assert fn(b"\x02" * 12 + b"\x86\xdd" + bytes(10)) == 0xDD86
    assert fn(bytes(13)) == -errno.EFAULT & 0xFFFFFFFFFFFFFFFF


def test_skb_adjust_room_opens_room_after_the_ip_header(engine):
    # BPF_ADJ_ROOM_NET (0): 8 zero bytes between the IPv4 header and its payload
    prog = skb_program("mov %r2, 8\nmov %r3, 0\nmov %r4, 0\ncall 50\nexit")
    frame = ipv4_frame(17, payload=b"ABCDEFGH")
    ctx = bpfjit.SkbContext(frame)
    assert bpfjit.compile(prog, engine)(ctx) == 0
    assert ctx.packet == frame[:34] + bytes(8) + b"ABCDEFGH"
    # and closes it again (a negative difference); BPF_ADJ_ROOM_MAC (1) would have
    # closed it after Ethernet (more cases, and the kernel's limits:
    # tests/test_skb_adjust_room.py)
    prog = skb_program("mov %r2, -8\nmov %r3, 0\nmov %r4, 0\ncall 50\nexit")
    grown = ctx.packet
    ctx = bpfjit.SkbContext(grown)
    assert bpfjit.compile(prog, engine)(ctx) == 0 and ctx.packet == frame


def test_l3_csum_replace_updates_the_checksum_as_rfc_1624(engine):
    # change the TTL byte pair (ttl, protocol) from 64/17 to 63/17 and fix the checksum
    frame = ipv4_frame(17, ttl=64)
    header = bytearray(frame[14:34])
    struct.pack_into("!H", header, 10, _checksum(bytes(header)))
    frame = frame[:14] + bytes(header) + frame[34:]
    old = int.from_bytes(frame[22:24], "little")
    new = int.from_bytes(bytes([63, 17]), "little")
    prog = skb_program(f"""
        mov %r6, %r1
        mov %r2, 22
        mov %r3, %r10
        add %r3, -2
        sth [%r10-2], {new}
        mov %r4, 2
        mov %r5, 0
        call 9
        mov %r1, %r6
        mov %r2, 24
        mov %r3, {old}
        mov %r4, {new}
        mov %r5, 2
        call 10
        exit
    """)
    ctx = bpfjit.SkbContext(frame)
    assert bpfjit.compile(prog, engine)(ctx) == 0
    updated = bytearray(frame[14:34])
    updated[8] = 63
    struct.pack_into("!H", updated, 10, 0)
    assert ctx.packet[14:34] == bytes(updated[:10]) + struct.pack(
        "!H", _checksum(bytes(updated))) + bytes(updated[12:])


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.mark.parametrize("tos,result,new_tos", [(0, 0, 0), (1, 1, 3), (2, 1, 3), (3, 1, 3)])
def test_skb_ecn_set_ce_marks_ecn_capable_packets(engine, tos, result, new_tos):
    frame = bytearray(ipv4_frame(6))
    frame[15] = tos
    header = bytes(frame[14:34])
    frame[24:26] = struct.pack("!H", _checksum(header))
    ctx = bpfjit.SkbContext(bytes(frame))
    assert bpfjit.compile(skb_program("call 97\nexit"), engine)(ctx) == result
    assert ctx.packet[15] == new_tos
    assert _checksum(ctx.packet[14:34]) == 0            # the checksum still verifies


# ---- read-only global data ---------------------------------------------------------------------

def test_rodata_values_are_constants_to_the_verifier_and_then_frozen(engine):
    # `const volatile` configuration in .rodata (libbpf style): step = 7 in globals.o.
    # The program indexes an 8-byte stack buffer with it; strict mode can prove that
    # only knowing the value, as the kernel does for a frozen map
    prog = bpfjit.load_elf(ELF / "globals.o")
    rodata = prog.maps.index_of(prog.maps[".rodata"])
    prog = bpfjit.Program(bpfjit.assemble(f"""
        stdw [%r10-8], 0
        stb [%r10-3], 42
        lddw %r1, map_val_by_fd({rodata}, 0)
        ldxw %r2, [%r1+0]
        mov %r3, %r10
        add %r3, -8
        add %r3, %r2
        ldxb %r0, [%r3-1]
        exit
    """).insns, env=prog.env, context="xdp", prog_type="xdp")
    rodata_map = prog.maps[".rodata"]
    rodata_map[0] = 7 - 1                   # before it is verified, it may be set: 6
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    assert verified.proven == set(verified.accesses)
    # offset 6 - 1 = 5 from r10 - 8: the byte at r10 - 3; frozen from now on
    assert bpfjit.compile(prog, engine, mode="strict")(bytes(20)) == 42
    with pytest.raises(MapError) as err:
        rodata_map[0] = 7
    assert err.value.errno == errno.EPERM


# ---- hostile arguments end in an error code or a HelperError, never outside the buffers ---------

EINVAL, EFAULT = -22 & 0xFFFFFFFFFFFFFFFF, -14 & 0xFFFFFFFFFFFFFFFF


@pytest.mark.parametrize("setup,helper,expected", [
    ("mov %r2, 0x7fffffff", 44, EINVAL),                       # adjust_head past the end
    ("mov %r2, -0x80000000", 44, EINVAL),                      # ... before the headroom
    ("mov %r2, 0x7fffffff", 65, EINVAL),                       # adjust_tail past the frame
    # a size or an offset past 0xffff (-1 is 0xffffffff): -EFAULT, as the kernel's
    # bpf_xdp_pointer says (its test run of the second agrees; it refuses the first's
    # program, whose 8-byte buffer cannot take that size)
    ("mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0x7fffffff", 189, EFAULT),
    ("mov %r2, -1\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 8", 189, EFAULT),
    ("mov %r2, 13\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 8", 189, EINVAL),   # 13 + 8 > 20
    ("mov %r2, 4\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 8", 190, 0),   # within: stored
])
def test_packet_helpers_refuse_what_does_not_fit(engine, setup, helper, expected):
    prog = xdp_program(f"stdw [%r10-8], 0\n{setup}\ncall {helper}\nexit")
    ctx = bpfjit.XdpContext(bytes(range(20)))
    assert bpfjit.compile(prog, engine)(ctx) == expected
    if helper == 190:
        assert ctx.packet == bytes(range(4)) + bytes(8) + bytes(range(12, 20))
    else:
        assert ctx.packet == bytes(range(20))


@pytest.mark.parametrize("source", [
    # a perf record of 2**31 bytes at the stack: far outside it
    "lddw %r2, map_by_fd(1)\nmov %r3, 0\nmov %r4, %r10\nadd %r4, -8\n"
    "mov %r5, 0x7fffffff\ncall 25\nexit",
    # a ring buffer record from memory 64 bytes below the stack's bottom
    "lddw %r1, map_by_fd(0)\nmov %r2, %r10\nadd %r2, -4160\nmov %r3, 8\nmov %r4, 0\n"
    "call 130\nexit",
    # (submitting from inside a record, not its start, the verifier refuses as the
    # kernel does: tests/test_ringbuf_records.py)
])
def test_event_helpers_refuse_bad_pointers(engine, source):
    prog = xdp_program("stdw [%r10-8], 0\n" + source)
    with pytest.raises(bpfjit.HelperError):
        bpfjit.compile(prog, engine)(bytes(20))


def test_strict_mode_refuses_a_pointer_passed_to_a_helper_as_a_number():
    # l3_csum_replace's offset is a number: a packet pointer there would make the result
    # depend on where the packet is (engines put it at different addresses)
    prog = skb_program("""
        ldxw %r2, [%r1+76]
        mov %r3, 0
        mov %r4, 0
        mov %r5, 2
        call 10
        mov %r0, 0
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="pc 4: strict mode: l3_csum_replace gets "
                                                   "a pointer in r2 as a number"):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))          # checked mode runs it


@pytest.mark.parametrize("source,words", [
    # a program array works with tail_call only: no lookups from programs
    ("stw [%r10-4], 0\nlddw %r1, map_by_fd(0)\nmov %r2, %r10\nadd %r2, -4\ncall 1\n"
     "mov %r0, 0\nexit", "map_lookup_elem cannot take map 'stages': a prog_array works "
                         "with tail_call only"),
    # and tail_call takes a program array only
    ("mov %r1, %r1\nlddw %r2, map_by_fd(1)\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
     "tail_call takes a prog_array map, not 'visits'"),
])
def test_maps_and_helpers_must_fit_each_other(source, words):
    env = bpfjit.load_elf(ELF / "tail_calls.o", function="dispatch").env
    prog = bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError, match=words):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))


# ---- queues and stacks -------------------------------------------------------------------------

def test_queues_and_stacks_from_python():
    from bpfjit.maps import QueueMap, StackMap
    queue, stack = QueueMap(MapSpec("q", 22, 0, 4, 2)), StackMap(MapSpec("s", 23, 0, 4, 2))
    for m in (queue, stack):
        m.push(1)
        m.push(2)
        with pytest.raises(MapError) as err:
            m.push(3)
        assert err.value.errno == errno.E2BIG
        m.push(3, flags=2)                 # BPF_EXIST: the oldest (1) makes room
        assert m.values_in_order() == [(2).to_bytes(4, "little"), (3).to_bytes(4, "little")]
    assert queue.pop() == (2).to_bytes(4, "little") and stack.pop() == (3).to_bytes(4, "little")
    assert len(queue) == len(stack) == 1 and list(queue) == []
    with pytest.raises(MapError, match="has no keys"):
        queue[0] = 1


def test_programs_push_pop_and_peek(engine):
    from bpfjit.maps import QueueMap
    queue = QueueMap(MapSpec("q", 22, 0, 4, 4))
    # push 7 and 9, peek (7), pop twice (7, 9), a third pop fails with -ENOENT; the
    # popped values are read from stack bytes only the helper wrote
    prog = bpfjit.Program(bpfjit.assemble("""
        stw [%r10-4], 7
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        mov %r3, 0
        call 87
        stw [%r10-4], 9
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -4
        mov %r3, 0
        call 87
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -8
        call 89
        ldxw %r6, [%r10-8]
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -12
        call 88
        ldxw %r7, [%r10-12]
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -16
        call 88
        ldxw %r8, [%r10-16]
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -20
        call 88
        jne %r0, -2, bad    # the queue is empty: -ENOENT
        mov %r0, %r6
        lsh %r0, 8
        or %r0, %r7
        lsh %r0, 8
        or %r0, %r8
        exit
    bad:
        mov %r0, 0
        exit
    """).insns, env=_env(queue))
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    r0 = bpfjit.compile(prog, engine)(bytes(8))
    assert r0 == (7 << 16) | (7 << 8) | 9         # peek 7, pop 7, pop 9
    assert len(queue) == 0


def test_a_batch_run_of_a_tail_calling_program_gives_the_called_programs_result(engine):
    # regression: the JIT batch loop turned a finished tail call into a raw exception
    prog = bpfjit.load_elf(ELF / "tail_calls.o", section="xdp", function="dispatch")
    fn = bpfjit.compile(prog, engine)
    if not hasattr(fn, "run_batch"):
        pytest.skip("the interpreter has no native batch loop")
    r0, _ = fn.run_batch(bpfjit.XdpContext(ipv4_frame(17)), 3)
    assert r0 == XDP_DROP                 # dispatch -> parse_ipv4 -> parse_udp
