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
from dataclasses import replace

from .btf import map_definitions, parse_btf
from .errors import BpfError, DecodeError, ElfError
from .isa import LDDW_CODE, LDDW_MAP, LDDW_MAP_VALUE, Insn, Kind
from .lineinfo import line_at, parse_line_info
from .kernel import KernelEnv
from .maps import MAP_TYPES, MapSpec, MapTable, ProgArray, check_map_memory, make_map
from .maps.sk_storage import SK_STORAGE
from .program import Program, decode
from .progtypes import attach_type, prog_type, section_type

__all__ = ["load_elf", "ElfObject", "R_BPF_64_64", "R_BPF_64_32"]

EM_BPF = 247
R_BPF_64_64, R_BPF_64_32 = 1, 10
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
_LEGACY_MAP = struct.Struct("<IIIII")
_IGNORED_RELOCATED = (".debug", ".BTF", ".rel.debug", ".eh_frame", ".llvm")
_DATA_PREFIXES = (".data", ".rodata", ".bss")
_MAX_DATA = 64 << 20          # bytes of one global-data section
_PERF_EVENT_ARRAY, _RINGBUF = 4, 27
_KEYLESS = (22, 23)
_MAPS_OF_MAPS = (12, 13)
# what a corrupt file makes pyelftools or struct raise; turned into one ElfError
_MALFORMED = (struct.error, ValueError, KeyError, IndexError, OverflowError, AttributeError,
              TypeError, UnicodeDecodeError, AssertionError, MemoryError, RecursionError)


def _malformed(name: str, exc: BaseException) -> ElfError:
    detail = str(exc) or "out of memory"
    return ElfError(f"{name}: malformed object file ({type(exc).__name__}: {detail[:120]})")


def _is_data_section(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _DATA_PREFIXES)


