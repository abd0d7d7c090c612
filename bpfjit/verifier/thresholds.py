"""Widening thresholds: the bounds worth widening a register to at a loop head (the
constants the program compares it, or a copy of it, with), so that loops converge at
their tests rather than at the registers' limits (bpfjit.verifier.analysis)."""

from __future__ import annotations

from ..cfg import block_graph
from ..isa import STACK_SIZE, Kind, written_registers
from ..liveness import block_live_in, use_def
from ..program import Program

__all__ = ["thresholds", "loop_thresholds", "loop_writes", "loop_tests", "slot_thresholds",
           "copied_thresholds", "SLOT_LIMIT", "exit_slot_thresholds", "slot_stores",
           "frame_bases", "compared_from_head"]

# a slot's value (a spilled counter) is tested through a register it is loaded into;
# 2^32 - 1 is always among its thresholds: a counter tested through a 32-bit extension
# of a copy (clang -mcpu=v1) is bounded by the test only while the extension changes
# nothing, so it stops there first
SLOT_LIMIT = 0xFFFFFFFF
_LOADS = (4, 8)              # the widths of a slot load that copy a spilled counter


def thresholds(prog: Program, pcs=None, known: dict[int, int] | None = None,
               tests: set[int] | None = None) -> tuple[tuple[int, ...], ...]:
    """Bounds worth widening each register to: the constants the program (or its
    instructions at `pcs`) compares that register with (a counter tested against 64
    stops at 64, not at the 8, 13 and 32 a switch elsewhere compares other registers
    with), or compares a copy of it with: clang's -mcpu=v1 tests an `int` counter
    through a zero- or sign-extended copy (`mov r3, r2; lsh r3, 32; rsh r3, 32; jne r3,
    20`), which bounds the counter as `jne32 r2, 20` would.  Spilled slots have none of
    their own: a value that grows in a slot stops at 2^32 - 1, then at its limit
    (joins._SLOT_THRESHOLDS), and the final, descending pass brings it back.  A
    register compared with another that the program sets to a few constants (clang's
    -mcpu=v1 `r2 = 23` before a loop tested by `jgt r2, r5`) is compared with those
    constants, or with the constant `known` gives it (a loop's invariant register,
    constant at its head).  A copy masked to its low bits (`r3 = r1 & 0xffff`, a u16
    counter in a 64-bit register) is still the copy.  A sum of registers compared with
    a constant (`n + run <= 256`, `mov r8, r0; add r8, r3; jgt r8, 256`, or in 32 bits
    `w7 = w5; w7 += w3; if w7 > 256`) gives that constant to each of them.  With
    `tests`, only the comparisons at those pcs count (copies are followed through
    every instruction).  A register loaded
    from a stack slot (`ldxdw r3, [r10-208]`) is a copy of the slot: what it is tested
    against bounds the slot, whose thresholds come last in the result, a dict of
    offset -> constants (`slot_thresholds`)."""
    return _thresholds_each(prog, pcs, known, [tests])[0]


