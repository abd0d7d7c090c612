"""The verifier's abstract values: what one register (or spilled stack slot) may hold.

A value is uninitialised, a scalar, or a pointer of some kind: into the memory buffer
(MEM), into a stack frame (STACK), into a map value (MAP_VALUE), to a map's key
(MAP_KEY: what bpf_for_each_map_elem's callback gets, read-only), into the program
context (CTX), a map handle (MAP_PTR), a subprogram's address (FUNC, a callback's), a map
lookup's result before its NULL check
(MAP_OR_NULL), or a buffer pointer on some paths and NULL on others (MEM_OR_NULL, the
join of `tcp = NULL; if (ipv4) tcp = ...`; no relation of the zone holds for it), or
the context or NULL (CTX_OR_NULL: `data->ctx = skb` at one call site, 0 at another), or
a stack pointer or NULL (STACK_OR_NULL, of one frame: `hdr = NULL; if (t) hdr = &local`), or
a socket a lookup returned (SOCKET, a full `struct bpf_sock`; SOCK_COMMON, what
bpf_skc_lookup_tcp returns, of which fewer fields may be read; each OR_NULL before its
NULL test), which holds a reference (`ref`) the program must give back, as a ring
buffer record does (a MAP_VALUE or MAP_OR_NULL whose `ref` is set).  The
join of a pointer with a number, or with a pointer of another kind, is MIXED: a
number to checked mode, and to strict mode a value it may not use (it would make an
address a number).  Scalars carry unsigned and signed intervals kept consistent with each
other and the number of low bits known to be zero; pointers carry the interval of
their offset.  Relations *between* values (x <= y + c, x == len - 4) are not kept
here but in the state's zone (bpfjit.verifier.zone).
"""

from __future__ import annotations

from math import gcd

__all__ = ["Value", "replace", "UNINIT", "COPIED_AT", "ALIGNED", "SCALAR", "MEM", "STACK",
           "MAP_PTR", "MAP_VALUE",
           "MAP_OR_NULL", "MAP_PTR_OR_NULL", "MAP_KEY", "MEM_OR_NULL", "CTX_OR_NULL",
           "STACK_OR_NULL", "MIXED", "NULLABLE", "CTX", "FUNC",
           "PACKET_OR_NUMBER", "SOCKET", "SOCKET_OR_NULL", "SOCK_COMMON",
           "SOCK_COMMON_OR_NULL", "SOCKETS", "TCP_SOCK", "TCP_SOCK_OR_NULL",
           "ANY_CALLER", "RELEASED", "GIVEN_BACK", "multiple", "common_mod", "POINTERS",
           "ADDRESSES", "NUMERIC", "scalar", "const", "top_scalar",
           "pointer", "join", "meet", "widen", "low_bytes", "trailing_zeros", "offset_align",
           "map_indices", "same_region",
           "U64", "M32", "S64_MIN", "S64_MAX", "MAX_LEN", "BIG"]

U64 = (1 << 64) - 1
M32 = (1 << 32) - 1
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
MAX_LEN = (1 << 32) - 1          # the verifier assumes buffers shorter than 4 GiB
BIG = 1 << 62                    # bounds beyond this are treated as unknown in relations

UNINIT, SCALAR, MEM, STACK = "uninit", "scalar", "mem", "stack"
MAP_PTR, MAP_VALUE, MAP_OR_NULL, CTX = "map", "map_value", "map_value_or_null", "ctx"
MAP_PTR_OR_NULL = "map_or_null"     # a lookup in a map of maps: an inner map, or NULL
MAP_KEY = "map_key"                 # an element's key (a for_each callback's r2): read-only
MEM_OR_NULL = "mem_or_null"         # paths joined: a buffer pointer on some, NULL on others
CTX_OR_NULL = "ctx_or_null"         # ... the context on some, NULL on others
STACK_OR_NULL = "stack_or_null"     # ... a pointer into one stack frame, NULL on others
SOCKET = "sock"                     # a struct bpf_sock a lookup found (its fields: read only)
SOCKET_OR_NULL = "sock_or_null"
SOCK_COMMON = "sock_common"         # bpf_skc_lookup_tcp's: fewer fields may be read
SOCK_COMMON_OR_NULL = "sock_common_or_null"
TCP_SOCK = "tcp_sock"                 # a socket's struct bpf_tcp_sock (bpf_tcp_sock's)
TCP_SOCK_OR_NULL = "tcp_sock_or_null"
SOCKETS = frozenset((SOCKET, SOCKET_OR_NULL, SOCK_COMMON, SOCK_COMMON_OR_NULL, TCP_SOCK,
                     TCP_SOCK_OR_NULL))
