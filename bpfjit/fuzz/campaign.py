"""Fuzzing campaigns: differential (every engine against the interpreter) and hostile.

Differential: hypothesis generates verified programs (bpfjit.fuzz.generator); each
runs on the interpreter and every other engine in a worker process; a mismatch or
a crash fails the example, hypothesis shrinks it to a minimal program, and it is
saved as a .data file with the interpreter's result.  Rounds with fresh seeds go on
until the example count or the time is used up.

Hostile: random bytes and mutations of generated programs go through decode ->
verify -> compile -> run on every engine; the only acceptable outcomes are a
result or a BpfError.  Failures are minimised by deleting instruction slots.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..asm import disassemble
from ..errors import BpfError
from ..program import Program
from . import state
from .oracle import Outcome, Worker, llvm_opt_level_of

__all__ = ["CampaignStats", "MutantResult", "run_campaign", "save_failure", "self_test"]

# programs per hypothesis round.  Short rounds, each seeded afresh: within one round,
# hypothesis draws examples from the choices of earlier ones, so a round's programs are
# alike (one may hold `sdiv` in half its programs and another in none).  Counted with
# bytecode-level mutants on the interpreter (and->or, jge->jgt, smod->mod, ... eleven),
# 400 programs detected them 97, 212 and 131 times on three seeds in rounds of 100,
# and 152, 153 and 157 times in rounds of 10: the same mean, a fraction of the spread.
ROUND = 10
# a round's first examples, which hypothesis draws the same whatever the seed (the
# simplest program, then one more): drawn and skipped, so a round runs ROUND others
SAME_IN_EVERY_ROUND = 2


def _round_seed(seed: int, round_no: int) -> int:
    """The hypothesis seed of round `round_no` of a campaign seeded `seed` (a resumed
    campaign, or a self-test's shrinking run, draws the same programs again from it)."""
    return seed * 1_000_003 + round_no


@dataclass
class CampaignStats:
    programs: int = 0
    mismatches: int = 0
    crashes: int = 0
    saved: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)   # the kernel's reasons, counted
    coverage: Counter = field(default_factory=Counter)      # bpfjit.fuzz.coverage cells
    resumed_from: int = 0          # programs earlier sessions of a saved campaign ran

    def add(self, other: "CampaignStats") -> None:
        self.programs += other.programs
        self.mismatches += other.mismatches
        self.crashes += other.crashes
        self.saved += other.saved
        self.coverage.update(other.coverage)
        for reason, count in other.refused.items():
            self.refused[reason] = self.refused.get(reason, 0) + count

    @property
    def summary(self) -> str:
        refused = sum(self.refused.values())
        kernel = f" ({refused} refused by the kernel's verifier)" if refused else ""
        return (f"fuzz: {self.programs} programs{kernel}, {self.mismatches} mismatches, "
                f"{self.crashes} crashes")


class _OutOfTime(Exception):
    """A self-test's time for one mutant is up."""


class _Found(Exception):
    """A failing example: raised inside hypothesis so that it shrinks it."""

    def __init__(self, kind: str, raw: bytes, mem: bytes, engines, outcomes,
                 context: str | None = None):
        super().__init__(kind)
        self.kind, self.raw, self.mem = kind, raw, mem
        self.engines, self.outcomes, self.context = engines, outcomes, context


