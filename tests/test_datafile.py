"""The .data test-file format."""

import pytest

import bpfjit
from bpfjit.datafile import parse_data, parse_hex_bytes


def test_sections():
    test = parse_data("# comment\n-- asm\nmov %r0, 1\nexit\n-- mem\n01 02\n03\n-- result\n0x10\n")
    assert test.program == bpfjit.assemble("mov %r0, 1\nexit")
    assert test.memory == b"\x01\x02\x03"
    assert (test.result, test.error) == (16, None)


def test_raw_section_is_one_slot_per_token():
    test = parse_data("-- raw\n0x0000002a000000b7 149\n-- result\n42\n")
    assert test.program == bpfjit.assemble("mov %r0, 42\nexit")


def test_error_section_without_text_expects_any_error():
    test = parse_data("-- asm\nexit\n-- error\n")
    assert test.error == "" and test.result is None


def test_program_that_cannot_be_built_is_kept_when_an_error_is_expected():
    test = parse_data("-- asm\nmov %r11, 1\nexit\n-- error\nbad register\n")
    assert test.program is None
    assert isinstance(test.program_error, bpfjit.AssembleError)


def test_assembly_errors_keep_file_line_numbers():
    with pytest.raises(bpfjit.AssembleError) as info:
        parse_data("# header\n-- asm\nmov %r0, 1\nfrob\n-- result\n1\n")
    assert info.value.line == 4


@pytest.mark.parametrize("text,words", [
    ("-- result\n1\n", "neither an -- asm nor a -- raw"),
    ("-- asm\nexit\n", "neither a -- result nor an -- error"),
    ("-- asm\nexit\n-- result\nabc\n", "not a number"),
    ("-- asm\nexit\n-- mem\n0g\n-- result\n1\n", "not a hex digit"),
])
def test_malformed_files(text, words):
    with pytest.raises(bpfjit.BpfError, match=words):
        parse_data(text)


def test_hex_bytes():
    assert parse_hex_bytes("00 ff\n10") == b"\x00\xff\x10"
    assert parse_hex_bytes("00ff") == b"\x00\xff"
    with pytest.raises(bpfjit.BpfError, match="odd"):
        parse_hex_bytes("0")
