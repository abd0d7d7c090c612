"""How many times an innermost loop can run, as a bound a JIT computes once at the
loop's entry: what lets it drop the instruction budget's test from the loop body.

The budget is exact: every block deducts its cost and checkpoints (loop heads) trap
once it is negative.  A loop whose trips are bounded by its exit test can instead be
entered, budget-free, when the budget covers `trips x iteration_cost`: no checkpoint
inside could then trap, so a copy of the loop that still deducts every block's cost
but never tests it computes the same budget and the same traps as the interpreter,
and has no exit but its own (what lets LLVM vectorise it).

The loops found are those of the form compilers emit for counted loops: a body
without cycles or helper calls (a local call is one trip's part when its callee, and
theirs, have neither loops nor helper calls: its longest path is added to the trip's
cost; r6-r9 keep their forms across it), an induction variable `x` stepped by a
constant `s` on every path around it, and a conditional jump that every trip passes (it dominates the back
edges) comparing `x + c` with a loop-invariant register or an immediate, or, signed or
by inequality, `x + c + q` (q loop-invariant) with an immediate: clang's
`for (i = n - 4; i >= 0; i--)` over a 32-bit index it keeps as a 64-bit offset.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cfg import subprogram_ranges
from .isa import Kind, written_registers

__all__ = ["TripBound", "StepBound", "trip_bound", "step_bound", "loop_forms", "subprogram_cost", "walk_forms",
           "merge_forms", "RANGE"]

# the entry test requires |x| and |n| <= RANGE (unsigned: 0 <= x, n <= RANGE), so that
# no value the bound reasons about wraps around 2^64 (the offsets are below 2^40)
RANGE = 1 << 61
_OFFSET_LIMIT = 1 << 40
_STEP_LIMIT = 1 << 31
_CALLS = (Kind.CALL, Kind.CALLX, Kind.CALL_LOCAL, Kind.CALL_BTF)

_MIRROR = {"jeq": "jeq", "jne": "jne", "jgt": "jlt", "jge": "jle", "jlt": "jgt",
           "jle": "jge", "jsgt": "jslt", "jsge": "jsle", "jslt": "jsgt", "jsle": "jsge"}
_NEGATE = {"jeq": "jne", "jne": "jeq", "jgt": "jle", "jle": "jgt", "jge": "jlt",
           "jlt": "jge", "jsgt": "jsle", "jsle": "jsgt", "jsge": "jslt", "jslt": "jsge"}


@dataclass(frozen=True)
class TripBound:
    """In trip k >= 1 the exit test compares `base@entry + step*(k-1) + offset` with
    `n = bound_reg@entry + bound_imm` (`bound_reg` None: n is `bound_imm`; with
    `bound_negated`, n = bound_imm - bound_reg@entry: the test compared the sum
    `base + ... + bound_reg` with `bound_imm`), and the loop goes on only while
    `relation` ("<=", ">=" or "!=", after moving the strict comparisons' 1 into
    `strict`) holds.  `iteration_cost` is the most instructions one trip can be
    charged."""
    base: int
    step: int
    offset: int
    bound_reg: int | None
    bound_imm: int
    relation: str
    strict: bool
    signed: bool
    iteration_cost: int
    bound_negated: bool = False
    # n is then `bound_slot`'s 8 bytes (an offset from r10) at entry + bound_imm: a
    # bound clang keeps spilled and reloads every trip, which no trip writes
    bound_slot: int | None = None

    def trips(self, base: int, bound: int) -> int | None:
        """The most times the loop head can run when entered with these values (as
        signed 64-bit integers), or None when the bound does not apply: the JITs
        compute this same function in their entry test."""
        lo = -RANGE if self.signed else 0
        if not (lo <= base <= RANGE and lo <= bound <= RANGE):
            return None
        up = self.step > 0
        if self.relation == "<=":                 # counting up to n (n - 1 when strict)
            distance = bound - int(self.strict) - self.offset - base
        elif self.relation == ">=":               # counting down to n (n + 1 when strict)
            distance = base + self.offset - bound - int(self.strict)
            if not self.signed and \
                    min(bound + int(self.strict), base + self.offset) < -self.step:
                return None                       # the count could wrap below zero
        else:                                     # "!=": counting towards n, which it meets
            # (at distance 0 the first trip's test meets n; below, it has passed it)
            distance = (bound - self.offset - base) if up else (base + self.offset - bound)
            if distance < 0 or distance % abs(self.step):
                return None
        return max(distance, 0) // abs(self.step) + 2

    def most_trips(self, base: tuple[int, int], bound: tuple[int, int]) -> int | None:
        """The most `trips` gives for any base in `base` and bound in `bound` (signed
        intervals), or None when it is None for some of them: a bound on every entry,
        known before any runs.  `trips` grows with its distance, a linear function of
        both, and where it applies is an interval of each (for "!=", only with steps of
        one), so the four corners decide."""
        if self.relation == "!=" and abs(self.step) != 1:
            return None
        corners = [self.trips(x, n) for x in base for n in bound]
        return None if None in corners else max(corners)


@dataclass(frozen=True)
class StepBound:
    """A loop whose exit test is not of TripBound's forms (its bound reloaded from the
    stack in each trip, say) but whose `steps` registers move by a constant on every
    trip (register -> step): a register whose values at the head the verifier bounds
    takes a different value on each trip, so the interval bounds the trips of every
    entry (bpfjit.checkplan).  `iteration_cost` as TripBound's."""
    steps: tuple[tuple[int, int], ...]
    iteration_cost: int


