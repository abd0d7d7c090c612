"""Engine registry: engine name -> how to compile a program for it.

The interpreter lives in the core package; the JIT backends live here and are
imported only when asked for, so a missing dependency of one backend never
stops the others from working.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Callable

from bpfjit.errors import BackendUnavailable, BpfError

__all__ = ["ENGINES", "KERNEL", "get_engine", "available_engines", "reject_unknown_options"]

ENGINES = ("interp", "llvm", "peachpy")
# the running kernel, through bpf(2): an oracle that runs a subset of programs (plain and
# XDP, no maps or helpers), so it is listed only when asked for (available_engines)
KERNEL = "kernel"


def reject_unknown_options(engine: str, unknown: dict) -> None:
    """Raise a clear BpfError for options an engine does not take."""
    if unknown:
        names = ", ".join(sorted(unknown))
        raise BpfError(f"engine {engine!r} does not take the option(s) {names}")


def _interp(verified, helpers=None, budget=None, helper_calls=None, **unknown):
    """The interpreter checks every access whatever the mode: it is the reference."""
    from bpfjit.interpreter import DEFAULT_BUDGET, Interpreter
    reject_unknown_options("interp", unknown)
    context = frozenset(pc for pc, r in verified.regions.items() if r == "ctx")
    # unproven accesses of the buffer, of the stack or of one map's values: checked
    # against that region alone, as the JITs do
    regions: dict[int, str | int] = {pc: r for pc, r in verified.regions.items()
                                     if r in ("mem", "stack") and pc not in verified.proven}
    regions.update(verified.map_regions)
    return Interpreter(verified.program, helpers=helpers, context_accesses=context,
                       region_accesses=regions,
                       frames=verified.frames, stack_used=verified.stack_used,
                       callbacks=verified.callbacks, iterated=verified.iterated,
                       budget=DEFAULT_BUDGET if budget is None else budget,
                       helper_calls=helper_calls)


def _llvm(verified, helpers=None, budget=None, helper_calls=None, blind=None, opt_level=None,
          keep_ir=False, line_info=False, speculation=None, exact_budget=False, **unknown):
    reject_unknown_options("llvm", unknown)
    try:
        from .llvmjit import compile_llvm
    except ImportError as exc:
        raise BackendUnavailable(f"engine 'llvm' needs llvmlite, cffi and pyelftools "
                                 f"({exc}); pip install bpfjit's dependencies") from None
    return compile_llvm(verified, helpers=helpers, budget=budget, helper_calls=helper_calls,
                        blind=blind, opt_level=opt_level, keep_ir=keep_ir,
                        line_info=line_info, speculation=speculation,
                        exact_budget=exact_budget)


def _peachpy(verified, helpers=None, budget=None, helper_calls=None, blind=None,
             registers=None, line_info=True, speculation=None, exact_budget=False, **unknown):
    reject_unknown_options("peachpy", unknown)
    if not _peachpy_importable():
        raise BackendUnavailable(
            "engine 'peachpy' needs PeachPy, which is not importable: on Debian run "
            "'apt-get install python3-peachpy' and use a virtualenv made with "
            "--system-site-packages from /usr/bin/python3 (make test does this)")
    from .x86jit import compile_x86
    return compile_x86(verified, helpers=helpers, budget=budget, helper_calls=helper_calls,
                       blind=blind, registers=registers, line_info=line_info,
                       speculation=speculation, exact_budget=exact_budget)


def _kernel(verified, helpers=None, budget=None, helper_calls=None, **unknown):
    """The running kernel's verifier and JIT (backends.kerneljit).  It cannot bound a
    run by `budget` or `helper_calls` (its verifier proves termination instead; it runs
    no helpers): asked to, it refuses rather than ignore the bound."""
    reject_unknown_options("kernel", unknown)
    bounds = [name for name, value in (("budget", budget), ("helper_calls", helper_calls))
              if value is not None]
    if bounds:
        raise BpfError(f"the kernel engine cannot bound a run by {' or '.join(bounds)}: "
                       f"the kernel's verifier proves that a program ends instead")
    from bpfjit.bpfsys import unavailable
    reason = unavailable()
    if reason is not None:
        raise BackendUnavailable(f"engine 'kernel' cannot run here: {reason}")
    from .kerneljit import compile_kernel
    return compile_kernel(verified, helpers=helpers)


@functools.cache
def _peachpy_importable() -> bool:
    """Whether PeachPy can be imported (looked up once per process: ~0.1 ms a time)."""
    return importlib.util.find_spec("peachpy") is not None


_FACTORIES: dict[str, Callable] = {"interp": _interp, "llvm": _llvm, "peachpy": _peachpy,
                                   KERNEL: _kernel}


def get_engine(name: str) -> Callable:
    """The factory of engine `name`: (VerifiedProgram, **options) -> callable.

    BackendUnavailable if the engine is unknown."""
    try:
        return _FACTORIES[name]
    except KeyError:
        raise BackendUnavailable(
            f"unknown engine {name!r}; engines are: {', '.join(ENGINES + (KERNEL,))}") from None


def available_engines(kernel: bool = False) -> list[str]:
    """Engines that can compile and run a program on this machine right now; with
    `kernel`, also the running kernel when this process may load programs into it."""
    from bpfjit.asm import assemble
    from bpfjit.verifier import verify
    probe = verify(assemble("mov %r0, 0\nexit"))
    found = []
    for name in ENGINES + ((KERNEL,) if kernel else ()):
        try:
            get_engine(name)(probe)
        except BackendUnavailable:
            continue
        found.append(name)
    return found
