"""The vocabulary of generated programs (bpfjit.fuzz.generator): the edge values
operands are drawn from, registers, immediates and ALU items, and the epilogue and
accumulator through which every value a program computes reaches its result."""

from __future__ import annotations

import functools

from hypothesis import strategies as st

from ..isa import OPCODES, Kind

__all__ = ["fold_epilogue", "accumulate", "mirror_offset", "EDGE_IMMS", "HELPER_IDS"]


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
