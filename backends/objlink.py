"""Link one relocatable x86-64 ELF object (LLVM's output) into a position-independent
code image (bpfjit.codeimage), which is then placed in executable memory.

LLVM's own JITs place code in memory they manage; bpfjit instead asks LLVM for
an ordinary object file and places it itself, so that every backend shares one
W^X code allocator (bpfjit.execmem) and compiling creates no per-program JIT
engine.  The object is small and self-contained: allocatable sections are laid
out in one image and relocations are applied.  What depends on this process's
addresses stays a fixup of the image: absolute relocations, libc functions LLVM
may call (memset, memcpy; through stubs, since libc is usually more than 2 GiB
away) and map arenas (`bpfjit_map_<index>`, read through a GOT slot), so that an
image can be cached and placed again in another process.
"""

from __future__ import annotations

import io
import re
import struct

from elftools.elf.elffile import ELFFile
from elftools.elf.constants import SH_FLAGS

from bpfjit.codeimage import INDEX_SYMBOL, KEYS_SYMBOL, LIBC_SYMBOLS, MAP_SYMBOL, CodeImage
from bpfjit.errors import BpfError
from bpfjit.runfields import field_index

__all__ = ["link_object", "ROUTINES"]

R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32 = 1, 2, 4
R_X86_64_GOTPCREL, R_X86_64_32, R_X86_64_32S = 9, 10, 11
R_X86_64_PC64, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX = 24, 41, 42
_GOT_RELOCS = {R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX}
_STUB_SIZE = 16     # jmp qword ptr [rip + 2]; ud2; .quad target


def _trap_routine() -> bytes:
    """void bpf_trap(run, code, pc, arg, size) (System V: rdi, rsi, rdx, rcx, r8): store
    the four into the run structure's trap fields and return."""
    trap, pc, arg, size = (8 * field_index(name)
                           for name in ("trap", "trap_pc", "trap_arg", "trap_size"))
    assert max(trap, pc, arg, size) < 0x80             # each a disp8
    return bytes([0x48, 0x89, 0x77, trap,               # mov [rdi + trap], rsi
                  0x48, 0x89, 0x57, pc,                 # mov [rdi + trap_pc], rdx
                  0x48, 0x89, 0x4F, arg,                # mov [rdi + trap_arg], rcx
                  0x4C, 0x89, 0x47, size,               # mov [rdi + trap_size], r8
                  0xC3])                                # ret


# functions generated code calls that the linker supplies itself, placed in the image
ROUTINES = {"bpf_trap": _trap_routine()}
_MAP_NAME = re.compile(MAP_SYMBOL.replace("{}", r"(\d+)") + r"\Z")
_INDEX_NAME = re.compile(INDEX_SYMBOL.replace("{}", r"(\d+)") + r"\Z")
_KEYS_NAME = re.compile(KEYS_SYMBOL.replace("{}", r"(\d+)") + r"\Z")


def _placed_symbol(name: str) -> tuple | None:
    """The fixup of a symbol naming a map's data (its arena, its native index, its
    keys), or None."""
    for pattern, kind in ((_MAP_NAME, "map"), (_INDEX_NAME, "index"), (_KEYS_NAME, "keys")):
        found = pattern.match(name)
        if found is not None:
            index = int(found.group(1))
            return ("map", index, 0) if kind == "map" else (kind, index)
    return None


def link_object(obj: bytes) -> CodeImage:
    """Lay out and relocate an ELF object; BpfError for anything unexpected."""
    elf = ELFFile(io.BytesIO(obj))
    if elf["e_machine"] != "EM_X86_64" or elf["e_type"] != "ET_REL":
        raise BpfError("the code generator did not produce an x86-64 relocatable object")

    # 1. lay out the allocatable sections, then one stub per external symbol
    offsets: dict[int, int] = {}
    image = bytearray()
    text_range = (0, 0)
    for index, section in enumerate(elf.iter_sections()):
        if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
            continue
        align = max(section["sh_addralign"], 1)
        image.extend(bytes(-len(image) % align))
        offsets[index] = len(image)
        if section.name == ".text":
            text_range = (len(image), section["sh_size"])
        if section["sh_type"] == "SHT_NOBITS":
            image.extend(bytes(section["sh_size"]))
        else:
            image.extend(section.data())

    symtab = elf.get_section_by_name(".symtab")
    if symtab is None:
        raise BpfError("the object has no symbol table")
    symbols: list[int | None] = []
    named: dict[str, int] = {}
    stubs: dict[str, int] = {}
    got_only: set[int] = set()          # stubs of map arenas and indexes: data, not code
    fixups: list = []
    for sym in symtab.iter_symbols():
        shndx = sym["st_shndx"]
        if isinstance(shndx, int) and shndx in offsets:
            address = offsets[shndx] + sym["st_value"]
            symbols.append(address)
            if sym.name and sym["st_info"]["type"] == "STT_FUNC":
                named[sym.name] = address
        elif shndx == "SHN_UNDEF" and sym.name in ROUTINES:
            if sym.name not in named:
                image.extend(b"\xcc" * (-len(image) % 16))        # int3 padding
                named[sym.name] = len(image)
                image.extend(ROUTINES[sym.name])
            symbols.append(named[sym.name])
        elif shndx == "SHN_UNDEF" and sym.name:
            placed = _placed_symbol(sym.name)
            if sym.name not in LIBC_SYMBOLS and placed is None:
                raise BpfError(f"generated code calls {sym.name!r}, which bpfjit cannot link")
            if sym.name not in stubs:
                image.extend(bytes(-len(image) % 8))
                stubs[sym.name] = len(image)
                image.extend(b"\xff\x25\x02\x00\x00\x00\x0f\x0b" + bytes(8))
                fixups.append((len(image) - 8, placed or ("libc", sym.name)))
                if placed is not None:
                    got_only.add(stubs[sym.name])
            symbols.append(stubs[sym.name])
        else:
            symbols.append(None)

    # 2. apply relocations; image offsets become addresses once the image is placed,
    #    so PC-relative fields (all but R_X86_64_64) are final now, absolute ones fixups
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_RELA" or section["sh_info"] not in offsets:
            continue
        base = offsets[section["sh_info"]]
        for rel in section.iter_relocations():
            kind, where = rel["r_info_type"], base + rel["r_offset"]
            target = symbols[rel["r_info_sym"]]
            if target is None:
                raise BpfError(f"relocation against a symbol outside the image (type {kind})")
            addend = rel["r_addend"]
            if target in got_only and kind not in _GOT_RELOCS:
                raise BpfError(f"generated code refers to a map arena directly (type {kind})")
            if kind in _GOT_RELOCS:
                target += 8     # the stub's 8-byte address slot serves as the GOT entry
            if kind in (R_X86_64_PC32, R_X86_64_PLT32) or kind in _GOT_RELOCS:
                value = target + addend - where
                if not -2**31 <= value < 2**31:
                    raise BpfError("relocation out of range in generated code")
                struct.pack_into("<i", image, where, value)
            elif kind == R_X86_64_PC64:
                struct.pack_into("<q", image, where, target + addend - where)
            elif kind == R_X86_64_64:
                fixups.append((where, ("self", target + addend)))
            else:
                raise BpfError(f"unsupported relocation type {kind} in generated code")
    return CodeImage(bytes(image), tuple(fixups), named, text_range)
