"""Capture replay: pcap and pcapng files through XDP and tc programs on every engine,
maps persisting from packet to packet, verdicts counted, what went through written."""

import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"


def frame(proto: int = 6, dport: int = 80, ether_type: int = 0x0800) -> bytes:
    """Ethernet + IPv4 (20-byte header) + ports + payload, as tests/test_elf.py's."""
    eth = b"\xff" * 6 + b"\x11" * 6 + struct.pack("!H", ether_type)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 29, 0, 0, 64, proto, 0, 0x0A000001, 0x0A000002)
    return eth + ip + struct.pack("!HH", 1234, dport) + b"hello"


def capture(path: Path, frames: list[bytes], ng: bool = False, linktype: int = 1) -> Path:
    with open(path, "wb") as out:
        writer = (dpkt.pcapng.Writer if ng else dpkt.pcap.Writer)(out, linktype=linktype)
        for i, data in enumerate(frames):
            writer.writepkt(data, ts=1_700_000_000 + i)
    return path


def read(path: Path) -> list[tuple[float, bytes]]:
    with open(path, "rb") as handle:
        magic = handle.read(4)
        handle.seek(0)
        reader = (dpkt.pcapng.Reader if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader)
        return [(ts, bytes(data)) for ts, data in reader(handle)]


def test_verdicts_counted_and_what_passed_written(engine, tmp_path):
    # tests/elf/parser.c drops TCP and UDP to port 23 and passes the rest (ICMP too)
    frames = [frame(dport=80), frame(dport=23), frame(dport=443), frame(dport=23),
              frame(proto=1, dport=23)]
    source = capture(tmp_path / "in.pcapng", frames, ng=True)
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "parser.o", section="xdp"), engine)
    result = bpfjit.replay(fn, source, write=tmp_path / "out.pcap")
    assert result.packets == 5 and result.through == 3 and result.written == 3
    assert dict(result.verdicts) == {"XDP_PASS": 3, "XDP_DROP": 2}
    assert read(tmp_path / "out.pcap") == [(1_700_000_000.0, frames[0]),
                                           (1_700_000_002.0, frames[2]),
                                           (1_700_000_004.0, frames[4])]
    table = result.format().splitlines()
    assert table[1].split() == ["XDP_PASS", "3", "60.0%"]
    assert table[-1] == f"3 packets written to {tmp_path / 'out.pcap'}"


def test_maps_persist_from_packet_to_packet(engine, tmp_path):
    prog = bpfjit.load_elf(ELF / "counter.o")
    source = capture(tmp_path / "in.pcap", [frame(proto=p) for p in (6, 17, 6, 1, 6)])
    result = bpfjit.replay(bpfjit.compile(prog, engine), source)
    assert result.verdicts == {"XDP_PASS": 5} and result.written == 0
    assert {k: v for k, v in prog.maps["proto_counts"].ints().items() if v} == \
        {6: 3, 17: 1, 1: 1}


def test_a_trap_is_counted_and_the_replay_goes_on(engine, tmp_path):
    # reads byte 40 of the packet, unchecked against data_end: a trap on short frames
    prog = bpfjit.Program(bpfjit.assemble("ldxw r2, [r1+0]\nldxb r0, [r2+40]\nmov r0, 2\n"
                                          "exit").insns, context="xdp", prog_type="xdp")
    fn = bpfjit.compile(prog, engine)
    if engine == "kernel":
        pytest.skip("the kernel's verifier refuses the unchecked packet access")
    source = capture(tmp_path / "in.pcap", [bytes(60), bytes(20), bytes(41), bytes(14)])
    result = bpfjit.replay(fn, source, write=tmp_path / "out.pcap")
    assert dict(result.verdicts) == {"XDP_PASS": 2, "trap: MemoryAccessError": 2}
    assert [len(data) for _, data in read(tmp_path / "out.pcap")] == [60, 41]


