"""Memory a program may touch: the caller's buffer, the stack, and their addresses.

The interpreter models eBPF's flat 64-bit address space with regions at fixed
virtual addresses; every load and store is checked against the regions that
are live at that moment.  The addresses have bits set above 32 on purpose,
so that a truncation bug in address arithmetic shows up as a trap.
"""

from __future__ import annotations

import struct

from .errors import BpfError, HelperArgumentError, MemoryAccessError
from .isa import MAX_CALL_DEPTH, STACK_SIZE

__all__ = ["as_buffer", "Region", "AddressSpace", "MEM_BASE", "STACK_TOP", "MAP_BASE",
           "KEY_BASE", "CTX_BASE", "SOCK_BASE", "TCP_SOCK_BASE", "SOCKET_BYTES",
           "TCP_SOCK_BYTES"]

MEM_BASE = 0x0000_1000_0000_0000    # r1 at entry, when there is a memory buffer
STACK_TOP = 0x0000_7FF0_0000_0000   # r10 of the main program's frame
MAP_BASE = 0x0000_5000_0000_0000    # map i's values start at MAP_BASE + i * 2**32
CTX_BASE = 0x0000_0F00_0000_0000    # a program context block (XDP), read-only
KEY_BASE = 0x0000_6000_0000_0000    # the keys of map i a program walks, read-only
SOCK_BASE = 0x0000_6800_0000_0000   # the sockets lookups find (env.sockets), read-only
SOCKET_BYTES = 80                   # sizeof(struct bpf_sock)
TCP_SOCK_BASE = 0x0000_6900_0000_0000   # their struct bpf_tcp_sock (bpf_tcp_sock), read-only
TCP_SOCK_BYTES = 112                # sizeof(struct bpf_tcp_sock)
STACK_BYTES = STACK_SIZE * MAX_CALL_DEPTH

_UNSIGNED = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"),
             8: struct.Struct("<Q")}


def is_scapy_packet(obj: object) -> bool:
    """Whether `obj` is a scapy packet (told without importing scapy, which is optional
    and slow to import): anywhere bpfjit takes a packet, it takes one as its bytes."""
    return type(obj).__module__.startswith("scapy.") and hasattr(obj, "__bytes__")


def as_buffer(mem: object) -> memoryview:
    """A writable, flat byte view of the caller's memory.

    Writable buffers (bytearray, writable memoryview, numpy arrays) are used in
    place, so the program's writes land in them; read-only ones (bytes) and scapy
    packets are copied first.  None means no memory.
    """
    if mem is None:
        return memoryview(bytearray())
    if is_scapy_packet(mem):                        # a scapy packet: its bytes, copied
        return memoryview(bytearray(bytes(mem)))
    if isinstance(mem, str):
        raise BpfError("memory must be a bytes-like object (bytes, bytearray, memoryview, "
                       "numpy array), not str; encode it first")
    try:
        view = memoryview(mem)
    except TypeError:
        raise BpfError(f"memory must be a bytes-like object (bytes, bytearray, memoryview, "
                       f"numpy array) or None, not {type(mem).__name__}") from None
    if not view.c_contiguous:
        raise BpfError("memory buffer must be contiguous (use numpy.ascontiguousarray)")
    if view.readonly:
        return memoryview(bytearray(view))          # one copy, in C order
    return view.cast("B") if (view.format != "B" or view.ndim != 1) else view


class Region:
    """A range of addresses [lo, hi) backed by `buf`, whose byte 0 sits at `base`."""

    __slots__ = ("name", "base", "lo", "hi", "buf", "writable", "helpers")

    def __init__(self, name: str, base: int, buf: memoryview, writable: bool = True,
                 helpers: bool = True):
        self.name = name
        self.base = base
        self.lo = base
        self.hi = base + len(buf)
        self.buf = buf
        self.writable = writable
        # whether helpers reach it (sockets: read by the program alone, field by field,
        # as JIT code reads them; no helper copies them)
        self.helpers = helpers


