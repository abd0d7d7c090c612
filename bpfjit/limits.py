"""Resource limits a host can set and rely on, for programs it did not write.

Each is enforced where the resource is taken, with a clear error:

- `program_slots`: instruction slots of one program (the kernel's limit for a
  privileged loader); a larger program is a VerifierError.
- `map_bytes`: native memory of one map's values; `object_map_bytes`: of all the maps
  of one loaded object together, values and native key indexes (checked before any is
  allocated).  A map over them is a BpfError, an object an ElfError.
- `helper_calls`: helper calls one run may make (any helper, map helpers done in native
  code included, so every engine stops at the same call); one more is a trap,
  HelperCallsExceeded.  `bpfjit.compile(..., helper_calls=N)` sets it per program.
- `perf_buffer_bytes`: unread data a perf event array keeps per CPU slot; past it
  `bpf_perf_event_output` fails with -ENOSPC and the record is counted as lost, as a
  full perf buffer does in the kernel.  (A ring buffer is bounded by its own size.)
- `trace_lines`: lines of `bpf_trace_printk` output an object's env keeps
  (`env.trace`): past it the oldest sixteenth is dropped and counted in
  `env.trace_dropped`, as the kernel's trace buffer overwrites its oldest entries (a
  program printing on every packet of a long-running host would otherwise grow it
  without end).

They are process-wide: `set_limits(...)` changes them for what is loaded or compiled
afterwards, and returns the previous ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import BpfError

__all__ = ["Limits", "limits", "set_limits", "helper_call_limit"]


def _check_count(name: str, value: object, lowest: int) -> None:
    """BpfError unless `value` is an int (not a bool) from `lowest` (0 or 1) to below
    2**62."""
    if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value < 2**62:
        what = "a positive int" if lowest else "a non-negative int"
        raise BpfError(f"{name} must be {what} below 2**62, got {value!r}")


@dataclass(frozen=True)
class Limits:
    """The resource limits in force (see the module docstring)."""
    program_slots: int = 1_000_000
    map_bytes: int = 256 << 20
    object_map_bytes: int = 1 << 30
    helper_calls: int = 1_000_000
    perf_buffer_bytes: int = 4 << 20
    trace_lines: int = 100_000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _check_count(f"limit {field.name}", getattr(self, field.name), 1)


_current = [Limits()]


def limits() -> Limits:
    """The limits in force."""
    return _current[0]


def set_limits(**changes: int) -> Limits:
    """Change some limits (by name) for what is loaded or compiled from now on; returns
    the previous limits, which `set_limits(**dataclasses.asdict(previous))` restores."""
    names = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise BpfError(f"unknown limit(s) {', '.join(unknown)}; the limits are "
                       f"{', '.join(sorted(names))}")
    previous = _current[0]
    _current[0] = dataclasses.replace(previous, **changes)
    return previous


def helper_call_limit(helper_calls: int | None) -> int:
    """A run's limit on helper calls: `helper_calls` (a compile option), else the
    limit in force."""
    if helper_calls is None:
        return limits().helper_calls
    _check_count("helper_calls", helper_calls, 0)
    return helper_calls

