"""`struct bpf_spin_lock` in map values: taking and giving back the lock.

A hash or array map whose value type has a `struct bpf_spin_lock` member (its BTF
says where: `MapSpec.spin_lock`, a byte offset) has a lock in every value.  Programs
take it with bpf_spin_lock (93) and give it back with bpf_spin_unlock (94); the
verifier makes sure a run holds at most one, calls nothing while it does and releases
it before it ends, and that no load or store touches its bytes.  As in the kernel,
those bytes read as 0 from Python and no update writes them (Python's, or a program's
map_update_elem); an update with BPF_F_LOCK copies the value holding the lock.

Who holds which lock is kept beside the map (`Map.locks`: slot -> the holder's
token), not in its bytes: `dict.setdefault` takes one atomically between threads (a
run's native code releases the GIL; the helpers that take and give back locks run in
Python), and nothing a program stores, even through a pointer the verifier could not
follow, can leave a lock taken.  A run that stops on a trap while it holds a lock
cannot give it back; the thread's next taking of a lock gives it back first (no run on
a thread can be holding one then: a run holding a lock calls nothing, so no other run
starts on its thread before it ends).  A lock that stays taken longer than
`WAIT_SECONDS` (held by a run on another thread that stopped on a trap) fails the
waiting run with SpinLockTimeout instead of hanging it.
"""

from __future__ import annotations

import threading
import time

__all__ = ["LOCK_SIZE", "WAIT_SECONDS", "SpinLockTimeout", "acquire", "release", "held",
           "locked_write"]

LOCK_SIZE = 4                   # struct bpf_spin_lock { __u32 val; }
WAIT_SECONDS = 1.0
_local = threading.local()      # .held: (map, slot) of the lock this thread's run took;
#                                 .token: this thread's mark in Map.locks


class SpinLockTimeout(RuntimeError):
    """A lock stayed taken for WAIT_SECONDS (the engines report it as a HelperError at
    the call)."""


def _token() -> object:
    token = getattr(_local, "token", None)
    if token is None:
        token = _local.token = object()
    return token


def held() -> tuple | None:
    """(map, slot) of the lock this thread's run took and has not given back, if any."""
    return getattr(_local, "held", None)


def acquire(m, slot: int, track: bool = True) -> None:
    """Take the lock of slot `slot` of `m`, waiting for another thread's run to give it
    back; `track`: a run takes it (released by its unlock, or by this thread's next
    acquire when the run stopped on a trap first)."""
    if track:
        stale = getattr(_local, "held", None)
        if stale is not None:               # a run on this thread stopped holding it
            release(*stale)
    token = _token()
    locks = m.locks
    if locks.setdefault(slot, token) is not token:
        deadline = time.monotonic() + WAIT_SECONDS
        while locks.setdefault(slot, token) is not token:
            if time.monotonic() > deadline:
                raise SpinLockTimeout(f"the bpf_spin_lock of map {m.name!r} (value {slot}) "
                                      f"stayed taken for {WAIT_SECONDS} s")
            time.sleep(0)                   # let the holder's thread run
    if track:
        _local.held = (m, slot)


def release(m, slot: int) -> None:
    """Give back the lock of slot `slot` of `m`, which this thread holds (and forget it
    as this thread's run's)."""
    if m.locks.get(slot) is _token():
        del m.locks[slot]
    mine = getattr(_local, "held", None)
    if mine is not None and mine[0] is m and mine[1] == slot:
        _local.held = None


def locked_write(m, slot: int, write) -> None:
    """Run `write()` holding the lock of slot `slot` (an update with BPF_F_LOCK)."""
    acquire(m, slot, track=False)
    try:
        write()
    finally:
        del m.locks[slot]
