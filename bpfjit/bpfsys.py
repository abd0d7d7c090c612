"""The running kernel's bpf(2): load a program, test-run it, close it.

Only what the `kernel` engine needs (backends/kerneljit.py): BPF_PROG_LOAD, with the
verifier's log kept for the error (and, for a program with callbacks, the BTF function
information the kernel wants with them, from BPF_BTF_LOAD), BPF_PROG_TEST_RUN, which
runs a loaded program once on a copy of the input without attaching it anywhere, and
the map commands that
create a map and read and write its entries (backends/kernelmaps.py).  Loading needs root, or
CAP_BPF with CAP_PERFMON (and CAP_NET_ADMIN for packet programs); `unavailable()`
says why the kernel cannot be used here, or None.
"""

from __future__ import annotations

import os
import platform
import struct

from .errors import BackendUnavailable, BpfError, VerifierError
from .native import ffi, libc

__all__ = ["PROG_TYPES", "TestRun", "prog_load", "test_run", "close", "unavailable",
           "map_create", "map_lookup", "map_update", "map_delete", "map_keys", "map_freeze",
           "READ_ONLY_PROG"]

_NR_BPF = {"x86_64": 321, "aarch64": 280}
_MAP_CREATE, _MAP_LOOKUP, _MAP_UPDATE, _MAP_DELETE, _MAP_NEXT_KEY = 0, 1, 2, 3, 4
_PROG_LOAD, _PROG_TEST_RUN, _BTF_LOAD, _MAP_FREEZE = 5, 10, 18, 22
READ_ONLY_PROG = 1 << 7                 # BPF_F_RDONLY_PROG: programs only read the map
_ATTR_SIZE = 128                        # larger than every field used, zero-filled
PROG_TYPES = {"socket_filter": 1, "sched_cls": 3, "sched_act": 4, "xdp": 6, "cgroup_skb": 8,
              "cgroup_sock": 9, "sock_ops": 13, "sk_skb": 14, "cgroup_device": 15,
              "sk_msg": 16, "cgroup_sock_addr": 18, "cgroup_sysctl": 23, "cgroup_sockopt": 25,
              "sk_lookup": 30,
              "syscall": 31}
# the kernel's enum bpf_attach_type for a cgroup sock, sock_addr or sockopt program's hook
ATTACH_TYPES = {"sock_create": 2, "post_bind4": 12, "post_bind6": 13, "sock_release": 34,
                "bind4": 8, "bind6": 9, "connect4": 10, "connect6": 11, "sendmsg4": 14,
                "sendmsg6": 15, "recvmsg4": 19, "recvmsg6": 20, "getpeername4": 29,
                "getpeername6": 30, "getsockname4": 31, "getsockname6": 32,
                "getsockopt": 21, "setsockopt": 22, "ingress": 0, "egress": 1,
                "sk_lookup": 36, "devmap": 33, "cpumap": 35, "stream_parser": 4,
                "stream_verdict": 5, "verdict": 38}
_SLEEPABLE = 1 << 4                     # BPF_F_SLEEPABLE: syscall programs must be
_LOG_SIZE = 1 << 20
_EPERM, _ENOENT, _EINVAL, _ENOSPC = 1, 2, 22, 28

# union bpf_attr, as BPF_PROG_LOAD reads it: prog_type, insn_cnt, insns, license,
# log_level, log_size, log_buf, kern_version, prog_flags, prog_name[16]
_LOAD = struct.Struct("<IIQQIIQII16s")
# ... then prog_ifindex, expected_attach_type, prog_btf_fd, func_info_rec_size, func_info,
# func_info_cnt (offset 64)
_LOAD_BTF = struct.Struct("<IIIIQI")
# BPF_BTF_LOAD: btf, btf_log_buf, btf_size, btf_log_size, btf_log_level
_BTF = struct.Struct("<QQIII")
_BTF_INT, _BTF_FUNC, _BTF_FUNC_PROTO = 1, 12, 13      # BTF kinds
# ... and BPF_PROG_TEST_RUN: prog_fd, retval, data_size_in, data_size_out, data_in,
# data_out, repeat, duration, ctx_size_in, ctx_size_out, ctx_in, ctx_out
_TEST = struct.Struct("<IIIIQQIIIIQQ")


# ... BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags,
# inner_map_fd, numa_node, map_name[16], map_ifindex, btf_fd, btf_key_type_id,
# btf_value_type_id
_CREATE = struct.Struct("<IIIIIII16sIIII")
_BTF_ARRAY, _BTF_STRUCT = 3, 4
# ... and the element commands: map_fd, (padding), key, value or next_key, flags
_ELEMENT = struct.Struct("<IIQQQ")


def _bpf(command: int, attr: bytes) -> tuple[int, int, bytes]:
    """(result, errno, the attribute block as the kernel left it)."""
    number = _NR_BPF.get(platform.machine())
    if number is None:
        raise BackendUnavailable(f"the kernel engine does not know bpf(2) on "
                                 f"{platform.machine()}")
    block = ffi.new("uint8_t[]", _ATTR_SIZE)
    block[0:len(attr)] = attr
    result = libc.syscall(ffi.cast("long", number), ffi.cast("long", command),
                          ffi.cast("void *", block), ffi.cast("long", _ATTR_SIZE))
    return int(result), ffi.errno, bytes(ffi.buffer(block))


def function_btf(count: int) -> bytes:
    """A BTF blob describing `count` functions, `f0`... (types 3...), each a static
    `int fN(void)`: what the kernel asks of a program with callbacks (it checks the
    subprograms' starts and that each returns a number; static ones it verifies in
    their callers' context, as it does without BTF)."""
    names = b"\0int\0" + b"".join(b"f%d\0" % i for i in range(count))
    types = struct.pack("<IIII", 1, _BTF_INT << 24, 4, 1 << 24 | 32)      # int
    types += struct.pack("<III", 0, _BTF_FUNC_PROTO << 24, 1)            # int (void)
    at = 5
    for i in range(count):
        types += struct.pack("<III", at, _BTF_FUNC << 24, 2)              # static fN
        at += len(b"f%d" % i) + 1
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                         len(names))
    return header + types + names


def _btf_load(blob: bytes) -> int:
    data = ffi.from_buffer(blob)
    log = ffi.new("char[]", _LOG_SIZE)
    fd, error, _ = _bpf(_BTF_LOAD, _BTF.pack(int(ffi.cast("uintptr_t", data)),
                                             int(ffi.cast("uintptr_t", log)), len(blob),
                                             _LOG_SIZE, 1))
    if fd < 0:
        text = ffi.string(log).decode("utf-8", "replace")
        raise BpfError(f"the kernel refused the BTF bpfjit wrote for it: "
                       f"{_reason(text, error)}")
    return fd


