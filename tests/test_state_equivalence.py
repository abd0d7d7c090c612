"""States that describe the same values though their zones differ (State.equivalent).

A join keeps no difference x - y <= c that the joined intervals already imply
(bpfjit.verifier.zonejoin), while a discovery at a join may add one through the zone's
closure, so joining a state with one it already covers can give back a state that is
not ==, yet holds exactly the same values.  A subprogram's entry state compared with ==
was then taken as changed, and the subprogram analysed again: bench/'s xdp_acl, whose
option parser is called from two sites, had it analysed four times instead of two, 312
of the 424 block runs of its verification."""

from pathlib import Path

import bpfjit
from bpfjit.bench import suite_programs
from bpfjit.verifier import analysis
from bpfjit.verifier.domain import UNINIT, Value, scalar
from bpfjit.verifier.state import State

BENCH = Path(__file__).resolve().parent.parent / "bench" / "programs"


def two_numbers() -> State:
    """r1 in [0, 10], r2 in [20, 30]: the intervals alone give r1 - r2 <= 10 - 20 = -10."""
    regs = [Value(UNINIT)] * 11
    regs[1], regs[2] = scalar(0, 10, 0, 10), scalar(20, 30, 20, 30)
    return State(regs)


def test_a_difference_the_intervals_imply_changes_nothing():
    bare, related = two_numbers(), two_numbers()
    assert related.zone.add(1, 2, -10)
    assert bare != related
    assert bare.equivalent(related) and related.equivalent(bare)


def test_a_difference_tighter_than_the_intervals_is_a_real_difference():
    bare, related = two_numbers(), two_numbers()
    assert related.zone.add(1, 2, -15)          # r1 <= r2 - 15: not all of [0,10] x [20,30]
    assert not bare.equivalent(related) and not related.equivalent(bare)


def test_different_intervals_are_never_equivalent():
    one, other = two_numbers(), two_numbers()
    other.regs[1] = scalar(0, 9, 0, 9)
    assert not one.equivalent(other)


def test_a_subprogram_called_from_two_sites_is_analysed_once_per_site(monkeypatch):
    program = next(p.program for p in suite_programs(BENCH) if p.name == "xdp_acl")
    analysed: list[int] = []
    cls = analysis.Analysis
    original = cls._analyse

    def counting(self, first):
        analysed.append(first)
        return original(self, first)
    monkeypatch.setattr(cls, "_analyse", counting)
    bpfjit.verify(program.with_insns(program.insns), cache=False)
    subprograms = set(analysed) - {0}
    assert len(subprograms) == 1                # the option parser
    # one analysis for the first call's entry, one for the join with the second's; the
    # main program's second pass (the parser's summary changed) brings nothing new
    assert analysed.count(subprograms.pop()) == 2
