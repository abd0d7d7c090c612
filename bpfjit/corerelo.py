"""CO-RE relocations: the records clang writes into `.BTF.ext` for every access to a
type marked `preserve_access_index` (each struct of a `vmlinux.h`, or a program's own
definition of one), which libbpf resolves against the running kernel's BTF before it
loads a program.

bpfjit resolves them against what it provides: a field of a context struct it runs
(`struct xdp_md`, `struct __sk_buff`, ... : `CONTEXT_STRUCTS`) is found by name in
that context's field table, so a program that declares its own `struct xdp_md` with
64-bit `data` and `data_end` (userspace-xdp's benchmark programs, written for user-space
runtimes and loaded into the kernel through CO-RE) reads the real fields, and
`bpf_core_field_exists()` of a field bpfjit's context lacks is 0.  Everything else keeps
the value clang compiled: the local type is taken for the kernel's, as the network
headers, stable since long, are.

The records (bpfjit.btfext reads the container) are (byte offset of the instruction
in its section, local root type id, access string offset, kind).  The access string
"0:1:2" is an index into the root pointer, then a member index or an array index per
level.  Patching follows libbpf: an ALU immediate, a load's or store's offset (and,
for a field of another size, the access's size), or lddw's 64-bit immediate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .btf import ARRAY, STRUCT, UNION, Btf
from .btfext import CORE_RELO, ext_records, string_reader
from .context import CONTEXTS
from .errors import ElfError
from .isa import Insn, Kind, find_spec

__all__ = ["CoreRelo", "parse_core_relos", "apply_core_relo", "CONTEXT_STRUCTS"]

_RECORD = struct.Struct("<IIII")               # insn_off, type_id, access_str_off, kind

(FIELD_BYTE_OFFSET, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64,
 FIELD_RSHIFT_U64, TYPE_ID_LOCAL, TYPE_ID_TARGET, TYPE_EXISTS, TYPE_SIZE, ENUMVAL_EXISTS,
 ENUMVAL_VALUE, TYPE_MATCHES) = range(13)
_FIELD_KINDS = range(FIELD_BYTE_OFFSET, FIELD_RSHIFT_U64 + 1)

# the UAPI structs bpfjit's contexts are (bpfjit.context.CONTEXTS keys)
CONTEXT_STRUCTS = {"xdp_md": "xdp", "__sk_buff": "skb", "bpf_sock_addr": "sock_addr",
                   "bpf_sock": "sock", "bpf_sock_ops": "sock_ops", "sk_msg_md": "sk_msg",
                   "bpf_sockopt": "sockopt", "bpf_sk_lookup": "sk_lookup",
                   "bpf_cgroup_dev_ctx": "device", "bpf_sysctl": "sysctl"}
_SIZE_BITS = {4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18}     # BPF_W, BPF_H, BPF_B, BPF_DW


@dataclass(frozen=True)
class CoreRelo:
    """One relocation: the instruction at byte `insn_off` of its section, the local root
    type, the access path and what is asked (FIELD_BYTE_OFFSET, ...)."""
    insn_off: int
    type_id: int
    access: tuple[int, ...]
    kind: int


def parse_core_relos(btf: bytes, ext: bytes) -> dict[str, list[CoreRelo]]:
    """{code section name: [CoreRelo]} from a `.BTF` and a `.BTF.ext` section ({} when
    clang wrote none); ElfError when they are malformed."""
    string = string_reader(btf)
    out: dict[str, list[CoreRelo]] = {}
    for name_off, records in ext_records(ext, CORE_RELO, _RECORD.size):
        relos = out.setdefault(string(name_off), [])
        for at in records:
            insn_off, type_id, access_off, kind = _RECORD.unpack_from(ext, at)
            try:
                access = tuple(int(part) for part in string(access_off).split(":"))
            except ValueError:
                raise ElfError(f"BTF.ext: a CO-RE access string that is not numbers: "
                               f"{string(access_off)!r}") from None
            relos.append(CoreRelo(insn_off, type_id, access, kind))
    return out


@dataclass(frozen=True)
class _Field:
    """A field as the local type lays it out: the root struct's essential name, the
    member names (and array indexes) on the way, its byte offset and size."""
    root: str
    path: tuple
    offset: int
    size: int
    bitfield: bool


def _local_field(btf: Btf, relo: CoreRelo) -> _Field:
    """Walk a field relocation's access path through the local types."""
    root = btf.skip_modifiers(relo.type_id)
    bits = relo.access[0] * btf.size(relo.type_id) * 8
    type_id, path, bitfield = relo.type_id, [], False
    for index in relo.access[1:]:
        t = btf.skip_modifiers(type_id)
        if t.kind in (STRUCT, UNION):
            name, type_id, bit_offset, bit_size = btf.member(type_id, index)
            bits += bit_offset
            bitfield = bit_size != 0
            path.append(name)
        elif t.kind == ARRAY:
            elem, _, _ = struct.unpack_from("<III", t.data)
            bits += index * btf.size(elem) * 8
            type_id = elem
            path.append(index)
        else:
            raise ElfError(f"BTF.ext: a CO-RE access path goes into {t.name or 'a type'} "
                           f"that has no members")
    return _Field(root.name.split("___")[0], tuple(path), bits // 8, btf.size(type_id),
                  bitfield)


