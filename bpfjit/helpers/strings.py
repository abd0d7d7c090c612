"""Strings: strncmp (182), the kernel's strncmp of a buffer against a constant string."""

from __future__ import annotations

from ..semantics import M64
from .spec import KernelHelper, Signature

__all__ = ["HELPERS"]


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


HELPERS = [
    KernelHelper(182, "strncmp", Signature(("mem", "size", "const_str")), _strncmp,
                 "compare r2 bytes at r1 with the constant string at r3: -1, 0 or 1"),
]
