"""Two sums of the same variables are equal: the position after a DNS label.

A DNS name is skipped label by label: `if (pos + o + 1 > end) fail; pos += o + 1`.
clang computes the tested sum as `q = pos; q += o; q += 1` and the new position the
other way round, `t = o; t += pos; pos = t + 1`.  The zone recorded the first as
`q == pos + o + 1` only; the second was a pointer at most 63 past pos, so the test
said nothing of the position the loop goes round with.  Its widened offset then went
past the longest buffer, every relation of it was dropped, and the next label's load
and the caller's read after the name were left to run-time checks.  Now `o + pos` is
a sum too (`Zone.record_plus`), and two sums of the same terms (or of terms equal to
them) are related exactly, so the new position is at most the end.  The kernel loads
NLnet Labs' XDP DNS-cookie filter, which skips names so; strict mode refused it.

Inlined, the loop tests `(p + 1) + o <= end` and then moves the length itself, `o +=
p; o += 1; p = o`: the sum recorded at the test names o, which the move overwrites.
A `dst += src` whose two terms a recorded sum z == dst + src + k names makes z == the
new dst + k (a DNS firewall's inlined name walk, which the kernel loads).
"""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapTable
from bpfjit.verifier import verify

from test_verifier_soundness import assert_proofs_hold

# an XDP program with a cursor {pos, end} on its stack, pos 54 + (byte 12 & 28) bytes in;
# a callee skipping the name there (at most 128 labels, a compression pointer ending
# it), as clang -O2 compiles it; the caller then reads the byte 4 past the name
SKIP_NAME = """
    ldxw %r6, [%r1+0]
    ldxw %r2, [%r1+4]
    stxdw [%r10-8], %r2
    mov %r3, %r6
    add %r3, 54
    jgt %r3, %r2, fail
    ldxb %r4, [%r6+12]
    and %r4, 28
    add %r3, %r4
    stxdw [%r10-16], %r3
    mov %r1, %r10
    add %r1, -16
    call local skip
    jeq %r0, 0, fail
    ldxdw %r1, [%r10-16]
    mov %r2, %r1
    add %r2, 4
    ldxdw %r3, [%r10-8]
    jgt %r2, %r3, fail
    stxdw [%r10-16], %r2
    mov %r2, %r1
    add %r2, 5
    jgt %r2, %r3, fail
    ldxb %r0, [%r1+4]
    sub %r1, %r6
    lsh %r1, 8
    or %r0, %r1
    exit
fail:
    mov %r0, 0
    exit
skip:
    mov %r3, 0
    ldxdw %r4, [%r1+8]
    ldxdw %r2, [%r1+0]
    lddw %r6, 0x100000000000000
    mov %r5, %r2
    ja head
latch:
    lsh %r3, 56
    add %r3, %r6
    arsh %r3, 56
    mov %r0, 0
    jsgt %r0, %r3, out
head:
    mov %r7, %r5
    add %r7, 1
    mov %r0, 0
    jgt %r7, %r4, out
    ldxb %r7, [%r5+0]
    mov %r0, %r7
    and %r0, 192
    jne %r0, 192, label
    add %r5, 2
    stxdw [%r1+0], %r5
    mov %r0, %r2
    ja out
label:
    mov %r0, 0
    jgt %r7, 63, out
    mov %r8, %r5
    add %r8, %r7
    add %r8, 1
    mov %r0, 0
    jgt %r8, %r4, out
    mov %r0, %r7
    add %r0, %r5
    mov %r5, %r0
    add %r5, 1
    stxdw [%r1+0], %r5
    mov %r0, %r2
    jne %r7, 0, latch
out:
    exit
"""


def _name_end(data: bytes) -> int | None:
    """Where the name SKIP_NAME skips ends, by the DNS name rules; None where it fails."""
    n = len(data)
    if n < 54:
        return None
    pos = 54 + (data[12] & 28)
    for _ in range(128):
        if pos + 1 > n:
            return None
        o = data[pos]
        if o & 0xC0 == 0xC0:                # a compression pointer ends the name
            return pos + 2
        if o > 63 or pos + o + 1 > n:
            return None
        pos += o + 1
        if o == 0:
            return pos
    return None


def expected(data: bytes) -> int:
    """What SKIP_NAME returns: the byte 4 past the name and the name's end, or 0."""
    pos = _name_end(data)
    if pos is None or pos + 5 > len(data):
        return 0
    return data[pos + 4] | pos << 8


def _frame(name: bytes, skew: int = 0, tail: bytes = b"\x00\x01\x00\x01\x29") -> bytes:
    head = bytearray(54 + skew)
    head[12] = skew
    return bytes(head) + name + tail


INPUTS = [
    _frame(b"\x03www\x07example\x03com\x00"),
    _frame(b"\x03www\x07example\x03com\x00", skew=28),
    _frame(b"\x03www\x07example\x03com\x00", skew=12, tail=b"\x00\x01\x00"),
    _frame(b"\x03www\x07example\x03com\x00", skew=4, tail=b"\x00\x01\x00\x01"),
    _frame(b"\x04mail\xc0\x0c"),
    _frame(b"\x04mail\xc0"),                      # the pointer's second byte missing
    _frame(b"\x40" + b"a" * 64 + b"\x00"),         # a label longer than 63
    _frame(b"\x3f" + b"b" * 63 + b"\x00"),
    _frame(b"\x05abc"),                             # a label past the end
    _frame(b"\x01x" * 127 + b"\x00"),              # 128 labels, the last the root
    _frame(b"\x01x" * 128 + b"\x00"),              # one too many
    _frame(b"", tail=b""),
    bytes(53),
]