_TCP_KINDS = frozenset((TCP_SOCK, TCP_SOCK_OR_NULL))
MIXED = "mixed"                     # a pointer on some paths, a number or another on others
FUNC = "func"                       # lddw code_addr: ident = the subprogram's pc + 1 (0: any)
NULLABLE = {MAP_OR_NULL: MAP_VALUE, MAP_PTR_OR_NULL: MAP_PTR,   # what a NULL check leaves
            MEM_OR_NULL: MEM, CTX_OR_NULL: CTX, STACK_OR_NULL: STACK, SOCKET_OR_NULL: SOCKET,
            SOCK_COMMON_OR_NULL: SOCK_COMMON, TCP_SOCK_OR_NULL: TCP_SOCK}
ANY_CALLER = -1                  # STACK frame: some caller's frame, not known which
RELEASED = -1                    # UNINIT ident: it held a socket bpf_sk_release gave back
GIVEN_BACK = -2                  # UNINIT ident: it held a ring buffer record given back
COPIED_AT = -3                   # UNINIT ident COPIED_AT - pc: a copy made at pc of an
#                                  unwritten register (checked mode: AluRules._alu)
POINTERS = frozenset((MEM, STACK, MAP_VALUE, MAP_KEY, CTX))     # may be dereferenced
# pointers whose offset keeps its alignment (`align`) through arithmetic and joins: an
# array element's on the stack, a table entry's in a map value
ALIGNED = frozenset((STACK, MAP_VALUE))
# the values that are an address (on some path, for the nullable ones): what strict mode
# lets no program return, pass as a number, or store where its user could read it
ADDRESSES = POINTERS | SOCKETS | frozenset(NULLABLE) | {MAP_PTR, FUNC}
# a number the zone may relate: a scalar's value, a pointer's offset; MIXED's raw value
NUMERIC = frozenset((SCALAR, MEM, STACK, MAP_VALUE, MAP_KEY, CTX, MIXED))


