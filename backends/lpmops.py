"""An LPM trie's lookup, update and delete in LLVM IR, for both JIT engines (as
bpfjit.backends.mapops does for hash maps): the steps of bpfjit.maps.lpm's
`lookup_slot`, `update` and `delete` in native code, on the native state that module's
`extra_layout` describes.

A lookup tries each prefix length in use not longer than the key's own (at most the
trie's width), longest first: the key's data masked to that length goes into a stack
buffer behind the length, and the trie's hash index is probed with it; the first
prefix found wins.  An update or a delete normalizes the key the same way, lets the
index's own operation do the work, and then keeps the per-length counts, the list of
lengths in use, the key as given and the generation up to date.
"""

from __future__ import annotations

import errno

from . import irtext as ir

from bpfjit.maps.hashindex import BPF_EXIST, header_offset
from bpfjit.maps.lpm import extra_layout

from .llvmtypes import I1, I8, I32, I64, PTR, const

__all__ = ["emit_lpm_ops", "MAX_NATIVE_DATA"]

MAX_NATIVE_DATA = 32        # data bytes of the widest key done natively (IPv6 needs 16)


def _c(value: int):
    return const(I64, value)


class _LpmOp:
    """One function being emitted, with the trie's native state at hand."""

    def __init__(self, module: ir.Module, name: str, args: list, key_size: int,
                 linkage: str):
        self.fn = fn = ir.Function(module, ir.FunctionType(I64, args), name=name)
        fn.linkage = linkage
        fn.attributes.add("nounwind")
        self.index, self.key = fn.args[0], fn.args[1]
        self.key_size, self.width = key_size, 8 * (key_size - 4)
        self.layout = extra_layout(key_size)
        self.b = b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.extra = b.inttoptr(self.header("extra"), PTR)
        buffer = b.alloca(ir.ArrayType(I8, key_size), name="probe")
        self.probe = b.inttoptr(b.ptrtoint(buffer, I64), PTR)     # (an untyped pointer)
        self.length = b.zext(b.load(self.key, typ=I32, align=1), I64)

    def block(self, name: str):
        return self.fn.append_basic_block(name)

    def header(self, name: str):
        """The index's header field `name` (bpfjit.maps.hashindex), read now."""
        field = self.b.gep(self.index, [_c(header_offset(name))], source_etype=I8)
        return self.b.load(field, typ=I64, align=8)

    def u32(self, field: str, at=None):
        """A pointer to the u32 `field` of the native state (element `at` of an array)."""
        offset = _c(self.layout[field])
        if at is not None:
            offset = self.b.add(offset, self.b.mul(at, _c(4)))
        return self.b.gep(self.extra, [offset], source_etype=I8)

    def load32(self, field: str, at=None):
        return self.b.zext(self.b.load(self.u32(field, at), typ=I32, align=4), I64)

    def store32(self, value, field: str, at=None) -> None:
        self.b.store(self.b.trunc(value, I32), self.u32(field, at), align=4)

    def used(self):
        """The number of lengths in use, never more than the list holds."""
        b, slots = self.b, _c(self.width + 1)
        used = self.load32("used")
        return b.select(b.icmp_unsigned("<", used, slots), used, slots)

    def fail_if(self, condition, error: int) -> None:
        bad, good = self.block("failed"), self.block("ok")
        self.b.cbranch(condition, bad, good)
        self.b.position_at_end(bad)
        self.b.ret(_c(-error))
        self.b.position_at_end(good)

    def normalize(self, length) -> None:
        """probe = length, then the key's data with the bits past `length` cleared."""
        b = self.b
        b.store(b.trunc(length, I32), self.probe, align=1)
        for i in range(self.key_size - 4):
            kept = b.sub(length, _c(8 * i))               # bits of byte i in the prefix
            whole = b.icmp_signed(">=", kept, _c(8))
            none = b.icmp_signed("<=", kept, _c(0))
            shift = b.select(b.or_(whole, none), _c(0), b.sub(_c(8), kept))
            part = b.and_(b.shl(_c(0xFF), shift), _c(0xFF))
            mask = b.select(whole, _c(0xFF), b.select(none, _c(0), part))
            byte = b.load(b.gep(self.key, [_c(4 + i)], source_etype=I8), typ=I8)
            b.store(b.and_(byte, b.trunc(mask, I8)),
                    b.gep(self.probe, [_c(4 + i)], source_etype=I8))

    def bump_generation(self) -> None:
        self.store32(self.b.add(self.load32("generation"), _c(1)), "generation")

    def add_length(self, length) -> None:
        """One prefix of `length` more; a length newly in use goes into the list, whose
        shorter lengths move up one place."""
        b = self.b
        count = b.add(self.load32("counts", length), _c(1))
        self.store32(count, "counts", length)
        insert, done = self.block("new_length"), self.block("counted")
        used = self.load32("used")
        b.cbranch(b.and_(b.icmp_unsigned("==", count, _c(1)),
                         b.icmp_unsigned("<", used, _c(self.width + 1))), insert, done)
        b.position_at_end(insert)                           # i = used; while i and
        origin = b.block                                    # lengths[i-1] < length: shift
        loop, shift, place = self.block("shift"), self.block("move"), self.block("place")
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64, name="i")
        i.add_incoming(used, origin)
        at_start = b.icmp_unsigned("==", i, _c(0))
        before = b.select(at_start, _c(0), b.sub(i, _c(1)))
        shorter = b.icmp_unsigned("<", self.load32("lengths", before), length)
        b.cbranch(b.and_(b.not_(at_start), shorter), shift, place)
        b.position_at_end(shift)
        self.store32(self.load32("lengths", before), "lengths", i)
        i.add_incoming(before, shift)
        b.branch(loop)
        b.position_at_end(place)
        self.store32(length, "lengths", i)
        self.store32(b.add(used, _c(1)), "used")
        b.branch(done)
        b.position_at_end(done)

    def remove_length(self, length) -> None:
        """One prefix of `length` fewer; a length no longer in use leaves the list, whose
        later lengths move down one place."""
        b = self.b
        count = self.load32("counts", length)
        some, done = self.block("some"), self.block("uncounted")
        b.cbranch(b.icmp_unsigned("!=", count, _c(0)), some, done)
        b.position_at_end(some)
        count = b.sub(count, _c(1))
        self.store32(count, "counts", length)
        remove = self.block("unused_length")
        b.cbranch(b.icmp_unsigned("==", count, _c(0)), remove, done)
        b.position_at_end(remove)
        used = self.used()
        origin = b.block
        find, check, shift, move, close = (self.block(n) for n in
                                           ("find", "check", "shift", "move", "close"))
        b.branch(find)
        b.position_at_end(find)                             # i: where length is
        i = b.phi(I64, name="i")
        i.add_incoming(_c(0), origin)
        b.cbranch(b.icmp_unsigned(">=", i, used), done, check)
        b.position_at_end(check)
        found = b.icmp_unsigned("==", self.load32("lengths", i), length)
        i.add_incoming(b.add(i, _c(1)), check)
        b.cbranch(found, shift, find)
        b.position_at_end(shift)                            # k = i .. used - 2:
        k = b.phi(I64, name="k")                            #   lengths[k] = lengths[k+1]
        k.add_incoming(i, check)
        after = b.add(k, _c(1))
        b.cbranch(b.icmp_unsigned("<", after, used), move, close)
        b.position_at_end(move)
        self.store32(self.load32("lengths", after), "lengths", k)
        k.add_incoming(after, move)
        b.branch(shift)
        b.position_at_end(close)
        self.store32(b.sub(used, _c(1)), "used")
        b.branch(done)
        b.position_at_end(done)


