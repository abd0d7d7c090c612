"""Just enough BTF (the BPF Type Format in an object's .BTF section) to read the
definitions of BTF-defined maps, and the local types CO-RE relocations name
(bpfjit.corerelo).  Maps encode their numbers in types:

    __uint(max_entries, 64)  ->  int (*max_entries)[64]   (a pointer to an array of 64)
    __type(key, u32)         ->  u32 *key                 (a pointer to the key type)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ElfError
from .maps.fields import VALUE_FIELDS

__all__ = ["Btf", "parse_btf", "map_definitions", "string_table", "ARRAY", "STRUCT",
           "UNION"]

_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
(INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC,
 FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64) = range(1, 20)
# bytes of kind-specific data after the 12-byte common part: (fixed, per vlen item)
_EXTRA = {INT: (4, 0), ARRAY: (12, 0), STRUCT: (0, 12), UNION: (0, 12), ENUM: (0, 8),
          FUNC_PROTO: (0, 8), VAR: (4, 0), DATASEC: (0, 12), DECL_TAG: (4, 0),
          ENUM64: (0, 12)}
_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)


@dataclass
class BtfType:
    kind: int
    name: str
    size_or_type: int      # size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, else a type id
    vlen: int
    data: bytes            # the kind-specific data
    info: int = 0          # the raw info word (kind_flag in its top bit)


class Btf:
    """The types of a .BTF section, by id (id 0 is void)."""

    def __init__(self, types: list[BtfType | None], names: dict[int, str]):
        self.types = types
        self._names = names           # string offset -> string

    def get(self, type_id: int) -> BtfType:
        if not 0 < type_id < len(self.types):
            raise ElfError(f"BTF: type id {type_id} does not exist")
        return self.types[type_id]

    def skip_modifiers(self, type_id: int) -> BtfType:
        t = self.get(type_id)
        for _ in range(64):
            if t.kind not in _MODIFIERS:
                return t
            t = self.get(t.size_or_type)
        raise ElfError("BTF: a chain of typedefs/modifiers loops")

    def size(self, type_id: int) -> int:
        """sizeof the type."""
        t = self.skip_modifiers(type_id)
        if t.kind in (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC):
            return t.size_or_type
        if t.kind == PTR:
            return 8
        if t.kind == ARRAY:
            elem, _, count = struct.unpack_from("<III", t.data)
            return self.size(elem) * count
        raise ElfError(f"BTF: the type {t.name or type_id!r} has no size")

    def members(self, type_id: int) -> list[tuple[str, int]]:
        """(name, type id) of a struct's members."""
        t = self.skip_modifiers(type_id)
        if t.kind not in (STRUCT, UNION):
            raise ElfError(f"BTF: {t.name or type_id!r} is not a struct")
        return [(self._names[name_off], member_type)
                for name_off, member_type, _ in struct.iter_unpack("<III", t.data)]

    def member(self, type_id: int, index: int) -> tuple[str, int, int, int]:
        """A struct's or union's member `index`: (name, type id, bit offset, bit size of
        a bitfield or 0); ElfError when there is none."""
        t = self.skip_modifiers(type_id)
        if t.kind not in (STRUCT, UNION) or not 0 <= index < t.vlen:
            raise ElfError(f"BTF: {t.name or type_id!r} has no member {index}")
        name_off, member_type, offset = struct.unpack_from("<III", t.data, 12 * index)
        if self._kflag(t):
            return self._names[name_off], member_type, offset & 0xFFFFFF, offset >> 24
        return self._names[name_off], member_type, offset, 0

    def struct_members(self, type_id: int, name: str, base: int = 0,
                       depth: int = 0) -> list[int]:
        """Byte offsets of every member of struct type `name` in the struct or union
        `type_id`, nested structs and unions included (a value's `struct bpf_spin_lock`)."""
        t = self.skip_modifiers(type_id)
        if t.kind not in (STRUCT, UNION) or depth > 16:
            return []
        found = []
        for name_off, member_type, bit_offset in struct.iter_unpack("<III", t.data):
            member = self.skip_modifiers(member_type)
            # a bitfield struct keeps the bit size in the top byte of the offset
            at = base + (bit_offset & 0xFFFFFF if t.vlen and self._kflag(t) else bit_offset) // 8
            if member.kind == STRUCT and member.name == name:
                found.append(at)
            elif member.kind in (STRUCT, UNION):
                found.extend(self.struct_members(member_type, name, at, depth + 1))
        return found

    @staticmethod
    def _kflag(t: BtfType) -> bool:
        return bool(t.info >> 31)

    def datasec(self, name: str) -> list[tuple[str, int]]:
        """(variable name, its type id) of each variable in data section `name`."""
        for t in self.types[1:]:
            if t.kind == DATASEC and t.name == name:
                out = []
                for var_id, _, _ in struct.iter_unpack("<III", t.data):
                    var = self.get(var_id)
                    out.append((var.name, var.size_or_type))
                return out
        return []


