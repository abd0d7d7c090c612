"""Idioms of clang's BPF output that x86-64 does in one instruction, for the peachpy JIT.

BPF has no unaligned wide load and no rotate, so clang spells `p[0] | p[1] << 8 | ...`
(a little- or big-endian integer read byte by byte) and `x << k | x >> (w - k)` as
runs of loads, shifts and ors.  Within one basic block, `plan_block` follows what each
register holds, byte by byte and as a shifted copy of an earlier value, and finds:

- **wide loads**: a register that holds exactly n consecutive bytes (n = 2, 4, 8) from
  one base register, in either order.  The instruction that completes it becomes one
  n-byte load (a byte swap after it for big-endian order).  Every byte was loaded in
  this block by an access that runs unchecked here (proven, or covered by a hoisted
  check), so the wide load is in bounds; nothing in between stores or calls, so memory
  still holds those bytes.  Where the last byte's load overwrites its own base, the
  wide load goes there instead (before it, or in its place when the value is built in
  the base's own register);
- **rotations**: `d = x << k` and `s = x >> (w - k)` of the same value x, or-ed (or
  added) together.  The shift that made d becomes `rol d, k` when nothing reads d
  before the or, and the or does nothing.

Then a backward pass over the block, from the registers live at its end
(bpfjit.liveness), drops every instruction without side effects whose result nobody
reads any more: the byte loads, shifts and ors the idiom replaced, unless their values
are used elsewhere.  Costs charged to the budget count BPF instructions and do not
change; no check or trap moves, since only accesses that cannot trap are fused or
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from bpfjit.isa import Kind
from bpfjit.liveness import use_def

__all__ = ["WideLoad", "Rotate", "NOTHING", "Plan", "plan_block"]

_ZERO = 0                 # a byte known to be zero (lanes hold _ZERO or (base, offset))
_SIZES = (2, 4, 8)


@dataclass(frozen=True)
class WideLoad:
    """dst = the `size` bytes at [base + off], little-endian, or big-endian if `swapped`;
    with `first`, put where the last byte load overwrites its own base (`r5 = *(u8 *)(r5
    + 3)`): the wide load runs just before that instruction, which still runs after it."""
    dst: int
    base: int
    off: int
    size: int
    swapped: bool
    first: bool = False


@dataclass(frozen=True)
class Rotate:
    """dst = dst rotated left by `count` within its low `width` bits (32: zero-extended)."""
    dst: int
    count: int
    width: int


NOTHING = "nothing"       # the or that completed a rotation


@dataclass(frozen=True)
class Plan:
    """What a block's instructions become: `replaced[pc]` (a WideLoad, a Rotate or
    NOTHING) instead of the instruction, and the pcs in `dead`, which emit nothing."""
    replaced: dict
    dead: frozenset

    def touches(self, pc: int) -> bool:
        return pc in self.dead or pc in self.replaced


EMPTY = Plan({}, frozenset())


class _Tracker:
    """What each register holds, as far as the idioms care: `lanes[r]`, its 8 bytes
    (each _ZERO or (base register, its version, offset)); `shifted[r]`, (value id,
    shift, width) for x << shift (shift > 0) or x >> -shift of the value `id`."""

    def __init__(self) -> None:
        self.version = [0] * 11
        self.lanes: list[tuple | None] = [None] * 11
        self.shifted: list[tuple | None] = [None] * 11
        # (register, version) -> pc of the load through it that overwrote it
        self.overwritten: dict[tuple[int, int], int] = {}

    def value_id(self, r: int) -> tuple[int, int]:
        return (r, self.version[r])

    def forget_memory(self) -> None:
        """A store or call: bytes loaded before may have changed."""
        self.lanes = [lanes if lanes is None or all(b == _ZERO for b in lanes) else None
                      for lanes in self.lanes]


def _truncate(lanes: tuple | None, width: int) -> tuple | None:
    if lanes is None or width == 64:
        return lanes
    return lanes[:4] + (_ZERO,) * 4


def _shift_lanes(lanes: tuple | None, count: int, left: bool, width: int) -> tuple | None:
    if lanes is None or count % 8 or not 0 <= count < width:
        return None
    k, top = count // 8, width // 8
    lanes = lanes[:top]
    moved = (_ZERO,) * k + lanes[:top - k] if left else lanes[k:] + (_ZERO,) * k
    return moved + (_ZERO,) * (8 - top)


def _merge_lanes(a: tuple | None, b: tuple | None) -> tuple | None:
    """a | b (or a + b) when no byte is non-zero in both: no carries, no overlap."""
    if a is None or b is None:
        return None
    out = []
    for x, y in zip(a, b):
        if x != _ZERO and y != _ZERO:
            return None
        out.append(y if x == _ZERO else x)
    return tuple(out)


def _masked(lanes: tuple | None, imm: int, width: int) -> tuple | None:
    if lanes is None:
        return None
    mask = imm & ((1 << width) - 1)
    out = []
    for i, lane in enumerate(lanes):
        byte = mask >> (8 * i) & 0xFF
        if byte not in (0, 0xFF):
            return None
        out.append(lane if byte == 0xFF else _ZERO)
    return tuple(out)


def _wide_load(lanes: tuple | None, tracker: _Tracker) -> tuple | None:
    """(base, off, size, swapped, at) if the lanes are n consecutive bytes of one base
    that still holds the value they were loaded through (at None), or held it until a
    load through it overwrote it (at: that load's pc)."""
    if lanes is None or lanes[0] == _ZERO:
        return None
    for size in _SIZES:
        if any(b != _ZERO for b in lanes[size:]) or any(b == _ZERO for b in lanes[:size]):
            continue
        bases = {(b[0], b[1]) for b in lanes[:size]}
        if len(bases) != 1:
            return None
        base, version = bases.pop()
        at = None
        if tracker.version[base] != version:
            at = tracker.overwritten.get((base, version))
            if at is None:
                return None
        offsets = [b[2] for b in lanes[:size]]
        first = min(offsets)
        if offsets == [first + i for i in range(size)]:
            return base, first, size, False, at
        if offsets == [first + size - 1 - i for i in range(size)]:
            return base, first, size, True, at
        return None
    return None


def plan_block(prog, pcs: list[int], free_load: Callable[[int], bool],
               live_out: Callable[[], int]) -> Plan:
    """The idioms of one basic block (its pcs in order), given which loads run
    unchecked here (`free_load`) and the registers live at its end (`live_out()`,
    asked only when an idiom is found)."""
    if not _worth_planning(prog, pcs):
        return EMPTY
    replaced: dict = {}
    t = _Tracker()
    pending_rotation: dict[int, tuple] = {}    # d -> (pc of d's shift, k, width)
    for pc in pcs:
        insn = prog.at(pc)
        kind = insn.kind
        uses, defs = use_def(insn)
        # a register read between its shift and the or cannot become the rotation
        for d in [d for d in pending_rotation if uses >> d & 1]:
            if not (kind is Kind.ALU and insn.spec.op in ("or", "add") and insn.dst == d):
                del pending_rotation[d]
        if kind in (Kind.ST, Kind.STX, Kind.ATOMIC, Kind.CALL, Kind.CALLX,
                    Kind.CALL_LOCAL, Kind.CALL_BTF, Kind.LD_PACKET):
            t.forget_memory()
        lanes = shifted = None
        if kind is Kind.LDX and free_load(pc):
            size = insn.spec.size
            base = t.value_id(insn.src)
            lanes = tuple((base[0], base[1], insn.off + i) for i in range(size)) \
                + (_ZERO,) * (8 - size)
            if insn.dst == insn.src:
                t.overwritten[base] = pc
        elif kind is Kind.ALU:
            lanes, shifted = _alu(insn, t, pc, pending_rotation, replaced)
        while defs:
            r = (defs & -defs).bit_length() - 1
            defs &= defs - 1
            t.version[r] += 1
            t.lanes[r], t.shifted[r] = None, None
            if r != insn.dst or kind is not Kind.ALU or insn.spec.op not in ("lsh", "rsh"):
                pending_rotation.pop(r, None)
        if kind in (Kind.LDX, Kind.ALU):
            t.lanes[insn.dst], t.shifted[insn.dst] = lanes, shifted
            # (a copy is left alone: one register move is cheaper than a load)
            found = _wide_load(lanes, t) if kind is Kind.ALU and insn.spec.op != "mov" \
                else None
            if found is not None:
                base, off, size, swapped, at = found
                if at is None:
                    replaced[pc] = WideLoad(insn.dst, base, off, size, swapped)
                elif insn.dst != base and at not in replaced and \
                        not _touched(prog, [q for q in pcs if at < q < pc], insn.dst):
                    # the wide value goes into dst where the base still holds the
                    # address, and nothing between reads or writes dst: this or is done
                    replaced[at] = WideLoad(insn.dst, base, off, size, swapped, first=True)
                    replaced[pc] = NOTHING
                elif insn.dst == base and at not in replaced and \
                        (chain := _in_place(prog, [q for q in pcs if at < q < pc], base,
                                            replaced)) is not None:
                    # the value is built in the base's own register from the load that
                    # overwrote it: that load becomes the wide one, and the shifts and
                    # ors of the register in place after it do nothing
                    replaced[at] = WideLoad(insn.dst, base, off, size, swapped)
                    for q in chain + [pc]:
                        replaced[q] = NOTHING
    if not replaced:
        return EMPTY
    dead = _dead(prog, pcs, replaced, free_load, live_out())
    return Plan(replaced, frozenset(dead)) if replaced else EMPTY


def _in_place(prog, pcs: list[int], reg: int, replaced: dict) -> list[int] | None:
    """The pcs among `pcs` that touch `reg`, when each is an ALU operation on `reg` in
    place (a shift or an or building the value in it, no other register reading it), else
    None."""
    chain = []
    for pc in pcs:
        insn = prog.at(pc)
        uses, defs = use_def(insn)
        if not (uses | defs) >> reg & 1:
            continue
        if pc in replaced or insn.kind is not Kind.ALU or insn.dst != reg or \
                insn.spec.op not in ("lsh", "or", "add") or \
                insn.spec.source == "reg" and insn.src == reg:
            return None
        chain.append(pc)
    return chain


def _touched(prog, pcs: list[int], reg: int) -> bool:
    """Whether any instruction at `pcs` reads or writes `reg`."""
    for pc in pcs:
        uses, defs = use_def(prog.at(pc))
        if (uses | defs) >> reg & 1:
            return True
    return False


def _worth_planning(prog, pcs: list[int]) -> bool:
    """Whether a block has what either idiom needs: an or (or add) of two registers,
    and two loads or a left and a right shift by a constant.  Most blocks do not, and
    the tracker costs a compile ~0.3 ms per program where it runs on every block."""
    ors = loads = 0
    shifts = set()
    for pc in pcs:
        insn = prog.at(pc)
        kind = insn.kind
        if kind is Kind.LDX:
            loads += 1
        elif kind is Kind.ALU:
            op, source = insn.spec.op, insn.spec.source
            if source == "reg" and op in ("or", "add"):
                ors += 1
            elif source == "imm" and op in ("lsh", "rsh"):
                shifts.add(op)
    return ors > 0 and (loads >= 2 or len(shifts) == 2)


def _alu(insn, t: _Tracker, pc: int, pending: dict, replaced: dict):
    """(lanes, shifted) of an ALU instruction's result; records rotations found."""
    op, width, d = insn.spec.op, insn.spec.width, insn.dst
    reg = insn.spec.source == "reg"
    if op == "mov":
        if not reg:
            return ((_ZERO,) * 8 if insn.imm == 0 else None), None
        if insn.off:                                   # movsx
            return None, None
        src_shift = t.shifted[insn.src]
        shifted = src_shift if width == 64 or (src_shift and src_shift[2] == 32) else None
        if shifted is None:
            shifted = (t.value_id(insn.src), 0, width)
        return _truncate(t.lanes[insn.src], width), shifted
    if op in ("lsh", "rsh") and not reg:
        lanes = _truncate(_shift_lanes(t.lanes[d], insn.imm, op == "lsh", width), width)
        before = t.shifted[d]
        if before is None or before[2] != width:
            before = (t.value_id(d), 0, width)
        shifted = None
        if before[1] == 0 and 0 < insn.imm < width:
            shifted = (before[0], insn.imm if op == "lsh" else -insn.imm, width)
            if op == "lsh":
                pending[d] = (pc, insn.imm, width)
            else:
                pending[d] = (pc, width - insn.imm, width)
        return lanes, shifted
    if op in ("or", "add") and reg:
        lanes = _merge_lanes(_truncate(t.lanes[d], width), _truncate(t.lanes[insn.src], width))
        a, b = t.shifted[d], t.shifted[insn.src]
        if a is not None and b is not None and a[0] == b[0] and a[2] == b[2] == width \
                and d in pending and insn.src != d and a[1] * b[1] < 0 \
                and abs(a[1]) + abs(b[1]) == width:
            # d held x itself just before its shift: rotate it there instead
            shift_pc, count, _ = pending.pop(d)
            replaced[shift_pc] = Rotate(d, count, width)
            replaced[pc] = NOTHING
        return lanes, None
    if op == "and" and not reg:
        return _masked(_truncate(t.lanes[d], width), insn.imm, width), None
    return None, None


def _dead(prog, pcs: list[int], replaced: dict, free_load, live_out: int) -> set[int]:
    """The block's instructions, after the replacements, whose results nobody reads and
    that have no other effect."""
    dead = set()
    live = live_out
    for pc in reversed(pcs):
        insn = prog.at(pc)
        new = replaced.get(pc)
        if new is NOTHING:
            continue
        if isinstance(new, WideLoad) and new.first:
            own_uses, own_defs = use_def(insn)
            if own_defs & live:     # the byte load's own result is read: it runs too
                uses, defs = (1 << new.base) | own_uses, (1 << new.dst) | own_defs
                live = (live & ~defs) | uses
                continue
            new = replaced[pc] = replace(new, first=False)
        if isinstance(new, WideLoad):
            uses, defs = 1 << new.base, 1 << new.dst
        elif isinstance(new, Rotate):
            uses = defs = 1 << new.dst
        else:
            uses, defs = use_def(insn)
        pure = insn.kind in (Kind.ALU, Kind.NEG, Kind.END) or \
            (insn.kind in (Kind.LDX, Kind.LDSX) and free_load(pc))
        if pure and defs and not defs & live:
            dead.add(pc)
            replaced.pop(pc, None)
            continue
        live = (live & ~defs) | uses
    return dead
