"""Map helpers in native code: lookup, update and delete on a hash map's native index,
and updates of array maps.

`emit_hash_ops` writes the LLVM IR of three functions for one key size — the steps of
bpfjit.maps.hashindex, whose docstring defines the layout, the hash and the probe:

    i64 lookup(ptr index, ptr key)                     the value's address, or 0
    i64 update(ptr index, ptr key, ptr value, i64 flags)   0 or a negative errno
    i64 delete(ptr index, ptr key)                     0 or -ENOENT
    i64 next(ptr index, i64 slot)      the first slot >= slot holding a key, or max_entries
                                       (bpf_for_each_map_elem's walk: Map.next_slot)

`emit_array_update` writes `i64 update(ptr values, ptr key, ptr value, i64 flags,
i64 max_entries, i64 value_size)` for array maps (a delete is always -EINVAL; lookups
the JITs compute inline).  The llvm engine puts these in each program's module (sizes
constant), where LLVM inlines them at the calls; the peachpy engine appends a copy
compiled once per process and kind (`routine_image`) to its code and calls it.  The
verifier has proved the key (and value) readable at every call that reaches them.
"""

from __future__ import annotations

import errno
import functools

from . import irtext as ir

from bpfjit.codeimage import CodeImage
from bpfjit.maps import (ARRAY_OF_MAPS, ARRAY_TYPES, HASH_OF_MAPS, HASH_TYPES, LPM_TRIE,
                         LRU_TYPES)
from bpfjit.helpers.maps import MAP_OPERATIONS, NATIVE_MAP_HELPERS, TAIL_CALL
from bpfjit.helpers.redirect import REDIRECT_MAP
from bpfjit.maps.redirect import INDEXED_TARGET_TYPES
from bpfjit.maps.hashindex import BPF_EXIST, BPF_NOEXIST, MULTIPLIER, NONE, header_offset

from .llvmtypes import I1, I8, I32, I64, INT, PTR, const
from .lpmops import MAX_NATIVE_DATA, emit_lpm_ops

__all__ = ["emit_hash_ops", "emit_array_update", "routine_image", "routine_kind",
           "routine_symbol", "routine_operations", "native_map_calls", "inline_lookups",
           "tail_call_slots", "redirect_map_slots", "native_answers",
           "kind_groups", "NATIVE_MAP_HELPERS", "OPERATIONS"]

OPERATIONS = MAP_OPERATIONS                                 # helper id -> operation
_ARGS = {"lookup": [PTR, PTR], "update": [PTR, PTR, PTR, I64], "delete": [PTR, PTR],
         "next": [PTR, I64]}


def native_map_calls(verified) -> dict[int, tuple[int, ...]]:
    """pc -> the map indices of the map_lookup_elem / update_elem / delete_elem calls an
    engine may do natively: the verifier proved the pointers the helper reads in bounds
    for every map r1 may be, and those maps are hash, LRU hash maps or LPM tries (the
    engine picks the map's index from r1's handle at run time, and with it the routine
    of the map's kind and sizes: `kind_groups`), or one array programs may write (array
    lookups are left to the engines' inline code)."""
    prog = verified.program
    maps, native = prog.maps.list, {}
    for pc, indices in verified.map_calls.items():
        if prog.at(pc).imm not in OPERATIONS:
            continue                                # (tail calls: tail_call_slots)
        kinds = {(routine_kind(maps[i]), maps[i].value_size) for i in indices}
        first = maps[indices[0]]
        if all(maps[i].spec.type in HASH_TYPES + LRU_TYPES or routine_kind(maps[i])[0] == "lpm"
               for i in indices):
            native[pc] = indices
            continue
        if len(kinds) != 1:
            continue
        if first.spec.type == HASH_OF_MAPS and prog.at(pc).imm == 1:
            native[pc] = indices        # (programs may only look up in a map of maps)
        elif first.spec.type in ARRAY_TYPES and len(indices) == 1 and not first.read_only \
                and prog.at(pc).imm in (2, 3):
            native[pc] = indices
    return native


