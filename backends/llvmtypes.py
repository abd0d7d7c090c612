"""The LLVM types, operation tables and small IR helpers the llvm backend's modules share."""

from __future__ import annotations

from bpfjit.runfields import field_index

from . import irtext as ir
from .irtext import FunctionPointer

__all__ = ["I1", "I8", "I16", "I32", "I64", "PTR", "INT", "SUB_TYPE", "SUB_RESULT",
           "HELPER_PTR", "REPORT_PTR", "CMP", "SIMPLE_OPS", "SHIFT_OPS", "ATOMIC_OPS", "const", "fit_bound",
           "run_field"]

I1, I8, I16, I32, I64 = (ir.IntType(n) for n in (1, 8, 16, 32, 64))
PTR = ir.PointerType()
INT = {8: I8, 16: I16, 32: I32, 64: I64}
# a subprogram: (r1..r5, frame_top, stack_base, run, mem, budget) -> {r0, budget}
SUB_RESULT = ir.StructType([I64, I64])
SUB_TYPE = ir.FunctionType(SUB_RESULT, [I64] * 5 + [PTR, PTR, PTR, PTR, I64])
HELPER_PTR = FunctionPointer(ir.FunctionType(I64, [I64] * 5 + [PTR]))
REPORT_PTR = FunctionPointer(ir.FunctionType(ir.VoidType(), [PTR]))

CMP = {"jeq": ("u", "=="), "jne": ("u", "!="), "jgt": ("u", ">"), "jge": ("u", ">="),
        "jlt": ("u", "<"), "jle": ("u", "<="), "jsgt": ("s", ">"), "jsge": ("s", ">="),
        "jslt": ("s", "<"), "jsle": ("s", "<=")}
SIMPLE_OPS = {"add": "add", "sub": "sub", "mul": "mul", "or": "or_", "and": "and_", "xor": "xor"}
SHIFT_OPS = {"lsh": "shl", "rsh": "lshr", "arsh": "ashr"}
ATOMIC_OPS = {"add": "add", "or": "or", "and": "and", "xor": "xor", "xchg": "xchg"}


def const(ty, value: int):
    return ir.Constant(ty, value & ((1 << ty.width) - 1))


def fit_bound(builder, length, size):
    """length - size + 1, or 0 when length < size: a `size`-byte access at offset d of a
    buffer of `length` bytes is inside it when d < this (unsigned).  `size` is a number,
    or a value computed at run time (a range that moves with a loop's trips)."""
    if isinstance(size, int):
        fits = builder.icmp_unsigned(">=", length, const(I64, size))
        return builder.select(fits, builder.sub(length, const(I64, size - 1)), const(I64, 0))
    fits = builder.icmp_unsigned(">=", length, size)
    return builder.select(fits, builder.add(builder.sub(length, size), const(I64, 1)),
                          const(I64, 0))


def run_field(builder, run, name: str):
    """Pointer to field `name` of the run structure (every field is 8 bytes)."""
    return builder.gep(run, [const(I64, field_index(name))], source_etype=I64)
