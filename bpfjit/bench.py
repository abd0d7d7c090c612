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
from .program import Program

__all__ = ["BenchResult", "bench_program", "time_per_run", "run_suite"]

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


def time_per_run(fn, mem, *, iters: int | None = None,
                 seconds: float = 0.5) -> tuple[float, int]:
    """Mean ns per run of the compiled `fn` on `mem` (the same buffer every run), and
    the number of runs timed: `iters`, or as many as fit in about `seconds`.  A JIT
    engine's runs go through its native loop (`run_batch`), so no Python is timed."""
    batch = getattr(fn, "run_batch", None)
    timer = (lambda n: batch(mem, n)[1]) if batch else (lambda n: _time_runs(fn, mem, n))
    if iters is None:
        once = max(timer(3), 1.0)
        iters = max(3, int(seconds * 1e9 / once))
    return timer(iters), iters


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
    reference = compile_program(prog, "interp")
    reference(bytearray(mem) if mem is not None else None)
    insns = reference.last_executed

    # the first compile in a process fills its in-memory caches (PeachPy's templates);
    # the one timed is on a copy, so that it includes verification (kept with the
    # original), and bypasses the code cache: a cold compile
    compile_program(prog, engine, cache=False)
    fresh = prog.with_insns(prog.insns)
    start = time.perf_counter_ns()
    fn = compile_program(fresh, engine, cache=False)
    compile_ns = float(time.perf_counter_ns() - start)

    r0 = fn(mem)                                  # warm-up, and the result
    ns_per_run, iters = time_per_run(fn, mem, iters=iters, seconds=seconds)

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
    """The programs in `directory`: NAME.bin (bytecode) or NAME.s, with NAME.mem input,
    and NAME.xdp (an XDP program's bytecode) with NAME.mem as its packet.

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
        elif path.suffix == ".xdp":
            prog = Program(Program.from_bytes(path.read_bytes()).insns, context="xdp",
                           prog_type="xdp")
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
/* `count` buffers in turn, `rounds` times over: the same as a JIT's run_rotating */
uint64_t bench_rotate(unsigned char **mems, uint64_t *lens, uint64_t count, uint64_t rounds)
{
    uint64_t r0 = 0;
    for (uint64_t i = 0; i < rounds; i++)
        for (uint64_t k = 0; k < count; k++)
            r0 = target(mems[k], lens[k]);
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
        self._ffi.cdef("uint64_t bench_loop(uint8_t *mem, uint64_t len, uint64_t n);"
                       "uint64_t bench_rotate(uint8_t **mems, uint64_t *lens, uint64_t count,"
                       " uint64_t rounds);")
        self._lib = self._ffi.dlopen(str(lib))
        self._loop = self._lib.bench_loop

    def run_batch(self, mem, count: int) -> tuple[int, float]:
        buf = bytearray(mem or b"")
        ptr = self._ffi.from_buffer("uint8_t[]", buf) if buf else self._ffi.NULL
        start = time.perf_counter_ns()
        r0 = self._loop(ptr, len(buf), count)
        return r0, (time.perf_counter_ns() - start) / count

    def run_rotating(self, memories: list, rounds: int) -> tuple[int, float]:
        """One run on each of `memories` (copies) in turn, `rounds` times over: (the
        last r0, ns per run), as JitProgram.run_rotating."""
        bufs = [bytearray(mem or b"") for mem in memories]
        ptrs = self._ffi.new("uint8_t *[]", [self._ffi.from_buffer("uint8_t[]", buf)
                                              if buf else self._ffi.NULL for buf in bufs])
        lens = self._ffi.new("uint64_t[]", [len(buf) for buf in bufs])
        start = time.perf_counter_ns()
        r0 = self._lib.bench_rotate(ptrs, lens, len(bufs), rounds)
        return r0, (time.perf_counter_ns() - start) / max(rounds * len(bufs), 1)


def _native_time(kernel: NativeKernel, mem, seconds: float) -> tuple[int, float]:
    once = max(kernel.run_batch(mem, 3)[1], 1.0)
    return kernel.run_batch(mem, max(3, int(seconds * 1e9 / once)))


@dataclass
class SuiteRow:
    program: str
    engine: str
    insns_per_run: int | None
    ns_per_run: float
    compile_ns: float | None
    r0: int

    def as_dict(self, interp_ns: float | None, native_ns: float | None) -> dict:
        return {"program": self.program, "engine": self.engine,
                "insns_per_run": self.insns_per_run, "ns_per_run": self.ns_per_run,
                "compile_ms": None if self.compile_ns is None else self.compile_ns / 1e6,
                "speedup_vs_interp": interp_ns / self.ns_per_run if interp_ns else None,
                "ratio_to_native": self.ns_per_run / native_ns if native_ns else None,
                "r0": self.r0}


def measure_suite(directory: Path, engines: list[str], seconds: float,
                  progress: bool = True) -> list[SuiteRow]:
    """Time every program on every engine, and natively where its C source compiles."""
    from tqdm import tqdm
    items = suite_programs(directory)
    cc = shutil.which("clang") or shutil.which("cc")
    steps = sum(len(engines) + (1 if item.c_source and cc else 0) for item in items)
    rows: list[SuiteRow] = []
    with tempfile.TemporaryDirectory() as tmp, \
            tqdm(total=steps, disable=not progress, unit="run", leave=False) as bar:
        for item in items:
            if item.c_source is not None and cc:
                bar.set_description(f"{item.name} native")
                work = Path(tmp) / item.name
                work.mkdir()
                r0, ns = _native_time(NativeKernel(item.c_source, work), item.memory, seconds)
                rows.append(SuiteRow(item.name, "native", None, ns, None, r0))
                bar.update()
            for engine in engines:
                bar.set_description(f"{item.name} {engine}")
                buf = bytearray(item.memory) if item.memory is not None else None
                try:
                    res = bench_program(item.program, engine, buf, seconds=seconds)
                except BpfError:
                    if engine != "kernel":
                        raise
                    bar.update()        # the kernel runs few programs: no cell for the rest
                    continue
                rows.append(SuiteRow(item.name, engine, res.insns_per_run, res.ns_per_run,
                                     res.compile_ns, res.r0))
                bar.update()
    return rows


def _reference(rows: list[SuiteRow], program: str, engine: str) -> float | None:
    return next((r.ns_per_run for r in rows if r.program == program and r.engine == engine),
                None)


def format_table(rows: list[SuiteRow]) -> str:
    header = (f"{'program':<10} {'engine':<8} {'insns/run':>9} {'ns/run':>11} {'ns/insn':>8} "
              f"{'vs interp':>10} {'vs native':>9} {'compile ms':>10}")
    lines = [header, "-" * len(header)]
    for row in rows:
        interp = _reference(rows, row.program, "interp")
        native = _reference(rows, row.program, "native")
        speedup = f"{interp / row.ns_per_run:>9.1f}x" if interp else f"{'-':>10}"
        ratio = f"{row.ns_per_run / native:>8.2f}x" if native else f"{'-':>9}"
        per_insn = f"{row.ns_per_run / row.insns_per_run:>8.2f}" if row.insns_per_run \
            else f"{'':>8}"
        comp = f"{row.compile_ns / 1e6:>10.2f}" if row.compile_ns is not None else f"{'':>10}"
        lines.append(f"{row.program:<10} {row.engine:<8} {row.insns_per_run or '':>9} "
                     f"{row.ns_per_run:>11.0f} {per_insn} {speedup} {ratio} {comp}")
    return "\n".join(lines)


def save_results(rows: list[SuiteRow], output: Path) -> tuple[Path, Path]:
    """Write results.json and a bar chart (results.png) into `output`."""
    import json
    import platform

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output.mkdir(parents=True, exist_ok=True)
    data = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.machine(),
            "processor": _cpu_name(), "python": platform.python_version(),
            "results": [r.as_dict(_reference(rows, r.program, "interp"),
                                  _reference(rows, r.program, "native")) for r in rows]}
    json_path = output / "results.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")

    programs = list(dict.fromkeys(r.program for r in rows))
    engines = list(dict.fromkeys(r.engine for r in rows))
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(programs)), 5))
    for i, engine in enumerate(engines):
        xs, ys = [], []
        for j, program in enumerate(programs):
            ns = _reference(rows, program, engine)
            if ns is not None:
                xs.append(j + (i - (len(engines) - 1) / 2) * width)
                ys.append(ns)
        ax.bar(xs, ys, width, label=engine)
    ax.set_yscale("log")
    ax.set_ylabel("ns per run (log scale, lower is faster)")
    ax.set_xticks(range(len(programs)), programs, rotation=30)
    ax.set_title(f"bpfjit engines vs native code ({data['date'][:10]}, {data['processor']})")
    ax.legend()
    fig.tight_layout()
    png_path = output / "results.png"
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def run_suite(directory: Path, engines: str | None = None, *, quick: bool = False,
              output: Path | None = Path("results"), progress: bool = True) -> int:
    """Time every program in `directory` on every engine (and natively); print a table,
    save results.json and results.png in `output`."""
    from . import engines as available
    # the kernel engine too where it is available: it runs the XDP programs (the
    # others use r2 or memory at variable offsets, which its verifier refuses)
    names = engines.split(",") if engines else available(kernel=True)
    rows = measure_suite(directory, names, 0.05 if quick else 0.5, progress=progress)
    print(format_table(rows))
    if not any(r.engine == "native" for r in rows):
        print("(no C compiler found: the native column is skipped)")
    if output is not None:
        json_path, png_path = save_results(rows, output)
        print(f"results: {json_path} {png_path}")
    return 0
