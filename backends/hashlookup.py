"""bpf_map_lookup_elem on a hash map, in native code: the probe of the map's index.

`emit_hash_lookup` writes the LLVM IR of `i64 lookup(ptr index, ptr key)` for one key
size: the hash and the probe of bpfjit.maps.hashindex (whose docstring defines both),
returning the value's address or 0.  The llvm engine puts it in each program's module,
where LLVM inlines it at the call; the peachpy engine calls a copy compiled once per
process and key size (`routine_image`), which it appends to its own code.
"""

from __future__ import annotations

import functools

from llvmlite import ir

from bpfjit.codeimage import CodeImage
from bpfjit.maps import HASH_TYPES
from bpfjit.maps.hashindex import MULTIPLIER, TOMBSTONE, header_offset

__all__ = ["emit_hash_lookup", "routine_image", "native_hash_lookups", "ROUTINE"]

I8, I16, I32, I64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
ROUTINE = "bpfjit_hash_lookup"
_WIDTH = {1: I8, 2: I16, 4: I32, 8: I64}


def native_hash_lookups(verified) -> dict[int, int]:
    """pc -> map index of the map_lookup_elem calls an engine may do natively: the
    verifier knows the map (a hash map with an index) and that the key is readable."""
    maps = verified.program.maps.list
    return {pc: index for pc, index in verified.lookups.items()
            if maps[index].spec.type in HASH_TYPES and getattr(maps[index], "index", None)}


def _c(value: int):
    return ir.Constant(I64, value & (2**64 - 1))


def _key_word(b, key, at: int, length: int):
    """The little-endian word of key bytes [at, at + length), zero-extended: loads of
    8, 4, 2 and 1 bytes, never a byte past the key."""
    word, done = None, 0
    for size in (8, 4, 2, 1):
        while length - done >= size:
            part = b.load(b.gep(key, [_c(at + done)], source_etype=I8), typ=_WIDTH[size],
                          align=1)
            part = part if size == 8 else b.zext(part, I64)
            if done:
                part = b.shl(part, _c(8 * done))
            word = part if word is None else b.or_(word, part)
            done += size
    return word


def emit_hash_lookup(module: ir.Module, key_size: int, name: str,
                     linkage: str = "internal") -> ir.Function:
    """Define `i64 name(ptr index, ptr key)` for `key_size`-byte keys in `module`."""
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR]), name=name)
    fn.linkage = linkage
    fn.attributes.add("nounwind")
    index, key = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def field(name: str):
        return b.load(b.gep(index, [_c(header_offset(name))], source_etype=I8), typ=I64,
                      align=8)

    seed, mask, stride = field("seed"), field("mask"), field("stride")
    value_size, keys, values = field("value_size"), field("keys"), field("values")
    table = b.inttoptr(field("table"), PTR)
    words = [_key_word(b, key, at, min(8, key_size - at)) for at in range(0, key_size, 8)]
    h = seed
    for word in words:
        h = b.mul(b.xor(h, word), _c(MULTIPLIER))
    h = b.xor(h, b.lshr(h, _c(32)))
    tag = b.lshr(h, _c(32))
    start = b.and_(h, mask)

    loop, check, compare = (fn.append_basic_block(n) for n in ("probe", "check", "compare"))
    found, next_, missing = (fn.append_basic_block(n) for n in ("found", "next", "missing"))
    b.branch(loop)
    b.position_at_end(loop)
    position = b.phi(I64, name="position")
    position.add_incoming(start, fn.entry_basic_block)
    entry = b.load(b.gep(table, [position], source_etype=I64), typ=I64, align=8)
    b.cbranch(b.icmp_unsigned("==", entry, _c(0)), missing, check)

    b.position_at_end(check)                      # a live entry with the key's tag?
    slot_plus_one = b.and_(entry, _c(0xFFFF_FFFF))
    live = b.icmp_unsigned("!=", slot_plus_one, _c(TOMBSTONE))
    same_tag = b.icmp_unsigned("==", b.lshr(entry, _c(32)), tag)
    b.cbranch(b.and_(live, same_tag), compare, next_)

    b.position_at_end(compare)                    # stored keys are zero-padded words
    slot = b.sub(slot_plus_one, _c(1))
    stored = b.inttoptr(b.add(keys, b.mul(slot, stride)), PTR)
    equal = None
    for i, word in enumerate(words):
        other = b.load(b.gep(stored, [_c(8 * i)], source_etype=I8), typ=I64, align=8)
        same = b.icmp_unsigned("==", other, word)
        equal = same if equal is None else b.and_(equal, same)
    b.cbranch(equal, found, next_)

    b.position_at_end(found)
    b.ret(b.add(values, b.mul(slot, value_size)))

    b.position_at_end(next_)
    following = b.and_(b.add(position, _c(1)), mask)
    position.add_incoming(following, next_)
    b.branch(loop)

    b.position_at_end(missing)
    b.ret(_c(0))
    return fn


@functools.lru_cache(maxsize=None)
def routine_image(key_size: int) -> CodeImage:
    """The lookup for `key_size`-byte keys as position-independent machine code with the
    C calling convention (`ROUTINE` in its symbols); compiled once per process."""
    from .llvm import generate_object     # llvmlite's code generator
    from .objlink import link_object
    module = ir.Module(name="bpfjit_hash_lookup")
    emit_hash_lookup(module, key_size, ROUTINE, linkage="external")
    obj, _ = generate_object(str(module), 2, False)
    image = link_object(obj)
    if image.fixups or ROUTINE not in image.symbols:
        raise AssertionError("the hash lookup routine is not position independent")
    return image
