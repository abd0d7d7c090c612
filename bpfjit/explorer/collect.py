"""What the explorer page shows, gathered from every stage of the pipeline as plain data:
the C source, the instructions, the verifier's state and verdicts, the LLVM IR, each
JIT's x86-64, a traced run and figures.  `bpfjit.explorer.render` draws it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..cfg import branch_targets
from ..errors import BpfError, VerifierError
from ..isa import Kind
from ..lineinfo import object_directory, source_path
from ..program import Program
from .verdicts import access_verdicts, log_states

__all__ = ["Exploration", "SourceFile", "TraceStep", "collect", "TRACE_LIMIT"]

# the engines whose machine code the page shows
_MACHINE_CODE = ("llvm", "peachpy")

# steps of a run kept for the page (the player); a longer run is cut there, and said so
TRACE_LIMIT = 10_000

_DBG = re.compile(r"^(.*?),? !dbg !(\d+)(.*)$")
_LOCATION = re.compile(r"^!(\d+) = (?:distinct )?!DILocation\(.*?\bline: (\d+)")


@dataclass
class SourceFile:
    """A C file the program came from: its lines (number, text, the pcs compiled from
    it); `whole` when the file itself was found, else only the lines the object names."""
    name: str
    lines: list[tuple[int, str, tuple[int, ...]]]
    whole: bool


@dataclass
class TraceStep:
    """One step of the traced run: the pc, and the registers r0-r10 before it."""
    pc: int
    registers: tuple[int, ...]


@dataclass
class Exploration:
    """Everything the page shows; columns and engines that are absent are empty."""
    title: str
    program: Program
    sources: list[SourceFile]
    states: dict[int, str]                        # pc -> the verifier's state before it
    verdicts: dict[int, tuple[str, str]]          # access pc -> (verdict, why): verdicts.py
    rejected: tuple[int, str] | None              # (pc, reason) when the verifier says no
    ir: dict[str, list[tuple[str, int]]]          # "before"/"after" -> (line, pc or -1)
    native: dict[str, list]                       # engine -> [NativeRow]
    unavailable: dict[str, str]                   # engine -> why it has no column
    trace: list[TraceStep] | None = None
    trace_steps: int = 0                          # steps the whole run took
    result: str | None = None                     # "r0 = 2 (XDP_PASS)" or "trap: ..."
    figures: dict = field(default_factory=dict)

    def jump_targets(self) -> dict[int, int]:
        """pc -> the pc a conditional jump goes to when taken."""
        return {pc: branch_targets(self.program, pc)[0] for pc, insn in self.program
                if insn.kind is Kind.JCOND}


def collect(prog: Program, memory: bytes | None = None, *, mode: str = "checked",
            helpers: dict | None = None, engines: list[str] | None = None,
            title: str = "") -> Exploration:
    """Verify and compile `prog` on every JIT engine, trace a run on `memory` when it
    is given, and gather what each stage made of each instruction."""
    from .. import engines as available, helper_ids
    from ..backends import get_engine
    from ..verifier import reasoning_until_rejection, verify
    engines = [e for e in (available() if engines is None else engines) if e != "interp"]
    for engine in engines:
        get_engine(engine)                      # an unknown name: BackendUnavailable
    ids = helper_ids(prog, helpers)
    figures: dict = {"instructions": len(prog), "stages_ms": {}, "code_bytes": {}}
    try:
        verified = verify(prog.with_insns(prog.insns), mode=mode, helpers=ids, log=True)
    except VerifierError as exc:
        log = reasoning_until_rejection(prog, mode, ids).splitlines()
        return Exploration(title, prog, _sources(prog), log_states(log), {},
                           (exc.pc, exc.reason), {}, {}, {}, figures=figures)
    started = time.perf_counter_ns()            # the time of a verification without log
    verify(prog.with_insns(prog.insns), mode=mode, helpers=ids, cache=False)
    figures["stages_ms"]["verify"] = (time.perf_counter_ns() - started) / 1e6
    states = log_states(verified.log)
    verdicts = access_verdicts(verified, prog, states)
    figures["accesses"] = len(verified.accesses)
    figures["proven"] = len(verified.proven)
    ir: dict[str, list[tuple[str, int]]] = {}
    native: dict[str, list] = {}
    unavailable: dict[str, str] = {}
    compiled = {}
    for engine in engines:
        if engine not in _MACHINE_CODE:
            unavailable[engine] = (f"no column: the explorer shows the machine code of "
                                   f"bpfjit's JITs ({', '.join(_MACHINE_CODE)})")
            continue
        try:
            fn = _compile(prog, engine, mode, helpers)
        except BpfError as exc:
            unavailable[engine] = str(exc)
            continue
        compiled[engine] = fn
        stages = fn.extra.get("stages_ns") or {"lower and assemble": fn.extra["compile_ns"]}
        for stage, ns in stages.items():
            figures["stages_ms"][f"{engine}: {stage}"] = ns / 1e6
        start, size = fn.extra.get("text_range", (0, len(fn.memory.code)))
        figures["code_bytes"][engine] = size
        native[engine] = _native(fn, start + size)
        if fn.extra.get("ir") is not None:
            ir = {"before": ir_lines(fn.extra["ir"]), "after": ir_lines(fn.extra["optimised_ir"])}
    exploration = Exploration(title, prog, _sources(prog), states, verdicts,
                              None, ir, native, unavailable, figures=figures)
    if memory is not None:
        _trace(exploration, prog, memory, mode, helpers, compiled)
    return exploration


def _compile(prog: Program, engine: str, mode: str, helpers):
    """A cold compile (no code cache) of a copy of `prog`, keeping the IR and the map
    from native code to pcs.  A compile through the code cache comes first, so that
    what is timed is this program's compile, not the process's first (the LLVM
    worker's start, PeachPy's templates), as `bpfjit bench` times it."""
    from .. import compile as compile_program
    compile_program(prog, engine, mode=mode, helpers=helpers)
    options = {"keep_ir": True, "line_info": True} if engine == "llvm" else {}
    return compile_program(prog.with_insns(prog.insns), engine, mode=mode, helpers=helpers,
                           cache=False, **options)


def _native(fn, text_end: int) -> list:
    from ..nativedis import native_rows
    return native_rows(fn.program, fn.memory.code, fn.memory.address,
                       fn.extra.get("symbols", {}), fn.extra.get("lines"), text_end)


def ir_lines(text: str) -> list[tuple[str, int]]:
    """The IR's lines, each with the BPF pc its `!dbg` location names (line = pc + 1)
    or -1, without the debug metadata itself."""
    locations = {}
    for line in text.splitlines():
        m = _LOCATION.match(line)
        if m:
            locations[m.group(1)] = int(m.group(2)) - 1
    out = []
    for line in text.splitlines():
        if line.startswith("!") or line.startswith("declare void @llvm.dbg"):
            continue
        m = _DBG.match(line)
        if m:
            out.append((m.group(1) + m.group(3), locations.get(m.group(2), -1)))
        else:
            out.append((line, -1))
    while out and not out[-1][0].strip():
        out.pop()
    return out


def _sources(prog: Program) -> list[SourceFile]:
    """The C files of `prog`'s line information: whole when the file is found next to
    the object (as clang -g names it), else the lines the object records."""
    by_file: dict[str, dict[int, tuple[str, list[int]]]] = {}
    for pc, line in sorted(prog.source_lines.items()):
        if line is None or line.line == 0:
            continue
        entry = by_file.setdefault(line.file, {}).setdefault(line.line, (line.text, []))
        entry[1].append(pc)
    base = object_directory(prog)
    out = []
    for name, recorded in by_file.items():
        text = _read_source(name, base)
        if text is not None and _matches(text, recorded):
            lines = [(n, t, tuple(recorded.get(n, ("", []))[1]))
                     for n, t in enumerate(text, start=1)]
            out.append(SourceFile(name, lines, True))
        else:
            out.append(SourceFile(name, [(n, t, tuple(pcs)) for n, (t, pcs)
                                         in sorted(recorded.items())], False))
    return out


def _read_source(name: str, base: str | None) -> list[str] | None:
    try:
        with open(source_path(name, base), encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return None


def _matches(text: list[str], recorded: dict) -> bool:
    """Whether a file on disk is the one compiled: every recorded line's text is there."""
    return all(n <= len(text) and text[n - 1].strip() == t.strip()
               for n, (t, _) in recorded.items())


