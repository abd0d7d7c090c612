"""Assembler and disassembler for the mnemonic syntax of ubpf / bpf_conformance.

    mov %r0, 1            add32 %r1, %r2          ldxw %r0, [%r1+4]
    stxdw [%r10-8], %r1   jeq %r1, 0x10, label    lddw %r0, 0x1122334455667788
    call 1                call local func         callx %r2   (also: call %r2)
    lock fetch add32 [%r10-8], %r1                movsx832 %r0, %r1

Registers may be written `%r0` or `r0`; `#` starts a comment; `name:` defines
a label, and the label `exit`, when not defined, names the first exit
instruction.  As in the bpf_conformance assembler, a 32-bit immediate written
wider than 32 bits keeps its low 32 bits (`mov32 %r1, 0x876543210` loads
0x76543210).  `disassemble()` prints this syntax so that assembling its output
gives back the same program, or llvm-objdump's pseudo-C with syntax="c".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import AssembleError, BpfError
from .isa import LDDW_PSEUDO, MAX_REG, OPCODES, Insn, Kind, OpSpec
from .program import Program

__all__ = ["assemble", "disassemble", "format_insn"]

# ---------------------------------------------------------------------------
# Mnemonic index, built from the opcode table
# ---------------------------------------------------------------------------

_BY_MNEMONIC: dict[str, list[OpSpec]] = {}
for _spec in OPCODES:
    _BY_MNEMONIC.setdefault(_spec.mnemonic, []).append(_spec)
del _spec

_ALIASES: dict[str, str] = {"call helper": "call", "call runtime": "call btf", "gotol": "ja32"}
for _name in list(_BY_MNEMONIC):
    _specs = _BY_MNEMONIC[_name]
    if _specs[0].kind in (Kind.ALU, Kind.NEG) and _specs[0].width == 64 \
            and not _name.startswith("movsx"):
        _ALIASES[_name + "64"] = _name          # add64 == add
    if _specs[0].kind is Kind.END and _specs[0].op == "bswap":
        _ALIASES["swap" + _name[5:]] = _name    # swap16 == bswap16
del _name, _specs

_FIRST_EXIT = " first exit"   # not a valid label name, so it cannot clash
_PSEUDO_BY_NAME = {name: src for src, name in LDDW_PSEUDO.items() if src}
_PSEUDO_TWO_ARGS = {2, 6}   # map value forms take (map, offset)

_REG = re.compile(r"%?r(\d+)$", re.IGNORECASE)
_INT = re.compile(r"[+-]?(0x[0-9a-f]+|0o[0-7]+|0b[01]+|\d+)$", re.IGNORECASE)
_MEM = re.compile(r"\[\s*(%?r\d+)\s*(?:([+-])\s*(\w+)\s*)?\]$", re.IGNORECASE)
_LABEL_DEF = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*:")
_WORD = re.compile(r"\S+")
_NESTING = frozenset("[]()")
_LABEL = re.compile(r"[A-Za-z_.$][\w.$]*$")
_PSEUDO = re.compile(r"(\w+)\s*\((.*)\)$")


@dataclass
class _Operand:
    text: str
    column: int   # 1-based


@dataclass
class _Pending:
    """A parsed instruction whose jump target may still be a label."""
    line: int
    column: int
    spec: OpSpec
    fields: dict
    target: _Operand | None   # label or offset operand, resolved in pass 2


def _error(line: int, column: int, reason: str) -> AssembleError:
    return AssembleError(line, column, reason)


def _parse_int(op: _Operand, line: int, lo: int, hi: int, what: str) -> int:
    text = op.text.replace("_", "")
    if not _INT.match(text):
        raise _error(line, op.column, f"expected {what} (a number), got {op.text!r}")
    value = int(text, 0)
    if not lo <= value <= hi:
        raise _error(line, op.column, f"{what} {op.text} does not fit (allowed {lo}..{hi})")
    return value


def _wrap(value: int, bits: int) -> int:
    """Reinterpret an in-range integer as a signed `bits`-bit field value."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _imm32(op: _Operand, line: int, what: str = "immediate") -> int:
    """A 32-bit immediate field; wider values keep their low 32 bits."""
    return _wrap(_parse_int(op, line, -(1 << 63), (1 << 64) - 1, what), 32)


