"""Copy-and-patch x86-64 assembly: PeachPy encodes each instruction *shape* once.

A shape is an instruction with its registers fixed and its immediates and
displacements reduced to a size class (fits 8 bits, fits 32 bits, ...).  The
first time a shape is seen, PeachPy encodes it three times with different
sentinel values; the bytes that change are the fields.  After that, emitting
the shape is a dictionary lookup, a copy of the template bytes and a patch of
the fields — about a microsecond, where PeachPy itself takes ~20 µs.

Branches are not encoded until the end: `Assembler.finish` sizes every jump
(rel8 when the target is near, rel32 otherwise), iterating to a fixpoint since
shrinking one jump can bring another's target into range.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

# PeachPy (~40 ms to import) is loaded when a template is first encoded, so that a
# compile the code cache answers never pays for it
_px = _regs = RIPRelativeOffset = None


def _load_peachpy() -> None:
    global _px, _regs, RIPRelativeOffset
    if _px is None:
        import peachpy.x86_64 as px
        from peachpy.x86_64 import registers
        from peachpy.x86_64.operand import RIPRelativeOffset as rip
        _px, _regs, RIPRelativeOffset = px, registers, rip

__all__ = ["Assembler", "Mem", "r32", "r16", "r8", "CONDITIONS", "encodings", "learn",
           "encoding_count"]

# 64-bit register -> (32-bit, 16-bit, 8-bit) names
_NAMES = {"rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
          "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
          "rbp": ("ebp", "bp", "bpl"), "rsp": ("esp", "sp", "spl")}
_NAMES.update({f"r{i}": (f"r{i}d", f"r{i}w", f"r{i}b") for i in range(8, 16)})


def r32(reg: str) -> str:
    return _NAMES[reg][0]


def r16(reg: str) -> str:
    return _NAMES[reg][1]


def r8(reg: str) -> str:
    return _NAMES[reg][2]


class Mem(tuple):
    """A memory operand: Mem(size_in_bytes, base, disp, index=None, scale=1)."""

    def __new__(cls, size: int, base: str, disp: int = 0, index: str | None = None,
                scale: int = 1):
        return tuple.__new__(cls, (size, base, disp, index, scale))


# BPF-neutral condition names -> x86 jcc mnemonics
CONDITIONS = {"e": "JE", "ne": "JNE", "a": "JA", "ae": "JAE", "b": "JB", "be": "JBE",
              "g": "JG", "ge": "JGE", "l": "JL", "le": "JLE", "s": "JS", "ns": "JNS"}

# sentinel pairs per size class: every byte of a field of any width differs between them
_SENTINELS = {"b": (0x12, -0x6E), "w": (0x1234, -0x1235), "d": (0x12345678, -0x12345679),
              "u": (0x92345678, 0xEDCBA987), "q": (0x123456789ABCDEF0, -0x123456789ABCDEF1)}
_MEMSIZE = {1: "byte", 2: "word", 4: "dword", 8: "qword", 16: "oword"}


def _size_class(value: int) -> str:
    if -0x80 <= value <= 0x7F:
        return "b"
    if -0x8000 <= value <= 0x7FFF:
        return "w"
    if -0x8000_0000 <= value <= 0x7FFF_FFFF:
        return "d"
    if 0 <= value <= 0xFFFF_FFFF:
        return "u"
    return "q"


def _shape(operand) -> object:
    """The part of an operand that decides its encoding (all but field values)."""
    if type(operand) is str:
        return operand
    if type(operand) is int:
        return _size_class(operand)
    size, base, disp, index, scale = operand
    return ("m", size, base, 0 if disp == 0 else _size_class(disp), index, scale)


def _peachpy_operand(operand, value: int | None):
    """The PeachPy form of an operand, with `value` as its immediate / displacement."""
    if type(operand) is str:
        return getattr(_regs, operand)
    if type(operand) is int:
        return value
    size, base, _, index, scale = operand
    address = getattr(_regs, base)
    if index is not None:
        address = address + getattr(_regs, index) * scale
    if value:
        address = address + value
    return getattr(_px, _MEMSIZE[size])[address]


def _fields(operands) -> list[int]:
    """Indices of the operands that carry a patched field (immediates, displacements)."""
    out = []
    for i, operand in enumerate(operands):
        if type(operand) is int or (type(operand) is Mem and operand[2] != 0):
            out.append(i)
    return out


def _encode(op: str, operands, values: dict[int, int]) -> bytes:
    _load_peachpy()
    args = []
    for i, operand in enumerate(operands):
        args.append(_peachpy_operand(operand, values.get(i, 0)))
    locked = op.startswith("lock ")
    code = bytes(getattr(_px, op[5:] if locked else op)(*args).encode())
    return b"\xf0" + code if locked else code      # LOCK, a legacy prefix, goes first


class _Template:
    __slots__ = ("code", "patches")

    def __init__(self, code: bytes, patches: tuple):
        self.code = code
        self.patches = patches      # (operand index, position, width)


def _make_template(op: str, operands) -> _Template:
    fields = _fields(operands)
    base_values = {i: _SENTINELS[_shape_class(operands[i])][0] for i in fields}
    code = _encode(op, operands, base_values)
    patches = []
    for i in fields:
        other = dict(base_values)
        other[i] = _SENTINELS[_shape_class(operands[i])][1]
        changed = [k for k, (x, y) in enumerate(zip(code, _encode(op, operands, other)))
                   if x != y]
        patches.append((i, changed[0], changed[-1] - changed[0] + 1))
    return _Template(code, tuple(patches))


def _shape_class(operand) -> str:
    return _size_class(operand if type(operand) is int else operand[2])


_TEMPLATES: dict[tuple, _Template] = {}


def encodings() -> tuple[dict, dict]:
    """What this process has had PeachPy encode: shape -> (code, patches), and (branch
    kind, long) -> opcode bytes; backends.x86templates keeps them across processes."""
    return ({key: (t.code, t.patches) for key, t in _TEMPLATES.items()},
            dict(_BRANCH_BYTES))


def encoding_count() -> int:
    """How many templates and branch opcodes this process has (learnt or encoded)."""
    return len(_TEMPLATES) + len(_BRANCH_BYTES)


def learn(templates: dict, branches: dict) -> None:
    """Take templates and branch opcodes `encodings` gave in an earlier process (the
    ones this process already has stay as they are)."""
    for key, (code, patches) in templates.items():
        if key not in _TEMPLATES:
            _TEMPLATES[key] = _Template(code, patches)
    for key, code in branches.items():
        _BRANCH_BYTES.setdefault(key, code)


class _Branch:
    """A jump, conditional jump or call to a label, sized at the end."""
    __slots__ = ("kind", "target", "long")

    def __init__(self, kind: str, target: object):
        self.kind = kind            # a CONDITIONS key, "jmp" or "call"
        self.target = target
        self.long = kind == "call"


class _Align:
    """Padding up to the next multiple of `boundary`, sized at layout."""
    __slots__ = ("boundary",)

    def __init__(self, boundary: int):
        self.boundary = boundary


# the multi-byte NOPs the Intel and AMD optimisation manuals recommend (PeachPy encodes
# only the one-byte form): nop; xchg ax, ax; nop dword [rax]; ... [rax + rax*1 + disp32]
_NOPS = [bytes.fromhex(h) for h in (
    "90", "6690", "0f1f00", "0f1f4000", "0f1f440000", "660f1f440000", "0f1f8000000000",
    "0f1f840000000000", "660f1f840000000000")]


def _padding(size: int) -> bytes:
    out = bytearray()
    while size:
        step = min(size, len(_NOPS))
        out += _NOPS[step - 1]
        size -= step
    return bytes(out)


_BRANCH_BYTES: dict[tuple[str, bool], bytes] = {}


def _branch_opcode(kind: str, long: bool) -> bytes:
    """The opcode bytes of a branch form, without its displacement (from PeachPy)."""
    key = (kind, long)
    if key not in _BRANCH_BYTES:
        mnemonic = {"jmp": "JMP", "call": "CALL"}.get(kind) or CONDITIONS[kind]
        _load_peachpy()
        code = bytes(getattr(_px, mnemonic)(RIPRelativeOffset(1000 if long else 5)).encode())
        _BRANCH_BYTES[key] = code[:len(code) - (4 if long else 1)]
    return _BRANCH_BYTES[key]


class Assembler:
    """Collects machine code and labels; `finish()` lays out the branches."""

    def __init__(self):
        self._items: list = []           # bytearray chunks and _Branch objects, in order
        self._chunk = bytearray()
        self._labels: dict[object, tuple[int, int]] = {}   # label -> (item index, offset)
        self._marks: list[tuple[int, int, int]] = []        # (item index, offset, tag)
        self._fixups: list[tuple[int, int, tuple]] = []     # (item index, offset, what)
        self.fixups: list[tuple[int, tuple]] = []           # after finish(): (offset, what)
        self._next_label = 0

    # ---- instructions ----------------------------------------------------------------------

    def __call__(self, op: str, *operands) -> None:
        """Emit `op` (a PeachPy mnemonic, "lock " prefixed for a LOCK prefix)."""
        key = (op,) + tuple([_shape(o) for o in operands])
        template = _TEMPLATES.get(key)
        if template is None:
            template = _TEMPLATES[key] = _make_template(op, operands)
        chunk = self._chunk
        start = len(chunk)
        chunk += template.code
        for i, position, width in template.patches:
            operand = operands[i]
            value = operand if type(operand) is int else operand[2]
            at = start + position
            chunk[at:at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")

    def raw(self, code: bytes) -> None:
        self._chunk += code

    def reserve(self) -> bytearray:
        """An empty stretch of code at this point, to be filled later through `into`
        (code chosen once the rest is lowered: backends.x86pool's constants)."""
        hole = bytearray()
        self._items += [self._chunk, hole]
        self._chunk = bytearray()
        return hole

    @contextmanager
    def into(self, hole: bytearray) -> Iterator[None]:
        """Emit into a reserved stretch: straight-line code only (no label, branch,
        mark or fixup, whose positions count items)."""
        saved, self._chunk = self._chunk, hole
        try:
            yield
        finally:
            self._chunk = saved

    # ---- labels and branches -----------------------------------------------------------------

    def new_label(self) -> int:
        self._next_label += 1
        return -self._next_label        # negative ints never collide with BPF pcs

    def label(self, name: object) -> None:
        if name in self._labels:
            raise ValueError(f"label {name!r} defined twice")
        self._labels[name] = (len(self._items), len(self._chunk))

    def mark(self, tag: int) -> None:
        """Remember the current position under `tag` (a BPF pc, or -1), for listings."""
        self._marks.append((len(self._items), len(self._chunk), tag))

    def fixup(self, what: tuple) -> None:
        """The last 8 bytes emitted (a `mov r64, imm64`'s immediate) are an address to be
        filled in when the code is placed (a bpfjit.codeimage fixup)."""
        self._fixups.append((len(self._items), len(self._chunk) - 8, what))

    def align(self, boundary: int) -> None:
        """Pad with NOPs to a multiple of `boundary` bytes (for loop heads)."""
        self._items.append(self._chunk)
        self._items.append(_Align(boundary))
        self._chunk = bytearray()

    def jump(self, kind: str, target: object) -> None:
        """`kind` is a CONDITIONS key (conditional), "jmp" or "call"."""
        self._items.append(self._chunk)
        self._items.append(_Branch(kind, target))
        self._chunk = bytearray()

    # ---- layout ----------------------------------------------------------------------------------

    def finish(self) -> tuple[bytes, dict[object, int], list[tuple[int, int]]]:
        """(code, label offsets, sorted (offset, tag) marks) with every branch sized."""
        items = self._items + [self._chunk]
        branches = [(i, item) for i, item in enumerate(items) if type(item) is _Branch]
        for _, branch in branches:
            if branch.target not in self._labels:
                raise ValueError(f"jump to undefined label {branch.target!r}")
        while True:
            starts = self._layout(items)
            grown = False
            for i, branch in branches:
                if branch.long:
                    continue
                at = self._labels[branch.target]
                rel = starts[at[0]] + at[1] - (starts[i] + 2)
                if not -128 <= rel <= 127:
                    branch.long = grown = True
            if not grown:
                break
        out = bytearray()
        for i, item in enumerate(items):
            if type(item) is _Align:
                out += _padding(starts[i + 1] - starts[i])
            elif type(item) is _Branch:
                opcode = _branch_opcode(item.kind, item.long)
                width = 4 if item.long else 1
                at = self._labels[item.target]
                rel = starts[at[0]] + at[1] - (starts[i] + len(opcode) + width)
                out += opcode + (rel & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            else:
                out += item
        labels = {name: starts[i] + offset for name, (i, offset) in self._labels.items()}
        marks = sorted((starts[i] + offset, tag) for i, offset, tag in self._marks)
        self.fixups = [(starts[i] + offset, what) for i, offset, what in self._fixups]
        return bytes(out), labels, marks

    @staticmethod
    def _layout(items: Iterable) -> list[int]:
        starts, at = [], 0
        for item in items:
            starts.append(at)
            if type(item) is _Branch:
                at += _branch_size(item)
            elif type(item) is _Align:
                at += -at % item.boundary
            else:
                at += len(item)
        starts.append(at)
        return starts


def _branch_size(branch: _Branch) -> int:
    if not branch.long:
        return 2
    return 5 if branch.kind in ("jmp", "call") else 6
