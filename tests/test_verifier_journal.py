"""The final pass replays what the fixpoint's last run of a block recorded
(bpfjit.verifier.journal) instead of running the block again.

The oracle is the verifier's other path: with a log the final pass runs every block
again (only a run writes the log), so `verify(p, log=True)` computes every fact the
long way.  Both must agree on every fact and every rejection, for shipped programs,
the corpus, the test objects, and random programs with loops and local calls.
"""

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import bpfjit
from bpfjit.bench import suite_programs
from bpfjit.fuzz.generator import programs as fuzz_programs
from bpfjit.kernel import HELPER_NAMES
from bpfjit.verifier import analysis

from test_verifier_properties import programs as reasoning_programs

ROOT = Path(__file__).parent.parent
SKIPPED = ("program", "source", "cache_name", "log")


def verdict(prog: bpfjit.Program, helpers=None, mode: str = "checked", log: bool = False):
    """Every fact of a verdict (all but the log), or the rejection."""
    try:
        v = bpfjit.verify(prog.with_insns(prog.insns), mode=mode, helpers=helpers, log=log,
                          cache=False)
    except bpfjit.VerifierError as exc:
        return ("rejected", exc.pc, str(exc))
    facts = {f.name: getattr(v, f.name) for f in dataclasses.fields(v) if f.name not in SKIPPED}
    facts["rewritten"] = v.program.to_bytes()       # context accesses rewritten
    return ("accepted", facts)


def assert_replay_agrees(prog: bpfjit.Program, helpers=None) -> None:
    for mode in ("checked", "strict"):
        assert verdict(prog, helpers, mode) == verdict(prog, helpers, mode, log=True), mode


def shipped() -> list[tuple[str, bpfjit.Program, object]]:
    out = [(f"bench/{sp.name}", sp.program, None)
           for sp in suite_programs(ROOT / "bench" / "programs")]
    kernel = set(HELPER_NAMES)
    for path in sorted((ROOT / "corpus" / "plain").glob("*.o")):
        out.append((f"corpus/{path.stem}", bpfjit.load_elf(path, function="entry"), kernel))
    for path in sorted((ROOT / "corpus" / "xdp").glob("*.o")):
        out.append((f"corpus/{path.stem}", bpfjit.load_elf(path), kernel))
    for path in sorted((ROOT / "tests" / "elf").glob("*.o")):
        try:
            prog = bpfjit.load_elf(path)
        except bpfjit.BpfError:         # objects with several programs: section needed
            continue
        out.append((f"elf/{path.stem}", prog, kernel))
    return out


SHIPPED = shipped()


@pytest.mark.parametrize("name,prog,helpers", SHIPPED, ids=[s[0] for s in SHIPPED])
def test_replayed_facts_are_the_facts_of_running_every_block(name, prog, helpers):
    assert_replay_agrees(prog, helpers)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reasoning_programs())
def test_replay_agrees_on_random_reasoning_programs(text):
    assert_replay_agrees(bpfjit.assemble(text))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(fuzz_programs())
def test_replay_agrees_on_fuzzer_programs(generated):
    prog, _ = generated
    assert_replay_agrees(prog, {1, 2})


def test_rejections_are_the_same_with_and_without_replay():
    # the loop's head is widened, so the blocks after it run again in the final pass;
    # the read at pc 7, of a register nothing wrote, is rejected either way
    text = """
        mov %r3, 0
    loop:
        jge %r3, %r2, done
        mov %r4, %r1
        add %r4, %r3
        ldxw %r5, [%r4]
        add %r3, 1
        ja loop
    done:
        add %r0, %r6
        exit
    """
    prog = bpfjit.assemble(text)
    got = verdict(prog)
    assert got == verdict(prog, log=True)
    assert got[0] == "rejected" and got[1] == 7


def count_block_runs(monkeypatch) -> list[bool]:
    """Record, for every block run, whether it was in the final pass."""
    runs: list[bool] = []
    original = analysis.Analysis._run_block

    def counted(self, start, st, end):
        runs.append(self.checking)
        return original(self, start, st, end)

    monkeypatch.setattr(analysis.Analysis, "_run_block", counted)
    return runs


def test_blocks_whose_state_did_not_change_are_not_run_again(monkeypatch):
    # three blocks, no loop: the fixpoint runs each once with its final state
    prog = bpfjit.assemble("""
        mov %r0, 0
        jlt %r2, 4, short
        ldxw %r0, [%r1]
    short:
        add %r0, 1
        exit
    """)
    runs = count_block_runs(monkeypatch)
    verified = bpfjit.verify(prog, cache=False)
    assert runs == [False, False, False]
    assert verified.proven == {2}                   # the load: len >= 4 on its path
    assert verified.regions == {2: "mem"}
    runs.clear()
    bpfjit.verify(prog.with_insns(prog.insns), cache=False, log=True)
    assert runs == [False] * 3 + [True] * 3          # a log runs them all again


def test_a_widened_loop_runs_again_in_the_final_pass(monkeypatch, engine):
    # a counter in a stack slot is widened to its limit at the head (its reload is
    # tested against a register an lddw in the loop sets: no threshold for the slot,
    # which takes the constants of its reloads' tests, and none for the register);
    # the final pass recomputes the head from the back edge, where the counter is
    # below 100, so the head and the block after the loop run again, with [0, 99] and
    # exactly 100; the block before the loop is replayed
    prog = bpfjit.assemble("""
        stdw [%r10-8], 0
    loop:
        ldxdw %r3, [%r10-8]
        add %r3, 1
        stxdw [%r10-8], %r3
        lddw %r4, 100
        jlt %r3, %r4, loop
        ldxdw %r0, [%r10-8]
        exit
    """)
    runs = count_block_runs(monkeypatch)
    bpfjit.verify(prog, cache=False)
    assert runs.count(False) == 5       # entry; the head 3 times (joined, widened); after
    assert runs.count(True) == 2        # the head and the block after it
    assert bpfjit.compile(prog, engine)(bytearray()) == 100


def test_a_journal_that_read_a_summary_since_changed_is_not_replayed():
    # the fixpoint reruns a caller whenever a callee's summary changes, so this guard
    # should never be what decides; it keeps a replay from using a stale summary if
    # that invariant were ever broken
    from bpfjit.verifier.localcalls import Summary
    from bpfjit.verifier.domain import const
    from bpfjit.verifier.journal import Journal
    summary = Summary(r0=const(1), min_len=0)
    journal = Journal([])
    journal.depends.append((7, summary.key()))
    assert not journal.replayable({7: summary})     # the run did not complete
    journal.completed = True
    assert journal.replayable({7: summary})
    summary.r0 = const(2)
    assert not journal.replayable({7: summary})
    assert not journal.replayable({})
