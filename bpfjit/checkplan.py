"""Where the JITs put run-time checks: loops with a check-free second copy, and one
check for a group of accesses from one base in a block.

An access the verifier could not prove may still have bounded offsets from the
buffer's start (`VerifiedProgram.extents`): a rule table indexed by a bounded
counter, a field at a bounded offset.  It is in bounds whenever the buffer is at
least as long as its highest byte, a fact a JIT can test once instead of at every
access.  For each innermost loop holding such accesses, both JITs emit the loop
twice: the checked copy as always, and a copy without those checks, entered when
`len >= need` at the loop's entry.  The test cannot change inside the loop (the
buffer's length is fixed for the run unless a helper resizes the packet, and then
nothing is hoisted), so the fast copy's accesses never trap, and every trap the
program can take still happens in the checked copy or in a check both copies keep:
the same error at the same pc as the interpreter's.

Other unproven accesses in a loop have addresses that move with registers, not with
the buffer's start: `v[i]` over a record at an offset the verifier cannot bound, a
pointer stepped through a varint.  Such an address is the sum of at most two
registers' values at the loop's entry (a register the loop never changes, or one it
steps by a constant every trip) plus an offset within bounds known statically: the
constant the instructions add, the interval the verifier found a number register in
at the loop's head (`VerifiedProgram.head_ranges`), and for a stepped register its
step times the most trips the loop can make (one counter's interval at the head over
its step: its values there are distinct).  A `RangeTest` checks, at the entry, that
[sum + lo, sum + hi) lies in the buffer; every execution of the accesses it covers is
then in bounds.  This relies on the verifier learning nothing from a checked buffer
access that passed (it does not: the interval of an index never comes from the
access it guards).
"""

from __future__ import annotations

from dataclasses import dataclass

from .cfg import block_costs, block_graph, block_leaders, per_program, subprogram_ranges
from .context import packet_offsets
from .helpers import changes_packet
from .isa import MEMORY_KINDS, Kind, written_registers
from .loopaddress import Motion, Sum, address_forms, invariant_slots
from .tripcount import StepBound, TripBound, loop_forms, step_bound, trip_bound

__all__ = ["VersionedLoop", "RangeTest", "versioned_loops", "CheckGroup", "check_groups",
           "natural_loops"]


# the largest loop (in slots) given a budget-free copy: the copy doubles the loop's
# compile time, and its gain (one compare and branch per trip, or vectorization) is in
# small loops
BUDGET_FREE_SIZE = 24
# or a loop of a few paths: the charge then depends on the path taken (a compare, a
# set and an add each trip besides the budget's test: corpus/plain's window, 34 slots
# in 3 blocks, 3.48 -> 3.07 us for 8 ms more of compile; tlv's 25-slot loop -2%)
FORKED_LOOP_SIZE = 40
FORKED_BLOCKS = 3
# except a loop that branches a lot (a state machine's switch): with many paths, the
# budget tested at the head costs more than a compare (bench/'s tokenizer, 62 blocks in
# 134 slots, runs in 6.1 us instead of 7.6 with the llvm engine, for 26 ms more of
# compile); a straight loop of that size gains nothing (crc32's, 48 slots in one block)
BRANCHY_LOOP_SIZE = 160
BRANCHY_BLOCKS = 8
# or one of up to 80 slots in five blocks or more: corpus/plain's smooth, a Q15 filter
# whose clamps make a 60-slot loop of seven blocks, 1.58x -> 1.23x native on llvm
# (its bound, len, spilled and reloaded every trip: a TripBound's bound_slot)
MIDDLE_LOOP_SIZE = 80
MIDDLE_BLOCKS = 5


