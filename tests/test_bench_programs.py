"""The shipped benchmark programs compute what an independent Python version computes.

The programs are clang-compiled C (bench/c/*.c -> bench/programs/*.bin) and one
hand-written assembly kernel; each runs on every engine with its shipped input.
"""

import math
import struct
import zlib
from pathlib import Path

import pytest

import bpfjit

PROGRAMS = Path(__file__).parent.parent / "bench" / "programs"
M64 = 2**64 - 1


def internet_checksum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data) - 1, 2))
    if len(data) % 2:
        total += data[-1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total ^ 0xFFFF


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def sorted_weighted(data: bytes) -> int:
    keys = sorted(struct.unpack_from("<64I", data))
    acc = 0
    for k in keys:
        acc = (acc * 31 + k) & M64
    return acc


def primes_below(n: int) -> int:
    return sum(all(k % d for d in range(2, int(k ** 0.5) + 1)) for k in range(2, n))


def parse_packets(data: bytes) -> int:
    acc = 0
    for off in range(0, len(data) - 63, 64):
        p = data[off:off + 64]
        kind, at = p[12:14], 14
        if kind == b"\x81\x00":
            kind, at = p[16:18], 18
        if kind != b"\x08\x00":
            continue
        ihl = (p[at] & 0x0F) * 4
        total = int.from_bytes(p[at + 2:at + 4], "big")
        if p[at + 9] != 6 or ihl < 20 or at + ihl + 20 > 64:
            continue
        tcp = p[at + ihl:]
        if int.from_bytes(tcp[2:4], "big") != 80:
            continue
        acc += (1 << 32) | ((total - ihl - (tcp[12] >> 4) * 4) & 0xFFFF)
    return acc


def http_requests(data: bytes) -> int:
    text = data.decode("latin-1")
    count, state = 0, 0
    table = {0: {"G": 1, "P": 5}, 1: {"E": 2}, 2: {"T": 3}, 3: {" ": 4},
             5: {"O": 6}, 6: {"S": 7}, 7: {"T": 3}}
    for c in text:
        if state == 4:
            count += c == "/"
            state = 0
        else:
            state = table[state].get(c, 0)
    return count


def mix(x: int, k: int) -> int:
    x ^= x >> 33
    x = (x * k) & M64
    return x ^ (x >> 29)


def calls(data: bytes) -> int:
    acc = len(data)
    for i in range(0, len(data) - 7, 8):
        word = int.from_bytes(data[i:i + 8], "little")
        acc = ((acc ^ mix(word, 0xFF51AFD7ED558CCD)) * 0x9E3779B97F4A7C15) & M64
    return mix(acc, 0xC4CEB9FE1A85EC53)


def histogram(data: bytes) -> int:
    buckets = [0] * 64
    for byte in data:
        buckets[byte >> 2] += 1
    acc = 0
    for count in buckets:
        acc = (acc * 33 + count) & M64
    return acc


def xorshift_sum(_: bytes) -> int:
    x, total = 0x9E3779B97F4A7C15, 0
    for _ in range(1000):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        total = (total + x) & M64
    return total


def firewall(data: bytes) -> int:
    """First-match rules over extracted header fields (see bench/c/firewall.c)."""
    count = min(int.from_bytes(data[:4], "little"), 32)
    table = 4 + 32 * count
    rules = [struct.unpack_from("<IIIIHHHHBBBBI", data, 4 + 32 * i) for i in range(count)]
    verdicts, trail = [0, 0, 0, 0], 0
    for off in range(table, len(data) - 63, 64):
        p = data[off:off + 64]
        kind, at = p[12:14], 14
        if kind == b"\x81\x00":
            kind, at = p[16:18], 18
        ihl = (p[at] & 15) * 4
        if kind != b"\x08\x00" or ihl < 20:
            verdicts[3] += 1
            continue
        ttl, proto = p[at + 8], p[at + 9]
        src, dst = struct.unpack_from(">II", p, at + 12)
        fragment = int.from_bytes(p[at + 6:at + 8], "big") & 0x3FFF
        l4 = at + ihl
        sport = dport = flags = 0
        if not fragment and proto in (6, 17):
            sport, dport = struct.unpack_from(">HH", p, l4)
            flags = p[l4 + 13] if proto == 6 else 0
        action = 0
        for i, (rsrc, smask, rdst, dmask, slo, shi, dlo, dhi, rproto, fset, fclear, min_ttl,
                raction) in enumerate(rules):
            if (src & smask == rsrc and dst & dmask == rdst and rproto in (0, proto)
                    and slo <= sport <= shi and dlo <= dport <= dhi
                    and flags & fset == fset and not flags & fclear and ttl >= min_ttl):
                action = raction & 3
                trail = (trail * 31 + i) & M64
                break
        verdicts[action] += 1
    return (trail ^ verdicts[0] ^ verdicts[1] << 16 ^ verdicts[2] << 32 ^ verdicts[3] << 48) & M64


def tlv(data: bytes) -> int:
    words = high = varints = records = skipped = 0
    at = 0
    while at + 2 <= len(data):
        kind, length = data[at] & 3, data[at + 1]
        value = data[at + 2:at + 2 + length]
        if len(value) < length:
            break
        if kind == 0:
            words += sum(w & 0x7FFFFFFF for w in struct.unpack_from(f"<{length // 4}I", value))
        elif kind == 1:
            high += sum(b >> 7 for b in value)
        elif kind == 2:
            v = shift = 0
            for b in value:
                if shift >= 64:
                    break
                v |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    varints += v
                    v = shift = 0
        else:
            skipped += length
        records += 1
        at += 2 + length
    return (words + (high << 20) + (varints << 8) + (records << 40) + skipped) & M64


def tokenize(data: bytes) -> int:
    """Requests, headers, the sum of Content-Length values and errors of an HTTP stream."""
    requests = headers = content = errors = 0
    state, name, number = "method", b"", 0
    for c in data:
        ch = bytes([c])
        if state == "number":
            if ch.isdigit():
                number = number * 10 + c - 48
                continue
            content += number
            state = "value"
        if state == "method":
            if ch == b" ":
                state = "target"
            elif not b"A" <= ch <= b"Z":
                errors, state = errors + 1, "line end"
        elif state == "target":
            if ch == b" ":
                state = "version"
            elif c <= 32 or c >= 127:
                errors, state = errors + 1, "line end"
        elif state == "version":
            if ch in b"\r\n":
                requests += 1
                state = "name" if ch == b"\n" else "line end"
        elif state == "line end":
            state = "name" if ch == b"\n" else state
        elif state == "name":
            if ch == b":":
                headers, state = headers + 1, "value start"
            elif ch in b"\r\n":
                state = "method" if ch == b"\n" else "header end"
            else:
                name += ch.lower()
        elif state == "value start":
            if ch in b" \t":
                continue
            state = "value"
            if name == b"content-length" and ch.isdigit():
                state, number = "number", c - 48
            elif ch == b"\n":
                state, name = "name", b""
        elif state == "value":
            if ch == b"\n":
                state, name = "name", b""
        elif state == "header end":
            state = "method"
    return (requests | headers << 16 | content << 32 | errors << 56) & M64


def modexp(data: bytes) -> int:
    acc = 0
    for off in range(0, len(data) - 15, 16):
        base, exp, mod, other = struct.unpack_from("<4I", data, off)
        r = pow(base, exp & 0xFFFF, mod | 1)
        acc = (acc * 1000003 + r + math.gcd(r, other)) & M64
    return acc


# ---- the XDP programs (bench/xdp/*.c), read from their comments: verdicts -------------

DROP, PASS = 1, 2


def tcp_verdict(tcp: bytes) -> int:
    dport, off, flags = int.from_bytes(tcp[2:4], "big"), tcp[12] >> 4, tcp[13]
    if dport in (23, 2323):
        return DROP
    if flags & 0x12 != 0x02:                      # not a SYN (or a SYN-ACK)
        return PASS
    if off * 4 < 20:
        return DROP
    # an option starts inside the header; its bytes are read wherever the packet has them
    options, header_end, at = tcp[20:], off * 4 - 20, 0
    for _ in range(8):                            # the first 8 options
        if at >= len(options) or at >= header_end:
            break
        kind = options[at]
        if kind == 0:
            break
        if kind == 1:
            at += 1
            continue
        if at + 2 > len(options):
            break
        length = options[at + 1]
        if length < 2:
            return DROP
        if kind == 2 and length == 4:
            if at + 4 > len(options):
                break
            return DROP if int.from_bytes(options[at + 2:at + 4], "big") < 536 else PASS
        at += length
    return PASS


def udp_verdict(udp: bytes, source_first_byte: int) -> int:
    sport, dport, length = struct.unpack_from(">HHH", udp)
    if dport == 53 and source_first_byte != 10:
        return DROP
    return DROP if sport == 19 or (sport == 123 and length > 200) else PASS


def xdp_acl(packet: bytes) -> int:
    if len(packet) < 14:
        return DROP
    proto, at = packet[12:14], 14
    for _ in range(2):
        if proto not in (b"\x81\x00", b"\x88\xa8"):
            break
        if len(packet) < at + 4:
            return DROP
        if int.from_bytes(packet[at:at + 2], "big") & 0xFFF == 0xFFF:
            return DROP
        proto, at = packet[at + 2:at + 4], at + 4
    if proto == b"\x08\x00":
        if len(packet) < at + 20:
            return DROP
        ihl = (packet[at] & 0x0F) * 4
        if packet[at] >> 4 != 4 or ihl < 20 or packet[at + 8] < 2 or packet[at + 12] == 127:
            return DROP
        if int.from_bytes(packet[at + 6:at + 8], "big") & 0x1FFF:
            return PASS
        l4, ip_proto = packet[at + ihl:], packet[at + 9]
        if ip_proto in (6, 17) and len(l4) < (20 if ip_proto == 6 else 8):
            return DROP
        if ip_proto == 6:
            return tcp_verdict(l4)
        if ip_proto == 17:
            return udp_verdict(l4, packet[at + 12])
        return PASS if ip_proto == 1 else DROP
    if proto == b"\x86\xdd":
        if len(packet) < at + 40:
            return DROP
        nxt, hops, l4 = packet[at + 6], packet[at + 7], packet[at + 40:]
        if hops < 2 or packet[at + 8] == 0xFF:
            return DROP
        if nxt in (6, 17) and len(l4) < (20 if nxt == 6 else 8):
            return DROP
        if nxt == 6:
            return tcp_verdict(l4)
        if nxt == 17:
            return udp_verdict(l4, 10)
        return PASS if nxt == 58 else DROP
    return PASS if proto == b"\x08\x06" else DROP


BLOCKED_NAMES = ("ads.example.com", "tracker.example.net")


def name_hash(labels: bytes) -> int:
    """FNV-1a (32 bits) of a DNS name in wire form, a '.' for each length byte."""
    h, left = 2166136261, 0
    for c in labels:
        if left == 0:
            left, c = c, ord(".")
        else:
            left -= 1
            c = c + 32 if ord("A") <= c <= ord("Z") else c
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def xdp_dns(packet: bytes) -> int:
    ip, udp = packet[14:34], packet[34:42]
    if len(packet) < 42 or packet[12:14] != b"\x08\x00" or ip[9] != 17 or ip[0] != 0x45 \
            or udp[2:4] != b"\x00\x35":
        return PASS
    name, at, left = bytearray(), 54, 0           # the question, past the 12-byte header
    for _ in range(128):
        if at >= len(packet):
            return DROP
        c = packet[at]
        at += 1
        if left == 0:
            if c == 0:
                break
            if c > 63:
                return DROP
            left = c
        else:
            left -= 1
        name.append(c)
    h = name_hash(bytes(name))
    blocked = {name_hash(b"".join(bytes([len(w)]) + w.encode() for w in n.split(".")))
               for n in BLOCKED_NAMES}
    return (h & 0xFFFFFF) << 8 | (DROP if h in blocked else PASS)


def ipv4(proto: int, l4: bytes, src: int = 192, ttl: int = 64, frag: int = 0x4000,
         vlans: tuple = ()) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, frag, ttl, proto, 0,
                         bytes((src, 168, 1, 2)), bytes((10, 0, 0, 2)))
    tags = b"".join(struct.pack(">HH", tpid, tci) for tpid, tci in vlans)
    ethertype = struct.pack(">H", vlans[0][0]) if vlans else b"\x08\x00"
    if vlans:
        tags = b"".join(struct.pack(">H", tci) + struct.pack(">H", nxt) for (_, tci), nxt in
                        zip(vlans, [t for t, _ in vlans[1:]] + [0x0800]))
    return bytes(12) + ethertype + tags + header + l4


