"""The kernel engine: programs run by the running kernel's verifier and JIT through
BPF_PROG_TEST_RUN (root or CAP_BPF needed; skipped elsewhere, with the reason)."""

import subprocess
import sys

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.backends.kerneljit import high_half_program

REASON = bpfsys.unavailable()
needs_kernel = pytest.mark.skipif(REASON is not None, reason=f"no kernel engine: {REASON}")

XDP_PASS = 2


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="xdp", prog_type="xdp")


# r0 = memory[8..16] as a little-endian u64, memory[0..8] = 0x1122334455667788, then a
# local call that returns 0xdeadbeef00000001 + r1 (the caller's r1 = 5)
PLAIN = """
    mov %r6, %r1
    ldxdw %r7, [%r6+8]
    lddw %r2, 0x1122334455667788
    stxdw [%r6+0], %r2
    mov %r1, 5
    call local add
    add %r0, %r7
    jeq %r7, 0, zero
    exit
zero:
    mov %r0, 1
    exit
add:
    lddw %r0, 0xdeadbeef00000001
    add %r0, %r1
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_plain_program_returns_all_64_bits_and_writes_memory(which):
    mem = bytearray(range(16))
    r0 = bpfjit.compile(bpfjit.assemble(PLAIN), which)(mem)
    # bytes 8..15 are 08..0f: 0x0f0e0d0c0b0a0908; plus 0xdeadbeef00000001 + 5
    assert r0 == (0x0F0E0D0C0B0A0908 + 0xDEADBEEF00000006) % 2**64
    assert mem == bytes.fromhex("8877665544332211") + bytes(range(8, 16))


@needs_kernel
def test_plain_program_from_bytes_leaves_the_caller_bytes_alone():
    mem = bytes(16)
    r0 = bpfjit.compile(bpfjit.assemble(PLAIN), "kernel")(mem)
    assert r0 == 1 and mem == bytes(16)         # bytes are copied; r7 = 0 takes `zero`


XDP_SWAP = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 16
    mov %r0, 1
    jgt %r4, %r3, out
    ldxb %r5, [%r2+0]
    ldxb %r6, [%r2+15]
    stxb [%r2+0], %r6
    stxb [%r2+15], %r5
    ldxdw %r0, [%r2+4]
    rsh %r0, 8
out:
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_xdp_program_sees_and_changes_the_packet(which):
    packet = bytearray(range(1, 21))
    r0 = bpfjit.compile(xdp(XDP_SWAP), which)(packet)
    # bytes 4..11 are 05..0c: 0x0c0b0a0908070605 >> 8
    assert r0 == 0x000C0B0A09080706
    assert packet == bytes([16]) + bytes(range(2, 16)) + bytes([1]) + bytes(range(17, 21))
    ctx = bpfjit.XdpContext(bytes(range(1, 17)))
    assert bpfjit.compile(xdp(XDP_SWAP), which)(ctx) == 0x000C0B0A09080706
    assert ctx.packet[0] == 16 and ctx.packet[15] == 1


@needs_kernel
def test_xdp_packet_shorter_than_the_kernel_allows():
    fn = bpfjit.compile(xdp(XDP_SWAP), "kernel")
    assert fn(bytes(14)) == 1                   # 14 bytes: runs, takes the short path
    with pytest.raises(bpfjit.BpfError, match="at least 14 bytes, not 13"):
        fn(bytes(13))


@needs_kernel
def test_what_the_kernel_refuses_is_a_verifier_error_with_its_reason():
    # RFC 9669 masks the shift count (bpfjit runs it: 3 << 0); the kernel refuses it
    prog = bpfjit.assemble("mov %r0, 3\nlsh %r0, 64\nexit")
    assert bpfjit.compile(prog, "interp")() == 3
    with pytest.raises(bpfjit.VerifierError, match="invalid shift 64"):
        bpfjit.compile(prog, "kernel")


@needs_kernel
def test_a_program_whose_verifier_log_would_not_fit_loads():
    # 60,000 trips: the kernel's verifier walks them all, and its log at level 1 would
    # pass the 1 MiB buffer, which made the load fail with ENOSPC: programs load with
    # no log, which is asked for only to say why one was refused
    prog = bpfjit.assemble("mov %r1, 0\nloop:\nadd %r1, 1\njlt %r1, 60000, loop\n"
                           "mov %r0, %r1\nexit")
    assert bpfjit.compile(prog, "kernel")(bytes(8)) == 60000


@needs_kernel
def test_helper_calls_are_refused_clearly():
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable
    with pytest.raises(bpfjit.BpfError, match="was given helpers"):
        bpfjit.compile(bpfjit.assemble("mov %r1, 1\ncall 1\nexit"), "kernel",
                       helpers={1: lambda *args: 0})
    # bpf_ktime_get_ns (5) in an XDP program with the kernel's helpers
    prog = bpfjit.Program(bpfjit.assemble("call 5\nmov %r0, 2\nexit").insns,
                          env=KernelEnv(MapTable([])), context="xdp", prog_type="xdp")
    assert bpfjit.compile(prog, "interp")(bytes(14)) == XDP_PASS
    with pytest.raises(bpfjit.BpfError, match="calls helper 5 at pc 0"):
        bpfjit.compile(prog, "kernel")


@needs_kernel
def test_a_map_without_a_twin_in_the_kernel_is_refused_clearly():
    # a devmap: its entries are interfaces of this host, so no twin is made for it
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapSpec, MapTable, make_map
    flows = make_map(MapSpec("ports", 14, 4, 4, 16))
    names_it = "lddw %r1, map_by_fd(0)\nmov %r0, 2\nexit"
    prog = bpfjit.Program(bpfjit.assemble(names_it).insns,
                          env=KernelEnv(MapTable([flows])), context="xdp", prog_type="xdp")
    with pytest.raises(bpfjit.BpfError, match="'ports' is a devmap map"):
        bpfjit.compile(prog, "kernel")
    # a map of the object that the program does not name needs no twin
    prog = bpfjit.Program(bpfjit.assemble("mov %r0, 2\nexit").insns,
                          env=KernelEnv(MapTable([flows])), context="xdp", prog_type="xdp")
    assert bpfjit.compile(prog, "kernel")(bytes(14)) == 2


# an LRU hash of 4 u32 keys: the packet's first byte is a key, its value the run's count
# of updates so far (the key's old value + 1); r0 = the new value
LRU_COUNT = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 1
    mov %r0, 0
    jgt %r4, %r3, out
    ldxb %r4, [%r2+0]
    stxw [%r10-4], %r4
    stdw [%r10-16], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, fresh
    ldxdw %r5, [%r0+0]
    stxdw [%r10-16], %r5
fresh:
    ldxdw %r5, [%r10-16]
    add %r5, 1
    stxdw [%r10-16], %r5
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    ldxdw %r0, [%r10-16]
out:
    exit
"""


