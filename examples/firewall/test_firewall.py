"""The README's example: an XDP firewall (firewall.c, built with clang -g into
firewall.o) tested with scapy packets.  bpfjit's pytest plugin gives the `bpf`
fixture: each test runs once per engine, and on a JIT engine every run is checked
against the interpreter.  Run it with `pytest examples/firewall`; add
`--bpf-cov bpf.info` for the C lines and branches the tests covered."""

import socket
import struct

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

XDP_DROP, XDP_PASS = 1, 2


def source_key(address: str) -> bytes:
    """A blocklist key: the IPv4 address as the program reads it (network order)."""
    return socket.inet_aton(address)


def test_web_traffic_passes_and_is_counted(bpf):
    fw = bpf.load("firewall.o", section="xdp")
    result = fw.run(Ether() / IP(src="192.0.2.1") / TCP(dport=443))
    assert result.verdict == "XDP_PASS"
    assert result.packet == bytes(Ether() / IP(src="192.0.2.1") / TCP(dport=443))
    assert fw.maps["counters"].ints() == {0: 0, 1: 0, 2: 1, 3: 0}


def test_telnet_is_dropped(bpf):
    fw = bpf.load("firewall.o", section="xdp")
    assert fw.run(Ether() / IP() / TCP(dport=23)).verdict == "XDP_DROP"
    assert fw.run(Ether() / IP() / UDP(dport=23)).verdict == "XDP_PASS"   # UDP is not telnet


def test_a_blocked_source_is_dropped(bpf):
    fw = bpf.load("firewall.o", section="xdp")
    fw.maps["blocklist"][source_key("198.51.100.7")] = 1       # what the control plane does
    assert fw.run(Ether() / IP(src="198.51.100.7") / UDP(dport=53)).r0 == XDP_DROP
    assert fw.run(Ether() / IP(src="198.51.100.8") / UDP(dport=53)).r0 == XDP_PASS
    assert fw.maps["counters"].ints()[XDP_DROP] == 1


def test_ip_options_and_runts_are_dropped(bpf):
    fw = bpf.load("firewall.o", section="xdp")
    with_options = Ether() / IP(options=b"\x01\x01\x01\x00") / TCP(dport=80)
    assert fw.run(with_options).verdict == "XDP_DROP"
    assert fw.run(bytes(10)).verdict == "XDP_DROP"             # not even an Ethernet header
    assert fw.run(Ether(type=0x86DD) / (b"\x00" * 40)).verdict == "XDP_PASS"   # not IPv4


def test_the_kernels_test_run_interface(bpf):
    fw = bpf.load("firewall.o", section="xdp")
    packet = bytes(Ether() / IP() / TCP(dport=23))
    # was: bpf_prog_test_run_opts(fd, &opts) with opts.data_in = packet, opts.repeat = 10
    result = fw.test_run(packet, repeat=10)
    assert (result.retval, result.data_out) == (XDP_DROP, packet)
    assert struct.unpack("<Q", fw.maps["counters"][XDP_DROP])[0] == 10
