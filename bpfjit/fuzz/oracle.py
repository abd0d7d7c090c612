"""The oracle: run one program on several engines and compare what happened.

An outcome is (r0 or the exception class name, trap pc, memory afterwards).  Runs
happen in a worker process, so that a miscompiled program that crashes the
process is reported as a crash instead of ending the campaign.
"""

from __future__ import annotations

import multiprocessing
import zlib
from dataclasses import dataclass, field

from ..errors import BpfError
from ..isa import STACK_SIZE
from ..program import Program
from . import maps as fuzz_maps

__all__ = ["HELPERS", "Outcome", "run_outcome", "Worker", "CRASH", "llvm_opt_level_of"]

M64 = (1 << 64) - 1
FUZZ_BUDGET = 20_000

# test helpers; r1 may hold anything, so nothing here depends on pointer values
# (ids of their own: programs also call the kernel's map helpers, 1 to 3)
HELPERS = {
    256: lambda r1, r2, r3, r4, r5: ((r2 * 0x9E3779B97F4A7C15) ^ r3 ^ (r5 << 7)) & M64,
    257: lambda r1, r2, r3, r4, r5: (r4 - r2) & M64,
}

CRASH = ("crash", None, b"")


def llvm_opt_level_of(raw: bytes) -> int:
    """The pipeline the llvm engine compiles the fuzz program `raw` with: -O2, its
    default below backends.llvmjit.QUICK_FROM slots, or -O1, the quick pipeline that
    larger programs get by default and that generated programs (a few hundred slots)
    would never reach; by the low bit of the program's CRC-32, so about half each, and
    every run of one program (a replay, a regression test, the shrinker's) alike.  -O1
    also costs LLVM a quarter of -O2's time, which bounds how soon a campaign finds an
    llvm miscompile."""
    return 1 if zlib.crc32(raw) & 1 else 2


@dataclass(frozen=True)
class Outcome:
    result: object          # r0, or the name of the exception
    pc: int | None
    memory: bytes
    detail: str = field(default="", compare=False)      # the exception's message
    # the interpreter's coverage cells of the run, when asked for (bpfjit.fuzz.coverage)
    cells: tuple = field(default=(), compare=False)

    def describe(self) -> str:
        if isinstance(self.result, int):
            return f"r0 = {self.result:#x}"
        return f"{self.result} at pc {self.pc}" if self.pc is not None else str(self.result)


def run_outcome(raw: bytes, mem: bytes, engine: str, context: str | None = None,
                coverage: bool = False, llvm_opt_level: int | None = None) -> Outcome:
    """Decode, verify, compile and run (as a program of `context`, "xdp" or None); any
    exception that is not a BpfError is reported by name too, so that hostile-input
    runs can tell it apart.  The kernel engine gets no helpers and no budget (it runs
    no helpers, and its verifier proves termination); the llvm engine compiles at
    `llvm_opt_level`, by default the one the program's bytes choose
    (`llvm_opt_level_of`).  With `coverage`, the interpreter's run is traced and its
    coverage cells kept."""
    from .. import compile as compile_program
    buf = bytearray(mem)
    cells: tuple = ()
    prog = None

    def left() -> bytes:            # the buffer, then the fuzz maps' contents
        return bytes(buf) + (fuzz_maps.snapshot(prog) if prog is not None else b"")

    try:
        prog = _decoded(raw, context)
        fuzz_maps.reset(prog)               # every engine's run starts from the same maps
        kernel = engine == "kernel"         # (no helpers, and it takes no budget)
        # the code cache is left alone: a campaign's programs are never seen twice, and
        # their entries would push a user's out of it
        options = {}
        if engine == "llvm":
            options["opt_level"] = llvm_opt_level_of(raw) if llvm_opt_level is None \
                else llvm_opt_level
        fn = compile_program(prog, engine, helpers=None if kernel else HELPERS,
                             budget=None if kernel else FUZZ_BUDGET, cache=False, **options)
        if coverage and engine == "interp":
            from .. import helper_ids, verify
            from .coverage import plan_cells, program_cells
            steps, result = fn.trace_registers(buf)
            found = program_cells(fn.program, steps, isinstance(result, BpfError))
            # (the verdict the compile just made, from the in-memory cache)
            found += plan_cells(verify(prog, helpers=helper_ids(prog, HELPERS)),
                                {pc for pc, _ in steps})
            cells = tuple(found.items())
            if isinstance(result, BpfError):
                raise result
            return Outcome(result, None, left(), cells=cells)
        if not kernel and engine != "interp":
            _scribble(engine)
        return Outcome(fn(buf), None, left())
    except BpfError as exc:
        return Outcome(type(exc).__name__, getattr(exc, "pc", None), left(), str(exc),
                       cells)
    except Exception as exc:                # noqa: BLE001 - exactly what hostile mode hunts
        return Outcome(f"unexpected {type(exc).__name__}: {exc}", None, bytes(buf))


