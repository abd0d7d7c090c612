"""Speculation-safe memory accesses: what both JIT engines do so that a mispredicted
branch cannot make the CPU touch memory outside the region an access is allowed
(Spectre variant 1, bounds check bypass).

A run-time check is a compare and a branch; while the branch is unresolved the CPU may
run the access anyway.  So every access whose bounds a branch established gets an
address that depends on the compare's *data*, not on the prediction: a conditional
move (never predicted) replaces it with `POISON` when it is out of bounds, as the
kernel's JIT masks array indices and pointer arithmetic.  `POISON` is 2**63, a
non-canonical address: an access there, or within 2 GiB of it, faults, and a faulting
speculative access reads nothing.  Architecturally the move never happens (the branch
trapped), so results do not change.

What each access gets (`disasm --native` shows it):

- a checked access known to touch the buffer or the stack: a `cmov` on the flags of
  each of its compares, to `POISON`;
- a checked access to the stack from the entry subprogram when no call enters it: its
  frame is then the top one, and its check keeps the access's offset from the frame's
  bottom within the frame's 512 bytes; `and` with `FRAME_MASK` keeps it there when the
  check is mispredicted, whatever the branches before it did.  A wrapped access reads
  the program's own frame (zeroed at entry: a checked stack access makes the engines
  zero it whole), and one of 8 bytes at offset 511 its 7 bytes above the top, which
  both JITs keep zeroed too.  The mask depends on the offset alone, not on the
  compare's flags: a pointer chase through a stack array (`parent[parent[x]]`, a
  linked list of u8 indices) waits one cycle for it per step, not three (corpus/plain's
  kruskal 1.88x -> 1.5x native on llvm);
- a group of accesses checked once (bpfjit.checkplan): the group's base register is
  replaced by `POISON` on the flags of the group's compares, so every member's
  address is non-canonical;
- the accesses a versioned loop's entry test hoisted: the entry poisons the registers
  their addresses derive from (peachpy, when bpfjit.poisoning finds registers that
  cover them all), or else each adds to its offset an amount that is 0 when the test
  holds and `POISON` when it does not (computed once, at the entry; always on llvm);
- an access whose region is not known statically (a checked access that may hit a
  map value): `lfence` after its check;
- the other bounds tests JIT code makes: a legacy packet load's offset (POISON), an
  inlined array map lookup's key and `callx`'s helper id (0, as the kernel masks
  array indices), a recursive call's depth test (the callee's frame at POISON).

That is the level "checks", the default in the checked and strict modes: no access a
run-time check guards can be speculated out of bounds.  The level "all" also clamps
every access the verifier *proved* but whose offset varies
(`VerifiedProgram.variable`: the offset came from a bounds test in the program, which
the CPU may mispredict too), in the same way against its region — the buffer, the
live stack, or the one map whose values it may touch (`lfence` when it may be in
several).  It is not the default because it is not cheap: such accesses are most of
the accesses of loops over arrays and packets, and a clamp in a loop also stops LLVM
from vectorising it (measured on bench/: llvm +47%, peachpy +38% run time, geometric
mean, against +0.4% and +0.2% for "checks").  Constant-offset accesses the verifier proved are left alone at every level,
as the kernel leaves them.  "off" (the default in unchecked mode, which trusts the
program) masks nothing.  `speculation=` on `compile` chooses.
"""

from __future__ import annotations

from .cfg import top_frame_end
from .errors import BpfError
from .isa import STACK_SIZE

__all__ = ["POISON", "FRAME_MASK", "TOP_SLACK", "LEVELS", "speculation_level", "clamp_region",
           "masks_top_frame", "zeroed_stack",
           "fences_unknown_region"]

# where a masked access goes: non-canonical, so an access there faults (and a
# speculative one reads nothing); offsets of +-2 GiB around it stay non-canonical
POISON = 1 << 63
# what a checked access of the top frame keeps of its offset from the frame's bottom
FRAME_MASK = STACK_SIZE - 1
TOP_SLACK = 8           # the zeroed bytes above the stack's top a masked access may read
LEVELS = ("off", "checks", "all")

# a testing aid, never for running programs: True makes the JITs built meanwhile leave
# out the branches of bounds checks (to traps, to a group's checked copy, around a
# fast loop copy), as a CPU runs code when it mispredicts them; an access out of
# bounds must then fault at POISON (tests/test_speculation.py)
MISPREDICT = False


def speculation_level(option: str | None, mode: str) -> str:
    """A compile's level: the `speculation` option, else "checks" unless unchecked."""
    if option is None:
        return "off" if mode == "unchecked" else "checks"
    if option not in LEVELS or not isinstance(option, str):
        raise BpfError(f"speculation must be one of {', '.join(map(repr, LEVELS))} or None, "
                       f"got {option!r}")
    return option


def clamp_region(verified, pc: int, level: str) -> object:
    """How a JIT clamps the proven access at `pc` at `level`: None (not at all: a
    constant offset, or a level below "all"), "mem" or "stack" (against that region's
    bounds), ("map", index) (against that map's value arena), or "fence" (its region is
    not one known range: lfence)."""
    maps = verified.variable.get(pc) if level == "all" else None
    if maps is None:
        return None
    region = verified.regions.get(pc)
    if region in ("mem", "stack"):
        return region
    if region == "map" and len(maps) == 1:
        return ("map", maps[0])
    return "fence"


def masks_top_frame(verified, level: str) -> bool:
    """Whether JIT code at `level` masks a checked stack access of the top frame with
    FRAME_MASK (the entry subprogram's, when no call enters it), and so keeps the 8
    bytes above the stack's top zeroed."""
    end = top_frame_end(verified.program)
    return level != "off" and any(pc < end and verified.regions.get(pc) == "stack"
                                  and verified.needs_check(pc) for pc in verified.accesses)


def zeroed_stack(verified, level: str) -> int:
    """The bytes under the stack's top a JIT's entry zeroes at `level`: those a run may
    touch (`VerifiedProgram.stack_used`), or at "all" every frame a run can reach,
    whole, since a clamp admits a whole live frame."""
    return STACK_SIZE * verified.frames if level == "all" else verified.stack_used


def fences_unknown_region(prog) -> bool:
    """Whether a checked access whose region the verifier cannot name ends with lfence:
    in a program with maps, whose value arenas are regions besides the buffer and the
    stack.  Without maps each of the two regions' own compares masks the address (a
    conditional move to POISON), which no misprediction gets past, and no barrier is
    needed (an lfence on every such access had cost corpus/plain's calc 2.0-2.4x)."""
    return bool(prog.maps)


