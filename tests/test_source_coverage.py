"""Source lines from clang's line information (.BTF.ext), and line and branch coverage
of a program's C source from interpreter runs (bpfjit.lineinfo, bpfjit.coverage_report)."""

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.lineinfo import parse_line_info

ROOT = Path(__file__).parent.parent
FIREWALL = ROOT / "examples" / "firewall"
ELF = Path(__file__).parent / "elf"


def source_line(path: Path, number: int) -> str:
    return path.read_text().splitlines()[number - 1].strip()


@pytest.mark.parametrize("obj,section", [(ELF / "parser.o", "xdp"),
                                         (ELF / "calls.o", "xdp"),
                                         (FIREWALL / "firewall.o", "xdp")])
def test_each_instruction_knows_its_line_of_c(obj, section):
    prog = bpfjit.load_elf(obj, section=section)
    lines = prog.source_lines
    assert lines and set(lines) <= set(prog.pcs)
    for pc, line in lines.items():
        if line.line:                   # line 0: code the compiler made for no line
            source = obj.parent / line.file
            # the text clang recorded is that line of the file, as the file has it
            assert line.text == source_line(source, line.line), (pc, line)


def test_an_object_without_line_information_has_none():
    # the same object with its .BTF.ext section renamed (as if built without -g)
    raw = (FIREWALL / "firewall.o").read_bytes()
    assert raw.count(b".BTF.ext\0") == 1
    prog = bpfjit.load_elf(raw.replace(b".BTF.ext\0", b".BTF.xyz\0"), section="xdp")
    assert prog.source_lines == {} and len(prog) > 0
    assert bpfjit.assemble("mov r0, 0\nexit").source_lines == {}


def test_malformed_line_information_is_an_elf_error():
    prog_btf = Path(ELF / "parser.o").read_bytes()
    from elftools.elf.elffile import ELFFile
    import io
    elf = ELFFile(io.BytesIO(prog_btf))
    btf, ext = (elf.get_section_by_name(n).data() for n in (".BTF", ".BTF.ext"))
    assert parse_line_info(btf, ext)["xdp"]
    for bad, words in [(ext[:4], "too short"),
                       (b"\x00\x00" + ext[2:], "bad magic"),
                       (ext[:struct.unpack_from("<I", ext, 4)[0] + 4], "runs past")]:
        with pytest.raises(bpfjit.ElfError, match=words):
            parse_line_info(btf, bad)


def firewall_lines(marker: str) -> int:
    """The number of the line of firewall.c holding `marker`."""
    for number, text in enumerate((FIREWALL / "firewall.c").read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(marker)


def frame(dport: int, proto: int = 6, ihl: int = 5) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 40, 0, 0, 64, proto, 0,
                     bytes((192, 0, 2, 1)), bytes((203, 0, 113, 1)))
    return bytes(12) + b"\x08\x00" + ip + bytes(4 * (ihl - 5)) + struct.pack("!HH", 1, dport) \
        + bytes(16)


def test_coverage_counts_lines_and_branches():
    prog = bpfjit.load_elf(FIREWALL / "firewall.o", section="xdp")
    cov = bpfjit.Coverage()
    assert cov.run(prog, frame(443)) == 2
    path = str(FIREWALL / "firewall.c")
    telnet = firewall_lines("tcp->dest == __builtin_bswap16(23)")
    assert cov.lines[(path, telnet)] == 1                  # the port was compared once
    # every branch point on a line of the file; the telnet test went one way
    telnet_branches = [v for (p, line, *_), v in cov.branches.items() if line == telnet]
    assert telnet_branches and all(sum(v) == 1 for v in telnet_branches)
    before = {key: list(v) for key, v in cov.branches.items()}
    cov.run(prog, frame(23))                               # telnet: the other way
    after = [v for (p, line, *_), v in cov.branches.items() if line == telnet]
    assert all(v[0] and v[1] for v in after)               # now both directions
    assert sum(sum(v) for v in cov.branches.values()) > sum(sum(v) for v in before.values())
    files = cov.files()
    assert files[path]["lines"] == len([k for k in cov.lines if k[0] == path])
    assert files[path]["hit"] == sum(1 for k, n in cov.lines.items() if k[0] == path and n)


def test_lcov_tracefile_structure():
    prog = bpfjit.load_elf(FIREWALL / "firewall.o", section="xdp")
    cov = bpfjit.Coverage()
    cov.run(prog, frame(80))
    text = cov.lcov().splitlines()
    assert text[0] == "TN:" and text[1] == f"SF:{FIREWALL / 'firewall.c'}"
    assert text[-1] == "end_of_record"
    da = [line for line in text if line.startswith("DA:")]
    brda = [line for line in text if line.startswith("BRDA:")]
    assert int(next(l for l in text if l.startswith("LF:"))[3:]) == len(da)
    assert int(next(l for l in text if l.startswith("LH:"))[3:]) == \
        sum(1 for line in da if not line.endswith(",0"))
    assert int(next(l for l in text if l.startswith("BRF:"))[4:]) == len(brda)
    # two branches per conditional jump: taken, not taken ("-" where never reached)
    assert len(brda) % 2 == 0


def test_a_trap_is_reported_and_recorded():
    prog = bpfjit.Program(bpfjit.assemble("ldxw r2, [r1+0]\nldxb r0, [r2+40]\nexit").insns,
                          context="xdp", prog_type="xdp")
    cov = bpfjit.Coverage()
    with pytest.raises(bpfjit.MemoryAccessError):
        cov.run(prog, bytes(20))
    assert cov.summary() == "no line information: build the object with clang -g"


def test_a_string_without_its_nul_is_an_elf_error():
    # .BTF's string table cut before its last string's NUL (its header's str_len one
    # shorter) and the first line_info record naming that string as its file: a
    # ValueError from the string lookup before, an ElfError now
    from elftools.elf.elffile import ELFFile
    import io
    elf = ELFFile(io.BytesIO(Path(ELF / "parser.o").read_bytes()))
    btf = bytearray(elf.get_section_by_name(".BTF").data())
    ext = bytearray(elf.get_section_by_name(".BTF.ext").data())
    hdr_len, _, _, str_off, str_len = struct.unpack_from("<IIIII", btf, 4)
    strings = bytes(btf[hdr_len + str_off:hdr_len + str_off + str_len])
    last = strings.rindex(b"\0", 0, len(strings) - 1) + 1       # the last string's start
    struct.pack_into("<I", btf, 20, str_len - 1)
    ext_len, line_off = struct.unpack_from("<I", ext, 4)[0], struct.unpack_from("<I", ext, 16)[0]
    first_record = ext_len + line_off + 4 + 8               # record size, one section header
    struct.pack_into("<I", ext, first_record + 4, last)     # its file name
    with pytest.raises(bpfjit.ElfError, match="string offset"):
        parse_line_info(bytes(btf), bytes(ext))
