"""pytest-benchmark timings of the shipped programs on every engine: `pytest bench/`.

Grouped by program, so `--benchmark-compare` shows a regression of one engine
on one program.  Timings only; correctness lives in tests/test_bench_programs.py.
"""

from pathlib import Path

import pytest

import bpfjit

PROGRAMS = Path(__file__).parent / "programs"
NAMES = sorted(p.stem for p in PROGRAMS.glob("*.s"))


@pytest.mark.parametrize("name", NAMES)
def test_run(benchmark, engine, name):
    """Time one run of program `name` (the same buffer every run)."""
    mem_path = PROGRAMS / f"{name}.mem"
    mem = bytearray(mem_path.read_bytes()) if mem_path.exists() else None
    fn = bpfjit.compile(bpfjit.assemble((PROGRAMS / f"{name}.s").read_text()), engine)
    benchmark.group = name
    benchmark(fn, mem)


def load(path: Path) -> bpfjit.Program:
    if path.suffix == ".s":
        return bpfjit.assemble(path.read_text())
    prog = bpfjit.Program.from_bytes(path.read_bytes())
    if path.suffix == ".xdp":
        return bpfjit.Program(prog.insns, context="xdp", prog_type="xdp")
    return prog


@pytest.mark.parametrize("path", sorted([*PROGRAMS.glob("*.s"), *PROGRAMS.glob("*.bin"),
                                         *PROGRAMS.glob("*.xdp")]),
                         ids=lambda p: p.stem)
def test_compile(benchmark, engine, path):
    """Time compiling a shipped program (verification included), caches warm."""
    prog = load(path)
    name = path.stem
    bpfjit.compile(prog, engine)
    benchmark.group = f"compile {name}"
    benchmark(bpfjit.compile, prog, engine)
