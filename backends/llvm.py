"""The llvmlite backend: eBPF -> LLVM IR -> optimised x86-64 in executable memory.

Each BPF subprogram becomes one LLVM function, each basic block one LLVM block;
registers are allocas that mem2reg promotes.  The generated code follows the
runtime ABI of bpfjit.runtime and the semantics of the interpreter exactly:

- division and modulo never reach a faulting instruction: the divisor is made
  safe (0 -> 1, and INT_MIN / -1 -> INT_MIN / 1) before the division, and the
  RFC's result is selected afterwards;
- shift counts are masked before shifting (LLVM shifts by >= width are poison);
- in checked mode every load and store the verifier did not prove in bounds is
  checked against the memory buffer and the live stack frames, and its pointer
  is derived by GEP from the real base pointer (not by inttoptr, which LLVM 22
  can miscompile);
- the instruction budget is deducted per basic block on entry and checked at
  subprogram entries and loop heads, as in every engine.

Compilation: LLVM emits an object file, which backends.objlink places into
W^X memory shared with the other backend (see that module for why).
"""

from __future__ import annotations

import time
from dataclasses import replace

from bpfjit.cfg import (block_costs, block_leaders, budget_checkpoints, elided_code,
                        subprogram_ranges, top_frame_end)
from bpfjit.checkplan import natural_loops, versioned_loops
from bpfjit.errors import BpfError
from bpfjit.context import packet_offsets
from bpfjit.isa import LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, STACK_SIZE, Kind
from bpfjit.helpers import changes_packet
from bpfjit.helpers.maps import TAIL_CALL
from bpfjit.maps import LPM_TRIE, LRU_TYPES, map_handle
from bpfjit.codeimage import INDEX_SYMBOL, KEYS_SYMBOL, MAP_SYMBOL
from . import irtext as ir
from . import llvm_worker
from bpfjit.program import Program
from bpfjit.runfields import CONFIG_FIELDS, RUN_FIELDS, TRAPPED

from bpfjit.traps import TrapCode

from .llvmalu import AluLowering
from .llvmcodegen import TRIPLE, VECTORIZE
from bpfjit.blinding import blinding_key, needs_blinding
from bpfjit.budgetahead import segment_costs
from bpfjit.speculation import TOP_SLACK, masks_top_frame, zeroed_stack
from .llvmcalls import CallLowering
from .llvmidioms import IdiomLowering
from .llvmtraps import TrapLowering
from .llvmmemory import STACK_BYTES, MemoryLowering
from .selectshapes import decided_jumps
from .llvmlines import LineInfo, line_table
from .llvmscopes import ScopeLowering
from .llvmspeculation import SpeculationLowering
from .llvmversions import VersionLowering
from .llvmtypes import (CMP, I1, I8, I32, I64, PTR, REPORT_PTR, SUB_TYPE, const,
                        run_field)
from .lpmops import emit_lpm_ops
from .mapops import (NATIVE_MAP_HELPERS, emit_array_update, emit_hash_ops, inline_lookups,
                     native_map_calls, redirect_map_slots, tail_call_slots)

__all__ = ["build_image"]
# internal functions of at most this many IR instructions are inlined wherever called
INLINE_SIZE = 150
M32, M64 = (1 << 32) - 1, (1 << 64) - 1


