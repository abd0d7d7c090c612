"""Loads, stores and atomics in the abstract: bounds, regions, what a check tells.

An access is proven when, in the state that reaches it, every address it may touch
lies in one region: the buffer (offset >= 0 and offset + size <= len, where the zone
may know offset <= len - k although neither is a constant), the stack frame the
pointer is in, or the value of every map it may point into.

The current frame is tracked byte by byte (which bytes some path may have written)
and as spilled 8-byte slots, whose values are zone variables, so that a pointer or a
bound spilled under register pressure comes back with its relations
(bpfjit.verifier.frames).  A write the verifier cannot place (through a pointer it
lost track of) may hit any live frame, so it forgets every spill, here and, through
the call summary, in the callers.
"""

from __future__ import annotations

from ..cfg import top_frame_end
from ..context import CONTEXTS, context_field
from ..isa import MAX_CALL_DEPTH, STACK_SIZE, Kind
from ..liveness import use_def
from ..maps import RingBuf
from .domain import (ADDRESSES, CTX, CTX_OR_NULL, FUNC, MAP_KEY, MAP_OR_NULL, MAP_PTR,
                     MAP_PTR_OR_NULL, MAP_VALUE, MAX_LEN, MEM, MEM_OR_NULL, MIXED,
                     PACKET_OR_NUMBER, S64_MAX, S64_MIN, SOCK_COMMON_OR_NULL, SOCKET,
                     SOCKET_OR_NULL, SOCKETS, STACK, U64, Value, const, map_indices,
                     offset_align, pointer, scalar)
from .bytecaps import load_bound
from .state import LEN, META, State, frame_bits, outer_slot, slot_depth

__all__ = ["MemoryRules"]

_LEAKS = ADDRESSES | {MIXED}       # a stored value whose bytes may be an address
_REWRITTEN = frozenset(("ctx", "sock"))     # regions whose loads are rewritten per field
# the program types whose packet is theirs to read only (the kernel's
# may_access_direct_pkt_data)
_READ_ONLY_PACKET = frozenset(("cgroup_skb",))
# a context's `sk` field kinds (bpfjit.context.base.Field) and what a load of it gives
_SOCKET_FIELDS = {"socket": SOCKET, "socket_or_null": SOCKET_OR_NULL,
                  "sock_common_or_null": SOCK_COMMON_OR_NULL}
# the widest range of offsets into read-only data whose values a load's range is taken
# from (a 4 KB table; wider ones give the load's whole range, as the kernel does)
_TABLE_SPAN = 4096


def _table_extent(data: bytes, size: int, signed: bool, step: int = 1) -> tuple[int, int]:
    """The least and greatest `size`-byte little-endian number at every `step`-th offset
    of `data` from its start."""
    if size == 1 and not signed and step == 1:
        return min(data), max(data)
    values = [int.from_bytes(data[i:i + size], "little", signed=signed)
              for i in range(0, len(data) - size + 1, step)]
    return min(values), max(values)


def pointer_slots(st: State, depth: int, lo: int, end: int) -> list[int]:
    """The keys of the spilled slots of frame `depth` (0: the current one) that hold a
    pointer and share a byte with the frame's bytes [lo, end)."""
    shift = depth * STACK_SIZE
    return sorted(key for key, v in st.spills.items() if v.kind in _LEAKS
                  and slot_depth(key) == depth and key + shift < end and lo < key + shift + 8)


def _offset_step(base: Value, off: int, lo: int, hi: int) -> tuple[int, int, int]:
    """(first, last, step): the offsets from r10 in [lo, hi] that an access at `off`
    from the stack pointer `base` can reach, every `step` bytes from first to last:
    its offset is a multiple of 2^k (`offset_align`: moved by `i << 2`), so the
    access's are `off` modulo 2^k (at most 8 apart: an array's element size)."""
    step = 1 << min(offset_align(base), 3)
    if step == 1:
        return lo, hi, 1
    first = lo + (off - lo) % step
    last = hi - (hi - off) % step
    if first > last:                        # (nothing left: the access traps)
        return lo, hi, 1
    return first, last, step