def trip_bound(prog, header: int, body: frozenset[int], latches, dominates, graph,
               costs: dict[int, int], written: frozenset[int] | None = None
               ) -> TripBound | None:
    """The TripBound of the natural loop `body` (its pcs) headed by `header`, or None.

    `latches` are the blocks with a back edge to the header, `dominates(a, b)` whether
    block a dominates block b, `graph` cfg.block_graph(prog), `costs` each block's
    instruction count; `written`, the stack bytes the loop may write
    (bpfjit.loopaddress.invariant_slots; None: any), says which slots hold a bound that
    stays the same on every trip."""
    shape = _shape(prog, header, body, latches, graph, costs)
    if shape is None:
        return None
    order, states, steps, back, iteration_cost = shape
    ivs = {r: (r, s, 0) for r, s in steps.items()}
    for r, (x, d) in back.items():
        if x != r and x in steps:               # r@head(k) = x@head(k-1) + d, k >= 1
            ivs[r] = (x, steps[x], d - steps[x])
    invariant = {r for r, form in back.items() if form == (r, 0)}
    if written is not None:             # the 8-byte slots no trip writes a byte of
        invariant |= {atom for state in states.values() for form in state.values()
                      if isinstance(atom := form[0], tuple)
                      and not written.intersection(range(atom[1], atom[1] + 8))}
    for block in order:
        if all(dominates(block, latch) for latch in latches):
            bound = _exit_test(prog, graph[0][block][-1], states[block], body, ivs,
                               invariant, iteration_cost)
            if bound is not None:
                return bound
    return None


def step_bound(prog, header: int, body: frozenset[int], latches, graph,
               costs: dict[int, int]) -> StepBound | None:
    """The registers of the loop stepped by a constant on every trip, and its trip's
    most cost (trip_bound's arguments), or None: no such register, or a body
    trip_bound could not walk either."""
    shape = _shape(prog, header, body, latches, graph, costs)
    if shape is None or not shape[2]:
        return None
    return StepBound(tuple(sorted(shape[2].items())), shape[4])


def _shape(prog, header: int, body: frozenset[int], latches, graph, costs: dict[int, int]
           ) -> tuple | None:
    """(blocks in topological order, forms at each one's end, {register: step} of the
    induction variables, the back edges' forms, the most one trip costs), or None."""
    members, preds, _ = graph
    called = _call_costs(prog, body, graph, costs)
    if called is None:
        return None
    walked = _walk(prog, header, body, graph, each_pc=False)
    if walked is None:
        return None
    order, states, _ = walked
    cost_to: dict[int, int] = {}
    for block in order:
        inside = [] if block == header else [p for p in preds.get(block, ()) if p in body]
        cost_to[block] = costs[block] + sum(called.get(pc, 0) for pc in members[block]) + \
            max((cost_to[p] for p in inside), default=0)
    back = _back_forms(states, latches)
    steps = {r: form[1] for r, form in back.items() if form[0] == r and form[1]}
    return order, states, steps, back, max(cost_to[latch] for latch in latches)


