"""`bpfjit fuzz`: the command line of the fuzzer (campaigns, the self-test, the kernel
as an oracle); bpfjit.cli turns its BpfErrors into one line, as for every command."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from ..errors import BpfError

__all__ = ["add_fuzz_parser", "cmd_fuzz"]


def cmd_fuzz(args) -> int:
    """A fuzzing campaign; the last line is `fuzz: N programs, M mismatches, K crashes`."""
    from .campaign import run_parallel
    from .. import engines as available
    engines = args.engines.split(",") if args.engines else available()
    engines = ["interp"] + [e for e in dict.fromkeys(engines) if e != "interp"]
    _check_fuzz_engines(engines, args.mode)
    if args.jobs < 1:
        raise BpfError("--jobs must be at least 1")
    if args.self_test:
        return _fuzz_self_test(args, engines)
    if args.mutants:
        raise BpfError("--mutants goes with --self-test")
    if args.examples is None and args.seconds is None:
        args.examples = 1000
    start = time.monotonic()
    # SIGTERM stops a campaign as Ctrl-C does: a script's `bpfjit fuzz ... &` starts with
    # SIGINT ignored, and killing only this process would leave its jobs running
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    try:
        stats = run_parallel(engines, args.examples, args.seconds, args.seed, args.jobs,
                             Path(args.output), args.mode,
                             progress=sys.stderr.isatty() and not args.no_progress,
                             state_dir=None if args.state is None else Path(args.state))
    except KeyboardInterrupt:
        if args.state is None:
            raise
        print(f"bpfjit: interrupted; the campaign's progress is kept in {args.state}: the "
              f"same command resumes it", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - start
    for path in stats.saved:
        print(f"saved {path}")
    if args.mode == "differential":
        from .coverage import Coverage
        for line in Coverage(stats.coverage).report():
            print(line)
    if stats.resumed_from:
        print(f"resumed a saved campaign at {stats.resumed_from} programs")
    print(f"{(stats.programs - stats.resumed_from) / max(elapsed, 1e-9):.1f} programs/s on "
          f"{', '.join(engines)} ({args.mode}, {args.jobs} job(s), seed {args.seed})")
    print(stats.summary)
    return 1 if stats.mismatches or stats.crashes else 0


def _interrupt(signum, frame) -> None:
    """The first SIGTERM or Ctrl-C stops the campaign; later ones are ignored while it
    stops its jobs, saves its progress and waits for its compile worker (`timeout`
    sends SIGTERM again: each had raised KeyboardInterrupt wherever the stop was, one
    in an atexit callback printing a traceback after the clean line)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _check_fuzz_engines(engines: list[str], mode: str) -> None:
    """Every engine asked for must run here (a missing one would mismatch on every
    program); the kernel takes generated programs only, never hostile bytes."""
    from .. import engines as available
    from ..backends import KERNEL
    from ..bpfsys import unavailable
    here = available()
    for name in engines:
        if name == KERNEL:
            if mode == "hostile":
                raise BpfError("hostile mode does not feed the kernel engine: it runs "
                               "only generated programs the kernel can verify")
            reason = unavailable()
            if reason is not None:
                raise BpfError(f"engine 'kernel' cannot run here: {reason}")
        elif name not in here:
            raise BpfError(f"engine {name!r} is not available here (engines: "
                           f"{', '.join(here + [KERNEL])})")


def _fuzz_self_test(args, engines: list[str]) -> int:
    """`fuzz --self-test`: the campaign against each mutant of the catalogue; the last
    line is `self-test: N of M mutants found`, and the exit status 1 if one was not."""
    from .campaign import run_self_tests
    from .mutants import MUTANTS
    chosen = [m for m in MUTANTS if m.engine in engines]
    if args.mutants:
        names = args.mutants.split(",")
        unknown = sorted(set(names) - {m.name for m in MUTANTS})
        if unknown:
            raise BpfError(f"unknown mutant(s): {', '.join(unknown)} (bpfjit.fuzz.mutants)")
        chosen = [m for m in chosen if m.name in names]
    if not chosen:
        raise BpfError("no mutant for these engines: the catalogue covers llvm and peachpy")
    seconds = 10.0 if args.seconds is None else args.seconds
    out_dir = None if args.no_shrink else Path(args.output)
    results = run_self_tests(chosen, seconds, args.seed, args.jobs, args.examples,
                             report=lambda r: print(r.row(), flush=True), out_dir=out_dir)
    found = [r for r in results if r.found]
    if found:
        times = sorted(r.seconds for r in found)
        print(f"time to detection: median {times[len(times) // 2]:.1f} s, "
              f"longest {times[-1]:.1f} s (limit {seconds:g} s per mutant, seed {args.seed})")
    saved = [r.saved for r in found if r.saved]
    if out_dir is not None and found:
        print(f"shrunk and saved {len(saved)} of {len(found)} failing programs in {out_dir} "
              f"(each reproduces its mutant: see its header)")
    print(f"self-test: {len(found)} of {len(results)} mutants found")
    return 0 if len(found) == len(results) else 1


def add_fuzz_parser(sub) -> None:
    """The `fuzz` sub-command's options."""
    p = sub.add_parser("fuzz", help="differential and hostile-input fuzzing of the engines")
    p.add_argument("--engines", help="comma-separated engines (default: all available)")
    limit = p.add_mutually_exclusive_group()
    limit.add_argument("--examples", type=int, help="programs to try (default 1000)")
    limit.add_argument("--seconds", type=float, help="how long to run")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="parallel campaigns (default 1)")
    p.add_argument("--mode", choices=("differential", "hostile"), default="differential")
    p.add_argument("--output", default="fuzz-failures",
                   help="folder for failing programs (default: fuzz-failures)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--state", metavar="DIR",
                   help="keep the campaign's progress in DIR (after every round of 10 "
                        "programs); the same command resumes it where it stopped")
    p.add_argument("--self-test", action="store_true",
                   help="run against each miscompile of bpfjit.fuzz.mutants and report the "
                        "time to find it (--seconds: the limit per mutant, default 10); "
                        "each failing program is shrunk and saved in --output")
    p.add_argument("--mutants", help="with --self-test: comma-separated mutant names")
    p.add_argument("--no-shrink", action="store_true",
                   help="with --self-test: only time the detection, save nothing")
    p.set_defaults(func=cmd_fuzz)
