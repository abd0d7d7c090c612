"""bpf_for_each_map_elem (helper 164): a callback called with (map, key, value, ctx) for
each element of an array, hash or LRU hash map (per-CPU or not) until it returns 1;
the elements visited, or -EINVAL for flags.  From the ELF loader through the verifier to
every engine, and the kernel's results and verdicts where it can run them.

The expected values are worked out here from the maps' contents, as the kernel's
bpf_for_each_array_elem and bpf_for_each_hash_elem walk them (kernel/bpf/arraymap.c,
hashtab.c): an array's every index in order, a hash map's every element (in an order
the tests do not depend on), the visit that returned 1 counted."""

import struct
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
XDP_PASS = 2
EINVAL = 22
M64 = (1 << 64) - 1
COUNTS = [5, 0, 7, 1, 9, 2]
ENDPOINTS = [(1, 80, 6, 3), (2, 443, 17, 2), (3, 53, 17, 10)]   # addr, port, proto, value


def loaded(function: str):
    return bpfjit.load_elf(ELF / "for_each.o", function=function)


def packet(first: int = 0) -> bpfjit.XdpContext:
    """An XDP frame of 16 bytes whose first 8 hold `first` (the kernel wants 14 at least)."""
    return bpfjit.XdpContext(struct.pack("<Q", first & M64) + bytes(8))


def out(prog) -> list[int]:
    return [int.from_bytes(prog.maps["out"][i], "little") for i in range(3)]


def fill_counts(prog) -> None:
    for i, value in enumerate(COUNTS):
        prog.maps["counts"][i] = value


def endpoint(addr: int, port: int, proto: int) -> bytes:
    return struct.pack("<IHH", addr, port, proto)


@pytest.mark.parametrize("limit", [0, 7, 5, 1000])
def test_an_array_is_walked_in_order_until_the_callback_says_stop(engine, limit):
    prog = loaded("walk_array")
    fill_counts(prog)
    assert bpfjit.compile(prog, engine)(packet(limit)) == XDP_PASS
    visited, total, keys = 0, 0, 0
    for key, value in enumerate(COUNTS):        # the callback: add; stop at >= limit
        visited += 1
        total += value
        keys += 1 << (4 * key)
        if limit and value >= limit:
            break
    assert out(prog) == [visited, total, keys]


@pytest.mark.parametrize("flags", [1, 2, 1 << 40])
def test_flags_are_refused_without_a_call(engine, flags):
    prog = loaded("walk_flags")
    fill_counts(prog)
    bpfjit.compile(prog, engine)(packet(flags))
    assert out(prog)[:2] == [-EINVAL & M64, 0]


def test_no_flags_walk_every_element(engine):
    prog = loaded("walk_flags")
    fill_counts(prog)
    bpfjit.compile(prog, engine)(packet(0))
    assert out(prog)[:2] == [len(COUNTS), sum(COUNTS)]


FLOWS = {1: (10, 50), 2: (20, 500), 3: (30, 10), 9: (40, 450), 77: (5, 401)}


@pytest.mark.parametrize("now", [0, 500, 600, 10_000])
def test_a_callback_deletes_the_element_it_is_given(engine, now):
    prog = loaded("expire_flows")
    for key, (packets, seen) in FLOWS.items():
        prog.maps["flows"][key] = struct.pack("<QQ", packets, seen)
    bpfjit.compile(prog, engine)(packet(now))
    expired = {k for k, (_, seen) in FLOWS.items() if seen + 100 < now}
    kept = sum(packets for k, (packets, _) in FLOWS.items() if k not in expired)
    assert out(prog) == [len(FLOWS), len(expired), kept]
    assert {int.from_bytes(k, "little") for k in prog.maps["flows"]} == set(FLOWS) - expired


def test_deleting_every_element_during_the_walk_skips_none(engine):
    prog = loaded("expire_flows")
    for key in range(16):                       # a full map, every flow expired
        prog.maps["flows"][key * 7919] = struct.pack("<QQ", key, 0)
    bpfjit.compile(prog, engine)(packet(1000))
    assert out(prog) == [16, 16, 0]
    assert len(prog.maps["flows"]) == 0


