"""Constant blinding: what both JIT engines do with a program's immediates so that no
pattern the program's author chose appears in executable memory (JIT spraying).

As the kernel's bpf_jit_blind_constants does, each immediate is emitted XORed with a
fresh random key and restored at run time by a second XOR with the key.  Immediates
that cannot make an instruction are left alone: a value in [-128, 127] (a
sign-extended byte), a single non-zero byte (0xc300), only 0x00 and 0xff bytes (masks
such as 0xffff, frame offsets such as -256: `ff ff`, `ff 00` and `00 00` encode
nothing an attacker can use), a one-byte store, a shift count (masked below 64).  A
lone chosen byte already occurs everywhere in machine code; two make instructions
(`0f 05` is `syscall`, `ff d0` is `call rax`), which is what blinding removes.
Offsets of loads and stores (16 bits, as in the kernel) are not blinded, nor are
immediates in the range of a frame offset (-512 to -129, `r2 = r10; r2 += -384`, the
commonest blinded immediate of clang's output): their bytes are one chosen byte, then
0xfe or 0xff, then 0xff bytes, and the pairs those make (`xx fe`, `xx ff`: a ModRM byte
naming two registers; `fe ff`, `ff ff`: undefined) are no instruction worth spraying,
where a load's offset may hold any two bytes.  Nor are masks, one run of ones
(`r2 &= 0xffffffe0` before `r2 >>= 5`: clang's shift of a u32 kept in a 64-bit
register; 0x7fffffff, 0xffff8000): their bytes are 0x00 and 0xff but for one of 80 c0
e0 f0 f8 fc fe below the 0xff bytes and one of 01 03 07 0f 1f 3f 7f above them, which
spell no jump, call or system call but `ff 1f` (`call far [rdi]`), blinded still.
Blinding a mask hides it from the optimiser too: LLVM no longer folds the mask and
shift into one 32-bit shift (an XTEA round's chain, 1.20x -> 1.01x native).

On by default in the checked and strict modes, which run programs the host did not
write; off in unchecked mode, which trusts them; `blind=` on `compile` decides either
way.
"""

from __future__ import annotations

import os

from .errors import BpfError

__all__ = ["blinding_enabled", "needs_blinding", "blinding_key"]

FRAME_OFFSET_LOW = -512         # the lowest offset of a 512-byte frame


def blinding_enabled(option: bool | None, mode: str) -> bool:
    """Whether a compile blinds: the `blind` option, else by the verifier's mode."""
    if option is None:
        return mode != "unchecked"
    if not isinstance(option, bool):
        raise BpfError(f"blind must be True, False or None, got {option!r}")
    return option


def needs_blinding(value: int, bits: int = 64) -> bool:
    """Whether an immediate of `bits` bits puts a chosen pattern into code: not a
    sign-extended byte (-128 to 127), nor a frame offset (-512 to -129: one chosen byte
    before 0xfe or 0xff bytes), nor a single non-zero byte (0xc300), nor only 0x00 and
    0xff bytes (0xffff, -256), nor a mask of one run of ones (0xffffffe0) unless it
    puts 0x1f after 0xff."""
    value &= (1 << bits) - 1
    signed = value - (1 << bits) if value >= 1 << (bits - 1) else value
    if FRAME_OFFSET_LOW <= signed <= 127:
        return False
    data = value.to_bytes(bits // 8, "little")
    if _is_mask(value) and b"\xff\x1f" not in data:
        return False
    return sum(1 for byte in data if byte) > 1 and any(byte not in (0, 0xFF) for byte in data)


def _is_mask(value: int) -> bool:
    """Whether `value` (non-negative) is one run of ones: adding its lowest set bit
    carries through the run and leaves no bit of it."""
    return value & (value + (value & -value)) == 0


def blinding_key(bits: int = 64) -> int:
    """A fresh random key of `bits` bits, never 0."""
    while True:
        key = int.from_bytes(os.urandom((bits + 7) // 8), "little") & ((1 << bits) - 1)
        if key:
            return key
