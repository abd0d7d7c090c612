"""bpfjit: run eBPF programs (RFC 9669, cpu v1-v4) in user space from Python.

    >>> import bpfjit
    >>> prog = bpfjit.assemble("mov %r0, 42\\nexit")
    >>> bpfjit.compile(prog)()
    42
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from .asm import assemble, disassemble
from .context import (DeviceContext, SkbContext, SkLookupContext, SkMsgContext,
                      SockAddrContext, SockContext, SockOpsContext, SockoptContext,
                      SysctlContext, XdpContext)
from .helpers import Clone, FibRequest, FibResult, Helper, Redirect
from .errors import (AssembleError, BackendUnavailable, BpfError, BpfTrap, BudgetExceeded,
                     CallDepthExceeded, DecodeError, ElfError, HelperCallsExceeded,
                     HelperError, MemoryAccessError, UnreachableReached, VerifierError)
from .limits import Limits, limits, set_limits
from .interpreter import DEFAULT_BUDGET
from .maps import MapError
from .sockets import Socket
from .program import Program
from .verifier import MODES, VerifiedProgram, verify
from .testrun import TestRunResult, test_run
from .replay import ReplayResult, replay
from .coverage_report import Coverage

__all__ = [
    "Program", "assemble", "disassemble", "compile", "verify", "VerifiedProgram", "MODES",
    "load_elf", "XdpContext", "SkbContext", "SockAddrContext", "SockContext", "SockOpsContext", "SkMsgContext", "SockoptContext",
    "SkLookupContext", "DeviceContext", "SysctlContext",
    "Socket", "Helper", "Redirect", "Clone", "FibRequest",
    "FibResult",
    "engines", "DEFAULT_BUDGET", "Limits", "limits", "set_limits", "test_run", "TestRunResult",
    "replay", "ReplayResult", "Coverage", "explore",
    "BpfError", "DecodeError", "AssembleError", "VerifierError", "ElfError",
    "BackendUnavailable", "BpfTrap", "MemoryAccessError", "BudgetExceeded",
    "CallDepthExceeded", "HelperCallsExceeded", "HelperError", "MapError",
    "UnreachableReached",
]

__version__ = "0.1.0"


def compile(prog: Program, engine: str = "interp", *, mode: str = "checked",
            helpers: dict | None = None, cache: bool = True,
            **options: Any) -> Callable[..., int]:
    """Verify `prog`, then prepare it to run on `engine` ("interp", "llvm" or "peachpy").

    Returns a callable: call it with a bytes-like memory buffer (or None) and
    it returns r0 as an unsigned 64-bit int.  `mode` is "checked" (default),
    "strict" or "unchecked" (see bpfjit.verifier); `helpers` maps helper ids to
    callables of (r1..r5) returning r0; `cache=False` neither reads nor writes the
    code cache (bpfjit.cache); other options are the engine's (`budget` and
    `helper_calls` for all: bpfjit.limits).
    """
    from bpfjit.backends import get_engine   # imported late: backends import the core
    if not isinstance(prog, Program):
        raise BpfError(f"compile() takes a bpfjit.Program, not {type(prog).__name__}; "
                       f"use Program.from_bytes() or assemble() first")
    factory = get_engine(engine)
    verified = verify(prog, mode=mode, helpers=helper_ids(prog, helpers), cache=cache)
    if not cache and verified.cache_name is not None:
        verified = dataclasses.replace(verified, cache_name=None)
    return factory(verified, helpers=helpers, **options)


def helper_ids(prog: Program, helpers: dict | None = None) -> dict:
    """The helpers a run of `prog` with `helpers` can call, by id, with what the
    verifier knows of each (a Signature, or None): those given, and the kernel's for
    a program loaded from an object file.  compile() verifies against these, and so
    does `bpfjit verify`, so both accept the same programs."""
    if helpers is None:
        given = {}
    elif not isinstance(helpers, dict):
        raise BpfError(f"helpers must be a dict of helper id -> callable, not "
                       f"{type(helpers).__name__}")
    else:
        given = helpers
    from .helpers import kernel_signatures, signature_of
    out = kernel_signatures(prog.context) if prog.env is not None else {}
    for hid, fn in given.items():
        out[hid] = signature_of(hid, fn, False)
    return out


def load_elf(source, section: str | None = None, function: str | None = None,
             prog_type: str | None = None, max_entries: dict[str, int] | None = None,
             constants: dict[str, int] | None = None, maps: dict | None = None,
             inner_maps: dict | None = None) -> Program:
    """Load a program from a clang-built eBPF object file (a path or its bytes).

    See bpfjit.elf.load_elf; the result has `.maps` and `.trace`."""
    from .elf import load_elf as _load
    return _load(source, section=section, function=function, prog_type=prog_type,
                 max_entries=max_entries, constants=constants, maps=maps,
                 inner_maps=inner_maps)


def explore(program, memory: bytes | None = None, **options: Any) -> str:
    """The explorer page of `program` (a Program or an object file's path) as HTML:
    C source, instructions, verifier states, LLVM IR and x86-64 side by side, and with
    `memory` a run to step through; see bpfjit.explorer.explore for the options."""
    from .explorer import explore as explore_page     # (imported on first use)
    return explore_page(program, memory, **options)


def engines(kernel: bool = False) -> list[str]:
    """The engines available on this machine.  `kernel=True` adds "kernel" where this
    process may load programs into the running kernel (bpfjit.backends.kerneljit: an
    independent oracle that runs plain, XDP, tc, cgroup_skb and socket filter programs,
    with array, hash, LRU hash and LPM trie maps and the helpers its test runs can make)."""
    from bpfjit.backends import available_engines
    return available_engines(kernel)


def _load_fronts() -> None:
    """Load the JIT runtime and the engines' fronts with the package (~5 ms), so that a
    compile the code cache answers imports nothing; LLVM, PeachPy and the lowerings,
    which only a cache miss needs, stay unloaded until then."""
    for front in ("llvmjit", "x86jit"):
        try:
            __import__(f"bpfjit.backends.{front}")
        except ImportError:         # that engine's dependency is missing: it says so later
            pass


_load_fronts()
