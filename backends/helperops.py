"""Helpers in native code, for the JIT engines: bpf_csum_diff, bpf_skb_load_bytes,
bpf_skb_store_bytes, bpf_l3_csum_replace, bpf_l4_csum_replace and an XDP program's
bpf_redirect, bpf_xdp_adjust_head, bpf_xdp_adjust_meta and bpf_xdp_adjust_tail, and a
socket buffer's bpf_skb_pull_data.

Through Python each helper call costs a cffi callback and the run's memory read and
written through checks, ~2 µs; userspace-xdp's checksum benchmark calls csum_diff 32
times a packet (68-82 µs a packet on both JITs, 0.5 µs on the kernel's), and tc
programs copy headers to the stack with skb_load_bytes.  Where the verifier proved the
memory arguments of every call of such a helper in bounds
(`VerifiedProgram.native_helpers`, or a size that is 0), a JIT program's helper table
points its id at a routine here, a C function with the helpers' signature `u64 (r1,
r2, r3, r4, r5, run)`; elsewhere the Python helper keeps checking the pointers when it
runs.  The routines are LLVM IR compiled once per process (bpfjit's IR builder, LLVM in
its worker process) into executable memory.

csum_diff computes what bpfjit.helpers.packet.csum_diff does, as Linux 6.13 and later
compute it: the partial checksum (32-bit little-endian words, the tail padded with
zeros, summed with end-around carry: two folds of a 64-bit sum) of `to` on the seed,
plus the complement of that of `from`, folded to 16 bits; only `to`: its partial sum;
only `from`: the complement of its partial sum on the complemented seed; neither: the
seed.  skb_load_bytes copies `len` bytes from `offset` (a signed 32-bit number) of the
packet the run holds (the run structure's `mem` and `mem_len`, which the Python helper
reads too) to `to`, or answers -EFAULT for bytes outside it or a length of 0;
skb_store_bytes copies the other way.  l3_csum_replace and l4_csum_replace take no
memory from the program, so they are always native: the 16-bit checksum at `offset`
of the packet updated for a field that changed from `from` to `to` (RFC 1624; flags &
0xf its size, 2 or 4, or 0 where `to` is a difference), -EFAULT where the checksum is
not in the packet, -EINVAL for another size; l4's BPF_F_MARK_MANGLED_0 (0x20) leaves a
zero checksum alone and writes 0xffff for a zero result, as bpfjit.helpers.packet does.
An XDP program's bpf_redirect takes no memory either: it answers as
bpfjit.helpers.redirect does and records its target in the context block before the
packet, which the caller turns into `ctx.redirect` after the run.

bpf_xdp_adjust_head, bpf_xdp_adjust_meta and bpf_xdp_adjust_tail resize the frame as
XdpContext does (the packet's start stays where the run has it: its bytes move within
the buffer, opened bytes are zeroed), reading and writing the frame in the context
block — data_end and data_meta, the headroom and tailroom — and writing the run's
`mem_len`,
and set the block's RESIZED word, after which the context takes the new frame into its
attributes (XdpContext.catch_up, after the run and before a Python helper reads it).
The kernel's rules: adjust_head keeps at least an Ethernet header and moves the start
within the headroom, not into the metadata (-EINVAL); adjust_meta keeps the metadata
within the headroom (-EINVAL), a multiple of 4 bytes and at most 255 (-EACCES);
adjust_tail keeps an Ethernet header and ends within the frame (-EINVAL).
bpf_skb_pull_data(skb, len) has nothing to pull in a linear packet: 0 when the packet
holds the low 32 bits of len in bytes (0: all of it), else -ENOMEM, as
bpfjit.helpers.packet answers.
"""

from __future__ import annotations

import errno
import functools

from bpfjit.context.xdp import (DATA_END_AT, DATA_META_AT, ETH_HLEN, HEADROOM_AT,
                                MAX_METALEN, REDIRECT_AT, REDIRECT_FLAGS, REDIRECT_KEY,
                                REDIRECT_MAP, REDIRECT_TARGET, RESIZED_AT, TAILROOM_AT,
                                XDP_HEADER)
from bpfjit.helpers.packet import XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL, XDP_RESIZING
from bpfjit.helpers.spec import errno_result
from bpfjit.helpers.redirect import REDIRECT, XDP_ABORTED, XDP_REDIRECT
from bpfjit.isa import Kind
from bpfjit.runfields import field_index

from . import irtext as ir
from .llvmtypes import I1, I8, I16, I32, I64, PTR, const

