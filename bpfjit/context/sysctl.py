"""The sysctl context, `struct bpf_sysctl`, of cgroup sysctl programs (`cgroup/sysctl`):
a process of the cgroup reads or writes a file under /proc/sys, and the program lets
the access go on (1) or fails it with EPERM (0).  systemd's and others' monitors watch
sysctl writes so; a program may also rewrite the value being written.

The block is the kernel's 8 bytes: `write` (1 for a write, 0 for a read; read-only)
and `file_pos` (the file position, which the program may set, whole).  Both may be
read in part.  The sysctl's name and values are reached only through the helpers
(bpfjit.helpers.sysctl): its name ("net/ipv4/tcp_mem"), its current value as reading
the file shows it (with its newline), and, for a write, the bytes written, which the
program may replace.  There is no packet.
"""

from __future__ import annotations

import struct

from ..errors import BpfError
from .base import BlockContext, Field

__all__ = ["SysctlContext", "SYSCTL_HEADER", "MAX_NEW_VALUE"]

SYSCTL_HEADER = 8                       # sizeof(struct bpf_sysctl)
MAX_NEW_VALUE = 4095                    # PAGE_SIZE - 1: the most set_new_value takes
_FIELDS = [Field("write", 0, 4), Field("file_pos", 4, 4, writable=True)]


def _text(name: str, value) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise BpfError(f"a sysctl's {name} is str or bytes, not {type(value).__name__}")


class SysctlContext(BlockContext):
    """What a cgroup sysctl program sees: `fn(SysctlContext("net/ipv4/ip_forward",
    "0\\n", new_value="1\\n"))` (a write of "1\\n") returns 1 to let the access go on, 0
    to fail it with EPERM; afterwards `.file_pos` is what the program set and
    `.new_value` the value the write will store (`.new_updated`: the program replaced
    it).

    `name` the sysctl's path under /proc/sys; `value` its current value as reading the
    file shows it (str or bytes; b"" for one that cannot be read); `new_value` the
    bytes written, or None for a read; `file_pos` the file position."""

    HEADER = SYSCTL_HEADER
    KIND = "sysctl"
    PROGRAMS, USAGE = "cgroup sysctl", "SysctlContext(name, value, new_value=None)"
    OUTCOME = "(file_pos, new_value)"
    FIELDS = {f.name: f for f in _FIELDS}

    def __init__(self, name: str, value: str | bytes = b"", *,
                 new_value: str | bytes | None = None, file_pos: int = 0):
        super().__init__()
        if not isinstance(name, str) or not name or name.startswith("/") \
                or "" in name.split("/"):
            raise BpfError(f"a sysctl's name is its path under /proc/sys, like "
                           f"\"net/ipv4/tcp_mem\", not {name!r}")
        if isinstance(file_pos, bool) or not isinstance(file_pos, int) \
                or not 0 <= file_pos <= 0xFFFFFFFF:
            raise BpfError(f"a file position is 0 to 2^32 - 1 here, not {file_pos!r}")
        self.name = name
        self.value = _text("value", value)
        self.written = None if new_value is None else _text("new value", new_value)
        self.initial_pos = file_pos
        self.file_pos = file_pos
        self.new_value = self.written
        self.new_updated = False

    @property
    def write(self) -> bool:
        return self.written is not None

    def write_fields(self) -> None:
        """A run starts from the access as it was made."""
        self.file_pos, self.new_value, self.new_updated = self.initial_pos, self.written, False
        struct.pack_into("<II", self.buffer, 0, int(self.write), self.initial_pos)

    def read_back(self) -> None:
        self.file_pos, = struct.unpack_from("<I", self.buffer, 4)

    def set_new_value(self, data: bytes) -> None:
        """bpf_sysctl_set_new_value's effect: the write stores `data` instead."""
        self.new_value, self.new_updated = bytes(data), True

    def outcome(self) -> str:
        return f"({self.file_pos}, {self.new_value!r})"

    @classmethod
    def narrow(cls, name: str) -> bool:
        """Both fields may be read in part (the kernel's narrow access); `file_pos` is
        written whole."""
        return True

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    def __repr__(self) -> str:
        return f"<SysctlContext {'write' if self.write else 'read'} {self.name}>"