def _lru_program():
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapSpec, MapTable, make_map
    seen = make_map(MapSpec("seen", 9, 4, 8, 4))
    return bpfjit.Program(bpfjit.assemble(LRU_COUNT).insns, env=KernelEnv(MapTable([seen])),
                          context="xdp", prog_type="xdp")


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_an_lru_map_short_of_full_runs_in_the_kernel(which):
    prog = _lru_program()
    fn = bpfjit.compile(prog, which)
    # keys 1, 2, 1, 3: counts 1, 1, 2, 1; three keys held, one place left
    assert [fn(bytes([k]) + bytes(13)) for k in (1, 2, 1, 3)] == [1, 1, 2, 1]
    seen = prog.maps["seen"]
    assert {int.from_bytes(k, "little"): int.from_bytes(v, "little")
            for k, v in seen.items()} == {1: 2, 2: 1, 3: 1}


@needs_kernel
def test_a_run_that_fills_an_lru_map_is_refused_in_the_kernel():
    fn = bpfjit.compile(_lru_program(), "kernel")
    for k in (1, 2, 3):
        fn(bytes([k]) + bytes(13))
    with pytest.raises(bpfjit.BpfError, match="filled LRU map 'seen'"):
        fn(bytes([4]) + bytes(13))


# counter.o's `total` (map 0, an array of one u64): r0 = the count before this run in both
# halves, count + 1 stored; both runs of a call (low and high half of r0) must start
# from the same count, and the maps keep the first run's
COUNTING = """
    stw [%r10-4], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, none
    ldxdw %r1, [%r0]
    mov %r3, %r1
    add %r3, 1
    stxdw [%r0], %r3
    mov %r0, %r1
    lsh %r0, 32
    or %r0, %r1
    exit
none:
    mov %r0, 0
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_a_run_with_maps_starts_from_their_entries_and_leaves_its_own(which):
    from pathlib import Path
    maps = bpfjit.load_elf(Path(__file__).parent / "elf" / "counter.o")
    prog = bpfjit.Program(bpfjit.assemble(COUNTING).insns, env=maps.env, context="xdp",
                          prog_type="xdp")
    prog.maps["total"][0] = 40                      # set from Python before the runs
    fn = bpfjit.compile(prog, which)
    assert [fn(bytes(14)) for _ in range(3)] == [k << 32 | k for k in (40, 41, 42)]
    assert prog.maps["total"].ints() == {0: 43}
    prog.maps["total"][0] = 7                       # and between them
    assert fn(bytes(14)) == 7 << 32 | 7 and prog.maps["total"].ints() == {0: 8}


def test_kernel_is_listed_only_when_asked_and_available():
    assert "kernel" not in bpfjit.engines()
    assert ("kernel" in bpfjit.engines(kernel=True)) == (REASON is None)


def test_unavailable_kernel_says_why(monkeypatch):
    monkeypatch.setattr(bpfsys, "_PROBE", ["the probe was refused"])
    assert "kernel" not in bpfjit.engines(kernel=True)
    with pytest.raises(bpfjit.BackendUnavailable, match="the probe was refused"):
        bpfjit.compile(bpfjit.assemble("mov %r0, 1\nexit"), "kernel")


@pytest.mark.parametrize("text", [PLAIN, XDP_SWAP])
def test_high_half_program_returns_the_upper_32_bits(text):
    # the rewrite the kernel engine loads next to the program: every exit of the main
    # subprogram returns r0 >> 32, callees unchanged (run here on the interpreter)
    prog = xdp(text) if "ldxw %r2, [%r1+0]" in text else bpfjit.assemble(text)
    high = high_half_program(prog)
    assert high.slot_count == prog.slot_count + 2
    for mem in (bytes(range(16)), bytes(range(100, 120)), bytes(16)):
        full = bpfjit.compile(prog)(bytearray(mem))
        assert bpfjit.compile(high)(bytearray(mem)) == full >> 32


@needs_kernel
def test_generated_kernel_programs_agree_with_the_kernel():
    # the fuzzer's kernel mode: XDP programs both verifiers accept, with map operations,
    # compared on all engines; seeded, so the same programs every run
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from bpfjit.fuzz.generator import programs
    from bpfjit.fuzz.oracle import run_outcome
    engines = bpfjit.engines() + ["kernel"]
    ran = []

    @settings(max_examples=25, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(20261130)
    @given(programs(kernel=True))
    def check(generated):
        prog, mem = generated
        outcomes = [run_outcome(prog.to_bytes(), mem, e, "xdp") for e in engines]
        assert outcomes[-1].result != "VerifierError", outcomes[-1].detail
        assert all(o == outcomes[0] for o in outcomes), list(zip(engines, outcomes))
        ran.append(prog)

    check()
    assert len(ran) == 25
    # some look up, update or delete in the fuzz maps, which the kernel runs on twins:
    # their contents after the run are part of each outcome
    from bpfjit.isa import Kind
    assert any(insn.kind is Kind.CALL and insn.imm in (1, 2, 3)
               for prog in ran for insn in prog.insns)


@needs_kernel
def test_fuzz_cli_against_the_kernel():
    out = subprocess.run([sys.executable, "-m", "bpfjit", "fuzz", "--engines", "interp,kernel",
                          "--examples", "30", "--seed", "5", "--no-progress"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "fuzz: 30 programs, 0 mismatches, 0 crashes"


def test_fuzz_cli_refuses_hostile_input_for_the_kernel():
    out = subprocess.run([sys.executable, "-m", "bpfjit", "fuzz", "--engines", "kernel",
                          "--mode", "hostile", "--examples", "1"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("bpfjit: error: ")


@needs_kernel
@pytest.mark.parametrize("obj, section, function", [
    ("calls.o", "xdp", "hash_packet"), ("calls.o", "xdp/mix", "mix_only"),
    ("legacy_xdp.o", "xdp1", "xdp_no_ipv6")])
def test_clang_built_objects_without_maps_agree_with_the_kernel(obj, section, function):
    # the kernel is the independent computation: every engine must give its r0 and packet
    import random
    from pathlib import Path
    prog = bpfjit.load_elf(Path(__file__).parent / "elf" / obj, section=section,
                           function=function)
    rng = random.Random(obj + section)
    ipv4 = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(39)
    ipv6 = bytes(12) + b"\x86\xdd" + bytes([0x60]) + bytes(59)
    packets = [ipv4, ipv6, bytes(14)] + [rng.randbytes(rng.randint(14, 120)) for _ in range(12)]
    kernel = bpfjit.compile(prog, "kernel")
    for packet in packets:
        expected_packet = bytearray(packet)
        expected = kernel(expected_packet)
        for engine in bpfjit.engines():
            got_packet = bytearray(packet)
            assert bpfjit.compile(prog, engine)(got_packet) == expected, (engine, packet)
            assert got_packet == expected_packet, engine


@needs_kernel
@pytest.mark.parametrize("option", ["budget", "helper_calls"])
def test_a_bound_the_kernel_cannot_enforce_is_refused(option):
    # it used to be ignored: a run bpfjit's engines stop after 2 instructions ran whole
    with pytest.raises(bpfjit.BpfError, match=f"cannot bound a run by {option}"):
        bpfjit.compile(bpfjit.assemble("mov %r0, 1\nadd %r0, 1\nexit"), "kernel",
                       **{option: 2})


@needs_kernel
def test_xdp_programs_see_the_contexts_interface_and_queue():
    # r0 = ingress_ifindex * 1000 + rx_queue_index; interface 1 is the loopback, which
    # has one receive queue
    fn = bpfjit.compile(xdp("ldxw %r2, [%r1+12]\nmul %r2, 1000\nldxw %r0, [%r1+16]\n"
                            "add %r0, %r2\nexit"), "kernel")
    assert fn(bpfjit.XdpContext(bytes(20))) == 1000
    assert fn(bytes(20)) == 1000
    with pytest.raises(bpfjit.BpfError, match="No such device"):
        fn(bpfjit.XdpContext(bytes(20), ingress_ifindex=0x7FFFFFF0))


@needs_kernel
def test_run_batch_times_an_xdp_program_in_the_kernel():
    fn = bpfjit.compile(xdp("mov %r0, 2\nexit"), "kernel")
    r0, ns = fn.run_batch(bytes(64), 1000)
    assert r0 == XDP_PASS and ns >= 0
    for count in (0, -1, 2**32, 1.5, True):
        with pytest.raises(bpfjit.BpfError, match="count"):
            fn.run_batch(bytes(64), count)


@needs_kernel
def test_run_batch_of_a_plain_program_says_the_kernel_cannot_repeat_it():
    fn = bpfjit.compile(bpfjit.assemble("mov %r0, 1\nexit"), "kernel")
    with pytest.raises(bpfjit.BpfError, match="repeats test runs only"):
        fn.run_batch(None, 10)




# key 0 of map 0 (a per-CPU map of u64 values): r0 = its value before this run (or
# 100 when it has none, then inserted as 1), incremented in place
PER_CPU_COUNT = """
    stw [%r10-4], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, insert
    ldxdw %r1, [%r0]
    mov %r2, %r1
    add %r2, 1
    stxdw [%r0], %r2
    mov %r0, %r1
    exit
