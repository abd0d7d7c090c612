"""What every program context shares: a context block and the packet in one buffer.

A program's r1 points at its context (`struct xdp_md`, `struct __sk_buff`).  As the
kernel does, the verifier rewrites each access to a context field into an access
to a *context block* that the engines fill before each run: pointer fields
(`data`, `data_end`) become 8-byte slots holding real addresses, scalar fields keep
their offsets.  The block sits just before the packet in one buffer, so a JIT is
handed the packet and finds the block at `packet - HEADER`; the interpreter maps
the block at its own made-up address.
"""

from __future__ import annotations

import copy
import errno
import struct
import weakref
from dataclasses import dataclass

from ..errors import BpfError
from ..memory import SOCKET_BYTES, TCP_SOCK_BYTES, as_buffer
from ..native import ffi

__all__ = ["Field", "PacketContext", "BlockContext", "copy_back", "copy_packet_back",
           "refuse_context",
           "SOCKET_SPAN", "context_at"]

# what a context keeps of the socket its `sk` points at: its struct bpf_sock, then its
# struct bpf_tcp_sock (what bpf_tcp_sock gives for a TCP socket)
SOCKET_SPAN = SOCKET_BYTES + TCP_SOCK_BYTES


class _Known(weakref.ref):
    """A live context, known by the address JIT code is given for its packet."""
    __slots__ = ("address",)


def _forget(entry: _Known) -> None:
    """A context is gone: its address is no longer its (unless another took it)."""
    if _BY_PACKET.get(entry.address) is entry:
        del _BY_PACKET[entry.address]


# every live context by the native address of its packet's first byte, which is what
# a JIT run is given: a kernel helper called from JIT code finds its run's context
# here (context_at), so JIT runs need not note their context per thread before each run
_BY_PACKET: dict[int, _Known] = {}


def _know(ctx: "PacketContext") -> None:
    entry = _Known(ctx, _forget)
    entry.address = ctx.native_address
    _BY_PACKET[entry.address] = entry


def context_at(address: int) -> "PacketContext | None":
    """The live context whose packet starts at native `address` (a JIT run's memory),
    or None."""
    entry = _BY_PACKET.get(address)
    return None if entry is None else entry()


@dataclass(frozen=True)
class Field:
    """A context field as programs see it, and where the block keeps it.

    `kind` is "data", "data_end", "data_meta" (packet pointers: 8-byte slots),
    "socket" or "socket_or_null" (`sk`: the address of the context's socket, or 0 for
    none, in an 8-byte slot) or "scalar" (same offset and size in the block);
    `writable`: programs may store to it; `narrow_bytes`: a load of part of it must lie
    in its first so many bytes (bpf_sock's dst_port: 2, the rest padding);
    `narrow_start`: a load of part of it must start where it starts (bpf_sock's family).
    """
    name: str
    offset: int
    size: int
    kind: str = "scalar"
    block_offset: int | None = None
    writable: bool = False
    narrow_bytes: int | None = None
    narrow_start: bool = False

    @property
    def slot(self) -> int:
        return self.offset if self.block_offset is None else self.block_offset