def save_failure(out_dir: Path, kind: str, raw: bytes, mem: bytes, engines: list[str],
                 outcomes: list[Outcome] | None, context: str | None = None,
                 note: str | None = None) -> Path:
    """Write a reproducible .data file: the program, its memory, the interpreter's result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# bpfjit fuzz: {kind}", "# helpers: fuzz (bpfjit.fuzz.oracle.HELPERS)"]
    if note:
        lines.append(f"# {note}")
    if context is not None:
        lines.append(f"# an {context.upper()} program: the memory is its packet "
                     f"(bpfjit.Program(insns, context={context!r}))")
    if "llvm" in engines:
        lines.append(f"# llvm compiled it at -O{llvm_opt_level_of(raw)} "
                     "(bpfjit.fuzz.oracle.llvm_opt_level_of)")
    if outcomes:
        for engine, outcome in zip(engines, outcomes):
            lines.append(f"# {engine}: {outcome.describe()}")
        if len({(o.result, o.pc) for o in outcomes}) == 1:
            lines.append("# the results agree; the buffer or the maps (bpfjit.fuzz.maps) "
                         "after the run differ")
    else:
        lines.append("# the worker process died running it")
    try:
        lines += ["-- asm", disassemble(Program.from_bytes(raw)).rstrip()]
    except BpfError:
        lines += ["-- raw"] + [f"{int.from_bytes(raw[i:i + 8], 'little'):#018x}"
                               for i in range(0, len(raw) - len(raw) % 8, 8)]
    if mem:
        lines += ["-- mem", " ".join(f"{b:02x}" for b in mem)]
    reference = outcomes[0] if outcomes else None
    if reference is not None and isinstance(reference.result, int):
        lines += ["-- result", f"{reference.result:#x}"]
    else:
        lines += ["-- error", reference.result if reference is not None else ""]
    name = f"{kind}-{abs(hash((raw, mem))) % 10**10:010d}.data"
    path = out_dir / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _differential_round(worker: Worker, engines: list[str], seed: int, examples: int,
                        stats: CampaignStats, counter, shrink: bool = True,
                        deadline: float = float("inf"), coverage: bool = False,
                        out_dir: Path | None = None) -> None:
    """One hypothesis run of `examples` programs; _Found for a mismatch or a crash.
    Programs the kernel refuses are counted by reason, and the first of each reason
    is saved in `out_dir` (when given) as a `refused-*.data` file."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    from .generator import programs
    kernel = "kernel" in engines        # programs the kernel's verifier accepts too (XDP)

    fixed = [SAME_IN_EVERY_ROUND]

    # (report_multiple_bugs: hypothesis raises the distinct failures of a run, a crash
    # and a mismatch say, together in an ExceptionGroup, which ended the campaign with
    # nothing saved; one is reported, and the next rounds find the others)
    @settings(max_examples=examples + SAME_IN_EVERY_ROUND, deadline=None, database=None,
              derandomize=False, suppress_health_check=list(HealthCheck),
              phases=tuple(Phase) if shrink else _generate_only(),
              report_multiple_bugs=False)
    @fixed_seed(seed)
    @given(programs(kernel=kernel))
    def check(generated):
        if fixed[0]:
            fixed[0] -= 1
            return
        if time.monotonic() > deadline:
            raise _OutOfTime()
        prog, mem = generated
        raw = prog.to_bytes()
        stats.programs += 1
        if counter is not None:
            with counter.get_lock():
                counter.value += 1
        outcomes = worker.run(raw, mem, engines, context=prog.context, coverage=coverage)
        if outcomes is None:
            raise _Found("crash", raw, mem, engines, None, prog.context)
        stats.coverage.update(dict(outcomes[0].cells))
        if kernel:
            said = outcomes[engines.index("kernel")]
            if said.result == "VerifierError":      # not a wrong result: counted apart
                stats.refused[said.detail] = stats.refused.get(said.detail, 0) + 1
                if out_dir is not None and stats.refused[said.detail] == 1:
                    stats.saved.append(str(save_failure(
                        out_dir, "refused", raw, mem, engines, outcomes, prog.context,
                        note=said.detail.replace("\n", " "))))
                return
        if any(o != outcomes[0] for o in outcomes[1:]):
            raise _Found("mismatch", raw, mem, engines, outcomes, prog.context)

    check()


def _hostile_inputs(rng: random.Random):
    """Random bytes, programs whose paths meet with different verdicts
    (bpfjit.fuzz.split), and generated programs with bytes flipped, dropped or
    repeated."""
    from ..asm import assemble
    from .split import split_program
    pool: list = []
    while True:
        draw = rng.random()
        if draw < 0.2:
            text, mem, _ = split_program(rng)
            yield assemble(text).to_bytes(), mem
            continue
        if draw < 0.45:
            yield rng.randbytes(8 * rng.randint(0, 24) + rng.choice([0, 0, 0, 3])), \
                rng.randbytes(rng.randint(0, 32))
            continue
        if not pool:
            pool = _sample_programs(rng, 50)
        prog, mem = pool.pop()
        raw = bytearray(prog.to_bytes())
        for _ in range(rng.randint(1, 6)):
            where = rng.randrange(len(raw))
            action = rng.random()
            if action < 0.6:
                raw[where] = rng.randrange(256)
            elif action < 0.8:
                del raw[where:where + 8]
            else:
                raw[where:where] = raw[where:where + 8]
            if not raw:
                break
        yield bytes(raw), mem


