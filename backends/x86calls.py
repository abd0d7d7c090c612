"""Calls in the peachpy lowering: helpers (Python, through the helper table), the map
helpers done in native code (array lookups inline, map routines appended to the code),
local calls and exits.  A mixin of backends.x86's lowering."""

from __future__ import annotations

import errno

from bpfjit.context.xdp import (REDIRECT_AT, REDIRECT_FLAGS, REDIRECT_KEY, REDIRECT_MAP,
                                REDIRECT_TARGET, XDP_HEADER)
from bpfjit.helpers.loops import MAX_LOOPS
from bpfjit.helpers.maps import TAIL_CALL
from bpfjit.helpers.redirect import REDIRECT_MAP_FLAGS, XDP_REDIRECT
from bpfjit.nativeclock import CLOCK_HELPERS
from bpfjit.isa import STACK_SIZE
from bpfjit.maps import ARRAY_OF_MAPS, ARRAY_TYPES, HASH_OF_MAPS, map_handle
from bpfjit.maps.base import HANDLE_SHIFT
from bpfjit.maps.redirect import presence_at
from bpfjit.traps import TrapCode

from .mapops import (OPERATIONS, kind_groups, routine_image, routine_kind, routine_operations,
                     routine_symbol)
from .x86asm import Mem, r32
from .x86layout import (ARGS, BUDGET, CALLER_SAVED, CTX, CTX_BYTES, CTX_SLOT, M64, RUN_SLOT,
                        S1, S2, s32)

__all__ = ["CallLowering"]


