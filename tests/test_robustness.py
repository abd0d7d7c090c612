"""Hostile input: whatever the bytes, the only outcomes are a result or a BpfError.

A bounded, derandomized slice runs in every test run; the differential fuzzer
(bpfjit fuzz) is where long campaigns belong.
"""

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.isa import OPCODES

from test_decode import valid_insns

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def outcome(raw: bytes, engine: str, mem: bytes):
    """decode -> compile -> run; returns r0 or the BpfError class name."""
    try:
        prog = bpfjit.Program.from_bytes(raw)
        return bpfjit.compile(prog, engine, budget=2000, helpers={1: lambda *a: 7})(
            bytearray(mem))
    except bpfjit.BpfError as exc:
        return type(exc).__name__


@SETTINGS
@given(st.binary(max_size=200), st.binary(max_size=32))
def test_random_bytes(engine, raw, mem):
    outcome(raw, engine, mem)


# Valid instructions with edge-case fields get much further than random bytes do:
# into the interpreter, to traps and to jumps anywhere.
EDGE_OFFSETS = [0, 1, -1, 2, -2, 8, -8, 0x7FFF, -0x8000]
EDGE_IMMS = [0, 1, -1, 2, 5, 16, 31, 32, 63, 64, 2**31 - 1, -2**31]


@st.composite
def plausible_slots(draw):
    spec = draw(st.sampled_from(OPCODES))
    field = {"dst": draw(st.integers(0, 10)), "src": draw(st.integers(0, 10)),
             "off": draw(st.sampled_from(EDGE_OFFSETS)), "imm": draw(st.sampled_from(EDGE_IMMS))}
    value = {name: (field[name] if name in spec.uses else 0) for name in field}
    for name in ("off", "imm", "src"):
        if getattr(spec, "fixed_" + name) is not None:
            value[name] = getattr(spec, "fixed_" + name)
    if spec.opcode == 0x18:
        value["src"] = 0
    slot = struct.pack("<BBhi", spec.opcode, value["dst"] | (value["src"] << 4),
                       value["off"], value["imm"])
    return slot + (bytes(8) if spec.opcode == 0x18 else b"")


@SETTINGS
@given(st.lists(plausible_slots(), min_size=1, max_size=30), st.binary(max_size=32))
def test_plausible_programs(engine, slots, mem):
    outcome(b"".join(slots) + struct.pack("<BBhi", 0x95, 0, 0, 0), engine, mem)


@SETTINGS
@given(st.lists(valid_insns(), min_size=1, max_size=30), st.binary(max_size=64))
def test_valid_instructions_with_random_targets(engine, insns, mem):
    raw = b"".join(i.encode() for i in insns) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    outcome(raw, engine, mem)
