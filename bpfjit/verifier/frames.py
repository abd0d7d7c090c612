"""The current stack frame and the callers' in the abstract: what a load or store
through a stack pointer does to the frame's bookkeeping (which bytes some path wrote,
the bytes last written 0, each byte's largest value, spilled slots), a spill read
back with its relations, a store placed in every live frame it may land in, and a
frame forgotten after a write through a pointer the verifier lost track of.  Mixed
into the analysis beside MemoryRules (bpfjit.verifier.memory), which decides the
access itself."""

from __future__ import annotations

from ..cfg import top_frame_end
from ..isa import MAX_CALL_DEPTH, STACK_SIZE, Kind
from .bytecaps import load_bound, store_caps, stored_caps
from .domain import ANY_CALLER, NUMERIC, SCALAR, Value, const, low_bytes, scalar
from .state import FULL_FRAME, State, frame_bits, outer_slot, slot_var

__all__ = ["FrameRules"]


class FrameRules:
    """Mixed into the analysis: the stack frames' side of LDX, LDSX, ST, STX, ATOMIC."""

    def _own_frame(self, pc: int, insn, st: State, lo: int, hi: int, size: int, ok: bool,
                   writes: bool, value: Value | None, step: int = 1) -> Value | None:
        """Stack bookkeeping for an access into the current frame; the loaded value when
        the verifier knows it (a spilled register read back).  `step`: the access is at
        one of every `step` offsets from lo (an element of an array of `step`-byte
        elements, `_offset_step`)."""
        kind = insn.kind
        touched = frame_bits(lo, hi + size)
        loaded = None
        if kind in (Kind.LDX, Kind.LDSX, Kind.ATOMIC) and ok:
            self._check_written(pc, st, lo, hi, size, touched)
            if kind is Kind.LDX and lo == hi:
                loaded = self._reload(st, insn.dst, lo, size)
            if loaded is None and kind is not Kind.ATOMIC and lo == hi \
                    and touched & st.zeros == touched:      # bytes stored as 0
                st.forget_register(insn.dst, const(0))
                loaded = st.regs[insn.dst]
            if loaded is None and kind is Kind.LDX:
                # (what the bytes it may read can hold: an index kept in an array)
                bound = load_bound(st.caps, lo, hi, size, step)
                if bound is not None:
                    st.forget_register(insn.dst, scalar(0, bound))
                    loaded = st.regs[insn.dst]
        before = st.caps
        if writes:
            self._stack_written(st, 0, lo, hi + size)
            stored = const(insn.imm) if kind is Kind.ST else value
            if ok and kind is not Kind.ATOMIC:
                st.caps = store_caps(st.caps, before, lo, hi,
                                     stored_caps(stored, size, lo == hi), step)
            elif kind is not Kind.ATOMIC and self.mode != "unchecked":
                st.caps = _checked_store_caps(st.caps, before, lo, hi, size,
                                              stored_caps(stored, size, False), step)
            # a spill only inside the frame: a store outside it traps, and its slot's zone
            # variable (slot_var) would not be one
            if ok and lo == hi:
                st.remnants &= ~touched         # (only bytes surely written over)
                self._spill(insn, st, lo, size, value)
                if kind is not Kind.ATOMIC and stored is not None and stored.is_const \
                        and stored.umin & ((1 << 8 * size) - 1) == 0:
                    st.zeros |= touched
        return loaded

    @staticmethod
    def _spill(insn, st: State, key: int, size: int, value: Value | None) -> None:
        """An 8-byte store of a register or an immediate into the slot `key` (an offset
        of the current frame, or bpfjit.verifier.state.outer_slot's) keeps it there, the
        register's relations with it.  So does a narrower store of a number aligned to
        its width, in this frame or a caller's (the kernel keeps one at the start of a
        slot): its low bytes, with its relations when it fits in them -- a callee's
        `*out = h` into its caller's `u32`, which the caller reads back
        (bpfjit.verifier.localcalls)."""
        kind = insn.kind
        if kind not in (Kind.ST, Kind.STX):
            return
        stored = const(insn.imm) if kind is Kind.ST else value
        if size < 8:
            # (aligned to its width: a u32 may sit in the upper half of a slot)
            if stored.kind != SCALAR or key % size:
                return
            low = low_bytes(stored, size)
            st.spills[key] = low
            st.narrow[key] = size
            if kind is Kind.STX and low is stored and not stored.fixed:
                st.zone.assign(slot_var(key), insn.src)
            return
        st.spills[key] = stored
        st.narrow.pop(key, None)
        if kind is Kind.STX and stored.kind in NUMERIC and not stored.fixed:
            st.zone.assign(slot_var(key), insn.src)
        if kind is Kind.STX:
            st.link_copy(insn.src, slot_var(key))

    def _check_written(self, pc: int, st: State, lo: int, hi: int, size: int,
                       touched: int) -> None:
        """Reject reads of stack bytes that no path has written, in a frame that is not
        always the top one (a callee's, or an entry some call enters again): it holds
        what an earlier frame at its depth left, a spilled pointer perhaps.  In the top
        frame such bytes are what the engines zeroed at entry, and the kernel lets a
        privileged program read them (clang -O1 loads a variable before the loop that
        may set it): the load reads 0 there (State.caps) -- unless the program calls a
        helper whose arguments are not declared, which may be given a pointer to fill
        (bpfjit.Helper's "out": undeclared, what it filled in is refused to be read).
        Bytes only some paths wrote may be read in any frame: the kernel allows it too."""
        if self.current == 0 and self._reads_zeroed_top_frame():
            return
        if lo == hi:
            missing = touched & ~st.written
        else:               # a variable offset: it must at least be able to hit written bytes
            missing = touched if not touched & st.written else 0
        if missing:
            first = (missing & -missing).bit_length() - 1 - STACK_SIZE
            self.fail(pc, f"reads the stack at r10{first:+d}, which nothing has written yet")

    def _reads_zeroed_top_frame(self) -> bool:
        """Whether the entry subprogram's frame is always the top one (no call enters
        it) and every helper the program calls declares what it writes (no `callx`)."""
        known = self.__dict__.get("_zeroed_top")
        if known is None:
            known = self._zeroed_top = bool(top_frame_end(self.prog)) and not any(
                insn.kind is Kind.CALLX or (insn.kind is Kind.CALL
                                            and self.signatures.get(insn.imm) is None)
                for _, insn in self.prog)
        return known

    @staticmethod
    def _reload(st: State, dst: int, off: int, size: int) -> Value | None:
        """The value of a load from a spilled slot, or None if unknown."""
        for slot, v in st.spills.items():
            if slot <= off and off + size <= slot + st.narrow.get(slot, 8):
                break
        else:
            return None
        shift = (off - slot) * 8
        if v.is_const:
            st.forget_register(dst, const((v.umin >> shift) & ((1 << size * 8) - 1)))
            return st.regs[dst]
        # all of it, or the low bytes of a value that fits in them
        if size == 8 or (shift == 0 and v.kind == SCALAR and v.umax < 1 << size * 8):
            st.copy_register(dst, slot_var(slot), v)
            return v
        return None

    def _caller_frame(self, insn, st: State, frame: int, lo: int, hi: int, size: int,
                      ok: bool, value: Value | None) -> Value | None:
        """An access to a caller's frame through a pointer it passed down: a spill the
        callee's entry brought along (calls._callee_entry) reads back with its
        relations, and an 8-byte store of a register is kept as a spill there."""
        kind = insn.kind
        if kind in (Kind.ST, Kind.STX, Kind.ATOMIC):
            self._stack_written(st, frame, lo, hi + size)
        if not 0 < frame < MAX_CALL_DEPTH or not ok or lo != hi:     # (ANY_CALLER: -1)
            return None
        key = outer_slot(frame, lo)
        if kind is Kind.LDX:
            return self._reload(st, insn.dst, key, size)
        self._spill(insn, st, key, size, value)
        return None

    def _stack_written(self, st: State, frame: int, lo: int, end: int) -> None:
        """Bytes [lo, end) under the top of `frame` (0: the current one, k: the k-th
        caller's, or ANY_CALLER) may have been written.  A run-time check admits every
        live frame, so what lies outside that frame is another one's: frame k's offset
        o is frame j's offset o - (j - k) * STACK_SIZE (the callers' frames are above)."""
        if frame == 0 and lo >= -STACK_SIZE and end <= 0:
            st.write_frame(lo, end)
            return
        if frame == ANY_CALLER:
            if lo < -STACK_SIZE:        # below some caller's frame: down to this one
                self._forget_frame(st)
            inside = lo >= -STACK_SIZE and end <= 0
            lo, end = (lo, end) if inside else (-STACK_SIZE, 0)
            for depth in range(1, MAX_CALL_DEPTH):
                st.write_frame(lo, end, depth)
            self._note_frame_write(ANY_CALLER, lo, end)
            return
        for depth in range(MAX_CALL_DEPTH):
            shift = (depth - frame) * STACK_SIZE
            first, last = max(lo - shift, -STACK_SIZE), min(end - shift, 0)
            if first >= last:
                continue
            st.write_frame(first, last, depth)
            self._note_frame_write(depth, first, last)

    def _forget_frame(self, st: State) -> None:
        for slot in st.spills:
            st.zone.forget(slot_var(slot))
        st.spills.clear()
        st.narrow.clear()
        st.written = FULL_FRAME
        st.zeros = 0
        st.caps = None


def _checked_store_caps(caps: bytes | None, before: bytes | None, lo: int, hi: int,
                        size: int, stored: list[int], step: int) -> bytes | None:
    """The caps after a checked store at an offset in [lo, hi] (every `step` bytes
    from lo) that may leave the frame: past its check it wrote inside a live frame, so
    this frame's bytes it may have written, at the offsets that keep the whole access
    inside it, each hold what they held or a byte of the value (base58's `digits[n++]
    = carry % 58`, whose index nothing bounds but the check: the digits read back stay
    below 58).  The other bytes in reach stay unknown (`caps` has them so)."""
    if caps is None or before is None:
        return caps
    first = lo if lo >= -STACK_SIZE else lo + -(-(-STACK_SIZE - lo) // step) * step
    last = hi if hi <= -size else hi - -(-(hi + size) // step) * step
    if first > last:
        return caps
    if first == last:                   # (one offset, but maybe in a caller's frame)
        out = bytearray(caps)
        at = first + STACK_SIZE
        out[at:at + size] = bytes(max(b, v) for b, v in zip(before[at:at + size], stored))
        return bytes(out)
    return store_caps(caps, before, first, last, stored, step)
