"""Maps that carry events out of a program: PERF_EVENT_ARRAY and RINGBUF.

A program writes records (`bpf_perf_event_output`, `bpf_ringbuf_output`, or
`bpf_ringbuf_reserve` then `submit`); bpfjit keeps them, oldest first, in
`.records` for Python to read, and `drain()` takes them out.  A ring buffer holds
at most max_entries bytes of unread records (each with an 8-byte header, rounded
up to 8 bytes, as in the kernel): when it is full, writes fail with -EAGAIN until
Python drains it, as they would while user space was not reading.  A perf event
array keeps at most `buffer_bytes` of unread data per CPU slot (bpfjit.limits), and
then fails with -ENOSPC, as a full perf buffer does.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import BpfError
from ..limits import limits
from .base import Map, MapError, MapSpec

__all__ = ["PerfEventArray", "RingBuf", "PerfRecord", "RINGBUF_HEADER"]

RINGBUF_HEADER = 8


@dataclass(frozen=True)
class PerfRecord:
    """One perf event: the CPU slot it was written to, and its bytes."""
    cpu: int
    data: bytes


class _Events(Map):
    """No keys of its own from Python's side: `records`, `drain()`, `len()`."""

    PROGRAM_READ_ONLY = True

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.records: list = []

    def drain(self) -> list:
        """The records written so far, oldest first; they are removed."""
        out, self.records = self.records, []
        return out

    def lookup_slot(self, key: bytes) -> int | None:
        return None

    def update(self, key, value, flags: int = 0) -> None:
        raise MapError(errno.EINVAL, f"{self.spec.type_name} {self.name!r}: records come from "
                                     f"the program; read them with .records or .drain()")

    def delete(self, key) -> None:
        self.update(key, b"")

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self) -> Iterator[bytes]:
        return iter(())

    def __len__(self) -> int:
        return len(self.records)


class PerfEventArray(_Events):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: one slot per CPU; bpfjit runs on CPU 0.  Each slot
    keeps at most `buffer_bytes` of unread record data (bpfjit.limits:
    perf_buffer_bytes, when the map is made); past it an output fails with -ENOSPC and
    counts in `lost`, as a full perf buffer does."""

    PROGRAM_HELPERS = frozenset({"perf_event_output"})

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.buffer_bytes = limits().perf_buffer_bytes
        self.lost = 0                       # records refused because a slot was full
        self._unread: dict[int, int] = {}   # CPU slot -> bytes of its unread records

    def drain(self) -> list:
        self._unread = {}
        return super().drain()

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        if spec.key_size != 4 or spec.value_size != 4 or spec.max_entries <= 0:
            raise BpfError(f"perf_event_array {spec.name!r}: keys and values are 4 bytes and "
                           f"max_entries positive, not {spec.key_size}, {spec.value_size}, "
                           f"{spec.max_entries}")

    def output(self, cpu: int, data: bytes) -> int:
        """Record `data` for `cpu`; 0, -E2BIG for a CPU past max_entries, or -ENOSPC
        when the slot's unread records would pass `buffer_bytes`."""
        if cpu >= self.max_entries:
            return -errno.E2BIG
        unread = self._unread.get(cpu, 0) + len(data)
        if unread > self.buffer_bytes:
            self.lost += 1
            return -errno.ENOSPC
        self._unread[cpu] = unread
        self.records.append(PerfRecord(cpu, data))
        return 0


class RingBuf(_Events):
    """BPF_MAP_TYPE_RINGBUF of max_entries bytes; records are bytes."""

    PROGRAM_READ_ONLY = False        # a reserved record is the program's to fill
    PROGRAM_HELPERS = frozenset({"ringbuf_output", "ringbuf_reserve"})

    @staticmethod
    def check_spec(spec: MapSpec) -> None:
        size = spec.max_entries
        if spec.key_size or spec.value_size or size <= 0 or size & (size - 1) or size % 4096:
            raise BpfError(f"ringbuf {spec.name!r}: max_entries is its size in bytes, a power "
                           f"of 2 and a multiple of 4096, and it has no key or value (got "
                           f"{size}, key {spec.key_size}, value {spec.value_size})")

    @staticmethod
    def arena_bytes(spec: MapSpec) -> int:
        return spec.max_entries             # room for records reserved by the program

    def __init__(self, spec: MapSpec):
        super().__init__(spec)
        self.reserved: dict[int, int] = {}   # offset in the arena -> size, until submitted
        # the footprint of the first `count` records of the list `records` (_used): the
        # program appends, Python drains or takes records off the front
        self._counted: tuple[list, int, int] = (self.records, 0, 0)

    def _used(self) -> int:
        """The bytes unread records and reservations take (each record counted once,
        as it is appended: summing them all on every write made a run's writes slower
        the more records were waiting)."""
        records = self.records
        seen, count, total = self._counted
        if seen is not records or len(records) < count:     # drained, or taken from
            count = total = 0
        for record in records[count:]:
            total += _footprint(len(record))
        self._counted = (records, len(records), total)
        return total + sum(_footprint(n) for n in self.reserved.values())

    def output(self, data: bytes) -> int:
        """Append a record; 0, or -EAGAIN when the unread records fill the buffer."""
        if self._used() + _footprint(len(data)) > self.max_entries:
            return -errno.EAGAIN
        self.records.append(bytes(data))
        return 0

    def reserve(self, size: int) -> int | None:
        """Room for a `size`-byte record: its offset in the arena, or None when full."""
        if size <= 0 or self._used() + _footprint(size) > self.max_entries:
            return None
        offset = 0
        for start, n in sorted(self.reserved.items()):    # first fit among reservations
            if offset + size <= start:
                break
            offset = start + (n + 7) // 8 * 8
        if offset + size > self.max_entries:
            return None
        self.reserved[offset] = size
        return offset

    def commit(self, offset: int, keep: bool) -> bool:
        """Submit (keep) or discard the record reserved at `offset`; False if none is."""
        size = self.reserved.pop(offset, None)
        if size is None:
            return False
        if keep:
            self.records.append(bytes(self.arena[offset:offset + size]))
        return True


def _footprint(size: int) -> int:
    return RINGBUF_HEADER + (size + 7) // 8 * 8
