"""Layout of `struct bpfjit_run`, the runtime structure JIT code and Python share.

One list, read by the cffi declaration (bpfjit.native) and by every backend
that addresses the fields from generated code, so the layout lives in one place.
Every field is 8 bytes, so a field's offset is 8 times its index.

Each run has its own structure on the native stack: the entry point copies the
configuration fields from the one the caller passes (one per compiled program, never
written by JIT code, so threads share it), and hands its own to helpers as their
sixth argument.  A run that traps calls `report_trap` with it before returning
TRAPPED, which is how the trap's details reach the Python caller.
"""

from __future__ import annotations

__all__ = ["RUN_FIELDS", "CONFIG_FIELDS", "TRAPPED", "field_index"]

# (name, C type, meaning)
RUN_FIELDS: list[tuple[str, str, str]] = [
    ("trap", "uint64_t", "0 while running; a TrapCode once the program stopped on a trap"),
    ("trap_pc", "uint64_t", "pc of the instruction that trapped"),
    ("trap_arg", "uint64_t", "faulting address, or the helper / BTF id, or the lddw type"),
    ("trap_size", "uint64_t", "access size in bytes, | 0x100 for a write"),
    ("budget", "int64_t", "instructions the run may still execute"),
    ("budget_limit", "int64_t", "the budget of one run; the entry point copies it to budget"),
    ("helpers", "void *", "helper function pointers, indexed by helper id (NULL = none)"),
    ("n_helpers", "uint64_t", "length of the helper table"),
    ("report_trap", "void *", "void report_trap(struct bpfjit_run *): called when a run traps"),
    ("helper_calls", "int64_t", "helper calls the run may still make (the caller's: limit)"),
    ("scratch", "uint64_t", "reserved for engines; JIT code may use it freely"),
    # written by the entry point, read by helpers to check the pointers they are given
    ("mem", "uint64_t", "address of the memory buffer (the packet, for XDP)"),
    ("mem_len", "uint64_t", "its length"),
    ("stack_lo", "uint64_t", "lowest stack address a helper may be given (what a run may touch)"),
    ("stack_hi", "uint64_t", "one past its highest address"),
]

# What the entry point returns when a run trapped (after calling report_trap).  A program
# may return this value too: it only tells the caller to look for a reported trap, so
# the common path compares one int.  Below 2**30, so that CPython compares it fast.
TRAPPED = 0x3B5A_C3E1

# the fields the entry point copies from the caller's structure into the run's own
CONFIG_FIELDS = ("budget_limit", "helpers", "n_helpers", "report_trap", "helper_calls")

_INDEX = {name: i for i, (name, _, _) in enumerate(RUN_FIELDS)}


def field_index(name: str) -> int:
    return _INDEX[name]

