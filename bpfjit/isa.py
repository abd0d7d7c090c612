"""The eBPF instruction set (RFC 9669): one table of every valid opcode, plus Insn.

Every other stage reads this table: the decoder and encoder, the assembler and
disassembler, the interpreter's dispatch and the backends.  Adding an
instruction is one row here plus its semantics in each engine.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

__all__ = [
    "Cls", "Kind", "MEMORY_KINDS", "OpSpec", "Insn", "OPCODES", "SPECS_BY_OPCODE",
    "INSN_SIZE", "MAX_REG", "STACK_SIZE", "MAX_CALL_DEPTH", "FRAME_ALIGN_BITS", "LDDW_PSEUDO",
    "LDDW_MAP", "LDDW_MAP_VALUE",
    "find_spec", "written_registers", "read_registers",
]

INSN_SIZE = 8
MAX_REG = 10            # r0..r10; r10 is the read-only frame pointer
STACK_SIZE = 512        # bytes per call frame
MAX_CALL_DEPTH = 8      # frames: the main program plus 7 nested local calls
# r10 is a multiple of 2^FRAME_ALIGN_BITS on every engine (the kernel's frames are
# 8-byte aligned; tests/test_element_caps.py checks each engine's)
FRAME_ALIGN_BITS = 3


class Cls(enum.IntEnum):
    """Instruction class: the low three bits of the opcode."""
    LD = 0x0
    LDX = 0x1
    ST = 0x2
    STX = 0x3
    ALU = 0x4
    JMP = 0x5
    JMP32 = 0x6
    ALU64 = 0x7


class Kind(enum.Enum):
    """What an instruction does, at the granularity engines dispatch on."""
    ALU = "alu"          # dst = dst OP src|imm (incl. mov, sdiv/smod, movsx)
    NEG = "neg"          # dst = -dst
    END = "end"          # byte swap: le/be (ALU class) or bswap (ALU64 class)
    JA = "ja"            # pc += off (JMP) or pc += imm (JMP32, "gotol")
    JCOND = "jcond"      # if dst OP src|imm: pc += off
    CALL = "call"        # helper call by static id (src=0)
    CALL_LOCAL = "call_local"  # bpf-to-bpf call (src=1), target pc + imm + 1
    CALL_BTF = "call_btf"      # helper call by BTF id (src=2)
    CALLX = "callx"      # helper call, id taken from register dst
    EXIT = "exit"
    LDDW = "lddw"        # 64-bit immediate load, two slots
    LDX = "ldx"          # dst = *(uN *)(src + off)
    LDSX = "ldsx"        # dst = *(sN *)(src + off), sign-extended
    ST = "st"            # *(uN *)(dst + off) = imm
    STX = "stx"          # *(uN *)(dst + off) = src
    ATOMIC = "atomic"    # lock OP *(uN *)(dst + off), src
    LD_PACKET = "ld_packet"   # legacy: r0 = ntohN(packet[imm]) (abs) or [src + imm] (ind)


# the kinds that access memory at dst|src + off (the accesses the verifier proves or not)
MEMORY_KINDS = frozenset((Kind.LDX, Kind.LDSX, Kind.ST, Kind.STX, Kind.ATOMIC))

# Meaning of lddw's src field (RFC 9669, section 5.4).
LDDW_PSEUDO = {
    0: "imm64",
    1: "map_by_fd",
    2: "map_val_by_fd",
    3: "var_addr",
    4: "code_addr",
    5: "map_by_idx",
    6: "map_val_by_idx",
}
# the forms bpfjit runs: the fd is an index into the program's map table; a code address
# (imm: the target's pc relative to the next slot, as a call's) names a subprogram a
# helper calls back (bpf_loop)
LDDW_MAP, LDDW_MAP_VALUE, LDDW_CODE = 1, 2, 4

# Atomic operations, keyed by the value of the imm field.
ATOMIC_ADD, ATOMIC_OR, ATOMIC_AND, ATOMIC_XOR = 0x00, 0x40, 0x50, 0xA0
ATOMIC_FETCH = 0x01
ATOMIC_XCHG = 0xE0 | ATOMIC_FETCH
ATOMIC_CMPXCHG = 0xF0 | ATOMIC_FETCH


@dataclass(frozen=True)
class OpSpec:
    """One row of the opcode table.

    `opcode` alone is not always unique: sdiv shares div's opcode (off=1),
    movsx shares mov's (off=8/16/32), the atomics share one opcode per width
    (imm selects), and call's src field selects helper/local/BTF.  The
    `fixed_*` fields hold those selecting values.
    """
    mnemonic: str            # .data-syntax name, e.g. "add32", "ldxw", "lock fetch add32"
    opcode: int
    kind: Kind
    op: str                  # semantic operation: "add", "jeq", "xchg", "be", ...
    width: int               # operand width in bits (ALU, JMP, atomics) or access size in bits
    source: str | None       # "imm", "reg" or None
    cpu: int                 # first cpu version (v1..v4) that has it
    fixed_off: int | None = None
    fixed_imm: int | None = None
    fixed_src: int | None = None
    uses: frozenset[str] = field(default_factory=frozenset)  # fields carrying operands

    @property
    def cls(self) -> Cls:
        return Cls(self.opcode & 0x07)

    @property
    def size(self) -> int:
        """Access size in bytes, for loads, stores and atomics."""
        return self.width // 8

    @property
    def fetch(self) -> bool:
        """True for atomics that load the old value back into a register."""
        return self.kind is Kind.ATOMIC and bool(self.fixed_imm & ATOMIC_FETCH)


def _build_table() -> list[OpSpec]:
    rows: list[OpSpec] = []

    def add(*args, uses: str = "", **kwargs) -> None:
        rows.append(OpSpec(*args, uses=frozenset(uses.split()), **kwargs))

    # ---- ALU and ALU64 ---------------------------------------------------
    alu_ops = [  # (name, code, cpu, fixed offset)
        ("add", 0x00, 1, None), ("sub", 0x10, 1, None), ("mul", 0x20, 1, None),
        ("div", 0x30, 1, None), ("or", 0x40, 1, None), ("and", 0x50, 1, None),
        ("lsh", 0x60, 1, None), ("rsh", 0x70, 1, None), ("mod", 0x90, 1, None),
        ("xor", 0xA0, 1, None), ("mov", 0xB0, 1, None), ("arsh", 0xC0, 1, None),
        ("sdiv", 0x30, 4, 1), ("smod", 0x90, 4, 1),
    ]
    for cls, width, suffix in ((Cls.ALU64, 64, ""), (Cls.ALU, 32, "32")):
        for name, code, cpu, off in alu_ops:
            add(name + suffix, cls | code | 0x00, Kind.ALU, name, width, "imm", cpu,
                fixed_off=off if off is not None else 0, uses="dst imm")
            add(name + suffix, cls | code | 0x08, Kind.ALU, name, width, "reg", cpu,
                fixed_off=off if off is not None else 0, uses="dst src")
        add("neg" + suffix, cls | 0x80, Kind.NEG, "neg", width, None, 1, uses="dst")
        # movsx: sign-extend the low N bits of src (register form only)
        for bits in ((8, 16) if width == 32 else (8, 16, 32)):
            add(f"movsx{bits}{width}", cls | 0xB0 | 0x08, Kind.ALU, "movsx", width, "reg", 4,
                fixed_off=bits, uses="dst src")
    for bits in (16, 32, 64):
        add(f"le{bits}", Cls.ALU | 0xD0 | 0x00, Kind.END, "le", bits, None, 1,
            fixed_imm=bits, uses="dst")
        add(f"be{bits}", Cls.ALU | 0xD0 | 0x08, Kind.END, "be", bits, None, 1,
            fixed_imm=bits, uses="dst")
        add(f"bswap{bits}", Cls.ALU64 | 0xD0, Kind.END, "bswap", bits, None, 4,
            fixed_imm=bits, uses="dst")

    # ---- JMP and JMP32 -----------------------------------------------------
    jmp_ops = [
        ("jeq", 0x10, 1), ("jgt", 0x20, 1), ("jge", 0x30, 1), ("jset", 0x40, 1),
        ("jne", 0x50, 1), ("jsgt", 0x60, 1), ("jsge", 0x70, 1),
        ("jlt", 0xA0, 2), ("jle", 0xB0, 2), ("jslt", 0xC0, 2), ("jsle", 0xD0, 2),
    ]
    for cls, width, suffix, min_cpu in ((Cls.JMP, 64, "", 1), (Cls.JMP32, 32, "32", 3)):
        for name, code, cpu in jmp_ops:
            add(name + suffix, cls | code | 0x00, Kind.JCOND, name, width, "imm",
                max(cpu, min_cpu), uses="dst imm off")
            add(name + suffix, cls | code | 0x08, Kind.JCOND, name, width, "reg",
                max(cpu, min_cpu), uses="dst src off")
    add("ja", Cls.JMP | 0x00, Kind.JA, "ja", 64, None, 1, uses="off")
    add("ja32", Cls.JMP32 | 0x00, Kind.JA, "ja", 32, None, 4, uses="imm")
    add("call", Cls.JMP | 0x80, Kind.CALL, "call", 64, None, 1, fixed_src=0, uses="imm")
    add("call local", Cls.JMP | 0x80, Kind.CALL_LOCAL, "call", 64, None, 1, fixed_src=1,
        uses="imm")
    add("call btf", Cls.JMP | 0x80, Kind.CALL_BTF, "call", 64, None, 1, fixed_src=2,
        uses="imm")
    add("callx", Cls.JMP | 0x80 | 0x08, Kind.CALLX, "callx", 64, None, 4, uses="dst")
    add("exit", Cls.JMP | 0x90, Kind.EXIT, "exit", 64, None, 1)

    # ---- loads and stores --------------------------------------------------
    sizes = [("w", 0x00, 32), ("h", 0x08, 16), ("b", 0x10, 8), ("dw", 0x18, 64)]
    add("lddw", Cls.LD | 0x00 | 0x18, Kind.LDDW, "lddw", 64, None, 1, uses="dst src imm")
    for suffix, code, bits in sizes:
        add("ldx" + suffix, Cls.LDX | 0x60 | code, Kind.LDX, "ldx", bits, None, 1,
            uses="dst src off")
        if bits != 64:
            add("ldxs" + suffix, Cls.LDX | 0x80 | code, Kind.LDSX, "ldsx", bits, None, 4,
                uses="dst src off")
        add("st" + suffix, Cls.ST | 0x60 | code, Kind.ST, "st", bits, None, 1,
            uses="dst off imm")
        add("stx" + suffix, Cls.STX | 0x60 | code, Kind.STX, "stx", bits, None, 1,
            uses="dst src off")

    # legacy packet loads (socket filters, tc): r6 holds the context, r0 the big-endian
    # value; a load outside the packet ends the program with r0 = 0.  No 64-bit form.
    for suffix, code, bits in sizes[:3]:
        add("ldabs" + suffix, Cls.LD | 0x20 | code, Kind.LD_PACKET, "abs", bits, None, 1,
            uses="imm")
        add("ldind" + suffix, Cls.LD | 0x40 | code, Kind.LD_PACKET, "ind", bits, None, 1,
            uses="src imm")

    # ---- atomics -------------------------------------------------------------
    atomic_ops = [("add", ATOMIC_ADD), ("or", ATOMIC_OR), ("and", ATOMIC_AND),
                  ("xor", ATOMIC_XOR)]
    for bits, code, suffix in ((32, 0x00, "32"), (64, 0x18, "")):
        opcode = Cls.STX | 0xC0 | code
        for name, imm in atomic_ops:
            add(f"lock {name}{suffix}", opcode, Kind.ATOMIC, name, bits, None, 3,
                fixed_imm=imm, uses="dst src off")
            add(f"lock fetch {name}{suffix}", opcode, Kind.ATOMIC, name, bits, None, 3,
                fixed_imm=imm | ATOMIC_FETCH, uses="dst src off")
        add(f"lock xchg{suffix}", opcode, Kind.ATOMIC, "xchg", bits, None, 3,
            fixed_imm=ATOMIC_XCHG, uses="dst src off")
        add(f"lock cmpxchg{suffix}", opcode, Kind.ATOMIC, "cmpxchg", bits, None, 3,
            fixed_imm=ATOMIC_CMPXCHG, uses="dst src off")
    return rows


OPCODES: list[OpSpec] = _build_table()

SPECS_BY_OPCODE: dict[int, list[OpSpec]] = {}
for _spec in OPCODES:
    SPECS_BY_OPCODE.setdefault(_spec.opcode, []).append(_spec)
del _spec


def find_spec(opcode: int, src: int, off: int, imm: int) -> OpSpec | None:
    """The table row that an encoded instruction's selecting fields pick, or None."""
    for spec in SPECS_BY_OPCODE.get(opcode, ()):
        if spec.fixed_off is not None and off != spec.fixed_off:
            continue
        if spec.fixed_imm is not None and imm != spec.fixed_imm:
            continue
        if spec.fixed_src is not None and src != spec.fixed_src:
            continue
        return spec
    return None


