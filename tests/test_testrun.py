"""test_run: BPF_PROG_TEST_RUN's inputs and outputs (retval, data_out, ctx_out,
duration) for programs on every engine, with the kernel's rules for ctx_in."""

import struct

import pytest

import bpfjit
from bpfjit.testrun import SK_BUFF_SIZE, XDP_MD


def xdp(source: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(source).insns, context="xdp", prog_type="xdp")


def skb(source: str, prog_type: str = "sched_cls") -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(source).insns, context="skb", prog_type=prog_type)


# r0 = (data_end - data) | (data - data_meta) << 16 | ingress_ifindex << 32; and the
# packet's first byte becomes 0xaa
LENGTHS = """
ldxw r2, [r1+0]
ldxw r3, [r1+4]
ldxw r4, [r1+8]
ldxw r5, [r1+12]
mov r0, r3
sub r0, r2
mov r6, r2
sub r6, r4
lsh r6, 16
or r0, r6
lsh r5, 32
or r0, r5
mov r7, r2
add r7, 1
jgt r7, r3, out
stb [r2+0], 0xaa
out:
exit
"""


def test_xdp_without_a_context_in(engine):
    result = bpfjit.compile(xdp(LENGTHS), engine).test_run(bytes(range(60)))
    assert result.r0 == 60 | 1 << 32                  # no metadata; the loopback, ifindex 1
    assert result.retval == 60                         # the low 32 bits, as the kernel's
    assert result.data_out == b"\xaa" + bytes(range(1, 60))
    assert XDP_MD.unpack(result.ctx_out) == (0, 60, 0, 1, 0, 0)
    assert result.duration >= 0


def test_xdp_metadata_and_interface_from_the_context_in(engine):
    data = bytes([7] * 8) + bytes(range(52))           # 8 bytes of metadata, then the packet
    fn = bpfjit.compile(xdp(LENGTHS), engine)
    result = fn.test_run(data, XDP_MD.pack(8, 60, 0, 1, 0, 0))
    assert result.r0 == 52 | 8 << 16 | 1 << 32
    assert result.data_out == bytes([7] * 8) + b"\xaa" + bytes(range(1, 52))
    assert XDP_MD.unpack(result.ctx_out) == (8, 60, 0, 1, 0, 0)
    # a short context in is zero-filled: data 0, then data_end must still be the length
    assert fn.test_run(bytes(20), XDP_MD.pack(0, 20, 0, 0, 0, 0)[:8]).retval == 20


@pytest.mark.parametrize("md,words", [
    ((0, 60, 4, 1, 0, 0), "data_meta and egress_ifindex"),
    ((0, 60, 0, 1, 0, 3), "data_meta and egress_ifindex"),
    ((0, 59, 0, 1, 0, 0), "data_end must be the length"),
    ((6, 60, 0, 1, 0, 0), "multiple of 4"),
    ((220, 280, 0, 1, 0, 0), "multiple of 4 up to 216"),     # (Linux 6.18 refuses it too)
])
def test_xdp_context_in_the_kernel_refuses(md, words):
    fn = bpfjit.compile(xdp(LENGTHS), "interp")
    with pytest.raises(bpfjit.BpfError, match="EINVAL") as err:
        fn.test_run(bytes(max(60, md[1])), XDP_MD.pack(*md))
    assert words in str(err.value)


def test_a_longer_context_in_must_end_in_zeros():
    fn = bpfjit.compile(xdp(LENGTHS), "interp")
    assert fn.test_run(bytes(60), XDP_MD.pack(0, 60, 0, 1, 0, 0) + bytes(8)).retval == 60
    with pytest.raises(bpfjit.BpfError, match="not zero"):
        fn.test_run(bytes(60), XDP_MD.pack(0, 60, 0, 1, 0, 0) + b"\x01")