def prog_load(code: bytes, prog_type: str, name: str = "bpfjit",
              functions: tuple[int, ...] = (), attach: str | None = None) -> int:
    """Load bytecode as a program of `prog_type` ("sched_cls", "xdp", "cgroup_sock_addr"
    or "syscall"); its file descriptor.  `functions`: the first pc of each subprogram,
    to describe them in BTF (a program with callbacks needs it); `attach`: a cgroup
    sock_addr program's hook ("connect4", ...: ATTACH_TYPES), which the kernel's verifier
    reads (nothing is attached).  VerifierError with the kernel verifier's reason when
    it refuses; BackendUnavailable when this process may not load programs."""
    insns = ffi.from_buffer(code)
    license_text = ffi.new("char[]", b"GPL")
    flags = _SLEEPABLE if prog_type == "syscall" else 0
    if prog_type == "sk_lookup":
        attach = "sk_lookup"        # its one hook, which the kernel wants named
    btf_fd = _btf_load(function_btf(len(functions))) if functions else -1
    records = ffi.from_buffer(b"".join(struct.pack("<II", pc, 3 + i)
                                       for i, pc in enumerate(functions))) if functions else None

    def load(log) -> tuple[int, int]:
        """BPF_PROG_LOAD, with a verifier log (level 1) into `log` or none."""
        level, size = (1, _LOG_SIZE) if log is not None else (0, 0)
        attr = _LOAD.pack(PROG_TYPES[prog_type], len(code) // 8,
                          int(ffi.cast("uintptr_t", insns)),
                          int(ffi.cast("uintptr_t", license_text)), level, size,
                          int(ffi.cast("uintptr_t", log)) if log is not None else 0, 0,
                          flags, name.encode()[:15])
        if functions or attach:
            attr += _LOAD_BTF.pack(0, ATTACH_TYPES.get(attach, 0), max(btf_fd, 0),
                                   8 if functions else 0,
                                   int(ffi.cast("uintptr_t", records)) if functions else 0,
                                   len(functions))
        fd, error, _ = _bpf(_PROG_LOAD, attr)
        return fd, error

    # no log first: a program the verifier walks long has a log past any buffer, and a
    # log that does not fit fails the load (ENOSPC); the log only says why one failed
    log = None
    try:
        fd, error = load(None)
        if fd < 0 and error != _EPERM:
            log = ffi.new("char[]", _LOG_SIZE)
            fd, error = load(log)
    finally:
        if btf_fd >= 0:
            close(btf_fd)
    if fd >= 0:
        return fd
    if error == _EPERM:
        raise BackendUnavailable("the kernel refuses to load eBPF programs for this process "
                                 "(it needs root, or CAP_BPF and CAP_PERFMON)")
    text = ffi.string(log).decode("utf-8", "replace")
    raise VerifierError(-1, f"the kernel's verifier refused it: {_reason(text, error)}")


def _reason(log: str, error: int) -> str:
    """The line of a verifier log that says why (the last one before the statistics)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("processed ", "verification time"))]
    if lines:
        return lines[-1]
    return os.strerror(error) if error else "no reason given"


class TestRun:
    """What one BPF_PROG_TEST_RUN returned: r0 (32 bits), the data and the context
    after the run, and the kernel's measured time per run in ns."""

    __test__ = False                    # not a pytest class

    def __init__(self, retval: int, data: bytes, ctx: bytes, duration: int):
        self.retval, self.data, self.ctx, self.duration = retval, data, ctx, duration


def test_run(fd: int, data: bytes | None = None, ctx: bytes | None = None,
             repeat: int = 0, ctx_in_place: bool = False) -> TestRun:
    """Run program `fd` once (or `repeat` times) on copies of `data` and `ctx`.
    `ctx_in_place`: the kernel writes the context back over its input (syscall
    programs, which take neither data nor a separate context output)."""
    data = b"" if data is None else bytes(data)
    ctx = b"" if ctx is None else bytes(ctx)
    data_in = ffi.from_buffer(data) if data else ffi.NULL
    data_out = ffi.new("uint8_t[]", len(data) + 4096) if data else ffi.NULL
    ctx_buffer = bytearray(ctx)
    ctx_in = ffi.from_buffer(ctx_buffer) if ctx else ffi.NULL
    ctx_out = ffi.new("uint8_t[]", len(ctx)) if ctx and not ctx_in_place else ffi.NULL

    def address(pointer) -> int:
        return int(ffi.cast("uintptr_t", pointer))
    attr = _TEST.pack(fd, 0, len(data), len(data) + 4096 if data else 0, address(data_in),
                      address(data_out), repeat, 0, len(ctx),
                      len(ctx) if ctx and not ctx_in_place else 0, address(ctx_in),
                      address(ctx_out))
    result, error, after = _bpf(_PROG_TEST_RUN, attr)
    if result < 0:
        raise BpfError(f"the kernel's test run failed: {os.strerror(error)}")
    (_, retval, _, data_size, _, _, _, duration, _, ctx_size, _, _) = _TEST.unpack_from(after)
    data_after = bytes(ffi.buffer(data_out, data_size)) if data else b""
    if ctx_in_place:
        ctx_after = bytes(ctx_buffer)
    else:
        ctx_after = bytes(ffi.buffer(ctx_out, ctx_size)) if ctx else b""
    return TestRun(retval, data_after, ctx_after, duration)


