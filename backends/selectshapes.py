"""Which conditional jumps the data decides: a jump over one register move (clang's BPF
target has no select, so `best = x < best ? x : best` and `d = (a != b)` come out as

    jCC a, b, +1
    mov d, s

or, as the last step of a loop body, `jCC head; mov d, s; ja head`), where a
conditional move would beat a predicted jump.  The analysis is the backends' both:
peachpy emits such a jump as a `cmov` (backends.x86selects), and the llvm engine marks
it `!unpredictable`, which keeps LLVM's x86 back end from turning the select it becomes
back into a jump (its cmov converter, misled by the budget's selects on the same
conditions: `dtw` 2.9x native with a jump, 2.0x with the cmov; corpus `overflow`, whose
overflow tests clang's native code takes with cmovs, 2.37x -> 1.42x on varied inputs).

A cmov waits for its compare where a predicted jump does not, so only jumps the data
decides qualify: the compared values come from a load made this trip (or a function's
result), in the block or on some path to it since the loop's head (`loaded_on_entry`:
cmsketch's minimum of counters that a saturating increment's diamond separates from
their loads); a clamp of a counter, a loop's own test, a test against a constant that
clang put in a register, are predicted well (a byte against an immediate is the data's:
corpus `grid`'s neighbour counts, `ipv4bits`), and the moved value does not go on to
form an address (`lo = mid` of a binary search, the larger child of a heap, a merge's
index steps: with a jump the CPU runs ahead to the next load on its guess; with a cmov
every load waits for the one before; measured, both ran 12-35% slower converted) -- or,
for a compare of two registers, the address of a later trip's access (rmq's `if (l >
r) swap` before this trip's `table[k][l]`: the next trip does not wait for it), and
the block after does not branch on the moved value or the compared ones again (`r9 =
a[j] < a[i]; if (r9 == up)` in a sorting network: the jump left is mispredicted as
often, and the cmov only adds to it; bitonic ran 19% slower converted) — unless that
branch is itself such a select, which leaves no jump at all (a median of three,
`max(min(a, b), min(max(a, b), c))`, converted whole: corpus `ringmod` 3.18x -> 1.07x
native on varied inputs).  The move block has no other way in.

A chain of minimums or maximums (a DP cell's `min(diag, up, left)`) qualifies whole:
the block of a select's join counts as part of its jump's block, a moved value counts
as loaded when its source was and is remembered as a select's, and a compare whose
operand is such a value, moving a register, starts a new decision when its result is
compared with anything but the old operands.  The loop-closing form qualifies only in
a chain: alone, on a loaded value, it was mostly a well-predicted jump (`dnsname`'s
case test, `hll`'s running maximum; allowing it changed nothing on the corpus's
varied inputs) -- or as a flag of two registers' order, picked between two constants
(`inv += a[i] > a[j]`, a permutation's inversions: 672 -> 522 us a run on peachpy).

These rules were first tuned timing each program on one input, the same bytes every
run, on which a branch predictor learns thousands of outcomes; they are measured now
on varied inputs too (corpus/speed.py), where the median, the immediates and the
function results above came out as cmovs' gains.
"""

from __future__ import annotations

from collections import deque

from bpfjit.cfg import block_graph, block_leaders, jump_targets
from bpfjit.isa import Kind
from bpfjit.liveness import use_def

__all__ = ["select_join", "data_decided", "decided_jumps"]


def select_join(prog, leaders, pc: int, jump) -> int | None:
    """Where both ways of a conditional jump over one move meet: right after the move
    (`jCC +1; mov d, s`), or the jump's own target when the move's block is the move
    and a `ja` there (`jCC X; mov d, s; ja X`: clang's last minimum of a loop body,
    whose both ways go round); None for any other jump."""
    if jump.kind is not Kind.JCOND:
        return None
    if jump.off == 1:
        return pc + 2
    after = pc + 2
    if after not in prog.pcs or after in leaders:
        return None
    ja = prog.at(after)
    if ja.kind is not Kind.JA or ja.spec.width != 64 or after + 1 + ja.off != pc + 1 + jump.off:
        return None
    return pc + 1 + jump.off


def data_decided(prog, leaders, targets, pc: int, join: int, joins: set[int],
                 entry: dict[int, int]) -> bool:
    """Whether the jump at `pc` over the move at pc + 1, meeting at `join`
    (select_join), is a select the data decides.  `joins`: the joins of the selects of
    the first form taken before it (their blocks run on from their jumps'); `entry`:
    loaded_on_entry(prog)."""
    jump, move = prog.at(pc), prog.at(pc + 1)
    if not _move64(move):
        return False
    compared = 1 << jump.dst | (1 << jump.src if jump.spec.source == "reg" else 0)
    if pc + 1 in targets or join == pc + 2 and join not in leaders \
            or _constants_before(prog, leaders, pc) & compared:
        return False            # (a constant clang put in a register is a constant)
    loaded, selected = _loaded_in_block(prog, leaders, pc, joins, entry)
    if join != pc + 2 and not _ordered_flag(prog, leaders, pc, jump, move):
        loaded &= selected      # the loop-closing form: only in a chain, or a flag
    chained = move.spec.source == "reg" and bool(compared & selected)
    return bool(compared & loaded) \
        and not _tested_again(prog, leaders, join, compared, move.dst, chained) \
        and not _feeds_address(prog, join, move.dst, round_only=jump.spec.source == "reg")


