"""What a loaded object brings to its runs, and the kernel's helpers bound to an engine.

Helpers see the program's memory through a `HelperMemory`, which each engine
provides: the interpreter's address space (made-up addresses) or the JIT's run
structure (real addresses).  Every pointer a program passes is checked against
the regions a program may touch — its buffer, its stack, map values — before a
byte is read or written, so a hostile argument ends in a HelperError, never in a
read of the host's memory.  The implementations live in bpfjit.helpers.
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
import weakref
from typing import Callable, Protocol

from .errors import HelperArgumentError
from .helpers import HELPER_NAMES, KERNEL_HELPERS
from .helpers.misc import CURRENT_TASK
from .maps import MapTable, map_handle
from .semantics import M64
from .context.base import context_at
from .context.tcp_sock import TCP_SOCK_SIZE
from .sockets import CAPACITY, SOCKET_SIZE, SocketTable

__all__ = ["KernelEnv", "HelperMemory", "HelperCall", "HELPER_NAMES", "M64"]



def _own_comm() -> str:
    """This process's name as the kernel keeps it (/proc/self/comm), else "python"."""
    try:
        with open("/proc/self/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip() or "python"
    except OSError:
        return "python"


def _own_cgroup_id() -> int:
    """This process's cgroup v2 id, as the kernel gives it: the inode number of its
    cgroup's directory in the cgroup2 file system; 1 (the root cgroup's) where none is
    mounted or the process is in the root."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            path = next((line.strip()[3:] for line in f if line.startswith("0::")), "/")
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mount = next((line.split()[1] for line in f if line.split()[2:3] == ["cgroup2"]),
                         None)
        if mount is not None:
            return os.stat(mount.rstrip("/") + path).st_ino
    except (OSError, IndexError):
        pass
    return 1


class HelperMemory(Protocol):
    """An engine's view of a run's memory, for helpers."""

    def read(self, address: int, size: int) -> bytes: ...

    def write(self, address: int, data: bytes) -> None: ...

    def map_address(self, index: int) -> int:
        """Where map `index`'s value arena starts, as the program sees addresses."""
        ...

    def socket_base(self, table) -> int:
        """Where a socket table's arena starts, as the program sees addresses."""
        ...

    def tcp_socket_base(self, table) -> int:
        """Where its struct bpf_tcp_sock arena starts (bpf_tcp_sock)."""
        ...

    def packet(self) -> tuple[int, int]:
        """(address, length) of the run's packet (its buffer, for plain programs)."""
        ...

    def set_packet_length(self, length: int, metalen: int = 0) -> None:
        """A helper resized the packet (its start does not move) or its metadata."""
        ...


class KernelEnv:
    """What a loaded object brings to its runs: maps, trace output, a random source, the
    clock of ktime_get_ns and of timers (`clock() -> ns`: replace it for repeatable
    tests; `realtime` for CLOCK_REALTIME's timers) and the tick
    rate jiffies64 counts at (`hz`, Debian's CONFIG_HZ by default), the routes
    fib_lookup finds (`routes(FibRequest) -> FibResult | None`), the MTU of each
    network device check_mtu knows (`mtus`: ifindex -> MTU; the packet's own device has
    1500 unless listed, another device not listed does not exist), the pid
    get_current_pid_tgid reports, the uid and gid get_current_uid_gid does and the name
    get_current_comm does (`comm`: this process's, at most 15 bytes), the cgroup
    get_current_cgroup_id does (`cgroup_id`: this process's) and the task address
    get_current_task does (`current_task`: where no run has memory), the sockets
    sk_lookup_tcp and the other lookups find (`sockets`, bpfjit.sockets); and, per
    thread, the context of the run in progress."""

    def __init__(self, maps: MapTable):
        self.maps = maps
        self.trace: list[str] = []
        self.trace_dropped = 0          # the oldest lines dropped past limits().trace_lines
        self.random = random.Random()
        self.routes: Callable | None = None
        self.mtus: dict[int, int] = {}
        self.pid = os.getpid()
        self.uid, self.gid = os.getuid(), os.getgid()
        self.comm = _own_comm()         # what get_current_comm reports
        self.cgroup_id = _own_cgroup_id()     # what get_current_cgroup_id reports
        self.current_task = CURRENT_TASK      # what get_current_task reports
        self.init_netns_cookie = 1      # get_netns_cookie(NULL): the first namespace's
        self._clock: Callable[[], int] = time.monotonic_ns
        self._clock_tables: weakref.WeakSet = weakref.WeakSet()    # see watch_clock
        self.realtime: Callable[[], int] = time.time_ns     # CLOCK_REALTIME's timers
        self.hz = 250
        self.sockets = SocketTable()    # what sk_lookup_tcp and the other lookups find
        self._local = threading.local()
        self._compiled: dict[tuple[int, str], Callable] = {}

    # ---- the clock ---------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], int]:
        """ktime_get_ns's clock (ns); while it is time.monotonic_ns, JIT code reads the
        same clock natively (bpfjit.nativeclock)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        for table in list(self._clock_tables):
            table.set_native_clock(clock is time.monotonic_ns)

    def watch_clock(self, table) -> None:
        """A JIT program's helper table (bpfjit.runtime.HelperTable) whose time helpers
        follow this env's clock: native while it is the monotonic clock."""
        self._clock_tables.add(table)
        table.set_native_clock(self._clock is time.monotonic_ns)

    # ---- the interpreter's run in progress (noted around a run with a context) -----------

    def begin(self, context) -> tuple:
        """Note the context of an interpreter run starting on this thread; returns what
        end() restores (a helper may start a nested run).  JIT runs are not noted:
        their helpers find the context by the run's packet (HelperCall.context)."""
        local = self._local
        outer = (getattr(local, "context", None),)
        local.context = context
        return outer

    def end(self, outer: tuple) -> None:
        self._local.context = outer[0]

    @property
    def context(self):
        return getattr(self._local, "context", None)

    def tail_depth(self) -> int:
        return getattr(self._local, "tail_depth", 0)

    def run_tail_call(self, target, call: "HelperCall") -> int:
        """Run `target` (a Program of this object) on the caller's context and engine
        (compiled once: the cache keeps `target` alive, so its id names it)."""
        engine = call.engine or "interp"
        key = (id(target), engine)
        fn = self._compiled.get(key)
        if fn is None:
            from . import compile as compile_program
            fn = self._compiled[key] = compile_program(target, engine)
        ctx = call.context
        if ctx is not None:
            ctx.read_back()             # the caller's field writes, before the block is refilled
        local = self._local
        depth = self.tail_depth()
        local.tail_depth = depth + 1
        try:
            return fn(ctx)
        finally:
            local.tail_depth = depth

    def run_timers(self) -> int:
        """Fire the timers of this object's maps whose time has come on their clocks
        (`clock`, or `realtime` for CLOCK_REALTIME), earliest first, each callback on the
        engine of the run that named it; a timer fires at most once per call (one its
        callback arms again for a time already come waits for the next call).  The
        number of callbacks run (bpfjit.helpers.timers)."""
        from .helpers.timers import fire_due
        return fire_due(self)

    # ---- the helpers, bound to an engine's memory ----------------------------------------

    def helpers(self, memory: Callable[[], HelperMemory], engine: str = "interp",
                prog_type: str | None = None, program=None) -> dict[int, Callable]:
        """Helper functions by kernel id, for `program` (of `prog_type`) on `engine`;
        `memory()` gives the current run's memory."""
        call = HelperCall(self, memory, engine, prog_type, program)
        return {hid: _bind(helper.impl, call) for hid, helper in KERNEL_HELPERS.items()}


def _bind(impl: Callable, call: "HelperCall") -> Callable:
    """impl(call, r1..r5) as a function of r1..r5 (a partial: no extra Python frame)."""
    return functools.partial(impl, call)


class HelperCall:
    """What a helper implementation sees of the run that called it."""

    def __init__(self, env: KernelEnv, memory: Callable[[], HelperMemory], engine: str,
                 prog_type: str | None = None, program=None):
        self.env = env
        self._memory = memory
        self.engine = engine
        self.prog_type = prog_type      # of the program calling (where its headers are)
        self.program = program          # the Program calling (a timer calls it back)
        self._handles = {map_handle(i): (i, m) for i, m in enumerate(env.maps.list)}

    @property
    def memory(self) -> HelperMemory:
        return self._memory()

    @property
    def context(self):
        """The context of the run that called: the interpreter notes it per thread
        (KernelEnv.begin); a JIT run is found by its packet's address, which spares
        every JIT call the note, and brought up to date with what native helpers did
        to its frame (PacketContext.catch_up)."""
        if self.engine == "interp":
            return self.env.context
        ctx = context_at(self.memory.packet()[0])
        if ctx is not None:
            ctx.catch_up()          # (what native helpers changed so far in the run)
        return ctx

    @property
    def context_kind(self) -> str | None:
        ctx = self.context
        return None if ctx is None else ctx.KIND

    def socket_owner(self, address: int) -> object:
        """Whose socket a program's socket pointer is: the bpfjit.Socket of env.sockets
        at `address`, or the context's own (its `socket`, or the context itself when it
        shows a socket without one); HelperArgumentError for any other address."""
        address = self.socket_address(address)
        table = self.env.sockets
        found = table.socket_at(address - self.memory.socket_base(table))
        if found is not None:
            return found
        ctx = self.context
        if ctx is not None and address and address == getattr(ctx, "socket_address", None):
            return getattr(ctx, "socket", None) or ctx
        raise HelperArgumentError(f"{address:#x} is no socket a program was given")

    def socket_address(self, address: int) -> int:
        """The address of the struct bpf_sock of the socket whose struct bpf_tcp_sock is at
        `address` (a table socket's in the table's second arena, a context's socket's
        after its struct bpf_sock); any other address as it is."""
        table = self.env.sockets
        offset = address - self.memory.tcp_socket_base(table)
        if 0 <= offset < CAPACITY * TCP_SOCK_SIZE and offset % TCP_SOCK_SIZE == 0:
            return self.memory.socket_base(table) + offset // TCP_SOCK_SIZE * SOCKET_SIZE
        ctx = self.context
        own = getattr(ctx, "socket_address", None) if ctx is not None else None
        if own and address == own + SOCKET_SIZE:
            return own
        return address

    def the_map(self, handle: int):
        """(index, map) for a map handle a program passed; HelperArgumentError if it is
        not one."""
        found = self._handles.get(handle)
        if found is None:
            raise HelperArgumentError(f"{handle:#x} is not a map handle")
        return found
