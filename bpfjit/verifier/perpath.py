"""Blocks run once per incoming path: where a join would lose what the kernel's
path-by-path verifier keeps, a block is run from each incoming edge's state apart and
each successor gets the join of the edges that reach it (`_threads`), or from the join
of each group of edges that agree on what their live registers point to, its edges out
kept apart (`_partitions`).  Mixed into the analysis (bpfjit.verifier.analysis)."""

from __future__ import annotations

from ..errors import VerifierError
from ..isa import MEMORY_KINDS, Kind
from ..liveness import block_live_in, use_def
from .domain import MAP_OR_NULL, MAP_PTR, MAP_VALUE, MEM, MIXED, STACK, UNINIT, Value, join
from .references import unify_refs
from .state import State, merge
from .subprograms import Subprogram

__all__ = ["PerPathRules"]

_THREADED_ALU = 4            # ALU instructions and stack loads computing a threaded jump's
                             # operands, at most,
_THREADED_SPAN = 8           # among so many instructions before it, at most
_THREADED_CALL_PATHS = 4     # at most so many incoming edges run apart for a helper call
_PARTS = 4                   # groups of incoming edges run apart, at most
_ALL_REGISTERS = (1 << 11) - 1
_WRITES_DST = (Kind.ALU, Kind.NEG, Kind.END, Kind.LDDW, Kind.LDX, Kind.LDSX)
_WRITES_OTHERS = (Kind.CALL, Kind.CALL_LOCAL, Kind.CALL_BTF, Kind.CALLX, Kind.LD_PACKET,
                  Kind.ATOMIC)
_MAP_VALUES = (MAP_VALUE, MAP_OR_NULL)
# a header read in place or copied to the stack: a pointer into the packet on some
# paths, into the frame on others (cls_redirect's `buf_assign`)
_SCRATCH = (MEM, STACK)
# the groups of incoming edges a block runs from apart (joined when it runs), and
# whether each successor gets the join of their edges out
Apart = tuple[list[list[State]], bool]


