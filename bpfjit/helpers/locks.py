"""Spin locks in map values: bpf_spin_lock (93) and bpf_spin_unlock (94).

The lock's rules (who holds it, invisible to Python, never written by an update, a run
that trapped holding one) are bpfjit.maps.spinlock's; the verifier's (one held at a
time, no call while held, released before the exit, no load or store of it) are
bpfjit.verifier.locks'.  Here: which lock a pointer names, in every engine's
addresses."""

from __future__ import annotations

from ..errors import HelperArgumentError
from ..maps import spinlock
from .fields import value_field
from .spec import KernelHelper, Signature

__all__ = ["HELPERS"]


def _the_lock(call, address: int) -> tuple:
    """(map, slot) whose spin lock is at `address` (as the program sees addresses)."""
    return value_field(call, address, "spin_lock")


def _lock(call, r1, *_) -> int:
    spinlock.acquire(*_the_lock(call, r1))
    return 0


def _unlock(call, r1, *_) -> int:
    m, slot = _the_lock(call, r1)
    mine = spinlock.held()
    if mine is None or mine[0] is not m or mine[1] != slot:
        raise HelperArgumentError(f"bpf_spin_unlock of the lock of map {m.name!r} (value "
                                  f"{slot}), which this run does not hold")
    spinlock.release(m, slot)
    return 0


HELPERS = [
    KernelHelper(93, "spin_lock", Signature(("spin_lock",), (0, 0), lock="take"), _lock,
                 "take the spin lock of a map value (waiting for another thread's run)"),
    KernelHelper(94, "spin_unlock", Signature(("spin_lock",), (0, 0), lock="give back"),
                 _unlock, "give back the spin lock this run took"),
]
