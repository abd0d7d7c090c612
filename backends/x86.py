"""The PeachPy backend: each verified BPF instruction becomes x86-64 directly.

No optimiser, no IR: BPF registers live in fixed x86-64 registers for the whole
program, and each instruction is lowered to a few machine instructions through
the copy-and-patch assembler of backends.x86asm.  It compiles in about a
millisecond and follows the runtime ABI of bpfjit.runtime (same entry
signature, same run structure, same traps) and the interpreter's semantics.

Register map (the default; tests also run rotated maps, see `register_map`):

    r0 rax   r1 rdi   r2 rsi   r3 rdx   r4 rcx   r5 r8      helper arguments in place
    r6 rbx   r7 r13   r8 r14   r9 r15   r10 rbp            callee-saved in the C ABI
    r12: the context block (see CTX_SLOT)   r9: the instruction budget
    r10, r11: scratch

The entry function reserves, on its own native stack, the context block and
the BPF stack (8 frames of 512 bytes, zeroed every run).  A trap stores its
code, pc and argument in the run structure and unwinds straight to the entry
function (rsp is reset from r12), so local calls need no check on return.
"""

from __future__ import annotations

from bpfjit.blinding import blinding_key, needs_blinding
from bpfjit.speculation import POISON, clamp_region, masks_top_frame, zeroed_stack
from bpfjit.codeimage import CodeImage
from bpfjit.cfg import (block_graph, block_leaders, block_of, budget_checkpoints,
                        elided_code, jump_targets, subprogram_ranges, top_frame_end)
from bpfjit.context import packet_offsets
from bpfjit.isa import (LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, MEMORY_KINDS, Kind,
                        written_registers)
from bpfjit.helpers import changes_packet
from bpfjit.liveness import block_live_out
from bpfjit.maps import map_handle
from bpfjit.runfields import CONFIG_FIELDS, TRAPPED
from bpfjit.traps import TrapCode

from .mapops import (NATIVE_MAP_HELPERS, inline_lookups, native_map_calls, redirect_map_slots,
                     tail_call_slots)
from .x86alu import AluLowering
from .x86asm import Assembler, Mem, r8, r16, r32
from .x86budget import budget_charges
from bpfjit.budgetahead import block_charges
from .x86calls import CallLowering
from .x86frameterms import FrameTerms, follow as follow_frame_terms
from .x86addressing import AddressFusion
from .x86idioms import NOTHING, Plan, Rotate, WideLoad, plan_block
from .x86jumps import JumpLowering
from .x86memory import MemoryLowering
from .x86pool import PoolLowering
from .x86selects import SelectLowering
from .x86speculation import SpeculationLowering
from .x86versions import VersionLowering
from .x86layout import (BUDGET, CTX, CTX_BYTES, CTX_SLOT, DEFAULT_MAP, M32, M64,
                        PLACEHOLDER, ROTATIONS, RUN_AT, RUN_SLOT, S1, S2, SIGNED_LOAD,
                        STACK_BYTES, register_map)

__all__ = ["build_image", "register_map", "DEFAULT_MAP", "ROTATIONS"]

def _written_registers(body: list) -> set[int]:
    """BPF registers the (pc, insn) pairs of `body` may write."""
    out: set[int] = set()
    for _, insn in body:
        out |= written_registers(insn)
    return out


def _bodies(prog, ranges) -> dict[int, list]:
    """The (pc, insn) pairs of each subprogram, keyed by its first pc, in one pass."""
    bodies: dict[int, list] = {first: [] for first, _ in ranges}
    bounds = iter(ranges)
    first, end = next(bounds)
    for pc, insn in prog:
        while pc >= end:
            first, end = next(bounds)
        bodies[first].append((pc, insn))
    return bodies


