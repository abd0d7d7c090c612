"""Plain corpus programs against Python models written from what each program is said
to compute (its header comment), not from its C: the knapsack's best value, range
minima, Sudoku's single candidates, polynomial squares.  The models must agree with the
native build's results (corpus/plain/expected.json) on the shipped inputs, and every
engine with the models on inputs drawn here."""

import json
import random
from pathlib import Path

import pytest

import bpfjit

CORPUS = Path(__file__).parent.parent / "corpus" / "plain"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
U64 = (1 << 64) - 1


def knapsack(mem: bytes) -> int:
    """Best value within capacity mem[0] % 100 of the (weight & 63, value) pairs (64 at
    most), each taken once; the least capacity reaching it; the item count."""
    if not mem:
        return 0
    cap = mem[0] % 100
    items = [(mem[k] & 63, mem[k + 1]) for k in range(1, len(mem) - 1, 2)][:64]
    # best[c]: the best value of a subset weighing at most c, item by item
    best = [0] * (cap + 1)
    for weight, value in items:
        best = [max(best[c], best[c - weight] + value) if weight <= c else best[c]
                for c in range(cap + 1)]
    top = best[cap]
    least = min(c for c in range(cap + 1) if best[c] == top)
    return top << 32 | least << 8 | len(items)


def rmq(mem: bytes) -> int:
    """n = mem[0] % 32 + 1 little-endian u16 values, then (l, r) byte pairs taken
    modulo n; h = n, then h * 131 + min(values[min(l, r) .. max(l, r)]) per pair."""
    if len(mem) < 2:
        return 0
    n = mem[0] % 32 + 1
    if len(mem) < 1 + 2 * n:
        return 1
    values = [mem[1 + 2 * i] | mem[2 + 2 * i] << 8 for i in range(n)]
    h = n
    off = 1 + 2 * n
    while off + 2 <= len(mem) and off < 8192:
        l, r = sorted((mem[off] % n, mem[off + 1] % n))
        h = (h * 131 + min(values[l:r + 1])) & U64
        off += 2
    return h