_INSN = struct.Struct("<BBhi")


@dataclass(frozen=True)
class Insn:
    """One decoded instruction.

    Fields hold the raw encoded values (off and imm signed).  For lddw, `imm`
    is the first slot's imm and `next_imm` the second's; `imm64` joins them.
    """
    spec: OpSpec
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    next_imm: int = 0
    # the spec's kind, and the number of 8-byte slots the instruction occupies (2 for
    # lddw): fields set once, because the verifier and the JITs read them at every step
    kind: Kind = field(init=False, repr=False, compare=False)
    slots: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", self.spec.kind)
        object.__setattr__(self, "slots", 2 if self.spec.kind is Kind.LDDW else 1)

    @property
    def opcode(self) -> int:
        return self.spec.opcode

    @property
    def imm64(self) -> int:
        """lddw's 64-bit immediate, unsigned."""
        return ((self.next_imm & 0xFFFFFFFF) << 32) | (self.imm & 0xFFFFFFFF)

    def encode(self) -> bytes:
        """The instruction's bytes (16 for lddw)."""
        regs = (self.src << 4) | self.dst
        raw = _INSN.pack(self.opcode, regs, self.off, self.imm)
        if self.slots == 2:
            raw += _INSN.pack(0, 0, 0, self.next_imm)
        return raw


