"""What a campaign exercised: opcode x operand class x outcome, and the check plan.

Cells come from the interpreter's trace of each program (the pc and the registers
before each step): an ALU operation's cell is its mnemonic, its form (immediate,
register, or the destination read as source) and the class of its source operand at
the operation's width (0, 1, -1, the signed minimum and maximum, other negative, other
positive); a conditional jump's, its mnemonic, whether it was taken, and how its
operands compared (equal, unsigned less or greater, with "+-" when their sign bits
differ, where signed and unsigned comparisons part); a memory access's, its mnemonic,
region and whether it trapped.  The check plan's cells (`plan_cells`) say which of the
JITs' structural paths the run went through: loop copies by what they drop, check
groups by the copy they are lowered in and whether a block follows them.
`Coverage.report()` says how many of the cells that can occur were reached, per kind,
and names the ones never reached.
"""

from __future__ import annotations

from collections import Counter

from ..isa import OPCODES, Kind
from ..program import Program

__all__ = ["Coverage", "program_cells", "plan_cells", "value_class", "relation"]

CLASSES = ("0", "1", "-1", "min", "max", "neg", "pos")
RELATIONS = ("eq", "lt", "gt", "lt+-", "gt+-")
_MEMORY = (Kind.LDX, Kind.LDSX, Kind.ST, Kind.STX, Kind.ATOMIC)
_CELLS = {"alu": "mnemonic x form x operand class", "jump": "mnemonic x outcome x operands",
          "memory": "mnemonic x region, without a trap",
          "plan": "the JITs' loop copies by kind, range and budget tests and hoisted "
                  "masks by kind, check groups by copy and end"}
# what a versioned loop's second copy drops (bpfjit.checkplan); where a check group is
# lowered, and whether a block starts right after its last member
LOOP_COPIES = ("budget-free", "hoisted", "budget-free, hoisted")
# what a range test of a versioned loop reads or follows beyond registers and constants
# (bpfjit.loopaddress): trips counted at the entry, a stack slot, a wrapped u32 index,
# a register step, a late copy of the counter
RANGE_KINDS = ("counted trips", "stack slot", "u32 wrap", "register step", "counter copy")
# how the entry of a budget-free copy (llvm's) tests the budget: against the trips the
# verifier bounds for every entry, or against this entry's trips counted there
BUDGET_TESTS = ("static bound", "counted at entry")
# how peachpy's entry keeps hoisted accesses speculation-safe (bpfjit.poisoning): by
# poisoning registers, or by an adjustment added to each access
HOISTED_MASKS = ("poisoned registers", "adjusted accesses")
GROUP_PLACES = ("checked code", "fast copy")
GROUP_ENDS = ("a block follows", "the block goes on")


def value_class(value: int, width: int) -> str:
    """The class of `value` read at `width` bits."""
    value &= (1 << width) - 1
    top = 1 << (width - 1)
    if value in (0, 1):
        return str(value)
    if value == (1 << width) - 1:
        return "-1"
    if value == top:
        return "min"
    if value == top - 1:
        return "max"
    return "neg" if value & top else "pos"


def relation(left: int, right: int, width: int) -> str:
    """How two operands compare at `width` bits: unsigned order, and whether their sign
    bits differ (then a signed comparison orders them the other way)."""
    mask, top = (1 << width) - 1, 1 << (width - 1)
    left, right = left & mask, right & mask
    if left == right:
        return "eq"
    order = "lt" if left < right else "gt"
    return order + ("+-" if (left ^ right) & top else "")


def _width(spec) -> int:
    return 32 if spec.width == 32 else 64


def program_cells(prog: Program, steps: list[tuple[int, tuple]], trapped: bool) -> Counter:
    """The cells one run reached: `steps` are (pc, registers before it) in order;
    `trapped`: the last step stopped the run with a trap."""
    cells: Counter = Counter()
    for index, (pc, regs) in enumerate(steps):
        insn = prog.at(pc)
        spec = insn.spec
        kind = insn.kind
        if kind is Kind.ALU:
            if spec.source == "reg":
                form = "dst=src" if insn.src == insn.dst else "reg"
                value = regs[insn.src]
            else:
                form, value = "imm", insn.imm
            cells[("alu", spec.mnemonic, form, value_class(value, _width(spec)))] += 1
        elif kind in (Kind.NEG, Kind.END):
            cells[("alu", spec.mnemonic, "dst", value_class(regs[insn.dst], _width(spec)))] += 1
        elif kind is Kind.JCOND:
            right = regs[insn.src] if spec.source == "reg" else insn.imm
            following = steps[index + 1][0] if index + 1 < len(steps) else None
            taken = following == pc + 1 + insn.off
            cells[("jump", spec.mnemonic, "taken" if taken else "not taken",
                   relation(regs[insn.dst], right, _width(spec)))] += 1
        elif kind in _MEMORY:
            base = insn.src if kind in (Kind.LDX, Kind.LDSX) else insn.dst
            region = "stack" if base == 10 else "buffer"
            failed = trapped and index == len(steps) - 1
            cells[("memory", spec.mnemonic, region, "trap" if failed else "ok")] += 1
        else:
            cells[("other", spec.mnemonic, "", "")] += 1
    return cells