def _sections(data: bytes) -> tuple[int, int, bytes]:
    """Where a .BTF section's types start, their length, and its string table."""
    if len(data) < _HEADER.size:
        raise ElfError("BTF: the .BTF section is too short")
    magic, version, _, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != 1:
        raise ElfError(f"BTF: bad magic {magic:#x} or version {version}")
    types_at, strings_at = hdr_len + type_off, hdr_len + str_off
    if types_at + type_len > len(data) or strings_at + str_len > len(data):
        raise ElfError("BTF: the type or string section runs past the end of .BTF")
    return types_at, type_len, data[strings_at:strings_at + str_len]


def string_table(data: bytes) -> bytes:
    """The string table of a .BTF section (names; .BTF.ext's file names and lines)."""
    return _sections(data)[2]


def parse_btf(data: bytes) -> Btf:
    """Parse a .BTF section; ElfError when it is malformed."""
    types_at, type_len, strings = _sections(data)
    names: dict[int, str] = {}

    def name(offset: int) -> str:
        if offset not in names:
            if offset >= len(strings):
                raise ElfError(f"BTF: string offset {offset} is out of range")
            names[offset] = strings[offset:strings.index(b"\0", offset)].decode("utf-8",
                                                                                "replace")
        return names[offset]

    types: list[BtfType | None] = [None]
    pos, end = types_at, types_at + type_len
    while pos < end:
        name_off, info, size_or_type = _TYPE.unpack_from(data, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind not in range(1, 20):
            raise ElfError(f"BTF: unknown type kind {kind} (type id {len(types)})")
        fixed, per_item = _EXTRA.get(kind, (0, 0))
        extra = fixed + per_item * vlen
        types.append(BtfType(kind, name(name_off), size_or_type, vlen,
                             data[pos + 12:pos + 12 + extra], info))
        pos += 12 + extra
    for t in types[1:]:          # member names, resolved once
        if t.kind in (STRUCT, UNION):
            for name_off, _, _ in struct.iter_unpack("<III", t.data):
                name(name_off)
    return Btf(types, names)


def map_definitions(btf: Btf, section: str = ".maps") -> dict[str, dict]:
    """{map name: {"type", "max_entries", "key_size", "value_size", "map_flags", ...}}
    for each BTF-defined map in `section`; a map of maps has its inner definition in
    "inner", a `values` member (the `.values = {...}` initialisers) its byte
    offset in "values_offset", and a value type holding a struct bpf_spin_lock or a
    struct bpf_timer its byte offset in "spin_lock" or "timer"."""
    return {var_name: _definition(btf, var_name, type_id)
            for var_name, type_id in btf.datasec(section)}


def _definition(btf: Btf, var_name: str, type_id: int, depth: int = 0) -> dict:
    fields: dict = {}
    t = btf.skip_modifiers(type_id)
    if t.kind not in (STRUCT, UNION):
        raise ElfError(f"map {var_name!r} is not a struct of __uint/__type members")
    for (member, member_type), (_, _, bit_offset) in zip(btf.members(type_id),
                                                         struct.iter_unpack("<III", t.data)):
        declared = btf.skip_modifiers(member_type)
        if member == "values" and declared.kind == ARRAY:
            # __array(values, ...): a pointer per initial entry, to a function (a program
            # array) or to a struct (a map of maps: the inner map's definition)
            fields["values_offset"] = bit_offset // 8
            element = btf.skip_modifiers(struct.unpack_from("<III", declared.data)[0])
            target = btf.skip_modifiers(element.size_or_type) if element.kind == PTR else None
            if target is not None and target.kind in (STRUCT, UNION) and depth == 0:
                fields["inner"] = _definition(btf, f"{var_name}.values", element.size_or_type,
                                              depth + 1)
            continue
        if declared.kind != PTR:
            raise ElfError(f"map {var_name!r}: member {member!r} is not declared with "
                           f"__uint, __type or __array")
        target = btf.skip_modifiers(declared.size_or_type)
        if member in ("key", "value"):
            fields[f"{member}_size"] = btf.size(declared.size_or_type)
            if member == "value":
                for f in VALUE_FIELDS:      # a struct bpf_spin_lock, a struct bpf_timer
                    found = btf.struct_members(declared.size_or_type, f.struct)
                    if len(found) > 1:
                        raise ElfError(f"map {var_name!r}: its value type has {len(found)} "
                                       f"{f.label} members; the kernel allows one")
                    if found:
                        fields[f.attr] = found[0]
        elif target.kind == ARRAY:
            fields[member] = struct.unpack_from("<III", target.data)[2]
        else:
            raise ElfError(f"map {var_name!r}: member {member!r} is not __uint(...)")
    return fields
