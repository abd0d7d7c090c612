"""Resource limits a host can set and rely on (bpfjit.limits): each one refuses what
passes it with a clear error, on every engine alike."""

import dataclasses
import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.limits import Limits, limits, set_limits
from bpfjit.maps import MapSpec, MapTable, check_map_memory, make_map

ELF = Path(__file__).parent / "elf"


@pytest.fixture
def restore_limits():
    previous = limits()
    yield
    set_limits(**dataclasses.asdict(previous))


def test_the_defaults_are_documented_values():
    assert limits() == Limits(program_slots=1_000_000, map_bytes=256 << 20,
                              object_map_bytes=1 << 30, helper_calls=1_000_000,
                              perf_buffer_bytes=4 << 20, trace_lines=100_000)


def test_bad_limits_are_refused(restore_limits):
    with pytest.raises(bpfjit.BpfError, match="unknown limit"):
        set_limits(stack_bytes=1)
    with pytest.raises(bpfjit.BpfError, match="positive int"):
        set_limits(helper_calls=0)
    with pytest.raises(bpfjit.BpfError, match="helper_calls"):
        bpfjit.compile(bpfjit.assemble("mov r0, 0\nexit"), "interp", helper_calls=-1)


# ---- program size -------------------------------------------------------------------------

def test_a_program_longer_than_the_limit_is_refused(restore_limits):
    prog = bpfjit.assemble("mov r0, 1\n" * 11 + "exit")            # 12 slots
    bpfjit.verify(prog)                                           # (cached as accepted)
    set_limits(program_slots=11)
    with pytest.raises(bpfjit.VerifierError, match="12 instruction slots; the limit is 11"):
        bpfjit.compile(prog, "interp")
    set_limits(program_slots=12)
    assert bpfjit.compile(prog, "interp")() == 1


# ---- map memory ---------------------------------------------------------------------------

def test_a_map_larger_than_the_limit_is_refused(restore_limits):
    set_limits(map_bytes=4000)
    make_map(MapSpec("fits", 2, 4, 4, 1000))                       # 4 x 1000 = 4000 bytes
    with pytest.raises(bpfjit.BpfError, match="'big'.*4004 bytes.*limit of 4000"):
        make_map(MapSpec("big", 2, 4, 4, 1001))


def test_the_maps_of_an_object_are_counted_together_before_any_is_made(restore_limits):
    # an array of 100 u32: 400 bytes.  A hash of 10 (u32 -> u64): values 80 bytes, and its
    # native index (bpfjit.maps.hashindex): a 17-field header (136), a table of 32
    # 8-byte entries (the smallest power of two >= 2 x 10: 256), 10 keys padded to 8
    # bytes (80) and a free-slot stack of 10 u32 (40) = 512; 992 bytes in all
    specs = [MapSpec("array", 2, 4, 4, 100), MapSpec("hash", 1, 4, 8, 10)]
    set_limits(object_map_bytes=992)
    check_map_memory(specs)
    set_limits(object_map_bytes=991)
    with pytest.raises(bpfjit.BpfError, match="992 bytes .* limit of 991"):
        check_map_memory(specs)


def test_the_error_names_the_largest_maps_and_the_way_out(restore_limits):
    # netobserv's flow tables declare 2^24 entries, which its loader lowers: the error
    # names the largest maps, largest first, and how to give them fewer entries
    specs = [MapSpec("small", 2, 4, 4, 10), MapSpec("flows", 1, 4, 8, 1 << 20),
             MapSpec("drops", 1, 4, 16, 1 << 20)]
    set_limits(object_map_bytes=1 << 20)
    with pytest.raises(bpfjit.BpfError) as raised:
        check_map_memory(specs)
    message = str(raised.value)
    assert message.index("'drops' (1048576 entries") < message.index("'flows' (1048576")
    assert "'small'" not in message
    assert "max_entries={'drops': N}" in message


def test_an_object_whose_maps_pass_the_limit_does_not_load(restore_limits):
    # counter.o: two arrays of u64, 256 and 1 entries: 2,056 bytes, preallocated
    set_limits(object_map_bytes=1024)
    with pytest.raises(bpfjit.ElfError, match="counter.o: its 2 maps would take 2056 bytes"):
        bpfjit.load_elf(ELF / "counter.o")