# a range test's bounds: within a 32-bit displacement, and its width an immediate
_RANGE_BOUND = 1 << 31
# the most range tests one loop's entry makes
_MOST_RANGE_TESTS = 6
# an access whose bounded extent ends beyond this many bytes goes into a range test
# when one covers it: a buffer that long is rare (a packet, most records), so a `need`
# that high would keep the loop's fast copy for the rare run (corpus grid's cells,
# a u8 width times a u8 height: 65,281)
_LONG_NEED = 4096
# a head interval at most this wide bounds a register's term in a range test even in a
# loop whose trips are counted at the entry, and a step's span is folded from the most
# trips a counter allows when they are at most this many (cheaper than counting them:
# corpus tlv's `i < n && i < 64`); a looser bound holds for few buffers (corpus grid's
# `x < w`, w a byte: 255 trips over rows of 40)
_SMALL_SPAN = 64
# a budget-free copy whose trips the verifier bounds at every entry by this many
# instructions at most is entered when the budget left covers them all, one compare
# (counting the entry's own trips takes about fifteen instructions, which a short
# inner loop entered often paid on every entry: a palindrome search's expansion loops,
# 2.4x -> 1.7x native); a budget below the bound runs the checked copy, as exact, so
# the bound is kept well below any budget a test or run sets (the default is 10^7)
STATIC_BUDGET_TEST = 1 << 16
# the fewest trips a loop whose trips are bounded must allow for range tests: the entry
# test costs about as much as a dozen checks, and its speculation mask puts its compare
# on the path of the registers the loop reads, which a short loop pays for on every
# entry (corpus/plain's substr, at most 16 trips and mostly 1, and varint, at most 10,
# ran 1.2-1.7x slower on peachpy with them; tlv's 64-trip loop 10-20% faster; maze's
# rows, at most 31 trips and mostly that many, 1.70x -> 1.44x native on llvm and
# 1.29x -> 1.20x on peachpy when 32 became 24)
MIN_HOISTED_TRIPS = 24


@dataclass(frozen=True)
class WrappedTerm:
    """The low 32 bits of `registers` + `slots` (8-byte stack slots at r10 + off) at the
    loop's entry + `const`, zero-extended: a `u32` index.  The accesses it covers add up
    to `spread` more, and it grows by `step` (>= 0) a trip; it wraps on no trip when
    its value at the entry + spread + step x (trips - 1) stays below 2^32, which the
    entry test checks with the range."""
    registers: tuple[int, ...]
    slots: tuple[int, ...]
    const: int
    spread: int
    step: int


@dataclass(frozen=True)
class RangeTest:
    """The bytes from the sum at the loop's entry of `registers`, `slots` (8-byte stack
    slots at r10 + off no trip writes) and `wrap`, plus `lo`, up to that sum plus `hi`,
    widened by `step` (+ the invariant `step_register`'s value) times the loop's trips
    less one (down for a negative step), lie in the buffer (the entry test of a
    VersionedLoop); it covers the loop's `accesses` (pcs).  A nonzero step,
    step_register and a wrap's step only come with the loop's `counted` bound: the
    trips are then counted at the entry.  `region` "stack": the bytes lie in the
    region a checked stack access may touch instead (from the current frame's bottom
    to the stack's top, the callers' frames included), for accesses through a pointer
    into the stack (an array on the stack walked by a pointer or an index)."""
    registers: tuple[int, ...]
    lo: int
    hi: int
    accesses: frozenset[int] = frozenset()
    slots: tuple[int, ...] = ()
    step: int = 0
    step_register: int | None = None
    wrap: WrappedTerm | None = None
    region: str = "mem"

    @property
    def moves(self) -> bool:
        """Whether the range moves with the trips, which the entry then counts."""
        return bool(self.step) or self.step_register is not None or \
            (self.wrap is not None and self.wrap.step != 0)

    @property
    def plain(self) -> bool:
        """Registers and constants only: what the first range tests were."""
        return not self.slots and not self.step and self.step_register is None and \
            self.wrap is None

    def span(self) -> str:
        """[r6+4, r6+44): the bytes it tests at the loop's entry, for the explorer."""
        terms = [f"r{reg}" for reg in self.registers] + \
            [f"[r10{off:+}]" for off in self.slots]
        if self.wrap is not None:
            inner = [f"r{reg}" for reg in self.wrap.registers] + \
                [f"[r10{off:+}]" for off in self.wrap.slots]
            terms.append(f"u32({'+'.join(inner)}{self.wrap.const:+})")
        base = "+".join(terms)
        return f"[{base}{self.lo:+}, {base}{self.hi:+})"

    def motion(self) -> str:
        """"+1 a trip", "+r3 a trip": how far the range moves with each counted trip
        ("" when it does not move)."""
        moves = ([f"{self.step:+}"] if self.step else []) + \
            ([f"+r{self.step_register}"] if self.step_register is not None else [])
        return f"{''.join(moves)} a trip" if moves else ""

    def describe(self) -> str:
        """The span, and its motion when it moves (and "in the stack" for the stack's)."""
        return self.span() + (f" moving {self.motion()}" if self.motion() else "") + \
            (" in the stack" if self.region == "stack" else "")


