"""The explorer: one self-contained HTML page with a program's C source, instructions,
verifier states, LLVM IR and both JITs' x86-64 side by side, linked by pc, and a run
to step through (`bpfjit explore`, `bpfjit.explore`).

collect (every stage's view of each instruction) -> render (the page)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BpfError
from ..program import Program
from .collect import Exploration, collect
from .render import render

__all__ = ["explore", "Exploration", "collect", "render", "write_page", "default_title"]


def explore(program: Program | str | os.PathLike, memory: bytes | None = None, *,
            section: str | None = None, function: str | None = None,
            mode: str = "checked", helpers: dict | None = None,
            engines: list[str] | None = None, output: str | os.PathLike | None = None,
            title: str | None = None) -> str:
    """The explorer page of `program` (a Program, or the path of a clang-built object
    file, whose `section` / `function` pick the program) as HTML text, also written to
    `output` when given.  With `memory` (the packet, for XDP and tc programs), the page
    replays the interpreter's run on it step by step and times each engine on it.
    A program the verifier rejects still gets a page, showing where and why."""
    if not isinstance(program, Program):
        from ..elf import load_elf
        path = os.fspath(program)
        if not isinstance(path, str) or not path.endswith(".o"):
            raise BpfError(f"explore() takes a bpfjit.Program or an object file (.o), "
                           f"not {program!r}")
        program = load_elf(path, section=section, function=function)
    if memory is not None and not isinstance(memory, (bytes, bytearray, memoryview)):
        raise BpfError(f"memory must be bytes, not {type(memory).__name__}")
    page = render(collect(program, None if memory is None else bytes(memory), mode=mode,
                          helpers=helpers, engines=engines,
                          title=title or default_title(program)))
    if output is not None:
        write_page(page, output)
    return page


def write_page(page: str, output: str | os.PathLike) -> int:
    """Write `page` to `output`; its size in bytes.  BpfError when it cannot."""
    try:
        data = page.encode("utf-8")
        Path(output).write_bytes(data)
    except OSError as exc:
        raise BpfError(f"cannot write {output}: {exc.strerror or exc}") from None
    return len(data)


def default_title(program: Program, name: str | None = None) -> str:
    """"file.o [section] function" for a loaded object, else the program's file
    `name` (or its size)."""
    path = getattr(program, "object_path", None)
    if path is None:
        return os.path.basename(name) if name else f"eBPF program, {len(program)} instructions"
    parts = [os.path.basename(path)]
    if getattr(program, "section", None):
        parts.append(f"[{program.section}]")
    if getattr(program, "function", None):
        parts.append(program.function)
    return " ".join(parts)