class _Function(AluLowering, MemoryLowering, CallLowering, VersionLowering,
                SpeculationLowering, ScopeLowering, IdiomLowering, TrapLowering):
    """Lowers one BPF subprogram (pcs [first, end)) into one LLVM function."""

    def __init__(self, lowering: "_Module", func, first: int, end: int):
        self.m = lowering
        self.func = func
        self.first, self.end = first, end
        r1, r2, r3, r4, r5, frame_top, stack_base, run, mem, budget = func.args
        self.frame_top, self.stack_base, self.run, self.mem = frame_top, stack_base, run, mem
        entry = func.append_basic_block("entry")
        self.b = b = ir.IRBuilder(entry)
        self.regs = [b.alloca(I64, name=f"r{i}") for i in range(11)]
        self._known_in, self._known = None, {}      # see get()
        self.budget = b.alloca(I64, name="budget")
        for i, value in enumerate((r1, r2, r3, r4, r5), 1):
            b.store(value, self.regs[i])
        for i in (0, 6, 7, 8, 9):
            b.store(const(I64, 0), self.regs[i])
        self.frame_top_i = b.ptrtoint(frame_top, I64, name="fp")
        b.store(self.frame_top_i, self.regs[10])
        b.store(budget, self.budget)
        # (the tenth argument register carries the budget, so the length comes from the
        # run structure, once: a helper that resizes the packet is reloaded after anyway)
        self.mem_len = self.load_field("mem_len")
        self.mem_i = b.ptrtoint(mem, I64, name="mem")
        self.frame_lo_i = b.sub(self.frame_top_i, const(I64, STACK_SIZE), name="frame_lo")
        # values known to be fp + the sum of some values + a constant (see frame_terms)
        self.frame_terms: dict[str, tuple[tuple, int]] = {self.frame_top_i.ref: ((), 0)}
        # values known to be at most a number below 2**63 (AluLowering.upper_of)
        self.upper: dict[str, int] = {}
        # exact extensions (by the pc where the value is complete) -> dropped or kept
        # (AluLowering._worth_dropping: asked at the lsh and again at its shift right)
        self.dropped_extensions: dict[int, bool] = {}
        # every pointer into the stack is derived from stack_base (noalias), the frame's
        # too: a frame pointer LLVM took for a separate object would let it reorder an
        # access to a caller's frame made through one with an access made through the other
        base_i = b.ptrtoint(stack_base, I64)
        self.frame_lo = b.gep(stack_base, [b.sub(self.frame_lo_i, base_i)], source_etype=I8)
        # the entry subprogram when no call enters it: its frame is always the top one
        self.top_frame = first == 0 and top_frame_end(lowering.prog) > 0
        self.blocks = {pc: func.append_basic_block(f"pc{pc}")
                       for pc in sorted(lowering.leaders) if first <= pc < end}
        # values computed on first use go into the entry block, before its branch
        self.hoist = ir.IRBuilder(entry)
        self.hoist.position_before(b.branch(self.blocks[first]))
        self._bounds: dict[tuple[str, int], object] = {}
        # (value, width) -> its blinded value: made in the entry block (for the
        # instructions of loops), or in the block `_blinded_in` (for the others)
        self._hoisted: dict[tuple[int, int], object] = {}
        self._blinded: dict[tuple[int, int], object] = {}
        self._blinded_in = None
        self._pc: int | None = None         # the instruction being lowered
        self._return_zero = None
        self._dead = None           # the block after the last unreachable pc's trap
        # what the accesses of a group or a fast copy add to their offsets: 0, or POISON
        # when the check that covers them fails (bpfjit.speculation)
        self.adjust = None
        # the wide loads of each block and copy (backends/llvmidioms.py)
        self._plans: dict[tuple[int, int | None], object] = {}
        self._prepare_versions()

    # ---- registers and the run structure -------------------------------------------

    def get(self, n: int):
        """Register n's value: within one block, the value last loaded or stored (a
        smaller module for the same code: the IR is built, printed and parsed faster)."""
        known = self._known if self._known_in is self.b.block else self._forget_known()
        value = known.get(n)
        if value is None:
            value = known[n] = self.b.load(self.regs[n], typ=I64)
            if n == 10:                         # never written: the frame's top
                self.frame_terms[value.ref] = ((), 0)
        return value

    def set(self, n: int, value) -> None:
        self.b.store(value, self.regs[n])
        known = self._known if self._known_in is self.b.block else self._forget_known()
        known[n] = value

    def _forget_known(self) -> dict:
        """Start a new block's register values (an earlier block's may not dominate it)."""
        self._known_in, self._known = self.b.block, {}
        return self._known

    def field(self, name: str):
        return run_field(self.b, self.run, name)

    def load_field(self, name: str, ty=None):
        return self.b.load(self.field(name), typ=ty or I64)

    def imm(self, value: int, ty=I64):
        """A program's immediate as a value of `ty`: a constant, or when the module
        blinds and bpfjit.blinding says it could make an instruction, its XOR with
        a random key, XORed again at run time with the key made opaque to LLVM (an
        empty inline asm), which would otherwise fold the two back together.  For an
        instruction in a loop, once per value and function in the entry block: one
        register however often it is used (LLVM does not hoist the asm out of a
        loop's conditional blocks: it may not be speculated).  Elsewhere once per
        value and block, where it is used, so that a rare path's constants cost
        nothing on the others (made in the entry block, github/glb-director's 13
        SipHash constants were made and spilled on every run, its packets that pass
        included)."""
        mask = (1 << ty.width) - 1
        if not self.m.blind or not needs_blinding(value, ty.width):
            return const(ty, value)
        in_loop = self._pc is None or self._pc in self.m.in_loops
        where = self.hoist if in_loop else self.b
        cache = self._hoisted if in_loop else self._blinded_here()
        known = cache.get((value & mask, ty.width))
        if known is None:
            key = blinding_key(ty.width)
            opaque = where.call(ir.InlineAsm(ir.FunctionType(ty, [ty]), "", "=r,0", False),
                                [const(ty, key)], name="key", attrs=("readnone", "nounwind"))
            known = cache[value & mask, ty.width] = \
                where.xor(const(ty, (value ^ key) & mask), opaque)
        return known

    def _blinded_here(self) -> dict:
        """The blinded constants made in the builder's block (those of instructions in
        no loop)."""
        if self._blinded_in is not self.b.block:
            self._blinded_in, self._blinded = self.b.block, {}
        return self._blinded

    def charge_budget(self, pc: int, cost: int, check: bool) -> None:
        """Deduct a block's cost; at a checkpoint, trap once the budget is negative.
        Charged ahead (bpfjit.budgetahead), only the blocks that charge deduct, the most
        their segment can cost, and a checkpoint asks for a rerun once it is negative."""
        spent = TrapCode.BUDGET
        if self.m.ahead:
            # (a checkpoint of a budget-free copy deducts but never tests: its entry
            # found the budget enough for the most trips the loop can make)
            if pc not in self.m.segments:
                return
            cost, spent = self.m.segments[pc], TrapCode.RERUN
        left = self.b.sub(self.b.load(self.budget, typ=I64), const(I64, cost))
        self.b.store(left, self.budget)
        if check:
            self.trap_unless(self.b.icmp_signed(">=", left, const(I64, 0)), spent, pc)

    # ---- instructions ------------------------------------------------------------------------

    def lower(self, prog: Program) -> None:
        b, previous = self.b, None
        for pc, insn in prog:
            if not self.first <= pc < self.end or pc < self.resume:
                continue
            if pc in self.blocks:
                if not b.block.is_terminated:
                    b.branch(self.target(previous, pc))
                b.position_at_end(self.blocks[pc])
            self.lower_insn(pc, insn)
            previous = pc
        if not b.block.is_terminated:
            b.unreachable()
        self.lower_fast_copies(prog)

    def lower_insn(self, pc: int, insn) -> None:
        """One instruction, after the budget charge when it starts a block."""
        self._pc = pc
        if pc in self.m.elided:
            self._lower_unreachable(pc)
            return
        if pc in self.blocks:
            if self.m.lines is not None:
                self.b.debug_metadata = self.m.location(pc, self.func)
            tested = pc in self.m.checkpoints and \
                (self.fast is None or self.fast.trips is None)
            self.charge_budget(pc, self.m.costs[pc], tested)
        if self.wants_group(pc):
            self.lower_group(pc)
        else:
            self.lower_op(pc, insn)

    def _lower_unreachable(self, pc: int) -> None:
        """No code for a pc of a large region the verifier proved no run reaches
        (bpfjit.cfg.elided_code: a program's disabled features), but a trap where
        control could come in, a block's start or after code that runs: were the
        verifier wrong, the run stops there."""
        if self.b.block is not self._dead:
            self.trap_now(TrapCode.UNREACHABLE, pc)
            self._dead = self.b.block           # (trap_now left a block nothing enters)

    def lower_op(self, pc: int, insn) -> None:
        """The instruction itself (under its pc's debug location)."""
        if self.m.lines is not None:
            self.b.debug_metadata = self.m.location(pc, self.func)
        if insn.kind is Kind.ALU and self.wide_load(pc):
            return                  # (an or that completes an integer read byte by byte)
        getattr(self, "_" + insn.kind.value)(pc, insn)

    def _ja(self, pc, insn) -> None:
        offset = insn.off if insn.spec.width == 64 else insn.imm
        self.b.branch(self.target(pc, pc + 1 + offset))

    def _jcond(self, pc, insn) -> None:
        b, spec = self.b, insn.spec
        x, y = self._operands(insn, spec.width)
        if spec.op == "jset":
            taken = b.icmp_unsigned("!=", b.and_(x, y), const(x.type, 0))
        else:
            sign, pred = CMP[spec.op]
            taken = (b.icmp_signed if sign == "s" else b.icmp_unsigned)(pred, x, y)
        branch = b.cbranch(taken, self.target(pc, pc + 1 + insn.off), self.target(pc, pc + 1))
        if pc in self.m.unpredictable:
            branch.set_metadata("unpredictable", self.m.unpredictable_node)

    def _lddw(self, pc, insn) -> None:
        if insn.src == LDDW_MAP:
            self.set(insn.dst, const(I64, map_handle(insn.imm & M32)))
        elif insn.src == LDDW_MAP_VALUE:
            self.set(insn.dst, self.b.add(self.m.map_address(insn.imm & M32),
                                          self.imm(insn.next_imm & M32)))
        elif insn.src == LDDW_CODE:             # a callback: its pc, as in every engine
            self.set(insn.dst, const(I64, pc + 1 + insn.imm))
        elif insn.src != 0:
            self.trap_now(TrapCode.LDDW_PSEUDO, pc, const(I64, insn.src))
        else:
            self.set(insn.dst, self.imm(insn.imm64))


