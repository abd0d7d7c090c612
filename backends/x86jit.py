"""The peachpy engine's front: the compile options (the register map), the code cache,
the callable.  A compile the code cache answers imports neither PeachPy nor the
lowering (backends.x86), which only building an image needs."""

from __future__ import annotations

import os
import time

from bpfjit.blinding import blinding_enabled
from bpfjit.codeimage import cached_image
from bpfjit.errors import BpfError
from bpfjit.speculation import speculation_level
from bpfjit.runtime import JitProgram, helper_table

from .mapops import native_answers
from . import x86layout
from .x86layout import POOL

__all__ = ["compile_x86", "resolve_registers"]


def compile_x86(verified, helpers=None, budget=None, helper_calls: int | None = None,
                blind: bool | None = None, registers: tuple[str, ...] | None = None,
                line_info: bool = True, speculation: str | None = None,
                exact_budget: bool = False) -> JitProgram:
    """Compile a verified program to x86-64; see backends.x86 for how.

    `blind` blinds the program's constants (bpfjit.blinding; default: unless the mode
    is unchecked); `speculation` is how far accesses are masked against a mispredicted
    branch (bpfjit.speculation: "off", "checks", "all"; default "checks" unless the mode
    is unchecked); `registers` overrides the x86 registers of BPF r0..r10 (a
    permutation of the default ones, see `register_map`); `line_info` keeps the
    native-code-to-pc table for `bpfjit disasm --native`; `exact_budget` counts the
    budget in the code itself even where a program could be charged ahead and run again
    (bpfjit.budgetahead, the default where it can).
    """
    started = time.perf_counter_ns()
    blind = blinding_enabled(blind, verified.mode)
    speculation = speculation_level(speculation, verified.mode)
    table = helper_table(verified.program, helpers, "peachpy")
    native = native_answers(table, verified, helpers)
    regs = resolve_registers(registers)
    ids = frozenset(table.helpers)
    ahead = not (exact_budget or verified.writes_beyond_stack)
    options = {"helpers": ids, "native_maps": native, "registers": regs,
               "line_info": line_info, "blind": blind, "speculation": speculation,
               "ahead": ahead}

    def build():
        from .x86 import build_image    # PeachPy and the lowering: only to build an image
        remember = verified.cache_name is not None      # (the compile uses the cache)
        if remember:
            from . import x86templates
            x86templates.load()
        image = build_image(verified, ids, regs, native_maps=native, line_info=line_info,
                            blind=blind, speculation=speculation, ahead=ahead)
        if remember:
            x86templates.save()
        return image
    image = cached_image(verified, "peachpy", options, build)

    def exact() -> JitProgram:
        """The same program counting its budget exactly, which a run that stopped on the
        budget charged ahead is run again on (compiled on first need)."""
        return compile_x86(verified, helpers, budget, helper_calls, blind, regs, line_info,
                           speculation, exact_budget=True)
    return JitProgram.from_image(verified, "peachpy", image, table, budget,
                                 {"registers": regs, "budget_ahead": ahead,
                                  "compile_ns": time.perf_counter_ns() - started},
                                 helper_calls=helper_calls, rerun=exact if ahead else None)


def resolve_registers(registers: tuple[str, ...] | None) -> tuple[str, ...]:
    """The register map a compile uses: `registers`, else the default (which
    BPFJIT_REGISTER_ROTATION may rotate); BpfError if it is not a permutation."""
    rotation = os.environ.get("BPFJIT_REGISTER_ROTATION", "").strip()
    if rotation and not rotation.lstrip("-").isdigit():
        raise BpfError(f"BPFJIT_REGISTER_ROTATION must be an int, got {rotation!r}")
    regs = x86layout.DEFAULT_MAP if registers is None else tuple(registers)
    if sorted(regs) != sorted(POOL):
        raise BpfError(f"registers must be a permutation of {', '.join(POOL)}")
    return regs
