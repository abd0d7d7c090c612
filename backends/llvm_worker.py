"""Where LLVM runs: in a worker process by default, which is replaced every few
hundred compiles; optionally in this process.

Why a worker:
- W^X.  Importing llvmlite.binding maps a writable and executable page in the
  importing process (the libffi closures of its ctypes callbacks), for the rest of
  its life.  Run in a worker, LLVM never loads where programs run: their process
  keeps no page that is writable and executable at once (tests/test_hardening.py).
- Leaks.  llvmlite (0.50) leaks about 80 KB per optimised compile — each
  PassBuilder allocates pass-instrumentation callbacks it never frees, and a
  PassBuilder cannot be reused safely.  The worker is restarted after `RECYCLE`
  compiles, which frees what it leaked, so a long pytest session or fuzzing
  campaign stays flat.
Only the IR and the object file cross the pipe; linking and placing stay here.  The
worker loads bpfjit.backends.llvmcodegen alone (no bpfjit package), and `start` lets
a compile begin starting it before its IR is built.

BPFJIT_LLVM_WORKER chooses: `always` (the default), `auto` (the first `IN_PROCESS`
compiles in this process, for a faster first compile, then the worker; the process
then holds llvmlite's writable and executable page) or `never` (every compile here).
"""

from __future__ import annotations

import atexit
import os
import pickle
import struct
import subprocess
import sys
import threading

from bpfjit.errors import BpfError

from .llvmcodegen import FRAME

__all__ = ["generate", "start", "IN_PROCESS", "RECYCLE"]

IN_PROCESS = 64         # with `auto`: compiles done in this process before the worker's
RECYCLE = 256           # compiles a worker serves before it is replaced
POLICIES = ("always", "auto", "never")
_CODEGEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llvmcodegen.py")
_lock = threading.Lock()
_state = {"compiles": 0, "worker": None, "served": 0, "pid": None}


def _policy() -> str:
    policy = os.environ.get("BPFJIT_LLVM_WORKER", "always").strip().lower() or "always"
    if policy not in POLICIES:
        raise BpfError(f"BPFJIT_LLVM_WORKER must be always, auto or never, got {policy!r}")
    return policy


def _in_process(policy: str, compiles: int) -> bool:
    return policy == "never" or (policy == "auto" and compiles <= IN_PROCESS)


def start() -> None:
    """Start the worker now if the next compile will need one (its ~90 ms start then
    overlaps the building of the IR); nothing otherwise."""
    policy = _policy()
    with _lock:
        if not _in_process(policy, _state["compiles"] + 1):
            _worker()


def generate(ir_text: str, opt_level: int, keep_ir: bool) -> tuple[bytes, str | None]:
    """(object file, optimised IR or None) for `ir_text`, from
    llvmcodegen.generate_object run in the worker or here (see the module docstring)."""
    policy = _policy()
    with _lock:     # LLVM's global context is not shared between threads
        _state["compiles"] += 1
        if _in_process(policy, _state["compiles"]):
            from .llvmcodegen import generate_object
            return generate_object(ir_text, opt_level, keep_ir)
        return _remote(ir_text, opt_level, keep_ir)


def _worker() -> subprocess.Popen:
    """The running worker, started (or replaced) when needed.  Caller holds _lock."""
    worker = _state["worker"]
    if worker is None or worker.poll() is not None or _state["pid"] != os.getpid() \
            or _state["served"] >= RECYCLE:
        worker = _start()
    return worker


def _remote(ir_text: str, opt_level: int, keep_ir: bool) -> tuple[bytes, str | None]:
    worker = _worker()
    request = pickle.dumps((ir_text, opt_level, keep_ir))
    try:
        worker.stdin.write(FRAME.pack(len(request)) + request)
        worker.stdin.flush()
        header = worker.stdout.read(FRAME.size)
        reply = pickle.loads(worker.stdout.read(FRAME.unpack(header)[0]))
    except (OSError, struct.error, pickle.UnpicklingError, EOFError):
        _stop(worker)
        _state["worker"] = None
        raise BpfError(f"the llvm compile worker exited (status {worker.poll()})") from None
    _state["served"] += 1
    if reply[0] != "ok":
        raise RuntimeError(reply[1])         # as LLVM's own errors are raised in process
    return reply[1], reply[2]


def _start() -> subprocess.Popen:
    if _state["worker"] is not None and _state["pid"] == os.getpid():
        _stop(_state["worker"])
    # llvmcodegen loaded by its path: the worker imports llvmlite, not the bpfjit package
    code = (f"import sys; sys.path[:0] = {sys.path!r}; import importlib.util as u; "
            f"s = u.spec_from_file_location('bpfjit_llvmcodegen', {_CODEGEN!r}); "
            f"m = u.module_from_spec(s); s.loader.exec_module(m); m.serve()")
    worker = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    _state.update(worker=worker, served=0, pid=os.getpid())
    return worker


def _stop(worker: subprocess.Popen) -> None:
    try:
        worker.stdin.close()
        worker.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        worker.kill()
        worker.wait()
    worker.stdout.close()


@atexit.register
def _shutdown() -> None:
    worker = _state["worker"]
    if worker is not None and _state["pid"] == os.getpid():
        _stop(worker)