def _thresholds_each(prog: Program, pcs, known: dict[int, int] | None,
                     tests_each: list[set[int] | None]) -> list[tuple]:
    """`thresholds` for each of `tests_each` (None: every comparison), in one walk: the
    copies, sums and slots it follows are the same for all; only which comparisons
    count differs (a loop's head takes its whole body's and its exits')."""
    founds: list[dict] = [{r: {0} for r in range(11)} for _ in tests_each]
    constants = _register_constants(prog)
    if known:
        constants.update((r, (c,)) for r, c in known.items())
    # register -> (the register it copies, plus what): within a run of instructions
    copied: dict[int, tuple[int, int]] = {}
    addends: dict[int, tuple[int, ...]] = {}     # register -> registers it is a sum of
    holds: list[tuple[int, object, int]] = []    # (register, what it copied, plus what)
    copied32: dict[int, int] = {}       # register -> the register a mov32 copied into it
    last = None
    # a loop body is read twice, the second time with the copies its text ends with:
    # what the loop's end copies round to its head (`r3 = r7` late in the body, tested
    # against 63 early in it, bounds r7: a string's length counted against a limit);
    # a register with bounds of its own (constants beyond the -1..2 of tests against 0
    # and 1) keeps only those (hexdump's offset, given one more step below each of its
    # own, lost four proofs)
    walk = list(prog) if pcs is None else [(pc, prog.at(pc)) for pc in pcs] * 2
    firsts: list[dict] | None = None
    for i, (pc, insn) in enumerate(walk):
        wrapped = pcs is not None and i == len(pcs)
        if wrapped:
            firsts = [{r: set(f) for r, f in found.items()} for found in founds]
        if last is not None and pc != last and not wrapped:
            copied.clear()          # another block: its copies are not this one's
            addends.clear()
            copied32.clear()
        last = pc + insn.slots
        if insn.kind is Kind.JCOND:
            for found, tests in zip(founds, tests_each):
                if tests is None or pc in tests:
                    _count_test(insn, found, constants, copied, addends)
        written = use_def(insn)[1]
        if copied32 and written:
            copied32 = {r: src for r, src in copied32.items()
                        if not written >> r & 1 or r == insn.dst and insn.spec.op == "add"}
        if insn.kind is Kind.ALU and insn.spec.width == 32 and insn.spec.source == "reg" \
                and insn.spec.op == "mov" and insn.src != insn.dst and insn.src < 10:
            copied32[insn.dst] = insn.src       # (a sum's first addend only)
        if insn.kind is Kind.ALU and insn.spec.width == 64 and insn.spec.source == "reg" \
                and insn.spec.op == "mov" and insn.src != insn.dst:
            copied = {r: (src, k) for r, (src, k) in copied.items() if r != insn.dst}
            copied[insn.dst] = (insn.src, 0)
            holds.extend((insn.dst, src, k) for src, k in _sources(copied, insn.dst))
            addends = {r: a for r, a in addends.items() if r != insn.dst and insn.dst not in a}
            if insn.src in addends:
                addends[insn.dst] = addends[insn.src]
        elif insn.kind is Kind.LDX and insn.src == 10 and insn.spec.width // 8 in _LOADS:
            copied = {r: ks for r, ks in copied.items() if r != insn.dst}
            addends = {r: a for r, a in addends.items() if r != insn.dst and insn.dst not in a}
            copied[insn.dst] = (_slot(insn.off), 0)
        elif insn.dst in copied and _keeps_copy(insn):
            pass
        elif insn.kind is Kind.ALU and insn.spec.source == "imm" and insn.spec.width == 64 \
                and insn.spec.op in ("add", "sub") and insn.dst in copied \
                and abs(insn.imm) < 1 << 16:
            # `r4 = r0 + 8` tested against 60: r0's bound is 52 (clang -mcpu=v2 and up
            # rotate a loop so that its exit test compares such a sum)
            source, plus = copied[insn.dst]
            copied[insn.dst] = (source, plus + (insn.imm if insn.spec.op == "add"
                                                else -insn.imm))
            holds.extend((insn.dst, src, k) for src, k in _sources(copied, insn.dst))
        elif insn.kind is Kind.ALU and insn.spec.source == "reg" and insn.spec.width == 64 \
                and insn.spec.op == "add" and insn.dst in copied and insn.src != insn.dst:
            # a sum: its own copy no longer, but each addend's bound below the sum's
            source = copied.pop(insn.dst)[0]
            addends[insn.dst] = addends.get(insn.dst, (source,)) + (insn.src,)
            copied = {r: ks for r, ks in copied.items() if ks[0] != insn.dst}
        elif insn.kind is Kind.ALU and insn.spec.source == "reg" and insn.spec.width == 32 \
                and insn.spec.op == "add" and insn.dst in copied32 and insn.src != insn.dst:
            # the same sum in 32 bits (clang -mcpu=v3: `w7 = w5; w7 += w3; if w7 > 256`)
            addends[insn.dst] = (copied32.pop(insn.dst), insn.src)
            copied = {r: ks for r, ks in copied.items() if r != insn.dst}
        elif written:
            # a copy whose source changes afterwards still bounds the value the source
            # had, which is what a loop head widens: only the copy's own write ends it
            copied = {r: ks for r, ks in copied.items() if not written >> r & 1}
            addends = {r: a for r, a in addends.items() if not written >> r & 1}
    firsts = firsts or [None] * len(founds)
    return [_finished(prog, pcs, tests, found, first, holds)
            for found, tests, first in zip(founds, tests_each, firsts)]


