"""The opcode table, decoding and encoding: exact round trips and clear errors."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.isa import OPCODES, Insn, Kind
from bpfjit.program import Program


def slot(opcode, dst=0, src=0, off=0, imm=0) -> bytes:
    """Encode one slot by hand, straight from the RFC's layout."""
    return struct.pack("<BBhi", opcode, (src << 4) | dst, off, imm)


# Every valid opcode byte of RFC 9669, listed by hand from its tables.
RFC_OPCODES = (
    # ALU64 and ALU, K and X forms: add sub mul div or and lsh rsh mod xor mov arsh
    {0x07, 0x0F, 0x17, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x47, 0x4F, 0x57, 0x5F, 0x67, 0x6F,
     0x77, 0x7F, 0x97, 0x9F, 0xA7, 0xAF, 0xB7, 0xBF, 0xC7, 0xCF, 0x87,
     0x04, 0x0C, 0x14, 0x1C, 0x24, 0x2C, 0x34, 0x3C, 0x44, 0x4C, 0x54, 0x5C, 0x64, 0x6C,
     0x74, 0x7C, 0x94, 0x9C, 0xA4, 0xAC, 0xB4, 0xBC, 0xC4, 0xCC, 0x84,
     0xD4, 0xDC, 0xD7}
    # JMP: ja, conditions K/X, call, callx, exit; JMP32: ja32, conditions K/X
    | {0x05, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D, 0x45, 0x4D, 0x55, 0x5D, 0x65, 0x6D,
       0x75, 0x7D, 0xA5, 0xAD, 0xB5, 0xBD, 0xC5, 0xCD, 0xD5, 0xDD, 0x85, 0x8D, 0x95,
       0x06, 0x16, 0x1E, 0x26, 0x2E, 0x36, 0x3E, 0x46, 0x4E, 0x56, 0x5E, 0x66, 0x6E,
       0x76, 0x7E, 0xA6, 0xAE, 0xB6, 0xBE, 0xC6, 0xCE, 0xD6, 0xDE}
    # lddw, ldx, ldsx, st, stx, atomics
    | {0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6A, 0x72, 0x7A,
       0x63, 0x6B, 0x73, 0x7B, 0xC3, 0xDB}
    # the legacy conformance group (section 5.5): LD | ABS and LD | IND of W, H, B
    | {0x20, 0x28, 0x30, 0x40, 0x48, 0x50}
)


def test_table_covers_exactly_the_rfc_opcodes():
    assert {spec.opcode for spec in OPCODES} == RFC_OPCODES


def test_table_row_count():
    # 2 widths x (14 ops x 2 sources + neg) + movsx (2 + 3) + 9 byte swaps
    alu = 2 * (14 * 2 + 1) + 5 + 9
    # 2 widths x 11 conditions x 2 sources + ja + ja32 + 3 calls + callx + exit
    jmp = 2 * 11 * 2 + 2 + 3 + 1 + 1
    mem = 1 + 4 + 3 + 4 + 4          # lddw, ldx, ldsx, st, stx
    atomics = 2 * (4 * 2 + 2)        # 2 widths x (4 ops with/without fetch + xchg + cmpxchg)
    legacy = 2 * 3                   # ldabs, ldind x 3 sizes
    assert len(OPCODES) == alu + jmp + mem + atomics + legacy


def test_cpu_versions():
    by_name = {s.mnemonic: s for s in OPCODES}
    assert by_name["add"].cpu == 1
    assert by_name["jlt"].cpu == 2
    assert by_name["jeq32"].cpu == 3
    assert by_name["lock add"].cpu == 3
    assert by_name["sdiv"].cpu == 4
    assert by_name["movsx832"].cpu == 4
    assert by_name["ldxsb"].cpu == 4
    assert by_name["bswap16"].cpu == 4
    assert by_name["ja32"].cpu == 4
    assert bpfjit.assemble("jlt %r0, 1, +0\nexit").min_cpu == 2


def sample_insn(spec, dst=1, src=2, off=-3, imm=-123456) -> Insn:
    """A valid instruction of the given table row, with every used field non-zero."""
    fields = {"dst": dst if "dst" in spec.uses else 0,
              "src": src if "src" in spec.uses else 0,
              "off": off if "off" in spec.uses else 0,
              "imm": imm if "imm" in spec.uses else 0}
    if spec.fixed_off is not None:
        fields["off"] = spec.fixed_off
    if spec.fixed_imm is not None:
        fields["imm"] = spec.fixed_imm
    if spec.fixed_src is not None:
        fields["src"] = spec.fixed_src
    if spec.kind is Kind.LDDW:
        fields["src"] = 0
        return Insn(spec, **fields, next_imm=0x12345678)
    return Insn(spec, **fields)


