"""bpf_csum_diff in native code (backends.helperops): where the verifier proved both of
its memory arguments in bounds, the JITs call a native routine instead of the Python
helper (~2 µs a call: userspace-xdp's checksum benchmark, 32 calls a packet, ran at
68-82 µs a packet on both JITs against 0.5 µs on the kernel's JIT).

Values worked out by hand from the kernel's definition (the partial sum of 32-bit
little-endian words, the tail padded with zeros, end-around carry; `to`'s on the seed
plus the complement of `from`'s; folded to 16 bits), and the native routine held to
the interpreter's Python helper on random inputs."""

from __future__ import annotations

import random
import struct

import pytest

import bpfjit
from bpfjit.backends.helperops import CSUM_DIFF, native_helper_ids
from skb_programs import asm_program

# an XDP program: a 144-byte packet holds from_size (& 63), to_size (& 63) and the
# seed at 0, 4 and 8, `from` at 16 and `to` at 80; r0 = csum_diff(...), or 0 when the
# packet is shorter
PROVEN = """
    ldxw %r6, [%r1+0]
    ldxw %r7, [%r1+4]
    mov %r0, 0
    mov %r8, %r6
    add %r8, 144
    jgt %r8, %r7, out
    ldxw %r2, [%r6+0]
    and %r2, 63
    ldxw %r4, [%r6+4]
    and %r4, 63
    ldxw %r5, [%r6+8]
    mov %r1, %r6
    add %r1, 16
    mov %r3, %r6
    add %r3, 80
    call 28
out:
    exit
"""
# the same with `from` NULL and its size 0 (the usual way to sum one buffer)
ONLY_TO = PROVEN.replace("    mov %r1, %r6\n    add %r1, 16\n",
                         "    mov %r1, 0\n").replace("and %r2, 63", "mov %r2, 0")
# sizes not bounded: the helper's own checks, in Python
UNPROVEN = PROVEN.replace("    and %r2, 63\n", "").replace("    and %r4, 63\n", "")


def packet(old: bytes, new: bytes, seed: int) -> bytes:
    data = bytearray(144)
    struct.pack_into("<III", data, 0, len(old), len(new), seed)
    data[16:16 + len(old)] = old
    data[80:80 + len(new)] = new
    return bytes(data)


def calls(text: str) -> list[int]:
    return [pc for pc, insn in asm_program(text) if insn.kind.name == "CALL"]


@pytest.mark.parametrize("text, native", [(PROVEN, True), (ONLY_TO, True),
                                          (UNPROVEN, False)],
                         ids=["proven", "only to", "unproven"])
def test_the_verifier_says_which_calls_may_be_native(text, native):
    verified = bpfjit.verify(asm_program(text), cache=False)
    assert (set(calls(text)) <= verified.native_helpers) == native
    assert (CSUM_DIFF in native_helper_ids(verified, None)) == native
    assert native_helper_ids(verified, {CSUM_DIFF: lambda *a: 0}) == {}    # the caller's


HAND = [
    # only `to`, one word: 0x04030201 folded, 0x0403 + 0x0201
    (b"", bytes([1, 2, 3, 4]), 0, 0x0604),
    # from all ones (0xffffffff, whose complement is 0): the same
    (b"\xff" * 4, bytes([1, 2, 3, 4]), 0, 0x0604),
    # a 3-byte tail on seed 5: 0x00332211 + 5 = 0x00332216; 0x0033 + 0x2216
    (b"", bytes([0x11, 0x22, 0x33]), 5, 0x2249),
    # only `from`, seed 0: ~(1 + 0xffffffff, end-around: 1) = 0xfffffffe;
    # 0xfffe + 0xffff = 0x1fffd, 0xfffd + 1
    (bytes([1, 0, 0, 0]), b"", 0, 0xFFFE),
    # neither: the seed, folded: 0x1234 + 0x5678
    (b"", b"", 0x12345678, 0x68AC),
]


@pytest.mark.parametrize("old, new, seed, result", HAND)
def test_hand_worked_sums(engine, old, new, seed, result):
    text = ONLY_TO if not old else PROVEN
    fn = bpfjit.compile(asm_program(text), engine)
    assert fn(bpfjit.XdpContext(packet(old, new, seed))) == result


def test_the_jits_call_the_native_routine(engine):
    if engine not in ("llvm", "peachpy"):
        pytest.skip("the JITs' helper table")
    fn = bpfjit.compile(asm_program(PROVEN), engine)
    python = bpfjit.compile(asm_program(UNPROVEN), engine)
    entry = int(bpfjit.native.ffi.cast("uintptr_t", fn.helpers.table[CSUM_DIFF]))
    assert entry == native_helper_ids(bpfjit.verify(asm_program(PROVEN)), None)[CSUM_DIFF]
    assert int(bpfjit.native.ffi.cast("uintptr_t", python.helpers.table[CSUM_DIFF])) != entry


@pytest.mark.parametrize("text", [PROVEN, UNPROVEN], ids=["native", "python"])
def test_every_engine_agrees_with_the_interpreter(engine, text):
    rng = random.Random(2305)
    reference = bpfjit.compile(asm_program(text), "interp")
    fn = bpfjit.compile(asm_program(text), engine)
    for _ in range(200):
        old = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 2, 3, 4, 7, 20, 63])))
        new = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 3, 4, 5, 40, 63])))
        seed = rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, rng.getrandbits(32)])
        data = packet(old, new, seed)
        assert fn(bpfjit.XdpContext(data)) == reference(bpfjit.XdpContext(data)), \
            (old.hex(), new.hex(), hex(seed))
