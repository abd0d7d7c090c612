"""Addresses clang builds in a few BPF instructions, made by one x86-64 `lea` or folded
into the load that uses them, for the peachpy JIT:

    mov d, s; add d, imm [; add d, t]        ->  lea d, [s + t + imm]
    mov d, s; add d, t                       ->  lea d, [s + t]
    lsh t, k; mov d, s; add d, imm; add d, t ->  lea d, [s + t*2^k + imm]   (k = 1..3,
                                                  t read by nothing after: an index
                                                  into an array of 2-, 4- or 8-byte items)
    ... ; ldx x, [d + off]                   ->  mov x, [s + t*2^k + imm + off]
                                                  (the access proven, and d read by
                                                  nothing after it, or x is d)

BPF has no scaled index, so `a[i]` of u32 items is `i <<= 2; p = r10; p += -64; p +=
i; x = *(u32 *)(p + 0)`: four instructions and a dependent chain of three before the
load, one `mov x, [rbp + i*4 - 64]` here.  Where the index is shifted in place, its
x86 register keeps the value before the shift; nothing reads it after, but the frame
terms (backends.x86frameterms) would, so `forget_stale_index` drops what they
recorded of it once the fused run has been followed.  A mixin of backends.x86's lowering.
"""

from __future__ import annotations

from bpfjit.isa import Kind

from .x86asm import Mem

__all__ = ["AddressFusion"]

_SCALES = {1: 2, 2: 4, 3: 8}


def _alu64(insn, op: str, source: str) -> bool:
    return insn.kind is Kind.ALU and insn.spec.width == 64 and insn.spec.op == op \
        and insn.spec.source == source


class AddressFusion:
    """fuse_address: the forms of the module docstring."""

    stale_index: int | None = None

    def fuse_address(self, body: list, i: int, run: list) -> int:
        """Emit run (body[i:]) as one lea or load when it starts with one of the forms;
        instructions consumed, or 0."""
        shift = None
        if _alu64(run[0], "lsh", "imm") and run[0].imm in _SCALES and len(run) >= 4:
            shift, run, i = run[0], run[1:], i + 1
        first, second = run[0], run[1]
        if not _alu64(first, "mov", "reg") or first.src == first.dst:
            return 0
        d = first.dst
        base, index, disp = self.reg[first.src], None, 0
        if second.dst == d and second.kind is Kind.ALU and second.spec.width == 64 \
                and second.spec.op in ("add", "sub") and second.spec.source == "imm":
            disp = second.imm if second.spec.op == "add" else -second.imm
            if not -(1 << 31) <= disp < 1 << 31 or self.blinds(second.imm):
                return 0
            used = 2
            third = run[2] if len(run) > 2 else None
            if third is not None and _alu64(third, "add", "reg") and third.dst == d \
                    and third.src != d:
                index, used = third.src, 3
        elif _alu64(second, "add", "reg") and second.dst == d and second.src != d:
            index, used = second.src, 2
        else:
            return 0
        scale = 1
        if shift is not None:
            t = shift.dst
            if index != t or t in (d, first.src) or not self._dead_after(body[i + used - 1][0], t):
                return 0
            scale = _SCALES[shift.imm]
            self.stale_index = t
        for k in range(0 if shift is not None else 1, used):   # (the lsh or mov: marked)
            self.a.mark(body[i + k][0])
        index_reg = None if index is None else self.reg[index]
        consumed = used + (shift is not None)
        load = run[used] if len(run) > used else None
        load_pc = body[i + used][0] if load is not None else None
        if load is not None and load.kind in (Kind.LDX, Kind.LDSX) and load.src == d \
                and (load.dst == d or self._dead_after(load_pc, d)) \
                and self.unchecked(load_pc) and self.clamp_of(load_pc) is None \
                and -(1 << 31) <= disp + load.off < 1 << 31:
            # ... ; ldx x, [d + off]  ->  a load from [s + t*scale + imm + off]
            self.a.mark(load_pc)
            self._load(load, Mem(load.spec.size, base, disp + load.off, index_reg, scale))
            return consumed + 1
        self.a("LEA", self.reg[d], Mem(8, base, disp, index_reg, scale))
        return consumed

    def forget_stale_index(self, terms: dict) -> None:
        """After the run just fused has been followed into the frame terms: forget the
        terms that add an index whose shift was fused away (its x86 register holds the
        value before the shift, which a height computed from it would misread)."""
        if self.stale_index is not None:
            for reg in [r for r, (added, _) in terms.items() if added == self.stale_index]:
                del terms[reg]
            self.stale_index = None