def _count_test(insn, found: dict, constants: dict, copied: dict, addends: dict) -> None:
    """What a conditional jump compares each register (and what it copies or sums) with,
    into `found`."""
    if insn.spec.source == "reg":
        for reg, other in ((insn.dst, insn.src), (insn.src, insn.dst)):
            for c in constants.get(other, ()):
                found[reg].update((c - 1, c, c + 1))
                for source, plus in _sources(copied, reg):
                    found.setdefault(source, set()).update(
                        (c - plus - 1, c - plus, c - plus + 1))
        return
    c = insn.imm
    found[insn.dst].update((c - 1, c, c + 1))
    if insn.spec.width == 32:
        found[insn.dst].update(((c & 0xFFFFFFFF) - 1, c & 0xFFFFFFFF))
    if -(1 << 31) <= c <= 0xFFFFFFFF:
        for source, plus in _sources(copied, insn.dst):
            found.setdefault(source, set()).update(
                (c - plus - 1, c - plus, c - plus + 1))
    if 0 <= c <= 0xFFFFFFFF:
        for reg in addends.get(insn.dst, ()):       # (a register or a slot)
            found.setdefault(reg, set()).update((c - 1, c, c + 1))


def _finished(prog: Program, pcs, tests, found: dict, first: dict | None,
              holds: list) -> tuple:
    """A `thresholds` result from what its walk found (`first`: after the loop body's
    first reading)."""
    if first is not None:
        for key, own in first.items():
            if any(not -1 <= c <= 2 for c in own):
                found[key] = own
    # program-wide: a number only xor-ed or or-ed with others below 2^k stays below
    # 2^k, though nothing compares it with 2^k - 1 (a bit-reversed index: `j ^= bit`
    # for bits below 64): its widening stops at each all-ones mask first
    # (loop_thresholds gives a loop's registers theirs)
    bitwise = _bitwise_written(prog, prog.pcs) if pcs is None and tests is None else 0
    if bitwise:
        for r in range(11):
            if bitwise >> r & 1:
                found[r].update(_ALL_ONES)
    slots = {key[1]: tuple(sorted(f | {SLOT_LIMIT})) for key, f in found.items()
             if isinstance(key, tuple)}
    # what each register holds a copy of (plus a constant) was compared with, shifted,
    # above the register's own thresholds (`copied_thresholds`)
    held: dict[int, set[int]] = {}
    for reg, source, plus in holds:
        if source != reg:
            own = max(found[reg])
            held.setdefault(reg, set()).update(
                c + plus for c in found.get(source, ()) if not -1 <= c <= 2 and c + plus > own)
    return tuple(tuple(sorted(found[r])) for r in range(11)) + (slots, held)


_ALL_ONES = tuple((1 << k) - 1 for k in range(1, 33))


def _slot(off: int) -> tuple[str, int]:
    return ("slot", off)


def slot_thresholds(found: tuple) -> dict[int, tuple[int, ...]]:
    """The slots' thresholds of a `thresholds` result (none in a bare tuple of the
    registers')."""
    return found[11] if len(found) > 11 else {}


