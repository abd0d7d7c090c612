"""Helpers that call back into the program: bpf_loop (181) and bpf_for_each_map_elem
(164).

The engines run the loop themselves, around a call of the callback subprogram the
verifier found in r2 (`VerifiedProgram.callbacks`; for for_each_map_elem the map, in
`VerifiedProgram.iterated`); the implementation registered here only answers a call
the verifier could not see (`callx`, a helper id in a register)."""

from __future__ import annotations

import errno

from ..errors import BpfError
from .spec import KernelHelper, Signature

__all__ = ["HELPERS", "BPF_LOOP", "FOR_EACH_MAP_ELEM", "ITERABLE_TYPES", "MAX_LOOPS",
           "loop_result"]

BPF_LOOP = 181
FOR_EACH_MAP_ELEM = 164
# the maps for_each_map_elem walks, as the kernel's (array, per-CPU array, hash,
# per-CPU hash, LRU hash, LRU per-CPU hash)
ITERABLE_TYPES = frozenset((1, 2, 5, 6, 9, 10))
MAX_LOOPS = 1 << 23          # the kernel's BPF_MAX_LOOPS
_M64 = (1 << 64) - 1


def loop_result(nr_loops: int, flags: int) -> int | None:
    """What bpf_loop returns without calling back (-EINVAL for flags, -E2BIG for more
    than MAX_LOOPS trips, as 64-bit values), or None when it calls back."""
    if flags:
        return -errno.EINVAL & _M64
    if nr_loops & 0xFFFFFFFF > MAX_LOOPS:
        return -errno.E2BIG & _M64
    return None


def _indirect(call, *_) -> int:
    raise BpfError("bpf_loop was called through a register (callx); its callback is "
                   "known only to a direct call (call 181)")


def _indirect_for_each(call, *_) -> int:
    raise BpfError("for_each_map_elem was called through a register (callx); its "
                   "callback is known only to a direct call (call 164)")


HELPERS = [
    KernelHelper(BPF_LOOP, "loop", Signature(("any", "callback", "callback_ctx", "any")),
                 _indirect,
                 "calls the callback in r2 with (i, r3) for i < r1 (u32, at most 2^23) "
                 "until it returns 1; the trips made, -EINVAL for flags, -E2BIG"),
    KernelHelper(FOR_EACH_MAP_ELEM, "for_each_map_elem",
                 Signature(("map", "callback", "callback_ctx", "any"),
                           map_types=ITERABLE_TYPES),
                 _indirect_for_each,
                 "calls the callback in r2 with (map, key, value, r3) for each element of "
                 "the map in r1 until it returns 1; the elements visited, -EINVAL for flags"),
]
