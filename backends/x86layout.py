"""The peachpy backend's fixed choices: which x86-64 registers hold what, and the layout
of the context block the entry point puts on the native stack.  Shared by the
lowering's modules (x86, x86alu, x86calls)."""

from __future__ import annotations

import os

from bpfjit.errors import BpfError
from bpfjit.isa import MAX_CALL_DEPTH, STACK_SIZE
from bpfjit.runfields import RUN_FIELDS, field_index

from .x86asm import r32

__all__ = ["register_map", "DEFAULT_MAP", "ROTATIONS"]

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
# the imm64 of a `mov r64, imm64` whose value is filled in when the code is placed
PLACEHOLDER = 0x7FFF_FFFF_FFFF_FFF0
STACK_BYTES = STACK_SIZE * MAX_CALL_DEPTH

# x86 registers BPF r0..r10 may live in; the default map is this order
POOL = ("rax", "rdi", "rsi", "rdx", "rcx", "r8", "rbx", "r13", "r14", "r15", "rbp")
CTX, BUDGET, S1, S2 = "r12", "r9", "r10", "r11"
ARGS = ("rdi", "rsi", "rdx", "rcx", "r8")
CALLER_SAVED = frozenset(("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"))
ROTATIONS = len(POOL)


def register_map(rotation: int = 0) -> tuple[str, ...]:
    """x86 registers of BPF r0..r10: the default map rotated by `rotation` places."""
    if not isinstance(rotation, int) or isinstance(rotation, bool):
        raise BpfError(f"register rotation must be an int, got {rotation!r}")
    k = rotation % len(POOL)
    return POOL[k:] + POOL[:k]


def map_from_environment() -> tuple[str, ...] | None:
    """BPFJIT_REGISTER_ROTATION=K runs every peachpy compile of this process (and its
    fuzzing workers) under rotation K: a testing aid for register-aliasing bugs."""
    text = os.environ.get("BPFJIT_REGISTER_ROTATION", "").strip()
    if not text:
        return None
    try:
        return register_map(int(text))
    except ValueError:
        return None          # reported when compiling, where a BpfError can be raised


DEFAULT_MAP = map_from_environment() or register_map(0)

# the context block at r12 (8-byte slots); the BPF stack follows it
# "mem" and "mem_bound<s>" bound the buffer that checked accesses may touch: for an XDP
# frame it starts at data_meta (the metadata in use), otherwise at "data", the buffer's
# (the packet's) start; "poison" holds bpfjit.speculation.POISON for conditional moves,
# "adjust" what a fast loop copy adds to its hoisted accesses' addresses (0 or POISON)
SLOTS = ("run", "mem", "mem_bound1", "mem_bound2", "mem_bound4", "mem_bound8",
         "stack_end1", "stack_end2", "stack_end4", "stack_end8", "save0", "save1",
         "data", "poison", "adjust")
CTX_SLOT = {name: 8 * i for i, name in enumerate(SLOTS)}
RUN_AT = 8 * len(SLOTS)                     # this run's own run structure ("run" points here)
# rounded up to a multiple of 16: the BPF stack is 16-aligned
CTX_BYTES = (RUN_AT + 8 * len(RUN_FIELDS) + 15) & ~15
FRAME = CTX_BYTES + STACK_BYTES + 8         # with 6 pushes and the return address: rsp % 16 == 0
RUN_SLOT = {name: 8 * field_index(name) for name, _, _ in RUN_FIELDS}

JCC = {"jeq": "e", "jne": "ne", "jgt": "a", "jge": "ae", "jlt": "b", "jle": "be",
       "jsgt": "g", "jsge": "ge", "jslt": "l", "jsle": "le", "jset": "ne"}
# the condition code that holds exactly when the other does not
NEGATED_CC = {"e": "ne", "ne": "e", "a": "be", "ae": "b", "b": "ae", "be": "a",
              "g": "le", "ge": "l", "l": "ge", "le": "g"}
ALU_OPS = {"add": "ADD", "sub": "SUB", "or": "OR", "and": "AND", "xor": "XOR"}
SHIFT_OPS = {"lsh": "SHL", "rsh": "SHR", "arsh": "SAR"}
ATOMIC_OPS = {"add": "ADD", "or": "OR", "and": "AND", "xor": "XOR"}
SIGNED_LOAD = {1: "MOVSX", 2: "MOVSX", 4: "MOVSXD"}


def sized(reg: str, width: int) -> str:
    return reg if width == 64 else r32(reg)


def s32(value: int) -> int:
    """`value` as a signed 32-bit immediate (same bits)."""
    value &= M32
    return value - (1 << 32) if value >= 1 << 31 else value