def _sample_programs(rng: random.Random, count: int) -> list:
    """`count` generated programs from one hypothesis run seeded from `rng`.  (One
    run per program would give its first example every time: the simplest one.)"""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as fixed_seed

    from .generator import programs
    box: list = []

    @settings(max_examples=count, database=None, deadline=None, phases=_generate_only(),
              suppress_health_check=list(HealthCheck))
    @fixed_seed(rng.getrandbits(64))
    @given(programs())
    def draw(generated):
        box.append(generated)

    draw()
    return box[:count]


def _generate_only():
    from hypothesis import Phase
    return [Phase.generate]


def _minimise(worker: Worker, engines: list[str], raw: bytes, mem: bytes, bad) -> bytes:
    """Delete 8-byte slots while the input still fails."""
    changed = True
    while changed and len(raw) > 8:
        changed = False
        for i in range(0, len(raw), 8):
            candidate = raw[:i] + raw[i + 8:]
            if bad(worker.run(candidate, mem, engines)):
                raw, changed = candidate, True
                break
    return raw


def _hostile(worker: Worker, engines: list[str], seed: int, examples: int, deadline: float,
             stats: CampaignStats, out_dir: Path, counter) -> None:
    def bad(outcomes) -> bool:
        return outcomes is None or any(str(o.result).startswith("unexpected")
                                       for o in outcomes)

    rng = random.Random(seed)
    inputs = _hostile_inputs(rng)
    for _ in range(examples):
        if time.monotonic() > deadline:
            return
        raw, mem = next(inputs)
        stats.programs += 1
        if counter is not None:
            with counter.get_lock():
                counter.value += 1
        outcomes = worker.run(raw, mem, engines)
        if bad(outcomes):
            stats.crashes += 1
            raw = _minimise(worker, engines, raw, mem, bad)
            outcomes = worker.run(raw, mem, engines)
            kind = "crash" if outcomes is None else "unexpected-exception"
            stats.saved.append(str(save_failure(out_dir, kind, raw, mem, engines, outcomes)))


def run_campaign(engines: list[str], examples: int | None, seconds: float | None, seed: int,
                 out_dir: Path, mode: str = "differential", counter=None,
                 state_dir: Path | None = None, job: int = 0) -> CampaignStats:
    """One sequential campaign (one worker process); see the module docstring.  With
    `state_dir`, differential rounds go on from job `job`'s saved progress there and
    record it after each round (bpfjit.fuzz.state); `examples` counts the saved ones."""
    stats = CampaignStats()
    round_no = 0
    if state_dir is not None:
        round_no = state.load_job(state_dir, job, stats)
    deadline = time.monotonic() + seconds if seconds else float("inf")
    remaining = examples - stats.programs if examples is not None else float("inf")
    worker = Worker()
    try:
        if mode == "hostile":
            _hostile(worker, engines, seed, int(min(remaining, 10**12)), deadline, stats,
                     out_dir, counter)
            return stats
        while remaining > 0 and time.monotonic() < deadline:
            count = int(min(ROUND, remaining))
            before = stats.programs
            try:
                _differential_round(worker, engines, _round_seed(seed, round_no), count,
                                    stats, counter, coverage=True, out_dir=out_dir)
            except _Found as found:            # hypothesis has shrunk it already
                _record(stats, out_dir, found)
            except Exception as exc:            # noqa: BLE001 - hypothesis's Flaky
                _record(stats, out_dir, _flaky(exc), flaky=True)
            remaining -= count
            round_no += 1
            if state_dir is not None:
                state.save_job(state_dir, job, round_no, stats)
            if stats.programs == before:
                break
        return stats
    finally:
        worker.close()


def _record(stats: CampaignStats, out_dir: Path, found: _Found, flaky: bool = False) -> None:
    """Count a failing program and save it (`flaky`: it did not fail again when
    hypothesis ran it a second time, so it is saved as it first failed)."""
    if found.kind == "crash":
        stats.crashes += 1
    else:
        stats.mismatches += 1
    kind = f"flaky-{found.kind}" if flaky else found.kind
    note = "it did not fail again when run a second time (a worker hung past the " \
           "timeout, or a nondeterministic engine)" if flaky else None
    stats.saved.append(str(save_failure(out_dir, kind, found.raw, found.mem, found.engines,
                                        found.outcomes, found.context, note=note)))


