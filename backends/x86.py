"""The PeachPy backend: each verified BPF instruction becomes x86-64 directly.

No optimiser, no IR: BPF registers live in fixed x86-64 registers for the whole
program, and each instruction is lowered to a few machine instructions through
the copy-and-patch assembler of backends.x86asm.  It compiles in about a
millisecond and follows the runtime ABI of bpfjit.runtime (same entry
signature, same run structure, same traps) and the interpreter's semantics.

Register map (the default; tests also run rotated maps, see `register_map`):

    r0 rax   r1 rdi   r2 rsi   r3 rdx   r4 rcx   r5 r8      helper arguments in place
    r6 rbx   r7 r13   r8 r14   r9 r15   r10 rbp            callee-saved in the C ABI
    r12: the context block (see _CTX)   r9: the instruction budget
    r10, r11: scratch

The entry function reserves, on its own native stack, the context block and
the BPF stack (8 frames of 512 bytes, zeroed every run).  A trap stores its
code, pc and argument in the run structure and unwinds straight to the entry
function (rsp is reset from r12), so local calls need no check on return.
"""

from __future__ import annotations

import errno
import os
import time

from bpfjit.codeimage import CodeImage, cached_image
from bpfjit.cfg import block_costs, block_leaders, budget_checkpoints, subprogram_ranges
from bpfjit.errors import BpfError
from bpfjit.context import packet_offsets
from bpfjit.isa import LDDW_MAP, LDDW_MAP_VALUE, MAX_CALL_DEPTH, MEMORY_KINDS, STACK_SIZE, Kind
from bpfjit.helpers import changes_packet
from bpfjit.maps import ARRAY_TYPES, map_handle
from bpfjit.runfields import CONFIG_FIELDS, RUN_FIELDS, TRAPPED, field_index
from bpfjit.runtime import JitProgram, helper_table
from bpfjit.traps import WRITE_FLAG, TrapCode

from .mapops import OPERATIONS, native_map_calls, routine_image, routine_kind, routine_symbol
from .x86asm import Assembler, Mem, r8, r16, r32

__all__ = ["compile_x86", "register_map", "DEFAULT_MAP", "ROTATIONS"]

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
# the imm64 of a `mov r64, imm64` whose value is filled in when the code is placed
_PLACEHOLDER = 0x7FFF_FFFF_FFFF_FFF0
STACK_BYTES = STACK_SIZE * MAX_CALL_DEPTH

# x86 registers BPF r0..r10 may live in; the default map is this order
_POOL = ("rax", "rdi", "rsi", "rdx", "rcx", "r8", "rbx", "r13", "r14", "r15", "rbp")
CTX, BUDGET, S1, S2 = "r12", "r9", "r10", "r11"
ARGS = ("rdi", "rsi", "rdx", "rcx", "r8")
CALLER_SAVED = frozenset(("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"))
ROTATIONS = len(_POOL)


def register_map(rotation: int = 0) -> tuple[str, ...]:
    """x86 registers of BPF r0..r10: the default map rotated by `rotation` places."""
    if not isinstance(rotation, int) or isinstance(rotation, bool):
        raise BpfError(f"register rotation must be an int, got {rotation!r}")
    k = rotation % len(_POOL)
    return _POOL[k:] + _POOL[:k]


def _map_from_environment() -> tuple[str, ...] | None:
    """BPFJIT_REGISTER_ROTATION=K runs every peachpy compile of this process (and its
    fuzzing workers) under rotation K: a testing aid for register-aliasing bugs."""
    text = os.environ.get("BPFJIT_REGISTER_ROTATION", "").strip()
    if not text:
        return None
    try:
        return register_map(int(text))
    except ValueError:
        return None          # reported when compiling, where a BpfError can be raised


DEFAULT_MAP = _map_from_environment() or register_map(0)

# the context block at r12 (8-byte slots); the BPF stack follows it
# "mem" and "mem_bound<s>" bound the buffer that checked accesses may touch: for an XDP
# frame it starts at data_meta (the metadata in use), otherwise at "data", the buffer's
# (the packet's) start
_SLOTS = ("run", "mem", "mem_bound1", "mem_bound2", "mem_bound4", "mem_bound8",
          "stack_end1", "stack_end2", "stack_end4", "stack_end8", "save0", "save1",
          "data", "spare")
_CTX = {name: 8 * i for i, name in enumerate(_SLOTS)}
RUN_AT = 8 * len(_SLOTS)                    # this run's own run structure ("run" points here)
CTX_BYTES = RUN_AT + 8 * len(RUN_FIELDS)    # a multiple of 16: the BPF stack is 16-aligned
FRAME = CTX_BYTES + STACK_BYTES + 8         # with 6 pushes and the return address: rsp % 16 == 0
_RUN = {name: 8 * field_index(name) for name, _, _ in RUN_FIELDS}

_JCC = {"jeq": "e", "jne": "ne", "jgt": "a", "jge": "ae", "jlt": "b", "jle": "be",
        "jsgt": "g", "jsge": "ge", "jslt": "l", "jsle": "le", "jset": "ne"}