def test_tries_the_kernel_fills_one_element_at_a_time_share_the_limit(restore_limits):
    # lpm_route.o: two LPM tries (BPF_F_NO_PREALLOC, as every trie) of 256 and 8
    # entries: within a limit too small for both as declared they load, smaller
    set_limits(object_map_bytes=4096)
    maps = bpfjit.load_elf(ELF / "lpm_route.o", function="route").maps
    assert sum(m.max_entries for m in maps.list) < 256 + 8
    assert all(m.max_entries >= 1 for m in maps.list)


# ---- helper calls -------------------------------------------------------------------------

FIVE_CALLS = "mov r6, 0\n" + "mov r1, r6\ncall 1000\nadd r6, r0\n" * 5 + "mov r0, r6\nexit"


def test_a_run_stops_at_the_call_past_its_helper_limit(engine):
    prog = bpfjit.assemble(FIVE_CALLS)
    helpers = {1000: lambda r1, *rest: r1 + 1}            # r6 = 1, 3, 7, 15, 31
    assert bpfjit.compile(prog, engine, helpers=helpers, helper_calls=5)() == 31
    fn = bpfjit.compile(prog, engine, helpers=helpers, helper_calls=4)
    with pytest.raises(bpfjit.HelperCallsExceeded) as info:
        fn()
    assert info.value.pc == 14                    # the fifth call: pcs 2, 5, 8, 11, 14
    assert fn.helper_calls == 4 and "more than 4 helper calls" in str(info.value)
    with pytest.raises(bpfjit.HelperCallsExceeded):     # each run: its own 4
        fn()


def test_the_process_limit_is_the_default(engine, restore_limits):
    set_limits(helper_calls=2)
    fn = bpfjit.compile(bpfjit.assemble(FIVE_CALLS), engine,
                        helpers={1000: lambda r1, *rest: r1 + 1})
    with pytest.raises(bpfjit.HelperCallsExceeded) as info:
        fn()
    assert info.value.pc == 8


def test_map_helpers_done_in_native_code_count_too(engine):
    """hash_probe.o's probe_words looks up one key per 4-byte word (32 at most): the JITs
    do it in native code, the interpreter in Python, and all stop at the third."""
    prog = bpfjit.load_elf(ELF / "hash_probe.o", function="probe_words")
    packet = struct.pack("<8I", *range(8))
    assert bpfjit.compile(prog, engine, helper_calls=8)(bpfjit.XdpContext(packet)) == 8000
    fn = bpfjit.compile(prog, engine, helper_calls=2)
    with pytest.raises(bpfjit.HelperCallsExceeded):
        fn(bpfjit.XdpContext(packet))


# ---- perf buffers -------------------------------------------------------------------------

def test_a_full_perf_buffer_refuses_records_and_counts_them(engine, restore_limits):
    """events.o writes a 22-byte perf record per IPv4 packet (two addresses, then the
    14-byte Ethernet header); with 50 bytes per CPU slot, two fit until drained."""
    set_limits(perf_buffer_bytes=50)
    prog = bpfjit.load_elf(ELF / "events.o")
    samples = prog.maps["samples"]
    fn = bpfjit.compile(prog, engine)
    frame = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19) + bytes(20)
    for _ in range(3):
        fn(frame)
    assert [len(r.data) for r in samples.records] == [22, 22] and samples.lost == 1
    samples.drain()
    fn(frame)
    assert len(samples.records) == 1 and samples.lost == 1


# ---- trace output ---------------------------------------------------------------------------

def test_the_trace_keeps_the_newest_lines(engine, restore_limits):
    # a program that prints the number in its memory, run 200 times with room for 64
    # lines: at most 64 kept, the newest, and the others counted as dropped
    if engine == "kernel":
        pytest.skip("the kernel engine runs no trace_printk")
    set_limits(trace_lines=64)
    env = KernelEnv(MapTable([]))
    prog = bpfjit.Program(bpfjit.assemble("""
        ldxdw %r3, [%r1+0]
        stdw [%r10-8], 0x6425                   # "%d"
        mov %r1, %r10
        add %r1, -8
        mov %r2, 3
        call 6
        exit
    """).insns, env=env)
    fn = bpfjit.compile(prog, engine)
    for n in range(200):
        fn(n.to_bytes(8, "little"))
    kept = len(env.trace)
    assert 0 < kept <= 64 and kept + env.trace_dropped == 200
    assert env.trace == [str(n) for n in range(200 - kept, 200)]
