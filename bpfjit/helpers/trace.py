"""bpf_trace_printk (6): formatting like the kernel's, lines collected in `prog.trace`."""

from __future__ import annotations

import re

from ..errors import HelperArgumentError
from ..limits import limits
from ..semantics import M64
from .spec import KernelHelper, Signature, c_string

__all__ = ["HELPERS", "format_printk"]

_PRINTK_MAX = 512
_CONVERSION = re.compile(rb"%([-+ 0#]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXpcs%])")


def _print(call, name: str, fmt_address: int, fmt_size: int, args: tuple[int, ...]) -> int:
    """Format the string at fmt_address with `args` into the trace: its length."""
    mem = call.memory
    if not 0 < fmt_size <= _PRINTK_MAX:
        raise HelperArgumentError(f"{name}: format size {fmt_size} is not 1-{_PRINTK_MAX}")
    fmt = mem.read(fmt_address, fmt_size).split(b"\0", 1)[0]
    text = format_printk(fmt, args, mem)
    env = call.env
    trace = env.trace
    trace.append(text.rstrip("\n"))
    room = limits().trace_lines
    if len(trace) > room:           # the oldest sixteenth goes (bpfjit.limits)
        gone = len(trace) - room + room // 16
        del trace[:gone]
        env.trace_dropped += gone
    return len(text.encode())


def trace_printk(call, r1, r2, r3, r4, r5) -> int:
    return _print(call, "trace_printk", r1, r2, (r3, r4, r5))


_VPRINTK_ARGS = 12


def trace_vprintk(call, r1, r2, r3, r4, r5) -> int:
    """(fmt, fmt_size, data, data_len): the arguments are data_len / 8 u64 at r3."""
    if r4 % 8 or r4 > 8 * _VPRINTK_ARGS or (r4 and not r3):
        raise HelperArgumentError(f"trace_vprintk: {r4} bytes of arguments are not up to "
                                  f"{_VPRINTK_ARGS} u64")
    mem = call.memory
    args = tuple(int.from_bytes(mem.read(r3 + 8 * i, 8), "little") for i in range(r4 // 8))
    return _print(call, "trace_vprintk", r1, r2, args)


HELPERS = [KernelHelper(6, "trace_printk", Signature(("mem", "size")),
                        trace_printk, "formats up to 3 arguments into prog.trace"),
           KernelHelper(177, "trace_vprintk",
                        Signature(("mem", "size", "mem_or_null", "size_or_zero")),
                        trace_vprintk, "formats up to 12 u64 arguments into prog.trace")]


def format_printk(fmt: bytes, args: tuple[int, ...], mem) -> str:
    """bpf_trace_printk's formatting: %d %i %u %x %X %p %c %s, with l/ll/h/hh sizes."""
    out, pos, used = [], 0, 0
    for match in _CONVERSION.finditer(fmt):
        out.append(fmt[pos:match.start()].decode("utf-8", "replace"))
        pos = match.end()
        flags, width, precision, length, conv = match.groups()
        if conv == b"%":
            out.append("%")
            continue
        if used == len(args):
            raise HelperArgumentError(f"trace_printk: the format has more conversions than "
                                      f"the {len(args)} arguments passed")
        value = args[used] & M64
        used += 1
        bits = {b"hh": 8, b"h": 16, None: 32}.get(length, 64)
        value &= (1 << bits) - 1
        spec = "%" + (flags + width).decode()
        if precision is not None:
            spec += "." + precision.decode()
        if conv in (b"d", b"i"):
            signed = value - (1 << bits) if value >> (bits - 1) else value
            out.append((spec + "d") % signed)
        elif conv == b"u":
            out.append((spec + "d") % value)
        elif conv in (b"x", b"X"):
            out.append((spec + conv.decode()) % value)
        elif conv == b"p":
            out.append((spec + "s") % f"{args[used - 1] & M64:#x}")
        elif conv == b"c":
            out.append((spec + "c") % chr(value & 0xFF))
        else:                                   # %s: a NUL-terminated string in memory
            out.append((spec + "s") % _c_string(mem, args[used - 1] & M64))
    out.append(fmt[pos:].decode("utf-8", "replace"))
    return "".join(out)


def _c_string(mem, address: int, limit: int = 256) -> str:
    """A %s argument: up to its NUL or `limit` bytes; a HelperArgumentError where it runs
    into memory the program may not read."""
    def read(at: int, size: int) -> bytes | None:
        try:
            return mem.read(at, size)
        except HelperArgumentError:
            return None
    chars, refused = c_string(read, address, limit)
    if refused:
        mem.read(address + len(chars), 1)       # (raises what the memory says)
    return chars.decode("utf-8", "replace")
