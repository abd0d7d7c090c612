"""A catalogue of realistic one-line miscompiles, to prove the fuzzer finds them.

Each mutant changes one thing in one JIT backend, of the kinds template and
LLVM-based JITs have really shipped: a wrong condition code, the wrong signedness
of a shift, load, extension, comparison, division or modulo, a 32-bit result not
zero-extended, an atomic doing the wrong operation, a 64-bit constant truncated, a
stack zeroed short, a helper's loop around a callback that loses registers or a trip;
and, shared by both, a verifier rule that proves what does not hold.
`apply(name)` installs it in the current process (a fuzzing worker: nothing else
runs there) by patching the backend's tables or wrapping one lowering method;
`bpfjit fuzz --self-test` runs a campaign against each and reports how long
finding it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BpfError
from .verifiermutants import (EXTENSION_OF_A_TWIN, EXTENSION_SIGNED_BOUND, PEELING_ANY_COPY,
                              REMAINDER_AT_A_JUMP_TARGET, any_copy, extension_of_a_twin,
                              extension_signed_bound, through_a_jump_target)

__all__ = ["Mutant", "MUTANTS", "apply", "by_engine"]


@dataclass(frozen=True)
class Mutant:
    name: str
    engine: str
    what: str                       # the miscompile, as a reviewer would describe it
    install: Callable[[], None]


def _table(module: str, table: str, key, value) -> Callable[[], None]:
    """A mutant that changes one entry of a backend's operation table."""
    def install() -> None:
        import importlib
        getattr(importlib.import_module(f"bpfjit.backends.{module}"), table)[key] = value
    return install


def _wrap(module: str, cls: str, method: str, make: Callable,
          package: str = "backends") -> Callable[[], None]:
    """A mutant that wraps one lowering method (or, with package "verifier", one of the
    verifier's rules): make(original) -> replacement."""
    def install() -> None:
        import importlib
        owner = getattr(importlib.import_module(f"bpfjit.{package}.{module}"), cls)
        setattr(owner, method, make(getattr(owner, method)))
    return install


def _builder(method: str, other: str) -> Callable[[], None]:
    """A mutant where the llvm backend builds `other` wherever it meant `method`."""
    def install() -> None:
        from bpfjit.backends import irtext as ir
        setattr(ir.IRBuilder, method, getattr(ir.IRBuilder, other))
    return install


# ---- both: inlined array lookups --------------------------------------------------------------