_ORDERINGS = frozenset(("jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle"))


def _ordered_flag(prog, leaders, pc: int, jump, move) -> bool:
    """Whether the jump at `pc` orders two registers and picks between two constants
    into the moved one: `d = K; if (a > b) goto head; d = K'` (`inversions += a[i] >
    a[j]` at a loop body's end).  Two data values' order is the data's coin toss; an
    equality, or a value against a bound, is mostly one way (a saturation test, a
    token's end: corpus `rotimg`, `bitpack` and `tokptr` ran 2-9% slower converted)."""
    return jump.spec.op in _ORDERINGS and jump.spec.source == "reg" \
        and move.spec.source == "imm" \
        and bool(_constants_before(prog, leaders, pc) >> move.dst & 1)


def decided_jumps(prog) -> frozenset[int]:
    """The pcs of the jumps over one move that the data decides (what the llvm engine
    marks `!unpredictable`)."""
    leaders, targets = block_leaders(prog), jump_targets(prog)
    entry = loaded_on_entry(prog)
    joins: set[int] = set()
    found = set()
    for pc, insn in prog:
        if insn.kind is not Kind.JCOND or pc + 1 not in prog.pcs:
            continue
        join = select_join(prog, leaders, pc, insn)
        if join is None or not data_decided(prog, leaders, targets, pc, join, joins, entry):
            continue
        if join == pc + 2:
            joins.add(join)
        found.add(pc)
    return frozenset(found)


def _tested_again(prog, leaders, join: int, compared: int, moved: int, chain: bool) -> bool:
    """Whether the code after `join` (its fall-through path, _RETEST_WINDOW
    instructions) tests the same decision again: a conditional jump on the compared
    registers or the moved one as they were at the join, or on a value and, or, xor or
    a copy make of them tested against a constant: `r9 = a[j] < a[i]` then `if (r9 ==
    up)`, the same compare made again, `if (bigger & nonzero)`.  That jump is
    mispredicted as often as the one removed, and the cmov only adds to it.  A value
    computed from them and compared with another (the running minimum of an edit
    distance's three costs) is a new decision.  In a chain (`chain`: a minimum or
    maximum, a move of a register, of a value that a select made before it), the
    result compared with anything else is a new decision too (Smith-Waterman's
    `max(diagonal + score, up)` against `left`, then against 0); only the old values
    compared among themselves, or a compared one against a constant, test it again.
    Outside a chain that stays a retest: a median of three (`max(min(a, b), min(max(a,
    b), c))`) converted whole ran 1.6x slower."""
    direct, derived, pc = compared | 1 << moved, 0, join
    for _ in range(_RETEST_WINDOW):
        if pc not in prog.pcs:
            return False
        insn = prog.at(pc)
        use, written = use_def(insn)
        if insn.kind is Kind.JCOND and _over_a_move(prog, leaders, pc, insn):
            pass        # itself a select: a cmov too, no jump left to mispredict
        elif insn.kind is Kind.JCOND:
            if not chain:
                retest = use & direct or insn.spec.source == "imm" and use & derived
            elif insn.spec.source == "reg":     # the old values compared among themselves
                retest = not use & ~(direct | derived)
            else:                               # a compared value (not the result) again
                retest = use & direct & ~(1 << moved)
            if retest:
                return True
        elif insn.kind in (Kind.JA, Kind.EXIT):
            return False
        logic = insn.kind is Kind.ALU and insn.spec.op in ("and", "or", "xor", "mov")
        carried = derived | direct
        derived = derived | written if logic and use & carried else derived & ~written
        direct &= ~written
        pc += insn.slots
    return False


_RETEST_WINDOW = 12


def _over_a_move(prog, leaders, pc: int, jump) -> bool:
    """Whether the conditional jump at `pc` has a select's shape (select_join), over a
    64-bit move."""
    return pc + 1 in prog.pcs and _move64(prog.at(pc + 1)) \
        and select_join(prog, leaders, pc, jump) is not None


def _move64(insn) -> bool:
    """Whether `insn` is a 64-bit `mov` (of a register or an immediate): what a select
    moves."""
    return insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.width == 64