def copied_thresholds(found: tuple, reg: int) -> tuple[int, ...]:
    """A register's thresholds in a `thresholds` result with those of what it holds a
    copy of (plus a constant, `r3 = r1 + 1`), shifted, above its own."""
    held = found[12].get(reg) if len(found) > 12 else None
    return tuple(sorted(set(found[reg]) | held)) if held else found[reg]


_LOW_MASKS = (0xFF, 0xFFFF, 0x7FFFFFFF)      # (an imm 0xffffffff is -1: all 64 bits)


def _keeps_copy(insn) -> bool:
    """Whether `insn` leaves its register the copy it held, for what a test of it says:
    a half of a 32-bit extension (`lsh`/`rsh`/`arsh r, 32`), or its low 8, 16 or 32
    bits (`and r, 0xff`)."""
    if insn.kind is not Kind.ALU or insn.spec.source != "imm":
        return False
    return insn.spec.op in ("lsh", "rsh", "arsh") and insn.imm == 32 and insn.spec.width == 64 \
        or insn.spec.op == "and" and insn.imm in _LOW_MASKS


def _sources(copied: dict[int, tuple[int, int]], reg: int) -> list[tuple[int, int]]:
    """(source, plus) for each register `reg` is a copy of, plus a constant, following
    copies of copies (at most three): clang's `r7 = r8 + 1` for `n + 1`, copied again
    and zero-extended before its test against 48, bounds r8 by 47."""
    found = []
    plus = 0
    while reg in copied and len(found) < 3:
        reg, more = copied[reg]
        plus += more
        if any(reg == r for r, _ in found):
            break
        found.append((reg, plus))
    return found


def slot_stores(prog: Program, body: set[int]) -> set[int]:
    """The offsets from r10 that some instruction of the blocks `body` stores to."""
    members = block_graph(prog)[0]
    return {prog.at(pc).off for block in body for pc in members[block]
            if prog.at(pc).kind in (Kind.ST, Kind.STX) and prog.at(pc).dst == 10}


def loop_writes(prog: Program, body: set[int]) -> int:
    """The registers (a bit each) some instruction of the blocks `body` writes."""
    return _registers_of(prog, body, lambda insn: use_def(insn)[1])


def loop_tests(prog: Program, body: set[int]) -> int:
    """The registers (a bit each) a conditional jump of the blocks `body` reads."""
    return _registers_of(prog, body, lambda insn: use_def(insn)[0]
                         if insn.kind is Kind.JCOND else 0)


def _registers_of(prog: Program, body: set[int], mask_of) -> int:
    """The union of `mask_of(insn)` (a register mask) over the blocks `body`."""
    members = block_graph(prog)[0]
    found = 0
    for block in body:
        for pc in members[block]:
            found |= mask_of(prog.at(pc))
    return found


def _register_constants(prog: Program) -> dict[int, tuple[int, ...]]:
    """The constants the program moves into each register (`mov rX, imm`), for those
    given at most four: reg -> those constants (hints: the register may hold others)."""
    values: dict[int, set[int]] = {}
    for _, insn in prog:
        if insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "imm":
            values.setdefault(insn.dst, set()).add(insn.imm)
    return {r: tuple(sorted(v)) for r, v in values.items() if len(v) <= 4}


