"""Loading clang-built eBPF object files (`clang -O2 -g -target bpf -c prog.c`).

What clang emits, and what this module does with it:

- each program is a global function in an executable section named for its hook
  (`xdp`, `xdp/...`, `socket`, `tc`, ...); static functions it calls live in `.text`
  and are reached by `call` instructions carrying R_BPF_64_32 relocations (target:
  the symbol's offset + (imm + 1) instructions);
- map and global-data references are plain `lddw` (src 0) with an R_BPF_64_64
  relocation, against the map's or variable's own symbol (offset in the symbol's
  value) or against the section symbol (offset in lddw's immediate);
- maps are declared in `maps` (legacy `struct bpf_map_def`) or `.maps` (BTF-defined:
  the numbers are in the BTF types, the offsets in the symbol table);
- `.data`, `.rodata*` and `.bss` become one-element array maps reached with lddw's
  map-value form, as libbpf does;
- relocations in debug and BTF sections are for debuggers, and ignored.

The loaded Program starts with the entry function, followed by every function it
can reach; each lddw and call is rewritten to bpfjit's forms.
"""

from __future__ import annotations

import io
import os
import struct
from collections import deque

from .btf import parse_btf
from .corerelo import apply_core_relo, parse_core_relos
from .elfmaps import GIVEN, R_BPF_64_64, SHF_EXECINSTR, ObjectMaps, is_data_section
from .errors import BpfError, DecodeError, ElfError
from .isa import LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, Insn, Kind
from .kernel import KernelEnv
from .lineinfo import line_at, parse_line_info
from .loaderargs import (checked_constants, checked_inner_maps, checked_max_entries,
                         checked_maps)
from .program import Program, decode
from .progtypes import attach_type, prog_type, section_type

__all__ = ["load_elf", "ElfObject", "maps_from", "R_BPF_64_64", "R_BPF_64_32"]

EM_BPF = 247
R_BPF_64_32 = 10
_IGNORED_RELOCATED = (".debug", ".BTF", ".rel.debug", ".eh_frame", ".llvm")
# what a corrupt file makes pyelftools or struct raise; turned into one ElfError
_MALFORMED = (struct.error, ValueError, KeyError, IndexError, OverflowError, AttributeError,
              TypeError, UnicodeDecodeError, AssertionError, MemoryError, RecursionError)


def _malformed(name: str, exc: BaseException) -> ElfError:
    detail = str(exc) or "out of memory"
    return ElfError(f"{name}: malformed object file ({type(exc).__name__}: {detail[:120]})")