class AddressSpace:
    """The regions of one run, with bounds-checked little-endian loads and stores."""

    def __init__(self, mem: memoryview, maps=(), context: memoryview | None = None,
                 frames: int = MAX_CALL_DEPTH, length: int | None = None,
                 room: int = 0, metalen: int = 0, stack_used: int | None = None,
                 keys=(), sockets: memoryview | None = None,
                 context_socket: int | None = None, tcp_sockets: memoryview | None = None):
        # the buffer; for a packet, `mem` starts `room` bytes before it (metadata room,
        # of which `metalen` are in use and reachable) and may go on past its length
        self.mem = Region("memory", MEM_BASE - room, mem)
        self.room = room
        self.mem.lo = MEM_BASE - metalen
        if length is not None:
            self.mem.hi = MEM_BASE + length
        self.stack = Region("stack", STACK_TOP - STACK_BYTES, memoryview(bytearray(STACK_BYTES)))
        self.stack.lo = STACK_TOP - STACK_SIZE          # only the main frame is live
        # what helpers may reach: the frames a run can reach, or the bytes of them its
        # verifier says it may touch (VerifiedProgram.stack_used: the JITs zero no more)
        self.helper_stack_lo = STACK_TOP - (STACK_SIZE * frames if stack_used is None
                                            else stack_used)
        self.regions = [self.mem, self.stack]
        self.map_regions = [Region(f"map {m.name}", MAP_BASE + (i << 32), memoryview(m.arena))
                            for i, m in enumerate(maps)]    # map values: every engine's
        self.regions.extend(self.map_regions)
        for i, m in keys:                       # keys bpf_for_each_map_elem points at
            self.regions.append(Region(f"keys of map {m.name}", KEY_BASE + (i << 32),
                                       m.key_view(), writable=False))
        if sockets is not None:                 # the sockets lookups return
            self.regions.append(Region("sockets", SOCK_BASE, sockets, writable=False,
                                       helpers=False))
        if tcp_sockets is not None:             # ... and their struct bpf_tcp_sock
            self.regions.append(Region("TCP sockets", TCP_SOCK_BASE, tcp_sockets,
                                       writable=False, helpers=False))
        if context is not None and context_socket is not None:
            # the socket the context's `sk` points at, and its struct bpf_tcp_sock: read
            # as any socket is
            end = context_socket + SOCKET_BYTES + TCP_SOCK_BYTES
            self.regions.append(Region("the context's socket", CTX_BASE + context_socket,
                                       context[context_socket:end], writable=False,
                                       helpers=False))
        # the context block is not a region: only the verifier's context accesses reach it
        self.context = Region("context", CTX_BASE, context if context is not None
                              else memoryview(b""), writable=False)

    def socket_base(self, table) -> int:
        """Where the sockets lookups find start (bpfjit.sockets)."""
        return SOCK_BASE

    def tcp_socket_base(self, table) -> int:
        """Where their struct bpf_tcp_sock start (the same index)."""
        return TCP_SOCK_BASE

    def load_context(self, addr: int, size: int, pc: int) -> int:
        c = self.context
        if not (c.lo <= addr and addr + size <= c.hi):
            raise MemoryAccessError(pc, addr, size)
        return _UNSIGNED[size].unpack_from(c.buf, addr - c.base)[0]

    def store_context(self, addr: int, size: int, value: int, pc: int) -> None:
        c = self.context
        if not (c.lo <= addr and addr + size <= c.hi):
            raise MemoryAccessError(pc, addr, size, write=True)
        _UNSIGNED[size].pack_into(c.buf, addr - c.base, value & ((1 << (8 * size)) - 1))

    def check_packet(self, addr: int, size: int, pc: int, write: bool) -> None:
        """An access the verifier placed in the buffer (region "mem") but could not
        prove: it must lie in the buffer, as the JITs check it, whatever else is there."""
        m = self.mem
        if not (m.lo <= addr and addr + size <= m.hi):
            raise MemoryAccessError(pc, addr, size, write=write)

    def check_stack(self, addr: int, size: int, pc: int, write: bool) -> None:
        """An access the verifier placed in the stack (region "stack") but could not
        prove: it must lie in the live frames, as the JITs check it."""
        s = self.stack
        if not (s.lo <= addr and addr + size <= s.hi):
            raise MemoryAccessError(pc, addr, size, write=write)

    def check_map(self, addr: int, size: int, pc: int, write: bool, index: int) -> None:
        """An access the verifier placed in the values of map `index` alone but could not
        prove: it must lie in that map's value arena, as the JITs check it."""
        m = self.map_regions[index]
        if not (m.lo <= addr and addr + size <= m.hi):
            raise MemoryAccessError(pc, addr, size, write=write)

    # ---- for helpers: pointers they are given ---------------------------------------------

    def _helper_region(self, addr: int, size: int) -> Region:
        """The region holding [addr, addr + size); any stack frame a run can reach
        counts, live or not (as in the JITs, which know no more at a helper call)."""
        for region in self.regions:
            lo = self.helper_stack_lo if region is self.stack else region.base
            if lo <= addr and addr + size <= region.hi and region.helpers:
                return region
        raise HelperArgumentError.outside(addr, size)

    def read(self, addr: int, size: int) -> bytes:
        region = self._helper_region(addr, size)
        return bytes(region.buf[addr - region.base:addr - region.base + size])

    def write(self, addr: int, data: bytes) -> None:
        region = self._helper_region(addr, len(data))
        if not region.writable:
            raise HelperArgumentError(f"a helper may not write the {region.name} "
                                      f"({len(data)} bytes at {addr:#x})")
        region.buf[addr - region.base:addr - region.base + len(data)] = data

    @staticmethod
    def map_address(index: int) -> int:
        return MAP_BASE + (index << 32)

    def packet(self) -> tuple[int, int]:
        return MEM_BASE, self.mem.hi - MEM_BASE

    def set_packet_length(self, length: int, metalen: int = 0) -> None:
        if not 0 <= length <= len(self.mem.buf) - self.room or not 0 <= metalen <= self.room:
            raise HelperArgumentError(f"a packet of {length} bytes does not fit its buffer")
        self.mem.hi = MEM_BASE + length
        self.mem.lo = MEM_BASE - metalen

    def set_depth(self, frames: int) -> None:
        """Make the stack frames of `frames` nested calls live (1 = main only)."""
        self.stack.lo = STACK_TOP - STACK_SIZE * frames

    def _find(self, addr: int, size: int) -> Region | None:
        end = addr + size
        for region in self.regions:
            if region.lo <= addr and end <= region.hi:
                return region
        return None

    def load(self, addr: int, size: int, pc: int) -> int:
        region = self._find(addr, size)
        if region is None:
            raise MemoryAccessError(pc, addr, size)
        return _UNSIGNED[size].unpack_from(region.buf, addr - region.base)[0]

    def _writable(self, addr: int, size: int, pc: int) -> Region:
        region = self._find(addr, size)
        if region is None or not region.writable:
            raise MemoryAccessError(pc, addr, size, write=True)
        return region

    def store(self, addr: int, size: int, value: int, pc: int) -> None:
        region = self._writable(addr, size, pc)
        _UNSIGNED[size].pack_into(region.buf, addr - region.base,
                                  value & ((1 << (8 * size)) - 1))

    def update(self, addr: int, size: int, pc: int, fn) -> int:
        """Read-modify-write for atomics: store fn(old) and return old.

        The access needs write permission, so a failure is reported as a write.
        """
        region = self._writable(addr, size, pc)
        codec = _UNSIGNED[size]
        offset = addr - region.base
        old = codec.unpack_from(region.buf, offset)[0]
        codec.pack_into(region.buf, offset, fn(old) & ((1 << (8 * size)) - 1))
        return old