@dataclass(frozen=True)
class VersionedLoop:
    """A loop emitted twice: `header` is its only entry, `body` the pcs of its blocks,
    `unchecked` the accesses its fast copy runs without a check, entered when the
    buffer is at least `need` bytes long and every one of `ranges` holds; with `trips`,
    also only when the budget covers the bound on its trips, and the fast copy then
    never tests the budget (bpfjit.tripcount).  `counted` bounds the trips of ranges
    that move, `copies` are (r, x, c): the entry also requires r == x + c (r copies a
    stepped x late in each trip, bpfjit.loopaddress).  `most_trips`, when known, bounds
    `trips` for every entry from the verifier's intervals at the head, and they cost at
    most STATIC_BUDGET_TEST instructions: an entry whose budget covers them needs no
    count of its own (a budget below that runs the checked copy)."""
    header: int
    body: frozenset[int]
    unchecked: frozenset[int]
    need: int
    trips: TripBound | StepBound | None = None
    ranges: tuple[RangeTest, ...] = ()
    counted: TripBound | None = None
    copies: tuple[tuple[int, int, int], ...] = ()
    most_trips: int | None = None


def versioned_loops(verified) -> tuple[VersionedLoop, ...]:
    """The loops of `verified` whose bounded unproven buffer accesses the JITs hoist or
    whose trips are bounded at entry (disjoint; innermost first wins), computed once per
    VerifiedProgram."""
    cached = verified.__dict__.get("_versioned_loops")
    if cached is None:
        cached = verified.__dict__["_versioned_loops"] = _plan(verified)
    return cached


def _plan(verified) -> tuple[VersionedLoop, ...]:
    prog = verified.program
    hoist = verified.mode == "checked" and not changes_packet(prog) and \
        packet_offsets(prog.context)[1] is None
    graph = block_graph(prog)
    costs = block_costs(prog, block_leaders(prog))
    candidates = []
    loops = natural_loops(prog)
    for header, (body, latches, dominates) in loops.items():
        if _fragment(prog, header, body, latches, graph, loops):
            continue
        bounded = [pc for pc in verified.extents
                   if hoist and pc in body and verified.regions.get(pc) == "mem"]
        ranges, moving, counted, copies = (), [], None, ()
        if hoist:
            moving = [pc for pc in sorted(body) if verified.needs_check(pc)
                      and verified.regions.get(pc) in ("mem", "stack")
                      and prog.at(pc).kind in MEMORY_KINDS
                      and (pc not in bounded or verified.extents[pc][1] > _LONG_NEED)]
        bounded = [pc for pc in bounded if pc not in moving]
        covered = []
        worth = _worth_budget_free(body, graph[0], _inlined_size(prog, body))
        # the stack bytes a trip may write (None: any), for a bound kept in a slot and
        # for the range tests' invariant slots
        written = invariant_slots(prog, body, verified.regions, verified.stack_extents) \
            if moving or worth else None
        bound = trip_bound(prog, header, body, latches, dominates, graph, costs, written) \
            if moving or worth else None
        if moving:
            # (a bound in a stack slot, clang's spilled `len` at -mcpu=v3, is read at
            # the entry as a register is)
            counted = bound
            ranges, covered, copies = _range_tests(verified, header, body, latches, graph,
                                                   moving, counted, written)
            ranges, covered = _stack_tests_worth_it(verified, header, body, loops, ranges,
                                                    covered, bounded)
            if not any(test.moves for test in ranges):
                counted = None          # (nothing moves with the trips counted)
        need = max((verified.extents[pc][1] for pc in bounded), default=0)
        if need >= 1 << 31:                  # (a 32-bit immediate in the entry test)
            bounded, need = [], 0
        covered = bounded + covered
        trips = bound if worth else None
        known = verified.head_ranges.get(header, {})
        most = None if trips is None else _entry_trips(trips, known)
        if worth and trips is None:
            trips, most = _stepped_trips(prog, header, body, latches, graph, costs, known)
        elif worth and most is None and trips.bound_slot is not None:
            # a bound in a slot is counted at every entry; a stepped register's interval
            # bounds the trips before the run, which one compare tests
            stepped, static = _stepped_trips(prog, header, body, latches, graph, costs, known)
            if stepped is not None:
                trips, most = stepped, static
        if covered or trips is not None:
            candidates.append(VersionedLoop(header, body, frozenset(covered), need, trips,
                                            ranges, counted, copies, most))
    chosen: list[VersionedLoop] = []
    for loop in sorted(candidates, key=lambda c: (len(c.body), c.header)):
        if all(loop.body.isdisjoint(other.body) for other in chosen):
            chosen.append(loop)
    return tuple(sorted(chosen, key=lambda c: c.header))