def value_fields_btf(key_size: int, value_size: int, spin_lock: int | None = None,
                     timer: int | None = None) -> bytes:
    """A BTF blob for a map whose values hold a `struct bpf_spin_lock` at byte
    `spin_lock` and/or a `struct bpf_timer` at byte `timer`: the key is type 1 (`int`,
    which an array's key must be) or 4 (`unsigned char[key_size]`), the value type 5 (a
    struct of `value_size` bytes whose members are those fields), which is what the
    kernel reads to allow bpf_spin_lock and the bpf_timer helpers on it."""
    names = (b"\0int\0bpf_spin_lock\0val\0unsigned char\0value\0lock\0bpf_timer\0"
             b"opaque\0timer\0")
    at = {name: names.index(b"\0" + name + b"\0") + 1
          for name in (b"int", b"bpf_spin_lock", b"val", b"unsigned char", b"value", b"lock",
                       b"bpf_timer", b"opaque", b"timer")}
    members = sorted((offset, name, kind) for offset, name, kind in
                     ((spin_lock, b"lock", 2), (timer, b"timer", 7)) if offset is not None)
    types = struct.pack("<IIII", at[b"int"], _BTF_INT << 24, 4, 1 << 24 | 32)       # 1
    types += struct.pack("<IIIIII", at[b"bpf_spin_lock"], _BTF_STRUCT << 24 | 1, 4,  # 2
                         at[b"val"], 1, 0)
    types += struct.pack("<IIII", at[b"unsigned char"], _BTF_INT << 24, 1, 8)        # 3
    types += struct.pack("<IIIIII", 0, _BTF_ARRAY << 24, 0, 3, 1, key_size)          # 4
    types += struct.pack("<III", at[b"value"], _BTF_STRUCT << 24 | len(members),     # 5
                         value_size)
    for offset, name, kind in members:
        types += struct.pack("<III", at[name], kind, 8 * offset)
    types += struct.pack("<IIIIII", 0, _BTF_ARRAY << 24, 0, 3, 1, 16)                # 6
    types += struct.pack("<IIIIII", at[b"bpf_timer"], _BTF_STRUCT << 24 | 1, 16,     # 7
                         at[b"opaque"], 6, 0)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                         len(names))
    return header + types + names


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               spin_lock: int | None = None, timer: int | None = None, flags: int = 0,
               btf: bool = False) -> int:
    """Create a map of the kernel's `map_type` (enum bpf_map_type); its file
    descriptor.  `spin_lock`, `timer`: the byte offsets of a struct bpf_spin_lock and
    a struct bpf_timer in its values (described to the kernel in BTF); `btf`: its key
    and value described in BTF anyway (socket storage wants it); `flags`: its
    map_flags (READ_ONLY_PROG, BPF_F_NO_PREALLOC).  BpfError with the kernel's reason
    when it refuses."""
    btf_fd, key_type, value_type = 0, 0, 0
    if btf or spin_lock is not None or timer is not None:
        btf_fd = _btf_load(value_fields_btf(key_size, value_size, spin_lock, timer))
        key_type, value_type = 1 if key_size == 4 else 4, 5
    try:
        fd, error, _ = _bpf(_MAP_CREATE, _CREATE.pack(map_type, key_size, value_size,
                                                      max_entries, flags, 0, 0, b"", 0, btf_fd,
                                                      key_type, value_type))
    finally:
        if btf_fd:
            close(btf_fd)
    if fd < 0:
        if error == _EPERM:
            raise BackendUnavailable("the kernel refuses to create maps for this process "
                                     "(it needs root, or CAP_BPF)")
        raise BpfError(f"the kernel refused to create the map: {os.strerror(error)}")
    return fd