class ElfObject(ObjectMaps):
    """An object file's sections, symbols and maps, ready to extract programs from.

    Every program taken from one ElfObject shares its maps (and trace output), as the
    programs of one object do in the kernel; `load_elf` loads each program afresh."""

    def __init__(self, source: str | os.PathLike | bytes | bytearray,
                 max_entries: dict[str, int] | None = None,
                 constants: dict[str, int] | None = None,
                 maps: dict | None = None, inner_maps: dict | None = None):
        try:
            from elftools.common.exceptions import ELFError
            from elftools.elf.elffile import ELFFile
        except ImportError:          # pragma: no cover - a declared dependency
            raise BpfError("loading object files needs pyelftools: pip install pyelftools")
        if isinstance(source, (bytes, bytearray, memoryview)):
            data, self.name = bytes(source), "<bytes>"
        elif not isinstance(source, (str, os.PathLike)):
            raise ElfError(f"load_elf takes a path or the object's bytes, not "
                           f"{type(source).__name__}")
        else:
            try:
                with open(source, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise ElfError(f"cannot read {source}: {exc.strerror}") from None
            self.name = os.fspath(source)
        if data[:4] != b"\x7fELF":
            raise ElfError(f"{self.name} is not an ELF object file")
        self._size = len(data)
        self._env: KernelEnv | None = None
        self._max_entries = checked_max_entries(max_entries)
        self._constants = checked_constants(constants)
        self._given = checked_maps(maps)
        self._inner_given = checked_inner_maps(inner_maps)
        self._line_info: dict | None = None        # (bpfjit.lineinfo), read when first needed
        self._core: tuple | None = None            # (BTF, CO-RE relocations), the same
        try:
            self.elf = ELFFile(io.BytesIO(data))
            header = self.elf.header
            if header["e_machine"] not in ("EM_BPF", EM_BPF):
                raise ElfError(f"{self.name} is for {header['e_machine']}, not eBPF "
                               f"(compile with clang -target bpf)")
            if self.elf.elfclass != 64 or not self.elf.little_endian:
                raise ElfError(f"{self.name} is not a 64-bit little-endian eBPF object "
                               f"(use -target bpf or bpfel)")
            self.sections = list(self.elf.iter_sections())
            symtab = self.elf.get_section_by_name(".symtab")
            if symtab is None:
                raise ElfError(f"{self.name} has no symbol table")
            self.symbols = list(symtab.iter_symbols())
            self._check_constants_named()
            self._index_sections()
            self.maps = self._read_maps()
            self._referred = self._given_maps()
        except BpfError:
            raise
        except (ELFError, *_MALFORMED) as exc:
            raise _malformed(self.name, exc) from None

    def _check_constants_named(self) -> None:
        """Each constant given is a symbol the object leaves undefined (a misspelt name
        would otherwise be ignored)."""
        undefined = sorted({sym.name for sym in self.symbols
                            if sym["st_shndx"] == "SHN_UNDEF" and sym.name})
        for name in self._constants:
            if name not in undefined:
                has = f"it has {', '.join(undefined)}" if undefined else "it has none"
                raise ElfError(f"{self.name}: constants: {name!r} is not a symbol the object "
                               f"leaves undefined ({has})")

    # ---- sections and functions -------------------------------------------------------------

    def _index_sections(self) -> None:
        self.by_index = {i: s for i, s in enumerate(self.sections)}
        self.code_sections = {i: s for i, s in self.by_index.items()
                              if s["sh_flags"] & SHF_EXECINSTR and s["sh_size"] > 0}
        self.relocations: dict[int, list] = {}
        for section in self.sections:
            if section["sh_type"] == "SHT_RELA":
                raise ElfError(f"{self.name}: section {section.name} has RELA relocations; "
                               f"eBPF objects use REL")
            if section["sh_type"] != "SHT_REL":
                continue
            target = section["sh_info"]
            target_name = self.by_index[target].name if target in self.by_index else "?"
            if target_name.startswith(_IGNORED_RELOCATED):
                continue               # debug info and BTF: for debuggers, not for running
            self.relocations[target] = list(section.iter_relocations())
        # functions: (section index, byte offset) -> (name, size, global)
        self.functions: dict[tuple[int, int], tuple[str, int, bool]] = {}
        for sym in self.symbols:
            if sym["st_info"]["type"] == "STT_FUNC" and sym["st_shndx"] in self.code_sections:
                self.functions[(sym["st_shndx"], sym["st_value"])] = (
                    sym.name, sym["st_size"], sym["st_info"]["bind"] == "STB_GLOBAL")
        self._untyped_functions()

    def _untyped_functions(self) -> None:
        """Clang before LLVM 7 typed a program's symbol STT_NOTYPE with size 0, and the
        loaders of its day (iproute2, samples/bpf) loaded a code section as one program:
        in a code section with no STT_FUNC symbol, each global untyped symbol starts a
        function that runs to the next one or to the section's end."""
        typed = {sec for sec, _ in self.functions}
        starts: dict[int, list] = {}
        for sym in self.symbols:
            sec = sym["st_shndx"]
            if (sym["st_info"]["type"] == "STT_NOTYPE" and sym["st_info"]["bind"] == "STB_GLOBAL"
                    and sec in self.code_sections and sec not in typed and sym.name):
                starts.setdefault(sec, []).append((sym["st_value"], sym.name))
        for sec, found in starts.items():
            found.sort()
            ends = [at for at, _ in found[1:]] + [self.code_sections[sec]["sh_size"]]
            for (at, name), end in zip(found, ends):
                self.functions[(sec, at)] = (name, end - at, True)

    def programs(self) -> list[tuple[str, str]]:
        """(section, function) of every global function in a code section."""
        return [(self.by_index[sec].name, name)
                for (sec, _), (name, _, is_global) in sorted(self.functions.items())
                if is_global]

    # ---- maps ----------------------------------------------------------------------------------

    # ---- one program ---------------------------------------------------------------------------

    def program(self, section: str | None, function: str | None,
                prog_type: str | None = None) -> Program:
        from elftools.common.exceptions import ELFError
        try:
            return self._program(section, function, prog_type)
        except BpfError:
            raise
        except (ELFError, *_MALFORMED) as exc:
            raise _malformed(self.name, exc) from None

    def _program(self, section: str | None, function: str | None,
                 type_name: str | None) -> Program:
        entry = self._entry(section, function)
        section_name = self.by_index[entry[0]].name
        kind = section_type(section_name) if type_name is None else prog_type(type_name)
        if kind.context is None and kind.name != "plain":
            raise ElfError(f"{self.name}: {section_name}/{self.functions[entry][0]} is a "
                           f"{kind.name} program, whose context bpfjit does not provide; it "
                           f"runs xdp, sched_cls, sched_act, socket_filter and cgroup_skb "
                           f"programs "
                           f"(prog_type='plain' loads it with r1 = a buffer, r2 = its length)")
        map_index = {(sec, off): i for i, (_, sec, off) in enumerate(self.maps)}
        if self._env is None:          # programs of one object share its maps, as in libbpf
            self._make_env()
        # lay out the entry function, then every function it can reach
        placed: dict[tuple[int, int], int] = {}      # function -> its first pc
        built: dict[tuple[int, int], tuple] = {}
        todo, next_pc = deque([entry]), 0
        while todo:
            func = todo.popleft()
            if func in placed:
                continue
            built[func] = insns, calls = self._function_code(func, map_index)
            placed[func] = next_pc
            next_pc += sum(i.slots for i in insns)
            todo.extend(self._containing_function(target)[0] for _, target in calls)
        # resolve calls: (section, byte offset) of the target -> its pc in the layout
        final: list[Insn] = []
        for func, (insns, calls) in built.items():
            targets = dict(calls)
            pc = placed[func]
            for i, insn in enumerate(insns):
                if i in targets:
                    target_func, target_off = self._containing_function(targets[i])
                    target_pc = placed[target_func] + target_off // 8
                    insn = Insn(insn.spec, insn.dst, insn.src, insn.off, target_pc - (pc + 1))
                final.append(insn)
                pc += insn.slots
        context = None if kind.context == "plain" else kind.context
        program = Program(final, env=self._env, context=context, prog_type=kind.name,
                          attach_type=attach_type(section_name))
        program.section, program.function = section_name, self.functions[entry][0]
        program.source_lines = self._source_lines(placed, built)
        program.object_path = self.name if self.name != "<bytes>" else None
        return program

    def _core_relos(self) -> tuple:
        """The object's BTF and CO-RE relocations by code section (bpfjit.corerelo);
        (None, {}) without them."""
        if self._core is None:
            btf, ext = (self.elf.get_section_by_name(n) for n in (".BTF", ".BTF.ext"))
            relos = {} if btf is None or ext is None else \
                parse_core_relos(btf.data(), ext.data())
            self._core = (parse_btf(btf.data()) if relos else None, relos)
        return self._core

    def _source_lines(self, placed: dict, built: dict) -> dict:
        """pc -> the SourceLine it came from (bpfjit.lineinfo), for objects built with
        clang -g; {} without line information."""
        if self._line_info is None:
            btf, ext = (self.elf.get_section_by_name(n) for n in (".BTF", ".BTF.ext"))
            self._line_info = {} if btf is None or ext is None else \
                parse_line_info(btf.data(), ext.data())
        out = {}
        for (sec, start), first in placed.items():
            records = self._line_info.get(self.by_index[sec].name)
            if not records:
                continue
            pc, offset = first, start
            for insn in built[(sec, start)][0]:
                line = line_at(records, offset)
                if line is not None:
                    out[pc] = line
                pc, offset = pc + insn.slots, offset + 8 * insn.slots
        return out

    def _entry(self, section: str | None, function: str | None) -> tuple[int, int]:
        """(section index, offset) of the entry function."""
        candidates = [(key, name) for key, (name, _, is_global) in self.functions.items()
                      if is_global or name == function]
        if section is not None:
            known = {self.by_index[i].name for i in self.code_sections}
            if section not in known:
                raise ElfError(f"{self.name} has no code section {section!r} (sections: "
                               f"{', '.join(sorted(known)) or 'none'})")
            candidates = [c for c in candidates if self.by_index[c[0][0]].name == section]
        if function is not None:
            candidates = [c for c in candidates if c[1] == function]
            if not candidates:
                raise ElfError(f"{self.name} has no function {function!r}"
                               + (f" in section {section!r}" if section else ""))
        elif len(candidates) > 1:
            non_text = [c for c in candidates if self.by_index[c[0][0]].name != ".text"]
            if section is None and len(non_text) == 1:
                candidates = non_text
            else:
                names = ", ".join(f"{self.by_index[k[0]].name}:{n}" for k, n in candidates)
                raise ElfError(f"{self.name} has several programs ({names}); choose one with "
                               f"section= / --section or function= / --function")
        if not candidates:
            raise ElfError(f"{self.name} has no program (no global function in a code "
                           f"section)")
        return candidates[0][0]

    def _containing_function(self, where: tuple[int, int]) -> tuple[tuple[int, int], int]:
        """The function holding byte `offset` of a section, and the offset within it."""
        sec, offset = where
        for (fsec, start), (name, size, _) in self.functions.items():
            if fsec == sec and start <= offset < start + max(size, 8):
                return (fsec, start), offset - start
        raise ElfError(f"{self.name}: a call targets offset {offset} of section "
                       f"{self.by_index[sec].name}, where no function is")

    def _function_code(self, func: tuple[int, int], map_index: dict):
        """A function's instructions with map relocations applied, and its calls as
        (instruction index, (section, byte offset) of the target)."""
        sec, start = func
        name, size, _ = self.functions[func]
        section = self.by_index[sec]
        raw = section.data()[start:start + size]
        try:
            insns = decode(raw)
        except DecodeError as exc:
            raise ElfError(f"{self.name}: function {name!r} in section {section.name}: "
                           f"{exc}") from None
        at, index_of, offset_of = 0, {}, []
        for i, insn in enumerate(insns):
            index_of[start + at] = i
            offset_of.append(start + at)
            at += insn.slots * 8
        relocated = {}
        for rel in self.relocations.get(sec, []):
            offset = rel["r_offset"]
            if start <= offset < start + size:
                if offset not in index_of:
                    raise ElfError(f"{self.name}: a relocation at {section.name}+{offset} is "
                                   f"not at an instruction")
                relocated[index_of[offset]] = rel
        btf, core = self._core_relos()
        for relo in core.get(section.name, ()):
            if start <= relo.insn_off < start + size:
                i = index_of.get(relo.insn_off)
                where = f"{self.name}: {section.name}+{relo.insn_off:#x}"
                if i is None:
                    raise ElfError(f"{where}: a CO-RE relocation is not at an instruction")
                insns[i] = apply_core_relo(btf, relo, insns[i], where)
        calls = []
        for i, insn in enumerate(insns):
            rel = relocated.get(i)
            if rel is not None:
                insn = insns[i] = self._relocate(insn, rel, section.name, map_index, calls, i)
            elif insn.kind is Kind.CALL_LOCAL:        # resolved by the assembler: relative
                calls.append((i, (sec, offset_of[i] + (insn.imm + 1) * 8)))
            elif insn.kind is Kind.LDDW and insn.src != 0:
                raise ElfError(f"{self.name}: lddw in {name!r} has src {insn.src} without "
                               f"a relocation")
        return insns, calls

    def _relocate(self, insn: Insn, rel, section: str, map_index: dict, calls: list,
                  i: int) -> Insn:
        if not 0 <= rel["r_info_sym"] < len(self.symbols):
            raise ElfError(f"{self.name}: a relocation at {section}+{rel['r_offset']:#x} "
                           f"names symbol {rel['r_info_sym']}, which does not exist")
        sym = self.symbols[rel["r_info_sym"]]
        kind = rel["r_info_type"]
        where = f"{section}+{rel['r_offset']:#x}"
        sym_name = sym.name or (self.by_index[sym["st_shndx"]].name
                                if sym["st_shndx"] in self.by_index else "?")
        if kind == R_BPF_64_64 and insn.kind is Kind.LDDW:
            target = sym["st_shndx"]
            target_name = self.by_index[target].name if target in self.by_index else "?"
            if target in self.code_sections:        # a callback's address (bpf_loop)
                offset = sym["st_value"] + insn.imm
                if offset % 8:
                    raise ElfError(f"{self.name}: lddw at {where} refers to byte {offset} "
                                   f"of {target_name}, which is not an instruction")
                calls.append((i, (target, offset)))
                return Insn(insn.spec, insn.dst, LDDW_CODE, 0, 0, 0)
            if target_name in ("maps", ".maps"):
                key = (target, sym["st_value"])
                if key not in map_index:
                    lacking = [spec for spec, sec, off in self.unimplemented
                               if (sec, off) == key]
                    if lacking:
                        raise ElfError(f"{self.unimplemented_reason(lacking[0])}; the "
                                       f"program uses it at {where}")
                    raise ElfError(f"{self.name}: lddw at {where} refers to {sym_name!r}, "
                                   f"which is not a map")
                return Insn(insn.spec, insn.dst, LDDW_MAP, 0, map_index[key], 0)
            if sym.name in self._referred:      # a map its loader gives, by name
                return Insn(insn.spec, insn.dst, LDDW_MAP, 0,
                            map_index[(GIVEN, self._referred[sym.name])], 0)
            if (target, 0) in map_index and is_data_section(target_name):
                offset = sym["st_value"] + (insn.imm & 0xFFFFFFFF)
                return Insn(insn.spec, insn.dst, LDDW_MAP_VALUE, 0, map_index[(target, 0)],
                            offset)
            if target == "SHN_UNDEF" and sym.name:      # a constant its loader fills in
                if sym.name not in self._constants:
                    raise ElfError(f"{self.name}: lddw at {where} refers to {sym.name!r}, "
                                   f"which the object does not define (a constant its loader "
                                   f"fills in): load_elf(..., constants={{{sym.name!r}: "
                                   f"value}}), or --constant {sym.name}=VALUE")
                value = self._constants[sym.name] & 0xFFFFFFFFFFFFFFFF
                return Insn(insn.spec, insn.dst, 0, 0, _signed32(value & 0xFFFFFFFF),
                            _signed32(value >> 32))
            raise ElfError(f"{self.name}: lddw at {where} refers to {sym_name!r} in section "
                           f"{target_name}, which is neither a map nor global data")
        if kind == R_BPF_64_32 and insn.kind is Kind.CALL_LOCAL:
            if sym["st_shndx"] == "SHN_UNDEF" and sym.name:
                raise ElfError(f"{self.name}: the call at {where} is to {sym.name!r}, a "
                               f"function the object declares extern: a kernel function "
                               f"(kfunc) or one of another object; bpfjit provides the "
                               f"kernel's helpers, not its kfuncs, and links no objects")
            if sym["st_shndx"] not in self.code_sections:
                raise ElfError(f"{self.name}: the call at {where} targets {sym_name!r}, "
                               f"which is not code (an extern function?)")
            calls.append((i, (sym["st_shndx"], sym["st_value"] + (insn.imm + 1) * 8)))
            return insn
        raise ElfError(f"{self.name}: relocation type {kind} at {where} (against "
                       f"{sym_name!r}) is not supported; bpfjit handles R_BPF_64_64 on lddw "
                       f"and R_BPF_64_32 on calls")


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def maps_from(sources, names: set[str], max_entries: dict[str, int] | None = None
              ) -> dict:
    """Fresh maps, by name, of the objects at `sources` that are among `names` (what an
    object may be given: ElfObject.map_names()), as a loader sharing pinned maps gives
    them (`--maps-from`)."""
    given = {}
    for source in sources:
        table = ElfObject(source, max_entries).map_table()
        given.update({name: table[name] for name in table if name in names})
    return given


def load_elf(source: str | os.PathLike | bytes, section: str | None = None,
             function: str | None = None, prog_type: str | None = None,
             max_entries: dict[str, int] | None = None,
             constants: dict[str, int] | None = None,
             maps: dict | None = None, inner_maps: dict | None = None) -> Program:
    """Load one program from an eBPF object file; see the module docstring.

    `section` picks the code section (`xdp`, `xdp/...`, `socket`, `.text`, ...);
    `function` the entry function (default: the section's global function).  The
    result's `.maps[name]` are its maps, which keep their contents across runs and
    across engines compiled from it.  The section names the program type, as libbpf
    reads it (bpfjit.progtypes; `prog_type` overrides it): XDP programs take a
    bpfjit.XdpContext, socket filters, tc and cgroup_skb programs a bpfjit.SkbContext (or the
    packet's bytes), code in `.text` a plain buffer.  `max_entries` sets the size of
    maps by name (for maps that declare none, or to override).  `constants` gives the
    values of symbols the object leaves undefined for its loader to fill in (an `lddw`
    of an extern: `asm("%0 = LIMIT ll")`).  `maps` gives maps by name (another
    program's `.maps[name]`) used in place of the object's own, as a pinned map is: one
    map shared by programs of several objects; or for a name the object refers to
    without declaring a map (bpfjit.loaderargs).  `inner_maps` gives a map of maps
    that declares no inner map its inner definition (a MapSpec, or a dict of `type`,
    `key_size`, `value_size`, `max_entries`), as libbpf's `bpf_map__set_inner_map_fd`
    does.  ElfError names the section, symbol, map or relocation at fault.
    """
    return ElfObject(source, max_entries, constants, maps,
                     inner_maps).program(section, function, prog_type)
