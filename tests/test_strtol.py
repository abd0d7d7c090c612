"""bpf_strtol (105) and bpf_strtoul (106): the number at the start of a buffer, as the
kernel parses it (every program type may call them).  bpfjit lacked both; a program
that parsed a number (a sysctl value, an HTTP length) did not load.

One program per helper reads its input from the packet — 64 bytes of text copied to
the stack, the length (1 to 64) and the flags (the base) — and writes r0 and the result
back into the packet.  Each engine runs it on cases worked out by hand; where this
process may load programs, the kernel runs the same program (BPF_PROG_TEST_RUN) on
those cases and 300 random ones, and every engine must answer as it does."""

from __future__ import annotations

import random
import struct

import pytest

import bpfjit
from bpfjit import bpfsys
from skb_programs import asm_program

KERNEL = "kernel" in bpfjit.engines(kernel=True)
EINVAL, ERANGE = -22, -34
U64 = (1 << 64) - 1

# packet: text at 0..63, length - 1 at 64 (& 63), flags at 72; r0 and the result are
# written at 80 and 88; returns XDP_PASS
PARSE = "\n".join(["ldxw %r6, [%r1+0]", "ldxw %r7, [%r1+4]", "mov %r2, %r6", "add %r2, 96",
                   "jgt %r2, %r7, out"]
                  + [f"ldxdw %r3, [%r6+{8 * i}]\nstxdw [%r10-{64 - 8 * i}], %r3"
                     for i in range(8)]
                  + ["mov %r1, %r10", "add %r1, -64", "ldxdw %r2, [%r6+64]", "and %r2, 63",
                     "add %r2, 1", "ldxdw %r3, [%r6+72]", "mov %r4, %r10", "add %r4, -72",
                     "call {helper}", "stxdw [%r6+80], %r0", "ldxdw %r3, [%r10-72]",
                     "stxdw [%r6+88], %r3", "out:", "mov %r0, 2", "exit"])


def packet(text: bytes, length: int, flags: int) -> bytes:
    return (text + bytes(64))[:64] + struct.pack("<QQ", length - 1, flags) + bytes(16)


def program(helper: int) -> bpfjit.Program:
    return asm_program(PARSE.format(helper=helper))


def answer(after: bytes) -> tuple[int, int]:
    r0, res = struct.unpack_from("<qQ", after, 80)
    return r0, res


# (helper, text, length, flags) -> (r0: bytes consumed or -errno, the result)
CASES = [
    (105, b"123", 3, 0, 3, 123),
    (105, b"-123", 4, 0, 4, -123 & U64),
    (106, b"-123", 4, 0, EINVAL, 0),            # strtoul takes no sign
    (105, b"  42x", 5, 0, 4, 42),               # space skipped; stops at x
    (105, b" \t\n\v\f\r7", 7, 0, 7, 7),
    (105, b"\xa07", 2, 0, 2, 7),                # the kernel's isspace: Latin-1 NBSP too
    (105, b"0x1f", 4, 0, 4, 31),                # base 0: hex
    (105, b"0X1F", 4, 0, 4, 31),
    (105, b"0x", 2, 0, 1, 0),                   # no hex digit after it: octal 0
    (106, b"0x", 2, 16, EINVAL, 0),             # base 16 skips 0x, and no digit is left
    (105, b"0777", 4, 0, 4, 0o777),             # base 0: octal
    (105, b"0777", 4, 10, 4, 777),
    (105, b"0x1f", 4, 10, 1, 0),                # base 10 reads the 0 only
    (106, b"ff", 2, 16, 2, 255),
    (105, b"12345", 3, 0, 3, 123),              # only the length given
    (105, b"1\x002", 3, 0, 1, 1),               # a NUL ends it
    (105, b"+5", 2, 0, EINVAL, 0),              # no '+'
    (105, b"-", 1, 0, EINVAL, 0),
    (105, b"x", 1, 0, EINVAL, 0),
    (105, b"10", 2, 3, EINVAL, 0),              # base 3
    (105, b"10", 2, 0x20, EINVAL, 0),           # other flag bits
    (106, b"18446744073709551615", 20, 0, 20, U64),
    (106, b"18446744073709551616", 20, 0, ERANGE, 0),
    (105, b"9223372036854775807", 19, 0, 19, (1 << 63) - 1),
    (105, b"9223372036854775808", 19, 0, ERANGE, 0),
    (105, b"-9223372036854775808", 20, 0, 20, 1 << 63),
    (105, b"-9223372036854775809", 20, 0, ERANGE, 0),
    (105, b"1" * 64, 64, 0, ERANGE, 0),         # 63 digits looked at: too large
    (105, b" " * 10 + b"7" * 54, 64, 10, ERANGE, 0),
    (106, b" " * 60 + b"1234", 64, 0, 64, 1234),
]


@pytest.mark.parametrize("helper, text, length, flags, r0, res", CASES)
def test_what_it_parses(engine, helper, text, length, flags, r0, res):
    if engine == "kernel":
        pytest.skip("the kernel engine runs no helper but the map helpers (below, the "
                    "kernel itself runs the program)")
    run = bpfjit.compile(program(helper), engine)
    ctx = bpfjit.XdpContext(packet(text, length, flags))
    assert run(ctx) == 2
    assert answer(ctx.packet) == (r0, res)


def _random_cases(count: int, seed: int) -> list[tuple[int, bytes, int, int]]:
    rng = random.Random(seed)
    alphabet = b"0123456789abcdefxX -+\t\n\xa0\x00gz"
    cases = []
    for _ in range(count):
        text = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
        cases.append((rng.choice((105, 106)), text, rng.randint(1, len(text)),
                      rng.choice((0, 0, 8, 10, 16, 3, 0x20))))
    return cases


def test_the_kernel_parses_the_same():
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    cases = [(h, t, n, f) for h, t, n, f, _, _ in CASES] + _random_cases(300, 105)
    differ = []
    for helper in (105, 106):
        prog = program(helper)
        fd = bpfsys.prog_load(prog.to_bytes(), "xdp")
        try:
            runs = {engine: bpfjit.compile(prog, engine) for engine in bpfjit.engines()}
            for h, text, length, flags in cases:
                if h != helper:
                    continue
                data = packet(text, length, flags)
                theirs = answer(bpfsys.test_run(fd, data).data)
                for engine, run in runs.items():
                    ctx = bpfjit.XdpContext(data)
                    run(ctx)
                    if answer(ctx.packet) != theirs:
                        differ.append((engine, helper, text, length, flags))
        finally:
            bpfsys.close(fd)
    assert differ == []


def test_strict_mode_takes_the_program():
    prog = program(105)
    verified = bpfjit.verify(prog, mode="strict", helpers={105, 106}, cache=False)
    assert set(verified.proven) == set(verified.accesses)
