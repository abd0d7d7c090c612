"""Interval arithmetic on scalars: the value range an ALU operation can produce.

Pure functions of the operands' ranges (bpfjit.verifier.domain.Value); relations
between registers are the zone's business (bpfjit.verifier.alu).  Every result
over-approximates RFC 9669's semantics (bpfjit.semantics) for all operand values in
range, including division by zero and 32-bit zero-extension.
"""

from __future__ import annotations

from .. import semantics as sem
from .domain import (M32, S64_MAX, S64_MIN, U64, Value, common_mod, const, multiple, s32_view,
                     scalar, top_scalar)

__all__ = ["alu_result", "fits_signed", "result_align"]


def fits_signed(lo: int, hi: int) -> bool:
    return S64_MIN <= lo and hi <= S64_MAX


def _top(width: int) -> Value:
    return top_scalar() if width == 64 else scalar(0, M32)


def alu_result(op: str, width: int, a: Value | None, b: Value, movsx_bits: int = 0) -> Value:
    """The range of `a OP b` for scalars a (None for mov/movsx) and b."""
    limit = U64 if width == 64 else M32
    if b.is_const and (a is None or a.is_const):
        f = sem.alu_function(op, width, movsx_bits)
        return const(f(0 if a is None else a.umin, b.umin))
    if op == "mov":
        return b if width == 64 or b.umax <= M32 else scalar(0, M32)
    if op == "movsx":
        half = 1 << (movsx_bits - 1)
        if width == 64 and -half <= b.smin and b.smax < half:
            return b
        if width == 32 and 0 <= b.smin and b.smax < half:
            return b
        return scalar(smin=-half, smax=half - 1) if width == 64 else scalar(0, M32)
    assert a is not None
    narrow = width == 64 or (a.umax <= M32 and b.umax <= M32)   # no bits above 32 to lose
    align = result_align(op, a, b, width)
    # what an exact (unwrapped) sum, difference, product or shift is a multiple of
    mod = common_mod(a, b) if op in ("add", "sub") else multiple(a) * multiple(b) \
        if op == "mul" else multiple(a) << (b.umin & (width - 1)) if op == "lsh" \
        and b.is_const and multiple(a) < 1 << 32 else 1
    if op in ("add", "sub") and width == 32 and b.is_const and a.umax <= M32:
        # a 32-bit constant step (clang's `add32 r, -1` for `i - 1`): exact when the
        # result stays in [0, 2^32) throughout, as unsigned arithmetic then never wraps
        step = sem.sext(b.umin & M32, 32) * (1 if op == "add" else -1)
        if 0 <= a.umin + step and a.umax + step <= M32:
            return scalar(a.umin + step, a.umax + step, align=align, mod=mod)
    if op == "add":
        if narrow and a.umax + b.umax <= limit:
            return scalar(a.umin + b.umin, a.umax + b.umax, align=align, mod=mod)
        if width == 64 and fits_signed(a.smin + b.smin, a.smax + b.smax):
            return scalar(smin=a.smin + b.smin, smax=a.smax + b.smax, align=align, mod=mod)
        return _top(width)
    if op == "sub":
        if narrow and a.umin >= b.umax:
            return scalar(a.umin - b.umax, a.umax - b.umin, align=align, mod=mod)
        if width == 64 and fits_signed(a.smin - b.smax, a.smax - b.smin):
            return scalar(smin=a.smin - b.smax, smax=a.smax - b.smin, align=align, mod=mod)
        return _top(width)
    if op == "mul":
        if narrow and a.umax * b.umax <= limit:
            return scalar(a.umin * b.umin, a.umax * b.umax, align=align, mod=mod)
        if width == 64:
            products = [x * y for x in (a.smin, a.smax) for y in (b.smin, b.smax)]
            if fits_signed(min(products), max(products)):
                return scalar(smin=min(products), smax=max(products), align=align, mod=mod)
        return _top(width)
    if op == "div":                     # unsigned; division by zero gives 0
        top = a.umax if narrow else limit
        if b.is_const and narrow:
            c = b.umin & limit
            return const(0) if c == 0 else scalar(a.umin // c, a.umax // c)
        return scalar(0, top)
    if op == "mod":                     # unsigned; modulo by zero leaves the dividend
        top = a.umax if narrow else limit
        if b.is_const and narrow:
            c = b.umin & limit
            if c == 0 or a.umax < c:
                return scalar(a.umin, a.umax, align=a.align)
            return scalar(0, c - 1)
        return scalar(0, top)
    if op == "smod" and b.is_const:
        s = sem.sext(b.umin, width)
        if s != 0 and width == 64:
            m = abs(s) - 1
            return scalar(0, m) if a.smin >= 0 else scalar(smin=-m, smax=m)
        return _top(width)
    if op == "and":
        return scalar(0, min(a.umax, b.umax, limit), align=align)
    if op in ("or", "xor"):
        if not narrow:
            return _top(width)
        # no more than the sum (x | y and x ^ y are x + y less the common bits twice or
        # once), nor than the bits of the wider; the sum itself where no bit can be
        # common (one operand below the other's alignment: clang's `(k << 1) | bit`)
        top = min((1 << max(a.umax, b.umax).bit_length()) - 1, a.umax + b.umax)
        low = max(a.umin, b.umin) if op == "or" else 0
        if b.umax >> a.align == 0 or a.umax >> b.align == 0:
            low = a.umin + b.umin
        return scalar(low, min(top, limit), align=align)
    if op == "lsh" and b.is_const:
        k = b.umin & (width - 1)
        view = s32_view(a) if width == 64 and k == 32 else None
        if view is not None and a.s32 is not None:
            # x << 32 of a number below 2^32 is, as a signed 64-bit number, its signed
            # 32-bit value << 32: a `(s64)(s32)` extension's first half keeps the sign
            return scalar(a.umin << 32, a.umax << 32, view[0] << 32, view[1] << 32,
                          align=align, mod=mod)
        if narrow and a.umax << k <= limit:
            return scalar(a.umin << k, a.umax << k, align=align, mod=mod)
        if width == 64 and fits_signed(a.smin << k, a.smax << k):
            return scalar(smin=a.smin << k, smax=a.smax << k, align=align, mod=mod)
        return _top(width)
    if op == "lsh" and b.umax < width:       # a shift count in a known range
        if narrow and a.umax << b.umax <= limit:
            return scalar(a.umin << b.umin, a.umax << b.umax, align=min(a.align + b.umin, 64))
        return _top(width)
    if op == "rsh":
        if b.is_const:
            k = b.umin & (width - 1)
            if narrow:
                return scalar(a.umin >> k, a.umax >> k)
            return scalar(0, limit >> k)
        return scalar(0, a.umax if narrow else limit)
    if op == "arsh" and b.is_const:
        k = b.umin & (width - 1)
        if width == 64:
            return scalar(smin=a.smin >> k, smax=a.smax >> k)
        if a.umax <= M32 >> 1:          # non-negative as a 32-bit value
            return scalar(a.umin >> k, a.umax >> k)
        return _top(width)
    return _top(width)


def result_align(op: str, a: Value, b: Value, width: int) -> int:
    """How many low bits of a result are known to be zero."""
    x, y = a.align, b.align
    if op in ("add", "sub", "or", "xor"):
        return min(x, y)
    if op == "and":
        return max(x, y)
    if op == "mul":
        return min(x + y, 64)
    if op == "lsh" and b.is_const:
        return min(x + (b.umin & (width - 1)), 64)
    return 0
