"""Spin locks in the abstract, as the kernel's verifier has them: bpf_spin_lock takes
the `struct bpf_spin_lock` of a map value (a pointer at the lock's own constant offset
into a map whose values hold one), a run holds at most one, calls nothing (helper,
local call, legacy packet load) but bpf_spin_unlock of that lock while it does, and
gives it back before its function returns; no load, store or helper argument touches
the lock's bytes (nor a timer's: `_touches_fields`).  `State.lock` is the lock held:
(maps, offset), or LOCKS_DIFFER where paths holding different ones meet (the kernel
follows each path: a program whose paths meet so is refused at its next call or exit).

One difference: the kernel also names the lookup a value came from, so it refuses
unlocking a lock of another element of the same map at the same offset; here that
passes the verifier and the unlock fails when it runs (the helper checks that the run
holds the lock it gives back)."""

from __future__ import annotations

from ..isa import Kind
from ..maps.fields import FIELDS_BY_ATTR, VALUE_FIELDS
from .domain import MAP_VALUE, Value, map_indices
from .state import LOCKS_DIFFER, State

__all__ = ["LockRules"]

_LOCKED_OUT = frozenset((Kind.CALL, Kind.CALLX, Kind.CALL_BTF, Kind.CALL_LOCAL, Kind.EXIT,
                         Kind.LD_PACKET))


class LockRules:
    """Mixed into the analysis: what holding a spin lock forbids, and taking one."""

    def _while_locked(self, pc: int, insn, st: State) -> None:
        """Refuse what a run may not do holding a lock: a call (but the unlock), an exit
        or a legacy packet load (the analysis asks for every instruction while st.lock
        is set)."""
        if st.lock is None or insn.kind not in _LOCKED_OUT:
            return
        if st.lock is LOCKS_DIFFER:
            self.fail(pc, "paths that hold different spin locks (or one and none) meet "
                          "before this instruction; take and give back a lock on one path")
        if insn.kind is Kind.EXIT:
            self.fail(pc, "bpf_spin_unlock is missing: the function returns holding a "
                          "spin lock")
        signature = self.signatures.get(insn.imm) if insn.kind is Kind.CALL else None
        if signature is None or signature.lock != "give back":
            what = "legacy packet loads are" if insn.kind is Kind.LD_PACKET else \
                "function calls are"
            self.fail(pc, f"{what} not allowed while holding a spin lock "
                          f"(bpf_spin_unlock first)")

    def _lock_argument(self, pc: int, name: str, reg: int, arg: Value) -> tuple[int, int]:
        """The lock a spin_lock argument names: (maps, offset)."""
        return self._field_argument(pc, name, reg, arg, "spin_lock"), arg.smin

    def _field_argument(self, pc: int, name: str, reg: int, arg: Value, field: str) -> int:
        """The maps (bits) of a pointer argument to a value's `field` ("spin_lock" or
        "timer"): a map value pointer at that field's constant offset in every map."""
        label = FIELDS_BY_ATTR[field].label
        maps = list(map_indices(arg.maps)) if arg.kind == MAP_VALUE else []
        if not maps:
            self.fail(pc, f"{name} takes a pointer to the {label} of a map value in r{reg}, "
                          f"not {arg.describe()}")
        if arg.smin != arg.smax:
            self.fail(pc, f"{name}: r{reg} has no constant offset in the map value "
                          f"({arg.describe()}); the {label} is at a constant offset")
        for i in maps:
            m = self.maps[i]
            at = getattr(m.spec, field)
            if at is None:
                self.fail(pc, f"{name}: map {m.name!r} has no {label} in its values (its BTF "
                              f"value type must hold one)")
            if at != arg.smin:
                self.fail(pc, f"{name}: r{reg} points to byte {arg.smin} of a value of map "
                              f"{m.name!r}, whose {label} is at byte {at}")
        return arg.maps

    def _lock_change(self, pc: int, name: str, action: str, lock: tuple[int, int],
                     st: State) -> None:
        """Take or give back `lock` (the argument's), as the helper's signature says."""
        if action == "take":
            if st.lock is not None:
                self.fail(pc, f"{name}: a spin lock is held already; a program holds one "
                              f"at a time")
            st.lock = lock
        else:
            if st.lock is None:
                self.fail(pc, f"{name} without taking a lock")
            if st.lock != lock:
                self.fail(pc, f"{name} of a different lock than the one held")
            st.lock = None

    def _touches_fields(self, pc: int, base: Value, lo: int, end: int, what: str) -> None:
        """Refuse an access to bytes [lo, end) of a map value (offsets over every value
        of `base`) that may reach a spin lock's or a timer's bytes."""
        for i in map_indices(base.maps):
            spec = self.maps[i].spec
            for f in VALUE_FIELDS:
                at = getattr(spec, f.attr)
                if at is not None and lo < at + f.size and at < end:
                    self.fail(pc, f"{what} may touch the {f.label} of map "
                                  f"{self.maps[i].name!r} (bytes {at}-{at + f.size - 1} of its "
                                  f"values), which only {f.helpers} may")
