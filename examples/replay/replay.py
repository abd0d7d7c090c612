"""Replay a capture through the example firewall (../firewall/firewall.o), as on a
live interface: its maps persist from packet to packet.  Writes a capture of a few
hundred packets with scapy, replays it on the engine given (default llvm), prints the
verdicts and writes the packets that passed.

    python examples/replay/replay.py [ENGINE] [OUTPUT_DIR]
"""

import random
import socket
import sys
import tempfile
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

import bpfjit

HERE = Path(__file__).parent


def traffic(count: int, seed: int = 7) -> list:
    """Web and DNS traffic, some telnet, some from a blocked address."""
    rng = random.Random(seed)
    packets = []
    for i in range(count):
        source = "198.51.100.7" if rng.random() < 0.1 else f"192.0.2.{rng.randrange(1, 250)}"
        transport = rng.choice([TCP(dport=443), TCP(dport=80), UDP(dport=53), TCP(dport=23)])
        packet = Ether() / IP(src=source, dst="203.0.113.1") / transport
        packet.time = 1_700_000_000 + i / 100
        packets.append(packet)
    return packets


def main() -> int:
    engine = sys.argv[1] if len(sys.argv) > 1 else "llvm"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp())
    capture = out / "traffic.pcap"
    wrpcap(str(capture), traffic(300))
    prog = bpfjit.load_elf(HERE.parent / "firewall" / "firewall.o", section="xdp")
    prog.maps["blocklist"][socket.inet_aton("198.51.100.7")] = 1
    result = bpfjit.replay(bpfjit.compile(prog, engine), capture,
                           write=out / "passed.pcap")
    print(result.format())
    print("counters:", {action: n for action, n in prog.maps["counters"].ints().items() if n})
    return 0


if __name__ == "__main__":
    sys.exit(main())
