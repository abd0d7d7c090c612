"""docs/tour.md: every command it shows runs, and what it says they print is what
they print (run in-process from the repository's root, pages written to a temp dir)."""

import os
import re
from pathlib import Path

import pytest

import bpfjit
from bpfjit.cli import main

from test_explorer import rows_of

ROOT = Path(__file__).resolve().parent.parent
TOUR = (ROOT / "docs" / "tour.md").read_text()


def tour_commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", TOUR, re.S)
    return [line.split()[1:] for block in blocks for line in block.splitlines()
            if line.startswith("bpfjit ")]


def run(argv, tmp_path, capsys) -> tuple[int, str, str]:
    argv = [str(tmp_path / a) if a.endswith(".html") else a for a in argv]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = main(argv)
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv", tour_commands(), ids=" ".join)
def test_every_command_of_the_tour_runs(argv, tmp_path, capsys):
    if "--engine" in argv and argv[argv.index("--engine") + 1] not in bpfjit.engines():
        pytest.skip(f"engine {argv[argv.index('--engine') + 1]} unavailable")
    rc, out, err = run(argv, tmp_path, capsys)
    if argv[:2] == ["verify", "examples/tour/peek.s"]:       # the tour's rejection
        assert rc == 1 and "cannot prove" in err
    else:
        assert rc == 0, err


def test_what_the_tour_says_they_print(tmp_path, capsys):
    assert run(["asm", "examples/tour/sum.s", "--hex"], tmp_path, capsys)[1] \
        .startswith("b7 00 00 00 00 00 00 00")
    assert run(["run", "examples/tour/sum.s", "--mem", "examples/tour/four.bin"],
               tmp_path, capsys)[1].strip() == "r0 = 10 (0xa)"            # 1+2+3+4
    assert run(["run", "examples/firewall/firewall.o", "--packet",
                "examples/firewall/telnet.pkt"], tmp_path, capsys)[1].strip() == \
        "r0 = 1 (0x1) XDP_DROP"
    log = run(["verify", "examples/tour/sum.s", "--log", "--stats"], tmp_path, capsys)[1]
    assert log.strip().endswith("accesses=1 proven=1")
    before_load = next(line for line in log.splitlines() if line.startswith("5:"))
    assert "r4=mem(off=[0,4294967294])" in before_load and "r4<=len-1" in before_load


def test_what_the_tour_says_the_pages_show(tmp_path):
    page = bpfjit.explore(bpfjit.assemble((ROOT / "examples/tour/sum.s").read_text()),
                          (ROOT / "examples/tour/four.bin").read_bytes())
    rows = rows_of(page)
    jump = next(r for r in rows if r[0] == "col-bpf" and r[2] == "2")
    assert "taken ×1, fell through ×4" in jump[3]          # four bytes, then the exit
    if "llvm" in bpfjit.engines():
        assert any("load i8" in r[3] for r in rows if r[0] == "col-ir" and r[2] == "5")
    assert any(r[4].startswith("movzx") for r in rows if r[0] == "col-x86" and r[2] == "5")
    # peek.s in checked mode: the access is checked, a compare before the load
    peek = bpfjit.explore(bpfjit.assemble((ROOT / "examples/tour/peek.s").read_text()))
    assert '<span class="v checked"' in peek
    for engine in [e for e in bpfjit.engines() if e != "interp"]:
        x86 = [r[4] for r in rows_of(bpfjit.explore(
            bpfjit.assemble((ROOT / "examples/tour/peek.s").read_text()), engines=[engine]))
            if r[0] == "col-x86" and r[2] == "0"]
        assert any(t.startswith("cmp ") for t in x86), (engine, x86)