_last_decoded: list = [None, None]      # (raw, context), its Program
_scribblers: dict[str, object] = {}
# a program that fills its whole frame with a pattern and returns
SCRIBBLE = "\n".join(["lddw %r1, 0x5aa55aa55aa55aa5"]
                     + [f"stxdw [%r10-{off}], %r1" for off in range(8, STACK_SIZE + 1, 8)]
                     + ["mov %r0, 0", "exit"])


def _scribble(engine: str) -> None:
    """Leave a pattern in the native stack where the next run of a JIT's code keeps
    its BPF stack (the same call path, so the same addresses): a JIT that zeroes too
    little of it then reads the pattern every time, and the failure shrinks, instead of
    whatever bytes an earlier run happened to leave."""
    fn = _scribblers.get(engine)
    if fn is None:
        from .. import compile as compile_program
        from ..asm import assemble
        fn = _scribblers[engine] = compile_program(assemble(SCRIBBLE), engine, cache=False)
    fn(bytearray())


def _decoded(raw: bytes, context: str | None) -> Program:
    """The program of `raw` (as a program of `context`), decoded once for all the engines
    one job runs it on: they share its verdict, as they would from the code cache."""
    if _last_decoded[0] != (raw, context):
        prog = Program.from_bytes(raw)
        if context is not None:
            prog = Program(prog.insns, context=context, prog_type=context)
        _last_decoded[:] = [(raw, context), fuzz_maps.attach(prog)]
    return _last_decoded[1]


def _serve(conn, mutant: str | None = None) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the campaign's to handle
    if mutant is not None:            # a self-test: this process's JIT is miscompiling
        import os

        from .mutants import apply
        os.environ["BPFJIT_CACHE"] = "off"       # (cached images were made unmutated)
        apply(mutant)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):     # the campaign is gone (a reset when it was killed)
            return
        if job is None:
            return
        raw, mem, engines, context, coverage = job
        outcomes = [run_outcome(raw, mem, e, context, coverage) for e in engines]
        try:
            conn.send(outcomes)
        except OSError:                 # the campaign is gone (ended, or interrupted)
            return


class Worker:
    """A child process that runs programs; restarted when a program kills it.  With
    `mutant`, its JIT has that miscompile (bpfjit.fuzz.mutants)."""

    def __init__(self, mutant: str | None = None) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._mutant = mutant
        self._start()

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self._mutant), daemon=True)
        self._proc.start()
        child.close()

    def run(self, raw: bytes, mem: bytes, engines: list[str], timeout: float = 60.0,
            context: str | None = None, coverage: bool = False) -> list[Outcome] | None:
        """Outcomes per engine, or None when the worker died or hung (a crash); with
        `coverage`, the interpreter's outcome carries its coverage cells."""
        try:
            self._conn.send((raw, mem, engines, context, coverage))
            if self._conn.poll(timeout):
                return self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            pass
        self._restart()
        return None

    def _restart(self) -> None:
        self._proc.kill()
        self._proc.join()
        self._start()

    def close(self) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