def _context_field(field: _Field):
    """The field of a context bpfjit provides that a local field names (None: not one
    of them, or not a field that context has)."""
    context = CONTEXT_STRUCTS.get(field.root)
    if context is None or field.bitfield:
        return None
    path = [part for part in field.path if part != ""]      # anonymous unions
    fields = CONTEXTS[context].FIELDS
    if len(path) == 1 and isinstance(path[0], str):
        return fields.get(path[0])
    if len(path) == 2 and isinstance(path[0], str) and isinstance(path[1], int):
        return fields.get(f"{path[0]}{path[1]}") or fields.get(f"{path[0]}_{path[1]}")
    return None


def _compiled(field: _Field) -> bool:
    """Whether a context's field table has a field where the local type puts this one
    (the UAPI struct itself, as a vmlinux.h declares it)."""
    context = CONTEXT_STRUCTS.get(field.root)
    return context is not None and any(
        f.offset == field.offset and f.size == field.size
        for f in CONTEXTS[context].FIELDS.values())


def _values(btf: Btf, relo: CoreRelo) -> tuple[int, int, tuple[int, int]] | None:
    """(the value clang compiled, the one for bpfjit, the field's local and bpfjit's
    size), or None where bpfjit keeps the compiled value."""
    if relo.kind not in _FIELD_KINDS:
        return None                 # type and enum relocations: the local answer
    field = _local_field(btf, relo)
    if CONTEXT_STRUCTS.get(field.root) is None or relo.access[0] != 0:
        return None                 # (another type; or past the context, not a field)
    target = _context_field(field)
    sizes = (field.size, target.size if target is not None else field.size)
    if relo.kind == FIELD_EXISTS:
        return 1, int(target is not None or _compiled(field)), sizes
    if target is None or relo.kind == FIELD_SIGNED:
        return None                 # (a field bpfjit lacks; signedness: the local one)
    if relo.kind == FIELD_BYTE_OFFSET:
        return field.offset, target.offset, sizes
    if relo.kind == FIELD_BYTE_SIZE:
        return field.size, target.size, sizes
    return 64 - 8 * field.size, 64 - 8 * target.size, sizes     # the shifts of a whole field


def apply_core_relo(btf: Btf, relo: CoreRelo, insn: Insn, where: str) -> Insn:
    """`insn` with the relocation's value for bpfjit's contexts in it (unchanged where
    bpfjit keeps what clang compiled); ElfError, naming `where`, for an instruction the
    relocation cannot be applied to."""
    values = _values(btf, relo)
    if values is None:
        return insn
    local, new, (local_size, size) = values
    if local == new and (relo.kind != FIELD_BYTE_OFFSET or local_size == size):
        return insn
    if insn.kind is Kind.ALU and insn.spec.source == "imm":
        if insn.imm != local:
            raise ElfError(f"{where}: a CO-RE relocation expects immediate {local}, the "
                           f"instruction has {insn.imm}")
        return Insn(insn.spec, insn.dst, insn.src, insn.off, new)
    if insn.kind is Kind.LDDW:
        return Insn(insn.spec, insn.dst, insn.src, insn.off, new & 0xFFFFFFFF,
                    (new >> 32) & 0xFFFFFFFF)
    if insn.kind in (Kind.LDX, Kind.LDSX, Kind.ST, Kind.STX):
        if insn.off != local:
            raise ElfError(f"{where}: a CO-RE relocation expects offset {local}, the "
                           f"instruction has {insn.off}")
        spec = insn.spec
        if relo.kind == FIELD_BYTE_OFFSET and size != local_size:
            if spec.size != local_size or size not in _SIZE_BITS:
                raise ElfError(f"{where}: a CO-RE relocation of a {local_size}-byte field to "
                               f"a {size}-byte one, accessed with {spec.size} bytes")
            spec = find_spec((spec.opcode & ~0x18) | _SIZE_BITS[size], insn.src, insn.off,
                             insn.imm)
            if spec is None:
                raise ElfError(f"{where}: a CO-RE relocation would make a {size}-byte "
                               f"{insn.spec.mnemonic}, which does not exist")
        return Insn(spec, insn.dst, insn.src, new, insn.imm)
    raise ElfError(f"{where}: a CO-RE relocation on a {insn.spec.mnemonic}, which takes "
                   f"none")
