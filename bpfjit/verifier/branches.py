"""Conditional jumps in the abstract: what each edge teaches.

`if a OP b` narrows both operands' intervals on each edge and, when both are zone
variables whose order the comparison fixes (unsigned comparisons of non-negative
values, signed comparisons, pointers into the same region), adds a difference
constraint; the zone then carries the news to every related variable (`p + 14 <= end`
bounds p, and `end == len` makes that a bound on len).  An edge whose state becomes
empty is infeasible and dropped.  Comparing a map lookup's result with 0 makes it,
and every copy of it, NULL on one edge and a map value on the other; the same for a
buffer pointer or NULL (paths joined), whose copies stay equal buffer pointers.
"""

from __future__ import annotations

from math import lcm

from .. import semantics as sem
from ..context import CONTEXTS
from .domain import (BIG, M32, MEM, MEM_OR_NULL, MIXED, NULLABLE, NUMERIC, S64_MAX, SCALAR,
                     s32_view,
                     SOCK_COMMON, SOCKET, STACK,
                     TCP_SOCK,
                     U64, Value, const, multiple,
                     pointer, same_region, scalar)
from .guards import len_floor, sides
from .state import LEN, State, slot_var
from .variables import GHOST
from .zone import MAX_RELATION, MIRROR

__all__ = ["BranchRules", "NEGATE"]

NEGATE = {"jeq": "jne", "jne": "jeq", "jgt": "jle", "jge": "jlt", "jlt": "jge", "jle": "jgt",
          "jsgt": "jsle", "jsge": "jslt", "jslt": "jsge", "jsle": "jsgt"}
_SWAP = {"jgt": "jlt", "jge": "jle", "jsgt": "jslt", "jsge": "jsle"}


