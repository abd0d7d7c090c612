"""bpf_msg_pull_data, bpf_msg_push_data and bpf_msg_pop_data: an sk_msg program reshaping
the message a process sends (a sidecar inserting a header, as kmesh's and OpenTelemetry
eBPF Instrumentation's programs do).

The kernel has no test run for sk_msg programs.  The expected values below were
measured on Linux 6.18 by attaching the fixture's programs to a sockmap holding one end
of a loopback TCP connection, sending the message and reading what the other end
received (a scratch harness, not part of this repository): what each helper returned,
how many bytes data..data_end and `size` showed after, the first shown bytes, and the
bytes that arrived.  Bytes a push inserts are 0 here; the kernel's were 0 in these
small pushes (its new page is not cleared: larger ones showed what it held)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"
MESSAGE = b"0123456789abcdefghij"
PULL, PUSH, POP = 1, 2, 3
EINVAL = -22
SEEN = struct.Struct("<qqIIII16s")          # struct seen: ret, ret2, windows, sizes, bytes

# (plan: op, start, end or length, flags, then a second op), the first helper's result,
# the second's, bytes shown after, size after, the first of them, the message received
MEASURED = [
    ((PULL, 0, 20, 0), 0, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PULL, 5, 10, 0), 0, 0, 5, 20, b"56789", MESSAGE),
    ((PULL, 19, 20, 0), 0, 0, 1, 20, b"j", MESSAGE),
    ((PULL, 0, 21, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PULL, 20, 21, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PULL, 5, 5, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PULL, 6, 5, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PULL, 0, 5, 1), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PUSH, 0, 4, 0), 0, 0, 4, 24, bytes(4), bytes(4) + MESSAGE),
    ((PUSH, 5, 4, 0), 0, 0, 5, 24, b"01234", b"01234" + bytes(4) + b"56789abcdefghij"),
    ((PUSH, 20, 4, 0), 0, 0, 20, 24, b"0123456789abcdef", MESSAGE + bytes(4)),
    ((PUSH, 21, 4, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PUSH, 5, 0, 0), 0, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PUSH, 0, 4, 1), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((POP, 0, 4, 0), 0, 0, 16, 16, b"456789abcdefghij", b"456789abcdefghij"),
    ((POP, 5, 4, 0), 0, 0, 5, 16, b"01234", b"012349abcdefghij"),
    ((POP, 16, 4, 0), 0, 0, 16, 16, b"0123456789abcdef", b"0123456789abcdef"),
    ((POP, 17, 4, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((POP, 0, 20, 0), 0, 0, 0, 0, b"", b""),
    ((POP, 5, 0, 0), 0, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((POP, 20, 1, 0), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((POP, 19, 1, 0), 0, 0, 19, 19, b"0123456789abcdef", MESSAGE[:19]),
    ((POP, 0, 4, 1), EINVAL, 0, 20, 20, b"0123456789abcdef", MESSAGE),
    ((PUSH, 0, 4, 0, PUSH, 0, 3, 0), 0, 0, 3, 27, bytes(3), bytes(7) + MESSAGE),
    ((PUSH, 5, 4, 0, PULL, 0, 24, 0), 0, 0, 24, 24, b"01234" + bytes(4) + b"56789ab",
     b"01234" + bytes(4) + b"56789abcdefghij"),
    ((PUSH, 5, 4, 0, PULL, 5, 9, 0), 0, 0, 4, 24, bytes(4),
     b"01234" + bytes(4) + b"56789abcdefghij"),
    ((PULL, 5, 10, 0, PUSH, 0, 3, 0), 0, 0, 3, 23, bytes(3), bytes(3) + MESSAGE),
    ((PULL, 5, 10, 0, POP, 0, 3, 0), 0, 0, 17, 17, b"3456789abcdefghi", MESSAGE[3:]),
    ((PUSH, 5, 4, 0, POP, 3, 4, 0), 0, 0, 3, 20, b"012",
     b"012" + bytes(2) + b"56789abcdefghij"),
    ((POP, 5, 4, 0, PUSH, 5, 2, 0), 0, 0, 5, 18, b"01234", b"01234" + bytes(2) + b"9abcdefghij"),
]


def _run(engine: str, message: bytes, plan: tuple) -> tuple:
    """(the fixture's record of one run, the message as it left) for `plan`."""
    prog = bpfjit.load_elf(ELF / "sk_msg_data.o", section="sk_msg", function="reshape")
    prog.maps["plan"][0] = struct.pack("<8I", *(plan + (0,) * (8 - len(plan))))
    ctx = bpfjit.SkMsgContext(message, local=("127.0.0.1", 40000), remote=("127.0.0.1", 80))
    assert bpfjit.compile(prog, engine)(ctx) == 1                   # SK_PASS
    return SEEN.unpack(prog.maps["seen"][0]), ctx.packet


@pytest.mark.parametrize("plan, ret, ret2, window, size, shown, received", MEASURED)
def test_reshaping_a_message_as_the_kernel_does(engine, plan, ret, ret2, window, size, shown,
                                                received):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    seen, packet = _run(engine, MESSAGE, plan)
    got_ret, got_ret2, before, size_before, got_window, got_size, first = seen
    assert (before, size_before) == (20, 20)
    assert (got_ret, got_ret2, got_window, got_size) == (ret, ret2, window, size)
    assert first[:min(window, 16)] == shown
    assert packet == received


LONG = bytes(i % 251 for i in range(40000))


# a 40,000-byte send is two pieces, 32,768 bytes and 7,232: data..data_end shows the first
@pytest.mark.parametrize("plan, window, first, received", [
    ((0, 0, 0, 0), 32768, 0, LONG),
    ((PULL, 30000, 35000, 0), 5000, 30000, LONG),              # across the two: joined
    ((PULL, 0, 40000, 0), 40000, 0, LONG),
    ((POP, 32760, 16, 0), 32760, 0, LONG[:32760] + LONG[32776:]),
    ((PUSH, 32768, 4, 0), 32768, 0, LONG[:32768] + bytes(4) + LONG[32768:]),
    ((PUSH, 32760, 4, 0), 32760, 0, LONG[:32760] + bytes(4) + LONG[32760:]),
    ((POP, 32768, 100, 0), 32768, 0, LONG[:32768] + LONG[32868:]),
    ((POP, 0, 32768, 0), 7232, 32768, LONG[32768:]),
    ((PULL, 30000, 35000, 0, POP, 0, 10, 0), 39990, 10, LONG[10:]),   # one piece since
])
def test_a_long_message_is_pieces(engine, plan, window, first, received):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    seen, packet = _run(engine, LONG, plan)
    assert (seen[2], seen[3]) == (32768, 40000)
    assert (seen[4], seen[5]) == (window, len(received))
    assert seen[6] == LONG[first:first + 16]
    assert packet == received


# ---- a sidecar's header ----------------------------------------------------------------------

@pytest.mark.parametrize("request_bytes, tagged", [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
     b"GET / HTTP/1.1\r\nx-trace: deadbeef\r\nHost: a\r\n\r\n"),        # as the kernel did
    (b"POST /v1/items HTTP/1.1\r\n" + b"x" * 100,
     b"POST /v1/items HTTP/1.1\r\nx-trace: deadbeef\r\n" + b"x" * 100),
    (b"no request line", b"no request line"),
    (b"a" * 70 + b"\r\n", b"a" * 70 + b"\r\n"),          # not within the first 64 bytes
])
def test_a_header_inserted_after_the_request_line(engine, request_bytes, tagged):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_msg programs")
    prog = bpfjit.load_elf(ELF / "sk_msg_data.o", section="sk_msg", function="tag_request")
    prog.maps["trace"][0] = 0xDEADBEEF
    ctx = bpfjit.SkMsgContext(request_bytes)
    assert bpfjit.compile(prog, engine)(ctx) == 1
    assert ctx.packet == tagged
    assert ctx.size == len(tagged)


