"""Calls in the llvm backend: helpers (through the helper table), the map helpers done
in native code (array lookups inline, bpfjit.backends.mapops for the rest), local
calls and exits.  A mixin of backends.llvm's per-subprogram lowering."""

from __future__ import annotations

import errno

from bpfjit.helpers.loops import MAX_LOOPS
from bpfjit.helpers.maps import TAIL_CALL
from bpfjit.helpers.redirect import REDIRECT_MAP_FLAGS, XDP_ABORTED, XDP_REDIRECT
from bpfjit.isa import STACK_SIZE
from bpfjit.maps import ARRAY_OF_MAPS, ARRAY_TYPES, HASH_OF_MAPS, map_handle
from bpfjit.maps.base import HANDLE_SHIFT
from bpfjit.maps.redirect import presence_at
from bpfjit.traps import TrapCode

from . import irtext as ir
from .helperops import record_redirect
from .llvmtypes import HELPER_PTR, I8, I32, I64, PTR, const
from .mapops import OPERATIONS, kind_groups

__all__ = ["CallLowering"]


class CallLowering:
    """Helper calls, native map calls, local calls and exit (see backends.llvm)."""

    def _call_through(self, pc: int, fn_ptr, tail_call: bool = False) -> None:
        """Call a helper pointer with r1-r5 and the run structure; r0 gets the result,
        r1-r5 read 0 after.  After bpf_tail_call (`tail_call`), a run the helper marked
        TAIL_DONE returns: the entry gives the program the slot held's r0."""
        args = [self.get(i) for i in range(1, 6)] + [self.run]
        result = self.b.call(fn_ptr, args)
        if tail_call:
            done = self.b.icmp_unsigned("==", self.load_field("trap"),
                                        const(I64, TrapCode.TAIL_DONE))
            ended, cont = (self.func.append_basic_block(name)
                           for name in ("tail_call_ended", "tail_call_fell_through"))
            self.b.cbranch(done, ended, cont)
            self.ret_trapped(ir.IRBuilder(ended))
            self.b.position_at_end(cont)
        # a failing Python helper has set the trap code; record where it happened
        failed = self.b.icmp_unsigned("!=", self.load_field("trap"), const(I64, 0))
        self.trap_unless(self.b.not_(failed), TrapCode.HELPER_FAILED, pc)
        self.set(0, result)
        self._clobber_args()

    def _clobber_args(self) -> None:
        """r1-r5 after a call: 0 (a program may not read them)."""
        for i in range(1, 6):
            self.set(i, const(I64, 0))

    def _entry_index(self, reg: int, entries: int) -> tuple:
        """(whether the low 32 bits of `reg` index one of `entries` entries, that index
        or 0 where they do not, so that a mispredicted test reads entry 0)."""
        b = self.b
        index = b.and_(self.get(reg), const(I64, 0xFFFFFFFF))
        inside = b.icmp_unsigned("<", index, const(I64, entries))
        return inside, b.select(inside, index, const(I64, 0))

    def _helper_pointer(self, helper_id):
        table = self.load_field("helpers", PTR)
        slot = self.b.gep(table, [helper_id], source_etype=PTR)
        return self.b.load(slot, typ=HELPER_PTR)

    def _count_helper_call(self, pc: int) -> None:
        """One helper call of the run's allowance (run->helper_calls); trap when there
        was none left, as every engine does for a known helper (bpfjit.limits)."""
        b = self.b
        field = self.field("helper_calls")
        left = b.sub(b.load(field, typ=I64), const(I64, 1))
        b.store(left, field)
        self.trap_unless(b.icmp_signed(">=", left, const(I64, 0)), TrapCode.HELPER_CALLS, pc)

    def _call(self, pc, insn) -> None:
        callback = self.m.verified.callbacks.get(pc)
        if callback is not None:
            self._count_helper_call(pc)
            walked = self.m.verified.iterated.get(pc)
            if walked is None:
                self._loop(callback)
            else:
                self._for_each(callback, walked)
            return
        inline = insn.imm == 1 and pc in self.m.inline_lookups
        native = pc in self.m.map_calls and insn.imm in self.m.native_maps
        if not (inline or native or insn.imm in self.m.helpers):
            self.trap_now(TrapCode.HELPER_UNKNOWN, pc, const(I64, insn.imm))
            return
        self._count_helper_call(pc)
        if inline:
            self._array_lookup(self.m.inline_lookups[pc])
        elif native:
            self._map_call(self.m.map_calls[pc], OPERATIONS[insn.imm])
        elif pc in self.m.tail_calls:
            self._tail_call(pc, self.m.tail_calls[pc])
        elif pc in self.m.redirect_maps:
            self._redirect_map(self.m.redirect_maps[pc])
        else:
            self._call_through(pc, self._helper_pointer(const(I64, insn.imm)),
                               tail_call=insn.imm == TAIL_CALL)

    def _redirect_map(self, index: int) -> None:
        """bpf_redirect_map on the devmap, cpumap or xskmap `index`, as
        bpfjit.helpers.redirect answers it: XDP_ABORTED for an unknown flag; for an
        entry present at the key's low 32 bits (a byte after the values says),
        XDP_REDIRECT and the entry's first 4 bytes recorded as the target in the context
        block before the packet (XdpContext.take_redirect); else the flags' action."""
        b, the_map = self.b, self.m.prog.maps.list[index]
        flags = self.get(3)
        inside, safe = self._entry_index(2, the_map.max_entries)
        values = self.m.map_address(index)
        present = b.add(values, b.add(const(I64, presence_at(the_map.spec)), safe))
        held = b.load(b.inttoptr(present, PTR), typ=I8, align=1)
        found = b.and_(inside, b.icmp_unsigned("!=", held, const(I8, 0)))
        known = b.icmp_unsigned("==", b.and_(flags, const(I64, ~REDIRECT_MAP_FLAGS)),
                                const(I64, 0))
        aborted, sent, absent, done = (self.func.append_basic_block(name) for name in (
            "redirect_map_aborted", "redirect_map_sent", "redirect_map_absent",
            "redirect_map_done"))
        check = self.func.append_basic_block("redirect_map_entry")
        b.cbranch(known, check, aborted)
        b.position_at_end(check)
        b.cbranch(found, sent, absent)
        b.position_at_end(sent)
        entry = b.add(values, b.mul(safe, const(I64, the_map.value_size)))
        target = b.load(b.inttoptr(entry, PTR), typ=I32, align=4)
        record_redirect(b, self.load_field("mem"), target, const(I32, index + 1),
                        b.trunc(safe, I32), flags)
        self.set(0, const(I64, XDP_REDIRECT))
        b.branch(done)
        b.position_at_end(absent)
        self.set(0, b.and_(flags, const(I64, 3)))
        b.branch(done)
        b.position_at_end(aborted)
        self.set(0, const(I64, XDP_ABORTED))
        b.branch(done)
        b.position_at_end(done)
        self._clobber_args()

    def _tail_call(self, pc: int, index: int) -> None:
        """bpf_tail_call on the program array `index`: -ENOENT in line for an index past
        it or an empty slot (its arena holds 1 + the index of a set entry, else 0), the
        helper for a set slot."""
        b, the_map = self.b, self.m.prog.maps.list[index]
        inside, safe = self._entry_index(3, the_map.max_entries)
        entry = b.add(self.m.map_address(index), b.mul(safe, const(I64, 4)))
        held = b.load(b.inttoptr(entry, PTR), typ=I32, align=4)
        filled = b.and_(inside, b.icmp_unsigned("!=", held, const(I32, 0)))
        call, empty = (self.func.append_basic_block(name)
                       for name in ("tail_call", "tail_call_empty"))
        done = self.func.append_basic_block("tail_call_done")
        b.cbranch(filled, call, empty)
        b.position_at_end(call)
        self._call_through(pc, self._helper_pointer(const(I64, TAIL_CALL)), tail_call=True)
        b.branch(done)
        b.position_at_end(empty)
        self.set(0, const(I64, -errno.ENOENT))
        self._clobber_args()
        b.branch(done)
        b.position_at_end(done)

    def _map_call(self, indices: tuple[int, ...], operation: str) -> None:
        """map_lookup_elem / update_elem / delete_elem in native code
        (bpfjit.backends.mapops): r0 = a value's address or 0, or 0 / -errno.  With
        several candidate maps, the one r1's handle names (its index << HANDLE_SHIFT)."""
        b = self.b
        the_map = self.m.prog.maps.list[indices[0]]
        if the_map.spec.type in ARRAY_TYPES:          # (lookups are inlined)
            if operation == "delete":
                self.set(0, const(I64, -errno.EINVAL))    # arrays keep every element
                return
            values = b.inttoptr(self.m.map_address(indices[0]), PTR)
            args = [values, b.inttoptr(self.get(2), PTR), b.inttoptr(self.get(3), PTR),
                    self.get(4), const(I64, the_map.max_entries),
                    const(I64, the_map.value_size)]
            self.set(0, b.call(self.m.array_update(), args))
            return
        groups = kind_groups(self.m.prog.maps.list, indices)
        if len(groups) == 1:
            result = self._routine_call(indices, operation)
        else:           # maps of several kinds: the routine of the one r1's handle names
            which = self._map_index_of_r1()
            done = self.func.append_basic_block("map_call_done")
            results = []
            for group in groups[:-1]:
                this = self.func.append_basic_block("map_call_kind")
                other = self.func.append_basic_block("map_call_dispatch")
                hit = b.icmp_unsigned("==", which, const(I64, group[0]))
                for index in group[1:]:
                    hit = b.or_(hit, b.icmp_unsigned("==", which, const(I64, index)))
                b.cbranch(hit, this, other)
                b.position_at_end(this)
                if self.m.spec:     # a mispredicted dispatch would read another kind's index
                    self.fence()
                results.append((self._routine_call(group, operation), b.block))
                b.branch(done)
                b.position_at_end(other)
            if self.m.spec:
                self.fence()
            results.append((self._routine_call(groups[-1], operation), b.block))
            b.branch(done)
            b.position_at_end(done)
            result = b.phi(I64, name="map_call_result")
            for value, block in results:
                result.add_incoming(value, block)
        if the_map.spec.type == HASH_OF_MAPS:     # the slot holds 1 + the inner map's index
            found = b.icmp_unsigned("!=", result, const(I64, 0))
            slot = b.select(found, result, self.m.map_address(indices[-1]))
            held = b.zext(b.load(b.inttoptr(slot, PTR), typ=I32, align=4), I64)
            found = b.and_(found, b.icmp_unsigned("!=", held, const(I64, 0)))
            result = b.select(found, self._handle_of(held), const(I64, 0))
        self.set(0, result)

    def _map_index_of_r1(self):
        """The index of the map r1's handle names (map_handle: index << HANDLE_SHIFT)."""
        b = self.b
        return b.and_(b.lshr(self.get(1), const(I64, HANDLE_SHIFT)), const(I64, 0xFFFF))

    def _routine_call(self, indices: tuple[int, ...], operation: str):
        """The result of the native routine of maps `indices` (one kind and sizes) doing
        `operation`, on the one r1's handle names among them (the verifier proved it is
        one of them)."""
        b = self.b
        fn, header = self.m.hash_operation(indices[-1], operation)
        if len(indices) > 1:
            which = self._map_index_of_r1()
            address = b.ptrtoint(header, I64)
            for index in indices[:-1]:
                other = b.ptrtoint(self.m.hash_operation(index, operation)[1], I64)
                address = b.select(b.icmp_unsigned("==", which, const(I64, index)), other,
                                   address)
            header = b.inttoptr(address, PTR)
        args = [header, b.inttoptr(self.get(2), PTR)]
        if operation == "update":
            args += [b.inttoptr(self.get(3), PTR), self.get(4)]
        return b.call(fn, args)

    def _array_lookup(self, index: int) -> None:
        """map_lookup_elem on an array map in IR: &values[key] if key < max_entries, else
        NULL (the verifier proved the key readable)."""
        b = self.b
        the_map = self.m.prog.maps.list[index]
        key = b.load(b.inttoptr(self.get(2), PTR), typ=I32, align=1)
        inside = self.predicted(b.icmp_unsigned("<", key, const(I32, the_map.max_entries)))
        slot = b.zext(key, I64)
        if self.m.spec:      # a mispredicted test reads entry 0, as the kernel masks
            slot = self.guard(slot, const(I64, the_map.max_entries), slot, poison=0)
        if the_map.spec.type == ARRAY_OF_MAPS:
            # the entry holds 1 + the inner map's index (0: none): r0 = its handle
            safe = b.select(inside, slot, const(I64, 0))
            entry = b.add(self.m.map_address(index), b.mul(safe, const(I64, 4)))
            held = b.zext(b.load(b.inttoptr(entry, PTR), typ=I32, align=4), I64)
            found = b.and_(inside, b.icmp_unsigned("!=", held, const(I64, 0)))
            self.set(0, b.select(found, self._handle_of(held), const(I64, 0)))
            return
        address = b.add(self.m.map_address(index),
                        b.mul(slot, const(I64, the_map.value_size)))
        self.set(0, b.select(inside, address, const(I64, 0)))

    def _handle_of(self, held):
        """The handle of the map whose index is `held` - 1 (map_handle)."""
        b = self.b
        return b.or_(const(I64, map_handle(0)),
                     b.shl(b.sub(held, const(I64, 1)), const(I64, HANDLE_SHIFT)))

    def _callx(self, pc, insn) -> None:
        b = self.b
        helper_id = self.get(insn.dst)
        count = self.load_field("n_helpers")
        self.trap_unless(b.icmp_unsigned("<", helper_id, count),
                         TrapCode.HELPER_UNKNOWN, pc, helper_id)
        if self.m.spec:                         # (bpfjit.speculation: entry 0 instead)
            helper_id = self.guard(helper_id, count, helper_id, poison=0)
        fn_ptr = self._helper_pointer(helper_id)
        self.trap_unless(b.icmp_unsigned("!=", b.ptrtoint(fn_ptr, I64), const(I64, 0)),
                         TrapCode.HELPER_UNKNOWN, pc, helper_id)
        self._count_helper_call(pc)
        self._call_through(pc, fn_ptr)

    def _call_btf(self, pc, insn) -> None:
        self.trap_now(TrapCode.BTF_CALL, pc, const(I64, insn.imm))

    def _call_local(self, pc, insn) -> None:
        b = self.b
        frame = self.frame_lo
        if self.m.verified.recursive:
            # the callee's frame must still lie within the stack: frame_top - 1024 >= base
            # (without recursion the verifier bounded the chain of frames)
            room = b.icmp_unsigned(">=", b.sub(self.frame_lo_i, const(I64, STACK_SIZE)),
                                   b.ptrtoint(self.stack_base, I64))
            self.trap_unless(room, TrapCode.CALL_DEPTH, pc)
        if self.m.spec and self.m.verified.recursive:
            # (bpfjit.speculation) a mispredicted depth test: the callee's frame at POISON
            base = b.ptrtoint(self.stack_base, I64)
            moved = self.guard(base, b.sub(self.frame_lo_i, const(I64, STACK_SIZE - 1)),
                               const(I64, 0))
            frame = b.gep(frame, [moved], source_etype=I8)
        self.set(0, self._call_subprogram(pc + 1 + insn.imm,
                                          [self.get(i) for i in range(1, 6)], frame))
        for i in range(1, 6):
            self.set(i, const(I64, 0))

    def _call_subprogram(self, first: int, args: list, frame):
        """Call the function of the subprogram at `first` with r1-r5 = `args` and its
        frame's top at `frame`; return after it if it trapped, else take back the
        budget it left; its r0."""
        b = self.b
        pair = b.call(self.m.functions[first], args + [frame, self.stack_base, self.run,
                                                       self.mem, b.load(self.budget, typ=I64)])
        self.return_if_callee_trapped()
        b.store(b.extract_value(pair, 1), self.budget)
        return b.extract_value(pair, 0)

    def _loop(self, callback: int) -> None:
        """bpf_loop(r1, callback, r3, r4) in IR: call the callback subprogram with
        (i, r3) for i below r1's low half until it returns non-zero; r0 = the trips
        made, or -EINVAL (flags) or -E2BIG (more than MAX_LOOPS) without a call."""
        b = self.b
        trips = b.and_(self.get(1), const(I64, 0xFFFFFFFF))
        ctx, flags = self.get(3), self.get(4)
        bad_flags = b.icmp_unsigned("!=", flags, const(I64, 0))
        too_many = b.icmp_unsigned(">", trips, const(I64, MAX_LOOPS))
        early = b.select(bad_flags, const(I64, -errno.EINVAL),
                         b.select(too_many, const(I64, -errno.E2BIG), const(I64, 0)))
        skip = b.or_(b.or_(bad_flags, too_many), b.icmp_unsigned("==", trips, const(I64, 0)))
        before = b.block
        body = self.func.append_basic_block("loop_body")
        done = self.func.append_basic_block("loop_done")
        b.cbranch(skip, done, body)
        b.position_at_end(body)
        index = b.phi(I64, name="loop_index")
        index.add_incoming(const(I64, 0), before)
        zero = const(I64, 0)
        r0 = self._call_subprogram(callback, [index, ctx, zero, zero, zero], self.frame_lo)
        made = b.add(index, const(I64, 1))
        stop = b.or_(b.icmp_unsigned("!=", r0, zero), b.icmp_unsigned("==", made, trips))
        index.add_incoming(made, b.block)
        latch = b.block
        b.cbranch(stop, done, body)
        b.position_at_end(done)
        result = b.phi(I64, name="loop_result")
        result.add_incoming(early, before)
        result.add_incoming(made, latch)
        self.set(0, result)
        for i in range(1, 6):
            self.set(i, zero)

    def _for_each(self, callback: int, indices: tuple[int, ...]) -> None:
        """bpf_for_each_map_elem(map, callback, r3, r4) in IR: a walk of the map r1's
        handle names (one of `indices`: the verifier proved it is one of them), or
        -EINVAL for flags; r0 = the elements visited."""
        b = self.b
        zero = const(I64, 0)
        done = self.func.append_basic_block("each_done")
        results = [(const(I64, -errno.EINVAL), b.block)]
        walk = self.func.append_basic_block("each_dispatch")
        b.cbranch(b.icmp_unsigned("!=", self.get(4), zero), done, walk)
        for i, index in enumerate(indices):
            b.position_at_end(walk)
            if i + 1 < len(indices):
                this = self.func.append_basic_block("each_map")
                walk = self.func.append_basic_block("each_dispatch")
                b.cbranch(b.icmp_unsigned("==", self.get(1), const(I64, map_handle(index))),
                          this, walk)
                b.position_at_end(this)
            self._walk(callback, index, done, results)
        b.position_at_end(done)
        result = b.phi(I64, name="each_result")
        for value, block in results:
            result.add_incoming(value, block)
        self.set(0, result)
        for i in range(1, 6):
            self.set(i, zero)

    def _walk(self, callback: int, index: int, done, results: list) -> None:
        """Call the callback subprogram with (map, &key, &value, r3) for each element of
        map `index` in slot order (an array's every slot; a hash map's slots holding a
        key: its `next` routine) until it returns non-zero, then branch to `done`,
        adding (the elements visited, block) to `results`."""
        b = self.b
        the_map = self.m.prog.maps.list[index]
        limit = const(I64, the_map.max_entries)
        zero = const(I64, 0)
        keys, stride = self.m.key_address(index), const(I64, the_map.key_area()[1])
        values, size = self.m.map_address(index), const(I64, the_map.value_size)
        handle, ctx = const(I64, map_handle(index)), self.get(3)
        following = None if the_map.spec.type in ARRAY_TYPES else \
            self.m.hash_operation(index, "next")

        def first_from(slot):
            return slot if following is None else b.call(following[0], [following[1], slot])

        first = first_from(zero)
        start = b.block
        body = self.func.append_basic_block("each_body")
        advance = self.func.append_basic_block("each_advance")
        b.cbranch(b.icmp_unsigned("<", first, limit), body, done)
        results.append((zero, start))
        b.position_at_end(body)
        slot, visited = b.phi(I64, name="each_slot"), b.phi(I64, name="each_visited")
        slot.add_incoming(first, start)
        visited.add_incoming(zero, start)
        key = b.add(keys, b.mul(slot, stride))
        value = b.add(values, b.mul(slot, size))
        r0 = self._call_subprogram(callback, [handle, key, value, ctx, zero], self.frame_lo)
        made = b.add(visited, const(I64, 1))
        results.append((made, b.block))
        b.cbranch(b.icmp_unsigned("!=", r0, zero), done, advance)
        b.position_at_end(advance)
        after = first_from(b.add(slot, const(I64, 1)))
        slot.add_incoming(after, advance)
        visited.add_incoming(made, advance)
        results.append((made, advance))
        b.cbranch(b.icmp_unsigned("<", after, limit), body, done)

    def _exit(self, pc, insn) -> None:
        self.ret(self.get(0))