def test_an_empty_map_calls_nothing(engine):
    prog = loaded("expire_flows")
    bpfjit.compile(prog, engine)(packet(1000))
    assert out(prog) == [0, 0, 0]


def test_the_callback_reads_the_fields_of_a_struct_key(engine):
    prog = loaded("sum_ports")
    for addr, port, proto, value in ENDPOINTS:
        prog.maps["recent"][endpoint(addr, port, proto)] = value
    bpfjit.compile(prog, engine)(packet())
    assert out(prog)[:2] == [3, sum(port * value + proto for _, port, proto, value in ENDPOINTS)]


def folded_sum(data: bytes) -> int:
    """csum_diff(NULL, 0, data, n, 0): the one's-complement sum of data's 16-bit words,
    folded to 16 bits (what the kernel's x86 csum_partial returns for these sizes)."""
    total = sum(struct.unpack(f"<{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_a_key_may_be_handed_to_a_helper_that_reads_it(engine):
    prog = loaded("checksum_keys")
    for addr, port, proto, value in ENDPOINTS:
        prog.maps["endpoints"][endpoint(addr, port, proto)] = value
    bpfjit.compile(prog, engine)(packet())
    assert out(prog)[:2] == [3, sum(folded_sum(endpoint(*e[:3])) for e in ENDPOINTS)]


def test_a_per_cpu_value_may_be_written(engine):
    prog = loaded("sum_per_cpu")
    for i in range(4):
        prog.maps["per_cpu"][i] = 10 * i
    bpfjit.compile(prog, engine)(packet())
    assert out(prog)[:2] == [4, 0 + 10 + 20 + 30]
    assert prog.maps["per_cpu"].ints() == {0: 1, 1: 11, 2: 21, 3: 31}


def test_a_key_and_value_may_be_given_to_an_update(engine):
    prog = loaded("copy_to_hash")
    fill_counts(prog)
    bpfjit.compile(prog, engine)(packet())
    assert out(prog)[0] == len(COUNTS)
    assert prog.maps["mirror"].ints() == {k: v for k, v in enumerate(COUNTS) if v}


def test_the_walk_can_run_again_and_again(engine):
    # per_cpu's values grow by one a run: the second run sees the first one's writes
    prog = loaded("sum_per_cpu")
    fn = bpfjit.compile(prog, engine)
    fn(packet())
    fn(packet())
    assert out(prog)[:2] == [4, 4]
    assert prog.maps["per_cpu"].ints() == {i: 2 for i in range(4)}


def test_a_key_may_be_read_at_a_varying_offset_inside_it(engine):
    # the callback adds the key's byte at (value & 7) to the u64 at ctx: proven in
    # bounds (an 8-byte key), as the kernel proves it
    prog = walk_program("""
        ldxdw %r0, [%r3]
        and %r0, 7
        add %r2, %r0
        ldxb %r1, [%r2]
        ldxdw %r0, [%r4]
        add %r0, %r1
        stxdw [%r4], %r0
        mov %r0, 0
        exit""", walked="endpoints", after="ldxdw %r0, [%r10-8]")
    keys = [endpoint(1, 80, 6), endpoint(2, 443, 17), endpoint(3, 53, 17)]
    for key, offset in zip(keys, (4, 5, 14)):
        prog.maps["endpoints"][key] = offset
    verified = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    assert verified.proven == frozenset(verified.accesses)
    assert bpfjit.compile(prog, engine)(bytearray(16)) == 80 + 1 + 17


# ---- what the verifier refuses, as the kernel's does -------------------------------------

def walk_program(callback: str, *, walked: str = "counts", ctx: str = "mov %r3, %r10\n"
                 "add %r3, -8", obj: str = "for_each.o", function: str = "walk_array",
                 call: str = "call 164", after: str = "") -> bpfjit.Program:
    """for_each_map_elem over map `walked` of the object, with r3 = `ctx`, calling
    `callback`; the program returns what the call returned (or what `after` leaves in
    r0)."""
    env = bpfjit.load_elf(ELF / obj, function=function).env
    index = [m.name for m in env.maps.list].index(walked)
    source = f"""
        stdw [%r10-8], 0
        lddw %r1, map_by_fd({index})
        lddw %r2, code_addr(callback)
        {ctx}
        mov %r4, 0
        {call}
        {after}
        exit
    callback:
        {callback}
    """
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env)


REFUSED = [
    (dict(callback="stw [%r2], 0\nmov %r0, 0\nexit"),
     "pc 10: r2 points to a key of map 'counts', which a program may read but not write"),
    (dict(callback="ldxw %r0, [%r2+2]\nmov %r0, 0\nexit"),
     "pc 10: r2\\+2 is outside the 4-byte key of map 'counts' \\(4-byte read at 2\\)"),
    (dict(callback="mov %r0, 2\nexit"),
     "pc 8: for_each_map_elem's callback \\(the subprogram at pc 10\\) must return 0 or 1, "
     "not 2"),
    (dict(callback="mov %r1, %r4\nmov %r0, 0\nexit", ctx="mov %r3, 1"),
     "pc 7: for_each_map_elem takes a pointer into the stack or 0 in r3 \\(what the "
     "callback gets in r4\\), not 1"),
    (dict(callback="lddw %r1, map_by_fd(4)\ncall 1\nmov %r0, 0\nexit", walked="counts"),
     "map_lookup_elem may read 8 bytes at r2, past the 4-byte map key it points into"),
]


@pytest.mark.parametrize("kwargs, message", REFUSED)
def test_what_the_verifier_refuses(kwargs, message):
    prog = walk_program(**kwargs)
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)