def written_registers(insn) -> set[int]:
    """The BPF registers an instruction may write (calls: r0-r5, their results and the
    registers they clobber)."""
    kind = insn.kind
    if kind in (Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX):
        return {insn.dst}
    if kind is Kind.LD_PACKET:
        return set(range(6))
    if kind is Kind.ATOMIC and insn.spec.fetch:
        return {0 if insn.spec.op == "cmpxchg" else insn.src}
    if kind in (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL, Kind.CALL_BTF):
        return set(range(6))
    return set()


def read_registers(insn) -> set[int]:
    """The BPF registers an instruction may read (calls: their arguments r1-r5; exit:
    r0; a legacy packet load: r6, the context, and its index register)."""
    kind, source = insn.kind, insn.spec.source
    if kind is Kind.ALU:
        found = set() if insn.spec.op in ("mov", "movsx") else {insn.dst}
        return found | {insn.src} if source == "reg" else found
    if kind in (Kind.NEG, Kind.END):
        return {insn.dst}
    if kind is Kind.JCOND:
        return {insn.dst, insn.src} if source == "reg" else {insn.dst}
    if kind in (Kind.LDX, Kind.LDSX):
        return {insn.src}
    if kind is Kind.ST:
        return {insn.dst}
    if kind is Kind.STX:
        return {insn.dst, insn.src}
    if kind is Kind.ATOMIC:
        return {insn.dst, insn.src, 0} if insn.spec.op == "cmpxchg" else {insn.dst, insn.src}
    if kind is Kind.LD_PACKET:
        return {6, insn.src} if insn.spec.op == "ind" else {6}
    if kind in (Kind.CALL, Kind.CALL_LOCAL, Kind.CALL_BTF):
        return {1, 2, 3, 4, 5}
    if kind is Kind.CALLX:
        return {1, 2, 3, 4, 5, insn.dst}
    if kind is Kind.EXIT:
        return {0}
    return set()