insert:
    stdw [%r10-16], 1
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2
    mov %r0, 100
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
@pytest.mark.parametrize("map_type", [5, 6])        # per-CPU hash, per-CPU array
def test_per_cpu_maps_run_on_one_cpu_and_keep_its_values(which, map_type):
    # bpfjit keeps one CPU's values; the kernel's twin gets them on every CPU, runs on
    # one, and that CPU's values come back
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapSpec, MapTable, make_map
    counts = make_map(MapSpec("counts", map_type, 4, 8, 4))
    prog = bpfjit.Program(bpfjit.assemble(PER_CPU_COUNT).insns,
                          env=KernelEnv(MapTable([counts])), context="xdp", prog_type="xdp")
    fn = bpfjit.compile(prog, which)
    if map_type == 5:                                   # a hash: no key 0 yet
        assert fn(bytes(14)) == 100 and counts.ints() == {0: 1}
    counts[0] = 41
    assert fn(bytes(14)) == 41
    assert counts.ints()[0] == 42


def tc(text: str) -> bpfjit.Program:
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context="skb", prog_type="sched_cls")


# a tc program: cb[0] = len + mark, cb[1] = the packet's byte 14; mark = 7 and byte 14
# = 0x5a; returns TC_ACT_SHOT (2)
TC_FIELDS = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+8]
    add %r2, %r3
    stxw [%r1+48], %r2
    ldxw %r4, [%r1+76]
    ldxw %r5, [%r1+80]
    mov %r3, %r4
    add %r3, 15
    mov %r0, 0
    jgt %r3, %r5, out
    ldxb %r2, [%r4+14]
    stxw [%r1+52], %r2
    stb [%r4+14], 0x5a
    stw [%r1+8], 7
    mov %r0, 2
