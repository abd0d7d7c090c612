"""The socket-buffer context (struct __sk_buff) of tc programs and socket filters:
fields read, fields written and read back, packet pointers, on every engine."""

import struct
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
TC_ACT_OK, TC_ACT_SHOT = 0, 2


def frame(proto: int, sport: int = 1000, dport: int = 80, ttl: int = 64,
          ether_type: int = 0x0800) -> bytes:
    """Ethernet + a 20-byte IPv4 header + the two ports + 4 payload bytes."""
    eth = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", ether_type)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 28, 0, 0, ttl, proto, 0, 0x0A000001, 0x0A000002)
    return eth + ip + struct.pack("!HH", sport, dport) + b"data"


def test_tc_classifier_reads_and_writes_the_skb(engine):
    prog = bpfjit.load_elf(ELF / "tc_classify.o")
    assert (prog.prog_type, prog.context) == ("sched_cls", "skb")
    fn = bpfjit.compile(prog, engine)
    tcp = bpfjit.SkbContext(frame(6, ttl=17))
    assert fn(tcp) == TC_ACT_OK
    # the C: mark = ttl, cb[0] = len (14 + 20 + 4 + 4 = 42); priority and class only for UDP
    assert (tcp.mark, tcp.cb[0], tcp.priority, tcp.tc_classid) == (17, 42, 0, 0)
    dns = bpfjit.SkbContext(frame(17, sport=40000, dport=53, ttl=3))
    assert fn(dns) == TC_ACT_SHOT
    assert (dns.mark, dns.priority, dns.tc_classid) == (3, 6, 0x10002)
    reply = bpfjit.SkbContext(frame(17, sport=53, dport=53))
    assert fn(reply) == TC_ACT_OK
    arp = bpfjit.SkbContext(frame(0, ether_type=0x0806))
    assert fn(arp) == TC_ACT_OK and arp.mark == 0 and arp.cb[0] == 42
    # bytes per protocol: one TCP packet, two UDP packets of 42 bytes each
    assert prog.maps["bytes_by_proto"].ints() == {6: 42, 17: 84}


def test_protocol_comes_from_the_frame_or_the_caller(engine):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "tc_classify.o"), engine)
    ipv4 = frame(17, dport=53)
    # told the packet is IPv6, the program takes the early return and writes no mark
    ctx = bpfjit.SkbContext(ipv4, protocol=int.from_bytes(b"\x86\xdd", "little"))
    assert fn(ctx) == TC_ACT_OK and ctx.mark == 0
    assert bpfjit.SkbContext(ipv4).protocol == int.from_bytes(b"\x08\x00", "little")


def test_a_plain_packet_is_wrapped_and_changes_come_back(engine):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "tc_classify.o"), engine)
    assert fn(frame(17, dport=53)) == TC_ACT_SHOT
    assert fn(bytearray(frame(6))) == TC_ACT_OK


def test_a_truncated_frame_is_shot(engine):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "tc_classify.o"), engine)
    assert fn(bpfjit.SkbContext(frame(6)[:20])) == TC_ACT_SHOT


def test_skb_fields_outside_the_struct_are_refused():
    prog = bpfjit.assemble("ldxw %r0, [%r1+400]\nexit")
    prog = bpfjit.Program(prog.insns, context="skb", prog_type="sched_cls")
    with pytest.raises(bpfjit.VerifierError, match="not a field"):
        bpfjit.verify(prog)


def test_narrow_loads_of_skb_fields_read_their_low_bytes(engine):
    # ldxh at offset 16 reads the low half of `protocol`; ldxb at 0 the low byte of len
    prog = bpfjit.assemble("ldxh %r0, [%r1+16]\nldxb %r2, [%r1+0]\nlsh %r0, 8\n"
                           "or %r0, %r2\nexit")
    prog = bpfjit.Program(prog.insns, context="skb", prog_type="sched_cls")
    fn = bpfjit.compile(prog, engine)
    ctx = bpfjit.SkbContext(bytes(300), protocol=0x1234)
    assert fn(ctx) == (0x1234 << 8) | (300 & 0xFF)


def test_an_xdp_context_is_not_an_skb():
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "tc_classify.o"))
    with pytest.raises(bpfjit.BpfError, match="takes a SkbContext, not a XdpContext"):
        fn(bpfjit.XdpContext(frame(6)))


# ---- legacy packet loads: ldabs / ldind ------------------------------------------------------

KEEP_ALL = 0xFFFFFFFF          # `return -1` in a socket filter: keep the whole packet


def tcp_frame(sport: int, dport: int, options: bytes = b"") -> bytes:
    eth = b"\x02" * 12 + b"\x08\x00"
    ihl = (20 + len(options)) // 4
    ip = struct.pack("!BBHHHBBHII", 0x40 | ihl, 0, 20 + len(options) + 20, 0, 0, 64, 6, 0,
                     0x0A000001, 0x0A000002) + options
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 0x50, 0x10, 1024, 0, 0)
    return eth + ip + tcp


def test_socket_filter_with_legacy_loads_keeps_ssh(engine):
    prog = bpfjit.load_elf(ELF / "socket_ldabs.o")
    assert prog.prog_type == "socket_filter"
    fn = bpfjit.compile(prog, engine)
    assert fn(tcp_frame(40000, 22)) == KEEP_ALL
    assert fn(tcp_frame(22, 40000)) == KEEP_ALL
    assert fn(tcp_frame(40000, 80)) == 0
    # IP options move the ports: ldind reads them at 14 + 24
    assert fn(tcp_frame(40000, 22, options=b"\x01\x01\x01\x00")) == KEEP_ALL
    assert fn(frame(17, dport=22)) == 0                     # UDP
    assert fn(frame(0, ether_type=0x0806)) == 0            # ARP