# ---- what the verifier allows ----------------------------------------------------------------

# a packet pointer kept across a pull is invalid after it, as every reshaping helper's
KEPT = """
    mov %r6, %r1
    ldxdw %r7, [%r1+0]
    ldxdw %r8, [%r1+8]
    mov %r0, 1
    mov %r2, %r7
    add %r2, 1
    jgt %r2, %r8, out
    mov %r1, %r6
    mov %r2, 0
    mov %r3, 1
    mov %r4, 0
    call {helper}
    {reload}
    ldxb %r0, [%r7+0]
out:
    exit
"""


def _assembled(text: str, context: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context=context, prog_type=context)


@pytest.mark.parametrize("helper", [63, 90, 91])
def test_packet_pointers_do_not_survive_a_reshape(helper):
    prog = _assembled(KEPT.format(helper=helper, reload=""), "sk_msg")
    # strict mode refuses the load through the old pointer (checked mode checks it when
    # it runs, as it checks any number used as an address); so does the kernel
    with pytest.raises(bpfjit.VerifierError, match="pc 12: strict mode: cannot prove"):
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    assert kernel_loads(prog.to_bytes(), "sk_msg") in (None, False)
    # loading data again after the call, and checking it again, is what both want
    reloaded = KEPT.format(helper=helper, reload="ldxdw %r7, [%r6+0]\n    ldxdw %r8, [%r6+8]\n"
                           "    mov %r2, %r7\n    add %r2, 1\n    jgt %r2, %r8, out")
    prog = _assembled(reloaded, "sk_msg")
    bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    assert kernel_loads(prog.to_bytes(), "sk_msg") in (None, True)


@pytest.mark.parametrize("helper", [63, 90, 91])
def test_only_sk_msg_programs_reshape_messages(helper):
    text = "mov %r2, 0\nmov %r3, 1\nmov %r4, 0\ncall {}\nmov %r0, 2\nexit".format(helper)
    prog = _assembled(text, "xdp")
    with pytest.raises(bpfjit.VerifierError, match="pc 3: "):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    assert kernel_loads(prog.to_bytes(), "xdp") in (None, False)


def test_the_kernel_loads_the_fixture():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    for function in ("reshape", "tag_request"):
        prog = bpfjit.load_elf(ELF / "sk_msg_data.o", section="sk_msg", function=function)
        fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
               for m in prog.maps.list]
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), "sk_msg")
        finally:
            for fd in fds:
                bpfsys.close(fd)
