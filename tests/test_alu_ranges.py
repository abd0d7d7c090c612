"""The range the verifier gives an ALU result holds on every run: one operation between
two registers, each a number from the buffer narrowed to a range or a constant at an
edge (bit 31 or 63 set, all ones), then branches that split the result's range.  If the
range left out a value a run computes, the verifier would call the branch that value
takes unreachable (and, in a loop, drop the way back: the campaigns' mismatch of
2026-12-02, `sub32` of 0x80000000).  Checked against the interpreter's trace."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_verifier_soundness import assert_proofs_hold

OPS = ["add", "sub", "mul", "div", "mod", "or", "and", "xor", "lsh", "rsh", "arsh"]
EDGES = [0, 1, 2, 3, 7, 31, 32, 33, 63, 64, 255, 0x7FFFFFFF, 0x80000000, 0x80000001,
         0xFFFFFFFF, 0x100000000, 0x1FFFFFFFF, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
         0xFFFFFFFF80000000, 0xFFFFFFFFFFFFFFFF]
SIGN_EXTENSIONS = ["movsx832", "movsx864", "movsx1632", "movsx1664", "movsx3264"]
IMMS = [0, 1, -1, 2, 31, 32, 63, 0x7FFFFFFF, -0x80000000, -0x7FFFFFFF]
NARROW = ["and {r}, 255", "and {r}, 0xffff", "and {r}, 1", "rsh {r}, 33", "arsh {r}, 40",
          "mov32 {r}, {r}", "lsh {r}, 60", "and {r}, -0x80000000"]


@st.composite
def operand(draw, reg: int, offset: int) -> list[str]:
    """r<reg>: a constant at an edge, or the buffer's dword at `offset`, narrowed (and
    moved by a constant) into a range."""
    if draw(st.booleans()):
        return [f"lddw %r{reg}, {draw(st.sampled_from(EDGES)):#x}"]
    lines = [f"ldxdw %r{reg}, [%r1+{offset}]"]
    lines += [draw(st.sampled_from(NARROW)).format(r=f"%r{reg}")
              for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        lines.append(f"add %r{reg}, {draw(st.sampled_from([1, -1, 0x7FFFFFFF, -0x80000000]))}")
    return lines


@st.composite
def alu_programs(draw) -> tuple[str, list[bytes]]:
    width = draw(st.sampled_from(["", "32"]))
    lines = ["mov %r0, 0", "mov %r5, 0", "jlt %r2, 16, out"]
    lines += draw(operand(3, 0)) + draw(operand(4, 8))
    lines.append(f"{draw(st.sampled_from(OPS))}{width} %r3, %r4")
    if draw(st.booleans()):                         # and one more, with an immediate
        op = draw(st.sampled_from(OPS + ["neg"] + SIGN_EXTENSIONS))
        second = draw(st.sampled_from(["", "32"]))
        if op == "neg":
            lines.append(f"neg{second} %r3")
        elif op in SIGN_EXTENSIONS:
            lines.append(f"{op} %r3, %r3")
        else:
            lines.append(f"{op}{second} %r3, {draw(st.sampled_from(IMMS))}")
    for _ in range(draw(st.integers(1, 3))):        # branches that split the range
        cond = draw(st.sampled_from(["jgt", "jge", "jlt", "jsgt", "jslt", "jeq"]))
        lines += [f"{cond} %r3, {draw(st.sampled_from(EDGES + [5, 0x80000005]))}, +1",
                  "add %r5, 1"]
    lines += ["mov %r0, %r5", "out:", "exit"]
    values = st.one_of(st.sampled_from(EDGES), st.integers(0, (1 << 64) - 1))
    inputs = [draw(values).to_bytes(8, "little") + draw(values).to_bytes(8, "little")
              for _ in range(6)]
    return "\n".join(lines), inputs


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(alu_programs())
def test_alu_result_ranges_hold(drawn):
    text, inputs = drawn
    assert_proofs_hold(text, inputs)