class _OneLonger:
    """A map seen one entry longer than it is."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    @property
    def max_entries(self) -> int:
        return self._inner.max_entries + 1


def _lookup_one_past(original):
    def lookup(self, index):            # key == max_entries finds the slot past the end
        prog = self.m.prog if hasattr(self, "m") else self.prog
        saved = prog.maps.list
        prog.maps.list = tuple(_OneLonger(m) if i == index else m for i, m in enumerate(saved))
        try:
            return original(self, index)
        finally:
            prog.maps.list = saved
    return lookup


# ---- both: bpf_loop ----------------------------------------------------------------------------

def _keeps_nothing(original):
    def lowered(self, callback, *rest):     # the callback's r6-r9 writes are not saved
        saved = self.clobbers               # around it (bpf_loop's, a for_each walk's)
        self.clobbers = {**saved, callback: []}
        try:
            return original(self, callback, *rest)
        finally:
            self.clobbers = saved
    return lowered


def _loop_one_trip_short(original):
    def loop(self, callback):           # the loop ends at i + 1 < trips, not i < trips
        from bpfjit.backends.llvmtypes import I64, const
        b = self.b
        trips = b.and_(self.get(1), const(I64, 0xFFFFFFFF))
        one_less = b.sub(trips, const(I64, 1))
        self.set(1, b.select(b.icmp_unsigned("==", trips, const(I64, 0)), trips, one_less))
        return original(self, callback)
    return loop


# ---- both: bpf_for_each_map_elem ----------------------------------------------------------

def _walk_counts_one_short(original):
    def for_each(self, callback, indices):      # r0 = the elements visited, less one
        from bpfjit.backends.llvmtypes import I64, const
        original(self, callback, indices)
        self.set(0, self.b.sub(self.get(0), const(I64, 1)))
    return for_each


# ---- both: the check plan ------------------------------------------------------------------

def _fast_copy_unchecks_the_loop(original):
    def unchecked(self, pc):            # a loop's fast copy drops every check in the loop,
        return original(self, pc) or (  # not only those its entry test covers
            self.fast is not None and pc in self.fast.body)
    return unchecked


def _copies_unchecked(original):
    def prepare(self, *args, **kwargs):     # a loop's entry takes a late copy of its
        from dataclasses import replace     # counter for the counter without testing it
        original(self, *args, **kwargs)
        self.loops = {header: replace(loop, copies=()) for header, loop in self.loops.items()}
    return prepare


def _wrap_ignores_the_trips(test):
    """The test whose wrapped u32 index is checked at its first trip only."""
    from dataclasses import replace
    return test if test.wrap is None else replace(test, wrap=replace(test.wrap, step=0))


def _llvm_range_one_trip_short(original):
    def holds(self, b, test, moved):    # a moving range spans one trip fewer
        from bpfjit.backends.llvmtypes import I64, const
        if moved is not None:
            moved = b.select(b.icmp_unsigned(">", moved, const(I64, 0)),
                             b.sub(moved, const(I64, 1)), moved)
        return original(self, b, test, moved)
    return holds


def _llvm_stack_range_start_only(original):
    def holds(self, b, test, moved):    # the stack's range: its first element alone
        from dataclasses import replace
        if test.region == "stack":
            test = replace(test, hi=test.lo + 1, step=0, step_register=None)
        return original(self, b, test, moved)
    return holds


def _x86_range_one_trip_short(original):
    def count(self, pc, trips, poisoned):   # the trips counted at the entry, less one
        from bpfjit.backends.x86asm import Mem
        from bpfjit.backends.x86layout import CTX, CTX_SLOT, S2
        original(self, pc, trips, poisoned)
        a = self.a
        a("MOV", S2, Mem(8, CTX, CTX_SLOT["save0"]))
        a("SUB", S2, 1)
        a("ADC", S2, 0)                     # (not below 0)
        a("MOV", Mem(8, CTX, CTX_SLOT["save0"]), S2)
    return count


def _wrap_tested_at_the_first_trip(original):
    def lower(self, where, test, *rest):    # llvm's _range_holds, peachpy's _range
        return original(self, where, _wrap_ignores_the_trips(test), *rest)
    return lower


# ---- peachpy: wrappers ----------------------------------------------------------------------

def _x86_idiom_ignores_stores(original):
    def forget_memory(self):            # a store between byte loads forgets nothing: the
        return None                     # wide load reads the new bytes where the old were
    return forget_memory


def _in_place_ignores_reads() -> None:
    """An integer built in its own base's register is loaded whole where the base is
    overwritten even when an instruction between reads the partial value (it then reads
    the whole integer)."""
    from bpfjit.backends import x86idioms
    from bpfjit.liveness import use_def
    original = x86idioms._in_place

    def in_place(prog, pcs, reg, replaced):
        writers = [pc for pc in pcs if use_def(prog.at(pc))[1] >> reg & 1]
        return original(prog, writers, reg, replaced)
    x86idioms._in_place = in_place


def _x86_rotate_right(original):
    def _idiom(self, pc, plan):         # a rotation emitted the wrong way round
        what = plan.replaced.get(pc)
        if pc not in plan.dead and type(what).__name__ == "Rotate":
            d = self.reg[what.dst]
            self.a("ROR", d if what.width == 64 else _r32(d), what.count)
            return
        return original(self, pc, plan)
    return _idiom


def _r32(reg: str) -> str:
    from bpfjit.backends.x86asm import r32
    return r32(reg)


def _x86_mov32_same(original):
    def _alu(self, pc, insn):           # `mov32 r, r` emitted as nothing: no zero-extension
        spec = insn.spec
        if spec.op == "mov" and spec.width == 32 and spec.source == "reg" \
                and insn.src == insn.dst:
            return
        return original(self, pc, insn)
    return _alu


def _x86_add32_wide(original):
    def _alu(self, pc, insn):           # add32 r, r done in 64 bits: no zero-extension
        spec = insn.spec
        if spec.op == "add" and spec.width == 32 and spec.source == "reg":
            self.a("ADD", self.reg[insn.dst], self.reg[insn.src])
            return
        return original(self, pc, insn)
    return _alu


def _x86_shift0(original):
    def _shift(self, mnemonic, d, s, imm, w):   # a 32-bit shift by 0 left unextended
        if s is None and w == 32 and imm & 31 == 0:
            return
        return original(self, mnemonic, d, s, imm, w)
    return _shift


def _x86_neg32(original):
    def _neg(self, pc, insn):           # neg32 done in 64 bits
        if insn.spec.width == 32:
            self.a("NEG", self.reg[insn.dst])
            return
        return original(self, pc, insn)
    return _neg


def _x86_lddw_low(original):
    def _lddw(self, pc, insn):          # lddw keeps only the low 32 bits
        if insn.src == 0:
            self._load_constant(self.reg[insn.dst], insn.imm64 & 0xFFFFFFFF)
            return
        return original(self, pc, insn)
    return _lddw


def _x86_ldxw_signed(original):
    def _load(self, insn, src):         # ldxw sign-extends
        from ..isa import Kind
        if insn.kind is Kind.LDX and insn.spec.size == 4:
            self.a("MOVSXD", self.reg[insn.dst], src)
            return
        return original(self, insn, src)
    return _load


# ---- llvm: wrappers ---------------------------------------------------------------------------

def _llvm_mov32_wide(original):
    def _alu(self, pc, insn):           # mov32 r, r copies all 64 bits
        spec = insn.spec
        if spec.op == "mov" and spec.width == 32 and spec.source == "reg":
            self.set(insn.dst, self.get(insn.src))
            return
        return original(self, pc, insn)
    return _alu


def _llvm_neg32_wide(original):
    def _neg(self, pc, insn):           # neg32 done in 64 bits
        if insn.spec.width == 32:
            self.set(insn.dst, self.b.neg(self.get(insn.dst)))
            return
        return original(self, pc, insn)
    return _neg


def _llvm_lddw_low(original):
    def _lddw(self, pc, insn):          # lddw keeps only the low 32 bits
        if insn.src == 0:
            from ..backends.llvmtypes import I64, const
            self.set(insn.dst, const(I64, insn.imm64 & 0xFFFFFFFF))
            return
        return original(self, pc, insn)
    return _lddw


def _llvm_shift_count(original):
    def _operands(self, insn, width):   # a 64-bit shift's register count masked to 5 bits
        x, y = original(self, insn, width)
        if insn.spec.op in ("lsh", "rsh", "arsh") and insn.spec.source == "reg" \
                and width == 64:
            from ..backends.llvmtypes import I64, const
            y = self.b.and_(y, const(I64, 31))
        return x, y
    return _operands


# ---- both: the stack's zeroing --------------------------------------------------------------

class _ShortStack:
    """A verdict whose stack_used is 64 bytes short, everything else as it is."""

    def __init__(self, verified):
        self._verified = verified
        self.stack_used = max(0, verified.stack_used - 64)

    def __getattr__(self, name):
        return getattr(self._verified, name)


def _zeroes_too_little(original):
    def _entry(self):                   # the entry zeroes the stack 64 bytes short
        verified = self.verified
        self.verified = _ShortStack(verified)
        try:
            return original(self)
        finally:
            self.verified = verified
    return _entry


def _rounded_down(module: str, *names: str) -> Callable[[], None]:
    """A backend's reciprocals (backends.reciprocals' functions, as `module` imported
    them under `names`) rounded down instead of up: an exact multiple of the divisor
    comes out one quotient short (the divisor itself divides to 0)."""
    def install() -> None:
        import importlib
        backend = importlib.import_module(f"bpfjit.backends.{module}")
        for name in names:
            exact = getattr(backend, name)

            def rounded_down(divisor: int, exact=exact) -> tuple[int, ...] | None:
                found = exact(divisor)          # (m, s), or the short one's (k, m, s)
                if found is None:
                    return None
                *pre, m, s = found
                return (*pre, (m - 1) % (1 << 64), s)
            setattr(backend, name, rounded_down)
    return install


def _charge_before_the_move(original: Callable) -> Callable:
    """The budget's subtraction put before the cmov, which then reads its flags."""
    def move_if(self, cond, d, source, charge):
        if charge:
            from bpfjit.backends.x86layout import BUDGET, S2
            from bpfjit.backends.x86asm import r8
            self.a("SET" + cond, r8(S2))
            self.a("SUB", BUDGET, S2)
        self.a("CMOV" + cond, d, source)
    return move_if