__all__ = ["CSUM_DIFF", "SKB_LOAD_BYTES", "SKB_STORE_BYTES", "L3_CSUM_REPLACE",
           "L4_CSUM_REPLACE", "REDIRECT", "emit_csum_diff", "emit_skb_copy",
           "emit_csum_replace", "emit_xdp_redirect", "emit_xdp_adjust", "emit_skb_pull_data",
           "record_redirect",
           "native_helper_address", "native_helper_ids"]

CSUM_DIFF, SKB_LOAD_BYTES, SKB_STORE_BYTES, SKB_PULL_DATA = 28, 26, 9, 39
L3_CSUM_REPLACE, L4_CSUM_REPLACE = 10, 11
_M32 = 0xFFFFFFFF
_SYMBOLS = {CSUM_DIFF: "bpfjit_csum_diff", SKB_LOAD_BYTES: "bpfjit_skb_load_bytes",
            SKB_STORE_BYTES: "bpfjit_skb_store_bytes",
            L3_CSUM_REPLACE: "bpfjit_l3_csum_replace", L4_CSUM_REPLACE: "bpfjit_l4_csum_replace",
            REDIRECT: "bpfjit_xdp_redirect", XDP_ADJUST_HEAD: "bpfjit_xdp_adjust_head",
            XDP_ADJUST_META: "bpfjit_xdp_adjust_meta", XDP_ADJUST_TAIL: "bpfjit_xdp_adjust_tail",
            SKB_PULL_DATA: "bpfjit_skb_pull_data"}
# helpers given no memory by the program: native wherever they are called (bpf_redirect
# in XDP programs only: tc's answers differ)
_NO_MEMORY = frozenset((L3_CSUM_REPLACE, L4_CSUM_REPLACE, REDIRECT, XDP_ADJUST_HEAD,
                        XDP_ADJUST_META, XDP_ADJUST_TAIL, SKB_PULL_DATA))
_CONTEXTS = {REDIRECT: "xdp", SKB_PULL_DATA: "skb", **dict.fromkeys(XDP_RESIZING, "xdp")}
_MANGLED_0 = 0x20                       # BPF_F_MARK_MANGLED_0


def _c(value: int):
    return const(I64, value)


def _helper(module: ir.Module, name: str) -> ir.Function:
    """A routine with the helpers' C signature, `i64 name(r1, r2, r3, r4, r5, run)`."""
    fn = ir.Function(module, ir.FunctionType(I64, [I64] * 6), name=name)
    fn.linkage = "external"
    fn.attributes.add("nounwind")
    return fn


def _run_slot(b, run, name: str):
    """Where a field of the run structure (bpfjit.runfields) is, an i64's pointer."""
    return b.gep(b.inttoptr(run, PTR), [_c(field_index(name))], source_etype=I64)


def _run_field(b, run, name: str):
    """A field of the run structure, as an i64."""
    return b.load(_run_slot(b, run, name), typ=I64)


def _packet(b, run, offset):
    """The run's packet and its length (the run structure's `mem` and `mem_len`, as the
    Python helpers read them), and `offset` as the kernel's int."""
    return (_run_field(b, run, "mem"), _run_field(b, run, "mem_len"),
            b.sext(b.trunc(offset, I32), I64))


def _fold16(b, total):
    """csum_fold: a 32-bit ones' complement sum folded to 16 bits (not complemented)."""
    for _ in range(2):
        total = b.add(b.and_(total, _c(0xFFFF)), b.lshr(total, _c(16)))
    return b.and_(total, _c(0xFFFF))


def _fold32(b, total):
    """A 64-bit sum of 32-bit words folded to 32 bits with end-around carry, twice (the
    sum of at most 2^30 words)."""
    for _ in range(2):
        total = b.add(b.and_(total, _c(_M32)), b.lshr(total, _c(32)))
    return total