def compared_pairs(prog: Program, body: set[int]) -> frozenset[tuple[int, int]]:
    """The pairs of registers the blocks `body` compare with each other (a conditional
    jump on two registers), each way round, and the registers they copied within the
    block (`mov r1, r3; lsh r1, 32; rsh r1, 32; jne r7, r1` compares r7 with r3): where
    a loop's head looks for an order no path showed yet (joins.JoinRules.widen)."""
    members = block_graph(prog)[0]
    pairs = set()
    for block in body:
        copied: dict[int, int] = {}
        for pc in members[block]:
            insn = prog.at(pc)
            if insn.kind is Kind.JCOND and insn.spec.source == "reg":
                a, b = insn.dst, insn.src
                for x in {a, copied.get(a, a)}:
                    for y in {b, copied.get(b, b)}:
                        if x != y:
                            pairs.update(((x, y), (y, x)))
            written = use_def(insn)[1]
            if insn.kind is Kind.ALU and insn.spec.width == 64 and insn.spec.source == "reg" \
                    and insn.spec.op == "mov" and insn.src != insn.dst:
                copied = {r: s for r, s in copied.items() if r != insn.dst and s != insn.dst}
                copied[insn.dst] = copied.get(insn.src, insn.src)
            elif insn.dst in copied and _keeps_copy(insn):
                pass
            elif written:
                copied = {r: s for r, s in copied.items()
                          if not written >> r & 1 and not written >> s & 1}
    return frozenset(pairs)


def loop_exits(prog: Program, body: set[int]) -> set[int]:
    """The pcs of a loop's exit tests: conditional jumps ending a block of `body` (its
    blocks) with a successor outside it."""
    members, _, succs = block_graph(prog)
    return {members[block][-1] for block in body
            if prog.at(members[block][-1]).kind is Kind.JCOND
            and any(after not in body for after in succs[block])}


def exit_slot_thresholds(prog: Program, bodies: list[set[int]]) -> dict[int, tuple]:
    """The slots' thresholds of a subprogram's loops (`bodies`): the constants the exit
    tests of any of them compare a slot's reload with.  A loop head that does not
    store to the slot takes them: an inner loop widens its outer loop's spilled counter
    as the outer loop moves on (a Shell sort's gap index), and the final pass, which
    narrows the outer head, does not win back what the inner one gave away.  The loop
    that moves the slot widens it as before (to 2^32 - 1, then its limit), and its
    test narrows it in the final pass: walked up through each of a tokenizer's depth
    and state constants, it took a third more block runs."""
    members = block_graph(prog)[0]
    exits = set().union(*(loop_exits(prog, body) for body in bodies))
    if not exits:
        return {}
    pcs = sorted({pc for body in bodies for block in body for pc in members[block]})
    return slot_thresholds(thresholds(prog, pcs, tests=exits))