def loop_forms(prog, header: int, body: frozenset[int], latches, graph
               ) -> tuple[dict[int, dict], dict] | None:
    """What each register holds in the loop `body` headed by `header`, in terms of the
    values at the head of the same trip: pc -> {register: form} before the instruction
    at pc (forms as _step writes them), and the forms the back edges carry into the
    next trip, {register: (r, c)} (r@head(k+1) = r@head(k) + c: c == 0 invariant, else
    an induction variable).  None when the body has a cycle of its own."""
    walked = _walk(prog, header, body, graph, each_pc=True)
    if walked is None:
        return None
    _, states, before = walked
    return before, _back_forms(states, latches)


def _walk(prog, header: int, body: frozenset[int], graph, each_pc: bool) -> tuple | None:
    """walk_forms with this module's forms: each register itself at the head."""
    return walk_forms(prog, header, body, graph, {r: (r, 0) for r in range(11)}, _step,
                      each_pc)


def walk_forms(prog, header: int, body, graph, head: dict, step, each_pc: bool
               ) -> tuple | None:
    """The loop's blocks in topological order, the forms at each one's end, and (with
    `each_pc`, a copy per instruction) the forms before each of its pcs: `head` at the
    header, at another block what its predecessors in the loop agree on
    (`merge_forms`), then `step(forms, insn)` through each instruction; None when the
    body has a cycle of its own.  bpfjit.loopaddress walks its own forms with it."""
    members, preds, succs = graph
    order = _topological(header, [first for first in members if first in body], succs)
    if order is None:
        return None
    states: dict[int, dict] = {}
    before: dict[int, dict] = {}
    for block in order:
        if block == header:
            state = dict(head)
        else:
            state = merge_forms([states[p] for p in preds.get(block, ()) if p in body])
        for pc in members[block]:
            if each_pc:
                before[pc] = dict(state)
            step(state, prog.at(pc))
        states[block] = state
    return order, states, before


def _back_forms(states: dict, latches) -> dict:
    """The forms every back edge agrees on that are one register plus a constant."""
    return {r: form for r, form in merge_forms([states[latch] for latch in latches]).items()
            if len(form) == 2}


def _call_costs(prog, pcs, graph, costs, active: frozenset = frozenset()
                ) -> dict[int, int] | None:
    """The budget each local call among `pcs` can charge (pc -> its callee's cost), or
    None when one cannot be bounded or another kind of call is among them."""
    called = {}
    for pc in pcs:
        insn = prog.at(pc)
        if insn.kind is Kind.CALL_LOCAL:
            cost = subprogram_cost(prog, pc + 1 + insn.imm, graph, costs, active)
            if cost is None:
                return None
            called[pc] = cost
        elif insn.kind in _CALLS:
            return None
    return called


def subprogram_cost(prog, start: int, graph, costs: dict[int, int],
                    active: frozenset = frozenset()) -> int | None:
    """The most instructions one call of the subprogram at `start` can be charged,
    its callees' included; None when it has a loop, a helper call or recursion."""
    if start in active:
        return None
    end = next(last for first, last in subprogram_ranges(prog) if first == start)
    members, preds, succs = graph
    blocks = [first for first in members if start <= first < end]
    if any(start in succs.get(block, ()) for block in blocks):
        return None                         # a jump back to the entry: a loop
    order = _topological(start, blocks, succs)
    if order is None:
        return None
    called = _call_costs(prog, [pc for block in blocks for pc in members[block]], graph,
                         costs, active | {start})
    if called is None:
        return None
    cost_to = {}
    for block in order:
        before = [cost_to[p] for p in preds.get(block, ()) if p in cost_to]
        cost_to[block] = costs[block] + sum(called.get(pc, 0) for pc in members[block]) + \
            max(before, default=0)
    return max(cost_to.values())


