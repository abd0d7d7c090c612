"""What a call hands the program, whatever the path it takes from Python: bytes in
place only when the program cannot write its memory, and an XdpContext reused across
runs and engines whose block always describes the context as it is now."""

from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"


def verified(source: str) -> bpfjit.VerifiedProgram:
    return bpfjit.verify(bpfjit.assemble(source), mode="checked")


# ---- the verifier's fact: may a run write the caller's memory? -------------------------------

@pytest.mark.parametrize("source,writes", [
    ("ldxb r0, [r1+0]\nexit", False),                                   # reads only
    ("mov r0, 5\nstxdw [r10-8], r0\nldxdw r0, [r10-8]\nexit", False),  # its stack only
    ("mov r3, r10\nadd r3, -16\nstb [r3+4], 1\nmov r0, 0\nexit", False),  # stack, derived
    ("stb [r1+0], 7\nmov r0, 0\nexit", True),                           # the buffer
    ("mov r2, 1\nlock add [r1+0], r2\nmov r0, 0\nexit", True),          # an atomic on it
    ("call 1\nexit", True),                             # a helper may be handed the buffer
])
def test_whether_a_program_writes_its_memory(source, writes):
    assert verified(source).writes_memory is writes


def test_an_unreachable_store_counts_as_a_write():
    # nothing proves where a store the analysis never reached would go
    assert verified("mov r0, 0\nexit\nstb [r1+0], 7\nexit").writes_memory is True


# ---- bytes: copied once when the program may write, in place when it cannot -------------------

WRITES = "stb [r1+0], 0x5a\nldxb r0, [r1+0]\nldxb r2, [r1+1]\nlsh r2, 8\nor r0, r2\nexit"
READS = "ldxb r0, [r1+0]\nldxb r2, [r1+1]\nlsh r2, 8\nor r0, r2\nexit"


def test_bytes_are_never_written_by_a_program_that_writes(engine):
    fn = bpfjit.compile(bpfjit.assemble(WRITES), engine)
    data = bytes([1, 2, 3])
    assert fn(data) == 0x025A           # it saw its own store ...
    assert data == bytes([1, 2, 3])     # ... in a copy: the bytes object is unchanged
    buf = bytearray([1, 2, 3])
    assert fn(buf) == 0x025A and buf == bytearray([0x5A, 2, 3])   # a bytearray in place


@pytest.mark.parametrize("make", [bytes, bytearray, lambda b: memoryview(bytes(b)),
                                  lambda b: memoryview(bytearray(b))],
                         ids=["bytes", "bytearray", "readonly-view", "view"])
def test_a_program_that_only_reads_takes_any_buffer(engine, make):
    fn = bpfjit.compile(bpfjit.assemble(READS), engine)
    assert fn(make([0x34, 0x12, 9])) == 0x1234


def test_a_read_only_program_still_traps_outside_its_memory(engine):
    fn = bpfjit.compile(bpfjit.assemble("ldxb r0, [r1+3]\nexit"), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as err:
        fn(bytes(3))
    assert err.value.pc == 0


# ---- an XdpContext reused: the next run sees what changed since the last -------------------------

# r0 = ingress_ifindex * 1_000_000 + rx_queue_index * 1_000 + (data_end - data)
FIELDS = """
ldxw r2, [r1+12]
mul r2, 1000000
ldxw r3, [r1+16]
mul r3, 1000
ldxw r4, [r1+0]
ldxw r5, [r1+4]
mov r0, r5
sub r0, r4
add r0, r2
add r0, r3
exit
"""


def xdp(source: str, env=None) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")


def test_a_reused_context_sees_fields_set_between_runs(engine):
    fn = bpfjit.compile(xdp(FIELDS), engine)
    ctx = bpfjit.XdpContext(bytes(64))
    assert fn(ctx) == 1_000_000 + 64                  # ingress_ifindex 1, queue 0
    assert fn(ctx) == 1_000_064                        # the same again
    ctx.ingress_ifindex = 7
    assert fn(ctx) == 7_000_064
    ctx.rx_queue_index = 3
    assert fn(ctx) == 7_003_064
    assert (ctx.ingress_ifindex, ctx.rx_queue_index) == (7, 3)


def test_one_context_passed_between_engines(engine):
    # the interpreter puts its own addresses in the block; the next JIT run must not
    # read them, nor the interpreter the JIT's
    ctx = bpfjit.XdpContext(bytes(40), ingress_ifindex=2, rx_queue_index=5)
    mine, interp = bpfjit.compile(xdp(FIELDS), engine), bpfjit.compile(xdp(FIELDS), "interp")
    for queue, fn in enumerate((mine, interp, mine, interp, mine), start=5):
        ctx.rx_queue_index = queue
        assert fn(ctx) == 2_000_040 + 1000 * queue
        assert fn(ctx) == 2_000_040 + 1000 * queue


def test_a_packet_shrunk_by_one_run_is_what_the_next_run_sees(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    # bpf_xdp_adjust_tail(ctx, -4), then return data_end - data
    shrink = xdp("mov r6, r1\nmov r2, -4\ncall 65\nldxw r2, [r6+0]\nldxw r0, [r6+4]\n"
                 "sub r0, r2\nexit", env)
    fn, fields = bpfjit.compile(shrink, engine), bpfjit.compile(xdp(FIELDS), engine)
    ctx = bpfjit.XdpContext(bytes(range(60)))
    assert fn(ctx) == 56
    assert fields(ctx) == 1_000_056
    assert fn(ctx) == 52
    assert ctx.packet == bytes(range(52))


def test_a_redirect_is_forgotten_by_the_next_run(engine):
    env = bpfjit.load_elf(ELF / "xdp_lb.o").env
    # bpf_redirect(ifindex 9, flags 0): XDP_REDIRECT
    redirect = bpfjit.compile(xdp("mov r1, 9\nmov r2, 0\ncall 23\nexit", env), engine)
    ctx = bpfjit.XdpContext(bytes(60))
    assert redirect(ctx) == 4 and ctx.redirect is not None
    assert bpfjit.compile(xdp(FIELDS), engine)(ctx) == 1_000_060
    assert ctx.redirect is None