out:
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_tc_program_sees_and_changes_the_packet_and_reported_fields(which):
    ctx = bpfjit.SkbContext(bytes(12) + b"\x08\x00" + b"\x11" + bytes(20), mark=100)
    assert bpfjit.compile(tc(TC_FIELDS), which)(ctx) == 2
    assert (ctx.cb[0], ctx.cb[1], ctx.mark) == (35 + 100, 0x11, 7)
    assert ctx.packet[14] == 0x5A


@needs_kernel
def test_tc_program_reading_a_field_the_kernel_sets_otherwise_is_refused():
    # pkt_type: the kernel's test run makes it 3 (PACKET_OTHERHOST) for a frame to
    # another address than the loopback device's, where the context says 0
    fn = bpfjit.compile(tc("ldxw %r0, [%r1+4]\nexit"), "kernel")
    with pytest.raises(bpfjit.BpfError, match="sets pkt_type to 3"):
        fn(bpfjit.SkbContext(b"\x02" + bytes(13)))
    assert fn(bpfjit.SkbContext(bytes(14))) == 0           # to 00:00:00:00:00:00: 0
    assert fn(bpfjit.SkbContext(b"\x02" + bytes(13), pkt_type=3)) == 3
    # napi_id: never as bpfjit's context has it; tc_classid: written, not reported back
    with pytest.raises(bpfjit.BpfError, match="sets napi_id itself"):
        bpfjit.compile(tc("ldxw %r0, [%r1+84]\nexit"), "kernel")
    with pytest.raises(bpfjit.BpfError, match="does not report tc_classid"):
        bpfjit.compile(tc("stw [%r1+72], 1\nmov %r0, 0\nexit"), "kernel")