def kind_groups(maps, indices: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The candidate maps of one native call grouped by the routine that serves them
    (kind and sizes), in the order of their first index."""
    groups: dict[tuple, list[int]] = {}
    for i in indices:
        groups.setdefault((routine_kind(maps[i]), maps[i].value_size), []).append(i)
    return [tuple(group) for group in groups.values()]


def inline_lookups(verified, native_maps) -> dict[int, int]:
    """pc -> the map of the map_lookup_elem calls the JITs do in line, without a call:
    an array's `&values[key]`, or an array of maps' inner map handle (its arena holds 1 +
    the inner map's index per entry, 0 when empty); none when the caller replaced
    helper 1 (not in `native_maps`)."""
    if 1 not in native_maps:
        return {}
    prog = verified.program
    maps = prog.maps.list
    return {pc: indices[0] for pc, indices in verified.map_calls.items()
            if prog.at(pc).imm == 1 and len(indices) == 1
            and maps[indices[0]].spec.type in ARRAY_TYPES + (ARRAY_OF_MAPS,)}


def redirect_map_slots(verified, native_maps) -> dict[int, int]:
    """pc -> the map of the bpf_redirect_map calls of an XDP program the JITs answer in
    line: the verifier knows the one map r1 is, a devmap, cpumap or xskmap (an entry's
    presence is a byte after the values, `maps.redirect.presence_at`); none when the
    caller replaced helper 51."""
    prog = verified.program
    if REDIRECT_MAP not in native_maps or prog.context != "xdp":
        return {}
    maps = prog.maps.list
    return {pc: indices[0] for pc, indices in verified.map_calls.items()
            if prog.at(pc).imm == REDIRECT_MAP and len(indices) == 1
            and maps[indices[0]].spec.type in INDEXED_TARGET_TYPES
            and maps[indices[0]].size < 1 << 31}


def native_answers(table, verified, helpers) -> frozenset[int]:
    """Set up a JIT program's helper table for what native code answers, and return
    the map helpers the JIT code may answer itself (those the caller did not replace):
    helpers with a native routine (backends.helperops) point at it, and an in-line
    bpf_redirect_map is noted."""
    from .helperops import native_helper_ids
    routines = native_helper_ids(verified, helpers)
    for hid, address in routines.items():
        table.set_native(hid, address)
    native = NATIVE_MAP_HELPERS - set(helpers or {})
    if redirect_map_slots(verified, native):
        table.answered_in_line(REDIRECT_MAP)    # (the run's redirect is in the block)
    return native


def tail_call_slots(verified, native_maps) -> dict[int, int]:
    """pc -> the program array of the tail calls whose slot the JITs test in line (the
    verifier knows the one array r2 is; its arena holds 1 + the index of a set entry,
    0 for an empty one): an empty slot or an index past the array answers -ENOENT
    there, a set one calls the helper; none when the caller replaced helper 12."""
    if TAIL_CALL not in native_maps:
        return {}
    prog = verified.program
    return {pc: indices[0] for pc, indices in verified.map_calls.items()
            if prog.at(pc).imm == TAIL_CALL and len(indices) == 1}


def routine_kind(the_map) -> tuple:
    """Which native routines serve a map: ("hash", key size, LRU?), ("array",),
    ("lpm", key size) for an LPM trie, or ("none",) for the kinds that have none."""
    if the_map.spec.type in ARRAY_TYPES:
        return ("array",)
    if the_map.spec.type in HASH_TYPES + LRU_TYPES + (HASH_OF_MAPS,):
        return ("hash", the_map.key_size, the_map.spec.type in LRU_TYPES)
    if the_map.spec.type == LPM_TRIE and the_map.key_size - 4 <= MAX_NATIVE_DATA:
        return ("lpm", the_map.key_size)
    return ("none",)


def routine_operations(kind: tuple) -> list[str]:
    """The operations routine_image(kind) defines."""
    if kind[0] == "array":
        return ["update"]
    return list(OPERATIONS.values()) + (["next"] if kind[0] == "hash" else [])


def _c(value: int):
    return const(I64, value)


def _key_word(b, key, at: int, length: int):
    """The little-endian word of key bytes [at, at + length), zero-extended: loads of
    8, 4, 2 and 1 bytes, never a byte past the key."""
    word, done = None, 0
    for size in (8, 4, 2, 1):
        while length - done >= size:
            part = b.load(b.gep(key, [_c(at + done)], source_etype=I8), typ=INT[8 * size],
                          align=1)
            part = part if size == 8 else b.zext(part, I64)
            if done:
                part = b.shl(part, _c(8 * done))
            word = part if word is None else b.or_(word, part)
            done += size
    return word


class _Op:
    """One function being emitted: the header, the key's words and hash, the probe, and
    the steps the operations share."""

    def __init__(self, module, name: str, operation: str, key_size: int,
                 value_size: int | None, lru: bool):
        self.fn = fn = ir.Function(module, ir.FunctionType(I64, _ARGS[operation]), name=name)
        fn.attributes.add("nounwind")
        self.index, self.key, self.lru = fn.args[0], fn.args[1], lru
        self.b = b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.value_size = _c(value_size) if value_size is not None else \
            self.field("value_size")
        self.key_size = key_size
        self.mask = self.field("mask")
        self.table = b.inttoptr(self.field("table"), PTR)
        if operation == "next":             # (no key argument: the stored keys')
            self.words, self.h = [], None
            return
        self.words = [_key_word(b, self.key, at, min(8, key_size - at))
                      for at in range(0, key_size, 8)]
        self.h = self.hash_of(self.words)

    # ---- the header and the table ------------------------------------------------------------

    def field(self, name: str):
        return self.b.load(self.field_pointer(name), typ=I64, align=8)

    def field_pointer(self, name: str):
        return self.b.gep(self.index, [_c(header_offset(name))], source_etype=I8)

    def entry_pointer(self, position):
        return self.b.gep(self.table, [position], source_etype=I64)

    def u32_pointer(self, array: str, slot):
        return self.b.gep(self.b.inttoptr(self.field(array), PTR), [slot], source_etype=I32)

    def block(self, name: str):
        return self.fn.append_basic_block(name)

    def stored_key(self, slot):
        return self.b.inttoptr(self.b.add(self.field("keys"),
                                          self.b.mul(slot, self.field("stride"))), PTR)

    def stored_words(self, slot) -> list:
        """The words of the key stored in `slot` (zero-padded, as the probe compares)."""
        stored = self.stored_key(slot)
        return [self.b.load(self.b.gep(stored, [_c(8 * i)], source_etype=I8), typ=I64,
                            align=8) for i in range((self.key_size + 7) // 8)]

    def hash_of(self, words):
        b = self.b
        h = self.field("seed")
        for word in words:
            h = b.mul(b.xor(h, word), _c(MULTIPLIER))
        return b.xor(h, b.lshr(h, _c(32)))

    # ---- finding a key -------------------------------------------------------------------------

    def probe(self, words=None, h=None):
        """The probe loop for `words` hashing to `h` (the argument key's by default);
        returns (found block, its position, its slot, missing block), where the
        position is also that of the empty entry ending the probe.  Builder: unpositioned."""
        b = self.b
        words, h = words or self.words, h or self.h
        limit = self.field("max_entries")
        start, low = b.and_(h, self.mask), b.and_(h, _c(0xFFFF_FFFF))
        origin = b.block
        loop, check, compare = self.block("probe"), self.block("check"), self.block("compare")
        found, following, missing = self.block("found"), self.block("next"), \
            self.block("missing")
        b.branch(loop)
        b.position_at_end(loop)
        position = b.phi(I64, name="position")
        position.add_incoming(start, origin)
        entry = b.load(self.entry_pointer(position), typ=I64, align=8)
        b.cbranch(b.icmp_unsigned("==", entry, _c(0)), missing, check)

        b.position_at_end(check)                  # the hash's low half, a valid slot?
        slot = b.sub(b.lshr(entry, _c(32)), _c(1))
        candidate = b.and_(b.icmp_unsigned("==", b.and_(entry, _c(0xFFFF_FFFF)), low),
                           b.icmp_unsigned("<", slot, limit))
        b.cbranch(candidate, compare, following)

        b.position_at_end(compare)                # stored keys are zero-padded words
        stored = self.stored_key(slot)
        equal = None
        for i, word in enumerate(words):
            other = b.load(b.gep(stored, [_c(8 * i)], source_etype=I8), typ=I64, align=8)
            same = b.icmp_unsigned("==", other, word)
            equal = same if equal is None else b.and_(equal, same)
        b.cbranch(equal, found, following)

        b.position_at_end(following)
        position.add_incoming(b.and_(b.add(position, _c(1)), self.mask), following)
        b.branch(loop)
        return found, position, slot, missing

    # ---- values -----------------------------------------------------------------------------

    def value_address(self, slot):
        return self.b.add(self.field("values"), self.b.mul(slot, self.value_size))

    def copy_value(self, slot, value) -> None:
        b = self.b
        memcpy = b.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        b.call(memcpy, [b.inttoptr(self.value_address(slot), PTR), value, self.value_size,
                        const(I1, 0)])

    # ---- removing a key ----------------------------------------------------------------------

    def remove_at(self, position, slot) -> None:
        """Remove the entry at `position` (of `slot`): shift back the entries after it,
        unless that would put one before its home; the slot back on the free stack."""
        b, mask = self.b, self.mask
        origin = b.block
        first = b.and_(b.add(position, _c(1)), mask)
        loop, look, move, advance, done = (self.block(n) for n in
                                           ("shift", "look", "move", "advance", "shifted"))
        b.branch(loop)
        b.position_at_end(loop)
        hole, following = b.phi(I64, name="hole"), b.phi(I64, name="following")
        hole.add_incoming(position, origin)
        following.add_incoming(first, origin)
        entry = b.load(self.entry_pointer(following), typ=I64, align=8)
        b.cbranch(b.icmp_unsigned("==", entry, _c(0)), done, look)

        b.position_at_end(look)                   # its home cyclically in (hole, following]?
        home = b.and_(entry, mask)
        stays = b.icmp_unsigned("<", b.and_(b.sub(b.sub(home, hole), _c(1)), mask),
                                b.and_(b.sub(following, hole), mask))
        b.cbranch(stays, advance, move)
        b.position_at_end(move)
        b.store(entry, self.entry_pointer(hole), align=8)
        b.branch(advance)
        b.position_at_end(advance)
        new_hole = b.phi(I64, name="new_hole")
        new_hole.add_incoming(hole, look)
        new_hole.add_incoming(following, move)
        hole.add_incoming(new_hole, advance)
        following.add_incoming(b.and_(b.add(following, _c(1)), mask), advance)
        b.branch(loop)

        b.position_at_end(done)
        b.store(_c(0), self.entry_pointer(hole), align=8)
        if self.lru:
            self.unlink(slot)
        top_field = self.field_pointer("free_top")
        top = b.load(top_field, typ=I64, align=8)
        push, counted = self.block("push"), self.block("counted")
        b.cbranch(b.icmp_unsigned("<", top, self.field("max_entries")), push, counted)
        b.position_at_end(push)
        b.store(b.trunc(slot, I32), self.u32_pointer("free", top), align=4)
        b.store(b.add(top, _c(1)), top_field, align=8)
        b.branch(counted)
        b.position_at_end(counted)
        count = self.field_pointer("count")
        b.store(b.sub(b.load(count, typ=I64, align=8), _c(1)), count, align=8)

    # ---- the LRU list (slot numbers as u32, NONE at the ends) ----------------------------

    def _set_link(self, array: str, slot, value, end: str) -> None:
        """array[slot] = value, or the header's `end` when slot is NONE."""
        b = self.b
        real, none, join = self.block("link"), self.block("end"), self.block("linked")
        b.cbranch(b.icmp_unsigned("!=", slot, _c(NONE)), real, none)
        b.position_at_end(real)
        b.store(b.trunc(value, I32), self.u32_pointer(array, slot), align=4)
        b.branch(join)
        b.position_at_end(none)
        b.store(value, self.field_pointer(end), align=8)
        b.branch(join)
        b.position_at_end(join)

    def unlink(self, slot) -> None:
        b = self.b
        before = b.zext(b.load(self.u32_pointer("prev", slot), typ=I32, align=4), I64)
        after = b.zext(b.load(self.u32_pointer("next", slot), typ=I32, align=4), I64)
        self._set_link("next", before, after, "oldest")
        self._set_link("prev", after, before, "newest")

    def append(self, slot) -> None:
        b = self.b
        newest = self.field("newest")
        b.store(b.trunc(newest, I32), self.u32_pointer("prev", slot), align=4)
        b.store(const(I32, NONE), self.u32_pointer("next", slot), align=4)
        self._set_link("next", newest, slot, "oldest")
        b.store(slot, self.field_pointer("newest"), align=8)

    def touch(self, slot) -> None:
        """`slot` was used: it becomes the newest."""
        b = self.b
        move, done = self.block("touch"), self.block("touched")
        b.cbranch(b.icmp_unsigned("!=", self.field("newest"), slot), move, done)
        b.position_at_end(move)
        self.unlink(slot)
        self.append(slot)
        b.branch(done)
        b.position_at_end(done)


def _lookup(op: _Op) -> None:
    b = op.b
    found, _, slot, missing = op.probe()
    b.position_at_end(found)
    if op.lru:
        op.touch(slot)
    b.ret(op.value_address(slot))
    b.position_at_end(missing)
    b.ret(_c(0))


def _update(op: _Op) -> None:
    b = op.b
    value, flags = op.fn.args[2], op.fn.args[3]
    bad, probe = op.block("bad_flags"), op.block("flags_ok")
    b.cbranch(b.icmp_unsigned(">", flags, _c(BPF_EXIST)), bad, probe)
    b.position_at_end(bad)
    b.ret(_c(-errno.EINVAL))
    b.position_at_end(probe)
    found, position, slot, missing = op.probe()

    b.position_at_end(found)                      # an existing key: a new value
    exists, overwrite = op.block("exists"), op.block("overwrite")
    b.cbranch(b.icmp_unsigned("==", flags, _c(BPF_NOEXIST)), exists, overwrite)
    b.position_at_end(exists)
    b.ret(_c(-errno.EEXIST))
    b.position_at_end(overwrite)
    if op.lru:
        op.touch(slot)
    op.copy_value(slot, value)
    b.ret(_c(0))

    b.position_at_end(missing)                    # a new key: a free slot, if any
    absent, insert = op.block("absent"), op.block("insert")
    b.cbranch(b.icmp_unsigned("==", flags, _c(BPF_EXIST)), absent, insert)
    b.position_at_end(absent)
    b.ret(_c(-errno.ENOENT))
    b.position_at_end(insert)
    full, take = op.block("full"), op.block("take")
    top = b.load(op.field_pointer("free_top"), typ=I64, align=8)
    if op.lru:
        position = _evict_if_full(op, top, position, take, full)
    else:
        b.cbranch(b.icmp_unsigned("==", top, _c(0)), full, take)
    b.position_at_end(full)
    b.ret(_c(-errno.E2BIG))
    b.position_at_end(take)
    top = b.load(op.field_pointer("free_top"), typ=I64, align=8)
    taken = b.zext(b.load(op.u32_pointer("free", b.sub(top, _c(1))), typ=I32, align=4), I64)
    valid = op.block("valid")
    b.cbranch(b.and_(b.icmp_unsigned("!=", top, _c(0)),
                     b.icmp_unsigned("<", taken, op.field("max_entries"))), valid, full)
    b.position_at_end(valid)
    b.store(b.sub(top, _c(1)), op.field_pointer("free_top"), align=8)
    stored = op.stored_key(taken)
    for i, word in enumerate(op.words):
        b.store(word, b.gep(stored, [_c(8 * i)], source_etype=I8), align=8)
    op.copy_value(taken, value)
    entry = b.or_(b.shl(b.add(taken, _c(1)), _c(32)), b.and_(op.h, _c(0xFFFF_FFFF)))
    b.store(entry, op.entry_pointer(position), align=8)    # the key first, then the entry
    count = op.field_pointer("count")
    b.store(b.add(b.load(count, typ=I64, align=8), _c(1)), count, align=8)
    if op.lru:
        op.append(taken)
    b.ret(_c(0))


def _evict_if_full(op: _Op, top, position, take, full):
    """LRU: with no free slot, remove the oldest key, then find the new key's place
    again (the removal may have moved entries); the position to insert at, in `take`."""
    b = op.b
    origin = b.block
    evict = op.block("evict")
    b.cbranch(b.icmp_unsigned("==", top, _c(0)), evict, take)
    b.position_at_end(evict)
    oldest = op.field("oldest")
    some = op.block("victim")
    b.cbranch(b.icmp_unsigned("<", oldest, op.field("max_entries")), some, full)
    b.position_at_end(some)
    words = op.stored_words(oldest)
    found, where, slot, missing = op.probe(words, op.hash_of(words))
    b.position_at_end(missing)                    # (a damaged list: treat as full)
    b.branch(full)
    b.position_at_end(found)
    op.remove_at(where, slot)
    again, position_again, _, vacant = op.probe()
    b.position_at_end(again)                      # (cannot be: the key was absent)
    b.branch(full)
    b.position_at_end(vacant)
    b.branch(take)
    b.position_at_start(take)
    at = b.phi(I64, name="insert_at")
    at.add_incoming(position, origin)
    at.add_incoming(position_again, vacant)
    return at


def _delete(op: _Op) -> None:
    b = op.b
    found, position, slot, missing = op.probe()
    b.position_at_end(missing)
    b.ret(_c(-errno.ENOENT))
    b.position_at_end(found)
    op.remove_at(position, slot)
    b.ret(_c(0))


def _next(op: _Op) -> None:
    """The first slot at or after the argument whose stored key's probe finds that very
    slot (a free slot's stale key finds none, or another): slots in use, in order."""
    b = op.b
    limit = op.field("max_entries")
    origin = b.block
    loop, look, hit, advance, end = (op.block(n) for n in
                                     ("walk", "look", "hit", "advance", "end"))
    b.branch(loop)
    b.position_at_end(loop)
    slot = b.phi(I64, name="slot")
    slot.add_incoming(op.fn.args[1], origin)
    b.cbranch(b.icmp_unsigned("<", slot, limit), look, end)
    b.position_at_end(look)
    words = op.stored_words(slot)
    found, _, holder, missing = op.probe(words, op.hash_of(words))
    b.position_at_end(found)
    b.cbranch(b.icmp_unsigned("==", holder, slot), hit, advance)
    b.position_at_end(missing)
    b.branch(advance)
    b.position_at_end(advance)
    slot.add_incoming(b.add(slot, _c(1)), advance)
    b.branch(loop)
    b.position_at_end(hit)
    b.ret(slot)
    b.position_at_end(end)
    b.ret(limit)


HASH_OPERATIONS = ("lookup", "update", "delete")
_EMITTERS = {"lookup": _lookup, "update": _update, "delete": _delete, "next": _next}


def emit_hash_ops(module: ir.Module, key_size: int, prefix: str,
                  value_size: int | None = None, lru: bool = False,
                  linkage: str = "internal", operations=HASH_OPERATIONS) -> dict:
    """Define `<prefix>_lookup`, `_update` and `_delete` (or the `operations` named, of
    those and `next`) for `key_size`-byte keys (and `value_size`-byte values, or the
    size the index's header gives) of a hash map, or of an LRU map with `lru`; returns
    them by operation name."""
    functions = {}
    for operation in operations:
        emit = _EMITTERS[operation]
        op = _Op(module, f"{prefix}_{operation}", operation, key_size, value_size, lru)
        op.fn.linkage = linkage
        emit(op)
        functions[operation] = op.fn
    return functions


def emit_array_update(module: ir.Module, name: str,
                      max_entries: int | None = None, value_size: int | None = None,
                      linkage: str = "internal") -> ir.Function:
    """Define `i64 name(ptr values, ptr key, ptr value, i64 flags, i64 max_entries,
    i64 value_size)`: an array map's update, checks in the order Python makes them
    (flags, then the index, then BPF_NOEXIST).  Sizes given here are constants."""
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, PTR, PTR, I64, I64, I64]), name=name)
    fn.linkage = linkage
    fn.attributes.add("nounwind")
    values, key, value, flags = fn.args[:4]
    limit = _c(max_entries) if max_entries is not None else fn.args[4]
    size = _c(value_size) if value_size is not None else fn.args[5]
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    for failed, error in ((b.icmp_unsigned(">", flags, _c(BPF_EXIST)), errno.EINVAL),
                          (None, errno.E2BIG),
                          (b.icmp_unsigned("==", flags, _c(BPF_NOEXIST)), errno.EEXIST)):
        if failed is None:
            index = b.zext(b.load(key, typ=I32, align=1), I64)
            failed = b.icmp_unsigned(">=", index, limit)
        bad, good = fn.append_basic_block("failed"), fn.append_basic_block("ok")
        b.cbranch(failed, bad, good)
        b.position_at_end(bad)
        b.ret(_c(-error))
        b.position_at_end(good)
    memcpy = module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
    target = b.gep(values, [b.mul(index, size)], source_etype=I8)
    b.call(memcpy, [target, value, size, const(I1, 0)])
    b.ret(_c(0))
    return fn