def _reg(op: _Operand, line: int) -> int:
    m = _REG.match(op.text)
    if not m:
        raise _error(line, op.column, f"expected a register like %r1, got {op.text!r}")
    n = int(m.group(1))
    if n > MAX_REG:
        raise _error(line, op.column, f"register r{n} does not exist (registers are r0-r10)")
    return n


def _is_reg(op: _Operand) -> bool:
    return bool(_REG.match(op.text))


def _mem(op: _Operand, line: int) -> tuple[int, int]:
    m = _MEM.match(op.text)
    if not m:
        raise _error(line, op.column, f"expected a memory operand like [%r1+4], got {op.text!r}")
    reg = _reg(_Operand(m.group(1), op.column + 1), line)
    off = 0
    if m.group(3) is not None:
        off_op = _Operand(m.group(2) + m.group(3), op.column)
        off = _wrap(_parse_int(off_op, line, -(1 << 15), (1 << 16) - 1, "offset"), 16)
    return reg, off


def _split_operands(text: str, start_col: int) -> list[_Operand]:
    """Split at commas outside brackets and parentheses, keeping 1-based columns."""
    pieces = text.split(",") if _NESTING.isdisjoint(text) else _outside_brackets(text)
    ops: list[_Operand] = []
    begin = 0                       # each piece's offset in `text` (one comma apart)
    for piece in pieces:
        ops.append(_Operand(piece.strip(), start_col + begin + len(piece) - len(piece.lstrip())))
        begin += len(piece) + 1
    if len(ops) == 1 and not ops[0].text:
        return []
    return ops


def _outside_brackets(text: str) -> list[str]:
    """`text` split at the commas outside brackets and parentheses."""
    pieces, depth, begin = [], 0, 0
    for i, ch in enumerate(text + ","):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth <= 0:
            pieces.append(text[begin:i])
            begin = i + 1
    return pieces


def _split_mnemonic(body: str) -> tuple[str, int]:
    """Return the mnemonic (joining multi-word ones) and where operands begin."""
    word = _WORD.search(body)
    if word is None:
        return "", len(body)
    words = [word]
    first = word.group().lower()
    if first in ("lock", "call"):           # (only these take more than one word)
        while len(words) < 3 and (word := _WORD.search(body, word.end())) is not None:
            words.append(word)
    take = 1
    if first == "lock" and len(words) > 1:
        take = 3 if words[1].group().lower() == "fetch" and len(words) > 2 else 2
    elif first == "call" and len(words) > 1 and words[1].group().lower() in (
            "local", "helper", "btf", "runtime"):
        take = 2
    name = " ".join(w.group().lower() for w in words[:take])
    return name, words[take - 1].end()


