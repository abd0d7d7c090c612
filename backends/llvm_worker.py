"""Where LLVM runs: in this process at first, then in a worker process that is replaced
every few hundred compiles.

Why: llvmlite (0.50) leaks about 80 KB per optimised compile — each PassBuilder
allocates pass-instrumentation callbacks it never frees, and a PassBuilder cannot be
reused safely, since every run registers callbacks that outlive it.  A long pytest
session or fuzzing campaign would grow without bound.  So after the first
`IN_PROCESS` compiles of a process (small scripts never pay for a second process),
the IR is sent to a worker that optimises it and returns the object file; the worker
is restarted after `RECYCLE` compiles, which frees what it leaked.  Only the IR and
the object cross the pipe; linking and placing stay here.

BPFJIT_LLVM_WORKER=never keeps every compile in this process, =always uses the
worker from the first compile.
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

__all__ = ["generate", "IN_PROCESS", "RECYCLE", "main"]

IN_PROCESS = 64         # compiles done in this process before the worker takes over
RECYCLE = 256           # compiles a worker serves before it is replaced
_FRAME = struct.Struct("<Q")
_lock = threading.Lock()
_state = {"compiles": 0, "worker": None, "served": 0, "pid": None}


def _policy() -> str:
    policy = os.environ.get("BPFJIT_LLVM_WORKER", "auto").strip().lower() or "auto"
    if policy not in ("auto", "always", "never"):
        raise BpfError(f"BPFJIT_LLVM_WORKER must be auto, always or never, got {policy!r}")
    return policy


def generate(ir_text: str, opt_level: int, keep_ir: bool) -> tuple[bytes, str | None]:
    """(object file, optimised IR or None) for `ir_text`, from llvm.generate_object run
    here or in the worker (see the module docstring)."""
    policy = _policy()
    with _lock:     # LLVM's global context is not shared between threads
        _state["compiles"] += 1
        if policy == "never" or (policy == "auto" and _state["compiles"] <= IN_PROCESS):
            from .llvm import generate_object
            return generate_object(ir_text, opt_level, keep_ir)
        return _remote(ir_text, opt_level, keep_ir)


def _remote(ir_text: str, opt_level: int, keep_ir: bool) -> tuple[bytes, str | None]:
    worker = _state["worker"]
    if worker is None or worker.poll() is not None or _state["pid"] != os.getpid() \
            or _state["served"] >= RECYCLE:
        worker = _start()
    request = pickle.dumps((ir_text, opt_level, keep_ir))
    try:
        worker.stdin.write(_FRAME.pack(len(request)) + request)
        worker.stdin.flush()
        header = worker.stdout.read(_FRAME.size)
        reply = pickle.loads(worker.stdout.read(_FRAME.unpack(header)[0]))
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
    code = (f"import sys; sys.path[:0] = {sys.path!r}; "
            f"from bpfjit.backends.llvm_worker import main; main()")
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


def main() -> None:
    """The worker: answer framed (IR, opt level, keep_ir) requests until stdin closes.
    The protocol owns the original stdout; anything LLVM prints goes to stderr."""
    from .llvm import generate_object
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        header = requests.read(_FRAME.size)
        if len(header) < _FRAME.size:
            return
        ir_text, opt_level, keep_ir = pickle.loads(requests.read(_FRAME.unpack(header)[0]))
        try:
            reply = ("ok",) + generate_object(ir_text, opt_level, keep_ir)
        except Exception as exc:        # noqa: BLE001 - reported to the parent
            reply = ("error", str(exc))
        data = pickle.dumps(reply)
        channel.write(_FRAME.pack(len(data)) + data)
        channel.flush()