def _range_tests(verified, header: int, body: frozenset[int], latches, graph,
                 accesses: list[int], counted: TripBound | None,
                 written: frozenset[int] | None
                 ) -> tuple[tuple[RangeTest, ...], list[int], tuple]:
    """The entry tests that cover some of `accesses` (unproven buffer accesses of the
    loop), the accesses they cover, and the copies (r, x, c) their entry must check:
    each address a sum at the entry of registers and invariant stack slots, plus at
    most one 32-bit wrapped sum of them, moving by a constant or an invariant register
    a trip, plus an offset in known bounds (see the module's text); `written`, the
    stack bytes a trip may write (loopaddress.invariant_slots).  With `counted`,
    the trips are counted at the entry; without, a stepped term needs a counter whose
    interval at the head bounds them, and its span is folded into the bounds."""
    prog = verified.program
    found = address_forms(prog, header, body, latches, graph, written)
    if found is None:
        return (), [], ()
    before, moves = found
    known = verified.head_ranges.get(header, {})
    static = _most_trips(moves, known)
    if static is not None and static < MIN_HOISTED_TRIPS:
        return (), [], ()
    # a stack access's tests read every term at the entry and count the trips there:
    # the verifier learns from a checked stack access that passed (its pointer, and
    # what the zone relates to it, narrowed to the frame), so a head interval may hold
    # only because that check passed, which the fast copy no longer makes
    by_region = {"mem": _Terms(moves, known, counted, static),
                 "stack": _Terms(moves, {}, counted, None)}
    tests: dict[tuple, list] = {}                     # key -> [members, pcs, copies]
    for pc in accesses:
        insn = prog.at(pc)
        form = before[pc].get(insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst)
        if form is None or form.high:
            continue
        terms = by_region[verified.regions[pc]]
        outer = terms.split(form.outer, by_register=True)
        inner = terms.split(form.wrap, by_register=False) if form.wrap is not None else None
        if outer is None or (form.wrap is not None and (inner is None or inner[4] < 0)):
            continue
        regs, slots, lo, hi, step, by, copies = outer
        if not regs and not slots and inner is None:
            continue
        wrap_key, spread = None, (0, 0)
        if inner is not None:
            wrap_key = (inner[0], inner[1], inner[4])
            spread = (inner[2], inner[3])
            step += inner[4]
            copies = copies | inner[6]
        key = (regs, slots, step, by, wrap_key, verified.regions[pc])
        entry = tests.setdefault(key, [[], [], set()])
        entry[0].append((lo + insn.off, hi + insn.off + insn.spec.size, spread))
        entry[1].append(pc)
        entry[2].update(copies)
    chosen = []
    for (regs, slots, step, by, wrap_key, region), (members, pcs, copies) in tests.items():
        test = _range_test(regs, slots, step, by, wrap_key, members, counted, static, pcs,
                           region)
        if test is not None:
            chosen.append((test, copies))
    chosen = sorted(chosen, key=lambda t: (-len(t[0].accesses), t[0].describe()))
    chosen = chosen[:_MOST_RANGE_TESTS]
    ranges = tuple(sorted((test for test, _ in chosen), key=lambda t: t.describe()))
    copies = tuple(sorted(set().union(*(c for _, c in chosen)))) if chosen else ()
    return ranges, sorted(pc for test in ranges for pc in test.accesses), copies