def _trace(exploration: Exploration, prog: Program, memory: bytes, mode: str, helpers,
           compiled: dict) -> None:
    """The interpreter's run on `memory`, step by step (the first TRACE_LIMIT steps
    are kept), then each engine's time per run on the same input."""
    from .. import compile as compile_program
    from ..bench import time_per_run
    from ..errors import BudgetExceeded
    from ..progtypes import result_name
    cap = 10 * TRACE_LIMIT
    tracer = compile_program(prog, "interp", mode=mode, helpers=helpers, budget=cap)
    steps, outcome = tracer.trace_registers(bytearray(memory))
    exploration.trace = [TraceStep(pc, regs) for pc, regs in steps[:TRACE_LIMIT]]
    exploration.trace_steps = len(steps)
    reference = compile_program(prog, "interp", mode=mode, helpers=helpers)
    if isinstance(outcome, BudgetExceeded):
        try:                        # longer than the tracer's budget: run it whole
            outcome = reference(bytearray(memory))
            exploration.trace_steps = reference.last_executed
        except BpfError as exc:
            outcome = exc
    if isinstance(outcome, BpfError):
        exploration.result = f"trap: {outcome}"
    else:
        name = result_name(prog.prog_type, outcome)
        exploration.result = f"r0 = {outcome:#x}" + (f" ({name})" if name else "")
    exploration.figures["executed"] = exploration.trace_steps
    exploration.figures["run_ns"] = run_ns = {}
    for engine, fn in {"interp": reference, **compiled}.items():
        try:
            run_ns[engine] = time_per_run(fn, bytearray(memory), seconds=0.1)[0]
        except BpfError:            # a run that traps is timed by no engine
            break