def _element(command: int, fd: int, key: bytes | None, value_size: int = 0,
             value: bytes | None = None, flags: int = 0) -> tuple[int, int, object]:
    """One element command: (result, errno, the value or next-key buffer)."""
    key_buffer = ffi.from_buffer(key) if key else ffi.NULL
    out = ffi.from_buffer(value) if value is not None else \
        ffi.new("uint8_t[]", value_size) if value_size else ffi.NULL   # (delete: none)
    attr = _ELEMENT.pack(fd, 0, int(ffi.cast("uintptr_t", key_buffer)),
                         int(ffi.cast("uintptr_t", out)), flags)
    result, error, _ = _bpf(command, attr)
    return result, error, out


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    """The value of `key` in map `fd`, or None when it has none."""
    result, error, out = _element(_MAP_LOOKUP, fd, key, value_size)
    if result < 0:
        if error == _ENOENT:
            return None
        raise BpfError(f"the kernel's map lookup failed: {os.strerror(error)}")
    return bytes(ffi.buffer(out, value_size))


def map_update(fd: int, key: bytes, value: bytes) -> None:
    """Set `key` to `value` in map `fd` (BPF_ANY)."""
    result, error, _ = _element(_MAP_UPDATE, fd, key, value=value)
    if result < 0:
        raise BpfError(f"the kernel's map update failed: {os.strerror(error)}")


def map_delete(fd: int, key: bytes) -> None:
    """Remove `key` from map `fd` (nothing when it is not there)."""
    result, error, _ = _element(_MAP_DELETE, fd, key)
    if result < 0 and error != _ENOENT:
        raise BpfError(f"the kernel's map delete failed: {os.strerror(error)}")


def map_keys(fd: int, key_size: int) -> list[bytes]:
    """Every key of map `fd`, in the kernel's order."""
    keys: list[bytes] = []
    key = None
    while True:
        result, error, out = _element(_MAP_NEXT_KEY, fd, key, key_size)
        if result < 0:
            if error == _ENOENT:
                return keys
            raise BpfError(f"the kernel's map walk failed: {os.strerror(error)}")
        key = bytes(ffi.buffer(out, key_size))
        keys.append(key)


def map_freeze(fd: int) -> None:
    """BPF_MAP_FREEZE: no more writes to the map from user space (with READ_ONLY_PROG,
    none at all: the kernel's verifier then reads its values as constants, as libbpf
    makes .rodata)."""
    result, error, _ = _bpf(_MAP_FREEZE, struct.pack("<I", fd))
    if result < 0:
        raise BpfError(f"the kernel refused to freeze the map: {os.strerror(error)}")


def close(fd: int) -> None:
    """Release a loaded program or a map."""
    try:
        os.close(fd)
    except OSError:
        pass


_PROBE: list = []


def unavailable() -> str | None:
    """Why programs cannot be loaded into and test-run in this kernel, or None when
    they can (probed once per process with a two-instruction syscall program)."""
    if not _PROBE and platform.system() != "Linux":
        _PROBE.append("bpf(2) is Linux's")
    if not _PROBE:
        probe = struct.pack("<BBhi", 0xB7, 0, 0, 7) + struct.pack("<BBhi", 0x95, 0, 0, 0)
        try:
            fd = prog_load(probe, "syscall", "bpfjit_probe")
            try:
                ran = test_run(fd, ctx_in_place=True)
                _PROBE.append(None if ran.retval == 7 else
                              f"the kernel's test run returned {ran.retval}, not 7")
            finally:
                close(fd)
        except BpfError as exc:
            _PROBE.append(str(exc))
    return _PROBE[0]
