"""Native disassembly (capstone) of JIT-compiled code, grouped under BPF instructions.

Backends report which BPF pc each range of machine code came from (`lines`: sorted
(offset, pc) pairs; pc -1 for code of no instruction, such as the entry glue).
An optimising backend moves and merges code, so a BPF instruction may appear in
several places, or in none.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from .asm import format_insn
from .errors import BackendUnavailable
from .program import Program

__all__ = ["NativeRow", "native_rows", "native_listing"]


@dataclass(frozen=True)
class NativeRow:
    """One x86-64 instruction: its address, its text, the BPF pc it came from (-1 for
    entry, exit and trap code, or when the backend kept no line table) and the name of
    the function that starts at it, if one does."""
    address: int
    text: str
    pc: int
    function: str | None = None


def native_rows(prog: Program, code: bytes, base: int, functions: dict[str, int],
                lines: list[tuple[int, int]] | None,
                text_end: int | None = None) -> list[NativeRow]:
    """The x86-64 of `code` (placed at address `base`), each instruction with its pc."""
    try:
        import capstone
    except ImportError:
        raise BackendUnavailable("native disassembly needs capstone: pip install capstone")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    end = len(code) if text_end is None else text_end
    names = {offset: name for name, offset in functions.items()}
    offsets = [o for o, _ in lines or []]
    rows = []
    for insn in md.disasm(code[:end], base):
        offset = insn.address - base
        pc = -1
        if lines:
            i = bisect.bisect_right(offsets, offset) - 1
            pc = lines[i][1] if i >= 0 else -1
            if pc >= 0 and not prog.is_insn_start(pc):
                pc = -1
        rows.append(NativeRow(insn.address, f"{insn.mnemonic} {insn.op_str}".rstrip(), pc,
                              names.get(offset)))
    return rows


def native_listing(prog: Program, code: bytes, base: int, functions: dict[str, int],
                   lines: list[tuple[int, int]] | None, text_end: int | None = None) -> str:
    """Text listing of `code` (placed at address `base`): BPF lines, then x86-64."""
    out: list[str] = []
    current = None
    for row in native_rows(prog, code, base, functions, lines, text_end):
        if row.function is not None:
            out.append(f"\n<{row.function}>:")
            current = None
        if lines and row.pc != current:
            current = row.pc
            out.append(f"  ; {row.pc}: {format_insn(prog.at(row.pc))}" if row.pc >= 0
                       else "  ; (entry, exit and traps)")
        out.append(f"    {row.address:#x}: {row.text}")
    return "\n".join(out).lstrip("\n") + "\n"