def _stack_tests_worth_it(verified, header: int, body, loops: dict, ranges, covered,
                          bounded):
    """The stack's range tests only for a loop inside another (a loop run once walks
    an array of the frame at most once: a few hundred checks saved, where the second
    copy moved LLVM's register choices for the rest of the function: corpus `lcs`'s
    final hash 1.00x -> 1.08x native) whose fast copy then checks nothing (with an
    access still checked on every trip, counting the trips and testing the ranges at
    each entry cost more than the checks saved in loops of a few trips: corpus
    `merge`'s copy loops, 1-32 trips an entry, 1.42x -> 1.48x)."""
    stack = [test for test in ranges if test.region == "stack"]
    if not stack:
        return ranges, covered
    nested = any(header in other[0] for at, other in loops.items() if at != header)
    accesses = set(verified.accesses)
    left = [pc for pc in body if pc in accesses and verified.needs_check(pc)
            and pc not in covered and pc not in bounded]
    if nested and not left:
        return ranges, covered
    dropped = frozenset().union(*(test.accesses for test in stack))
    return (tuple(test for test in ranges if test.region != "stack"),
            [pc for pc in covered if pc not in dropped])


class _Terms:
    """How a Sum of atoms splits into what the entry test adds up, the constant bounds
    and the motion per trip."""

    def __init__(self, moves: dict, known: dict, counted, static: int | None):
        self.moves, self.known, self.counted, self.static = moves, known, counted, static

    def split(self, total: Sum, by_register: bool) -> tuple | None:
        """(registers, slots, lo, hi, step, step register, copies), or None."""
        regs, slots, copies = [], [], set()
        lo = hi = total.const
        step, by = 0, None
        for atom in total.atoms:
            if not isinstance(atom, int):
                slots.append(atom[1])
                continue
            if atom == 10:
                return None
            move = self.moves.get(atom)
            known = self.known.get(atom)
            # a constant step the most trips a counter allows bound: folded into lo/hi
            foldable = move is not None and self.static is not None and bool(move.step) \
                and move.by is None and move.copy_of is None and move.same_as is None
            counted = move is not None and self.counted is not None
            if move is not None and move.same_as is not None:
                if isinstance(move.same_as, int):       # (an invariant register)
                    regs.append(move.same_as)
                else:
                    slots.append(move.same_as[1])
                lo, hi = lo + move.step, hi + move.step
                copies.add((atom, move.same_as, move.step))
                continue
            if move == Motion():
                regs.append(atom)                       # the same on every trip
            elif known is not None and known[1] - known[0] <= _SMALL_SPAN:
                lo, hi = lo + known[0], hi + known[1]
            elif foldable and self.static <= _SMALL_SPAN:
                regs.append(atom)
                lo, hi = self._folded(lo, hi, move.step)
            elif counted and move.copy_of is not None:
                base = self.moves[move.copy_of].step    # x@entry + (c - s), stepped by s
                regs.append(move.copy_of)
                lo, hi = lo + move.step - base, hi + move.step - base
                step += base
                copies.add((atom, move.copy_of, move.step - base))
            elif counted and move.by is None:
                regs.append(atom)
                step += move.step
            elif counted and by_register and by is None:
                regs.append(atom)
                step, by = step + move.step, move.by
            elif known is not None:
                lo, hi = lo + known[0], hi + known[1]
            elif foldable:
                regs.append(atom)
                lo, hi = self._folded(lo, hi, move.step)
            else:
                return None
        return (tuple(sorted(regs)), tuple(sorted(slots)), lo, hi, step, by,
                frozenset(copies))

    def _folded(self, lo: int, hi: int, step: int) -> tuple[int, int]:
        """lo and hi widened by a stepped term's span, step x (trips - 1)."""
        span = step * (self.static - 1)
        return (lo, hi + span) if step > 0 else (lo + span, hi)