def test_a_legacy_load_past_the_end_returns_zero(engine):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "socket_ldabs.o"), engine)
    ssh = tcp_frame(40000, 22)
    assert fn(ssh[:36]) == 0          # the 4-byte port word at 34 does not fit
    assert fn(ssh[:38]) == KEEP_ALL   # it just fits
    assert fn(ssh[:13]) == 0          # not even the EtherType


def skb_program(source: str) -> bpfjit.Program:
    prog = bpfjit.assemble(source)
    return bpfjit.Program(prog.insns, context="skb", prog_type="socket_filter")


@pytest.mark.parametrize("source,expected", [
    # big-endian loads of 1, 2 and 4 bytes at packet offsets 1..
    ("ldabsb 1\nexit", 0x11),
    ("ldabsh 1\nexit", 0x1122),
    ("ldabsw 1\nexit", 0x11223344),
    # ldind: src + imm, as a signed 32-bit sum: 0x1_0000_0003 + (-2) reads offset 1
    ("lddw %r7, 0x100000003\nldindh %r7, -2\nexit", 0x1122),
    # negative offsets and offsets past the end end the program with r0 = 0
    ("mov %r0, 9\nldabsb -1\nexit", 0),
    ("mov %r7, 5\nldindw %r7, 0\nexit", 0),
    # r1-r5 are clobbered, r6-r9 kept
    ("mov %r8, 7\nldabsb 2\nadd %r0, %r8\nexit", 0x22 + 7),
])
def test_legacy_loads_by_hand(engine, source, expected):
    fn = bpfjit.compile(skb_program("mov %r6, %r1\n" + source), engine)
    assert fn(bytes([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])) == expected


@pytest.mark.parametrize("source,context,words", [
    ("mov %r6, %r1\nldabsb 0\nexit", None, "need a socket filter or tc program"),
    ("mov %r6, %r1\nldabsb 0\nexit", "xdp", "need a socket filter or tc program"),
    ("mov %r6, 0\nldabsb 0\nexit", "skb", "context in r6"),
    ("ldabsb 0\nexit", "skb", "r6 is read before"),
    ("mov %r6, %r1\nldabsb 0\nadd %r0, %r1\nexit", "skb", "r1 is read before"),
    # (a copy of the clobbered r1 is refused where it is read: unwritten_copies)
    ("mov %r6, %r1\nldabsb 0\nmov %r0, %r1\nexit", "skb", "r0 holds a copy, made at pc 2"),
    ("mov %r6, %r1\nmov %r7, %r1\nldindb %r7, 0\nexit", "skb", "takes a number"),
    ("mov %r6, %r1\ncall local sub\nldabsb 0\nexit\nsub:\nmov %r0, 0\nexit", "skb",
     "cannot be mixed with bpf-to-bpf calls"),
])
def test_legacy_loads_are_checked_by_the_verifier(source, context, words):
    prog = bpfjit.assemble(source)
    prog = bpfjit.Program(prog.insns, context=context,
                          prog_type="xdp" if context == "xdp" else "socket_filter")
    with pytest.raises(bpfjit.VerifierError, match=words):
        bpfjit.verify(prog)


def test_legacy_loads_encode_as_the_kernel_does():
    prog = bpfjit.assemble("ldabsh 12\nldindw %r7, 4\nldabsb 23")
    # opcode 0x28 (LD|ABS|H) imm 12; 0x40 (LD|IND|W) src r7 imm 4; 0x30 (LD|ABS|B)
    assert prog.to_bytes().hex() == ("280000000c000000" "4070000004000000"
                                     "3000000017000000")
    assert bpfjit.disassemble(prog).splitlines() == ["ldabsh 12", "ldindw %r7, 4",
                                                     "ldabsb 23"]
    with pytest.raises(bpfjit.DecodeError):
        bpfjit.Program.from_bytes(bytes.fromhex("2801000000000000"))   # dst must be 0


# cb[] two slots at a time: the kernel allows 8-byte loads and stores at cb[0] and cb[2]
# (offsets 48 and 56, 8-aligned, ending inside cb[4]); clang emits them for a u64 kept
# in cb (dae's tproxy programs).  Stores 0x1111111122222222 at cb[0], reads cb[0..1] back
# as one u64 plus cb[2..3] as one (the caller's 5 and 6), and returns their sum's low word
CB_PAIRS = """
    lddw %r2, 0x1111111122222222
    stxdw [%r1+48], %r2
    ldxdw %r3, [%r1+48]
    ldxdw %r4, [%r1+56]
    mov %r0, %r3
    add %r0, %r4
    rsh %r0, 32
    exit
"""


def test_cb_is_read_and_written_eight_bytes_at_a_time(engine):
    from skb_programs import tc_program
    fn = bpfjit.compile(tc_program(CB_PAIRS), engine)
    ctx = bpfjit.SkbContext(frame(6), cb=(1, 2, 5, 6, 9))
    # cb[2..3] as a little-endian u64 is 6 << 32 | 5; the sum's high word 0x11111111 + 6
    assert fn(ctx) == 0x11111111 + 6
    # the store wrote cb[0] (low word) and cb[1] (high word); cb[2..4] untouched
    assert ctx.cb == [0x22222222, 0x11111111, 5, 6, 9]


@pytest.mark.parametrize("offset", [52, 64])
def test_cb_eight_bytes_elsewhere_is_refused(offset):
    from skb_programs import tc_program
    prog = tc_program(f"ldxdw %r0, [%r1+{offset}]\nexit")
    with pytest.raises(bpfjit.VerifierError, match=f"context access at offset {offset}, size 8"):
        bpfjit.verify(prog, cache=False)