def test_repeat_runs_on_what_the_last_run_left(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine's data_out is that of one run")
    # the first byte counts the runs
    fn = bpfjit.compile(xdp("ldxw r2, [r1+0]\nldxw r3, [r1+4]\nmov r4, r2\nadd r4, 1\n"
                            "mov r0, 2\njgt r4, r3, +3\nldxb r5, [r2+0]\nadd r5, 1\n"
                            "stxb [r2+0], r5\nexit"), engine)
    result = fn.test_run(bytes(20), repeat=5)
    assert result.retval == 2 and result.data_out == bytes([5]) + bytes(19)


@pytest.mark.parametrize("repeat", [0, -1, 2**32, 1.0, True])
def test_repeat_must_be_a_count(repeat):
    with pytest.raises(bpfjit.BpfError, match="repeat"):
        bpfjit.compile(xdp(LENGTHS), "interp").test_run(bytes(60), repeat=repeat)


# ---- socket buffers -------------------------------------------------------------------------

def sk_buff(**fields) -> bytes:
    out = bytearray(SK_BUFF_SIZE)
    offsets = {"mark": 8, "priority": 32, "ifindex": 40, "len": 0}
    for name, value in fields.items():
        if name == "cb":
            struct.pack_into("<5I", out, 48, *value)
        else:
            struct.pack_into("<I", out, offsets[name], value)
    return bytes(out)


def test_skb_fields_in_and_out(engine):
    # r0 = mark + cb[0]; then mark = 7 and cb[1] = priority
    prog = skb("ldxw r0, [r1+8]\nldxw r2, [r1+48]\nadd r0, r2\nstw [r1+8], 7\n"
               "ldxw r3, [r1+32]\nstxw [r1+52], r3\nexit")
    result = bpfjit.compile(prog, engine).test_run(
        bytes(64), sk_buff(mark=100, priority=9, cb=(5, 0, 0, 0, 3)))
    assert result.retval == 105
    out = result.ctx_out
    assert len(out) == SK_BUFF_SIZE
    assert struct.unpack_from("<I", out, 8)[0] == 7                 # mark, as written
    assert struct.unpack_from("<I", out, 32)[0] == 9                # priority, as given
    assert struct.unpack_from("<5I", out, 48) == (5, 9, 0, 0, 3)    # cb[1] = priority
    assert struct.unpack_from("<I", out, 160)[0] == 64              # wire_len
    assert result.data_out == bytes(64)


def test_skb_context_in_may_not_set_other_fields():
    fn = bpfjit.compile(skb("mov r0, 0\nexit"), "interp")
    with pytest.raises(bpfjit.BpfError, match="EINVAL") as err:
        fn.test_run(bytes(64), sk_buff(len=5))
    assert "byte 0" in str(err.value)


# ---- plain programs: data_in is the memory ----------------------------------------------------

def test_plain_program_memory_in_and_out(engine):
    fn = bpfjit.compile(bpfjit.assemble("ldxb r0, [r1+1]\nstb [r1+0], 9\nexit"), engine)
    result = fn.test_run(bytes([1, 2, 3]))
    assert (result.retval, result.data_out, result.ctx_out) == (2, bytes([9, 2, 3]), b"")


def test_plain_program_takes_no_context_in():
    fn = bpfjit.compile(bpfjit.assemble("mov r0, 0\nexit"), "interp")
    with pytest.raises(bpfjit.BpfError, match="takes no ctx_in"):
        fn.test_run(bytes(4), b"\x01")


def test_a_trap_is_the_runs_error(engine):
    fn = bpfjit.compile(bpfjit.assemble("ldxdw r0, [r1+8]\nexit"), engine)
    with pytest.raises(bpfjit.MemoryAccessError):
        fn.test_run(bytes(4))


# ---- the command line: bpftool's words ------------------------------------------------------

def prog_run(*args, stdin: bytes = b""):
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "bpfjit", "prog-run", *args], input=stdin,
                          capture_output=True, timeout=120, env=env)


def test_prog_run_on_plain_memory(tmp_path):
    source = tmp_path / "swap.s"
    source.write_text("ldxb r0, [r1+1]\nstb [r1+0], 9\nexit")
    (tmp_path / "in.bin").write_bytes(bytes([1, 2, 3]))
    proc = prog_run(str(source), "data_in", str(tmp_path / "in.bin"), "data_out",
                    str(tmp_path / "out.bin"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().startswith("Return value: 2, duration: ")
    assert (tmp_path / "out.bin").read_bytes() == bytes([9, 2, 3])


def test_prog_run_on_an_xdp_object(tmp_path):
    from pathlib import Path
    obj = Path(__file__).parent / "elf" / "xdp_lb.o"
    (tmp_path / "in.bin").write_bytes(bytes(60))        # not IPv4: the balancer passes it
    proc = prog_run(str(obj), "data_in", str(tmp_path / "in.bin"), "data_out",
                    str(tmp_path / "out.bin"), "ctx_out", str(tmp_path / "ctx.bin"),
                    "repeat", "10")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.decode().strip()
    assert line.startswith("Return value: 2, duration (average): ") and line.endswith("ns")
    assert (tmp_path / "out.bin").read_bytes() == bytes(60)
    assert XDP_MD.unpack((tmp_path / "ctx.bin").read_bytes()) == (0, 60, 0, 1, 0, 0)
    # - is standard input and output; the summary then goes to standard error
    proc = prog_run(str(obj), "data_in", "-", "data_out", "-", stdin=bytes(60))
    assert proc.returncode == 0 and proc.stdout == bytes(60)
    assert proc.stderr.decode().startswith("Return value: 2, duration: ")


@pytest.mark.parametrize("words,message", [
    (["data_in"], "needs a value"),
    (["data_in", "x", "data_in", "y"], "given twice"),
    (["data_in", "x", "speed", "3"], "unknown word 'speed'"),
    (["repeat", "3"], "give data_in"),
    (["data_in", "x", "repeat", "many"], "takes a number"),
    (["data_in", "x", "repeat", "0"], "at least 1"),
    (["data_in", "x", "data_size_out", "4"], "which was not given"),
])
def test_prog_run_words_are_checked(words, message):
    from bpfjit.progrun import parse_words
    with pytest.raises(bpfjit.BpfError, match=message):
        parse_words(words)


def test_prog_run_errors_are_one_line(tmp_path):
    from pathlib import Path
    obj = Path(__file__).parent / "elf" / "xdp_lb.o"
    (tmp_path / "in.bin").write_bytes(bytes(60))
    for args, words in [
        (["data_in", str(tmp_path / "missing.bin")], "cannot read"),
        (["data_in", str(tmp_path / "in.bin"), "data_out", str(tmp_path / "o.bin"),
          "data_size_out", "10"], "ENOSPC"),
        (["data_in", str(tmp_path / "in.bin"), "ctx_in", str(tmp_path / "in.bin")],
         "EINVAL"),
        (["data_in"], "needs a value"),
    ]:
        proc = prog_run(str(obj), *args)
        lines = proc.stderr.decode().strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and words in lines[0], proc.stderr
