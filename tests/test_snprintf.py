"""bpf_snprintf (165): the kernel's formatting of u64 arguments with a constant format,
its result (the whole text's length + 1, whatever fits the buffer), and the formats the
kernel refuses when it loads a program.  The expected texts are written by hand from
the fixture's format, "n=%u d=%d %08x ip=%pI4/%pi4 %c %s%%" (tests/elf/snprintf.c), and
every case runs on every engine — the running kernel's included, an independent
printf."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit.helpers.snprintf import format_error

FIXTURE = Path(__file__).parent / "elf" / "snprintf.o"
FORMAT_AT = 7                   # the format's offset in .rodata ("on\0off\0" first)


def packet(count: int, delta: int, ip: tuple, flags: int) -> bytes:
    return count.to_bytes(4, "little") + (delta & 0xFFFFFFFF).to_bytes(4, "little") + \
        bytes(ip) + bytes([flags]) + bytes(51)


@pytest.mark.parametrize("fields, full", [
    ((1337, -8, (10, 1, 2, 3), 0x83), "n=1337 d=-8 00000539 ip=10.1.2.3/010.001.002.003 D on%"),
    ((0, 0, (0, 0, 0, 0), 0), "n=0 d=0 00000000 ip=0.0.0.0/000.000.000.000 A off%"),
    ((0xFFFFFFFF, 0x7FFFFFFF, (255, 255, 255, 255), 0x0F),
     "n=4294967295 d=2147483647 ffffffff ip=255.255.255.255/255.255.255.255 P off%"),
    ((7, -2147483648, (192, 168, 0, 1), 0x80),
     "n=7 d=-2147483648 00000007 ip=192.168.0.1/192.168.000.001 A on%"),
])
def test_the_text_and_its_length(engine, fields, full):
    prog = bpfjit.load_elf(FIXTURE)
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(packet(*fields))) == len(full) + 1
    # 63 characters and the NUL fit the 64-byte buffer
    text = bytes(prog.maps[".bss"][0])
    assert text == full.encode()[:63].ljust(64, b"\0")


def test_a_short_packet_formats_nothing(engine):
    prog = bpfjit.load_elf(FIXTURE)
    assert bpfjit.compile(prog, engine, cache=False)(bpfjit.XdpContext(bytes(15))) == 0
    assert bytes(prog.maps[".bss"][0]) == bytes(64)


def _with_format(fmt: bytes) -> bpfjit.Program:
    """The fixture with another format in place of its own (7 arguments, 56 bytes)."""
    prog = bpfjit.load_elf(FIXTURE)
    rodata = prog.maps[".rodata"]
    room = rodata.value_size - FORMAT_AT
    assert len(fmt) < room
    value = bytearray(rodata[0])
    value[FORMAT_AT:] = fmt.ljust(room, b"\0")
    rodata[0] = bytes(value)
    return prog


@pytest.mark.parametrize("fmt, why", [
    (b"%d %d %d %d %d %d %d %d", "8 conversions for 7 arguments"),
    (b"%hd", "unsupported conversion"),
    (b"%.3d", "unsupported conversion"),
    (b"%sx", "not followed by a space"),
    (b"%pZ", "unsupported %p"),
    (b"\x01 %d", "control character"),
    (b"\x7f %d", "control character"),
])
def test_a_format_the_kernel_refuses_is_refused_at_load(fmt, why):
    with pytest.raises(bpfjit.VerifierError, match=why):
        bpfjit.verify(_with_format(fmt), cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        # the running kernel's own verifier, given the program as it is
        from bpfjit.backends.kerneljit import KernelProgram
        with pytest.raises(bpfjit.VerifierError, match="Invalid format string"):
            KernelProgram(_with_format(fmt))


# the fixture's arguments: count, delta (sign-extended), count, &packet[8] twice, 'A' +
# (flags & 15), "on" or "off"; here count 5, delta -1, packet[8:24] 0a 01 02 03, zeros, ff
@pytest.mark.parametrize("fmt, text", [
    (b"%5u|%-5d|%05u", "    5|-1   |00005"),                   # widths, '-', '0'
    (b"%+u|%+d|% u", "5|-1|5"),                                 # '+', ' ': signed only
    (b"%x %u %X", "5 4294967295 5"),                            # 32 bits
    (b"%llx %lu %lld", "5 18446744073709551615 5"),             # 64 bits
    (b"%u %d %u %pi6", "5 -1 5 0a0102030000000000000000000000ff"),
    (b"%u %d %u %pI6", "5 -1 5 0a01:0203:0000:0000:0000:0000:0000:00ff"),
    (b"%u %d %u %pI4 %pI4 %3c|%-4s|", "5 -1 5 10.1.2.3 10.1.2.3   A|off |"),
    (b"100%% %u", "100% 5"),
    (b"caf\xc3\xa9 \x85\xff %u", "caf\xc3\xa9 \x85\xff 5"),   # bytes from 128 on: kept
    (b"no arguments", "no arguments"),
])
def test_other_formats(engine, fmt, text):
    prog = _with_format(fmt)
    fn = bpfjit.compile(prog, engine, cache=False)
    data = (5).to_bytes(4, "little") + (-1 & 0xFFFFFFFF).to_bytes(4, "little") + \
        bytes([10, 1, 2, 3]) + bytes(11) + b"\xff" + bytes(40)
    assert fn(bpfjit.XdpContext(data)) == len(text) + 1
    assert bytes(prog.maps[".bss"][0]).split(b"\0")[0] == text.encode("latin-1")


def test_format_error_takes_what_the_kernel_takes():
    assert format_error(b"[%s] %d %pI4 %llx %c %px %pK %pks %% %08d %-3i", 11) is None
    assert format_error(b"", 0) is None
    assert format_error(b"%d", 0) == "the format has 1 conversions for 0 arguments"


# two paths pass two strings of .rodata as the format ("on" at 0, "off" at 3: clang
# merges such calls into one), which the verifier sees joined as offsets 0 to 3; the
# kernel, which follows each path, takes both
JOINED = """
    ldxw %r2, [%r1+4]
    ldxw %r1, [%r1+0]
    mov %r3, %r1
    add %r3, 16
    mov %r0, 0
    jgt %r3, %r2, out
    ldxb %r4, [%r1+12]
    lddw %r3, map_val_by_fd(0, 0)
    jset %r4, 0x80, +2
    lddw %r3, map_val_by_fd(0, 3)
    lddw %r1, map_val_by_fd(1, 0)
    mov %r2, 64
    mov %r4, 0
    mov %r5, 0
    call 165
