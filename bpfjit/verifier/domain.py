"""The verifier's abstract values: what a register (or a spilled stack slot) may hold.

A value is uninitialised, a scalar, a pointer into the memory buffer, or a
pointer into a stack frame.  Numbers are tracked as unsigned and signed
intervals (as the Linux verifier does); the buffer length `len` (r2 at entry)
is kept symbolic, so a value may also be bounded relative to it:
len + len_lo <= value <= len + len_hi.  For pointers these bounds describe the
offset from the region's start (buffer) or from the frame's r10 (stack).

Values derived from one another by adding constants share a `link` id; when a
branch teaches something about one of them, all of them learn it (the kernel's
trick for packet pointers), which is what proves `if (p + 14 > end)` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Value", "replace", "UNINIT", "SCALAR", "MEM", "STACK", "MAP_PTR", "MAP_VALUE",
           "MAP_OR_NULL", "CTX", "scalar", "const", "top_scalar",
           "offset_value", "join", "widen", "with_len_bound", "U64", "S64_MIN", "S64_MAX",
           "MAX_LEN"]

U64 = (1 << 64) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
MAX_LEN = (1 << 32) - 1          # the verifier assumes buffers shorter than 4 GiB

UNINIT, SCALAR, MEM, STACK = "uninit", "scalar", "mem", "stack"
# loaded objects: a map's handle, a pointer into one of its values (or NULL until
# checked), and the program context (XDP).  For these, `frame` holds the map index.
MAP_PTR, MAP_VALUE, MAP_OR_NULL, CTX = "map", "map_value", "map_value_or_null", "ctx"
_INDEXED = (STACK, MAP_PTR, MAP_VALUE, MAP_OR_NULL)


@dataclass(eq=True)
class Value:
    """Immutable by convention (never assigned after creation; `replace` makes a changed
    copy): not a frozen dataclass, whose __init__ costs twice as much, in the verifier's
    hottest path."""
    kind: str
    umin: int = 0
    umax: int = U64
    smin: int = S64_MIN
    smax: int = S64_MAX
    len_lo: int | None = None    # value >= len + len_lo
    len_hi: int | None = None    # value <= len + len_hi
    frame: int = 0               # STACK: 0 = the current function's frame, 1 = its caller's...
    #                              MAP_*: the map's index
    link: tuple[int, int] | None = None   # (id, delta): value = hidden[id] + delta
    align: int = 0               # SCALAR: the value is a multiple of 2**align

    # ---- queries -------------------------------------------------------------------

    @property
    def is_const(self) -> bool:
        return self.kind == SCALAR and self.umin == self.umax

    @property
    def is_pointer(self) -> bool:
        return self.kind in (MEM, STACK, MAP_VALUE, CTX)

    def describe(self) -> str:
        """Short text for the verifier log, in the spirit of the kernel's."""
        if self.kind == UNINIT:
            return "?"
        if self.kind == SCALAR:
            if self.is_const:
                return f"{self.umin:#x}" if self.umin > 9 else str(self.umin)
            return "scalar" + self._bounds()
        if self.kind in (MEM, MAP_VALUE, CTX):
            name = self.kind if self.kind != MAP_VALUE else f"map_value[{self.frame}]"
            return name + self._bounds()
        if self.kind in (MAP_PTR, MAP_OR_NULL):
            return f"{self.kind}[{self.frame}]"
        where = "fp" if self.frame == 0 else f"fp[caller {self.frame}]"
        return where + self._bounds()

    def _bounds(self) -> str:
        parts = []
        if self.kind == SCALAR:
            if (self.umin, self.umax) != (0, U64):
                parts.append(f"u[{self.umin:#x},{self.umax:#x}]" if self.umax > 9999
                             else f"u[{self.umin},{self.umax}]")
            if (self.smin, self.smax) != (S64_MIN, S64_MAX) and self.smin < 0:
                parts.append(f"s[{self.smin},{self.smax}]")
        else:
            lo, hi = self.smin, self.smax
            parts.append(f"off={lo}" if lo == hi else
                         f"off=[{lo},{'?' if hi == S64_MAX else hi}]")
        if self.len_lo is not None or self.len_hi is not None:
            lo = "" if self.len_lo is None else f"len{self.len_lo:+d}<="
            hi = "" if self.len_hi is None else f"<=len{self.len_hi:+d}"
            parts.append(f"{lo}v{hi}")
        return "(" + ",".join(parts) + ")" if parts else ""


def replace(v: Value, **changes) -> Value:
    """`v` with some fields changed: dataclasses.replace without its generic checks,
    which took a third of the verifier's time."""
    new = object.__new__(Value)
    fields = new.__dict__
    fields.update(v.__dict__)
    fields.update(changes)
    return new


