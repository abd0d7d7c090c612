"""Objects built the way older public projects built them (the kernel's samples/bpf,
iproute2's loader, cilium before BTF): untyped program symbols, and maps of maps
defined in section maps."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

import bpfjit
from bpfjit.progtypes import section_type

ELF = Path(__file__).parent / "elf"
ETH = b"\x02" * 12


def _untyped(path: Path) -> bytes:
    """The object with every function symbol made what clang before LLVM 7 wrote:
    STT_NOTYPE (st_info's low nibble 0), st_size 0."""
    data = bytearray(path.read_bytes())
    elf = ELFFile(open(path, "rb"))
    symtab = elf.get_section_by_name(".symtab")
    entry = symtab["sh_entsize"]
    for i, sym in enumerate(symtab.iter_symbols()):
        if sym["st_info"]["type"] == "STT_FUNC":
            at = symtab["sh_offset"] + i * entry
            data[at + 4] &= 0xF0                          # Elf64_Sym.st_info: type 0
            struct.pack_into("<Q", data, at + 16, 0)      # Elf64_Sym.st_size
    return bytes(data)


def test_untyped_program_symbols_load_as_programs(engine):
    raw = _untyped(ELF / "legacy_xdp.o")
    xdp = bpfjit.compile(bpfjit.load_elf(raw, section="xdp1"), engine)
    assert xdp(ETH + b"\x86\xdd" + bytes(40)) == 1          # IPv6: XDP_DROP
    assert xdp(ETH + b"\x08\x00" + bytes(20)) == 2          # IPv4: XDP_PASS
    socket = bpfjit.compile(bpfjit.load_elf(raw, section="socket1"), engine)
    assert [socket(bytes(n)) for n in (10, 64, 1500)] == [10, 64, 64]


def test_untyped_symbols_are_named_like_functions():
    raw = _untyped(ELF / "legacy_xdp.o")
    with pytest.raises(bpfjit.ElfError, match="several programs .*xdp1:xdp_no_ipv6.*"
                                             "socket1:keep_headers"):
        bpfjit.load_elf(raw)
    assert len(bpfjit.load_elf(raw, function="keep_headers")) == \
        len(bpfjit.load_elf(ELF / "legacy_xdp.o", function="keep_headers"))


@pytest.mark.parametrize("name", ["legacy_inner_elf_map.o", "legacy_inner_map_def.o",
                                  "legacy_inner_map_pointer.o"])
def test_legacy_maps_of_maps_take_their_inner_definition(engine, name):
    prog = bpfjit.load_elf(ELF / name)
    outer, backends = prog.maps["by_service"], prog.maps["backends"]
    assert (outer.spec.inner.type, outer.spec.inner.key_size, outer.spec.inner.value_size,
            outer.spec.inner.max_entries) == (2, 4, 8, 4)
    fn = bpfjit.compile(prog, engine)
    assert fn(bytes(64)) == 0                                # no inner map under key 1
    backends[0] = (42).to_bytes(8, "little")
    outer[1] = "backends"
    assert fn(bytes(64)) == 142                              # element 0 + 100


def test_sizes_a_go_loader_fills_in_are_filled_in():
    # goebpf-style records leave the perf event array's and the program array's sizes
    # and the outer map's value size 0: an int per CPU, an index and a program's fd, a
    # map's fd
    prog = bpfjit.load_elf(ELF / "legacy_inner_map_pointer.o")
    sizes = {name: (prog.maps[name].spec.key_size, prog.maps[name].spec.value_size,
                    prog.maps[name].spec.max_entries)
             for name in ("events", "jumps", "by_service")}
    assert sizes == {"events": (4, 4, 8), "jumps": (4, 4, 2), "by_service": (4, 4, 8)}


@pytest.mark.parametrize("section, expected", [("tc_cls", "sched_cls"),
                                               ("tc_act", "sched_act")])
def test_goebpf_section_names_name_tc_programs(section, expected):
    assert section_type(section).name == expected


def test_an_inner_map_pointer_to_no_map_is_refused():
    data = bytearray((ELF / "legacy_inner_map_pointer.o").read_bytes())
    elf = ELFFile(open(ELF / "legacy_inner_map_pointer.o", "rb"))
    rels = elf.get_section_by_name(".relmaps")
    symbols = elf.get_section_by_name(".symtab")
    # point by_service's inner_map_def at the pin path's string instead of backends
    first = next(rels.iter_relocations())
    assert symbols.get_symbol(first["r_info_sym"]).name == "backends"
    strings = next(i for i, s in enumerate(symbols.iter_symbols())
                   if s.name == ".rodata.str1.1" or (s["st_info"]["type"] == "STT_SECTION"
                                                    and s["st_shndx"] != "SHN_UNDEF"
                                                    and elf.get_section(s["st_shndx"]).name
                                                    == ".rodata.str1.1"))
    at = rels["sh_offset"] + 8                  # r_info of the first Elf64_Rel
    struct.pack_into("<Q", data, at, (strings << 32) | 2)
    with pytest.raises(bpfjit.ElfError, match="'by_service' points its inner map "
                                              "definition at no map of section maps"):
        bpfjit.load_elf(bytes(data))


def test_an_inner_id_no_map_has_is_refused(tmp_path):
    data = bytearray((ELF / "legacy_inner_elf_map.o").read_bytes())
    elf = ELFFile(open(ELF / "legacy_inner_elf_map.o", "rb"))
    maps = elf.get_section_by_name("maps")
    # by_service is the second 36-byte record; its inner_id is the eighth field
    at = maps["sh_offset"] + 36 + 7 * 4
    assert struct.unpack_from("<I", data, at)[0] == 7
    struct.pack_into("<I", data, at, 9)
    with pytest.raises(bpfjit.ElfError, match="'by_service' names its inner map by "
                                              "inner_id 9, which no other map"):
        bpfjit.load_elf(bytes(data))
