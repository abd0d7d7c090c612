"""What each eBPF operation computes (RFC 9669), on unsigned 64-bit register values.

These small pure functions are the ground truth every engine is tested
against.  Operands are Python ints in [0, 2**64); immediates arrive already
sign-extended to 64 bits, which is right for both widths because 32-bit
operations only look at the low 32 bits.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["M32", "M64", "sext", "alu_function", "cond_function", "byte_swap",
           "SKF_NET_OFF", "SKF_LL_OFF", "legacy_packet_offset"]

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1


def sext(value: int, bits: int) -> int:
    """Sign-extend the low `bits` of value to a Python int (may be negative)."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# legacy packet loads (ldabs/ldind): offsets from these on name a header, not the packet
SKF_NET_OFF = -0x100000         # SKF_NET_OFF + k: byte k of the network header
SKF_LL_OFF = -0x200000          # SKF_LL_OFF + k: byte k of the link-layer (MAC) header


def legacy_packet_offset(k: int, mac: int | None, net: int) -> int | None:
    """The packet offset a legacy load's signed 32-bit offset `k` names, given where
    the MAC header (None: not in the packet) and the network header start: k itself
    when k >= 0; below 0, as the kernel's bpf_internal_load_pointer_neg_helper reads
    it, an offset from the network header from SKF_NET_OFF on, from the MAC header
    from SKF_LL_OFF on; None below that (the load fails)."""
    if k >= 0:
        return k
    if k >= SKF_NET_OFF:
        return net + k - SKF_NET_OFF
    if k >= SKF_LL_OFF and mac is not None:
        return mac + k - SKF_LL_OFF
    return None


def _trunc_div(x: int, y: int) -> int:
    """Signed division rounding toward zero (C semantics)."""
    q = abs(x) // abs(y)
    return -q if (x < 0) != (y < 0) else q


def _make_alu(bits: int) -> dict[str, Callable[[int, int], int]]:
    m = (1 << bits) - 1
    shift_mask = bits - 1

    def s(v: int) -> int:
        return sext(v, bits)

    return {
        "add": lambda a, b: (a + b) & m,
        "sub": lambda a, b: (a - b) & m,
        "mul": lambda a, b: ((a & m) * (b & m)) & m,
        # unsigned division by zero gives 0; modulo by zero leaves dst (truncated to width)
        "div": lambda a, b: (a & m) // (b & m) if b & m else 0,
        "mod": lambda a, b: (a & m) % (b & m) if b & m else a & m,
        "or": lambda a, b: (a | b) & m,
        "and": lambda a, b: a & b & m,
        "xor": lambda a, b: (a ^ b) & m,
        "lsh": lambda a, b: ((a & m) << (b & shift_mask)) & m,
        "rsh": lambda a, b: (a & m) >> (b & shift_mask),
        "arsh": lambda a, b: (s(a) >> (b & shift_mask)) & m,
        "mov": lambda a, b: b & m,
        # signed: truncating; INT_MIN / -1 wraps to INT_MIN and INT_MIN % -1 is 0
        "sdiv": lambda a, b: _trunc_div(s(a), s(b)) & m if b & m else 0,
        "smod": lambda a, b: (s(a) - s(b) * _trunc_div(s(a), s(b))) & m if b & m else a & m,
        "neg": lambda a, b: (-a) & m,
    }


_ALU = {64: _make_alu(64), 32: _make_alu(32)}


def alu_function(op: str, width: int, movsx_bits: int = 0) -> Callable[[int, int], int]:
    """f(dst, src) -> new dst for an ALU operation of the given width (32 or 64).

    32-bit results are zero-extended to 64 bits, as the RFC requires.
    """
    if op == "movsx":
        m = (1 << width) - 1
        return lambda a, b: sext(b, movsx_bits) & m
    return _ALU[width][op]


def _make_cond(bits: int) -> dict[str, Callable[[int, int], bool]]:
    m = (1 << bits) - 1

    def s(v: int) -> int:
        return sext(v, bits)

    return {
        "jeq": lambda a, b: (a & m) == (b & m),
        "jne": lambda a, b: (a & m) != (b & m),
        "jgt": lambda a, b: (a & m) > (b & m),
        "jge": lambda a, b: (a & m) >= (b & m),
        "jlt": lambda a, b: (a & m) < (b & m),
        "jle": lambda a, b: (a & m) <= (b & m),
        "jset": lambda a, b: bool(a & b & m),
        "jsgt": lambda a, b: s(a) > s(b),
        "jsge": lambda a, b: s(a) >= s(b),
        "jslt": lambda a, b: s(a) < s(b),
        "jsle": lambda a, b: s(a) <= s(b),
    }


_COND = {64: _make_cond(64), 32: _make_cond(32)}


def cond_function(op: str, width: int) -> Callable[[int, int], bool]:
    """cond(dst, src) -> taken? for a conditional jump of the given width."""
    return _COND[width][op]


def byte_swap(op: str, bits: int, value: int) -> int:
    """le/be/bswap of the low `bits` bits; the result is zero-extended.

    The eBPF machine here is little-endian (x86-64), so `le` only truncates
    and `be` swaps; `bswap` (cpu v4) swaps unconditionally.
    """
    low = value & ((1 << bits) - 1)
    if op == "le":
        return low
    return int.from_bytes(low.to_bytes(bits // 8, "little"), "big")