def _lookup(op: _LpmOp, hash_ops: dict) -> None:
    b = op.b
    limit = _c(op.width)
    widest = b.select(b.icmp_unsigned("<", op.length, limit), op.length, limit)
    used = op.used()
    entry = b.block
    head, body, probing, skip, found, missing = (op.block(n) for n in (
        "head", "body", "probing", "skip", "found", "missing"))
    b.branch(head)
    b.position_at_end(head)                              # for j = 0 .. used - 1
    j = b.phi(I64, name="j")
    j.add_incoming(_c(0), entry)
    b.cbranch(b.icmp_unsigned(">=", j, used), missing, body)
    b.position_at_end(body)                              # a length not longer than the key's
    length = op.load32("lengths", j)
    b.cbranch(b.icmp_unsigned("<=", length, widest), probing, skip)
    b.position_at_end(probing)
    op.normalize(length)
    value = b.call(hash_ops["lookup"], [op.index, op.probe])
    b.cbranch(b.icmp_unsigned("!=", value, _c(0)), found, skip)
    b.position_at_end(skip)
    j.add_incoming(b.add(j, _c(1)), skip)
    b.branch(head)
    b.position_at_end(found)
    b.ret(value)
    b.position_at_end(missing)
    b.ret(_c(0))


def _update(op: _LpmOp, hash_ops: dict) -> None:
    b = op.b
    value, flags = op.fn.args[2], op.fn.args[3]
    op.fail_if(b.icmp_unsigned(">", flags, _c(BPF_EXIST)), errno.EINVAL)
    op.fail_if(b.icmp_unsigned(">", op.length, _c(op.width)), errno.EINVAL)
    op.normalize(op.length)
    before = op.header("count")
    result = b.call(hash_ops["update"], [op.index, op.probe, value, flags])
    op.fail_if(b.icmp_unsigned("==", result, _c(-errno.E2BIG)), errno.ENOSPC)
    failed, stored = op.block("update_failed"), op.block("stored")
    b.cbranch(b.icmp_unsigned("!=", result, _c(0)), failed, stored)
    b.position_at_end(failed)
    b.ret(result)
    b.position_at_end(stored)                            # the key as given, in its slot
    # (the index's update gives no slot: a lookup finds the value, whose slot it is)
    address = b.call(hash_ops["lookup"], [op.index, op.probe])
    size = op.header("value_size")
    slot = b.udiv(b.sub(address, op.header("values")), b.select(
        b.icmp_unsigned("==", size, _c(0)), _c(1), size))
    keep, counted = op.block("keep_key"), op.block("kept")
    b.cbranch(b.and_(b.icmp_unsigned("!=", address, _c(0)),
                     b.icmp_unsigned("<", slot, op.header("max_entries"))), keep, counted)
    b.position_at_end(keep)
    given = b.gep(op.extra, [b.add(_c(op.layout["given"]), b.mul(slot, _c(op.key_size)))],
                  source_etype=I8)
    memcpy = b.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
    b.call(memcpy, [given, op.key, _c(op.key_size), const(I1, 0)])
    added, done = op.block("added"), op.block("done")
    b.cbranch(b.icmp_unsigned("!=", op.header("count"), before), added, done)
    b.position_at_end(added)
    op.add_length(op.length)
    b.branch(done)
    b.position_at_end(counted)
    b.branch(done)
    b.position_at_end(done)
    op.bump_generation()
    b.ret(_c(0))


