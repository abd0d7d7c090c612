"""Time, randomness and identity: ktime_get_ns (5), get_prandom_u32 (7),
get_smp_processor_id (8), get_current_pid_tgid (14), get_current_uid_gid (15),
get_current_comm (16), get_current_task (35), get_current_cgroup_id (80), the reads of
memory by address (probe_read_kernel 113 and its _str 115; probe_read_user 112 and its
_str 114, user memory a run has none of),
get_hash_recalc (34), get_socket_cookie (46), skb_cgroup_id (79), jiffies64 (118),
skb_cgroup_classid (151),
get_netns_cookie (122),
ktime_get_boot_ns (125), ktime_get_coarse_ns (160)."""

from __future__ import annotations

import errno

from ..errors import HelperArgumentError
from ..semantics import M64
from .spec import KernelHelper, Signature, errno_result, zero_fill

__all__ = ["HELPERS", "CURRENT_TASK"]

# what get_current_task gives by default: an address in a kernel's direct map of memory,
# where a task_struct would be; no run has memory there, so every bpf_probe_read_kernel
# of the task's fields answers -EFAULT with zeros (bpfjit models no kernel memory)
CURRENT_TASK = 0xFFFF888000100000


def _pid_tgid(call, *_) -> int:
    """tgid << 32 | pid of the "current task": the loaded object's `env.pid`
    (default: this process, as its only thread)."""
    pid = call.env.pid
    return (pid & 0xFFFFFFFF) << 32 | (pid & 0xFFFFFFFF)


# the kernel's jiffies start 300 s short of wrapping 32 bits, so that code that gets the
# wrap wrong fails within minutes of boot (INITIAL_JIFFIES)
_WRAP_AFTER_S = 300


