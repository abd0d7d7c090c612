"""Reading stack bytes no path has written.

The running kernel lets a privileged program read them (demonstrated with bpf(2) as
root: `ldxw r0, [r10-8]; exit` loads), and clang emits such reads: at -O1 it loads a
variable before the loop that may set it (`__u32 tsval; if (!find(opts, &tsval))
...` in corpus/xdp/tcp_ts.c, built `-O1 -mcpu=v3`).  In the entry subprogram's frame,
when no call enters it, those bytes are what the engines zeroed at entry, so the read
is defined: 0.  A callee's frame holds what an earlier callee at its depth left there
(a spilled pointer, perhaps), so there the read is still refused."""

import pytest

import bpfjit


def test_the_top_frame_reads_zero_where_nothing_wrote(engine):
    # r0 = [r10-8] (never written: 0) + 7, and the high half of a slot half written
    prog = bpfjit.assemble("""
        stw [r10-16], -1
        ldxw r0, [r10-8]
        ldxdw r1, [r10-16]
        rsh r1, 32
        add r0, r1
        add r0, 7
        exit
    """)
    fn = bpfjit.compile(prog, engine)       # the kernel loads it too (where it runs)
    if engine != "kernel":                  # (whose stack is not zeroed: any value)
        assert fn() == 7


def test_the_verifier_knows_the_value_is_zero():
    prog = bpfjit.assemble("ldxb r1, [r10-300]\nmov r0, 5\njeq r1, 0, +1\nmov r0, 6\nexit")
    verified = bpfjit.verify(prog, cache=False)
    # the branch on a byte that can only be 0 never falls through: pc 3 is unreachable
    assert verified.unreachable == (3,)


def test_a_callee_may_not_read_what_nothing_wrote():
    prog = bpfjit.assemble("call local f\nexit\nf:\nldxw r0, [r10-8]\nexit")
    with pytest.raises(bpfjit.VerifierError, match="nothing has written yet") as refused:
        bpfjit.verify(prog, cache=False)
    assert refused.value.pc == 2


def test_nor_an_entry_that_a_call_enters_again():
    # the entry subprogram called recursively: its frame is not always the top one
    prog = bpfjit.assemble("top:\nldxw r0, [r10-8]\njeq r1, 0, +2\nmov r1, 0\n"
                           "call local top\nexit")
    with pytest.raises(bpfjit.VerifierError, match="nothing has written yet"):
        bpfjit.verify(prog, cache=False)


def test_what_an_earlier_run_left_is_not_what_the_top_frame_reads(engine):
    # another program's run leaves a pattern deep in the stack where the next run's
    # frame lies (the same call path): the read of bytes nothing wrote still gives 0,
    # because the entry zeroes every byte a run may touch, this read's included
    if engine == "kernel":
        pytest.skip("the kernel does not zero the stack it gives a program")
    writer = bpfjit.compile(bpfjit.assemble(
        "lddw r1, 0x5aa55aa55aa55aa5\nstxdw [r10-504], r1\nstxdw [r10-256], r1\n"
        "mov r0, 0\nexit"), engine)
    reader = bpfjit.compile(bpfjit.assemble(
        "ldxdw r0, [r10-504]\nldxdw r1, [r10-256]\nor r0, r1\nexit"), engine)
    for _ in range(3):
        assert writer() == 0
        assert reader() == 0
