"""The command line, driven as a subprocess the way users and the conformance runner do."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def bpfjit(*args, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert words in lines[0]


@pytest.fixture(autouse=True)
def _not_the_kernel(request):
    """These tests drive the CLI with arbitrary programs and options (helpers, budgets,
    maps); the kernel engine runs few of them, and tests/test_kernel_engine.py drives it
    from the CLI."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("engine") == "kernel":
        pytest.skip("CLI tests run on bpfjit's engines; test_kernel_engine.py covers the "
                    "kernel's")


@pytest.fixture
def sum_program(tmp_path) -> Path:
    path = tmp_path / "sum.s"
    path.write_text("mov %r0, 0\nmov %r1, 1\nloop:\nadd %r0, %r1\nadd %r1, 1\n"
                    "jle %r1, 100, loop\nexit\n")
    return path


def test_run_assembly(engine, sum_program):
    proc = bpfjit("run", str(sum_program), "--engine", engine)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "r0 = 5050 (0x13ba)"


def test_asm_then_run_and_disasm_binary(tmp_path, sum_program, engine):
    out = tmp_path / "sum.bin"
    proc = bpfjit("asm", str(sum_program), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size == 6 * 8
    assert bpfjit("run", str(out), "--engine", engine).stdout.strip() == "r0 = 5050 (0x13ba)"
    disasm = bpfjit("disasm", str(out)).stdout
    assert disasm.splitlines()[4] == "jle %r1, 100, -3"


def test_asm_hex(sum_program):
    proc = bpfjit("asm", str(sum_program), "--hex")
    assert proc.stdout.split()[:8] == ["b7", "00", "00", "00", "00", "00", "00", "00"]


def test_disasm_pseudo_c(sum_program):
    proc = bpfjit("disasm", str(sum_program), "--syntax", "c", "--pcs")
    assert proc.stdout.splitlines()[2] == "2: r0 += r1"


@pytest.mark.parametrize("args,data_file", [
    (["--mem-hex", "01 02 03 04"], None),
    ([], "mem.bin"),
])
def test_run_with_memory(tmp_path, engine, args, data_file):
    prog = tmp_path / "p.s"
    prog.write_text("ldxw %r0, [%r1]\nexit\n")
    if data_file:
        (tmp_path / data_file).write_bytes(bytes([1, 2, 3, 4]))
        args = ["--mem", str(tmp_path / data_file)]
    proc = bpfjit("run", str(prog), *args, "--engine", engine)
    assert proc.stdout.strip() == f"r0 = {0x04030201} (0x4030201)"


def test_data_files_pass(engine):
    files = sorted(DATA.glob("*.data"))
    assert files
    for path in files:
        proc = bpfjit("run", str(path), "--engine", engine)
        assert proc.returncode == 0, f"{path.name}: {proc.stdout}{proc.stderr}"
        assert proc.stdout.startswith("PASS")


def test_data_file_with_wrong_result_fails(tmp_path, engine):
    path = tmp_path / "wrong.data"
    path.write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    proc = bpfjit("run", str(path), "--engine", engine)
    assert proc.returncode == 1
    assert proc.stdout.strip() == f"FAIL {path}: expected r0 = 0x2, got r0 = 0x1"


def test_trap_is_one_line(tmp_path, engine):
    prog = tmp_path / "oob.s"
    prog.write_text("mov %r0, 0\nldxw %r0, [%r0]\nexit\n")
    assert_one_line_error(bpfjit("run", str(prog), "--engine", engine),
                          "pc 1: out-of-bounds read")


@pytest.mark.parametrize("content,suffix,words", [
    ("frob %r0\n", ".s", "line 1, column 1: unknown instruction"),
    (b"\xff" * 8, ".bin", "unknown opcode 0xff"),
    ("mov %r0, 1\n", ".s", "fall through off the end"),
    ("whatever", ".txt", "unknown program type"),
    ("-- asm\nexit\n", ".data", "neither a -- result nor an -- error"),
])
def test_bad_input_is_one_line(tmp_path, content, suffix, words):
    path = tmp_path / f"bad{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_one_line_error(bpfjit("run", str(path)), words)


def test_missing_file_and_bad_options_are_one_line(tmp_path):
    assert_one_line_error(bpfjit("run", str(tmp_path / "nope.s")), "cannot read")
    assert_one_line_error(bpfjit("frobnicate"), "invalid choice")
    assert_one_line_error(bpfjit("run", "x.s", "--engine", "gpu"), "")
    assert_one_line_error(bpfjit("run", str(tmp_path / "x.s"), "--mem-hex", "zz"), "")


def test_unavailable_engine_is_one_line(sum_program):
    assert_one_line_error(bpfjit("run", str(sum_program), "--engine", "gpu"),
                          "unknown engine 'gpu'")


# ---- conformance plugin --------------------------------------------------------------

def hexbytes(data: bytes) -> str:
    """The runner's format: two hex digits and a space per byte."""
    return "".join(f"{b:02x} " for b in data)


LDXW = bytes.fromhex("6110000000000000" "9500000000000000")   # ldxw %r0, [%r1]; exit


def test_plugin_prints_r0_in_hex(engine):
    prog = bytes.fromhex("b70000002a000000" "9500000000000000")  # mov %r0, 42; exit
    proc = bpfjit("conformance-plugin", "--engine", engine, stdin=hexbytes(prog) + "\n")
    assert (proc.returncode, proc.stdout) == (0, "2a\n")


@pytest.mark.parametrize("order", ["memory-first", "memory-last", "before-subcommand"])
def test_plugin_memory_argument_in_any_order(engine, order):
    mem = hexbytes(bytes([0x78, 0x56, 0x34, 0x12]))
    args = {"memory-first": ["conformance-plugin", mem, "--engine", engine],
            "memory-last": ["conformance-plugin", "--engine", engine, mem],
            "before-subcommand": [mem, "conformance-plugin", "--engine", engine]}[order]
    proc = bpfjit(*args, stdin=hexbytes(LDXW))
    assert (proc.returncode, proc.stdout.strip()) == (0, "12345678"), proc.stderr


def test_plugin_options_as_one_argument_and_empty_memory(engine):
    # older runners: the memory (possibly empty) and then all options in one argument
    mem = hexbytes(bytes([0x78, 0x56, 0x34, 0x12]))
    proc = bpfjit(mem, f"conformance-plugin --engine {engine}", stdin=hexbytes(LDXW))
    assert proc.stdout.strip() == "12345678", proc.stderr
    prog = bytes.fromhex("b700000007000000" "9500000000000000")   # mov %r0, 7; exit
    proc = bpfjit("", f"conformance-plugin --engine {engine}", stdin=hexbytes(prog))
    assert proc.stdout.strip() == "7", proc.stderr


def test_plugin_command(engine):
    command = Path(sys.executable).parent / "bpfjit-conformance-plugin"
    if not command.exists():
        pytest.skip("bpfjit is not installed as a command in this environment")
    mem = hexbytes(bytes([0x78, 0x56, 0x34, 0x12]))
    proc = subprocess.run([str(command), mem, "--engine", engine], input=hexbytes(LDXW),
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout.strip()) == (0, "12345678"), proc.stderr


def test_plugin_full_64_bit_result(engine):
    prog = bytes.fromhex("b7000000ffffffff" "9500000000000000")  # mov %r0, -1; exit
    proc = bpfjit("conformance-plugin", "--engine", engine, stdin=hexbytes(prog))
    assert proc.stdout.strip() == "ffffffffffffffff"


def test_plugin_registers_helper_5(engine):
    # mov %r1, -1; mov %r2, 5; callx %r2; mov %r0, 2; exit
    prog = bytes.fromhex("b7010000ffffffff" "b702000005000000" "8d02000000000000"
                         "b700000002000000" "9500000000000000")
    proc = bpfjit("conformance-plugin", "--engine", engine, stdin=hexbytes(prog))
    assert (proc.returncode, proc.stdout.strip()) == (0, "2")


@pytest.mark.parametrize("stdin,words", [
    ("ff 00 00 00 00 00 00 00", "unknown opcode"),
    ("95 00 00", "truncated"),
    ("zz", "hex"),
    ("", "empty"),
    ("61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00", "out-of-bounds"),
    ("05 00 ff ff 00 00 00 00", "budget"),                  # ja -1: loops forever
])
def test_plugin_failures_exit_non_zero_with_one_line(engine, stdin, words):
    assert_one_line_error(bpfjit("conformance-plugin", "--engine", engine, stdin=stdin), words)


def test_bench_last_line(sum_program, engine):
    proc = bpfjit("bench", str(sum_program), "--engine", engine, "--iters", "20")
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    fields = dict(item.split("=") for item in last.split())
    assert list(fields) == ["ns_per_run", "r0", "compile_ns"]
    assert fields["r0"] == "5050"
    assert float(fields["ns_per_run"]) > 0 and float(fields["compile_ns"]) > 0


def test_only_fuzz_takes_state():
    # --state keeps a fuzzing campaign's progress; bench-suite had been given the option
    # too, by an edit meant for fuzz, and silently ignored it
    proc = bpfjit("bench-suite", "--state", "somewhere", "--no-save")
    assert proc.returncode == 2 and "unrecognized arguments: --state" in proc.stderr
    assert "--state DIR" in bpfjit("fuzz", "--help").stdout


def test_bench_suite_quick(engine, tmp_path):
    import json
    root = Path(__file__).parent.parent
    proc = bpfjit("bench-suite", "--quick", "--engines", engine, "--output", str(tmp_path),
                  cwd=root)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = [line.split() for line in lines[2:] if not line.startswith(("(", "results:"))]
    shipped = {p.stem for p in (root / "bench" / "programs").iterdir()
               if p.suffix in (".bin", ".s", ".xdp")}
    assert {row[0] for row in rows} == shipped
    assert {row[1] for row in rows} <= {engine, "native"}
    data = json.loads((tmp_path / "results.json").read_text())
    assert {r["program"] for r in data["results"]} == shipped
    ours = [r for r in data["results"] if r["engine"] == engine]
    assert all(r["ns_per_run"] > 0 and r["insns_per_run"] > 0 for r in ours)
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the native build of each C kernel computes what the bytecode computes
    by_key = {(r["program"], r["engine"]): r["r0"] for r in data["results"]}
    for (program, kind), r0 in by_key.items():
        if kind == "native":
            assert r0 == by_key[(program, engine)], program


def test_run_limits_helper_calls_and_chooses_blinding_and_masking(engine, tmp_path):
    # hash_probe.o's probe_words looks up each 4-byte word of the packet (8 here): every
    # engine counts the 8 calls, native or not; every word misses: r0 = 8 x 1000
    packet = tmp_path / "words.bin"
    packet.write_bytes(bytes(32))
    obj = str(Path(__file__).parent / "elf" / "hash_probe.o")
    args = ["run", obj, "--function", "probe_words", "--packet", str(packet),
            "--engine", engine]
    ok = bpfjit(*args, "--helper-calls", "8")
    assert ok.returncode == 0 and ok.stdout.strip() == "r0 = 8000 (0x1f40)", ok.stderr
    assert_one_line_error(bpfjit(*args, "--helper-calls", "7"),
                          "more than 7 helper calls in one run")
    if engine != "interp":
        for flags in (["--blind"], ["--no-blind"], ["--speculation", "off"],
                      ["--speculation", "all"]):
            proc = bpfjit(*args, *flags)
            assert proc.returncode == 0 and proc.stdout.strip() == "r0 = 8000 (0x1f40)", \
                proc.stderr
    else:
        assert_one_line_error(bpfjit(*args, "--blind"), "does not take the option(s) blind")
        assert_one_line_error(bpfjit(*args, "--speculation", "all"),
                              "does not take the option(s) speculation")
