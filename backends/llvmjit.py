"""The llvm engine's front: the compile options, the code cache, the callable.  A
compile the code cache answers imports neither LLVM nor the lowering (backends.llvm,
~12 ms), which only building an image needs."""

from __future__ import annotations

import time

from llvmlite import __version__ as llvmlite_version

from bpfjit.blinding import blinding_enabled
from bpfjit.codeimage import cached_image
from bpfjit.runtime import JitProgram, helper_table
from bpfjit.speculation import speculation_level

from .mapops import native_answers

__all__ = ["compile_llvm", "default_opt_level", "QUICK_FROM"]

# from this many instruction slots on, the default is opt_level 1: LLVM's -O2 took 1-9 s
# on cilium's programs of 2,000-7,000 instructions (superlinear: its code generator and
# tail merging on functions of thousands of blocks), the quick level 0.2-1.3 s, and
# their runs, dominated by helpers and maps, were within 3%
QUICK_FROM = 2048


def default_opt_level(prog) -> int:
    """2, or 1 for a program of QUICK_FROM slots or more."""
    return 1 if len(prog) >= QUICK_FROM else 2


def compile_llvm(verified, helpers=None, budget=None, helper_calls: int | None = None,
                 blind: bool | None = None, opt_level: int | None = None, keep_ir: bool = False,
                 line_info: bool = False, speculation: str | None = None,
                 exact_budget: bool = False) -> JitProgram:
    """Compile `prog` with LLVM; see backends.llvm for what is guaranteed.

    `blind` blinds the program's constants (bpfjit.blinding; default: unless the mode
    is unchecked); `speculation` is how far accesses are masked against a mispredicted
    branch (bpfjit.speculation: "off", "checks", "all"; default "checks" unless the mode
    is unchecked); `keep_ir` keeps the IR before and after optimisation in `.extra`;
    `line_info` maps native code back to BPF pcs (`.extra["lines"]`), for disassembly;
    `opt_level` None picks it by the program's size (`default_opt_level`);
    `exact_budget` counts the budget in the code itself even where a program could be
    charged ahead and run again (bpfjit.budgetahead, the default where it can).
    """
    if opt_level is None:
        opt_level = default_opt_level(verified.program)
    blind = blinding_enabled(blind, verified.mode)
    speculation = speculation_level(speculation, verified.mode)
    started = time.perf_counter_ns()
    ahead = not (exact_budget or verified.writes_beyond_stack)
    table = helper_table(verified.program, helpers, "llvm")
    native = native_answers(table, verified, helpers)
    ids = frozenset(table.helpers)

    def build():
        from . import llvm_worker           # started first: its ~70 ms start overlaps
        llvm_worker.start()                 # importing the lowering and building the IR
        from .llvm import build_image       # LLVM and the lowering: only to build an image
        return build_image(verified, ids, native_maps=native, opt_level=opt_level,
                           keep_ir=keep_ir, line_info=line_info, blind=blind,
                           speculation=speculation, ahead=ahead)
    if keep_ir:                 # the IR is wanted: always compile
        image, extra = build()
    else:
        options = {"helpers": ids, "native_maps": native, "opt_level": opt_level,
                   "line_info": line_info, "blind": blind, "speculation": speculation,
                   "ahead": ahead, "llvmlite": llvmlite_version}
        image = cached_image(verified, "llvm", options, lambda: build()[0])
        extra = {"ir": None, "optimised_ir": None}

    def exact() -> JitProgram:
        """The same program counting its budget exactly, which a run that stopped on the
        budget charged ahead is run again on (compiled on first need)."""
        return compile_llvm(verified, helpers, budget, helper_calls, blind, opt_level,
                            keep_ir, line_info, speculation, exact_budget=True)
    return JitProgram.from_image(verified, "llvm", image, table, budget,
                                 dict(extra, compile_ns=time.perf_counter_ns() - started,
                                      opt_level=opt_level, budget_ahead=ahead),
                                 helper_calls=helper_calls, rerun=exact if ahead else None)
