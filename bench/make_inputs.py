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


def firewall(rng: random.Random, rules: int, slots: int) -> bytes:
    """A rule table (count, then 32-byte rules) followed by 64-byte packet slots."""
    out = bytearray(struct.pack("<I", rules))
    for i in range(rules):
        src_len, dst_len = rng.choice([0, 8, 16, 24]), rng.choice([0, 16, 24, 32])
        src_mask = (0xFFFFFFFF << (32 - src_len)) & 0xFFFFFFFF
        dst_mask = (0xFFFFFFFF << (32 - dst_len)) & 0xFFFFFFFF
        src = (0x0A000000 | rng.randrange(1 << 16)) & src_mask
        dst = (0xC0A80000 | rng.randrange(1 << 8)) & dst_mask
        lo = rng.choice([0, 80, 1024, 443])
        out += struct.pack("<IIIIHHHHBBBBI", src, src_mask, dst, dst_mask,
                           0, 0xFFFF, lo, lo if lo else 0xFFFF,
                           rng.choice([0, 6, 17]), rng.choice([0, 0, 2, 16]),
                           rng.choice([0, 0, 4]), rng.choice([0, 1, 32]), rng.randrange(3))
    for _ in range(slots):
        vlan = rng.random() < 0.2
        proto = rng.choice([6, 6, 6, 17, 17, 1])
        frame = bytearray(12)
        frame += b"\x81\x00" + struct.pack(">H", rng.randrange(4096)) if vlan else b""
        frame += b"\x08\x00"
        fragment = 0x2000 if rng.random() < 0.05 else 0
        frame += bytes([0x45, 0]) + struct.pack(">HHHBBH", 60, 0, fragment, rng.randrange(1, 128),
                                                proto, 0)
        frame += struct.pack(">II", 0x0A000000 | rng.randrange(1 << 16),
                             0xC0A80000 | rng.randrange(1 << 8))
        frame += struct.pack(">HH", rng.randrange(1024, 65535),
                             rng.choice([80, 443, 22, 1024, 5353]))
        frame += bytes(9) + bytes([rng.choice([0x02, 0x10, 0x12, 0x18, 0x04])]) + bytes(6)
        out += frame[:64].ljust(64, b"\0")
    return bytes(out)


def tlv_records(rng: random.Random, size: int) -> bytes:
    """Type-length-value records, mostly well formed, ending at `size` bytes."""
    out = bytearray()
    while len(out) < size - 2:
        kind = rng.randrange(4)
        length = rng.choice([4, 8, 12, 16, 24, 32, 5, 3])
        if kind == 2:
            value = bytearray()
            while len(value) < length:
                value += bytes([rng.randrange(128, 256)] * rng.randrange(3)) + bytes([rng.randrange(128)])
            value = value[:length]
        else:
            value = rng.randbytes(length)
        out += bytes([kind | rng.randrange(64) << 2, length]) + value
    return bytes(out[:size])


def http_requests(rng: random.Random, size: int) -> bytes:
    """HTTP/1.1 requests with header fields, some with bodies announced by Content-Length."""
    out = bytearray()
    while len(out) < size:
        method = rng.choice([b"GET", b"POST", b"PUT", b"HEAD"])
        out += method + b" /" + rng.choice([b"", b"index.html", b"api/v1/items?id=7"]) + b" HTTP/1.1\r\n"
        for _ in range(rng.randrange(2, 7)):
            name = rng.choice([b"Host", b"User-Agent", b"Accept", b"Content-Length",
                               b"content-length", b"X-Trace", b"Cookie"])
            value = (str(rng.randrange(100000)).encode() if name.lower() == b"content-length"
                     else b"v" * rng.randrange(1, 30))
            out += name + b":" + b" " * rng.randrange(2) + value + b"\r\n"
        out += b"\r\n"
    return bytes(out[:size])


def tcp_syn(options: bytes, dport: int = 443) -> bytes:
    """An IPv4 TCP SYN (Ethernet, no VLAN) carrying `options` (a multiple of 4 bytes)."""
    tcp = struct.pack(">HHIIBBHHH", 40000, dport, 1, 0, (20 + len(options)) // 4 << 4, 0x02,
                      65535, 0, 0) + options
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     bytes((192, 168, 1, 2)), bytes((10, 0, 0, 2)))
    return bytes(range(12)) + b"\x08\x00" + ip + tcp


def dns_query(name: str) -> bytes:
    """An IPv4 UDP DNS query for `name` (type A, class IN)."""
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    dns = struct.pack(">6H", 0x1234, 0x0100, 1, 0, 0, 0) + question + b"\0\0\x01\0\x01"
    udp = struct.pack(">HHHH", 5353, 53, 8 + len(dns), 0) + dns
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes((10, 0, 0, 1)), bytes((10, 0, 0, 53)))
    return bytes(range(12)) + b"\x08\x00" + ip + udp


# the XDP programs' packets: a SYN whose MSS option comes last, after no-ops, a window
# scale, SACK-permitted and timestamps; a query for a long name (neither is dropped)
SYN_OPTIONS = b"\x01\x03\x03\x07\x04\x02\x08\x0a" + bytes(8) + b"\x01\x01\x02\x04\x05\xb4"
DNS_NAME = "static-assets.eu-west.cdn.example.com"


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
    more = random.Random(20261130)          # the kernels added later, apart from the rest
    inputs.update({
        "crc32": more.randbytes(1024),
        "firewall": firewall(more, 24, 96),
        "tlv": tlv_records(more, 4096),
        "tokenizer": http_requests(more, 4096),
        "modexp": more.randbytes(1024),
        "xdp_acl": tcp_syn(SYN_OPTIONS),
        "xdp_dns": dns_query(DNS_NAME),
    })
    for name, data in inputs.items():
        (HERE / f"{name}.mem").write_bytes(data)


if __name__ == "__main__":
    main()