def ipv6(nxt: int, l4: bytes, hops: int = 64, first: int = 0x20) -> bytes:
    header = struct.pack(">IHBB", 0x60000000, len(l4), nxt, hops) + bytes([first]) + bytes(31)
    return bytes(12) + b"\x86\xdd" + header + l4


def tcp(dport: int = 443, flags: int = 0x02, options: bytes = b"") -> bytes:
    return struct.pack(">HHIIBBHHH", 40000, dport, 1, 0, (20 + len(options)) // 4 << 4,
                       flags, 65535, 0, 0) + options


def udp(dport: int, payload: bytes = b"", sport: int = 5353) -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def query(name: bytes) -> bytes:
    return struct.pack(">6H", 1, 0x0100, 1, 0, 0, 0) + name + b"\0\0\x01\0\x01"


def wire(name: str) -> bytes:
    return b"".join(bytes([len(w)]) + w.encode() for w in name.split(".")) + b"\0"


MSS = b"\x02\x04\x05\xb4"
PACKETS = {
    "syn-mss-first": ipv4(6, tcp(options=MSS)),
    "syn-small-mss": ipv4(6, tcp(options=b"\x01\x01\x02\x04\x01\x00")),
    "syn-no-mss": ipv4(6, tcp(options=b"\x01\x01\x04\x02")),
    "syn-bad-option": ipv4(6, tcp(options=b"\x03\x01\x00\x00")),
    "syn-mss-past-8": ipv4(6, tcp(options=b"\x01" * 8 + b"\x02\x04\x00\x10")),
    "ack": ipv4(6, tcp(flags=0x10)),
    "telnet": ipv4(6, tcp(dport=23, flags=0x10)),
    "tcp-truncated": ipv4(6, tcp()[:12]),
    "dns-from-outside": ipv4(17, udp(53, query(wire("example.org")))),
    "dns-from-inside": ipv4(17, udp(53, query(wire("example.org"))), src=10),
    "ntp-big": ipv4(17, udp(9, bytes(300), sport=123)),
    "ntp-small": ipv4(17, udp(9, bytes(40), sport=123)),
    "icmp": ipv4(1, bytes(8)),
    "gre": ipv4(47, bytes(8)),
    "ttl-1": ipv4(6, tcp(), ttl=1),
    "loopback-source": ipv4(6, tcp(), src=127),
    "later-fragment": ipv4(6, tcp(dport=23), frag=0x0010),
    "vlan": ipv4(6, tcp(dport=23), vlans=((0x8100, 5),)),
    "qinq": ipv4(6, tcp(), vlans=((0x88a8, 5), (0x8100, 7))),
    "vlan-reserved": ipv4(6, tcp(), vlans=((0x8100, 0xfff),)),
    "ipv6-tcp": ipv6(6, tcp(options=MSS)),
    "ipv6-udp-dns": ipv6(17, udp(53)),
    "ipv6-hops-1": ipv6(6, tcp(), hops=1),
    "ipv6-multicast-source": ipv6(58, bytes(8), first=0xff),
    "ipv6-icmp": ipv6(58, bytes(8)),
    "arp": bytes(12) + b"\x08\x06" + bytes(28),
    "short": bytes(12) + b"\x08\x00" + bytes(10),
    "query-blocked": ipv4(17, udp(53, query(wire("ADS.example.COM"))), src=10),
    "query-blocked-2": ipv4(17, udp(53, query(wire("tracker.example.net"))), src=10),
    "query-long": ipv4(17, udp(53, query(wire("a" * 60 + "." + "b" * 60 + ".example")))),
    "query-compressed": ipv4(17, udp(53, query(b"\x03www\xc0\x0c"))),
    "query-truncated": ipv4(17, udp(53, query(b"\x07exam"))[:-5]),
}


