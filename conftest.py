"""Shared fixtures for tests/ and bench/: every test that runs a program takes `engine`.

The fixture is parametrized over every engine available on this machine, so a
new backend is held to every existing test without new test code.

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
        params = list(ENGINES)
        if "peachpy" in ENGINES:
            params += [f"peachpy@{k}"
                       for k in rotations(metafunc.config.getoption("register_rotations"))]
        metafunc.parametrize("engine", params, indirect=True)


@pytest.fixture
def engine(request, monkeypatch) -> str:
    name, _, rotation = request.param.partition("@")
    if rotation:
        from bpfjit.backends import x86layout
        monkeypatch.setattr(x86layout, "DEFAULT_MAP", x86layout.register_map(int(rotation)))
    return name


@pytest.fixture
def run(engine):
    """run(asm_text, mem=None, **options) -> r0 on the current engine."""
    def _run(text: str, mem=None, **options) -> int:
        return bpfjit.compile(bpfjit.assemble(text), engine, **options)(mem)
    return _run