class _Module:
    """The whole program as one LLVM module: a function per subprogram, plus the
    exported entry point."""

    def __init__(self, verified, helpers: frozenset[int], lines: bool = False,
                 native_maps: frozenset[int] = NATIVE_MAP_HELPERS, blind: bool = False,
                 speculation: str = "off", ahead: bool = False):
        prog = verified.program
        self.prog, self.verified = prog, verified
        self.blind = blind                      # constant blinding (bpfjit.blinding)
        # speculation-safe accesses (bpfjit.speculation): the level, and whether any
        self.speculation, self.spec = speculation, speculation != "off"
        self.helpers = helpers                  # the helper ids a run can call
        # array lookups done in IR, hash lookups by a probe of the map's native index
        # (unless the caller replaced helper 1)
        self.native_maps = native_maps      # the map helpers the caller did not replace
        self.inline_lookups = inline_lookups(verified, native_maps)
        self.tail_calls = tail_call_slots(verified, native_maps)
        self.redirect_maps = redirect_map_slots(verified, native_maps)
        # the pcs of the program's loops (where blinded constants are made once, ahead)
        self.in_loops = frozenset().union(*(body for body, _, _ in
                                            natural_loops(prog).values()))
        self.scope_tables: dict[int, dict] = {}   # subprogram -> its alias scopes (llvmscopes)
        self.map_calls = native_map_calls(verified)
        self.elided = elided_code(prog, verified.unreachable)
        self._array_update = None
        self.module = ir.Module(name="bpf")
        self.externals: dict[str, object] = {}     # symbol -> its external global
        self.hash_ops: dict[tuple, dict] = {}   # (kind, key size, value size) -> functions
        self.module.triple = TRIPLE
        self.lines = LineInfo(self.module) if lines else None
        # a helper may resize the packet: buffer bounds then come from run->mem_len,
        # read where they are used (after the last call), not once per function
        self.reload_packet = changes_packet(self.prog)
        self.block_at, self.meta_at = packet_offsets(prog.context)
        self.metadata = self.meta_at is not None
        self.leaders = block_leaders(prog)
        self.costs = block_costs(prog, self.leaders)
        self.checkpoints = budget_checkpoints(prog)
        # the budget charged ahead (bpfjit.budgetahead): each checkpoint's segment
        self.ahead = ahead
        self.segments = segment_costs(prog) if ahead else {}
        weights = ir.MetaDataString(self.module, "branch_weights")
        self.unlikely_second = self.module.add_metadata([weights, const(I32, 2000),
                                                         const(I32, 1)])
        self.unlikely_first = self.module.add_metadata([weights, const(I32, 1),
                                                        const(I32, 2000)])
        # the jumps over one move that the data decides: kept selects (cmovs), which
        # the x86 back end's cmov converter would otherwise make jumps again
        self.unpredictable = decided_jumps(prog)
        self.unpredictable_node = self.module.add_metadata([]) if self.unpredictable else None
        self.trap_function = self._trap_function()
        if any(_vectorizable(loop, self.leaders) for loop in versioned_loops(verified)):
            # a small loop with a budget-free copy: optimised by the pipeline with the
            # loop vectorizer (llvmcodegen.generate_object)
            self.module.add_named_metadata(VECTORIZE, [])
        self.functions = {}
        ranges = subprogram_ranges(prog)
        for first, _ in ranges:
            fn = ir.Function(self.module, SUB_TYPE, name=f"bpf_sub_{first}")
            fn.linkage = "internal"
            # GHC's convention passes all ten arguments in registers (C's passes six and
            # stores the other four on the stack at every call) and keeps no register
            # across a call: the caller saves what it still needs, where a C callee
            # pushes six registers whatever it uses.  calc's recursion: 4.0 -> 3.6 us
            fn.calling_convention = "ghccc"
            if self.lines is not None:
                self.lines.subprogram(fn, first)
            fn.attributes.add("nounwind")
            # the stack and the buffer are distinct objects (frame_top points into the
            # stack, so it is not noalias); the run structure is not noalias either, since
            # Python helpers write its trap field
            for arg in (fn.args[6], fn.args[8]):
                arg.add_attribute("noalias")
            self.functions[first] = fn
        for first, end in ranges:
            _Function(self, self.functions[first], first, end).lower(prog)
        self._entry()
        self._mark_inlining()

    def _mark_inlining(self) -> None:
        """`alwaysinline` on the internal functions worth inlining: those called once, and
        small ones (the -O2 pipeline here has no cost-based inliner; see
        llvmcodegen.generate_object).  A subprogram's calls are counted in the program,
        not in the IR: one call site lowered twice (in a loop's checked and fast copies)
        is still one.  Nothing recursive: a recursive program keeps its calls."""
        calls: dict[str, int] = {}
        for fn in self.module.functions:
            for block in fn.blocks:
                for instr in block.instructions:
                    callee = getattr(instr, "callee", None)
                    if isinstance(instr, ir.CallInstr) and isinstance(callee, ir.Function):
                        calls[callee.name] = calls.get(callee.name, 0) + 1
        sites = {"bpf_sub_0": 1}                    # bpf_entry's
        for pc, insn in self.prog:
            if insn.kind is Kind.CALL_LOCAL:
                name = f"bpf_sub_{pc + 1 + insn.imm}"
                sites[name] = sites.get(name, 0) + 1
        calls.update((name, count) for name, count in sites.items() if name in calls)
        for fn in self.module.functions:
            if fn.is_declaration or fn.linkage != "internal":
                continue
            if self.verified.recursive and fn.name.startswith("bpf_sub_"):
                continue
            size = sum(len(block.instructions) for block in fn.blocks)
            if calls.get(fn.name, 0) <= 1 or size <= INLINE_SIZE:
                fn.attributes.add("alwaysinline")

    def map_address(self, index: int):
        """The address of map `index`'s value arena: an external symbol that the linker
        leaves as a fixup of the image, so that the code does not depend on it."""
        return self.external(MAP_SYMBOL.format(index)).ptrtoint(I64)

    def external(self, symbol: str):
        """The module's external global `symbol` (an address the image leaves as a
        fixup: a map's arena, a hash map's index)."""
        found = self.externals.get(symbol)
        if found is None:
            found = self.externals[symbol] = ir.GlobalVariable(self.module, I8, symbol)
        return found

    def array_update(self):
        """The module's array-map update function (sizes are passed as constants)."""
        if self._array_update is None:
            self._array_update = emit_array_update(self.module, "bpf_array_update")
        return self._array_update

    def hash_operation(self, index: int, operation: str):
        """(the function doing `operation` on the hash, LRU or LPM map `index`, the map's
        index header)."""
        the_map = self.prog.maps.list[index]
        key, value = the_map.key_size, the_map.value_size
        kind = "lpm" if the_map.spec.type == LPM_TRIE else \
            "lru" if the_map.spec.type in LRU_TYPES else "hash"
        functions = self.hash_ops.get((kind, key, value))
        if functions is None:
            functions = emit_hash_ops(self.module, key, f"bpf_{kind}_{key}_{value}",
                                      value_size=value, lru=kind == "lru")
            if kind == "lpm":           # the trie's operations, on the index's
                functions = emit_lpm_ops(self.module, f"bpf_trie_{key}_{value}", key,
                                         functions)
            self.hash_ops[kind, key, value] = functions
        if operation not in functions:  # (bpf_for_each_map_elem's walk: only if needed)
            functions.update(emit_hash_ops(self.module, key, f"bpf_{kind}_{key}_{value}",
                                           value_size=value, lru=kind == "lru",
                                           operations=(operation,)))
        return functions[operation], self.external(INDEX_SYMBOL.format(index))

    def key_address(self, index: int):
        """The address of the keys bpf_for_each_map_elem walks in map `index`
        (Map.key_area), an external symbol the image leaves as a fixup."""
        return self.external(KEYS_SYMBOL.format(index)).ptrtoint(I64)

    def _trap_function(self):
        """void bpf_trap(run, code, pc, arg, size): record a trap.  Only declared: the
        linker places a routine of its own for it (backends.objlink.ROUTINES), which
        spares LLVM optimising and emitting one more function in every module (0.6-2.1
        ms of its time on each of bench/'s C kernels)."""
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR] + [I64] * 4),
                         name="bpf_trap")
        # what LLVM inferred of the body it no longer sees, but `memory(argmem: write)`:
        # with it LLVM drops the entry's `trap = 0` store, and bench/'s firewall ran 7%
        # slower (2.16 -> 2.33 us) for no reason found
        for attr in ("cold", "nounwind", "nofree", "nosync", "willreturn"):
            fn.attributes.add(attr)
        for attr in ("nonnull", "writeonly", "captures(none)"):
            fn.args[0].add_attribute(attr)
        return fn

    def location(self, pc: int, func):
        return self.lines.location(pc, func)

    def _entry(self) -> None:
        fn = ir.Function(self.module, ir.FunctionType(I64, [PTR, I64, PTR]), name="bpf_entry")
        fn.attributes.add("nounwind")
        fn.attributes.add("noinline")
        mem, mem_len, config = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        if self.lines is not None:          # line 0: code of no BPF instruction
            self.lines.subprogram(fn, -1)
            b.debug_metadata = self.lines.location(-1, fn)
        # this run's own structure, its configuration copied from the caller's
        run = b.alloca(I64, size=const(I64, len(RUN_FIELDS)), name="run")
        run.align = 16
        for name in CONFIG_FIELDS:
            b.store(b.load(run_field(b, config, name), typ=I64), run_field(b, run, name))
        b.store(const(I64, 0), run_field(b, run, "trap"))
        # (and 8 bytes above the top where a masked access may read: FRAME_MASK)
        masked = masks_top_frame(self.verified, self.speculation)
        stack = b.alloca(ir.ArrayType(I8, STACK_BYTES + TOP_SLACK * masked), name="stack")
        stack.align = 16
        # zero the bytes a run may touch; the others are never accessible
        used = self.verified.stack_used
        zeroed = zeroed_stack(self.verified, self.speculation)
        if zeroed:
            memset = self.module.declare_intrinsic("llvm.memset", [PTR, I64])
            b.call(memset, [b.gep(stack, [const(I64, STACK_BYTES - zeroed)], source_etype=I8),
                            const(I8, 0), const(I64, zeroed), ir.Constant(I1, 0)])
        top = b.gep(stack, [const(I64, STACK_BYTES)], source_etype=I8)
        if masked:
            # the bytes above the top a masked access of the top frame may read when its
            # check is mispredicted: volatile, as no access LLVM sees reads them
            memset = self.module.declare_intrinsic("llvm.memset", [PTR, I64])
            b.call(memset, [top, const(I8, 0), const(I64, 8), ir.Constant(I1, 1)])
        # what helpers need to check the pointers they are given (of the stack, only the
        # bytes a run may touch: the ones below are not zeroed).  A program that calls no
        # helper leaves the stack's address out: stored in `run`, which escapes to the
        # trap report, it would keep LLVM from holding stack slots in registers
        fields = [("mem", b.ptrtoint(mem, I64)), ("mem_len", mem_len)]
        if any(insn.kind in _HELPER_CALLS for insn in self.prog.insns):
            reachable = b.add(b.ptrtoint(stack, I64), const(I64, STACK_BYTES - used))
            fields += [("stack_lo", reachable), ("stack_hi", b.ptrtoint(top, I64))]
        for name, value in fields:
            b.store(value, run_field(b, run, name))
        zero = const(I64, 0)
        r1, r2 = b.ptrtoint(mem, I64), mem_len
        if self.prog.context is not None:   # r1 = the context block just before the packet
            r1, r2 = b.add(r1, const(I64, self.block_at)), zero
        else:                               # r1 = 0 for an empty buffer (or none)
            r1 = b.select(b.icmp_unsigned("!=", mem_len, zero), r1, zero)
        budget = b.load(run_field(b, run, "budget_limit"), typ=I64)
        result = b.extract_value(b.call(self.functions[0], [r1, r2, zero, zero, zero, top,
                                                            stack, run, mem, budget]), 0)
        # a trapped run reports its trap and returns TRAPPED; one a tail call ended
        # returns the r0 of the program it ran (trap_arg)
        trap = b.load(run_field(b, run, "trap"), typ=I64)
        trapped = b.icmp_unsigned("!=", trap, zero)
        tail_called = None
        if any(insn.kind is Kind.CALL and insn.imm == TAIL_CALL for insn in self.prog.insns):
            tail_called = b.icmp_unsigned("==", trap, const(I64, TrapCode.TAIL_DONE))
            trapped = b.and_(trapped, b.not_(tail_called))
        with b.if_then(trapped, likely=False):
            report = b.load(run_field(b, run, "report_trap"), typ=REPORT_PTR)
            b.call(report, [run])
        result = b.select(trapped, const(I64, TRAPPED), result)
        if tail_called is not None:
            result = b.select(tail_called, b.load(run_field(b, run, "trap_arg"), typ=I64),
                              result)
        b.ret(result)
        self.entry = fn


