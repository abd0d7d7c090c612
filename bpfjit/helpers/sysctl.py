"""The helpers of cgroup sysctl programs (ids 101-104), on the program's
bpfjit.SysctlContext, as the kernel's kernel/bpf/cgroup.c answers them:

- sysctl_get_name(ctx, buf, len, flags): the name ("net/ipv4/tcp_mem"; its last part
  with BPF_F_SYSCTL_BASE_NAME), copied part by part as the kernel's strscpy does: the
  bytes copied, or -E2BIG with as much as fit and a NUL;
- sysctl_get_current_value(ctx, buf, len): the value as reading the file shows it; the
  rest of the buffer zeroed; the length, or -E2BIG (truncated, NUL-terminated), or
  -EINVAL for a value that cannot be read (the buffer zeroed);
- sysctl_get_new_value(ctx, buf, len): the same of the bytes being written; -EINVAL
  (the buffer zeroed) on a read;
- sysctl_set_new_value(ctx, buf, len): the write stores those bytes instead: 0, or
  -EINVAL on a read or a write of nothing, -E2BIG past 4095 bytes.
"""

from __future__ import annotations

import errno

from ..semantics import M64
from .spec import KernelHelper, Signature, errno_result

__all__ = ["HELPERS", "BASE_NAME"]

BASE_NAME = 1                   # BPF_F_SYSCTL_BASE_NAME
_SYSCTL = frozenset(("sysctl",))


def _strscpy(out: bytearray, at: int, room: int, text: bytes) -> int:
    """The kernel's strscpy of `text` into `out` at `at` with `room` bytes: the length,
    or -E2BIG with room - 1 bytes and a NUL (nothing for no room)."""
    if room <= 0:
        return -errno.E2BIG
    part = text[:room - 1]
    out[at:at + len(part) + 1] = part + b"\0"
    return len(text) if len(text) < room else -errno.E2BIG


def sysctl_name(name: str, size: int, flags: int, current: bytes) -> tuple[bytes, int]:
    """The `size` bytes sysctl_get_name leaves in a buffer that held `current`, and its
    result: each directory and a '/' after it, then the base name, as the kernel's
    sysctl_cpy_dir and strscpy copy them (stopping at the first that does not fit)."""
    out = bytearray(current)
    parts = name.encode().split(b"/")
    pieces = [parts[-1]] if flags & BASE_NAME else \
        [piece for part in parts[:-1] for piece in (part, b"/")] + [parts[-1]]
    at = 0
    for piece in pieces:
        copied = _strscpy(out, at, size - at, piece)
        if copied < 0:
            return bytes(out), copied
        at += copied
    return bytes(out), at


def _value(text: bytes | None, size: int) -> tuple[bytes, int]:
    """copy_sysctl_value: `size` bytes of `text` (the rest zeroed) and the length, or
    -E2BIG truncated with a NUL last, or -EINVAL for no value (all zeros)."""
    if not text:
        return bytes(size), -errno.EINVAL
    if size > len(text):
        return text + bytes(size - len(text)), len(text)
    return text[:size - 1] + b"\0", -errno.E2BIG


def _get_name(call, ctx, buf, size, flags, *_) -> int:
    memory = call.memory
    out, result = sysctl_name(call.context.name, size, flags, memory.read(buf, size))
    memory.write(buf, out)
    return result & M64                     # (a negative errno as r0)


def _copy_out(call, buf, size, text: bytes | None) -> int:
    out, result = _value(text, size)
    call.memory.write(buf, out)
    return result & M64                     # (a negative errno as r0)


def _get_current_value(call, ctx, buf, size, *_) -> int:
    return _copy_out(call, buf, size, call.context.value)


def _get_new_value(call, ctx, buf, size, *_) -> int:
    context = call.context
    if not context.write:
        call.memory.write(buf, bytes(size))
        return errno_result(errno.EINVAL)
    return _copy_out(call, buf, size, context.new_value)


def _set_new_value(call, ctx, buf, size, *_) -> int:
    from ..context.sysctl import MAX_NEW_VALUE
    context = call.context
    if not context.write or not context.new_value:
        return errno_result(errno.EINVAL)
    if size > MAX_NEW_VALUE:
        return errno_result(errno.E2BIG)
    context.set_new_value(call.memory.read(buf, size))
    return 0


HELPERS = [
    KernelHelper(101, "sysctl_get_name",
                 Signature(("ctx", "out", "size", "any"), "errno", contexts=_SYSCTL),
                 _get_name, "the sysctl's name into r3 bytes at r2 (r4: "
                 "BPF_F_SYSCTL_BASE_NAME for its last part): its length or -E2BIG"),
    KernelHelper(102, "sysctl_get_current_value",
                 Signature(("ctx", "out", "size"), "errno", contexts=_SYSCTL),
                 _get_current_value, "the value as reading the file shows it into r3 "
                 "bytes at r2: its length, -E2BIG or -EINVAL"),
    KernelHelper(103, "sysctl_get_new_value",
                 Signature(("ctx", "out", "size"), "errno", contexts=_SYSCTL),
                 _get_new_value, "the bytes being written into r3 bytes at r2: their "
                 "length, -E2BIG, or -EINVAL on a read"),
    KernelHelper(104, "sysctl_set_new_value",
                 Signature(("ctx", "mem", "size"), "errno", contexts=_SYSCTL),
                 _set_new_value, "the write stores the r3 bytes at r2 instead: 0, "
                 "-EINVAL (a read, or nothing written) or -E2BIG (past 4095 bytes)"),
]