def _emit_partial(module: ir.Module) -> ir.Function:
    """`i64 partial(ptr data, i64 size, i64 seed)`: the kernel's csum_partial."""
    fn = ir.Function(module, ir.FunctionType(I64, [PTR, I64, I64]), name="bpfjit_csum_partial")
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    data, size, seed = fn.args
    entry = fn.append_basic_block("entry")
    loop, tail = fn.append_basic_block("words"), fn.append_basic_block("tail")
    b = ir.IRBuilder(entry)
    words = b.lshr(size, _c(2))
    b.cbranch(b.icmp_unsigned("==", words, _c(0)), tail, loop)
    b.position_at_end(loop)
    index = b.phi(I64, name="index")
    total = b.phi(I64, name="total")
    index.add_incoming(_c(0), entry)
    total.add_incoming(seed, entry)
    word = b.load(b.gep(data, [b.shl(index, _c(2))], source_etype=I8), typ=I32, align=1)
    more = b.add(total, b.zext(word, I64))
    following = b.add(index, _c(1))
    index.add_incoming(following, loop)
    total.add_incoming(more, loop)
    b.cbranch(b.icmp_unsigned("==", following, words), tail, loop)
    b.position_at_end(tail)
    summed = b.phi(I64, name="summed")
    summed.add_incoming(seed, entry)
    summed.add_incoming(more, loop)
    # the last 0-3 bytes, zero-padded to a word: b0 | b1 << 8 | b2 << 16 (each read
    # only where it is there: `data` may be NULL for a size of 0)
    rest = b.and_(size, _c(3))
    base = b.and_(size, _c(~3 & (2**64 - 1)))
    done = fn.append_basic_block("done")
    gathered = [(summed, b.block)]
    last = _c(0)
    for k in range(3):
        present = fn.append_basic_block(f"byte{k}")
        b.cbranch(b.icmp_unsigned(">", rest, _c(k)), present, done)
        b.position_at_end(present)
        at = b.gep(data, [b.add(base, _c(k))], source_etype=I8)
        last = b.or_(last, b.shl(b.zext(b.load(at, typ=I8, align=1), I64), _c(8 * k)))
        gathered.append((b.add(summed, last), b.block))
    b.branch(done)
    b.position_at_end(done)
    total = b.phi(I64, name="with_tail")
    for value, block in gathered:
        total.add_incoming(value, block)
    b.ret(_fold32(b, total))
    return fn


def emit_csum_diff(module: ir.Module, name: str = _SYMBOLS[CSUM_DIFF]) -> ir.Function:
    """Define `i64 name(i64 from, i64 from_size, i64 to, i64 to_size, i64 seed, i64
    run)`: bpf_csum_diff, its pointers proven readable for their sizes."""
    partial = _emit_partial(module)
    fn = _helper(module, name)
    old_at, old_size, new_at, new_size, seed, _ = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    old_size, new_size = b.and_(old_size, _c(_M32)), b.and_(new_size, _c(_M32))
    seed = b.and_(seed, _c(_M32))
    has_old = b.icmp_unsigned("!=", old_size, _c(0))
    has_new = b.icmp_unsigned("!=", new_size, _c(0))
    # a size of 0 reads nothing: its pointer (NULL, often) is not touched
    old_ptr = b.inttoptr(b.select(has_old, old_at, _c(0)), PTR)
    new_ptr = b.inttoptr(b.select(has_new, new_at, _c(0)), PTR)
    new_sum = b.call(partial, [new_ptr, new_size, seed])
    # only `from`: ~partial(from, ~seed); both: partial(to, seed) + ~partial(from, 0)
    old_seed = b.select(has_new, _c(0), b.xor(seed, _c(_M32)))
    old_sum = b.call(partial, [old_ptr, old_size, old_seed])
    complement = b.xor(old_sum, _c(_M32))
    added = b.add(new_sum, complement)
    added = b.add(b.and_(added, _c(_M32)), b.lshr(added, _c(32)))
    total = b.select(has_new, b.select(has_old, added, new_sum),
                     b.select(has_old, complement, seed))
    b.ret(_fold16(b, total))
    return fn


def emit_skb_copy(module: ir.Module, hid: int) -> ir.Function:
    """Define `i64 (i64 skb, i64 offset, i64 mem, i64 len, i64 r5, i64 run)`:
    bpf_skb_load_bytes (hid 26: packet -> mem) or bpf_skb_store_bytes (9: mem ->
    packet; its flags change nothing here, as in the Python helper), `mem` proven in
    bounds for `len` bytes."""
    fn = _helper(module, _SYMBOLS[hid])
    _, offset, mem_arg, size, _, run = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fail, copy = fn.append_basic_block("fault"), fn.append_basic_block("copy")
    packet, length, start = _packet(b, run, offset)
    size = b.and_(size, _c(_M32))
    outside = b.or_(b.icmp_signed("<", start, _c(0)), b.icmp_unsigned("==", size, _c(0)))
    outside = b.or_(outside, b.icmp_unsigned(">", b.add(start, size), length))
    b.cbranch(outside, fail, copy)
    b.position_at_end(fail)
    b.ret(_c(errno_result(errno.EFAULT)))
    b.position_at_end(copy)
    memcpy = module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
    in_packet = b.inttoptr(b.add(packet, start), PTR)
    other = b.inttoptr(mem_arg, PTR)
    target, source = (other, in_packet) if hid == SKB_LOAD_BYTES else (in_packet, other)
    b.call(memcpy, [target, source, size, const(I1, 0)])
    b.ret(_c(0))
    return fn


