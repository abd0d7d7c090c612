"""Native disassembly (capstone) of JIT-compiled code, grouped under BPF instructions.

Backends report which BPF pc each range of machine code came from (`lines`: sorted
(offset, pc) pairs; pc -1 for code of no instruction, such as the entry glue).
An optimising backend moves and merges code, so a BPF instruction may appear in
several places, or in none.
"""

from __future__ import annotations

import bisect

from .asm import format_insn
from .errors import BackendUnavailable
from .program import Program

__all__ = ["native_listing"]


def native_listing(prog: Program, code: bytes, base: int, functions: dict[str, int],
                   lines: list[tuple[int, int]] | None, text_end: int | None = None) -> str:
    """Text listing of `code` (placed at address `base`): BPF lines, then x86-64."""
    try:
        import capstone
    except ImportError:
        raise BackendUnavailable("native disassembly needs capstone: pip install capstone")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    end = len(code) if text_end is None else text_end
    starts = sorted(functions.items(), key=lambda item: item[1])
    names = {offset: name for name, offset in starts}
    offsets = [o for o, _ in lines or []]
    out: list[str] = []
    current = None
    for insn in md.disasm(code[:end], base):
        offset = insn.address - base
        if offset in names:
            out.append(f"\n<{names[offset]}>:")
            current = None
        if lines:
            i = bisect.bisect_right(offsets, offset) - 1
            pc = lines[i][1] if i >= 0 else -1
            if pc != current:
                current = pc
                if pc >= 0 and prog.is_insn_start(pc):
                    out.append(f"  ; {pc}: {format_insn(prog.at(pc))}")
                else:
                    out.append("  ; (entry, exit and traps)")
        out.append(f"    {insn.address:#x}: {insn.mnemonic} {insn.op_str}".rstrip())
    return "\n".join(out).lstrip("\n") + "\n"
