"""The BPF stack of a program that calls no helper is LLVM's to keep in registers.

The llvm engine gives helpers the stack's bounds in the run structure (`stack_lo`,
`stack_hi`: bpfjit.runfields), which the trap report receives too; stored there, the
stack's address escaped and every spill (`*(u64 *)(r10 - 8) = r3`) stayed a store to
memory, inside loops too.  clang spills as soon as a loop has more live values than BPF
has registers (corpus/plain/lanes.c: 1.60x native with the stores, 1.24x without).  A
program with no helper call now leaves the bounds out; programs that pass stack
pointers to helpers keep them (tests/test_strtol.py, tests/test_probe_read.py)."""

import pytest

import bpfjit

# sum of 0..99 with both the counter and the sum spilled and reloaded on every trip
SPILLING_LOOP = """
    mov %r0, 0
    mov %r3, 0
loop:
    stxdw [%r10-8], %r3
    stxdw [%r10-16], %r0
    ldxdw %r4, [%r10-8]
    ldxdw %r0, [%r10-16]
    add %r0, %r4
    add %r3, 1
    jlt %r3, 100, loop
    exit
"""

CALLING = SPILLING_LOOP.replace("    exit", "    mov %r6, %r0\n    call 7\n    mov %r0, %r6\n    exit")


@pytest.mark.parametrize("text", [SPILLING_LOOP, CALLING], ids=["no-helper", "helper"])
def test_spilling_loop_sums(engine, text):
    fn = bpfjit.compile(bpfjit.assemble(text), engine, helpers={7: lambda *args: 0})
    assert fn(None) == sum(range(100))          # 4950


@pytest.mark.skipif("llvm" not in bpfjit.engines(), reason="llvm engine unavailable")
def test_stack_without_helpers_is_promoted_to_registers():
    fn = bpfjit.compile(bpfjit.assemble(SPILLING_LOOP), "llvm", keep_ir=True, cache=False)
    before, after = fn.extra["ir"], fn.extra["optimised_ir"]
    assert "alloca [4096 x i8]" in before
    assert "alloca [4096 x i8]" not in after          # no stack left at all


@pytest.mark.skipif("llvm" not in bpfjit.engines(), reason="llvm engine unavailable")
def test_stack_with_a_helper_call_stays_addressable():
    fn = bpfjit.compile(bpfjit.assemble(CALLING), "llvm", keep_ir=True, cache=False,
                        helpers={7: lambda *args: 0})
    assert "alloca [4096 x i8]" in fn.extra["optimised_ir"]