def sudoku(mem: bytes) -> int:
    """Per 81-byte grid (64 at most): digits '1'-'9', others empty; a clash is a digit
    already seen in its row, column or box; with no clash, empty cells whose row,
    column and box leave one digit are filled in rounds (16 at most) until a round
    fills none; the hash folds the cells, then the counts."""
    h, grids = 0, 0
    for base in range(0, len(mem) - 80, 81):
        if grids == 64:
            break
        cells = [c - 48 if 49 <= c <= 57 else 0 for c in mem[base:base + 81]]
        seen = {}
        clashes = filled = 0
        for i, d in enumerate(cells):
            if d:
                units = [("r", i // 9), ("c", i % 9), ("b", i // 27 * 3 + i % 9 // 3)]
                if any(d in seen.get(u, set()) for u in units):
                    clashes += 1
                for u in units:
                    seen.setdefault(u, set()).add(d)
                filled += 1
        for _ in range(16 if not clashes else 0):
            changed = 0
            for i in range(81):
                if cells[i]:
                    continue
                units = [("r", i // 9), ("c", i % 9), ("b", i // 27 * 3 + i % 9 // 3)]
                open_ = set(range(1, 10)).difference(*(seen.get(u, set()) for u in units))
                if len(open_) == 1:
                    (d,) = open_
                    cells[i] = d
                    for u in units:
                        seen.setdefault(u, set()).add(d)
                    filled += 1
                    changed += 1
            if not changed:
                break
        for d in cells:
            h = (h * 11 + d) & U64
        h ^= clashes << 56 | filled << 48
        h &= U64
        grids += 1
    return h ^ grids


def ntt(mem: bytes) -> int:
    """The square of each 32-byte chunk's polynomial (coefficients the bytes, a short
    last chunk padded with zeros, chunks starting below 2048), its 64 coefficients
    modulo 998244353 folded as h * 1000003 + c."""
    h = 0
    for base in range(0, min(len(mem), 2048), 32):
        p = [mem[base + i] if base + i < len(mem) else 0 for i in range(32)]
        square = [0] * 64
        for i, a in enumerate(p):
            for j, b in enumerate(p):
                square[i + j] += a * b
        for c in square:
            h = (h * 1000003 + c % 998244353) & U64
    return h


def xtea_block(v0: int, v1: int, key: list[int]) -> tuple[int, int]:
    """XTEA's 32 cycles (Needham and Wheeler, 1997) on one 64-bit block."""
    total, mask = 0, 0xFFFFFFFF
    for _ in range(32):
        v0 = (v0 + ((((v1 << 4) ^ (v1 >> 5)) + v1) ^ (total + key[total & 3]))) & mask
        total = (total + 0x9E3779B9) & mask
        v1 = (v1 + ((((v0 << 4) ^ (v0 >> 5)) + v0) ^ (total + key[(total >> 11) & 3]))) & mask
    return v0, v1


def xtea(mem: bytes) -> int:
    """CBC encryption of the 8-byte blocks after the first 16 bytes (at most 256), words
    little-endian, under the built-in key XORed with those 16 bytes when there are as
    many; the last block's two words."""
    key = [0x01234567, 0x89ABCDEF, 0xFEDCBA98, 0x76543210]
    if len(mem) >= 16:
        key = [k ^ int.from_bytes(mem[4 * i:4 * i + 4], "little") for i, k in enumerate(key)]
    c0 = c1 = 0
    for off in range(16, min(len(mem) - 7, 16 + 8 * 256), 8):
        c0, c1 = xtea_block(int.from_bytes(mem[off:off + 4], "little") ^ c0,
                            int.from_bytes(mem[off + 4:off + 8], "little") ^ c1, key)
    return c0 << 32 | c1


def bwt(mem: bytes) -> int:
    """The inverse Burrows-Wheeler transform of the low nibbles of mem[1:201], from the
    row mem[0] % n, its symbols hashed as h * 17 + s (0 for fewer than two bytes)."""
    if len(mem) < 2:
        return 0
    last = [b & 15 for b in mem[1:201]]
    n = len(last)
    # LF: row i of the last column is the (rank)-th of its symbol, whose rows in the
    # first column start after all smaller symbols'
    order = sorted(range(n), key=lambda i: (last[i], i))
    lf = [0] * n
    for row, i in enumerate(order):
        lf[i] = row
    p, h = mem[0] % n, 0
    for _ in range(n):
        h = (h * 17 + last[p]) & U64
        p = lf[p]
    return h


MODELS = {"knapsack": knapsack, "rmq": rmq, "sudoku": sudoku, "ntt": ntt, "xtea": xtea,
          "bwt": bwt}


def shipped(name: str) -> list[bytes]:
    return [(CORPUS / "inputs" / case).read_bytes()
            for case in sorted(EXPECTED) if case.rsplit("-", 1)[0] == name]


def drawn(name: str) -> list[bytes]:
    rng = random.Random(name)
    sizes = {"knapsack": [1, 3, 40, 300], "rmq": [2, 9, 70, 600],
             "sudoku": [81, 162, 400], "ntt": [1, 31, 65, 300],
             "xtea": [15, 16, 24, 1000, 2200], "bwt": [1, 2, 3, 90, 250]}[name]
    out = [bytes(rng.randrange(256) for _ in range(n)) for n in sizes]
    if name == "sudoku":        # digits and gaps, so that singles get filled
        out = [bytes(rng.choice(b"123456789......") for _ in range(n)) for n in sizes]
    return out


def test_the_models_by_hand():
    # XTEA's published vector: key 00010203 04050607 08090a0b 0c0d0e0f, block 41424344
    # 45464748 -> 497df3d0 72612cb5
    assert xtea_block(0x41424344, 0x45464748, [0x00010203, 0x04050607, 0x08090A0B,
                                                0x0C0D0E0F]) == (0x497DF3D0, 0x72612CB5)
    # "banana" sorted rotations end in "nnbaaa" (row 3 is the text); as nibbles a=1,
    # b=2, n=14: reading from row 3 gives the text backwards, a n a n a b
    h = 0
    for s in (1, 14, 1, 14, 1, 2):
        h = h * 17 + s
    assert bwt(bytes([3]) + b"nnbaaa") == h
    # capacity 7: weights 0 go in at every capacity (9 + 200); 60 and 8 do not fit
    assert knapsack(bytes([7, 0, 9, 0, 200, 60, 255, 8, 1])) == 209 << 32 | 0 << 8 | 4
    # capacity 10: (4, 40) and (3, 50) beat (6, 30) + (4, 40); 7 is the least weight
    assert knapsack(bytes([10, 6, 30, 4, 40, 3, 50])) == 90 << 32 | 7 << 8 | 3
    # three values 5, 2, 9; queries [0, 2] -> 2, [2, 2] -> 9, (1, 0) -> [0, 1] -> 2
    three = bytes([2, 5, 0, 2, 0, 9, 0, 0, 2, 2, 2, 1, 0])
    assert rmq(three) == ((3 * 131 + 2) * 131 + 9) * 131 + 2
    # (1 + 2x)^2 = 1 + 4x + 4x^2, the other 61 coefficients 0
    h = 0
    for c in [1, 4, 4] + [0] * 61:
        h = (h * 1000003 + c) & U64
    assert ntt(bytes([1, 2])) == h


def test_sudoku_model_fills_a_grid_from_singles():
    solved = "".join(str((r * 3 + r // 3 + c) % 9 + 1) for r in range(9) for c in range(9))
    grid = "." + solved[1:]             # one gap: its row leaves one digit
    h = 0
    for ch in solved:
        h = (h * 11 + int(ch)) & U64
    assert sudoku(grid.encode()) == (h ^ (0 << 56 | 81 << 48)) ^ 1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_models_agree_with_the_native_build(name):
    cases = [case for case in sorted(EXPECTED) if case.rsplit("-", 1)[0] == name]
    assert cases
    for case, data in zip(cases, shipped(name)):
        assert MODELS[name](data) == EXPECTED[case], case


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_engine_agrees_with_the_model(engine, name):
    fn = bpfjit.compile(bpfjit.load_elf(CORPUS / f"{name}.o", function="entry"), engine)
    for data in drawn(name):
        assert fn(bytearray(data)) == MODELS[name](data)