# a socket filter: r0 = (frame byte 0 << 16 | its EtherType, bytes 12-13), as a packet
# socket shows the frame; cb[0] = len, cb[1] = protocol (since 2026-12-04 the kernel engine
# runs them: the kernel's test run shows the packet from skb->data on, after an Ethernet
# header it strips, so the engine puts one in front of the frame)
SOCKET_FILTER = """
    mov %r6, %r1
    ldabsb 0
    mov %r7, %r0
    lsh %r7, 16
    ldabsh 12
    or %r7, %r0
    ldxw %r2, [%r6+0]
    stxw [%r6+48], %r2
    ldxw %r3, [%r6+16]
    stxw [%r6+52], %r3
    mov %r0, %r7
    exit
"""


def socket_filter(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, context="skb",
                          prog_type="socket_filter")


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
def test_a_socket_filter_sees_the_frame_from_its_first_byte(which):
    frame = b"\x00" * 6 + b"\x02" * 6 + b"\x08\x00" + bytes(range(1, 21))
    ctx = bpfjit.SkbContext(frame)
    # ldabs reads big-endian: 0x00 (byte 0), 0x0800 (bytes 12-13)
    assert bpfjit.compile(socket_filter(SOCKET_FILTER), which)(ctx) == 0x0800
    # len: the whole frame (34 bytes); protocol: ETH_P_IP as the kernel stores it,
    # in network order in a little-endian word (0x0008)
    assert (ctx.cb[0], ctx.cb[1]) == (34, 0x0008)


