"""Constants an object leaves to its loader: an `lddw` against a symbol the object does
not define (Cloudflare's rakelimit writes its parameters as `asm("%0 = LIMIT ll")`,
which cilium/ebpf's loader rewrites).  `load_elf(..., constants={"LIMIT": 100})` fills
them in; without a value the load says which constant is missing and how to give it,
and a constant no lddw names is an error (a misspelt name would be ignored)."""

from pathlib import Path

import pytest

import bpfjit

OBJECT = Path(__file__).parent / "elf" / "extern_constant.o"


@pytest.mark.parametrize("size, constants, result", [
    (40, {"LIMIT": 100, "SHIFT": 1}, 80),       # under the limit: len << 1
    (100, {"LIMIT": 100, "SHIFT": 0}, 100),     # at the limit: kept whole
    (200, {"LIMIT": 100, "SHIFT": 3}, 100),     # over it: truncated to LIMIT
    (60, {"LIMIT": (1 << 64) - 1, "SHIFT": 2}, 240),    # a 64-bit constant
    (60, {"LIMIT": -1, "SHIFT": 2}, 240),       # the same, as a negative number
])
def test_the_loader_fills_in_the_constants(engine, size, constants, result):
    prog = bpfjit.load_elf(OBJECT, constants=constants)
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(bytes(size))) == result


def test_a_missing_constant_is_named():
    with pytest.raises(bpfjit.ElfError, match="lddw at socket\\+0x8 refers to 'LIMIT', which "
                                              "the object does not define .*constants="
                                              "\\{'LIMIT': value\\}"):
        bpfjit.load_elf(OBJECT)
    with pytest.raises(bpfjit.ElfError, match="refers to 'SHIFT'"):
        bpfjit.load_elf(OBJECT, constants={"LIMIT": 1})


def test_a_constant_the_object_does_not_name_is_refused():
    with pytest.raises(bpfjit.ElfError, match="constants: 'LIMTI' is not a symbol the object "
                                              "leaves undefined \\(it has LIMIT, SHIFT\\)"):
        bpfjit.load_elf(OBJECT, constants={"LIMTI": 1, "LIMIT": 1, "SHIFT": 0})
    with pytest.raises(bpfjit.ElfError, match="constants must be a dict of symbol name -> "
                                              "int"):
        bpfjit.load_elf(OBJECT, constants={"LIMIT": "100"})


def test_the_cli_takes_them(capsys, tmp_path):
    from bpfjit.cli import main
    packet = tmp_path / "packet.bin"
    packet.write_bytes(bytes(40))
    assert main(["run", str(OBJECT), "--constant", "LIMIT=100", "--constant", "SHIFT=1",
                 "--packet", str(packet)]) == 0
    assert capsys.readouterr().out.startswith("r0 = 80 (0x50)")
    assert main(["run", str(OBJECT), "--packet", str(packet)]) != 0
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--constant LIMIT=VALUE" in error[0]
    assert main(["run", str(OBJECT), "--constant", "LIMIT", "--packet", str(packet)]) != 0
    assert "--constant takes NAME=VALUE" in capsys.readouterr().err
