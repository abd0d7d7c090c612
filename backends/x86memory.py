"""Loads, stores and atomics in the peachpy backend: each access's memory operand,
checked in checked mode against the region the verifier names (the buffer, the top
frame, one map's values, or any of the buffer, the live frames and the map values) and made
speculation-safe (bpfjit.speculation).  A mixin of backends.x86's lowering."""

from __future__ import annotations

from bpfjit.isa import STACK_SIZE, Kind
from bpfjit.liveness import block_live_out, use_def
from bpfjit.speculation import fences_unknown_region
from bpfjit.traps import WRITE_FLAG, TrapCode

from .x86asm import Mem, r8, r16, r32
from .x86layout import ATOMIC_OPS, CTX, CTX_SLOT, S1, S2, SIGNED_LOAD, s32, sized

__all__ = ["MemoryLowering"]


class MemoryLowering:
    """_address and the instructions that access memory (ldx, st, stx, atomics)."""

    def _address(self, pc: int, base: int, off: int, size: int, write: bool,
                 in_register: bool = False) -> Mem:
        """The memory operand of an access; in checked mode, bounds-checked into r11,
        and made speculation-safe (bpfjit.speculation) into r11 when it must be."""
        a, b = self.a, self.reg[base]
        if self.unchecked(pc):
            clamp = self.clamp_of(pc)
            if not in_register and clamp is None:
                return Mem(size, b, off)
            a("LEA", S2, Mem(8, b, off))
            if clamp is not None:
                self._clamp(clamp, size)
            return Mem(size, S2, 0)
        # the verifier may know which region the base always points into: check that one
        region = self.verified.regions.get(pc)
        packed = size | (WRITE_FLAG if write else 0)
        if region == "stack" and pc < self.top_frame_end:
            return self._own_frame_address(pc, base, off, size, packed)
        if region == "mem" and not in_register and b != self.fp and self._dead_after(pc, base):
            return self._buffer_address(pc, b, off, size, packed)
        index = self.verified.map_regions.get(pc)
        if index is not None:
            return self._map_value_address(pc, b, off, size, packed, index)
        fail = self._stub(TrapCode.MEMORY, pc, None, packed)
        ok = a.new_label()
        a("LEA", S2, Mem(8, b, off))                            # r11 = address
        # an access of unknown region, speculation-safe without a barrier (unless
        # fences_unknown_region): each region's path poisons the address on its own
        # tests' flags, so whichever path a misprediction takes, an address outside
        # that region becomes POISON
        masked = region is None and self.spec and not fences_unknown_region(self.prog)
        if region not in ("stack", "map"):
            a("MOV", S1, S2)
            a("SUB", S1, Mem(8, CTX, CTX_SLOT["mem"]))
            a("CMP", S1, Mem(8, CTX, CTX_SLOT[f"mem_bound{size}"]))   # inside the buffer?
            if region == "mem":
                self._check_jump("ae", fail)
                self._poison_if("AE")
                return Mem(size, S2, 0)
            if masked:
                stack = a.new_label()
                a.jump("ae", stack)                              # jae stack
                self._poison_if("AE")                            # cmovae r11, POISON
                a.jump("jmp", ok)
                a.label(stack)
            else:
                a.jump("b", ok)
        if region != "stack" and self.prog.maps:
            # then the map values, out of line: back to `ok` when inside one
            probe = a.new_label()
            self.probes.append((probe, ok, size, fail))
            fail = probe
        a("CMP", S2, Mem(8, CTX, CTX_SLOT[f"stack_end{size}"]))     # below the stack's end
        self._check_jump("a", fail)
        if region == "stack" or masked:
            self._poison_if("A")
        a("LEA", S1, Mem(8, self.fp, -STACK_SIZE))              # and in a live frame?
        a("CMP", S2, S1)
        self._check_jump("b", fail)
        if region == "stack" or masked:
            self._poison_if("B")
        a.label(ok)
        if region != "stack" and self.spec and not masked:
            a("LFENCE")             # reached from the buffer, the stack or a map: a barrier
        return Mem(size, S2, 0)

    def _map_value_address(self, pc: int, b: str, off: int, size: int, packed: int,
                           index: int) -> Mem:
        """A checked access the verifier knows is into the values of map `index`, if
        anywhere: the address in r11 compared with that map's arena's first and last
        admissible bytes, and poisoned on each compare's flags (no barrier: a
        mispredicted check reads nothing)."""
        fail = self._stub(TrapCode.MEMORY, pc, None, packed)
        self.a("LEA", S2, Mem(8, b, off))                       # r11 = address
        self._in_map_arena(index, size, fail)
        return Mem(size, S2, 0)

    def _buffer_address(self, pc: int, b: str, off: int, size: int, packed: int) -> Mem:
        """A checked access the verifier knows is into the buffer, if anywhere, through
        a base register nothing reads after it: its offset from the buffer's start
        computed in r10 and compared unsigned, and on the failing branch's flags the
        base itself poisoned (that branch leaves for the trap, so the move only ever
        happens speculatively); the stub rebuilds the address for the trap's message.
        A base read later keeps the copy in r11: poisoned in place, a pointer stepped
        through a loop would wait on every trip's check (corpus slidemax: 6% slower)."""
        a = self.a
        fail = self._stub(TrapCode.MEMORY, pc, Mem(8, b, off), packed)
        if off:
            a("LEA", S1, Mem(8, b, off))                        # lea r10, [b + off]
        else:
            a("MOV", S1, b)                                     # mov r10, b
        a("SUB", S1, Mem(8, CTX, CTX_SLOT["mem"]))
        a("CMP", S1, Mem(8, CTX, CTX_SLOT[f"mem_bound{size}"]))   # inside the buffer?
        self._check_jump("ae", fail)
        self._poison_if("AE", b)                                # cmovae b, POISON
        return Mem(size, b, off)

    def _dead_after(self, pc: int, reg: int) -> bool:
        """Whether BPF register `reg` is written before it is read again after the
        instruction at pc (which may write it itself: `ldxb r1, [r1]`)."""
        bit = 1 << reg
        first = self.block_of[pc]
        pcs = self.block_pcs[first]
        for at in pcs[pcs.index(pc):]:
            use, written = use_def(self.prog.at(at))
            if at != pc and use & bit:
                return False
            if written & bit:
                return True
        return not block_live_out(self.prog)[first] & bit

    def _own_frame_address(self, pc: int, base: int, off: int, size: int,
                           packed: int) -> Mem:
        """A checked stack access in the entry subprogram, which no call enters, so its
        frame is always the top one and the live frames are exactly its 512 bytes:
        r11 = the address's height above the frame's bottom, one unsigned compare, and
        the access made through rbp and r11, which speculation safety keeps in the frame
        (bpfjit.speculation.FRAME_MASK).  A base the block made as r10 + x + c gives the
        height as x + c + off + 512 (x86frameterms)."""
        a = self.a
        fail = self._stub(TrapCode.MEMORY, pc, Mem(8, self.fp, -STACK_SIZE, S2), packed)
        added, constant = self.frame_terms.get(base, (None, None))
        height = None if constant is None else constant + off + STACK_SIZE
        if height is not None and added is not None and -(1 << 31) <= height < 1 << 31:
            a("LEA", S2, Mem(8, self.reg[added], height))     # lea r11, [x + c + off + 512]
        else:
            a("LEA", S2, Mem(8, self.reg[base], off + STACK_SIZE))  # lea r11, [b + off + 512]
            a("SUB", S2, self.fp)                               # sub r11, rbp
        a("CMP", S2, STACK_SIZE - size)                         # cmp r11, 512 - size
        self._check_jump("a", fail)
        self._wrap_in_frame(S2)                                 # and r11, 511
        return Mem(size, self.fp, -STACK_SIZE, S2, 1)           # [rbp + r11 - 512]

    def _ldx(self, pc: int, insn) -> None:
        self._load(insn, self._address(pc, insn.src, insn.off, insn.spec.size, write=False))

    def _load(self, insn, src: Mem) -> None:
        size, d = insn.spec.size, self.reg[insn.dst]
        if insn.kind is Kind.LDSX:
            self.a(SIGNED_LOAD[size], d, src)
        elif size == 8:
            self.a("MOV", d, src)
        elif size == 4:
            self.a("MOV", r32(d), src)
        else:
            self.a("MOVZX", r32(d), src)

    _ldsx = _ldx

    def _st(self, pc: int, insn) -> None:
        size = insn.spec.size
        dst = self._address(pc, insn.dst, insn.off, size, write=True)
        value = insn.imm
        if size > 1 and self.blinds(value, 8 * min(size, 4)):
            width = 64 if size == 8 else 32                     # (r10 is free here)
            if not self._load_pooled(S1, s32(value), width):     # (x86pool)
                self._blinded(S1, value, width)
            self.a("MOV", dst, {8: S1, 4: r32(S1), 2: r16(S1)}[size])
            return
        if size < 8:
            value &= (1 << (8 * size)) - 1
            if value >= 1 << (8 * size - 1):
                value -= 1 << (8 * size)
        self.a("MOV", dst, value)

    def _stx(self, pc: int, insn) -> None:
        size, s = insn.spec.size, self.reg[insn.src]
        dst = self._address(pc, insn.dst, insn.off, size, write=True)
        self.a("MOV", dst, {1: r8, 2: r16, 4: r32, 8: str}[size](s))

    def _atomic(self, pc: int, insn) -> None:
        a, spec = self.a, insn.spec
        w, op, s = spec.width, spec.op, self.reg[insn.src]
        sw = sized(s, w)
        if op == "cmpxchg":
            self._cmpxchg(pc, insn)
            return
        if op == "xchg" or (op == "add" and spec.fetch):
            dst = self._address(pc, insn.dst, insn.off, spec.size, write=True)
            a("XCHG" if op == "xchg" else "lock XADD", dst, sw)     # s = old value
            return
        if not spec.fetch:
            dst = self._address(pc, insn.dst, insn.off, spec.size, write=True)
            a("lock " + ATOMIC_OPS[op], dst, sw)
            return
        # fetch or/and/xor: a compare-and-exchange loop, which needs rax
        dst = self._address(pc, insn.dst, insn.off, spec.size, write=True, in_register=True)
        save = Mem(8, CTX, CTX_SLOT["save0"])
        a("MOV", save, "rax")
        operand = Mem(w // 8, CTX, CTX_SLOT["save0"]) if s == "rax" else sw
        acc = sized("rax", w)
        a("MOV", acc, dst)
        again = a.new_label()
        a.label(again)
        a("MOV", sized(S1, w), acc)
        a(ATOMIC_OPS[op], sized(S1, w), operand)
        a("lock CMPXCHG", dst, sized(S1, w))     # on failure, rax = the current value
        a.jump("ne", again)
        a("MOV", sw, acc)                          # s = old value (zero-extended)
        if s != "rax":
            a("MOV", "rax", save)

    def _cmpxchg(self, pc: int, insn) -> None:
        """r0 = cmpxchg(dst + off, r0, src): x86's CMPXCHG compares with rax."""
        a, w = self.a, insn.spec.width
        r0, s = self.reg[0], self.reg[insn.src]
        dst = self._address(pc, insn.dst, insn.off, insn.spec.size, write=True,
                            in_register=True)
        if r0 == "rax":
            a("lock CMPXCHG", dst, sized(s, w))
            if w == 32:
                a("MOV", "eax", "eax")      # a successful 32-bit CMPXCHG leaves rax as is
            return
        a("MOV", S1, "rax")                  # rax holds another BPF register
        a("MOV", "rax", r0)
        a("lock CMPXCHG", dst, sized(S1 if s == "rax" else s, w))
        a("MOV", sized(r0, w), sized("rax", w))
        a("MOV", "rax", S1)
