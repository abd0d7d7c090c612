"""Helper calls in the abstract: each argument checked against the helper's signature
(bpfjit.helpers), as the kernel checks it, the memory a helper writes, and what r0
holds after; callx and the legacy packet loads.  Local calls and exits:
bpfjit.verifier.localcalls."""

from __future__ import annotations

from ..helpers import HELPER_NAMES
from ..helpers.maps import TAIL_CALL
from ..helpers.redirect import REDIRECT_MAP
from ..helpers.snprintf import MAX_ARGS, format_error
from ..helpers.spec import SIZES
from ..isa import MAX_CALL_DEPTH, STACK_SIZE
from ..maps import SOCKET_MAP_TYPES
from ..maps.base import MAP_TYPE_NAMES
from ..semantics import sext
from .domain import (ADDRESSES, CTX, M32, MAP_KEY, MAP_OR_NULL, MAP_PTR, MAP_PTR_OR_NULL,
                     MAP_VALUE, MEM, MEM_OR_NULL, MIXED, SCALAR, SOCKET_OR_NULL, STACK, UNINIT,
                     Value, map_indices, scalar, top_scalar)
from .memory import pointer_slots
from .state import LEN, State, frame_bits, slot_var
from .zone import MIRROR

__all__ = ["CallRules", "NATIVE_MEMORY_HELPERS"]

# the argument kinds that are pointers to memory a helper reads or writes
_POINTER_ARGS = frozenset(("key", "value", "value_or_null", "value_out", "mem", "mem_or_null",
                           "out", "out_or_null", "out_u64", "inout_u32"))
# (a map key may be read)
_READ_ARGS = frozenset(("key", "value", "value_or_null", "mem", "mem_or_null"))
_OR_NULL_ARGS = ("mem_or_null", "value_or_null", "out_or_null")
_OUT_ARGS = ("out", "out_or_null", "value_out", "out_u64", "inout_u32")  # (it writes them)
_FIXED_SIZES = {"out_u64": 8, "inout_u32": 4}       # the bytes of a fixed-size argument
_SOCKET_RESULTS = frozenset(("sock_or_null", "sock_common_or_null", "fullsock_or_null",
                             "tcp_sock_or_null"))
# helpers the JITs may run in native code where their memory is proven in bounds: id ->
# the registers holding a pointer whose size the next register holds (bpf_csum_diff's
# from and to, bpf_skb_load_bytes's to, bpf_skb_store_bytes's from: backends.helperops)
NATIVE_MEMORY_HELPERS = {28: (1, 3), 26: (3,), 9: (3,)}
_NATIVE_SPAN = 1 << 16          # sizes proven at most this (the helpers' 32-bit sizes)




