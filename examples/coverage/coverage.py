"""A coverage report of the example firewall's C source (../firewall/firewall.c) from
a handful of packets, without pytest: which lines and branches they exercised, as a
table and as an lcov tracefile (genhtml makes HTML of it).

    python examples/coverage/coverage.py [LCOV_FILE]
"""

import sys
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

import bpfjit

HERE = Path(__file__).parent


def main() -> int:
    prog = bpfjit.load_elf(HERE.parent / "firewall" / "firewall.o", section="xdp")
    cov = bpfjit.Coverage()
    for packet in [Ether() / IP() / TCP(dport=443),        # passes
                   Ether() / IP() / TCP(dport=23),         # telnet: dropped
                   Ether() / IP() / UDP(dport=53)]:        # passes
        cov.run(prog, packet)
    print(cov.summary())
    if len(sys.argv) > 1:
        print(f"lcov tracefile: {cov.write_lcov(sys.argv[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
