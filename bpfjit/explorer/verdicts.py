"""For each memory access, what the verifier and the check planner decided and why, in
words a learner can follow: proven (no code at all), checked once for a group, hoisted
out of a loop, or checked at the access itself."""

from __future__ import annotations

import re

from ..isa import Kind
from ..program import Program

__all__ = ["access_verdicts", "access_operands", "log_states"]

_REGION_NAMES = {"mem": "the buffer (packet)", "stack": "the stack",
                 "map": "a map value", "key": "a map key (for_each_map_elem)",
                 "ctx": "the context"}


def access_operands(insn) -> tuple[int, int, int]:
    """(base register, offset, size in bytes) of a load, store or atomic."""
    base = insn.src if insn.kind in (Kind.LDX, Kind.LDSX) else insn.dst
    return base, insn.off, insn.spec.size


def log_states(log: list[str]) -> dict[int, str]:
    """pc -> the abstract state before it, from verifier log lines `pc: insn ; state`."""
    states = {}
    for line in log:
        head, sep, state = line.partition(" ; ")
        pc = head.partition(":")[0].strip()
        if sep and pc.isdigit():
            states[int(pc)] = state.strip()
    return states


def access_verdicts(verified, prog: Program,
                    states: dict[int, str]) -> dict[int, tuple[str, str]]:
    """pc -> (verdict, why) for every access of `verified`, given the verifier's
    `states` (log_states); the verdict is one of proven, grouped, hoisted, checked or
    unchecked (the mode checks nothing)."""
    from ..checkplan import check_groups, versioned_loops
    hoisted = {pc: loop for loop in versioned_loops(verified) for pc in loop.unchecked}
    grouped = {pc: group for group in check_groups(verified).values()
               for pc in group.members}
    out = {}
    for pc in verified.accesses:
        base, off, size = access_operands(prog.at(pc))
        value = _register_value(states.get(pc, ""), base)
        region = _REGION_NAMES.get(verified.regions.get(pc, ""), "")
        span = f"bytes [{off}, {off + size}) from r{base}"
        known = f"the verifier knows r{base} = {value}" if value else \
            f"the verifier knows nothing of r{base} here"
        if pc in verified.proven:
            where = f" of {region}" if region else ""
            out[pc] = ("proven", f"{known}, so {span} lie inside{where} on every path: "
                                 f"no check is emitted")
        elif verified.mode == "unchecked":
            out[pc] = ("unchecked", f"{known}; unchecked mode emits no check")
        elif pc in grouped:
            g = grouped[pc]
            others = ", ".join(str(m) for m in sorted(g.members) if m != pc)
            out[pc] = ("grouped", f"{known}, not enough to prove {span}; one check of "
                                  f"[r{g.base}{g.lo:+}, r{g.base}{g.hi:+}) before pc "
                                  f"{g.first} covers it and pcs {others}")
        elif pc in hoisted:
            loop = hoisted[pc]
            moving = [test for test in loop.ranges if pc in test.accesses]
            motion = moving[0].motion() if moving else ""
            moves = f", moved {motion} over the trips it counts," if motion else ""
            tested = f"the bytes {moving[0].span()} at its entry{moves} lie in the buffer" \
                if moving else f"the buffer has at least {loop.need} bytes"
            out[pc] = ("hoisted", f"{known}, not enough to prove {span}; the loop at pc "
                                  f"{loop.header} is entered through one test that "
                                  f"{tested}, and its copy run then has no check here")
        else:
            extent = verified.extents.get(pc)
            bounds = f" (it touches bytes [{extent[0]}, {extent[1]}) of the buffer)" \
                if extent else ""
            out[pc] = ("checked", f"{known}, not enough to prove {span}{bounds}: it is "
                                  f"checked at run time, and traps if out of bounds")
    return out


def _register_value(state: str, reg: int) -> str:
    """What a verifier state line says of register `reg` ("" if nothing)."""
    m = re.search(rf"(?<![\w]){'r'}{reg}=(\S+)", state)
    return m.group(1) if m else ""