class PacketContext:
    """A packet and the context block in front of it; subclasses give the layout.

    After a run `.packet` is the packet as the program left it, and the fields the
    program may write are read back into attributes."""

    HEADER = 0                       # bytes of the context block
    SPARE = 0                        # bytes the packet may grow by (resizing helpers)
    FIELDS: dict[str, Field] = {}
    KIND = ""                        # the Program.context value it serves
    # for a context made by its class only (not from a packet's bytes): which programs
    # take it and how to build one, for the error when a program is given anything else
    PROGRAMS = USAGE = ""
    NARROW_LOADS = False             # may a load read part of a scalar field?
    # every access's offset a multiple of its size, as every context's is_valid_access
    # in the kernel checks
    ALIGNED_LOADS = True
    META_ROOM = 0                    # bytes for metadata at the end of the block
    metalen = 0                      # of which the program uses this many
    # where the block keeps the `struct bpf_sock` its `sk` field points at (the
    # context's socket_block()), None when it has no `sk` field
    SOCKET_AT: int | None = None
    # the packet address the block was last filled for, while it still describes this
    # context (a JIT call then skips the fill); None when it must be filled again.  Only
    # contexts that notice every change to their fields set it (XdpContext).
    block_for: int | None = None

    def __init__(self, packet: bytes | bytearray | memoryview):
        data = as_buffer(packet)
        self.length = len(data)
        self.capacity = self.length + self.SPARE
        self.buffer = bytearray(self.HEADER + self.capacity)
        self.buffer[self.HEADER:self.HEADER + self.length] = data
        # for JIT code: the packet's first byte (the buffer is never resized: resizing
        # helpers move bytes within it) as a cffi pointer, which keeps it exported, and
        # its address
        self._exported = ffi.from_buffer("uint8_t[]", self.buffer, True)
        self.native_packet = self._exported + self.HEADER
        self.native_address = int(ffi.cast("uintptr_t", self.native_packet))
        _know(self)
        self.redirect = None         # where the last run sent the packet (a Redirect)
        self.clones = []             # the copies the last run sent on (Clone each)

    def __len__(self) -> int:
        return self.length

    def catch_up(self) -> None:
        """Take into the attributes what native code changed in the block during a JIT
        run, if this kind of context lets it (XdpContext); nothing here."""

    def _reload(self, packet: object) -> bool:
        """Become what type(self)(packet) would be, keeping the buffer, if this kind of
        context can (XdpContext, SkbContext); False, changing nothing, where it cannot."""
        return False

    def _room_for(self, packet: object) -> int | None:
        """`packet`'s length, when it is bytes or a bytearray this context's buffer can
        take with the room a fresh context gives it (for _reload); else None."""
        if type(packet) is not bytes and type(packet) is not bytearray:
            return None
        n = len(packet)
        return n if self.HEADER + n + self.SPARE <= len(self.buffer) else None

    def copy(self) -> "PacketContext":
        """An independent context with the same packet, metadata and fields (its own
        buffer), e.g. to run another engine on the same input."""
        twin = copy.copy(self)
        twin.buffer = bytearray(self.buffer)
        twin._exported = ffi.from_buffer("uint8_t[]", twin.buffer, True)
        twin.native_packet = twin._exported + self.HEADER
        twin.native_address = int(ffi.cast("uintptr_t", twin.native_packet))
        _know(twin)
        twin.block_for = None
        for name, value in vars(self).items():          # lists (cb) are the twin's own
            if isinstance(value, list):
                setattr(twin, name, list(value))
        return twin

    @property
    def packet(self) -> bytes:
        return bytes(self.buffer[self.HEADER:self.HEADER + self.length])

    def scapy(self):
        """The packet as the program left it, parsed by scapy from its Ethernet header
        (scapy is an optional dependency: pip install 'bpfjit[scapy]')."""
        try:
            from scapy.layers.l2 import Ether
        except ImportError:
            raise BpfError("parsing a packet needs scapy: pip install 'bpfjit[scapy]'") \
                from None
        return Ether(self.packet)

    def fill(self, data_address: int, block_address: int | None = None) -> None:
        """Write the context block for a run that sees the packet at `data_address`
        and the block at `block_address` (None: just before the packet, as JIT code
        finds it; the interpreter maps it elsewhere)."""
        self.redirect = None
        self.clones = []
        self.write_fields()
        if self.SOCKET_AT is not None:
            self._write_socket(data_address - self.HEADER if block_address is None
                               else block_address)
        self.refresh(data_address)

    def _write_socket(self, block_address: int) -> None:
        """The context's socket into the block at SOCKET_AT, and `sk` pointing at it
        (0 when the context has none)."""
        found = self.socket_block()
        slot = self.FIELDS["sk"].slot
        # where this run finds it (helpers given a socket pointer compare with it)
        self.socket_address = 0 if found is None else block_address + self.SOCKET_AT
        if found is not None:
            self.buffer[self.SOCKET_AT:self.SOCKET_AT + SOCKET_SPAN] = found + self.tcp_block()
        struct.pack_into("<Q", self.buffer, slot, self.socket_address)

    def socket_block(self) -> bytes | None:
        """The `struct bpf_sock` (80 bytes) of the socket `sk` points at: the context's
        `socket`'s, or None for a NULL `sk` (contexts with SOCKET_AT)."""
        sock = getattr(self, "socket", None)
        return None if sock is None else sock.block()

    def tcp_block(self) -> bytes:
        """The `struct bpf_tcp_sock` (112 bytes) of that socket: its `socket`'s, zeros
        without one (bpf_tcp_sock gives it only for a TCP socket)."""
        sock = getattr(self, "socket", None)
        return sock.tcp_block() if sock is not None else bytes(TCP_SOCK_BYTES)

    def write_fields(self) -> None:
        """Write the scalar fields of the block (subclasses)."""

    def refresh(self, data_address: int) -> None:
        """Write the packet pointers of the block (after a run starts or a resize)."""
        raise NotImplementedError

    # ---- resizing, for the helpers that grow or shrink the packet -----------------------

    def insert(self, offset: int, count: int) -> int:
        """Open `count` zero bytes at `offset`; 0, or -EINVAL when there is no room."""
        if not 0 <= offset <= self.length or self.length + count > self.capacity:
            return -errno.EINVAL
        at, end = self.HEADER + offset, self.HEADER + self.length
        self.buffer[at + count:end + count] = self.buffer[at:end]
        self.buffer[at:at + count] = bytes(count)
        self.length += count
        self.block_for = None
        return 0

    def remove(self, offset: int, count: int) -> int:
        """Close `count` bytes at `offset`; 0, or -EINVAL when there are fewer."""
        if not 0 <= offset or offset + count > self.length:
            return -errno.EINVAL
        at, end = self.HEADER + offset, self.HEADER + self.length
        self.buffer[at:end - count] = self.buffer[at + count:end]
        self.length -= count
        self.block_for = None
        return 0

    def adjust_tail(self, delta: int) -> int:
        """Grow (zero-filled) or shrink the packet at its end; 0 or -EINVAL."""
        return self.insert(self.length, delta) if delta >= 0 else \
            self.remove(self.length + delta, -delta)

    def read_back(self) -> None:
        """Take the writable fields back from the block after a run."""

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        """The fields a program of this type (and attach type) may store to, as the
        kernel allows."""
        return {f.name for f in cls.FIELDS.values() if f.writable}

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int] | None:
        """The values a program of this context (of `prog_type`, and attach type) may
        return, as the kernel's verifier checks at the exit (None: any)."""
        return None

    @classmethod
    def narrow(cls, name: str) -> bool:
        """Whether a load may read part of scalar field `name` (NARROW_LOADS: all)."""
        return cls.NARROW_LOADS

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None
                   ) -> set[str] | None:
        """The fields a program of this attach type (and program type) may read (None:
        every field)."""
        return None

    @classmethod
    def narrow_write(cls, name: str) -> bool:
        """Whether a store may write part of writable field `name` (as the kernel lets
        programs write `__sk_buff.cb[]` a byte at a time)."""
        return False

    @classmethod
    def wrap(cls, mem: object) -> "PacketContext":
        """`mem` as this context: the context itself, or a packet to put in one."""
        if isinstance(mem, cls):
            return mem
        if cls.USAGE:
            raise BpfError(f"a {cls.PROGRAMS} program takes a bpfjit.{cls.USAGE}, not "
                           f"{type(mem).__name__}")
        if isinstance(mem, PacketContext):
            raise BpfError(f"this program takes a {cls.__name__}, not a "
                           f"{type(mem).__name__}")
        if mem is None:
            raise BpfError(f"this program needs a packet: pass bpfjit.{cls.__name__}(packet) "
                           f"or the packet's bytes")
        return cls(mem)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self)}-byte packet>"


