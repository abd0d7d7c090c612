"""The container of `.BTF.ext` (clang -g): a header (magic 0xEB9F, version 1, flags,
its length, then the offset and length of each part — func_info, line_info and, from
LLVM 12, CO-RE relocations — counted from the header's end); each part a record size,
then per code section its name (an offset into `.BTF`'s strings), a count and that many
records.  bpfjit.lineinfo reads line_info's records, bpfjit.corerelo the CO-RE ones.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from .btf import string_table
from .errors import ElfError

__all__ = ["FUNC_INFO", "LINE_INFO", "CORE_RELO", "ext_records", "string_reader"]

_MAGIC = 0xEB9F                               # .BTF.ext, as .BTF
_HEADER = struct.Struct("<HBBI")              # magic, version, flags, hdr_len
_PART = struct.Struct("<II")                  # a part's offset and length
_SECTION = struct.Struct("<II")               # section name offset, record count
FUNC_INFO, LINE_INFO, CORE_RELO = range(3)    # the parts, in the header's order
_NAMES = ("func_info", "line_info", "core_relo")


def _part(ext: bytes, part: int) -> tuple[int, int] | None:
    """Where one part of a .BTF.ext section lies, (start, end); None when the header
    names none or it is empty."""
    if len(ext) < _HEADER.size:
        raise ElfError("BTF.ext: the section is too short")
    magic, version, _, hdr_len = _HEADER.unpack_from(ext)
    if magic != _MAGIC or version != 1:
        raise ElfError(f"BTF.ext: bad magic {magic:#x} or version {version}")
    at = _HEADER.size + _PART.size * part
    if hdr_len < at + _PART.size or len(ext) < at + _PART.size:
        return None                 # (an older clang's header, without this part)
    offset, length = _PART.unpack_from(ext, at)
    if length == 0:
        return None
    start, end = hdr_len + offset, hdr_len + offset + length
    if end > len(ext) or length < 4:
        raise ElfError(f"BTF.ext: {_NAMES[part]} runs past the end of the section")
    return start, end


def ext_records(ext: bytes, part: int, least: int) -> Iterator[tuple[int, list[int]]]:
    """Per code section of one part: (its name's string offset, the offset in `ext` of
    each of its records), records of at least `least` bytes; ElfError when the part is
    malformed."""
    where = _part(ext, part)
    if where is None:
        return
    pos, end = where
    name = _NAMES[part]
    record_size = struct.unpack_from("<I", ext, pos)[0]
    if record_size < least:
        raise ElfError(f"BTF.ext: {name} records of {record_size} bytes, fewer than {least}")
    pos += 4
    while pos < end:
        if pos + _SECTION.size > end:
            raise ElfError(f"BTF.ext: a truncated {name} section header")
        name_off, count = _SECTION.unpack_from(ext, pos)
        pos += _SECTION.size
        if pos + count * record_size > end:
            raise ElfError(f"BTF.ext: {name} records run past their section")
        yield name_off, [pos + i * record_size for i in range(count)]
        pos += count * record_size


def string_reader(btf: bytes) -> Callable[[int], str]:
    """The strings of a .BTF section by offset (each read once); ElfError for an offset
    outside the table or a string without its NUL."""
    strings = string_table(btf)
    seen: dict[int, str] = {}

    def string(offset: int) -> str:
        text = seen.get(offset)
        if text is None:
            end = strings.find(b"\0", offset) if 0 <= offset < len(strings) else -1
            if end < 0:
                raise ElfError(f"BTF.ext: string offset {offset} is out of range")
            text = seen[offset] = strings[offset:end].decode("utf-8", "replace")
        return text
    return string
