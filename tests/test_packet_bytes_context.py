"""An XDP program called with packet bytes runs on a context as fresh as
`XdpContext(packet)`, every call: metadata room zeroed, the tailroom and headroom of
that packet's frame, the fields' defaults — whatever an earlier call on other bytes
left behind (the JITs reuse the context they make for bytes, for speed)."""

import struct
import threading

import pytest

import bpfjit

from skb_programs import asm_program

XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL = 44, 54, 65
HEADROOM, FRAME, XDP_FRAME_SIZE = 256, 3776, 40

# r0 = the 4 metadata bytes bpf_xdp_adjust_meta(ctx, -4) opens (0 in a fresh frame),
# then 0xdeadbeef is stored there; 1000 if the helper fails
META = f"""
    mov r6, r1
    mov r2, -4
    call {XDP_ADJUST_META}
    jne r0, 0, failed
    ldxw r2, [r6+8]
    ldxw r3, [r6+0]
    mov r4, r2
    add r4, 4
    jgt r4, r3, failed
    ldxw r0, [r2+0]
    mov r5, 0xdeadbeef
    stxw [r2+0], r5
    exit
failed:
    mov r0, 1000
    exit
"""

# r0 = bpf_xdp_adjust_tail(ctx, 600)'s result, 0 or -EINVAL (as u64), after which the
# packet's last byte is set to 0xab; r0 = 2000 + ingress_ifindex when the helper fails
TAIL = f"""
    mov r6, r1
    mov r2, 600
    call {XDP_ADJUST_TAIL}
    jne r0, 0, failed
    ldxw r2, [r6+0]
    ldxw r3, [r6+4]
    mov r4, r2
    add r4, 1
    jgt r4, r3, failed
    mov r5, 0xab
    stxb [r3-1], r5
    exit
failed:
    ldxw r0, [r6+12]
    add r0, 2000
    exit
"""

# r0 = the packet's length after bpf_xdp_adjust_head(ctx, -2)
HEAD = f"""
    mov r6, r1
    mov r2, -2
    call {XDP_ADJUST_HEAD}
    ldxw r2, [r6+0]
    ldxw r3, [r6+4]
    mov r0, r3
    sub r0, r2
    exit
"""


def test_metadata_room_is_zero_on_every_call(python_helper_engine):
    fn = bpfjit.compile(asm_program(META), python_helper_engine, cache=False)
    # each call's frame is fresh: its metadata room is zeros, never the 0xdeadbeef
    # the call before stored there
    assert [fn(bytes(64)) for _ in range(3)] == [0, 0, 0]
    assert fn(bytearray(64)) == 0
    ctx = bpfjit.XdpContext(bytes(64))
    assert fn(ctx) == 0 and ctx.metadata == (0xdeadbeef).to_bytes(4, "little")


def test_each_call_has_its_own_packets_tailroom(python_helper_engine):
    fn = bpfjit.compile(asm_program(TAIL), python_helper_engine, cache=False)
    room = FRAME - HEADROOM         # what a frame holds after its headroom
    # 600 more bytes fit behind a packet of room - 600 bytes, not behind one byte more,
    # whichever packet the call before had (a packet longer than a frame has no
    # tailroom at all: 5000 bytes; it comes first, so that a context made for it can
    # take every later one)
    lengths = [5000, room - 600 + 1, 100, room - 600, 14, room - 600 + 1, 20, 60, 6000]
    expected = [0 if n <= room - 600 else 2001 for n in lengths]
    assert [fn(bytes(n)) for n in lengths] == expected
    packet = bytearray(b"\x11" * 64)
    assert fn(packet) == 0 and packet == b"\x11" * 64    # it grew: not written back


