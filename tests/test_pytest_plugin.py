"""bpfjit's pytest plugin (bpfjit.pytest_plugin): the `bpf` fixture on every engine,
engines cross-checked against the interpreter, --bpf-engines and --bpf-cov; and the
examples under examples/, each run here as a user would run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.pytest_plugin import EnginesDisagree, LoadedProgram

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


def run(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_the_firewall_example_on_two_engines_with_coverage(tmp_path):
    info = tmp_path / "bpf.info"
    proc = run("-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
               str(EXAMPLES / "firewall"), "--bpf-engines", "interp,peachpy",
               "--bpf-cov", str(info))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "10 passed" in proc.stdout                  # 5 tests x 2 engines
    assert "bpfjit coverage of the programs' C source" in proc.stdout
    lines = info.read_text().splitlines()
    assert f"SF:{EXAMPLES / 'firewall' / 'firewall.c'}" in lines
    assert lines[-1] == "end_of_record"


def test_unknown_engines_are_a_usage_error():
    proc = run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "firewall"),
               "--bpf-engines", "interp,warp")
    assert proc.returncode != 0 and "warp not available here" in proc.stderr


def test_a_disagreement_lists_the_differences():
    fw = LoadedProgram(bpfjit.load_elf(EXAMPLES / "firewall" / "firewall.o", section="xdp"),
                       "peachpy", bpfjit.load_elf(EXAMPLES / "firewall" / "firewall.o",
                                                  section="xdp"), {}, None)
    mine, theirs = bpfjit.XdpContext(bytes(20)), bpfjit.XdpContext(bytes(19) + b"\x07")
    fw.program.maps["counters"][2] = 5
    with pytest.raises(EnginesDisagree) as err:
        fw._compare(1, None, mine, 2, None, theirs)
    message = str(err.value)
    assert "r0: peachpy 1, interp 2" in message
    assert "packet: peachpy and interp differ from byte 19" in message
    assert "map counters[02000000]: peachpy 0500000000000000, interp 0000000000000000" \
        in message


def test_the_replay_example(tmp_path):
    proc = run(str(EXAMPLES / "replay" / "replay.py"), "peachpy", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: int(line.split()[1]) for line in proc.stdout.splitlines()[1:4]}
    assert rows["total"] == 300 and rows["XDP_PASS"] + rows["XDP_DROP"] == 300
    assert f"{rows['XDP_PASS']} packets written to" in proc.stdout
    assert (tmp_path / "passed.pcap").stat().st_size > 0


def test_the_coverage_example(tmp_path):
    proc = run(str(EXAMPLES / "coverage" / "coverage.py"), str(tmp_path / "cov.info"))
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()[:2]
    assert header.split()[:3] == ["file", "lines", "hit"]
    assert row.startswith("examples/firewall/firewall.c")     # (relative to the cwd)
    assert (tmp_path / "cov.info").read_text().startswith("TN:\nSF:")


def test_a_difference_late_in_a_large_map_is_reported():
    obj = EXAMPLES / "firewall" / "firewall.o"
    fw = LoadedProgram(bpfjit.load_elf(obj, section="xdp"), "peachpy",
                       bpfjit.load_elf(obj, section="xdp"), {}, None)
    for blocklist in (fw.program.maps["blocklist"], fw._shadow_program.maps["blocklist"]):
        for i in range(120):                    # the same 120 addresses in both loads
            blocklist[bytes([10, 0, 0, i])] = 1
    fw.program.maps["blocklist"][b"\xfe\xff\xff\xff"] = 1      # sorts after all of them
    ctx = bpfjit.XdpContext(bytes(20))
    with pytest.raises(EnginesDisagree, match=r"map blocklist\[feffffff\]: peachpy 01000000, "
                                              r"interp absent"):
        fw._compare(2, None, ctx, 2, None, ctx.copy())


def test_many_differences_are_counted_past_the_first_five():
    obj = EXAMPLES / "firewall" / "firewall.o"
    fw = LoadedProgram(bpfjit.load_elf(obj, section="xdp"), "llvm",
                       bpfjit.load_elf(obj, section="xdp"), {}, None)
    for i in range(8):
        fw.program.maps["blocklist"][bytes([10, 0, 0, i])] = 1
    ctx = bpfjit.XdpContext(bytes(20))
    with pytest.raises(EnginesDisagree) as err:
        fw._compare(2, None, ctx, 2, None, ctx.copy())
    lines = str(err.value).splitlines()[1:]
    assert len(lines) == 6 and lines[-1].strip() == "and 3 more map differences"