@needs_kernel
def test_a_socket_filter_reading_a_header_by_a_negative_offset_is_refused():
    # SKF_NET_OFF (-0x100000): bpfjit's network header is at 14 of the frame, the
    # kernel's test run puts it at skb->data, so the two would read different bytes
    prog = socket_filter("mov %r6, %r1\nldabsb -1048567\nexit")
    with pytest.raises(bpfjit.BpfError, match="may read a header by a negative offset at pc 1"):
        bpfjit.compile(prog, "kernel")
    # an ldind whose register the verifier cannot show non-negative, likewise; one it
    # can runs (r7 = 9 + the frame's byte 0: the protocol field of an IPv4 header at 14
    # read 9 bytes in, when byte 0 is 14)
    maybe = socket_filter("mov %r6, %r1\nldabsb 0\nmov %r7, %r0\nsub %r7, 20\n"
                          "ldindb %r7, 0\nexit")
    with pytest.raises(bpfjit.BpfError, match="may read a header by a negative offset at pc 4"):
        bpfjit.compile(maybe, "kernel")
    sure = socket_filter("mov %r6, %r1\nldabsb 0\nmov %r7, %r0\nadd %r7, 9\n"
                         "ldindb %r7, 0\nexit")
    frame = bytes([14]) + bytes(11) + b"\x08\x00" + bytes(9) + b"\x11" + bytes(10)
    assert bpfjit.compile(sure, "kernel")(bpfjit.SkbContext(frame)) == 0x11


# a cgroup_skb program (since 2026-12-03 the kernel engine runs them: their packet starts
# at the network header, behind an Ethernet header the engine adds for the test run):
# cb[0] = the IPv4 header's TTL (packet byte 8), mark = 5; r0 = 1 (allow) for TTL 64,
# else 0 (a cgroup_skb program may not write its packet: tests/test_cgroup_skb.py)
CGROUP = """
    ldxw %r2, [%r1+76]
    ldxw %r3, [%r1+80]
    mov %r4, %r2
    add %r4, 9
    mov %r0, 0
    jgt %r4, %r3, out
    ldxb %r5, [%r2+8]
    stxw [%r1+48], %r5
    stw [%r1+8], 5
    jne %r5, 64, out
    mov %r0, 1
out:
    exit
"""