class Value:
    """Immutable by convention: never assigned after creation (`replace` copies)."""

    __slots__ = ("kind", "umin", "umax", "smin", "smax", "frame", "maps", "ident", "align",
                 "ref", "mod", "s32")

    def __init__(self, kind: str, umin: int = 0, umax: int = U64, smin: int = S64_MIN,
                 smax: int = S64_MAX, frame: int = 0, maps: int = 0, ident: int = 0,
                 align: int = 0, ref: int = 0, mod: int = 1, s32: tuple | None = None):
        self.kind = kind
        self.s32 = s32          # SCALAR below 2^32: (lo, hi), the value's range as a signed
        #                         32-bit number where the intervals cannot say it (an
        #                         `int` -1 kept zero-extended, 0xffffffff, joined with
        #                         indices [0, 15]: [-1, 15]); None: what they say (s32_view)
        self.umin, self.umax, self.smin, self.smax = umin, umax, smin, smax
        self.frame = frame      # STACK: 0 = the current function's frame, 1 = its caller's...
        #                         ANY_CALLER: one of its callers' frames (recursion);
        #                         a ring buffer record (MAP_VALUE, MAP_OR_NULL): its size;
        #                         MEM_OR_NULL: the number it is where it is no pointer (0,
        #                         NULL; k once moved by k: clang's `&tcp->window` of a
        #                         maybe-NULL tcp, taken before the test that tells)
        self.maps = maps        # MAP_*: bit i set when the value may belong to map i
        self.ident = ident      # MAP_OR_NULL: which lookup it came from (copies share it);
        #                         FUNC: the subprogram's pc + 1 (0: several joined);
        #                         UNINIT r0: pc + 1 of a subprogram that returned without it
        self.align = align      # SCALAR: the value is a multiple of 2**align; STACK:
        #                         its offset is (an element of an array of 2**align-
        #                         byte elements; offset_align), where known
        self.ref = ref          # SOCKETS, ring buffer records: the reference it holds (the
        #                         acquiring call's pc + 1; negative: a socket derived from
        #                         reference -ref, as bpf_sk_fullsock gives, whose NULL test
        #                         releases nothing)
        self.mod = mod          # SCALAR below 2^63: the value is a multiple of `mod`, odd (the
        #                         power of two is `align`'s): an offset stepped by a struct's
        #                         size (`p += 12`), kept while no operation wraps it

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (isinstance(other, Value) and self.kind == other.kind
                and self.umin == other.umin and self.umax == other.umax
                and self.smin == other.smin and self.smax == other.smax
                and self.frame == other.frame and self.maps == other.maps
                and self.ident == other.ident and self.align == other.align
                and self.ref == other.ref and self.mod == other.mod and self.s32 == other.s32)

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> tuple:
        return (self.kind, self.umin, self.umax, self.smin, self.smax, self.frame, self.maps,
                self.ident, self.align, self.ref, self.mod, self.s32)

    def __repr__(self) -> str:
        return f"Value({self.describe()})"

    # ---- queries -------------------------------------------------------------------------

    @property
    def is_const(self) -> bool:
        return self.kind == SCALAR and self.umin == self.umax

    @property
    def fixed(self) -> bool:
        """A number known exactly (a constant, or a pointer with one offset): the zone
        has nothing to add to it, so it is never a zone variable."""
        return self.smin == self.smax and self.kind in NUMERIC

    @property
    def is_pointer(self) -> bool:
        return self.kind in POINTERS

    @property
    def empty(self) -> bool:
        """No concrete value fits (an infeasible path)."""
        return self.umin > self.umax or self.smin > self.smax

    def describe(self) -> str:
        """Short text for the verifier log, in the spirit of the kernel's."""
        kind = self.kind
        if kind == UNINIT:
            return "?"
        if kind == MIXED:
            return "packet|number" if self.ident == 1 else "pointer|number"
        if kind == SCALAR:
            if self.is_const:
                return f"{self.umin:#x}" if self.umin > 9 else str(self.umin)
            parts = []
            if (self.umin, self.umax) != (0, U64):
                parts.append(f"u[{self.umin:#x},{self.umax:#x}]" if self.umax > 9999
                             else f"u[{self.umin},{self.umax}]")
            if (self.smin, self.smax) != (S64_MIN, S64_MAX) and self.smin < 0:
                parts.append(f"s[{self.smin},{self.smax}]")
            if self.s32 is not None:
                parts.append(f"s32[{self.s32[0]},{self.s32[1]}]")
            return "scalar" + ("(" + ",".join(parts) + ")" if parts else "")
        at_zero = (self.smin, self.smax) == (0, 0)
        if kind in (MAP_PTR, MAP_PTR_OR_NULL) or (kind == MAP_OR_NULL and at_zero):
            return f"{kind}[{_map_names(self.maps)}]"
        if kind == FUNC:
            return f"func@pc{self.ident - 1}" if self.ident else "func"
        if kind in SOCKETS:
            return f"{kind}(ref from pc {abs(self.ref) - 1})"
        lo, hi = self.smin, self.smax
        offset = (f"off={lo}" if lo == hi else
                  f"off=[{'?' if lo <= -BIG else lo},{'?' if hi >= BIG else hi}]")
        if kind in (MAP_VALUE, MAP_OR_NULL, MAP_KEY):  # (a field's pointer or NULL: its offset)
            return f"{kind}[{_map_names(self.maps)}]({offset})"
        if kind == MEM_OR_NULL and self.frame:     # moved by a constant: NULL + frame
            return f"{kind}({offset},null{self.frame:+d})"
        if kind in (STACK, STACK_OR_NULL):
            where = "fp" if self.frame == 0 else \
                "fp[a caller]" if self.frame == ANY_CALLER else f"fp[caller {self.frame}]"
            return f"{where}({offset})" if kind == STACK else f"{where}_or_null({offset})"
        return f"{kind}({offset})"


