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
from bpfjit.fuzz.generator import programs
from bpfjit.fuzz.oracle import HELPERS, Outcome, Worker, run_outcome

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.data"))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_pass_the_verifier(generated):
    prog, mem = generated
    bpfjit.verify(prog, helpers=HELPERS)


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
