"""Build the corpus: every C program to a BPF object file, inputs for the plain
programs, and their expected results computed by the same C compiled natively.

Run by `make corpus` (needs clang with the BPF target and a native C compiler).  The
objects are built with clang's default CPU (`-target bpf`, no -mcpu), as a user who
passes no flags gets them; -g gives the BTF that `.maps` need.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bpfjit.bench import NativeKernel  # noqa: E402

CLANG = ["clang", "-O2", "-g", "-target", "bpf", "-c", "-fdebug-compilation-dir=.",
         f"-ffile-prefix-map={HERE}=."]


def _words(rng: random.Random, n: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(n))


def _json_text(rng: random.Random, n: int, stray_close: bool = True) -> bytes:
    """n bytes of JSON-ish text; with `stray_close`, a `]` at depth 0 may come (the
    tokenizer's error), else the text is tokenized to its end (the large input, whose
    run time the corpus measures)."""
    parts = ['{"a": [1, 2.5, -3e4, true, false, null], "b\\u00e9": {"c": "x\\"y"}}',
             ' // note\n', '[[[["deep"]]]]', ', 12.75e+3', ': "s"', '[0, -0.5]']
    if stray_close:
        parts.insert(5, ']')
    out = ""
    while len(out) < n:
        out += rng.choice(parts)
    return out[:n].encode()


def _gamma_of(values) -> bytes:
    """Elias-gamma codes of `values` (each >= 1), most significant bit first, padded
    with one bits (each a code of no zeros: the number 1)."""
    bits = ""
    for v in values:
        bits += "0" * (v.bit_length() - 1) + format(v, "b")
    bits += "1" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def _varints(rng: random.Random, count: int) -> bytes:
    def varint(v: int) -> bytes:
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    out = bytearray()
    for _ in range(count):
        field = rng.randrange(1, 12)
        if rng.random() < 0.7:
            out += varint(field << 3) + varint(rng.choice([1, 300, 1 << 35, rng.randrange(1 << 20)]))
        else:
            payload = _words(rng, rng.randrange(0, 40))
            out += varint(field << 3 | 2) + varint(len(payload)) + payload
    return bytes(out)


def _options(rng: random.Random, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        kind = rng.choice([1, 2, 3, 5, 8, 9, 30])
        if kind == 1:
            out.append(1)
            continue
        size = {2: 2, 3: 1, 8: 8, 5: 8 * rng.randrange(1, 4)}.get(kind, rng.randrange(0, 12))
        out += bytes([kind, size + 2]) + _words(rng, size)
    return bytes(out)


def _frames(rng: random.Random, count: int) -> bytes:
    """64-byte frames: mostly IPv4 (some with options, some too short a header) over
    Ethernet, carrying TCP, UDP or ICMP; every seventh is IPv6."""
    out = bytearray()
    for k in range(count):
        frame = bytearray(_words(rng, 64))
        frame[12:14] = b"\x86\xdd" if k % 7 == 6 else b"\x08\x00"
        frame[14] = 0x40 | rng.choice([5, 5, 5, 6, 4, 15])
        frame[23] = rng.choice([6, 17, 1])
        out += frame
    return bytes(out)


def _records(rng: random.Random, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        value = _words(rng, rng.randrange(0, 70))
        out += bytes([rng.randrange(256)]) + len(value).to_bytes(2, "little") + value
    return bytes(out)


def _settings(rng: random.Random, count: int) -> bytes:
    """`count` key=value pairs, most with a known key, some with spaces or no value."""
    keys = ["port", "timeout", "retries", "mtu", "portx", "mt", "colour", " retries "]
    out = []
    for _ in range(count):
        value = str(rng.randrange(100000)) if rng.random() < 0.9 else ""
        out.append(f"{rng.choice(keys)}{rng.choice(['=', ' = '])}{value}")
    return ";".join(out).encode()


def _packbits(rng: random.Random, n: int) -> bytes:
    """PackBits runs, literal and repeated, `n` bytes or a little more."""
    out = bytearray()
    while len(out) < n:
        if rng.random() < 0.5:
            count = rng.randrange(1, 129)
            out += bytes([count - 1]) + _words(rng, count)
        else:
            out += bytes([rng.choice([129, 200, 255, 128])]) + _words(rng, 1)
    return bytes(out)


def _expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.3:
        return str(rng.randrange(10))
    op = rng.choice("+-*/m~")
    if op == "~":
        return "~" + _expression(rng, depth - 1)
    return op + _expression(rng, depth - 1) + _expression(rng, depth - 1)


def _base64(rng: random.Random, n: int) -> bytes:
    import base64
    return base64.b64encode(_words(rng, n))


def _utf8_text(rng: random.Random, n: int) -> bytes:
    """About `n` bytes of valid UTF-8: ASCII words mixed with two-, three- and four-byte
    code points."""
    out = []
    size = 0
    while size < n:
        kind = rng.random()
        if kind < 0.6:
            piece = rng.choice(["the ", "data ", "x=1; ", "caf\u00e9 ", "\n"])
        elif kind < 0.8:
            piece = chr(rng.randrange(0x80, 0x800))
        elif kind < 0.95:
            piece = chr(rng.choice([rng.randrange(0x800, 0xd800), rng.randrange(0xe000, 0x10000)]))
        else:
            piece = chr(rng.randrange(0x10000, 0x110000))
        data = piece.encode()
        out.append(data)
        size += len(data)
    return b"".join(out)


def _gamma_codes(rng: random.Random, count: int) -> bytes:
    """`count` Elias-gamma codes of values from 1 to 2^20, packed most-significant bit
    first; the last byte is padded with ones so that no spurious zero run ends it."""
    bits = []
    for _ in range(count):
        value = rng.choice([1, 2, 3, rng.randrange(1, 300), rng.randrange(1, 1 << 20)])
        width = value.bit_length()
        bits += [0] * (width - 1) + [int(b) for b in format(value, "b")]
    bits += [1] * (-len(bits) % 8)
    return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def _keys_with_repeats(rng: random.Random, count: int) -> bytes:
    """`count` little-endian 4-byte keys, a third of them repeats of earlier ones."""
    keys = []
    for _ in range(count):
        if keys and rng.random() < 0.33:
            keys.append(rng.choice(keys))
        else:
            keys.append(rng.getrandbits(32))
    return b"".join(k.to_bytes(4, "little") for k in keys)


def _samples(rng: random.Random, count: int) -> bytes:
    """`count` signed 16-bit samples: a sine-like wave with noise, clipped at both ends."""
    import math
    out = bytearray()
    for i in range(count):
        v = int(40000 * math.sin(i / 7.0)) + rng.randrange(-3000, 3000)
        out += max(-32768, min(32767, v)).to_bytes(2, "little", signed=True)
    return bytes(out)


def _lz_stream(rng: random.Random, steps: int) -> bytes:
    """An LZ77 stream for corpus/plain/lz.c: literal runs and back-references whose
    distance lies within what was written (the decoder stops at the 256-byte window)."""
    out = bytearray()
    written = 0
    for _ in range(steps):
        if written < 4 or rng.random() < 0.4:
            run = rng.randrange(1, 17)
            out += bytes([run - 1]) + _words(rng, run)
            written += run
        else:
            length = rng.randrange(3, 35)
            dist = rng.randrange(1, min(written, 1023) + 1)
            out += bytes([0x80 | (dist >> 8) << 5 | (length - 3), dist & 0xFF])
            written += length
    return bytes(out)


def _life_grid(rng: random.Random, width: int, height: int) -> bytes:
    """A Life grid for corpus/plain/grid.c: width, height, then a byte a cell, a third
    of them alive."""
    return bytes([width, height]) + bytes(rng.random() < 0.33 for _ in range(width * height))


def _image(rng: random.Random, width: int, height: int) -> bytes:
    """A grey image for corpus/plain/blur.c: 16-bit little-endian width and height,
    then a byte a pixel (a gradient with noise)."""
    head = bytes([width & 0xFF, width >> 8, height & 0xFF, height >> 8])
    return head + bytes((x * 3 + y * 5 + rng.randrange(40)) & 0xFF
                        for y in range(height) for x in range(width))


def _maze(rng: random.Random, width: int, height: int, walls: float) -> bytes:
    """A maze for corpus/plain/maze.c: width, height, then a byte a cell (0 open)."""
    cells = [int(rng.random() < walls) for _ in range(width * height)]
    cells[0] = cells[-1] = 0
    return bytes([width, height]) + bytes(cells)


def _palindromic_text(rng: random.Random, n: int) -> bytes:
    """About `n` bytes of words, some of them palindromes, separated by spaces."""
    words = ["level", "abba", "racecar", "data", "noon", "xyzzy", "stats", "a", "banana",
             "deified"]
    return " ".join(rng.choice(words) for _ in range(n // 3)).encode()[:n]


def _dns_message(rng: random.Random, questions: int) -> bytes:
    """A DNS message of `questions` names after a 12-byte header: some written out in
    labels, some a label or two then a compression pointer to an earlier name."""
    body = bytearray()
    starts: list[int] = []
    for q in range(questions):
        start = 12 + len(body)
        if q > 2 and rng.random() < 0.5:
            for _ in range(rng.randrange(1, 3)):
                label = bytes(rng.choice(b"abcdefgHIJKLmnop-0123")
                              for _ in range(rng.randrange(1, 20)))
                body += bytes([len(label)]) + label
            target = rng.choice(starts)
            body += bytes([0xC0 | target >> 8, target & 0xFF])
        else:
            for _ in range(rng.randrange(2, 6)):
                label = bytes(rng.choice(b"abcdefgHIJKLmnopQRSTUVwxyz0123456789")
                              for _ in range(rng.randrange(1, 40)))
                body += bytes([len(label)]) + label
            body += b"\0"
        starts.append(start)
        body += b"\x00\x01\x00\x01"
    return bytes(4) + questions.to_bytes(2, "big") + bytes(6) + bytes(body)


def _packed_records(rng: random.Random, count: int) -> bytes:
    """`count` 8-byte big-endian records for corpus/plain/fields.c: a 16-bit kind, a
    32-bit id, a 16-bit value."""
    return b"".join(rng.randrange(65536).to_bytes(2, "big")
                    + rng.randrange(1 << 32).to_bytes(4, "big")
                    + rng.randrange(65536).to_bytes(2, "big") for _ in range(count))


def _stack_code(rng: random.Random, n: int) -> bytes:
    """Code for corpus/plain/stackvm.c: a counted loop (push 9; dup, push 1, add, drop,
    jump back while the top is not zero), then `n` random pushes, arithmetic and stack
    moves."""
    loop = bytes([0x50, 0x01, 0x30, 0x70, 0x80])
    ops = [0x03, 0x05, 0x0F, 0x30, 0x40, 0x50, 0x60, 0x70, 0x95]
    return bytes([0x09]) + loop + bytes([len(loop)]) + bytes(rng.choice(ops) for _ in range(n))


def _dna_lines(rng: random.Random, count: int) -> bytes:
    """Lines of up to 90 letters of a four-letter alphabet, for corpus/plain/editdist.c
    (each line's halves are compared)."""
    return b"\n".join(bytes(rng.choice(b"acgt") for _ in range(rng.randint(0, 90)))
                      for _ in range(count))


def _flow_records(rng: random.Random, flows: int, count: int) -> bytes:
    """12-byte flow records (two addresses, two ports) drawn from `flows` distinct flows,
    for corpus/plain/flowtab.c."""
    keys = [bytes(rng.randrange(256) for _ in range(12)) for _ in range(flows)]
    return b"".join(rng.choice(keys) for _ in range(count))


def _runs(rng: random.Random, n: int) -> bytes:
    """About `n` bytes in runs of 1 to 300 equal bytes, for corpus/plain/rlenc.c."""
    out = bytearray()
    while len(out) < n:
        out += bytes([rng.choice(b"aab  cdd")]) * rng.choice([1, 1, 2, 3, 7, 40, 300])
    return bytes(out[:n])


def _damaged(rng: random.Random, text: str, strays: str) -> str:
    """`text`, one time in ten with one character replaced by one of `strays`."""
    if rng.random() < 0.1:
        at = rng.randrange(len(text))
        text = text[:at] + rng.choice(strays) + text[at + 1:]
    return text


def inputs(name: str, variant: int | None = None) -> list[bytes]:
    """Four inputs for a program: degenerate, typical, an edge case and a large one.
    `variant` k draws them from another seed (corpus/speed.py times fresh data with
    it); the shipped inputs are variant None."""
    rng = random.Random(name if variant is None else f"{name}#{variant}")
    if name == "records":
        return [b"", _words(rng, 63), _words(rng, 64 * 5 + 17), _words(rng, 5000)]
    if name == "lanes":
        return [b"", _words(rng, 15), _words(rng, 16 * 7 + 5), _words(rng, 2048)]
    if name == "lastmatch":
        hay = _words(rng, 900)
        return [b"ab", b"xyz!" + hay[:100], hay[10:14] + hay, b"\0\0\0\0" + bytes(40)]
    if name == "matmul":
        return [_words(rng, 71), _words(rng, 72), bytes(range(256))[:72], _words(rng, 200)]
    if name == "tokens":
        return [b"", _json_text(rng, 200), b"[1, 2, }", _json_text(rng, 1500, False)]
    if name == "options":
        return [b"", _options(rng, 10), bytes([2, 4, 5]), _options(rng, 80)]
    if name == "bsearch":
        keys = _words(rng, 128)
        probes = b"".join(keys[4 * i:4 * i + 4] for i in range(0, 32, 3)) + _words(rng, 60)
        return [_words(rng, 100), keys, keys + probes, bytes(128) + bytes(64)]
    if name == "window":
        return [b"", b"\x01", _words(rng, 101), _words(rng, 3000)]
    if name == "substr":
        return [b"\x00", bytes([2]) + b"abcabcabcab", bytes([1]) + b"zz" + b"z" * 50,
                bytes([3]) + b"abcd" + (b"xxabcdyy" * 60)]
    if name == "varint":
        return [b"", _varints(rng, 5), b"\x08\xff\xff", _varints(rng, 200)]
    if name == "calc":
        return [b"", b"+12", b"*~9m" + b"~" * 12 + b"5",
                "".join(_expression(rng, 7) for _ in range(30)).encode()]
    if name == "bloom":
        base = _words(rng, 80)
        return [b"", base, base * 3, _words(rng, 4096)]
    if name == "base64":
        return [b"", _base64(rng, 30), b"QUJD$$$$", _base64(rng, 400)]
    if name == "frames":
        return [b"", _frames(rng, 1), _words(rng, 64 * 3), _frames(rng, 64)]
    if name == "tlv":
        return [b"", _records(rng, 5), b"\x01\xff\x00abc", _records(rng, 150)]
    if name == "keyval":
        return [b"", b"port=80;mtu = 1500 ; colour=7;", b"=;;x=;port=", _settings(rng, 120)]
    if name == "rle":
        return [b"", bytes([2]) + b"abc" + bytes([253]) + b"z", bytes([120]) + b"short",
                _packbits(rng, 3000)]
    if name == "utf8":
        return [b"", "na\u00efve \u2713 \U0001f600".encode(), b"ok\xe2\x82 cut",
                _utf8_text(rng, 3000)]
    if name == "bits":
        return [b"", bytes([0b10100110, 0b01000000]), b"\x00\x00\x00\x00\x00\x00\x00\x01\xff",
                _gamma_codes(rng, 600)]
    if name == "probe":
        return [b"", _keys_with_repeats(rng, 10), _keys_with_repeats(rng, 200),
                _keys_with_repeats(rng, 50) * 20]
    if name == "smooth":
        return [b"", b"\x00\x80\xff\x7f\x01", _samples(rng, 100), _samples(rng, 2000)]
    if name == "lz":
        return [b"", bytes([2]) + b"abc" + bytes([0x80, 3]), bytes([0x81, 1]) + b"x",
                _lz_stream(rng, 30)]
    if name == "blur":
        return [b"\x03\x00", _image(rng, 3, 3), bytes([5, 0, 4, 0]) + bytes(19),
                _image(rng, 48, 32)]
    if name == "colsum":
        return [b"\x01", bytes([1, 1, 7]), bytes([3, 90]) + bytes(200),
                bytes([50, 40]) + _words(rng, 2000)]
    if name == "maze":
        return [b"\x21\x01" + bytes(33), _maze(rng, 4, 4, 0.2), _maze(rng, 32, 1, 0.0),
                _maze(rng, 32, 40, 0.15)]
    if name == "grid":
        blinker = bytes([5, 5]) + bytes(7) + b"\x01\x00\x00\x00\x00\x01" + bytes(4) + \
            b"\x01" + bytes(7)
        return [b"\x03", blinker, bytes([4, 200]) + bytes(10), _life_grid(rng, 40, 30)]
    if name == "csort":
        return [b"", b"zyxwvu", bytes(range(255, 0, -2)), _words(rng, 300)]
    if name == "palin":
        return [b"", b"a", b"xabccbay noon", _palindromic_text(rng, 2000)]
    if name == "dnsname":
        # a pointer to itself (followed 16 times, then refused); a label past the end
        looped = bytes(4) + b"\x00\x01" + bytes(6) + b"\xc0\x0c"
        cut = bytes(4) + b"\x00\x02" + bytes(6) + b"\x03abc\x00\x00\x01\x00\x01\x09ab"
        return [b"", looped, cut, _dns_message(rng, 24)]
    if name == "shingles":
        return [b"", b"ab", b"abcabcabcabc", bytes(rng.choice(b"abcdefghij klmnopqrst")
                                                 for _ in range(4000))]
    if name == "adler":
        # 6,000 bytes of 0xff: the sums closest to overflowing before each reduction
        return [b"", b"Wikipedia", b"\xff" * 6000, _words(rng, 20000)]
    if name == "bitset":
        return [b"", b"\x00\xff\x40\x3f", bytes(range(256)), _words(rng, 3000)]
    if name == "fields":
        # an odd length: the records start one byte in, unaligned
        return [b"", _packed_records(rng, 1), b"\x01" + _packed_records(rng, 7),
                _packed_records(rng, 400)]
    if name == "stackvm":
        # the stack's edges: 17 pushes (one past its 16), pops of an empty stack
        return [b"", bytes([1] * 17) + b"\x30" * 20, b"\x70\x30\x60\x81\x00",
                _stack_code(rng, 400)]
    if name == "editdist":
        # "kitten" / "sitting" cut in halves of 6 and 7: distance 3; an empty line
        return [b"", b"kittensitting", b"ab\n\nabcabd\nx", _dna_lines(rng, 120)]
    if name == "qsort":
        return [b"", b"zyxwvutsrqponm", bytes(range(255, -1, -1)),
                bytes(rng.randrange(256) for _ in range(256))]
    if name == "heap":
        # 49 keys falling: the 48th pops the 16 smallest once
        return [b"", struct.pack("<4I", 4, 3, 2, 1), struct.pack("<49I", *range(49, 0, -1)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "itoa":
        # the widest numbers: INT_MIN (11 characters) and INT_MAX
        return [b"", struct.pack("<3i", 0, -1, 2**31 - 1), struct.pack("<2i", -2**31, 10),
                bytes(rng.randrange(256) for _ in range(3000))]
    if name == "flowtab":
        # 12 flows fit the table; 40 make it evict
        return [b"", _flow_records(rng, 1, 3), _flow_records(rng, 12, 100),
                _flow_records(rng, 40, 800)]
    if name == "deque":
        # falling bytes: the window's minimum changes at every step
        return [b"", b"\x05", bytes(range(255, 0, -1)),
                bytes(rng.randrange(256) for _ in range(6000))]
    if name == "rlenc":
        # 300 equal bytes: runs of 255 and 45; 260 runs of one byte: the buffer flushed
        return [b"", b"z" * 300, bytes(range(130)) * 2, _runs(rng, 12000)]
    if name == "fieldsplit":
        # separators only; 40 fields, of which 32 are kept
        return [b" ,, ", b"a bb,ccc", b",".join(b"f%d" % i for i in range(40)),
                b" ".join(bytes(rng.choice(b"abcdefg,") for _ in range(rng.randint(1, 12)))
                          for _ in range(120))[:1024]]
    if name == "bitalloc":
        # 600 allocations: 512 succeed, 88 fail; frees of slots never handed out
        return [b"", bytes([0, 0xc0, 1]), bytes(600), bytes(rng.randrange(256)
                                                          for _ in range(4000))]
    if name == "bitread":
        # 1..40 coded back to back; zeros only (a 32-zero run ends it); a code cut short
        return [b"", _gamma_of(range(1, 41)), bytes(8) + b"\xff",
                _gamma_of([1, 5, 1 << 20])[:-1],
                _gamma_of(rng.randrange(1, 1 << rng.randrange(1, 32)) for _ in range(1500))]
    if name == "horspool":
        # overlapping matches; a pattern of one byte; no newline: no pattern
        return [b"", b"aba\nabababa", b"x\nxyxx", b"abc" * 10,
                b"acgta\n" + bytes(rng.choice(b"acgt") for _ in range(8000))]
    if name == "bignum":
        # all limbs 0xffffffff: every carry at its largest
        return [b"", b"\xff" * 64, struct.pack("<16I", *range(1, 17)),
                bytes(rng.randrange(256) for _ in range(8192))]
    if name == "bitonic":
        # keys falling; keys equal; one block and a stray byte
        return [b"", struct.pack("<32I", *range(32, 0, -1)), b"\x07" * 129,
                bytes(rng.randrange(256) for _ in range(8192))]
    if name == "kmp":
        # a pattern of one letter repeated (the failure table's longest fall-backs);
        # overlapping matches; no newline
        return [b"", b"aaaa\naaaaaaab", b"abab\nabababab", b"abc" * 12,
                b"acgacgt\n" + bytes(rng.choice(b"acgt") for _ in range(8000))]
    if name == "utf16":
        # a pair (U+1F600), a lone high and a lone low surrogate, one of each width;
        # 40 four-byte code points: the buffer emptied on the way
        return [b"", "a\u00e9\u20ac\U0001f600".encode("utf-16-le"),
                b"\x00\xd8A\x00\x00\xdc\x7f", "\U0001f600".encode("utf-16-le") * 40,
                "".join(chr(rng.choice([rng.randrange(0x80), rng.randrange(0x80, 0xd800),
                                        rng.randrange(0x10000, 0x110000)]))
                        for _ in range(3000)).encode("utf-16-le", "surrogatepass")]
    if name == "sha1":
        # one block of "abc" padded by hand (SHA-1 of "abc"); a partial block
        return [b"", b"abc\x80" + bytes(59) + b"\x18", bytes(63),
                bytes(rng.randrange(256) for _ in range(8192))]
    if name == "insert":
        # keys falling: every insertion shifts the whole table; 30 distinct keys: the
        # table fills and drops its largest
        return [b"", struct.pack("<4H", 7, 7, 3, 9), struct.pack("<30H", *range(30, 0, -1)),
                bytes(rng.randrange(256) for _ in range(6000))]
    if name == "glob":
        # a star that must backtrack ("*ab" against "aab"); stars only; no pattern line
        names = [b"".join(bytes([rng.choice(b"abc.")]) for _ in range(rng.randint(0, 70)))
                 for _ in range(300)]
        return [b"", b"*ab\naab\nab\nb\nabab", b"**\n\nx", b"a?c*", b"a*b?*c\n" +
                b"\n".join(names)]
    if name == "dfa":
        # a number, a word, a fraction, an operator run, a string and one cut short
        return [b"", b"x1 = 3.25 + y_2\n", b'"a b" 12.5.3 "open', b"\x80#!",
                bytes(rng.choice(b'ab019 .+-="\n#') for _ in range(8000))]
    if name == "shell":
        # falling bytes (every gap moves them); 200 equal bytes; one byte
        return [b"", bytes(range(200, 0, -1)), b"\x07" * 250, b"z",
                bytes(rng.randrange(256) for _ in range(199))]
    if name == "ringmod":
        # 23 readings (never full); 25 (the ring wraps once); readings falling
        return [b"", struct.pack("<23H", *range(23)), struct.pack("<25H", *range(25, 0, -1)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "merge":
        # keys falling (every merge takes the right run first); 65 keys: one left out;
        # an odd byte at the end
        return [b"", struct.pack("<64H", *range(64, 0, -1)), struct.pack("<65H", *range(65)),
                b"\x05\x00\x03", bytes(rng.randrange(256) for _ in range(128))]
    if name == "duff":
        # blocks of every length modulo 8 (each entry into the unrolled loop); a block of
        # 255 bytes, cut at the limit
        return [b"", b"\x00", b"".join(bytes(range(1, k + 1)) + b"\x00" for k in range(1, 17)),
                b"\x01" * 300, bytes(rng.choice([0] + [rng.randrange(1, 256)] * 30)
                                    for _ in range(8000))]
    if name == "hexdump":
        # 64 bytes (one full line), 65 (a line and one more)
        return [b"", bytes(range(64)), bytes(range(65)), bytes(rng.randrange(256)
                                                             for _ in range(5000))]
    if name == "sched":
        # one queue only; every queue; bytes that add the most work (c >> 6 == 3)
        return [b"", b"\x0c" * 40, bytes(range(24)), b"\xff\xfe\xfd" * 50,
                bytes(rng.randrange(256) for _ in range(3000))]
    if name == "segtree":
        # the values 0..31 and four queries, the last an update; one value and a byte
        return [b"", struct.pack("<32H", *range(32)) + bytes([3, 9, 9, 3, 0, 31, 5, 5]),
                b"\x01\x00\x02", struct.pack("<32H", *(rng.randrange(65536) for _ in range(32)))
                + bytes(rng.randrange(256) for _ in range(6000))]
    if name == "gcdsum":
        # gcd(12, 18), a zero on either side; powers of two (the lcm's trailing zeros);
        # pairs with large common factors
        pairs = [(rng.randrange(1, 1 << 20) * m, rng.randrange(1, 1 << 20) * m)
                 for m in (rng.randrange(1, 3000) for _ in range(600))]
        return [b"", struct.pack("<6I", 12, 18, 0, 5, 7, 0), struct.pack("<2I", 1 << 31, 1 << 30),
                b"".join(struct.pack("<2I", a & 0xFFFFFFFF, b & 0xFFFFFFFF) for a, b in pairs)]
    if name == "leb128":
        # a 10-byte varint then one cut short (the stream's end); small signed values;
        # random bytes (varints of every length, some too long)
        return [b"", bytes([0x80] * 9 + [1]) + bytes([0xFF] * 11),
                bytes([1, 0x7F, 0x80, 0x7F, 0xC0, 0xBB, 0x78]),
                bytes(rng.choice([rng.randrange(128), rng.randrange(128, 256)])
                      for _ in range(8000))]
    if name == "slidemax":
        # the widest window over falling bytes (the deque fills); the narrowest over
        # rising ones (it holds one index)
        return [b"", bytes([31]) + bytes(range(255, 0, -1)), bytes([0]) + bytes(range(200)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "reservoir":
        # fewer items than the reservoir holds; falling values, every one drawn
        return [b"", bytes([15]) + struct.pack("<10H", *range(10)),
                bytes([3]) + struct.pack("<200H", *range(200, 0, -1)),
                bytes(rng.randrange(256) for _ in range(6001))]
    if name == "bittrans":
        # one matrix with a full first row and one corner bit; two matrices and a byte
        return [b"", bytes([0xFF, 0, 0, 0, 0, 0, 0, 0x80]), bytes(range(16)) + b"\x01",
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "sparseset":
        # every value added then removed in reverse; a clear in the middle; random bytes
        return [b"", bytes(range(1, 128)) + bytes(range(127, 0, -1)),
                bytes([5, 9, 5, 0, 9, 9, 3]), bytes(rng.randrange(256) for _ in range(8000))]
    if name == "fenwick":
        # every position once, rising then falling (each climb and descent length)
        return [b"", bytes(range(64)), bytes(range(255, -1, -1)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "unionfind":
        # one pair; a chain joined in order (long paths to halve); random pairs
        return [b"", bytes([3, 7]), bytes(b for i in range(99) for b in (i, i + 1)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "lcs":
        # one empty string; equal strings; strings longer than the rows
        text = bytes(rng.choice(b"acgt") for _ in range(200))
        return [bytes([0]) + b"abc", bytes([5]) + b"hello" + b"hello",
                bytes([120]) + text, bytes([96]) + text[:96] + text[50:146]]
    if name == "bfsgrid":
        # a wall at the start; an open grid; a serpentine; random walls
        snake = bytes(1 if (k // 12) % 2 and k % 12 != (0 if (k // 24) % 2 else 11)
                      else 0 for k in range(144))
        return [b"\x01", b"", snake, b"\x00" + bytes(rng.randrange(256) & 0xFE
                                                      | (rng.random() < 0.3) for _ in range(143))]
    if name == "civil":
        # leap days and the days after them; bad months, days and digits; random dates
        edge = ["2000-02-29", "1900-02-29", "2024-02-29", "2023-02-29", "1970-01-01",
                "0001-01-01", "9999-12-31", "0000-05-05", "2021-13-01", "2021-00-10",
                "2021-04-31", "20x1-01-01", "2021/01/01", "2021-01-00", "1999-12-31 x"]
        dates = [f"{rng.randrange(1, 10000):04d}-{rng.randrange(1, 13):02d}-"
                 f"{rng.randrange(1, 32):02d}" for _ in range(700)]
        return [b"", b"2024-03-01", "\n".join(edge).encode(), "\n".join(dates).encode()]
    if name == "huffman":
        def lengths(*ls):
            return bytes(ls) + bytes(16 - len(ls))
        complete = lengths(2, 2, 3, 3, 3, 4, 4)          # 2/4 + 3/8 + 2/16 = 1
        flat = bytes([4] * 16)                           # 16 codes of 4 bits
        # no codes; three codes of one bit (oversubscribed); a complete code; 16 codes
        # of 4 bits under random bits
        return [bytes(16), lengths(1, 1, 1) + b"\xff", complete + b"\x5a\xc3" * 3,
                flat + bytes(rng.randrange(256) for _ in range(6000))]
    if name == "cmsketch":
        # one key; one key 4000 times; keys drawn from 20; random keys
        few = [rng.randrange(65536) for _ in range(20)]
        return [b"\x01\x02", b"\x07\x00" * 4000,
                b"".join(struct.pack("<H", rng.choice(few)) for _ in range(500)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "kvparse":
        # every known key, a bad value, an unknown key, a key longer than the buffer, a
        # key with no value, a last pair cut short; many random pairs
        keys = ["port", "timeout", "retries", "weight", "portx", "colour", "p", "ttl"]
        pairs = []
        for _ in range(400):
            value = str(rng.randrange(10 ** rng.randrange(1, 8)))
            if rng.random() < 0.1:
                value = value[:2] + "x"
            pairs.append(f"{rng.choice(keys)}={value};")
        return [b"", b"port=8080;timeout=5;retries=x;weight=12;foo=bar;",
                b"a_key_longer_than_twenty_four_bytes=1;novalue;port=;timeout=123456",
                "".join(pairs).encode()]
    if name == "fixpoint":
        # silence; a full-scale square wave and a ramp (both saturate); random samples
        square = b"".join(struct.pack("<h", 32767 if (i // 20) % 2 else -32768)
                          for i in range(400))
        ramp = b"".join(struct.pack("<h", i * 64 - 32768) for i in range(1024))
        return [bytes(64), square, ramp, bytes(rng.randrange(256) for _ in range(8000))]
    if name == "bitiset":
        # no bits; every bit; one bit per word, each index once; random words
        one_each = b"".join(struct.pack("<I", 1 << i) for i in range(32))
        return [bytes(64), b"\xff" * 64, one_each,
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "radix":
        # one key; the same key again and again (every prefix shared); all 64 keys;
        # random bytes
        return [b"\x80", b"\xfc" * 50, bytes(k << 2 for k in range(64)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "ringlog":
        # a replay of nothing; fewer records than slots, replayed; more than the ring
        # holds with replays between; random records (0xFF first bytes now and then)
        def records(count, replay_every):
            out = b""
            for i in range(count):
                out += b"\xff" * 6 if replay_every and i % replay_every == replay_every - 1 \
                    else bytes([rng.randrange(255)] + [rng.randrange(256) for _ in range(5)])
            return out
        return [b"\xff" * 6, records(12, 12), records(130, 31), records(1300, 97)]
    if name == "dijkstra":
        def graph(n, density):
            cells = [rng.randrange(1, 256) if rng.random() < density and i != j else 0
                     for i in range(n) for j in range(n)]
            return bytes([n]) + bytes(cells)
        # one node; a graph cut in two; a dense graph of 16; a sparse one of 16
        return [bytes([1, 0]), graph(9, 0.15), graph(16, 0.9), graph(16, 0.2)]
    if name == "sentinel":
        lines = [",".join("".join(rng.choice("abcxyz") for _ in range(rng.randrange(0, 9)))
                          for _ in range(rng.randrange(1, 8))) for _ in range(300)]
        # an empty line; fields with empty ones; a line longer than the buffer; many
        return [b"\n", b"a,,b,\n,x", b"y" * 100 + b",z\nq", "\n".join(lines).encode()]
    if name == "ipv4bits":
        def datagram(proto, payload, ihl=5, flags=0, frag=0):
            total = ihl * 4 + len(payload)
            head = bytes([0x40 | ihl, 0]) + total.to_bytes(2, "big") + b"\x12\x34" + \
                (flags << 13 | frag).to_bytes(2, "little") + bytes([64, proto, 0, 0]) + \
                bytes(rng.randrange(256) for _ in range(8))
            return head + bytes(4 * (ihl - 5)) + payload
        many = b"".join(datagram(rng.choice([6, 17, 1]), bytes(rng.randrange(40)),
                                 ihl=rng.choice([5, 5, 6, 8]), flags=rng.randrange(2),
                                 frag=rng.choice([0, 0, 0, 185])) for _ in range(300))
        # a header cut short; options and an empty payload; a bad version after one;
        # many datagrams
        return [datagram(6, b"x")[:15], datagram(17, b"", ihl=7),
                datagram(6, b"abc") + b"\x60" + bytes(30), many]
    if name == "flowagg":
        keys = [rng.randrange(1 << 32) for _ in range(24)]
        # one record; one flow many times; 24 flows over 16 entries; random records
        return [bytes(8), struct.pack("<IHH", 7, 1500, 2) * 200,
                b"".join(struct.pack("<IHH", rng.choice(keys), rng.randrange(1 << 16),
                                     1 << rng.randrange(16)) for _ in range(600)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "portname":
        known = [20, 22, 53, 80, 443, 1024, 3306, 8080, 9000, 27017, 49152, 65535]
        # no port; every known port and its neighbours; ports below the table; random
        near = b"".join(struct.pack(">H", max(0, min(65535, p + d)))
                        for p in known for d in (-1, 0, 1))
        return [b"", near, bytes(range(0, 40)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "tokptr":
        vocabulary = ["a", "to", "the", "cat", "sat", "on", "mat", "again", "x"]
        lines = [" ".join(rng.choice(vocabulary) for _ in range(rng.randrange(0, 16)))
                 for _ in range(300)]
        # spaces only; one line of repeats; more words than the arrays hold; many lines
        return [b"   \n  ", b"the cat the cat the", b" ".join([b"w"] * 20) + b" long",
                "\n".join(lines).encode()]
    if name == "overflow":
        # nothing; values past the high limit (clamped to it: sums overflow); small
        # values (clamped to the low limit: products overflow); random values
        return [b"", struct.pack("<8I", *([0xFFFFFFFF] * 8)), struct.pack("<64I", *range(64)),
                bytes(rng.randrange(256) for _ in range(8000))]
    if name == "dfs":
        # a wall at the start; an open maze; a comb of corridors; random walls
        comb = bytes(1 if (k % 10) % 2 and k // 10 != (9 if (k % 10) % 4 == 1 else 0)
                     else 0 for k in range(100))
        return [b"\x01", b"", comb,
                b"\x00" + bytes(rng.random() < 0.3 for _ in range(99))]
    if name == "hll":
        # nothing; one word; 4,000 words of 40 values (the small-range correction);
        # 4,096 random words
        few = [rng.randrange(1 << 32) for _ in range(40)]
        return [b"", b"\x01\x02\x03\x04",
                b"".join(struct.pack("<I", rng.choice(few)) for _ in range(4000)),
                bytes(rng.randrange(256) for _ in range(16384))]
    if name == "ipv6text":
        # nothing; one address; the forms that are not addresses and the edges of
        # those that are; 400 lines, most of them addresses
        edges = ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
                 "1:2:3:4:5:6:7:8:9", "1::2::3", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:",
                 "12345::", "1:2:3:4:5:6:7:8::", "fe80::1:2", "g::1", "1:::2", "ABCD:ef01::"]
        lines = []
        for _ in range(400):
            groups = [format(rng.randrange(1 << rng.choice((4, 8, 16))), "x")
                      for _ in range(8)]
            if rng.random() < 0.6:
                start = rng.randrange(8)
                stop = rng.randrange(start + 1, 9)
                text = ":".join(groups[:start]) + "::" + ":".join(groups[stop:])
            else:
                text = ":".join(groups)
            lines.append(_damaged(rng, text, "g:.z"))
        return [b"", b"2001:db8::ff00:42:8329", "\n".join(edges).encode(),
                "\n".join(lines).encode()]
    if name == "mandel":
        # nothing; the origin (in the set: every iteration); a 16 x 16 grid over the
        # square; 2,048 random points
        grid = bytes(b for y in range(-128, 128, 16) for x in range(-128, 128, 16)
                     for b in (x & 0xFF, y & 0xFF))
        return [b"", b"\x00\x00", grid, bytes(rng.randrange(256) for _ in range(4096))]
    if name == "rabinkarp":
        # too short; a pattern never found; a one-byte window; an 8-byte pattern taken
        # from a text of few letters, so that it recurs
        text = bytes(rng.choice(b"abcab") for _ in range(6000))
        pattern = text[100:108]
        return [b"\x05ab", b"\x03xyz" + b"abcabcab" * 10, b"\x01a" + b"banana" * 5,
                b"\x08" + pattern + text]
    if name == "strtol":
        # nothing; one number; the edges (the largest value and one past it in each
        # base, prefixes alone, digits outside the base, signs); 600 random tokens
        edges = ["18446744073709551615", "18446744073709551616", "0xffffffffffffffff",
                 "0x10000000000000000", "0b" + "1" * 64, "0b" + "1" * 65,
                 "01777777777777777777777", "02000000000000000000000", "0x", "0b", "-0",
                 "+7", "-1", "089", "12a", "0", "-", "0xZ", "99999999999999999999999"]
        tokens = []
        for _ in range(600):
            kind = rng.randrange(5)
            v = rng.randrange(1 << rng.choice((8, 32, 64, 70)))
            text = [str(v), hex(v), "0b" + format(v, "b"), "0" + format(v, "o"),
                    str(v) + rng.choice("xz9")][kind]
            tokens.append(rng.choice(["", "-", "+"]) + text)
        return [b"", b"42", " ".join(edges).encode(), "\n".join(tokens).encode()]
    if name == "tokenbkt":
        # nothing; one packet; 40 back-to-back packets of one flow (the burst runs
        # out); 2,000 packets of 40 flows at random intervals
        def record(flow, delta):
            return bytes([flow]) + delta.to_bytes(3, "little")
        return [b"", record(7, 100), b"".join(record(3, 0) for _ in range(40)),
                b"".join(record(rng.randrange(40), rng.choice((0, 10, 200, 5000, 70000)))
                         for _ in range(2000))]
    if name == "qselect":
        # nothing; one value; 100 equal values (every partition is one-sided); 128
        # random values
        return [b"", b"\x05\x00", b"\x07\x01" * 100,
                bytes(rng.randrange(256) for _ in range(256))]
    if name == "unescape":
        # nothing; one plain line; each escape, a bad one, a cut \\u, a line too long
        # for the buffer and one of three-byte characters; 300 random lines
        edges = ["tab\\there", "\\u00e9t\\u00e9", "\\u20ac\\u2603", "bad \\x escape",
                 "cut \\u12", "a" * 120, "\\u4e2d" * 40, "\\\\ \\/ \\\"", "trail\\"]
        pieces = ["abc", "\\n", "\\t", "\\u00fc", "\\u263a", "\\\\", "\\q", "xyz", " "]
        lines = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
                 for _ in range(300)]
        return [b"", b"hello", "\n".join(edges).encode(), "\n".join(lines).encode()]
    if name == "crc32c":
        # nothing; the standard check string (0xe3069283); a tail only; 8,000 bytes
        return [b"", b"123456789", b"abc", bytes(rng.randrange(256) for _ in range(8000))]
    if name == "bitpack":
        # nothing; one field; exactly one full buffer (256 fields); 3,000 bytes
        return [b"", b"\x1f", bytes(rng.randrange(256) for _ in range(256)),
                bytes(rng.randrange(256) for _ in range(3000))]
    if name == "cuckoo":
        # nothing; one key; 40 lookups of 5 keys; 4,096 random keys (most dropped)
        few = [struct.pack("<I", rng.randrange(1 << 32)) for _ in range(5)]
        return [b"", b"\x10\x20\x30\x40", b"".join(rng.choice(few) for _ in range(40)),
                bytes(rng.randrange(256) for _ in range(16384))]
    if name == "isodate":
        # nothing; one time; the edges (leap days, month and hour limits, 'Z', a
        # short line, a letter among the digits); 300 times, a tenth of them damaged
        edges = ["2024-02-29T12:00:00", "2023-02-29T12:00:00", "2000-02-29T00:00:00Z",
                 "1900-02-28T00:00:00", "2021-13-01T00:00:00", "2021-12-31T24:00:00",
                 "2021-12-31T23:59:59Z", "2021-04-31T10:10:10", "2021-04-3T10:10:10",
                 "2021-0a-01T00:00:00", "1970-01-01T00:00:00"]
        lines = []
        for _ in range(300):
            text = "%04d-%02d-%02dT%02d:%02d:%02d%s" % (
                rng.randrange(1970, 2100), rng.randrange(1, 13), rng.randrange(1, 29),
                rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.choice(["", "Z"]))
            lines.append(_damaged(rng, text, "9x:-"))
        return [b"", b"2026-12-04T17:00:00Z", "\n".join(edges).encode(),
                "\n".join(lines).encode()]
    if name == "dtw":
        # nothing; one short record; a length past the end, a record of one sample, a
        # zero-length record; 60 records of up to 96 slowly varying samples
        def series(n: int) -> bytes:
            v, out = rng.randrange(256), bytearray()
            for _ in range(n):
                v = max(0, min(255, v + rng.randrange(-9, 10)))
                out.append(v)
            return bytes(out)
        large = b"".join(bytes([n]) + series(n)
                         for n in (rng.randrange(40, 97) for _ in range(60)))
        return [b"", bytes([6]) + series(6), bytes([1, 9, 0, 200]) + series(5),
                large]
    if name == "swalign":
        # no NUL; a query and a window; an empty query, a query of 64 with no text;
        # a 40-byte query over 4,000 bytes of text in which it recurs, mutated
        query = bytes(rng.choice(b"ACGT") for _ in range(40))
        text = bytearray()
        while len(text) < 4000:
            if rng.randrange(3) == 0:
                piece = bytearray(query[rng.randrange(10):])
                for _ in range(rng.randrange(4)):
                    piece[rng.randrange(len(piece))] = rng.choice(b"ACGT")
                text += piece
            else:
                text += bytes(rng.choice(b"ACGT") for _ in range(rng.randrange(5, 40)))
        return [b"ACGT", b"GATTACA\0TTGATTACCA", b"\0ACGT" + bytes(64) + b"A" * 64 + b"\0",
                query + b"\0" + bytes(text[:4000])]
    if name == "lis":
        # nothing; an odd byte; rising, falling and equal words; 200 words of a noisy
        # rise, with more after them (ignored)
        rising = b"".join(struct.pack(">H", 7 * i) for i in range(40))
        falling = b"".join(struct.pack(">H", 9000 - 5 * i) for i in range(40))
        noisy = b"".join(struct.pack(">H", (60 * i + rng.randrange(9000)) & 0xffff)
                         for i in range(600))
        return [b"", b"\x01", rising + falling + bytes(20), noisy]
    if name == "bitap":
        # nothing; a pattern with no text; a length past 8 (refused); a 5-byte pattern
        # in 4,000 bytes of a four-letter text where it recurs
        text = bytes(rng.choice(b"ACGT") for _ in range(4000))
        return [b"", b"\x03abc", b"\x09abcdefghijk", b"\x05GATTA" + text]
    if name == "revwords":
        # nothing; one line; empty lines, double and leading spaces, a line past 120
        # bytes; 4,000 bytes of lines of words
        words = [b"alpha", b"be", b"c", b"delta", b"echo", b"foxtrot", b"golf"]
        lines = []
        while sum(len(x) + 1 for x in lines) < 4000:
            lines.append(b" ".join(rng.choice(words) for _ in range(rng.randrange(1, 14))))
        return [b"", b"the quick brown fox", b"\n\n  two  spaces\n" + b"long " * 30 + b"\nx",
                b"\n".join(lines)]
    if name == "ascii85":
        # nothing; one group; 'z', whitespace, a short last group, a group past 2^32,
        # a stray byte; 3,000 bytes of encoded data with line breaks
        def encode(data: bytes) -> bytes:
            out = bytearray()
            for k in range(0, len(data), 4):
                chunk = data[k:k + 4]
                word = int.from_bytes(chunk.ljust(4, b"\0"), "big")
                if word == 0 and len(chunk) == 4:
                    out += b"z"
                    continue
                digits = []
                for _ in range(5):
                    digits.append(word % 85 + 33)
                    word //= 85
                out += bytes(reversed(digits))[:len(chunk) + 1]
            return bytes(out)
        data = bytes(rng.randrange(256) if rng.randrange(5) else 0 for _ in range(2300))
        text = encode(data)
        lines = b"\n".join(text[k:k + 75] for k in range(0, len(text), 75))
        return [b"", b"87cUR", b"z 87cU\nR9jr", b"s8W-!s8W-\"", b"87cUR~x", lines]
    if name == "histeq":
        # nothing; one sample; every bin once; 6,000 samples of a skewed distribution
        skewed = bytes(min(255, int(rng.expovariate(1 / 40))) for _ in range(6000))
        return [b"", b"\x80", bytes(range(0, 256, 4)), skewed]
    if name == "brackets":
        # nothing; balanced; a mismatch, quotes and escapes, nesting past 48; 4,000
        # bytes of balanced text with quoted brackets
        def balanced(depth: int) -> str:
            if depth == 0 or rng.randrange(4) == 0:
                return rng.choice(["x", "ab", '"(]"', "\\(", " "])
            o, c = rng.choice(["()", "[]", "{}", "<>"])
            return o + "".join(balanced(depth - 1) for _ in range(rng.randrange(1, 4))) + c
        text = ""
        while len(text) < 4000:
            text += balanced(6)
        return [b"", b"([{<>}])", b'(a[b"]"c)\\]d]}', b"(" * 50 + b")" * 50,
                text.encode()]
    if name == "lrucache":
        # nothing; one key again and again; 17 keys in turn (every access a miss once
        # the cache is full); 8,000 bytes of keys, a few of them hot
        def key(k: int) -> bytes:
            return struct.pack("<H", k | rng.randrange(1024) << 6)
        hot = [rng.randrange(64) for _ in range(6)]
        keys = [rng.choice(hot) if rng.randrange(3) else rng.randrange(64) for _ in range(4000)]
        return [b"", key(5) * 40, b"".join(key(k % 17) for k in range(170)),
                b"".join(key(k) for k in keys)]
    if name == "trie":
        # nothing; one word; shared prefixes, empty words, a word left without a space;
        # 4,000 bytes of words from a vocabulary larger than the trie holds
        vocabulary = [bytes(rng.choice(b"abcdefgh") for _ in range(rng.randrange(1, 9)))
                      for _ in range(60)]
        text = b""
        while len(text) < 4000:
            text += rng.choice(vocabulary) + rng.choice([b" ", b" ", b"\n", b"  "])
        return [b"", b"word", b"car cart carton  care\ncar\n\nc ca", text]
    if name == "kahn":
        # nothing; one edge; a DAG and a cycle; 16,384 bytes of graphs, most of them
        # DAGs (edges from an earlier node of a shuffled order to a later one)
        def graph(acyclic: bool) -> bytes:
            order = list(range(16))
            rng.shuffle(order)
            out = bytearray()
            for _ in range(32):
                a, b = rng.randrange(16), rng.randrange(16)
                if acyclic and a > b:
                    a, b = b, a
                out += bytes([order[a] | rng.randrange(16) << 4, order[b]])
            return bytes(out)
        return [b"", b"\x01\x02", graph(True) + graph(False),
                b"".join(graph(rng.randrange(4) > 0) for _ in range(256))]
    if name == "siphash":
        # nothing; the key alone; the key 0..15 and the message 0..14; 30,000 bytes of
        # messages of every length up to 63 (some cut short by the input's end)
        key = bytes(range(16))
        messages = bytearray(key)
        while len(messages) < 30000:
            n = rng.randrange(64)
            messages += bytes([n | rng.randrange(4) << 6]) + rng.randbytes(n)
        return [b"", key, key + bytes([15]) + bytes(range(15)), bytes(messages)]
    if name == "nqueens":
        # nothing; the 8-queens with any first column; a few boards; 48 boards
        return [b"", b"\x04\x00", bytes([0, 0, 1, 5, 2, 0x81, 3, 0x10, 4, 0xe7]),
                rng.randbytes(96)]
    if name == "ahocorasick":
        # nothing; patterns and no text; overlapping patterns in a short text; more
        # patterns than the trie has room for, and 16,000 bytes of text planted with them
        def text(patterns: list[bytes], size: int) -> bytes:
            out = bytearray()
            while len(out) < size:
                out += rng.choice(patterns) if rng.randrange(3) == 0 else \
                    bytes([rng.randrange(256)])
            return bytes(out)
        few = [b"he", b"she", b"his", b"hers"]
        many = [rng.randbytes(rng.randrange(3, 9)) for _ in range(7)]
        return [b"", bytes([4]) + b"".join(bytes([len(w) - 1]) + w for w in few),
                bytes([4]) + b"".join(bytes([len(w) - 1]) + w for w in few)
                + b"ushers and his sheep: she hers",
                bytes([7]) + b"".join(bytes([len(w) - 1]) + w for w in many)
                + text(many, 16000)]
    if name == "intervals":
        # one interval; a batch of nested and touching ones; a batch and a part of
        # one; 8,192 bytes of intervals clustered on a small range (so many overlap)
        def spans(count: int, spread: int) -> bytes:
            out = bytearray()
            for _ in range(count):
                start = rng.randrange(spread)
                out += bytes([start & 0xFF, start >> 8, rng.randrange(40), rng.randrange(256)])
            return bytes(out)
        nested = bytes([10, 0, 50, 1, 20, 0, 5, 2, 60, 0, 10, 3, 70, 0, 0, 4, 255, 255, 9, 5])
        return [bytes([7, 0, 3, 9]), nested, spans(24, 600) + spans(7, 600)[:26],
                spans(2048, 2000)]
    if name == "primes":
        # nothing; small primes and composites (1, 2, 3 tested as odd 1, 3, 3);
        # Carmichael numbers, strong pseudoprimes to single bases, and 2^32 - 5; 4,096
        # bytes of random odd candidates
        special = [561, 1105, 1729, 2047, 3215031751, 2152302898747 & 0xFFFFFFFF,
                   4294967291, 4294967295, 25326001, 1373653]
        return [b"", b"".join(n.to_bytes(4, "little") for n in range(12)),
                b"".join(n.to_bytes(4, "little") for n in special), rng.randbytes(4096)]
    if name == "gf2rank":
        # nothing; the identity (rank 32); rows that are xors of few (low rank) and a
        # partial matrix; 16,384 bytes of random matrices, some with repeated rows
        identity = b"".join((1 << r).to_bytes(4, "little") for r in range(32))
        few = [rng.getrandbits(32) for _ in range(5)]
        low = b"".join((few[rng.randrange(5)] ^ few[rng.randrange(5)]).to_bytes(4, "little")
                       for _ in range(32))
        many = bytearray()
        while len(many) < 16384:
            rows = [rng.getrandbits(32) for _ in range(32)]
            if rng.randrange(3) == 0:
                rows[rng.randrange(32)] = rows[rng.randrange(32)]
            many += b"".join(r.to_bytes(4, "little") for r in rows)
        return [b"", identity, low + identity[:50], bytes(many)]
    if name == "kruskal":
        # nothing; five edges, two of them closing cycles; 40 edges among 4 nodes (few
        # taken); 96 random edges (the large input)
        five = bytes([0, 1, 9, 1, 2, 3, 2, 0, 1, 3, 4, 200, 4, 3, 17])
        among4 = bytes(b for _ in range(40) for b in (rng.randrange(4), rng.randrange(4),
                                                      rng.randrange(256)))
        return [b"", five, among4, _words(rng, 3 * 96)]
    if name == "slab":
        # nothing; 70 allocations (six fail); allocations and frees of the same slots
        # in turn; 4,096 random commands (the large input)
        churn = bytes(b for k in range(200) for b in (0, 0x80 | (k % 3)))
        return [b"", bytes(70), churn, _words(rng, 4096)]
    if name == "csvcols":
        # nothing; one line of four fields; lines with missing and empty fields and no
        # final newline; about 16 KB of records (the large input)
        def record() -> str:
            count = rng.randrange(1, 7)
            return ",".join(str(rng.randrange(100000)) if rng.random() < 0.9 else ""
                            for _ in range(count))
        text = ""
        while len(text) < 16000:
            text += record() + "\n"
        return [b"", b"12,345,6,7890\n", b"a,1\n,,,5\n9\n1,2,3,4,5,6,7,8,9,10\n3,4",
                text.encode()]
    if name == "intern":
        # no words; a sentence with repeats and a word past 15 letters; more distinct
        # words than the pool holds; about 4 KB of words from a vocabulary of 40
        def word() -> str:
            return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                           for _ in range(rng.randrange(1, 20)))
        vocabulary = [word() for _ in range(40)]
        text = ""
        while len(text) < 4000:
            text += rng.choice(vocabulary) + rng.choice([" ", ", ", ".\n", "--"])
        many = " ".join(f"w{i:03d}x{word()}" for i in range(60))
        return [b"  ,, 123 ", b"the cat and the dog and THE internationalisation cat",
                many.encode(), text.encode()]
    if name == "knapsack":
        # nothing; ten items under capacity 50; items that weigh nothing and ones
        # heavier than the capacity; the most items it takes (64), capacity 99
        def items(count: int, heaviest: int = 63) -> bytes:
            return b"".join(bytes([rng.randrange(heaviest + 1), rng.randrange(256)])
                            for _ in range(count))
        return [b"", bytes([50]) + items(10, 30), bytes([7, 0, 9, 0, 200, 60, 255, 8, 1]),
                bytes([99]) + items(64) + _words(rng, 40)]
    if name == "rmq":
        # nothing; five values and a few queries; one value (every query is [0, 0]);
        # 32 values and 4,000 queries
        def values(n: int) -> bytes:
            return b"".join(struct.pack("<H", rng.randrange(65536)) for _ in range(n))
        return [b"", bytes([4]) + values(5) + _words(rng, 12),
                bytes([32]) + values(1) + bytes([7, 9, 0, 0]),
                bytes([31]) + values(32) + _words(rng, 8000)]
    if name == "sudoku":
        # nothing; one grid that single candidates solve; one with a digit twice in a
        # box; 40 grids with 20 to 55 cells emptied
        def grid(empty: int) -> bytes:
            digits = list(range(1, 10))
            rng.shuffle(digits)
            cells = [str(digits[(r * 3 + r // 3 + c) % 9]) for r in range(9) for c in range(9)]
            for i in rng.sample(range(81), empty):
                cells[i] = rng.choice(".0 ")
            return "".join(cells).encode()
        clash = bytearray(grid(30))
        clash[10] = clash[0] = ord("5")
        return [b"", grid(25), bytes(clash),
                b"".join(grid(rng.randrange(20, 56)) for _ in range(40))]
    if name == "ntt":
        # nothing; one coefficient; a chunk and one more byte; 2,048 bytes
        return [b"", b"\x07", _words(rng, 33), _words(rng, 2048)]
    if name == "floyd":
        # nothing; four nodes and a few edges; twelve nodes and no edge; twelve nodes
        # and 400 edges
        return [b"", bytes([3, 0, 1, 5, 1, 2, 7, 0, 2, 20, 3, 0, 1]), bytes([11]),
                bytes([11]) + _words(rng, 1200)]
    if name == "hull":
        # nothing; two points; points on one line; a square with points inside; 40
        # random points
        square = bytes([0, 0, 10, 0, 10, 10, 0, 10, 5, 5, 3, 7, 9, 1])
        return [b"", bytes([1, 2, 3, 4]), bytes([0, 0, 1, 1, 2, 2, 3, 3, 250, 250]),
                square, _words(rng, 80)]
    if name == "spmv":
        # nothing; a 2x? matrix of three entries; column indices past the vector; a
        # 32-row matrix of 128 entries, rows in order
        def matrix(rows: int, nnz: int, bad: int) -> bytes:
            starts = sorted(rng.randrange(nnz + 1) for _ in range(rows - 1))
            cols = [rng.randrange(32) if rng.randrange(100) >= bad else rng.randrange(32, 256)
                    for _ in range(nnz)]
            return bytes([rows - 1, nnz - 1, 0, *starts, nnz, *cols]) + _words(rng, nnz + 32)
        return [b"", matrix(2, 3, 0), matrix(6, 20, 40), matrix(32, 128, 2)]
    if name == "modhash":
        # nothing; a few keys in the smallest table; the same keys again and again;
        # 4,000 bytes of keys for the largest table
        keys = [rng.randrange(1 << 32) for _ in range(8)]
        same = b"".join(k.to_bytes(4, "little") for k in keys) * 6
        return [b"", bytes([3]) + _words(rng, 12), bytes([40]) + same,
                bytes([255]) + _words(rng, 4000)]
    if name == "regvm":
        # nothing; a straight program (5 + 3, then halt); a loop of 100 trips adding
        # r1 into r0 (LOADI r1 100; ADD r0 r1; JNZ r1 -2; HALT); 4,000 random bytes
        def insn(op: int, d: int, s: int, imm: int) -> bytes:
            return bytes([op, d, s, imm & 0xFF])
        straight = insn(0, 0, 0, 5) + insn(0, 1, 0, 3) + insn(1, 0, 1, 0) + insn(7, 0, 0, 0)
        loop = insn(0, 1, 0, 100) + insn(1, 0, 1, 0) + insn(6, 1, 0, -2) + insn(7, 0, 0, 0)
        return [b"", straight, loop, _words(rng, 4000)]
    if name == "gauss":
        # nothing; a 1x1 matrix; a singular 3x3 (a row twice); a random 6x6
        return [b"", bytes([0, 7]), bytes([2, 1, 2, 3, 4, 5, 6, 1, 2, 3]),
                bytes([5]) + _words(rng, 36)]
    if name == "toksort":
        # nothing; a sentence; words sharing prefixes and one of 300 letters; 3,000
        # bytes of words
        return [b"", b"the quick brown fox jumps over the lazy dog",
                b"abc ab abcd a b" + b" " + b"x" * 300 + b" ab",
                _words(rng, 0) + b" ".join(bytes(rng.choice(b"abcdefghij")
                                                 for _ in range(rng.randrange(1, 9)))
                                           for _ in range(400))]
    if name == "recordhash":
        # nothing; records of every length 0-40 (each stripe count and tail length); a
        # last record cut short; 3,000 bytes of records of 0-60 bytes
        def records(lengths) -> bytes:
            return b"".join(bytes([n]) + _words(rng, n) for n in lengths)
        many = records(rng.randrange(61) for _ in range(100))
        return [b"", records(range(41)), records([5, 17]) + bytes([30]) + _words(rng, 12),
                many]
    if name == "winmedian":
        # nothing; fewer bytes than the window; a run of equal bytes; 4,000 random
        return [b"", _words(rng, 10), bytes([9]) * 30 + _words(rng, 20), _words(rng, 4000)]
    if name == "myers":
        # nothing; a slice and itself (distance 0); a slice and a copy with three edits;
        # 1,200 bytes of slice pairs 0-12 edits apart (a slice and its copy, then a
        # slice of filler: the program compares bytes p..p+39 with p+40..p+79 and
        # steps p by 120)
        def edited(text: bytes, edits: int) -> bytes:
            out = bytearray(text)
            for _ in range(edits):
                at = rng.randrange(len(out))
                kind = rng.randrange(3)
                if kind == 0:
                    out[at] = rng.choice(b"acgt")
                elif kind == 1:
                    del out[at]
                else:
                    out.insert(at, rng.choice(b"acgt"))
            return bytes(out[:40]).ljust(40, b"a")

        def pair(edits: int) -> bytes:
            text = bytes(rng.choice(b"acgt") for _ in range(40))
            return text + edited(text, edits) + bytes(rng.choice(b"acgt") for _ in range(40))
        same = bytes(rng.choice(b"acgt") for _ in range(40))
        return [b"", same * 2, pair(3)[:80], b"".join(pair(rng.randrange(13)) for _ in range(10))]
    if name == "rotimg":
        # nothing (the image its filler makes); fewer bytes than the image; the image
        # whole, bright enough that the brightness steps saturate; 1,000 bytes
        return [b"", _words(rng, 100), bytes(rng.randrange(230, 256) for _ in range(256)),
                _words(rng, 1000)]
    if name == "bubble":
        # nothing (the keys its counter makes); sorted keys (one pass, no swap); keys in
        # descending order (every pass swaps); 80 random bytes, the 40 keys whole
        return [b"", b"".join(i.to_bytes(2, "big") for i in range(40)),
                b"".join((1000 - i).to_bytes(2, "big") for i in range(40)), _words(rng, 80)]
    if name == "trimax":
        # nothing (the triangle its counter makes); fewer bytes than the 210 cells; equal
        # bytes (every step a tie); 210 random bytes
        return [b"", _words(rng, 50), bytes([7]) * 210, _words(rng, 210)]
    if name == "zfunc":
        # nothing; a pattern as long as the text (the early return); a text over two
        # letters, where matches overlap; a period-3 text longer than the 225 bytes read
        def text(n: int) -> bytes:
            return bytes(rng.choice(b"ab") for _ in range(n))
        return [b"", bytes([9]) + text(10), bytes([5]) + text(120),
                bytes([2]) + b"abc" * 100]
    if name == "maglev":
        # nothing; too short for the backends its first byte names (12 of them); 8
        # backends and 80 flows; 2,000 bytes
        return [b"", bytes([11]) + _words(rng, 30), bytes([7]) + _words(rng, 355),
                _words(rng, 2000)]
    if name == "rangecoder":
        # nothing; one byte; a run of one letter (its probabilities grow sure, the range
        # narrows slowly); 2,000 random bytes, which hardly compress
        return [b"", b"a", b"e" * 300, _words(rng, 2000)]
    if name == "nextperm":
        # one byte (no permutation); all eight bytes equal (one); eight distinct bytes
        # with 200 more (3,328 of their 40,320 permutations); repeated bytes, to the end
        return [b"x", b"\x07" * 8, bytes(rng.sample(range(256), 8)) + bytes(200),
                b"aabbccdd" + _words(rng, 120)]
    if name == "bresenham":
        # nothing; one line; a single point (both ends equal); 100 lines
        return [b"", bytes([3, 40, 60, 2]), bytes([9, 9, 9, 9]), _words(rng, 400)]
    if name == "heavy":
        # nothing; 100 random bytes (no item stands out); four items half of the time;
        # one item four times in ten, 1,000 items
        def skewed(count: int, hot: list[int], share: float) -> bytes:
            out = bytearray()
            for _ in range(count):
                v = rng.choice(hot) if rng.random() < share else rng.randrange(1 << 16)
                out += v.to_bytes(2, "big")
            return bytes(out)
        return [b"", _words(rng, 100), skewed(300, [5, 77, 513, 1023], 0.5),
                skewed(1000, [300], 0.4)]
    if name == "life":
        # no generation; a glider (top left, going down-right) for 32 generations; 20
        # generations of random cells; fewer bytes than the 32 rows (the rest dead)
        glider = bytearray(129)
        glider[0] = 32
        for row, bits in ((0, 0x40), (1, 0x20), (2, 0xE0)):
            glider[1 + 4 * row] = bits
        return [bytes([0]) + _words(rng, 128), bytes(glider), bytes([20]) + _words(rng, 128),
                bytes([33 + 5]) + _words(rng, 60)]
    if name == "chacha":
        # nothing (no key); the key and nonce alone (no block); one byte to encrypt; three
        # blocks and a part of a fourth
        return [b"", _words(rng, 44), _words(rng, 45), _words(rng, 44 + 200)]
    if name == "haar":
        # nothing; one byte (no sample); 32 samples (five levels); 150 samples (the first
        # 112 taken, an even prefix halved down to 7, then 3 and 1 left unpaired)
        return [b"", b"\x05", _words(rng, 64), _words(rng, 300)]
    if name == "josephus":
        # one byte (no ring); a ring of one; 11 people; a ring of 200 (bytes beyond it
        # ignored but the step's)
        return [b"\x03", b"\x03\x09", _words(rng, 12), _words(rng, 260)]
    if name == "manacher":
        # nothing; an odd palindrome; 150 letters over two (many long palindromes); more
        # than the 200 bytes read
        return [b"", b"racecar", bytes(rng.choice(b"ab") for _ in range(150)),
                _words(rng, 260)]
    if name == "skiplist":
        # nothing; one key and no probe; 50 keys from a small range (repeats, probes that
        # hit); 150 random keys (63 taken) and their probes
        small = bytes(b for _ in range(50) for b in (0, rng.randrange(24)))
        return [b"", b"\x01\x02\x03", small, _words(rng, 300)]
    if name == "x86len":
        # nothing; push rbp, mov rbp,rsp, sub rsp,0x20, mov eax,[rbp-4] with an operand
        # size prefix, lock add [rax+rbx*4+0x10],ecx, jne rel32, ret; random bytes;
        # the same code cut inside its last instruction
        code = bytes.fromhex("55" "4889e5" "4883ec20" "668b45fc" "f0014c9810"
                             "0f85fcffffff" "c3")
        return [b"", code, _words(rng, 300), code[:-8]]
    if name == "gf128":
        # nothing (every syndrome 0); seven symbols; 200 bytes; more than the 1500 read
        return [b"", bytes([1, 2, 3, 0x7F, 0x80, 0xFF, 9]), _words(rng, 200), _words(rng, 1600)]
    if name == "cordic":
        # nothing; one byte (no angle); -pi/2 and the largest angle; 1050 angles (1000
        # taken)
        return [b"", b"\x01", b"\x00\x00\xff\xff", _words(rng, 2100)]
    if name == "bitfields":
        # nothing; one record; seven bytes (no record); 525 records (512 taken)
        return [b"", _words(rng, 8), _words(rng, 7), _words(rng, 4200)]
    if name == "bwt":
        # nothing; one symbol; a primary index and 64 symbols of a small alphabet; 259
        # bytes (200 symbols taken)
        return [b"", b"\x05a", bytes([rng.randrange(256)]) + bytes(rng.choice(b"abcab")
                                                                  for _ in range(64)),
                _words(rng, 260)]
    if name == "xtea":
        # nothing (the built-in key, no block); a key alone; a key, three blocks and a
        # part of a fourth; a key and 300 blocks (256 taken)
        return [b"", _words(rng, 16), _words(rng, 16 + 8 * 3 + 5), _words(rng, 16 + 8 * 300)]
    if name == "bitscan":
        # nothing; one word; seven words and a part; 530 sparse words (500 taken)
        sparse = bytes(rng.randrange(256) & rng.randrange(256) & rng.randrange(256)
                       for _ in range(8 * 530))
        return [b"", _words(rng, 8), _words(rng, 63), sparse]
    if name == "base58":
        # nothing; leading zero bytes then a few; one whole chunk and a part; 34 chunks
        # (32 taken)
        return [b"", b"\x00\x00\x00\x01\xff", _words(rng, 45), _words(rng, 1088)]
    if name == "morse":
        # nothing; E, T and the empty code; every byte value; 2000 bytes
        return [b"", bytes([0x20, 0x21, 0x00]), bytes(range(256)), _words(rng, 2000)]
    if name == "tarjan":
        # nothing; a 3-cycle; one self-loop and a chain; 200 edges (96 taken)
        return [b"", bytes([0, 1, 1, 2, 2, 0]), bytes([5, 5, 5, 6, 6, 7, 7, 8]),
                _words(rng, 400)]
    if name == "murmur3":
        # nothing; one byte (a prefix only); each tail length; 1500 bytes
        return [b"", b"a", b"Hello, world!", _words(rng, 1500)]
    if name == "bellman":
        # nothing; a negative cycle 0 -> 1 -> 0; 30 edges; 300 bytes (80 edges taken)
        return [b"", bytes([0, 1, 0x80, 1, 0, 0x80]), _words(rng, 90), _words(rng, 300)]
    if name == "gorilla":
        # nothing; one sample; samples repeating (zero deltas) and changing; 3000 bytes
        same = _words(rng, 4) * 20
        return [b"", _words(rng, 4), same + _words(rng, 40), _words(rng, 3000)]
    if name == "rsgf":
        # nothing; a codeword of zeros (every syndrome 0); one byte wrong in it; 40
        # codewords
        return [b"", bytes(24), bytes(23) + b"\x01", _words(rng, 24 * 40)]
    if name == "gearcdc":
        # nothing; less than the least chunk; a block four times over (duplicates);
        # 3000 bytes
        return [b"", _words(rng, 20), _words(rng, 300) * 4, _words(rng, 3000)]
    if name == "lzw":
        # nothing; one byte; the classic example; 2000 bytes of four letters (the
        # dictionary fills and starts over)
        return [b"", b"a", b"TOBEORNOTTOBEORTOBEORNOT",
                bytes(rng.choice(b"abcd") for _ in range(2000))]
    if name == "quadtree":
        # nothing; two points (no split); 48 points crowded near a corner (deep
        # splits, the pool runs out) and 20 rectangles; 600 bytes
        crowded = bytes(rng.randrange(16) for _ in range(96))
        return [b"", bytes([10, 20, 200, 100]), crowded + _words(rng, 80), _words(rng, 600)]
    raise SystemExit(f"no inputs for corpus program {name!r}")


def build_objects(directory: Path) -> None:
    for source in sorted(directory.glob("*.c")):
        obj = source.with_suffix(".o")
        subprocess.run([*CLANG, str(source.relative_to(HERE)), "-o", str(obj.relative_to(HERE))],
                       check=True, cwd=HERE)
        print(f"{source.relative_to(HERE)} -> {obj.relative_to(HERE)}")


def expected_results() -> None:
    plain = HERE / "plain"
    out_dir = plain / "inputs"
    out_dir.mkdir(exist_ok=True)
    expected = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted(plain.glob("*.c")):
            native = NativeKernel(source, Path(tmp))
            for k, data in enumerate(inputs(source.stem)):
                name = f"{source.stem}-{k}.bin"
                (out_dir / name).write_bytes(data)
                expected[name] = native.run_batch(data, 1)[0]
    (plain / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"plain/expected.json: {len(expected)} results from the native build")


if __name__ == "__main__":
    build_objects(HERE / "plain")
    build_objects(HERE / "xdp")
    expected_results()
