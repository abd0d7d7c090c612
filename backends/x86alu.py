"""Arithmetic in the peachpy lowering: ALU operations, constants, shifts, division
and modulo (never a faulting instruction), negation, byte swaps and the legacy packet
loads.  A mixin of backends.x86's lowering."""

from __future__ import annotations

from bpfjit.blinding import blinding_key, needs_blinding
from bpfjit.cache import cpu_flags
from bpfjit.context import legacy_headers
from bpfjit.isa import Kind
from bpfjit.liveness import use_def
from bpfjit.semantics import SKF_LL_OFF, SKF_NET_OFF, legacy_packet_offset

from .reciprocals import magic_divisor, magic_divisor32, magic_divisor_short
from .x86asm import Mem, r8, r16, r32
from .x86layout import ALU_OPS, CTX, CTX_SLOT, M32, S1, S2, SHIFT_OPS, s32, sized

__all__ = ["AluLowering"]

# BMI2's shlx/shrx/sarx take the count in any register and mask it as BPF does (by the
# width - 1); without them the count must go through cl.  (The CPU's flags are part of
# every code image's cache key.)
BMI2 = "bmi2" in cpu_flags()


class AluLowering:
    """ALU, NEG, END and LD_PACKET instructions (see backends.x86)."""

    def blinds(self, imm: int, bits: int = 32) -> bool:
        """Whether this compile blinds the immediate `imm` (a `bits`-bit field)."""
        return self.blind and needs_blinding(imm, bits)

    def _blinded(self, d, imm: int, w: int) -> None:
        """d (a register, or a memory operand of w bits) = the program's 32-bit immediate
        `imm` (sign-extended for 64), never written into the code: its XOR with a random
        key, then the key XORed back (both sign-extended alike: sx(a) ^ sx(b) ==
        sx(a ^ b)).  bpfjit.blinding."""
        key, d = blinding_key(32), sized(d, w) if isinstance(d, str) else d
        self.a("MOV", d, s32(imm ^ key))                   # mov d, imm ^ key
        self.a("XOR", d, s32(key))                         # xor d, key

    def _alu(self, pc: int, insn) -> None:
        a, spec = self.a, insn.spec
        op, w = spec.op, spec.width
        d = self.reg[insn.dst]
        dw = sized(d, w)
        if spec.source == "reg":
            s = self.reg[insn.src]
            src = sized(s, w)
        else:
            s, src = None, (insn.imm if w == 64 else s32(insn.imm))
            if self.blinds(insn.imm):       # (shift counts and divisors: see below)
                if op == "mov":
                    if not self._load_pooled(d, s32(insn.imm), w):      # (x86pool)
                        self._blinded(d, insn.imm, w)
                    return
                if op in ALU_OPS or op == "mul":
                    src = self._blinded_operand(insn.imm, w)    # a pool slot, or r10
                    s = S1                  # (no immediate: imul's two-operand form)
        if op in ALU_OPS:
            a(ALU_OPS[op], dw, src)
        elif op == "mov":
            if s is not None:
                if s == d and pc in self.verified.exact_extensions:
                    return                          # below 2^32 already: no change
                if s != d or w == 32:               # mov r32, r32 zero-extends
                    a("MOV", dw, src)
            else:
                self._load_constant(d, insn.imm if w == 64 else insn.imm & M32)
        elif op == "mul":
            if s is not None:
                a("IMUL", dw, src)
            elif not self._multiply_by_lea(d, insn.imm, w):
                a("IMUL", dw, dw, src)
        elif op == "movsx":
            a("MOVSXD" if insn.off == 32 else "MOVSX", dw,
              {8: r8, 16: r16, 32: r32}[insn.off](s))
        elif op in SHIFT_OPS:
            self._shift(SHIFT_OPS[op], d, s, insn.imm, w)
        else:
            self._divide(op, d, s, insn.imm, w, pc)

    def _multiply_by_lea(self, d: str, imm: int, w: int) -> bool:
        """d *= imm as `lea d, [d + d*(m-1)]` (and a shift by k) when imm is m * 2^k for
        m = 3, 5 or 9: one or two single-cycle instructions for imul's three cycles
        (MurmurHash's `h * 5 + c` on every block, `n * 10` in number parsing).  The low
        32 bits of the 64-bit product are the 32-bit product, which `lea r32` keeps,
        zero-extended as mul32's result is.  False where imm is of no such form."""
        if imm <= 0:
            return False
        shift = (imm & -imm).bit_length() - 1
        odd = imm >> shift
        if odd not in (3, 5, 9):
            return False
        dw = sized(d, w)
        self.a("LEA", dw, Mem(8, d, 0, d, odd - 1))              # lea d, [d + d*(m-1)]
        if shift:
            self.a("SHL", dw, shift)                             # shl d, k
        return True

    def _load_constant(self, d: str, value: int) -> None:
        """d = value (64-bit), in the shortest form."""
        value &= (1 << 64) - 1
        if value == 0:
            self.a("XOR", r32(d), r32(d))
        elif value <= M32:
            self.a("MOV", r32(d), s32(value))             # zero-extends
        elif value >= (1 << 64) - (1 << 31):
            self.a("MOV", d, value - (1 << 64))            # sign-extended imm32
        else:
            self.a("MOV", d, value)                        # movabs

    def _shift(self, mnemonic: str, d: str, s: str | None, imm: int, w: int) -> None:
        """Shift d by s (masked by the hardware exactly as BPF masks) or by an immediate."""
        a, dw = self.a, sized(d, w)
        if s is None:
            count = imm & (w - 1)
            if count:
                a(mnemonic, dw, count)
            elif w == 32:
                a("MOV", dw, dw)                           # a zero shift still zero-extends
            return
        if BMI2:
            a(mnemonic + "X", dw, dw, sized(s, w))      # shlx d, d, s: any count register
        elif s == "rcx":
            if w == 32:
                a("MOV", dw, dw)        # a shift by 0 need not zero-extend: do it first
            a(mnemonic, dw, "cl")
        elif d == "rcx":
            a("MOV", sized(S2, w), dw)                    # the value to shift -> r11
            a("MOV", "ecx", r32(s))
            a(mnemonic, sized(S2, w), "cl")
            a("MOV", dw, sized(S2, w))
        else:
            a("MOV", S2, "rcx")
            a("MOV", "ecx", r32(s))
            if w == 32:
                a("MOV", dw, dw)
            a(mnemonic, dw, "cl")
            a("MOV", "rcx", S2)

    def _divide(self, op: str, d: str, s: str | None, imm: int, w: int, pc: int) -> None:
        """div/mod/sdiv/smod with the RFC's results for x / 0 and INT_MIN / -1."""
        a = self.a
        signed, modulo = op in ("sdiv", "smod"), op in ("mod", "smod")
        dw = sized(d, w)
        checks = s is not None
        if s is None:
            divisor = imm if w == 64 else imm & M32
            if w == 32 and signed and divisor >= 1 << 31:
                divisor -= 1 << 32
            if divisor == 0:                # x / 0 = 0, x % 0 = x
                if not modulo:
                    a("XOR", r32(d), r32(d))
                elif w == 32:
                    a("MOV", dw, dw)
                return
            if signed and divisor == -1:    # x / -1 = -x (INT_MIN stays), x % -1 = 0
                if modulo:
                    a("XOR", r32(d), r32(d))
                else:
                    a("NEG", dw)
                return
            if not signed:
                unsigned = divisor & ((1 << w) - 1)
                if unsigned == 1:           # x / 1 = x, x % 1 = 0
                    if modulo:
                        a("XOR", r32(d), r32(d))
                    elif w == 32:
                        a("MOV", dw, dw)
                    return
                if BMI2:
                    narrow = w == 64 and self._below_2_32(pc, self.prog.at(pc).dst)
                    self._divide_by_constant(modulo, d, imm, unsigned, w, narrow)
                    return
            operand = Mem(w // 8, CTX, CTX_SLOT["save0"])
            if self.blinds(imm):                       # the divisor through memory, blinded
                self._blinded(operand, imm, w)
            else:
                a("MOV", operand, s32(imm) if w == 32 else imm)
            stash = [S1, S2, Mem(8, CTX, CTX_SLOT["save1"])]
        else:
            stash = [S1, S2, Mem(8, CTX, CTX_SLOT["save1"])]
            divisor = stash.pop(0) if s in ("rax", "rdx") else s
            if divisor != s:
                a("MOV", divisor, s)
            operand = sized(divisor, w)
        saved = []
        for reg in ("rax", "rdx"):
            if reg == s and divisor != s and reg != d:
                # the divisor's copy holds it, and no division writes it: restored from
                # there (a BPF r3 divisor, x86's rdx, went through the frame and back)
                saved.append((reg, divisor))
            elif reg != d:
                place = stash.pop(0)
                a("MOV", place, reg)
                saved.append((reg, place))
        if d != "rax":
            a("MOV", sized("rax", w), dw)
        acc, rem = sized("rax", w), sized("rdx", w)
        done = a.new_label()
        if checks:
            zero = a.new_label()
            a("TEST", operand, operand)
            a.jump("e", zero)
            if signed:
                minus_one = a.new_label()
                a("CMP", operand, -1)
                a.jump("e", minus_one)
        if signed:
            a("CQO" if w == 64 else "CDQ")
            a("IDIV", operand)
        elif checks and w == 64:
            # both below 2^32 (a count, a length): the 32-bit divide, as clang's
            # BypassSlowDivision does, at a fraction of a 64-bit one's cycles on most CPUs
            wide = a.new_label()
            a("MOV", "rdx", "rax")                         # mov rdx, rax
            a("OR", "rdx", operand)                        # or rdx, s
            a("SHR", "rdx", 32)                            # shr rdx, 32 (0: edx = 0)
            a.jump("ne", wide)
            a("DIV", sized(divisor, 32))                   # div s32
            a.jump("jmp", done)
            a.label(wide)
            a("XOR", "edx", "edx")
            a("DIV", operand)                              # div s
        else:
            a("XOR", "edx", "edx")
            a("DIV", operand)
        if checks:
            a.jump("jmp", done)
            a.label(zero)
            if modulo:
                a("MOV", rem, acc)                         # x % 0 = x
            else:
                a("XOR", "eax", "eax")                     # x / 0 = 0
            if signed:
                a.jump("jmp", done)
                a.label(minus_one)
                if modulo:
                    a("XOR", "edx", "edx")                 # x % -1 = 0
                else:
                    a("NEG", acc)                          # x / -1 = -x, INT_MIN stays
        a.label(done)
        result = "rdx" if modulo else "rax"
        if d != result:
            a("MOV", dw, sized(result, w))
        for reg, place in reversed(saved):
            a("MOV", reg, place)

    def _divide_by_constant(self, modulo: bool, d: str, imm: int, divisor: int,
                            w: int, narrow: bool = False) -> None:
        """Unsigned div/mod of d by a constant divisor >= 2 (the immediate `imm`) with a
        multiply by its rounded reciprocal (backends.reciprocals) instead of a DIV.  A
        dividend below 2**32 (a 32-bit operation's always, a 64-bit one's when its high
        half is 0) takes one multiply by a 32-bit reciprocal and a shift where the
        divisor has one: a chain of `x % 65521` (Adler-32) ran 1.6x native with the
        64-bit sequence alone.  Otherwise the 64-bit sequence (`_wide_quotient`).  The
        quotient is made in r11; nothing goes through memory.  `narrow`: a 64-bit
        dividend known to be below 2**32 (`_below_2_32`) takes the short way without
        testing; one that may be wider tests its high half (a branch the data decides
        alike nearly every time: it costs less than the 64-bit multiply's longer chain
        of latencies, measured on corpus sudoku's `/ 9` and `% 3`)."""
        a = self.a
        short = magic_divisor32(divisor)
        a("MOV", sized(S2, w), sized(d, w))                 # r11 = x (zero-extended)
        done = a.new_label()
        w_test = 32 if short is not None and narrow else w        # (the test's width)
        if short is not None:
            long = a.new_label()
            if w_test == 64:
                a("MOV", S1, S2)
                a("SHR", S1, 32)                            # x below 2**32?
                a.jump("ne", long)
            self._constant32(S1, short[0])                  # r10 = m (32 bits)
            a("IMUL", S2, S1)                               # x * m
            a("SHR", S2, short[1])                          # q = (x * m) >> s
            if w_test == 64:
                a.jump("jmp", done)
            a.label(long)
        if short is None or w_test == 64:
            self._wide_quotient(divisor)
        a.label(done)
        self._remainder_or_quotient(modulo, d, imm, w)

    def _wide_quotient(self, divisor: int) -> None:
        """r11 = r11 // divisor for any 64-bit r11: `t = mulhi(x, m)` (BMI2's mulx, which
        leaves rax alone; rdx kept in r10), then `q = t >> s` where the divisor has a
        short reciprocal (x shifted first by the divisor's trailing zero bits, for
        some: x % 1000000007 of a product, 1.24x -> 0.97x native), else `q = (t + ((x -
        t) >> 1)) >> s`."""
        a = self.a
        quick = magic_divisor_short(divisor)
        a("MOV", S1, "rdx")                                 # r10 = rdx
        if quick is not None:
            pre, magic, shift = quick
            if pre:
                a("SHR", S2, pre)                           # x >> k (k trailing zeros)
            self._wide_constant("rdx", magic)               # rdx = m
            a("MULX", S2, "rdx", S2)                        # r11 = (x * m) >> 64
        else:
            magic, shift = magic_divisor(divisor)
            self._wide_constant("rdx", magic)               # rdx = m
            a("MULX", "rdx", "rdx", S2)                     # rdx = t = (x * m) >> 64
            a("SUB", S2, "rdx")                             # x - t
            a("SHR", S2, 1)
            a("ADD", S2, "rdx")                             # t + (x - t) / 2
        if shift:
            a("SHR", S2, shift)                             # q = ... >> s
        a("MOV", "rdx", S1)                                 # rdx back

    def _remainder_or_quotient(self, modulo: bool, d: str, imm: int, w: int) -> None:
        """d = the quotient in r11, or the remainder d - r11 * divisor (`imm`)."""
        a = self.a
        if modulo:                                          # r = x - q * divisor
            if self.blinds(imm):                            # (sx(imm): the same low bits)
                a("IMUL", S2, self._blinded_operand(imm, 64))
            else:
                a("IMUL", S2, S2, s32(imm))                 # q * divisor
            a("SUB", sized(d, w), sized(S2, w))
        else:
            a("MOV", sized(d, w), sized(S2, w))

    def _below_2_32(self, pc: int, reg: int) -> bool:
        """Whether BPF register `reg` holds a value below 2**32 at `pc`, as the block's
        instructions before it show: a 32-bit result, a load of at most 4 bytes, a
        shift right by 32 or more (the count masked to 6 bits, as it runs: `rsh 64`
        shifts by 0), an and with a non-negative immediate, a copy of one
        of these, or a quotient or remainder of one (clang's `(u32)(x + k) % 24`
        zero-extends x before the 64-bit mod).  A block's start knows nothing."""
        narrow = 0
        for insn in self._block_before(pc):
            _, written = use_def(insn)
            kind, spec = insn.kind, insn.spec
            if kind is Kind.ALU:
                op, imm = spec.op, insn.imm
                by_imm = spec.source == "imm"
                keeps = spec.width == 32 \
                    or by_imm and (op == "rsh" and imm & 63 >= 32 or op == "and" and imm >= 0
                                   or op == "mov" and imm >= 0
                                   or op in ("div", "mod") and narrow >> insn.dst & 1) \
                    or not by_imm and op == "mov" and narrow >> insn.src & 1 \
                    or op == "rsh" and narrow >> insn.dst & 1
                narrow = narrow | written if keeps else narrow & ~written
            elif kind is Kind.LDX and spec.size <= 4:
                narrow |= written
            else:
                narrow &= ~written
        return bool(narrow >> reg & 1)

    def _block_before(self, pc: int) -> list:
        """The instructions of pc's basic block before pc, in order."""
        start = pc
        while start not in self.leaders:
            start -= 1
        out, at = [], start
        while at < pc:
            insn = self.prog.at(at)
            out.append(insn)
            at += insn.slots
        return out

    def _constant32(self, reg: str, value: int) -> None:
        """reg = a 32-bit constant derived from a program's immediate, zero-extended;
        blinded when it needs it (as a 32-bit operation's immediate is)."""
        if self.blinds(value):
            if not self._load_pooled(reg, s32(value), 32):  # (x86pool)
                self._blinded(reg, value, 32)
        else:
            self.a("MOV", r32(reg), s32(value))             # mov r32, m

    def _wide_constant(self, reg: str, value: int) -> None:
        """reg = a 64-bit constant derived from a program's immediate; blinded when it
        needs it without a second register: the high half (XORed with a key, then the
        key) shifted up, and the low half XORed in sign-extended, keyed the same way."""
        a = self.a
        if not (self.blind and needs_blinding(value, 64)):
            self._load_constant(reg, value)
            return
        if self._load_pooled(reg, value, 64):               # (x86pool)
            return
        low = value & M32
        high = (value >> 32) ^ (M32 if low >> 31 else 0)   # undone by sx(low)'s high half
        k1, k2 = blinding_key(32), blinding_key(32)
        a("MOV", r32(reg), s32(high ^ k1))                  # mov r32, high ^ k1
        a("XOR", r32(reg), s32(k1))                         # xor r32, k1
        a("SHL", reg, 32)
        a("XOR", reg, s32(low ^ k2))                        # xor r64, sx(low ^ k2)
        a("XOR", reg, s32(k2))                              # xor r64, sx(k2)

    def _neg(self, pc: int, insn) -> None:
        self.a("NEG", sized(self.reg[insn.dst], insn.spec.width))

    def _end(self, pc: int, insn) -> None:
        a, d, bits = self.a, self.reg[insn.dst], insn.imm
        if insn.spec.op == "le":                   # the host is little-endian: truncate
            if bits == 16:
                a("MOVZX", r32(d), r16(d))
            elif bits == 32:
                a("MOV", r32(d), r32(d))
        elif bits == 16:
            a("ROR", r16(d), 8)
            a("MOVZX", r32(d), r16(d))
        else:
            a("BSWAP", sized(d, bits))

    def _ld_packet(self, pc: int, insn) -> None:
        """ldabs/ldind: r0 = the big-endian value at a packet offset (imm, or src + imm as
        a signed 32-bit sum; below 0, an offset from a header, as
        semantics.legacy_packet_offset maps it); outside the packet the program returns 0."""
        a, size = self.a, insn.spec.size
        d = self.reg[0]
        mac, net = legacy_headers(self.prog.prog_type)
        if insn.spec.op == "abs":
            offset = legacy_packet_offset(insn.imm, mac, net)
            offset = -1 if offset is None else offset       # (fails the bound's test)
            if self.blinds(offset):
                self._blinded(S1, offset, 64)
            else:
                a("MOV", S1, offset)                        # mov r10, offset
        else:
            a("MOV", r32(S1), r32(self.reg[insn.src]))      # mov r10d, src32
            if self.blinds(insn.imm):
                self._blinded(S2, insn.imm, 32)
                a("ADD", r32(S1), r32(S2))                  # add r10d, r11d
            elif insn.imm:
                a("ADD", r32(S1), s32(insn.imm))           # add r10d, imm
            a("MOVSXD", S1, r32(S1))                        # movsxd r10, r10d
            self._header_offset(mac, net)
        a("CMP", S1, Mem(8, CTX, CTX_SLOT[f"mem_bound{size}"]))   # offset < len - size + 1?
        self._check_jump("ae", "return_zero")
        self._poison_if("AE", S1)                       # (bpfjit.speculation)
        a("ADD", S1, Mem(8, CTX, CTX_SLOT["data"]))            # add r10, packet
        if size == 4:
            a("MOV", r32(d), Mem(4, S1, 0))                 # mov r0d, [r10]
            a("BSWAP", r32(d))                              # bswap r0d
        else:
            a("MOVZX", r32(d), Mem(size, S1, 0))            # movzx r0d, [r10]
            if size == 2:
                a("ROR", r16(d), 8)                         # ror r0w, 8
                a("MOVZX", r32(d), r16(d))

    def _header_offset(self, mac: int | None, net: int) -> None:
        """ldind's offset in r10 below 0: from SKF_NET_OFF on, the network header's
        offset; from SKF_LL_OFF on, the MAC header's; below, -1, which fails the bound's
        test (semantics.legacy_packet_offset).  Offsets from 0 up jump over it."""
        a = self.a
        done, link, none = a.new_label(), a.new_label(), a.new_label()
        a("TEST", S1, S1)
        a.jump("ns", done)                                  # jns done
        a("CMP", S1, SKF_NET_OFF)
        a.jump("l", link)                                   # jl link
        a("ADD", S1, net - SKF_NET_OFF)                     # add r10, net + 0x100000
        a.jump("jmp", done)
        a.label(link)
        if mac is not None:
            a("CMP", S1, SKF_LL_OFF)
            a.jump("l", none)                               # jl none
            a("ADD", S1, mac - SKF_LL_OFF)                  # add r10, mac + 0x200000
            a.jump("jmp", done)
        a.label(none)
        a("MOV", S1, -1)                                    # mov r10, -1
        a.label(done)
