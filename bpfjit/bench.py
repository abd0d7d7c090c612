"""Timing programs on engines: `bpfjit bench` (one program) and `bpfjit bench-suite`.

Times are wall-clock averages over a batch of runs after a warm-up.  JIT
engines run the batch in a native loop around the entry point, so their time
per run has no Python in it; the interpreter's includes its call overhead.
The Python-to-engine call overhead is measured on its own, with a trivial
program (call_overhead_ns).  The reference interpreter counts how many instructions a run
executes, so every engine's time is also given per executed instruction.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
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


@dataclass
class SuiteProgram:
    name: str
    program: Program
    memory: bytes | None
    c_source: Path | None       # the C it was compiled from, for the native column


def suite_programs(directory: Path) -> list[SuiteProgram]:
    """The programs in `directory`: NAME.bin (bytecode) or NAME.s, with NAME.mem input.

    A NAME.c in the sibling directory `c/` is the source of NAME.bin.
    """
    if not directory.is_dir():
        raise BpfError(f"benchmark directory {directory} does not exist "
                       f"(run from the repository root, or name the directory)")
    found = []
    for path in sorted(directory.iterdir()):
        if path.suffix == ".bin":
            prog = Program.from_bytes(path.read_bytes())
        elif path.suffix == ".s":
            prog = assemble(path.read_text())
        else:
            continue
        mem_path = path.with_suffix(".mem")
        c_source = directory.parent / "c" / f"{path.stem}.c"
        found.append(SuiteProgram(path.stem, prog,
                                  mem_path.read_bytes() if mem_path.exists() else None,
                                  c_source if c_source.exists() else None))
    if not found:
        raise BpfError(f"no .bin or .s programs in {directory}")
    return found


_HARNESS = """
#include <stdint.h>
uint64_t entry(unsigned char *mem, uint64_t len);
/* called through a volatile pointer, so the compiler cannot hoist or merge runs */
static uint64_t (*volatile target)(unsigned char *, uint64_t) = entry;
uint64_t bench_loop(unsigned char *mem, uint64_t len, uint64_t n)
{
    uint64_t r0 = 0;
    for (uint64_t i = 0; i < n; i++)
        r0 = target(mem, len);
    return r0;
}
"""


class NativeKernel:
    """The same C kernel compiled natively (clang -O2, else cc -O2): the physical limit."""

    engine = "native"

    def __init__(self, c_source: Path, workdir: Path):
        import cffi
        compiler = shutil.which("clang") or shutil.which("cc")
        if compiler is None:
            raise BpfError("no C compiler (clang or cc) for the native column")
        harness = workdir / "harness.c"
        harness.write_text(_HARNESS)
        lib = workdir / f"lib{c_source.stem}.so"
        subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(lib), str(c_source),
                        str(harness)], check=True, capture_output=True)
        self._ffi = cffi.FFI()
        self._ffi.cdef("uint64_t bench_loop(uint8_t *mem, uint64_t len, uint64_t n);")
        self._lib = self._ffi.dlopen(str(lib))
        self._loop = self._lib.bench_loop

    def run_batch(self, mem, count: int) -> tuple[int, float]:
        buf = bytearray(mem or b"")
        ptr = self._ffi.from_buffer("uint8_t[]", buf) if buf else self._ffi.NULL
        start = time.perf_counter_ns()
        r0 = self._loop(ptr, len(buf), count)
        return r0, (time.perf_counter_ns() - start) / count


def _native_time(kernel: NativeKernel, mem, seconds: float) -> tuple[int, float]:
    once = max(kernel.run_batch(mem, 3)[1], 1.0)
    return kernel.run_batch(mem, max(3, int(seconds * 1e9 / once)))


def run_suite(directory: Path, engines: str | None = None, *, quick: bool = False) -> int:
    """Time every program in `directory` on every engine (and natively) and print a table."""
    from . import engines as available
    names = engines.split(",") if engines else available()
    seconds = 0.05 if quick else 0.5
    header = (f"{'program':<10} {'engine':<8} {'insns/run':>9} {'ns/run':>11} {'ns/insn':>8} "
              f"{'vs interp':>10} {'vs native':>9} {'compile ms':>10}")
    print(header)
    print("-" * len(header))
    cc = shutil.which("clang") or shutil.which("cc")
    with tempfile.TemporaryDirectory() as tmp:
        for item in suite_programs(directory):
            native_ns = None
            rows = []
            if item.c_source is not None and cc:
                work = Path(tmp) / item.name
                work.mkdir()
                r0, native_ns = _native_time(NativeKernel(item.c_source, work), item.memory,
                                             seconds)
                rows.append(("native", None, native_ns, None))
            base = None
            for engine in names:
                buf = bytearray(item.memory) if item.memory is not None else None
                res = bench_program(item.program, engine, buf, seconds=seconds)
                if base is None or engine == "interp":
                    base = res.ns_per_run
                rows.append((engine, res.insns_per_run, res.ns_per_run, res.compile_ns))
            for engine, insns, ns, compile_ns in rows:
                speedup = f"{base / ns:>9.1f}x" if base else f"{'':>10}"
                ratio = f"{ns / native_ns:>8.2f}x" if native_ns else f"{'-':>9}"
                per_insn = f"{ns / insns:>8.2f}" if insns else f"{'':>8}"
                comp = f"{compile_ns / 1e6:>10.2f}" if compile_ns is not None else f"{'':>10}"
                print(f"{item.name:<10} {engine:<8} {insns or '':>9} {ns:>11.0f} {per_insn} "
                      f"{speedup} {ratio} {comp}")
    if not cc:
        print("(no C compiler found: the native column is skipped)")
    return 0