class _Lowering(AluLowering, MemoryLowering, CallLowering, VersionLowering,
                SpeculationLowering, SelectLowering, PoolLowering, JumpLowering,
                AddressFusion):
    """Lowers a verified program into one block of machine code."""

    def __init__(self, verified, helpers: frozenset[int], regs: tuple[str, ...],
                 native_maps: frozenset[int] = NATIVE_MAP_HELPERS, blind: bool = False,
                 speculation: str = "off", ahead: bool = False):
        self.verified = verified
        self.blind = blind                              # constant blinding (bpfjit.blinding)
        # speculation-safe accesses (bpfjit.speculation): the level, and whether any
        self.speculation, self.spec = speculation, speculation != "off"
        self.prog = prog = verified.program
        self.helpers = helpers                          # the helper ids a run can call
        self.n_helpers = max(helpers, default=-1) + 1   # the helper table's length
        self.reg = regs
        self.fp = regs[10]
        self.a = Assembler()
        self.leaders = block_leaders(prog)
        self.frame_terms: FrameTerms = {}              # (x86frameterms: this block's)
        self.elided = elided_code(prog, verified.unreachable)
        self.targets = jump_targets(prog)              # (x86selects)
        self.select_joins: set[int] = set()             # (x86selects: the joins of cmovs made)
        self.loaded_entry: dict[int, int] | None = None  # (x86selects, computed on first use)
        # fewer subtractions than blocks; charged ahead (bpfjit.budgetahead), only where
        # a segment starts, and a checkpoint that finds the budget spent asks for a rerun
        self.charges = block_charges(prog) if ahead else budget_charges(prog)
        self.spent = TrapCode.RERUN if ahead else TrapCode.BUDGET
        self.checkpoints = budget_checkpoints(prog)
        self.ranges = subprogram_ranges(prog)
        # the entry subprogram's pcs, when no call or callback enters it
        self.top_frame_end = top_frame_end(prog)
        # wide loads and rotations (backends/x86idioms.py): each block's pcs and the
        # plans made, per block and copy (liveness is computed when a plan needs it)
        self.block_pcs = block_graph(prog)[0]
        self.block_of = block_of(prog)
        self.plans: dict = {}
        self.last_plan: tuple = (None, None, None)
        self.bodies = _bodies(prog, self.ranges)      # first pc -> its (pc, insn) pairs
        self.stubs: list[tuple[int, int, object]] = []           # label, packed trap, arg
        self.probes: list[tuple[int, int, int, int]] = []         # label, ok, size, fail
        self.jump_stubs: list[tuple] = []       # (x86jumps) label, pc, charge, target
        self.clobbers = self._callee_clobbers()
        # sizes of the accesses checked at run time, by the region they may be in (every
        # access instruction, including any the verifier found unreachable: its code is
        # emitted too, and must find its bounds set)
        self.checked: dict[str, set[int]] = {"mem": set(), "stack": set()}
        for pc, insn in prog:
            if insn.kind is Kind.LD_PACKET:             # bounded by the packet's length
                self.checked["mem"].add(insn.spec.size)
            clamp = clamp_region(verified, pc, speculation)
            if clamp in ("mem", "stack"):               # clamped against the same bounds
                self.checked[clamp].add(insn.spec.size)
            if insn.kind in MEMORY_KINDS and verified.needs_check(pc):
                region, size = verified.regions.get(pc), insn.spec.size
                if region not in ("stack", "map"):
                    self.checked["mem"].add(size)
                if region != "mem":
                    self.checked["stack"].add(size)
        # a helper may resize the packet: its bounds are reloaded after every helper call
        self.reload_packet = changes_packet(prog)
        # where the context block and its data_meta slot are, from the packet's start
        self.block_at, self.meta_at = packet_offsets(prog.context)
        self.metadata = self.meta_at is not None
        # array lookups done in JIT code, hash lookups by a native probe of the map's
        # index (unless the caller replaced helper 1)
        self.native_maps = native_maps      # the map helpers the caller did not replace
        self.inline_lookups = inline_lookups(verified, native_maps)
        self.tail_calls = tail_call_slots(verified, native_maps)
        self.redirect_maps = redirect_map_slots(verified, native_maps)
        self.map_calls = native_map_calls(verified)
        self.routines: set[tuple] = set()       # the kinds of map routine appended
        self._prepare_versions()
        self._prepare_pool()                    # (x86pool: loops' blinded constants)

    def _callee_clobbers(self) -> dict[int, list[int]]:
        """For each subprogram: the r6-r9 it or its callees may write (callers save those)."""
        direct = {first: _written_registers(body) for first, body in self.bodies.items()}
        calls = {first: {pc + 1 + insn.imm for pc, insn in body
                         if insn.kind is Kind.CALL_LOCAL}
                 for first, body in self.bodies.items()}
        result = {}
        for first in direct:
            seen, todo, regs = set(), [first], set()
            while todo:
                sub = todo.pop()
                if sub not in seen:
                    seen.add(sub)
                    regs |= direct[sub]
                    todo.extend(calls[sub])
            result[first] = sorted(r for r in regs if 6 <= r <= 9)
        return result

    # ---- the whole program -----------------------------------------------------------------

    def build(self) -> tuple[bytes, dict, list]:
        a = self.a
        self._entry()
        for first, body in self.bodies.items():
            a.align(64)         # (before the label: a call lands past the padding)
            a.label(("sub", first))
            i = 0
            while i < len(body):
                i += self._instruction(body, i)
        self.emit_fast_copies()
        self.emit_each_copies()
        self.emit_jump_stubs()
        self._fill_pool()
        a.mark(-1)
        routines: dict[int, int] = {}
        for label, ok, size, fail in self.probes:
            a.label(label)
            routine = routines.setdefault(size, a.new_label())
            a.jump("call", routine)                             # call probe<size>
            a.jump("e", ok)                                     # je ok: in a map value
            a.jump("jmp", fail)
        for size, routine in routines.items():
            self._map_probe(routine, size)
        for label, packed, arg in self.stubs:
            a.label(label)
            if arg == "zero":
                a("XOR", r32(S2), r32(S2))
            elif isinstance(arg, Mem):
                a("LEA", S2, arg)                   # the address, rebuilt
            elif arg is not None:
                a("MOV", S2, arg)                   # a register or an immediate
            a("MOV", S1, packed)                # mov r10, code << 32 | size << 40 | pc
            a.jump("jmp", "trap")
        for kind in sorted(self.routines):             # position-independent blobs
            self._append_routines(kind)
        code, labels, marks = a.finish()
        symbols = {"bpf_entry": labels["entry"],
                   "bpf_trap": labels["trap"]}
        symbols.update({f"bpf_sub_{first}": labels[("sub", first)] for first, _ in self.ranges})
        return code, symbols, marks

    def _map_probe(self, routine: int, size: int) -> None:
        """The routine every probe of `size`-byte accesses calls: ZF set when r11 and
        the `size` bytes from it lie in one map's value arena (r10 clobbered).  One per
        size, not one per access: a program with many maps (cilium's 37) and many
        checked accesses of unknown region spent half its code on these tests."""
        a = self.a
        a.label(routine)
        found = a.new_label()
        for index, the_map in enumerate(self.prog.maps.list):
            if the_map.size < size:
                continue
            skip = a.new_label()
            self._placed(S1, ("map", index, 0))
            a("CMP", S2, S1)                                    # below the arena?
            a.jump("b", skip)
            self._placed(S1, ("map", index, the_map.size - size))
            a("CMP", S2, S1)                                    # and at most its end - size
            a.jump("be", found)
            a.label(skip)
        a("OR", S1, -1)                                         # or r10, -1: ZF clear
        a("RET")
        a.label(found)
        a("CMP", S1, S1)                                        # cmp r10, r10: ZF set
        a("RET")

    def _stub(self, code: TrapCode, pc: int, arg: object = None, size: int = 0) -> int:
        """A label that records trap `code` at `pc` and unwinds.  The trap's argument is
        in r11 already (arg None), or in register `arg`, or the int `arg`, or 0 ("zero")."""
        label = self.a.new_label()
        self.stubs.append((label, pc | int(code) << 32 | size << 40, arg))
        return label

    def _entry(self) -> None:
        """entry(mem, len, run): set up the context block and the stack, run sub 0."""
        a, r = self.a, self.reg
        a.mark(-1)
        a.label("entry")
        for saved in ("rbx", "rbp", "r12", "r13", "r14", "r15"):
            a("PUSH", saved)
        a("SUB", "rsp", self.frame)
        a("MOV", CTX, "rsp")
        self._reserve_pool()                    # (x86pool: filled once all is lowered)
        # this run's own run structure, its configuration copied from the caller's (rdx)
        for name in CONFIG_FIELDS:
            a("MOV", "rcx", Mem(8, "rdx", RUN_SLOT[name]))
            a("MOV", Mem(8, CTX, RUN_AT + RUN_SLOT[name]), "rcx")
        a("LEA", "rdx", Mem(8, CTX, RUN_AT))
        a("MOV", Mem(8, CTX, CTX_SLOT["run"]), "rdx")
        a("MOV", Mem(8, CTX, CTX_SLOT["data"]), "rdi")
        a("MOV", Mem(8, CTX, CTX_SLOT["mem"]), "rdi")
        a("MOV", "r8", "rsi")
        self._buffer_bounds("r8", "rax", "rdi")
        a("LEA", "rax", Mem(8, CTX, CTX_BYTES))                # the stack's base
        for size in sorted(self.checked["stack"]):
            # stack_end<s> = the last address where an s-byte access still fits
            a("LEA", "rcx", Mem(8, "rax", STACK_BYTES - size))
            a("MOV", Mem(8, CTX, CTX_SLOT[f"stack_end{size}"]), "rcx")
        a("MOV", Mem(8, "rdx", RUN_SLOT["trap"]), 0)
        if self.spec:                   # what a mispredicted bounds check's cmov moves
            a("MOV", "rcx", POISON)
            a("MOV", Mem(8, CTX, CTX_SLOT["poison"]), "rcx")
        a("MOV", BUDGET, Mem(8, "rdx", RUN_SLOT["budget_limit"]))
        # what helpers need to check the pointers they are given
        a("MOV", Mem(8, "rdx", RUN_SLOT["mem"]), "rdi")
        a("MOV", Mem(8, "rdx", RUN_SLOT["mem_len"]), "rsi")
        # (only the bytes a run may touch: the ones below were never zeroed)
        used = self.verified.stack_used
        a("LEA", "rcx", Mem(8, "rax", STACK_BYTES - used))
        a("MOV", Mem(8, "rdx", RUN_SLOT["stack_lo"]), "rcx")
        a("LEA", "rcx", Mem(8, "rax", STACK_BYTES))
        a("MOV", Mem(8, "rdx", RUN_SLOT["stack_hi"]), "rcx")
        # zero them, 64 bytes per iteration (the others are never accessible)
        zeroed = zeroed_stack(self.verified, self.speculation)
        if zeroed:
            a("PXOR", "xmm0", "xmm0")
            if zeroed < STACK_BYTES:
                a("ADD", "rax", STACK_BYTES - zeroed)
            loop = a.new_label()
            a.label(loop)
            for i in range(4):
                a("MOVAPS", Mem(16, "rax", 16 * i), "xmm0")
            a("ADD", "rax", 64)
            a("CMP", "rax", "rcx")
            a.jump("ne", loop)
        if masks_top_frame(self.verified, self.speculation):
            # the bytes above the top a masked access of the top frame may read
            a("MOV", Mem(8, CTX, CTX_BYTES + STACK_BYTES), 0)   # (FRAME_MASK)
        # r1 = mem, r2 = len, r10 = the top of the main frame; other registers are never
        # read before written (the verifier rejects such programs)
        a("MOV", r[1], Mem(8, CTX, CTX_SLOT["data"]))
        if self.prog.context is not None:       # r1 = the context block before the packet
            a("ADD", r[1], self.block_at)                       # add r1, -header
        else:                                   # r2 = len; r1 = 0 for an empty buffer
            a("MOV", r[2], Mem(8, CTX, CTX_SLOT["mem_bound1"]))
            a("TEST", r[2], r[2])
            a("CMOVE", r[1], r[2])                              # cmove r1, r2
        a("LEA", self.fp, Mem(8, CTX, CTX_BYTES + STACK_BYTES))
        a.jump("call", ("sub", 0))
        if r[0] != "rax":
            a("MOV", "rax", r[0])
        a.label("epilogue")
        a("ADD", "rsp", self.frame)
        for saved in ("r15", "r14", "r13", "r12", "rbp", "rbx"):
            a("POP", saved)
        a("RET")
        # trap: r10 = pc | code << 32 | size << 40, r11 = the argument; unwind to the entry
        a.label("trap")
        a("MOV", "rsp", CTX)
        a("MOV", "rdx", Mem(8, CTX, CTX_SLOT["run"]))
        a("MOV", Mem(8, "rdx", RUN_SLOT["trap_arg"]), S2)
        a("MOV", "eax", r32(S1))
        a("MOV", Mem(8, "rdx", RUN_SLOT["trap_pc"]), "rax")
        a("MOV", "rax", S1)
        a("SHR", "rax", 40)
        a("MOV", Mem(8, "rdx", RUN_SLOT["trap_size"]), "rax")
        a("MOV", "rax", S1)
        a("SHR", "rax", 32)
        a("MOVZX", "eax", "al")
        a("MOV", Mem(8, "rdx", RUN_SLOT["trap"]), "rax")
        a("MOV", "rdi", "rdx")                                  # report_trap(run)
        a("MOV", "rax", Mem(8, "rdx", RUN_SLOT["report_trap"]))
        a("CALL", "rax")                                        # (rsp is 16-aligned here)
        a("MOV", "rax", TRAPPED)
        a.jump("jmp", "epilogue")
        # a legacy packet load outside the packet: the program returns 0, no trap
        a.label("return_zero")
        a("MOV", "rsp", CTX)
        a("XOR", "eax", "eax")
        a.jump("jmp", "epilogue")
        # a tail call ran its program: the run returns that program's r0, no trap
        a.label("tail_done")
        a("MOV", "rsp", CTX)
        a("MOV", "rdx", Mem(8, CTX, CTX_SLOT["run"]))
        a("MOV", "rax", Mem(8, "rdx", RUN_SLOT["trap_arg"]))    # mov rax, [run.trap_arg]
        a.jump("jmp", "epilogue")

    # ---- one instruction ---------------------------------------------------------------------

    def _instruction(self, body: list, i: int) -> int:
        """Lower body[i] (fused with the next ones when a pattern allows); returns how
        many instructions were consumed, having followed what they make of r10
        (x86frameterms) for the accesses after them in the block."""
        if i == 0 or body[i][0] in self.leaders:
            self.frame_terms = {}
        n = self._lower_instruction(body, i)
        for _, insn in body[i:i + n]:
            follow_frame_terms(self.frame_terms, insn)
        self.forget_stale_index(self.frame_terms)      # (x86addressing)
        return n

    def _lower_instruction(self, body: list, i: int) -> int:
        a, pc = self.a, body[i][0]
        if pc in self.elided:
            return self._unreachable(body, i)
        if pc in self.leaders:
            if self.fast is None and pc in self.loops:
                self.enter_test(pc)
            if pc in self.checkpoints:
                # loop heads and subprogram entries start a 32-byte fetch window: a small
                # loop then runs from one, whatever code precedes it (measured: up to
                # 2.7x on a 7-uop loop, depending on the preceding code's length).
                # Subprograms start a 64-byte line, so that the entry code's length does
                # not move every loop by 32 bytes against the lines (measured: `sieve`
                # 6.1 or 8.4 us by that alone; their padding is never executed)
                a.align(64 if pc in self.bodies else 32)
            a.label(pc if self.fast is None else ("fast", pc))
            a.mark(pc)
            if self.charges[pc]:
                a("SUB", BUDGET, self.charges[pc])            # budget -= the blocks' cost
            if pc in self.checkpoints:
                a.jump("s", self._stub(self.spent, pc, "zero"))
        else:
            a.mark(pc)
        if self.wants_group(pc):
            return self.emit_group(body, i)
        return self.lower_op(body, i)

    def _unreachable(self, body: list, i: int) -> int:
        """No code for a run of pcs of a large region the verifier proved no run
        reaches (bpfjit.cfg.elided_code), but a trap where control could come in (jmp
        stub): were the verifier wrong, the run stops there.  Consumes the run up to
        the next block start."""
        a, pc = self.a, body[i][0]
        if pc in self.leaders:
            a.label(pc if self.fast is None else ("fast", pc))
        a.mark(pc)
        a.jump("jmp", self._stub(TrapCode.UNREACHABLE, pc, "zero"))
        n = 1
        while i + n < len(body) and body[i + n][0] in self.elided \
                and body[i + n][0] not in self.leaders:
            n += 1
        return n

    def lower_op(self, body: list, i: int) -> int:
        """body[i], fused with the next instructions when a pattern allows; how many
        instructions it consumed."""
        pc = self.at_pc = body[i][0]                   # (x86pool: in a loop or not)
        plan = self.idioms(pc)
        if plan.touches(pc):
            self._idiom(pc, plan)
            what = plan.replaced.get(pc)
            if not (isinstance(what, WideLoad) and what.first):
                return 1
            # (a wide load put first: the byte load that overwrites its base follows)
        else:
            fused = self.select_at(body, i) or self.jump_over_jump(body, i) \
                or self._fuse(body, i, plan)
            if fused:
                return fused
        pc, insn = body[i]
        getattr(self, "_" + insn.kind.value)(pc, insn)
        return 1

    def _fuse(self, body: list, i: int, plan: Plan) -> int:
        """Emit one x86 instruction for a common run of BPF ones inside a block: an
        address (backends.x86addressing), or an extension:

            mov d, s; lsh d, k; rsh|arsh d, k   ->  mov d32, s32 | movzx | movsx(d)
            mov d, s; and d, 0xff|0xffff        ->  movzx d32, s8|s16
            lsh d, 32; rsh d, 32                ->  mov d32, d32  (zero-extension)
            lsh d, 48|56; rsh d, 48|56          ->  movzx d32, d16|d8
            lsh d, 32|48|56; arsh d, 32|48|56   ->  movsxd|movsx d, d32|d16|d8
            lsh d, 32; rsh|arsh d, 32 + k       ->  shr|sar d, k  or nothing, where the
                                                    extension changes nothing (exact)

        Returns the instructions consumed (0: no pattern here)."""
        run = []
        for pc, insn in body[i:i + 5]:
            if run and (pc in self.leaders or plan.touches(pc)):
                break
            run.append(insn)
        if len(run) < 2:
            return 0
        first, second = run[0], run[1]
        if first.kind is Kind.LDX and len(run) >= 3:
            return self._extended_load(body, i, run)
        if not (first.kind is Kind.ALU and first.spec.width == 64):
            return 0
        address = self.fuse_address(body, i, run)
        if address:
            return address
        if not (second.kind is Kind.ALU and second.spec.width == 64
                and second.dst == first.dst):
            return 0
        d = first.dst
        op1, op2 = first.spec.op, second.spec.op
        if op1 == "lsh" and body[i][0] in self.verified.exact_extensions:
            # an extension of a value the verifier showed in range: no change, but
            # the shift right by k of `rsh|arsh d, 32 + k`
            self.a.mark(body[i + 1][0])
            if second.imm > 32:
                self.a("SHR" if op2 == "rsh" else "SAR", self.reg[d], second.imm - 32)
            return 2
        if op1 == "lsh" and op2 in ("rsh", "arsh") and first.imm == second.imm \
                and first.spec.source == second.spec.source == "imm" \
                and first.imm in (32, 48, 56):
            # the extension of d's low 32, 16 or 8 bits, zero or sign
            self.a.mark(body[i + 1][0])
            self._extend(self.reg[d], self.reg[d], first.imm, op2 == "arsh")
            return 2
        if op1 != "mov" or first.spec.source != "reg" or first.src == d:
            return 0
        return self._copy_extended(body, i, run)

    def _copy_extended(self, body: list, i: int, run: list) -> int:
        """mov d, s followed by an extension of d's low bits (`lsh d, k; rsh|arsh d, k`
        for k = 32, 48, 56, or `and d, 0xff|0xffff`): one instruction that extends s's
        low bits into d.  clang copies a register to narrow it this way all the time
        (225 such pairs and 35 masks in corpus/plain).  Instructions consumed, or 0."""
        first, second = run[0], run[1]
        d, s = self.reg[first.dst], self.reg[first.src]
        if second.spec.op == "and" and second.spec.source == "imm" \
                and second.imm in (0xFF, 0xFFFF):
            self.a.mark(body[i + 1][0])
            self.a("MOVZX", r32(d), (r8 if second.imm == 0xFF else r16)(s))  # movzx d32, s8|s16
            return 2
        third = run[2] if len(run) > 2 else None
        if not (second.spec.op == "lsh" and second.spec.source == "imm"
                and second.imm in (32, 48, 56) and third is not None
                and third.kind is Kind.ALU and third.spec.width == 64
                and third.dst == first.dst and third.spec.op in ("rsh", "arsh")
                and third.spec.source == "imm" and third.imm == second.imm):
            return 0
        self.a.mark(body[i + 1][0])
        self.a.mark(body[i + 2][0])
        self._extend(d, s, second.imm, third.spec.op == "arsh")
        return 3

    def _extend(self, d: str, s: str, shift: int, signed: bool) -> None:
        """d = s's low 64 - `shift` bits (shift 32, 48 or 56), zero- or sign-extended."""
        part = {32: r32, 48: r16, 56: r8}[shift]
        if signed:
            self.a("MOVSXD" if shift == 32 else "MOVSX", d, part(s))  # movsx d, s32|s16|s8
        elif shift == 32:
            self.a("MOV", r32(d), r32(s))                              # mov d32, s32
        else:
            self.a("MOVZX", r32(d), part(s))                           # movzx d32, s16|s8

    def _extended_load(self, body: list, i: int, run: list) -> int:
        """ldx d, [s + off] of n bytes; lsh d, 64 - 8n; arsh|rsh d, 64 - 8n: one signed
        load (movsx/movsxd), or the load alone (it zero-extends already)."""
        load, shl, shr = run[0], run[1], run[2]
        size, d = load.spec.size, load.dst
        bits = 64 - 8 * size
        if not (size < 8 and shl.kind is Kind.ALU and shr.kind is Kind.ALU
                and shl.spec.width == shr.spec.width == 64
                and shl.spec.op == "lsh" and shr.spec.op in ("rsh", "arsh")
                and shl.spec.source == shr.spec.source == "imm"
                and shl.imm == shr.imm == bits and shl.dst == shr.dst == d):
            return 0
        pc = body[i][0]
        src = self._address(pc, load.src, load.off, size, write=False)
        self.a.mark(body[i + 1][0])
        self.a.mark(body[i + 2][0])
        if shr.spec.op == "arsh":
            self.a(SIGNED_LOAD[size], self.reg[d], src)         # movsx d, [s + off]
        else:
            self._load(load, src)                               # the load zero-extends
        return 3

    def idioms(self, pc: int) -> Plan:
        """The wide loads and rotations of pc's block in the copy being emitted
        (backends/x86idioms.py), planned once per block and copy."""
        first, fast = self.block_of[pc], self.fast
        last = self.last_plan
        if last[0] == first and last[1] is fast:            # (the same block as before)
            return last[2]
        key = (first, None if fast is None else fast.header)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = plan_block(self.prog, self.block_pcs[first],
                                                self._free_load,
                                                lambda: block_live_out(self.prog)[first])
        self.last_plan = (first, fast, plan)
        return plan

    def _free_load(self, pc: int) -> bool:
        """Whether the access at pc runs here as a plain load: proven or hoisted into this
        copy's entry test (not only covered by a group's check), and not clamped."""
        return self.unchecked_in_copy(pc) and self.clamp_of(pc) is None

    def _idiom(self, pc: int, plan: Plan) -> None:
        what = plan.replaced.get(pc)
        if pc in plan.dead or what is NOTHING:
            return                                  # a value nobody reads; a rotation's or
        a, d = self.a, self.reg[what.dst]
        if isinstance(what, Rotate):
            a("ROL", d if what.width == 64 else r32(d), what.count)      # rol d, k
            return
        src = Mem(what.size, self.reg[what.base], what.off)
        if what.size == 8:
            a("MOV", d, src)                                            # mov d, [base + off]
        elif what.size == 4:
            a("MOV", r32(d), src)                                       # mov d32, [base + off]
        else:
            a("MOVZX", r32(d), src)                                     # movzx d32, word [..]
        if what.swapped:
            if what.size == 2:
                a("ROL", r16(d), 8)                                     # rol d16, 8
            else:
                a("BSWAP", d if what.size == 8 else r32(d))             # bswap d

    # ---- addresses, constants (jumps: x86jumps; calls: x86calls; arithmetic: x86alu) ------

    def _placed(self, d: str, what: tuple) -> None:
        """mov d, imm64 with an address known when the code is placed (a map's arena,
        a helper): the image stays independent of this process's addresses."""
        self.a("MOV", d, PLACEHOLDER)
        self.a.fixup(what)

    def _buffer_bounds(self, length: str, scratch: str, data) -> None:
        """Set the checked buffer's bounds from the packet's `length` (a register,
        clobbered) and start (`data`, a register or an operand); `scratch` is clobbered.
        An XDP frame's buffer starts at data_meta (the "mem" slot), with the metadata
        in use; mem_bound<s> = its length - s + 1, or 0 when shorter than s: an s-byte
        access at mem + d is inside it when d < mem_bound<s> (unsigned).  Only the sizes
        checked accesses use get a bound."""
        a = self.a
        if self.metadata:
            a("MOV", scratch, data)
            a("MOV", scratch, Mem(8, scratch, self.meta_at))   # mov scratch, [data_meta]
            a("MOV", Mem(8, CTX, CTX_SLOT["mem"]), scratch)
            a("ADD", length, data)
            a("SUB", length, scratch)                          # len + metadata in use
        a("MOV", Mem(8, CTX, CTX_SLOT["mem_bound1"]), length)
        for size in sorted(self.checked["mem"] - {1}):
            fits = a.new_label()
            a("MOV", scratch, length)
            a("SUB", scratch, size - 1)                        # sub scratch, size - 1
            a.jump("ae", fits)
            a("XOR", r32(scratch), r32(scratch))               # shorter than size: 0
            a.label(fits)
            a("MOV", Mem(8, CTX, CTX_SLOT[f"mem_bound{size}"]), scratch)

    def _lddw(self, pc: int, insn) -> None:
        if insn.src == LDDW_MAP:
            self._load_constant(self.reg[insn.dst], map_handle(insn.imm & M32))
        elif insn.src == LDDW_MAP_VALUE:
            self._placed(self.reg[insn.dst], ("map", insn.imm & M32, insn.next_imm & M32))
        elif insn.src == LDDW_CODE:             # a callback: its pc, as in every engine
            self._load_constant(self.reg[insn.dst], pc + 1 + insn.imm)
        elif insn.src != 0:
            self.a.jump("jmp", self._stub(TrapCode.LDDW_PSEUDO, pc, insn.src))
        elif self.blind and needs_blinding(insn.imm64, 64):
            if self._load_pooled(self.reg[insn.dst], insn.imm64, 64):     # (x86pool)
                return
            key = blinding_key(64)
            d = self.reg[insn.dst]
            a = self.a
            a("MOV", d, (insn.imm64 ^ key) & M64)               # movabs d, imm64 ^ key
            a("MOV", S1, key)                                   # movabs r10, key
            a("XOR", d, S1)                                     # xor d, r10
        else:
            self._load_constant(self.reg[insn.dst], insn.imm64)


def build_image(verified, helper_ids: frozenset[int], registers: tuple[str, ...],
                native_maps: frozenset[int] = NATIVE_MAP_HELPERS,
                line_info: bool = True, blind: bool = False,
                speculation: str = "off", ahead: bool = False) -> CodeImage:
    """The program's machine code as a CodeImage, independent of this process's
    addresses (maps and helpers are fixups); `ahead` charges the budget ahead
    (bpfjit.budgetahead: programs that write only their stack)."""
    lowering = _Lowering(verified, helper_ids, registers, native_maps=native_maps,
                         blind=blind, speculation=speculation, ahead=ahead)
    code, symbols, marks = lowering.build()
    return CodeImage(code, tuple(lowering.a.fixups), symbols, (0, len(code)),
                     marks if line_info else None)