def _norm(v: Value) -> Value:
    """Tighten the unsigned and signed intervals against each other (and against len)."""
    umin, umax, smin, smax = v.umin, v.umax, v.smin, v.smax
    if v.len_hi is not None:            # v <= len + len_hi <= MAX_LEN + len_hi
        umax = min(umax, max(MAX_LEN + v.len_hi, 0))
    if v.align:                         # round the bounds inwards to multiples
        step = 1 << v.align
        umin, umax = -(-umin // step) * step, umax // step * step
    if smin >= 0:
        umin, umax = max(umin, smin), min(umax, smax)
    elif smax < 0:
        umin, umax = max(umin, smin + (1 << 64)), min(umax, smax + (1 << 64))
    if umax <= S64_MAX:
        smin, smax = max(smin, umin), min(smax, umax)
    elif umin > S64_MAX:
        smin, smax = max(smin, umin - (1 << 64)), min(smax, umax - (1 << 64))
    if umin > umax or smin > smax:       # contradictory: an infeasible path
        return v
    if (umin, umax, smin, smax) == (v.umin, v.umax, v.smin, v.smax):
        return v
    return replace(v, umin=umin, umax=umax, smin=smin, smax=smax)


def scalar(umin: int = 0, umax: int = U64, smin: int = S64_MIN, smax: int = S64_MAX,
           **extra) -> Value:
    return _norm(Value(SCALAR, umin, umax, smin, smax, **extra))


def const(value: int) -> Value:
    value &= U64
    signed = value - (1 << 64) if value > S64_MAX else value
    return Value(SCALAR, value, value, signed, signed, align=trailing_zeros(value))


def trailing_zeros(value: int) -> int:
    return 64 if value == 0 else (value & -value).bit_length() - 1


def top_scalar() -> Value:
    return Value(SCALAR)


def offset_value(kind: str, lo: int, hi: int, frame: int = 0, **extra) -> Value:
    """A pointer whose offset lies in [lo, hi] (offsets kept in the signed interval)."""
    return Value(kind, 0, U64, lo, hi, frame=frame, **extra)


def with_len_bound(v: Value, min_len: int) -> Value:
    """v with the tightest upper bound relative to len that it implies.

    With len >= min_len, a value at most `hi` is at most len + (hi - min_len).
    """
    if v.kind == SCALAR and v.umax <= MAX_LEN:
        derived = v.umax - min_len
    elif v.kind == MEM and v.smax <= MAX_LEN:
        derived = v.smax - min_len
    else:
        return v
    if v.len_hi is not None and v.len_hi <= derived:
        return v
    return _tidy(replace(v, len_hi=derived))


def join(a: Value, b: Value) -> Value:
    """The least value describing both (used where control flow merges)."""
    if a == b:
        return a
    if a.kind != b.kind or (a.kind in _INDEXED and a.frame != b.frame):
        return Value(UNINIT) if UNINIT in (a.kind, b.kind) else top_scalar()
    if a.kind == UNINIT:
        return a
    return _tidy(Value(a.kind, min(a.umin, b.umin), max(a.umax, b.umax), min(a.smin, b.smin),
                       max(a.smax, b.smax),
                       None if a.len_lo is None or b.len_lo is None else min(a.len_lo, b.len_lo),
                       None if a.len_hi is None or b.len_hi is None else max(a.len_hi, b.len_hi),
                       a.frame, a.link if a.link == b.link else None,
                       min(a.align, b.align)))


def _tidy(v: Value) -> Value:
    return _norm(v) if v.kind == SCALAR else v


def _up(value: int, thresholds: tuple[int, ...], limit: int) -> int:
    """The smallest threshold at least `value`, else the limit."""
    return next((t for t in thresholds if t >= value), limit)


def _down(value: int, thresholds: tuple[int, ...], limit: int) -> int:
    return next((t for t in reversed(thresholds) if t <= value), limit)


def widen(old: Value, new: Value, thresholds: tuple[int, ...] = ()) -> Value:
    """Like join, but a bound still moving after several visits jumps outward to the
    next threshold (the program's comparison constants), or to its limit."""
    j = join(old, new)
    if j.kind in (UNINIT,) or old.kind != j.kind:
        return j
    return _tidy(Value(j.kind,
                 old.umin if j.umin >= old.umin else _down(j.umin, thresholds, 0),
                 old.umax if j.umax <= old.umax else _up(j.umax, thresholds, U64),
                 old.smin if j.smin >= old.smin else _down(j.smin, thresholds, S64_MIN),
                 old.smax if j.smax <= old.smax else _up(j.smax, thresholds, S64_MAX),
                 j.len_lo if j.len_lo is not None and old.len_lo is not None
                 and j.len_lo >= old.len_lo else None,
                 j.len_hi if j.len_hi is not None and old.len_hi is not None
                 and j.len_hi <= old.len_hi else None,
                 j.frame, None, j.align))
