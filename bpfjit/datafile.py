"""The `.data` test-file format of ubpf and bpf_conformance.

    -- asm            assembly text (see bpfjit.asm)
    -- raw            or: one 64-bit instruction slot per token (0x... or decimal)
    -- mem            input memory as hex bytes ("00 01 02 ...")
    -- result         expected r0 (0x... or decimal)
    -- error          or: the program is expected to fail

Any line containing "--" starts a section, as in the bpf_conformance parser;
sections this module does not know (such as "-- c") are ignored.  Lines
starting with "#" are comments everywhere (never section headers), and "#"
ends the data on raw, mem and result lines.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from .asm import assemble
from .errors import BpfError
from .program import Program

__all__ = ["DataTest", "parse_data", "parse_hex_bytes"]


@dataclass
class DataTest:
    """One parsed .data file."""
    program: Program | None     # None when building it failed and an error was expected
    memory: bytes
    result: int | None          # expected r0, when the file has -- result
    error: str | None           # expected error text, when the file has -- error
    program_error: BpfError | None = None   # why the program could not be built


def parse_hex_bytes(text: str, what: str = "hex input") -> bytes:
    """Bytes written as hex pairs, whitespace optional ("0a 0b", "0a0b")."""
    digits = re.sub(r"\s+", "", text)
    if len(digits) % 2:
        raise BpfError(f"{what}: odd number of hex digits ({len(digits)})")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        bad = next((c for c in digits if c not in "0123456789abcdefABCDEF"), "?")
        raise BpfError(f"{what}: {bad!r} is not a hex digit") from None


def _data_lines(lines: list[str]) -> list[str]:
    """Lines of a data section with comments removed and blank lines dropped."""
    kept = (line.split("#", 1)[0].strip() for line in lines)
    return [line for line in kept if line]


def _section_of(line: str) -> str:
    for name in ("asm", "result", "mem", "raw", "error"):
        if name in line:
            return name
    return "ignore"


def _parse_number(text: str, what: str) -> int:
    try:
        return int(text.strip(), 0) & ((1 << 64) - 1)
    except ValueError:
        raise BpfError(f"{what}: {text.strip()!r} is not a number") from None


def parse_data(text: str) -> DataTest:
    """Parse the text of a .data file; BpfError (AssembleError, ...) when it is malformed."""
    sections: dict[str, list[str]] = {}
    asm_offset = 0                  # line number where -- asm starts, for error messages
    current = "ignore"
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#"):
            line = ""
        if "--" in line:
            current = _section_of(line)
            if current == "asm":
                asm_offset = lineno
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line)

    if "raw" not in sections and "asm" not in sections:
        raise BpfError("the .data file has neither an -- asm nor a -- raw section")
    memory = parse_hex_bytes(" ".join(_data_lines(sections.get("mem", []))), "-- mem")
    result_lines = _data_lines(sections.get("result", []))
    result = _parse_number(result_lines[-1], "-- result") if result_lines else None
    error_lines = [l.strip() for l in sections.get("error", []) if l.strip()]
    error = error_lines[-1] if error_lines else (None if "error" not in sections else "")
    if result is None and error is None:
        raise BpfError("the .data file has neither a -- result nor an -- error section")
    try:
        program = _build_program(sections, asm_offset)
    except BpfError as exc:
        if error is None:
            raise
        return DataTest(None, memory, result, error, program_error=exc)
    return DataTest(program, memory, result, error)


def _build_program(sections: dict[str, list[str]], asm_offset: int) -> Program:
    if "raw" in sections:
        words = " ".join(_data_lines(sections["raw"])).split()
        raw = b"".join(struct.pack("<Q", _parse_number(w, "-- raw")) for w in words)
        return Program.from_bytes(raw)
    # keep line numbers true to the file by padding with the lines before -- asm
    return assemble("\n" * asm_offset + "\n".join(sections["asm"]))
