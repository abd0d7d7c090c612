"""What both JITs track while they emit the second copies bpfjit.checkplan asks for:
the versioned loops and check groups in reach, which copy is being emitted, which
accesses it leaves unchecked, and where a jump goes.  A mixin of both lowerings."""

from __future__ import annotations

from dataclasses import replace

from bpfjit.checkplan import check_groups, versioned_loops

__all__ = ["CopyTracking"]


class CopyTracking:
    """Set up by prepare_copies(); backends.llvmversions and backends.x86versions emit."""

    def prepare_copies(self, verified, first: int, end: int, budget_free: bool,
                       moving_ranges=None, stack_ranges: bool = True) -> None:
        """The loops and groups of pcs [first, end) (a subprogram, or the program);
        without `budget_free`, loops whose fast copy would only drop the budget's test
        are not versioned and the others keep it; a loop that `moving_ranges(loop)`
        refuses keeps only its range tests of registers and constants
        (RangeTest.plain); without `stack_ranges`, no range test of the stack's."""
        self.copy_source = verified
        loops = [loop for loop in versioned_loops(verified) if first <= loop.header < end]
        if not stack_ranges:
            loops = [_kept_ranges(loop, lambda test: test.region != "stack")
                     for loop in loops]
        if moving_ranges is not None:
            loops = [loop if moving_ranges(loop) else
                     _kept_ranges(loop, lambda test: test.plain) for loop in loops]
        if not budget_free:
            loops = [replace(loop, trips=None) for loop in loops if loop.unchecked]
        self.loops = {loop.header: loop for loop in loops}
        self.groups = {at: group for at, group in check_groups(verified).items()
                       if first <= at < end}
        self.fast = None                     # the loop whose fast copy is being emitted
        self.grouped = None                  # the group whose checked-once copy is emitted

    def copy_of(self, source: int, pc: int) -> str | None:
        """Where a jump (or fall-through) from `source` to `pc` goes: "fast" (inside a
        fast copy, its own code), "enter" (into a versioned loop from outside: the entry
        test), or None (the checked code)."""
        if self.fast is not None and pc in self.fast.body:
            return "fast"
        loop = self.loops.get(pc)
        if loop is not None and source not in loop.body:
            return "enter"
        return None

    def unchecked(self, pc: int) -> bool:
        """Whether the access at `pc` runs without a check here: proven, hoisted into the
        fast copy's entry test, or covered by its group's one check."""
        return self.unchecked_in_copy(pc) or \
            (self.grouped is not None and pc in self.grouped.members)

    def unchecked_in_copy(self, pc: int) -> bool:
        """Proven, or hoisted into the fast copy's entry test: unchecked throughout the
        copy being emitted, whatever group it is in."""
        return not self.copy_source.needs_check(pc) or \
            (self.fast is not None and pc in self.fast.unchecked)

    def wants_group(self, pc: int) -> bool:
        """Whether a group of accesses starts at `pc` and some of them need a check here."""
        group = self.groups.get(pc)
        return group is not None and self.grouped is None and \
            not all(self.unchecked(member) for member in group.members)


def _kept_ranges(loop, keep):
    """`loop` with only the range tests that `keep` (a predicate) keeps: the others'
    accesses stay checked in the fast copy too, and with a test dropped the trips are
    not counted nor the copies checked at the entry (RangeTest.plain: a loop's tests of
    registers and constants, which neither needs)."""
    dropped = [test for test in loop.ranges if not keep(test)]
    if not dropped:
        return loop
    kept = tuple(test for test in loop.ranges if keep(test))
    unchecked = loop.unchecked - frozenset().union(*(test.accesses for test in dropped))
    if all(test.plain for test in kept):
        return replace(loop, ranges=kept, unchecked=unchecked, counted=None, copies=())
    return replace(loop, ranges=kept, unchecked=unchecked)