def loop_thresholds(prog: Program, body: set[int], everywhere: tuple,
                    known: dict[int, int] | None = None,
                    slots: dict[int, tuple] | None = None,
                    head: int | None = None) -> tuple[tuple[int, ...], ...]:
    """The thresholds of a loop's head: for a register the loop's exit tests compare
    with constants, those constants only — SHA-1's 80 rounds test the round number
    against 16, 20, 40 and 60 inside the loop and against 80 to leave it, and walking
    up through the inner ones spent every threshold step before 80 —; else, for a
    register its loop compares with constants, those constants only — `for (i = 0; i
    != 64; i++)` in a program that compares the same register with 54, 55 and 56
    elsewhere would spend its few threshold steps on those and widen past 63 —; else
    the program's.  `known`: registers the loop does not write that are constant at
    its head (loxilb's `r4 = 31` before a loop tested by `jgt r4, r3`, where the
    program moves many constants into r4).  A register only tested against 0 and 1
    that the loop's end copies another into (`_copied_round`, given its `head`) takes
    that one's too.  A register the exits do not test but that holds a copy of one
    they do, plus a constant, takes that one's, shifted, with its own: toksort's word
    count `r3 = r1 + 1`, where the exit tests `r1 < 47` and the loop's body compares
    r3, reused for a byte, with 230, had widened to 230 and left ten stack accesses of
    the sort after it unproven.  A register live at the head whose value there reaches
    no test, address or call (`compared_from_head`: a number the loop only carries
    round) takes none: ChaCha20's block counter, spilled in a register clang reuses for
    indices compared with 44 and 64, climbed those one outer round at a time, each
    round running the rounds loop again.  The slots take `slots`
    (`exit_slot_thresholds`)."""
    members = block_graph(prog)[0]
    pcs = sorted(pc for block in body for pc in members[block])
    exits = loop_exits(prog, body)
    if exits:
        local, leaving = _thresholds_each(prog, pcs, known, [None, exits])
    else:
        local = leaving = thresholds(prog, pcs, known)
    registers = []
    for r, (mine, out) in enumerate(zip(local[:11], leaving[:11])):
        via = copied_thresholds(leaving, r) if exits else out
        if len(out) > 1:
            registers.append(out)
        elif len(via) > 1:          # a copy of what the exits test (the count, + 1)
            registers.append(tuple(sorted(set(via) | set(mine))) if len(mine) > 1 else via)
        else:
            registers.append(mine if len(mine) > 1 else everywhere[r])
    if head is not None:
        carried = ~compared_from_head(prog, body, head) & block_live_in(prog).get(head, 0)
        registers = [(0,) if r < 10 and carried >> r & 1 else t
                     for r, t in enumerate(registers)]
    # (and the all-ones masks of a register the loop xors or ors: `thresholds`)
    bitwise = _bitwise_written(prog, pcs)
    registers = [tuple(sorted(set(t).union(_ALL_ONES))) if bitwise >> r & 1 else t
                 for r, t in enumerate(registers)]
    if head is not None:
        for reg, sources in _copied_round(prog, body, head).items():
            if all(-1 <= c <= 2 for c in registers[reg]):
                registers[reg] = tuple(sorted(set(registers[reg]).union(
                    *(registers[src] for src in sources))))
    return tuple(registers) + (slots or {},)


def _bitwise_written(prog: Program, pcs) -> int:
    """The registers (a bit each) that an `xor` or `or` at one of `pcs` writes and that
    nothing else there writes but `and`, `rsh` and those: operations whose result is
    below 2^k when their operands are."""
    xored = others = 0
    for pc in pcs:
        insn = prog.at(pc)
        written = use_def(insn)[1]
        if insn.kind is Kind.ALU and insn.spec.op in ("xor", "or"):
            xored |= written
        elif not (insn.kind is Kind.ALU and insn.spec.op in ("and", "rsh")):
            others |= written
    return xored & ~others


def _copied_round(prog: Program, body: set[int], head: int) -> dict[int, set[int]]:
    """reg -> the registers whose value the loop's latches (its blocks that jump back
    to `head`) last copy into it: clang -mcpu=v3 keeps a heap's count as `w7 = w6` at
    the loop's end, where w6 = n + 1 was tested against 48, and only tests w7 against
    0 itself; its head widens it to what w6's tests bound."""
    members, _, succs = block_graph(prog)
    found: dict[int, set[int]] = {}
    for block in body:
        if head not in succs[block]:
            continue
        last: dict[int, object] = {}
        for pc in members[block]:
            insn = prog.at(pc)
            written = use_def(insn)[1]
            for reg in range(10):
                if written >> reg & 1:
                    last[reg] = insn
        for reg, insn in last.items():
            if insn.kind is Kind.ALU and insn.spec.op == "mov" and insn.spec.source == "reg" \
                    and insn.src != reg and insn.src < 10:
                found.setdefault(reg, set()).add(insn.src)
    return found


