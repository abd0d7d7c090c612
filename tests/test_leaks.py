"""Compiling and dropping programs leaves memory flat, on every engine.

Each engine compiles fresh programs in a child process (cache off) after a warm-up,
and the child's resident set may grow by at most 2 MB.  For llvm, LLVM runs in its
recycled worker (llvm_worker): run in process, llvmlite's leak (~90 KB a compile)
would show as ~13 MB here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit

PROBE = Path(__file__).parent / "leak_probe.py"
COUNTS = {"interp": (1000, 100), "peachpy": (1000, 100), "llvm": (150, 70)}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_compiling_and_dropping_programs_leaves_memory_flat(name):
    if name not in bpfjit.engines():
        pytest.skip(f"engine {name} is not available here")
    count, warm_up = COUNTS[name]
    env = dict(os.environ)
    env.pop("BPFJIT_LLVM_WORKER", None)
    result = subprocess.run([sys.executable, str(PROBE), name, str(count), str(warm_up)],
                            env=env, capture_output=True, text=True, check=True)
    growth_kb = int(result.stdout)
    assert growth_kb <= 2048, f"{name}: RSS grew {growth_kb} KB over {count} compiles"


def test_the_llvm_worker_compiles_what_the_process_compiles(monkeypatch):
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available here")
    prog = bpfjit.assemble("mov %r0, 7\nmul %r0, 6\nexit")
    for policy in ("always", "auto", "never"):
        monkeypatch.setenv("BPFJIT_LLVM_WORKER", policy)
        assert bpfjit.compile(prog, "llvm", cache=False)() == 42
    monkeypatch.setenv("BPFJIT_LLVM_WORKER", "sometimes")
    with pytest.raises(bpfjit.BpfError, match="BPFJIT_LLVM_WORKER"):
        bpfjit.compile(prog, "llvm", cache=False)
