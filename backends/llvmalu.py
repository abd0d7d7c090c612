"""Arithmetic in the llvm backend: ALU operations (division without faulting, masked
shift counts), negation, byte swaps and the legacy packet loads.  A mixin of
backends.llvm's per-subprogram lowering."""

from __future__ import annotations

from bpfjit.blinding import needs_blinding
from bpfjit.isa import Kind
from bpfjit.liveness import use_def
from bpfjit.context import legacy_headers
from bpfjit.semantics import M64, SKF_LL_OFF, SKF_NET_OFF, legacy_packet_offset

from . import irtext as ir

from .llvmtypes import I8, I32, I64, INT, SHIFT_OPS, SIMPLE_OPS, const
from .reciprocals import magic_divisor, magic_divisor32, magic_divisor_short

I128 = ir.IntType(128)

__all__ = ["AluLowering"]


class AluLowering:
    """ALU, NEG, END and LD_PACKET (see backends.llvm)."""

    def _header_offset(self, offset, mac: int | None, net: int):
        """ldind's signed offset, below 0 mapped to a header's as
        semantics.legacy_packet_offset maps it (-1 where it names none: it fails the
        bound's test)."""
        b = self.b
        from_link = b.add(offset, const(I64, mac - SKF_LL_OFF)) if mac is not None \
            else const(I64, -1)
        linked = b.select(b.icmp_signed(">=", offset, const(I64, SKF_LL_OFF)), from_link,
                          const(I64, -1))
        headed = b.select(b.icmp_signed(">=", offset, const(I64, SKF_NET_OFF)),
                          b.add(offset, const(I64, net - SKF_NET_OFF)), linked)
        return b.select(b.icmp_signed("<", offset, const(I64, 0)), headed, offset)

    def _operands(self, insn, width: int):
        """(dst, src) as values of the operation's width; dst is None for a move."""
        a = None if insn.spec.op in ("mov", "movsx") else self.get(insn.dst)
        if insn.spec.source == "reg":
            b_ = self.get(insn.src)
        elif insn.spec.op in ("lsh", "rsh", "arsh"):
            b_ = const(I64, insn.imm & (width - 1))     # a count: only its low bits count
        else:
            b_ = self.imm(insn.imm)        # sign-extended to 64 bits
        if width == 32:
            a, b_ = a if a is None else self.narrow(a), self.narrow(b_)
        return a, b_

    def narrow(self, value, ty=I32):
        """value truncated to `ty`; a constant is truncated here, not by an instruction."""
        if isinstance(value, ir.Constant):
            return const(ty, value.constant)
        return self.b.trunc(value, ty)

    def widen(self, value):
        """A 32-bit value zero-extended to 64 bits (a constant here)."""
        if isinstance(value, ir.Constant):
            return const(I64, value.constant)
        return self.b.zext(value, I64)

    def _alu(self, pc, insn) -> None:
        spec, b = insn.spec, self.b
        if self._exact_extension(pc, insn):
            return
        ty = INT[spec.width]
        x, y = self._operands(insn, spec.width)
        op = spec.op
        if op in SIMPLE_OPS:
            r = getattr(b, SIMPLE_OPS[op])(x, y)
        elif op in SHIFT_OPS:
            count = const(ty, y.constant & (spec.width - 1)) if isinstance(y, ir.Constant) \
                else b.and_(y, const(ty, spec.width - 1))
            r = getattr(b, SHIFT_OPS[op])(x, count)
        elif op == "mov":
            r = y
        elif op == "movsx":
            r = b.sext(b.trunc(y, INT[insn.off]), ty)
        elif op in ("div", "mod") and spec.source == "imm" and self.m.blind \
                and needs_blinding(insn.imm, 64) \
                and (divisor := insn.imm & ((1 << spec.width) - 1)) >= 2:
            r = self._divide_by_constant(op == "mod", x, divisor, ty)
        else:
            r = self._divide(op, x, y, ty)
        if spec.width == 64 and op in ("add", "sub"):
            self._follow_frame_terms(op, x, y, r)
        result = self.widen(r) if spec.width == 32 else r
        bound = (1 << 32) - 1 if spec.width == 32 else self._bound_of(op, x, y)
        if bound is not None and not isinstance(result, ir.Constant):
            self.upper[result.ref] = bound
        self.set(insn.dst, result)

    def _exact_extension(self, pc, insn) -> bool:
        """Lower an extension the verifier showed changes nothing (True: done): the
        `lsh r, 32` of `lsh r, 32; rsh|arsh r, 32 + k` is nothing and its shift right is
        one by k, `w = w'` is a 64-bit copy, so that LLVM sees the number itself, not a
        32-bit copy of it its induction variables cannot see through
        (VerifiedProgram.exact_extensions); only where that serves an address, not a
        division (_worth_dropping)."""
        exact, spec = self.m.verified.exact_extensions, insn.spec
        if pc in exact:
            if spec.op == "lsh":
                return self._worth_dropping(pc + 1, insn.dst)
            if not self._worth_dropping(pc, insn.dst):
                return False
            self.set(insn.dst, self.get(insn.src))
            return True
        if pc - 1 not in exact or spec.op not in ("rsh", "arsh") \
                or self.m.prog.at(pc - 1).spec.op != "lsh":
            return False
        if not self._worth_dropping(pc, insn.dst):     # (as the lsh decided: lowered)
            return False
        value = self.get(insn.dst)
        if insn.imm > 32:
            shift = self.b.lshr if spec.op == "rsh" else self.b.ashr
            value = shift(value, const(I64, insn.imm - 32))
        self.set(insn.dst, value)
        return True

    def _worth_dropping(self, pc: int, reg: int) -> bool:
        """Whether the extension complete at pc is dropped: where the value reg holds
        after it reaches an address in the block (an index, whose 32-bit copy hid the
        induction variable), and no division reads it.  Dropped everywhere, the
        extensions cost as much as they gained elsewhere: one process, one verdict
        compiled with and without the facts, the corpus's 125 programs that have
        some, llvm, two runs: every exact extension dropped 0.988-0.993x (stackvm 1.33x,
        tokens 1.11-1.20x, siphash, tokptr and segtree 1.06-1.15x); only those reaching
        an address 0.965-0.982x (segtree 1.08-1.10x the worst; lzw 0.62x, knapsack
        0.51x).  Elsewhere a zero-extension tells LLVM the high half is zero, which its
        known-bits analysis uses, and LLVM divides a zero-extended number in 32 bits
        (corpus rle's Adler sums, 1.00x native with the extension, 1.60x without it;
        telling LLVM the bound with an llvm.assume instead was no faster over the
        corpus, 0.992x, and makes a wrong fact undefined behaviour).  Decided once a
        pc: the lsh and its shift right ask alike."""
        known = self.dropped_extensions.get(pc)
        if known is None:
            addressed, divided = self._uses_in_block(pc, reg)
            known = self.dropped_extensions[pc] = addressed and not divided
        return known

    def _uses_in_block(self, pc: int, reg: int) -> tuple[bool, bool]:
        """What, in pc's block after it, the value reg holds after pc comes to: (whether
        a load, store or atomic's address is computed from it -- through copies, sums
        with it (a pointer plus it, it plus something) and shifts and multiplies by
        constants (its scaling) --, whether a division or remainder reads it or a copy
        of it)."""
        derived = copies = 1 << reg
        addressed = divided = False
        prog, leaders = self.m.prog, self.m.leaders
        at = pc + 1
        while (derived and not addressed or copies and not divided) \
                and at < prog.slot_count and at not in leaders:
            insn = prog.at(at)
            kind, spec = insn.kind, insn.spec
            if kind in (Kind.LDX, Kind.LDSX) and derived >> insn.src & 1 \
                    or kind in (Kind.STX, Kind.ST, Kind.ATOMIC) and derived >> insn.dst & 1:
                addressed = True
            if kind is Kind.ALU and spec.op in ("div", "mod") \
                    and (copies >> insn.dst & 1
                         or spec.source == "reg" and copies >> insn.src & 1):
                divided = True
            written = use_def(insn)[1]
            alu64 = kind is Kind.ALU and spec.width == 64
            if alu64 and spec.source == "reg" and spec.op in ("mov", "add") \
                    and derived >> insn.src & 1:
                derived |= 1 << insn.dst                # a copy, or a base plus it
            elif not (alu64 and derived >> insn.dst & 1
                      and (spec.op == "add" or spec.op in ("lsh", "mul")
                           and spec.source == "imm")):  # (it plus something, or scaled)
                derived &= ~written
            if alu64 and spec.op == "mov" and spec.source == "reg" and copies >> insn.src & 1:
                copies |= 1 << insn.dst
            else:
                copies &= ~written
            at += insn.slots
        return addressed, divided

    def upper_of(self, value) -> int | None:
        """The most `value` can be as an unsigned number when it is known to be below
        2**63 (an index that cannot be negative), else None (upper)."""
        if isinstance(value, ir.Constant):
            return value.constant if 0 <= value.constant < 1 << 63 else None
        return self.upper.get(value.ref)

    def _bound_of(self, op: str, x, y) -> int | None:
        """What the 64-bit `x op y` is at most, from its operands' bounds (upper_of)."""
        bx, by = (None if x is None else self.upper_of(x)), self.upper_of(y)
        bound = None
        if op == "mov":
            bound = by
        elif op == "and":
            bound = min(b for b in (bx, by, 1 << 63) if b is not None)
        elif op in ("add", "or", "xor") and bx is not None and by is not None:
            bound = bx + by if op == "add" else (1 << max(bx, by).bit_length()) - 1
        elif op == "mul" and bx is not None and by is not None:
            bound = bx * by
        elif op == "lsh" and bx is not None and isinstance(y, ir.Constant):
            bound = bx << (y.constant & 63)         # (counts are taken modulo 64)
        elif op == "rsh" and isinstance(y, ir.Constant) and y.constant & 63:
            bound = (M64 if bx is None else bx) >> (y.constant & 63)
        return bound if bound is not None and bound < 1 << 63 else None

    def _follow_frame_terms(self, op: str, x, y, r) -> None:
        """Record r = x + y or x - y as the frame's top plus terms when x (or, for an
        add, y) is one (see frame_offset)."""
        terms = self.frame_terms
        if x.ref not in terms and op == "add":
            x, y = y, x
        if x.ref not in terms or isinstance(r, ir.Constant):
            return
        values, constant = terms[x.ref]
        if isinstance(y, ir.Constant):
            terms[r.ref] = values, (constant + (y.constant if op == "add" else -y.constant)) & M64
        elif op == "add" and y.ref not in terms:
            terms[r.ref] = values + (y,), constant

    def _divide_by_constant(self, modulo: bool, x, divisor: int, ty):
        """Unsigned x / divisor or x % divisor for a divisor (>= 2) that blinding hides
        from LLVM, which would otherwise divide at run time (`udiv` by an opaque value: a
        DIV): the multiplies by a rounded reciprocal that LLVM makes of an open constant
        (backends.reciprocals), reciprocals and divisor blinded alike.  Where the divisor
        has a 32-bit reciprocal, a dividend below 2**32 takes one multiply and a shift:
        a 32-bit operation's, a 64-bit one's known so by its bound, or else behind a
        select on its upper half, which LLVM folds where it can tell (corpus isodate's
        `% 400` of a value masked to 16 bits in another block: the 64-bit multiply's
        longer chain there cost 16%).  Any other dividend takes a multiply and shifts
        where the divisor has a short 64-bit reciprocal, as LLVM divides by an open
        constant (corpus ntt's `(u64)a * b % 998244353`: 1.58x -> 1.33x native), else
        the sequence with its add."""
        b = self.b
        wide = x if ty.width == 64 else b.zext(x, I64)
        short = magic_divisor32(divisor)
        bound = self.upper_of(x)
        narrow = ty.width == 32 or bound is not None and bound < 1 << 32
        q = None
        if short is not None:                   # exact for every dividend below 2**32
            q = b.lshr(b.mul(wide, self.imm(short[0])), const(I64, short[1]))
            if narrow:
                return self._quotient_or_remainder(modulo, wide, q, divisor, ty)
        quick = magic_divisor_short(divisor)
        if quick is not None:
            pre, magic, shift = quick
            shifted = b.lshr(wide, const(I64, pre)) if pre else wide
            product = b.mul(b.zext(shifted, I128), b.zext(self.imm(magic), I128))
            long = b.trunc(b.lshr(product, const(I128, 64)), I64)     # (x * m) >> 64
        else:
            magic, shift = magic_divisor(divisor)
            product = b.mul(b.zext(wide, I128), b.zext(self.imm(magic), I128))
            t = b.trunc(b.lshr(product, const(I128, 64)), I64)     # (x * m) >> 64
            long = b.add(t, b.lshr(b.sub(wide, t), const(I64, 1)))
        if shift:
            long = b.lshr(long, const(I64, shift))
        q = long if q is None else \
            b.select(b.icmp_unsigned("<", wide, const(I64, 1 << 32)), q, long)
        return self._quotient_or_remainder(modulo, wide, q, divisor, ty)

    def _quotient_or_remainder(self, modulo: bool, wide, q, divisor: int, ty):
        """q, or the remainder wide - q * divisor, at the operation's width."""
        b = self.b
        r = b.sub(wide, b.mul(q, self.imm(divisor))) if modulo else q
        return r if ty.width == 64 else b.trunc(r, I32)

    def _divide(self, op: str, x, y, ty):
        """div/mod/sdiv/smod without ever executing a faulting division."""
        b = self.b
        zero, one = const(ty, 0), const(ty, 1)
        by_zero = b.icmp_unsigned("==", y, zero)
        if op in ("div", "mod"):
            # a branch round the division, not selects: LLVM may not hoist a udiv past
            # the test that its divisor is not 0, so the test stays a predicted jump,
            # off the chain a loop of divisions waits on (Newton's square root: the
            # selects' `cmp; adc` before and `cmove` after each divide cost 17%)
            divide = self.func.append_basic_block()
            joined = self.func.append_basic_block()
            before = b.block
            b.cbranch(by_zero, joined, divide).set_metadata("prof", self.m.unlikely_first)
            b.position_at_end(divide)
            q = b.udiv(x, y) if op == "div" else b.urem(x, y)
            b.branch(joined)
            b.position_at_end(joined)
            result = b.phi(ty)
            result.add_incoming(zero if op == "div" else x, before)
            result.add_incoming(q, divide)
            return result
        int_min = const(ty, 1 << (ty.width - 1))
        overflow = b.and_(b.icmp_unsigned("==", y, const(ty, -1)),
                          b.icmp_unsigned("==", x, int_min))
        safe = b.select(b.or_(by_zero, overflow), one, y)   # INT_MIN / 1 == INT_MIN, % 1 == 0
        if op == "sdiv":
            return b.select(by_zero, zero, b.sdiv(x, safe))
        return b.select(by_zero, x, b.srem(x, safe))

    def _neg(self, pc, insn) -> None:
        width = insn.spec.width
        x = self.get(insn.dst)
        if width == 32:
            x = self.b.trunc(x, I32)
        r = self.b.neg(x)
        self.set(insn.dst, self.b.zext(r, I64) if width == 32 else r)

    def _end(self, pc, insn) -> None:
        b, bits = self.b, insn.imm
        x = self.get(insn.dst)
        if insn.spec.op == "le":
            r = x if bits == 64 else b.and_(x, const(I64, (1 << bits) - 1))
        else:
            narrow = x if bits == 64 else b.trunc(x, INT[bits])
            swap = self.m.module.declare_intrinsic("llvm.bswap", [INT[bits]])
            r = b.call(swap, [narrow])
            r = r if bits == 64 else b.zext(r, I64)
        self.set(insn.dst, r)

    def _ld_packet(self, pc, insn) -> None:
        """ldabs/ldind: r0 = the big-endian value at a packet offset (imm, or src + imm as
        a signed 32-bit sum); outside the packet the program returns 0 at once (only the
        main subprogram has these: the verifier refuses them beside local calls)."""
        b, bits = self.b, insn.spec.width
        mac, net = legacy_headers(self.m.prog.prog_type)
        if insn.spec.op == "abs":
            offset = legacy_packet_offset(insn.imm, mac, net)
            offset = self.imm(-1 if offset is None else offset)   # (-1 fails the test)
        else:
            total = b.add(self.get(insn.src), self.imm(insn.imm))
            offset = self._header_offset(b.sext(b.trunc(total, I32), I64), mac, net)
        inside = b.icmp_unsigned("<", offset, self._bound("mem", insn.spec.size))
        outside = self.func.append_basic_block(f"packet_end{pc}")
        ob = ir.IRBuilder(outside)
        self.ret(const(I64, 0), ob)
        cont = self.func.append_basic_block()
        b.cbranch(self.predicted(inside), cont, outside)
        b.position_at_end(cont)
        if self.m.spec:                         # (bpfjit.speculation)
            offset = self.guard(offset, self._bound("mem", insn.spec.size), offset)
        value = b.load(b.gep(self.mem, [offset], source_etype=I8), typ=INT[bits], align=1)
        if bits > 8:
            value = b.call(self.m.module.declare_intrinsic("llvm.bswap", [INT[bits]]), [value])
        self.set(0, b.zext(value, I64))
        for i in range(1, 6):
            self.set(i, const(I64, 0))
