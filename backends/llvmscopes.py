"""Alias scopes for the stack accesses the verifier proved: two accesses of one
subprogram's own frame whose byte ranges are disjoint (VerifiedProgram.stack_extents)
touch different memory, which LLVM cannot see through addresses computed as integers.

Without them a store through a row pointer (an edit distance's `cur[j] = best`) may,
for all LLVM knows, overwrite the spill slots the loop reloads on every trip (the other
string's pointer, the row's length), so it reloads them; with a scope per byte range
and, on each access, the ranges it misses as `noalias`, LLVM keeps them in registers.

Sound across inlining: each subprogram's scopes are in a domain of their own, so an
access of one subprogram claims nothing about another's (a callee's access to its
caller's frame, through a pointer, has a frame other than 0 and no scope), and two
inlined copies of one subprogram share a frame only at the same depth, where disjoint
ranges are disjoint bytes; at different depths their frames do not overlap at all.
Unproven accesses and helpers carry no scope, so nothing is claimed about them."""

from __future__ import annotations

__all__ = ["ScopeLowering", "MOST_SCOPES"]

MOST_SCOPES = 64        # byte ranges per subprogram (each access lists the others)


class ScopeLowering:
    """Mixed into the llvm backend's _Function (which has `m`, `first` and `end`; `m`
    keeps each subprogram's table in `scope_tables`)."""

    def scoped(self, pc: int, instr):
        """Give the load or store at pc its byte range's scope and the ranges it misses."""
        tables = self.m.scope_tables
        table = tables.get(self.first)
        if table is None:
            table = tables[self.first] = self._scope_table()
        found = table.get(pc)
        if found is not None:
            instr.set_metadata("alias.scope", found[0])
            instr.set_metadata("noalias", found[1])
        return instr

    def _scope_table(self) -> dict:
        """pc -> (its scope list, the disjoint scopes) for this subprogram's proven
        own-frame accesses."""
        extents = {pc: (lo, end) for pc, (frame, lo, end)
                   in self.m.verified.stack_extents.items()
                   if frame == 0 and self.first <= pc < self.end}
        ranges = sorted(set(extents.values()))
        if len(ranges) < 2 or len(ranges) > MOST_SCOPES:
            return {}
        module = self.m.module
        domain = module.add_metadata([f"bpfjit.frame.{self.first}"])
        scopes = {r: module.add_metadata([f"bpfjit.frame.{self.first}.{r[0]}.{r[1]}", domain])
                  for r in ranges}
        table = {}
        for pc, mine in extents.items():
            missed = [scopes[r] for r in ranges if r[1] <= mine[0] or mine[1] <= r[0]]
            if missed:
                table[pc] = (module.add_metadata([scopes[mine]]), module.add_metadata(missed))
        return table
