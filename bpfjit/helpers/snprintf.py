"""bpf_snprintf (165): format u64 arguments into a buffer, as the kernel's does.

The format is a constant string of read-only data; the kernel checks it against the
number of arguments when it loads the program (`format_error`, which bpfjit's
verifier runs at the call too) and formats with its own printf:

- `%d %i %u %x %X`, with `l` or `ll` for 64 bits (else the low 32), flags `0 + - `
  and a width (no precision); `%c`; `%%`;
- `%s` (and `%ks`, `%us`), a NUL-terminated string at the argument's address (an
  address nothing may be read at gives an empty string);
- `%pI4` (1.2.3.4), `%pi4` (001.002.003.004), `%pI6` (eight groups of four hex
  digits with colons), `%pi6` (32 hex digits): the 4 or 16 bytes at the argument (zeros
  when they cannot be read);
- `%p`, `%px`, `%pK`, `%ps`, `%pS`, `%pB`: a pointer, printed as 16 hex digits (the
  kernel hashes `%p` and hides `%pK`, shown here as zeros; symbols have no meaning
  outside the kernel, so the address stands for them).

It writes at most `size - 1` characters and a NUL (nothing for size 0) and returns the
length of the whole output plus one; -EINVAL for a data size that is not a multiple of
8, more than 12 arguments, or a format the arguments do not fit.  One difference, on
purpose: when the buffer is full before an address conversion (`%pI4` ...) begins,
Linux 6.18 neither counts that address nor moves past its argument, so its result,
and what later conversions print past the buffer, are off; bpfjit counts the whole
text (the two agree whenever the buffer holds up to the last address's start).
"""

from __future__ import annotations

import errno
import re

from ..errors import HelperArgumentError
from ..semantics import M64
from .spec import KernelHelper, Signature, c_string, errno_result

__all__ = ["HELPERS", "format_error", "format_snprintf", "MAX_ARGS"]

MAX_ARGS = 12                   # the kernel's MAX_BPRINTF_VARARGS
_STRING_LIMIT = 512             # bytes of one %s read (the kernel's buffers are this size)
# one conversion: flags, width, then the pointer kinds, a string, a char or an integer
_SPEC = re.compile(rb"%([-+ 0]*)([1-9][0-9]*)?"
                   rb"(p[ku]s|p[iI][46]|p[KxsSB]?|s|c|l{0,2}[iduxX])")


def _conversions(fmt: bytes) -> list[re.Match] | str:
    """The conversions of `fmt` in order, or why the kernel refuses it."""
    found, at = [], 0
    while True:
        at = fmt.find(b"%", at)
        if at < 0:
            break
        if fmt[at + 1:at + 2] == b"%":
            at += 2
            continue
        match = _SPEC.match(fmt, at)
        if match is None:
            return f"an unsupported conversion at byte {at}: {fmt[at:at + 6]!r}"
        kind = match.group(3)
        after = fmt[match.end():match.end() + 1]
        if kind == b"p" and after and not (after.isspace() or _punct(after)):
            return f"an unsupported %p conversion at byte {at}: {fmt[at:at + 6]!r}"
        if kind in (b"s", b"pks", b"pus") and after and not (after.isspace() or _punct(after)):
            return f"a %s not followed by a space or punctuation at byte {at}"
        found.append(match)
        at = match.end()
    return found


def _punct(char: bytes) -> bool:
    return 33 <= char[0] <= 126 and not char.isalnum()


def format_error(fmt: bytes, count: int) -> str | None:
    """Why the kernel refuses `fmt` (without its NUL) for `count` u64 arguments: a
    control character, an unsupported conversion, or more conversions than arguments;
    None when it takes it."""
    for i, byte in enumerate(fmt):
        # no ASCII control character but the spaces (bytes from 128 on pass: measured
        # against Linux 6.18, which loads "caf\xc3\xa9" and even "\x85")
        if not (32 <= byte <= 126 or byte >= 128 or byte in b"\t\n\v\f\r"):
            return f"byte {i} of the format ({byte:#04x}) is a control character"
    found = _conversions(fmt)
    if isinstance(found, str):
        return found
    if len(found) > count:
        return f"the format has {len(found)} conversions for {count} arguments"
    return None


