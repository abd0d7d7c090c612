"""Random programs built to make the verifier reason (length checks, pointer arithmetic,
relations, spills, narrowing, loops, calls), checked against the interpreter.

Whatever the verifier concludes must hold on every run: no access it proves in
bounds traps in the interpreter (which checks every access), and no pc it calls
unreachable runs.  Rejections are fine; wrong proofs are not.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.kernel import HELPER_NAMES

from test_verifier_soundness import assert_proofs_hold

DATA = [0, 2, 3, 4, 5, 8, 9]              # scalars
POINTERS = [1, 6]                         # r6: the buffer's start; r1: derived pointers
# r7 holds the buffer's end (r6 + len) throughout
CONDS = ["jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset",
         "jeq32", "jne32", "jgt32", "jge32", "jlt32", "jle32", "jsgt32", "jslt32"]
SMALL = [0, 1, 2, 3, 4, 7, 8, 14, 15, 16, 20, 31, 32, 63, 64, -1, -2, -8, 255, 0x7FFFFFFF]
SIZES = [("b", 1), ("h", 2), ("w", 4), ("dw", 8)]


def reg(draw, regs) -> str:
    return f"%r{draw(st.sampled_from(regs))}"


@st.composite
def arithmetic(draw) -> list[str]:
    d = reg(draw, DATA)
    choice = draw(st.integers(0, 11))
    if choice == 0:
        return [f"mov {d}, {draw(st.sampled_from(SMALL))}"]
    if choice == 1:
        return [f"mov {d}, {reg(draw, DATA)}"]
    if choice == 2:
        return [f"add {d}, {draw(st.sampled_from(SMALL))}"]
    if choice == 3:
        return [f"{draw(st.sampled_from(['add', 'sub']))} {d}, {reg(draw, DATA)}"]
    if choice == 4:
        return [f"and {d}, {draw(st.sampled_from([1, 3, 7, 15, 63, 255, -8, -64, 0xFFFF]))}"]
    if choice == 5:
        return [f"{draw(st.sampled_from(['rsh', 'lsh', 'arsh']))} {d}, "
                f"{draw(st.sampled_from([1, 2, 3, 8, 32]))}"]
    if choice == 6:
        return [f"lsh {d}, 32", f"{draw(st.sampled_from(['rsh', 'arsh']))} {d}, "
                f"{draw(st.sampled_from([32, 33]))}"]
    if choice == 7:
        return [f"{draw(st.sampled_from(['mov32', 'add32', 'sub32']))} {d}, "
                f"{draw(st.sampled_from(SMALL))}"]
    if choice == 8:
        return [f"{draw(st.sampled_from(['div', 'mod', 'mul']))} {d}, "
                f"{draw(st.sampled_from([2, 3, 7, 8, 13]))}"]
    if choice == 9:                      # a remainder the long way: q = x / c * c; x - q
        x, q, c = d, reg(draw, DATA), draw(st.sampled_from([3, 7, 13]))
        return [f"mov {q}, {x}", f"div {q}, {c}", f"mul {q}, {c}", f"sub {x}, {q}"]
    if choice == 10:                     # a pointer difference
        return [f"mov {d}, %r7", f"sub {d}, {reg(draw, POINTERS)}"]
    return [f"neg {d}"]


@st.composite
def pointers(draw) -> list[str]:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return ["mov %r1, %r6", f"add %r1, {reg(draw, DATA)}"]
    if choice == 1:
        return [f"add %r1, {draw(st.sampled_from(SMALL))}"]
    if choice == 2:
        return [f"sub %r1, {reg(draw, DATA)}"]
    return ["mov %r1, %r7", f"sub %r1, {draw(st.sampled_from([1, 2, 4, 8]))}"]


@st.composite
def check(draw, label: str) -> list[str]:
    """A length check (p + n > end: leave), or any comparison that may leave."""
    if draw(st.booleans()):
        p, n = reg(draw, POINTERS), draw(st.sampled_from([1, 2, 4, 8, 14, 20]))
        op = draw(st.sampled_from(["jgt", "jge", "jsgt"]))
        return [f"mov %r3, {p}", f"add %r3, {n}",
                f"{op} %r3, %r7, {label}"]
    cond = draw(st.sampled_from(CONDS))
    rhs = reg(draw, DATA + [7]) if draw(st.booleans()) else str(draw(st.sampled_from(SMALL)))
    return [f"{cond} {reg(draw, DATA + POINTERS)}, {rhs}, {label}"]


@st.composite
def access(draw) -> list[str]:
    suffix, size = draw(st.sampled_from(SIZES))
    off = draw(st.sampled_from([0, 1, 2, 4, 8, 13, -1, -4]))
    where = draw(st.integers(0, 3))
    if where <= 1:
        base = reg(draw, POINTERS)
    elif where == 2:                     # the stack at a variable offset
        return ["mov %r5, %r10", "add %r5, -64", f"add %r5, {reg(draw, DATA)}",
                f"stx{suffix} [%r5{off:+d}], {reg(draw, DATA)}"]
    else:                                # spill and reload
        slot = -8 * draw(st.integers(1, 8))
        return [f"stxdw [%r10{slot:+d}], {reg(draw, DATA + POINTERS)}",
                f"ldxdw {reg(draw, DATA)}, [%r10{slot:+d}]"]
    if draw(st.booleans()):
        return [f"ldx{suffix} {reg(draw, DATA)}, [{base}{off:+d}]"]
    return [f"stx{suffix} [{base}{off:+d}], {reg(draw, DATA)}"]


@st.composite
def block(draw, labels: list[int], depth: int = 0) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        choice = draw(st.integers(0, 9))
        if choice <= 2:
            lines += draw(arithmetic())
        elif choice == 3:
            lines += draw(pointers())
        elif choice <= 5:
            lines += draw(access())
        elif choice <= 7 or depth > 1:   # a check that skips what follows
            labels[0] += 1
            label = f"l{labels[0]}"
            lines += draw(check(label)) + draw(block(labels, depth + 1)) + [f"{label}:"]
        else:                            # a loop: a counter, or a pointer walking the buffer
            labels[0] += 1
            head, out = f"h{labels[0]}", f"o{labels[0]}"
            if draw(st.booleans()):
                lines += ["mov %r9, 0", f"{head}:", f"jge %r9, {draw(st.integers(1, 9))}, {out}"]
                lines += draw(block(labels, depth + 1))
                lines += [f"add %r9, {draw(st.sampled_from([1, 2, 3]))}", f"ja {head}",
                          f"{out}:"]
            else:
                step = draw(st.sampled_from([1, 2, 4, 8]))
                lines += ["mov %r1, %r6", f"{head}:", "mov %r3, %r1", f"add %r3, {step}",
                          f"jgt %r3, %r7, {out}"]
                lines += draw(block(labels, depth + 1))
                lines += [f"add %r1, {step}", f"ja {head}", f"{out}:"]
    return lines


@st.composite
def programs(draw):
    prologue = ["mov %r6, %r1", "mov %r7, %r1", "add %r7, %r2"]
    prologue += [f"mov %r{r}, {draw(st.sampled_from(SMALL))}" for r in DATA]
    prologue += [f"stdw [%r10-{off}], 0" for off in range(8, 129, 8)]
    body = draw(block([0]))
    return "\n".join(prologue + body + ["mov %r0, 0", "exit"])


INPUTS = [bytes(range(n)) for n in (0, 1, 3, 8, 14, 15, 20, 33)]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_what_the_verifier_proves_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, INPUTS)


@pytest.mark.slow            # pytest -m slow
@settings(max_examples=5000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_what_the_verifier_proves_holds_long(text):
    test_what_the_verifier_proves_holds.hypothesis.inner_test(text)


# ---- counted loops over the buffer: a stride, a bound derived from the length --------

@st.composite
def strided_programs(draw):
    """`for (i = 0; i < n; i++) access(mem + base + stride * i + off)` with n the length
    shifted right, or a header byte scaled (`n * m | c` or `+ c`) and checked against
    the length, through 32-bit extensions clang splits apart: the shapes the verifier's
    quotient, scaled and lockstep facts prove.  Half the programs draw every part at
    random (one byte too many, a stride larger than the divisor, the `|` past the
    alignment); the other half fit, so that proofs are made and put to the test."""
    fit = draw(st.booleans())
    suffix, size = draw(st.sampled_from(SIZES))
    base = draw(st.sampled_from([0, 1, 3]))
    lines = ["mov %r0, 0", "jeq %r2, 0, out"]
    if draw(st.booleans()):                  # n = len >> k, maybe through a split extension
        k = draw(st.sampled_from([0, 1, 2, 3]))
        lines += ["mov %r3, %r2"]
        if draw(st.booleans()):
            lines += ["lsh %r3, 32", "mov %r8, %r3", "arsh %r8, 32",
                      f"jslt %r8, {draw(st.sampled_from([0, 1, 2]))}, out",
                      f"{draw(st.sampled_from(['rsh', 'arsh']))} %r3, 32"]
        lines += [f"rsh %r3, {k}"]
        stride = 1 << k
        room = 0                             # bytes after the last stride
    else:                                    # n from the header, checked as n * m + c <= len
        op, factor = draw(st.sampled_from([("lsh", 1), ("lsh", 2), ("lsh", 3), ("mul", 3),
                                           ("mul", 12)]))
        stride = 1 << factor if op == "lsh" else factor
        room = draw(st.sampled_from([0, 1, 2, 3, 4, 7, 8]))
        add = "add" if op == "mul" and fit else draw(st.sampled_from(["or", "add"]))
        lines += ["ldxb %r3, [%r1]", "mov %r4, %r3", f"{op} %r4, {factor}",
                  f"{add} %r4, {room}",
                  f"{draw(st.sampled_from(['jgt', 'jge', 'jsgt']))} %r4, %r2, out"]
    if fit:                                  # base + off >= 0, base + off + size <= stride + room
        offs = [o for o in range(-base, stride + room - size - base + 1)] or [0]
        off = draw(st.sampled_from(offs))
        jump = "jlt"
        lines += ["jeq %r3, 0, out"]
    else:
        stride = draw(st.sampled_from([1, 2, 3, 4, 8, 12]))
        off = draw(st.sampled_from([-1, 0, 1, 2, 3, 4, 7, 8]))
        jump = draw(st.sampled_from(["jlt", "jle", "jne", "jslt"]))
        if draw(st.booleans()):
            lines += ["jeq %r3, 0, out"]
    lines += ["mov %r4, 0", "mov %r5, %r1", f"add %r5, {base}",
              "head:", f"ldx{suffix} %r6, [%r5{off:+d}]", "add %r0, %r6",
              f"add %r5, {stride}", "add %r4, 1", f"{jump} %r4, %r3, head", "out:", "exit"]
    return "\n".join(lines)


STRIDED_INPUTS = [bytes([first]) + bytes(range(1, n)) for n in (1, 2, 3, 4, 5, 7, 8, 9, 12,
                                                                 16, 17, 25, 33, 40)
                  for first in (0, 1, 2, 3, 5)]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(strided_programs())
def test_what_the_verifier_proves_of_strided_loops_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, STRIDED_INPUTS)


# ---- 32-bit extensions of values related to the length -------------------------------

@st.composite
def extension_programs(draw):
    """`len + k`, extended from 32 bits (`lsh 32; rsh/arsh 32 + s`, adjacent, or split
    by a copy), then compared with len and used as an offset: the upper half is a
    constant over the range for most k (0 to 0xffffffff, or negative), so the extension
    moves the value, and its relations, by a constant the zone must count signed."""
    k = draw(st.sampled_from([0, 4, -4, 0xFFFFFFFC, 1 << 32, (1 << 32) + 7, -(1 << 32),
                              0xFFFFFFFF00000000, 0x7FFFFFFF, -(1 << 31), 1 << 63]))
    shift = draw(st.sampled_from(["rsh", "arsh"]))
    lines = ["mov %r0, 0", "mov %r3, %r2", f"lddw %r4, {k % 2**64:#x}", "add %r3, %r4",
             "lsh %r3, 32"]
    if draw(st.booleans()):
        lines += ["mov %r5, %r3"]
    lines += [f"{shift} %r3, {draw(st.sampled_from([32, 33]))}",
              f"{draw(st.sampled_from(['jne', 'jeq', 'jgt', 'jge', 'jslt']))} %r3, %r2, out",
              "mov %r0, 1", "mov %r6, %r1", "add %r6, %r3",
              f"ldxb %r0, [%r6{draw(st.sampled_from([-5, -1, 0, 3])):+d}]", "out:", "exit"]
    return "\n".join(lines)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(extension_programs())
def test_what_the_verifier_proves_of_extended_lengths_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, [bytes(n) for n in (0, 1, 4, 5, 8, 40)])


# ---- midpoints: lo + ((hi - lo) >> k) -------------------------------------------------------

@st.composite
def midpoint_programs(draw):
    """Two bytes of the buffer as lo and hi (maybe ordered by a branch, maybe not), their
    difference shifted in the ways clang writes a halving (or not a halving at all),
    something added back, and the result used as an offset into a buffer the program
    proved long enough for hi: the verifier may prove the access only where it is right."""
    # hi masked to the guard's last byte, or not masked, or moved below zero
    mask, guard = draw(st.sampled_from([("and %r4, 31", 32), ("and %r4, 31", 32),
                                        ("and %r4, 63", 64), ("", 64), ("add %r4, -8", 64)]))
    lines = ["mov %r0, 0", f"jlt %r2, {guard}, out", "ldxb %r3, [%r1]", "ldxb %r4, [%r1+1]",
             mask]
    lines.append(draw(st.sampled_from(["jsgt %r3, %r4, out", "jsgt %r3, %r4, out",
                                       "jgt %r3, %r4, out", "jsge %r3, %r4, out",
                                       "jsgt %r4, %r3, out", ""])))
    lines += ["mov %r5, %r4", draw(st.sampled_from(["sub %r5, %r3", "sub %r5, %r3",
                                                    "sub %r5, %r4", "add %r5, %r3"]))]
    lines += draw(st.sampled_from([["rsh %r5, 1"], ["arsh %r5, 1"], ["lsh %r5, 32", "arsh %r5, 33"],
                                   ["lsh %r5, 32", "rsh %r5, 33"], ["rsh %r5, 2"],
                                   ["lsh %r5, 1", "rsh %r5, 1"], ["lsh %r5, 2", "rsh %r5, 1"],
                                   ["add %r5, 1", "rsh %r5, 1"], []]))
    lines.append(draw(st.sampled_from(["add %r5, %r3", "add %r5, %r3", "add %r5, %r4",
                                       "sub %r5, %r3", "add %r5, 1"])))
    lines += ["mov %r6, %r1", "add %r6, %r5",
              f"ldxb %r0, [%r6{draw(st.sampled_from([0, 1, -1])):+d}]", "out:", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(midpoint_programs())
def test_what_the_verifier_proves_of_midpoints_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    # buffers exactly as long as the guard asks, and pairs at the edges of each mask
    pairs = [(0, 0), (0, 63), (5, 3), (3, 5), (63, 0), (0, 255), (255, 0), (200, 250),
             (8, 8), (0, 7), (7, 0), (128, 130), (31, 63), (31, 31), (63, 63), (30, 31),
             (0, 31), (31, 0), (62, 63), (39, 39), (71, 71)]
    inputs = [bytes([lo, hi]) + bytes(n - 2) for lo, hi in pairs for n in (32, 64, 100)]
    assert_proofs_hold(text, inputs)


# ---- descending loops: a floor base + counter >= c -----------------------------------------

@st.composite
def descending_programs(draw):
    """A window at mem + base + counter, the counter stepping down from near 0 and the
    loop's exit test on base + counter + t in a register of its own (clang's shape of
    `for (i = n - 4; i >= 0; i--)`), with the base, the start, the step, the test and
    the window's offset each drawn around the edge: the verifier may prove the window
    only where the floor the test leaves is right."""
    mask = draw(st.sampled_from([1023, 255, 15]))
    lines = ["mov %r0, 0", "jlt %r2, 8, out", "mov %r5, %r2",
             f"add %r5, {draw(st.sampled_from([-4, -3, -1, 0]))}", f"and %r5, {mask}",
             f"add %r5, {draw(st.sampled_from([-4, -3, -1, 0]))}"]
    lines.append(draw(st.sampled_from(["jslt %r5, 0, out", "jslt %r5, -1, out",
                                       "jsle %r5, 0, out", ""])))
    lines.append(f"mov %r4, {draw(st.sampled_from([0, 0, -1, 1]))}")
    # a constant step, or one read from the buffer: -1 or -2, unknown which
    step = draw(st.sampled_from(["-1", "-1", "-2", "%r6"]))
    if step == "%r6":
        lines += ["ldxb %r6, [%r1+1]", "and %r6, 1", "add %r6, -2"]
    size, off = draw(st.sampled_from([("ldxw", 0), ("ldxw", -1), ("ldxw", 1),
                                      ("ldxb", 3), ("ldxb", 4), ("ldxb", -1)]))
    test_first = draw(st.booleans())        # the test's sum before the counter moves
    t = draw(st.sampled_from([1, 1, 0, 2, -1]))
    jump = draw(st.sampled_from(["jsgt %r2, 0, loop", "jsgt %r2, 0, loop",
                                 "jsge %r2, 0, loop", "jsgt %r2, -1, loop",
                                 "jsgt %r2, 1, loop", "jgt %r2, 0, loop"]))
    lines += ["loop:", "mov %r7, %r1", "add %r7, %r5", "add %r7, %r4",
              f"{size} %r3, [%r7{off:+d}]", "add %r0, %r3"]
    move = [f"add %r4, {step}"]
    sum_ = ["mov %r2, %r5", "add %r2, %r4", f"add %r2, {t}"]
    lines += (sum_ + move) if test_first else (move + sum_)
    lines += [jump, "out:", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(descending_programs())
def test_what_the_verifier_proves_of_descending_loops_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    # lengths just past each mask's edge and the length test, bytes varied
    inputs = [bytes((3 * i + n) & 0xff for i in range(n))
              for n in (8, 9, 11, 12, 13, 19, 20, 21, 40, 259, 260, 1027, 1028, 1100)]
    assert_proofs_hold(text, inputs)


# ---- 32-bit adds that may wrap, then a test that shows they did not ---------------------------

@st.composite
def wrap_programs(draw):
    """x = (y + k) mod 2^32 computed before a 32-bit test of y, then x as an offset
    into a 16-byte buffer: the verifier may prove the access only where the test
    really keeps y + k within 32 bits and the buffer."""
    mask = draw(st.sampled_from([15, 31, 7, 255]))
    k = draw(st.sampled_from([-1, -1, -2, 1, -16, 0x7FFFFFFF, -0x80000000]))
    cond = draw(st.sampled_from(["jeq32", "jne32", "jgt32", "jlt32", "jge32", "jle32",
                                 "jsgt32", "jslt32", "jeq", "jgt"]))
    c = draw(st.sampled_from([0, 1, 2, 15, 16, -1]))
    lines = ["mov %r0, 0", "jlt %r2, 16, out", "ldxb %r5, [%r1]", f"and32 %r5, {mask}"]
    if draw(st.booleans()):
        lines.append(f"add32 %r5, {draw(st.sampled_from([-1, 1, -8]))}")
    lines += ["mov32 %r6, %r5", f"add32 %r6, {k}", f"{cond} %r5, {c}, out",
              "mov %r7, %r1", "add %r7, %r6", "ldxb %r0, [%r7]", "out:", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(wrap_programs())
def test_what_the_verifier_proves_of_wrapped_adds_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, [bytes([b]) + bytes(15) for b in range(256)])


# ---- map lookups in loops: copies, NULL tests, updates ----------------------------------------

@st.composite
def lookup_loop_programs(draw):
    """A loop of one to three trips around a hash-map lookup, keeping a copy of some
    trip's result, inserting or deleting the key, then (on every trip or some) testing
    the new result or the copy against NULL and loading through one of them: the
    verifier may prove a load only where the pointer it goes through was tested on
    every path, and a copy of an earlier trip's result is not the one tested now."""
    key = draw(st.integers(0, 3))
    lines = [f"stw [%r10-4], {key}", "stdw [%r10-16], 7", "mov %r8, 0",
             f"mov %r9, {draw(st.integers(1, 3))}", "loop:"]
    if draw(st.booleans()):
        lines.append(f"stw [%r10-4], {draw(st.integers(0, 3))}")
    lines += ["lddw %r1, map_by_fd(0)", "mov %r2, %r10", "add %r2, -4", "call 1"]
    # weighted toward the shape of the bug this test came from: a copy kept on one
    # trip, the key inserted, the new result tested and the old copy used on another
    keep = draw(st.sampled_from(["first", "first", "always", "later", "never"]))
    if keep == "always":
        lines.append("mov %r8, %r0")
    elif keep != "never":
        lines += [f"{'jne' if keep == 'first' else 'jeq'} %r9, 2, +1", "mov %r8, %r0"]
    change = draw(st.sampled_from(["insert", "insert", "delete", "none"]))
    if change != "none":
        lines += ["mov %r6, %r0", "lddw %r1, map_by_fd(0)", "mov %r2, %r10",
                  "add %r2, -4"]
        lines += ["mov %r3, %r10", "add %r3, -16", "mov %r4, 0", "call 2"] \
            if change == "insert" else ["call 3"]
        lines.append("mov %r0, %r6")
    tested = draw(st.sampled_from(["%r0", "%r0", "%r8"]))
    used = draw(st.sampled_from(["%r8", "%r8", "%r0"]))
    off = draw(st.sampled_from([0, 0, 4, 8]))
    when = draw(st.sampled_from(["last", "last", "always", "not second"]))  # which trips
    if when == "last":
        lines.append("jne %r9, 1, skip")
    elif when == "not second":
        lines.append("jeq %r9, 2, skip")
    lines += [f"jeq {tested}, 0, skip", f"ldxw %r7, [{used}+{off}]"]
    if draw(st.integers(0, 2)):             # the load ends the run, or the loop goes on
        lines += ["mov %r0, %r7", "exit"]
    lines += ["skip:",
              "sub %r9, 1", "jne %r9, 0, loop", "mov %r0, 0", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(lookup_loop_programs())
def test_what_the_verifier_proves_of_lookups_in_loops_holds(text):
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import HashMap, MapSpec, MapTable
    base = bpfjit.assemble(text)
    prog = bpfjit.Program(base.insns, env=KernelEnv(MapTable([HashMap(
        MapSpec("h", 1, 4, 8, 4))])))
    try:
        bpfjit.verify(prog, helpers=set(HELPER_NAMES))
    except bpfjit.VerifierError:
        return
    # the map keeps what each run leaves: later inputs meet it full
    assert_proofs_hold(prog, [b""] * 4)


# ---- buffer pointers or NULL: paths joined, copies, NULL tests ---------------------------------

@st.composite
def null_pointer_programs(draw):
    """A loop of one to three trips; on each, a bit of the length picks a path that
    leaves a buffer pointer in r6 and one that leaves NULL (or another pointer, or r6
    as it was); copies go to r8 and a stack slot on some paths or trips, r6 may move
    by one after its copy; then one of r6, r8 and the slot (filled into r4) is tested
    against NULL, maybe one is tested against the end, and one is loaded through: the
    verifier may prove the load only where that pointer, or a copy equal to it on
    every path, was tested."""
    regs = ["%r6", "%r8", "%r4"]
    lines = ["mov %r7, %r1", "add %r7, %r2", "mov %r6, 0", "mov %r8, 0", "stdw [%r10-8], 0",
             f"mov %r9, {draw(st.integers(1, 3))}", "loop:",
             "mov %r3, %r2", "rsh %r3, %r9", f"rsh %r3, {draw(st.integers(0, 2))}",
             "jset %r3, 1, other"]
    offset = draw(st.sampled_from(["0", "2", "5", "var", "var"]))
    if offset == "var":
        lines += ["mov %r6, %r2", "and %r6, 7", "add %r6, %r1"]
    else:
        lines += ["mov %r6, %r1", f"add %r6, {offset}"]
    copy = draw(st.sampled_from(["here", "here", "joined", "first trip", "never"]))
    if copy == "here":
        lines.append("mov %r8, %r6")
    if draw(st.booleans()):
        lines.append("stxdw [%r10-8], %r6")
    if draw(st.booleans()):               # r6 no longer equal to its copies
        lines.append("add %r6, 1")
    lines += ["ja joined", "other:"]
    lines.append(draw(st.sampled_from(["mov %r6, 0", "mov %r6, 0", "mov %r6, %r1", ""])))
    if draw(st.booleans()):
        lines.append("stxdw [%r10-8], %r6")
    lines.append("joined:")
    if copy == "joined":
        lines.append("mov %r8, %r6")
    elif copy == "first trip":
        lines += ["jlt %r9, 3, +1", "mov %r8, %r6"]
    lines.append("ldxdw %r4, [%r10-8]")
    tested, used = draw(st.sampled_from(regs)), draw(st.sampled_from(regs + ["%r6"]))
    # an 8-byte load: (len & 7) + 8 == len for every len in 8..15, the one edge where
    # a copy one byte behind passes the end test while r6 does not
    size, width = draw(st.sampled_from([("b", 1), ("h", 2), ("dw", 8), ("dw", 8)]))
    lines.append(f"jeq {tested}, 0, skip")
    if draw(st.integers(0, 3)):
        bounded = draw(st.sampled_from([used, used, tested] + regs))
        lines += [f"mov %r5, {bounded}", f"add %r5, {width}", "jgt %r5, %r7, skip"]
    lines += [f"ldx{size} %r0, [{used}+0]", "skip:", "sub %r9, 1", "jne %r9, 0, loop",
              "mov %r0, 0", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(null_pointer_programs())
def test_what_the_verifier_proves_of_pointers_or_null_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, [bytes(range(n)) for n in range(0, 24)])


# ---- paths kept apart: a register that is a pointer on one path, a number or another
# pointer on the other, and a flag that tells them apart (bpfjit.verifier.perpath) -----

@st.composite
def apart_programs(draw):
    """One to three diamonds in a row.  Each sets a register to a buffer pointer (length
    checked or not), a stack pointer or a number on each of its two paths, and a flag (in
    a register or a slot) to a constant per path -- the same one now and then; after the
    paths meet, some arithmetic, then an access through the register under a test of
    the flag (against either path's constant, or none).  The blocks after such a join
    run once per group of paths while the register is read: what they prove must hold
    on every path of the group."""
    lines = ["mov %r6, %r1", "mov %r7, %r1", "add %r7, %r2"]
    lines += [f"mov %r{r}, {draw(st.sampled_from(SMALL))}" for r in DATA]
    lines += [f"stdw [%r10-{off}], 0" for off in range(8, 65, 8)]
    for n in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([3, 4, 5, 8]))
        flag_slot = draw(st.booleans())
        flags = [draw(st.integers(0, 3)) for _ in range(2)]
        arms = []
        for side in range(2):
            kind = draw(st.sampled_from(["buffer", "buffer", "stack", "number"]))
            arm = []
            if kind == "buffer":
                off = draw(st.sampled_from([0, 2, 4, 8, 14]))
                arm += [f"mov %r{target}, %r6", f"add %r{target}, {off}"]
                if draw(st.integers(0, 2)):
                    need = draw(st.sampled_from([1, 2, 4, 8, 16]))
                    arm += [f"mov %r0, %r{target}", f"add %r0, {need}",
                            f"jgt %r0, %r7, out{n}"]
            elif kind == "stack":
                arm += [f"mov %r{target}, %r10",
                        f"add %r{target}, {draw(st.sampled_from([-8, -16, -32, -64]))}"]
            else:
                arm += [f"mov %r{target}, {draw(st.sampled_from(SMALL))}"]
            arm += [f"stdw [%r10-72], {flags[side]}" if flag_slot
                    else f"mov %r9, {flags[side]}"]
            arms.append(arm)
        lines += [f"{draw(st.sampled_from(CONDS))} {reg(draw, DATA)}, "
                  f"{draw(st.sampled_from(SMALL))}, other{n}"]
        lines += arms[0] + [f"ja join{n}", f"other{n}:"] + arms[1] + [f"join{n}:"]
        if draw(st.booleans()):
            lines += draw(arithmetic())
        if flag_slot:
            lines.append("ldxdw %r9, [%r10-72]")
        test = draw(st.sampled_from(["jne", "jeq", "none"]))
        if test != "none":
            lines.append(f"{test} %r9, {draw(st.sampled_from(flags))}, skip{n}")
        suffix, size = draw(st.sampled_from(SIZES))
        off = draw(st.sampled_from([0, 1, 2, 4, 7, -1]))
        if draw(st.booleans()):
            lines.append(f"ldx{suffix} %r0, [%r{target}{off:+d}]")
        else:
            lines.append(f"stx{suffix} [%r{target}{off:+d}], %r2")
        lines += [f"skip{n}:", f"out{n}:"]
    return "\n".join(lines + ["mov %r0, 0", "exit"])


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(apart_programs())
def test_what_the_verifier_proves_of_paths_kept_apart_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, INPUTS + [bytes([b]) * 20 for b in (0, 1, 2, 3, 8, 255)])


@pytest.mark.slow            # pytest -m slow
@settings(max_examples=5000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(apart_programs())
def test_what_the_verifier_proves_of_paths_kept_apart_holds_long(text):
    test_what_the_verifier_proves_of_paths_kept_apart_holds.hypothesis.inner_test(text)
