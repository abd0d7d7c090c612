"""The peachpy lowering's pool of blinded constants.

Blinding (bpfjit.blinding) keeps a program's chosen immediates out of executable
memory; made where it is used, each costs a `mov; xor` into a scratch register before
the instruction that needs it.  Inside a loop that pair runs every trip.  So, as llvm
makes a loop's constants once in its entry block, a constant that an instruction of a
loop blinds (an immediate, or what a division by a constant derives from its divisor)
is made once per run by the entry code (the same XOR with a fresh key) into a slot of
the native frame above the BPF stack, and every instruction that uses it reads the
slot as a memory operand (`imul r15, [r12 + disp32]`, where the unblinded form had an
imm32: the loop's code keeps its length).  The slots lie out of every BPF access's
reach (checked and masked stack accesses stay below the stack's top), in writable,
never executable, memory.

The entry code reserves a stretch for the filling (`Assembler.reserve`) and the pool
is filled in once every instruction is lowered, so the pool holds exactly what the
lowering asked for.  A mixin of backends.x86's lowering."""

from __future__ import annotations

from bpfjit.blinding import blinding_key
from bpfjit.checkplan import natural_loops

from .x86asm import Mem
from .x86layout import CTX, FRAME, M64, S1, S2, s32, sized

__all__ = ["PoolLowering", "POOL_LIMIT", "POOL_BYTES"]

# at most this many constants are made at entry (each costs every run three
# instructions, whether or not the loop that uses it runs); the rest are made in place
POOL_LIMIT = 16
POOL_BYTES = 8 * POOL_LIMIT             # (a multiple of 16: rsp stays aligned)


class PoolLowering:
    """The pool's slots, their filling at entry, and the operand a blinded constant
    becomes (see the module's docstring)."""

    def _prepare_pool(self) -> None:
        """The pcs whose constants may be pooled (instructions of loops, when this
        compile blinds), and the native frame's size with the pool above the stack."""
        self.pool: dict[int, int] = {}                  # value (64-bit pattern) -> disp
        self.pool_pcs = frozenset().union(
            *(body for body, _, _ in natural_loops(self.prog).values())) \
            if self.blind else frozenset()
        self.at_pc = -1                                 # the instruction being lowered
        self.frame = FRAME + (POOL_BYTES if self.pool_pcs else 0)
        self.pool_hole: bytearray | None = None

    def _reserve_pool(self) -> None:
        """At entry, once r12 is set: where the pool's filling goes."""
        if self.pool_pcs:
            self.pool_hole = self.a.reserve()

    def _fill_pool(self) -> None:
        """Once everything is lowered: each pooled value into its slot, made with a
        fresh key by XOR, in the stretch the entry reserved."""
        if not self.pool:
            return
        a = self.a
        with a.into(self.pool_hole):
            for value, disp in self.pool.items():
                signed = value - (1 << 64) if value >> 63 else value
                if -(1 << 31) <= signed < 1 << 31:
                    key = blinding_key(32)
                    a("MOV", S1, s32(value ^ key))              # mov r10, sx(imm ^ key)
                    a("XOR", S1, s32(key))                      # xor r10, sx(key)
                else:
                    key = blinding_key(64)
                    a("MOV", S1, (value ^ key) & M64)           # movabs r10, imm64 ^ key
                    a("MOV", S2, key)                           # movabs r11, key
                    a("XOR", S1, S2)                            # xor r10, r11
                a("MOV", Mem(8, CTX, disp), S1)                 # mov [r12 + slot], r10

    def _pooled(self, value: int, width: int) -> Mem | None:
        """The pool slot holding `value` (a 64-bit pattern: a 32-bit immediate
        sign-extended), read at `width` bits (the low half for a 32-bit operation):
        one taken now if the instruction being lowered is in a loop and the pool has
        room, else None (the caller makes the constant in place)."""
        value &= M64
        disp = self.pool.get(value)
        if disp is None and self.at_pc in self.pool_pcs and len(self.pool) < POOL_LIMIT:
            disp = self.pool[value] = FRAME + 8 * len(self.pool)
        return None if disp is None else Mem(width // 8, CTX, disp)

    def _load_pooled(self, reg: str, value: int, width: int) -> bool:
        """mov reg (its `width` bits: a 32-bit mov zero-extends) from the pool slot of
        `value`, where it has one (see _pooled); whether it had."""
        pooled = self._pooled(value, width)
        if pooled is not None:
            self.a("MOV", sized(reg, width), pooled)        # mov reg, [r12 + slot]
        return pooled is not None

    def _blinded_operand(self, imm: int, width: int):
        """The operand that stands for the blinded 32-bit immediate `imm` (sign-extended
        for 64): its pool slot, else scratch register r10 made here (`mov; xor`)."""
        pooled = self._pooled(s32(imm), width)
        if pooled is not None:
            return pooled
        self._blinded(S1, imm, width)
        return sized(S1, width)
