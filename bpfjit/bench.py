"""Timing programs on engines: `bpfjit bench` (one program) and `bpfjit bench-suite`.

Times are wall-clock averages over a batch of runs after a warm-up.  JIT
engines run the batch in a native loop around the entry point, so their time
per run has no Python in it; the interpreter's includes its call overhead.
The Python-to-engine call overhead is measured on its own, with a trivial
program (call_overhead_ns).  The reference interpreter counts how many instructions a run
executes, so every engine's time is also given per executed instruction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .asm import assemble
from .errors import BpfError
from .interpreter import Interpreter
from .program import Program

__all__ = ["BenchResult", "bench_program", "run_suite"]

_TRIVIAL = "mov %r0, 0\nexit"


@dataclass
class BenchResult:
    engine: str
    r0: int
    insns_per_run: int
    compile_ns: float
    ns_per_run: float
    call_overhead_ns: float

    @property
    def ns_per_insn(self) -> float:
        return self.ns_per_run / max(self.insns_per_run, 1)


def _time_runs(fn, mem, iters: int) -> float:
    """Average ns per call of fn(mem) over `iters` calls."""
    start = time.perf_counter_ns()
    for _ in range(iters):
        fn(mem)
    return (time.perf_counter_ns() - start) / iters


def bench_program(prog: Program, engine: str, mem: bytearray | None, *,
                  iters: int | None = None, seconds: float = 0.5) -> BenchResult:
    """Compile and time `prog` on `engine`.

    With `iters` None, runs as many times as fit in about `seconds`.  The same
    buffer is passed every run, so a program that writes its memory sees its
    own writes, as it would in a loop in C.
    """
    from . import compile as compile_program
    if iters is not None and iters < 1:
        raise BpfError(f"iters must be at least 1, got {iters}")
    reference = Interpreter(prog)
    reference(bytearray(mem) if mem is not None else None)
    insns = reference.last_executed

    start = time.perf_counter_ns()
    fn = compile_program(prog, engine)
    compile_ns = float(time.perf_counter_ns() - start)

    r0 = fn(mem)                                  # warm-up, and the result
    batch = getattr(fn, "run_batch", None)        # JIT engines: a native loop, no Python
    timer = (lambda n: batch(mem, n)[1]) if batch else (lambda n: _time_runs(fn, mem, n))
    if iters is None:
        once = max(timer(3), 1.0)
        iters = max(3, int(seconds * 1e9 / once))
    ns_per_run = timer(iters)

    trivial = compile_program(assemble(_TRIVIAL), engine)
    trivial(None)
    overhead = _time_runs(trivial, None, max(100, min(iters, 10000)))
    return BenchResult(engine, r0, insns, compile_ns, ns_per_run, overhead)


def _suite_programs(directory: Path) -> list[tuple[str, Program, bytes | None]]:
    if not directory.is_dir():
        raise BpfError(f"benchmark directory {directory} does not exist "
                       f"(run from the repository root, or name the directory)")
    found = []
    for path in sorted(directory.glob("*.s")):
        mem_path = path.with_suffix(".mem")
        mem = mem_path.read_bytes() if mem_path.exists() else None
        found.append((path.stem, assemble(path.read_text()), mem))
    if not found:
        raise BpfError(f"no .s programs in {directory}")
    return found


def run_suite(directory: Path, engines: str | None = None, *, quick: bool = False) -> int:
    """Time every program in `directory` on every engine and print a table."""
    from . import engines as available
    names = engines.split(",") if engines else available()
    seconds = 0.05 if quick else 0.5
    header = (f"{'program':<14} {'engine':<8} {'insns/run':>10} {'ns/run':>12} "
              f"{'ns/insn':>8} {'vs interp':>9} {'compile us':>10}")
    print(header)
    print("-" * len(header))
    for name, prog, mem in _suite_programs(directory):
        base = None
        for engine in names:
            buf = bytearray(mem) if mem is not None else None
            res = bench_program(prog, engine, buf, seconds=seconds)
            if base is None or engine == "interp":
                base = res.ns_per_run
            print(f"{name:<14} {engine:<8} {res.insns_per_run:>10} {res.ns_per_run:>12.0f} "
                  f"{res.ns_per_insn:>8.1f} {base / res.ns_per_run:>8.2f}x "
                  f"{res.compile_ns / 1e3:>10.1f}")
    return 0