class BranchRules:
    """Mixed into the analysis: JCOND."""

    def _jcond(self, pc: int, insn, st: State):
        spec = insn.spec
        a = self._read(st, insn.dst, pc)
        if spec.source == "reg":
            b_reg, b = insn.src, self._read(st, insn.src, pc)
        else:
            b_reg, b = None, const(insn.imm)
        target, fall = pc + 1 + insn.off, pc + 1
        op = spec.op
        wired = self._null_test_32(pc, spec.width, op, a, b)
        if self.mode == "strict" and (a.kind != SCALAR or b.kind != SCALAR) \
                and wired is None and not _discloses_nothing(op, spec.width, a, b):
            pointer, other = (a, b) if a.kind != SCALAR else (b, a)
            self.fail(pc, f"strict mode: compares a pointer ({pointer.describe()}) with "
                          f"{other.describe()}, which would let its address decide a branch "
                          f"(the kernel refuses such leaks)")
        if (a.kind == MEM_OR_NULL and a.frame) or (b.kind == MEM_OR_NULL and b.frame):
            # NULL moved by a constant: no comparison tells its sides apart (a guard may)
            return [(target, st.copy()), (fall, st)]
        if a.kind in NULLABLE and op in ("jeq", "jne") and b.is_const and b.umin == 0 \
                and spec.width == 64:
            null, valid = st.copy(), st
            self._null_check(null, insn.dst, a, True)
            self._null_check(valid, insn.dst, a, False)
            return [(target, null), (fall, valid)] if op == "jeq" else \
                [(target, valid), (fall, null)]
        if wired is not None or self._never_null(a, b) and op in ("jeq", "jne") \
                and spec.width == 64:
            # a context's packet pointer is an address inside a real buffer, never NULL:
            # clang keeps `if (ip6)` of `ip6 = data + 14` as a flag computed there, and
            # only the way on is taken (the kernel follows both; gamemann/XDP-Firewall)
            return [(fall, st)] if op == "jeq" else [(target, st)]
        if a.kind in (SOCKET, SOCK_COMMON, TCP_SOCK) and op in ("jeq", "jne") and b.is_const \
                and b.umin == 0 and spec.width == 64:
            # a socket tested before is not NULL: only the way it goes on is taken (the
            # other would carry its reference to where the program thinks it has none)
            return [(fall, st)] if op == "jeq" else [(target, st)]
        if st.regs[insn.dst].kind == MIXED and op in ("jeq", "jne") and b.is_const \
                and b.umin == 0 and spec.width == 64:
            # not NULL, a value joined from a pointer and a number is such a value still
            # (a helper may take it, checked when it runs); NULL, it is 0
            null, valid = st.copy(), st
            null.forget_register(insn.dst, const(0))
            return [(target, null), (fall, valid)] if op == "jeq" else \
                [(target, valid), (fall, null)]
        if a.is_const and b.is_const:                   # decided statically
            taken = sem.cond_function(op, spec.width)(a.umin, b.umin)
            return [(target, st)] if taken else [(fall, st)]
        taken, not_taken = st.copy(), st
        feasible_taken = self._refine(taken, spec.width, insn.dst, a, b_reg, b, op)
        feasible_fall = op == "jset" or self._refine(not_taken, spec.width, insn.dst, a,
                                                     b_reg, b, NEGATE[op])
        return [(target, taken if feasible_taken else None),
                (fall, not_taken if feasible_fall else None)]

    def _guarded(self, st: State) -> bool:
        """After a branch narrowed numbers: each pointer or NULL whose guard's number
        now meets one side only is NULL or a pointer (bpfjit.verifier.guards); False
        when a guard's number meets neither (the edge is infeasible)."""
        guards = st.zone.guards
        for key, guard in list(guards.items()):
            if key not in guards:               # dropped by an earlier one's test
                continue
            v, f = st.value_of(key[0]), st.value_of(key[1])
            if v is None or v.kind not in NULLABLE or f is None or f.kind != SCALAR:
                continue
            may_null, may_set = sides(guard, f)
            if not (may_null or may_set):
                return False
            if may_null != may_set:
                self._null_check(st, key[0], v, may_null)
        return True

    @staticmethod
    def _null_check(st: State, var: int, v: Value, is_null: bool) -> None:
        """After `if rX == 0`: variable `var` (a register, or a slot the flag of a guard
        tells of), and every copy of it, is NULL or a valid pointer (a map value, a map,
        the buffer); the copies of a buffer pointer stay equal."""
        base = NULLABLE[v.kind]
        copies = []         # variables the zone may relate: the buffer offsets not fixed

        def refined(var: int, other: Value) -> Value:
            if other.kind == MEM_OR_NULL:       # (its frame: what NULL moved to)
                new = const(other.frame) if is_null else pointer(MEM, other.smin, other.smax)
            else:
                new = const(0) if is_null else pointer(base, other.smin, other.smax,
                                                       other.frame, maps=other.maps,
                                                       ref=other.ref)
            if new.kind == MEM and not new.fixed:
                copies.append(var)
            return new

        def copy_of(other: Value) -> bool:
            # a link, or (a socket) the same reference held: one pointer
            return other.kind == v.kind and ((v.ident and other.ident == v.ident)
                                             or (v.ref > 0 and other.ref == v.ref))

        gone = set()                    # the references of sockets found NULL here
        bounded = {}                    # buffer pointers: v - len <= c where not NULL

        for i, other in enumerate(st.regs):
            if i == var or copy_of(other):
                gone.add(other.ref)
                if i in st.zone.ifset:
                    bounded[i] = st.zone.ifset[i]
                st.forget_register(i, refined(i, other))
        for off, other in list(st.spills.items()):
            if slot_var(off) == var or copy_of(other):
                gone.add(other.ref)
                if slot_var(off) in st.zone.ifset:
                    bounded[slot_var(off)] = st.zone.ifset[slot_var(off)]
                st.spills[off] = refined(slot_var(off), other)
                st.zone.ifset.pop(slot_var(off), None)
        if not is_null:
            for v, c in bounded.items():
                now = st.value_of(v)
                if now.fixed:                   # its offset: len >= offset - c
                    st.clamp(LEN, now.smax - c, None)
                else:
                    st.zone.add(v, LEN, c)
        if is_null:     # a lookup that found nothing (or NULL with it) holds no reference
            st.refs = st.refs - {ref for ref in gone if ref > 0}
        if copies:
            for var in copies[1:]:
                st.zone.add(copies[0], var, 0)
                st.zone.add(var, copies[0], 0)

    def _null_test_32(self, pc: int, width: int, op: str, a: Value, b: Value) -> bool | None:
        """A `jeq32`/`jne32` of a context's packet pointer against 0 (clang's NULL test of
        a pointer it made from the 32-bit `data` field, with -mcpu=v3): whether it
        jumps, decided as the kernel decides it, for a pointer that is never NULL; None
        when it is no such test.  The kernel hard-wires the jump, so the address's low
        half never decides it; verify() makes every engine's program do the same when
        each run of the final pass decided the jump alike (one that did not, a number
        there on another path, has the test kept at pc: `undecided`)."""
        if width != 32 or op not in ("jeq", "jne") or pc in self.undecided:
            return None
        decided = self._never_null(a, b)
        self._fact(self._note_null_test, pc, (op == "jne") if decided else None)
        return (op == "jne") if decided else None

    def _note_null_test(self, pc: int, way: bool | None) -> None:
        """A fact of the final pass: a run of the 32-bit NULL test at pc went `way`."""
        self.null_tests.setdefault(pc, set()).add(way)

    def _never_null(self, a: Value, b: Value) -> bool:
        """A 64-bit test of a context's buffer pointer against 0: the buffer lies in the
        context's block, a real allocation (a plain program's buffer may be NULL: a run
        given no memory), and offsets near it cannot wrap round to address 0."""
        if self.context is None:
            return False
        pointer, other = (a, b) if a.kind == MEM else (b, a)
        return pointer.kind == MEM and other.kind == SCALAR and other.is_const \
            and other.umin == 0 and self._plain_offsets(pointer)

    def _plain_offsets(self, v: Value) -> bool:
        """Offsets for which comparing the addresses compares the offsets: the address
        cannot wrap around (buffer pointers below their start might, when the buffer is
        at a low address or NULL, but not into a context's room for metadata, which is
        part of its block; a frame always has eight frames of stack below it)."""
        if v.kind == MEM:
            low = -CONTEXTS[self.context].META_ROOM if self.context in CONTEXTS else 0
        else:
            low = -8 * 512
        return low <= v.smin and v.smax < BIG

    def _refine(self, st: State, width: int, a_reg: int, a: Value, b_reg: int | None,
                b: Value, op: str) -> bool:
        """Learn that `a OP b` holds; False when it cannot (the edge is infeasible)."""
        if op == "jset":
            return not (a.is_const and b.is_const and not a.umin & b.umin)
        signed = op.startswith("js")
        if a.kind == SCALAR and b.kind == SCALAR:
            if width == 32 and not _same_in_32_bits(a, b, signed):
                if signed and b.is_const != a.is_const:
                    return self._refine_signed32(st, a_reg, a, b_reg, b, op)
                return True
        elif not (a.kind == b.kind and a.kind in (MEM, STACK) and a.frame == b.frame >= 0
                  and not signed and width == 64 and self._plain_offsets(a)
                  and self._plain_offsets(b)):
            return True                 # nothing to learn comparing these
        rel = op[2:] if signed else op[1:]
        if rel in ("gt", "ge"):         # a > b is b < a
            a_reg, a, b_reg, b = b_reg, b, a_reg, a
            rel = {"gt": "lt", "ge": "le"}[rel]
        if rel == "eq":
            return self._learn_equal(st, a_reg, a, b_reg, b)
        if rel == "ne":
            return self._learn_unequal(st, a_reg, a, b_reg, b)
        strict = 1 if rel == "lt" else 0
        if not strict and st.zone.known_unequal(a_reg, b_reg):
            strict = 1                  # a != b learned before: a <= b is a < b
        if a.kind == SCALAR:            # a <= b - strict, in the comparison's order
            if signed:
                new_a = scalar(a.umin, a.umax, a.smin, min(a.smax, b.smax - strict), a.align,
                               multiple(a))
                new_b = scalar(b.umin, b.umax, max(b.smin, a.smin + strict), b.smax, b.align,
                               multiple(b))
            else:
                new_a = scalar(a.umin, min(a.umax, b.umax - strict), a.smin, a.smax, a.align,
                               multiple(a))
                new_b = scalar(max(b.umin, a.umin + strict), b.umax, b.smin, b.smax, b.align,
                               multiple(b))
        else:                           # pointer offsets, compared as numbers
            new_a = pointer(a.kind, a.smin, min(a.smax, b.smax - strict), a.frame, a.maps)
            new_b = pointer(b.kind, max(b.smin, a.smin + strict), b.smax, b.frame, b.maps)
        if new_a.empty or new_b.empty:
            return False
        return self._settle(st, a_reg, new_a, b_reg, new_b,
                            (a_reg, b_reg, -strict) if _ordered(new_a, new_b, signed) else None)

    def _refine_signed32(self, st: State, a_reg, a: Value, b_reg, b: Value, op: str
                         ) -> bool:
        """`a OP b`, a 32-bit signed comparison of a number with a constant, where the
        number (zero-extended: at most 2^32 - 1) crosses 2^31: its values whose low half
        is at least a constant c >= 0 are [c, 2^31 - 1], and those below c < 0 are
        [2^31, 2^32 + c - 1], both intervals (clang's `if (w9 s< 1) goto out` of a
        difference that may wrap); the other sides are two pieces, of which nothing is
        learned."""
        rel = op[2:]
        if a.is_const:                      # c OP x is x (OP reversed) c
            a_reg, a, b_reg, b = b_reg, b, a_reg, a
            rel = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(rel, rel)
        if a.umax > M32 or rel not in ("lt", "le", "gt", "ge"):
            return True
        c = sem.sext(b.umin & M32, 32)
        lo, hi = {"gt": (c + 1, None), "ge": (c, None), "lt": (None, c - 1),
                  "le": (None, c)}[rel]
        # (within the signed 32-bit range x is known to keep: an `int` -1 joined with
        # indices 0..15 is [-1, 15] there, so `s32(x) >= 0` leaves [0, 15])
        view = s32_view(a) or (-(1 << 31), (1 << 31) - 1)
        if lo is not None and lo >= 0:          # s32(x) >= lo >= 0
            piece = (lo, min((1 << 31) - 1, view[1]))
        elif hi is not None and hi < 0:         # s32(x) <= hi < 0
            piece = ((1 << 32) + max(-(1 << 31), view[0]), (1 << 32) + hi)
        else:
            return True
        new = scalar(max(a.umin, piece[0]), min(a.umax, piece[1]), align=a.align,
                     mod=multiple(a))
        if new.empty:
            return False
        return self._settle(st, a_reg, new, b_reg, b, None)

    def _learn_equal(self, st: State, a_reg, a: Value, b_reg, b: Value) -> bool:
        if st.zone.known_unequal(a_reg, b_reg):
            return False
        lo_u, hi_u = max(a.umin, b.umin), min(a.umax, b.umax)
        lo_s, hi_s = max(a.smin, b.smin), min(a.smax, b.smax)
        if a.kind == SCALAR:
            new = scalar(lo_u, hi_u, lo_s, hi_s, max(a.align, b.align),
                         lcm(multiple(a), multiple(b)))
        else:
            new = pointer(a.kind, lo_s, hi_s, a.frame, a.maps)
        if new.empty:
            return False
        return self._settle(st, a_reg, new, b_reg, new, (a_reg, b_reg, 0), equal=True)

    def _learn_unequal(self, st: State, a_reg, a: Value, b_reg, b: Value) -> bool:
        if a.is_const and b.is_const:
            return a.umin != b.umin
        new_a, new_b = a, b
        if b.is_const and a.kind == SCALAR:
            new_a = _without(a, b.umin)
        elif a.is_const and b.kind == SCALAR:
            new_b = _without(b, a.umin)
        if new_a.empty or new_b.empty:
            return False
        edge = None
        if a_reg is not None and b_reg is not None:
            # x <= y and x != y make x < y: the exit test of a `!=` loop
            if st.zone.bound(a_reg, b_reg) == 0:
                edge = (a_reg, b_reg, -1)
            elif st.zone.bound(b_reg, a_reg) == 0:
                edge = (b_reg, a_reg, -1)
            elif a_reg != b_reg and new_a.kind == SCALAR and new_b.kind == SCALAR \
                    and not new_a.fixed and not new_b.fixed:
                # kept until either changes, for an order a later branch learns
                st.zone.learn_unequal(a_reg, b_reg)
        return self._settle(st, a_reg, new_a, b_reg, new_b, edge)

    @staticmethod
    def _split_plus(st: State, reg: int, fact: tuple[int, int, int]) -> bool:
        """reg == a + b + k and the zone bounds reg - b: a is bounded alike (and b by
        reg - a): `c >= y` with c == x + y, the copy of x before `x -= y`, makes x >= 0."""
        a, b, k = fact
        zone = st.zone
        for x, y in ((a, b), (b, a)):
            v = st.value_of(x) if x < GHOST else None
            if v is None or v.kind not in NUMERIC or v.fixed or y == LEN:
                continue
            up, down = zone.bound(reg, y), zone.bound(y, reg)
            lo = -down - k if down is not None and down < MAX_RELATION else None
            hi = up - k if up is not None and up < MAX_RELATION else None
            if (lo is not None or hi is not None) and not (
                    st.clamp(x, lo, hi) and st.tighten(x)):
                return False
        return True

    def _settle(self, st: State, a_reg, new_a: Value, b_reg, new_b: Value, edge,
                equal: bool = False) -> bool:
        """Store refined operands, add the zone edge (x - y <= c) and spread the news
        (before forgetting the relations of an operand that became a constant: they
        carry what it became to the registers it was related to)."""
        for reg, new in ((a_reg, new_a), (b_reg, new_b)):
            if reg is not None and st.regs[reg] != new:
                st.regs[reg] = new
        if edge is not None:
            x, y, c = edge
            if x is not None and y is not None and x != y and st.numeric(x) \
                    and st.numeric(y) and not st.regs[x].fixed and not st.regs[y].fixed:
                if not st.zone.add(x, y, c):
                    return False
                if equal and not st.zone.add(y, x, 0):
                    return False
        for reg in (a_reg, b_reg):
            if reg is not None and not st.tighten(reg):
                return False
        zone = st.zone
        for reg in (a_reg, b_reg):
            if reg is not None and reg in zone.sums:
                # reg == a + b against len is a bound of b against len - a, and of a
                # against len - b: what a (pointer, size) pair needs
                a, b = zone.sums[reg]
                up, down = st.len_bound(reg), zone.bound(LEN, reg)
                for x, y in ((a, b), (b, a)):
                    if up is not None and not zone.add(y, MIRROR + x, up):
                        return False
                    if down is not None and not zone.add(MIRROR + x, y, down):
                        return False
        if zone.plus and not _bound_terms(st, (a_reg, b_reg)):
            return False
        for reg in (a_reg, b_reg):
            fact = zone.plus.get(reg) if reg is not None and zone.plus else None
            if fact is not None:
                # reg == a + b + k, at least low: a + b >= low - k, once reg is reused;
                # at most high: a + b <= high - k
                if (low := st.lower(reg)) is not None:
                    zone.learn_floor(fact[0], fact[1], low - fact[2])
                if (high := st.upper(reg)) is not None and high < MAX_RELATION:
                    # and of every y == a - d, z == b - e: which of them counts down in
                    # a loop, the sum's own partner or a copy, is the loop's to say
                    a, b, k = fact
                    for y, d in [(a, 0)] + zone.offsets(a):
                        for z, e in [(b, 0)] + zone.offsets(b):
                            if y != z:
                                zone.learn_ceiling(y, z, high - k - d - e)
                # against len, as a sum's (above): a + b + k <= len + up bounds b against
                # len - a, and a against len - b (`i + 1 + run <= len`, then a copy of
                # run bytes from i + 1 as run counts down)
                up = st.len_bound(reg)
                if up is not None and up < MAX_RELATION:
                    for x, y in ((fact[0], fact[1]), (fact[1], fact[0])):
                        if x != LEN and y != LEN and not zone.add(y, MIRROR + x, up - fact[2]):
                            return False
                if not st.apply_sum_bounds():
                    return False
                # and reg - a (or reg - b) in the zone bounds the other addend
                if not self._split_plus(st, reg, fact):
                    return False
        if zone.wraps:
            for x, (y, k) in list(zone.wraps.items()):
                if y not in (a_reg, b_reg) and x not in (a_reg, b_reg):
                    continue
                lo, hi = st.lower(y), st.upper(y)
                if lo is not None and hi is not None and x in (a_reg, b_reg) and \
                        -(1 << 32) < lo + k and hi + k < 1 << 33:
                    # x == (y + k) mod 2^32, x now in [xlo, xhi]: a sum below 0 would
                    # have made x at least 2^32 + lo + k, one past 2^32 at most
                    # hi + k - 2^32; where x leaves those out, the sum did not wrap
                    xlo, xhi = st.lower(x), st.upper(x)
                    if lo + k < 0 and xhi is not None and xhi < (1 << 32) + lo + k:
                        lo = -k
                    if hi + k > M32 and xlo is not None and xlo > hi + k - (1 << 32):
                        hi = M32 - k
                if lo is not None and hi is not None and lo + k >= 0 and hi + k <= M32:
                    # x == (y + k) mod 2^32 and y + k fits: x == y + k
                    del zone.wraps[x]
                    if not (zone.add(x, y, k) and zone.add(y, x, -k)
                            and st.clamp(x, lo + k, hi + k) and st.tighten(x)):
                        return False
        for reg in (a_reg, b_reg):
            if reg is not None and zone.affine:
                st.learn_scaled(reg)
        for reg in (a_reg, b_reg):
            link = zone.shifted.get(reg) if reg is not None and zone.shifted else None
            if link is not None and link[1] == "upper":
                # reg == y >> 32 (arithmetic; y's low half is 0): y within reg's range << 32
                v = st.regs[reg]
                if not (st.clamp(link[0], v.smin << 32, (v.smax << 32) + M32)
                        and st.tighten(link[0])):
                    return False
                continue
            if link is not None and link[1] == "sext" and st.regs[reg].smin >= 0:
                # reg == y sign-extended from 32 bits, and not negative: y < 2^31, reg == y
                # (`(int)len >= 1` bounds len)
                del zone.shifted[reg]
                if not st.regs[reg].fixed and not (
                        zone.add(reg, link[0], 0) and zone.add(link[0], reg, 0)
                        and st.tighten(reg)):
                    return False
        if zone.guards and not self._guarded(st):
            return False
        if zone.lenfloors:
            for reg in (a_reg, b_reg):
                floors = zone.lenfloors.get(reg) if reg is not None else None
                least = len_floor(floors, st.regs[reg]) if floors else None
                if least is not None and least > st.min_len and not st.clamp(LEN, least, None):
                    return False
        for reg in (a_reg, b_reg):
            # a constant has nothing to learn from the zone, which forgets it; but while a
            # loop's termination is proven, what it is against its value at the head
            # (`i < 2` leaves i == 1 == head + 1) is the proof; and len, which has no
            # upper bound of its own, keeps the one a register equal to it just became
            if reg is not None and st.regs[reg].fixed and not self.ranking \
                    and zone.bound(LEN, reg) is None:
                zone.forget(reg)
        return all(not v.empty for v in st.regs)


