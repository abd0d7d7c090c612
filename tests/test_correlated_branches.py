"""A bound checked on one path, tested later through a flag: clang compiles
`err = data + n > data_end ? -EINVAL : 0; if (err == 0) ... *(data + k)` (cilium's
DSR and NAT helpers) into two paths that set a register to different constants and
meet at a test of that register.  The kernel's verifier follows each path, so it knows
the bound on the path where the flag is 0; joined first, the state at the test no longer
does.  bpfjit runs such a test once per incoming edge instead (the block is only the
conditional jump, and the register is a constant on an edge), so each path's facts
reach the side of the test it takes.

Each program reads data and data_end, checks 14 bytes, and loads the word at offset
10 when the flag says the check passed; expected values are the packet's bytes."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable


def xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")


def flagged(ok: int, bad: int, test: str = "jeq32 %r5, 0, load") -> bpfjit.Program:
    """r5 = `ok` when 14 bytes fit, `bad` when they do not; then `test`."""
    return xdp(f"""
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r1, %r2
        add %r1, 14
        jgt %r1, %r3, short
        mov %r5, {ok}
        ja join
    short:
        mov %r5, {bad}
    join:
        {test}
        mov %r0, 1
        exit
    load:
        ldxw %r0, [%r2+10]
        exit
    """)


def verify(prog: bpfjit.Program, mode: str) -> bpfjit.VerifiedProgram:
    return bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)


def test_the_flag_carries_the_bound_to_its_test(engine):
    prog = flagged(0, -22)
    verified = verify(prog, "strict")
    assert set(verified.accesses) <= set(verified.proven)
    fn = bpfjit.compile(prog, engine)
    packet = bytes(range(40, 80))
    assert fn(bpfjit.XdpContext(packet)) == int.from_bytes(packet[10:14], "little")
    assert fn(bpfjit.XdpContext(packet[:13])) == 1


@pytest.mark.parametrize("test", ["jeq %r5, 0, load", "jne32 %r5, -22, load",
                                  "jsge %r5, 0, load", "jslt %r5, 0, +1\nja load",
                                  # clang -mcpu=v1: the flag zero-extended first
                                  "lsh %r5, 32\nmov %r1, %r5\nrsh %r1, 32\njeq %r1, 0, load"])
def test_any_test_of_the_flag_that_tells_the_paths_apart(engine, test):
    prog = flagged(0, -22, test)
    verified = verify(prog, "strict")
    assert set(verified.accesses) <= set(verified.proven)
    packet = bytes(range(1, 30))
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(packet)) == \
        int.from_bytes(packet[10:14], "little")


def test_a_flag_set_the_other_way_round_proves_nothing(engine):
    # 0 is set where the bytes do not fit: the load is reached exactly when unchecked
    prog = flagged(-22, 0)
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(prog, "strict")
    assert not set(verify(prog, "checked").accesses) <= set(verify(prog, "checked").proven)
    with pytest.raises(bpfjit.MemoryAccessError):
        bpfjit.compile(prog, engine)(bpfjit.XdpContext(bytes(12)))


def test_a_flag_both_paths_share_proves_nothing():
    # the same constant on both paths: the test cannot tell them apart
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(flagged(0, 0), "strict")


def test_a_flag_that_is_not_a_constant_on_a_path_proves_nothing():
    # r5 is a packet byte on the short path: it may be 0 there too
    prog = xdp("""
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r1, %r2
        add %r1, 14
        mov %r5, 0
        jgt %r1, %r3, short
        ja join
    short:
        mov %r4, %r2
        add %r4, 1
        jgt %r4, %r3, join
        ldxb %r5, [%r2+0]
    join:
        jeq %r5, 0, load
        mov %r0, 1
        exit
    load:
        ldxw %r0, [%r2+10]
        exit
    """)
    with pytest.raises(bpfjit.VerifierError, match="strict mode: cannot prove"):
        verify(prog, "strict")


def test_the_log_shows_the_join_at_the_test():
    prog = flagged(0, -22)
    log = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), log=True, cache=False).log
    join = 8                                # the jeq32's pc
    assert "r5=scalar" in log[join]          # 0 or -22: the join of both paths


# ---- soundness: what is proven through a flag holds on every input ----------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from test_verifier_soundness import assert_proofs_hold  # noqa: E402

_CONDS = ["jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset"]


@st.composite
def flagged_programs(draw):
    """Two or three paths that check `mem + need` against the buffer's end (or not) and
    set r5 to a constant each, meeting at one conditional jump on r5 (64 or 32 bits,
    against a constant one of the paths set, or another; or on r5 zero-extended into r7
    first) that leads to a load; the load's offset and size drawn, so that some proofs
    hold and some programs are wrong."""
    need = draw(st.integers(1, 24))
    consts = draw(st.lists(st.sampled_from([0, 1, -22, -1, 7, 0x100000000]), min_size=2,
                           max_size=3))
    check = draw(st.sampled_from(["jgt %r3, %r4", "jge %r3, %r4", "jlt %r4, %r3"]))
    lines = ["mov %r0, 0", "mov %r3, %r1", f"add %r3, {need}", "mov %r4, %r1",
             "add %r4, %r2", f"{check}, path1"]
    if len(consts) == 3:                     # a third path: a byte decides, unchecked
        lines += ["jeq %r2, 0, path0", "ldxb %r6, [%r1+0]", "jgt %r6, 100, path2"]
    lines += ["path0:", f"lddw %r5, {consts[0]}", "ja join", "path1:",
              f"lddw %r5, {consts[1]}", "ja join"]
    if len(consts) == 3:
        lines += ["path2:", f"lddw %r5, {consts[2]}", "ja join"]
    cond = draw(st.sampled_from(_CONDS)) + draw(st.sampled_from(["", "32"]))
    imm = draw(st.sampled_from(consts + [3]))
    extend = draw(st.booleans())             # clang -mcpu=v1's zero extension first
    tested = "%r7" if extend else "%r5"
    size, suffix = draw(st.sampled_from([(1, "b"), (2, "h"), (4, "w"), (8, "dw")]))
    off = draw(st.integers(0, 24))
    lines += ["join:"] + (["lsh %r5, 32", "mov %r7, %r5", "rsh %r7, 32"] if extend else [])
    lines += [f"{cond} {tested}, {imm}, load", "exit", "load:",
              f"ldx{suffix} %r0, [%r1+{off}]", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(flagged_programs())
def test_what_a_flag_proves_holds(text):
    try:
        bpfjit.verify(bpfjit.assemble(text))
    except bpfjit.VerifierError:
        return
    assert_proofs_hold(text, [bytes(range(n)) for n in (0, 1, 7, 8, 15, 16, 23, 24, 33)])
