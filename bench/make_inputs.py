"""Write the benchmark programs' input buffers (bench/programs/*.mem), deterministically."""

import random
import struct
from pathlib import Path

HERE = Path(__file__).parent / "programs"


def packets(rng: random.Random, count: int) -> bytes:
    """64-byte slots holding Ethernet (some VLAN-tagged) + IPv4 + TCP/UDP headers."""
    out = bytearray()
    for _ in range(count):
        vlan = rng.random() < 0.25
        proto = 6 if rng.random() < 0.7 else 17
        dport = 80 if rng.random() < 0.5 else rng.choice([22, 443, 8080])
        frame = bytearray(12)
        frame += b"\x81\x00" + struct.pack(">H", rng.randrange(4096)) if vlan else b""
        frame += b"\x08\x00"
        ip_total = 20 + 20 + rng.randrange(0, 200)
        frame += bytes([0x45, 0]) + struct.pack(">HHHBBH", ip_total, 0, 0, 64, proto, 0)
        frame += bytes(8)                                   # addresses
        frame += struct.pack(">HH", rng.randrange(1024, 65535), dport) + bytes(8)
        frame += bytes([0x50, 0x18]) + bytes(6)             # data offset 5 words
        out += frame[:64].ljust(64, b"\0")
    return bytes(out)


def http_text(rng: random.Random, size: int) -> bytes:
    words = [b"GET / HTTP/1.1\r\n", b"POST /form HTTP/1.1\r\n", b"Host: example\r\n",
             b"GET", b"POS", b"GETT /", b"PUT /x\r\n", b"data data data\r\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words)
    return bytes(out[:size])


def main() -> None:
    rng = random.Random(20261125)
    inputs = {
        "checksum": rng.randbytes(1500),        # one Ethernet MTU
        "fnv1a": rng.randbytes(4096),
        "sort": rng.randbytes(256),
        "parser": packets(rng, 64),
        "state": http_text(rng, 4096),
        "calls": rng.randbytes(2048),
        "histogram": rng.randbytes(4096),
    }
    for name, data in inputs.items():
        (HERE / f"{name}.mem").write_bytes(data)


if __name__ == "__main__":
    main()
