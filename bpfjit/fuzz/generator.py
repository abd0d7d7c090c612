"""Hypothesis strategies for programs the verifier accepts, so that failures shrink.

A generated program is: a prologue that saves the buffer pointer in r6 and gives
the data registers and 64 bytes of stack a value; a body of random instructions
(every ALU/ALU32 operation, byte swaps, sign extension, lddw, loads, stores and
atomics on the buffer and the stack at valid and sometimes invalid addresses,
forward jumps, bounded loops, helper calls, callx, local calls); then exit.
Engines place the buffer and the stack at different addresses, so the value of a
pointer must never reach a result: r6 and r10 are only ever memory bases, and r1
is only ever an argument or scratch, written before it is read.

So that a wrong value anywhere is seen, not only in r0: before the main exit, an
epilogue folds every data register (r0, r2-r5, r7-r9), the stack the prologue wrote
(four slots of it only when the buffer's length passes a bound: a run reads the others
unwritten, and the stack must start zeroed) and an accumulator into r0, with a
bijective step per value (xor, multiply by an odd constant, byte swap), so two runs
that differ in any of them end with different r0 (unless by a 2**-64 chance).  A
value overwritten before the end would be lost, so probes record what happens on the
way in the accumulator, a stack slot nothing else writes: the result of an ALU
operation, the value an atomic operation fetched and the memory it
left, and whether a conditional jump was taken — a jump whose operands sit at the
boundary where its condition flips (the same value, one more, one less; in registers
or as an immediate), so that a strict compare in place of a non-strict one, or the
wrong signedness, changes the path.  Registers start at values where semantics split
(0, +-1, INT_MIN/MAX of both widths, values with a non-zero upper half for the 32-bit
operations), an operation reads its own destination a quarter of the time, every
mnemonic of a kind is equally likely (not every encoding), and registers are stored
whole into the stack along the way.

Outside kernel mode, the buffer pointer is also spilled into slots no result reads
(`BASE_SLOTS`: r10-112, and in half the programs r10-504, just above the frame's
lowest dword, which a callee's loads "just outside" its frame read) and now and then
reloaded into r1 as the base of a load; half the local calls pass r1 = a pointer into
the caller's frame, through which the callee loads and stores — inside that frame, in
its own frame below, above the stack — and the callee stores above its own frame's top
(r10+off: the caller's lowest bytes, r10+8 its copy at r10-504); one callee in six
returns a pointer into its own frame or NULL, which its caller reads through (the dead
frame: a trap).  A store that lands
on a spilled base makes its reload trap in the interpreter; a verifier that still trusted the spill would let a
JIT read through data (the verifier's caller-frame reasoning, bpfjit.verifier.localcalls).
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from ..asm import assemble
from ..isa import OPCODES, Kind
from ..program import Program
from .maps import KEY_SLOT, VALUE_SIZE, VALUE_SLOT

__all__ = ["programs", "fold_epilogue", "accumulate", "xdp_prologue", "EDGE_IMMS", "HELPER_IDS"]


def _draws_from_the_seed_alone() -> None:
    """Hypothesis (6.131 and later) mixes into its integer draws the constants of the
    project's modules loaded so far, so one seed drew different programs in a campaign
    worker, the CLI and a pytest session, depending on what each had imported (and it
    once drew the interpreter's own stack address).  The generator draws its own edge
    values: turn that pool off, where this version of hypothesis has it."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        return
    if hasattr(providers, "_get_local_constants"):
        empty = Constants()
        providers._get_local_constants = lambda: empty


_draws_from_the_seed_alone()

EDGE_IMMS = [0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 0x7F, 0x80, 0xFF, 0x7FFF,
             0x8000, 0xFFFF, 0x7FFFFFFF, -0x80000000, -0x7FFFFFFF, 0x12345678, -0x12345678]
EDGE_IMM64 = [0, 1, -1, 0x7FFFFFFFFFFFFFFF, -0x8000000000000000, 0xFFFFFFFF, 0x100000000,
              0x8000000000000000, 0x123456789ABCDEF0, 0x80000000, 0x7FFFFFFF,
              0xFFFFFFFF00000000, 0x1FFFFFFFF, 0xFFFFFFFF80000000, 0x100000001,
              0xFFFFFFFF7FFFFFFF, 0x8000000080000000, 2, -2, 63, 64]
# shift counts by register where a JIT's masking can go wrong (RFC 9669: the count is
# taken modulo the width)
SHIFT_COUNTS = [0, 1, 7, 8, 31, 32, 33, 48, 63, 64, 65, 127, 0xFFFFFFFF, 0x100000020,
                2**64 - 1]
SHIFT_IMMS = [0, 1, 7, 8, 15, 16, 31, 32, 33, 48, 63, 64]
# 64-bit values whose upper half is not zero (and low halves at edges)
UPPER_SET = [0xFFFFFFFF00000000, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 0x100000000,
             0x1234567880000001, 0x7FFFFFFF7FFFFFFF, 0xDEADBEEF00000001]
# dividends with the sign bit set at both widths (64-bit, and the low half's): where
# a signed division or modulo parts from the unsigned one
NEGATIVE = [0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFF9, 0xFFFFFFFF80000001,
            0x7FFFFFFF80000000, 0x00000000FFFFFFF9, 0x8000000000000007]
_SIGNED_DIVISIONS = {"sdiv", "smod"}
_SIGN_SET = {64: [v for v in NEGATIVE if v >> 63],
             32: [v for v in NEGATIVE if v >> 32 and v >> 31 & 1]}
# a register read as its own source, at each class edge of the operation's width (0,
# 1, -1, the signed minimum and maximum); the 32-bit ones with the upper half set
SELF_EDGES = {64: [0, 1, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF],
              32: [0xFFFFFFFF00000000, 0x100000001, 0xFFFFFFFFFFFFFFFF, 0x8000000080000000,
                   0xFFFFFFFF7FFFFFFF]}
# the fold's odd multiplier (a sign-extended 32-bit immediate)
FOLD_MULTIPLIER = -0x61C88647
HELPER_IDS = (256, 257)                  # test helpers (oracle.HELPERS), apart from the kernel's
DATA = [0, 2, 3, 4, 5, 7, 8, 9]          # registers that only ever hold data
LOOP_DATA = [0, 2, 3, 4, 5, 7, 8]        # ... inside a loop, whose counter is r9
FRAME_INIT = 64                          # bytes of stack the prologue writes
ACCUMULATOR = FRAME_INIT + 8             # [r10 - 72]: where probes record, folded at exit
# [r10 - 80] to [r10 - 104]: slots the prologue writes only when the buffer's length
# passes a bound, so that a run reads some unwritten: zero, as the stack starts (not
# in kernel mode: the kernel leaves the stack as it was)
MAYBE_WRITTEN = [ACCUMULATOR + 8 * k for k in range(1, 5)]
# slots holding a copy of the buffer pointer (r6), never folded nor loaded as data
BASE_SLOTS = (112, 504)

_ALU = [s for s in OPCODES if s.kind is Kind.ALU]
_SHIFTS = {"lsh", "rsh", "arsh"}
_DIVISIONS = {"div", "mod", "sdiv", "smod"}
_BY_KIND = {kind: [s for s in OPCODES if s.kind is kind] for kind in Kind}
_ATOMIC_NAMES = sorted({s.mnemonic for s in _BY_KIND[Kind.ATOMIC]})
_COND = sorted({s.mnemonic for s in _BY_KIND[Kind.JCOND]})
_ALU_NAMES = sorted({s.mnemonic for s in _ALU})
_ALU_SPECS = {name: [s for s in _ALU if s.mnemonic == name] for name in _ALU_NAMES}


def _cached(factory):
    """Build each strategy once per arguments: hypothesis validates a new strategy object
    on its first draw, which made fresh ones cost most of a program's generation."""
    memo: dict = {}

    @functools.wraps(factory)
    def make(*args):
        key = tuple(tuple(a) if isinstance(a, list) else a for a in args)
        made = memo.get(key)
        if made is None:
            made = memo[key] = factory(*args)
        return made
    return make


def _choice(values) -> st.SearchStrategy:
    """sampled_from, built once per list of values."""
    return _sampled(tuple(values))


@functools.lru_cache(maxsize=None)
def _sampled(values: tuple) -> st.SearchStrategy:
    return st.sampled_from(values)


_IMM_VALUES = st.one_of(st.sampled_from(EDGE_IMMS), st.integers(-2**31, 2**31 - 1))
_IMM64_VALUES = st.one_of(st.sampled_from(EDGE_IMM64), st.integers(0, 2**64 - 1))


@_cached
@st.composite
def _imm(draw) -> int:
    return draw(_IMM_VALUES)


@_cached
@st.composite
def _reg(draw, regs) -> str:
    return f"%r{draw(_choice(regs))}"


@_cached
@st.composite
def _alu(draw, regs, kernel: bool = False) -> list[str]:
    spec = draw(_choice(_ALU_SPECS[draw(_choice(_ALU_NAMES))]))
    dst = draw(_reg(regs))
    shift = spec.op in _SHIFTS
    # a 32-bit operation on a register whose upper half is set, now and then for sure
    # (after any 32-bit result it is clear, and a result not zero-extended goes unseen)
    dirty = [f"lddw {dst}, {draw(_choice(UPPER_SET)):#x}"] \
        if spec.width == 32 and draw(st.integers(0, 3)) == 0 else []
    signed = spec.op in _SIGNED_DIVISIONS
    if signed and draw(st.integers(0, 1)):  # a negative dividend, half the time
        dirty = [f"lddw {dst}, {draw(_choice(NEGATIVE)):#x}"]
    elif spec.op in ("rsh", "arsh") and not dirty and draw(st.integers(0, 1)):
        # a value with its sign bit set, half the time: where a logical right shift and
        # an arithmetic one part (else mostly positive data shifts alike either way);
        # at 32 bits with the upper half set too (a shift by 0 must still clear it)
        dirty = [f"lddw {dst}, {draw(_choice(_SIGN_SET[spec.width])):#x}"]
    if spec.source == "reg":
        way = draw(st.integers(1 if signed else 0, 7))
        if way <= 1:                # the destination read as the source
            # half the time (a signed division always: x / x and x % x are the same
            # signed or not, but for 0, which divides by zero) at an edge of its class
            if signed or draw(st.integers(0, 1)):
                dirty = [f"lddw {dst}, {draw(_choice(SELF_EDGES[spec.width])):#x}"]
            return dirty + [f"{spec.mnemonic} {dst}, {dst}"]
        if way <= (5 if shift else 3):   # a source at an edge: r1, scratch, set here
            value = draw(_choice(SHIFT_COUNTS)) if shift else draw(_value64())
            dirty = dirty or _upper_set_for_shift0(draw, spec, dst, value)
            return dirty + [f"lddw %r1, {value:#x}", f"{spec.mnemonic} {dst}, %r1"]
        return dirty + [f"{spec.mnemonic} {dst}, {draw(_reg(regs))}"]
    # a shift's immediate count mostly where widths part (0, 31, 32, 63, 64: a count
    # that is 0 modulo 32 is where a 32-bit shift can forget its zero-extension)
    imm = draw(_choice(SHIFT_IMMS)) if shift and draw(st.integers(0, 3)) else draw(_imm())
    if kernel:          # what the kernel's verifier refuses: shifts past the width, / 0
        if spec.op in _SHIFTS:
            imm &= spec.width - 1
        elif spec.op in _DIVISIONS and imm == 0:
            imm = draw(_choice([1, -1, 3, 0x7FFFFFFF, -0x80000000]))
    if shift:
        dirty = dirty or _upper_set_for_shift0(draw, spec, dst, imm)
    elif spec.op in ("div", "mod"):
        if draw(st.integers(0, 1)):
            # a divisor that blinding hides (two chosen bytes or more, below 2^31 so that
            # a 64-bit operation reads it as it is): the llvm engine then writes the
            # reciprocal multiply itself rather than LLVM (backends.reciprocals)
            imm = draw(st.integers(0x100, 0x7FFFFFFF).filter(lambda v: v & 0xFF00 and v & 0xFF))
        if draw(st.integers(0, 3)):
            dirty = [f"lddw {dst}, {draw(_near_multiple(spec.width, imm)):#x}"]
    return dirty + [f"{spec.mnemonic} {dst}, {imm}"]


@st.composite
def _near_multiple(draw, width: int, imm: int) -> int:
    """A dividend at a multiple of the divisor `imm` (as the operation reads it), or one
    either side: where a quotient or remainder computed by a multiply with a reciprocal
    rounded the wrong way, or a wrong correction step, comes out one off.  The multiple
    is the first, the second, the last below 2^width, or any; a 32-bit dividend's upper
    half is set half the time (the operation must ignore it)."""
    divisor = imm % (1 << width) or 1
    last = ((1 << width) - 1) // divisor
    k = draw(st.one_of(_choice([1, 2, last]), st.integers(1, last)))
    value = (k * divisor + draw(_choice([0, 0, -1, 1]))) % (1 << width)
    if width == 32 and draw(st.integers(0, 1)):
        value |= 0xFFFFFFFF << 32
    return value


def _upper_set_for_shift0(draw, spec, dst: str, count: int) -> list[str]:
    """A 32-bit shift by a count that is 0 modulo 32 leaves its value as it was, but
    must still clear the upper half (x86's shift by 0 changes nothing, the upper half
    included): its destination always gets an upper half that is set."""
    if spec.width != 32 or count % 32:
        return []
    return [f"lddw {dst}, {draw(_choice(UPPER_SET)):#x}"]


@_cached
@st.composite
def _value64(draw) -> int:
    """A 64-bit register value: mostly one where semantics split, else any."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.integers(0, 2**64 - 1))
    return draw(_choice(EDGE_IMM64)) & (2**64 - 1)


def fold_epilogue(maybe_written: bool = False) -> list[str]:
    """Fold the data registers, the prologue's stack and the accumulator into r0 (r1 is
    scratch), a bijective step per value v: r0 = bswap64((r0 ^ v) * K), K odd.  The
    byte swap carries the high bits the multiply gathers down to where the next multiply
    spreads them: without it, two values wrong only in bit 63 would cancel.  r0 itself
    is mixed first (r0 ^ r2 would not tell them apart).  With `maybe_written`, the
    MAYBE_WRITTEN slots too."""
    def step(value: str | None) -> list[str]:
        mix = [] if value is None else [f"xor %r0, {value}"]
        return mix + [f"mul %r0, {FOLD_MULTIPLIER}", "be64 %r0"]
    lines = step(None)
    for r in DATA[1:]:
        lines += step(f"%r{r}")
    for off in list(range(8, ACCUMULATOR + 1, 8)) + (MAYBE_WRITTEN if maybe_written else []):
        lines += [f"ldxdw %r1, [%r10-{off}]"] + step("%r1")
    return lines


@st.composite
def _maybe_written(draw, mem_len: int) -> list[str]:
    """Stores into the MAYBE_WRITTEN slots, each skipped when the buffer's length (r2,
    unknown to the verifier) is above a bound near the input's: a run reads the slots
    it skipped, which must read 0 on every engine."""
    lines = []
    for off in MAYBE_WRITTEN:
        bound = max(0, mem_len + draw(st.integers(-1, 1)))
        lines += [f"jgt %r2, {bound}, +1", f"stdw [%r10-{off}], {draw(_imm()) or 1}"]
    return lines


def accumulate(value: str, kernel: bool = False,
               mirror: tuple[int, int] | None = None) -> list[str]:
    """Mix `value` (a register or an immediate) into the accumulator for good, with the
    fold's step: acc = bswap64((acc ^ v) * K), in r1, the only scratch register.  In
    `kernel` mode the new value is stored by an atomic exchange, which the kernel's
    verifier does not follow: after a plain store it knew the accumulator exactly on
    every path, so it could not prune the paths through a loop, and 1 program in 1,260
    went past its million-instruction limit.  With `mirror` (offset, size), the new
    value's low bytes are also stored in the buffer: a run that traps later (a third
    of them, on an out-of-bounds access drawn on purpose, mostly in a buffer of a few
    bytes) is compared by its trap and its buffer, and without the copy every value
    recorded before the trap went unseen."""
    store = "lock xchg" if kernel else "stxdw"
    lines = [f"ldxdw %r1, [%r10-{ACCUMULATOR}]", f"xor %r1, {value}",
             f"mul %r1, {FOLD_MULTIPLIER}", "be64 %r1", f"{store} [%r10-{ACCUMULATOR}], %r1"]
    if mirror is not None:
        offset, size = mirror
        lines.append(f"{_STORES[size]} [%r6+{offset}], %r1")
    return lines


_STORES = {1: "stxb", 2: "stxh", 4: "stxw", 8: "stxdw"}


def mirror_offset(mem_len: int | None, kernel: bool) -> tuple[int, int] | None:
    """Where probes copy the accumulator in the buffer, as (offset, size): its last 8
    bytes, or as many as fit (4, 2, 1), in the main subprogram (r6 the buffer) of a
    differential program; None for an empty buffer, a callee or the kernel."""
    if kernel or not mem_len:
        return None
    size = max(s for s in _STORES if s <= mem_len)
    return mem_len - size, size


@_cached
@st.composite
def _unary(draw, regs) -> list[str]:
    kind = draw(_choice([Kind.NEG, Kind.END]))
    spec = draw(_choice(_BY_KIND[kind]))
    return [f"{spec.mnemonic} {draw(_reg(regs))}"]


@_cached
@st.composite
def _lddw(draw, regs) -> list[str]:
    value = draw(_IMM64_VALUES)
    return [f"lddw {draw(_reg(regs))}, {value & (2**64 - 1):#x}"]


@_cached
@st.composite
def _address(draw, mem_len: int | None, size: int, valid: bool, kernel: bool = False) -> str:
    """[%r6+off] in the buffer or [%r10-off] in the initialised stack, or just outside.

    mem_len None: no buffer pointer here (in a callee), the stack only.  `kernel`: stack
    offsets aligned to the size, as the kernel's verifier requires."""
    if mem_len is not None and (mem_len >= size or not valid) and draw(st.booleans()):
        if valid:
            off = draw(st.integers(0, mem_len - size))
        else:
            off = draw(_choice([-1, -size, mem_len - size + 1, mem_len, 4096]))
        return f"[%r6{off:+d}]"
    if valid:
        off = -draw(st.integers(size, FRAME_INIT))
        if kernel:
            off = -(-off // size * size)
    else:
        off = draw(_choice([0, -size + 1, -513, -600]))
    return f"[%r10{off:+d}]"


@_cached
@st.composite
def _memory(draw, regs, mem_len: int | None, kernel: bool = False) -> list[str]:
    size, suffix = draw(_choice([(1, "b"), (2, "h"), (4, "w"), (8, "dw")]))
    valid = kernel or draw(st.integers(0, 49)) > 0      # one access in fifty may trap
    addr = draw(_address(mem_len, size, valid, kernel))
    what = draw(_choice(["ldx", "ldxs", "st", "stx", "atomic"]))
    if what == "ldxs" and size == 8:
        what = "ldx"
    if what in ("ldx", "ldxs"):
        return [f"{what}{suffix} {draw(_reg(regs))}, {addr}"]
    if what == "st":
        return [f"st{suffix} {addr}, {draw(_imm())}"]
    if what == "stx" or size < 4:
        return [f"stx{suffix} {addr}, {draw(_reg(regs))}"]
    if kernel and addr.startswith("[%r6"):      # the kernel allows no atomics on a packet
        addr = draw(_address(None, size, True, kernel))
    name = draw(_choice([n for n in _ATOMIC_NAMES if n.endswith("32") == (size == 4)]))
    return [f"{name} {addr}, {draw(_reg(regs))}"]


@_cached
@st.composite
def _moved_pair(draw, regs, mem_len: int) -> list[str]:
    """Two loads through r1 = r6 + (a data value & mask) - 1, the second just after the
    first: the verifier cannot place the first at or after the buffer's start, so no
    entry test covers it and a loop's fast copy checks the pair once, as a group.  The
    mask keeps both in the buffer (`mem_len` >= 2) but when the value's masked bits are
    0: then the first reads the byte before it and traps."""
    size, suffix = draw(_choice([(1, "b"), (2, "h")] if mem_len >= 4 else [(1, "b")]))
    mask = max(m for m in (1, 3, 7) if m <= mem_len - 2 * size + 1)
    return [f"mov %r1, {draw(_reg(regs))}", f"and %r1, {mask}", "sub %r1, 1",
            "add %r1, %r6", f"ldx{suffix} {draw(_reg(regs))}, [%r1+0]",
            f"ldx{suffix} {draw(_reg(regs))}, [%r1+{size}]"]


@_cached
@st.composite
def _reloaded_base(draw, regs, mem_len: int, bases: tuple) -> list[str]:
    """A load through the buffer pointer read back from one of its spills (`bases`: the
    slots the prologue wrote): in bounds, unless a callee overwrote that spill.  Of a
    width the buffer holds (of a wider one, every run of a short buffer trapped there:
    a quarter of all programs, everything after the load unobserved; an empty buffer
    gets none)."""
    size, suffix = draw(_choice([(n, s) for n, s in ((1, "b"), (2, "h"), (4, "w"),
                                                     (8, "dw")) if n <= mem_len]))
    off = draw(st.integers(0, mem_len - size))
    return [f"ldxdw %r1, [%r10-{draw(_choice(bases))}]",
            f"ldx{suffix} {draw(_reg(regs))}, [%r1{off:+d}]"]


# the slot a walk keeps its base pointer in (bpfjit.loopaddress's invariant slots), and
# the fewest bytes of buffer it walks (it lengthens a shorter one)
WALK_SLOT = 120
WALK_ROOM = 16
_WIDTHS = ((1, "b"), (2, "h"), (4, "w"), (8, "dw"))


@st.composite
def _walk(draw, mem_len: int, labels: list[int]) -> list[str]:
    """A loop over the buffer whose address moves with its trips in a shape of 2-D code
    (bpfjit.loopaddress): through a base spilled to a stack slot no trip writes, a u32
    index that may wrap inside the loop, a pointer stepped by a data register, or a late
    copy of the counter.  Its trips are bounded by the buffer's first byte (counted at
    the entry; most of the time stored there first, where the last trip just fits in
    the buffer, or is the first counter that reads past it), that byte & 63 (a static
    bound) or its first two bytes (the second stored as 0: a bound no budget test knows
    before the run); the base is the buffer's start or, when its second byte is odd, 4
    GiB past it, so that no verifier bounds the offset (then the range tests, not a
    `need`, cover the access).  Loads are recorded in the accumulator; a store writes a
    data register.  A buffer shorter than WALK_ROOM is lengthened (the SETLEN line,
    which `programs` applies)."""
    shape = draw(_sampled(("slot", "wrap", "stride", "copy")))
    bound, data, aux, other = draw(st.permutations(LOOP_DATA))[:4]
    lines = []
    if mem_len < WALK_ROOM:     # (most drawn buffers hold a few bytes: room to walk)
        mem_len = draw(st.integers(WALK_ROOM, 2 * WALK_ROOM))
        lines.append(f"SETLEN {mem_len}")
    size, suffix = draw(_choice([w for w in _WIDTHS if w[0] <= mem_len]))
    off = draw(st.integers(-1, 3))
    step = draw(_sampled((1, 1, 2, 3)))
    labels[0] += 1
    label = f"walk{labels[0]}"
    last = mem_len - off - size     # the last counter that reads in the buffer
    start = draw(st.integers(0, 2))
    # the first counter the trips reach that reads past the buffer
    over = start + step * max(-(-(last + 1 - start) // step), 0)
    # a third of the bounds are 16-bit: the verifier then bounds no entry's trips by few
    # enough instructions, and llvm's entry counts them (checkplan.STATIC_BUDGET_TEST)
    wide = draw(st.integers(0, 2)) == 0
    if draw(st.integers(0, 3)):
        # the bound where the last trip just fits (the one before `over`), or is `over`
        # itself: half the time a range one trip short misses the access that traps
        value = min(max(over + draw(st.integers(1 - step, step)), 0), 255)
        high = 0 if wide else 2 * draw(st.integers(0, 127))
        lines += [f"stb [%r6+0], {value}", f"stb [%r6+1], {high}"]
    lines.append(f"ldx{'h' if wide else 'b'} %r{bound}, [%r6+0]")
    if not wide and draw(st.integers(0, 2)) == 0:
        lines.append(f"and %r{bound}, 63")
    far = [f"ldxb %r{aux}, [%r6+1]", f"and %r{aux}, 1", f"lsh %r{aux}, 32",
           f"add %r{aux}, %r6"]
    lines.append(f"mov %r9, {start}")
    base, address, after = "%r1", [], []
    if shape == "slot":
        lines += far + [f"stxdw [%r10-{WALK_SLOT}], %r{aux}", f"mov %r{aux}, 0"]
        address = [f"ldxdw %r1, [%r10-{WALK_SLOT}]", "add %r1, %r9"]
    elif shape == "wrap":       # r6 + u32(r9 - k) - 2^32 + k: wraps when r9 passes k
        k = draw(st.integers(start + 1, max(start + 1, last - 2))) if draw(st.integers(0, 3)) \
            else 0
        lines += [f"lddw %r{aux}, {k - (1 << 32) if k else 0}", f"add %r{aux}, %r6"]
        address = ["mov32 %r1, %r9", f"add32 %r1, {-k}", f"add %r1, %r{aux}"]
    elif shape == "stride":
        lines += far + [f"mov %r{other}, %r{data}", f"and %r{other}, 3"]
        base, after = f"%r{aux}", [f"add %r{aux}, %r{other}"]
    else:                       # r4 = r9 at the entry (or not), then a copy each trip
        lines += far + [f"mov %r{other}, %r9"]
        if draw(st.booleans()):         # not the copy the trips make: the entry tests it
            beyond = max(last - start + draw(st.integers(1, 3)), 1)   # (trip 0 out)
            lines.append(f"add %r{other}, {draw(_sampled((beyond, beyond, 1)))}")
        address = [f"mov %r1, %r{aux}", f"add %r1, %r{other}"]
        after = [f"mov %r{other}, %r9"]
    if draw(st.booleans()):
        access = [f"ldx{suffix} %r{data}, [{base}{off:+d}]"] + accumulate(f"%r{data}")
    else:
        access = [f"stx{suffix} [{base}{off:+d}], %r{data}"]
    loop = [f"{label}:", *address, *access, f"add %r9, {step}"]
    if shape == "copy":
        loop += after
        after = []
    loop += after + [f"jlt %r9, %r{bound}, {label}"]
    # no pointer left in a data register, which the epilogue folds
    return lines + loop + [f"mov %r{aux}, {draw(_imm())}"]


def _in_base_slot(frame_offset: int, size: int) -> bool:
    """Whether `size` bytes at the caller's r10 + frame_offset touch a spilled base."""
    return any(frame_offset < -slot + 8 and -slot < frame_offset + size for slot in BASE_SLOTS)


@st.composite
def _through_caller(draw, regs, below: int) -> list[str]:
    """In a callee given r1 = the caller's r10 - `below`, kept in r6: a load or store
    through r6 (in the caller's frame, at its top or above it, in the callee's own frame
    beneath it), or a store above the callee's own frame (r10+off, the caller's lowest
    bytes).  Loads keep off the spilled bases, which hold an address, and a store on one
    covers it whole: part of an address left behind would differ between engines.  (Not
    through r1, which other items use as scratch: a store then went to whatever they
    left there, and when hypothesis drew the interpreter's own stack address -- it
    draws integers the source names -- interp stored and the JITs trapped.)"""
    size, suffix = draw(_choice([(1, "b"), (2, "h"), (4, "w"), (8, "dw")]))
    if draw(st.integers(0, 3)) == 0:
        off = draw(_choice([0, 8, 16, 504]))
        if _in_base_slot(off - 512, size):          # the caller's r10-504
            suffix = "dw"
        return [f"stx{suffix} [%r10+{off}], {draw(_reg(regs))}"]
    where = draw(_choice([-8, -16, -64, -104, -112, -200, -512, 0, 8, -520, -560]))
    off = where + below
    if _in_base_slot(where, size):
        if draw(st.booleans()):
            return []
        suffix = "dw"
    elif draw(st.booleans()):
        return [f"ldx{suffix} {draw(_reg(regs))}, [%r6{off:+d}]"]
    if draw(st.booleans()):
        return [f"st{suffix} [%r6{off:+d}], {draw(_imm())}"]
    return [f"stx{suffix} [%r6{off:+d}], {draw(_reg(regs))}"]


@_cached
@st.composite
def _helper_call(draw, regs) -> list[str]:
    """A helper call (static or callx), then values for the registers it clobbered."""
    hid = draw(_choice(HELPER_IDS))
    args = [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
    call = [f"call {hid}"] if draw(st.booleans()) else [f"mov %r7, {hid}", "callx %r7"]
    refill = [f"mov %r{i}, {draw(_imm())}" for i in range(2, 6)]
    return args + call + refill


_MAP_DATA = [7, 8, 9]       # registers a map item reads and loads into
# (load, store or atomic, size) of an access to a map value the lookup found, at an
# offset that fits in its 16 bytes
_VALUE_ACCESSES = [("ldxb", 1), ("ldxh", 2), ("ldxw", 4), ("ldxdw", 8), ("stxb", 1),
                   ("stxw", 4), ("stxdw", 8), ("lock add", 8), ("lock fetch xor32", 4)]


@_cached
@st.composite
def _map_op(draw, regs, kernel: bool = False) -> list[str]:
    """A lookup, update or delete in the fuzz maps (bpfjit.fuzz.maps: an array, whose
    lookups both JITs inline, and a hash, in native routines), the key a constant at
    and around the edges or a data register's low bits; a found value is loaded from
    (recorded), stored to or changed atomically, and r0 becomes a number again (its
    address differs between engines) before it is recorded.  `kernel`: recorded as
    kernel mode records (the kernel engine gives the maps twins in the kernel)."""
    which = draw(st.integers(0, 1))
    key = draw(st.sampled_from(["const", "const", "data"]))
    if key == "const":
        # the array's last slot (3) and one past it (4) most: where a bound test is off by one
        lines = [f"stdw [%r10-{KEY_SLOT}], {draw(_choice([0, 1, 3, 4, 4, 5, -1]))}"]
    else:
        lines = [f"mov %r1, {draw(_reg(regs))}", f"and %r1, {draw(_choice([3, 7]))}",
                 f"stxdw [%r10-{KEY_SLOT}], %r1"]
    op = draw(st.sampled_from(["lookup", "lookup", "lookup", "update", "delete"]))
    if op == "update":          # the value first: r2 is data until it points at the key
        lines += [f"stdw [%r10-{VALUE_SLOT}], {draw(_imm())}",
                  f"stxdw [%r10-{VALUE_SLOT - 8}], {draw(_reg(regs))}"]
    lines += [f"lddw %r1, map_by_fd({which})", "mov %r2, %r10", f"add %r2, -{KEY_SLOT}"]
    if op == "lookup":
        name, size = draw(_choice(_VALUE_ACCESSES))
        offset = draw(st.integers(0, (VALUE_SIZE - size) // size)) * size
        data = draw(_reg(_MAP_DATA))         # not r0, nor r1-r5, which the call clobbered
        access = f"{name} {data}, [%r0+{offset}]" if name.startswith("ldx") else \
            f"{name} [%r0+{offset}], {data}"
        lines += ["call 1", "jne %r0, 0, +2", f"mov %r0, {draw(st.integers(1, 99))}", "ja +2",
                  access, f"mov %r0, {draw(st.integers(100, 199))}"]
        if name.startswith("ldx") or "fetch" in name:
            lines += accumulate(data, kernel)
    elif op == "update":
        lines += ["mov %r3, %r10", f"add %r3, -{VALUE_SLOT}",
                  f"mov %r4, {draw(_choice([0, 0, 1, 2]))}", "call 2"]
    else:
        lines.append("call 3")
    lines += accumulate("%r0", kernel)
    return lines + [f"mov %r{i}, {draw(_imm())}" for i in range(2, 6)]


@_cached
@st.composite
def _observe(draw, regs) -> list[str]:
    """A register stored whole into the stack the epilogue folds: a wrong value seen
    there even when a later instruction overwrites the register."""
    return [f"stxdw [%r10-{8 * draw(st.integers(1, FRAME_INIT // 8))}], {draw(_reg(regs))}"]


@_cached
@st.composite
def _alu_probe(draw, regs, kernel: bool = False,
               mirror: tuple[int, int] | None = None) -> list[str]:
    """An ALU operation whose result is recorded at once (a later write cannot hide it)."""
    lines = draw(_alu(regs, kernel))
    return lines + accumulate(lines[-1].split()[1].rstrip(","), kernel, mirror)


@_cached
@st.composite
def _compare_probe(draw, regs, kernel: bool = False,
               mirror: tuple[int, int] | None = None) -> list[str]:
    """Conditional jumps at the boundary of their conditions, and whether each was taken.

    One to three conditions test the same pair: the left operand against itself (more
    often than not: where strict and non-strict conditions part), one more or one less
    (r1 = left + d), or an immediate at a boundary of 32-bit values; each jump skips
    recording its marker."""
    conds = draw(st.lists(_choice(_COND), min_size=1, max_size=3, unique=True))
    left = draw(_reg(regs))
    if draw(st.integers(0, 3)) > 0:
        setup = [f"mov %r1, {left}"]
        delta = draw(_choice([0, 0, 0, 1, -1]))
        if delta:
            setup.append(f"add{'32' if conds[0].endswith('32') and draw(st.booleans()) else ''} "
                         f"%r1, {delta}")
        rhs = "%r1"
    else:
        setup, rhs = [], str(draw(_choice([0, 1, -1, 0x7FFFFFFF, -0x80000000,
                                                   0x7FFFFFFE, -0x7FFFFFFF, 2, -2])))
    lines = setup
    for cond in conds:
        record = accumulate(str(draw(st.integers(1, 0x7FFF))), kernel, mirror)
        lines += [f"{cond} {left}, {rhs}, +{len(record)}"] + record
    return lines


_LOADS = [("ldxb", 1), ("ldxh", 2), ("ldxw", 4), ("ldxdw", 8), ("ldxsb", 1), ("ldxsh", 2),
          ("ldxsw", 4)]


@_cached
@st.composite
def _load_probe(draw, regs, mem_len: int, kernel: bool = False) -> list[str]:
    """A load of every width and signedness alike likely, from the buffer or the stack,
    whose value is recorded at once."""
    name, size = draw(_choice(_LOADS))
    dst = draw(_reg(regs))
    return [f"{name} {dst}, {draw(_address(mem_len, size, True, kernel))}"] + \
        accumulate(dst, kernel, mirror_offset(mem_len, kernel))


# divisors the JITs multiply by a reciprocal of (backends/reciprocals.py), most with a
# 32-bit one for dividends below 2**32 (peachpy's short way): small ones, which
# blinding leaves alone, and ones it hides (then the llvm engine, not LLVM, writes the
# multiply: backends.llvmalu)
COMMON_DIVISORS = [3, 5, 7, 10, 12, 24, 60, 100, 0xFB, 1000, 1009, 65521, 0x12345]
# shift counts of a 64-bit `rsh` by an immediate that leave at most 32 bits (the count
# masked to 6 bits), and with them counts of 64 and more, which shift by count - 64:
# the kernel refuses those
NARROWING_SHIFTS = (32, 40, 63)
# divisors where a signed division or remainder parts from the unsigned one (either
# sign; never 0, which the kernel refuses as an immediate)
SIGNED_DIVISORS = [1, -1, 2, -2, 3, -3, 7, -7, 10, -10, 0x7FFFFFFF, -0x80000000]
WIDE_SHIFTS = NARROWING_SHIFTS + (64, 64, 64, 96)


@_cached
@st.composite
def _divide_probe(draw, regs, kernel: bool = False,
                  mirror: tuple[int, int] | None = None) -> list[str]:
    """A division or modulo by a common constant, of a dividend next to one of its
    multiples (five times in eight), of a register zero-extended first or, twice as
    often, a wide value shifted right by an immediate of 32 or more (together two times
    in eight: a dividend peachpy knows is below 2**32 and divides without testing its
    high half; but `rsh r, 64` shifts by 0, its count masked to 6 bits, which the
    kernel refuses to load) or as it is, recorded at once."""
    r = draw(_reg(regs))
    op, divisor = draw(_choice(["div", "mod", "div32", "mod32"])), draw(_choice(COMMON_DIVISORS))
    way = draw(st.integers(0, 7))
    if way <= 4:        # a dividend next to a multiple (where a quotient is one off)
        lines = [f"lddw {r}, {draw(_near_multiple(32 if op.endswith('32') else 64, divisor)):#x}"]
    elif way <= 6:      # the register narrowed, or seemingly (a shift two times in three)
        if draw(st.integers(0, 2)) == 0:
            lines = [f"lsh {r}, 32", f"rsh {r}, 32"]
        else:
            count = draw(_choice(NARROWING_SHIFTS if kernel else WIDE_SHIFTS))
            lines = [f"lddw {r}, {draw(_choice(UPPER_SET)):#x}", f"rsh {r}, {count}"]
    else:               # the register as it is
        lines = []
    return lines + [f"{op} {r}, {divisor}"] + accumulate(r, kernel, mirror)


@_cached
@st.composite
def _signed_divide_probe(draw, regs, kernel: bool = False,
                         mirror: tuple[int, int] | None = None) -> list[str]:
    """A signed division or remainder where signed and unsigned ones part: a dividend
    with its sign bit set (of the operation's width) three times in four, by an
    immediate or a register at an edge of either sign, recorded at once.  Drawn by
    `_alu` among every operation, sdiv met a negative operand in one program of 25 or
    so, and its miscompile as an unsigned division went unfound in 151 programs."""
    r, s = draw(st.lists(_choice(regs), min_size=2, max_size=2, unique=True))
    op = draw(_choice(["sdiv", "smod", "sdiv32", "smod32"]))
    width = 32 if op.endswith("32") else 64
    if draw(st.integers(0, 3)):
        dividend = draw(_choice(_SIGN_SET[width]))
    else:
        dividend = draw(_value64())
    lines = [f"lddw %r{r}, {dividend:#x}"]
    if draw(st.booleans()):
        divisor = draw(_choice(SIGNED_DIVISORS))
        lines.append(f"{op} %r{r}, {divisor}")
    else:
        divisor = draw(_choice(SIGNED_DIVISORS + NEGATIVE)) & 0xFFFFFFFFFFFFFFFF
        lines += [f"lddw %r{s}, {divisor:#x}", f"{op} %r{r}, %r{s}"]
    return lines + accumulate(f"%r{r}", kernel, mirror)


@_cached
@st.composite
def _width_probe(draw, regs, kernel: bool = False,
                 mirror: tuple[int, int] | None = None) -> list[str]:
    """Where the two widths part, recorded at once: a 32-bit copy or operation of a
    register whose upper half is set into another (the result's upper half is 0), or a
    64-bit shift by a register count of 32 to 63 (which a 5-bit count would miss)."""
    s, d = draw(st.lists(_choice(regs), min_size=2, max_size=2, unique=True))
    if draw(st.booleans()):
        op = draw(_choice(["mov32", "mov32", "add32", "or32", "xor32", "and32"]))
        lines = [f"lddw %r{s}, {draw(_choice(UPPER_SET)):#x}", f"{op} %r{d}, %r{s}"]
    else:
        lines = [f"lddw %r{d}, {draw(_value64()):#x}", f"mov %r1, {draw(st.integers(32, 63))}",
                 f"{draw(_choice(['lsh', 'rsh', 'arsh']))} %r{d}, %r1"]
    return lines + accumulate(f"%r{d}", kernel, mirror)


@_cached
@st.composite
def _select_probe(draw, regs, mem_len: int, kernel: bool = False) -> list[str]:
    """A conditional jump over one 64-bit move, deciding on two values just loaded from
    the buffer or the stack (what the peachpy JIT makes a cmov: backends/x86selects.py),
    then the moved register recorded at once."""
    a, b = draw(st.lists(_choice(regs), min_size=2, max_size=2, unique=True))
    lines = []
    for r in (a, b):
        name, size = draw(_choice(_LOADS))
        lines.append(f"{name} %r{r}, {draw(_address(mem_len, size, True, kernel))}")
    d = draw(_reg(regs))
    source = draw(_reg(regs)) if draw(st.booleans()) else str(draw(_imm()))
    lines += [f"{draw(_choice(_COND))} %r{a}, %r{b}, +1", f"mov {d}, {source}"]
    return lines + accumulate(d, kernel, mirror_offset(mem_len, kernel))


@_cached
@st.composite
def _atomic_probe(draw, regs, mem_len: int, kernel: bool = False) -> list[str]:
    """An atomic operation on the stack or (not for the kernel) the buffer, every one
    alike likely; what it fetched and the memory it left are recorded at once."""
    name = draw(_choice(_ATOMIC_NAMES))
    wide = not name.endswith("32")
    size = 8 if wide else 4
    if not kernel and mem_len >= size and draw(st.booleans()):
        addr = f"[%r6+{draw(st.integers(0, mem_len - size))}]"
    else:
        addr = f"[%r10{-size * draw(st.integers(1, FRAME_INIT // size)):+d}]"
    src = draw(_reg([r for r in regs if r != 0]))
    lines = [f"{name} {addr}, {src}"]
    fetched = "%r0" if "cmpxchg" in name else src
    mirror = mirror_offset(mem_len, kernel)
    lines += accumulate(fetched, kernel, mirror)
    lines += [f"ldx{'dw' if wide else 'w'} {src}, {addr}"] + accumulate(src, kernel, mirror)
    return lines


@_cached
@st.composite
def _idiom(draw, regs) -> list[str]:
    """What clang emits where x86-64 has one instruction, which JITs special-case
    (backends/x86idioms.py, and the peachpy backend's fused pairs): an extension in
    place or of a load (`lsh 32|48|56` and `rsh`/`arsh` back), an integer read byte by
    byte from the initialised stack (2, 4 or 8 bytes, either byte order, its bytes in
    any order, through a second register), and a rotation (`x << k | x >> (w - k)`)."""
    r = draw(_reg(regs))
    kind = draw(_choice(["mov32", "pair", "pair", "load", "bytes", "rotate"]))
    if kind == "mov32":
        return [f"mov32 {r}, {r}"]
    t = draw(_reg([x for x in regs if f"%r{x}" != r]))
    # a narrow result is mixed with a fresh 64-bit value after, so that registers keep
    # values with upper halves (what a 32-bit operation done in 64 bits shows on)
    refill = [f"lddw {t}, {draw(_value64()):#x}", f"xor {r}, {t}"]
    if kind in ("pair", "load"):
        bits = draw(_choice([32, 48, 56]))
        lines = [f"lsh {r}, {bits}", f"{draw(_choice(['rsh', 'arsh']))} {r}, {bits}"]
        if draw(st.booleans()):             # apart, as clang sometimes leaves them
            lines.insert(1, f"mov32 {t}, {t}")
        if kind == "load":                  # of a load of the bytes kept
            size = (64 - bits) // 8
            off = draw(st.integers(size, FRAME_INIT)) // size * size
            lines.insert(0, f"ldx{dict([(1, 'b'), (2, 'h'), (4, 'w')])[size]} {r}, "
                            f"[%r10-{off}]")
        return lines + refill
    if kind == "bytes":
        n, big = draw(_choice([2, 4, 4, 8])), draw(st.booleans())
        at = -draw(st.integers(n, FRAME_INIT))
        lines = [f"mov {r}, 0"]
        # in half of them a store over a byte already read, somewhere along the way:
        # the value holds the old byte, memory the new one
        stored = draw(st.integers(1, 2 * n - 1))     # > n: before the (stored - n)th
        order = draw(st.permutations(range(n)))
        for step, i in enumerate(order):
            if stored > n and step == stored - n:
                lines.append(f"stb [%r10{at + draw(_choice(order[:step])):+d}], "
                             f"{draw(_imm())}")
            lines += [f"ldxb {t}, [%r10{at + i:+d}]", f"lsh {t}, {8 * (n - 1 - i if big else i)}",
                      f"{draw(_choice(['or', 'add']))} {r}, {t}"]
        return lines + refill
    w = draw(_choice(["", "32"]))
    width = 32 if w else 64
    k = draw(st.integers(1, width - 1))
    shifts = [f"lsh{w} {r}, {k}", f"rsh{w} {t}, {width - k}"]
    if draw(st.booleans()):
        shifts.reverse()
    into = [f"or{w} {r}, {t}", f"or{w} {t}, {r}"][draw(st.integers(0, 1))]
    return [f"mov{w} {t}, {r}"] + shifts + [into]


def _stack_index(scratch: str, index: str, start: int,
                 mirror: tuple[int, int] | None) -> list[str]:
    """A load of the stack byte at r10 + start + index, then the index recorded, and not
    the byte, which is dropped: an index the verifier does not bound may land in the
    frame's spilled buffer pointer, whose bytes differ between engines.  Out of the
    frame the load traps, unless a wrong proof dropped its check."""
    return [f"mov {scratch}, %r10", f"add {scratch}, {start}", f"add {scratch}, {index}",
            f"ldxb {scratch}, [{scratch}]", f"mov {scratch}, 0"] + \
        accumulate(index, False, mirror)


@_cached
@st.composite
def _verifier_idiom(draw, regs, mirror: tuple[int, int] | None) -> list[str]:
    """A shape the verifier recognises whole and bounds its result by (bpfjit.verifier.
    alu): a register remainder `x % n` (`mov s, x; div s, n; mul s, n; sub d, s`, d being
    x or a copy of it), a binary search's midpoint (`lo + ((hi - lo) >> 1)`), or a 32-bit
    negation added to a number, wrapping once (`w - weight`), at
    either width, as clang writes them or perturbed as a wrong match would miss: a jump
    into the middle, an operand changed between the steps, a divisor that may be 0, the
    bounds in either order.  The result then indexes the stack (`_stack_index`): where the
    verifier proves it wrongly, a JIT reads without a check where the interpreter traps
    (a jump onto the remainder's `sub` went unnoticed so until 2026-12-06)."""
    w = draw(_choice(["", "32"]))
    x, n, s, d = (f"%r{r}" for r in draw(st.permutations(regs))[:4])
    mask = draw(_choice([7, 15, 31, 63]))
    perturb = draw(_choice(["none", "none", "none", "jump", "operand"]))
    shape = draw(_choice(["remainder", "midpoint", "negation"]))
    if shape == "negation":
        # w - weight as clang -mcpu=v3 writes it: the weight negated in 32 bits and added
        # to w in 32 bits, which wraps once where weight is at least 1 and w >= weight
        setup = [f"and {n}, {mask}", f"and {x}, {mask}"]
        steps = [f"mov32 {s}, {n}", f"neg32 {s}", f"mov32 {d}, {s}"]
        if perturb == "operand":
            steps.append(f"add {x}, -1")
        steps.append(f"add32 {d}, {x}")
    elif shape == "remainder":
        setup = [f"and {n}, {mask}"] + ([f"add {n}, 1"] if draw(st.integers(0, 3)) else [])
        steps = [f"mov{w} {s}, {x}", f"div{w} {s}, {n}", f"mul{w} {s}, {n}"]
        if draw(st.booleans()):
            steps.append(f"mov {draw(_reg([r for r in regs if f'%r{r}' not in (x, n, s, d)]))}, "
                         f"{draw(_imm())}")         # clang puts another instruction between
        if d != x and draw(st.booleans()):
            steps.append(f"mov{w} {d}, {x}")        # the remainder into a later copy of x
        else:
            d = x
        if perturb == "operand":
            at = draw(st.integers(1, len(steps)))
            steps.insert(at, f"add {draw(_choice([x, n]))}, 1")
        steps.append(f"sub{w} {d}, {s}")
    else:                                           # the midpoint, d between lo = n, hi = x
        setup = [f"and {n}, {mask}", f"and {x}, {mask}"]
        steps = [f"mov{w} {d}, {x}", f"sub{w} {d}, {n}",
                 f"{draw(_choice(['rsh', 'rsh', 'arsh']))}{w} {d}, 1"]
        if perturb == "operand":
            steps.append(f"add {n}, 1")
        steps.append(f"add{w} {d}, {n}")
    index = _stack_index(s, d, -draw(st.integers(mask + 1, FRAME_INIT)), mirror)
    if perturb == "jump":                           # onto the last step, another way
        steps = [f"jset {draw(_reg(regs))}, 1, +{len(steps) - 1}"] + steps
    rest = steps + index
    guards = []                                     # each mostly: past the rest if not
    if shape == "midpoint" and draw(st.integers(0, 3)):
        guards.append(f"jgt {n}, {x}, +{len(rest)}")                    # lo <= hi
    elif shape == "negation":
        if draw(st.integers(0, 3)):
            guards.append(f"jlt {x}, {n}, +{len(rest)}")                # w >= weight
        if draw(st.integers(0, 3)):
            guards.insert(0, f"jeq {n}, 0, +{len(rest) + len(guards)}")    # weight >= 1
    return setup + guards + rest


@_cached
def _simple(regs, mem_len: int | None, kernel: bool = False, bases: tuple = ()):
    """One item.  Probes record into the accumulator, so only where it is: in the main
    subprogram (mem_len not None), not in a callee, whose frame has none."""
    items = [_alu(regs, kernel), _alu(regs, kernel), _alu(regs, kernel), _unary(regs),
             _lddw(regs), _memory(regs, mem_len, kernel), _memory(regs, mem_len, kernel),
             _observe(regs), _idiom(regs)]
    if mem_len is not None:
        mirror = mirror_offset(mem_len, kernel)
        if not kernel:      # (the kernel refuses a stack index it cannot bound)
            items.append(_verifier_idiom(regs, mirror))
        items += [_alu_probe(regs, kernel, mirror), _alu_probe(regs, kernel, mirror),
                  _compare_probe(regs, kernel, mirror), _compare_probe(regs, kernel, mirror),
                  _signed_divide_probe(regs, kernel, mirror),
                  _atomic_probe(regs, mem_len, kernel),
                  _load_probe(regs, mem_len, kernel)]
        if bases and mem_len:
            items.append(_reloaded_base(regs, mem_len, bases))
    return st.one_of(*items)


@st.composite
def _block(draw, mem_len: int | None, labels: list[int], depth: int = 0,
           kernel: bool = False, in_loop: bool = False, bases: tuple = ()) -> list[str]:
    """A list of items: single instructions, jumps over items, loops, calls.

    `labels` counts the labels made so far in this program, so each is unique.
    `kernel`: no helpers of the test's, only the map helpers (the kernel engine runs
    its own on twins of the fuzz maps).  `in_loop`: the body of
    a loop.  `bases`: the slots holding a copy of the buffer pointer."""
    items: list[list[str]] = []
    # a program's prologue and epilogue are ~120 instructions whatever its body: a
    # longer body (4-16 items at the top, 1-6 nested) tests more for the compile time
    for _ in range(draw(st.integers(4, 16) if depth == 0 else st.integers(1, 6))):
        if depth == 0 and not kernel and mem_len is not None and \
                draw(st.integers(0, 11)) == 0:
            items.append(draw(_walk(mem_len, labels)))
            continue
        if depth == 0 and mem_len is not None and draw(st.integers(0, 7)) == 7:
            # a division by a common constant, a jump over one move (what the JITs
            # lower as a reciprocal multiply or a cmov) or a 32-bit result from a
            # register whose upper half is set, now and then
            mirror = mirror_offset(mem_len, kernel)
            items.append(draw(st.one_of(_divide_probe(DATA, kernel, mirror),
                                        _select_probe(DATA, mem_len, kernel),
                                        _width_probe(DATA, kernel, mirror))))
            continue
        choice = draw(st.integers(0, 12))           # 0-8: one instruction or probe
        choice = 0 if choice <= 8 else choice - 3
        if choice == 8 and in_loop and mem_len is not None and mem_len >= 2 and not kernel:
            # two loads a loop's fast copy still checks, as one group; half the time
            # the group ends a block (bpfjit.checkplan, coverage's "plan" cells)
            pair = draw(_moved_pair(LOOP_DATA, mem_len))
            if draw(st.booleans()):
                labels[0] += 1
                label = f"skip{labels[0]}"
                pair = [f"jset {draw(_reg(LOOP_DATA))}, 1, {label}", *pair, f"{label}:"]
            items.append(pair)
        elif choice <= 5 or (depth > 0 and choice != 7) or depth > 1:
            items.append(draw(_simple(DATA if depth == 0 else LOOP_DATA, mem_len, kernel,
                                      bases)))
        elif choice == 6:       # a map, or (not for the kernel) a helper of the test's
            maps = kernel or draw(st.booleans())
            items.append(draw(_map_op(DATA, kernel) if maps else _helper_call(DATA)))
        elif choice == 7:       # a conditional jump over what follows
            inner = draw(_block(mem_len, labels, depth + 1, kernel, bases=bases))
            cond = draw(_choice(_COND))
            regs = DATA if depth == 0 else LOOP_DATA
            rhs = draw(_reg(regs)) if draw(st.booleans()) else str(draw(_imm()))
            labels[0] += 1
            label = f"skip{labels[0]}"
            test = f"{cond} {draw(_reg(regs))}, {rhs}"
            if kernel and mem_len is not None and draw(st.integers(0, 3)) == 0:
                # a NULL test of the packet pointer, at either width: never NULL, so
                # decided (and, at 32 bits, hard-wired: the address's low half, which
                # differs between the engines, must not decide it), as in the kernel
                test = f"{draw(_choice(['jeq32', 'jne32', 'jeq', 'jne']))} %r6, 0"
            items.append([f"{test}, {label}", *inner, f"{label}:"])
        elif choice == 8:       # a bounded loop counting r9 down
            inner = draw(_block(mem_len, labels, depth + 1, kernel, in_loop=True,
                                bases=bases))
            labels[0] += 1
            label = f"loop{labels[0]}"
            items.append([f"mov %r9, {draw(st.integers(1, 6))}", f"{label}:", *inner,
                          "sub %r9, 1", f"jne %r9, 0, {label}"])
        else:                   # a local call to a generated subprogram
            items.append(["CALL"])
    return [line for item in items for line in item]


@st.composite
def _loop_call(draw, n: int, labels: list[int], kernel: bool) -> tuple[list[str], list[str]]:
    """bpf_loop(trips, cb<n>, r10 - below, flags) and its callback: the callback adds
    its index to the 8 bytes at ctx (a slot the prologue wrote, folded at exit), runs a
    callee's body (and, outside kernel mode, loads and stores through ctx around the
    caller's frame), and stops the loop at index `stop` (-1: never).  The trips made go
    to a data register.  The kernel's verifier takes it too: flags 0, few trips, ctx
    8-aligned in what the prologue wrote, r0 0 or 1 at the callback's exit."""
    # (kernel mode: no 0 -- after a bpf_loop of 1 trip, one of 0 trips with another
    # callback makes this kernel (6.18) refuse the program: "verifier bug: No program
    # to jit at insn N (subprog < 0)")
    trips = draw(_choice([1, 2, 3, 5] if kernel else [0, 1, 2, 3, 5]))
    flags = 1 if not kernel and draw(st.integers(0, 7)) == 0 else 0
    below = 8 * draw(st.integers(1, FRAME_INIT // 8))
    stop = draw(st.integers(-1, trips))
    made = draw(_choice([7, 8, 9]))
    caller = [f"mov %r1, {trips}", f"lddw %r2, code_addr(cb{n})", "mov %r3, %r10",
              f"add %r3, -{below}", f"mov %r4, {flags}", "call 181", f"mov %r{made}, %r0"]
    caller += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
    callback = [f"cb{n}:", "mov %r6, %r2", "mov %r7, %r1"]
    callback += [f"mov %r{r}, {draw(_imm())}" for r in (2, 3, 4, 5, 8)]
    callback += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    callback += ["ldxdw %r0, [%r6+0]", "add %r0, %r7", "stxdw [%r6+0], %r0"]
    return caller, callback + draw(_callback_end(labels, kernel, below, stop))


@st.composite
def _callback_end(draw, labels: list[int], kernel: bool, below: int, stop: int
                  ) -> list[str]:
    """A callback's last part: a callee's body (and, outside kernel mode, loads and
    stores through ctx, in r6, around the caller's frame), then r0 = 1 where r7 is
    `stop`, else 0."""
    body = draw(_block(None, labels, 1, kernel))
    if not kernel:
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(body)))
            body[at:at] = draw(_through_caller(LOOP_DATA, below))
    return body + ["mov %r0, 0", f"jne %r7, {stop}, +1", "mov %r0, 1", "exit"]


@st.composite
def _for_each_call(draw, n: int, labels: list[int], kernel: bool
                   ) -> tuple[list[str], list[str]]:
    """bpf_for_each_map_elem(a fuzz map, cb<n>, r10 - below, flags) and its callback:
    the callback adds the key's first word and the value's first 8 bytes to the 8
    bytes at ctx, may write the value, may delete the element (the hash's from inside
    the walk; the array's gives -EINVAL), runs a callee's body and stops at the element
    whose key is `stop` (-1: never).  The elements visited go to a data register.  In
    kernel mode a hash map is walked whole and every effect is the element's own (no
    body, whose map items could add or remove other keys, and no stop): the kernel's
    order of a hash map's elements is not bpfjit's."""
    which = draw(st.integers(0, 1))              # bpfjit.fuzz.maps: ARRAY, HASH
    flags = 1 if not kernel and draw(st.integers(0, 7)) == 0 else 0
    below = 8 * draw(st.integers(1, FRAME_INIT // 8))
    unordered = kernel and which == 1
    stop = draw(st.integers(-1, 4))
    made = draw(_choice([7, 8, 9]))
    # the count of elements visited is recorded at once, as well as kept in a register
    # (where a later write could hide a wrong one)
    caller = [f"lddw %r1, map_by_fd({which})", f"lddw %r2, code_addr(cb{n})",
              "mov %r3, %r10", f"add %r3, -{below}", f"mov %r4, {flags}", "call 164",
              *accumulate("%r0", kernel), f"mov %r{made}, %r0"]
    caller += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
    callback = [f"cb{n}:", "mov %r6, %r4", "ldxw %r7, [%r2+0]", "ldxdw %r8, [%r3+0]",
                "add %r8, %r7"]
    if draw(st.booleans()):                      # the value is the callback's to write
        size, suffix = draw(_choice([(1, "b"), (4, "w"), (8, "dw")]))
        offset = draw(st.integers(0, (VALUE_SIZE - size) // size)) * size
        callback.append(f"stx{suffix} [%r3+{offset}], %r7")
    if draw(st.integers(0, 2)) == 0:             # delete it: r1, r2 are the map and key
        callback += ["call 3", "add %r8, %r0"]
    callback += ["ldxdw %r0, [%r6+0]", "add %r0, %r8", "stxdw [%r6+0], %r0"]
    callback += [f"mov %r{r}, {draw(_imm())}" for r in (1, 2, 3, 4, 5, 8)]
    callback += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    if unordered:
        return caller, callback + ["mov %r0, 0", "exit"]
    return caller, callback + draw(_callback_end(labels, kernel, below, stop))


def xdp_prologue(length: int) -> list[str]:
    """An XDP program's start that the kernel's verifier accepts: r6 = the packet,
    whose `length` bytes the `data_end` test proves readable (a shorter packet ends
    the run with r0 = 0)."""
    return ["ldxw %r2, [%r1+0]", "ldxw %r3, [%r1+4]", "mov %r6, %r2", f"add %r2, {length}",
            "mov %r0, 0", "jle %r2, %r3, +1", "exit"]


@st.composite
def programs(draw, max_mem: int = 64, kernel: bool = False) -> tuple[Program, bytes]:
    """(program, input memory) pairs; the program passes the verifier in checked mode.

    `kernel`: XDP programs the kernel's verifier accepts too (bpfjit.backends.kerneljit):
    the memory is the packet, starting with the data registers' values (loaded from it,
    so that no verifier knows them), every access valid and aligned where the kernel
    wants it, atomics on the stack only, no helper calls."""
    if kernel:
        values = [draw(_value64()) for _ in DATA]
        mem = b"".join(v.to_bytes(8, "little") for v in values)
        mem += draw(st.binary(min_size=0, max_size=max(max_mem - len(mem), 0)))
        prologue = xdp_prologue(len(mem))
        prologue += [f"ldxdw %r{r}, [%r6+{8 * i}]" for i, r in enumerate(DATA)]
    else:
        mem = draw(st.binary(min_size=0, max_size=max_mem))
        prologue = ["mov %r6, %r1"] + draw(_maybe_written(len(mem)))
        prologue += [f"lddw %r{r}, {draw(_value64()):#x}" for r in DATA]
    prologue += [f"stdw [%r10-{off}], {draw(_imm())}" for off in range(8, FRAME_INIT + 1, 8)]
    prologue += [f"stdw [%r10-{ACCUMULATOR}], 0"]
    # the copy at the frame's bottom in half the programs: it makes a run reach the whole
    # frame, and the other half keep a shallow one (the stack zeroing's mutants)
    bases = () if kernel else BASE_SLOTS if draw(st.booleans()) else BASE_SLOTS[:1]
    prologue += [f"stxdw [%r10-{slot}], %r6" for slot in bases]
    labels = [0]
    body = draw(_block(len(mem), labels, kernel=kernel, bases=bases))
    callees: list[list[str]] = []
    lines = []
    mem = bytearray(mem)
    for line in body:
        if line.startswith("SETLEN"):                        # a walk's room (_walk)
            more = int(line.split()[1]) - len(mem)
            mem += draw(st.binary(min_size=more, max_size=more)) if more > 0 else b""
        elif line == "CALL" and draw(st.integers(0, 2)) == 0:   # a callback of bpf_loop
            walk = draw(st.integers(0, 2)) == 0         # ... or of for_each_map_elem
            caller, callback = draw((_for_each_call if walk else _loop_call)(
                len(callees), labels, kernel))
            callees.append(callback)
            lines += caller
        elif line == "CALL":
            n = len(callees)
            callee = [f"sub{n}:", f"mov %r0, {draw(_imm())}"]
            callee += [f"mov %r{r}, {draw(_imm())}" for r in (6, 7, 8, 9)]
            callee += [f"stdw [%r10-{off}], {draw(_imm())}"
                       for off in range(8, FRAME_INIT + 1, 8)]
            body = draw(_block(None, labels, 1, kernel))
            below = None if kernel or draw(st.booleans()) else 8 * draw(st.integers(1, 14))
            for _ in range(0 if below is None else draw(st.integers(1, 4))):
                at = draw(st.integers(0, len(body)))
                body[at:at] = draw(_through_caller(LOOP_DATA, below))
            if below is not None:       # r6: the caller's pointer, which no item writes
                callee.append("mov %r6, %r1")
            # now and then the callee returns a pointer into its own frame or NULL, which
            # the caller reads through when it is not NULL: the frame is gone, below the
            # live one, and the read traps (a verifier that took it for a pointer into
            # the caller's frame let the JITs read the dead frame unchecked)
            dead = not kernel and draw(st.integers(0, 5)) == 0
            if dead:
                body += ["mov %r0, 0", "jgt %r7, %r8, +2", "mov %r0, %r10",
                         f"add %r0, -{8 * draw(st.integers(1, FRAME_INIT // 8))}"]
            callees.append(callee + body + ["exit"])
            lines += [f"mov %r{i}, {draw(_imm())}" for i in range(1, 6)]
            if below is not None:       # r1: a pointer into this frame, not a number
                lines += ["mov %r1, %r10", f"add %r1, -{below}"]
            lines += [f"call local sub{n}"]
            if dead:
                lines += ["jeq %r0, 0, +1", "ldxdw %r0, [%r0+0]"]
            lines += [f"mov %r{i}, {draw(_imm())}" for i in range(2, 6)]
        else:
            lines.append(line)
    text = "\n".join(prologue + lines + fold_epilogue(maybe_written=not kernel) + ["exit"]
                     + [l for c in callees for l in c])
    prog = assemble(text)
    if kernel:
        prog = Program(prog.insns, context="xdp", prog_type="xdp")
    return prog, bytes(mem)
