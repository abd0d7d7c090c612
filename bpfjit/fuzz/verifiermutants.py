"""The fuzz self-test's mutants of the verifier (bpfjit.fuzz.mutants builds them into
its catalogue, for each JIT): a rule that proves what does not hold, or a fact the JITs
trust that is wrong, so that both JITs skip a check, or an extension, that the
interpreter, which checks every access and runs every instruction, still makes."""

from __future__ import annotations

__all__ = ["REMAINDER_AT_A_JUMP_TARGET", "through_a_jump_target", "EXTENSION_SIGNED_BOUND",
           "extension_signed_bound", "EXTENSION_OF_A_TWIN", "extension_of_a_twin",
           "PEELING_ANY_COPY", "any_copy"]


REMAINDER_AT_A_JUMP_TARGET = (
    "the verifier bounds `x % n` at a `sub` a jump reaches with another divisor's product "
    "(its bug until 2026-12-06), so the index is read unchecked")


def through_a_jump_target(original):
    def _straight_writes(self, pc, reg, reach):     # pc may start a block: not asked
        leaders = self.leaders
        self.leaders = leaders - {pc}
        try:
            return original(self, pc, reg, reach)
        finally:
            self.leaders = leaders
    return _straight_writes


EXTENSION_SIGNED_BOUND = (
    "the verifier takes a zero-extension of a number that may be negative for one that "
    "changes nothing (its signed upper bound below 2^32, not its unsigned one), so the "
    "JITs leave the number's high half in place")


def extension_signed_bound() -> None:
    """verifier.extensions.fits32 reading a zero-extension's operand by its signed
    upper bound."""
    from bpfjit.verifier import analysis
    from bpfjit.verifier.domain import M32, SCALAR

    def fits32(v, signed):
        if v.kind != SCALAR:
            return False
        return -(1 << 31) <= v.smin and v.smax < 1 << 31 if signed else v.smax <= M32
    analysis.fits32 = fits32


EXTENSION_OF_A_TWIN = (
    "the verifier takes the extension of a 64-bit sum it verified as its 32-bit twin "
    "for one that changes nothing (the twin's value is the low half alone), so the JITs "
    "keep the sum's high half")


def extension_of_a_twin() -> None:
    """Analysis.twinned never set: extensions of twinned values stay exact."""
    from bpfjit.verifier import analysis

    class NeverTwinned:
        def __get__(self, instance, owner):
            return False

        def __set__(self, instance, value):
            pass
    analysis.Analysis.twinned = NeverTwinned()


PEELING_ANY_COPY = (
    "loop peeling proves an access that one copy of the loop proves, not every one, so "
    "a trip whose offset leaves its region runs it unchecked")


def any_copy() -> None:
    """The peeled analysis's verdicts as if every copy of an access had the best one's;
    its early end (once a copy of each access is unproven) dropped with it, as a rule
    that one copy's proof is enough would drop it."""
    from bpfjit.verifier import peeling
    original = peeling._proven_copies
    peeling._give_up_when_all_lost = lambda analysis, origin, aims=None: lambda again, pc: None

    def proven_in_any(analysis, again, origin):
        best: dict[int, bool] = {}
        for new, ok in again.accesses.items():
            if origin[new] is not None:
                best[origin[new]] = best.get(origin[new], False) or ok
        for new in again.accesses:
            if origin[new] is not None:
                again.accesses[new] = best[origin[new]]
        return original(analysis, again, origin)
    peeling._proven_copies = proven_in_any
