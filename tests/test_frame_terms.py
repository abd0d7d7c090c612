"""Stack pointers a block builds from r10, followed by the JITs (backends.x86frameterms,
the llvm backend's `frame_terms`) so that a check of an access through one tests the
sum of what was added instead of the pointer minus the frame's bottom.  The verdicts
at the frame's edges are tests/test_check_edges.py's (every engine, several orders of
building the pointer); here, what is followed, worked out by hand, and the code."""

import pytest

import bpfjit
from bpfjit.backends.x86frameterms import follow


def _followed(text: str) -> dict:
    terms: dict = {}
    for _, insn in bpfjit.assemble(text):
        follow(terms, insn)
    return terms


@pytest.mark.parametrize("text, expected", [
    ("mov r4, r10", {4: (None, 0)}),
    ("mov r4, r10\nsub r4, 600", {4: (None, -600)}),
    ("mov r4, r10\nsub r4, 600\nadd r4, r3\nadd r4, 8", {4: (3, -592)}),
    # a copy follows its source; writing the added register forgets both
    ("mov r4, r10\nadd r4, r3\nmov r5, r4", {4: (3, 0), 5: (3, 0)}),
    ("mov r4, r10\nadd r4, r3\nmov r5, r4\nadd r3, 1", {}),
    # a second register added, an add of itself, a 32-bit add, a shift: not followed
    ("mov r4, r10\nadd r4, r3\nadd r4, r5", {}),
    ("mov r4, r10\nadd r4, r4", {}),
    ("mov r4, r10\nadd32 r4, 8", {}),
    ("mov r4, r10\nlsh r4, 1", {}),
    # r10 added to a number is not followed either (the number comes first)
    ("mov r4, r3\nadd r4, r10", {}),
    # a call writes r0-r5
    ("mov r4, r10\nmov r6, r10\nadd r6, -8\ncall 5", {6: (None, -8)}),
    # a load into the register added forgets the pointer
    ("mov r4, r10\nadd r4, r3\nldxb r3, [r1+0]", {}),
])
def test_what_is_followed(text, expected):
    assert _followed(text) == expected


def test_peachpy_checks_the_sum_without_a_subtraction():
    if "peachpy" not in bpfjit.engines():
        pytest.skip("peachpy is not available")
    from bpfjit.nativedis import native_listing

    def listing(text):
        fn = bpfjit.compile(bpfjit.assemble(text), "peachpy", cache=False, line_info=True)
        return native_listing(fn.program, fn.memory.code, fn.memory.address,
                              fn.extra.get("symbols", {}), fn.extra.get("lines"))
    built = "ldxb r3, [r1+0]\nmov r4, r10\nadd r4, -64\nadd r4, r3\nldxb r0, [r4+0]\nexit"
    # r4 = r10 - 64 + r3: r11 = r3 + 448 (0x1c0), the height above the frame's bottom
    assert "sub r11, rbp" not in listing(built) and "0x1c0]" in listing(built)
    # the same pointer made in an earlier block: r11 = r4 + 512 - rbp, as before
    across = built.replace("add r4, r3", "ja +0\nadd r4, r3")
    assert "sub r11, rbp" in listing(across)
