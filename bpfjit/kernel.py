"""The kernel's helper functions, by their kernel ids, for programs loaded with maps.

Helpers see the program's memory through a `HelperMemory`, which each engine
provides: the interpreter's address space (made-up addresses) or the JIT's
run structure (real addresses).  Every pointer a program passes is checked
against the regions a program may touch — its buffer, its stack, map values —
before a byte is read or written, so a hostile argument ends in a HelperError,
never in a read of the host's memory.
"""

from __future__ import annotations

import random
import re
import time
from typing import Callable, Protocol

from .errors import HelperArgumentError
from .maps import BPF_ANY, MapError, MapTable, map_handle

__all__ = ["KernelEnv", "HelperMemory", "HELPER_NAMES", "MAP_HELPERS", "M64"]

M64 = (1 << 64) - 1
HELPER_NAMES = {1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem",
                5: "ktime_get_ns", 6: "trace_printk", 7: "get_prandom_u32",
                8: "get_smp_processor_id"}
MAP_HELPERS = (1, 2, 3)
_PRINTK_MAX = 512
_CONVERSION = re.compile(rb"%([-+ 0#]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXpcs%])")


class HelperMemory(Protocol):
    """An engine's view of a run's memory, for helpers."""

    def read(self, address: int, size: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...

    def map_address(self, index: int) -> int:
        """Where map `index`'s value arena starts, as the program sees addresses."""
        ...


class KernelEnv:
    """What a loaded object brings to its runs: maps, trace output, a random source."""

    def __init__(self, maps: MapTable):
        self.maps = maps
        self.trace: list[str] = []
        self.random = random.Random()

    # ---- the helpers, bound to an engine's memory ----------------------------------------

    def helpers(self, memory: Callable[[], HelperMemory]) -> dict[int, Callable]:
        """Helper functions by kernel id; `memory()` gives the current run's memory."""
        maps = self.maps.list

        def the_map(handle: int):
            index = (handle - map_handle(0)) >> 16
            if 0 <= index < len(maps) and handle == map_handle(index):
                return index, maps[index]
            raise HelperArgumentError(f"r1 ({handle:#x}) is not a map")

        def lookup(r1, r2, r3, r4, r5):
            index, m = the_map(r1)
            mem = memory()
            slot = m.lookup_slot(mem.read(r2, m.key_size))
            return 0 if slot is None else mem.map_address(index) + slot * m.value_size

        def update(r1, r2, r3, r4, r5):
            _, m = the_map(r1)
            mem = memory()
            key, value = mem.read(r2, m.key_size), mem.read(r3, m.value_size)
            return _errno_result(lambda: m.update(key, value, r4 & M64 if r4 else BPF_ANY))

        def delete(r1, r2, r3, r4, r5):
            _, m = the_map(r1)
            key = memory().read(r2, m.key_size)
            return _errno_result(lambda: m.delete(key))

        def trace_printk(r1, r2, r3, r4, r5):
            mem = memory()
            if not 0 < r2 <= _PRINTK_MAX:
                raise HelperArgumentError(f"trace_printk: format size {r2} is not "
                                          f"1-{_PRINTK_MAX}")
            fmt = mem.read(r1, r2).split(b"\0", 1)[0]
            text = _format(fmt, (r3, r4, r5), mem)
            self.trace.append(text.rstrip("\n"))
            return len(text.encode())

        return {1: lookup, 2: update, 3: delete,
                5: lambda *_: time.monotonic_ns(),
                6: trace_printk,
                7: lambda *_: self.random.getrandbits(32),
                8: lambda *_: 0}


def _errno_result(operation: Callable[[], None]) -> int:
    """0, or the kernel's negative errno as an unsigned 64-bit r0."""
    try:
        operation()
    except MapError as exc:
        return -exc.errno & M64
    return 0


def _format(fmt: bytes, args: tuple[int, int, int], mem: HelperMemory) -> str:
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
            raise HelperArgumentError("trace_printk: the format has more conversions than "
                                      "the 3 arguments a program can pass")
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


def _c_string(mem: HelperMemory, address: int, limit: int = 256) -> str:
    chars = bytearray()
    while len(chars) < limit:
        byte = mem.read(address + len(chars), 1)
        if byte == b"\0":
            break
        chars += byte
    return chars.decode("utf-8", "replace")
