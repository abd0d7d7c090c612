"""Trap codes, and the exceptions every engine raises for them, built in one place.

The interpreter raises these directly; JIT code stores a TrapCode in the run
structure and the runtime raises the same exception, so that all engines give
the same class, pc and message for the same failure.
"""

from __future__ import annotations

import enum

from .errors import HelperError
from .isa import LDDW_PSEUDO

__all__ = ["TrapCode", "WRITE_FLAG", "unknown_helper", "helper_failed", "helper_bad_result",
           "btf_call", "lddw_pseudo"]

WRITE_FLAG = 0x100              # in trap_size: the access was a write


class TrapCode(enum.IntEnum):
    """Why generated code stopped early (the `trap` field of the run structure)."""
    NONE = 0
    MEMORY = 1          # trap_arg = address, trap_size = size | WRITE_FLAG
    BUDGET = 2
    CALL_DEPTH = 3
    HELPER_UNKNOWN = 4  # trap_arg = helper id
    HELPER_FAILED = 5   # the Python helper raised; the exception is kept aside
    BTF_CALL = 6        # trap_arg = BTF id
    LDDW_PSEUDO = 7     # trap_arg = lddw src type
    HELPER_CALLS = 8    # the run's helper calls ran out (bpfjit.limits)
    UNREACHABLE = 9     # a pc the verifier proved no run reaches (JITs emit no code there)
    RERUN = 10          # the budget charged ahead ran out: run again, counted exactly
                        # (bpfjit.budgetahead)
    TAIL_DONE = 11      # not a trap: a tail call ran its program, whose r0 (trap_arg)
                        # ends the run (JIT code returns it: bpfjit.helpers.maps)


def unknown_helper(pc: int, helper_id: int) -> HelperError:
    return HelperError(pc, f"call to unknown helper id {helper_id}")


def helper_failed(pc: int, helper_id: int, exc: BaseException) -> HelperError:
    return HelperError(pc, f"helper {helper_id} raised {type(exc).__name__}: {exc}")


def helper_not_called(pc: int) -> HelperError:
    return HelperError(pc, "the helper could not be called: Python raised before it ran "
                           "(the exception was reported as unraisable)")


def helper_bad_result(pc: int, helper_id: int, result: object) -> HelperError:
    return HelperError(pc, f"helper {helper_id} returned {type(result).__name__}, not an int")


def btf_call(pc: int, btf_id: int) -> HelperError:
    return HelperError(pc, f"helper calls by BTF id are not supported (BTF id {btf_id})")


def lddw_pseudo(pc: int, src: int) -> HelperError:
    return HelperError(pc, f"lddw {LDDW_PSEUDO.get(src, src)} needs maps, which this "
                           f"program was not loaded with")