def _range_test(regs, slots, step, by, wrap_key, members, counted, static, pcs,
                region: str = "mem") -> RangeTest | None:
    """One group's RangeTest, or None when its numbers do not fit the entry test's
    immediates (each within +-2^31)."""
    wrap = None
    lo = min(olo for olo, _, _ in members)
    hi = max(ohi for _, ohi, _ in members)
    if wrap_key is not None:
        inner_lo = min(ilo for _, _, (ilo, _) in members)
        inner_hi = max(ihi for _, _, (_, ihi) in members)
        lo = min(olo + ilo - inner_lo for olo, _, (ilo, _) in members)
        hi = max(ohi + ihi - inner_lo for _, ohi, (_, ihi) in members)
        wrap = WrappedTerm(wrap_key[0], wrap_key[1], inner_lo, inner_hi - inner_lo,
                           wrap_key[2])
        if not -_RANGE_BOUND < inner_lo < _RANGE_BOUND or wrap.spread >= _RANGE_BOUND:
            return None
    if counted is None and (step or by is not None):
        return None                 # (split folds steps only with a static bound)
    if not (-_RANGE_BOUND < lo and hi - lo < _RANGE_BOUND and hi < _RANGE_BOUND and
            abs(step) < _RANGE_BOUND):
        return None
    if by is not None and step < 0:
        return None
    return RangeTest(regs, lo, hi, frozenset(pcs), slots, step, by, wrap, region)


def _fragment(prog, header: int, body: frozenset[int], latches, graph, loops: dict) -> bool:
    """Whether the loop is one path of a larger loop over the same counter: a loop that
    encloses it steps a register this one steps, outside it, and writes it there in no
    other way (clang's shape for `for (i ...) { if (c) { ...; continue; } ... }`: two
    back edges to two heads).  Then the inner loop is entered again on every trip of the
    outer one and runs only as long as one path repeats, so an entry test there costs
    more than it saves (corpus/plain's utf8: 2,329 entries for 3,000 bytes, ~19
    instructions each)."""
    enclosing = [outer_body for outer, (outer_body, _, _) in loops.items()
                 if outer != header and body < outer_body]
    if not enclosing:                       # (most loops: no walk of the body needed)
        return False
    found = loop_forms(prog, header, body, latches, graph)
    if found is None:
        return False
    stepped = {r for r, (source, step) in found[1].items() if source == r and step}
    if not stepped:
        return False
    for outer_body in enclosing:
        steps: dict[int, bool] = {}         # register -> only stepped out there
        for pc in outer_body - body:
            insn = prog.at(pc)
            for r in written_registers(insn) & stepped:
                steps[r] = steps.get(r, True) and insn.kind is Kind.ALU and \
                    insn.spec.op in ("add", "sub") and insn.spec.source == "imm" and \
                    insn.spec.width == 64
        if any(steps.values()):             # (a register reused for another value: not)
            return True
    return False


def _most_trips(moves: dict, known: dict) -> int | None:
    """The most times the loop's head can run in one entry: a register stepped by s on
    every trip takes a different value each time (no wrap within its interval), so a
    counter known to stay within [lo, hi] at the head allows (hi - lo) // |s| + 1."""
    return _trips_within(((reg, move.step) for reg, move in moves.items()
                          if move.by is None and move.copy_of is None), known)


def _trips_within(steps, known: dict) -> int | None:
    """The fewest (hi - lo) // |s| + 1 over the (register, step s) pairs `steps` whose
    register the head intervals `known` bound: at most that many runs of the head."""
    counts = [(known[reg][1] - known[reg][0]) // abs(step) + 1
              for reg, step in steps if step and reg in known]
    return min(counts, default=None)