def _exit_test(prog, pc, state, body, ivs, invariant, iteration_cost) -> TripBound | None:
    insn = prog.at(pc)
    spec = insn.spec
    if insn.kind is not Kind.JCOND or spec.width != 64 or spec.op == "jset":
        return None
    taken, fall = pc + 1 + insn.off, pc + 1
    if (taken in body) == (fall in body):
        return None
    left = _counted(state.get(insn.dst), ivs, invariant)
    right = ("imm", insn.imm) if spec.source == "imm" else state.get(insn.src)
    op = spec.op
    if left is None:
        left, right, op = _counted(right, ivs, invariant), state.get(insn.dst), _MIRROR[op]
    if left is None or right is None:
        return None
    iv, offset, summand = left
    negated = summand is not None
    bound_slot = None
    if negated:         # x + c + q compared with an immediate: x + c with (imm - q)
        if right[0] != "imm" or isinstance(summand, tuple):
            return None
        bound_reg, bound_imm = summand, right[1]
    elif right[0] == "imm":
        bound_reg, bound_imm = None, right[1]
    elif len(right) == 2 and right[0] in invariant:
        bound_reg, bound_imm = right
        if isinstance(bound_reg, tuple):        # a slot's value, reloaded
            bound_reg, bound_slot = None, bound_reg[1]
    else:
        return None
    base, step, start = ivs[iv]
    offset += start
    if abs(offset) >= _OFFSET_LIMIT or abs(bound_imm) >= _OFFSET_LIMIT or \
            abs(step) >= _STEP_LIMIT:
        return None
    go_on = op if taken in body else _NEGATE[op]
    signed = go_on.startswith("js")
    if negated and not (signed or go_on == "jne"):
        return None         # unsigned, x + c + q may wrap where x + c and imm - q do not
    kind = go_on[2:] if signed else go_on[1:]
    if kind in ("lt", "le") and step > 0:
        relation, strict = "<=", kind == "lt"
    elif kind in ("gt", "ge") and step < 0:
        relation, strict = ">=", kind == "gt"
    elif go_on == "jne":
        relation, strict = "!=", False
    else:
        return None
    return TripBound(base, step, offset, bound_reg, bound_imm, relation, strict, signed,
                     iteration_cost, negated, bound_slot)


def _counted(form, ivs, invariant):
    """`form` as (induction variable, constant, invariant summand or None), when it is
    one induction variable plus a constant, plus at most one loop-invariant register."""
    if form is None or form[0] == "imm":
        return None
    if len(form) == 2:
        return (form[0], form[1], None) if form[0] in ivs else None
    first, c, second = form
    if first in ivs and second in invariant:
        return first, c, second
    if second in ivs and first in invariant:
        return second, c, first
    return None


def _topological(header, blocks, succs) -> list[int] | None:
    """The loop's blocks in an order where each comes after its predecessors (edges to
    the header left out), or None when the body has a cycle of its own."""
    inside = set(blocks)
    order, state = [], {}
    stack = [(header, iter(succs.get(header, ())))]
    state[header] = "open"
    while stack:
        block, it = stack[-1]
        nxt = next((b for b in it if b in inside and b != header), None)
        if nxt is None:
            stack.pop()
            state[block] = "done"
            order.append(block)
        elif state.get(nxt) == "open":
            return None
        elif nxt not in state:
            state[nxt] = "open"
            stack.append((nxt, iter(succs.get(nxt, ()))))
    return order[::-1]


def merge_forms(states):
    """The forms that every incoming path agrees on."""
    first, *rest = states
    return {r: form for r, form in first.items() if all(s.get(r) == form for s in rest)}


def _step(state, insn) -> None:
    """Forms `(r, c)` = the value r had at the loop head, plus c (mod 2^64), and
    `(r, c, q)` = the sum of the values r and q had at the loop head, plus c; a load of
    an 8-byte stack slot, `(("slot", off), 0)`, which trip_bound takes for the slot's
    value at the head only where no trip writes it."""
    spec = insn.spec
    if insn.kind is Kind.LDX and spec.width == 64 and insn.src == 10:
        state[insn.dst] = (("slot", insn.off), 0)
        return
    if insn.kind is Kind.ALU and spec.width == 64 and spec.op in ("mov", "add", "sub"):
        dst, src = state.get(insn.dst), state.get(insn.src)
        if spec.op == "mov" and spec.source == "reg":
            form = src
        elif spec.op != "mov" and spec.source == "imm" and dst is not None:
            step = insn.imm if spec.op == "add" else -insn.imm
            form = (dst[0], dst[1] + step) + dst[2:]
        elif spec.op == "add" and spec.source == "reg" and dst is not None and \
                src is not None and len(dst) == len(src) == 2:
            form = (dst[0], dst[1] + src[1], src[0])
        else:
            form = None
        if form is None:
            state.pop(insn.dst, None)
        else:
            state[insn.dst] = form
        return
    for reg in written_registers(insn):
        state.pop(reg, None)
