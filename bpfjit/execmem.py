"""Executable memory: code is written into a read-write mapping, then made read-execute.

Never writable and executable at once (W^X).  The mapping is unmapped when the
ExecMemory object is garbage-collected.
"""

from __future__ import annotations

import os
import weakref
from typing import Callable

from .errors import BpfError
from .native import ffi, libc

__all__ = ["ExecMemory"]

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
_MAP_FAILED = ffi.cast("void *", -1)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _unmap(address: int, size: int) -> None:
    libc.munmap(ffi.cast("void *", address), size)


class ExecMemory:
    """A page-aligned block holding machine code, readable and executable only.

    `code` is the bytes to place, or a function of the block's address that
    returns them (for code with absolute addresses in it).
    """

    def __init__(self, code: bytes | Callable[[int], bytes], size: int | None = None):
        if size is None:
            if callable(code):
                raise BpfError("ExecMemory needs a size when the code is built late")
            size = len(code)
        if size <= 0:
            raise BpfError("no machine code to map")
        self.size = -(-size // _PAGE) * _PAGE
        base = libc.mmap(ffi.NULL, self.size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if base == _MAP_FAILED:
            raise BpfError(f"cannot map {self.size} bytes for machine code (errno {ffi.errno})")
        self.address = int(ffi.cast("uintptr_t", base))
        self._finalizer = weakref.finalize(self, _unmap, self.address, self.size)
        if callable(code):
            code = code(self.address)
        if len(code) > self.size:
            self._finalizer()
            raise BpfError(f"{len(code)} bytes of code do not fit the {self.size}-byte block")
        ffi.memmove(base, code, len(code))
        if libc.mprotect(base, self.size, PROT_READ | PROT_EXEC) != 0:
            self._finalizer()
            raise BpfError(f"cannot make machine code executable (errno {ffi.errno})")
        self.code = bytes(code)

    def function(self, ctype: str, offset: int = 0):
        """A callable cffi function pointer to the code at `offset`.

        The pointer does not keep the memory alive: keep this object referenced.
        """
        if not 0 <= offset < len(self.code):
            raise BpfError(f"offset {offset} is outside the {len(self.code)}-byte code block")
        return ffi.cast(ctype, self.address + offset)
