"""The maps of an eBPF object file: those it declares, those a loader gives it.

Mixed into bpfjit.elf.ElfObject, which indexes the sections, symbols and relocations
this reads.  Maps are declared in `maps` (legacy `struct bpf_map_def`, and the longer
records of iproute2 and samples/bpf, whose maps of maps name their inner definition)
or `.maps` (BTF-defined); `.data`, `.rodata*` and `.bss` become one-element array maps,
as in libbpf.  A loader may give maps by name (`maps=`, bpfjit.loaderargs): in place of
one the object declares, or for a name it only refers to.
"""

from __future__ import annotations

import struct
from dataclasses import replace

from .btf import map_definitions, parse_btf
from .errors import BpfError, ElfError
from .kernel import KernelEnv
from .loaderargs import check_reusable
from .maps import (MAP_TYPES, MapSpec, MapTable, ProgArray, allocated_specs, check_map_memory,
                   make_map)
from .maps.sk_storage import SK_STORAGE

__all__ = ["ObjectMaps", "GIVEN", "is_data_section", "R_BPF_64_64", "SHF_EXECINSTR"]

R_BPF_64_64 = 1             # relocation: lddw of a symbol's address
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4
GIVEN = -2                  # the "section" of maps only given by name (map_index keys)
_LEGACY_MAP = struct.Struct("<IIIII")
_DATA_PREFIXES = (".data", ".rodata", ".bss")
_MAX_DATA = 64 << 20          # bytes of one global-data section
_PERF_EVENT_ARRAY = 4
# maps whose key (and value) sizes the kernel wants 0, so that their declarations give
# none: ring buffers (kernel and user), arenas; queues, stacks and bloom filters have
# values only
_SIZELESS = (27, 31, 33)
_KEYLESS = (22, 23, 30)
_MAPS_OF_MAPS = (12, 13)
_FD_VALUES = (3, 12, 13)        # program arrays and maps of maps: values are fds
_INDEXED = (2, 3, 6, 12)        # arrays (per-CPU, of programs, of maps): 4-byte keys
_INNER_POINTER = 24             # goebpf's `void *inner_map_def` in its map records


def _implemented(spec: MapSpec) -> bool:
    """Whether bpfjit has the map's type (and its inner map's, for a map of maps)."""
    return spec.type in MAP_TYPES and (spec.inner is None or spec.inner.type in MAP_TYPES)


def is_data_section(name: str) -> bool:
    """`.data`, `.rodata`, `.bss` and their `.NAME` variants: global data."""
    return any(name == p or name.startswith(p + ".") for p in _DATA_PREFIXES)


