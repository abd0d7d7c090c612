"""Scapy packets wherever bpfjit takes a packet, and the packet after a run parsed back
(scapy is an optional dependency: these tests skip without it)."""

from pathlib import Path

import pytest

import bpfjit

scapy_l2 = pytest.importorskip("scapy.layers.l2")
inet = pytest.importorskip("scapy.layers.inet")
Ether, IP, TCP, UDP = scapy_l2.Ether, inet.IP, inet.TCP, inet.UDP

ELF = Path(__file__).parent / "elf"
XDP_DROP, XDP_PASS = 1, 2

# swap the Ethernet source and destination addresses, then XDP_TX
SWAP = """
ldxw r2, [r1+0]
ldxw r3, [r1+4]
mov r4, r2
add r4, 14
mov r0, 1
jgt r4, r3, out
ldxw r5, [r2+0]
ldxh r6, [r2+4]
ldxw r7, [r2+6]
ldxh r8, [r2+10]
stxw [r2+0], r7
stxh [r2+4], r8
stxw [r2+6], r5
stxh [r2+10], r6
mov r0, 3
out:
exit
"""


def test_a_scapy_packet_is_a_packet(engine):
    fn = bpfjit.compile(bpfjit.load_elf(ELF / "parser.o", section="xdp"), engine)
    assert fn(Ether() / IP(dst="10.0.0.2") / TCP(dport=23)) == XDP_DROP
    assert fn(Ether() / IP(dst="10.0.0.2") / TCP(dport=80)) == XDP_PASS
    assert fn(bpfjit.XdpContext(Ether() / IP() / UDP(dport=23))) == XDP_DROP


def test_the_packet_after_the_run_parsed_back(engine):
    prog = bpfjit.Program(bpfjit.assemble(SWAP).insns, context="xdp", prog_type="xdp")
    ctx = bpfjit.XdpContext(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                            IP(src="10.0.0.1") / TCP(dport=80))
    assert bpfjit.compile(prog, engine)(ctx) == 3                     # XDP_TX
    after = ctx.scapy()
    assert (after.src, after.dst) == ("02:00:00:00:00:02", "02:00:00:00:00:01")
    assert after[IP].src == "10.0.0.1" and after[TCP].dport == 80


def test_a_scapy_packet_as_plain_memory_and_in_a_test_run(engine):
    packet = Ether() / IP() / TCP(dport=0x1F90)
    # plain convention: r1 is the memory; the TCP destination port, big-endian, at 36
    fn = bpfjit.compile(bpfjit.assemble("ldxh r0, [r1+36]\nbe16 r0\nexit"), engine)
    assert fn(packet) == 0x1F90
    result = fn.test_run(packet)
    assert result.retval == 0x1F90 and result.data_out == bytes(packet)


def test_without_scapy_parsing_back_says_what_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "scapy.layers.l2", None)     # as if not installed
    with pytest.raises(bpfjit.BpfError, match=r"pip install 'bpfjit\[scapy\]'"):
        bpfjit.XdpContext(bytes(20)).scapy()