def _instruction(name: str, ops: list[_Operand], line: int, col: int) -> tuple[OpSpec, dict, _Operand | None]:
    """Pick the table row for a mnemonic and its operands; return (spec, fields, target)."""
    name = _ALIASES.get(name, name)
    if name == "call" and len(ops) == 1 and _is_reg(ops[0]):
        name = "callx"                      # the conformance files' `call %r2`
    specs = _BY_MNEMONIC.get(name)
    if specs is None:
        raise _error(line, col, f"unknown instruction {name!r}")
    spec = specs[0]
    kind = spec.kind

    def want(n: int, shape: str) -> None:
        if len(ops) != n:
            raise _error(line, col, f"{name} takes {n} operand{'s' if n != 1 else ''} "
                                    f"({shape}), got {len(ops)}")

    if kind is Kind.ALU:
        want(2, "register, register or immediate" if spec.op != "movsx" else "register, register")
        dst = _reg(ops[0], line)
        if _is_reg(ops[1]):
            spec = next((s for s in specs if s.source == "reg"), None)
            return spec, {"dst": dst, "src": _reg(ops[1], line)}, None
        spec = next((s for s in specs if s.source == "imm"), None)
        if spec is None:
            raise _error(line, ops[1].column, f"{name} needs a register as its source")
        return spec, {"dst": dst, "imm": _imm32(ops[1], line)}, None
    if kind in (Kind.NEG, Kind.END, Kind.CALLX):
        want(1, "register")
        return spec, {"dst": _reg(ops[0], line)}, None
    if kind is Kind.JCOND:
        want(3, "register, register or immediate, target")
        dst = _reg(ops[0], line)
        if _is_reg(ops[1]):
            spec = next(s for s in specs if s.source == "reg")
            return spec, {"dst": dst, "src": _reg(ops[1], line)}, ops[2]
        spec = next(s for s in specs if s.source == "imm")
        return spec, {"dst": dst, "imm": _imm32(ops[1], line)}, ops[2]
    if kind in (Kind.JA, Kind.CALL_LOCAL):
        want(1, "target label or +offset")
        return spec, {}, ops[0]
    if kind in (Kind.CALL, Kind.CALL_BTF):
        want(1, "helper id")
        return spec, {"imm": _imm32(ops[0], line, "helper id")}, None
    if kind is Kind.EXIT:
        want(0, "none")
        return spec, {}, None
    if kind is Kind.LDDW:
        want(2, "register, 64-bit immediate")
        dst = _reg(ops[0], line)
        m = _PSEUDO.match(ops[1].text)
        if m and m.group(1).lower() == "code_addr" and _LABEL.match(m.group(2).strip()):
            # a subprogram's address by label: resolved in pass 2, relative as a call
            label = _split_operands(m.group(2), ops[1].column + m.start(2))
            return spec, {"dst": dst, "src": _PSEUDO_BY_NAME["code_addr"]}, label[0]
        if m:
            return spec, {"dst": dst, **_lddw_pseudo(m, ops[1], line)}, None
        value = _parse_int(ops[1], line, -(1 << 63), (1 << 64) - 1, "64-bit immediate")
        value &= (1 << 64) - 1
        return spec, {"dst": dst, "imm": _wrap(value, 32), "next_imm": _wrap(value >> 32, 32)}, None
    if kind in (Kind.LDX, Kind.LDSX):
        want(2, "register, memory operand")
        src, off = _mem(ops[1], line)
        return spec, {"dst": _reg(ops[0], line), "src": src, "off": off}, None
    if kind is Kind.ST:
        want(2, "memory operand, immediate")
        dst, off = _mem(ops[0], line)
        return spec, {"dst": dst, "off": off, "imm": _imm32(ops[1], line)}, None
    if kind is Kind.LD_PACKET:
        if spec.op == "abs":
            want(1, "packet offset")
            return spec, {"imm": _imm32(ops[0], line)}, None
        want(2, "register, packet offset")
        return spec, {"src": _reg(ops[0], line), "imm": _imm32(ops[1], line)}, None
    # STX and atomics
    want(2, "memory operand, register")
    dst, off = _mem(ops[0], line)
    return spec, {"dst": dst, "off": off, "src": _reg(ops[1], line)}, None


def _lddw_pseudo(m: re.Match, op: _Operand, line: int) -> dict:
    kind = m.group(1).lower()
    src = _PSEUDO_BY_NAME.get(kind)
    if src is None:
        raise _error(line, op.column, f"unknown lddw form {kind!r}; known: "
                                      + ", ".join(sorted(_PSEUDO_BY_NAME)))
    args = _split_operands(m.group(2), op.column + m.start(2))
    need = 2 if src in _PSEUDO_TWO_ARGS else 1
    if len(args) != need:
        raise _error(line, op.column, f"{kind}() takes {need} number(s), got {len(args)}")
    fields = {"src": src, "imm": _imm32(args[0], line, "map or object index")}
    if need == 2:
        fields["next_imm"] = _imm32(args[1], line, "offset into the map value")
    return fields


