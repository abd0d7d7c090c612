"""Local calls and exits in the abstract (bpf-to-bpf calls, mixed into the analysis).

A local call's callee is analysed from the join of the states its call sites pass
(arguments, their relations, the buffer length known), and leaves a summary for its
callers: r0 at its exits (uninitialised if some exit does not set it: a `void`
function; only a caller that reads r0 is then wrong, as in the kernel), the least
buffer length every return has shown, and for each range of r0 the least length the
returns with r0 there have shown (a parser's "too short" result: the caller's test of
r0 gives the length back, as the kernel's path-by-path walk of the callee does), and
which bytes of its callers' frames it may have written, so that their spills and
written-byte masks stay true, with how far the packet was checked beyond a packet
pointer it stored there (netobserv's parser keeps the L4 header's pointer in its
caller's struct, checked for the header's size).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..context import CONTEXTS
from ..helpers.timers import TIMER_CALLBACK
from ..isa import MAX_CALL_DEPTH, STACK_SIZE
from .domain import (ADDRESSES, ANY_CALLER, CTX, MAP_OR_NULL, MAP_VALUE, MEM, MEM_OR_NULL,
                     NULLABLE, SCALAR, STACK, STACK_OR_NULL, UNINIT, Value, join, pointer,
                     replace, top_scalar, widen)
from .guards import exit_guards, joined_exit_floors, joined_exit_guards, returned_guard
from .joins import len_bound_of
from .state import LEN, META, State, frame_bits, outer_slot, slot_depth, slot_var
from .zonerename import renamed

__all__ = ["LocalCallRules", "Summary", "MAX_SHAPES"]

MAX_SHAPES = 4          # analyses of one subprogram for its pointer arguments, at most



@dataclass
class Summary:
    """What callers learn from a subprogram's returns."""
    r0: Value | None = None            # join over its exits; None: it has not returned yet
    min_len: int | None = None         # every return has seen a buffer at least this long
    # ((lo, hi, len), ...): the returns with r0 in [lo, hi] have seen at least len bytes
    # (zone.lenfloors' form); None: r0 tells nothing of the length
    r0_floors: tuple | None = None
    # frame depth (1 = the caller's) -> the bytes it may have written there (bit i: the
    # byte at offset i - STACK_SIZE, as State.written)
    frame_writes: dict[int, int] = field(default_factory=dict)
    unknown_writes: bool = False       # it wrote through a pointer the verifier lost
    # the spills in its callers' frames (keys as it sees them) every return keeps: what
    # a callee stored through the pointer it was given (a cursor it moved on)
    frame_values: dict[int, Value] | None = None
    # of those that are packet pointers (or NULL): c with `slot - len <= c` where the
    # slot is not NULL, on every return (None: NULL on every return so far)
    frame_len_bounds: dict[int, int | None] | None = None
    # of those, the ones a narrow store left (key -> its width): `*out = h` of a u32
    frame_widths: dict[int, int] = field(default_factory=dict)
    # of those that are NULL on some returns: r0's ranges where they are NULL and where
    # they are not (guards.exit_guards; None before the first return)
    frame_guards: dict | None = None
    changes: int = 0                   # analyses that changed it (recursion widens it)

    def key(self) -> tuple:
        return (self.r0, self.min_len, self.r0_floors,
                tuple(sorted(self.frame_writes.items())),
                self.unknown_writes, tuple(sorted((self.frame_values or {}).items())),
                tuple(sorted((self.frame_len_bounds or {}).items())),
                tuple(sorted(self.frame_widths.items())),
                tuple(sorted((self.frame_guards or {}).items())))