class CallLowering:
    """Helper calls, native map calls, local calls and exit (see backends.x86)."""

    def _count_helper_call(self, pc: int, scratch: str = S2) -> None:
        """One helper call of the run's allowance (run->helper_calls); trap when there
        was none left, as every engine does for a known helper (bpfjit.limits)."""
        a = self.a
        a("MOV", scratch, Mem(8, CTX, CTX_SLOT["run"]))          # mov scratch, [ctx.run]
        a("SUB", Mem(8, scratch, RUN_SLOT["helper_calls"]), 1)   # sub [.helper_calls], 1
        a.jump("s", self._stub(TrapCode.HELPER_CALLS, pc, "zero"))

    def _call(self, pc: int, insn) -> None:
        callback = self.verified.callbacks.get(pc)
        if callback is not None:
            self._count_helper_call(pc)
            walked = self.verified.iterated.get(pc)
            if walked is None:
                self._loop(callback)
            else:
                self._for_each(callback, walked)
            return
        inline = insn.imm == 1 and pc in self.inline_lookups
        native = pc in self.map_calls and insn.imm in self.native_maps
        if not (inline or native or insn.imm in self.helpers):
            self.a.jump("jmp", self._stub(TrapCode.HELPER_UNKNOWN, pc, insn.imm))
            return
        self._count_helper_call(pc)
        if inline:
            self._array_lookup(self.inline_lookups[pc])
        elif native:
            self._map_call(self.map_calls[pc], OPERATIONS[insn.imm])
        elif pc in self.tail_calls:
            self._tail_call(pc, self.tail_calls[pc])
        elif pc in self.redirect_maps:
            self._redirect_map(self.redirect_maps[pc])
        else:
            self._call_helper(pc, insn.imm)

    def _redirect_map(self, index: int) -> None:
        """bpf_redirect_map on the devmap, cpumap or xskmap `index`, without leaving the
        JIT code (see backends.llvmcalls): r0 = XDP_ABORTED for an unknown flag; for an
        entry present at the key's low 32 bits, XDP_REDIRECT with the entry's first 4
        bytes recorded as the target in the context block; else the flags' action."""
        a, r = self.a, self.reg
        the_map = self.prog.maps.list[index]
        aborted, absent, done = a.new_label(), a.new_label(), a.new_label()
        block = -XDP_HEADER                                 # the record, from run->mem
        a("TEST", r[3], s32(~REDIRECT_MAP_FLAGS))           # test r3, ~0x1b
        a.jump("ne", aborted)
        self._entry_index(r[2], the_map.max_entries, absent)     # r11 = (u32) key
        self._placed(S1, ("map", index, 0))
        a("CMP", Mem(1, S1, presence_at(the_map.spec), S2, 1), 0)   # present?
        a.jump("e", absent)
        a("MOV", r32(r[0]), Mem(4, S1, 0, S2, the_map.value_size))  # r0 = the target
        a("MOV", S1, Mem(8, CTX, CTX_SLOT["run"]))
        a("MOV", S1, Mem(8, S1, RUN_SLOT["mem"]))           # r10 = the packet
        a("MOV", Mem(4, S1, block + REDIRECT_TARGET), r32(r[0]))
        a("MOV", Mem(4, S1, block + REDIRECT_MAP), index + 1)
        a("MOV", Mem(4, S1, block + REDIRECT_KEY), r32(S2))
        a("MOV", Mem(8, S1, block + REDIRECT_FLAGS), r[3])
        a("MOV", Mem(4, S1, block + REDIRECT_AT), 1)        # the record is set
        a("MOV", r32(r[0]), XDP_REDIRECT)
        a.jump("jmp", done)
        a.label(absent)
        a("MOV", r32(r[0]), r32(r[3]))
        a("AND", r32(r[0]), 3)                              # the flags' action
        a.jump("jmp", done)
        a.label(aborted)
        a("XOR", r32(r[0]), r32(r[0]))                      # XDP_ABORTED
        a.label(done)

    def _entry_index(self, reg: str, entries: int, outside) -> None:
        """r11 = the low 32 bits of `reg`; to `outside` unless below `entries` (a
        mispredicted test reads entry 0: bpfjit.speculation)."""
        a = self.a
        a("MOV", r32(S2), r32(reg))                         # mov r11d, reg32
        a("CMP", r32(S2), s32(entries))                     # cmp r11d, entries
        a.jump("ae", outside)
        self._zero_if("AE", S2)

    def _tail_call(self, pc: int, index: int) -> None:
        """bpf_tail_call on the program array `index`: r0 = -ENOENT without leaving the
        JIT code for an index past it or an empty slot (its arena holds 1 + the index
        of a set entry, else 0); the helper for a set slot."""
        a, r = self.a, self.reg
        the_map = self.prog.maps.list[index]
        empty, done = a.new_label(), a.new_label()
        self._entry_index(r[3], the_map.max_entries, empty)      # r11 = (u32) r3
        self._placed(S1, ("map", index, 0))
        a("CMP", Mem(4, S1, 0, S2, 4), 0)                   # cmp dword [r10 + r11 * 4], 0
        a.jump("e", empty)
        self._call_helper(pc, TAIL_CALL)
        a.jump("jmp", done)
        a.label(empty)
        self._load_constant(r[0], -errno.ENOENT & M64)
        a.label(done)

    def _array_lookup(self, index: int) -> None:
        """map_lookup_elem on an array map, without leaving the JIT code: r0 = &values[key]
        when key < max_entries, else NULL (the verifier proved the key readable)."""
        a, r = self.a, self.reg
        the_map = self.prog.maps.list[index]
        null, done = a.new_label(), a.new_label()
        a("MOV", r32(S2), Mem(4, r[2], 0))                  # r11 = key (u32)
        a("CMP", r32(S2), s32(the_map.max_entries))
        self._check_jump("ae", null)
        self._zero_if("AE", S2)                             # (bpfjit.speculation)
        if the_map.spec.type == ARRAY_OF_MAPS:
            # the entry holds 1 + the inner map's index (0: none): r0 = its handle
            self._placed(S1, ("map", index, 0))
            a("MOV", r32(S2), Mem(4, S1, 0, S2, 4))         # mov r11d, [r10 + r11 * 4]
            self._handle_of_r11(null)
            a.jump("jmp", done)
            a.label(null)
            a("XOR", r32(r[0]), r32(r[0]))
            a.label(done)
            return
        a("IMUL", S2, S2, the_map.value_size)
        self._placed(S1, ("map", index, 0))
        a("ADD", S2, S1)
        a("MOV", r[0], S2)
        a.jump("jmp", done)
        a.label(null)
        a("XOR", r32(r[0]), r32(r[0]))
        a.label(done)

    def _callx(self, pc: int, insn) -> None:
        a, d = self.a, self.reg[insn.dst]
        unknown = self._stub(TrapCode.HELPER_UNKNOWN, pc, d)
        a("CMP", d, self.n_helpers)
        a.jump("ae", unknown)
        self._zero_if("AE", d)                              # (bpfjit.speculation)
        self._placed(S2, ("helpers",))
        a("MOV", S2, Mem(8, S2, 0, d, 8))                 # r11 = table[id]
        a("TEST", S2, S2)
        a.jump("e", unknown)
        self._count_helper_call(pc, S1)                         # (r11 holds the helper)
        self._call_helper(pc, None)

    def _call_helper(self, pc: int, helper: int | None) -> None:
        """Call the C-ABI helper `helper` (or the one in r11) with r1-r5; r0 = its result."""
        a = self.a

        def call() -> None:
            self._parallel_move(list(zip(ARGS, self.reg[1:6])))
            # the run structure, 6th argument (r9 holds the budget: pushed already)
            a("MOV", "r9", Mem(8, CTX, CTX_SLOT["run"]))
            if helper in CLOCK_HELPERS:     # (native or Python as the env's clock is)
                self._placed(S2, ("helper_slot", helper))
                a("MOV", S2, Mem(8, S2, 0))                 # r11 = table[id]
            elif helper is not None:
                self._placed(S2, ("helper", helper))
            a("CALL", S2)
        self._native_call(call)
        a("MOV", S2, Mem(8, CTX, CTX_SLOT["run"]))
        if helper == TAIL_CALL:
            # the program a tail call ran ends the run with its r0 (run->trap_arg)
            a("CMP", Mem(8, S2, RUN_SLOT["trap"]), int(TrapCode.TAIL_DONE))
            a.jump("e", "tail_done")
        # a failing Python helper has set run->trap: stop here, at this pc
        a("CMP", Mem(8, S2, RUN_SLOT["trap"]), 0)
        a.jump("ne", self._stub(TrapCode.HELPER_FAILED, pc, "zero"))
        if self.reload_packet:
            self._reload_packet_bounds()

    def _map_call(self, indices: tuple[int, ...], operation: str) -> None:
        """map_lookup_elem / update_elem / delete_elem in native code: r0 = the result of
        the routine (bpfjit.backends.mapops) appended to this code, given the map's
        index (hash maps: the one r1's handle names, among `indices`) or values (an
        array), r2 (and r3, r4); they cannot fail."""
        a, the_map = self.a, self.prog.maps.list[indices[0]]
        kind = routine_kind(the_map)
        if kind == ("array",) and operation == "delete":
            self._load_constant(self.reg[0], -errno.EINVAL & M64)   # arrays keep all
            return
        groups = kind_groups(self.prog.maps.list, indices)
        self.routines.update(routine_kind(self.prog.maps.list[g[0]]) for g in groups)
        moves = [("rsi", self.reg[2])]
        if operation == "update":
            moves += [("rdx", self.reg[3]), ("rcx", self.reg[4])]
        if len(indices) > 1:
            moves.append(("r8", self.reg[1]))       # the handle (map_handle: index << 16)

        def call() -> None:
            self._parallel_move(moves)
            if kind == ("array",):
                self._placed("rdi", ("map", indices[0], 0))
                a("MOV", "r8", the_map.max_entries)
                a("MOV", "r9", the_map.value_size)          # (the budget: pushed)
                a.jump("call", ("native", operation) + kind)
            elif len(groups) == 1:
                self._map_index("rdi", indices)
                a.jump("call", ("native", operation) + kind)
            else:       # maps of several kinds: the routine of the one r1's handle names
                a("SHR", "r8", HANDLE_SHIFT)
                a("AND", "r8", 0xFFFF)                      # r8 = the map's index
                done = a.new_label()
                for group in groups:
                    other = a.new_label()
                    if group is not groups[-1]:
                        this = a.new_label()
                        for index in group:
                            a("CMP", "r8", index)           # cmp r8, index
                            a.jump("e", this)
                        a.jump("jmp", other)
                        a.label(this)
                    if self.spec:   # a mispredicted dispatch would read another kind's index
                        a("LFENCE")
                    self._map_index("rdi", group, shifted=True)
                    a.jump("call", ("native", operation)
                           + routine_kind(self.prog.maps.list[group[0]]))
                    a.jump("jmp", done)
                    a.label(other)
                a.label(done)
        self._native_call(call)
        if the_map.spec.type == HASH_OF_MAPS:     # the slot holds 1 + the inner map's index
            null, done = a.new_label(), a.new_label()
            a("TEST", self.reg[0], self.reg[0])
            a.jump("e", done)                               # not found: r0 = 0 already
            a("MOV", r32(S2), Mem(4, self.reg[0], 0))       # mov r11d, [r0]
            self._handle_of_r11(null)
            a.jump("jmp", done)
            a.label(null)
            a("XOR", r32(self.reg[0]), r32(self.reg[0]))
            a.label(done)

    def _handle_of_r11(self, null) -> None:
        """r0 = the handle of the map whose index is r11d - 1; to `null` when r11d is 0."""
        a = self.a
        a("TEST", r32(S2), r32(S2))
        a.jump("e", null)
        a("SUB", S2, 1)
        a("SHL", S2, HANDLE_SHIFT)
        self._load_constant(self.reg[0], map_handle(0))
        a("OR", self.reg[0], S2)                            # base | index << 16

    def _map_index(self, d: str, indices: tuple[int, ...], shifted: bool = False) -> None:
        """d = the native index of the map r1's handle names (in r8 when there are
        several; its index already, `shifted`): a compare per candidate; the verifier
        proved it is one of them."""
        a = self.a
        if len(indices) > 1 and not shifted:
            a("SHR", "r8", HANDLE_SHIFT)
            a("AND", "r8", 0xFFFF)                          # r8 = the map's index
        done = a.new_label()
        for index in indices[:-1]:
            other = a.new_label()
            a("CMP", "r8", index)
            a.jump("ne", other)
            self._placed(d, ("index", index))
            a.jump("jmp", done)
            a.label(other)
        self._placed(d, ("index", indices[-1]))
        a.label(done)

    def _append_routines(self, kind: tuple) -> None:
        """The map routines of one kind, their machine code as compiled (position
        independent; its libc fixups carried over), labelled per operation."""
        a = self.a
        # (from the code cache too, unless this compile leaves the cache alone)
        routine = routine_image(kind, self.verified.cache_name is not None)
        operations = routine_operations(kind)
        cuts = sorted([(routine.symbols[routine_symbol(kind, op)], ("label", op))
                       for op in operations] +
                      [(where + 8, ("fixup", what)) for where, what in routine.fixups])
        a.align(64)
        done = 0
        for at, (cut, what) in cuts:
            a.raw(routine.code[done:at])
            done = at
            if cut == "label":
                a.label(("native", what) + kind)
            else:
                a.fixup(what)                   # the 8 bytes just emitted
        a.raw(routine.code[done:])

    def _native_call(self, call) -> None:
        """A C-ABI call emitted by `call()`, with the caller-saved registers that hold
        r6-r10 or the budget saved around it; r0 = its result."""
        a, r = self.a, self.reg
        keep = [x for x in (r[6], r[7], r[8], r[9], r[10], BUDGET) if x in CALLER_SAVED]
        for x in keep:
            a("PUSH", x)
        pad = len(keep) % 2 == 0                  # keep rsp 16-byte aligned at the call
        if pad:
            a("SUB", "rsp", 8)
        call()
        result = "rax"
        if "rax" in keep:
            a("MOV", S1, "rax")
            result = S1
        if pad:
            a("ADD", "rsp", 8)
        for x in reversed(keep):
            a("POP", x)
        if r[0] != result:
            a("MOV", r[0], result)

    def _reload_packet_bounds(self) -> None:
        """The packet's length may have changed: its bounds again, from run->mem_len
        (r11 holds the run structure)."""
        self.a("MOV", S1, Mem(8, S2, RUN_SLOT["mem_len"]))         # mov r10, [run.mem_len]
        self._buffer_bounds(S1, S2, Mem(8, CTX, CTX_SLOT["data"]))

    def _parallel_move(self, moves: list[tuple[str, str]]) -> None:
        """Perform the moves dst <- src as if all at once (r10 breaks cycles)."""
        a = self.a
        pending = [(d, s) for d, s in moves if d != s]
        while pending:
            sources = {s for _, s in pending}
            ready = [m for m in pending if m[0] not in sources]
            if ready:
                d, s = ready[0]
                a("MOV", d, s)
                pending.remove(ready[0])
            else:                                 # a cycle: park one source in r10
                d, s = pending[0]
                a("MOV", S1, s)
                pending = [(dd, S1 if ss == s else ss) for dd, ss in pending]

    def _call_btf(self, pc: int, insn) -> None:
        self.a.jump("jmp", self._stub(TrapCode.BTF_CALL, pc, insn.imm))

    def _call_local(self, pc: int, insn) -> None:
        a, fp = self.a, self.fp
        target = pc + 1 + insn.imm
        if self.verified.recursive:
            # the callee's frame must lie within the stack: fp - 512 >= the 8th frame's top
            a("LEA", S1, Mem(8, CTX, CTX_BYTES + 2 * STACK_SIZE))
            a("CMP", fp, S1)                             # cmp fp, base + 1024
            a.jump("b", self._stub(TrapCode.CALL_DEPTH, pc, "zero"))
            self._poison_if("B", fp)        # (speculation: the callee's frame at POISON)
        # without recursion, the verifier bounds the chain statically (at most 8 frames),
        # so no check is needed
        saved = self._save_for_call(target, 0)
        a("SUB", fp, STACK_SIZE)
        a.jump("call", ("sub", target))
        a("ADD", fp, STACK_SIZE)
        self._restore_after_call(saved)

    def _save_for_call(self, target: int, slots: int) -> tuple[list[str], int]:
        """Push the registers of r6-r9 the subprogram at `target` (and its callees) may
        write, then padding, so that after `slots` more pushes and the call's return
        address its body runs at rsp % 16 == 8; what _restore_after_call undoes."""
        a = self.a
        keep = [self.reg[i] for i in self.clobbers[target]]
        for x in keep:
            a("PUSH", x)
        pad = 8 if (len(keep) + slots) % 2 == 0 else 0
        if pad:
            a("SUB", "rsp", pad)
        return keep, pad + 8 * slots

    def _restore_after_call(self, saved: tuple[list[str], int]) -> None:
        """Drop the padding and the slots pushed after _save_for_call, pop the rest."""
        a = self.a
        keep, drop = saved
        if drop:
            a("ADD", "rsp", drop)
        for x in reversed(keep):
            a("POP", x)

    def _loop(self, callback: int) -> None:
        """bpf_loop(r1, callback, r3, r4): call the callback subprogram with (i, r3)
        for i below r1's low half until it returns non-zero; r0 = the trips made, or
        -EINVAL (flags) or -E2BIG (more than MAX_LOOPS) without a call.  The trip
        count, the index and ctx live on the native stack across the calls."""
        a, r, fp = self.a, self.reg, self.fp
        done, zero, loop, stop = (a.new_label() for _ in range(4))
        a("MOV", r[0], -errno.EINVAL)                   # mov r0, -EINVAL
        a("TEST", r[4], r[4])                           # flags?
        a.jump("ne", done)
        a("MOV", r[0], -errno.E2BIG)                    # mov r0, -E2BIG
        a("MOV", r32(S1), r32(r[1]))                    # r10 = trips (u32)
        a("CMP", S1, MAX_LOOPS)
        a.jump("a", done)
        a("TEST", S1, S1)
        a.jump("e", zero)
        saved = self._save_for_call(callback, 3)
        a("PUSH", S1)                                   # [rsp + 16] = trips
        a("PUSH", r[3])                                 # [rsp + 8] = ctx
        a("PUSH", 0)                                    # [rsp] = index
        a("SUB", fp, STACK_SIZE)
        a.label(loop)
        a("MOV", r[1], Mem(8, "rsp", 0))                # mov r1, [rsp] (index)
        a("MOV", r[2], Mem(8, "rsp", 8))                # mov r2, [rsp + 8] (ctx)
        for x in r[3:6]:
            a("XOR", r32(x), r32(x))
        a.jump("call", ("sub", callback))
        a("MOV", S1, Mem(8, "rsp", 0))
        a("ADD", S1, 1)                                 # one more trip made
        a("MOV", Mem(8, "rsp", 0), S1)
        a("TEST", r[0], r[0])                           # the callback returned 1: stop
        a.jump("ne", stop)
        a("CMP", S1, Mem(8, "rsp", 16))
        a.jump("b", loop)
        a.label(stop)
        a("MOV", r[0], S1)                              # r0 = the trips made
        a("ADD", fp, STACK_SIZE)
        self._restore_after_call(saved)
        a.jump("jmp", done)
        a.label(zero)
        a("XOR", r32(r[0]), r32(r[0]))
        a.label(done)

    def _for_each(self, callback: int, indices: tuple[int, ...]) -> None:
        """bpf_for_each_map_elem(map, callback, r3, r4): a walk of the map r1's handle
        names (one of `indices`: the verifier proved it is one of them), or -EINVAL for
        flags; r0 = the elements visited."""
        a, r = self.a, self.reg
        done = a.new_label()
        a("MOV", r[0], -errno.EINVAL)                   # mov r0, -EINVAL
        a("TEST", r[4], r[4])                           # flags?
        a.jump("ne", done)
        for i, index in enumerate(indices):
            other = a.new_label()
            if i + 1 < len(indices):
                self._load_constant(S2, map_handle(index))
                a("CMP", r[1], S2)                      # r1 names this map?
                a.jump("ne", other)
            self._walk(callback, index)
            a.jump("jmp", done)
            a.label(other)
        a.label(done)

    def _walk(self, callback: int, index: int) -> None:
        """Call the callback subprogram with (map, &key, &value, r3) for each element of
        map `index` in slot order (an array's every slot; a hash map's slots holding a
        key, found by its `next` routine) until it returns non-zero; r0 = the elements
        visited.  The slot to look from, the count and ctx live on the native stack."""
        a, r, fp = self.a, self.reg, self.fp
        the_map = self.prog.maps.list[index]
        stride = the_map.key_area()[1]
        kind = None if the_map.spec.type in ARRAY_TYPES else routine_kind(the_map)
        loop, stop = a.new_label(), a.new_label()
        saved = self._save_for_call(callback, 3)
        a("PUSH", r[3])                                 # [rsp + 16] = ctx
        a("PUSH", 0)                                    # [rsp + 8] = elements visited
        a("PUSH", 0)                                    # [rsp] = the slot to look from
        a("SUB", fp, STACK_SIZE)
        a.label(loop)
        a("MOV", S1, Mem(8, "rsp", 0))                  # mov r10, [rsp] (slot)
        if kind is not None:                            # the next slot holding a key
            self.routines.add(kind)

            def call() -> None:
                a("MOV", "rsi", S1)
                self._placed("rdi", ("index", index))
                a.jump("call", ("native", "next") + kind)
            a("SUB", "rsp", 8)                          # (rsp % 16 == 8, as in a body)
            self._native_call(call)
            a("ADD", "rsp", 8)
            a("MOV", S1, r[0])
        self._load_constant(S2, the_map.max_entries)
        a("CMP", S1, S2)                                # past the last slot: done
        a.jump("ae", stop)
        a("MOV", Mem(8, "rsp", 0), S1)
        self._load_constant(r[1], map_handle(index))    # r1 = the map
        self._placed(r[2], ("keys", index))
        a("IMUL", S2, S1, stride)
        a("ADD", r[2], S2)                              # r2 = keys + slot * stride
        self._placed(r[3], ("map", index, 0))
        a("IMUL", S2, S1, the_map.value_size)
        a("ADD", r[3], S2)                              # r3 = values + slot * size
        a("MOV", r[4], Mem(8, "rsp", 16))               # r4 = ctx
        a("XOR", r32(r[5]), r32(r[5]))
        a.jump("call", ("sub", callback))
        a("ADD", Mem(8, "rsp", 8), 1)                   # one more element visited
        a("ADD", Mem(8, "rsp", 0), 1)                   # look on from the next slot
        a("TEST", r[0], r[0])                           # the callback returned 1: stop
        a.jump("e", loop)
        a.label(stop)
        a("MOV", r[0], Mem(8, "rsp", 8))                # r0 = the elements visited
        a("ADD", fp, STACK_SIZE)
        self._restore_after_call(saved)

    def _exit(self, pc: int, insn) -> None:
        self.a("RET")
