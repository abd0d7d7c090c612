"""Time the corpus's plain programs on the JIT engines against the same C compiled
natively (clang -O2, else cc), on two kinds of input:

- fixed: the shipped large input (the largest of its four or more), the same bytes
  every run (as `make bench` times bench/);
- varied: K inputs drawn like that one from other seeds by corpus/build.py, in turn.

A CPU's branch predictor learns a few thousand of a loop's outcomes when the same
bytes come every run, and how well it learns depends on the code's layout, so the
fixed column can hide a branch the data decides (or flatter one); the varied column
times each program as it would run on data it has not seen.  Each cell is the best of
`--rounds` interleaved rounds; no Python is timed: both sides go round their inputs in
native loops (`run_batch`, and `run_rotating` for the varied inputs).

    python corpus/speed.py [--engines llvm,peachpy] [--variants 32] [--rounds 5] [names...]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bpfjit  # noqa: E402
from bpfjit.bench import NativeKernel  # noqa: E402
from build import inputs  # noqa: E402

PLAIN = HERE / "plain"
BATCH_NS = 2e7                  # about 20 ms of native runs per round and column


def measure(name: str, engines: list[str], variants: int, rounds: int, work: Path) -> dict:
    """{column: {engine or "native": ns}} for one program, each result checked against
    the native build's."""
    shipped = inputs(name)
    large = max(range(len(shipped)), key=lambda k: (len(shipped[k]), k))
    fixed = bytearray(shipped[large])
    varied = [bytearray(inputs(name, k)[large]) for k in range(variants)]
    native = NativeKernel(PLAIN / f"{name}.c", work)
    prog = bpfjit.load_elf(PLAIN / f"{name}.o", function="entry")
    runners = {"native": native}
    for engine in engines:
        runners[engine] = bpfjit.compile(prog, engine, cache=False)
    for mem in [fixed, *varied]:
        want = native.run_batch(mem, 1)[0]
        for engine in engines:
            got = runners[engine].run_batch(mem, 1)[0]
            if got != want:
                raise SystemExit(f"{name}: {engine} returned {got:#x}, native {want:#x}")
    once = max(native.run_rotating(varied, 1)[1], 1.0)
    repeat = max(3, int(BATCH_NS / once))
    turns = max(1, int(BATCH_NS / (once * len(varied))))
    best = {"fixed": dict.fromkeys(runners, math.inf), "varied": dict.fromkeys(runners, math.inf)}
    for _ in range(rounds):
        for who, runner in runners.items():
            best["fixed"][who] = min(best["fixed"][who], runner.run_batch(fixed, repeat)[1])
            best["varied"][who] = min(best["varied"][who],
                                      runner.run_rotating(varied, turns)[1])
    return best


def _geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--engines", default="llvm,peachpy")
    parser.add_argument("--variants", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engines = args.engines.split(",")
    names = args.names or sorted(p.stem for p in PLAIN.glob("*.c"))
    ratios = {(column, engine): [] for column in ("fixed", "varied") for engine in engines}
    header = f"{'program':<12} {'native ns':>10} {'varied ns':>10}" + "".join(
        f" {engine + ' fixed':>14} {engine + ' varied':>15}" for engine in engines)
    with tempfile.TemporaryDirectory() as tmp:
        print(header)
        for name in names:
            best = measure(name, engines, args.variants, args.rounds, Path(tmp))
            row = f"{name:<12} {best['fixed']['native']:>10.0f} {best['varied']['native']:>10.0f}"
            for engine in engines:
                for column in ("fixed", "varied"):
                    ratio = best[column][engine] / best[column]["native"]
                    ratios[column, engine].append(ratio)
                    row += f" {ratio:>{14 if column == 'fixed' else 15}.2f}x"
            print(row, flush=True)
    for (column, engine), values in ratios.items():
        above = [n for n, r in zip(names, values) if r > 1.6]
        print(f"{engine} {column}: {_geomean(values):.3f}x native (geometric mean of "
              f"{len(values)}), above 1.6x: {len(above)} {' '.join(above)}")


if __name__ == "__main__":
    main()