def _jiffies64(call, *_) -> int:
    """The kernel's tick count: INITIAL_JIFFIES plus env.clock in ticks of env.hz.  The
    kernel's own is a little lower (67 ticks on one 6.18 machine at 250 Hz: its tick
    starts after its monotonic clock)."""
    hz = call.env.hz
    return ((1 << 32) - _WRAP_AFTER_S * hz + call.env.clock() * hz // 1_000_000_000) \
        & 0xFFFFFFFFFFFFFFFF


def _uid_gid(call, *_) -> int:
    """gid << 32 | uid of the "current task": the loaded object's `env.uid` and `env.gid`
    (default: this process's)."""
    return (call.env.gid & 0xFFFFFFFF) << 32 | (call.env.uid & 0xFFFFFFFF)


# x86-64's copy_from_kernel_nofault_allowed refuses a read from below the kernel's half
# (the user half, NULL's page included, and the non-canonical hole) or from the
# vsyscall page with -ERANGE before it is tried; elsewhere a fault gives -EFAULT.  A
# run's memory stands for kernel memory but lies where each engine put it, in the user
# half: outside it an address answers as unmapped kernel memory would (-EFAULT), except
# below 64 KiB (NULL and small numbers, where Linux maps nothing: mmap_min_addr), in
# the hole and in the vsyscall page, where no engine's memory lies and the user half's
# -ERANGE stands alike on every engine
_LOW = 1 << 16
_USER_END = 0x0000_8000_0000_0000
_KERNEL_HALF = 0xFFFF_8000_0000_0000
_VSYSCALL_PAGE = 0xFFFF_FFFF_FF60_0000


def _unreadable(address: int) -> int:
    """What a kernel read from `address`, not in the run's memory, returns."""
    address &= M64
    refused = address < _LOW or _USER_END <= address < _KERNEL_HALF \
        or address & ~0xFFF == _VSYSCALL_PAGE
    return errno_result(errno.ERANGE if refused else errno.EFAULT)


def _probe_read(call, out, size, source, *_) -> int:
    """Copy `size` bytes from `source`, an address the verifier need not place: 0, or
    with `out` zeroed when those bytes are not all in memory a helper may read (outside
    the kernel that is the run's own: its buffer, stack and map values) -ERANGE or
    -EFAULT as x86-64's kernel answers for such an address (_unreadable)."""
    size &= 0xFFFFFFFF
    memory = call.memory
    zero_fill(memory, out, size)            # the room first: no wild size's bytes built
    try:
        data = memory.read(source, size)
    except HelperArgumentError:
        return _unreadable(source)
    memory.write(out, data)
    return 0


def _probe_read_str(call, out, size, source, *_) -> int:
    """Copy the NUL-terminated string at `source` into `size` bytes at `out`, as the
    kernel's strncpy_from_kernel_nofault: up to and including its NUL, or its first
    size - 1 bytes and a NUL; the bytes copied (the NUL counted), 0 for a size of 0,
    or with `out` zeroed when its first byte is not in memory a helper may read, what
    _probe_read answers, and -EFAULT when a later byte before the NUL (or the size) is
    not.  The bytes after the NUL are left as they were."""
    size &= 0xFFFFFFFF
    memory = call.memory
    if size == 0:
        return 0
    memory.read(out, size)                  # the room first (HelperArgumentError)
    try:
        data = memory.read(source, size)
    except HelperArgumentError:             # readable up to a NUL, perhaps: byte by byte
        data = bytearray()
        try:
            while len(data) < size and (not data or data[-1] != 0):
                data += memory.read(source + len(data), 1)
        except HelperArgumentError:
            zero_fill(memory, out, size)
            return _unreadable(source) if not data else errno_result(errno.EFAULT)
    end = data.find(0)
    copied = bytes(data[:end + 1]) if 0 <= end < size else bytes(data[:size - 1]) + b"\0"
    memory.write(out, copied)
    return len(copied)


def _probe_read_user(call, out, size, *_) -> int:
    """A read of user memory, of which a run has none (its buffer, stack and maps are
    the kernel's memory, which the kernel's copy_from_user refuses): -EFAULT with `out`
    zeroed, also for a size of 0, as the kernel answers for a kernel address."""
    size &= 0xFFFFFFFF
    zero_fill(call.memory, out, size)
    return errno_result(errno.EFAULT)


def _probe_read_user_str(call, out, size, *_) -> int:
    """The string variant: 0 for a size of 0 (nothing is read), else _probe_read_user's
    answer."""
    return 0 if size & 0xFFFFFFFF == 0 else _probe_read_user(call, out, size)


def _comm(call, buffer, size, *_) -> int:
    """The "current task's" name (`env.comm`) into `size` bytes at `buffer`: at most
    size - 1 of its bytes, a NUL, zeros to the end (the kernel's strscpy_pad); 0."""
    size &= 0xFFFFFFFF                                      # a u32, as the kernel takes it
    if size == 0:
        raise HelperArgumentError("get_current_comm takes 1 byte or more (the kernel "
                                  "refuses a size of 0 at load)")
    zero_fill(call.memory, buffer, size)    # the room first: no wild size's bytes are built
    name = call.env.comm.encode()[:min(size - 1, 15)]      # TASK_COMM_LEN is 16
    call.memory.write(buffer, name)
    return 0


def _socket_cookie(call, *_) -> int:
    """The cookie of the socket the context is about (its `socket_cookie`);
    a socket buffer here belongs to no socket: 0, as the kernel gives for one."""
    return getattr(call.context, "socket_cookie", 0) & 0xFFFFFFFFFFFFFFFF


def _netns_cookie(call, r1, *_) -> int:
    """The cookie of the socket's network namespace (the context's `netns_cookie`; a
    socket buffer's: its device's); for NULL, the initial namespace's
    (env.init_netns_cookie), as the kernel gives."""
    cookie = call.env.init_netns_cookie if r1 == 0 else call.context.netns_cookie
    return cookie & 0xFFFFFFFFFFFFFFFF


def _skb_cgroup_id(call, *_) -> int:
    """The cgroup v2 id of the socket the packet belongs to (`socket.cgroup_id`, by
    default the current task's: env.cgroup_id); 0 for a packet of no socket."""
    sock = getattr(call.context, "socket", None)
    if sock is None:
        return 0
    return (call.env.cgroup_id if sock.cgroup_id is None else sock.cgroup_id) & M64


def _skb_cgroup_classid(call, *_) -> int:
    """The net_cls classid of the cgroup of the packet's socket (`socket.classid`); 0
    for a packet of no socket."""
    sock = getattr(call.context, "socket", None)
    return 0 if sock is None else sock.classid & 0xFFFFFFFF


def _hash(call, *_) -> int:
    ctx = call.context
    return getattr(ctx, "hash", 0) & 0xFFFFFFFF


HELPERS = [
    KernelHelper(5, "ktime_get_ns", Signature(), lambda call, *_: call.env.clock(),
                 "the monotonic clock in ns (env.clock, replaceable)"),
    KernelHelper(7, "get_prandom_u32", Signature(result=(0, 0xFFFFFFFF)),
                 lambda call, *_: call.env.random.getrandbits(32),
                 "a pseudo-random u32 (env.random, seedable)"),
    KernelHelper(8, "get_smp_processor_id", Signature(result=(0, 0)), lambda call, *_: 0,
                 "the CPU: always 0"),
    KernelHelper(14, "get_current_pid_tgid", Signature(), _pid_tgid,
                 "tgid << 32 | pid (env.pid)"),
    KernelHelper(15, "get_current_uid_gid", Signature(), _uid_gid,
                 "gid << 32 | uid (env.uid, env.gid)"),
    KernelHelper(16, "get_current_comm", Signature(("out", "size"), "errno"), _comm,
                 "the current task's name (env.comm), NUL-padded to r2 bytes"),
    KernelHelper(113, "probe_read_kernel", Signature(("out", "size_or_zero", "source"), "errno"),
                 _probe_read, "copy r2 bytes from the address r3 to r1: 0, or (r1 zeroed) "
                 "where the run has no memory -EFAULT, or -ERANGE for NULL, a number below "
                 "64 KiB or a non-canonical address, as the kernel refuses them"),
    KernelHelper(112, "probe_read_user", Signature(("out", "size_or_zero", "source"), "errno"),
                 _probe_read_user, "read user memory, of which a run has none: -EFAULT, r1 "
                 "zeroed (the kernel's answer for any address a run holds)"),
    KernelHelper(114, "probe_read_user_str", Signature(("out", "size_or_zero", "source")),
                 _probe_read_user_str, "the string variant: 0 for a size of 0, else -EFAULT, "
                 "r1 zeroed"),
    KernelHelper(115, "probe_read_kernel_str", Signature(("out", "size_or_zero", "source")),
                 _probe_read_str, "copy the NUL-terminated string at r3 into r2 bytes at r1 "
                 "(cut to r2 - 1 bytes and a NUL): its length with the NUL, or an error as "
                 "probe_read_kernel's (r1 zeroed)"),
    KernelHelper(35, "get_current_task", Signature(),
                 lambda call, *_: call.env.current_task & M64,
                 "the current task's struct task_struct address (env.current_task: by "
                 "default one where no run has memory, so reads of it give -EFAULT)"),
    KernelHelper(80, "get_current_cgroup_id", Signature(),
                 lambda call, *_: call.env.cgroup_id & M64,
                 "the current task's cgroup v2 id (env.cgroup_id)"),
    KernelHelper(79, "skb_cgroup_id", Signature(("ctx",), contexts=frozenset({"skb"})),
                 _skb_cgroup_id, "the cgroup v2 id of the packet's socket (its cgroup_id, "
                 "by default env.cgroup_id); 0 without a socket"),
    KernelHelper(151, "skb_cgroup_classid",
                 Signature(("ctx",), (0, 0xFFFFFFFF), contexts=frozenset({"skb"})),
                 _skb_cgroup_classid, "the net_cls classid of the packet's socket's cgroup "
                 "(its classid, 0 by default); 0 without a socket"),
    KernelHelper(46, "get_socket_cookie",
                 Signature(("ctx",), contexts=frozenset({"sock_addr", "sock", "skb",
                                                         "sock_ops"})),
                 _socket_cookie, "the socket's cookie (the context's socket_cookie; 0 for a "
                 "socket buffer, which has no socket here)"),
    KernelHelper(122, "get_netns_cookie",
                 Signature(("ctx_or_null",), contexts=frozenset({"sock_addr", "sock",
                                                                 "sockopt", "sock_ops",
                                                                 "sk_msg", "skb"})),
                 _netns_cookie, "the socket's network namespace's cookie (the context's "
                 "netns_cookie; for NULL, env.init_netns_cookie)"),
    KernelHelper(34, "get_hash_recalc", Signature(("ctx",), (0, 0xFFFFFFFF),
                                                  contexts=frozenset({"skb"})),
                 _hash, "the socket buffer's hash (SkbContext.hash)"),
    KernelHelper(118, "jiffies64", Signature(), _jiffies64,
                 "the tick count: 2^32 - 300 * env.hz + env.clock in ticks of env.hz"),
    KernelHelper(125, "ktime_get_boot_ns", Signature(), lambda call, *_: call.env.clock(),
                 "the boot clock in ns (env.clock here too)"),
    KernelHelper(160, "ktime_get_coarse_ns", Signature(), lambda call, *_: call.env.clock(),
                 "the coarse monotonic clock in ns (env.clock here too)"),
]