class LocalCallRules:
    """Mixed into the analysis: CALL_LOCAL and EXIT."""

    # ---- local calls ------------------------------------------------------------------------

    def _local_call(self, pc: int, insn, st: State) -> bool:
        """Enter the callee with this call site's arguments and apply its summary;
        False while the callee has not returned on any path yet (nothing follows)."""
        target = pc + 1 + insn.imm
        self._no_socket_arguments(pc, st)
        self._remnants_stay(pc, st, "the call")
        self._records_to_callee(st)
        summary = self._call_subprogram(self._callee_key(target, st, pc),
                                        None if self.checking else self._callee_entry(st), pc)
        if summary is None:
            return False
        self._apply_frame_effects(st, summary)
        self._clobber_after_call(st)
        r0 = summary.r0
        if r0.kind == UNINIT:           # a `void` function: fine unless r0 is read
            r0 = Value(UNINIT, ident=target + 1)
        elif r0.kind in _FRAMED:    # the callee's frame is gone; its callers' move down one
            r0 = _returned(r0)      # (NULL on some paths too: a stack pointer or NULL)
        st.forget_register(0, r0)
        for key, exit_guard in (summary.frame_guards or {}).items():
            mine = key + STACK_SIZE
            v = st.spills.get(mine)
            held = (summary.frame_values or {}).get(key)
            guard = None if v is None or held is None or v != _returned(held) \
                else returned_guard(exit_guard, v)
            if guard is not None:       # the slot is NULL or not as r0 tells
                st.zone.guards[(slot_var(mine), 0)] = guard
        floors = summary.r0_floors
        if floors is not None and max(m for _, _, m in floors) > st.min_len:
            st.zone.lenfloors[0] = floors
        return True

    def _callee_key(self, target: int, st: State, site: int) -> int:
        """The analysis of the subprogram at `target` that a call from `st` enters.  Its
        calls' states are joined, but not those that pass pointers of different kinds
        in the same register (joined, a number), or stack pointers into frames at
        different depths (joined, "some caller's" frame, whose contents are unknown).
        The kernel selftest cls_redirect's subprogram build calls its header walker at
        two depths below the frame holding the buffer's struct, where the context
        pointer spilled there became a number, and its TCP classifier with a header in
        the packet from one call and a copy on the stack from another: the program was
        refused.  Each such shape of pointer arguments gets an analysis of its own, as
        the kernel, which follows each call, sees them: the first under the pc itself,
        the n-th more under pc + n << 32; a recursive program (a shape per depth) or
        more than MAX_SHAPES shapes join as before."""
        if self.recursive:
            return target
        shape = {reg: (_SHAPED[v.kind], v.frame if v.kind in _FRAMED else 0)
                 for reg, v in enumerate(st.regs[1:6], 1)
                 if v.kind in _SHAPED and not (v.kind in _FRAMED and v.frame < 0)}
        known = self.shapes.setdefault(target, [])
        for index, other in enumerate(known):
            if all(other.get(reg, kind) == kind for reg, kind in shape.items()):
                other.update(shape)         # (joined with it: its pointers are these too)
                key = target + (index << 32)
                break
        else:
            if self.checking:
                # a shape the fixpoint never passed (the descending final pass narrowed
                # the state): the analysis its run of this call entered covers it
                return self.call_keys.get((self.current, site), target)
            if known and len(known) >= MAX_SHAPES:
                key = target
            else:
                known.append(shape)
                key = target + ((len(known) - 1) << 32)
        self.call_keys[(self.current, site)] = key
        return key

    def _call_subprogram(self, target: int, entry: State | None, site: int
                         ) -> Summary | None:
        """Pass `entry` to the subprogram at `target` (not in the final pass, which
        only reads summaries); its summary, or None while it has not returned on any
        path yet (the caller waits)."""
        if entry is not None:
            self._enter(target, entry, site)
        summary = self.summaries.get(target)
        if self.journal is not None:        # what a replay of this run depends on
            self.journal.depends.append((target, None if summary is None else summary.key()))
        if summary is None or summary.r0 is None:
            self._waiting[target].add(self.current)
            return None
        return summary

    def _apply_frame_effects(self, st: State, summary: Summary) -> None:
        """What a callee's returns did to its callers' frames and learned of the
        buffer, applied to the caller's state `st` (r0 and r1-r5 are the caller's to set)."""
        for depth, bits in summary.frame_writes.items():
            if depth == ANY_CALLER:     # this frame, or one of this function's callers'
                for mine in range(MAX_CALL_DEPTH):
                    st.write_bits(bits, mine)
                self._note_frame_bits(ANY_CALLER, bits)
            else:                       # depth 1 is this frame, the others callers'
                st.write_bits(bits, depth - 1)
                self._note_frame_bits(depth - 1, bits)
        if summary.unknown_writes:
            self._forget_frame(st)
            self._note_frame_write(None, 0, 0)
        bounds = summary.frame_len_bounds or {}
        for key, v in (summary.frame_values or {}).items():
            mine = key + STACK_SIZE             # one frame less far up from here
            if mine not in st.spills:           # written by the callee: as it left it
                st.spills[mine] = _returned(v)
                if key in summary.frame_widths:
                    st.narrow[mine] = summary.frame_widths[key]
                c = bounds.get(key)
                if c is not None and v.kind == MEM:
                    st.zone.add(slot_var(mine), LEN, c)
                elif c is not None and v.kind == MEM_OR_NULL and v.frame == 0:
                    st.zone.ifset[slot_var(mine)] = c
        if summary.min_len is not None and summary.min_len > st.min_len:
            st.clamp(LEN, summary.min_len, None)

    @staticmethod
    def _callee_entry(st: State) -> State:
        """The callee's state at entry: the arguments and their relations, and the
        spills in the callers' frames that a stack pointer among them reaches (a struct
        the caller passed by address, and what pointers stored there reach), seen from
        one frame further down."""
        regs = [Value(UNINIT)] * 11
        for i in range(1, 6):
            regs[i] = _passed(st.regs[i])
        regs[10] = pointer(STACK, 0, 0)
        names = {i: i for i in range(1, 6)}
        names[LEN], names[META] = LEN, META
        spills = {}
        wanted = {v.frame for v in regs[1:6] if v.kind in _FRAMED and v.frame > 0}
        done = set()
        while wanted - done:
            depth = min(wanted - done)
            done.add(depth)
            if depth >= MAX_CALL_DEPTH:
                continue
            for key, v in st.spills.items():
                if slot_depth(key) == depth - 1 and key not in st.narrow:
                    passed = spills[outer_slot(1, key)] = _passed(v)
                    names[slot_var(key)] = slot_var(outer_slot(1, key))
                    if passed.kind in _FRAMED and passed.frame > 0:
                        wanted.add(passed.frame)
        return State(regs, spills, 0, renamed(st.zone, names), st.min_len)

    def _note_frame_write(self, depth: int | None, lo: int, hi: int) -> None:
        """The current subprogram writes its caller's (depth 1), its caller's caller's
        (2)... frame at offsets [lo, hi), or one of them (ANY_CALLER); depth None:
        somewhere unknown."""
        self._note_frame_bits(depth, frame_bits(lo, hi))

    def _note_frame_bits(self, depth: int | None, bits: int) -> None:
        """The same for the frame's bytes set in `bits` (State.written's layout)."""
        summary = self._summary(self.current)
        if depth is None:
            summary.unknown_writes = True
        elif depth != 0 and bits:
            summary.frame_writes[depth] = summary.frame_writes.get(depth, 0) | bits

    # ---- exits ------------------------------------------------------------------------------

    def _exit(self, pc: int, st: State) -> None:
        if self.current != 0:
            self._records_from_callee(st)
        self._references_at_exit(pc, st)
        if self.current == 0:           # the program's end (a recursive call of it too)
            r0 = self._read(st, 0, pc)
            if self.mode == "strict" and r0.kind in ADDRESSES:
                self.fail(pc, f"strict mode: the program returns a pointer "
                              f"({r0.describe()}), which would leak an address")
            returns = CONTEXTS[self.context].returns(self.attach_type, self.prog_type) \
                if self.context in CONTEXTS else None
            if self.attach_type == TIMER_CALLBACK and (r0.kind != SCALAR or r0.umax != 0):
                self.fail(pc, f"a timer callback returns 0, as the kernel checks; r0 may be "
                              f"{r0.describe()}")
            if returns is not None and (r0.kind != SCALAR or r0.umin < returns[0]
                                        or r0.umax > returns[1]):
                lo, hi = returns
                self.fail(pc, f"a {self.attach_type or self.prog_type} program returns "
                              f"{lo if lo == hi else f'{lo} to {hi}'}, as the kernel "
                              f"checks; r0 may be {r0.describe()}")
        summary = self._summary(self.current)
        r0 = st.regs[0]
        first = summary.r0 is None
        growing = self.recursive and summary.changes > self.widen_after   # make it converge
        if first:
            summary.r0 = r0
        elif growing:
            summary.r0 = widen(summary.r0, join(summary.r0, r0), self.thresholds[0])
        else:
            summary.r0 = join(summary.r0, r0)
        summary.r0_floors = None if growing or (not first and summary.r0_floors is None) \
            else joined_exit_floors(summary.r0_floors, st)
        summary.min_len = st.min_len if summary.min_len is None else min(summary.min_len,
                                                                         st.min_len)
        outer = {key: v for key, v in st.spills.items() if slot_depth(key) > 0}
        widths = {key: st.narrow[key] for key in outer if key in st.narrow}
        bounds = _frame_len_bounds(st, outer)
        summary.frame_guards = {} if growing else joined_exit_guards(
            summary.frame_guards,       # (a narrow store's 0 is no NULL pointer: whole slots)
            exit_guards(st, {key: (slot_var(key), v) for key, v in outer.items()
                             if key not in widths}))
        if summary.frame_values is None:
            summary.frame_values = outer
            summary.frame_widths = widths
            summary.frame_len_bounds = bounds
        else:
            # (a slot left at different widths by different returns: its value is lost)
            summary.frame_values = {
                key: widen(v, join(v, outer[key])) if growing else join(v, outer[key])
                for key, v in summary.frame_values.items()
                if key in outer and summary.frame_widths.get(key, 8) == widths.get(key, 8)}
            summary.frame_widths = {key: w for key, w in widths.items()
                                    if key in summary.frame_values}
            summary.frame_len_bounds = {
                key: _weaker(c, bounds[key])
                for key, c in (summary.frame_len_bounds or {}).items()
                if key in bounds and not (growing and c != bounds[key])}

    def _summary(self, sub: int) -> Summary:
        summary = self.summaries.get(sub)
        if summary is None:
            summary = self.summaries[sub] = Summary()
        return summary



