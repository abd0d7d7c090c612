"""Which line of C each instruction came from: the line_info records clang writes into
`.BTF.ext` with `-g` (the kernel's verifier prints them in its log, bpftool next to
its disassembly).

line_info's records (bpfjit.btfext reads the container) are (byte offset of the
instruction in the section, file name, source line text, line number << 10 | column).
"""

from __future__ import annotations

import bisect
import os
import struct
from dataclasses import dataclass

from .btfext import LINE_INFO, ext_records, string_reader

__all__ = ["SourceLine", "parse_line_info", "line_at", "object_directory", "source_path"]

_RECORD = struct.Struct("<IIII")             # insn_off, file_name_off, line_off, line_col


@dataclass(frozen=True)
class SourceLine:
    """A line of C: its file (as the compiler named it), number, column and text."""
    file: str
    line: int
    column: int
    text: str


def parse_line_info(btf: bytes, ext: bytes) -> dict[str, list[tuple[int, SourceLine]]]:
    """{code section name: [(byte offset of an instruction, its SourceLine)], sorted}
    from a `.BTF` and a `.BTF.ext` section; ElfError when they are malformed."""
    string = string_reader(btf)
    out: dict[str, list[tuple[int, SourceLine]]] = {}
    for name_off, records in ext_records(ext, LINE_INFO, _RECORD.size):
        lines = out.setdefault(string(name_off), [])
        for at in records:
            insn_off, file_off, text_off, line_col = _RECORD.unpack_from(ext, at)
            lines.append((insn_off, SourceLine(string(file_off), line_col >> 10,
                                               line_col & 0x3FF, string(text_off).strip())))
    for records in out.values():
        records.sort(key=lambda r: r[0])
    return out


def line_at(records: list[tuple[int, SourceLine]], offset: int) -> SourceLine | None:
    """The line an instruction at byte `offset` of its section belongs to: the last
    record at or before it (a record covers the instructions up to the next)."""
    i = bisect.bisect_right(records, offset, key=lambda r: r[0]) - 1
    return records[i][1] if i >= 0 else None


def object_directory(program) -> str | None:
    """The directory of the object file `program` was loaded from (None if it came
    from bytes or was not loaded from an object): where clang -g's relative source
    names (`./prog.c`, with -fdebug-compilation-dir=.) are taken from."""
    path = getattr(program, "object_path", None)
    return None if path is None else os.path.dirname(os.path.abspath(path))


def source_path(name: str, base: str | None) -> str:
    """A source file as line_info names it, taken from directory `base` when the name
    is relative (as is, without a base)."""
    if base is None or os.path.isabs(name):
        return name
    return os.path.normpath(os.path.join(base, name))