def assemble(text: str) -> Program:
    """Assemble mnemonic text into a Program; AssembleError names line and column."""
    pending: list[_Pending] = []
    labels: dict[str, int] = {}
    pc = 0
    for lineno, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.split("#", 1)[0].split("//", 1)[0].rstrip()
        pos = 0
        while (m := _LABEL_DEF.match(line, pos)) and not line[m.end():m.end() + 1] == ":":
            name = m.group(1)
            if name in labels:
                raise _error(lineno, m.start(1) + 1, f"label {name!r} defined twice")
            labels[name] = pc
            pos = m.end()
        body = line[pos:]
        if not body.strip():
            continue
        try:
            col, spec, fields, target = _parsed(body, pos)
        except AssembleError:               # again, to name this line in the error
            col, spec, fields, target = _parse(body, pos, lineno)
        pending.append(_Pending(lineno, col, spec, fields, target))
        if spec.kind is Kind.EXIT:
            labels.setdefault(_FIRST_EXIT, pc)
        pc += 2 if spec.kind is Kind.LDDW else 1
    if "exit" not in labels and _FIRST_EXIT in labels:
        labels["exit"] = labels[_FIRST_EXIT]

    insns = []
    pc = 0
    for p in pending:
        fields = dict(p.fields)
        if p.target is not None:
            offset = _resolve_target(p, pc, labels)
            if p.spec.kind is Kind.JCOND or (p.spec.kind is Kind.JA and p.spec.width == 64):
                if not -(1 << 15) <= offset < (1 << 15):
                    raise _error(p.line, p.target.column,
                                 f"jump offset {offset} does not fit in 16 bits; use ja32")
                fields["off"] = offset
            else:
                fields["imm"] = offset
        if p.spec.fixed_off is not None:
            fields["off"] = p.spec.fixed_off
        if p.spec.fixed_imm is not None:
            fields["imm"] = p.spec.fixed_imm
        if p.spec.fixed_src is not None:
            fields["src"] = p.spec.fixed_src
        insn = Insn(p.spec, **fields)
        insns.append(insn)
        pc += insn.slots
    return Program(insns)


def _parse(body: str, pos: int, lineno: int) -> tuple[int, OpSpec, dict, _Operand | None]:
    """(column, spec, fields, target) of one instruction's text, which starts at column
    pos + 1 of line `lineno`."""
    col = pos + len(body) - len(body.lstrip()) + 1
    name, ops_at = _split_mnemonic(body)
    ops = _split_operands(body[ops_at:], pos + ops_at + 1)
    if any(not o.text for o in ops):
        bad = next(o for o in ops if not o.text)
        raise _error(lineno, bad.column, "empty operand (stray comma?)")
    return (col, *_instruction(name, ops, lineno, col))


@functools.lru_cache(maxsize=4096)
def _parsed(body: str, pos: int) -> tuple[int, OpSpec, dict, _Operand | None]:
    """_parse, kept: the same text parses the same way on any line (only an error names
    the line, and errors are not cached).  The fuzzer's programs repeat nine lines in
    ten (its probes and fold).  Callers copy `fields` before changing it."""
    return _parse(body, pos, 0)


def _resolve_target(p: _Pending, pc: int, labels: dict[str, int]) -> int:
    """The pc-relative offset of a jump or call target: label, +N or -N."""
    t = p.target
    if _INT.match(t.text):
        return _parse_int(t, p.line, -(1 << 31), (1 << 31) - 1, "jump offset")
    if not _LABEL.match(t.text):
        raise _error(p.line, t.column, f"expected a label or +offset, got {t.text!r}")
    if t.text not in labels:
        raise _error(p.line, t.column, f"undefined label {t.text!r}")
    return labels[t.text] - (pc + 1)


