"""The device context, `struct bpf_cgroup_dev_ctx`, of cgroup device programs
(`cgroup/dev`): a process of the cgroup opens, creates (mknod) or maps a device node,
and the program allows it (1) or refuses it with EPERM (0).  Container runtimes
(runc, crun, systemd) build such programs for their device allow-lists.

The block is the kernel's 12 bytes, all read-only: `access_type` (the device type in
the low 16 bits, 1 block and 2 char; the access in the high 16, a mask of 1 mknod,
2 read and 4 write), `major`, `minor`.  As the kernel's cgroup_dev_is_valid_access has
it: `access_type` may be read in part (its halves, a byte), `major` and `minor` only
whole.  There is no packet.
"""

from __future__ import annotations

import struct

from ..errors import BpfError
from .base import BlockContext, Field

__all__ = ["DeviceContext", "DEVICE_HEADER", "DEVICE_BLOCK", "DEVICE_CHAR",
           "ACCESS_MKNOD", "ACCESS_READ", "ACCESS_WRITE"]

DEVICE_HEADER = 12                      # sizeof(struct bpf_cgroup_dev_ctx)
DEVICE_BLOCK, DEVICE_CHAR = 1, 2        # BPF_DEVCG_DEV_*
ACCESS_MKNOD, ACCESS_READ, ACCESS_WRITE = 1, 2, 4      # BPF_DEVCG_ACC_*
_TYPES = {"block": DEVICE_BLOCK, "char": DEVICE_CHAR}
_ACCESS = {"m": ACCESS_MKNOD, "r": ACCESS_READ, "w": ACCESS_WRITE}
_FIELDS = [Field("access_type", 0, 4), Field("major", 4, 4), Field("minor", 8, 4)]


def _u32(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise BpfError(f"a device's {name} is a u32, not {value!r}")
    return value


class DeviceContext(BlockContext):
    """What a cgroup device program sees: `fn(DeviceContext("char", "rw", 1, 3))` (a
    read-write open of /dev/null) returns 1 to allow the access, 0 to refuse it.

    `type` is "char" or "block" (or the kernel's 2 or 1); `access` the access asked
    for, letters of "mrw" (mknod, read, write) or the kernel's mask of 1, 2 and 4;
    `major` and `minor` the device's numbers."""

    HEADER = DEVICE_HEADER
    KIND = "device"
    PROGRAMS, USAGE = "cgroup device", "DeviceContext(type, access, major, minor)"
    OUTCOME = "nothing (the context is read-only)"
    FIELDS = {f.name: f for f in _FIELDS}

    def __init__(self, type: str | int, access: str | int, major: int, minor: int):
        super().__init__()
        self.type = _TYPES.get(type, type) if isinstance(type, str) else type
        if self.type not in (DEVICE_BLOCK, DEVICE_CHAR):
            raise BpfError(f"a device's type is \"char\" (2) or \"block\" (1), not {type!r}")
        if isinstance(access, str):
            if not access or any(c not in _ACCESS for c in access):
                raise BpfError(f"an access is letters of \"mrw\" (mknod, read, write), not "
                               f"{access!r}")
            self.access = sum(_ACCESS[c] for c in set(access))
        elif isinstance(access, int) and not isinstance(access, bool) and 0 < access <= 7:
            self.access = access
        else:
            raise BpfError(f"an access is letters of \"mrw\" or a mask of 1, 2 and 4, not "
                           f"{access!r}")
        self.major, self.minor = _u32("major", major), _u32("minor", minor)

    @property
    def access_type(self) -> int:
        """The field as the kernel fills it: the access << 16 | the device type."""
        return self.access << 16 | self.type

    def write_fields(self) -> None:
        struct.pack_into("<III", self.buffer, 0, self.access_type, self.major, self.minor)

    def outcome(self) -> str:
        return ""

    @classmethod
    def narrow(cls, name: str) -> bool:
        """`access_type` may be read in part (the kernel's narrow access); the device
        numbers only whole."""
        return name == "access_type"

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    def __repr__(self) -> str:
        kind = "char" if self.type == DEVICE_CHAR else "block"
        access = "".join(c for c, bit in _ACCESS.items() if self.access & bit)
        return f"<DeviceContext {kind} {self.major}:{self.minor} {access}>"