@pytest.mark.parametrize("case", range(len(REFUSED)))
def test_the_kernel_refuses_them_too(case):
    from types import SimpleNamespace
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import compile_kernel
    prog = walk_program(**REFUSED[case][0])
    with pytest.raises(bpfjit.VerifierError, match="the kernel's verifier refused"):
        compile_kernel(SimpleNamespace(source=prog, program=prog))


def test_maps_it_cannot_walk_are_refused():
    # an LPM trie: the kernel walks arrays and hash maps only
    prog = walk_program("mov %r0, 0\nexit", walked="routes", obj="lpm_route.o",
                        function="route")
    with pytest.raises(bpfjit.VerifierError, match="for_each_map_elem walks array, "
                                                   "percpu_array, hash, .* not 'routes' "
                                                   "\\(lpm_trie\\)"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)


def test_strict_mode_proves_every_access_of_the_fixture():
    for function in ("walk_array", "walk_flags", "expire_flows", "sum_ports", "sum_per_cpu",
                     "checksum_keys", "copy_to_hash"):
        prog = loaded(function)
        verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog),
                                 cache=False)
        assert verified.proven == frozenset(verified.accesses), function


def test_a_call_through_a_register_is_an_error(engine):
    if engine == "kernel":
        pytest.skip("the kernel refuses callx")
    prog = walk_program("mov %r0, 0\nexit", call="mov %r5, 164\ncallx %r5")
    fn = bpfjit.compile(prog, engine)
    with pytest.raises(bpfjit.BpfError, match="for_each_map_elem was called through a "
                                              "register"):
        fn(bytearray(16))


# ---- a call whose map is one of several, chosen at run time ------------------------------

def env_of(*maps):
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable
    return KernelEnv(MapTable(list(maps)))


def summing(pick_map: str, env, first: str = "") -> bpfjit.Program:
    """`pick_map` (which leaves the map to walk in r1, or ends the run), then a walk whose
    callback (after `first`) adds each value to the u64 at r10 - 8: r0 = that sum << 32 |
    the elements visited."""
    return bpfjit.Program(bpfjit.assemble(f"""
        stdw [%r10-8], 0
        {pick_map}
        lddw %r2, code_addr(callback)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 164
        ldxdw %r1, [%r10-8]
        lsh %r1, 32
        or %r0, %r1
        exit
    callback:
        {first}
        ldxdw %r1, [%r4]
        ldxdw %r2, [%r3]
        add %r1, %r2
        stxdw [%r4], %r1
        mov %r0, 0
        exit
    """).insns, env=env)