def _delete(op: _LpmOp, hash_ops: dict) -> None:
    b = op.b
    op.fail_if(b.icmp_unsigned(">", op.length, _c(op.width)), errno.EINVAL)
    op.normalize(op.length)
    result = b.call(hash_ops["delete"], [op.index, op.probe])
    failed, removed = op.block("delete_failed"), op.block("removed")
    b.cbranch(b.icmp_unsigned("!=", result, _c(0)), failed, removed)
    b.position_at_end(failed)
    b.ret(result)
    b.position_at_end(removed)
    op.remove_length(op.length)
    op.bump_generation()
    b.ret(_c(0))


_ARGS = {"lookup": [PTR, PTR], "update": [PTR, PTR, PTR, I64], "delete": [PTR, PTR]}


def emit_lpm_ops(module: ir.Module, prefix: str, key_size: int, hash_ops: dict,
                 linkage: str = "internal") -> dict:
    """Define `<prefix>_lookup` (`i64 (ptr index, ptr key)`: the address of the value
    of the longest stored prefix of key, or 0), `_update` (`i64 (ptr index, ptr key,
    ptr value, i64 flags)`: 0 or a negative errno) and `_delete` (`i64 (ptr index, ptr
    key)`) for a trie of `key_size`-byte keys; `hash_ops` are the index's own
    operations on keys of that size (bpfjit.backends.mapops.emit_hash_ops)."""
    functions = {}
    for operation, emit in (("lookup", _lookup), ("update", _update), ("delete", _delete)):
        op = _LpmOp(module, f"{prefix}_{operation}", _ARGS[operation], key_size, linkage)
        emit(op, hash_ops)
        functions[operation] = op.fn
    return functions
