"""CO-RE relocations resolved against bpfjit's contexts (bpfjit.corerelo).

tests/elf/core_context.c declares `struct xdp_md` with 64-bit `data` and `data_end`,
the receive queue before the interface and a field the kernel lacks, and `struct
__sk_buff` as `cb[5]`, `mark`, `len` -- every access a CO-RE relocation, which libbpf
resolves against the kernel's BTF (userspace-xdp's benchmark programs are written so:
bpfjit refused their 8-byte context loads).  Expected instructions and results come
from the UAPI layouts (linux/bpf.h): xdp_md's data, data_end, data_meta,
ingress_ifindex, rx_queue_index are u32 at 0, 4, 8, 12, 16; __sk_buff's len at 0, mark
at 8, cb[0..4] at 48..64.  The running kernel, given the object through libbpf, loads
both programs (checked by hand when this test was written; the kernel engine runs the
relocated programs below)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.asm import disassemble
from bpfjit.elf import ElfObject
from context_oracle import kernel_loads_program

ELF = Path(__file__).parent / "elf"


def load(function: str) -> bpfjit.Program:
    return bpfjit.load_elf(ELF / "core_context.o", function=function)


def test_the_context_loads_are_rewritten_to_the_real_fields():
    text = disassemble(load("wide_xdp"))
    assert "ldxw %r4, [%r1+4]" in text          # data_end: u32 at 4, not u64 at 8
    assert "ldxw %r3, [%r1]" in text            # data: u32 at 0
    assert "ldxw %r1, [%r1+12]" in text         # ingress_ifindex: 12, not 20
    assert "ldxw %r3, [%r1+16]" in text         # rx_queue_index: 16 in both
    assert "mov %r5, 0" in text                 # bpf_core_field_exists(not_in_kernel)
    skb = disassemble(load("few_skb"))
    assert "stxw [%r1+64], %r2" in skb          # cb[4]
    assert "ldxw %r2, [%r1+8]" in skb           # mark: 8, not 20
    assert "ldxw %r0, [%r1+56]" in skb          # cb[2]: 56, not 8
    assert "ldxw %r1, [%r1]" in skb             # len: 0, not 24


@pytest.mark.parametrize("function", ["wide_xdp", "few_skb"])
def test_strict_mode_accepts_and_the_kernel_loads_them(function):
    prog = load(function)
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp" if function == "wide_xdp" else "sched_cls") \
        in (True, None)


@pytest.mark.parametrize("packet, queue, ifindex, result", [
    (bytes([0x12, 0x34]) + bytes(20), 5, 3, 0x12 + (0x34 << 8) + (5 << 16) + (3 << 24)),
    (bytes([0xFF, 0x01]) + bytes(12), 0, 1, 0xFF + (1 << 8) + (1 << 24)),
    (bytes([7]), 2, 2, 1),                      # shorter than 2 bytes
])
def test_the_xdp_program_reads_the_fields_it_names(engine, packet, queue, ifindex, result):
    run = bpfjit.compile(load("wide_xdp"), engine)
    ctx = bpfjit.XdpContext(packet, ingress_ifindex=ifindex, rx_queue_index=queue)
    assert run(ctx) == result


def test_the_tc_program_reads_and_writes_the_fields_it_names(engine):
    run = bpfjit.compile(load("few_skb"), engine)
    ctx = bpfjit.SkbContext(bytes(60), mark=0x50, cb=(1, 2, 300, 4, 5))
    assert run(ctx) == 0x50 + 300 + 1000 * 60
    assert ctx.cb[4] == 7


def _core_section_length(raw: bytes) -> int:
    """Where .BTF.ext's core_relo_len is, in the file."""
    ext = ElfObject(raw).elf.get_section_by_name(".BTF.ext")
    return ext["sh_offset"] + 28


def test_a_truncated_relocation_section_is_an_elf_error():
    raw = bytearray((ELF / "core_context.o").read_bytes())
    at = _core_section_length(bytes(raw))
    raw[at:at + 4] = struct.pack("<I", 1 << 20)
    with pytest.raises(bpfjit.ElfError, match="core_relo runs past"):
        bpfjit.load_elf(bytes(raw), function="wide_xdp")


def test_corrupt_relocation_records_are_elf_errors():
    # every field of every record overwritten with a value from a fixed draw: an
    # ElfError (or the verifier's refusal of what it makes) each time, never another
    # exception
    import random
    raw = (ELF / "core_context.o").read_bytes()
    ext = ElfObject(raw).elf.get_section_by_name(".BTF.ext")
    data = ext.data()
    hdr_len = struct.unpack_from("<I", data, 4)[0]
    off, length = struct.unpack_from("<II", data, 24)
    first, end = ext["sh_offset"] + hdr_len + off, ext["sh_offset"] + hdr_len + off + length
    draw = random.Random(2305)
    for _ in range(300):
        mutated = bytearray(raw)
        at = draw.randrange(first, end - 3) & ~3
        mutated[at:at + 4] = struct.pack("<I", draw.choice(
            [0, 1, 2, 3, 5, 12, 13, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, draw.getrandbits(32)]))
        for function in ("wide_xdp", "few_skb"):
            try:
                prog = bpfjit.load_elf(bytes(mutated), function=function)
                bpfjit.verify(prog, cache=False)
            except bpfjit.BpfError:
                pass