out:
    exit
"""


@pytest.mark.parametrize("flags, text", [(0x80, b"on"), (0, b"off")])
def test_a_format_chosen_between_paths(engine, flags, text):
    env = bpfjit.load_elf(FIXTURE).env
    prog = bpfjit.Program(bpfjit.assemble(JOINED).insns, env=env, context="xdp",
                          prog_type="xdp")
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(packet(0, 0, (0, 0, 0, 0), flags))) == len(text) + 1
    assert bytes(prog.maps[".bss"][0]).split(b"\0")[0] == text


def test_a_joined_format_the_arguments_do_not_fit_fails_when_it_runs(engine):
    # the second path's format is the fixture's own, of 7 conversions, given none: the
    # kernel refuses that path at load; bpfjit, which cannot tell the paths' formats
    # apart where they meet, checks when the helper runs: -EINVAL
    text = JOINED.replace("map_val_by_fd(0, 3)", f"map_val_by_fd(0, {FORMAT_AT})")
    env = bpfjit.load_elf(FIXTURE).env
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp",
                          prog_type="xdp")
    if engine == "kernel":
        pytest.skip("the kernel refuses the program: it checks each path's format")
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(packet(0, 0, (0, 0, 0, 0), 0x80))) == 3        # "on"
    assert fn(bpfjit.XdpContext(packet(0, 0, (0, 0, 0, 0), 0))) == (1 << 64) - 22