def _csum_add(b, total, value):
    """Ones' complement addition of a 32-bit word (helpers.packet.csum_add)."""
    total = b.add(total, b.and_(value, _c(_M32)))
    return b.add(b.and_(total, _c(_M32)), b.lshr(total, _c(32)))


def emit_csum_replace(module: ir.Module, hid: int) -> ir.Function:
    """Define `i64 (i64 skb, i64 offset, i64 from, i64 to, i64 flags, i64 run)`:
    bpf_l3_csum_replace (hid 10) or bpf_l4_csum_replace (11) on the run's packet."""
    fn = _helper(module, _SYMBOLS[hid])
    _, offset, old, new, flags, run = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fault, inside = fn.append_basic_block("fault"), fn.append_basic_block("inside")
    invalid, done = fn.append_basic_block("invalid"), fn.append_basic_block("done")
    packet, length, start = _packet(b, run, offset)
    outside = b.or_(b.icmp_signed("<", start, _c(0)),
                    b.icmp_unsigned(">", b.add(start, _c(2)), length))
    b.cbranch(outside, fault, inside)
    b.position_at_end(fault)
    b.ret(_c(errno_result(errno.EFAULT)))
    b.position_at_end(invalid)
    b.ret(_c(errno_result(errno.EINVAL)))
    b.position_at_end(done)
    b.ret(_c(0))
    b.position_at_end(inside)
    at = b.inttoptr(b.add(packet, start), PTR)
    stored = b.zext(b.load(at, typ=I16, align=1), I64)
    size = b.and_(flags, _c(0xF))
    mark = b.icmp_unsigned("!=", b.and_(flags, _c(_MANGLED_0)), _c(0)) \
        if hid == L4_CSUM_REPLACE else const(I1, 0)
    if hid == L4_CSUM_REPLACE:          # a zero checksum (UDP: none) is left alone
        update = fn.append_basic_block("update")
        b.cbranch(b.and_(mark, b.icmp_unsigned("==", stored, _c(0))), done, update)
        b.position_at_end(update)
    sized = fn.append_basic_block("sized")
    b.cbranch(b.or_(b.icmp_unsigned("==", size, _c(0)),
                    b.or_(b.icmp_unsigned("==", size, _c(2)),
                          b.icmp_unsigned("==", size, _c(4)))), sized, invalid)
    b.position_at_end(sized)
    # size 0: ~stored + to; 2 or 4: ~stored + ~from + to, the fields masked to their size
    # (size 0's mask is 32 bits, which is all csum_add takes of `to` anyway)
    mask = b.select(b.icmp_unsigned("==", size, _c(2)), _c(0xFFFF), _c(_M32))
    total = b.xor(stored, _c(0xFFFF))
    with_old = _csum_add(b, total, b.and_(b.xor(old, _c(2**64 - 1)), mask))
    total = b.select(b.icmp_unsigned("==", size, _c(0)), total, with_old)
    total = _csum_add(b, total, b.and_(new, mask))
    result = b.xor(_fold16(b, total), _c(0xFFFF))
    # BPF_F_MARK_MANGLED_0: a zero result is written 0xffff (CSUM_MANGLED_0)
    result = b.select(b.and_(mark, b.icmp_unsigned("==", result, _c(0))), _c(0xFFFF), result)
    b.store(b.trunc(result, I16), at, align=1)
    b.branch(done)
    return fn


def emit_xdp_redirect(module: ir.Module) -> ir.Function:
    """Define `i64 (i64 ifindex, i64 flags, i64, i64, i64, i64 run)`: bpf_redirect in an
    XDP program, as bpfjit.helpers.redirect answers it: XDP_ABORTED for any flag (of
    the low 32 bits), else XDP_REDIRECT, with the target recorded in the context block
    before the run's packet, through no map (`XdpContext.take_redirect` reads it after
    the run)."""
    fn = _helper(module, _SYMBOLS[REDIRECT])
    ifindex, flags, _, _, _, run = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    refused, sent = fn.append_basic_block("refused"), fn.append_basic_block("sent")
    flags = b.and_(flags, _c(_M32))
    b.cbranch(b.icmp_unsigned("!=", flags, _c(0)), refused, sent)
    b.position_at_end(refused)
    b.ret(_c(XDP_ABORTED))
    b.position_at_end(sent)
    record_redirect(b, _run_field(b, run, "mem"), b.trunc(ifindex, I32), const(I32, 0),
                    const(I32, 0), flags)
    b.ret(_c(XDP_REDIRECT))
    return fn


