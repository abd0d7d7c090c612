"""What the bpf_conformance suite expects of a plugin besides the ISA itself.

The suite's call tests (`call 5`, and `callx` through a register holding 5)
call helper 5 with r1 = -1 and expect execution to carry on after the call.
"""

from __future__ import annotations

from .interpreter import Helper

__all__ = ["conformance_helpers", "CONFORMANCE_HELPER_ID"]

CONFORMANCE_HELPER_ID = 5


def _echo_r1(r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
    """Test helper: return the first argument unchanged."""
    return r1


def conformance_helpers() -> dict[int, Helper]:
    """Helpers to register when running the conformance suite."""
    return {CONFORMANCE_HELPER_ID: _echo_r1}