@needs_kernel
@pytest.mark.parametrize("which", ["interp", "kernel"])
@pytest.mark.parametrize("ttl, verdict", [(64, 1), (3, 0)])
def test_a_cgroup_skb_program_runs_in_the_kernel(which, ttl, verdict):
    prog = bpfjit.Program(bpfjit.assemble(CGROUP).insns, context="skb",
                          prog_type="cgroup_skb", attach_type="ingress")
    packet = bytes([0x45, 0, 0, 20, 0, 0, 0, 0, ttl, 17]) + bytes(10)
    ctx = bpfjit.SkbContext(packet, protocol=0x0008)
    assert bpfjit.compile(prog, which)(ctx) == verdict
    assert (ctx.cb[0], ctx.mark) == (ttl, 5)
    assert ctx.packet == packet


@needs_kernel
def test_run_batch_times_a_tc_program_in_the_kernel():
    fn = bpfjit.compile(tc("mov %r0, 2\nexit"), "kernel")
    r0, ns = fn.run_batch(bpfjit.SkbContext(bytes(64)), 1000)
    assert r0 == 2 and ns >= 0


def _loop_of_probes(kernel_mode: bool) -> bpfjit.Program:
    """A program the fuzzer drew in kernel mode (campaign seed 0, round 28,981), its
    probes made by `accumulate` as the generator makes them now: a loop of five rounds
    comparing r3 and r4 each with itself around four probes, then the fold."""
    from bpfjit.fuzz.draws import ACCUMULATOR, DATA, accumulate, fold_epilogue
    from bpfjit.fuzz.generator import xdp_prologue

    def jumps(left: str, conds_and_markers) -> list[str]:
        lines = [f"mov %r1, {left}"]
        for cond, marker in conds_and_markers:
            record = accumulate(str(marker), kernel_mode)
            lines += [f"{cond} {left}, %r1, +{len(record)}", *record]
        return lines
    lines = xdp_prologue(64) + [f"ldxdw %r{r}, [%r6+{8 * i}]" for i, r in enumerate(DATA)]
    lines += [f"stdw [%r10-{off}], {value}" for off, value in
              zip(range(8, ACCUMULATOR, 8), (-0x5833, 15, -0x125560, 7, 1, 31, -1, 0xC52))]
    lines += [f"stdw [%r10-{ACCUMULATOR}], 0", "stxdw [%r10-16], %r4", "mov %r9, 5",
              "stxdw [%r10-8], %r3", "loop:"]
    lines += jumps("%r3", [("jsgt", 177), ("jgt", 0x3BCB), ("jge", 0xF91)])
    lines += ["smod %r3, -0x8cf", *jumps("%r4", [("jsgt", 49)]), "lddw %r0, 0x8000001",
              "sub %r9, 1", "jne %r9, 0, loop", "or32 %r4, 64", "movsx1664 %r5, %r5"]
    lines += accumulate("%r5", kernel_mode)
    lines += ["lsh %r9, 32", "rsh %r9, 32", "stxdw [%r10-56], %r5"]
    return xdp("\n".join(lines + fold_epilogue() + ["exit"]))


@needs_kernel
def test_generated_probes_leave_the_kernel_able_to_prune_a_loops_paths():
    # Stored plainly, a probe's value was one the kernel's verifier could compute (a
    # marker mixed into a known accumulator): every way round this loop was a state of
    # its own, and the kernel stopped at its million-instruction limit (1 program in
    # 1,260 of a kernel campaign).  In kernel mode the probes store by an atomic
    # exchange, which the kernel's verifier does not follow: it takes 561 instructions.
    runs = [bpfjit.compile(_loop_of_probes(kernel_mode=True), engine)(bytearray(range(64)))
            for engine in ("kernel", "interp")]
    assert runs[0] == runs[1]