_HELPER_CALLS = (Kind.CALL, Kind.CALLX, Kind.CALL_BTF)


# a budget-free copy of two blocks, at most this many slots, is worth the vectorizer too:
# a loop with two exits, `for (i = 0; i < n && i < 64; i++) s += v[i]`, which the whole
# module pipeline turns into one exit and vectorises (corpus/plain's tlv: 30,648 -> 17,864
# instructions a run under callgrind, 2.35x -> 1.10x native)
_VECTORIZED_PAIR_SIZE = 16


def _vectorizable(loop, leaders) -> bool:
    """Whether `loop` has a budget-free copy worth LLVM's loop vectorizer: of one block,
    or of two small ones.  The vectorizer costs time on every loop of the module (about
    1.5x the optimisation and code generation of bench/'s tlv), so it runs only when
    there is such a loop."""
    if loop.trips is None:
        return False
    blocks = len(loop.body & leaders)
    return blocks == 1 or (blocks == 2 and len(loop.body) <= _VECTORIZED_PAIR_SIZE)


def build_image(verified, helper_ids: frozenset[int],
                native_maps: frozenset[int] = NATIVE_MAP_HELPERS,
                opt_level: int = 2, keep_ir: bool = False, line_info: bool = False,
                blind: bool = False, speculation: str = "off", ahead: bool = False):
    """The program's machine code as a CodeImage (independent of this process's
    addresses), and the extras asked for (the IR before and after optimisation);
    `ahead` charges the budget ahead (bpfjit.budgetahead: programs that write only their stack)."""
    from .objlink import link_object   # pyelftools: imported when compiling
    if opt_level not in (0, 1, 2, 3):
        raise BpfError(f"opt_level must be 0, 1, 2 or 3, got {opt_level!r}")
    llvm_worker.start()             # (its start overlaps the building of the IR)
    t0 = time.perf_counter_ns()
    ir_text = str(_Module(verified, helper_ids, lines=line_info,
                          native_maps=native_maps, blind=blind,
                          speculation=speculation, ahead=ahead).module)
    t1 = time.perf_counter_ns()
    obj, optimised = llvm_worker.generate(ir_text, opt_level, keep_ir)
    t2 = time.perf_counter_ns()
    image = link_object(obj)
    if line_info:
        image = replace(image, lines=line_table(obj, image.text_range[0]))
    stages = {"IR": t1 - t0, "LLVM": t2 - t1, "link": time.perf_counter_ns() - t2}
    return image, {"ir": ir_text if keep_ir else None, "optimised_ir": optimised,
                   "stages_ns": stages}