def test_runs_from_two_threads_on_packet_bytes(python_helper_engine):
    fn = bpfjit.compile(asm_program(HEAD), python_helper_engine, cache=False)
    results: dict[int, list[int]] = {30: [], 50: []}

    def work(size):
        for _ in range(300):
            results[size].append(fn(bytes(size)))
    threads = [threading.Thread(target=work, args=(size,)) for size in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results[30] == [32] * 300 and results[50] == [52] * 300


def test_a_program_run_again_from_its_own_helper_on_bytes(python_helper_engine):
    inner_calls = []
    fn = None

    def again(*args):
        if not inner_calls:                         # once: the inner run calls it too
            inner_calls.append(None)
            inner_calls[0] = fn(bytes(40))          # 40 + 2
        return 0
    source = HEAD.replace("    mov r2, -2\n", "    call 200\n    mov r1, r6\n    mov r2, -2\n", 1)
    fn = bpfjit.compile(asm_program(source), python_helper_engine, cache=False,
                        helpers={200: again})
    assert fn(bytes(70)) == 72 and inner_calls == [42]
    assert fn(bytes(16)) == 18


# r0 = (data_end - data) * 256 + the packet's last byte (no helper: the block is left
# as the call's fill wrote it, and only the packet's end moves between calls)
LAST_BYTE = """
    ldxw r2, [r1+0]
    ldxw r3, [r1+4]
    mov r0, r3
    sub r0, r2
    jeq r0, 0, empty
    ldxb r4, [r3-1]
    lsh r0, 8
    add r0, r4
empty:
    exit
"""


def test_each_call_sees_its_own_packet(engine):
    fn = bpfjit.compile(asm_program(LAST_BYTE), engine, cache=False)
    lengths = [100, 20, 64, 99, 1, 0, 37]
    assert [fn(bytes([n % 7]) * n) for n in lengths] == [n * 256 + n % 7 if n else 0
                                                         for n in lengths]


_BUFFER_KEYS = {"buffer", "_exported", "native_packet", "native_address", "block_for",
                "socket_address"}


def _state(ctx) -> dict:
    """A context's attributes but those naming its own buffer, and its packet."""
    state = {k: v for k, v in vars(ctx).items() if k not in _BUFFER_KEYS}
    state["packet"] = ctx.packet
    return state


@pytest.mark.parametrize("kind", ["xdp", "skb"])
def test_a_reloaded_context_is_a_fresh_one(kind):
    # every attribute a run or its caller may have changed is put back: compared with a
    # context made afresh for the same packet (a new attribute of either class that
    # _reload does not reset fails here)
    from bpfjit.helpers.redirect import Redirect
    make = bpfjit.XdpContext if kind == "xdp" else bpfjit.SkbContext
    ctx = make(bytes(range(200)))
    ctx.fill(ctx.native_address)
    if kind == "xdp":
        assert ctx.adjust_head(-8) == 0 and ctx.adjust_meta(-4) == 0
        ctx.buffer[ctx.HEADER - 4:ctx.HEADER] = b"meta"
    for name, value in vars(make(bytes(10))).items():
        if name not in _BUFFER_KEYS and isinstance(value, int) and not isinstance(value, bool):
            setattr(ctx, name, value + 3)
    ctx.redirect = Redirect(5, None, None, 0)
    ctx.clones.append("a copy")
    if kind == "skb":
        ctx.vlan_tci, ctx.tunnel_info, ctx.ingress, ctx.assigned = 7, "tunnel", False, "sk"
        ctx.socket = "a socket"
        ctx.cb = [1, 2, 3, 4, 5]
    packet = bytes(12) + b"\x08\x00" + bytes(range(50))
    assert ctx._reload(packet)
    fresh = make(packet)
    assert _state(ctx) == _state(fresh)
    if kind == "xdp":
        # a reloaded XdpContext's block is filled, as a call fills it: data, data_end
        # and data_meta its own (no metadata), the rest and the metadata room as a
        # fresh block's
        fresh.fill(fresh.native_address)
        address = ctx.native_address
        assert ctx.block_for == address
        assert struct.unpack_from("<QQQ", ctx.buffer) == (address, address + len(packet),
                                                          address)
        assert ctx.buffer[24:ctx.HEADER] == fresh.buffer[24:ctx.HEADER]


def test_a_bad_packet_is_one_clear_error(engine):
    # before and after a context was made for packet bytes: a BpfError of its own (not
    # one raised while handling another)
    fn = bpfjit.compile(asm_program(LAST_BYTE), engine, cache=False)
    for _ in range(2):
        with pytest.raises(bpfjit.BpfError, match="bytes-like") as raised:
            fn("a str")
        assert raised.value.__context__ is None
        assert fn(bytes([5]) * 3) == 3 * 256 + 5


def test_packets_of_every_length_in_turn(engine):
    # a context kept for packet bytes has room for the longest packet seen so far
    fn = bpfjit.compile(asm_program(LAST_BYTE), engine, cache=False)
    lengths = [54, 74, 54, 60, 1500, 58, 74, 9000, 54]
    assert [fn(bytes([n % 11]) * n) for n in lengths] == [n * 256 + n % 11
                                                          for n in lengths]