def _flaky(exc: Exception) -> _Found:
    """The failing program inside hypothesis's Flaky error (a failure that did not
    happen again when re-run); any other error, or a Flaky without one, is raised
    again."""
    from hypothesis.errors import Flaky
    found = next((e for e in getattr(exc, "exceptions", ()) if isinstance(e, _Found)),
                 None) if isinstance(exc, Flaky) else None
    if found is None:
        raise exc
    return found


@dataclass
class MutantResult:
    """How the differential campaign fared against one mutant (bpfjit.fuzz.mutants)."""
    name: str
    engine: str
    what: str
    found: bool
    seconds: float                 # to the first failing program, or the whole budget
    programs: int                  # programs run until then
    saved: str | None = None       # the failing program, shrunk, as a .data file

    def row(self) -> str:
        verdict = f"found in {self.seconds:5.1f} s" if self.found else "NOT FOUND"
        return f"{self.name:24} {verdict:18} {self.programs:6} programs   {self.what}"


SHRINK_SECONDS = 300            # the most a self-test spends shrinking what it found


def self_test(mutant, seconds: float, seed: int, examples: int | None = None,
              out_dir: Path | None = None) -> MutantResult:
    """Run a differential campaign (interp against the mutant's engine, no shrinking)
    until the first mismatch or crash, for at most `seconds` and `examples` programs.
    With `out_dir`, the failing program is then shrunk (the same round again, with
    hypothesis shrinking; not counted in the time to detection) and saved there as a
    .data file, which reproduces the miscompile on the mutated engine."""
    stats = CampaignStats()
    start = time.monotonic()
    deadline = start + seconds
    remaining = examples if examples is not None else float("inf")
    worker = Worker(mutant.name)
    engines = ["interp", mutant.engine]
    found, round_no, saved = False, 0, None
    try:
        while remaining > 0 and time.monotonic() < deadline and not found:
            count = int(min(ROUND, remaining))
            try:
                _differential_round(worker, engines, _round_seed(seed, round_no), count, stats,
                                    None, shrink=False, deadline=deadline)
            except _Found:
                found = True
                break
            except _OutOfTime:
                break
            except Exception as exc:        # noqa: BLE001 - hypothesis's Flaky
                # failed once and not when run again (a mutant that reads bytes it did
                # not zero): seen all the same
                _flaky(exc)                 # (any other error is raised again)
                found = True
                break
            remaining -= count
            round_no += 1
        elapsed = time.monotonic() - start
        if found and out_dir is not None:
            saved = _shrink_and_save(
                worker, engines, _round_seed(seed, round_no), count, out_dir,
                f"self-test-{mutant.name}",
                f"miscompile {mutant.name} ({mutant.what}): with bpfjit.fuzz.mutants.apply("
                f"{mutant.name!r}), {mutant.engine} does not give the result below")
    finally:
        worker.close()
    return MutantResult(mutant.name, mutant.engine, mutant.what, found, elapsed,
                        stats.programs, saved)


def _shrink_and_save(worker: Worker, engines: list[str], seed: int, count: int,
                     out_dir: Path, kind: str, note: str) -> str | None:
    """Run a round that failed again, shrinking this time; save the minimal program."""
    try:
        _differential_round(worker, engines, seed, count, CampaignStats(), None, shrink=True,
                            deadline=time.monotonic() + SHRINK_SECONDS)
    except _Found as found:
        return str(save_failure(out_dir, kind, found.raw, found.mem, found.engines,
                                found.outcomes, found.context, note))
    except _OutOfTime:
        return None
    except Exception as exc:            # noqa: BLE001 - hypothesis's Flaky
        found = _flaky(exc)
        return str(save_failure(out_dir, f"flaky-{kind}", found.raw, found.mem, found.engines,
                                found.outcomes, found.context, note))
    return None


def _self_test_job(names: list[str], seconds: float, seed: int, examples, out_dir,
                   results) -> None:
    from .mutants import MUTANTS
    chosen = {m.name: m for m in MUTANTS}
    for name in names:
        try:
            results.put(self_test(chosen[name], seconds, seed, examples,
                                  None if out_dir is None else Path(out_dir)))
        except Exception as exc:                # noqa: BLE001 - reported by the parent
            results.put(f"self-test of {name} failed: {type(exc).__name__}: {exc}")


