"""Shared fixtures for tests/ and bench/: every test that runs a program takes `engine`.

The fixture is parametrized over every engine available on this machine, so a
new backend is held to every existing test without new test code.
"""

from __future__ import annotations

import pytest

import bpfjit

ENGINES = bpfjit.engines()


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def run(engine):
    """run(asm_text, mem=None, **options) -> r0 on the current engine."""
    def _run(text: str, mem=None, **options) -> int:
        return bpfjit.compile(bpfjit.assemble(text), engine, **options)(mem)
    return _run
