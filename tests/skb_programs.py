"""Programs written by hand for the tests: assembly on a program type's context with the
kernel's helpers and the given maps (`asm_program`), or as a tc program in the
environment of tests/elf/tc_classify.o (`tc_program`)."""

from __future__ import annotations

from pathlib import Path

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable

ELF = Path(__file__).parent / "elf"


def tc_program(text: str) -> bpfjit.Program:
    """`text` assembled as a sched_cls program that may call the kernel's helpers."""
    env = bpfjit.load_elf(ELF / "tc_classify.o").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="skb",
                          prog_type="sched_cls")


def asm_program(text: str, context: str = "xdp", prog_type: str = "xdp",
                maps=()) -> bpfjit.Program:
    """`text` assembled as a program of `prog_type` on `context`, with `maps` (map
    objects, by index) and the kernel's helpers."""
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable(list(maps))),
                          context=context, prog_type=prog_type)


def contexts_noted(monkeypatch) -> list:
    """The contexts runs note for the helpers from now on (KernelEnv.begin: the
    interpreter's runs; JIT runs note none), in a list that fills as they do."""
    noted = []
    real_begin = KernelEnv.begin

    def begin(self, context):
        noted.append(context)
        return real_begin(self, context)
    monkeypatch.setattr(KernelEnv, "begin", begin)
    return noted