def loaded_on_entry(prog) -> dict[int, int]:
    """Block -> the registers (a bit mask) that may hold, on entry, a value computed from
    a load made since the innermost loop's head (or the program's start): what this
    trip's data decides, through the small diamonds a saturating counter or a clamp
    makes (cmsketch's `if (*c != 0xffff) (*c)++` before the minimum of its counters).
    Forward edges only: a loop head starts empty."""
    members, preds, _ = block_graph(prog)
    out: dict[int, int] = {}
    entry: dict[int, int] = {}
    for block in sorted(members):
        mask = 0
        for p in preds.get(block, ()):
            if p < block:
                mask |= out.get(p, 0)
            else:               # a back edge: a loop's head, whose trip starts anew
                mask = 0
                break
        entry[block] = mask
        for pc in members[block]:
            mask = _loads_through(prog.at(pc), mask)
        out[block] = mask
    return entry


def _constants_before(prog, leaders, pc: int) -> int:
    """The registers (a bit mask) that hold a constant at `pc` by a `mov` of an
    immediate (or an lddw) earlier in its block: a clamp to 8192 or a range test
    against 5535 that clang compares through a register, as predictable as one against
    an immediate (tokenbkt's bucket clamp ran 1.7x slower as a cmov)."""
    constant, at = 0, _block_start(leaders, pc)
    while at < pc:
        insn = prog.at(at)
        written = use_def(insn)[1]
        if insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "imm" \
                or insn.kind is Kind.LDDW and insn.src == 0:
            constant |= written
        else:
            constant &= ~written
        at += insn.slots
    return constant


def _loads_through(insn, loaded: int) -> int:
    """`loaded` after `insn`: a load's destination joins, an ALU result of a loaded
    operand stays, anything else written leaves."""
    use, written = use_def(insn)
    if insn.kind in (Kind.LDX, Kind.LDSX):
        return loaded | written
    if insn.kind is Kind.ALU:
        return loaded | written if use & loaded else loaded & ~written
    if insn.kind is Kind.CALL_LOCAL:
        return loaded & ~written | 1        # a function's result: data, as a load's
    return loaded & ~written


def _loaded_in_block(prog, leaders, pc: int, joins: set[int], entry: dict[int, int]
                     ) -> tuple[int, int]:
    """The registers (bit masks) holding, at `pc`, a value computed from a load made
    this trip (in its block, or before it on some path since the loop's head: `entry`),
    and those holding one computed in the block from a select's result.  A block that
    is the join of a select made (`joins`) runs on from the block of its jump, as the
    emitted code does (the cmov a move: the moved value counts as loaded when its
    source does)."""
    start = _block_start(leaders, pc, joins)
    loaded, selected = entry.get(start, 0), 0
    at = start
    while at < pc:
        insn = prog.at(at)
        use, written = use_def(insn)
        if insn.kind is Kind.ALU and at + 1 in joins:       # a select's move
            loaded = loaded | written if use & loaded else loaded
            selected |= written
        else:
            loaded = _loads_through(insn, loaded)
            selected = selected | written if insn.kind is Kind.ALU and use & selected \
                else selected & ~written
        at += insn.slots
    return loaded, selected


def _block_start(leaders, pc: int, joins: set[int] = frozenset()) -> int:
    """The first pc of `pc`'s block; through the join of a select made (`joins`), the
    first of its jump's block, as the emitted code runs on."""
    start = pc
    while start not in leaders or start in joins:
        start -= 2 if start in joins else 1
    return start


_LOOK_AHEAD = 160       # instructions followed from the join, over every path


def _feeds_address(prog, start: int, reg: int, round_only: bool = False) -> bool:
    """Whether register `reg`'s value at `start` (or one computed from it) is the base
    of a memory access on some path, nearest instructions first, round loops too, up to
    _LOOK_AHEAD instructions.  With `round_only`, only an access it reaches round a
    loop's back edge counts: the next trip's load would wait on this trip's cmov (a
    binary search's `lo = mid`), where a load before the back edge delays this trip
    alone, which the next overlaps."""
    work, seen = deque([(start, 1 << reg, not round_only)]), {}
    while work and len(seen) < _LOOK_AHEAD:
        pc, carried, counts = work.popleft()
        known = seen.get((pc, counts), 0)
        if not carried & ~known or pc not in prog.pcs:
            continue
        seen[pc, counts] = carried = known | carried
        insn = prog.at(pc)
        use, written = use_def(insn)
        kind = insn.kind
        if counts and (kind in (Kind.LDX, Kind.LDSX) and carried >> insn.src & 1
                       or kind in (Kind.ST, Kind.STX, Kind.ATOMIC)
                       and carried >> insn.dst & 1):
            return True
        carried = carried | written if kind is Kind.ALU and use & carried \
            else carried & ~written
        if kind is Kind.EXIT or not carried:
            continue
        if kind is Kind.JA:
            target = pc + 1 + (insn.off if insn.spec.width == 64 else insn.imm)
            work.append((target, carried, counts or target <= pc))
            continue
        if kind is Kind.JCOND:
            work.append((pc + 1 + insn.off, carried, counts or insn.off < 0))
        work.append((pc + insn.slots, carried, counts))
    return False