def plan_cells(verified, executed: set[int]) -> Counter:
    """The paths of the JITs' check plan (bpfjit.checkplan) a run went through: each
    versioned loop whose head ran, by what its second copy drops; each check group
    whose first access ran, where the JITs lower it (the checked code always, a loop's
    fast copy too when some member still needs its check there) and whether a block
    starts right after its last member (the llvm backend once lost its way there).
    The llvm backend copies every versioned loop; peachpy only those with hoisted
    checks (backends.copies: budget_free=False), so "budget-free" copies are llvm's."""
    from ..cfg import block_leaders
    from ..checkplan import check_groups, versioned_loops
    from ..poisoning import poisoned_registers
    prog = verified.program
    loops = versioned_loops(verified)
    cells: Counter = Counter()
    for loop in loops:
        if loop.header in executed:
            dropped = [what for what, on in (("budget-free", loop.trips is not None),
                                             ("hoisted", bool(loop.unchecked))) if on]
            cells[("plan", "loop copy", ", ".join(dropped), "")] += 1
            for kind in _range_kinds(loop):
                cells[("plan", "range", kind, "")] += 1
            if loop.trips is not None:
                kind = BUDGET_TESTS[0] if loop.most_trips is not None else BUDGET_TESTS[1]
                cells[("plan", "budget test", kind, "")] += 1
            if loop.unchecked:
                masked = poisoned_registers(prog, loop) is not None
                cells[("plan", "hoisted mask", HOISTED_MASKS[0 if masked else 1], "")] += 1
    leaders = block_leaders(prog)
    for first, group in check_groups(verified).items():
        if first not in executed:
            continue
        end = GROUP_ENDS[0] if group.last + prog.at(group.last).slots in leaders \
            else GROUP_ENDS[1]
        cells[("plan", "group", GROUP_PLACES[0], end)] += 1
        if any(first in loop.body and not group.members <= loop.unchecked for loop in loops):
            cells[("plan", "group", GROUP_PLACES[1], end)] += 1
    return cells


def _range_kinds(loop) -> list[str]:
    """The RANGE_KINDS a versioned loop's range tests use."""
    tests = loop.ranges
    used = (loop.counted is not None, any(test.slots or (test.wrap and test.wrap.slots)
                                          for test in tests),
            any(test.wrap is not None for test in tests),
            any(test.step_register is not None for test in tests), bool(loop.copies))
    return [kind for kind, on in zip(RANGE_KINDS, used) if on]


def _possible() -> dict[str, set]:
    """The cells a generated program can reach, per kind (what `report` counts against)."""
    cells: dict[str, set] = {"alu": set(), "jump": set(), "memory": set(), "plan": set()}
    cells["plan"] |= {("plan", "loop copy", kind, "") for kind in LOOP_COPIES}
    cells["plan"] |= {("plan", "range", kind, "") for kind in RANGE_KINDS}
    cells["plan"] |= {("plan", "budget test", kind, "") for kind in BUDGET_TESTS}
    cells["plan"] |= {("plan", "hoisted mask", kind, "") for kind in HOISTED_MASKS}
    cells["plan"] |= {("plan", "group", place, end)
                      for place in GROUP_PLACES for end in GROUP_ENDS}
    for spec in OPCODES:
        if spec.kind is Kind.ALU:
            forms = ("reg", "dst=src") if spec.source == "reg" else ("imm",)
            # an immediate is a sign-extended 32-bit value: no 64-bit "min" or "max"
            classes = [c for c in CLASSES if spec.source == "reg" or spec.width == 32
                       or c not in ("min", "max")]
            cells["alu"] |= {("alu", spec.mnemonic, f, c) for f in forms for c in classes}
        elif spec.kind in (Kind.NEG, Kind.END):
            cells["alu"] |= {("alu", spec.mnemonic, "dst", c) for c in CLASSES}
        elif spec.kind is Kind.JCOND:
            cells["jump"] |= {("jump", spec.mnemonic, t, r)
                              for t in ("taken", "not taken") for r in RELATIONS
                              if _can(spec.op, t == "taken", r)}
        elif spec.kind in _MEMORY:
            cells["memory"] |= {("memory", spec.mnemonic, region, "ok")
                                for region in ("stack", "buffer")}
    return cells


def _can(op: str, taken: bool, rel: str) -> bool:
    """Whether a jump `op` can be taken (or not) with operands related by `rel`; jset
    depends on bits, not order, so every combination is possible for it."""
    if op == "jset":
        return True
    equal = rel == "eq"
    less_unsigned = rel.startswith("lt")
    mixed = rel.endswith("+-")
    less_signed = (not equal) and (less_unsigned != mixed)
    outcome = {"jeq": equal, "jne": not equal,
               "jgt": not equal and not less_unsigned, "jge": equal or not less_unsigned,
               "jlt": less_unsigned, "jle": equal or less_unsigned,
               "jsgt": not equal and not less_signed, "jsge": equal or not less_signed,
               "jslt": less_signed, "jsle": equal or less_signed}[op]
    return outcome == taken


class Coverage:
    """Cells reached over a campaign, with counts."""

    def __init__(self, counts: Counter | None = None):
        self.counts: Counter = Counter() if counts is None else counts

    def add(self, cells) -> None:
        self.counts.update(dict(cells))

    def report(self, missing: int = 12) -> list[str]:
        """Lines: per kind, the share of possible cells reached; the ones never reached."""
        lines = []
        for kind, possible in _possible().items():
            reached = {c for c in possible if self.counts.get(c)}
            lines.append(f"coverage: {kind} {len(reached)} of {len(possible)} cells "
                         f"({_CELLS[kind]})")
            never = sorted(possible - reached)
            if never:
                shown = ", ".join(" ".join(part for part in cell[1:] if part)
                                  for cell in never[:missing])
                more = f" and {len(never) - missing} more" if len(never) > missing else ""
                lines.append(f"  never: {shown}{more}")
        return lines