_ALU = {"add": "ADD", "sub": "SUB", "or": "OR", "and": "AND", "xor": "XOR"}
_SHIFT = {"lsh": "SHL", "rsh": "SHR", "arsh": "SAR"}
_ATOMIC = {"add": "ADD", "or": "OR", "and": "AND", "xor": "XOR"}
_SIGNED_LOAD = {1: "MOVSX", 2: "MOVSX", 4: "MOVSXD"}


def _sized(reg: str, width: int) -> str:
    return reg if width == 64 else r32(reg)


def _written_registers(body: list) -> set[int]:
    """BPF registers the (pc, insn) pairs of `body` may write (not through calls)."""
    out: set[int] = set()
    for _, insn in body:
        kind = insn.kind
        if kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX):
            out.add(insn.dst)
        elif kind is Kind.LD_PACKET:
            out.add(0)
        elif kind is Kind.ATOMIC and insn.spec.fetch:
            out.add(0 if insn.spec.op == "cmpxchg" else insn.src)
        elif kind in (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL):
            out.update(range(6))
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


class _Lowering:
    """Lowers a verified program into one block of machine code."""

    def __init__(self, verified, helpers: frozenset[int], regs: tuple[str, ...],
                 native_maps: frozenset[int] = frozenset(OPERATIONS)):
        self.verified = verified
        self.prog = prog = verified.program
        self.helpers = helpers                          # the helper ids a run can call
        self.n_helpers = max(helpers, default=-1) + 1   # the helper table's length
        self.reg = regs
        self.fp = regs[10]
        self.a = Assembler()
        self.leaders = block_leaders(prog)
        self.costs = block_costs(prog, self.leaders)
        self.checkpoints = budget_checkpoints(prog)
        self.ranges = subprogram_ranges(prog)
        self.bodies = _bodies(prog, self.ranges)      # first pc -> its (pc, insn) pairs
        self.stubs: list[tuple[int, int, object]] = []           # label, packed trap, arg
        self.probes: list[tuple[int, int, int, int]] = []         # label, ok, size, fail
        self.clobbers = self._callee_clobbers()
        # sizes of the accesses checked at run time, by the region they may be in (every
        # access instruction, including any the verifier found unreachable: its code is
        # emitted too, and must find its bounds set)
        self.checked: dict[str, set[int]] = {"mem": set(), "stack": set()}
        for pc, insn in prog:
            if insn.kind is Kind.LD_PACKET:             # bounded by the packet's length
                self.checked["mem"].add(insn.spec.size)
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
        self.inline_lookups = {} if 1 not in native_maps else {
            pc: maps[0] for pc, maps in verified.map_calls.items()
            if len(maps) == 1 and prog.maps.list[maps[0]].spec.type in ARRAY_TYPES}
        self.map_calls = native_map_calls(verified)
        self.routines: set[tuple] = set()       # the kinds of map routine appended

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
            a.label(("sub", first))
            i = 0
            while i < len(body):
                i += self._instruction(body, i)
        a.mark(-1)
        for label, ok, size, fail in self.probes:
            a.label(label)
            for index, the_map in enumerate(self.prog.maps.list):
                if the_map.size < size:
                    continue
                skip = a.new_label()
                self._placed(S1, ("map", index, 0))
                a("CMP", S2, S1)
                a.jump("b", skip)
                self._placed(S1, ("map", index, the_map.size - size))
                a("CMP", S2, S1)
                a.jump("be", ok)
                a.label(skip)
            a.jump("jmp", fail)
        for label, packed, arg in self.stubs:
            a.label(label)
            if arg == "zero":
                a("XOR", r32(S2), r32(S2))
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
        a("SUB", "rsp", FRAME)
        a("MOV", CTX, "rsp")
        # this run's own run structure, its configuration copied from the caller's (rdx)
        for name in CONFIG_FIELDS:
            a("MOV", "rcx", Mem(8, "rdx", _RUN[name]))
            a("MOV", Mem(8, CTX, RUN_AT + _RUN[name]), "rcx")
        a("LEA", "rdx", Mem(8, CTX, RUN_AT))
        a("MOV", Mem(8, CTX, _CTX["run"]), "rdx")
        a("MOV", Mem(8, CTX, _CTX["data"]), "rdi")
        a("MOV", Mem(8, CTX, _CTX["mem"]), "rdi")
        a("MOV", "r8", "rsi")
        self._buffer_bounds("r8", "rax", "rdi")
        a("LEA", "rax", Mem(8, CTX, CTX_BYTES))                # the stack's base
        for size in sorted(self.checked["stack"]):
            # stack_end<s> = the last address where an s-byte access still fits
            a("LEA", "rcx", Mem(8, "rax", STACK_BYTES - size))
            a("MOV", Mem(8, CTX, _CTX[f"stack_end{size}"]), "rcx")
        a("MOV", Mem(8, "rdx", _RUN["trap"]), 0)
        a("MOV", BUDGET, Mem(8, "rdx", _RUN["budget_limit"]))
        # what helpers need to check the pointers they are given
        a("MOV", Mem(8, "rdx", _RUN["mem"]), "rdi")
        a("MOV", Mem(8, "rdx", _RUN["mem_len"]), "rsi")
        # (only the frames a run can reach: the ones below were never zeroed)
        used = STACK_SIZE * self.verified.frames
        a("LEA", "rcx", Mem(8, "rax", STACK_BYTES - used))
        a("MOV", Mem(8, "rdx", _RUN["stack_lo"]), "rcx")
        a("LEA", "rcx", Mem(8, "rax", STACK_BYTES))
        a("MOV", Mem(8, "rdx", _RUN["stack_hi"]), "rcx")
        # zero the frames a run can reach (the others are never accessible), 64 bytes
        # per iteration
        a("PXOR", "xmm0", "xmm0")
        a("LEA", "rcx", Mem(8, "rax", STACK_BYTES))
        if used < STACK_BYTES:
            a("ADD", "rax", STACK_BYTES - used)
        loop = a.new_label()
        a.label(loop)
        for i in range(4):
            a("MOVAPS", Mem(16, "rax", 16 * i), "xmm0")
        a("ADD", "rax", 64)
        a("CMP", "rax", "rcx")
        a.jump("ne", loop)
        # r1 = mem, r2 = len, r10 = the top of the main frame; other registers are never
        # read before written (the verifier rejects such programs)
        a("MOV", r[1], Mem(8, CTX, _CTX["data"]))
        if self.prog.context is not None:       # r1 = the context block before the packet
            a("ADD", r[1], self.block_at)                       # add r1, -header
        else:                                   # r2 = len; r1 = 0 for an empty buffer
            a("MOV", r[2], Mem(8, CTX, _CTX["mem_bound1"]))
            a("TEST", r[2], r[2])
            a("CMOVE", r[1], r[2])                              # cmove r1, r2
        a("LEA", self.fp, Mem(8, CTX, CTX_BYTES + STACK_BYTES))
        a.jump("call", ("sub", 0))
        if r[0] != "rax":
            a("MOV", "rax", r[0])
        a.label("epilogue")
        a("ADD", "rsp", FRAME)
        for saved in ("r15", "r14", "r13", "r12", "rbp", "rbx"):
            a("POP", saved)
        a("RET")
        # trap: r10 = pc | code << 32 | size << 40, r11 = the argument; unwind to the entry
        a.label("trap")
        a("MOV", "rsp", CTX)
        a("MOV", "rdx", Mem(8, CTX, _CTX["run"]))
        a("MOV", Mem(8, "rdx", _RUN["trap_arg"]), S2)
        a("MOV", "eax", r32(S1))
        a("MOV", Mem(8, "rdx", _RUN["trap_pc"]), "rax")
        a("MOV", "rax", S1)
        a("SHR", "rax", 40)
        a("MOV", Mem(8, "rdx", _RUN["trap_size"]), "rax")
        a("MOV", "rax", S1)
        a("SHR", "rax", 32)
        a("MOVZX", "eax", "al")
        a("MOV", Mem(8, "rdx", _RUN["trap"]), "rax")
        a("MOV", "rdi", "rdx")                                  # report_trap(run)
        a("MOV", "rax", Mem(8, "rdx", _RUN["report_trap"]))
        a("CALL", "rax")                                        # (rsp is 16-aligned here)
        a("MOV", "rax", TRAPPED)
        a.jump("jmp", "epilogue")
        # a legacy packet load outside the packet: the program returns 0, no trap
        a.label("return_zero")
        a("MOV", "rsp", CTX)
        a("XOR", "eax", "eax")
        a.jump("jmp", "epilogue")

    # ---- one instruction ---------------------------------------------------------------------

    def _instruction(self, body: list, i: int) -> int:
        """Lower body[i] (fused with the next ones when a pattern allows); returns how
        many instructions were consumed."""
        a = self.a
        pc, insn = body[i]
        if pc in self.leaders:
            if pc in self.checkpoints:
                # loop heads and subprogram entries start a 32-byte fetch window: a small
                # loop then runs from one, whatever code precedes it (measured: up to
                # 2.7x on a 7-uop loop, depending on the preceding code's length)
                a.align(32)
            a.label(pc)
            a.mark(pc)
            a("SUB", BUDGET, self.costs[pc])                  # budget -= block size
            if pc in self.checkpoints:
                a.jump("s", self._stub(TrapCode.BUDGET, pc, "zero"))
        else:
            a.mark(pc)
        fused = self._fuse(body, i)
        if fused:
            return fused
        getattr(self, "_" + insn.kind.value)(pc, insn)
        return 1

    def _fuse(self, body: list, i: int) -> int:
        """Emit one x86 instruction for a common run of BPF ones inside a block:

            mov d, s; add d, imm [; add d, t]   ->  lea d, [s + t + imm]
            mov d, s; add d, t                  ->  lea d, [s + t]
            lsh d, 32; rsh d, 32                ->  mov d32, d32  (zero-extension)

        Returns the instructions consumed (0: no pattern here)."""
        run = []
        for pc, insn in body[i:i + 4]:
            if run and pc in self.leaders:
                break
            run.append(insn)
        if len(run) < 2:
            return 0
        first, second = run[0], run[1]
        if not (first.kind is Kind.ALU and second.kind is Kind.ALU and first.spec.width == 64
                and second.spec.width == 64 and second.dst == first.dst):
            return 0
        d = first.dst
        op1, op2 = first.spec.op, second.spec.op
        if op1 == "lsh" and op2 == "rsh" and first.spec.source == second.spec.source == "imm" \
                and first.imm == second.imm == 32:
            self.a.mark(body[i + 1][0])
            self.a("MOV", r32(self.reg[d]), r32(self.reg[d]))
            return 2
        if op1 != "mov" or first.spec.source != "reg" or first.src == d:
            return 0
        base, index, disp = self.reg[first.src], None, 0
        if op2 in ("add", "sub") and second.spec.source == "imm":
            disp = second.imm if op2 == "add" else -second.imm
            if not -(1 << 31) <= disp < 1 << 31:
                return 0
            used = 2
            third = run[2] if len(run) > 2 else None
            if third is not None and third.kind is Kind.ALU and third.spec.op == "add" \
                    and third.spec.width == 64 and third.spec.source == "reg" \
                    and third.dst == d and third.src != d:
                index, used = self.reg[third.src], 3
        elif op2 == "add" and second.spec.source == "reg" and second.src != d:
            index, used = self.reg[second.src], 2
        else:
            return 0
        for k in range(1, used):
            self.a.mark(body[i + k][0])
        load = run[used] if len(run) > used else None
        if load is not None and load.kind in (Kind.LDX, Kind.LDSX) and load.src == load.dst == d \
                and not self.verified.needs_check(body[i + used][0]) \
                and -(1 << 31) <= disp + load.off < 1 << 31:
            # ... ; ldx d, [d + off]  ->  a load from [s + t + imm + off]: d's address is dead
            self.a.mark(body[i + used][0])
            self._load(load, Mem(load.spec.size, base, disp + load.off, index, 1))
            return used + 1
        self.a("LEA", self.reg[d], Mem(8, base, disp, index, 1))
        return used

    def _alu(self, pc: int, insn) -> None:
        a, spec = self.a, insn.spec
        op, w = spec.op, spec.width
        d = self.reg[insn.dst]
        dw = _sized(d, w)
        if spec.source == "reg":
            s = self.reg[insn.src]
            src = _sized(s, w)
        else:
            s, src = None, (insn.imm if w == 64 else _s32(insn.imm))
        if op in _ALU:
            a(_ALU[op], dw, src)
        elif op == "mov":
            if s is not None:
                if s != d or w == 32:               # mov r32, r32 zero-extends
                    a("MOV", dw, src)
            else:
                self._load_constant(d, insn.imm if w == 64 else insn.imm & M32)
        elif op == "mul":
            if s is not None:
                a("IMUL", dw, src)
            else:
                a("IMUL", dw, dw, src)
        elif op == "movsx":
            a("MOVSXD" if insn.off == 32 else "MOVSX", dw,
              {8: r8, 16: r16, 32: r32}[insn.off](s))
        elif op in _SHIFT:
            self._shift(_SHIFT[op], d, s, insn.imm, w)
        else:
            self._divide(op, d, s, insn.imm, w, pc)

    def _load_constant(self, d: str, value: int) -> None:
        """d = value (64-bit), in the shortest form."""
        value &= (1 << 64) - 1
        if value == 0:
            self.a("XOR", r32(d), r32(d))
        elif value <= M32:
            self.a("MOV", r32(d), _s32(value))             # zero-extends
        elif value >= (1 << 64) - (1 << 31):
            self.a("MOV", d, value - (1 << 64))            # sign-extended imm32
        else:
            self.a("MOV", d, value)                        # movabs

    def _shift(self, mnemonic: str, d: str, s: str | None, imm: int, w: int) -> None:
        """Shift d by s (masked by the hardware exactly as BPF masks) or by an immediate."""
        a, dw = self.a, _sized(d, w)
        if s is None:
            count = imm & (w - 1)
            if count:
                a(mnemonic, dw, count)
            elif w == 32:
                a("MOV", dw, dw)                           # a zero shift still zero-extends
            return
        if s == "rcx":
            if w == 32:
                a("MOV", dw, dw)        # a shift by 0 need not zero-extend: do it first
            a(mnemonic, dw, "cl")
        elif d == "rcx":
            a("MOV", _sized(S2, w), dw)                    # the value to shift -> r11
            a("MOV", "ecx", r32(s))
            a(mnemonic, _sized(S2, w), "cl")
            a("MOV", dw, _sized(S2, w))
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
        dw = _sized(d, w)
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
            a("MOV", Mem(w // 8, CTX, _CTX["save0"]), _s32(imm) if w == 32 else imm)
            operand = Mem(w // 8, CTX, _CTX["save0"])
            stash = [S1, S2, Mem(8, CTX, _CTX["save1"])]
        else:
            stash = [S1, S2, Mem(8, CTX, _CTX["save1"])]
            if s in ("rax", "rdx"):
                place = stash.pop(0)
                a("MOV", place, s)
                operand = _sized(place, w)
            else:
                operand = _sized(s, w)
        saved = []
        for reg in ("rax", "rdx"):
            if reg != d:
                place = stash.pop(0)
                a("MOV", place, reg)
                saved.append((reg, place))
        if d != "rax":
            a("MOV", _sized("rax", w), dw)
        acc, rem = _sized("rax", w), _sized("rdx", w)
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
            a("MOV", dw, _sized(result, w))
        for reg, place in reversed(saved):
            a("MOV", reg, place)

    def _neg(self, pc: int, insn) -> None:
        self.a("NEG", _sized(self.reg[insn.dst], insn.spec.width))

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
            a("BSWAP", _sized(d, bits))

    def _ld_packet(self, pc: int, insn) -> None:
        """ldabs/ldind: r0 = the big-endian value at a packet offset (imm, or src + imm as
        a signed 32-bit sum); outside the packet the program returns 0."""
        a, size = self.a, insn.spec.size
        d = self.reg[0]
        if insn.spec.op == "abs":
            a("MOV", S1, insn.imm)                          # mov r10, imm
        else:
            a("MOV", r32(S1), r32(self.reg[insn.src]))      # mov r10d, src32
            if insn.imm:
                a("ADD", r32(S1), _s32(insn.imm))           # add r10d, imm
            a("MOVSXD", S1, r32(S1))                        # movsxd r10, r10d
        a("CMP", S1, Mem(8, CTX, _CTX[f"mem_bound{size}"]))   # offset < len - size + 1?
        a.jump("ae", "return_zero")
        a("ADD", S1, Mem(8, CTX, _CTX["data"]))            # add r10, packet
        if size == 4:
            a("MOV", r32(d), Mem(4, S1, 0))                 # mov r0d, [r10]
            a("BSWAP", r32(d))                              # bswap r0d
        else:
            a("MOVZX", r32(d), Mem(size, S1, 0))            # movzx r0d, [r10]
            if size == 2:
                a("ROR", r16(d), 8)                         # ror r0w, 8
                a("MOVZX", r32(d), r16(d))

    # ---- jumps and calls ---------------------------------------------------------------------

    def _ja(self, pc: int, insn) -> None:
        offset = insn.off if insn.spec.width == 64 else insn.imm
        self.a.jump("jmp", pc + 1 + offset)

    def _jcond(self, pc: int, insn) -> None:
        a, spec = self.a, insn.spec
        w = spec.width
        d = _sized(self.reg[insn.dst], w)
        if spec.source == "reg":
            a("TEST" if spec.op == "jset" else "CMP", d, _sized(self.reg[insn.src], w))
        elif insn.imm == 0 and spec.op != "jset":
            a("TEST", d, d)
        else:
            a("TEST" if spec.op == "jset" else "CMP", d, insn.imm if w == 64 else _s32(insn.imm))
        a.jump(_JCC[spec.op], pc + 1 + insn.off)

    def _call(self, pc: int, insn) -> None:
        if insn.imm == 1 and pc in self.inline_lookups:
            self._array_lookup(self.inline_lookups[pc])
            return
        if pc in self.map_calls and insn.imm in self.native_maps:
            self._map_call(self.map_calls[pc], OPERATIONS[insn.imm])
            return
        if insn.imm not in self.helpers:
            self.a.jump("jmp", self._stub(TrapCode.HELPER_UNKNOWN, pc, insn.imm))
            return
        self._call_helper(pc, insn.imm)

    def _array_lookup(self, index: int) -> None:
        """map_lookup_elem on an array map, without leaving the JIT code: r0 = &values[key]
        when key < max_entries, else NULL (the verifier proved the key readable)."""
        a, r = self.a, self.reg
        the_map = self.prog.maps.list[index]
        null, done = a.new_label(), a.new_label()
        a("MOV", r32(S2), Mem(4, r[2], 0))                  # r11 = key (u32)
        a("CMP", r32(S2), _s32(the_map.max_entries))
        a.jump("ae", null)
        a("IMUL", S2, S2, the_map.value_size)
        self._placed(S1, ("map", index, 0))
        a("ADD", S2, S1)
        a("MOV", r[0], S2)
        a.jump("jmp", done)
        a.label(null)
        a("XOR", r32(r[0]), r32(r[0]))
        a.label(done)

    def _callx(self, pc: int, insn) -> None:
        a, d = self.a, self.reg[insn.dst]
        unknown = self._stub(TrapCode.HELPER_UNKNOWN, pc, d)
        a("CMP", d, self.n_helpers)
        a.jump("ae", unknown)
        self._placed(S2, ("helpers",))
        a("MOV", S2, Mem(8, S2, 0, d, 8))                 # r11 = table[id]
        a("TEST", S2, S2)
        a.jump("e", unknown)
        self._call_helper(pc, None)

    def _placed(self, d: str, what: tuple) -> None:
        """mov d, imm64 with an address known when the code is placed (a map's arena,
        a helper): the image stays independent of this process's addresses."""
        self.a("MOV", d, _PLACEHOLDER)
        self.a.fixup(what)

    def _call_helper(self, pc: int, helper: int | None) -> None:
        """Call the C-ABI helper `helper` (or the one in r11) with r1-r5; r0 = its result."""
        a = self.a

        def call() -> None:
            self._parallel_move(list(zip(ARGS, self.reg[1:6])))
            # the run structure, 6th argument (r9 holds the budget: pushed already)
            a("MOV", "r9", Mem(8, CTX, _CTX["run"]))
            if helper is not None:
                self._placed(S2, ("helper", helper))
            a("CALL", S2)
        self._native_call(call)
        # a failing Python helper has set run->trap: stop here, at this pc
        a("MOV", S2, Mem(8, CTX, _CTX["run"]))
        a("CMP", Mem(8, S2, _RUN["trap"]), 0)
        a.jump("ne", self._stub(TrapCode.HELPER_FAILED, pc, "zero"))
        if self.reload_packet:
            self._reload_packet_bounds()

    def _map_call(self, indices: tuple[int, ...], operation: str) -> None:
        """map_lookup_elem / update_elem / delete_elem in native code: r0 = the result of
        the routine (bpfjit.backends.mapops) appended to this code, given the map's
        index (hash maps: the one r1's handle names, among `indices`) or values (an
        array), r2 (and r3, r4); they cannot fail."""
        a, the_map = self.a, self.prog.maps.list[indices[0]]
        kind = routine_kind(the_map)
        if kind == ("array",) and operation == "delete":
            self._load_constant(self.reg[0], -errno.EINVAL & M64)   # arrays keep all
            return
        self.routines.add(kind)
        moves = [("rsi", self.reg[2])]
        if operation == "update":
            moves += [("rdx", self.reg[3]), ("rcx", self.reg[4])]
        if len(indices) > 1:
            moves.append(("r8", self.reg[1]))       # the handle: map_handle(i) has i << 16

        def call() -> None:
            self._parallel_move(moves)
            if kind == ("array",):
                self._placed("rdi", ("map", indices[0], 0))
                a("MOV", "r8", the_map.max_entries)
                a("MOV", "r9", the_map.value_size)          # (the budget: pushed)
            else:
                self._map_index("rdi", indices)
            a.jump("call", ("native", operation) + kind)
        self._native_call(call)

    def _map_index(self, d: str, indices: tuple[int, ...]) -> None:
        """d = the native index of the map r1's handle names (in r8 when there are
        several): a compare per candidate; the verifier proved it is one of them."""
        a = self.a
        if len(indices) > 1:
            a("SHR", "r8", 16)
            a("AND", "r8", 0xFFFF)                          # r8 = the map's index
        done = a.new_label()
        for index in indices[:-1]:
            other = a.new_label()
            a("CMP", "r8", index)
            a.jump("ne", other)
            self._placed(d, ("index", index))
            a.jump("jmp", done)
            a.label(other)
        self._placed(d, ("index", indices[-1]))
        a.label(done)

    def _append_routines(self, kind: tuple) -> None:
        """The map routines of one kind, their machine code as compiled (position
        independent; its libc fixups carried over), labelled per operation."""
        a = self.a
        routine = routine_image(kind)
        operations = ["update"] if kind == ("array",) else list(OPERATIONS.values())
        cuts = sorted([(routine.symbols[routine_symbol(kind, op)], ("label", op))
                       for op in operations] +
                      [(where + 8, ("fixup", what)) for where, what in routine.fixups])
        a.align(64)
        done = 0
        for at, (cut, what) in cuts:
            a.raw(routine.code[done:at])
            done = at
            if cut == "label":
                a.label(("native", what) + kind)
            else:
                a.fixup(what)                   # the 8 bytes just emitted
        a.raw(routine.code[done:])

    def _native_call(self, call) -> None:
        """A C-ABI call emitted by `call()`, with the caller-saved registers that hold
        r6-r10 or the budget saved around it; r0 = its result."""
        a, r = self.a, self.reg
        keep = [x for x in (r[6], r[7], r[8], r[9], r[10], BUDGET) if x in CALLER_SAVED]
        for x in keep:
            a("PUSH", x)
        pad = len(keep) % 2 == 0                  # keep rsp 16-byte aligned at the call
        if pad:
            a("SUB", "rsp", 8)
        call()
        result = "rax"
        if "rax" in keep:
            a("MOV", S1, "rax")
            result = S1
        if pad:
            a("ADD", "rsp", 8)
        for x in reversed(keep):
            a("POP", x)
        if r[0] != result:
            a("MOV", r[0], result)

    def _reload_packet_bounds(self) -> None:
        """The packet's length may have changed: its bounds again, from run->mem_len
        (r11 holds the run structure)."""
        self.a("MOV", S1, Mem(8, S2, _RUN["mem_len"]))         # mov r10, [run.mem_len]
        self._buffer_bounds(S1, S2, Mem(8, CTX, _CTX["data"]))

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
            a("MOV", Mem(8, CTX, _CTX["mem"]), scratch)
            a("ADD", length, data)
            a("SUB", length, scratch)                          # len + metadata in use
        a("MOV", Mem(8, CTX, _CTX["mem_bound1"]), length)
        for size in sorted(self.checked["mem"] - {1}):
            fits = a.new_label()
            a("MOV", scratch, length)
            a("SUB", scratch, size - 1)                        # sub scratch, size - 1
            a.jump("ae", fits)
            a("XOR", r32(scratch), r32(scratch))               # shorter than size: 0
            a.label(fits)
            a("MOV", Mem(8, CTX, _CTX[f"mem_bound{size}"]), scratch)

    def _parallel_move(self, moves: list[tuple[str, str]]) -> None:
        """Perform the moves dst <- src as if all at once (r10 breaks cycles)."""
        a = self.a
        pending = [(d, s) for d, s in moves if d != s]
        while pending:
            sources = {s for _, s in pending}
            ready = [m for m in pending if m[0] not in sources]
            if ready:
                d, s = ready[0]
                a("MOV", d, s)
                pending.remove(ready[0])
            else:                                 # a cycle: park one source in r10
                d, s = pending[0]
                a("MOV", S1, s)
                pending = [(dd, S1 if ss == s else ss) for dd, ss in pending]

    def _call_btf(self, pc: int, insn) -> None:
        self.a.jump("jmp", self._stub(TrapCode.BTF_CALL, pc, insn.imm))

    def _call_local(self, pc: int, insn) -> None:
        a, fp = self.a, self.fp
        target = pc + 1 + insn.imm
        if self.verified.recursive:
            # the callee's frame must lie within the stack: fp - 512 >= the 8th frame's top
            a("LEA", S1, Mem(8, CTX, CTX_BYTES + 2 * STACK_SIZE))
            a("CMP", fp, S1)                             # cmp fp, base + 1024
            a.jump("b", self._stub(TrapCode.CALL_DEPTH, pc, "zero"))
        # without recursion, the verifier bounds the chain statically (at most 8 frames),
        # so no check is needed
        keep = [self.reg[i] for i in self.clobbers[target]]
        for x in keep:
            a("PUSH", x)
        pad = len(keep) % 2 == 0                  # bodies run at rsp % 16 == 8
        if pad:
            a("SUB", "rsp", 8)
        a("SUB", fp, STACK_SIZE)
        a.jump("call", ("sub", target))
        a("ADD", fp, STACK_SIZE)
        if pad:
            a("ADD", "rsp", 8)
        for x in reversed(keep):
            a("POP", x)

    def _exit(self, pc: int, insn) -> None:
        self.a("RET")

    def _lddw(self, pc: int, insn) -> None:
        if insn.src == LDDW_MAP:
            self._load_constant(self.reg[insn.dst], map_handle(insn.imm & M32))
        elif insn.src == LDDW_MAP_VALUE:
            self._placed(self.reg[insn.dst], ("map", insn.imm & M32, insn.next_imm & M32))
        elif insn.src != 0:
            self.a.jump("jmp", self._stub(TrapCode.LDDW_PSEUDO, pc, insn.src))
        else:
            self._load_constant(self.reg[insn.dst], insn.imm64)

    # ---- memory ------------------------------------------------------------------------------

    def _address(self, pc: int, base: int, off: int, size: int, write: bool,
                 in_register: bool = False) -> Mem:
        """The memory operand of an access; in checked mode, bounds-checked into r11."""
        a, b = self.a, self.reg[base]
        if not self.verified.needs_check(pc):
            if not in_register:
                return Mem(size, b, off)
            a("LEA", S2, Mem(8, b, off))
            return Mem(size, S2, 0)
        fail = self._stub(TrapCode.MEMORY, pc, None, size | (WRITE_FLAG if write else 0))
        # the verifier may know which region the base always points into: check that one
        region = self.verified.regions.get(pc)
        ok = a.new_label()
        a("LEA", S2, Mem(8, b, off))                            # r11 = address
        if region not in ("stack", "map"):
            a("MOV", S1, S2)
            a("SUB", S1, Mem(8, CTX, _CTX["mem"]))
            a("CMP", S1, Mem(8, CTX, _CTX[f"mem_bound{size}"]))   # inside the buffer?
            if region == "mem":
                a.jump("ae", fail)
                return Mem(size, S2, 0)
            a.jump("b", ok)
        if region != "stack" and self.prog.maps:
            # then the map values, out of line: back to `ok` when inside one
            probe = a.new_label()
            self.probes.append((probe, ok, size, fail))
            fail = probe
        a("CMP", S2, Mem(8, CTX, _CTX[f"stack_end{size}"]))     # below the stack's end
        a.jump("a", fail)
        a("LEA", S1, Mem(8, self.fp, -STACK_SIZE))              # and in a live frame?
        a("CMP", S2, S1)
        a.jump("b", fail)
        a.label(ok)
        return Mem(size, S2, 0)

    def _ldx(self, pc: int, insn) -> None:
        self._load(insn, self._address(pc, insn.src, insn.off, insn.spec.size, write=False))

    def _load(self, insn, src: Mem) -> None:
        size, d = insn.spec.size, self.reg[insn.dst]
        if insn.kind is Kind.LDSX:
            self.a(_SIGNED_LOAD[size], d, src)
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
        sw = _sized(s, w)
        if op == "cmpxchg":
            self._cmpxchg(pc, insn)
            return
        if op == "xchg" or (op == "add" and spec.fetch):
            dst = self._address(pc, insn.dst, insn.off, spec.size, write=True)
            a("XCHG" if op == "xchg" else "lock XADD", dst, sw)     # s = old value
            return
        if not spec.fetch:
            dst = self._address(pc, insn.dst, insn.off, spec.size, write=True)
            a("lock " + _ATOMIC[op], dst, sw)
            return
        # fetch or/and/xor: a compare-and-exchange loop, which needs rax
        dst = self._address(pc, insn.dst, insn.off, spec.size, write=True, in_register=True)
        save = Mem(8, CTX, _CTX["save0"])
        a("MOV", save, "rax")
        operand = Mem(w // 8, CTX, _CTX["save0"]) if s == "rax" else sw
        acc = _sized("rax", w)
        a("MOV", acc, dst)
        again = a.new_label()
        a.label(again)
        a("MOV", _sized(S1, w), acc)
        a(_ATOMIC[op], _sized(S1, w), operand)
        a("lock CMPXCHG", dst, _sized(S1, w))     # on failure, rax = the current value
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
            a("lock CMPXCHG", dst, _sized(s, w))
            if w == 32:
                a("MOV", "eax", "eax")      # a successful 32-bit CMPXCHG leaves rax as is
            return
        a("MOV", S1, "rax")                  # rax holds another BPF register
        a("MOV", "rax", r0)
        a("lock CMPXCHG", dst, _sized(S1 if s == "rax" else s, w))
        a("MOV", _sized(r0, w), _sized("rax", w))
        a("MOV", "rax", S1)


def _s32(value: int) -> int:
    """`value` as a signed 32-bit immediate (same bits)."""
    value &= M32
    return value - (1 << 32) if value >= 1 << 31 else value


def compile_x86(verified, helpers=None, budget=None, registers: tuple[str, ...] | None = None,
                line_info: bool = True) -> JitProgram:
    """Compile a verified program to x86-64; see the module docstring.

    `registers` overrides the x86 registers of BPF r0..r10 (a permutation of the
    default ones, see `register_map`); `line_info` keeps the native-code-to-pc
    table for `bpfjit disasm --native`.
    """
    started = time.perf_counter_ns()
    table = helper_table(verified.program, helpers, "peachpy")
    regs = resolve_registers(registers)
    ids, native = frozenset(table.helpers), frozenset(OPERATIONS) - set(helpers or {})
    options = {"helpers": ids, "native_maps": native, "registers": regs,
               "line_info": line_info}
    image = cached_image(verified, "peachpy", options, lambda: build_image(
        verified, ids, regs, native_maps=native, line_info=line_info))
    return JitProgram.from_image(verified.program, "peachpy", image, table, budget,
                                 {"registers": regs,
                                  "compile_ns": time.perf_counter_ns() - started})


def resolve_registers(registers: tuple[str, ...] | None) -> tuple[str, ...]:
    """The register map a compile uses: `registers`, else the default (which
    BPFJIT_REGISTER_ROTATION may rotate); BpfError if it is not a permutation."""
    rotation = os.environ.get("BPFJIT_REGISTER_ROTATION", "").strip()
    if rotation and not rotation.lstrip("-").isdigit():
        raise BpfError(f"BPFJIT_REGISTER_ROTATION must be an int, got {rotation!r}")
    regs = DEFAULT_MAP if registers is None else tuple(registers)
    if sorted(regs) != sorted(_POOL):
        raise BpfError(f"registers must be a permutation of {', '.join(_POOL)}")
    return regs


def build_image(verified, helper_ids: frozenset[int], registers: tuple[str, ...],
                native_maps: frozenset[int] = frozenset(OPERATIONS),
                line_info: bool = True) -> CodeImage:
    """The program's machine code as a CodeImage, independent of this process's
    addresses (maps and helpers are fixups)."""
    lowering = _Lowering(verified, helper_ids, registers, native_maps=native_maps)
    code, symbols, marks = lowering.build()
    return CodeImage(code, tuple(lowering.a.fixups), symbols, (0, len(code)),
                     marks if line_info else None)
