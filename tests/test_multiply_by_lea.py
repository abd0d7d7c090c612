"""`mul` by 3, 5 or 9 times a power of two, which the peachpy JIT makes an `lea` (and a
shift) rather than an `imul` (backends.x86alu._multiply_by_lea): the products on every
engine against Python's, 64- and 32-bit, at the edges where the two differ (a low half
that overflows, an upper half the 32-bit form must clear)."""

import pytest

import bpfjit

M64, M32 = (1 << 64) - 1, (1 << 32) - 1
VALUES = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x1_0000_0001,
          0x123456789ABCDEF0, (1 << 63) - 1, 1 << 63, M64]
FACTORS = [3, 5, 9, 6, 10, 24, 72, 5 << 28, 3, 7, 11, 1, 2]


@pytest.mark.parametrize("width", [64, 32])
@pytest.mark.parametrize("factor", sorted(set(FACTORS)))
def test_products_by_small_factors(engine, factor, width):
    op = "mul" if width == 64 else "mul32"
    fn = bpfjit.compile(bpfjit.assemble(f"ldxdw r0, [r1+0]\n{op} r0, {factor}\nexit"),
                        engine)
    for value in VALUES:
        expected = value * factor & M64 if width == 64 else (value & M32) * factor & M32
        assert fn(value.to_bytes(8, "little")) == expected, hex(value)


def test_peachpy_multiplies_by_five_with_lea():
    if "peachpy" not in bpfjit.engines():
        pytest.skip("peachpy is not available")
    from bpfjit.nativedis import native_listing
    fn = bpfjit.compile(bpfjit.assemble("ldxdw r0, [r1+0]\nmul r0, 5\nmul32 r0, 24\nexit"),
                        "peachpy", cache=False, line_info=True)
    text = native_listing(fn.program, fn.memory.code, fn.memory.address,
                          fn.extra.get("symbols", {}), fn.extra.get("lines"))
    body = text[text.index("; 1:"):text.index("; 3:")]
    # x * 5 = x + 4x; x * 24 = (x + 2x) << 3, in 32 bits
    assert "lea rax, [rax + rax*4]" in body and "lea eax, [rax + rax*2]" in body
    assert "shl eax, 3" in body and "imul" not in body