class CallRules:
    """Mixed into the analysis: CALL and CALLX."""

    # ---- helpers ------------------------------------------------------------------------

    def _helper_call(self, pc: int, insn, st: State) -> None:
        helper = insn.imm
        if self.helpers is not None and helper not in self.helpers:
            if self.prog.env is not None and helper not in HELPER_NAMES:
                # a loaded object calls the kernel's helpers: this one is not among them
                self.fail(pc, f"call to helper {helper}, which bpfjit does not provide "
                              f"(pass helpers={{{helper}: function}} to give one)")
            self.fail(pc, f"call to helper {helper}, which is not registered "
                          f"(pass helpers={{{helper}: function}})")
        signature = self.signatures.get(helper)
        result = top_scalar()
        if signature is None:
            self._note_stack_arguments(st)
        else:
            result = self._check_arguments(pc, helper, signature, st)
            if signature.changes_packet:
                self._forget_packet(st)
        self._clobber_after_call(st)
        st.forget_register(0, result)

    def _check_arguments(self, pc: int, helper: int, signature, st: State) -> Value:
        """Check r1.. against the signature's kinds, as the kernel does; mark the stack a
        helper writes as written; r0's value afterwards."""
        name = HELPER_NAMES.get(helper, f"helper {helper}")
        why = signature.refusal(name, self.context, self.prog_type, self.attach_type)
        if why is not None:
            self.fail(pc, why)
        handle = lock = timer_maps = None
        released = 0
        outputs = []
        for reg, kind in enumerate(signature.args, 1):
            arg = self._read(st, reg, pc)
            if kind == "spin_lock":
                lock = self._lock_argument(pc, name, reg, arg)
            elif kind == "timer":
                timer_maps = self._field_argument(pc, name, reg, arg, "timer")
            elif kind == "timer_callback":
                self._timer_callback(pc, name, reg, arg, timer_maps)
            elif kind == "map":
                if arg.kind != MAP_PTR:
                    self.fail(pc, f"{name} takes a map in r{reg} (lddw rX, map), not "
                                  f"{arg.describe()}")
                self._check_map_use(pc, name, arg, signature.map_types)
                handle = arg
            elif kind in ("ctx", "ctx_or_null"):
                null = kind == "ctx_or_null" and arg.kind == SCALAR and arg.is_const \
                    and arg.umin == 0
                if arg.kind != CTX and not null:
                    self.fail(pc, f"{name} takes the program's context in r{reg}"
                                  + (" (or 0)" if kind == "ctx_or_null" else "")
                                  + f", not {arg.describe()}")
            elif kind == "const_str":
                self._constant_string(pc, name, reg, arg)
            elif kind in ("sock_common", "sock_release", "sock_or_null") or (
                    kind == "value" and handle is not None and self._socket_maps(handle)):
                # (a socket map's update takes a socket as its value, as in the kernel)
                released = self._socket_argument(pc, name, reg, kind, arg, st) or released
            elif kind in SIZES:
                if arg.kind != SCALAR:
                    self.fail(pc, f"{name} takes a size in r{reg}, not {arg.describe()}")
                if kind == "size" and arg.umin == 0 and self.mode == "strict":
                    self.fail(pc, f"strict mode: {name} takes a size of at least 1 in r{reg}, "
                                  f"which may be 0 here ({arg.describe()}); the kernel "
                                  f"refuses it (\"invalid zero-sized read\")")
            elif kind == "ringbuf_mem":
                released = self._record_argument(pc, name, reg, arg, st)
            elif kind == "source" and self.mode == "strict" and arg.kind in ADDRESSES \
                    and arg.kind not in (MEM, MAP_VALUE):
                self.fail(pc, f"strict mode: {name} reads from r{reg} = {arg.describe()}, "
                              f"whose bytes may hold an address (only the packet's and map "
                              f"values' hold none)")
            elif kind == "any" and self.mode == "strict" and arg.kind in ADDRESSES:
                self.fail(pc, f"strict mode: {name} gets a pointer in r{reg} as a number "
                              f"({arg.describe()}), which would make its result depend on "
                              f"an address (the kernel refuses such leaks)")
            elif kind in _POINTER_ARGS and st.regs[reg].kind == MIXED:
                # (checked mode: strict refused it in _read) paths joined pointers into
                # different regions -- clang sinks `f(&map, pkt_key)` and `f(&map6,
                # stack_key)` into one call: the helper checks the pointer when it runs,
                # as every pointer it gets, and it may touch any byte of the stack
                self._fact(self._note_stack_reach, STACK_SIZE)
                if kind in _OUT_ARGS:
                    outputs.append((st.regs[reg], None))
            elif kind in _POINTER_ARGS:
                null = kind in _OR_NULL_ARGS and arg.kind == SCALAR and arg.is_const \
                    and arg.umin == 0
                if arg.kind == MAP_KEY and kind in _READ_ARGS:
                    self._key_argument(pc, name, reg, kind, arg, handle, st)
                elif not null and arg.kind not in (STACK, MEM, MAP_VALUE):
                    self.fail(pc, f"{name} takes a pointer to the stack, the packet or a map "
                                  f"value in r{reg}, not {arg.describe()}")
                elif arg.kind == MEM and not signature.packet_access \
                        and self.context is not None:
                    self.fail(pc, f"{name} may not be given a pointer into the packet in "
                                  f"r{reg}, as the kernel refuses it (\"helper access to the "
                                  f"packet is not allowed\"): copy the bytes to the stack "
                                  f"first")
                if arg.kind == MAP_VALUE:
                    reach = self._argument_sizes(kind, handle, st.regs[reg + 1] if reg < 5
                                                 else None, 1 << 32)[1]
                    self._touches_fields(pc, arg, arg.smin, arg.smax + reach,
                                         f"{name}'s r{reg}")
                    if kind in _OUT_ARGS:
                        self._writable_value(pc, name, reg, arg)
                if arg.kind == STACK:
                    self._fact(self._note_stack_reach, -arg.smin)
                    if self.mode == "strict":
                        size = st.regs[reg + 1] if reg < 5 else None
                        self._stack_argument_in_frame(pc, name, reg, kind, arg, size, handle)
                        self._no_pointer_bytes(pc, st, name, kind, arg, size, handle)
                if kind == "out" or (kind == "out_or_null" and not null):
                    outputs.append((arg, st.regs[reg + 1]))
                elif kind in _FIXED_SIZES:
                    outputs.append((arg, scalar(_FIXED_SIZES[kind], _FIXED_SIZES[kind])))
                elif kind == "value_out" and handle is not None:
                    size = min(self.maps[i].value_size for i in map_indices(handle.maps))
                    outputs.append((arg, scalar(size, size)))
        if timer_maps is not None and handle is not None:
            self._same_timer_map(pc, name, timer_maps, handle)
        if signature.formats is not None:
            self._check_format(pc, name, signature.formats, st)
        if helper in NATIVE_MEMORY_HELPERS and self.keeps_facts:
            self._fact(self._note_native_helper, pc, self._memory_in_bounds(st, helper))
        # map_lookup_elem, map_update_elem, map_delete_elem: may a JIT do the call itself?
        if helper in (1, 2, 3) and handle is not None and self.keeps_facts:
            self._fact(self._note_map_call, pc,
                       self._known_map_call(st, handle, helper))
        elif helper in (TAIL_CALL, REDIRECT_MAP) and handle is not None and self.keeps_facts:
            # the program arrays r2 may be, the redirect maps r1 may be: a JIT may test
            # their entries itself
            self._fact(self._note_map_call, pc, tuple(map_indices(handle.maps)) or None)
        for arg, size in outputs:
            self._helper_writes(st, arg, size)
        if signature.lock is not None:
            self._lock_change(pc, name, signature.lock, lock, st)
        if helper == TAIL_CALL:
            self._references_at(pc, st, "a tail call")
        result = self._helper_result(pc, helper, signature.result, handle, st)
        if released:
            st.release(released)
        return result

    def _writable_value(self, pc: int, name: str, reg: int, arg: Value) -> None:
        """A helper writes where r{reg} points: not into a read-only map (.rodata), whose
        loads the verifier reads as constants (the kernel: "write into map forbidden")."""
        for i in map_indices(arg.maps):
            if self.maps[i].read_only:
                self.fail(pc, f"{name} writes through r{reg} into map {self.maps[i].name!r}, "
                              f"which is read-only (the kernel refuses it: \"write into map "
                              f"forbidden\")")

    def _key_argument(self, pc: int, name: str, reg: int, kind: str, arg: Value,
                      handle: Value | None, st: State) -> None:
        """A map key (a for_each callback's r2) given to a helper that reads it: every
        byte it may read lies in the key, as the kernel proves (the engines check key
        pointers nowhere at run time)."""
        size = st.regs[reg + 1] if reg < 5 and kind in ("mem", "mem_or_null") else None
        reach = self._argument_sizes(kind, handle, size, 1 << 32)[1]
        if not self._in_bounds(st, reg, arg, 0, reach):
            self.fail(pc, f"{name} may read {reach} bytes at r{reg}, past the "
                          f"{self._key_size(arg)}-byte map key it points into "
                          f"({arg.describe()})")

    def _constant_string(self, pc: int, name: str, reg: int, arg: Value) -> None:
        """A string the helper reads to its NUL: in read-only data (.rodata, frozen once
        verified) at a constant offset, with a NUL before the value ends, as the kernel
        requires of ARG_PTR_TO_CONST_STR.  Paths that pass different strings (clang
        merges such calls) join into a range of offsets, each constant on its path, as
        the kernel follows them: a NUL after the last one ends every string."""
        maps = map_indices(arg.maps) if arg.kind == MAP_VALUE else []
        the_map = self.maps[maps[0]] if len(maps) == 1 else None
        if the_map is None or not the_map.spec.read_only \
                or not 0 <= arg.smin <= arg.smax < the_map.value_size \
                or 0 not in bytes(the_map.arena[arg.smax:the_map.value_size]):
            self.fail(pc, f"{name} takes a NUL-terminated string of read-only data in r{reg} "
                          f"(a constant in .rodata), not {arg.describe()}")
        self.constant_maps.add(maps[0])     # what the verdict read: frozen with it

    def _check_format(self, pc: int, name: str, where: tuple[int, int], st: State) -> None:
        """The constant format string at r`where[0]` fits the u64 arguments whose byte
        count is r`where[1]`, which must be a constant multiple of 8: the kernel checks
        bpf_snprintf's format so when it loads the program.  Where paths that pass
        different formats or sizes meet (one offset or size per path, which the kernel
        checks path by path) the helper checks the format when it runs (-EINVAL)."""
        fmt, size = st.regs[where[0]], st.regs[where[1]]
        if fmt.smin != fmt.smax or (size.kind == SCALAR and not size.is_const
                                    and size.umax <= 8 * MAX_ARGS):
            return
        if size.kind != SCALAR or not size.is_const or size.umin % 8:
            self.fail(pc, f"{name} takes the size of its u64 arguments in r{where[1]} as a "
                          f"constant multiple of 8 (the kernel checks the format against "
                          f"it), not {size.describe()}")
        the_map = self.maps[map_indices(fmt.maps)[0]]
        text = bytes(the_map.arena[fmt.smin:the_map.value_size]).split(b"\0", 1)[0]
        why = format_error(text, size.umin // 8)
        if why is not None:
            self.fail(pc, f"{name}: invalid format string: {why} (the kernel refuses it)")

    def _argument_sizes(self, kind: str, handle: Value | None, size: Value | None,
                        limit: int) -> tuple[int, int]:
        """The fewest and the most bytes a pointer argument of `kind` may reach: a key
        or a value of the map argument, or the size argument after it (at most
        `limit`; unknown: 0 to `limit`)."""
        if kind in ("key", "value", "value_or_null", "value_out") and handle is not None:
            sizes = [self.maps[i].key_size if kind == "key" else self.maps[i].value_size
                     for i in map_indices(handle.maps)]
            return min(sizes), max(sizes)
        if kind in _FIXED_SIZES:
            return _FIXED_SIZES[kind], _FIXED_SIZES[kind]
        if size is not None and size.kind == SCALAR:
            return size.umin, min(size.umax, limit)
        return 0, limit

    def _stack_argument_in_frame(self, pc: int, name: str, reg: int, kind: str, arg: Value,
                                 size: Value | None, handle: Value | None) -> None:
        """Strict mode: a helper's stack pointer lies in its frame, as the kernel proves
        (the helper checks every byte it reaches when it runs, in every mode).  Where
        paths joined pointers and sizes (dae passes fp-16 with 16 bytes on one path and
        fp-4 with 4 on another, which meet as fp-[16,4] with 4 to 16 bytes) the pairs
        are not known: the highest pointer is held to the fewest bytes."""
        if arg.frame < 0:
            return
        fewest = self._argument_sizes(kind, handle, size, 1 << 32)[0]
        if arg.smin < -STACK_SIZE or arg.smax + fewest > 0:
            self.fail(pc, f"strict mode: {name} may reach bytes {arg.smin} to "
                          f"{arg.smax + fewest} from r{reg}'s frame top ({arg.describe()}), "
                          f"outside its {STACK_SIZE}-byte frame (the kernel refuses it)")

    def _no_pointer_bytes(self, pc: int, st: State, name: str, kind: str, arg: Value,
                          size: Value | None, handle: Value | None) -> None:
        """Strict mode: a helper reads no stack bytes of a spilled pointer (it would copy
        an address into a map or an event), and writes none but whole ones."""
        if arg.frame < 0:
            return
        lo_size, hi_size = self._argument_sizes(kind, handle, size, STACK_SIZE)
        if arg.frame == 0 and kind not in _OUT_ARGS \
                and st.remnants & frame_bits(arg.smin, arg.smax + hi_size):
            self.fail(pc, f"strict mode: {name} reads part of a spilled pointer that a "
                          f"narrower store wrote over the rest of, which would make an "
                          f"address a number (the kernel refuses such leaks)")
        slots = pointer_slots(st, arg.frame, arg.smin, arg.smax + hi_size)
        if not slots:
            return
        if kind in _OUT_ARGS and arg.smin == arg.smax:
            shift = arg.frame * STACK_SIZE
            covered = all(arg.smin <= key + shift and key + shift + 8 <= arg.smin + lo_size
                          for key in slots)
            if covered:         # written over whole: no byte of the pointers is left
                return
        what = "writes over part of" if kind in _OUT_ARGS else "reads"
        self.fail(pc, f"strict mode: {name} {what} a spilled pointer's stack bytes, which "
                      f"would make an address a number (the kernel refuses such leaks)")

    def _known_map_call(self, st: State, handle: Value, helper: int
                        ) -> tuple[int, ...] | None:
        """The maps r1 may be at a map helper call, when the key at r2 (and for an
        update the value at r3) are read in bounds for each: a JIT may do the call
        itself.  Not an update or a delete of a map with timers (the element's timer
        goes: the Python helper's)."""
        value = helper == 2
        maps = tuple(map_indices(handle.maps))
        if not maps:
            return None
        key_size = max(self.maps[i].key_size for i in maps)
        if not self._in_bounds(st, 2, st.regs[2], 0, key_size):
            return None
        if value and self._socket_maps(handle):
            return None             # the value is a socket: the Python helper's
        value_size = max(self.maps[i].value_size for i in maps)
        if value and not self._in_bounds(st, 3, st.regs[3], 0, value_size):
            return None
        if value and any(self.maps[i].spec.spin_lock is not None for i in maps):
            return None         # an update leaves the lock word be: the Python helper's
        if helper != 1 and any(self.maps[i].spec.timer is not None for i in maps):
            return None
        return maps

    def _memory_in_bounds(self, st: State, helper: int) -> bool:
        """Whether every byte the memory arguments of a call of `helper` (a pointer and
        its size, NATIVE_MEMORY_HELPERS) may reach lies in bounds, or the size is 0."""
        for reg in NATIVE_MEMORY_HELPERS[helper]:
            size = st.regs[reg + 1]
            if size.kind != SCALAR or size.umax > _NATIVE_SPAN:
                return False
            if size.umax and not self._in_bounds(st, reg, st.regs[reg], 0, size.umax):
                return False
        return True

    def _note_native_helper(self, pc: int, in_bounds: bool) -> None:
        """Record whether a helper call's memory was in bounds, over every visit."""
        self.native_helpers[pc] = in_bounds and self.native_helpers.get(pc, True)

    def _note_map_call(self, pc: int, maps: tuple[int, ...] | None) -> None:
        """Record the maps a map helper call at `pc` may be given, over every way it
        is reached (None once one visit could not say)."""
        if pc in self.map_calls and (maps is None or self.map_calls[pc] is None):
            self.map_calls[pc] = None
        elif pc in self.map_calls:
            self.map_calls[pc] = tuple(sorted(set(self.map_calls[pc]) | set(maps)))
        else:
            self.map_calls[pc] = maps

    def _socket_maps(self, handle: Value) -> bool:
        """Whether every map `handle` may be is a sockmap or a sockhash."""
        return all(self.maps[i].spec.type in SOCKET_MAP_TYPES for i in map_indices(handle.maps))

    def _check_map_use(self, pc: int, name: str, handle: Value, types) -> None:
        """Each kind of map works with some helpers only, and some helpers with some
        kinds only, as in the kernel (a program array with tail_call, a ring buffer
        with its helpers, redirect_map with redirect targets, ...)."""
        for i in map_indices(handle.maps):
            the_map = self.maps[i]
            if types is not None and the_map.spec.type not in types:
                wanted = ", ".join(MAP_TYPE_NAMES[t] for t in sorted(types))
                self.fail(pc, f"{name} takes a {wanted} map, not {the_map.name!r} "
                              f"({the_map.spec.type_name})")
            allowed = the_map.PROGRAM_HELPERS
            if allowed is not None and name not in allowed:
                self.fail(pc, f"{name} cannot take map {the_map.name!r}: a "
                              f"{the_map.spec.type_name} works with "
                              f"{', '.join(sorted(allowed))} only")
            types = the_map.HELPER_PROG_TYPES.get(name)
            if types is not None and self.prog_type not in types:
                self.fail(pc, f"{name} cannot take map {the_map.name!r} in "
                              f"{self.prog_type} programs: only "
                              f"{', '.join(sorted(types))} programs may change a "
                              f"{the_map.spec.type_name}, as in the kernel")

    def _helper_writes(self, st: State, arg: Value, size: Value | None) -> None:
        """A helper wrote `size` bytes at `arg`: own-frame bytes it surely wrote count as
        written; spills it may have overwritten are forgotten (every spill, of every
        frame, for a pointer that may be into any of them).  The bytes run upward from
        `arg`, so however many there are, none lies below its lowest offset: a size past
        the frame reaches the callers' frames above, as far as a run-time check lets it."""
        if arg.kind not in (STACK, MIXED):
            return
        if arg.kind == MIXED or size.kind != SCALAR:
            self._forget_frame(st)
            self._note_frame_write(None, 0, 0)
            return
        reach = min(size.umax, MAX_CALL_DEPTH * STACK_SIZE)
        self._stack_written(st, arg.frame, arg.smin, arg.smax + reach)  # spills it hits go
        if arg.frame == 0 and arg.smin == arg.smax:
            st.written |= frame_bits(arg.smin, arg.smin + size.umin)
            st.remnants &= ~frame_bits(arg.smin, arg.smin + size.umin)

    def _helper_result(self, pc: int, helper: int, result, handle: Value | None,
                       st: State) -> Value:
        if isinstance(result, tuple):
            return scalar(result[0], result[1])
        if result in ("map_value_or_null", "ringbuf_mem_or_null"):
            # a lookup runs again (a loop): the values it gave before, and their
            # copies, are no longer linked to the one it gives now, whose NULL test
            # says nothing of theirs
            st.unlink(pc + 1)
        if result == "map_value_or_null":
            sockets = [self.maps[i].spec.type in SOCKET_MAP_TYPES
                       for i in map_indices(handle.maps)]
            if any(sockets):        # a socket map's lookup: a socket and its reference
                if not all(sockets):
                    self.fail(pc, "map_lookup_elem of a socket map on some paths and of "
                                  "another map on others: r0 would be two kinds of pointer")
                return self._acquire(pc, st, SOCKET_OR_NULL)
            outer = [self.maps[i] for i in map_indices(handle.maps)]
            if outer and all(m.spec.inner is not None for m in outer):    # maps of maps
                inner = 0
                for i, m in enumerate(self.maps):
                    if all(o.fits(m) for o in outer):
                        inner |= 1 << i
                return Value(MAP_PTR_OR_NULL, 0, 0, 0, 0, maps=inner, ident=pc + 1)
            return Value(MAP_OR_NULL, 0, 0, 0, 0, maps=handle.maps, ident=pc + 1)
        if result in _SOCKET_RESULTS:
            return self._socket_result(pc, result, st)
        if result == "ringbuf_mem_or_null":     # a record of the size asked for, if known
            size = st.regs[2]
            record = size.umax if size.kind == SCALAR and size.is_const else 0
            return self._reserve(pc, st, Value(MAP_OR_NULL, 0, 0, 0, 0, record, handle.maps))
        return top_scalar()

    def _forget_packet(self, st: State) -> None:
        """After a helper that may move or resize the packet every packet pointer is
        invalid, in registers and spills (as in the kernel), and its length unknown; so
        is a packet pointer or NULL (where it is no NULL it points into the old packet)."""
        for reg, v in enumerate(st.regs):
            if v.kind in (MEM, MEM_OR_NULL):
                st.forget_register(reg)
        for slot, v in list(st.spills.items()):
            if v.kind in (MEM, MEM_OR_NULL):
                st.spills[slot] = top_scalar()
                st.zone.forget(slot_var(slot))
        st.zone.drop_where(lambda var: var != LEN and var < MIRROR)   # len - x goes too
        st.min_len = 0

    def _packet_load(self, pc: int, insn, st: State) -> None:
        """ldabs/ldind, the legacy packet loads: r6 must hold the socket buffer; like a
        helper call they clobber r1-r5, and r0 is the loaded (zero-extended) value."""
        if self.context != "skb":
            self.fail(pc, "legacy packet loads (ldabs/ldind) need a socket filter or tc "
                          "program, with struct __sk_buff in r6")
        self._references_at(pc, st, "a legacy packet load (ldabs/ldind)")
        if len(self.ranges) > 1:
            self.fail(pc, "legacy packet loads (ldabs/ldind) cannot be mixed with "
                          "bpf-to-bpf calls, as in the kernel")
        ctx = self._read(st, 6, pc)
        if ctx.kind != CTX or ctx.smin != 0 or ctx.smax != 0:
            self.fail(pc, f"legacy packet loads read the packet of the context in r6, "
                          f"which holds {ctx.describe()}")
        if insn.spec.op == "ind":
            offset = self._read(st, insn.src, pc)
            if offset.kind != SCALAR:
                self.fail(pc, f"ldind takes a number in r{insn.src}, not {offset.describe()}")
            # the offset is the low 32 bits of src + imm, signed: a negative one names
            # a header (SKF_NET_OFF, SKF_LL_OFF), not a byte of the packet
            k = sext(insn.imm, 32)
            if not (offset.umax <= M32 and 0 <= offset.umin + k
                    and offset.umax + k < 1 << 31):
                self._fact(self._note_header_load, pc)
        elif sext(insn.imm, 32) < 0:
            self._fact(self._note_header_load, pc)
        self._clobber_after_call(st)
        st.forget_register(0, scalar(0, (1 << insn.spec.width) - 1))

    def _note_header_load(self, pc: int) -> None:
        self.header_loads.add(pc)

    @staticmethod
    def _clobber_after_call(st: State) -> None:
        for i in range(1, 6):
            st.regs[i] = Value(UNINIT)
            st.zone.forget(i)

    def _note_stack_arguments(self, st: State) -> None:
        """A helper whose arguments are not known may read through any stack pointer
        in r1-r5: the stack a run may touch reaches down to it."""
        for value in st.regs[1:6]:
            if value.kind == STACK:
                self._fact(self._note_stack_reach, -value.smin)

    def _callx(self, pc: int, insn, st: State) -> None:
        self._read(st, insn.dst, pc)
        self._note_stack_arguments(st)          # (whichever helper it calls)
        self._clobber_after_call(st)
        st.forget_register(0)
