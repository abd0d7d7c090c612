"""Program: a decoded eBPF instruction stream, and the decoder that builds it.

Decoding is strict: every reserved field must be zero and every register must
exist, so that `Program.from_bytes(raw).to_bytes() == raw` for every program
that decodes.
"""

from __future__ import annotations

import struct
from typing import Iterator

from .errors import DecodeError
from .isa import INSN_SIZE, LDDW_PSEUDO, MAX_REG, SPECS_BY_OPCODE, Insn, Kind, find_spec
from .maps import MapTable

__all__ = ["Program", "decode"]

_NO_MAPS = MapTable()          # the maps of every program not loaded from an object file

_SLOT = struct.Struct("<BBhi")
_FIELD_NAMES = ("dst", "src", "off", "imm")


def _selector_error(opcode: int, src: int, off: int, imm: int) -> str:
    """Explain why no table row matches an opcode whose selecting fields are off."""
    candidates = SPECS_BY_OPCODE[opcode]
    names = "/".join(sorted({c.mnemonic for c in candidates}))
    for attr, value in (("fixed_off", off), ("fixed_imm", imm), ("fixed_src", src)):
        allowed = sorted({getattr(c, attr) for c in candidates if getattr(c, attr) is not None})
        if allowed and value not in allowed:
            field = attr.removeprefix("fixed_")
            shown = ", ".join(f"{a:#x}" if field == "imm" else str(a) for a in allowed)
            got = f"{value:#x}" if field == "imm" else str(value)
            return (f"opcode {opcode:#04x} ({names}) needs its {field} field to be one of "
                    f"{shown}, got {got}")
    return f"opcode {opcode:#04x} ({names}) with these fields is not a valid instruction"


def _decode_one(raw: bytes, pos: int) -> Insn:
    opcode, regs, off, imm = _SLOT.unpack_from(raw, pos)
    dst, src = regs & 0x0F, regs >> 4
    if opcode not in SPECS_BY_OPCODE:
        raise DecodeError(pos, f"unknown opcode {opcode:#04x}")
    spec = find_spec(opcode, src, off, imm)
    if spec is None:
        raise DecodeError(pos, _selector_error(opcode, src, off, imm))
    values = {"dst": dst, "src": src, "off": off, "imm": imm}
    for name in _FIELD_NAMES:
        fixed = getattr(spec, "fixed_" + name, None)
        if name not in spec.uses and fixed is None and values[name] != 0:
            raise DecodeError(pos, f"{spec.mnemonic}: reserved {name} field must be 0, "
                                   f"got {values[name]}")
    if dst > MAX_REG:
        raise DecodeError(pos, f"{spec.mnemonic}: register r{dst} does not exist "
                               f"(dst field; registers are r0-r10)")
    if spec.kind is Kind.LDDW:
        if src not in LDDW_PSEUDO:
            raise DecodeError(pos, f"lddw: src field {src} is not a known lddw type "
                                   f"(0-{max(LDDW_PSEUDO)})")
        if pos + 2 * INSN_SIZE > len(raw):
            raise DecodeError(pos, "lddw needs a second 8-byte slot, but the program ends")
        op2, regs2, off2, next_imm = _SLOT.unpack_from(raw, pos + INSN_SIZE)
        if op2 or regs2 or off2:
            raise DecodeError(pos + INSN_SIZE, "second slot of lddw must have opcode, "
                                               "registers and offset all 0")
        if src in (1, 3, 4, 5) and next_imm:
            raise DecodeError(pos + INSN_SIZE, f"lddw {LDDW_PSEUDO[src]}: the second "
                                               f"slot's imm is reserved and must be 0")
        return Insn(spec, dst, src, off, imm, next_imm)
    if src > MAX_REG:
        raise DecodeError(pos, f"{spec.mnemonic}: register r{src} does not exist "
                               f"(src field; registers are r0-r10)")
    return Insn(spec, dst, src, off, imm)


