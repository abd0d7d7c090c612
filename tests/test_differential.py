"""Every engine agrees with the interpreter: r0, memory afterwards, trap class and pc.

A bounded, derandomized slice over generated programs; long campaigns are the
fuzzer's job.
"""

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit

from bpfjit.isa import OPCODES, Kind

from test_robustness import EDGE_IMMS, EDGE_OFFSETS

JIT_ENGINES = [e for e in bpfjit.engines() if e != "interp"]
EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
# Give every data register and the top of the stack a value first, so that most
# generated programs pass the verifier's "written before read" rules.
PREFIX = bpfjit.assemble("\n".join(
    [f"mov %r{r}, {v}" for r, v in ((0, 0), (3, -1), (4, 1), (5, 0x7fffffff), (6, -0x80000000),
                                   (7, 64), (8, 31), (9, 2))]
    + ["stdw [%r10-8], 0", "stdw [%r10-16], -1"])).to_bytes()
# r1 holds a pointer at the first call: the helpers must not let its value escape
HELPERS = {1: lambda r1, r2, r3, r4, r5: (r2 * 3 + r3) ^ r5, 2: lambda *args: 2**64 - 1}
DATA_REGS = [0, 2, 3, 4, 5, 6, 7, 8, 9]
BASE_REGS = [1, 10]           # the memory buffer and the stack
MEMORY_KINDS = {Kind.LDX, Kind.LDSX, Kind.ST, Kind.STX, Kind.ATOMIC}


@st.composite
def pointer_blind_slots(draw):
    """Instructions whose outcome cannot depend on where memory and stack live.

    Engines place the buffer and the stack at different addresses, so r1 and
    r10 appear only as the base of a memory access, never as data.
    """
    spec = draw(st.sampled_from(OPCODES))
    memory = spec.kind in MEMORY_KINDS
    base = draw(st.sampled_from(BASE_REGS))
    dst = base if memory and spec.kind is not Kind.LDX and spec.kind is not Kind.LDSX \
        else draw(st.sampled_from(DATA_REGS))
    src = base if spec.kind in (Kind.LDX, Kind.LDSX) else draw(st.sampled_from(DATA_REGS))
    value = {"dst": dst, "src": src, "off": draw(st.sampled_from(EDGE_OFFSETS)),
             "imm": draw(st.sampled_from(EDGE_IMMS))}
    fields = {name: (value[name] if name in spec.uses else 0) for name in value}
    for name in ("off", "imm", "src"):
        if getattr(spec, "fixed_" + name) is not None:
            fields[name] = getattr(spec, "fixed_" + name)
    if spec.kind is Kind.LDDW:
        fields["src"] = 0
    slot = struct.pack("<BBhi", spec.opcode, fields["dst"] | (fields["src"] << 4),
                       fields["off"], fields["imm"])
    return slot + (struct.pack("<BBhi", 0, 0, 0, draw(st.sampled_from(EDGE_IMMS)))
                   if spec.kind is Kind.LDDW else b"")


def outcome(raw: bytes, engine: str, mem: bytes):
    """(r0 or exception class, trap pc, final memory) of one run."""
    buf = bytearray(mem)
    try:
        prog = bpfjit.Program.from_bytes(raw)
        fn = bpfjit.compile(prog, engine, budget=3000, helpers=HELPERS)
        return fn(buf), None, bytes(buf)
    except bpfjit.BpfTrap as exc:
        return type(exc).__name__, exc.pc, bytes(buf)
    except bpfjit.BpfError as exc:
        return type(exc).__name__, getattr(exc, "pc", None), bytes(buf)


@pytest.mark.skipif(not JIT_ENGINES, reason="no JIT engine available")
@pytest.mark.parametrize("jit", JIT_ENGINES)
@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pointer_blind_slots(), min_size=1, max_size=40), st.binary(max_size=48))
def test_engines_agree(jit, slots, mem):
    raw = PREFIX + b"".join(slots) + EXIT
    assert outcome(raw, jit, mem) == outcome(raw, "interp", mem)