class PerPathRules:
    """Mixed into the analysis: which blocks run per incoming path, and running them."""

    def _block_edges(self, sub: Subprogram, block: int, st: State,
                     apart: "Apart | None") -> list:
        """The edges out of a block run from `st`, the join of its incoming edges; or,
        given `apart` (`_apart`), run once from the join of each of its groups of incoming
        edges: one edge a group (the block passed `_threads`), its successors getting the
        join of the edges that reach them, or the groups of `_partitions`, each edge out
        kept apart.  That is clang's `err = p + n > end ? -EINVAL : 0; if (err == 0) ... *p`:
        joined first, the state at the test has lost which paths checked the bound; the
        kernel's verifier, which follows each path, keeps it."""
        if apart is None:
            return self._run_block(block, st, sub.end)
        groups, joined = apart
        threaded = [group[0] if len(group) == 1 else merge(group) for group in groups]
        reached: dict[int, list[State]] = {}
        kept: list = []
        for path in threaded:
            try:
                edges = self._run_block(block, path.copy(), sub.end)
            except VerifierError:
                if self._call_parts_paths(sub, block, threaded):
                    # a helper refuses one path's argument (xdp_load_bytes given the
                    # packet): run joined, as before paths were told apart, the helper
                    # checking what it is given when it runs (checked mode; strict
                    # mode refuses the joined argument)
                    return self._run_block(block, st, sub.end)
                if self.checking:
                    raise
                if self.journal is not None:    # the final pass runs it and raises
                    self.journal.dropped = True
                continue                    # (while fixpoints are computed: its path ends)
            if not joined:
                kept += edges
                continue
            for succ, out in edges:
                states = reached.setdefault(succ, [])
                if out is not None:
                    states.append(out)
        if self.checking and self.want_log:
            # the join of the paths, and how they ran (the block's later lines show the
            # last path's or group's state)
            self.log[block] = st.describe() + (
                f" (run once per incoming edge: {len(threaded)})" if joined else
                f" (run once per group of paths kept apart: {len(threaded)})")
        if not joined:
            return kept
        out: list = []
        for succ, states in reached.items():
            if len(states) > 1 and not _in_a_loop(sub, succ) and \
                    self._threads(sub, succ, states, calls=False):
                # a successor that runs apart on what these paths still tell apart (a
                # flag tested again: GRE's checksum bit, which decided both how far the
                # bound was checked and, after the paths met, which byte is read) gets
                # them apart: joined here, what each path checked would be lost first.
                # Not in a loop, where paths kept apart run every trip again (a Life
                # grid's cell loop: 8% more block runs for nothing proven)
                out += [(succ, state) for state in states]
            else:
                out.append((succ, merge(states) if states else None))
        return out

    def _apart(self, sub: Subprogram, block: int, incoming: list[State]) -> "Apart | None":
        """How `block` runs from its incoming edges' states: joined (None), once per
        edge (`_threads`), or once per group of edges (`_partitions`); the groups are
        joined when the block runs (not when the final pass replays its journal).  Never
        at a loop's head (which joins every edge, so that fixpoints converge) or a
        subprogram's first block."""
        if len(incoming) < 2 or block in sub.heads or block == sub.first:
            return None
        if self._threads(sub, block, incoming):
            return [[st] for st in incoming], True
        groups = self._partitions(sub, block, incoming)
        return (groups, False) if groups else None

    def _partitions(self, sub: Subprogram, block: int, incoming: list[State]
                    ) -> list[list[State]] | None:
        """Groups of the incoming edges whose joins make no register a pointer on some
        paths and a number or another pointer on others (or a value of one map or another
        at one offset or another, `_joined_apart`; a stack slot too, for that last),
        where one that the block or a block after it may read would be (`ip` set on
        the IPv4 path, `ip6` on the IPv6 path, each used under its own test of a flag
        after the paths met: tailscale's STUN responder, calico's `tcp = found ? ... :
        NULL` kept through a flag; mizar's agent spills its MAC address's pointer); None
        where there is no such register or more than _PARTS groups.  The kernel's
        verifier follows each path; the groups, run apart and kept apart on the edges out
        (their successors group them again), keep what each knows until the paths meet
        with the register dead or overwritten, or at a loop's head, which joins them."""
        live = self._live_in().get(block, _ALL_REGISTERS)
        # (references named alike, as the merge names them: one socket on every path)
        named = unify_refs(incoming)
        # the registers, and the stack slots, whose joins would lose what they hold
        split = [(reg, None) for reg in range(10) if live >> reg & 1
                 and _lost_in_join([st.regs[reg] for st in named])]
        slots = set(named[0].spills).intersection(*(st.spills for st in named[1:]))
        split += [(None, key) for key in sorted(slots)
                  if _lost_in_join([st.spills[key] for st in named], spilled=True)]
        if not split:
            return None
        groups: list[list[State]] = []
        group_values: list[list[Value]] = []      # each group's join of those values
        for st, same in zip(incoming, named):
            mine = [same.regs[reg] if key is None else same.spills[key]
                    for reg, key in split]
            for group, values in zip(groups, group_values):
                joined = [_joined_apart(v, w) for v, w in zip(values, mine)]
                if None not in joined:
                    group.append(st)
                    values[:] = joined
                    break
            else:
                groups.append([st])
                group_values.append(mine)
        return groups if 1 < len(groups) <= _PARTS else None

    def _live_in(self) -> dict[int, int]:
        """Each block's live-in registers (bpfjit.liveness), found when first wanted."""
        if self.live_in is None:
            self.live_in = block_live_in(self.prog)
        return self.live_in

    def _threads(self, sub: Subprogram, block: int, incoming: list[State],
                 calls: bool = True) -> bool:
        """Whether `block` is run once per incoming edge (see _block_edges): a
        conditional jump on registers that are constants on some incoming edge, or a
        few ALU instructions and stack loads before it (clang -mcpu=v1 zero-extends a
        flag with `lsh 32; rsh 32` first; calico ORs `tcp == NULL` into another flag,
        `r1 = r0 | flag; r1 &= 1`) computing its operands from a register that is a
        different constant on each incoming edge; stores to the stack between them
        change no register.  Further on (`_THREADED_SPAN`), instructions that compute
        something else do not count, for a flag that every edge into the block sets
        itself (gtp-guard's `w4 |= w1; w1 = w4 & 1` with two moves of other registers
        before the jump, each edge's `w1 = 0` or `w1 = 1`; a loop's counter, a
        constant on its first trip alone, would change where its fixpoint goes).  With
        `calls` false, a helper call whose argument the paths tell apart does not
        count."""
        if calls and len(incoming) <= _THREADED_CALL_PATHS and \
                self._call_parts_paths(sub, block, incoming):
            return True
        # the registers, as the block is entered, whose values the jump's operands are
        # computed from (through a few ALU instructions and loads of stack slots)
        origin: list[frozenset[int]] = [frozenset((r,)) for r in range(11)]
        # the pcs of the block's instructions that computed each register's value
        chain: list[frozenset[int]] = [frozenset()] * 11
        pc = block
        for seen in range(_THREADED_SPAN + 1):
            insn = self.prog.at(pc)
            reg_source = insn.spec.source == "reg"
            src = origin[insn.src] if reg_source else frozenset()
            if insn.kind is Kind.JCOND:
                deps = origin[insn.dst] | src
                if pc == block:
                    return any(all(st.regs[r].is_const for r in deps) for st in incoming)
                if seen <= _THREADED_ALU:
                    return any(_told_apart(incoming, r) for r in deps)
                computed = chain[insn.dst] | (chain[insn.src] if reg_source else frozenset())
                return len(computed) <= _THREADED_ALU and any(
                    _told_apart(incoming, r) and self._set_by_every_edge(sub, block, r)
                    for r in deps)
            if insn.kind in MEMORY_KINDS and any(
                    _told_apart(incoming, r) for r in origin[_base(insn)]):
                # an access through an address the paths tell apart (`p + (csum ? 7 :
                # 3)` after `p + (csum ? 8 : 4) <= end`): each path proves its own
                return seen <= _THREADED_ALU
            if insn.kind is Kind.LDX and insn.src == 10:
                origin[insn.dst] = frozenset()      # a slot: no register's value
                chain[insn.dst] = frozenset((pc,))
            elif insn.kind in (Kind.ST, Kind.STX) and insn.dst == 10:
                pass                                # a spill: no register changes
            elif insn.kind is Kind.ALU:
                moved = insn.spec.op in ("mov", "movsx")
                from_src = chain[insn.src] if reg_source else frozenset()
                origin[insn.dst] = src if moved else origin[insn.dst] | src
                chain[insn.dst] = (from_src if moved else chain[insn.dst] | from_src) | {pc}
            else:
                return False
            pc += insn.slots
            if pc in self.leaders or pc >= sub.end:
                return False
        return False

    def _set_by_every_edge(self, sub: Subprogram, block: int, reg: int) -> bool:
        """Whether each block that leads into `block` last writes `reg` with a move of
        an immediate: a flag each edge sets, not a value a loop carries round."""
        preds = sub.preds.get(block)
        if not preds:
            return False
        for pred in preds:
            last = None
            pc = pred
            while True:
                insn = self.prog.at(pc)
                if insn.kind in _WRITES_DST and insn.dst == reg:
                    last = insn
                elif insn.kind in _WRITES_OTHERS and (reg <= 5 or insn.src == reg):
                    last = None                 # (a call's r0-r5, a fetch's src)
                pc += insn.slots
                if pc in self.leaders or pc >= sub.end or insn.kind in (Kind.JA, Kind.JCOND,
                                                                       Kind.EXIT):
                    break
            if last is None or last.kind is not Kind.ALU or last.spec.op != "mov" \
                    or last.spec.source == "reg":
                return False
        return True

    def _call_parts_paths(self, sub: Subprogram, block: int, incoming: list[State]) -> bool:
        """Whether a helper call in `block` takes an argument that is a different kind
        of value on different incoming edges (a packet pointer on one, a stack pointer
        on another; one map or another): `bpf_map_update_elem(ip ? &v4 : &v6, ip ?
        &ip->saddr : &addr6, ...)`.  Joined, the argument is a pointer or a number,
        which no helper takes; per edge, each is a pointer the helper's signature fits,
        as the kernel, which follows each path, sees it (gamemann/XDP-Firewall).  Or a
        stack pointer at a different constant offset on each edge (clang's one call
        for keys in several places, netobserv's counters): joined, it would read the
        bytes between them too."""
        sources = self.call_sources.get(block)
        if sources is None:
            sources = self.call_sources[block] = self._call_sources(sub, block)
        return any(_parted(incoming, r) for r in sources)

    def _call_sources(self, sub: Subprogram, block: int) -> tuple[int, ...]:
        """The registers, as the block is entered, whose values a helper call in it
        takes as arguments: an argument copied in the block (`mov r2, r7`, then moved by
        a constant) is its source's value; () when no helper is called before the
        block ends.  The program's alone: found once per block."""
        origin: list[int | None] = list(range(11))     # an incoming register's value
        pc = block
        while pc < sub.end:
            insn = self.prog.at(pc)
            if insn.kind is Kind.CALL:
                signature = self.signatures.get(insn.imm)
                count = len(signature.args) if signature is not None else 0
                return tuple(r for r in origin[1:count + 1] if r is not None)
            if insn.kind in (Kind.JA, Kind.JCOND, Kind.EXIT, Kind.CALL_LOCAL, Kind.CALLX,
                             Kind.CALL_BTF):
                return ()
            written = use_def(insn)[1]
            spec = insn.spec
            if insn.kind is Kind.ALU and spec.width == 64 and spec.op == "mov" \
                    and spec.source == "reg":
                origin[insn.dst] = origin[insn.src]     # a copy (`mov r2, r7`)
            elif insn.kind is Kind.ALU and spec.width == 64 and spec.op in ("add", "sub") \
                    and spec.source == "imm":
                pass                                    # moved by a constant: its kind stays
            else:
                for r in range(11):
                    if written >> r & 1:
                        origin[r] = None
            pc += insn.slots
            if pc in self.leaders:
                return ()
        return ()


