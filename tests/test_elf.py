"""Object files built by clang (tests/elf/*.c -> *.o, `make elf-fixtures`): loading,
maps, helpers, global data, bpf-to-bpf calls and XDP, on every engine."""

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.elf import ElfObject

ELF = Path(__file__).parent / "elf"
M64 = 2**64
XDP_DROP, XDP_PASS = 1, 2


def packet(proto=6, src=0x0A000001, dst=0x0A000002, sport=1234, dport=80, payload=b"hello",
           ether_type=0x0800):
    """Ethernet + IPv4 (20-byte header) + ports + payload."""
    eth = b"\xff" * 6 + b"\x11" * 6 + struct.pack("!H", ether_type)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 24 + len(payload), 0, 0, 64, proto, 0, src, dst)
    return eth + ip + struct.pack("!HH", sport, dport) + payload


def load(name, **kw):
    return bpfjit.load_elf(ELF / f"{name}.o", **kw)


# ---- a packet counter with array maps ------------------------------------------------------

def test_counter_counts_per_protocol(engine):
    prog = load("counter")
    fn = bpfjit.compile(prog, engine)
    results = [fn(bpfjit.XdpContext(packet(proto=p))) for p in (6, 17, 6, 1)]
    results.append(fn(bpfjit.XdpContext(packet(ether_type=0x86DD))))   # IPv6: not counted
    assert results == [XDP_PASS] * 5
    assert prog.maps["total"][0] == (5).to_bytes(8, "little")
    counts = {k: v for k, v in prog.maps["proto_counts"].ints().items() if v}
    assert counts == {6: 2, 17: 1, 1: 1}


def test_map_state_lives_across_runs_and_engines():
    prog = load("counter")
    engines = bpfjit.engines()
    for engine in engines:                      # each engine adds one TCP packet
        bpfjit.compile(prog, engine)(packet(proto=6))
    assert prog.maps["proto_counts"][6] == len(engines).to_bytes(8, "little")


def test_python_writes_to_a_map_are_seen_by_the_program(engine):
    prog = load("counter")
    prog.maps["proto_counts"][17] = 1000
    bpfjit.compile(prog, engine)(packet(proto=17))
    assert prog.maps["proto_counts"].ints()[17] == 1001


