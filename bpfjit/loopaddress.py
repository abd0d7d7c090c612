"""Addresses in a loop as sums of what its entry holds: what lets a JIT test, once at
the loop's entry, a range that every trip's accesses stay in (bpfjit.checkplan).

Inside one trip, a value is followed as a `Form`: a `Sum` of *atoms* plus a constant,
where an atom is a register's value at the head of the trip or an 8-byte stack slot
that no trip writes, and optionally plus the zero-extended low 32 bits of a second
Sum (`wrap`): clang keeps a `u32` index as `(base + i) & 0xffffffff` (`w0 = w1`, or
`<<= 32; >>= 32`), and image code's `y * w + x` is one.  What the back edges carry
into the next trip says how each register moves (`Motion`): not at all, by a constant,
by an invariant register (a pointer stepped by a row's width), or as a copy of a
stepped counter made late in the trip (`r4 = r9` after `r9 += 1`: clang's rotated
loops), which holds when the copy equals the counter plus a constant at the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from .isa import Kind, written_registers
from .tripcount import merge_forms, walk_forms

__all__ = ["Sum", "Form", "Motion", "address_forms", "invariant_slots"]

_MASK32 = (1 << 32) - 1
_CALLS = (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL, Kind.CALL_BTF)


@dataclass(frozen=True)
class Sum:
    """The sum of `atoms` (a register r at the head of the trip, or ("slot", off): the
    8 bytes at r10 + off, the same on every trip), plus `const`, modulo 2^64."""
    atoms: tuple = ()
    const: int = 0

    def plus(self, other: Sum) -> Sum:
        return Sum(tuple(sorted(self.atoms + other.atoms, key=_order)),
                   self.const + other.const)

    def shifted(self, c: int) -> Sum:
        return Sum(self.atoms, self.const + c)


@dataclass(frozen=True)
class Form:
    """`outer + zext32(wrap)` (no wrap: just outer); with `high`, `outer << 32`, which
    a right shift by 32 turns into `zext32(outer)`."""
    outer: Sum
    wrap: Sum | None = None
    high: bool = False

    def flattened(self) -> Sum:
        """outer + wrap unwrapped: equal to the form modulo 2^32."""
        return self.outer if self.wrap is None else self.outer.plus(self.wrap)


@dataclass(frozen=True)
class Motion:
    """How a register moves from one trip's head to the next: `step` (plus the value
    of the invariant `by` register) per trip; `copy_of` x: it holds x's value of the
    trip before plus `step`, x being stepped by a constant; `same_as` an invariant atom
    (a slot, or a register no trip changes): it holds that atom's value plus `step`
    from the second trip on (a register reloaded from its spill slot every trip)."""
    step: int = 0
    by: int | None = None
    copy_of: int | None = None
    same_as: object = None


def _order(atom) -> tuple:
    return (0, atom, 0) if isinstance(atom, int) else (1, 0, atom[1])


def invariant_slots(prog, body, regions: dict, stack_extents: dict | None = None
                    ) -> frozenset[int] | None:
    """The stack bytes (offsets from r10) the loop's stores may write, or None when a
    store could reach any of them (through a pointer other than r10, unless the
    verifier proved where: `stack_extents`, VerifiedProgram's) or the loop calls
    something: an 8-byte slot none of whose bytes is written holds the same value on
    every trip.  (An edit distance's row store, proven within the rows, leaves the
    spilled pointer of the other string alone.)"""
    written: set[int] = set()
    for pc in body:
        insn = prog.at(pc)
        if insn.kind in _CALLS:
            return None
        if insn.kind in (Kind.ST, Kind.STX, Kind.ATOMIC):
            region = regions.get(pc)
            if region in ("mem", "map"):
                continue
            if insn.dst == 10:
                written.update(range(insn.off, insn.off + insn.spec.size))
                continue
            extent = None if stack_extents is None else stack_extents.get(pc)
            if extent is None:
                return None
            frame, lo, end = extent
            if frame == 0:              # (a caller's frame holds none of this one's slots)
                written.update(range(lo, end))
    return frozenset(written)


def address_forms(prog, header: int, body, latches, graph, written_bytes
                  ) -> tuple[dict[int, dict[int, Form]], dict[int, Motion]] | None:
    """The form of each register before each pc of the loop, and how the back edges move
    each register (only those with a Motion); None when the body has a cycle of its
    own.  `written_bytes`: invariant_slots' answer (None: no slot is invariant)."""
    walked = walk_forms(prog, header, body, graph, {r: Form(Sum((r,))) for r in range(11)},
                        lambda forms, insn: _step(forms, insn, written_bytes), each_pc=True)
    if walked is None:
        return None
    _, ends, before = walked
    return before, _motions(merge_forms([ends[latch] for latch in latches]))


def _motions(back: dict[int, Form]) -> dict[int, Motion]:
    moves: dict[int, Motion] = {}
    for r, form in back.items():
        if form.wrap is not None or form.high:
            continue
        atoms, c = form.outer.atoms, form.outer.const
        if atoms == (r,):
            moves[r] = Motion(c)
        elif len(atoms) == 2 and r in atoms and all(isinstance(a, int) for a in atoms):
            other = atoms[0] if atoms[1] == r else atoms[1]
            if other != r and back.get(other) == Form(Sum((other,))):
                moves[r] = Motion(c, by=other)
    for r, form in back.items():
        atoms = form.outer.atoms
        if r in moves or form.wrap is not None or form.high or len(atoms) != 1 or \
                not isinstance(atoms[0], int):
            continue
        x = atoms[0]
        if x in moves and moves[x].by is None and moves[x].step and moves[x].copy_of is None:
            moves[r] = Motion(form.outer.const, copy_of=x)
    for r, form in back.items():
        atoms = form.outer.atoms
        if r in moves or form.wrap is not None or form.high or len(atoms) != 1:
            continue
        atom = atoms[0]
        if not isinstance(atom, int) or moves.get(atom) == Motion():
            moves[r] = Motion(form.outer.const, same_as=atom)
    return moves


def _step(state: dict, insn, written_bytes) -> None:
    """The forms after `insn` (a register it writes in another way is forgotten)."""
    spec = insn.spec
    form = None
    if insn.kind is Kind.ALU and spec.op in ("mov", "add", "sub", "lsh", "rsh") and \
            insn.off == 0:
        form = _alu(state, insn)
    elif insn.kind is Kind.LDX and spec.size == 8 and insn.src == 10 and \
            written_bytes is not None and insn.off % 8 == 0 and \
            written_bytes.isdisjoint(range(insn.off, insn.off + 8)):
        form = Form(Sum((("slot", insn.off),)))
    for reg in written_registers(insn):
        state.pop(reg, None)
    if form is not None:
        state[insn.dst] = form


def _alu(state: dict, insn) -> Form | None:
    spec = insn.spec
    dst = state.get(insn.dst)
    if spec.source == "imm":
        src = Form(Sum((), insn.imm))
    else:
        src = state.get(insn.src)
    if src is None or (spec.op != "mov" and dst is None):
        return None
    if spec.width == 32:
        if spec.op == "mov":
            inner = src.flattened() if not src.high else None
        elif spec.op in ("add", "sub") and not dst.high and not src.high:
            other = src.flattened()
            if spec.op == "sub":
                if other.atoms:
                    return None
                other = Sum((), -other.const)
            inner = dst.flattened().plus(other)
        else:
            return None
        if inner is None:
            return None
        if not inner.atoms:
            return Form(Sum((), inner.const & _MASK32))
        return Form(Sum(), inner)
    if spec.op == "mov":
        return src
    if spec.op in ("lsh", "rsh"):
        if spec.source != "imm" or insn.imm != 32:
            return None
        if spec.op == "lsh" and dst.wrap is None and not dst.high:
            return Form(dst.outer, high=True)
        if spec.op == "rsh" and dst.high:
            return Form(Sum(), dst.outer)
        return None
    if dst.high or src.high:
        return None
    if spec.op == "sub":
        if src.wrap is not None or src.outer.atoms:
            return None
        return Form(dst.outer.shifted(-src.outer.const), dst.wrap)
    if dst.wrap is not None and src.wrap is not None:
        return None
    return Form(dst.outer.plus(src.outer), dst.wrap or src.wrap)