def decode(raw: bytes) -> list[Insn]:
    """Decode raw little-endian bytecode into instructions; DecodeError on bad bytes."""
    raw = bytes(raw)
    if len(raw) % INSN_SIZE:
        whole = len(raw) - len(raw) % INSN_SIZE
        raise DecodeError(whole, f"truncated program: {len(raw) % INSN_SIZE} trailing "
                                 f"byte(s); instructions are 8 bytes each")
    insns = []
    pos = 0
    while pos < len(raw):
        insn = _decode_one(raw, pos)
        insns.append(insn)
        pos += insn.slots * INSN_SIZE
    return insns


class Program:
    """An eBPF program: a sequence of instructions addressed by slot pc.

    pc counts 8-byte slots, as jump offsets do, so an lddw takes two pcs.
    """

    def __init__(self, insns: list[Insn] | tuple[Insn, ...], *, env=None,
                 context: str | None = None, prog_type: str = "plain",
                 attach_type: str | None = None):
        self.insns: tuple[Insn, ...] = tuple(insns)
        # what a loaded object brings (bpfjit.elf): its maps, trace output and random
        # source (a bpfjit.kernel.KernelEnv), and the context the entry point takes
        self.env = env
        self.context = context
        self.prog_type = prog_type        # bpfjit.progtypes: what the section named
        # the hook a cgroup sock_addr program serves ("connect4", ...: which context
        # fields it may touch and what it may return); None for the other types
        self.attach_type = attach_type
        pcs = []
        pc = 0
        for insn in self.insns:
            pcs.append(pc)
            pc += insn.slots
        self.pcs: tuple[int, ...] = tuple(pcs)
        self.slot_count: int = pc
        self._by_pc = dict(zip(self.pcs, self.insns))
        # pc -> the line of C it came from (bpfjit.lineinfo; set by bpfjit.elf for
        # objects built with clang -g), for coverage and disassembly
        self.source_lines: dict = {}

    def with_insns(self, insns: list[Insn] | tuple[Insn, ...]) -> "Program":
        """The same program (maps, context, source lines) with other instructions in the
        same slots."""
        out = Program(insns, env=self.env, context=self.context, prog_type=self.prog_type,
                      attach_type=self.attach_type)
        out.source_lines = self.source_lines
        for name in ("section", "function", "object_path"):      # (set by bpfjit.elf)
            if hasattr(self, name):
                setattr(out, name, getattr(self, name))
        return out

    @property
    def maps(self) -> MapTable:
        """The program's maps by name (empty unless it was loaded from an object file)."""
        return self.env.maps if self.env is not None else _NO_MAPS

    @property
    def trace(self) -> list[str]:
        """Lines the program printed with bpf_trace_printk, oldest first."""
        return self.env.trace if self.env is not None else []

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | memoryview) -> "Program":
        """Decode raw bytecode (8-byte little-endian slots)."""
        return cls(decode(raw))

    def to_bytes(self) -> bytes:
        """Encode back to bytecode; exact inverse of from_bytes."""
        return b"".join(insn.encode() for insn in self.insns)

    def at(self, pc: int) -> Insn:
        """The instruction that starts at slot `pc` (KeyError inside an lddw)."""
        return self._by_pc[pc]

    def is_insn_start(self, pc: int) -> bool:
        """True when an instruction starts at `pc` (false for an lddw's second slot)."""
        return pc in self._by_pc

    def __iter__(self) -> Iterator[tuple[int, Insn]]:
        """Yield (pc, insn) pairs."""
        return zip(self.pcs, self.insns)

    def __len__(self) -> int:
        return len(self.insns)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and self.insns == other.insns

    def __hash__(self) -> int:
        return hash(self.insns)

    def __repr__(self) -> str:
        return f"<Program {len(self.insns)} instructions, {self.slot_count} slots>"

    @property
    def min_cpu(self) -> int:
        """The lowest cpu version (1-4) that has every instruction used."""
        return max((insn.spec.cpu for insn in self.insns), default=1)