def _stepped_trips(prog, header: int, body, latches, graph, costs, known: dict
                   ) -> tuple[StepBound | None, int | None]:
    """For a loop whose exit test trip_bound cannot read (its bound reloaded from a
    stack slot on every trip: an edit distance's `j <= m` with m spilled): its
    StepBound and the most trips of any entry, from a register stepped on every trip
    that the verifier bounds at the head (as _most_trips), when they cost at most
    STATIC_BUDGET_TEST; else (None, None)."""
    stepped = step_bound(prog, header, body, latches, graph, costs)
    if stepped is None:
        return None, None
    most = _trips_within(stepped.steps, known)
    if most is None or most * stepped.iteration_cost > STATIC_BUDGET_TEST:
        return None, None
    return stepped, most


def _entry_trips(trips: TripBound, known: dict) -> int | None:
    """The most trips any entry of the loop makes (TripBound.most_trips) over the
    intervals the verifier found at the head for its counter and its bound's register
    (where they hold the entry's values), or None when one is not known or they could
    cost more than STATIC_BUDGET_TEST."""
    base = _signed(known.get(trips.base))
    if trips.bound_slot is not None:        # (no interval of a slot at the head)
        return None
    if trips.bound_reg is None:
        bound = (trips.bound_imm, trips.bound_imm)
    else:
        reg = _signed(known.get(trips.bound_reg))
        if reg is None:
            return None
        lo, hi = reg
        bound = (trips.bound_imm - hi, trips.bound_imm - lo) if trips.bound_negated \
            else (lo + trips.bound_imm, hi + trips.bound_imm)
    most = None if base is None else trips.most_trips(base, bound)
    return None if most is None or most * trips.iteration_cost > STATIC_BUDGET_TEST \
        else most


def _signed(interval: tuple[int, int] | None) -> tuple[int, int] | None:
    """A head interval (the narrower of a register's unsigned and signed ones) as
    signed 64-bit values, or None when it crosses from 2^63 - 1 to -2^63."""
    if interval is None:
        return None
    lo, hi = interval
    if lo >= 1 << 63:
        return lo - (1 << 64), hi - (1 << 64)
    return interval if hi < 1 << 63 else None


def _worth_budget_free(body: frozenset[int], blocks: dict, size: int) -> bool:
    """Whether a loop of these pcs, `size` slots with the subprograms it calls, is worth
    a budget-free copy (when its trips are bounded): a small one, or a larger one of
    several paths."""
    if size <= BUDGET_FREE_SIZE:
        return True
    count = sum(first in body for first in blocks)
    return (size <= FORKED_LOOP_SIZE and count >= FORKED_BLOCKS) or \
        (size <= MIDDLE_LOOP_SIZE and count >= MIDDLE_BLOCKS) or \
        (size <= BRANCHY_LOOP_SIZE and count >= BRANCHY_BLOCKS)


def _inlined_size(prog, pcs, calling: frozenset = frozenset()) -> int:
    """Slots of `pcs` and of the subprograms their local calls reach, once per call
    site: what a copy of the loop costs once the llvm engine has inlined its calls
    (bench/'s parser, a 13-slot loop calling a 45-slot parse, ran 8% slower budget-free
    with parse in both copies, for 8 ms more of compile)."""
    size = len(pcs)
    for pc in pcs:
        insn = prog.at(pc)
        if insn.kind is Kind.CALL_LOCAL:
            target = pc + 1 + insn.imm
            if target in calling:           # recursion: never budget-free anyway
                return 1 << 30
            first, end = next(r for r in subprogram_ranges(prog) if r[0] == target)
            size += _inlined_size(prog, [q for q, _ in prog if first <= q < end],
                                  calling | {target})
    return size


@dataclass(frozen=True)
class CheckGroup:
    """Unproven buffer accesses in one block through one base register that nothing
    between them writes: one check of [base + lo, base + hi) before the `first` covers
    all of `members`; when it fails, the instructions from `first` to `last` run with
    a check at every access, so a trap still names the access that failed."""
    first: int
    last: int
    members: frozenset[int]
    base: int
    lo: int
    hi: int