def test_one_call_for_either_of_two_maps_walks_the_one_in_r1(engine):
    # clang merges `if (c) for_each(&a, cb, ...); else for_each(&b, cb, ...)` into one
    # call whose r1 is either map (the kernel learned to take it, too)
    from bpfjit.maps import MapSpec, make_map
    a = make_map(MapSpec("a", 2, 4, 8, 4))
    b = make_map(MapSpec("b", 1, 4, 8, 8))
    for i, value in enumerate((3, 5, 7, 11)):
        a[i] = value
    for key, value in ((40, 100), (7, 200), (1000, 300)):
        b[key] = value
    prog = summing("""
        ldxb %r2, [%r1+0]
        lddw %r1, map_by_fd(0)
        jeq %r2, 0, +2
        lddw %r1, map_by_fd(1)
    """, env_of(a, b))
    verified = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    assert verified.iterated == {12: (0, 1)}
    fn = bpfjit.compile(prog, engine)
    assert fn(bytearray(16)) == (3 + 5 + 7 + 11) << 32 | 4
    assert fn(bytearray([1]) + bytes(15)) == (100 + 200 + 300) << 32 | 3


def test_an_inner_map_of_a_map_of_maps_is_walked(engine):
    # cilium's multicast delivery walks the subscribers of a group: an inner hash map
    # looked up in an outer map of maps, any of the maps fitting its inner definition
    from bpfjit.maps import ArrayOfMaps, MapSpec, make_map
    inner_spec = MapSpec("subscribers", 1, 4, 8, 8)
    outer = ArrayOfMaps(MapSpec("groups", 12, 4, 4, 2, inner=inner_spec))
    first, second = make_map(inner_spec), make_map(MapSpec("others", 1, 4, 8, 8))
    env = env_of(outer, first, second)
    outer[0], outer[1] = first, second
    first[1], first[2] = 10, 20
    second[9] = 1000
    prog = summing("""
        ldxb %r2, [%r1+0]
        stxw [%r10-12], %r2
        lddw %r1, map_by_fd(0)
        mov %r2, %r10
        add %r2, -12
        call 1
        jne %r0, 0, +2
        mov %r0, 0
        exit
        mov %r1, %r0
    """, env)
    fn = bpfjit.compile(prog, engine)
    assert [fn(bytes([group]) + bytes(15)) for group in (0, 1, 5)] == \
        [30 << 32 | 2, 1000 << 32 | 1, 0]


def test_a_per_cpu_walk_sees_the_value_of_the_cpu_it_runs_on(engine):
    # bpfjit's per-CPU maps are CPU 0's, and bpf_get_smp_processor_id says 0; the
    # kernel engine runs on CPU 0 too (where it cannot, it says so): r0 = cpu * 100 +
    # the value the callback saw
    from bpfjit.maps import MapSpec, make_map
    per_cpu = make_map(MapSpec("per_cpu", 6, 4, 8, 1))
    per_cpu[0] = 7
    prog = bpfjit.Program(bpfjit.assemble(f"""
        stdw [%r10-8], 0
        lddw %r1, map_by_fd(0)
        lddw %r2, code_addr(callback)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 164
        ldxdw %r0, [%r10-8]
        exit
    callback:
        mov %r6, %r3
        mov %r7, %r4
        call 8
        mul %r0, 100
        ldxdw %r1, [%r6]
        add %r0, %r1
        stxdw [%r7], %r0
        mov %r0, 0
        exit
    """).insns, env=env_of(per_cpu))
    assert bpfjit.compile(prog, engine)(bytearray(16)) == 7


def test_a_trap_in_the_callback_stops_the_walk_and_the_next_run_is_whole(engine):
    # the callback reads 1,024 bytes past a value whose low bit is set (checked at run
    # time: past the map's 8 values): the run stops there, with the same error and pc
    # on every engine, and the next run (the JITs' native stack unwound) walks whole
    from bpfjit.maps import MapSpec, make_map
    table = make_map(MapSpec("h", 1, 4, 8, 8))
    table[3], table[4] = 2, 1
    prog = summing("lddw %r1, map_by_fd(0)", env_of(table), first="""
        ldxdw %r2, [%r3]
        mov %r5, %r2
        and %r5, 1
        lsh %r5, 10
        add %r3, %r5
        ldxdw %r5, [%r3]""")
    fn = bpfjit.compile(prog, engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        fn(bytearray(16))
    assert info.value.pc == 18 and "read of 8 bytes" in str(info.value)
    table[4] = 4
    assert fn(bytearray(16)) == (2 + 4) << 32 | 2
