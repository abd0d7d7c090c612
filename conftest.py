"""Shared fixtures for tests/ and bench/: every test that runs a program takes `engine`.

The fixture is parametrized over every engine available on this machine, so a
new backend is held to every existing test without new test code.  Where this process
may load programs into the running kernel, the kernel engine is a parameter too: a test
whose program it cannot run skips with the kernel's reason.

`--register-rotations N` adds N more runs of every such test on the peachpy
engine, each with BPF registers placed in differently rotated x86-64 registers
(r0 outside rax, r4 outside rcx, r10 in a caller-saved register, ...): the way
template JITs flush out register-aliasing bugs in division, shifts, atomics and
calls.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# the code cache of a test run is its own, fresh and removed at the end: tests never
# read or write the user's (set before bpfjit compiles anything, workers included)
_CACHE = tempfile.mkdtemp(prefix="bpfjit-test-cache-")
os.environ["BPFJIT_CACHE_DIR"] = os.path.join(_CACHE, "cache")
os.environ.pop("BPFJIT_CACHE", None)
atexit.register(shutil.rmtree, _CACHE, True)

import bpfjit  # noqa: E402

ENGINES = bpfjit.engines()
# the running kernel, where this process may load programs into it: an independent
# oracle, run by every engine test whose program it can run (the others skip, saying why)
KERNEL = [name for name in bpfjit.engines(kernel=True) if name not in ENGINES]


def pytest_addoption(parser):
    parser.addoption("--register-rotations", type=int, default=0, metavar="N",
                     help="also run every engine test on peachpy under N rotated "
                          "BPF-to-x86 register maps (at most 10)")


def rotations(count: int) -> list[int]:
    """`count` rotations spread over 1..10 (0 is the default map)."""
    count = max(0, min(count, 10))
    return sorted({1 + i * 10 // count for i in range(count)}) if count else []


def pytest_generate_tests(metafunc):
    if "engine" in metafunc.fixturenames:
        params = list(ENGINES) + KERNEL
        if "peachpy" in ENGINES:
            params += [f"peachpy@{k}"
                       for k in rotations(metafunc.config.getoption("register_rotations"))]
        metafunc.parametrize("engine", params, indirect=True)


@pytest.fixture
def engine(request, monkeypatch) -> str:
    name, _, rotation = request.param.partition("@")
    if name == "kernel":
        monkeypatch.setattr(bpfjit, "compile", _kernel_compile(bpfjit.compile))
    if rotation:
        from bpfjit.backends import x86layout
        monkeypatch.setattr(x86layout, "DEFAULT_MAP", x86layout.register_map(int(rotation)))
    return name


@pytest.fixture
def python_helper_engine(engine) -> str:
    """An engine that runs the kernel's helpers in Python where it has to: every one but
    the kernel engine, whose test runs take programs calling the map helpers only."""
    if engine == "kernel":
        pytest.skip("the kernel engine runs programs calling no helper but the map ones")
    return engine


@pytest.fixture
def run(engine):
    """run(asm_text, mem=None, **options) -> r0 on the current engine."""
    def _run(text: str, mem=None, **options) -> int:
        return bpfjit.compile(bpfjit.assemble(text), engine, **options)(mem)
    return _run


class _KernelRun:
    """A program the kernel engine loaded: a call the kernel cannot make (a packet
    shorter than an Ethernet header, memory that does not cover the program's
    accesses) skips the test."""

    def __init__(self, program):
        self._program = program

    def __call__(self, mem=None):
        return self._skipping(self._program, mem)

    def test_run(self, *args, **kwargs):
        return self._skipping(self._program.test_run, *args, **kwargs)

    @staticmethod
    def _skipping(run, *args, **kwargs):
        try:
            return run(*args, **kwargs)
        except bpfjit.BpfError as exc:
            if "the kernel" in str(exc):
                pytest.skip(f"kernel engine: {exc}")
            raise

    def __getattr__(self, name):
        return getattr(self._program, name)


def _kernel_compile(compile_program):
    """bpfjit.compile for the kernel engine: a program it cannot load skips the test."""
    def compile_on_kernel(prog, engine="interp", *args, **kwargs):
        if engine != "kernel":
            return compile_program(prog, engine, *args, **kwargs)
        try:
            return _KernelRun(compile_program(prog, engine, *args, **kwargs))
        except bpfjit.BpfError as exc:
            if "kernel" in str(exc):        # not bpfjit's own verifier: that is tested
                pytest.skip(f"kernel engine: {exc}")
            raise
    return compile_on_kernel