def format_snprintf(fmt: bytes, args: list[int], read) -> str:
    """The kernel's output for a format `format_error` takes; `read(address, size)`
    gives memory at an address, or None where there is none."""
    out, pos = [], 0
    found = _conversions(fmt)
    for match, value in zip(found, args):
        out.append(_literal(fmt[pos:match.start()]))
        pos = match.end()
        flags, width, kind = (match.group(1) or b"").decode(), \
            (match.group(2) or b"").decode(), match.group(3).decode()
        spec = "%" + flags + width
        value &= M64
        if kind in ("s", "pks", "pus"):
            out.append((spec + "s") % _string(read, value))
        elif kind == "c":
            out.append((spec + "c") % chr(value & 0xFF))
        elif kind.startswith("p") and kind[1:2] in ("i", "I"):
            out.append((spec + "s") % _address(read, value, kind))
        elif kind.startswith("p"):
            out.append((spec + "s") % f"{0 if kind == 'pK' else value:016x}")
        else:
            bits = 64 if kind.startswith("l") else 32
            value &= (1 << bits) - 1
            conv = kind[-1]
            if conv in "di":
                value -= (1 << bits) if value >> (bits - 1) else 0
                conv = "d"
            else:           # unsigned: no sign, so '+' and ' ' mean nothing
                spec = "%" + flags.replace("+", "").replace(" ", "") + width
                conv = "d" if conv == "u" else conv
            out.append((spec + conv) % value)
    out.append(_literal(fmt[pos:]))
    return "".join(out)


def _literal(text: bytes) -> str:
    return text.replace(b"%%", b"%").decode("latin-1")


def _string(read, address: int) -> str:
    return c_string(read, address, _STRING_LIMIT - 1)[0].decode("latin-1")


def _address(read, address: int, kind: str) -> str:
    size = 4 if kind.endswith("4") else 16
    raw = read(address, size) or bytes(size)
    if size == 4:
        return ".".join(f"{b:03d}" if kind[1] == "i" else str(b) for b in raw)
    groups = [raw[i:i + 2].hex() for i in range(0, 16, 2)]
    return "".join(groups) if kind[1] == "i" else ":".join(groups)


def _snprintf(call, out, size, fmt, data, data_len) -> int:
    if data_len % 8 or data_len > 8 * MAX_ARGS or (data_len and not data):
        return errno_result(errno.EINVAL)
    memory = call.memory

    def read(address: int, count: int) -> bytes | None:
        try:
            return memory.read(address, count)
        except HelperArgumentError:
            return None
    text = memory.read(fmt, _format_length(read, fmt))
    args = [int.from_bytes(memory.read(data + 8 * i, 8), "little")
            for i in range(data_len // 8)]
    if format_error(text, len(args)) is not None:
        return errno_result(errno.EINVAL)
    result = format_snprintf(text, args, read).encode("latin-1")
    if size:
        kept = result[:size - 1]
        memory.write(out, kept + b"\0")
    return len(result) + 1


def _format_length(read, address: int) -> int:
    """The format's length to its NUL (the verifier proved it is in read-only data), or
    to the end of what may be read."""
    return len(c_string(read, address, 1 << 30)[0])


HELPERS = [
    KernelHelper(165, "snprintf",
                 Signature(("out_or_null", "size_or_zero", "const_str", "mem_or_null",
                            "size_or_zero"), formats=(3, 5)), _snprintf,
                 "format the u64s at r4 (r5 bytes) with the constant string at r3 into r2 "
                 "bytes at r1: the whole output's length + 1"),
]