# ---------------------------------------------------------------------------
# Disassembler
# ---------------------------------------------------------------------------

def _num(value: int) -> str:
    """Small numbers in decimal, large ones in (signed) hex."""
    if -1024 <= value <= 1024:
        return str(value)
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _rel(value: int) -> str:
    return f"+{value}" if value >= 0 else str(value)


def _addr(reg: int, off: int) -> str:
    if off == 0:
        return f"[%r{reg}]"
    return f"[%r{reg}{'+' if off > 0 else '-'}{_num(abs(off))}]"


def _lddw_operand(insn: Insn) -> str:
    if insn.src == 0:
        return f"{insn.imm64:#x}"
    name = LDDW_PSEUDO[insn.src]
    if insn.src in _PSEUDO_TWO_ARGS:
        return f"{name}({insn.imm}, {insn.next_imm})"
    return f"{name}({insn.imm})"


def _format_data(insn: Insn) -> str:
    spec, kind = insn.spec, insn.kind
    m = spec.mnemonic
    if kind is Kind.ALU:
        operand = f"%r{insn.src}" if spec.source == "reg" else _num(insn.imm)
        return f"{m} %r{insn.dst}, {operand}"
    if kind in (Kind.NEG, Kind.END, Kind.CALLX):
        return f"{m} %r{insn.dst}"
    if kind is Kind.JCOND:
        operand = f"%r{insn.src}" if spec.source == "reg" else _num(insn.imm)
        return f"{m} %r{insn.dst}, {operand}, {_rel(insn.off)}"
    if kind is Kind.JA:
        return f"{m} {_rel(insn.off if spec.width == 64 else insn.imm)}"
    if kind is Kind.CALL_LOCAL:
        return f"{m} {_rel(insn.imm)}"
    if kind in (Kind.CALL, Kind.CALL_BTF):
        return f"{m} {insn.imm}"
    if kind is Kind.EXIT:
        return m
    if kind is Kind.LDDW:
        return f"{m} %r{insn.dst}, {_lddw_operand(insn)}"
    if kind in (Kind.LDX, Kind.LDSX):
        return f"{m} %r{insn.dst}, {_addr(insn.src, insn.off)}"
    if kind is Kind.ST:
        return f"{m} {_addr(insn.dst, insn.off)}, {_num(insn.imm)}"
    if kind is Kind.LD_PACKET:
        return f"{m} {_num(insn.imm)}" if spec.op == "abs" else \
            f"{m} %r{insn.src}, {_num(insn.imm)}"
    return f"{m} {_addr(insn.dst, insn.off)}, %r{insn.src}"   # STX, ATOMIC


_C_ALU = {"add": "+=", "sub": "-=", "mul": "*=", "div": "/=", "or": "|=", "and": "&=",
          "lsh": "<<=", "rsh": ">>=", "mod": "%=", "xor": "^=", "mov": "=",
          "arsh": "s>>=", "sdiv": "s/=", "smod": "s%="}
_C_JMP = {"jeq": "==", "jgt": ">", "jge": ">=", "jset": "&", "jne": "!=", "jsgt": "s>",
          "jsge": "s>=", "jlt": "<", "jle": "<=", "jslt": "s<", "jsle": "s<="}
_C_ATOMIC = {"add": "+=", "or": "|=", "and": "&=", "xor": "^="}


def _c_ptr(size: int, reg: int, off: int, signed: bool = False) -> str:
    sign = "-" if off < 0 else "+"
    return f"*({'s' if signed else 'u'}{size * 8} *)(r{reg} {sign} {_num(abs(off))})"


