"""`struct bpf_spin_lock` in map values: the lock word, taken and released.

A hash or array map whose value type has a `struct bpf_spin_lock` member (its BTF
says where: `MapSpec.spin_lock`, a byte offset) keeps a 4-byte lock word in every
value, 0 when free.  Programs take it with bpf_spin_lock (93) and give it back with
bpf_spin_unlock (94); the verifier makes sure a run holds at most one, calls nothing
while it does and releases it before it ends, and that no load or store touches it.
As in the kernel, the word is invisible to Python (a value read shows it as 0) and no
update writes it (Python's, or a program's map_update_elem); an update with
BPF_F_LOCK copies the value while holding it.

Every write of a lock word goes through here, under one process-wide mutex, so taking
one is atomic between threads (a run's native code releases the GIL; the helpers that
take and give back the word run in Python).  A run that stops on a trap while it
holds a lock cannot give it back; the thread's next taking of a lock gives it back
first (no run on a thread can be holding one then: a run holding a lock calls
nothing, so no other run starts on its thread before it ends).  A word that stays
taken longer than `WAIT_SECONDS` (held by a run on another thread that stopped on a
trap, or written through a pointer the verifier could not follow) fails the waiting
run with SpinLockTimeout instead of hanging it.
"""

from __future__ import annotations

import threading
import time

from ..native import ffi

__all__ = ["LOCK_SIZE", "WAIT_SECONDS", "SpinLockTimeout", "acquire", "release", "held",
           "locked_write"]

LOCK_SIZE = 4                   # struct bpf_spin_lock { __u32 val; }
WAIT_SECONDS = 1.0
_mutex = threading.Lock()       # every test-and-set and release of a lock word
_local = threading.local()      # .held: (map, slot) the last lock taken on this thread


class SpinLockTimeout(RuntimeError):
    """A lock word stayed taken for WAIT_SECONDS (the engines report it as a
    HelperError at the call)."""


def _word(m, slot: int):
    """The lock word of slot `slot` of map `m`, as a cffi uint32 pointer."""
    return ffi.cast("uint32_t *", m.address + slot * m.value_size + m.spec.spin_lock)


def held() -> tuple | None:
    """(map, slot) of the lock this thread last took and has not given back, if any."""
    return getattr(_local, "held", None)


def _take(word) -> bool:
    with _mutex:
        if word[0]:
            return False
        word[0] = 1
        return True


def acquire(m, slot: int, track: bool = True) -> None:
    """Take the lock of slot `slot` of `m`, waiting for another thread's run to give it
    back; `track`: a run takes it (released by its unlock, or by this thread's next
    acquire when the run stopped on a trap first)."""
    if track:
        stale = held()
        if stale is not None:               # a run on this thread stopped holding it
            release(*stale)
    word = _word(m, slot)
    deadline = None
    while not _take(word):
        now = time.monotonic()
        if deadline is None:
            deadline = now + WAIT_SECONDS
        elif now > deadline:
            raise SpinLockTimeout(f"the bpf_spin_lock of map {m.name!r} (value {slot}) "
                                  f"stayed taken for {WAIT_SECONDS} s")
        time.sleep(0)                       # let the holder's thread run
    if track:
        _local.held = (m, slot)


def release(m, slot: int) -> None:
    """Give back the lock of slot `slot` of `m` (and forget it as this thread's)."""
    with _mutex:
        _word(m, slot)[0] = 0
    mine = held()
    if mine is not None and mine[0] is m and mine[1] == slot:
        _local.held = None


def locked_write(m, slot: int, write) -> None:
    """Run `write()` holding the lock of slot `slot` (an update with BPF_F_LOCK)."""
    acquire(m, slot, track=False)
    try:
        write()
    finally:
        with _mutex:
            _word(m, slot)[0] = 0