def test_an_xdp_program_may_change_the_packet_and_the_caller_sees_it():
    # hand-written: swap the first two bytes of the packet
    text = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 2
        jgt %r4, %r3, out
        ldxb %r5, [%r2]
        ldxb %r6, [%r2+1]
        stxb [%r2], %r6
        stxb [%r2+1], %r5
    out:
        mov %r0, 2
        exit
    """
    base = bpfjit.assemble(text)
    prog = bpfjit.Program(base.insns, context="xdp")
    for engine in bpfjit.engines():
        ctx = bpfjit.XdpContext(b"\x01\x02\x03")
        assert bpfjit.compile(prog, engine)(ctx) == XDP_PASS
        assert ctx.packet == b"\x02\x01\x03"
        buf = bytearray(b"\xaa\xbb")                # a plain buffer works too, in place
        bpfjit.compile(prog, engine)(buf)
        assert buf == bytearray(b"\xbb\xaa")


def test_only_context_field_loads_read_the_context_block():
    # a context pointer laundered through arithmetic is a plain number: reading through it
    # is checked like any unproven access, and the context block is in no region
    text = "mov %r2, %r1\nmul %r2, 1\nldxw %r0, [%r2]\nexit"
    prog = bpfjit.Program(bpfjit.assemble(text).insns, context="xdp")
    for engine in bpfjit.engines():
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            bpfjit.compile(prog, engine)(b"\x00" * 8)
        assert info.value.pc == 2, engine


def test_bench_runs_an_xdp_object(engine):
    from bpfjit.bench import bench_program
    result = bench_program(load("parser"), engine, bytearray(packet()), iters=3)
    assert result.r0 == XDP_PASS and result.insns_per_run > 20


# ---- a flow table in a hash map --------------------------------------------------------------

def flow_key(src, dst, sport, dport, proto=6):
    return struct.pack("<IIHHI", *struct.unpack("<II", struct.pack("!II", src, dst)),
                       sport, dport, proto)


def test_flow_table_counts_packets_and_bytes_and_drops_when_full(engine):
    prog = load("flows")
    fn = bpfjit.compile(prog, engine)
    first, second = packet(sport=1), packet(sport=2, payload=b"x" * 30)
    assert [fn(first), fn(first), fn(second)] == [XDP_PASS] * 3
    flows = prog.maps["flows"]
    stats = {k: struct.unpack("<QQ", v) for k, v in flows.items()}
    # a packet is 14 + 20 + 4 + payload bytes
    assert stats == {flow_key(0x0A000001, 0x0A000002, 1, 80): (2, 2 * (38 + 5)),
                     flow_key(0x0A000001, 0x0A000002, 2, 80): (1, 38 + 30)}
    # max_entries is 4: two more flows fit, the fifth gets -E2BIG and is dropped
    assert [fn(packet(sport=s)) for s in (3, 4, 5)] == [XDP_PASS, XDP_PASS, XDP_DROP]
    assert len(flows) == 4
    del flows[flow_key(0x0A000001, 0x0A000002, 3, 80)]      # room again
    assert fn(packet(sport=5)) == XDP_PASS and len(flows) == 4


# ---- global variables ------------------------------------------------------------------------

def _level(engine, level):
    """compile() options for a speculation level (bpfjit.speculation: "all" clamps
    proven variable-offset accesses, here a map value's and a packet's)."""
    if level is None:
        return {}
    if engine == "interp":
        pytest.skip("the interpreter masks nothing")
    return {"speculation": level}


@pytest.mark.parametrize("level", [None, "all"])
def test_global_data_lives_in_array_maps(engine, level):
    prog = load("globals")
    fn = bpfjit.compile(prog, engine, **_level(engine, level))
    pkt = packet()
    # runs starts at 100 (.data) and grows by step = 7 (.rodata); > 120 drops
    assert [fn(pkt) for _ in range(4)] == [XDP_PASS, XDP_PASS, XDP_DROP, XDP_DROP]
    assert prog.maps[".data"].ints() == {0: 128}
    assert prog.maps[".rodata"][0] == (7).to_bytes(4, "little")
    bss = prog.maps[".bss"][0]              # history[4] (u32) at 8, last_length (u64) at 0
    assert struct.unpack_from("<Q", bss, 0)[0] == len(pkt)
    # runs was 107, 114, 121, 128: slots 107 & 3 = 3, 114 & 3 = 2, 1, 0 all got the length
    assert struct.unpack_from("<4I", bss, 8) == (len(pkt),) * 4
    assert prog.trace == [f"run {n} length {len(pkt)}" for n in (107, 114, 121, 128)]


def test_rodata_cannot_be_written_by_the_program():
    prog = load("globals")
    rodata = prog.maps.list.index(prog.maps[".rodata"])
    text = f"lddw %r1, map_val_by_fd({rodata}, 0)\nstw [%r1], 1\nmov %r0, 0\nexit"
    writer = bpfjit.assemble(text)
    with pytest.raises(bpfjit.VerifierError, match="read-only"):
        bpfjit.compile(bpfjit.Program(writer.insns, env=prog.env), "interp")



def test_rodata_cannot_be_written_by_a_helper():
    # bpf_strtoul (106) writes its result through r4: into .rodata the kernel refuses it
    # ("write into map forbidden"), since the verifier reads .rodata as constants
    prog = load("globals")
    rodata = prog.maps.list.index(prog.maps[".rodata"])
    text = f"""stb [%r10-8], 0x35
    stb [%r10-7], 0
    mov %r1, %r10
    add %r1, -8
    mov %r2, 2
    mov %r3, 0
    lddw %r4, map_val_by_fd({rodata}, 0)
    call 106
    mov %r0, 0
    exit"""
    writer = bpfjit.assemble(text)
    with pytest.raises(bpfjit.VerifierError,
                       match="pc 8: strtoul writes through r4 into map '.rodata', which is "
                             "read-only"):
        bpfjit.compile(bpfjit.Program(writer.insns, env=prog.env), "interp")

# ---- bpf-to-bpf calls -------------------------------------------------------------------------

def mix(x, y):
    x = ((x ^ y) * 0x9E3779B97F4A7C15) % M64
    return x ^ (x >> 29)


def test_calls_into_text_compute_what_the_c_says(engine):
    prog = load("calls", section="xdp")
    data = packet()
    h = 0
    for byte in data[:16]:
        h = mix(h, byte)
    assert bpfjit.compile(prog, engine)(data) == (XDP_DROP if h & 1 else XDP_PASS)


def test_function_picks_another_entry_point(engine):
    prog = load("calls", function="mix_only")
    assert prog.section == "xdp/mix"
    ctx = bpfjit.XdpContext(b"\x00" * 4, ingress_ifindex=5)
    assert bpfjit.compile(prog, engine)(ctx) == mix(5, 3) & 0x7FFFFFFF


def test_several_programs_need_a_choice():
    with pytest.raises(bpfjit.ElfError, match="several programs.*hash_packet.*mix_only"):
        load("calls")


# ---- an XDP firewall ----------------------------------------------------------------------------

@pytest.mark.parametrize("level", [None, "all"])
def test_firewall_verdicts_and_counts(engine, level):
    prog = load("parser")
    prog.maps["blocklist"][struct.pack("!I", 0x0A000009)] = 1
    fn = bpfjit.compile(prog, engine, **_level(engine, level))
    cases = [
        (packet(dport=23), XDP_DROP),                     # telnet
        (packet(dport=80), XDP_PASS),
        (packet(src=0x0A000009), XDP_DROP),               # blocklisted source
        (packet(ether_type=0x0806), XDP_PASS),            # not IPv4
        (b"\x00" * 10, XDP_DROP),                         # shorter than Ethernet
        (packet(proto=17, dport=23)[:36], XDP_DROP),      # ports cut off
    ]
    assert [fn(bpfjit.XdpContext(p)) for p, _ in cases] == [v for _, v in cases]
    assert {k: v for k, v in prog.maps["verdicts"].ints().items() if v} == \
        {XDP_DROP: 4, XDP_PASS: 2}


def test_every_access_of_the_fixtures_is_proven():
    for name in ("counter", "flows", "globals", "parser"):
        verified = bpfjit.verify(load(name))
        assert verified.proven == set(verified.accesses), name


# ---- errors --------------------------------------------------------------------------------------

def test_not_an_object_file(tmp_path):
    path = tmp_path / "x.o"
    path.write_bytes(b"hello")
    with pytest.raises(bpfjit.ElfError, match="not an ELF object file"):
        bpfjit.load_elf(path)
    with pytest.raises(bpfjit.ElfError, match="cannot read"):
        bpfjit.load_elf(tmp_path / "missing.o")


def test_an_object_for_another_machine():
    with open(sys.executable, "rb") as f:
        native = f.read()
    with pytest.raises(bpfjit.ElfError, match="not eBPF"):
        bpfjit.load_elf(native)


def test_unknown_section_is_named():
    with pytest.raises(bpfjit.ElfError, match="no code section 'tc'.*xdp"):
        load("counter", section="tc")


def _patched(name, section, offset_in_section, data: bytes) -> bytes:
    raw = bytearray((ELF / f"{name}.o").read_bytes())
    sec = ElfObject(bytes(raw)).elf.get_section_by_name(section)
    at = sec["sh_offset"] + offset_in_section
    raw[at:at + len(data)] = data
    return bytes(raw)


def test_unsupported_map_type_names_the_map():
    # the legacy map's first field is its type: make it 7 (stack trace)
    raw = _patched("parser", "maps", 0, struct.pack("<I", 7))
    with pytest.raises(bpfjit.ElfError, match="verdicts.*map type 7 .stack_trace"):
        bpfjit.load_elf(raw)


def test_unsupported_relocation_names_it():
    # r_info = symbol << 32 | type: set the type of the first relocation of xdp to 3
    raw = bytearray((ELF / "counter.o").read_bytes())
    rel = ElfObject(bytes(raw)).elf.get_section_by_name(".relxdp")
    at = rel["sh_offset"] + 8
    raw[at:at + 4] = struct.pack("<I", 3)
    with pytest.raises(bpfjit.ElfError, match=r"relocation type 3 at xdp\+0x30.*total"):
        bpfjit.load_elf(bytes(raw))


# ---- the command line -------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_runs_an_object_on_a_packet(engine, tmp_path):
    path = tmp_path / "telnet.bin"
    path.write_bytes(packet(dport=23))
    proc = cli("run", str(ELF / "parser.o"), "--section", "xdp", "--packet", str(path),
               "--engine", engine)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "r0 = 1 (0x1) XDP_DROP"


def test_cli_prints_trace_output(tmp_path):
    path = tmp_path / "p.bin"
    path.write_bytes(packet())
    proc = cli("run", str(ELF / "globals.o"), "--packet", str(path))
    assert proc.stdout.splitlines() == [f"trace: run 107 length {len(packet())}",
                                        "r0 = 2 (0x2) XDP_PASS"]


def test_cli_lists_maps():
    proc = cli("maps", str(ELF / "globals.o"))
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        ".data type=array key=4 value=8 max_entries=1",
        ".rodata type=array key=4 value=4 max_entries=1 read-only",
        ".bss type=array key=4 value=24 max_entries=1",
        ".rodata.str1.1 type=array key=4 value=22 max_entries=1 read-only",
    ]
    proc = cli("maps", str(ELF / "parser.o"))
    assert proc.stdout.splitlines() == [
        "verdicts type=array key=4 value=8 max_entries=8",
        "blocklist type=hash key=4 value=4 max_entries=16",
    ]


@pytest.mark.parametrize("args,words", [
    (("maps", "missing.o"), "cannot read missing.o"),
    (("run", str(ELF / "calls.o")), "several programs"),
    (("run", str(ELF / "counter.o"), "--section", "tc"), "no code section 'tc'"),
])
def test_cli_errors_are_one_line(args, words):
    proc = cli(*args)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and words in proc.stderr


# ---- hostile variants of the fixtures -----------------------------------------------------------

def test_mutated_objects_end_in_a_result_or_a_bpf_error():
    """Flip bytes of the fixtures' code and run what still verifies, with fresh maps, on
    every engine: the host survives and every failure is a BpfError.  (The longer
    version of this found helpers reading the native stack below the reachable frames.)"""
    import random
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapTable, make_map
    rng = random.Random(2026)
    bases = [load("counter"), load("flows"), load("parser"), load("globals"),
             load("calls", section="xdp")]
    ran = 0
    for _ in range(150):
        base = rng.choice(bases)
        raw = bytearray(base.to_bytes())
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.getrandbits(8)
        try:
            insns = bpfjit.Program.from_bytes(bytes(raw)).insns
        except bpfjit.BpfError:
            continue
        data = packet(proto=rng.choice([6, 17]), dport=rng.choice([23, 80]))
        for engine in bpfjit.engines():
            maps = MapTable([make_map(m.spec) for m in base.maps.list])
            prog = bpfjit.Program(insns, env=KernelEnv(maps), context=base.context)
            try:
                result = bpfjit.compile(prog, engine, budget=100_000)(bpfjit.XdpContext(data))
                assert 0 <= result < M64
                ran += 1
            except bpfjit.BpfError:
                pass
    assert ran > 0


def test_corrupt_object_files_give_elf_errors():
    """Regression: truncated or byte-flipped objects made pyelftools and struct raise
    IndexError, OverflowError, MemoryError, ... out of load_elf; now it is one ElfError."""
    import random
    rng = random.Random(7)
    files = [p.read_bytes() for p in sorted(ELF.glob("*.o"))]
    for _ in range(400):
        raw = bytearray(rng.choice(files))
        if rng.randrange(3) == 0:
            raw = raw[:rng.randrange(len(raw))]
        else:
            for _ in range(rng.randrange(1, 20)):
                raw[rng.randrange(len(raw))] = rng.getrandbits(8)
        try:
            bpfjit.load_elf(bytes(raw), section="xdp")
        except bpfjit.BpfError:
            pass


def test_load_elf_wants_a_path_or_bytes():
    with pytest.raises(bpfjit.ElfError, match="path or the object's bytes"):
        bpfjit.load_elf(3)


@pytest.mark.skipif(bpfjit.engines() == ["interp"], reason="no JIT engine available")
def test_native_listing_shows_the_rewritten_context_loads():
    # the code runs the verifier's 64-bit loads of data_end / data, so the listing shows them
    proc = cli("disasm", "--native", "--engine", bpfjit.engines()[-1], str(ELF / "counter.o"))
    assert proc.returncode == 0, proc.stderr
    assert "; 0: ldxdw %r7, [%r1+8]" in proc.stdout
    assert "; 1: ldxdw %r6, [%r1]" in proc.stdout


def test_programs_of_one_object_share_its_maps(engine):
    obj = ElfObject(ELF / "calls.o")
    first, second = obj.program("xdp", None), obj.program("xdp/mix", None)
    assert first.maps is second.maps and first.env is second.env
    assert load("calls", section="xdp").env is not first.env     # load_elf: afresh


def test_an_xdp_context_for_a_program_without_one_is_refused(engine):
    prog = bpfjit.assemble("mov %r0, 0\nexit")
    with pytest.raises(bpfjit.BpfError, match="does not take a context"):
        bpfjit.compile(prog, engine)(bpfjit.XdpContext(b"abc"))


def test_a_map_kind_bpfjit_lacks_is_named_before_its_missing_size():
    # cgroup storage declares no max_entries: the error is the kind, not the size
    with pytest.raises(bpfjit.ElfError, match=r"map 'packets' has map type 19 "
                                               r"\(cgroup_storage\), which bpfjit does not"):
        bpfjit.load_elf(ELF / "cgroup_storage.o")
