"""Run-time bounds checks at their edges, on every engine.

An access the verifier leaves unproven runs only if it lies in its region: the buffer
[mem, mem + len), or a live stack frame — the current one's 512 bytes up to the top of
the outermost caller's.  Each probe below moves a pointer by a 16-bit number read from
the buffer, which the verifier cannot bound, and touches `size` bytes at the pointer
plus the instruction's offset; the expected outcome is that rule applied by hand.  The
JITs test these in different ways for different places (the peachpy engine: one
unsigned compare against the frame in an entry subprogram no call enters), so the
probes run in such an entry, in a subprogram, and in an entry that recursion enters."""

import pytest

import bpfjit
from bpfjit import MemoryAccessError

WIDTHS = {1: "b", 2: "h", 4: "w", 8: "dw"}
VALUE = 0x1122334455667788


def _stack_probe(size: int, off: int) -> str:
    """r4 = r10 - 600 + k; store VALUE's low bytes at [r4 + off], load them back."""
    w = WIDTHS[size]
    return f"""
    ldxh %r3, [%r1]
    mov %r4, %r10
    add %r4, -600
    add %r4, %r3
    lddw %r5, {VALUE:#x}
    stx{w} [%r4{off:+d}], %r5
    ldx{w} %r0, [%r4{off:+d}]
"""


def _heights(size: int, off: int, lowest: int, highest: int) -> list[int]:
    """k values that put the access's first byte at, just inside and just outside
    [lowest, highest] (offsets from r10), and far from both."""
    firsts = [lowest - 1, lowest, lowest + 1, highest - 1, highest, highest + 1,
              highest + 64, lowest - 80]
    return sorted({first - off + 600 for first in firsts if first - off + 600 >= 0}
                  | {0, 65535})


def _outcome(fn, k: int):
    try:
        return fn(bytearray(k.to_bytes(2, "little") + bytes(6)))
    except MemoryAccessError as error:
        return error


def _check(fn, k: int, off: int, size: int, lowest: int, highest: int, pc: int) -> None:
    first = k - 600 + off
    got = _outcome(fn, k)
    if lowest <= first <= highest:
        assert got == VALUE & ((1 << 8 * size) - 1), (k, first)
    else:
        assert isinstance(got, MemoryAccessError), (k, first, got)
        assert (got.pc, got.size, got.write) == (pc, size, True)


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("off", [0, -8, 24])
def test_stack_in_an_entry_no_call_enters(engine, size, off):
    # the only live frame is the entry's own: [r10 - 512, r10)
    fn = bpfjit.compile(bpfjit.assemble(_stack_probe(size, off) + "    exit\n"), engine,
                        cache=False)
    for k in _heights(size, off, -512, -size):
        _check(fn, k, off, size, -512, -size, pc=6)


@pytest.mark.parametrize("size", [1, 8])
@pytest.mark.parametrize("off", [0, -8])
def test_stack_in_a_subprogram_reaches_its_callers_frame(engine, size, off):
    # called from the entry: its frame and the entry's above it, [r10 - 512, r10 + 512)
    text = "    call local +1\n    exit\n" + _stack_probe(size, off) + "    exit\n"
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    for k in _heights(size, off, -512, 512 - size):
        _check(fn, k, off, size, -512, 512 - size, pc=8)


@pytest.mark.parametrize("size", [1, 8])
def test_stack_in_an_entry_that_recursion_enters(engine, size):
    # the entry calls itself once (len 0 the second time): the probe runs in the
    # nested entry, whose caller's frame is live above its own
    text = ("    jeq %r2, 0, +3\n    mov %r2, 0\n    call local -3\n    exit\n"
            + _stack_probe(size, 0) + "    exit\n")
    fn = bpfjit.compile(bpfjit.assemble(text), engine, cache=False)
    for k in _heights(size, 0, -512, 512 - size):
        got = _outcome(fn, k)
        first = k - 600
        # the outer entry (len 8) makes the call and returns the nested run's r0 (its
        # probe's), the nested one (len 0) reads k from the same buffer
        if -512 <= first <= 512 - size:
            assert got == VALUE & ((1 << 8 * size) - 1), (k, first)
        else:
            assert isinstance(got, MemoryAccessError), (k, first, got)
            assert (got.pc, got.size, got.write) == (10, size, True)


