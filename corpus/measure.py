"""Measure the verifier on the corpus: per program, whether it is accepted (checked and
strict modes), how many static memory accesses it proves, and how long verification
takes (median of several runs on a fresh copy of the program, so nothing is cached).

    python corpus/measure.py [--runs N] [objects...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import bpfjit  # noqa: E402
from bpfjit.kernel import HELPER_NAMES  # noqa: E402


def load(path: Path) -> bpfjit.Program:
    if path.parent.name == "plain":
        return bpfjit.load_elf(path, function="entry")
    return bpfjit.load_elf(path)            # the object's one packet program (XDP or tc)


def measure(path: Path, runs: int) -> dict:
    helpers = set(HELPER_NAMES)
    row = {"name": f"{path.parent.name}/{path.stem}", "insns": len(load(path))}
    times = []
    for _ in range(runs):
        prog = load(path)
        start = time.perf_counter()
        try:
            verified = bpfjit.verify(prog, mode="checked", helpers=helpers, cache=False)
        except bpfjit.BpfError as exc:
            row["error"] = str(exc)
            return row
        times.append(time.perf_counter() - start)
    row["ms"] = statistics.median(times) * 1e3
    row["accesses"] = len(verified.accesses)
    row["proven"] = len(verified.proven)
    try:
        bpfjit.verify(load(path), mode="strict", helpers=helpers)
        row["strict"] = "accepted"
    except bpfjit.BpfError as exc:
        row["strict"] = str(exc)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("objects", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    objects = args.objects or sorted(HERE.glob("*/*.o"))
    total = proven = 0
    times = []
    unreadable = 0
    print(f"{'program':<22} {'insns':>5} {'proven':>9} {'share':>6} {'verify ms':>9}  strict")
    for path in objects:
        try:
            row = measure(path, args.runs)
        except bpfjit.BpfError as exc:          # an object that does not load
            print(f"{path}: {exc}", file=sys.stderr)
            unreadable += 1
            continue
        if "error" in row:
            print(f"{row['name']:<22} {row['insns']:>5}  REJECTED: {row['error']}")
            continue
        total += row["accesses"]
        proven += row["proven"]
        times.append(row["ms"])
        share = row["proven"] / row["accesses"] if row["accesses"] else 1.0
        print(f"{row['name']:<22} {row['insns']:>5} {row['proven']:>4}/{row['accesses']:<4} "
              f"{share:>6.0%} {row['ms']:>9.1f}  {row['strict'][:70]}")
    if times:
        print(f"accepted {len(times)} of {len(objects)}; proven {proven}/{total} "
              f"({proven / max(total, 1):.1%}); verify ms median {statistics.median(times):.1f}, "
              f"max {max(times):.1f}")
    if unreadable:
        sys.exit(1)


if __name__ == "__main__":
    main()