def run_self_tests(mutants: list, seconds: float, seed: int, jobs: int,
                   examples: int | None = None, report=None,
                   out_dir: Path | None = None) -> list[MutantResult]:
    """self_test() on each mutant, `jobs` mutants at a time (a process each, with its
    own worker); `report(result)` is called as each one ends.  In catalogue order."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    shares = [[m.name for m in mutants[i::jobs]] for i in range(jobs)]
    folder = None if out_dir is None else str(out_dir)
    procs = [ctx.Process(target=_self_test_job,
                         args=(share, seconds, seed, examples, folder, results))
             for share in shares if share]
    for proc in procs:
        proc.start()
    done: dict[str, MutantResult] = {}

    def arrived(result) -> None:
        if not isinstance(result, str):
            done[result.name] = result
            if report is not None:
                report(result)
    _collect(results, procs, len(mutants), "a self-test process died", arrived)
    return [done[m.name] for m in mutants]


def _job(args, counter, results) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the parent's to handle
    engines, examples, seconds, seed, out_dir, mode, state_dir, index = args
    try:
        results.put(run_campaign(engines, examples, seconds, seed, Path(out_dir), mode,
                                 counter, None if state_dir is None else Path(state_dir),
                                 index))
    except Exception as exc:                    # noqa: BLE001 - reported by the parent
        results.put(f"campaign with seed {seed} failed: {type(exc).__name__}: {exc}")


def _collect(results, procs, count: int, died: str, arrived, tick=None) -> None:
    """Take `count` results from the processes' queue, handing each to `arrived` (and
    calling `tick` at least twice a second); then join them.  A result that is a string
    is a process's failure: all of them raise one BpfError at the end, as does a queue
    that stays empty once every process has ended (`died`)."""
    failures = []
    while count:
        try:
            result = results.get(timeout=0.5)
        except Exception:                       # queue.Empty: still running
            if not any(p.is_alive() for p in procs) and results.empty():
                raise BpfError(died) from None
        else:
            count -= 1
            if isinstance(result, str):
                failures.append(result)
            arrived(result)
        if tick is not None:
            tick()
    for proc in procs:
        proc.join()
    if failures:
        raise BpfError("; ".join(failures))


@contextlib.contextmanager
def _ended_on_interrupt(procs):
    """On Ctrl-C (which the campaign processes ignore), end them, then let it through."""
    try:
        yield
    except KeyboardInterrupt:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()
        raise


def run_parallel(engines: list[str], examples: int | None, seconds: float | None, seed: int,
                 jobs: int, out_dir: Path, mode: str, progress: bool,
                 state_dir: Path | None = None) -> CampaignStats:
    """`jobs` campaigns side by side with seeds seed, seed+1, ...; examples are shared.

    Each campaign is a process of its own, with its own worker process under it.  With
    `state_dir` (differential mode), the campaign resumes from and records its progress
    there (bpfjit.fuzz.state); the totals returned include earlier sessions'."""
    from tqdm import tqdm
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    results = ctx.Queue()
    done = 0
    if state_dir is not None:
        if mode != "differential":
            raise BpfError("only a differential campaign keeps its progress (--state)")
        state.start(state_dir, {"engines": list(engines), "mode": mode, "seed": seed,
                                "jobs": jobs, "examples": examples})
        done = state.done_programs(state_dir, jobs)
    shares = [None] * jobs if examples is None else \
        [examples // jobs + (1 if i < examples % jobs else 0) for i in range(jobs)]
    folder = None if state_dir is None else str(state_dir)
    procs = [ctx.Process(target=_job, args=((engines, shares[i], seconds, seed + i,
                                             str(out_dir), mode, folder, i), counter, results))
             for i in range(jobs)]
    for proc in procs:
        proc.start()
    total = CampaignStats()
    with tqdm(total=examples, initial=done, disable=not progress, unit="prog",
              leave=False) as bar, _ended_on_interrupt(procs):
        _collect(results, procs, jobs, "a fuzzing campaign process died",
                 lambda result: None if isinstance(result, str) else total.add(result),
                 lambda: bar.update(done + counter.value - bar.n))
    total.resumed_from = done
    return total