def emit_xdp_adjust(module: ir.Module, hid: int) -> ir.Function:
    """Define `i64 (i64 ctx, i64 delta, i64, i64, i64, i64 run)`: bpf_xdp_adjust_head
    (hid 44), _meta (54) or _tail (65) on the run's frame, as XdpContext resizes it."""
    fn = _helper(module, _SYMBOLS[hid])
    _, delta, _, _, _, run = fn.args
    entry, fits = fn.append_basic_block("entry"), fn.append_basic_block("fits")
    invalid, done = fn.append_basic_block("invalid"), fn.append_basic_block("done")
    b = ir.IRBuilder(invalid)
    b.ret(_c(errno_result(errno.EINVAL)))
    b.position_at_end(entry)
    mem = _run_field(b, run, "mem")
    delta = b.sext(b.trunc(delta, I32), I64)
    block = b.sub(mem, _c(XDP_HEADER))

    def field(offset: int):
        return b.inttoptr(b.add(block, _c(offset)), PTR)
    # the frame's length as the block has it (as the context does: the runs of a batch
    # all start with the length the batch started with)
    length = b.sub(b.load(field(DATA_END_AT), typ=I64, align=8), mem)
    metalen = b.sub(mem, b.load(field(DATA_META_AT), typ=I64, align=8))
    headroom = b.zext(b.load(field(HEADROOM_AT), typ=I32, align=4), I64)
    tailroom = b.zext(b.load(field(TAILROOM_AT), typ=I32, align=4), I64)
    memmove = module.declare_intrinsic("llvm.memmove", [PTR, PTR, I64])
    memset = module.declare_intrinsic("llvm.memset", [PTR, I64])
    no = const(I1, 0)
    grows = b.icmp_signed("<", delta, _c(0))
    if hid == XDP_ADJUST_HEAD:
        # within the headroom, not into the metadata; an Ethernet header left
        new_length = b.sub(length, delta)
        b.cbranch(b.or_(b.icmp_signed("<", b.add(headroom, delta), metalen),
                        b.icmp_signed("<", new_length, _c(ETH_HLEN))), invalid, fits)
        b.position_at_end(fits)
        front, back = fn.append_basic_block("front_grows"), fn.append_basic_block("front_shrinks")
        b.cbranch(grows, front, back)
        b.position_at_end(front)                # -delta zero bytes opened before the packet
        count = b.sub(_c(0), delta)
        b.call(memmove, [b.inttoptr(b.add(mem, count), PTR), b.inttoptr(mem, PTR), length, no])
        b.call(memset, [b.inttoptr(mem, PTR), const(I8, 0), count, no])
        b.branch(done)
        b.position_at_end(back)                 # the first delta bytes dropped
        b.call(memmove, [b.inttoptr(mem, PTR), b.inttoptr(b.add(mem, delta), PTR),
                         new_length, no])
        b.branch(done)
        b.position_at_end(done)
        b.store(b.trunc(b.add(headroom, delta), I32), field(HEADROOM_AT), align=4)
    elif hid == XDP_ADJUST_META:
        # within the headroom (-EINVAL); a multiple of 4, at most 255 bytes (-EACCES)
        new_length, meta = length, b.sub(metalen, delta)
        b.cbranch(b.or_(b.icmp_signed("<", meta, _c(0)), b.icmp_signed(">", meta, headroom)),
                  invalid, fits)
        b.position_at_end(fits)
        refused = fn.append_basic_block("refused")
        b.cbranch(b.or_(b.icmp_unsigned("!=", b.and_(meta, _c(3)), _c(0)),
                        b.icmp_signed(">", meta, _c(MAX_METALEN))), refused, done)
        b.position_at_end(refused)
        b.ret(_c(errno_result(errno.EACCES)))
        b.position_at_end(done)
        b.store(b.sub(mem, meta), field(DATA_META_AT), align=8)
    else:
        # within the frame's tailroom; an Ethernet header left
        new_length = b.add(length, delta)
        b.cbranch(b.or_(b.icmp_signed(">", delta, tailroom),
                        b.icmp_signed("<", new_length, _c(ETH_HLEN))), invalid, fits)
        b.position_at_end(fits)
        opened = fn.append_basic_block("end_grows")
        b.cbranch(grows, done, opened)
        b.position_at_end(opened)               # delta zero bytes opened after the packet
        b.call(memset, [b.inttoptr(b.add(mem, length), PTR), const(I8, 0), delta, no])
        b.branch(done)
        b.position_at_end(done)
        b.store(b.trunc(b.sub(tailroom, delta), I32), field(TAILROOM_AT), align=4)
    b.store(new_length, _run_slot(b, run, "mem_len"), align=8)
    b.store(b.add(mem, new_length), field(DATA_END_AT), align=8)
    b.store(const(I32, 1), field(RESIZED_AT), align=4)
    b.ret(_c(0))
    return fn