def _discloses_nothing(op: str, width: int, a: Value, b: Value) -> bool:
    """A comparison with a pointer that tells nothing of its address: a 64-bit NULL test,
    or an order between two pointers into the same region (offsets, no addresses)."""
    if width != 64:
        return False
    if op in ("jeq", "jne") and any(v.kind == SCALAR and v.is_const and v.umin == 0
                                    for v in (a, b)):
        return True
    return op != "jset" and same_region(a, b)


def _same_in_32_bits(a: Value, b: Value, signed: bool) -> bool:
    """Whether a 32-bit comparison of a and b orders them as a 64-bit one would."""
    if signed:
        return all(-(1 << 31) <= v.smin and v.smax < (1 << 31) for v in (a, b))
    return a.umax <= M32 and b.umax <= M32


def _ordered(a: Value, b: Value, signed: bool) -> bool:
    """Whether the comparison's order is the order of the zone's (signed) numbers."""
    if signed or a.kind != SCALAR:
        return True
    return a.umax <= S64_MAX and b.umax <= S64_MAX


def _without(v: Value, c: int) -> Value:
    """A scalar's range with the value c taken off its ends."""
    umin, umax, smin, smax = v.umin, v.umax, v.smin, v.smax
    if umin == c:
        umin += 1
    if umax == c:
        umax -= 1
    s = c - (1 << 64) if c > S64_MAX else c
    if smin == s:
        smin += 1
    if smax == s:
        smax -= 1
    if (umin, umax, smin, smax) == (v.umin, v.umax, v.smin, v.smax):
        return v
    return scalar(umin, min(umax, U64), smin, smax, v.align, multiple(v))


def _bound_terms(st: State, regs) -> bool:
    """A branch that bounds a term of x == a + b + k bounds x - b (or x - a) alike:
    `n = end - i` tested `n == 19` shows end == i + 19.  False on a contradiction."""
    zone = st.zone
    for reg in regs:
        if reg is None:
            continue
        lo, hi = st.lower(reg), st.upper(reg)
        for x, (a, b, k) in list(zone.plus.items()):
            if reg not in (a, b) or x == reg:
                continue
            other = b if reg == a else a
            # (the sum may be len itself, or len - y, which have no value of their own:
            # the tail of a buffer after its whole words, len == (len & -4) + (len & 3))
            if not (st.numeric(x) and st.numeric(other)) or any(
                    v is None or v.fixed for v in (st.value_of(u) for u in (x, other)
                                                   if u != LEN and u < MIRROR)):
                continue
            if hi is not None and abs(hi + k) < MAX_RELATION and not zone.add(x, other, hi + k):
                return False
            if lo is not None and abs(lo + k) < MAX_RELATION and \
                    not zone.add(other, x, -(lo + k)):
                return False
    return True
