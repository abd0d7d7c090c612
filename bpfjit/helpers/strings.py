"""Strings: strncmp (182), the kernel's strncmp of a buffer against a constant string;
strtol (105) and strtoul (106), which parse a number at the start of a buffer as the
kernel's helpers do (lib/kstrtox.c's parser behind them)."""

from __future__ import annotations

import errno

from ..semantics import M64
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS", "parse_number"]

_BASE_MASK = 0x1F               # BPF_STRTOX_BASE_MASK: the base in the flags' low bits
_MAX_CHARS = 63                 # the kernel copies at most this many to a string first
# what the kernel's isspace() takes for space: \t \n \v \f \r, ' ' and Latin-1's NBSP
_SPACE = frozenset(b"\t\n\v\f\r \xa0")


def _strncmp(call, s1, size, s2, *_) -> int:
    """-1, 0 or 1 as the first of `size` bytes at s1 that differs from s2's is lower or
    higher (unsigned), 0 when none does before a NUL both have (lib/string.c).  The
    string is read a byte at a time up to its NUL, which the verifier proved is in
    read-only data: never past it."""
    memory = call.memory
    first = memory.read(s1, size)
    for i, c1 in enumerate(first):
        c2 = memory.read(s2 + i, 1)[0]
        if c1 != c2:
            return 1 if c1 > c2 else M64            # -1 as r0
        if c1 == 0:
            return 0
    return 0


def parse_number(text: bytes, flags: int) -> tuple[int, int, bool] | int:
    """The number at the start of `text` as bpf_strtoul parses it: (the bytes consumed,
    the value, whether a '-' came first), or a negative errno: -EINVAL for bad flags
    (a base other than 0, 8, 10, 16, or other bits), nothing to parse or no digit;
    -ERANGE past 2^64 - 1.  Leading space is skipped, then one '-' (no '+'); base 0
    reads "0x" as hex and a leading 0 as octal, base 16 skips a "0x"; at most 63 bytes
    after the space and sign are looked at."""
    base = flags & _BASE_MASK
    if base not in (0, 8, 10, 16) or flags & ~_BASE_MASK & M64:
        return -errno.EINVAL
    at = 0
    while at < len(text) and text[at] in _SPACE:
        at += 1
    negative = at < len(text) and text[at] == ord("-")
    at += negative
    if at == len(text):
        return -errno.EINVAL
    digits = text[at:at + _MAX_CHARS].split(b"\0", 1)[0] + b"\0\0\0"
    skip = 0
    if base == 0:
        base = 16 if digits[:1] == b"0" and digits[1:2] in (b"x", b"X") and \
            _value(digits[2]) < 16 else 8 if digits[:1] == b"0" else 10
    if base == 16 and digits[:1] == b"0" and digits[1:2] in (b"x", b"X"):
        skip = 2
    value, count, overflow = 0, 0, False
    for c in digits[skip:]:
        v = _value(c)
        if v >= base:
            break
        value = value * base + v
        overflow |= value > M64
        count += 1
    if overflow:
        return -errno.ERANGE
    if count == 0:
        return -errno.EINVAL
    return at + skip + count, value, negative


def _value(c: int) -> int:
    """A digit's value in bases up to 16 (16 for anything else)."""
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x61 <= c | 0x20 <= 0x66:
        return (c | 0x20) - 0x61 + 10
    return 16


def _strto(call, buf, size, flags, res, signed: bool) -> int:
    """bpf_strtol / bpf_strtoul: the result at res (0 on an error), r0 the bytes
    consumed or a negative errno; strtoul refuses a '-' (-EINVAL), strtol a value
    outside s64 (-ERANGE)."""
    memory = call.memory
    memory.write(res, bytes(8))
    parsed = parse_number(memory.read(buf, size), flags)
    if isinstance(parsed, int):
        return errno_result(-parsed)
    consumed, value, negative = parsed
    if negative and not signed:
        return errno_result(errno.EINVAL)
    if signed and (value > 1 << 63 or (value == 1 << 63 and not negative)):
        return errno_result(errno.ERANGE)
    value = -value & M64 if negative else value
    memory.write(res, value.to_bytes(8, "little"))
    return consumed


def _strtol(call, buf, size, flags, res, *_) -> int:
    return _strto(call, buf, size, flags, res, True)


def _strtoul(call, buf, size, flags, res, *_) -> int:
    return _strto(call, buf, size, flags, res, False)


_PARSE = Signature(("mem", "size", "any", "out_u64"))

HELPERS = [
    KernelHelper(182, "strncmp", Signature(("mem", "size", "const_str")), _strncmp,
                 "compare r2 bytes at r1 with the constant string at r3: -1, 0 or 1"),
    KernelHelper(105, "strtol", _PARSE, _strtol,
                 "parse the signed number at r1 (r2 bytes, base in r3) into the s64 at r4: "
                 "r0 the bytes consumed or -EINVAL/-ERANGE"),
    KernelHelper(106, "strtoul", _PARSE, _strtoul,
                 "parse the unsigned number at r1 (r2 bytes, base in r3) into the u64 at "
                 "r4: r0 the bytes consumed or -EINVAL/-ERANGE"),
]