class BlockContext(PacketContext):
    """A context with no packet: the block alone (cgroup socket, device and sysctl
    programs), made by its class only (`PROGRAMS` and `USAGE`); `OUTCOME` names what
    `outcome()` describes, which the pytest plugin compares between engines."""

    OUTCOME = ""

    def __init__(self):
        super().__init__(b"")

    def refresh(self, data_address: int) -> None:
        """No packet pointers in this block."""

    def outcome(self) -> str:
        """What a run left in the context that the caller reads (subclasses)."""
        raise NotImplementedError


def refuse_context(mem: object) -> None:
    """A program without a context was handed one: say what to pass instead."""
    if isinstance(mem, PacketContext):
        raise BpfError(f"this program does not take a context (it is not an XDP, tc, "
                       f"socket or cgroup program); pass the {type(mem).__name__}'s "
                       f"packet bytes")


def copy_back(original: object, ctx: PacketContext) -> None:
    """After a run: the context's writable fields from its block, and, when the
    caller passed a writable buffer of the same size rather than a context, the
    packet as the program left it."""
    ctx.read_back()
    copy_packet_back(original, ctx)


def copy_packet_back(original: object, ctx: PacketContext) -> None:
    """After a run on a context made for the caller's packet `original`: the packet
    as the program left it, into `original` when it is a writable buffer of the same
    size (the context's fields, which the caller never sees, are not read back)."""
    kind = type(original)
    if kind is bytearray:                   # (the common case, without a memoryview)
        if len(original) == ctx.length:
            original[:] = ctx.buffer[ctx.HEADER:ctx.HEADER + ctx.length]
        return
    if original is ctx or kind is bytes or original is None:
        return
    try:
        view = memoryview(original)
    except TypeError:
        return
    if not view.readonly and view.nbytes == len(ctx):
        view.cast("B")[:] = ctx.buffer[ctx.HEADER:ctx.HEADER + len(ctx)]