def routine_symbol(kind: tuple, operation: str) -> str:
    """The symbol of `operation` in routine_image(kind)."""
    return f"bpfjit_{kind[0]}_{operation}"


@functools.lru_cache(maxsize=None)
def routine_image(kind: tuple, use_cache: bool = False) -> CodeImage:
    """The native operations of one routine kind (`routine_kind`) as machine code with
    the C calling convention (symbols `routine_symbol`), compiled once per process, or
    taken from the code cache (bpfjit.cache) with `use_cache`; its only fixups are
    libc's memcpy (sizes are read from the index or passed)."""
    from bpfjit import cache
    if not use_cache or not cache.enabled():
        return _build_routines(kind)
    from llvmlite import __version__ as llvmlite_version
    name = cache.digest("routines", cache.source_digest(), kind, llvmlite_version,
                        cache.cpu_identity())
    hit = cache.load("routines", name)
    if hit is not None:
        try:
            return CodeImage.from_record(*hit, entry=routine_symbol(kind, "update"))
        except (KeyError, TypeError, ValueError):
            pass
    image = _build_routines(kind)
    cache.store("routines", name, image.record(), image.code)
    return image


def _build_routines(kind: tuple) -> CodeImage:
    from . import llvm_worker               # LLVM, in its worker process
    from .objlink import link_object
    module = ir.Module(name="bpfjit_map_ops")
    if kind[0] == "array":
        emit_array_update(module, routine_symbol(kind, "update"), linkage="external")
    elif kind[0] == "lpm":
        emit_lpm_ops(module, "bpfjit_lpm", kind[1],
                     emit_hash_ops(module, kind[1], "bpfjit_lpm_index"), linkage="external")
    else:
        emit_hash_ops(module, kind[1], "bpfjit_hash", lru=kind[2], linkage="external",
                      operations=HASH_OPERATIONS + ("next",))
    obj, _ = llvm_worker.generate(str(module), 2, False)
    image = link_object(obj)
    if any(what[0] != "libc" for _, what in image.fixups):
        raise AssertionError("the map routines refer to more than libc")
    return image
