"""Loads, stores and atomics in the llvm backend: each access's pointer, checked in
checked mode against the region the verifier names (the buffer, the top frame, or any
of the buffer, the live frames and the map values) and made speculation-safe
(bpfjit.speculation).  A mixin of backends.llvm's per-subprogram lowering."""

from __future__ import annotations

from bpfjit.isa import MAX_CALL_DEPTH, STACK_SIZE, Kind
from bpfjit.semantics import M64, sext
from bpfjit.speculation import TOP_SLACK, fences_unknown_region
from bpfjit.traps import WRITE_FLAG, TrapCode

from .llvmtypes import ATOMIC_OPS, I8, I64, INT, PTR, const, fit_bound, run_field

__all__ = ["MemoryLowering", "STACK_BYTES"]

STACK_BYTES = STACK_SIZE * MAX_CALL_DEPTH


class MemoryLowering:
    """address() and the instructions that access memory (ldx, st, stx, atomics)."""

    def _bound(self, region: str, size: int):
        """Per-function limits for a `size`-byte access, computed once in the entry block.

        mem:   d = addr - mem is valid when d < bound, bound = len - size + 1 (0 if len < size)
        stack: d = addr - frame_lo is valid when d <= room, room = stack end - size - frame_lo
        """
        key = (region, size)
        if region == "mem" and self.m.reload_packet:
            return fit_bound(self.b, self.load_field("mem_len"), size)
        if key not in self._bounds:
            h = self.hoist
            if region == "mem":
                self._bounds[key] = fit_bound(h, self.mem_len, size)
            else:
                self._bounds[key] = h.sub(self.stack_room(), const(I64, size))
        return self._bounds[key]

    def stack_room(self):
        """The bytes from the frame's bottom to the stack's top, which a checked stack
        access may touch (a hoisted range test's too), once per function."""
        if "stack room" not in self._bounds:
            h = self.hoist
            end = h.add(h.ptrtoint(self.stack_base, I64), const(I64, STACK_BYTES))
            self._bounds["stack room"] = h.sub(end, self.frame_lo_i)
        return self._bounds["stack room"]

    def _region(self):
        """(start, length) of an XDP frame's checkable buffer: the metadata in use (from
        the context block's data_meta) and the packet; once per function, or at each use
        where a helper may have moved them."""
        m = self.m
        if not m.reload_packet and "region" in self._bounds:
            return self._bounds["region"]
        b = self.b if m.reload_packet else self.hoist
        slot = b.add(self.mem_i, const(I64, m.meta_at))
        lo = b.load(b.inttoptr(slot, PTR), typ=I64)
        length = b.load(run_field(b, self.run, "mem_len"), typ=I64) if m.reload_packet \
            else self.mem_len
        region = lo, b.add(length, b.sub(self.mem_i, lo))
        if not m.reload_packet:
            self._bounds["region"] = region
        return region

    def buffer_test(self, addr, size: int) -> tuple:
        """(x, bound): `size` bytes at `addr` lie in the checkable buffer (the packet,
        and an XDP frame's metadata in use before it) when x < bound, unsigned."""
        b = self.b
        if self.m.metadata:
            lo, length = self._region()
            return b.sub(addr, lo), fit_bound(b, length, size)
        return b.sub(addr, self.mem_i), self._bound("mem", size)

    def in_buffer(self, addr, size: int):
        """Whether `size` bytes at `addr` lie in the checkable buffer."""
        return self.b.icmp_unsigned("<", *self.buffer_test(addr, size))

    def frame_offset(self, addr, base, off: int):
        """addr - frame_lo for addr = base + off: from base's terms when it is the frame's
        top plus some values (LLVM does not reassociate a hoisted `fp - 64` out of
        `fp - 64 + i - frame_lo` when the hoisted value has other uses: an extra
        register and a subtraction per access, and no range test of i itself), else by
        a subtraction."""
        terms = self.frame_terms.get(base.ref)
        if terms is None:
            return self.b.sub(addr, self.frame_lo_i)
        values, constant = terms
        d = None
        for value in values:                    # in the order the program added them
            d = value if d is None else self.b.add(d, value)
        offset = const(I64, (constant + off + STACK_SIZE) & M64)
        return offset if d is None else self.b.add(d, offset)

    def _masked_index(self, pc: int, base, off: int, size: int):
        """For a checked access to the top frame through fp + x + c, x a number that
        cannot be negative (upper_of, or the verifier's lowest offset of the access:
        VerifiedProgram.stack_ranges): the access's height above the frame's bottom as
        (x & m) + c + off + 512, m the least all-ones mask that keeps every x the check
        admits, when every masked x stays in the frame (and the 8 bytes above it that a
        masked access may read): a mispredicted check then reads in the frame, as with
        the height's own mask (wrap_in_frame), but the constant stays in the access's
        address (`and x, m; mov [rsp + x + k]`, not `or; and` on the way to the load).
        None where it does not apply."""
        terms = self.frame_terms.get(base.ref)
        if terms is None or len(terms[0]) != 1:
            return None
        lowest = sext(terms[1], 64) + off       # the first byte's offset from fp when x is 0
        reach = self.m.verified.stack_ranges.get(pc)
        if self.upper_of(terms[0][0]) is None and (reach is None or reach[0] < lowest):
            return None
        highest = -size - lowest                # the largest x the check admits
        if highest < 0 or lowest < -STACK_SIZE:
            return None
        mask = (1 << highest.bit_length()) - 1
        if lowest + mask + size > TOP_SLACK:
            return None
        x = self.and_in_asm(terms[0][0], mask)
        return self.b.add(x, const(I64, lowest + STACK_SIZE))

    def address(self, pc: int, base_reg: int, off: int, size: int, write: bool):
        """A pointer for an access of `size` bytes at base_reg + off, checked in checked mode."""
        b, base = self.b, self.get(base_reg)
        addr = b.add(base, const(I64, off))
        verified = self.m.verified
        if self.unchecked(pc):
            # proven by the verifier (or trusted, or in a fast copy): no check, but the pointer still
            # comes from the real base of the region the verifier saw it point into
            return self._clamped(pc, addr, size, verified.regions.get(pc))
        mark = size | (WRITE_FLAG if write else 0)
        spec = self.m.spec
        # the verifier may know which region the base always points into: check that one
        region = verified.regions.get(pc)
        index = verified.map_regions.get(pc)
        if index is not None:
            # the values of one map: its arena, one unsigned compare, and under
            # speculation the offset poisoned on the compare's flags (no barrier)
            arena = self.m.map_address(index)
            d_map = b.sub(addr, arena)
            bound = const(I64, self.m.prog.maps.list[index].size - size)
            self.trap_unless(b.icmp_unsigned("<=", d_map, bound), TrapCode.MEMORY, pc, addr,
                             mark)
            if spec:
                d_map = self.guard(d_map, bound, d_map, strict=False)
            return b.inttoptr(b.add(arena, d_map), PTR)
        d_mem = b.sub(addr, self.mem_i)
        if region != "stack":
            x, bound = self.buffer_test(addr, size)
            in_mem = b.icmp_unsigned("<", x, bound)
            if region == "mem":
                self.trap_unless(in_mem, TrapCode.MEMORY, pc, addr, mark)
                if spec:
                    d_mem = self.guard(x, bound, d_mem)
                return b.gep(self.mem, [d_mem], source_etype=I8)
        d_stack = self.frame_offset(addr, base, off)
        in_stack = b.icmp_unsigned("<=", d_stack, self._bound("stack", size))
        if region == "stack":
            self.trap_unless(in_stack, TrapCode.MEMORY, pc, addr, mark)
            if spec and self.top_frame:
                masked = self._masked_index(pc, base, off, size)
                d_stack = self.wrap_in_frame(d_stack) if masked is None else masked
            elif spec:
                d_stack = self.guard(d_stack, self._bound("stack", size), d_stack, strict=False)
            return b.gep(self.frame_lo, [d_stack], source_etype=I8)
        valid = b.or_(in_mem, in_stack)
        for index, the_map in enumerate(self.m.prog.maps.list):   # map values: arenas
            if the_map.size < size:
                continue
            d_map = b.sub(addr, self.m.map_address(index))
            valid = b.or_(valid, b.icmp_unsigned("<=", d_map,
                                                 const(I64, the_map.size - size)))
        self.trap_unless(valid, TrapCode.MEMORY, pc, addr, mark)
        if spec and fences_unknown_region(self.m.prog):
            self.fence()            # the buffer, the stack or a map's values: a barrier
        elif spec:
            # each candidate's offset is POISON unless the address lies in its region,
            # by compares the CPU does not predict: whichever pointer the selects (or a
            # branch LLVM makes of them) pick, an address outside it faults
            d_mem = self.guard(x, bound, d_mem)
            d_stack = self.guard(d_stack, self._bound("stack", size), d_stack, strict=False)
        pointer = b.select(in_stack, b.gep(self.frame_lo, [d_stack], source_etype=I8),
                           b.inttoptr(addr, PTR)) if self.m.prog.maps else \
            b.gep(self.frame_lo, [d_stack], source_etype=I8)
        return b.select(in_mem, b.gep(self.mem, [d_mem], source_etype=I8), pointer)

    def _ldx(self, pc, insn) -> None:
        size = insn.spec.size
        ptr = self.address(pc, insn.src, insn.off, size, write=False)
        value = self.scoped(pc, self.b.load(ptr, typ=INT[size * 8], align=1))
        if insn.kind is Kind.LDSX:
            self.set(insn.dst, self.b.sext(value, I64))
        else:
            if size < 8:
                value = self.b.zext(value, I64)
                self.upper[value.ref] = (1 << 8 * size) - 1
            self.set(insn.dst, value)

    _ldsx = _ldx

    def _st(self, pc, insn) -> None:
        size = insn.spec.size
        ptr = self.address(pc, insn.dst, insn.off, size, write=True)
        self.scoped(pc, self.b.store(self.imm(insn.imm, INT[size * 8]), ptr, align=1))

    def _stx(self, pc, insn) -> None:
        size = insn.spec.size
        ptr = self.address(pc, insn.dst, insn.off, size, write=True)
        value = self.get(insn.src)
        self.scoped(pc, self.b.store(value if size == 8 else self.b.trunc(value, INT[size * 8]),
                                     ptr, align=1))

    def _atomic(self, pc, insn) -> None:
        b, spec = self.b, insn.spec
        ty = INT[spec.width]
        ptr = self.address(pc, insn.dst, insn.off, spec.size, write=True)

        def narrow(v):
            return v if spec.width == 64 else b.trunc(v, ty)

        def widen(v):
            return v if spec.width == 64 else b.zext(v, I64)

        if spec.op == "cmpxchg":
            pair = b.cmpxchg(ptr, narrow(self.get(0)), narrow(self.get(insn.src)),
                             "seq_cst", "seq_cst")
            self.set(0, widen(b.extract_value(pair, 0)))
            return
        old = b.atomic_rmw(ATOMIC_OPS[spec.op], ptr, narrow(self.get(insn.src)), "seq_cst")
        if spec.fetch:
            self.set(insn.src, widen(old))
