"""Native entry points that call Python: how JIT code reaches Python helpers and the
trap reporter without libffi closures.

A cffi callback (like a ctypes one) is a libffi closure, and libffi allocates
closures in memory that is writable and executable at once: the first Python helper
would leave an `rwxp` page in the process for the rest of its life.  Instead,
bpfjit writes its own small trampolines into W^X memory (bpfjit.execmem) and calls
the CPython C API from them, as a cffi callback does internally:

    gil = PyGILState_Ensure()
    result = PyObject_CallFunction(callable, "KKKKKK", a1, a2, a3, a4, a5, a6)
    value = PyLong_AsUnsignedLongLongMask(result); Py_DecRef(result)
    (on an exception: PyErr_WriteUnraisable, value 0; with `run_arg` the run
     structure in a6 gets the HELPER_FAILED trap, so the program stops there; with
     `note_failures` the failing thread's identifier is stored where Python reads it)
    PyGILState_Release(gil); return value

One block per set of callables: the shared routine, the format string, then one
16-byte stub per callable (`mov rax, <the callable's PyObject *>; jmp routine`).
The callables must return ints; the owner keeps them alive as long as the block.
"""

from __future__ import annotations

import struct
from typing import Callable, Sequence

from .errors import BackendUnavailable
from .execmem import ExecMemory
from .native import python_api, ffi
from .runfields import field_index
from .traps import TrapCode

__all__ = ["PythonEntries", "STUB_SIZE"]

STUB_SIZE = 16
_FORMAT = b"KKKKKK\0"                    # six unsigned long long arguments
_API = ("PyGILState_Ensure", "PyGILState_Release", "PyObject_CallFunction",
        "PyLong_AsUnsignedLongLongMask", "Py_DecRef", "PyErr_Occurred",
        "PyErr_WriteUnraisable", "pthread_self")
_addresses: dict[str, int] = {}


def _api_address(name: str) -> int:
    """The address of a CPython C API function (or pthread_self) in this process."""
    if not _addresses:
        try:
            for api in _API:
                _addresses[api] = int(ffi.cast("uintptr_t", getattr(python_api, api)))
        except AttributeError as exc:
            raise BackendUnavailable(f"the JIT engines call Python helpers through the "
                                     f"CPython C API, which this process does not export "
                                     f"({exc})") from None
    return _addresses[name]


def _hex(*parts: str) -> bytes:
    return bytes.fromhex(" ".join(parts))


def _call(name: str) -> bytes:
    """movabs r11, <name>; call r11"""
    return _hex("49 bb") + struct.pack("<Q", _api_address(name)) + _hex("41 ff d3")