class ElfObject:
    """An object file's sections, symbols and maps, ready to extract programs from.

    Every program taken from one ElfObject shares its maps (and trace output), as the
    programs of one object do in the kernel; `load_elf` loads each program afresh."""

    def __init__(self, source: str | os.PathLike | bytes | bytearray,
                 max_entries: dict[str, int] | None = None,
                 constants: dict[str, int] | None = None):
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
        self._max_entries = _check_max_entries(max_entries)
        self._constants = _check_constants(constants)
        self._line_info: dict | None = None        # (bpfjit.lineinfo), read when first needed
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

    def _read_maps(self) -> list[tuple[MapSpec, int, int]]:
        """(spec, section index, offset) of every map and global-data section."""
        found: list[tuple[MapSpec, int, int]] = []
        btf_maps = None
        for index, section in self.by_index.items():
            name = section.name
            if name == "maps" or name == ".maps":
                symbols = sorted((s for s in self.symbols if s["st_shndx"] == index
                                  and s["st_info"]["type"] in ("STT_OBJECT", "STT_NOTYPE")
                                  and s.name), key=lambda s: s["st_value"])
                if name == ".maps" and symbols and btf_maps is None:
                    btf_maps = self._btf_maps()
                specs = ([self._legacy_map(section, sym) for sym in symbols] if name == "maps"
                         else [self._btf_map(btf_maps, sym, index) for sym in symbols])
                if name == "maps":
                    specs = self._legacy_inner(section, symbols, specs)
                found.extend((spec, index, sym["st_value"]) for spec, sym in zip(specs, symbols))
            elif _is_data_section(name) and section["sh_flags"] & SHF_ALLOC \
                    and not section["sh_flags"] & SHF_EXECINSTR and section["sh_size"] > 0:
                if section["sh_size"] > _MAX_DATA:
                    raise ElfError(f"{self.name}: section {name} has {section['sh_size']} "
                                   f"bytes; bpfjit loads global data up to {_MAX_DATA}")
                initial = (bytes(section["sh_size"]) if section["sh_type"] == "SHT_NOBITS"
                           else section.data())
                found.append((MapSpec(name, 2, 4, section["sh_size"], 1, initial=initial,
                                      read_only=name.startswith(".rodata")), index, 0))
        for spec, _, _ in list(found):   # maps of maps: one map of their inner definition
            if spec.inner is not None:
                found.append((replace(spec.inner, name=f"{spec.name}.inner"), -1, len(found)))
        for spec, _, _ in found:
            if spec.type not in MAP_TYPES:
                raise ElfError(f"{self.name}: map {spec.name!r} has map type {spec.type} "
                               f"({spec.type_name}), which bpfjit does not implement (it has "
                               f"{', '.join(f'{n} ({t})' for t, n in MAP_TYPES.items())})")
        return found

    def _legacy_map(self, section, sym) -> MapSpec:
        data, at = section.data(), sym["st_value"]
        if at + _LEGACY_MAP.size > len(data):
            raise ElfError(f"{self.name}: map {sym.name!r} in section maps is shorter than "
                           f"struct bpf_map_def (20 bytes)")
        kind, key, value, entries, flags = _LEGACY_MAP.unpack_from(data, at)
        return MapSpec(sym.name, kind, key, value, self._entries(sym.name, kind, entries or None),
                       flags)

    def _legacy_inner(self, section, symbols: list, specs: list[MapSpec]) -> list[MapSpec]:
        """Maps of maps in section maps take their inner definition from another map of
        the section, as the loaders of such objects do: iproute2's 36-byte `struct
        bpf_elf_map` names the map whose `id` (its sixth field) equals the outer map's
        `inner_id` (eighth); samples/bpf's 28-byte `struct bpf_map_def` gives the inner
        map's position among the section's maps (`inner_map_idx`, sixth)."""
        outer = [i for i, spec in enumerate(specs) if spec.type in _MAPS_OF_MAPS]
        if not outer:
            return specs
        data = section.data()
        size = (symbols[0]["st_size"] if symbols[0]["st_size"]
                else len(data) // len(symbols))          # untyped symbols have no size
        if size < 28:
            return specs                 # libbpf's 20-byte definition has no inner map

        def fields(i: int) -> tuple:
            at = symbols[i]["st_value"]
            count = min(size, len(data) - at) // 4
            return struct.unpack_from(f"<{count}I", data, at)

        specs = list(specs)
        for i in outer:
            record = fields(i)
            if size >= 36:
                if len(record) < 9 or record[7] == 0:
                    continue
                template = [j for j in range(len(specs))
                            if j != i and len(fields(j)) > 5 and fields(j)[5] == record[7]]
                what = f"inner_id {record[7]}"
            else:
                template = [record[5]] if len(record) > 5 and record[5] < len(specs) else []
                what = f"inner_map_idx {record[5] if len(record) > 5 else '?'}"
            if len(template) != 1 or template[0] == i:
                raise ElfError(f"{self.name}: {specs[i].type_name} {specs[i].name!r} names "
                               f"its inner map by {what}, which no other map of section "
                               f"maps has")
            specs[i] = replace(specs[i], inner=replace(specs[template[0]], name=""))
        return specs

    def _btf_maps(self) -> dict:
        section = self.elf.get_section_by_name(".BTF")
        if section is None:
            raise ElfError(f"{self.name}: BTF-defined maps (section .maps) need BTF: "
                           f"compile with clang -g")
        return map_definitions(parse_btf(section.data()))

    def _btf_map(self, definitions: dict, sym, section_index: int) -> MapSpec:
        fields = definitions.get(sym.name)
        if fields is None:
            raise ElfError(f"{self.name}: map {sym.name!r} in .maps has no BTF definition")
        spec = self._spec_from_btf(sym.name, fields)
        if "values_offset" in fields:
            spec = replace(spec, values=self._initial_values(sym, section_index,
                                                             fields["values_offset"]))
        return spec

    def _spec_from_btf(self, name: str, fields: dict) -> MapSpec:
        if "type" not in fields:
            raise ElfError(f"{self.name}: map {name!r} does not declare its type")
        kind = fields["type"]
        key, value = fields.get("key_size"), fields.get("value_size")
        if kind == _PERF_EVENT_ARRAY:          # libbpf's defaults: an int per CPU
            key, value = key or 4, value or 4
        elif "values_offset" in fields:        # __array(values, ...): a program or map fd
            value = value or 4
        elif kind == _RINGBUF:
            key, value = key or 0, value or 0
        elif kind in _KEYLESS:               # queues and stacks: values only
            key = key or 0
        missing = [f for f, v in (("key_size", key), ("value_size", value)) if v is None]
        if missing:
            raise ElfError(f"{self.name}: map {name!r} does not declare {', '.join(missing)}")
        inner = None
        if "inner" in fields:
            inner = self._spec_from_btf(f"{name}.inner", {"max_entries": 1, **fields["inner"]})
        return MapSpec(name, kind, key, value,
                       self._entries(name, kind, fields.get("max_entries")),
                       fields.get("map_flags", 0), inner=inner,
                       spin_lock=fields.get("spin_lock"), timer=fields.get("timer"))

    def _entries(self, name: str, kind: int, declared: int | None) -> int:
        """max_entries: the caller's (as libbpf's bpf_map__set_max_entries), the
        declared one, or for a perf event array that declares none or 0 one per CPU, as
        libbpf makes it (bpfjit has one); socket storage has none (0, as the kernel
        wants it)."""
        if name in self._max_entries:
            return self._max_entries[name]
        if kind == _PERF_EVENT_ARRAY and not declared:
            return 1
        if kind == SK_STORAGE and declared is None:
            return 0
        if declared is not None:
            return declared
        if kind not in MAP_TYPES:
            return 1                # a kind bpfjit lacks: that is the error to report
        raise ElfError(f"{self.name}: map {name!r} declares no max_entries (its loader sets "
                       f"it); give it: load_elf(..., max_entries={{{name!r}: N}}) or "
                       f"--max-entries {name}=N")

    def _initial_values(self, sym, section_index: int, values_offset: int) -> tuple:
        """`.values = { [i] = &target }`: (i, target symbol name) from the relocations
        on the map's `values` member."""
        out = []
        start = sym["st_value"] + values_offset
        for rel in self.relocations.get(section_index, []):
            offset = rel["r_offset"]
            if not start <= offset < sym["st_value"] + max(sym["st_size"], 1):
                continue
            if (offset - start) % 8:
                raise ElfError(f"{self.name}: map {sym.name!r}: an initial value is not at "
                               f"an 8-byte slot")
            target = self.symbols[rel["r_info_sym"]] \
                if 0 <= rel["r_info_sym"] < len(self.symbols) else None
            if target is None or not target.name:
                raise ElfError(f"{self.name}: map {sym.name!r}: initial value "
                               f"{(offset - start) // 8} names no symbol")
            out.append(((offset - start) // 8, target.name))
        return tuple(out)

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

    def _make_env(self) -> None:
        """The object's maps in a KernelEnv, then their `.values` initialisers (which may
        load the programs a program array names: they share this env)."""
        maps = []
        try:
            check_map_memory([spec for spec, _, _ in self.maps])
        except BpfError as exc:
            raise ElfError(f"{self.name}: {exc}") from None
        for spec, _, _ in self.maps:
            try:
                maps.append(make_map(spec))
            except ElfError:
                raise
            except BpfError as exc:
                raise ElfError(f"{self.name}: {exc}") from None
        self._env = KernelEnv(MapTable(maps))
        for the_map in maps:    # `.values` name functions (program arrays) or maps
            if isinstance(the_map, ProgArray):
                the_map.resolve = lambda name: self.program(None, name)
            for index, target in the_map.spec.values:
                try:
                    the_map[index] = target
                except BpfError as exc:
                    raise ElfError(f"{self.name}: map {the_map.name!r}, initial value "
                                   f"{index}: {exc}") from None

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
                    raise ElfError(f"{self.name}: lddw at {where} refers to {sym_name!r}, "
                                   f"which is not a map")
                return Insn(insn.spec, insn.dst, LDDW_MAP, 0, map_index[key], 0)
            if (target, 0) in map_index and _is_data_section(target_name):
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
            if sym["st_shndx"] not in self.code_sections:
                raise ElfError(f"{self.name}: the call at {where} targets {sym_name!r}, "
                               f"which is not code (an extern function?)")
            calls.append((i, (sym["st_shndx"], sym["st_value"] + (insn.imm + 1) * 8)))
            return insn
        raise ElfError(f"{self.name}: relocation type {kind} at {where} (against "
                       f"{sym_name!r}) is not supported; bpfjit handles R_BPF_64_64 on lddw "
                       f"and R_BPF_64_32 on calls")


def _check_max_entries(given: dict[str, int] | None) -> dict[str, int]:
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
            for k, v in given.items()):
        raise ElfError(f"max_entries must be a dict of map name -> positive int, not "
                       f"{given!r}")
    return dict(given)


def _check_constants(given: dict[str, int] | None) -> dict[str, int]:
    if given is None:
        return {}
    if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
            and -(1 << 63) <= v < 1 << 64 for k, v in given.items()):
        raise ElfError(f"constants must be a dict of symbol name -> int (64 bits), not "
                       f"{given!r}")
    return dict(given)


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def load_elf(source: str | os.PathLike | bytes, section: str | None = None,
             function: str | None = None, prog_type: str | None = None,
             max_entries: dict[str, int] | None = None,
             constants: dict[str, int] | None = None) -> Program:
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
    of an extern: `asm("%0 = LIMIT ll")`).  ElfError names the section, symbol, map or
    relocation at fault.
    """
    return ElfObject(source, max_entries, constants).program(section, function, prog_type)
