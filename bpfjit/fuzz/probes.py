"""Probes of generated programs (bpfjit.fuzz.generator): items that record what they
compute in the accumulator at once (ALU results, compares on the edge where they flip,
loads, divisions, widths, selects, atomics), so that a later write cannot hide a wrong
value; and the idioms of compiled code whose reasoning the verifier must get right."""

from __future__ import annotations

from hypothesis import strategies as st

from .draws import (FRAME_INIT, NEGATIVE, UPPER_SET, _ATOMIC_NAMES, _COND, _SIGN_SET, _alu,
                    _cached, _choice, _imm, _near_multiple, _reg, _value64, accumulate,
                    mirror_offset)
from .memitems import _address


@_cached
@st.composite
def _observe(draw, regs) -> list[str]:
    """A register stored whole into the stack the epilogue folds: a wrong value seen
    there even when a later instruction overwrites the register."""
    return [f"stxdw [%r10-{8 * draw(st.integers(1, FRAME_INIT // 8))}], {draw(_reg(regs))}"]


def _recorded(lines: list[str], kernel: bool, mirror: tuple[int, int] | None) -> list[str]:
    """`lines`, then the register their last instruction writes recorded at once."""
    return lines + accumulate(lines[-1].split()[1].rstrip(","), kernel, mirror)


@_cached
@st.composite
def _alu_probe(draw, regs, kernel: bool = False,
               mirror: tuple[int, int] | None = None) -> list[str]:
    """An ALU operation whose result is recorded at once (a later write cannot hide it)."""
    return _recorded(draw(_alu(regs, kernel)), kernel, mirror)


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
def _equal_loads(draw, regs, mem_len: int) -> tuple[list[str], int, int]:
    """Two registers loaded from the same bytes of the buffer, by the same load: equal
    operands, the only ones that tell jge from jgt (jle, jsge, jsle from the strict
    ones).  The buffer's, not the stack's: no analysis knows its bytes, so the verifier
    decides no jump on them and every JIT compares them at run time."""
    a, b = draw(st.lists(_choice(regs), min_size=2, max_size=2, unique=True))
    name, size = draw(_choice([load for load in _LOADS if load[1] <= mem_len]))
    address = f"[%r6+{draw(st.integers(0, mem_len - size))}]"
    return [f"{name} %r{a}, {address}", f"{name} %r{b}, {address}"], a, b


@_cached
@st.composite
def _select_probe(draw, regs, mem_len: int, kernel: bool = False) -> list[str]:
    """A conditional jump over one 64-bit move, deciding on two values just loaded from
    the buffer or the stack (what the peachpy JIT makes a cmov: backends/x86selects.py),
    one time in three the same bytes (_equal_loads), then the moved register recorded
    at once."""
    if mem_len >= 1 and draw(st.integers(0, 2)) == 0:     # one time in three
        lines, a, b = draw(_equal_loads(regs, mem_len))
    else:
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
    any order, through a second register), and a rotation (`x << k | x >> (w - k)`).
    (An integer built in the register that held its address: `_own_base`.)"""
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


@_cached
@st.composite
def _idiom_probe(draw, regs, kernel: bool = False,
                 mirror: tuple[int, int] | None = None) -> list[str]:
    """An idiom (`_idiom`) whose result is recorded: an integer read byte by byte with
    a store between is what it is only while that register lives, and the items after
    overwrote it before the exit showed it in most programs (x86-idiom-ignores-stores
    went unfound in 600 programs on two seeds of four).  No draw of its own, so the
    programs drawn are the same, the record added."""
    return _recorded(draw(_idiom(regs)), kernel, mirror)


@_cached
@st.composite
def _own_base(draw, regs) -> list[str]:
    """An integer of 2 or 4 stack bytes built in r1, which held their address (clang's
    `get_be16(p)` when p's register takes the result: the other bytes or-ed into t
    through a third register, then the last loaded over the address, shifted and or-ed
    in place), then copied into r; now and then with the partial value copied out
    between.  The peachpy backend loads the whole integer where the address is
    overwritten, and only when nothing else reads the register there
    (x86idioms._in_place).  (r1, the main subprogram's scratch and reloaded base: data
    registers hold no address, callees reach memory through r6 and r10 only.)  Drawn
    apart from `_idiom` (a top-level item of its own, now and then), so that its kinds
    keep their frequencies."""
    r, t, u = (f"%r{x}" for x in draw(st.lists(_choice(regs), min_size=3, max_size=3,
                                                  unique=True)))
    n, big = draw(_choice([2, 2, 4])), draw(st.booleans())
    at = -draw(st.integers(n, FRAME_INIT))
    order = draw(st.permutations(range(n)))
    lines = ["mov %r1, %r10", f"add %r1, {at}", f"mov {t}, 0"]
    for i in order[:-1]:
        lines += [f"ldxb {u}, [%r1+{i}]", f"lsh {u}, {8 * (n - 1 - i if big else i)}",
                  f"or {t}, {u}"]
    last = order[-1]
    lines += [f"ldxb %r1, [%r1+{last}]", f"lsh %r1, {8 * (n - 1 - last if big else last)}"]
    between = draw(st.booleans())
    if between:
        lines.append(f"mov {u}, %r1")           # the partial value, read between
    lines += [f"{draw(_choice(['or', 'add']))} %r1, {t}", f"mov {r}, %r1"]
    # (the copy folded into the result too, which a later item is less likely to lose;
    # then mixed with a fresh 64-bit value, as _idiom's results are)
    return lines + ([f"xor {r}, {u}"] if between else []) + \
        [f"lddw {t}, {draw(_value64()):#x}", f"xor {r}, {t}"]


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
    x or a copy of it), a binary search's midpoint (`lo + ((hi - lo) >> 1)`), a 32-bit
    negation added to a number, wrapping once (`w - weight`), or a 64-bit sum only a
    zero-extension reads (verified as its 32-bit twin), at
    either width, as clang writes them or perturbed as a wrong match would miss: a jump
    into the middle, an operand changed between the steps, a divisor that may be 0, the
    bounds in either order.  The result then indexes the stack (`_stack_index`): where the
    verifier proves it wrongly, a JIT reads without a check where the interpreter traps
    (a jump onto the remainder's `sub` went unnoticed so until 2026-12-06)."""
    w = draw(_choice(["", "32"]))
    x, n, s, d = (f"%r{r}" for r in draw(st.permutations(regs))[:4])
    mask = draw(_choice([7, 15, 31, 63]))
    perturb = draw(_choice(["none", "none", "none", "jump", "operand"]))
    shape = draw(_choice(["remainder", "midpoint", "negation", "low half"]))
    if shape == "low half":
        # 32-bit arithmetic in a 64-bit register, as clang -mcpu=v1 keeps it: a sum
        # whose high half only a zero-extension reads, which the verifier follows as
        # its 32-bit twin (verifier.lowhalves: the low half alone, below 2^32 though
        # the register is not); the extension is then not exact
        low = draw(st.integers(0, mask >> 1))       # (d's low half at most mask)
        setup = [f"and {x}, {mask >> 1}", f"lddw {n}, {(draw(st.integers(1, 3)) << 32) + low}"]
        steps = [f"mov {d}, {x}", f"add {d}, {n}", f"lsh {d}, 32",
                 f"{'arsh' if perturb == 'operand' else 'rsh'} {d}, 32"]
    elif shape == "negation":
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