def same_region(a: Value | None, b: Value) -> bool:
    """Pointers into one region (the buffer, one frame, the context): their difference
    and their order are of offsets, with no address in them."""
    return a is not None and a.kind == b.kind and a.kind in (MEM, STACK, CTX) \
        and a.frame == b.frame >= 0


def _map_names(mask: int) -> str:
    return "|".join(str(i) for i in map_indices(mask))


def map_indices(mask: int) -> list[int]:
    """The map indices set in a MAP_* value's mask."""
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def replace(v: Value, **changes) -> Value:
    """`v` with some fields changed."""
    new = Value.__new__(Value)
    for name in Value.__slots__:
        object.__setattr__(new, name, changes.get(name, getattr(v, name)))
    return new


def _norm(umin: int, umax: int, smin: int, smax: int, align: int,
          mod: int = 1) -> tuple[int, int, int, int]:
    """Tighten the unsigned and signed intervals against each other and the alignment
    (and `mod`, for values below 2^63)."""
    if smin >= 0:
        umin, umax = max(umin, smin), min(umax, smax)
    elif smax < 0:
        umin, umax = max(umin, smin + (1 << 64)), min(umax, smax + (1 << 64))
    step = 1 << align if align else 1
    if mod > 1 and umax <= S64_MAX:
        step = step * mod // gcd(step, mod)
    if step > 1:                        # round the bounds inwards to multiples
        umin, umax = -(-umin // step) * step, umax // step * step
    if umax <= S64_MAX:
        smin, smax = max(smin, umin), min(smax, umax)
    elif umin > S64_MAX:
        smin, smax = max(smin, umin - (1 << 64)), min(smax, umax - (1 << 64))
    return umin, umax, smin, smax


def scalar(umin: int = 0, umax: int = U64, smin: int = S64_MIN, smax: int = S64_MAX,
           align: int = 0, mod: int = 1) -> Value:
    """A scalar in both intervals (normalised; empty when they cannot both hold); `mod`:
    a number it is a multiple of, which counts only while it is below 2^63."""
    umin, umax, smin, smax = _norm(umin, umax, smin, smax, align, mod)
    if umin == umax and umin <= umax:
        return const(umin)
    odd = 1
    if 1 < mod < 1 << 32 and umax <= S64_MAX:   # the power of two in it is alignment
        twos = trailing_zeros(mod)
        odd, align = mod >> twos, max(align, twos)
    return Value(SCALAR, umin, umax, smin, smax, align=min(align, 64), mod=odd)


def s32_view(v: Value) -> tuple[int, int] | None:
    """The range of a scalar below 2^32 as a signed 32-bit number (its `s32` where it
    has one, within what its intervals say), None for anything else."""
    if v.kind != SCALAR or v.umax > M32:
        return None
    lo, hi = _intervals_s32(v)
    if v.s32 is not None:
        lo, hi = max(lo, v.s32[0]), min(hi, v.s32[1])
    return lo, hi


def _intervals_s32(v: Value) -> tuple[int, int]:
    """What the intervals alone say of a scalar below 2^32 as a signed 32-bit number."""
    if v.umax < 1 << 31:
        return v.umin, v.umax
    if v.umin >= 1 << 31:
        return v.umin - (1 << 32), v.umax - (1 << 32)
    return -(1 << 31), (1 << 31) - 1


def _with_s32(v: Value, lo: int, hi: int) -> Value:
    """`v` (a scalar below 2^32) that is also in [lo, hi] as a signed 32-bit number: kept
    only where its intervals alone say less."""
    if v.kind != SCALAR or v.umax > M32 or v.is_const:
        return v
    plain = _intervals_s32(v)
    if lo <= plain[0] and plain[1] <= hi:
        return v
    return replace(v, s32=(max(lo, plain[0]), min(hi, plain[1])))


def multiple(v: Value) -> int:
    """A number `v` is known to be a multiple of (a constant: itself, by its signed
    magnitude; 0: anything).  A negative constant's unsigned value would not do: 2^64 - 1
    is a multiple of 5, and -1 added to a multiple of 5 (a signed sum, exact) is none."""
    if v.kind != SCALAR:
        return 1
    return abs(v.smin) if v.is_const else v.mod << min(v.align, 63)


def common_mod(a: Value, b: Value) -> int:
    """What both `a` and `b` are multiples of, for a sum, difference or join."""
    return gcd(multiple(a), multiple(b)) or 1


def const(value: int) -> Value:
    value &= U64
    signed = value - (1 << 64) if value > S64_MAX else value
    return Value(SCALAR, value, value, signed, signed, align=trailing_zeros(value))


def trailing_zeros(value: int) -> int:
    return 64 if value == 0 else (value & -value).bit_length() - 1


def offset_align(v: Value) -> int:
    """k such that a stack pointer's offset (or a number) is a multiple of 2^k: a
    constant's trailing zeros, else what its arithmetic kept (`align`)."""
    return trailing_zeros(v.smin & U64) if v.smin == v.smax else v.align


def top_scalar() -> Value:
    return Value(SCALAR)


def low_bytes(v: Value, size: int) -> Value:
    """What the low `size` bytes of `v` hold, as a number: `v` itself when it fits in
    them (so it keeps its relations), else its constant truncated, else any number of
    that many bytes."""
    mask = (1 << 8 * size) - 1
    if v.kind == SCALAR and v.umax <= mask:
        return v
    if v.is_const:
        return const(v.umin & mask)
    return scalar(0, mask)


def pointer(kind: str, lo: int, hi: int, frame: int = 0, maps: int = 0, ident: int = 0,
            ref: int = 0, align: int = 0) -> Value:
    """A pointer whose offset lies in [lo, hi] (clamped to the signed 64-bit range);
    `align`: a stack pointer's offset is a multiple of 2^align (offset_align)."""
    return Value(kind, 0, U64, max(lo, S64_MIN), min(hi, S64_MAX), frame=frame, maps=maps,
                 ident=ident, ref=ref, align=align)


def join(a: Value, b: Value) -> Value:
    """The least value describing both (where control flow merges)."""
    if a is b or a == b:
        return a
    kind = a.kind
    frame = a.frame
    if kind in (STACK, STACK_OR_NULL) and frame != b.frame and b.kind == kind:
        if frame == 0 or b.frame == 0:      # the own frame and a caller's: nothing in common
            return _MIXED
        frame = ANY_CALLER                  # a caller's frame, not known which (recursion)
    elif kind != b.kind:
        if UNINIT in (kind, b.kind):        # keeps what the uninitialised side says of itself
            return a if kind == UNINIT else b
        if kind in SOCKETS and b.kind in SOCKETS:
            return _sockets_joined(a, b)
        null_or = _null_or_value(a, b) or _null_or_value(b, a) or _pointer_or_null(a, b) \
            or _found_or_looked_up(a, b) or _found_or_looked_up(b, a)
        if null_or is not None:
            return null_or
        if _packet_or_number(a) and _packet_or_number(b):
            return PACKET_OR_NUMBER
        return _MIXED                       # a pointer meets a number, or another pointer
    if kind == MIXED and a.ident != b.ident:
        return _MIXED
    if kind == MEM_OR_NULL and a.frame != b.frame:      # NULL moved by different amounts
        return _MIXED
    if kind in SOCKETS:     # one reference on every path (State.merge names them alike)
        if a.ref != b.ref:
            return _MIXED
        if a.ident == b.ident and a.frame == b.frame:
            return a
        return replace(a, ident=a.ident if a.ident == b.ident else 0, frame=a.frame | b.frame)
    if kind in (UNINIT, MIXED):
        return a
    if kind == SCALAR:
        joined = scalar(min(a.umin, b.umin), max(a.umax, b.umax), min(a.smin, b.smin),
                        max(a.smax, b.smax), min(a.align, b.align), common_mod(a, b))
        va, vb = s32_view(a), s32_view(b)
        if va is None or vb is None:
            return joined
        return _with_s32(joined, min(va[0], vb[0]), max(va[1], vb[1]))
    if kind in (MAP_VALUE, MAP_OR_NULL):
        if a.ref != b.ref:                  # two ring buffer records, or one and a value
            return _MIXED
        frame = min(a.frame, b.frame)       # ring buffer records: the smaller size
    return Value(kind, 0, U64, min(a.smin, b.smin), max(a.smax, b.smax), frame,
                 a.maps | b.maps, a.ident if a.ident == b.ident else 0, ref=a.ref,
                 align=min(offset_align(a), offset_align(b)) if kind in ALIGNED else 0)


def meet(v: Value, bound: Value) -> Value:
    """Scalar `v` narrowed to the intervals of scalar `bound`, which it is known to lie
    in too (its alignment, multiple and signed 32-bit view kept); `v` itself when that
    narrows nothing or would leave nothing."""
    if v.kind != SCALAR or bound.kind != SCALAR or (
            bound.umin <= v.umin and v.umax <= bound.umax
            and bound.smin <= v.smin and v.smax <= bound.smax):
        return v
    new = scalar(max(v.umin, bound.umin), min(v.umax, bound.umax), max(v.smin, bound.smin),
                 min(v.smax, bound.smax), v.align, multiple(v))
    if new.empty:
        return v
    view = s32_view(v) if v.s32 is not None else None
    return new if view is None else _with_s32(new, *view)


def _sockets_joined(a: Value, b: Value) -> Value:
    """Two kinds of socket pointer holding one reference (clang merges `sk = tcp ?
    bpf_skc_lookup_tcp(...) : bpf_sk_lookup_udp(...)` into one register): a sock_common
    if either is (a full socket is one too), or NULL if either may be."""
    if a.ref != b.ref:
        return _MIXED
    nullable = a.kind in NULLABLE or b.kind in NULLABLE
    tcp = (a.kind in _TCP_KINDS) + (b.kind in _TCP_KINDS)
    if tcp == 2:            # a TCP socket's struct bpf_tcp_sock, or NULL
        return Value(TCP_SOCK_OR_NULL if nullable else TCP_SOCK, 0, 0, 0, 0, ref=a.ref)
    if tcp:                 # a struct bpf_tcp_sock and a struct bpf_sock: no one thing
        return _MIXED
    common = SOCK_COMMON in (a.kind, b.kind) or SOCK_COMMON_OR_NULL in (a.kind, b.kind)
    kind = (SOCK_COMMON_OR_NULL if nullable else SOCK_COMMON) if common else \
        (SOCKET_OR_NULL if nullable else SOCKET)
    # frame 1: a full socket on some paths, a sock_common on others, whose fields one
    # load may not read (the kernel rewrites each load for one kind of pointer)
    kinds = {NULLABLE.get(a.kind, a.kind), NULLABLE.get(b.kind, b.kind)}
    return Value(kind, 0, 0, 0, 0, frame=int(len(kinds) > 1 or a.frame or b.frame),
                 ref=a.ref)


def _null_or_value(a: Value, b: Value) -> Value | None:
    """A lookup's result (or a map value, at any offset) on one path and NULL on the
    other (`p = found ? lookup(...) : NULL`, `tcp = NULL; if (t) tcp = &v->tcp`): still
    a map value or NULL at those offsets, to be checked, and no longer linked to the
    lookup's other copies: on the NULL path it was not one of them, so their NULL test
    says nothing of it."""
    if not (b.kind == SCALAR and b.is_const and b.umin == 0):
        return None
    if a.kind == MEM_OR_NULL and a.frame:   # NULL moved on one path, NULL on the other
        return None
    if a.kind in NULLABLE:
        return replace(a, ident=0) if a.ident else a
    if a.kind == MAP_VALUE:
        return Value(MAP_OR_NULL, 0, 0, a.smin, a.smax, a.frame, a.maps, 0, ref=a.ref)
    if a.kind == MEM:       # `tcp = NULL; if (ipv4) tcp = ...`: its NULL test gives it back
        return Value(MEM_OR_NULL, 0, U64, a.smin, a.smax)
    if a.kind == MAP_PTR:   # `map = tcp ? &tcp_map : NULL`: the same, for a map
        return Value(MAP_PTR_OR_NULL, 0, 0, 0, 0, maps=a.maps)
    if a.kind == STACK:     # `hdr = NULL; if (tcp) hdr = &local` (kubeshark's sniffer)
        return Value(STACK_OR_NULL, 0, U64, a.smin, a.smax, a.frame)
    if a.kind == CTX:       # `data->ctx = skb` at one call site, 0 at another
        return Value(CTX_OR_NULL, 0, U64, a.smin, a.smax)
    if a.kind in (SOCKET, SOCK_COMMON, TCP_SOCK):   # `sk = found ? sk : NULL`: its reference
        return Value(_OR_NULL[a.kind], 0, 0, 0, 0, ref=a.ref)
    return None


_MIXED = Value(MIXED)
_OR_NULL = {SOCKET: SOCKET_OR_NULL, SOCK_COMMON: SOCK_COMMON_OR_NULL, TCP_SOCK: TCP_SOCK_OR_NULL}
# MIXED whose pointers are all into the buffer (`ip6` set on the IPv6 path and some
# number on the others, used under the same test): an access through it is checked
# against the buffer alone at run time, so it writes no stack (its ident is 1)
PACKET_OR_NUMBER = Value(MIXED, ident=1)


def _packet_or_number(v: Value) -> bool:
    """A buffer pointer (or NULL), a number, or already a buffer pointer or a number."""
    return v.kind in (MEM, MEM_OR_NULL, SCALAR) or v == PACKET_OR_NUMBER


def _found_or_looked_up(a: Value, b: Value) -> Value | None:
    """A map value at offset 0 (found: its NULL test passed) on one path and a lookup's
    unchecked result on the other (`if (!(x = lookup(k))) { update(k, v); x =
    lookup(k); }`): a map value or NULL of either's maps, linked to no lookup (on the
    first path it was no copy of the lookup's result).  Or a map value and a map value
    or NULL of the same maps at other offsets (calico's `tcp`, a field's pointer on one
    path and that pointer or NULL on another): a map value or NULL at either offset.
    Values of different maps at different offsets stay apart (MIXED, which a block may
    run apart: bpfjit.verifier.perpath), or each offset would be taken for either map."""
    if a.kind != MAP_VALUE or b.kind != MAP_OR_NULL or a.ref != b.ref:
        return None
    if a.maps != b.maps and not a.smin == a.smax == b.smin == b.smax == 0:
        return None
    return Value(MAP_OR_NULL, 0, 0, min(a.smin, b.smin), max(a.smax, b.smax),
                 min(a.frame, b.frame), a.maps | b.maps, 0, ref=a.ref)


def _pointer_or_null(a: Value, b: Value) -> Value | None:
    """A buffer pointer or NULL on one path and a buffer pointer on the other: a buffer
    pointer or NULL, at either offset; a map or NULL and a map: a map or NULL, either
    of them; the context or NULL and the context: the context or NULL."""
    kinds = {a.kind, b.kind}
    if kinds == {MEM, MEM_OR_NULL}:
        return Value(MEM_OR_NULL, 0, U64, min(a.smin, b.smin), max(a.smax, b.smax),
                     frame=a.frame if a.kind == MEM_OR_NULL else b.frame)
    if kinds == {MAP_PTR, MAP_PTR_OR_NULL}:
        return Value(MAP_PTR_OR_NULL, 0, 0, 0, 0, maps=a.maps | b.maps)
    if kinds == {CTX, CTX_OR_NULL}:
        return Value(CTX_OR_NULL, 0, U64, min(a.smin, b.smin), max(a.smax, b.smax))
    if kinds == {STACK, STACK_OR_NULL} and a.frame == b.frame:
        return Value(STACK_OR_NULL, 0, U64, min(a.smin, b.smin), max(a.smax, b.smax),
                     a.frame)
    if a.ref == b.ref and (kinds == {SOCKET, SOCKET_OR_NULL}
                           or kinds == {SOCK_COMMON, SOCK_COMMON_OR_NULL}
                           or kinds == {TCP_SOCK, TCP_SOCK_OR_NULL}):
        return Value(a.kind if a.kind in NULLABLE else b.kind, 0, 0, 0, 0, ref=a.ref)
    return None


def _up(value: int, thresholds: tuple[int, ...], limit: int) -> int:
    """The smallest threshold at least `value`, else the limit."""
    for t in thresholds:
        if t >= value:
            return t
    return limit


def _down(value: int, thresholds: tuple[int, ...], limit: int) -> int:
    for t in reversed(thresholds):
        if t <= value:
            return t
    return limit


def widen(old: Value, new: Value, thresholds: tuple[int, ...] = (),
          frame_stops: tuple[int, ...] = ()) -> Value:
    """Like join, but a bound that moved since `old` jumps outward to the next threshold
    (the program's comparison constants) or to its limit, so that loops converge; the
    lowest offset of a pointer into the stack stops at `frame_stops` first (where the
    program's stack objects start: thresholds.frame_bases)."""
    j = join(old, new)
    if j.kind != old.kind or j.kind == UNINIT or j == old:
        return j
    if j.smin >= old.smin:
        smin = old.smin
    elif j.kind == STACK and frame_stops:
        smin = _down(j.smin, tuple(sorted({*thresholds, *frame_stops})), S64_MIN)
    else:
        smin = _down(j.smin, thresholds, S64_MIN)
    if j.kind in (MEM, MEM_OR_NULL) and j.smax <= MAX_LEN:
        # a buffer pointer moving on stays within the longest buffer first: unbounded,
        # `p + 2` would lose both bounds, and with them what `p + 2 <= end` says
        smax = old.smax if j.smax <= old.smax else min(_up(j.smax, thresholds, S64_MAX),
                                                       MAX_LEN)
    else:
        smax = old.smax if j.smax <= old.smax else _up(j.smax, thresholds, S64_MAX)
    if j.kind != SCALAR:
        return replace(j, smin=smin, smax=smax)
    umin = old.umin if j.umin >= old.umin else _down(j.umin, thresholds, 0)
    if j.umax <= M32 and old.umax < j.umax:
        # a number still below 2^32 stops at 2^32 - 1 first: what 32-bit operations
        # keep it below (clang -mcpu=v3's `w4 += 1` count), where a 64-bit limit would
        # make every pointer it moves reach past the frame
        umax = _up(j.umax, thresholds, M32)
        smax = min(smax, M32) if smin >= 0 else smax
    else:
        umax = old.umax if j.umax <= old.umax else _up(j.umax, thresholds, U64)
    widened = scalar(umin, umax, smin, smax, j.align, j.mod)
    view, before = s32_view(j), s32_view(old)
    if view is None or before is None or j.s32 is None:
        return widened
    # the signed 32-bit range moves out to thresholds too (within 32 bits)
    lo = before[0] if view[0] >= before[0] else max(_down(view[0], thresholds, -(1 << 31)),
                                                    -(1 << 31))
    hi = before[1] if view[1] <= before[1] else min(_up(view[1], thresholds, (1 << 31) - 1),
                                                    (1 << 31) - 1)
    return _with_s32(widened, lo, hi)