def frame_bases(prog: Program) -> tuple[int, ...]:
    """Where the program's stack objects start: the offsets c of its `mov rX, r10; add
    rX, c` (in one block, rX unchanged in between), with the frame's bottom, -512,
    sorted.  A pointer into the frame whose lowest offset falls at a loop head is
    widened down to the next of these first (bpfjit.verifier.domain.widen): a row
    pointer an outer loop moves down into its table (`table[k - 1]`) stops at the
    table's start, not at 2^63 below it, below which a checked store would forget
    every spill in the frame."""
    members = block_graph(prog)[0]
    found = {-STACK_SIZE}
    for block in members.values():
        framed: set[int] = set()            # registers holding r10 here
        for pc in block:
            insn = prog.at(pc)
            spec = insn.spec
            if insn.kind is Kind.ALU and spec.width == 64 and spec.op == "add" \
                    and spec.source == "imm" and insn.dst in framed \
                    and -STACK_SIZE <= insn.imm < 0:
                found.add(insn.imm)
            if framed:
                written = use_def(insn)[1]
                framed = {r for r in framed if not written >> r & 1}
            if insn.kind is Kind.ALU and spec.width == 64 and spec.op == "mov" \
                    and spec.source == "reg" and insn.src == 10:
                framed.add(insn.dst)
    return tuple(sorted(found))


def compared_from_head(prog: Program, body: set[int], head: int) -> int:
    """The registers (a bit each) whose value at a loop's head reaches a conditional jump,
    an address or a call of the loop (blocks `body`) on some way round it: copied,
    moved by a constant, combined with another value, spilled to a slot of the frame
    and reloaded.  One whose value reaches none holds a number the loop only carries (a
    block counter bumped and stored): the constants its register is compared with are
    other variables' that clang put in the same register, and widening through them,
    one round at a time, only runs the loop again."""
    members, _, succs = block_graph(prog)
    states: dict[int, dict] = {head: {r: 1 << r for r in range(10)}}
    work = [head]
    reached = 0
    while work:
        block = work.pop()
        st = dict(states[block])
        for pc in members[block]:
            reached |= _head_values_step(prog.at(pc), st)
        for succ in succs.get(block, ()):
            if succ == head or succ not in body:    # (the next trip's values are its own)
                continue
            old = states.get(succ)
            if old is None:
                states[succ] = dict(st)
                work.append(succ)
            elif any(bits & ~old.get(key, 0) for key, bits in st.items()):
                for key, bits in st.items():
                    old[key] = old.get(key, 0) | bits
                work.append(succ)
    return reached


def _head_values_step(insn, st: dict) -> int:
    """Follow one instruction in compared_from_head's walk: `st` maps a register or a
    slot ("slot", offset) to the head values (a bit each) it may hold; the head values
    the instruction tests, addresses by or passes to a call are returned."""
    kind = insn.kind
    if kind is Kind.JCOND:
        return st.get(insn.dst, 0) | (st.get(insn.src, 0) if insn.spec.source == "reg" else 0)
    if kind in (Kind.NEG, Kind.END):       # (still the head value, transformed)
        return 0
    if kind is Kind.ALU:
        if insn.spec.op in ("mov", "movsx"):
            st[insn.dst] = st.get(insn.src, 0) if insn.spec.source == "reg" else 0
        elif insn.spec.source == "reg":
            st[insn.dst] = st.get(insn.dst, 0) | st.get(insn.src, 0)
        return 0
    if kind in (Kind.LDX, Kind.LDSX):
        used = st.get(insn.src, 0)
        st[insn.dst] = st.get(("slot", insn.off), 0) if insn.src == 10 else 0
        return used
    if kind in (Kind.STX, Kind.ST) and insn.dst == 10:
        st[("slot", insn.off)] = st.get(insn.src, 0) if kind is Kind.STX else 0
        return 0
    if kind in (Kind.CALL, Kind.CALL_LOCAL, Kind.CALL_BTF, Kind.CALLX):
        used = 0
        for r in range(1, 6):
            used |= st.get(r, 0)
        used |= st.get(insn.dst, 0) if kind is Kind.CALLX else 0
        for r in range(6):
            st[r] = 0
        return used
    used = st.get(insn.dst, 0) if kind in (Kind.STX, Kind.ST, Kind.ATOMIC) else 0
    for r in written_registers(insn):       # (lddw, an atomic's fetch, a legacy load)
        st[r] = 0
    return used
