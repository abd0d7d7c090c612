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


@pytest.mark.parametrize("cut", ["reply", "request"])
def test_the_llvm_worker_ends_quietly_when_its_parent_goes(cut):
    """A campaign interrupted mid-compile closes the worker's pipes under it: the
    worker exits 0 with nothing on stderr, whether its reply or the request was cut."""
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm is not available here")
    import pickle
    from backends import llvm_worker
    from backends.llvmcodegen import FRAME
    code = (f"import importlib.util as u; "
            f"s = u.spec_from_file_location('codegen', {str(llvm_worker._CODEGEN)!r}); "
            f"m = u.module_from_spec(s); s.loader.exec_module(m); m.serve()")
    worker = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ir = "define i64 @f() {\n  ret i64 42\n}\n"
    request = pickle.dumps((ir, 2, False))
    if cut == "reply":
        worker.stdout.close()               # the reply has nowhere to go
        worker.stdin.write(FRAME.pack(len(request)) + request)
    else:
        worker.stdin.write(FRAME.pack(len(request)) + request[: len(request) // 2])
    worker.stdin.close()
    assert worker.wait(timeout=60) == 0
    assert worker.stderr.read() == b""
