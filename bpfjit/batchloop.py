"""The native loop behind `JitProgram.run_batch`: call a program's entry point n times.

One loop for every JIT engine, so that benchmarks time them the same way and no
program's code carries a loop it only needs for benchmarks (LLVM spent about a third
of a small program's compile on it).  The loop calls the entry through a pointer and
stops early when a run returns TRAPPED (a trapped run, or a program returning that
value: the caller tells them apart).  Twenty-odd instructions, encoded here.
"""

from __future__ import annotations

import struct

from .execmem import ExecMemory
from .runfields import TRAPPED

__all__ = ["batch_loop", "BATCH_CTYPE"]

# uint64_t loop(entry, mem, len, config, n): the last run's r0 (0 when n is 0)
BATCH_CTYPE = "uint64_t(*)(void *, void *, uint64_t, struct bpfjit_run *, uint64_t)"


def _code() -> bytes:
    """The loop's machine code (System V: entry rdi, mem rsi, len rdx, config rcx, n r8)."""
    prologue = [
        "53",                   # push rbx
        "41 54",                # push r12
        "41 55",                # push r13
        "41 56",                # push r14     (5 pushes: rsp is 16-aligned at the call)
        "41 57",                # push r15
        "48 89 fb",             # mov rbx, rdi    the entry point
        "49 89 f4",             # mov r12, rsi    mem
        "49 89 d5",             # mov r13, rdx    len
        "49 89 ce",             # mov r14, rcx    config
        "4d 89 c7",             # mov r15, r8     runs left
        "31 c0",                # xor eax, eax
        "4d 85 ff",             # test r15, r15
    ]
    body = [
        "4c 89 e7",             # mov rdi, r12
        "4c 89 ee",             # mov rsi, r13
        "4c 89 f2",             # mov rdx, r14
        "ff d3",                # call rbx
        "48 3d" + struct.pack("<i", TRAPPED).hex(),   # cmp rax, TRAPPED
    ]
    epilogue = [
        "41 5f",                # pop r15
        "41 5e",                # pop r14
        "41 5d",                # pop r13
        "41 5c",                # pop r12
        "5b",                   # pop rbx
        "c3",                   # ret
    ]
    decrement = bytes.fromhex("49 ff cf")              # dec r15
    body = bytes.fromhex(" ".join(body)) + bytes([0x74, len(decrement) + 2])   # je done
    body += decrement
    body += bytes([0x75, -(len(body) + 2) & 0xFF])     # jne (back to the loop's start)
    return (bytes.fromhex(" ".join(prologue)) + bytes([0x74, len(body)])    # je done
            + body + bytes.fromhex(" ".join(epilogue)))


_LOOP: list = []


def batch_loop():
    """The loop as a cffi function pointer (mapped once per process)."""
    if not _LOOP:
        memory = ExecMemory(_code())
        _LOOP.extend((memory, memory.function(BATCH_CTYPE, 0)))
    return _LOOP[1]
