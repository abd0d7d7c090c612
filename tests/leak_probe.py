"""Compile and drop many programs, then print the RSS growth in KB (run by test_leaks.py).

    python leak_probe.py ENGINE COUNT WARM_UP
"""

import gc
import sys

import bpfjit


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def program(i: int) -> bpfjit.Program:
    """A different 84-instruction program for each i (no two compiles are alike)."""
    body = "\n".join(f"mov %r{1 + k % 5}, {i * 31 + k}\nadd %r0, %r{1 + k % 5}"
                     for k in range(40))
    return bpfjit.assemble(f"mov %r0, 0\n{body}\njgt %r0, {i}, +1\nadd %r0, 1\nexit")


def main() -> None:
    engine, count, warm_up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for i in range(warm_up):
        bpfjit.compile(program(i), engine, cache=False)(None)
    gc.collect()
    base = rss_kb()
    for i in range(warm_up, warm_up + count):
        bpfjit.compile(program(i), engine, cache=False)(None)
    gc.collect()
    print(rss_kb() - base)


if __name__ == "__main__":
    main()