_FRAMED = (STACK, STACK_OR_NULL)       # values whose `frame` is a stack frame's depth
# the pointer arguments whose kind (and frame) tell a subprogram's analyses apart
# (LocalCallRules._callee_key), as the kind a NULL test leaves: a pointer or NULL
# joins its pointer with no loss
_SHAPED = {MEM: MEM, MEM_OR_NULL: MEM, STACK: STACK, STACK_OR_NULL: STACK, CTX: CTX,
           MAP_VALUE: MAP_VALUE, MAP_OR_NULL: MAP_VALUE}


def _frame_len_bounds(st: State, outer: dict[int, Value]) -> dict[int, int | None]:
    """Of the callers' slots `outer` at a return in state `st`: c with `slot - len <= c`
    for the packet pointers (and the pointers or NULL that have one where they are
    not NULL), None for NULL; a slot with neither is left out."""
    out: dict[int, int | None] = {}
    for key, v in outer.items():
        var = slot_var(key)
        if v.kind == SCALAR and v.is_const and v.umin == 0:
            out[key] = None
        elif v.kind == MEM:
            c = len_bound_of(st, var, v)
            if c is not None:
                out[key] = c
        elif v.kind == MEM_OR_NULL and v.frame == 0 and var in st.zone.ifset:
            out[key] = st.zone.ifset[var]
    return out


def _weaker(a: int | None, b: int | None) -> int | None:
    """The bound that holds where either does (None: NULL there, no bound to weaken)."""
    return b if a is None else a if b is None else max(a, b)


def _returned(v: Value) -> Value:
    """A callee's value as its caller sees it after the return: a stack pointer's frame
    is one less far up (the callee's own is gone), and a map value or NULL unlinked."""
    if v.kind in _FRAMED:
        return replace(v, frame=v.frame - 1, ident=0) if v.frame >= 1 else top_scalar()
    if v.kind in NULLABLE:
        return replace(v, ident=0)
    return v


def _passed(v: Value) -> Value:
    """A caller's value as its callee sees it: a stack pointer's frame is one further
    up, and a map value or NULL is no longer linked to its copies (they stay behind)."""
    if v.kind in _FRAMED and v.frame != ANY_CALLER:
        return replace(v, frame=v.frame + 1, ident=0)
    if v.kind in NULLABLE:
        return replace(v, ident=0)
    return v
