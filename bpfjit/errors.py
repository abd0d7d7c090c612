"""The exceptions bpfjit raises; every one derives from BpfError.

Each message says where (byte offset, line and column, or pc) and what went
wrong, in words a newcomer to eBPF can act on.
"""

from __future__ import annotations

__all__ = [
    "BpfError", "DecodeError", "AssembleError", "VerifierError", "ElfError",
    "BackendUnavailable", "BpfTrap", "MemoryAccessError", "BudgetExceeded",
    "HelperCallsExceeded", "CallDepthExceeded", "HelperError", "UnreachableReached",
]


class BpfError(Exception):
    """Base class of every error bpfjit raises on purpose."""


class DecodeError(BpfError):
    """Raw bytecode that is not a valid instruction stream."""

    def __init__(self, offset: int, reason: str):
        self.offset = offset
        self.reason = reason
        super().__init__(f"byte offset {offset} (instruction {offset // 8}): {reason}")


class AssembleError(BpfError):
    """Assembly text that does not assemble."""

    def __init__(self, line: int, column: int, reason: str):
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__(f"line {line}, column {column}: {reason}")


class VerifierError(BpfError):
    """A program the verifier refuses to run."""

    def __init__(self, pc: int, reason: str):
        self.pc = pc
        self.reason = reason
        where = f"pc {pc}" if pc >= 0 else "program"
        super().__init__(f"{where}: {reason}")


class ElfError(BpfError):
    """An ELF object file that cannot be loaded."""


class BackendUnavailable(BpfError):
    """An engine that cannot run on this machine; the message says how to fix it."""


class BpfTrap(BpfError):
    """A running program stopped by a runtime check, at instruction `pc`."""

    def __init__(self, pc: int, reason: str):
        self.pc = pc
        self.reason = reason
        super().__init__(f"pc {pc}: {reason}")


class MemoryAccessError(BpfTrap):
    """A load or store outside every region the program may touch."""

    def __init__(self, pc: int, address: int, size: int, write: bool = False):
        self.address = address
        self.size = size
        self.write = write
        what = "write" if write else "read"
        super().__init__(
            pc, f"out-of-bounds {what} of {size} byte{'s' if size != 1 else ''} "
                f"at address {address:#x}")


class BudgetExceeded(BpfTrap):
    """The instruction budget ran out: the program ran too long (or forever)."""

    def __init__(self, pc: int, budget: int):
        self.budget = budget
        super().__init__(pc, f"instruction budget of {budget} exhausted "
                             f"(infinite loop? raise it with budget=...)")


class HelperCallsExceeded(BpfTrap):
    """A run made more helper calls than its limit allows (bpfjit.limits)."""

    def __init__(self, pc: int, limit: int):
        self.limit = limit
        super().__init__(pc, f"more than {limit} helper calls in one run "
                             f"(raise the limit with helper_calls=...)")


class CallDepthExceeded(BpfTrap):
    """Too many nested local calls."""

    def __init__(self, pc: int, limit: int):
        self.limit = limit
        super().__init__(pc, f"call depth limit of {limit} frames exceeded")


class UnreachableReached(BpfTrap):
    """A run reached an instruction the verifier proved no run reaches, for which the
    JITs emit no code: a verifier bug, stopped here rather than run on."""

    def __init__(self, pc: int):
        super().__init__(pc, "reached an instruction the verifier proved unreachable "
                             "(a bpfjit verifier bug: please report the program)")


class HelperError(BpfTrap):
    """A helper call that failed: unknown id, or the helper itself raised."""


class HelperArgumentError(ValueError):
    """Raised inside a built-in helper for a bad argument (a pointer outside every
    region, a value that is not a map); the engine reports it as a HelperError at the
    call's pc.  Not a BpfError, so that it is wrapped rather than passed through."""

    @classmethod
    def outside(cls, address: int, size: int) -> "HelperArgumentError":
        """A pointer argument whose `size` bytes are in no region a helper may touch."""
        return cls(f"a helper argument points to {address:#x}, outside the buffer, the "
                   f"stack and the map values ({size} bytes)")
