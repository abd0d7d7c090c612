"""tc programs written by hand for the tests: assembly with the kernel's helpers (the
environment of tests/elf/tc_classify.o, which has them) on the socket-buffer context."""

from __future__ import annotations

from pathlib import Path

import bpfjit

ELF = Path(__file__).parent / "elf"


def tc_program(text: str) -> bpfjit.Program:
    """`text` assembled as a sched_cls program that may call the kernel's helpers."""
    env = bpfjit.load_elf(ELF / "tc_classify.o").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="skb",
                          prog_type="sched_cls")