def _format_c(insn: Insn) -> str:
    spec, kind = insn.spec, insn.kind
    r = "w" if spec.width == 32 and kind in (Kind.ALU, Kind.NEG, Kind.JCOND, Kind.ATOMIC) else "r"
    if kind is Kind.ALU:
        if spec.op == "movsx":
            return f"{r}{insn.dst} = (s{insn.off}){r}{insn.src}"
        operand = f"{r}{insn.src}" if spec.source == "reg" else _num(insn.imm)
        return f"{r}{insn.dst} {_C_ALU[spec.op]} {operand}"
    if kind is Kind.NEG:
        return f"{r}{insn.dst} = -{r}{insn.dst}"
    if kind is Kind.END:
        return f"r{insn.dst} = {spec.mnemonic} r{insn.dst}"
    if kind is Kind.JCOND:
        operand = f"{r}{insn.src}" if spec.source == "reg" else _num(insn.imm)
        return f"if {r}{insn.dst} {_C_JMP[spec.op]} {operand} goto {_rel(insn.off)}"
    if kind is Kind.JA:
        return f"goto {_rel(insn.off)}" if spec.width == 64 else f"gotol {_rel(insn.imm)}"
    if kind is Kind.CALL:
        return f"call {insn.imm}"
    if kind is Kind.CALL_LOCAL:
        return f"call pc{_rel(insn.imm)}"
    if kind is Kind.CALL_BTF:
        return f"call btf_id {insn.imm}"
    if kind is Kind.CALLX:
        return f"callx r{insn.dst}"
    if kind is Kind.EXIT:
        return "exit"
    if kind is Kind.LDDW:
        return f"r{insn.dst} = {_lddw_operand(insn)} ll"
    if kind in (Kind.LDX, Kind.LDSX):
        return f"r{insn.dst} = {_c_ptr(spec.size, insn.src, insn.off, kind is Kind.LDSX)}"
    if kind is Kind.ST:
        return f"{_c_ptr(spec.size, insn.dst, insn.off)} = {_num(insn.imm)}"
    if kind is Kind.STX:
        return f"{_c_ptr(spec.size, insn.dst, insn.off)} = r{insn.src}"
    if kind is Kind.LD_PACKET:
        where = _num(insn.imm) if spec.op == "abs" else f"r{insn.src} + {_num(insn.imm)}"
        return f"r0 = *(u{spec.width} *)skb[{where}]"
    # atomics
    bits = spec.width
    ptr = f"r{insn.dst} {'-' if insn.off < 0 else '+'} {_num(abs(insn.off))}"
    if spec.op == "cmpxchg":
        suffix = "_64" if bits == 64 else "32_32"
        return f"{r}0 = cmpxchg{suffix}({ptr}, {r}0, {r}{insn.src})"
    if spec.op == "xchg":
        suffix = "_64" if bits == 64 else "32_32"
        return f"{r}{insn.src} = xchg{suffix}({ptr}, {r}{insn.src})"
    if spec.fetch:
        return f"{r}{insn.src} = atomic_fetch_{spec.op}((u{bits} *)({ptr}), {r}{insn.src})"
    return f"lock {_c_ptr(spec.size, insn.dst, insn.off)} {_C_ATOMIC[spec.op]} {r}{insn.src}"


def format_insn(insn: Insn, syntax: str = "data") -> str:
    """One instruction as text, in "data" (assembler) or "c" (llvm-objdump) syntax."""
    if syntax == "data":
        return _format_data(insn)
    if syntax == "c":
        return _format_c(insn)
    raise BpfError(f"unknown disassembly syntax {syntax!r}; use 'data' or 'c'")


def disassemble(prog: Program, syntax: str = "data", *, pcs: bool = False) -> str:
    """The program as text, one instruction a line; `pcs=True` prefixes each with its pc."""
    if syntax not in ("data", "c"):
        raise BpfError(f"unknown disassembly syntax {syntax!r}; use 'data' or 'c'")
    width = len(str(max(prog.slot_count - 1, 0)))
    lines = []
    for pc, insn in prog:
        text = format_insn(insn, syntax)
        lines.append(f"{pc:>{width}}: {text}" if pcs else text)
    return "\n".join(lines) + ("\n" if lines else "")