def _lost_in_join(values: list[Value], spilled: bool = False) -> bool:
    """Whether joining a register's (or a stack slot's) values on the incoming edges
    loses what each is (`_joined_apart`); none already mixed.  A slot counts only for
    values of different maps at different offsets (a pointer spilled across a call:
    mizar's agent keeps a MAC address's, 4 bytes into a flow cache's value or 0x458
    into its metadata's, across bpf_xdp_adjust_head), and for a pointer into the
    packet on some paths and into the frame on others (a header read in place where
    the packet has it, else copied to the stack first: the kernel selftest
    cls_redirect keeps the one it got in a struct on the stack).  Not a slot that is a
    pointer on some paths and a number on others, or spilled on some paths only: with
    no liveness of slots, too often one a path no longer reads (the paths kept apart
    for such slots cost 6% more verification over 860 programs, and proved nothing
    more there)."""
    if any(v.kind == MIXED for v in values):
        return False
    if spilled and not all(v.kind in _MAP_VALUES for v in values) \
            and not all(v.kind in _SCRATCH for v in values):
        return False
    joined = values[0]
    for v in values[1:]:
        joined = _joined_apart(joined, v)
        if joined is None:
            return True
    return False


def _joined_apart(a: Value, b: Value) -> Value | None:
    """The join of two values of a register, or None where it loses what each is: a
    pointer with a number or another kind of pointer (MIXED), or values of different
    maps at different offsets (each offset would be taken for either map)."""
    joined = join(a, b)
    if joined.kind == MIXED:
        return None
    if joined.kind in _MAP_VALUES and a.kind in _MAP_VALUES and b.kind in _MAP_VALUES \
            and a.maps != b.maps and (a.smin, a.smax) != (b.smin, b.smax):
        return None
    return joined


def _in_a_loop(sub: Subprogram, block: int) -> bool:
    return any(block in body for body in sub.loop_bodies.values())


def _base(insn) -> int:
    """The register an access's address is computed from."""
    return insn.src if insn.kind is Kind.LDX else insn.dst


def _told_apart(incoming: list[State], reg: int) -> bool:
    """Register `reg` is a constant on every incoming edge, not the same on all."""
    values = [st.regs[reg] for st in incoming]
    return all(v.is_const for v in values) and len({v.umin for v in values}) > 1


def _parted(incoming: list[State], reg: int) -> bool:
    """Register `reg` holds values of different kinds (or handles of different maps, or
    stack pointers at different constant offsets) on the incoming edges, none of them
    already mixed."""
    values = [st.regs[reg] for st in incoming]
    kinds = {v.kind for v in values}
    if MIXED in kinds or UNINIT in kinds:
        return False
    if kinds == {STACK}:        # one frame's slots at a constant offset on each edge
        return len({v.frame for v in values}) == 1 and len({v.smin for v in values}) > 1 \
            and all(v.smin == v.smax for v in values)
    return len(kinds) > 1 or (kinds == {MAP_PTR} and len({v.maps for v in values}) > 1)
