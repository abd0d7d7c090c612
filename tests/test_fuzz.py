"""The fuzzer: its generator, oracle, worker isolation and campaigns; bounded and seeded
here, long campaigns are `bpfjit fuzz`.  Every failure ever found is replayed below."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import bpfjit
from bpfjit.datafile import parse_data
from bpfjit.fuzz.campaign import run_campaign, save_failure
from bpfjit.fuzz.generator import (DATA, FOLD_MULTIPLIER, FOLD_SHIFT, FRAME_INIT,
                                   fold_epilogue, programs)
from bpfjit.fuzz.oracle import HELPERS, Outcome, Worker, run_outcome

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.data"))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_pass_the_verifier(generated):
    prog, mem = generated
    bpfjit.verify(prog, helpers=HELPERS)


M64 = 2**64 - 1


def _fold(registers: dict[int, int], stack: list[int]) -> int:
    """The epilogue's fold computed here, independently of any engine."""
    acc = 0
    for value in [registers[r] for r in DATA] + stack:
        acc = ((acc ^ value) * (FOLD_MULTIPLIER & M64)) & M64
        acc ^= acc >> FOLD_SHIFT
    return acc


def _folding_program(registers: dict[int, int], stack: list[int]):
    text = [f"lddw %r{r}, {v:#x}" for r, v in registers.items()]
    # stack[i] is the dword at r10 - 8 * (i + 1)
    for i, v in enumerate(stack):
        text += [f"lddw %r1, {v:#x}", f"stxdw [%r10-{8 * (i + 1)}], %r1"]
    return bpfjit.assemble("\n".join(text + fold_epilogue() + ["exit"]))


