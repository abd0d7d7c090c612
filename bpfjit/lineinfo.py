"""Which line of C each instruction came from: the line_info records clang writes into
`.BTF.ext` with `-g` (the kernel's verifier prints them in its log, bpftool next to
its disassembly).

`.BTF.ext` starts with a header (magic 0xEB9F, version 1, flags, its length, then
offset and length of func_info, line_info and, from LLVM 12, CO-RE relocations, all
counted from the header's end).  line_info is a record size, then per code section
its name (an offset into `.BTF`'s strings), a count and that many records of
(byte offset of the instruction in the section, file name, source line text, line
number << 10 | column).
"""

from __future__ import annotations

import bisect
import os
import struct
from dataclasses import dataclass

from .btf import string_table
from .errors import ElfError

__all__ = ["SourceLine", "parse_line_info", "line_at", "object_directory", "source_path"]

_MAGIC = 0xEB9F                               # .BTF.ext, as .BTF
_EXT_HEADER = struct.Struct("<HBBIIIII")     # magic, version, flags, hdr_len, func_info
_SEC = struct.Struct("<II")                  # (off, len), line_info (off, len)
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
    strings = string_table(btf)
    seen: dict[int, str] = {}        # records share their file's and lines' strings

    def string(offset: int) -> str:
        text = seen.get(offset)
        if text is None:
            if offset >= len(strings):
                raise ElfError(f"BTF.ext: string offset {offset} is out of range")
            text = seen[offset] = strings[offset:strings.index(b"\0", offset)].decode(
                "utf-8", "replace")
        return text

    if len(ext) < _EXT_HEADER.size:
        raise ElfError("BTF.ext: the section is too short")
    magic, version, _, hdr_len, _, _, line_off, line_len = _EXT_HEADER.unpack_from(ext)
    if magic != _MAGIC or version != 1:
        raise ElfError(f"BTF.ext: bad magic {magic:#x} or version {version}")
    pos, end = hdr_len + line_off, hdr_len + line_off + line_len
    if end > len(ext):
        raise ElfError("BTF.ext: line_info runs past the end of the section")
    out: dict[str, list[tuple[int, SourceLine]]] = {}
    if line_len == 0:
        return out
    record_size = struct.unpack_from("<I", ext, pos)[0]
    if record_size < _RECORD.size:
        raise ElfError(f"BTF.ext: line_info records of {record_size} bytes, fewer than 16")
    pos += 4
    while pos < end:
        if pos + _SEC.size > end:
            raise ElfError("BTF.ext: a truncated line_info section header")
        name_off, count = _SEC.unpack_from(ext, pos)
        pos += _SEC.size
        if pos + count * record_size > end:
            raise ElfError("BTF.ext: line_info records run past their section")
        records = []
        for i in range(count):
            insn_off, file_off, text_off, line_col = _RECORD.unpack_from(ext, pos + i * record_size)
            records.append((insn_off, SourceLine(string(file_off), line_col >> 10,
                                                 line_col & 0x3FF, string(text_off).strip())))
        out.setdefault(string(name_off), []).extend(records)
        pos += count * record_size
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