@pytest.mark.parametrize("program", ["xdp_acl", "xdp_dns"])
@pytest.mark.parametrize("packet", sorted(PACKETS))
def test_xdp_program_verdicts(engine, program, packet):
    prog, _ = load(program)
    data = PACKETS[packet]
    assert bpfjit.compile(prog, engine)(data) == REFERENCES[program](data)


REFERENCES = {
    "checksum": internet_checksum, "fnv1a": fnv1a, "sort": sorted_weighted,
    "sieve": lambda _: primes_below(2048), "parser": parse_packets, "state": http_requests,
    "calls": calls, "histogram": histogram, "xorshift": xorshift_sum,
    "crc32": zlib.crc32, "firewall": firewall, "tlv": tlv, "tokenizer": tokenize,
    "modexp": modexp, "xdp_acl": xdp_acl, "xdp_dns": xdp_dns,
}


def load(name: str) -> tuple[bpfjit.Program, bytes]:
    binary, source, xdp = (PROGRAMS / f"{name}{suffix}" for suffix in (".bin", ".s", ".xdp"))
    if xdp.exists():
        prog = bpfjit.Program(bpfjit.Program.from_bytes(xdp.read_bytes()).insns,
                              context="xdp", prog_type="xdp")
    else:
        prog = bpfjit.Program.from_bytes(binary.read_bytes()) if binary.exists() \
            else bpfjit.assemble(source.read_text())
    mem = PROGRAMS / f"{name}.mem"
    return prog, (mem.read_bytes() if mem.exists() else b"")


def test_every_shipped_program_has_a_reference():
    shipped = {p.stem for p in PROGRAMS.iterdir() if p.suffix in (".bin", ".s", ".xdp")}
    assert shipped == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_program(engine, name):
    prog, mem = load(name)
    assert bpfjit.compile(prog, engine)(mem or None) == REFERENCES[name](mem)


def test_checksum_of_odd_length(engine):
    prog, mem = load("checksum")
    assert bpfjit.compile(prog, engine)(mem[:7]) == internet_checksum(mem[:7])
