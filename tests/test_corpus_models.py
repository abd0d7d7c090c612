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


MODELS = {"knapsack": knapsack, "rmq": rmq, "sudoku": sudoku, "ntt": ntt}


def shipped(name: str) -> list[bytes]:
    return [(CORPUS / "inputs" / case).read_bytes()
            for case in sorted(EXPECTED) if case.rsplit("-", 1)[0] == name]


def drawn(name: str) -> list[bytes]:
    rng = random.Random(name)
    sizes = {"knapsack": [1, 3, 40, 300], "rmq": [2, 9, 70, 600],
             "sudoku": [81, 162, 400], "ntt": [1, 31, 65, 300]}[name]
    out = [bytes(rng.randrange(256) for _ in range(n)) for n in sizes]
    if name == "sudoku":        # digits and gaps, so that singles get filled
        out = [bytes(rng.choice(b"123456789......") for _ in range(n)) for n in sizes]
    return out


def test_the_models_by_hand():
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