def emit_skb_pull_data(module: ir.Module) -> ir.Function:
    """Define `i64 (i64 skb, i64 len, i64, i64, i64, i64 run)`: bpf_skb_pull_data on the
    run's linear packet: 0 when it holds (u32) len bytes, else -ENOMEM."""
    fn = _helper(module, _SYMBOLS[SKB_PULL_DATA])
    _, size, _, _, _, run = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    there = b.icmp_unsigned("<=", b.and_(size, _c(_M32)), _run_field(b, run, "mem_len"))
    b.ret(b.select(there, _c(0), _c(errno_result(errno.ENOMEM))))
    return fn


def record_redirect(b, mem, target, through, key, flags) -> None:
    """Write an XDP run's redirect record into the context block before the packet at
    `mem` (i64): the target, 1 + the map's index or 0, the key (i32 each), the flags
    (i64), then the word that says it is set (XdpContext.take_redirect reads it)."""
    block = b.sub(mem, _c(XDP_HEADER))

    def field(offset: int):
        return b.inttoptr(b.add(block, _c(offset)), PTR)
    b.store(target, field(REDIRECT_TARGET), align=4)
    b.store(through, field(REDIRECT_MAP), align=4)
    b.store(key, field(REDIRECT_KEY), align=4)
    b.store(flags, field(REDIRECT_FLAGS), align=8)
    b.store(const(I32, 1), field(REDIRECT_AT), align=4)


@functools.lru_cache(maxsize=None)
def _routines():
    """The routines in executable memory: (its memory, {helper id: address})."""
    from . import llvm_worker
    from .objlink import link_object
    module = ir.Module(name="bpfjit_helpers")
    emit_csum_diff(module)
    emit_skb_copy(module, SKB_LOAD_BYTES)
    emit_skb_copy(module, SKB_STORE_BYTES)
    emit_csum_replace(module, L3_CSUM_REPLACE)
    emit_csum_replace(module, L4_CSUM_REPLACE)
    emit_xdp_redirect(module)
    for hid in (XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL):
        emit_xdp_adjust(module, hid)
    emit_skb_pull_data(module)
    obj, _ = llvm_worker.generate(str(module), 2, False)
    image = link_object(obj)
    if any(what[0] != "libc" for _, what in image.fixups):
        raise AssertionError("the native helpers refer to more than libc")
    memory = image.place()                  # (libc's memcpy written in)
    return memory, {hid: memory.address + image.symbols[symbol]
                    for hid, symbol in _SYMBOLS.items()}


def native_helper_address(hid: int) -> int:
    """Where the native routine of helper `hid` is (compiled on first use in a process)."""
    return _routines()[1][hid]


def native_helper_ids(verified, helpers) -> dict[int, int]:
    """helper id -> native address, for the helpers a JIT program may call natively,
    where the caller gave no helper of that id: csum_diff, skb_load_bytes and
    skb_store_bytes where the verifier proved the memory arguments of every call of it
    (VerifiedProgram.native_helpers), l3_csum_replace and l4_csum_replace always,
    redirect and the frame's resizing helpers in XDP programs, skb_pull_data in programs
    on a socket buffer."""
    prog = verified.program
    if prog.env is None:
        return {}
    out = {}
    for hid in _SYMBOLS:
        if hid in (helpers or {}) or _CONTEXTS.get(hid, prog.context) != prog.context:
            continue
        calls = [pc for pc, insn in prog if insn.kind is Kind.CALL and insn.imm == hid]
        if calls and (hid in _NO_MEMORY or all(pc in verified.native_helpers
                                               for pc in calls)):
            out[hid] = native_helper_address(hid)
    return out