def _routine(format_address: int, run_arg: bool, failed_thread: int | None) -> bytes:
    """The shared routine (System V arguments a1-a6 in rdi, rsi, rdx, rcx, r8, r9; the
    callable in rax).  Frame: rbp-8 callable, -0x10..-0x38 a1-a6, -0x40 the GIL state,
    -0x48 the result object, -0x50 the value returned."""
    start = b"".join([
        _hex("55"),                         # push rbp
        _hex("48 89 e5"),                   # mov rbp, rsp
        _hex("48 83 ec 50"),                # sub rsp, 0x50    (16-aligned for calls)
        _hex("48 89 45 f8"),                # mov [rbp-0x08], rax   the callable
        _hex("48 89 7d f0"),                # mov [rbp-0x10], rdi   a1
        _hex("48 89 75 e8"),                # mov [rbp-0x18], rsi   a2
        _hex("48 89 55 e0"),                # mov [rbp-0x20], rdx   a3
        _hex("48 89 4d d8"),                # mov [rbp-0x28], rcx   a4
        _hex("4c 89 45 d0"),                # mov [rbp-0x30], r8    a5
        _hex("4c 89 4d c8"),                # mov [rbp-0x38], r9    a6
        _call("PyGILState_Ensure"),
        _hex("48 89 45 c0"),                # mov [rbp-0x40], rax   the GIL state
        _hex("48 83 ec 10"),                # sub rsp, 0x10         two stack arguments
        _hex("48 8b 45 d0"),                # mov rax, [rbp-0x30]
        _hex("48 89 04 24"),                # mov [rsp], rax        a5
        _hex("48 8b 45 c8"),                # mov rax, [rbp-0x38]
        _hex("48 89 44 24 08"),             # mov [rsp+8], rax      a6
        _hex("48 8b 7d f8"),                # mov rdi, [rbp-0x08]   the callable
        _hex("48 be") + struct.pack("<Q", format_address),   # movabs rsi, "KKKKKK"
        _hex("48 8b 55 f0"),                # mov rdx, [rbp-0x10]   a1
        _hex("48 8b 4d e8"),                # mov rcx, [rbp-0x18]   a2
        _hex("4c 8b 45 e0"),                # mov r8, [rbp-0x20]    a3
        _hex("4c 8b 4d d8"),                # mov r9, [rbp-0x28]    a4
        _hex("31 c0"),                      # xor eax, eax          (no vector arguments)
        _call("PyObject_CallFunction"),
        _hex("48 83 c4 10"),                # add rsp, 0x10
        _hex("48 85 c0"),                   # test rax, rax
    ])
    converted = b"".join([
        _hex("48 89 45 b8"),                # mov [rbp-0x48], rax   the result object
        _hex("48 89 c7"),                   # mov rdi, rax
        _call("PyLong_AsUnsignedLongLongMask"),
        _hex("48 89 45 b0"),                # mov [rbp-0x50], rax   its value
        _hex("48 8b 7d b8"),                # mov rdi, [rbp-0x48]
        _call("Py_DecRef"),
        _call("PyErr_Occurred"),            # (the result was not an int)
        _hex("48 85 c0"),                   # test rax, rax
    ])
    done = b"".join([
        _hex("8b 7d c0"),                   # mov edi, [rbp-0x40]
        _call("PyGILState_Release"),
        _hex("48 8b 45 b0"),                # mov rax, [rbp-0x50]
        _hex("c9"),                         # leave
        _hex("c3"),                         # ret
    ])
    failed = b"".join([
        _hex("48 8b 7d f8"),                # mov rdi, [rbp-0x08]
        _call("PyErr_WriteUnraisable"),     # (prints the exception and clears it)
        _hex("48 c7 45 b0 00 00 00 00"),    # mov qword [rbp-0x50], 0
    ])
    if run_arg:                             # a6 is the run: stop the program at the call
        failed += _hex("48 8b 45 c8") + _hex("48 c7 80") + struct.pack(
            "<iI", 8 * field_index("trap"), TrapCode.HELPER_FAILED)
        # mov rax, [rbp-0x38]; mov qword [rax + trap], HELPER_FAILED
    if failed_thread is not None:           # note which thread failed, for Python
        failed += _call("pthread_self") + _hex("48 b9") + struct.pack("<Q", failed_thread) \
            + _hex("48 89 01")
        # movabs r11, pthread_self; call r11; movabs rcx, failed_thread; mov [rcx], rax
    # layout: start, jz failed, converted, jnz failed, done, failed, jmp done
    failed_at = len(start) + 6 + len(converted) + 6 + len(done)
    jump_to_failed = len(start) + 6
    code = start + _hex("0f 84") + struct.pack("<i", failed_at - jump_to_failed)   # jz failed
    code += converted
    code += _hex("0f 85") + struct.pack("<i", failed_at - (len(code) + 6))         # jnz failed
    done_at = len(code)
    code += done + failed
    code += _hex("e9") + struct.pack("<i", done_at - (len(code) + 5))              # jmp done
    return code


class PythonEntries:
    """Native functions `uint64_t f(uint64_t a1, ..., uint64_t a6)` that call Python
    callables with the six arguments as ints and return their int result (masked to 64
    bits).  With `run_arg`, a6 is a `struct bpfjit_run *` whose trap a failed call sets;
    with `note_failures`, `failed_thread[0]` is set to the thread identifier
    (`threading.get_ident()`, pthread_self) of the last call that failed."""

    def __init__(self, callables: Sequence[Callable], run_arg: bool = False,
                 note_failures: bool = False):
        self._callables = list(callables)           # alive as long as the code
        self.failed_thread = ffi.new("uint64_t[1]") if note_failures else None
        slot = int(ffi.cast("uintptr_t", self.failed_thread)) if note_failures else None
        routine_size = len(_routine(0, run_arg, slot))
        format_at = -(-routine_size // 16) * 16
        stubs_at = format_at + 16
        self._stubs_at = stubs_at

        def code(base: int) -> bytes:
            routine = _routine(base + format_at, run_arg, slot)
            out = bytearray(routine.ljust(format_at, b"\xcc"))
            out += _FORMAT.ljust(16, b"\0")
            for i, fn in enumerate(self._callables):
                at = stubs_at + i * STUB_SIZE
                stub = _hex("48 b8") + struct.pack("<Q", id(fn))        # movabs rax, fn
                stub += _hex("e9") + struct.pack("<i", 0 - (at + len(stub) + 5))   # jmp 0
                out += stub.ljust(STUB_SIZE, b"\xcc")
            return bytes(out)
        self.memory = ExecMemory(code, stubs_at + STUB_SIZE * len(self._callables))

    def address(self, index: int) -> int:
        """The native entry that calls callable `index`."""
        if not 0 <= index < len(self._callables):
            raise IndexError(index)
        return self.memory.address + self._stubs_at + index * STUB_SIZE
