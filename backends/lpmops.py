"""An LPM trie's lookup in LLVM IR, for both JIT engines (as bpfjit.backends.mapops does
for hash maps): the steps of bpfjit.maps.lpm's `lookup_slot` in native code.

For each prefix length in use (the list the index's `extra` field points at: a u32
count, then the lengths, longest first) that is not longer than the key's own (at most
the trie's width), the key's data is masked to that length into a stack buffer behind
the length, and the trie's hash index is probed with it; the first prefix found wins.
"""

from __future__ import annotations

from llvmlite import ir

from bpfjit.maps.hashindex import header_offset

from .llvmtypes import I8, I32, I64, PTR, const

__all__ = ["emit_lpm_lookup", "MAX_NATIVE_DATA"]

MAX_NATIVE_DATA = 32        # data bytes of the widest key done natively (IPv6 needs 16)


def emit_lpm_lookup(module: ir.Module, name: str, key_size: int, hash_lookup: ir.Function,
                    linkage: str = "internal") -> ir.Function:
    """Define `i64 name(ptr index, ptr key)`: the address of the value of the longest
    stored prefix of `key`, or 0; `hash_lookup` is the index's lookup of
    `key_size`-byte keys (bpfjit.backends.mapops.emit_hash_ops)."""
    data_size = key_size - 4
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR]), name=name)
    fn.linkage = linkage
    fn.attributes.add("nounwind")
    index, key = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    buffer = b.alloca(ir.ArrayType(I8, key_size), name="probe")
    probe = b.inttoptr(b.ptrtoint(buffer, I64), PTR)     # (an untyped pointer to it)
    widest = b.zext(b.load(key, typ=I32, align=1), I64)
    limit = const(I64, data_size * 8)
    widest = b.select(b.icmp_unsigned("<", widest, limit), widest, limit)
    extra = b.gep(index, [const(I64, header_offset("extra"))], source_etype=I8)
    lengths = b.inttoptr(b.load(extra, typ=I64, align=8), PTR)
    count = b.zext(b.load(lengths, typ=I32, align=4), I64)
    head, body, skip, found, missing = (fn.append_basic_block(n) for n in
                                        ("head", "body", "skip", "found", "missing"))
    entry = b.block
    b.branch(head)

    b.position_at_end(head)                              # for j = 1 .. count
    j = b.phi(I64, name="j")
    j.add_incoming(const(I64, 1), entry)
    b.cbranch(b.icmp_unsigned(">", j, count), missing, body)

    b.position_at_end(body)                              # a length not longer than the key's
    length = b.zext(b.load(b.gep(lengths, [j], source_etype=I32), typ=I32, align=4), I64)
    fits = b.icmp_unsigned("<=", length, widest)
    probing = fn.append_basic_block("probing")
    b.cbranch(fits, probing, skip)

    b.position_at_end(probing)                           # probe = length, masked data
    b.store(b.trunc(length, I32), probe, align=1)
    for i in range(data_size):
        kept = b.sub(length, const(I64, 8 * i))          # bits of byte i in the prefix
        whole = b.icmp_signed(">=", kept, const(I64, 8))
        none = b.icmp_signed("<=", kept, const(I64, 0))
        shift = b.select(b.or_(whole, none), const(I64, 0), b.sub(const(I64, 8), kept))
        part = b.and_(b.shl(const(I64, 0xFF), shift), const(I64, 0xFF))
        mask = b.select(whole, const(I64, 0xFF), b.select(none, const(I64, 0), part))
        byte = b.load(b.gep(key, [const(I64, 4 + i)], source_etype=I8), typ=I8)
        b.store(b.and_(byte, b.trunc(mask, I8)), b.gep(probe, [const(I64, 4 + i)],
                                                       source_etype=I8))
    value = b.call(hash_lookup, [index, probe])
    b.cbranch(b.icmp_unsigned("!=", value, const(I64, 0)), found, skip)

    b.position_at_end(skip)
    j.add_incoming(b.add(j, const(I64, 1)), skip)
    b.branch(head)

    b.position_at_end(found)
    b.ret(value)
    b.position_at_end(missing)
    b.ret(const(I64, 0))
    return fn