class ObjectMaps:
    """The map half of ElfObject: reading declarations, giving maps, making the env."""

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
                    specs = self._legacy_inner(section, index, symbols, specs)
                found.extend((spec, index, sym["st_value"]) for spec, sym in zip(specs, symbols))
            elif is_data_section(name) and section["sh_flags"] & SHF_ALLOC \
                    and not section["sh_flags"] & SHF_EXECINSTR and section["sh_size"] > 0:
                if section["sh_size"] > _MAX_DATA:
                    raise ElfError(f"{self.name}: section {name} has {section['sh_size']} "
                                   f"bytes; bpfjit loads global data up to {_MAX_DATA}")
                initial = (bytes(section["sh_size"]) if section["sh_type"] == "SHT_NOBITS"
                           else section.data())
                found.append((MapSpec(name, 2, 4, section["sh_size"], 1, initial=initial,
                                      read_only=name.startswith(".rodata")), index, 0))
        found = self._with_given_inner(found)
        for spec, _, _ in list(found):   # maps of maps: one map of their inner definition
            if spec.inner is not None:
                found.append((replace(spec.inner, name=f"{spec.name}.inner"), -1, len(found)))
        # a map of a type bpfjit lacks is left out: only a program that uses it is
        # refused (tracee declares an arena map to probe the kernel for it, beside the
        # maps its packet programs use), as a loader that skips creating it would
        self.unimplemented = [(spec, sec, off) for spec, sec, off in found
                              if not _implemented(spec)]
        return [entry for entry in found if _implemented(entry[0])]

    def _with_given_inner(self, found: list) -> list:
        """The maps of maps named in `inner_maps=` take the definition given there, as a
        loader's inner map template; each must be a map of maps that declares none."""
        if not self._inner_given:
            return found
        declared = {spec.name: spec for spec, _, _ in found}
        for name in self._inner_given:
            spec = declared.get(name)
            if spec is None or spec.type not in _MAPS_OF_MAPS:
                outer = sorted(s.name for s in declared.values() if s.type in _MAPS_OF_MAPS)
                raise ElfError(f"{self.name}: inner_maps: {name!r} is "
                               f"{'no map' if spec is None else 'a ' + spec.type_name + ' map'}"
                               f" of the object; it declares "
                               f"{'the maps of maps ' + ', '.join(outer) if outer else 'no map of maps'}")
            if spec.inner is not None:
                raise ElfError(f"{self.name}: inner_maps: {name!r} declares its inner map "
                               f"already (as libbpf, bpfjit does not replace it)")
        return [(replace(spec, inner=self._inner_given[spec.name])
                 if spec.name in self._inner_given else spec, sec, off)
                for spec, sec, off in found]

    def unimplemented_reason(self, spec: MapSpec) -> str:
        """Why a program that uses the map of `spec` (one of `self.unimplemented`) does
        not load."""
        kind = spec.inner if spec.type in MAP_TYPES else spec
        return (f"{self.name}: map {spec.name!r} has map type {kind.type} "
                f"({kind.type_name}){' in it' if kind is not spec else ''}, which bpfjit "
                f"does not implement (it has "
                f"{', '.join(f'{n} ({t})' for t, n in MAP_TYPES.items())})")

    def map_names(self) -> set[str]:
        """The names of the maps the object declares, and of what its lddw instructions
        refer to that is no map, function or section (a variable or an undefined
        symbol): the names `maps=` may give."""
        return set(self._declared_names()) | set(self._referred_names())

    def _declared_names(self) -> list[str]:
        """The names of the maps the object declares (not global data, not an inner
        map's template, not a map given by name), sorted."""
        return sorted(spec.name for spec, sec, _ in self.maps
                      if sec >= 0 and not is_data_section(self.by_index[sec].name))

    def map_table(self) -> MapTable:
        """The object's maps, as every program taken from it shares them."""
        if self._env is None:
            self._make_env()
        return self._env.maps

    def _referred_names(self) -> list[str]:
        """Names of the symbols lddw instructions refer to outside map sections and code
        (variables, undefined symbols), in order of first reference."""
        names: dict[str, None] = {}
        for sec, rels in sorted(self.relocations.items()):
            if sec not in self.code_sections:
                continue
            for rel in rels:
                if rel["r_info_type"] != R_BPF_64_64 \
                        or not 0 <= rel["r_info_sym"] < len(self.symbols):
                    continue
                sym = self.symbols[rel["r_info_sym"]]
                target = sym["st_shndx"]
                where = self.by_index[target].name if target in self.by_index else ""
                if sym.name and sym["st_info"]["type"] != "STT_SECTION" \
                        and target not in self.code_sections and where not in ("maps", ".maps"):
                    names.setdefault(sym.name, None)
        return list(names)

    def _given_maps(self) -> dict[str, int]:
        """Check the maps the loader gives (`maps=`): each replaces a map the object
        declares (of its definition) or is one an lddw refers to by a name the object
        declares no map for (undefined, or a variable: loaders that resolve maps by
        name); the latter are appended to `self.maps`.  Their names -> (GIVEN, n)."""
        declared = {spec.name: (spec, sec) for spec, sec, _ in self.maps}
        referred = {}
        for name in self._referred_names():
            if name in self._given and name not in declared:
                referred[name] = len(referred)
        for name, the_map in self._given.items():
            if name in declared:
                spec, sec = declared[name]
                if sec < 0 or is_data_section(self.by_index[sec].name):
                    raise ElfError(f"{self.name}: maps: {name!r} is the object's own "
                                   f"{'global data' if sec >= 0 else 'inner map'}, not a map "
                                   f"a loader gives")
                check_reusable(self.name, spec, the_map)
            elif name not in referred:
                names = self._declared_names()
                raise ElfError(f"{self.name}: maps: the object neither declares nor refers to "
                               f"a map {name!r} (it declares "
                               f"{', '.join(names) if names else 'none'})")
        for name, n in referred.items():
            self.maps.append((self._given[name].spec, GIVEN, n))
        return referred

    def _legacy_map(self, section, sym) -> MapSpec:
        data, at = section.data(), sym["st_value"]
        if at + _LEGACY_MAP.size > len(data):
            raise ElfError(f"{self.name}: map {sym.name!r} in section maps is shorter than "
                           f"struct bpf_map_def (20 bytes)")
        kind, key, value, entries, flags = _LEGACY_MAP.unpack_from(data, at)
        # sizes loaders fill in (goebpf's; libbpf's for a perf event array): an int
        # per CPU, a map's or a program's fd, an array's index
        if kind == _PERF_EVENT_ARRAY:
            key, value = key or 4, value or 4
        elif kind in _FD_VALUES:
            value = value or 4
        if kind in _INDEXED:
            key = key or 4
        return MapSpec(sym.name, kind, key, value, self._entries(sym.name, kind, entries or None),
                       flags)

    def _legacy_inner(self, section, index: int, symbols: list, specs: list[MapSpec]
                      ) -> list[MapSpec]:
        """Maps of maps in section maps take their inner definition from another map of
        the section, as the loaders of such objects do: iproute2's 36-byte `struct
        bpf_elf_map` names the map whose `id` (its sixth field) equals the outer map's
        `inner_id` (eighth); samples/bpf's 28-byte `struct bpf_map_def` gives the inner
        map's position among the section's maps (`inner_map_idx`, sixth); goebpf's
        40-byte one points at the inner map's record (`inner_map_def`, a relocated
        pointer at byte 24).  A map of maps whose inner definition the loader gives
        (`inner_maps=`) takes that one instead (libbpf reads 20 bytes of a record and
        leaves the rest to bpf_map__set_inner_map_fd: CentaurusInfra/mizar)."""
        outer = [i for i, spec in enumerate(specs) if spec.type in _MAPS_OF_MAPS
                 and spec.name not in self._inner_given]
        if not outer:
            return specs
        pointed = self._inner_pointers(index, symbols, specs, outer)
        if pointed:
            specs = list(specs)
            for i, j in pointed.items():
                specs[i] = replace(specs[i], inner=replace(specs[j], name=""))
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

    def _inner_pointers(self, index: int, symbols: list, specs: list[MapSpec],
                        outer: list[int]) -> dict[int, int]:
        """outer map -> inner map (positions in `symbols`) for the maps of maps whose
        record has a relocated pointer at byte 24 (goebpf's `inner_map_def`)."""
        at = {rel["r_offset"]: rel for rel in self.relocations.get(index, [])}
        found = {}
        for i in outer:
            rel = at.get(symbols[i]["st_value"] + _INNER_POINTER)
            if rel is None:
                continue
            target = self.symbols[rel["r_info_sym"]].name \
                if 0 <= rel["r_info_sym"] < len(self.symbols) else None
            j = next((k for k, sym in enumerate(symbols) if k != i and sym.name == target),
                     None)
            if j is None:
                raise ElfError(f"{self.name}: {specs[i].type_name} "
                               f"{symbols[i].name!r} points its inner map definition at no "
                               f"map of section maps")
            found[i] = j
        return found

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
        elif "values_offset" in fields or kind in _FD_VALUES:   # a program's or map's fd
            value = value or 4                 # (cilium/ebpf and the kernel: 4 bytes)
        elif kind in _SIZELESS:
            key, value = key or 0, value or 0
        elif kind in _KEYLESS:               # queues, stacks, bloom filters: values only
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

    def _make_env(self) -> None:
        """The object's maps in a KernelEnv, then their `.values` initialisers (which may
        load the programs a program array names: they share this env)."""
        maps = []
        # a hash map or trie the kernel fills one element at a time holds what the memory
        # limits have room for, unless the caller sized it (bpfjit.maps.allocated_specs)
        own = [spec for spec, _, _ in self.maps if spec.name not in self._given]
        sized = {spec.name: spec for spec in allocated_specs(own, set(self._max_entries))}
        self.maps = [(sized.get(spec.name, spec), *rest) for spec, *rest in self.maps]
        try:
            check_map_memory([spec for spec, _, _ in self.maps if spec.name not in self._given])
        except BpfError as exc:
            raise ElfError(f"{self.name}: {exc}") from None
        for spec, _, _ in self.maps:
            if spec.name in self._given:        # (its own: its contents stay as they are)
                maps.append(self._given[spec.name])
                continue
            try:
                maps.append(make_map(spec))
            except ElfError:
                raise
            except BpfError as exc:
                raise ElfError(f"{self.name}: {exc}") from None
        self._env = KernelEnv(MapTable(maps, [spec.name for spec, _, _ in self.maps]))
        for the_map in maps:    # `.values` name functions (program arrays) or maps
            if any(the_map is m for m in self._given.values()):
                continue
            if isinstance(the_map, ProgArray):
                the_map.resolve = lambda name: self.program(None, name)
            for index, target in the_map.spec.values:
                try:
                    the_map[index] = target
                except BpfError as exc:
                    raise ElfError(f"{self.name}: map {the_map.name!r}, initial value "
                                   f"{index}: {exc}") from None
