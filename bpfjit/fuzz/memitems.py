"""Memory items of generated programs (bpfjit.fuzz.generator): loads and stores at
valid and invalid addresses, a spilled buffer pointer reloaded, walks over the buffer
whose range tests count their trips, a callee reaching into its caller's frame, helper
calls and map operations."""

from __future__ import annotations

from hypothesis import strategies as st

from .draws import (BASE_SLOTS, FRAME_INIT, HELPER_IDS, LOOP_DATA, _ATOMIC_NAMES, _cached,
                    _choice, _imm, _reg, _sampled, accumulate)
from .maps import KEY_SLOT, VALUE_SIZE, VALUE_SLOT


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
    size, suffix = draw(_choice(_WIDTHS))
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
_WIDTHS = ((1, "b"), (2, "h"), (4, "w"), (8, "dw"))    # access size, mnemonic suffix
_SUFFIX = dict(_WIDTHS)


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


_WALKED = 32                # the frame's top bytes a stack walk covers


@st.composite
def _stack_walk(draw, labels: list[int]) -> list[str]:
    """The frame's top 32 bytes walked as an array by a pointer (a data register)
    stepped each trip, in a loop run twice by an outer one (what the llvm engine checks
    once at the inner loop's entry: checkplan's stack range tests): from r10 - 32 plus
    a few elements, as many trips as the buffer's first byte says (unbounded to the
    verifier), stored there first as the number of elements that fit, one fewer or (one
    time in four) one more, so that some walks end at the frame's top and some store
    past it, where the store traps.  Each element stored and read back into a sum,
    recorded after each walk; what is left in the frame the epilogue folds.  (Short:
    walks of the whole 64 bytes recorded at every trip cost the self-test a quarter of
    its programs a second.)"""
    outer, count, value, loaded, pointer = draw(st.permutations(LOOP_DATA))[:5]
    size, suffix = draw(_choice(_WIDTHS))
    step = size * draw(_sampled((1, 1, 2)))
    start = size * draw(st.integers(0, 2))
    fit = (_WALKED - start - size) // step + 1          # the trips that stay in the frame
    labels[0] += 1
    label = f"stackwalk{labels[0]}"
    # (a walk past the top traps, and what the program would do after goes unseen:
    # one walk in four)
    trips = max(fit + draw(_sampled((-1, 0, 0, 1))), 0)
    p = f"%r{pointer}"
    return [f"stb [%r6+0], {trips}", f"ldxb %r{count}, [%r6+0]", f"mov %r{outer}, 2",
            f"{label}_outer:", f"mov {p}, %r10", f"add {p}, {start - _WALKED}",
            "mov %r9, 0",
            f"{label}:", f"stx{suffix} [{p}+0], %r{value}", f"ldx{suffix} %r{loaded}, [{p}+0]",
            f"add %r{value}, %r{loaded}", f"add {p}, {step}",
            "add %r9, 1", f"jlt %r9, %r{count}, {label}",
            *accumulate(f"%r{value}"),
            f"sub %r{outer}, 1", f"jne %r{outer}, 0, {label}_outer",
            f"mov {p}, {draw(_imm())}"]     # (no pointer left in a data register)


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
    size, suffix = draw(_choice(_WIDTHS))
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
    and around the edges, a data register's low bits, or the array's last slot or the
    one past it as a data bit decides; a found value is loaded from
    (recorded), stored to or changed atomically, and r0 becomes a number again (its
    address differs between engines) before it is recorded.  `kernel`: recorded as
    kernel mode records (the kernel engine gives the maps twins in the kernel)."""
    which = draw(st.integers(0, 1))
    key = draw(st.sampled_from(["const", "const", "data", "edge"]))
    if key == "const":
        # the array's last slot (3) and one past it (4) most: where a bound test is off by one
        lines = [f"stdw [%r10-{KEY_SLOT}], {draw(_choice([0, 1, 3, 4, 4, 5, -1]))}"]
    elif key == "data":
        lines = [f"mov %r1, {draw(_reg(regs))}", f"and %r1, {draw(_choice([3, 7]))}",
                 f"stxdw [%r10-{KEY_SLOT}], %r1"]
    else:
        # the last slot or the one past it, as a data bit decides: a constant key past
        # the array is NULL to the verifier, which decides the lookup for the JITs, so
        # only a key it cannot tell reaches an inlined lookup's bound test at its edge
        lines = [f"mov %r1, {draw(_reg(regs))}", "and %r1, 1", "add %r1, 3",
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


# an array of small numbers at the bottom of the frame, just above the spilled buffer
# pointer at r10-504 (BASE_SLOTS): r10-496 to r10-241 is what no other item touches
# (a callee writes its caller's r10-200 and up, r10-496 never between a fill and its
# chase), so past the array it holds zeros on every engine
ARRAY_BASE = -496
_UNTOUCHED_TOP = -240


def _lands_alike(index: int, size: int) -> bool:
    """Whether an element index read back lands where every engine reads the same:
    inside r10-496 .. r10-241 (the array, or zeros) or past the frame's top (a trap) --
    never on the spilled buffer pointer at r10-112, whose bytes differ."""
    at = ARRAY_BASE + size * index
    return at + size <= _UNTOUCHED_TOP or at >= 0


def _poke_lines(reg: str, at: str, width: int, value: int) -> list[str]:
    """Store `value` (below 2^32), `width` bytes of it, at `at` through `reg`: `mov32`,
    which takes the immediate as it is (a 64-bit `mov` sign-extends it, and an 8-byte
    poke of 0xffffffff stored 2^64 - 1, a chase to the byte before the array)."""
    return [f"mov32 {reg}, {value}", f"stx{_SUFFIX[width]} {at}, {reg}"]


def _poke_values(size: int, width: int, field: int) -> list[int]:
    """Values a poke of `width` bytes at byte `field` of an element may store: ones
    whose element, read whole or a byte at a time, is an index that lands alike."""
    found = []
    for v in (0, 1, 3, 15, 16, 17, 200, 255, 0x1234, 0xFFFF, 0xFFFFFFFF):
        if v >= 1 << 8 * width:
            continue
        whole = v << 8 * field          # (the element's other bytes: below 16, or 0)
        pieces = [whole >> 8 * k & 0xFF for k in range(size)]
        if all(_lands_alike(whole | low, size) for low in range(16)) \
                and all(_lands_alike(b, size) for b in pieces):
            found.append(v)
    return found


@_cached
@st.composite
def _element_array(draw, regs, mirror: tuple[int, int] | None) -> list[str]:
    """An array of `count` elements of 1, 2, 4 or 8 bytes filled in a loop with indices
    of itself, perhaps poked (at an index from the data: an element, or some bytes of
    one), then chased from a data index, `x = a[x]`, through the element or one of its
    bytes, its address made with `+ d` or with `| d` as clang makes a struct field's,
    d an immediate or a register masked below the element's size (bpfjit.verifier's
    element caps, `or` on a stack pointer, checked frame loads).
    The chase's end is recorded; a wrong proof reads past the array unchecked, where
    the interpreter traps."""
    size = draw(_choice([1, 2, 4, 8]))
    count = draw(_choice([4, 8, 16]))
    shift = size.bit_length() - 1
    order = draw(st.permutations(regs))
    c, t, p, x = (f"%r{r}" for r in order[:4])
    data = [f"%r{r}" for r in order[4:]] or [c]

    def address(index: str, field: int, how: str) -> tuple[list[str], str]:
        lines = [f"mov {t}, {index}"] + ([f"lsh {t}, {shift}"] if shift else [])
        lines += [f"mov {p}, %r10", f"add {p}, {ARRAY_BASE}", f"add {p}, {t}"]
        if how == "or" and field:
            return lines + [f"or {p}, {field}"], f"[{p}]"
        if how == "or-register":
            # a byte of the element that the data picks, or-ed in from a register
            # (clang's `&nxt[p][c]` with c = x & 3): below the element's alignment
            return lines + [f"mov {t}, {field}", f"and {t}, {size - 1}", f"or {p}, {t}"], \
                f"[{p}]"
        return lines, f"[{p}+{field}]" if field else f"[{p}]"
    step = draw(_choice([1, 3, 5, 7]))
    fill, at = address(c, 0, "add")
    body = fill + [f"mov {x}, {c}", f"mul {x}, {step}", f"add {x}, 1",
                   f"and {x}, {count - 1}", f"stx{_SUFFIX[size]} {at}, {x}", f"add {c}, 1"]
    lines = [f"mov {c}, 0"] + body + [f"jlt {c}, {count}, -{len(body) + 1}"]
    if draw(st.integers(0, 2)) == 0:                    # a poke, mostly of an index
        width = draw(_choice([w for w in (1, 2, 4, 8) if w <= size]))
        field = draw(_choice(list(range(0, size - width + 1, width))))
        values = _poke_values(size, width, field)
        if field == 0 and draw(st.integers(0, 2)):       # (a chase past the top traps,
            values = [v for v in values if v < count]   # and the program stops there)
        if values:
            poke, at = address(c, field, draw(_choice(["add", "or"])))
            lines += [f"mov {c}, {draw(_choice(data))}", f"and {c}, {count - 1}"] + poke
            lines += _poke_lines(x, at, width, draw(_choice(values)))
    lines += [f"mov {x}, {draw(_choice(data))}", f"and {x}, {count - 1}"]
    for _ in range(draw(st.integers(1, 3))):
        whole = draw(st.integers(0, 2)) > 0
        field = 0 if whole else draw(st.integers(0, size - 1))
        how = draw(_choice(["add", "or"] if whole or size == 1 else
                           ["add", "or", "or-register"]))
        if how == "or-register":
            field = draw(_choice(data))                 # (a register: the byte it picks)
        chase, at = address(x, field, how)
        lines += chase + [f"ldx{_SUFFIX[size] if whole else 'b'} {x}, {at}"]
    # (the address is dropped: a pointer left in a register the epilogue folds would
    # differ between engines)
    return lines + [f"mov {p}, 0"] + accumulate(x, False, mirror)