def test_a_tc_program_drops_with_tc_act_shot(engine, tmp_path):
    # r0 = TC_ACT_SHOT (2) for packets longer than 40 bytes, else TC_ACT_OK (0)
    prog = bpfjit.Program(bpfjit.assemble("ldxw r2, [r1+0]\nmov r0, 0\njle r2, 40, +1\n"
                                          "mov r0, 2\nexit").insns,
                          context="skb", prog_type="sched_cls")
    source = capture(tmp_path / "in.pcap", [bytes(60), bytes(30), bytes(50)])
    result = bpfjit.replay(bpfjit.compile(prog, engine), source, write=tmp_path / "o.pcap")
    assert dict(result.verdicts) == {"TC_ACT_SHOT": 2, "TC_ACT_OK": 1}
    assert [data for _, data in read(tmp_path / "o.pcap")] == [bytes(30)]


def test_a_socket_filter_keeps_what_it_returns(tmp_path):
    # keep the first 20 bytes of a packet longer than 40, all of a shorter one
    prog = bpfjit.Program(bpfjit.assemble("ldxw r2, [r1+0]\nmov r0, -1\njle r2, 40, +1\n"
                                          "mov r0, 20\nexit").insns,
                          context="skb", prog_type="socket_filter")
    source = capture(tmp_path / "in.pcap", [bytes(range(60)), bytes(30)])
    result = bpfjit.replay(bpfjit.compile(prog, "interp"), source, write=tmp_path / "o.pcap")
    assert dict(result.verdicts) == {"keep (truncated)": 1, "keep": 1}
    assert [data for _, data in read(tmp_path / "o.pcap")] == [bytes(range(20)), bytes(30)]


def test_what_cannot_be_replayed(tmp_path):
    xdp = bpfjit.compile(bpfjit.load_elf(ELF / "parser.o", section="xdp"), "interp")
    plain = bpfjit.compile(bpfjit.assemble("mov r0, 0\nexit"), "interp")
    good = capture(tmp_path / "in.pcap", [frame()])
    (tmp_path / "junk.pcap").write_bytes(b"not a capture at all")
    for fn, path, words in [
        (xdp, capture(tmp_path / "raw.pcap", [frame()], linktype=101), "not Ethernet"),
        (xdp, tmp_path / "junk.pcap", "not a pcap or pcapng capture"),
        (xdp, tmp_path / "missing.pcap", "cannot read"),
        (plain, good, "takes plain memory"),
    ]:
        with pytest.raises(bpfjit.BpfError, match=words):
            bpfjit.replay(fn, path)
    with pytest.raises(bpfjit.BpfError, match="cannot write"):
        bpfjit.replay(xdp, good, write=tmp_path / "no" / "such" / "dir.pcap")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_run_pcap_from_the_command_line(tmp_path):
    source = capture(tmp_path / "in.pcap", [frame(dport=23), frame(dport=80)])
    proc = cli("run", str(ELF / "parser.o"), "--section", "xdp", "--pcap", str(source),
               "--write-pcap", str(tmp_path / "out.pcapng"), "--engine", "peachpy")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["verdict", "packets", "share"]
    assert sorted(line.split()[:2] for line in lines[1:3]) == [["XDP_DROP", "1"],
                                                              ["XDP_PASS", "1"]]
    assert [data for _, data in read(tmp_path / "out.pcapng")] == [frame(dport=80)]
    for args, words in [(["--write-pcap", "x.pcap"], "--write-pcap needs --pcap"),
                        (["--pcap", str(source), "--packet", str(source)], "takes no"),
                        (["--pcap", str(tmp_path / "nope.pcap")], "cannot read")]:
        proc = cli("run", str(ELF / "parser.o"), "--section", "xdp", *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and words in lines[0], proc.stderr


def test_a_capture_cut_inside_a_record_is_a_clear_error(tmp_path):
    source = capture(tmp_path / "in.pcap", [frame(), frame(), frame()])
    raw = source.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(raw[:24 + 16 + len(frame()) + 10])    # into the second record's header
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "parser.o", section="xdp"), "interp")
    with pytest.raises(bpfjit.BpfError, match="a damaged capture .* after 1 packets"):
        bpfjit.replay(fn, cut)