def test_the_epilogue_sees_every_data_register_and_the_stack(engine):
    # a run that ends with a wrong value in any data register or stack slot returns a
    # different r0: the fuzzer compares more than r0
    registers = {r: (0x0123456789ABCDEF * (r + 3)) & M64 for r in DATA}
    stack = [(0xF0E1D2C3B4A59687 * (i + 5)) & M64 for i in range(FRAME_INIT // 8)]
    fn = bpfjit.compile(_folding_program(registers, stack), engine)
    assert fn() == _fold(registers, stack)
    results = {fn()}
    for r in DATA:
        for flip in (1, 1 << 32, 1 << 63):
            changed = {**registers, r: registers[r] ^ flip}
            got = bpfjit.compile(_folding_program(changed, stack), engine)()
            assert got == _fold(changed, stack)
            results.add(got)
    for i in range(len(stack)):
        changed = stack[:i] + [stack[i] ^ 1] + stack[i + 1:]
        got = bpfjit.compile(_folding_program(registers, changed), engine)()
        assert got == _fold(registers, changed)
        results.add(got)
    assert len(results) == 1 + 3 * len(DATA) + len(stack)      # every change seen


def test_differential_campaign_slice(tmp_path):
    stats = run_campaign(bpfjit.engines(), examples=40, seconds=None, seed=1234,
                         out_dir=tmp_path)
    assert stats.programs >= 40
    assert (stats.mismatches, stats.crashes) == (0, 0), stats.saved


def test_hostile_campaign_slice(tmp_path):
    stats = run_campaign(bpfjit.engines(), examples=150, seconds=None, seed=99,
                         out_dir=tmp_path, mode="hostile")
    assert stats.programs == 150
    assert stats.crashes == 0, stats.saved


def test_worker_survives_a_crash():
    worker = Worker()
    try:
        raw = bpfjit.assemble("mov %r0, 7\nexit").to_bytes()
        assert worker.run(raw, b"", ["interp"])[0].result == 7
        worker._proc.kill()                         # as a segfaulting program would
        worker._proc.join()
        assert worker.run(raw, b"", ["interp"]) is None
        assert worker.run(raw, b"", ["interp"])[0].result == 7     # restarted
    finally:
        worker.close()


def test_outcome_names_traps_and_pcs(engine):
    raw = bpfjit.assemble("mov %r0, 0\nldxb %r0, [%r1+3]\nexit").to_bytes()
    assert run_outcome(raw, b"ab", engine) == Outcome("MemoryAccessError", 1, b"ab")
    assert run_outcome(b"\xff" * 8, b"", engine).result == "DecodeError"


def test_saved_failure_is_a_data_file_with_the_reference_result(tmp_path):
    raw = bpfjit.assemble("mov %r0, 5\nexit").to_bytes()
    outcomes = [Outcome(5, None, b""), Outcome(6, None, b"")]
    path = save_failure(tmp_path, "mismatch", raw, b"\x01", ["interp", "llvm"], outcomes)
    test = parse_data(path.read_text())
    assert test.program == bpfjit.Program.from_bytes(raw)
    assert (test.memory, test.result) == (b"\x01", 5)
    assert "# llvm: r0 = 0x6" in path.read_text()


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regressions(engine, path):
    test = parse_data(path.read_text())
    outcome = run_outcome(test.program.to_bytes(), test.memory, engine)
    if test.error is not None:
        assert not isinstance(outcome.result, int)
    else:
        assert outcome.result == test.result


def test_fuzz_cli_last_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bpfjit", "fuzz", "--examples", "20",
                           "--seed", "3", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "fuzz: 20 programs, 0 mismatches, 0 crashes"


# ---- the self-test: a catalogue of miscompiles the campaign must find -----------------------

def test_the_catalogue_has_twenty_miscompiles_per_jit_and_each_installs():
    from bpfjit.fuzz.mutants import MUTANTS, by_engine
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    assert len(by_engine("peachpy")) >= 20 and len(by_engine("llvm")) >= 20
    # installing patches the backend, so each goes in a fresh interpreter
    script = ("import sys\nfrom bpfjit.fuzz.mutants import apply\n"
              "for name in sys.argv[1:]:\n    apply(name)\nprint('ok')")
    proc = subprocess.run([sys.executable, "-c", script, *[m.name for m in MUTANTS]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("name", ["x86-jsgt-unsigned", "x86-ldxsb-zero-ext",
                                  "llvm-jsgt-unsigned", "llvm-mov32-wide"])
def test_the_campaign_finds_a_miscompile(name):
    # a bounded, seeded slice of `bpfjit fuzz --self-test`: the same programs each run
    from bpfjit.fuzz.campaign import self_test
    from bpfjit.fuzz.mutants import MUTANTS
    mutant = next(m for m in MUTANTS if m.name == name)
    if mutant.engine not in bpfjit.engines():
        pytest.skip(f"{mutant.engine} is not available")
    result = self_test(mutant, seconds=240, seed=0, examples=400)
    assert result.found, result.row()
    assert 0 < result.programs <= 400


def test_self_test_cli_names_unknown_mutants():
    proc = subprocess.run([sys.executable, "-m", "bpfjit", "fuzz", "--self-test",
                           "--mutants", "no-such-mutant"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == \
        ["bpfjit: error: unknown mutant(s): no-such-mutant (bpfjit.fuzz.mutants)"]


def test_hostile_inputs_start_from_varied_programs():
    # regression: each draw used to be hypothesis's first example of a fresh run, its
    # simplest program (`mov r6, r1; add r0, 0; exit` after the prologue), every time
    import random

    from bpfjit.fuzz.campaign import _sample_programs
    drawn = _sample_programs(random.Random(5), 20)
    assert len(drawn) == 20
    assert len({prog.to_bytes() for prog, _ in drawn}) >= 15
    assert max(len(prog) for prog, _ in drawn) > min(len(prog) for prog, _ in drawn)
    # the same seed draws the same programs
    again = _sample_programs(random.Random(5), 20)
    assert [p.to_bytes() for p, _ in again] == [p.to_bytes() for p, _ in drawn]
