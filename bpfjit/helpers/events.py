"""Events out of a program: perf_event_output (25) and the ring buffer's output (130),
reserve (131), submit (132) and discard (133).  Records go to the map's `.records`."""

from __future__ import annotations

import errno

from ..errors import HelperArgumentError
from ..maps import PerfEventArray, RingBuf
from ..semantics import M64
from .spec import KernelHelper, Signature

__all__ = ["HELPERS"]

BPF_F_CURRENT_CPU = 0xFFFFFFFF
_CTXLEN_SHIFT, _CTXLEN_MASK = 32, 0xFFFFF


def perf_event_output(call, r1, r2, r3, r4, r5) -> int:
    """(ctx, map, flags, data, size): a record of `size` bytes at r4, followed by the
    first flags >> 32 bytes of the packet (BPF_F_CTXLEN_MASK), for CPU flags & 0xffffffff
    (BPF_F_CURRENT_CPU: CPU 0)."""
    _, m = call.the_map(r2)
    if not isinstance(m, PerfEventArray):
        return -errno.EINVAL & M64
    cpu = r3 & 0xFFFFFFFF
    cpu = 0 if cpu == BPF_F_CURRENT_CPU else cpu
    extra = (r3 >> _CTXLEN_SHIFT) & _CTXLEN_MASK
    mem = call.memory
    data = mem.read(r4, r5) if r5 else b""
    if extra:
        address, length = mem.packet()
        if extra > length:
            return -errno.EFAULT & M64
        data += mem.read(address, extra)
    return m.output(cpu, data) & M64


def _ringbuf(call, handle: int) -> tuple[int, RingBuf]:
    index, m = call.the_map(handle)
    if not isinstance(m, RingBuf):
        raise HelperArgumentError(f"map {m.name!r} is a {m.spec.type_name}, not a ringbuf")
    return index, m


def ringbuf_output(call, r1, r2, r3, r4, r5) -> int:
    _, m = _ringbuf(call, r1)
    return m.output(call.memory.read(r2, r3) if r3 else b"") & M64


def ringbuf_reserve(call, r1, r2, r3, r4, r5) -> int:
    index, m = _ringbuf(call, r1)
    offset = m.reserve(r2) if r3 == 0 and r2 <= m.max_entries else None
    return 0 if offset is None else call.memory.map_address(index) + offset


def _commit(call, address: int, keep: bool) -> int:
    for index, m in enumerate(call.env.maps.list):
        base = call.memory.map_address(index)
        if isinstance(m, RingBuf) and base <= address < base + m.size:
            if m.commit(address - base, keep):
                return 0
            break
    raise HelperArgumentError(f"ringbuf_{'submit' if keep else 'discard'}: {address:#x} is "
                              f"not a record ringbuf_reserve returned")


HELPERS = [
    KernelHelper(25, "perf_event_output",
                 Signature(("ctx", "map", "any", "mem", "size_or_zero"), "errno",
                           map_types=frozenset({4})), perf_event_output,
                 "a record for the perf event array r2 (read from map.records)"),
    KernelHelper(130, "ringbuf_output", Signature(("map", "mem", "size_or_zero", "any"), "errno",
                                                  map_types=frozenset({27})),
                 ringbuf_output, "copy r3 bytes at r2 into the ring buffer r1"),
    KernelHelper(131, "ringbuf_reserve", Signature(("map", "any", "any"),
                                                   "ringbuf_mem_or_null",
                                                   map_types=frozenset({27})),
                 ringbuf_reserve, "room for an r2-byte record in ring buffer r1, or NULL"),
    KernelHelper(132, "ringbuf_submit", Signature(("ringbuf_mem", "any")),
                 lambda call, r1, r2, r3, r4, r5: _commit(call, r1, True),
                 "publish a reserved record"),
    KernelHelper(133, "ringbuf_discard", Signature(("ringbuf_mem", "any")),
                 lambda call, r1, r2, r3, r4, r5: _commit(call, r1, False),
                 "drop a reserved record"),
]
