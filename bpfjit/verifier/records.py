"""Ring buffer records in the abstract: references, as the kernel's verifier has them.

bpf_ringbuf_reserve returns a record or NULL that holds a *reference* (named, as a
socket lookup's, by the call's pc + 1: bpfjit.verifier.sockets): the program gives it
back with bpf_ringbuf_submit or bpf_ringbuf_discard on every path before it exits, once,
through the pointer the reservation returned (offset 0).  Giving it back makes every
copy of the pointer, and every pointer derived from it, unusable; a record not given
back would never be committed, and the kernel refuses such a program.  A record is
otherwise a map value of the size asked for (`Value.frame`) whose accesses are proven.

One limit, on the side of accepting: a record is followed within one function.  Given
to a subprogram (which may submit it) or returned by one (whose caller may), it is no
longer followed — as before bpfjit followed records at all — so a leak or a second
submit through a subprogram is not refused, where the kernel, which follows references
into callees, refuses it.
"""

from __future__ import annotations

from ..maps import RingBuf
from .domain import MAP_OR_NULL, MAP_VALUE, STACK, Value, map_indices, replace
from .state import State

__all__ = ["RecordRules", "RESERVE"]

RESERVE = 131                   # bpf_ringbuf_reserve
RECORDS = (MAP_VALUE, MAP_OR_NULL)   # the kinds a record's pointer has


class RecordRules:
    """Mixed into the analysis: ring buffer records and the references they hold."""

    def _reserve(self, pc: int, st: State, record: Value) -> Value:
        """r0 after bpf_ringbuf_reserve: `record` or NULL, holding reference pc + 1."""
        ref = pc + 1
        if ref in st.refs:
            self.fail(pc, "the ring buffer record this call reserved before (a loop) is "
                          "still held: submit or discard it first")
        st.unlink(ref)
        st.refs = st.refs | {ref}
        return replace(record, ident=ref, ref=ref)

    def _record_argument(self, pc: int, name: str, reg: int, arg: Value, st: State) -> int:
        """bpf_ringbuf_submit's and _discard's record: one bpf_ringbuf_reserve returned,
        tested for NULL, at offset 0, still held; the reference it gives back."""
        if arg.kind != MAP_VALUE or not all(
                isinstance(self.maps[i], RingBuf) for i in map_indices(arg.maps)):
            self.fail(pc, f"{name} takes a record bpf_ringbuf_reserve returned (checked "
                          f"for NULL) in r{reg}, not {arg.describe()}")
        if (arg.smin, arg.smax) != (0, 0):
            self.fail(pc, f"{name} takes the record's start in r{reg}, as "
                          f"bpf_ringbuf_reserve returned it, not {arg.describe()}")
        if arg.ref and arg.ref not in st.refs:
            self.fail(pc, f"{name} gives back a record this function does not hold "
                          f"({arg.describe()})")
        return arg.ref

    @staticmethod
    def _records_to_callee(st: State) -> None:
        """A local call: the records it is given (in r1-r5, or on the stack when it is
        given a stack pointer) are no longer followed, in the caller or the callee."""
        passed = [v for v in st.regs[1:6] if v.kind in RECORDS]
        if any(v.kind == STACK for v in st.regs[1:6]):
            passed += [v for v in st.spills.values() if v.kind in RECORDS]
        for v in passed:
            if v.ref > 0:
                st.untrack(v.ref)

    @staticmethod
    def _records_from_callee(st: State) -> None:
        """A subprogram's or callback's exit: the records it holds are no longer
        followed (its caller may submit one it returns)."""
        for ref in [ref for ref in st.refs if any(
                v.ref == ref and v.kind in RECORDS
                for v in (*st.regs, *st.spills.values()))]:
            st.untrack(ref)

    def _held(self, ref: int) -> str:
        """What reference `ref` is, and how the program gives it back."""
        insn = self.prog.at(ref - 1)
        if insn.imm == RESERVE:
            return (f"a ring buffer record (reserved at pc {ref - 1}): submit or discard "
                    f"it with bpf_ringbuf_submit or bpf_ringbuf_discard")
        return (f"a socket reference (from the lookup at pc {ref - 1}): give it back "
                f"with bpf_sk_release")
