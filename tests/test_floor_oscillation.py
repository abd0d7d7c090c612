"""A floor a + b >= c that a loop head's widenings took, dropped, took again: once a
widening there has dropped it, no later one takes it again, and the loop settles.

Before, the Z-function's window loop (corpus zfunc.c) ran its body twenty times: each
widening that still discovered relations took the floors i + r >= 1 and l + r >= 0,
which the old state's intervals implied; the way round weakened them, the next
widening dropped them, the one after took them again, until UNRELATE_AFTER joins ended
the discovery. The whole verification took 1,664 instruction visits; it takes 629 now.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest

import bpfjit
from bpfjit.verifier import analysis
from bpfjit.verifier.loopheads import _floors_kept_dropped
from bpfjit.verifier.zone import Zone

from test_verifier_soundness import assert_proofs_hold

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"
A, B, C = 4, 9, 8


def _state(floors: dict) -> SimpleNamespace:
    zone = Zone()
    for (a, b), c in floors.items():
        zone.learn_floor(a, b, c)
    return SimpleNamespace(zone=zone)


def test_a_floor_dropped_at_a_head_is_not_taken_again_there():
    dropped: set = set()
    # the first widening keeps b + c >= 0 and drops a + b >= 1: noted
    kept = _floors_kept_dropped(_state({(B, C): 0}), _state({(A, B): 1, (B, C): 0}),
                                dropped)
    assert kept.zone.floor(B, C) == 0 and kept.zone.floor(A, B) is None
    assert dropped == {(A, B)}
    # the next one, from a state without it, would take a + b >= 1 again: it does not,
    # and it still takes a floor never dropped there (a + c >= 2)
    again = _floors_kept_dropped(_state({(A, B): 1, (B, C): 0, (A, C): 2}),
                                 _state({(B, C): 0}), dropped)
    assert again.zone.floor(A, B) is None
    assert again.zone.floor(B, C) == 0 and again.zone.floor(A, C) == 2
    # a floor the old state had and the widening kept is not touched
    same = _floors_kept_dropped(_state({(B, C): -1}), _state({(B, C): -1}), dropped)
    assert same.zone.floor(B, C) == -1 and dropped == {(A, B)}


def _zfunc() -> bpfjit.Program:
    return bpfjit.load_elf(CORPUS / "zfunc.o", function="entry")


def test_the_z_function_window_loop_settles_without_the_floors_coming_back(monkeypatch):
    monkeypatch.setattr(analysis, "WORK_LIMIT", 1_000)
    verified = bpfjit.verify(_zfunc(), cache=False)
    # every access is proven: z[i - l] with l <= i, z[i] with i < n <= 225, s[k] and
    # s[i + k] with i + k < n <= len - 1 (s = mem + 1)
    assert verified.accesses and verified.proven == set(verified.accesses)


@pytest.mark.parametrize("text", [b"\x05" + b"ab" * 60, b"\x02" + b"abc" * 100, b"\x00x"])
def test_the_z_function_proofs_hold_on_runs(text):
    assert_proofs_hold(_zfunc(), [text, text[:50], text[:3]])