def _xdp(text: str) -> bpfjit.Program:
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context="xdp", prog_type="xdp")


def test_the_label_loads_and_the_read_after_the_name_are_proven():
    v = verify(_xdp(SKIP_NAME), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)
    if "kernel" in bpfjit.engines(kernel=True):        # the kernel loads it too
        from bpfjit import bpfsys
        bpfsys.close(bpfsys.prog_load(_xdp(SKIP_NAME).to_bytes(), "xdp"))


def test_a_test_one_byte_short_leaves_the_read_unproven():
    # the caller tests pos + 5 for the byte at pos + 4: testing pos + 4 proves nothing
    text = SKIP_NAME.replace("    add %r2, 5\n", "    add %r2, 4\n")
    v = verify(_xdp(text), cache=False)
    assert set(v.accesses) - v.proven == {23}       # `ldxb %r0, [%r1+4]`
    if "kernel" in bpfjit.engines(kernel=True):        # nor does the kernel's verifier
        from bpfjit import bpfsys
        with pytest.raises(bpfjit.BpfError, match="outside of the packet"):
            bpfsys.prog_load(_xdp(text).to_bytes(), "xdp")


@pytest.mark.parametrize("data", INPUTS, ids=range(len(INPUTS)))
def test_every_engine_skips_the_name(engine, data):
    fn = bpfjit.compile(_xdp(SKIP_NAME), engine, cache=False)
    assert fn(bpfjit.XdpContext(data)) == expected(data)


@pytest.mark.parametrize("data", INPUTS, ids=range(len(INPUTS)))
def test_the_one_byte_short_read_traps_where_it_is_past_the_end(engine, data):
    text = SKIP_NAME.replace("    add %r2, 5\n", "    add %r2, 4\n")
    if engine == "kernel":
        pytest.skip("the kernel's verifier refuses it (above)")
    fn = bpfjit.compile(_xdp(text), engine, cache=False)
    # it differs from SKIP_NAME only where the name ends 4 bytes before the end
    end = _name_end(data)
    if end is not None and end + 4 == len(data):
        with pytest.raises(bpfjit.MemoryAccessError):
            fn(bpfjit.XdpContext(data))
    else:
        assert fn(bpfjit.XdpContext(data)) == expected(data)


# the inlined walk: the name 16 + (byte 14 & 3) bytes in, at most 32 labels; r0 = the
# offset just past the name's root label, 0 where it is malformed
INLINED = """
    ldxw %r2, [%r1+0]
    ldxw %r1, [%r1+4]
    mov %r0, 0
    mov %r3, %r2
    add %r3, 20
    jgt %r3, %r1, out
    ldxb %r3, [%r2+14]
    and %r3, 3
    add %r3, %r2
    add %r3, 16
    mov %r4, 0
    ja head
next:
    add %r5, %r3
    mov %r6, %r4
    add %r6, 1
    add %r5, 1
    mov %r7, %r4
    and %r7, 255
    mov %r3, %r5
    mov %r4, %r6
    mov %r0, 0
    jgt %r7, 30, out
head:
    mov %r6, %r3
    add %r6, 1
    jgt %r6, %r1, out
    ldxb %r5, [%r3+0]
    jgt %r5, 63, out
    add %r6, %r5
    jgt %r6, %r1, out
    jne %r5, 0, next
    mov %r0, %r6
    sub %r0, %r2
out:
    exit
"""


def inlined_end(data: bytes) -> int:
    """What INLINED returns, from the rules above."""
    n = len(data)
    if n < 20:
        return 0
    pos, labels = 16 + (data[14] & 3), 0
    while True:
        if pos + 1 > n:
            return 0
        o = data[pos]
        if o > 63 or pos + 1 + o > n:
            return 0
        if o == 0:
            return pos + 1
        pos += o + 1
        if labels > 30:
            return 0
        labels += 1


def _inlined_frame(name: bytes, skew: int = 0) -> bytes:
    head = bytearray(16 + skew)
    head[14] = skew
    return bytes(head) + name + b"\x00\x01"


INLINED_INPUTS = [
    _inlined_frame(b"\x03www\x07example\x03com\x00"),
    _inlined_frame(b"\x03www\x07example\x03com\x00", skew=3),
    _inlined_frame(b"\x3f" + b"q" * 63 + b"\x00", skew=1),
    _inlined_frame(b"\x40" + b"q" * 64 + b"\x00"),
    _inlined_frame(b"\x01z" * 31 + b"\x00"),       # 31 labels: the most it walks
    _inlined_frame(b"\x01z" * 32 + b"\x00"),
    _inlined_frame(b"\x09short"),
    bytes(19),
]


def test_the_inlined_walk_is_proven():
    v = verify(_xdp(INLINED), mode="strict", cache=False)
    assert v.accesses and v.proven == set(v.accesses)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        bpfsys.close(bpfsys.prog_load(_xdp(INLINED).to_bytes(), "xdp"))


@pytest.mark.parametrize("data", INLINED_INPUTS, ids=range(len(INLINED_INPUTS)))
def test_every_engine_walks_the_inlined_name(engine, data):
    fn = bpfjit.compile(_xdp(INLINED), engine, cache=False)
    assert fn(bpfjit.XdpContext(data)) == inlined_end(data)