def _always_narrow(original: Callable) -> Callable:
    """Every dividend taken to be below 2**32."""
    def below_2_32(self, pc, reg):
        return True
    return below_2_32


def _unmasked_shift(original: Callable) -> Callable:
    """A 64-bit shift right by an immediate of 64 or more taken to narrow its register,
    its count read unmasked (`rsh r, 64` shifts by 0): c44f1d9's bug put back."""
    def below_2_32(self, pc, reg):
        from ..isa import Kind
        from ..liveness import use_def
        if original(self, pc, reg):
            return True
        writes = [insn for insn in self._block_before(pc) if use_def(insn)[1] >> reg & 1]
        last = writes[-1] if writes else None
        return last is not None and last.kind is Kind.ALU and last.spec.op == "rsh" \
            and last.spec.width == 64 and last.spec.source == "imm" and last.imm >= 64
    return below_2_32


MUTANTS: tuple[Mutant, ...] = (
    # peachpy: condition codes and signedness (backends.x86layout's tables)
    Mutant("x86-jsgt-unsigned", "peachpy", "jsgt tested as unsigned above (ja)",
           _table("x86layout", "JCC", "jsgt", "a")),
    Mutant("x86-jslt-unsigned", "peachpy", "jslt tested as unsigned below (jb)",
           _table("x86layout", "JCC", "jslt", "b")),
    Mutant("x86-jsle-strict", "peachpy", "jsle tested as jl (equality forgotten)",
           _table("x86layout", "JCC", "jsle", "l")),
    Mutant("x86-jge-strict", "peachpy", "jge tested as ja", _table("x86layout", "JCC", "jge", "a")),
    Mutant("x86-jle-strict", "peachpy", "jle tested as jb", _table("x86layout", "JCC", "jle", "b")),
    Mutant("x86-jset-inverted", "peachpy", "jset jumps when no bit is common (je)",
           _table("x86layout", "JCC", "jset", "e")),
    Mutant("x86-arsh-logical", "peachpy", "arsh emitted as a logical shift (shr)",
           _table("x86layout", "SHIFT_OPS", "arsh", "SHR")),
    Mutant("x86-rsh-arithmetic", "peachpy", "rsh emitted as an arithmetic shift (sar)",
           _table("x86layout", "SHIFT_OPS", "rsh", "SAR")),
    Mutant("x86-or-xor", "peachpy", "or emitted as xor", _table("x86layout", "ALU_OPS", "or", "XOR")),
    Mutant("x86-and-or", "peachpy", "and emitted as or", _table("x86layout", "ALU_OPS", "and", "OR")),
    Mutant("x86-atomic-or-xor", "peachpy", "atomic or done as xor",
           _table("x86layout", "ATOMIC_OPS", "or", "XOR")),
    Mutant("x86-atomic-and-or", "peachpy", "atomic and done as or",
           _table("x86layout", "ATOMIC_OPS", "and", "OR")),
    Mutant("x86-ldxsh-zero-ext", "peachpy", "ldxsh zero-extends (movzx)",
           _table("x86layout", "SIGNED_LOAD", 2, "MOVZX")),
    Mutant("x86-ldxsb-zero-ext", "peachpy", "ldxsb zero-extends (movzx)",
           _table("x86layout", "SIGNED_LOAD", 1, "MOVZX")),
    # peachpy: lowering methods
    Mutant("x86-mov32-same", "peachpy", "mov32 r, r emitted as nothing (no zero-extension)",
           _wrap("x86alu", "AluLowering", "_alu", _x86_mov32_same)),
    Mutant("x86-add32-wide", "peachpy", "add32 r, r done in 64 bits",
           _wrap("x86alu", "AluLowering", "_alu", _x86_add32_wide)),
    Mutant("x86-shift0-no-zext", "peachpy", "a 32-bit shift by 0 not zero-extended",
           _wrap("x86alu", "AluLowering", "_shift", _x86_shift0)),
    Mutant("x86-neg32-wide", "peachpy", "neg32 done in 64 bits",
           _wrap("x86alu", "AluLowering", "_neg", _x86_neg32)),
    Mutant("x86-lddw-low", "peachpy", "lddw keeps only the low 32 bits",
           _wrap("x86", "_Lowering", "_lddw", _x86_lddw_low)),
    Mutant("x86-ldxw-signed", "peachpy", "ldxw sign-extends (movsxd)",
           _wrap("x86", "_Lowering", "_load", _x86_ldxw_signed)),
    Mutant("x86-idiom-ignores-stores", "peachpy",
           "a wide load made of byte loads ignores a store between them",
           _wrap("x86idioms", "_Tracker", "forget_memory", _x86_idiom_ignores_stores)),
    Mutant("x86-idiom-in-place-ignores-reads", "peachpy",
           "an integer built in its own base's register is loaded whole though the "
           "partial value is read between", _in_place_ignores_reads),
    Mutant("x86-rotate-right", "peachpy", "x << k | x >> (w - k) emitted as ror by k",
           _wrap("x86", "_Lowering", "_idiom", _x86_rotate_right)),
    Mutant("x86-reciprocal-rounded-down", "peachpy",
           "a division by a constant multiplies by the reciprocal rounded down (BMI2)",
           _rounded_down("x86alu", "magic_divisor", "magic_divisor_short")),
    Mutant("x86-reciprocal32-rounded-down", "peachpy",
           "a division of a value below 2**32 by a constant multiplies by the 32-bit "
           "reciprocal rounded down", _rounded_down("x86alu", "magic_divisor32")),
    # llvm: predicates and operations (backends.llvmtypes' tables)
    Mutant("llvm-jsgt-unsigned", "llvm", "jsgt compared unsigned",
           _table("llvmtypes", "CMP", "jsgt", ("u", ">"))),
    Mutant("llvm-jslt-unsigned", "llvm", "jslt compared unsigned",
           _table("llvmtypes", "CMP", "jslt", ("u", "<"))),
    Mutant("llvm-jsle-strict", "llvm", "jsle compared with <",
           _table("llvmtypes", "CMP", "jsle", ("s", "<"))),
    Mutant("llvm-jge-strict", "llvm", "jge compared with >",
           _table("llvmtypes", "CMP", "jge", ("u", ">"))),
    Mutant("llvm-jle-signed", "llvm", "jle compared signed",
           _table("llvmtypes", "CMP", "jle", ("s", "<="))),
    Mutant("llvm-arsh-logical", "llvm", "arsh built as lshr",
           _table("llvmtypes", "SHIFT_OPS", "arsh", "lshr")),
    Mutant("llvm-rsh-arithmetic", "llvm", "rsh built as ashr",
           _table("llvmtypes", "SHIFT_OPS", "rsh", "ashr")),
    Mutant("llvm-or-xor", "llvm", "or built as xor", _table("llvmtypes", "SIMPLE_OPS", "or", "xor")),
    Mutant("llvm-and-or", "llvm", "and built as or", _table("llvmtypes", "SIMPLE_OPS", "and", "or_")),
    Mutant("llvm-atomic-or-xor", "llvm", "atomic or done as xor",
           _table("llvmtypes", "ATOMIC_OPS", "or", "xor")),
    Mutant("llvm-atomic-and-or", "llvm", "atomic and done as or",
           _table("llvmtypes", "ATOMIC_OPS", "and", "or")),
    # llvm: the IR builder's operations and lowering methods
    Mutant("llvm-smod-unsigned", "llvm", "smod built as an unsigned remainder",
           _builder("srem", "urem")),
    Mutant("llvm-sdiv-unsigned", "llvm", "sdiv built as an unsigned division",
           _builder("sdiv", "udiv")),
    Mutant("llvm-sext-zext", "llvm", "sign extension built as zero extension",
           _builder("sext", "zext")),
    Mutant("llvm-mov32-wide", "llvm", "mov32 r, r copies all 64 bits",
           _wrap("llvmalu", "AluLowering", "_alu", _llvm_mov32_wide)),
    Mutant("llvm-neg32-wide", "llvm", "neg32 done in 64 bits",
           _wrap("llvmalu", "AluLowering", "_neg", _llvm_neg32_wide)),
    Mutant("llvm-lddw-low", "llvm", "lddw keeps only the low 32 bits",
           _wrap("llvm", "_Function", "_lddw", _llvm_lddw_low)),
    Mutant("llvm-shift64-count", "llvm", "a 64-bit shift's register count masked to 5 bits",
           _wrap("llvmalu", "AluLowering", "_operands", _llvm_shift_count)),
    Mutant("llvm-lshr-ashr", "llvm", "every logical right shift built as arithmetic",
           _builder("lshr", "ashr")),
    Mutant("llvm-ult-slt", "llvm", "unsigned less-than compares signed",
           _table("llvmtypes", "CMP", "jlt", ("s", "<"))),
    Mutant("llvm-fast-copy-unchecked", "llvm",
           "a loop's fast copy runs every access unchecked, not only the hoisted ones",
           _wrap("copies", "CopyTracking", "unchecked", _fast_copy_unchecks_the_loop)),
    Mutant("x86-fast-copy-unchecked", "peachpy",
           "a loop's fast copy runs every access unchecked, not only the hoisted ones",
           _wrap("copies", "CopyTracking", "unchecked", _fast_copy_unchecks_the_loop)),
    Mutant("llvm-range-one-trip-short", "llvm",
           "a range that moves with the trips counted at a loop's entry spans one trip fewer",
           _wrap("llvmversions", "VersionLowering", "_range_holds",
                 _llvm_range_one_trip_short)),
    Mutant("llvm-stack-range-start-only", "llvm",
           "a loop's entry tests where a walk over an array in the frame starts, not where "
           "it ends", _wrap("llvmversions", "VersionLowering", "_range_holds",
                            _llvm_stack_range_start_only)),
    Mutant("x86-range-one-trip-short", "peachpy",
           "a range that moves with the trips counted at a loop's entry spans one trip fewer",
           _wrap("x86versions", "VersionLowering", "_count_trips", _x86_range_one_trip_short)),
    Mutant("llvm-wrap-first-trip-only", "llvm",
           "a hoisted u32 index is tested for a wrap at the loop's first trip only",
           _wrap("llvmversions", "VersionLowering", "_range_holds",
                 _wrap_tested_at_the_first_trip)),
    Mutant("x86-wrap-first-trip-only", "peachpy",
           "a hoisted u32 index is tested for a wrap at the loop's first trip only",
           _wrap("x86versions", "VersionLowering", "_range",
                 _wrap_tested_at_the_first_trip)),
    Mutant("llvm-copy-untested", "llvm",
           "a loop's entry takes a late copy of the counter for the counter, untested",
           _wrap("copies", "CopyTracking", "prepare_copies", _copies_unchecked)),
    Mutant("x86-copy-untested", "peachpy",
           "a loop's entry takes a late copy of the counter for the counter, untested",
           _wrap("copies", "CopyTracking", "prepare_copies", _copies_unchecked)),
    Mutant("x86-array-lookup-one-past", "peachpy",
           "an inlined array lookup finds key == max_entries (one past the end)",
           _wrap("x86calls", "CallLowering", "_array_lookup", _lookup_one_past)),
    Mutant("llvm-array-lookup-one-past", "llvm",
           "an inlined array lookup finds key == max_entries (one past the end)",
           _wrap("llvmcalls", "CallLowering", "_array_lookup", _lookup_one_past)),
    Mutant("x86-loop-keeps-nothing", "peachpy",
           "bpf_loop saves none of the r6-r9 its callback writes",
           _wrap("x86calls", "CallLowering", "_loop", _keeps_nothing)),
    Mutant("llvm-loop-one-trip-short", "llvm", "bpf_loop stops one trip short",
           _wrap("llvmcalls", "CallLowering", "_loop", _loop_one_trip_short)),
    Mutant("x86-walk-keeps-nothing", "peachpy",
           "bpf_for_each_map_elem's callback's r6-r9 writes not saved around the walk",
           _wrap("x86calls", "CallLowering", "_walk", _keeps_nothing)),
    Mutant("llvm-walk-counts-one-short", "llvm",
           "bpf_for_each_map_elem gives the elements visited less one",
           _wrap("llvmcalls", "CallLowering", "_for_each", _walk_counts_one_short)),
    *(Mutant(f"{prefix}-verifier-remainder-at-a-jump-target", engine,
             REMAINDER_AT_A_JUMP_TARGET,
             _wrap("alu", "AluRules", "_straight_writes", through_a_jump_target, "verifier"))
      for prefix, engine in (("x86", "peachpy"), ("llvm", "llvm"))),
    *(Mutant(f"{prefix}-verifier-peeling-any-copy", engine, PEELING_ANY_COPY, any_copy)
      for prefix, engine in (("x86", "peachpy"), ("llvm", "llvm"))),
    # (peachpy only: the llvm engine drops only extensions that reach an address,
    # where the generator's zero-extensions of numbers that may be negative seldom go)
    Mutant("x86-verifier-extension-signed-bound", "peachpy", EXTENSION_SIGNED_BOUND,
           extension_signed_bound),
    *(Mutant(f"{prefix}-verifier-extension-of-a-twin", engine, EXTENSION_OF_A_TWIN,
             extension_of_a_twin)
      for prefix, engine in (("x86", "peachpy"), ("llvm", "llvm"))),
    Mutant("x86-stack-zeroed-short", "peachpy", "the entry zeroes 64 bytes of stack too few",
           _wrap("x86", "_Lowering", "_entry", _zeroes_too_little)),
    Mutant("llvm-stack-zeroed-short", "llvm", "the entry zeroes 64 bytes of stack too few",
           _wrap("llvm", "_Module", "_entry", _zeroes_too_little)),
    Mutant("x86-select-flags-of-the-budget", "peachpy",
           "a jump over a move made a cmov that reads the flags of the budget's subtraction",
           _wrap("x86selects", "SelectLowering", "_move_if", _charge_before_the_move)),
    Mutant("x86-division-assumed-narrow", "peachpy",
           "a 64-bit division by a constant takes every dividend to be below 2**32",
           _wrap("x86alu", "AluLowering", "_below_2_32", _always_narrow)),
    Mutant("x86-division-after-an-unmasked-shift", "peachpy",
           "a 64-bit division by a constant skips the high half after `rsh r, 64` or more, "
           "as if the count were not masked to 6 bits",
           _wrap("x86alu", "AluLowering", "_below_2_32", _unmasked_shift)),
    Mutant("llvm-reciprocal-rounded-down", "llvm",
           "a division by a blinded constant multiplies by the reciprocals rounded down",
           _rounded_down("llvmalu", "magic_divisor", "magic_divisor32",
                         "magic_divisor_short")),
)

_BY_NAME = {m.name: m for m in MUTANTS}


def by_engine(engine: str) -> list[Mutant]:
    return [m for m in MUTANTS if m.engine == engine]


def apply(name: str) -> None:
    """Install mutant `name` in this process (a fuzzing worker)."""
    try:
        _BY_NAME[name].install()
    except KeyError:
        raise BpfError(f"unknown mutant {name!r}") from None