@pytest.mark.parametrize("spec", OPCODES, ids=[s.mnemonic + f"-{s.opcode:#04x}" for s in OPCODES])
def test_every_opcode_round_trips(spec):
    insn = sample_insn(spec)
    raw = insn.encode()
    assert raw[0] == spec.opcode
    assert Program.from_bytes(raw).insns == (insn,)
    assert Program.from_bytes(raw).to_bytes() == raw


def test_lddw_encoding_by_hand():
    raw = slot(0x18, dst=3, imm=0x55667788) + slot(0, imm=0x11223344)
    prog = Program.from_bytes(raw)
    assert prog.insns[0].imm64 == 0x1122334455667788
    assert prog.slot_count == 2 and len(prog) == 1
    assert prog.to_bytes() == raw


@st.composite
def valid_insns(draw):
    spec = draw(st.sampled_from(OPCODES))
    insn = sample_insn(spec, dst=draw(st.integers(0, 10)), src=draw(st.integers(0, 10)),
                       off=draw(st.integers(-2**15, 2**15 - 1)),
                       imm=draw(st.integers(-2**31, 2**31 - 1)))
    if spec.kind is Kind.LDDW:
        pseudo = draw(st.integers(0, 6))
        next_imm = draw(st.integers(-2**31, 2**31 - 1)) if pseudo in (0, 2, 6) else 0
        insn = Insn(spec, insn.dst, pseudo, 0, insn.imm, next_imm)
    return insn


@settings(max_examples=300, deadline=None)
@given(st.lists(valid_insns(), min_size=1, max_size=20))
def test_random_programs_round_trip(insns):
    raw = b"".join(i.encode() for i in insns)
    prog = Program.from_bytes(raw)
    assert prog.insns == tuple(insns)
    assert prog.to_bytes() == raw


@pytest.mark.parametrize("raw,offset,words", [
    (slot(0x95) + b"\x00", 8, "truncated"),
    (slot(0xFF), 0, "unknown opcode 0xff"),
    (slot(0x95) + slot(0x00), 8, "unknown opcode 0x00"),
    (slot(0x86), 0, "unknown opcode 0x86"),                 # call does not exist in JMP32
    (slot(0xB7, dst=11, imm=1), 0, "r11"),
    (slot(0xBF, dst=0, src=12), 0, "r12"),
    (slot(0xB7, src=1, imm=1), 0, "reserved src"),          # mov imm with src set
    (slot(0xBF, src=1, imm=5), 0, "reserved imm"),          # mov reg with imm set
    (slot(0x95, imm=1), 0, "reserved imm"),                 # exit with imm
    (slot(0x05, dst=1), 0, "reserved dst"),                 # ja with dst
    (slot(0x87, src=1), 0, "reserved src"),                 # neg with src
    (slot(0x3F, off=2), 0, "off field to be one of 0, 1"),  # div/sdiv selector
    (slot(0xBF, off=7), 0, "off field to be one of 0, 8, 16, 32"),
    (slot(0xBC, off=32), 0, "off field to be one of 0, 8, 16"),   # no movsx3232
    (slot(0xDB, imm=0x02), 0, "imm field"),                 # unknown atomic op
    (slot(0xD4, imm=8), 0, "imm field"),                    # le8 does not exist
    (slot(0x85, src=3), 0, "src field"),                    # call with src 3
    (slot(0x18, imm=1), 0, "second 8-byte slot"),           # lddw cut short
    (slot(0x18) + slot(0x95), 8, "second slot of lddw"),    # lddw's second slot not empty
    (slot(0x18, src=7) + slot(0), 0, "lddw type"),
    (slot(0x18, src=1, imm=3) + slot(0, imm=1), 8, "reserved"),
])
def test_decode_errors(raw, offset, words):
    with pytest.raises(bpfjit.DecodeError) as info:
        Program.from_bytes(raw)
    assert info.value.offset == offset
    assert words in str(info.value)


def test_decode_error_message_names_offset_and_instruction():
    with pytest.raises(bpfjit.DecodeError, match=r"byte offset 16 \(instruction 2\)"):
        Program.from_bytes(slot(0xB7) + slot(0xB7) + slot(0xFF))


def test_empty_bytes_decode_to_an_empty_program_that_cannot_run(engine):
    prog = Program.from_bytes(b"")
    assert len(prog) == 0
    with pytest.raises(bpfjit.VerifierError, match="empty"):
        bpfjit.compile(prog, engine)


def test_programs_compare_by_instructions():
    a = bpfjit.assemble("mov %r0, 1\nexit")
    b = Program.from_bytes(slot(0xB7, imm=1) + slot(0x95))
    assert a == b and hash(a) == hash(b)
    assert a != bpfjit.assemble("mov %r0, 2\nexit")
