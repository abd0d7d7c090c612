"""The native loops behind `JitProgram.run_batch` (call a program's entry point n
times on one buffer) and `JitProgram.run_rotating` (on several buffers in turn).

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

__all__ = ["batch_loop", "rotation_loop", "BATCH_CTYPE", "ROTATION_CTYPE"]

# uint64_t loop(entry, mem, len, config, n): the last run's r0 (0 when n is 0)
BATCH_CTYPE = "uint64_t(*)(void *, void *, uint64_t, struct bpfjit_run *, uint64_t)"
# uint64_t loop(entry, buffers, count, config, rounds): buffers is `count` pairs of
# (address, length); the last run's r0 (0 when nothing ran)
ROTATION_CTYPE = "uint64_t(*)(void *, uint64_t *, uint64_t, struct bpfjit_run *, uint64_t)"


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


def _rotation_code() -> bytes:
    """The rotating loop's machine code (System V: entry rdi, buffers rsi, count rdx,
    config rcx, rounds r8): for each round, a run on each (address, length) pair."""
    def rel8(source_end: int, target: int) -> str:
        return f"{(target - source_end) & 0xFF:02x}"

    prologue = ("53 41 54 41 55 41 56 41 57 55"   # push rbx, r12-r15, rbp
                " 48 83 ec 08"        # sub rsp, 8       (rsp 16-aligned at the call)
                " 48 89 fb"           # mov rbx, rdi     the entry point
                " 49 89 f4"           # mov r12, rsi     the pairs
                " 49 89 d5"           # mov r13, rdx     how many
                " 49 89 ce"           # mov r14, rcx     config
                " 4d 89 c7"           # mov r15, r8      rounds left
                " 31 c0")             # xor eax, eax
    epilogue = ("48 83 c4 08"         # add rsp, 8
                " 5d 41 5f 41 5e 41 5d 41 5c 5b"   # pop rbp, r15-r12, rbx
                " c3")                # ret
    run = ("48 89 e9"                 # mov rcx, rbp
           " 48 c1 e1 04"             # shl rcx, 4       a pair is 16 bytes
           " 49 8b 3c 0c"             # mov rdi, [r12 + rcx]
           " 49 8b 74 0c 08"          # mov rsi, [r12 + rcx + 8]
           " 4c 89 f2"                # mov rdx, r14
           " ff d3"                   # call rbx
           " 48 3d" + struct.pack("<i", TRAPPED).hex())   # cmp rax, TRAPPED
    sizes = {name: len(bytes.fromhex(text)) for name, text in
             (("prologue", prologue), ("run", run))}
    at_round = sizes["prologue"]
    at_inner = at_round + 3 + 2 + 2                     # test, je, xor
    at_next = at_inner + 3 + 2 + sizes["run"] + 2 + 3 + 2
    at_done = at_next + 3 + 2
    code = (prologue +
            " 4d 85 ff"                                  # round: test r15, r15
            " 74 " + rel8(at_round + 5, at_done) +       # je done
            " 31 ed"                                     # xor ebp, ebp
            " 4c 39 ed"                                  # inner: cmp rbp, r13
            " 73 " + rel8(at_inner + 5, at_next) +       # jae next
            " " + run +
            " 74 " + rel8(at_next - 5, at_done) +        # je done     (a trap)
            " 48 ff c5"                                  # inc rbp
            " eb " + rel8(at_next, at_inner) +           # jmp inner
            " 49 ff cf"                                  # next: dec r15
            " eb " + rel8(at_done, at_round) +           # jmp round
            " " + epilogue)
    return bytes.fromhex(code)


_LOOPS: dict = {}


def _mapped(name: str, code, ctype: str):
    """A loop as a cffi function pointer (mapped once per process)."""
    if name not in _LOOPS:
        memory = ExecMemory(code())
        _LOOPS[name] = (memory, memory.function(ctype, 0))
    return _LOOPS[name][1]


def batch_loop():
    """The loop on one buffer as a cffi function pointer."""
    return _mapped("batch", _code, BATCH_CTYPE)


def rotation_loop():
    """The loop over several buffers as a cffi function pointer."""
    return _mapped("rotation", _rotation_code, ROTATION_CTYPE)