class MemoryRules:
    """Mixed into the analysis: LDX, LDSX, ST, STX, ATOMIC."""

    def _memory(self, pc: int, insn, st: State) -> None:
        kind, spec = insn.kind, insn.spec
        base_reg = insn.src if kind in (Kind.LDX, Kind.LDSX) else insn.dst
        base = self._read(st, base_reg, pc)
        # a buffer pointer on the paths that use it, a number on others: checked against
        # the buffer alone at run time (region "mem", never proven), so the stack stays
        packet_only = st.regs[base_reg] == PACKET_OR_NUMBER
        if packet_only:
            base = pointer(MEM, S64_MIN, S64_MAX)
        size, off = spec.size, insn.off
        writes = kind in (Kind.ST, Kind.STX, Kind.ATOMIC)
        value = self._read(st, insn.src, pc) if kind in (Kind.STX, Kind.ATOMIC) else None
        if kind is Kind.STX and st.regs[insn.src] == PACKET_OR_NUMBER:
            value = PACKET_OR_NUMBER        # spilled as it is: a reload gives it back
        # cmpxchg compares r0 with memory
        compared = self._read(st, 0, pc) if kind is Kind.ATOMIC and spec.op == "cmpxchg" \
            else None
        if self.mode == "strict" and any(v is not None and v.kind in _LEAKS
                                         for v in (value, compared)):
            self._stored_pointer(pc, insn, base, size)
        if base.kind == CTX:
            self._context_access(pc, insn, st, base, writes)
            return
        if base.kind in SOCKETS:
            self._socket_access(pc, insn, st, base_reg, base, writes)
            return
        if base.kind in (MAP_PTR, MAP_PTR_OR_NULL, FUNC, CTX_OR_NULL) \
                or base.kind == MAP_OR_NULL and self.mode == "strict":
            what = "a map handle, not memory" if base.kind == MAP_PTR else \
                "a subprogram's address, not memory" if base.kind == FUNC else \
                "a map value or NULL: compare it with 0 before using it" \
                if base.kind == MAP_OR_NULL else \
                "the context or NULL: compare it with 0 before using it" \
                if base.kind == CTX_OR_NULL else "a map (from a map of maps) or NULL"
            self.fail(pc, f"r{base_reg} is {what}")
        if writes and base.kind in (MEM, MEM_OR_NULL) and self.prog_type in _READ_ONLY_PACKET:
            self.fail(pc, f"{self.prog_type} programs may not write the packet (the kernel "
                          f"lets them read it only: \"cannot write into packet\")")
        if base.kind == MEM_OR_NULL and self.mode == "strict":
            # checked mode checks it at run time, as any access it cannot prove
            self.fail(pc, f"strict mode: r{base_reg} is a packet pointer or NULL: compare it "
                          f"with 0 before using it")
        untested = base.kind == MAP_OR_NULL
        if untested:
            # a map value or NULL used untested: the kernel refuses it (strict mode, above);
            # checked mode checks it at run time, where NULL lies in no region -- its own
            # NULL test may be one the verifier cannot follow (a flag, a join) -- so past
            # it the value is not NULL, as its test would make it
            self._null_check(st, base_reg, base, False)
            base = st.regs[base_reg]
        lo, hi = base.smin + off, base.smax + off
        ok = not packet_only and self._in_bounds(st, base_reg, base, off, size)
        if base.kind == MAP_VALUE:
            self._map_value_rules(pc, base_reg, base, off, size, ok, writes)
        elif base.kind == MAP_KEY:
            self._map_key_rules(pc, base_reg, base, off, size, ok, writes)
        if untested:
            ok = False                  # (checked at run time)
        if self.mode == "strict" and base.kind == STACK and base.frame >= 0:
            self._pointer_bytes(pc, insn, st, base.frame, lo, hi, size)
        self._fact(self._note_access, pc, base, ok, lo, hi, size)
        if not self.checking:
            self.first_verdicts.setdefault(pc, ok)
            if not ok and self.watch is not None:
                self.watch(self, pc)
        loaded = None
        if base.kind == STACK and base.frame == 0:
            lo, hi, step = _offset_step(base, off, lo, hi)
            loaded = self._own_frame(pc, insn, st, lo, hi, size, ok, writes, value, step)
        elif base.kind == STACK:
            loaded = self._caller_frame(insn, st, base.frame, lo, hi, size, ok, value)
        elif base.kind == MAP_VALUE and ok and not writes:
            loaded = self._constant_data(insn, st, base, *_offset_step(base, off, lo, hi),
                                         size)
        elif writes and base.kind not in (MEM, MAP_VALUE):
            # a pointer the verifier lost track of may point into any live frame
            self._forget_frame(st)
            self._note_frame_write(None, 0, 0)
        if not ok and not packet_only and self.mode != "unchecked" \
                and not (use_def(insn)[1] >> base_reg & 1):
            self._passed_check(st, base_reg, base, off, size, spread=not writes)
            if kind is Kind.LDX and loaded is None and base.kind == STACK \
                    and base.frame == 0:
                loaded = self._checked_frame_load(insn, st, base, off, lo, hi, size)
        if kind in (Kind.LDX, Kind.LDSX):
            if loaded is None:
                bits = size * 8
                loaded = scalar(0, (1 << bits) - 1) if kind is Kind.LDX else \
                    scalar(smin=-(1 << (bits - 1)), smax=(1 << (bits - 1)) - 1)
                st.forget_register(insn.dst, loaded)
        elif kind is Kind.ATOMIC:
            result = scalar(0, (1 << spec.width) - 1)
            if spec.op == "cmpxchg":
                st.forget_register(0, result)
            elif spec.fetch:
                st.forget_register(insn.src, result)

    def _checked_frame_load(self, insn, st: State, base: Value, off: int, lo: int, hi: int,
                            size: int) -> Value | None:
        """A checked load through a pointer into the entry subprogram's frame, which is
        the top one (no call enters it): past its check it read the frame, so what its
        bytes may hold bounds it (State.caps) -- a list walked through a u8 field of an
        array of structs, `p = t[p].next`, whose index nothing else bounds."""
        if not self._entry_frame_on_top() or st.caps is None:
            return None
        lo, hi = max(lo, -STACK_SIZE), min(hi, -size)
        if lo > hi:
            return None
        lo, hi, step = _offset_step(base, off, lo, hi)
        bound = load_bound(st.caps, lo, hi, size, step)
        if bound is None:
            return None
        st.forget_register(insn.dst, scalar(0, bound))
        return st.regs[insn.dst]

    def _passed_check(self, st: State, reg: int, base: Value, off: int, size: int,
                      spread: bool) -> None:
        """After a checked access through `reg` the run goes on only if the check passed
        (checked and strict modes; unchecked mode makes no check, and learns nothing):
        `reg + off` points into the live frames (for a pointer into this frame: at most
        512 bytes under its top, and no higher than the top of the entry subprogram's
        frame) or into the buffer (`off + size` bytes at most up to its end).  A
        pointer stepped round a loop whose exit does not bound it stays bounded so (a
        step more would wrap its widened offset to an unknown one, and a store through
        it could then hit any slot of the frame).  After a load (`spread`) what the
        check narrowed is passed on to the variables related to the pointer: the index
        it was made of is bounded too (a search `while (list[j] != c) j++`, bounded only
        by the check, leaves j below the list's length).  Not after a store: an output
        cursor narrowed so on the loop's first trips, and not on later ones (where the
        array it writes is one of two), made its loop head creep up for some twenty joins
        and lose its bounds (corpus `merge`: two proofs and 1.36x -> 1.68x native)."""
        if base.kind == STACK and base.frame == 0:
            top = 0 if self._entry_frame_on_top() else (MAX_CALL_DEPTH - 1) * STACK_SIZE
            lo, hi = -STACK_SIZE - off, top - size - off
            narrowed = spread and st.narrows(reg, lo, hi)
            if st.clamp(reg, lo, hi) and narrowed:
                st.tighten(reg)
        elif base.kind == MEM:
            narrowed = spread and st.narrows(reg, -off, MAX_LEN - size - off)
            if st.clamp(reg, -off, MAX_LEN - size - off):
                st.zone.add(reg, LEN, -(off + size))        # reg + off + size <= len
                if narrowed:
                    st.tighten(reg)

    def _entry_frame_on_top(self) -> bool:
        """Whether the frame of the subprogram analysed is the top one: the entry's,
        when no call enters it (a checked access past its check then lay in it)."""
        return self.current == 0 and top_frame_end(self.prog)

    def _stored_pointer(self, pc: int, insn, base: Value, size: int) -> None:
        """Strict mode: a pointer may be stored whole into the stack only (a spill); into
        the buffer, a map value or the context its user could read it, and a part of it,
        or an atomic with it, is a number."""
        if insn.kind is Kind.ATOMIC:
            self.fail(pc, "strict mode: an atomic with a pointer operand would make an "
                          "address a number (the kernel refuses such leaks)")
        where = {MEM: "the buffer", MAP_VALUE: "a map value", CTX: "the context"}.get(base.kind)
        if where is not None:
            self.fail(pc, f"strict mode: stores a pointer into {where}, where the "
                          f"program's user could read it (the kernel refuses pointer leaks)")
        if size < 8:
            self.fail(pc, f"strict mode: stores part of a pointer ({size} of its 8 bytes), "
                          f"which would make an address a number (the kernel refuses such "
                          f"leaks)")
        if base.kind != STACK or base.smin != base.smax:
            self.fail(pc, "strict mode: stores a pointer where the verifier cannot keep it "
                          "as a spill (a variable offset), so that reading it back would "
                          "make an address a number (the kernel refuses such leaks)")

    def _pointer_bytes(self, pc: int, insn, st: State, depth: int, lo: int, hi: int,
                       size: int) -> None:
        """Strict mode: an access to the stack reads a spilled pointer whole or not at
        all, and never the bytes of one that a narrower store left (`State.remnants`):
        a part of it read, or changed by an atomic, is a number made of an address.  A
        store at a constant offset of the current frame may leave part of one behind, as
        the kernel lets a privileged program do: those bytes are remnants until written
        over; elsewhere a store replaces a pointer whole or not at all."""
        store = insn.kind in (Kind.ST, Kind.STX)
        if depth == 0 and not store and st.remnants & frame_bits(lo, hi + size):
            self.fail(pc, f"strict mode: reads part of a spilled pointer that a narrower "
                          f"store wrote over the rest of (in r10{lo:+d} to "
                          f"r10{hi + size:+d}), whose bytes would become a number (the "
                          f"kernel refuses such leaks)")
        slots = pointer_slots(st, depth, lo, hi + size)
        if not slots:
            return
        whole = lo == hi and size == 8 and slots == [outer_slot(depth, lo)]
        if whole and insn.kind is not Kind.ATOMIC:
            return
        if store and depth == 0 and lo == hi:
            left = 0
            for key in slots:
                left |= frame_bits(key, key + 8)
            st.remnants |= left & ~frame_bits(lo, lo + size)
            return
        at = slots[0] + depth * STACK_SIZE
        what = "an atomic on a spilled pointer" if insn.kind is Kind.ATOMIC else \
            "a store that leaves part of a spilled pointer" if store \
            else "reads part of a spilled pointer"
        self.fail(pc, f"strict mode: {what} (at r10{at:+d}{f' in caller {depth}' if depth else ''})"
                      f", whose bytes would become a number (the kernel refuses such leaks)")

    def _remnants_stay(self, pc: int, st: State, what: str) -> None:
        """Strict mode: a call that is given a pointer into the current frame (a local
        call, a callback's context) while part of a spilled pointer is left in it: the
        callee could read those bytes, which its own state does not mark; refused."""
        if self.mode != "strict" or not st.remnants:
            return
        for reg in range(1, 6):
            v = st.regs[reg]
            if v.kind == STACK and v.frame == 0:
                self.fail(pc, f"strict mode: {what} is given a pointer into the frame "
                              f"(r{reg}) while part of a spilled pointer that a narrower "
                              f"store wrote over is left in it, whose bytes would become a "
                              f"number if read (the kernel refuses such leaks)")

    def _note_access(self, pc: int, base: Value, ok: bool, lo: int, hi: int,
                     size: int) -> None:
        """The final pass's facts about an access: proven or not, its region, the
        extent of an unproven buffer access, a proven one's varying offset."""
        region = {MEM: "mem", STACK: "stack", MAP_VALUE: "map", MAP_KEY: "key"}.get(base.kind)
        own = ok                            # this run's verdict; ok: every run's so far
        ok, region = self._note_verdict(pc, ok, region)
        if not ok and region != "mem":
            # a run-time check that admits the live frames: any of their bytes
            self._note_stack_reach(STACK_SIZE)
        elif base.kind == STACK:
            self._note_stack_reach(-lo)
        if not ok:
            # the extent from the buffer's start of every run the check guards: a run
            # checked outside the buffer's range (below its start, or not into it)
            # leaves the access without one for good (None), whatever runs after it add
            # -- a run's own extent alone once let a loop's entry test cover [0, 1)
            # while another run read the byte before the buffer, unchecked
            if base.kind == MEM and 0 <= lo and hi + size <= MAX_LEN:
                seen = self.extents.get(pc, (lo, hi + size))
                if seen is not None:
                    self.extents[pc] = (min(seen[0], lo), max(seen[1], hi + size))
            elif not own:
                self.extents[pc] = None
        if base.kind == MAP_VALUE:
            # (every run's, proven or not: a run-time check admits only their arenas)
            self.checked_maps[pc] = self.checked_maps.get(pc, frozenset()) \
                | frozenset(map_indices(base.maps))
        if base.kind == STACK and not ok:
            # (None once a run's base is another frame's pointer)
            seen = self.stack_ranges.get(pc, (lo, hi))
            self.stack_ranges[pc] = None if seen is None or base.frame != 0 else \
                (min(seen[0], lo), max(seen[1], hi))
        if ok:
            self._note_offset(pc, base, lo, hi)
            if base.kind == STACK:
                self._note_stack_extent(pc, base.frame, lo, hi + size)

    def _note_stack_extent(self, pc: int, frame: int, lo: int, end: int) -> None:
        """The bytes a proven stack access may touch, [lo, end) under the top of its
        `frame` (0: its own subprogram's), joined over every run of it."""
        if pc not in self.stack_extents:
            self.stack_extents[pc] = (frame, lo, end)
            return
        seen = self.stack_extents[pc]
        self.stack_extents[pc] = None if seen is None or seen[0] != frame else \
            (frame, min(seen[1], lo), max(seen[2], end))

    def _note_verdict(self, pc: int, ok: bool, region: str | None
                      ) -> tuple[bool, str | None]:
        """Record one run's verdict on the access at pc and its region; the verdict and
        region of every run so far.  A block run once per incoming path
        (bpfjit.verifier.perpath) runs its accesses once per path: proven only if every
        path proves it, its region only if every path touches the same one.  A context
        or socket field, rewritten for its kind, may not be other memory on another path
        (the kernel's "same insn cannot be used with different pointers")."""
        if pc in self.accesses:
            before = self.regions[pc]
            if before != region and {before, region} & _REWRITTEN:
                self.fail(pc, "the same instruction accesses a context or socket field on "
                              "one path and other memory on another; it can be rewritten "
                              "for one of them only (the kernel refuses it too: \"same insn "
                              "cannot be used with different pointers\")")
            ok = ok and self.accesses[pc]
            region = region if before == region else None
        self.accesses[pc] = ok
        self.regions[pc] = region
        return ok, region

    def _note_stack_reach(self, below: int) -> None:
        """An access or a helper may touch the byte `below` bytes under the top of a
        frame (and those above it): the engines zero that much of the deepest frame at
        entry (the others whole), and helpers may reach no lower
        (VerifiedProgram.stack_depth)."""
        if below > self.stack_reach:
            self.stack_reach = min(below, STACK_SIZE)

    def _note_offset(self, pc: int, base: Value, lo: int, hi: int) -> None:
        """Record a proven access whose offset is not one constant (bpfjit.speculation):
        a mispredicted branch before it could carry it out of its region, so the JITs
        clamp its address.  For a map value, the maps its base may point into."""
        seen = self.first_offsets.setdefault(pc, lo)
        if lo == hi and seen == lo and pc not in self.variable:
            return
        maps = frozenset(map_indices(base.maps)) if base.kind == MAP_VALUE else frozenset()
        self.variable[pc] = self.variable.get(pc, frozenset()) | maps

    def _in_bounds(self, st: State, var: int | None, v: Value, off: int, size: int) -> bool:
        """Whether `size` bytes at v + off lie inside the region v points into, whatever
        value in its range v holds (accesses and helper arguments alike)."""
        lo, hi = v.smin + off, v.smax + off
        if v.kind == STACK:
            return lo >= -STACK_SIZE and hi + size <= 0
        if v.kind == MEM:
            # below the packet's start: metadata, from `data_meta` on (the zone's META)
            floor = st.zone.bound(META, var) if lo < 0 and var is not None else None
            if lo < 0 and (floor is None or floor > off):
                return False
            if hi + size <= st.min_len:
                return True
            rel = st.len_bound(var) if var is not None else None
            return rel is not None and rel + off + size <= 0
        if v.kind == MAP_VALUE:
            return lo >= 0 and hi + size <= self._value_size(v)
        if v.kind == MAP_KEY:
            return lo >= 0 and hi + size <= self._key_size(v)
        return False

    def _constant_data(self, insn, st: State, base: Value, lo: int, hi: int, step: int,
                       size: int):
        """A load from read-only global data (.rodata): at a constant offset the value
        itself, as the kernel reads a frozen map; at offsets in [lo, hi] (a lookup table
        indexed by a bounded number), every `step` bytes from lo, the least and greatest
        value the table holds there, which the kernel does not follow.  The map is
        frozen once verified (bpfjit.maps: Python may set it before, not after)."""
        maps = map_indices(base.maps)
        if len(maps) != 1 or insn.kind is Kind.ATOMIC or hi - lo > _TABLE_SPAN:
            return None
        the_map = self.maps[maps[0]]
        if not the_map.spec.read_only or the_map.spec.initial is None:
            return None
        signed = insn.kind is Kind.LDSX
        key = (maps[0], lo, hi, step, size, signed)
        extent = self._table_extents.get(key)
        if extent is None:
            extent = self._table_extents[key] = _table_extent(
                bytes(the_map.arena[lo:hi + size]), size, signed, step)
        self.constant_maps.add(maps[0])
        least, most = extent
        if least == most:
            loaded = const(least & U64)
        elif signed:
            loaded = scalar(smin=least, smax=most)
        else:
            loaded = scalar(least, most)
        st.forget_register(insn.dst, loaded)
        return st.regs[insn.dst]

    def _value_size(self, v: Value) -> int:
        """Bytes a map value pointer may reach: the smallest value of its maps, or for a
        ring buffer record the size reserved (0 when that was not a constant)."""
        return min(v.frame if isinstance(self.maps[i], RingBuf) else self.maps[i].value_size
                   for i in map_indices(v.maps))

    def _key_size(self, v: Value) -> int:
        """Bytes a map key pointer may reach: the smallest key of its maps."""
        return min(self.maps[i].key_size for i in map_indices(v.maps))

    def _map_key_rules(self, pc: int, reg: int, base: Value, off: int, size: int, ok: bool,
                       writes: bool) -> None:
        """A key bpf_for_each_map_elem points its callback at is read, never written,
        and every read is proven inside it, in every mode: the kernel proves them too,
        and the engines keep no run-time check for keys (a varying offset is clamped
        against speculation as any proven one: bpfjit.speculation)."""
        names = ", ".join(repr(self.maps[i].name) for i in map_indices(base.maps))
        if writes:
            self.fail(pc, f"r{reg} points to a key of map {names}, which a program may "
                          f"read but not write (as in the kernel)")
        if not ok:
            self.fail(pc, f"r{reg}{off:+d} is outside the {self._key_size(base)}-byte key of "
                          f"map {names} ({size}-byte read at {base.smin + off})")

    def _map_value_rules(self, pc: int, reg: int, base: Value, off: int, size: int, ok: bool,
                         writes: bool) -> None:
        self._touches_fields(pc, base, base.smin + off, base.smax + off + size,
                             f"a {size}-byte {'store' if writes else 'load'} at r{reg}{off:+d}")
        if not ok and base.smin == base.smax:
            names = ", ".join(repr(self.maps[i].name) for i in map_indices(base.maps))
            self.fail(pc, f"r{reg}{off:+d} is outside the {self._value_size(base)}-byte value "
                          f"of map {names} ({size}-byte access at {base.smin + off})")
        if writes:
            for i in map_indices(base.maps):
                if self.maps[i].read_only:
                    self.fail(pc, f"map {self.maps[i].name!r} is read-only")

    # ---- the context -------------------------------------------------------------------------

    def _note_context(self, pc: int, offset: int, size: int) -> None:
        """The final pass's facts about a context field access: what it is rewritten
        into, and that it is in bounds."""
        if self.ctx_accesses.setdefault(pc, (offset, size)) != (offset, size):
            self.fail(pc, "the same instruction accesses two context fields on different "
                          "paths; it can be rewritten for one of them only")
        self._note_verdict(pc, True, "ctx")

    def _context_access(self, pc: int, insn, st: State, base: Value, writes: bool) -> None:
        """An access to a context field at a constant offset: rewritten later into an
        access to the engines' context block (bpfjit.context)."""
        lo, hi = base.smin + insn.off, base.smax + insn.off
        found = context_field(self.context, lo, insn.spec.size, self.attach_type,
                              self.prog_type) if lo == hi else None
        what = f"{self.context} context access at offset {lo}" + ("" if lo == hi else
                                                                 f"..{hi}")
        if found is None:
            allowed = CONTEXTS[self.context].accessible(self.attach_type, self.prog_type)
            names = ", ".join(f"{f.name} ({f.offset})"
                              for f in CONTEXTS[self.context].FIELDS.values()
                              if allowed is None or f.name in allowed)
            hook = f" of a {self.attach_type or self.prog_type} program" \
                if allowed is not None else ""
            self.fail(pc, f"invalid {what}, size {insn.spec.size}: not a field{hook} "
                          f"(fields: {names})")
        field, offset, size = found
        if writes:
            cls = CONTEXTS[self.context]
            writable = cls.writable(self.prog_type, self.attach_type)
            if insn.kind is Kind.ATOMIC or field.name not in writable or (
                    (size != field.size or offset != field.slot)
                    and not cls.narrow_write(field.name)):
                allowed = ", ".join(sorted(writable)) or "none"
                self.fail(pc, f"invalid {what}: {self.prog_type} programs may not write "
                              f"{field.name} (it may write: {allowed})")
        self._fact(self._note_context, pc, offset, size)
        if writes:
            return
        dst = insn.dst
        if field.kind == "data":
            st.forget_register(dst, pointer(MEM, 0, 0))
        elif field.kind == "data_meta":     # up to META_ROOM bytes of metadata before data
            st.forget_register(dst, pointer(MEM, -CONTEXTS[self.context].META_ROOM, 0))
            st.zone.add(dst, META, 0)
            st.zone.add(META, dst, 0)
        elif field.kind == "data_end":
            st.forget_register(dst, pointer(MEM, st.min_len, MAX_LEN))
            st.zone.add(dst, LEN, 0)
            st.zone.add(LEN, dst, 0)
        elif field.kind in _SOCKET_FIELDS:
            # the context's socket, as the kernel types `sk`: holding no reference (the
            # program may not release it), NULL first where the context may have none
            st.forget_register(dst, Value(_SOCKET_FIELDS[field.kind], 0, 0, 0, 0))
        else:
            st.forget_register(dst, scalar(0, (1 << (8 * size)) - 1))