# The same pointer built in other orders: the llvm engine tests a frame pointer built in
# the block from r10 by adds and subtractions as the sum of what was added (the frame's
# top cancels), so each order must give the same verdicts at the same edges.
_SHAPES = {
    "subtracted": "mov %r4, %r10\n    sub %r4, 600\n    add %r4, %r3\n",
    "variable first": "mov %r4, %r3\n    add %r4, %r10\n    add %r4, -600\n",
    "two variables": "mov %r5, %r3\n    rsh %r5, 1\n    sub %r3, %r5\n"
                     "    mov %r4, %r10\n    add %r4, %r5\n    add %r4, -300\n"
                     "    add %r4, %r3\n    add %r4, -300\n",
    "across a jump": "mov %r4, %r10\n    add %r4, -600\n    ja +0\n    add %r4, %r3\n",
}


@pytest.mark.parametrize("shape", sorted(_SHAPES))
@pytest.mark.parametrize("size", [1, 8])
def test_stack_pointer_built_in_other_orders(engine, shape, size):
    text = (f"    ldxh %r3, [%r1]\n    {_SHAPES[shape]}    lddw %r5, {VALUE:#x}\n"
            f"    stx{WIDTHS[size]} [%r4-8], %r5\n    ldx{WIDTHS[size]} %r0, [%r4-8]\n"
            f"    exit\n")
    prog = bpfjit.assemble(text)
    pc = next(pc for pc, insn in prog if insn.kind.value == "stx")
    fn = bpfjit.compile(prog, engine, cache=False)
    for k in _heights(size, -8, -512, -size):
        _check(fn, k, -8, size, -512, -size, pc=pc)


def test_a_trapping_stack_access_reports_its_address(engine):
    # two accesses below the frame: their addresses differ by what moved them
    fn = bpfjit.compile(bpfjit.assemble(_stack_probe(8, 0) + "    exit\n"), engine,
                        cache=False)
    low, lower = _outcome(fn, 80), _outcome(fn, 50)
    assert isinstance(low, MemoryAccessError) and isinstance(lower, MemoryAccessError)
    assert low.address - lower.address == 30


def _buffer_probe(size: int, off: int, store: bool) -> str:
    """r4 = mem + k; load (or store and reload) `size` bytes at [r4 + off]; then add
    r4 - mem to r0 << 16, so a base register the check disturbed shows."""
    w = WIDTHS[size]
    access = (f"    lddw %r5, {VALUE:#x}\n    stx{w} [%r4{off:+d}], %r5\n" if store else "")
    return f"""
    ldxh %r3, [%r1]
    mov %r4, %r1
    add %r4, %r3
{access}    ldx{w} %r0, [%r4{off:+d}]
    lsh %r0, 16
    sub %r4, %r1
    add %r0, %r4
    exit
"""


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("off", [0, -4, 9])
@pytest.mark.parametrize("store", [False, True], ids=["load", "store"])
def test_buffer(engine, size, off, store):
    length = 40
    fn = bpfjit.compile(bpfjit.assemble(_buffer_probe(size, off, store)), engine,
                        cache=False)
    pattern = bytes((37 * i + 11) & 0xFF for i in range(length))
    firsts = {-1, 0, 1, length - size - 1, length - size, length - size + 1, length}
    for k in sorted({first - off for first in firsts if first - off >= 0} | {65535}):
        mem = bytearray(k.to_bytes(2, "little") + pattern[2:])
        first = k + off
        try:
            got = fn(mem)
        except MemoryAccessError as error:
            got = error
        if 0 <= first and first + size <= length:
            if store:
                expected = VALUE & ((1 << 8 * size) - 1)
                assert mem[first:first + size] == expected.to_bytes(size, "little")
            else:
                before = bytearray(k.to_bytes(2, "little") + pattern[2:])
                expected = int.from_bytes(before[first:first + size], "little")
            assert got == ((expected << 16) + k) % 2**64, (k, first)
        else:
            assert isinstance(got, MemoryAccessError), (k, first, got)
            assert (got.pc, got.size, got.write) == (5 if store else 3, size, store)


def test_a_trapping_buffer_access_reports_its_address(engine):
    fn = bpfjit.compile(bpfjit.assemble(_buffer_probe(4, 0, False)), engine, cache=False)
    mem, errors = bytearray(32), []
    for k in (100, 140):                 # (the same buffer: the JITs use it in place)
        mem[:2] = k.to_bytes(2, "little")
        with pytest.raises(MemoryAccessError) as caught:
            fn(mem)
        errors.append(caught.value)
    assert errors[1].address - errors[0].address == 40
