"""Returns and traps of the llvm engine's functions: a trap records its code, pc and
operands in the run structure through the module's cold trap function and returns;
nothing more of the program runs."""

from __future__ import annotations

from bpfjit.traps import TrapCode

from . import irtext as ir
from .llvmtypes import I64, SUB_RESULT, const

__all__ = ["TrapLowering"]


class TrapLowering:
    """Mixed into the llvm engine's _Function."""

    def ret(self, r0, builder=None) -> None:
        """Return r0 and the budget left to the caller (in registers, not through the
        run structure: after inlining, the budget stays in one SSA value)."""
        b = builder or self.b
        pair = b.insert_value(ir.poison(SUB_RESULT), r0, 0)
        b.ret(b.insert_value(pair, b.load(self.budget, typ=I64), 1))

    def ret_trapped(self, builder) -> None:
        """Return after a trap (recorded in the run structure): nothing more runs."""
        builder.ret(ir.Value(SUB_RESULT, "zeroinitializer"))

    def trap_unless(self, ok, code: TrapCode, pc: int, arg=None, size: int = 0) -> None:
        """Continue when `ok`; otherwise record the trap and return (marked unlikely).

        Each site gets its own small block calling the module's cold trap function:
        one shared block with phis of hundreds of inputs makes LLVM's instcombine slow.
        """
        block = self.func.append_basic_block(f"trap{pc}")
        tb = ir.IRBuilder(block)
        tb.call(self.m.trap_function, [self.run, const(I64, code), const(I64, pc),
                                       arg if arg is not None else const(I64, 0),
                                       const(I64, size)])
        self.ret_trapped(tb)
        if ok is None:
            self.b.branch(block)
        else:
            if code is TrapCode.MEMORY:
                ok = self.predicted(ok)
            cont = self.func.append_basic_block()
            self.b.cbranch(ok, cont, block).set_metadata("prof", self.m.unlikely_second)
            self.b.position_at_end(cont)
            return
        self.b.position_at_end(self.func.append_basic_block())

    def trap_now(self, code: TrapCode, pc: int, arg=None) -> None:
        """An unconditional trap; code after it in the block is unreachable."""
        self.trap_unless(None, code, pc, arg)

    def return_if_callee_trapped(self) -> None:
        if self._return_zero is None:
            self._return_zero = self.func.append_basic_block("callee_trapped")
            self.ret_trapped(ir.IRBuilder(self._return_zero))
        trapped = self.b.icmp_unsigned("!=", self.load_field("trap"), const(I64, 0))
        cont = self.func.append_basic_block()
        self.b.cbranch(trapped, self._return_zero, cont).set_metadata(
            "prof", self.m.unlikely_first)
        self.b.position_at_end(cont)