def check_groups(verified) -> dict[int, CheckGroup]:
    """The groups of two or more accesses worth one check, keyed by their first pc
    (computed once per VerifiedProgram)."""
    cached = verified.__dict__.get("_check_groups")
    if cached is None:
        cached = verified.__dict__["_check_groups"] = _groups(verified)
    return cached


def _groups(verified) -> dict[int, CheckGroup]:
    if verified.mode != "checked":
        return {}
    prog = verified.program
    leaders = block_leaders(prog)
    groups: dict[int, CheckGroup] = {}
    open_: dict[int, list] = {}           # base register -> [(pc, lo, hi), ...] so far

    def close(base: int) -> None:
        run = open_.pop(base, None)
        if run is not None and len(run) >= 2:
            groups[run[0][0]] = CheckGroup(run[0][0], run[-1][0],
                                           frozenset(pc for pc, _, _ in run), base,
                                           min(lo for _, lo, _ in run),
                                           max(hi for _, _, hi in run))

    for pc, insn in prog:
        if pc in leaders:
            for base in list(open_):
                close(base)
        if insn.kind in MEMORY_KINDS and verified.needs_check(pc) \
                and verified.regions.get(pc) == "mem":
            base = insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst
            open_.setdefault(base, []).append((pc, insn.off, insn.off + insn.spec.size))
        for reg in written_registers(insn):
            close(reg)
    for base in list(open_):
        close(base)
    return groups


@per_program
def natural_loops(prog) -> dict[int, tuple]:
    """Loop head -> (the pcs of its natural loop, its latches, a block-dominance test).

    The loop is the blocks that reach a back edge into the head (an edge from a block
    the head dominates, a latch) without passing through it.  Cycles entered at more
    than one block (irreducible) have no back edge: no loop."""
    members, preds, succs = block_graph(prog)
    loops = {}
    for first, _ in subprogram_ranges(prog):
        idom = _immediate_dominators(first, preds, succs)
        for head in sorted(idom):
            latches = [block for block in preds.get(head, ())
                       if block in idom and _dominates(idom, head, block)]
            if not latches:
                continue
            blocks, todo = {head}, list(latches)
            while todo:
                block = todo.pop()
                if block not in blocks:
                    blocks.add(block)
                    todo.extend(p for p in preds.get(block, ()) if p in idom)
            loops[head] = (frozenset(pc for block in blocks for pc in members[block]),
                           tuple(sorted(latches)),
                           lambda a, b, idom=idom: _dominates(idom, a, b))
    return loops


def _dominates(idom: dict[int, int], head: int, block: int) -> bool:
    while block != head:
        parent = idom[block]
        if parent == block:             # the entry
            return False
        block = parent
    return True


def _immediate_dominators(entry: int, preds: dict, succs: dict) -> dict[int, int]:
    """Block -> its immediate dominator (the entry maps to itself), for the blocks
    reachable from `entry` (Cooper, Harvey and Kennedy's iteration in reverse
    post-order)."""
    post, seen, stack = [], {entry}, [(entry, iter(sorted(succs.get(entry, ()))))]
    while stack:
        block, it = stack[-1]
        nxt = next((b for b in it if b not in seen), None)
        if nxt is None:
            post.append(block)
            stack.pop()
        else:
            seen.add(nxt)
            stack.append((nxt, iter(sorted(succs.get(nxt, ())))))
    rank = {block: n for n, block in enumerate(post)}
    idom = {entry: entry}
    changed = True
    while changed:
        changed = False
        for block in reversed(post[:-1]):
            new = None
            for p in preds.get(block, ()):
                if p not in idom:
                    continue
                if new is None:
                    new = p
                    continue
                a, b = p, new                   # their nearest common dominator
                while a != b:
                    while rank[a] < rank[b]:
                        a = idom[a]
                    while rank[b] < rank[a]:
                        b = idom[b]
                new = a
            if idom.get(block) != new:
                idom[block], changed = new, True
    return idom
