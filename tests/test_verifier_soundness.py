"""What the verifier proves must be true: an access it proves in bounds never traps,
and code it calls unreachable never runs.

The JIT engines skip the run-time check of a proven access, so a wrong proof is a
read or write of the host's memory; and everything the verifier concludes after a
point it wrongly thinks unreachable is unfounded.  The interpreter checks every access
whatever the verifier says, which makes it the oracle: for each program and input
here, every pc the interpreter executes must be reachable for the verifier, and if it
stops with an out-of-bounds access at pc P, P must not be among the proven accesses.
(The programs are hostile on purpose; the JITs are not run on them here, since an
unsound proof would crash the test process.)
"""

import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.interpreter import Interpreter
from bpfjit.kernel import HELPER_NAMES


def assert_proofs_hold(prog, inputs: list[bytes], helpers: dict | None = None) -> None:
    """The verifier's conclusions about `prog` (a Program or assembly text) hold on
    every input, as the interpreter runs them (with `helpers`, and a loaded program's
    kernel helpers)."""
    if isinstance(prog, str):
        prog = bpfjit.assemble(prog)
    ids = set(helpers or {}) | (set(HELPER_NAMES) if prog.env is not None else set())
    verified = bpfjit.verify(prog, helpers=ids)
    # a small budget: a generated loop may never end, and every pc it runs is recorded
    interp = Interpreter(prog, helpers=helpers, frames=verified.frames, budget=200_000)
    for data in inputs:
        pcs, outcome = interp.trace(bytearray(data))
        wrong = set(pcs) & set(verified.unreachable)
        assert not wrong, f"input {data.hex()} runs pcs {sorted(wrong)}, called unreachable"
        if isinstance(outcome, bpfjit.MemoryAccessError):
            assert outcome.pc not in verified.proven, \
                f"pc {outcome.pc} was proven in bounds, but input {data.hex()} reaches it " \
                f"out of bounds"


# regression: a store through a pointer the verifier had lost track of (the join of a
# stack pointer and a buffer pointer) overwrote a spilled buffer pointer, and the
# reloaded value was still trusted as the buffer pointer; peachpy read address 4096
SPILL_OVERWRITTEN_THROUGH_AN_UNKNOWN_POINTER = """
    mov %r0, 0
    jeq %r2, 0, out
    mov %r3, %r10
    add %r3, -8
    ldxb %r5, [%r1]
    jeq %r5, 0, keep
    mov %r3, %r1             # r3: the stack or the buffer
keep:
    stxdw [%r10-8], %r1      # spill the buffer pointer
    stdw [%r3], 4096         # overwrites the spill when r3 points at the stack
    ldxdw %r4, [%r10-8]
    ldxb %r0, [%r4]
out:
    exit
"""

# the same through a callee: it gets a pointer to its caller's frame and writes below
# the offset it was given, where the caller spilled a buffer pointer
CALLEE_WRITES_BELOW_THE_POINTER_IT_WAS_GIVEN = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-16], %r1     # spill the buffer pointer
    stdw [%r10-8], 0
    mov %r1, %r10
    add %r1, -8
    call local clobber
    ldxdw %r4, [%r10-16]
    ldxb %r0, [%r4]
out:
    exit
clobber:
    stdw [%r1-8], 4096       # the caller's r10-16
    mov %r0, 0
    exit
"""

# regression: an unproven store is checked at run time against every live frame, not
# only the one its pointer is in.  A callee storing above its own frame's top (r10+0)
# wrote its caller's r10-512, where the caller had spilled a buffer pointer, and the
# caller still trusted the spill: llvm and peachpy read address 4096
CALLEE_WRITES_ABOVE_ITS_FRAME = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-512], %r1    # spill the buffer pointer
    call local clobber
    ldxdw %r4, [%r10-512]
    ldxb %r0, [%r4]
out:
    exit
clobber:
    stdw [%r10+0], 4096      # the caller's r10-512
    mov %r0, 0
    exit
"""

# the same downwards: a store below the bottom of the caller's frame it points into
# lands in the callee's own frame
CALLEE_WRITES_BELOW_ITS_CALLERS_FRAME = """
    mov %r0, 0
    jeq %r2, 0, out
    stdw [%r10-512], 0
    mov %r3, %r1
    mov %r1, %r10
    add %r1, -512
    call local clobber
out:
    exit
clobber:
    stxdw [%r10-8], %r3      # spill the buffer pointer in the own frame
    stdw [%r1-8], 4096       # the caller's r10-520: this frame's r10-8
    ldxdw %r4, [%r10-8]
    ldxb %r0, [%r4]
    exit
"""

# and upwards through a caller's pointer: two levels down, a store past the top of the
# middle frame lands in the outermost one
CALLEE_WRITES_PAST_ITS_CALLERS_FRAME = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-504], %r1    # spill the buffer pointer
    call local middle
    ldxdw %r4, [%r10-504]
    ldxb %r0, [%r4]
out:
    exit
middle:
    stdw [%r10-8], 0
    mov %r1, %r10
    add %r1, -8
    call local inner
    mov %r0, 0
    exit
inner:
    stdw [%r1+16], 4096      # middle's r10+8: the outermost frame's r10-504
    mov %r0, 0
    exit
"""

# a callee knows the spills of the frames a pointer it was given reaches; each of these
# changes one behind its back, or gives it two different ones
DEEPER_CALLEE_OVERWRITES_A_PASSED_SLOT = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-8], %r1      # the buffer pointer, in the slot passed down
    mov %r1, %r10
    add %r1, -8
    call local middle
out:
    exit
middle:
    mov %r6, %r1
    call local inner         # overwrites the slot
    ldxdw %r4, [%r6]
    ldxb %r0, [%r4]
    exit
inner:
    stdw [%r1], 4096
    mov %r0, 0
    exit
"""

CALLEE_STORES_A_NUMBER_IN_ITS_CALLERS_SLOT = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-8], %r1
    mov %r1, %r10
    add %r1, -8
    call local put
    ldxdw %r4, [%r10-8]      # what put left there
    ldxb %r0, [%r4]
out:
    exit
put:
    stdw [%r1], 4096
    mov %r0, 0
    exit
"""

TWO_CALL_SITES_PASS_DIFFERENT_SLOTS = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-8], %r1      # first call: the buffer pointer
    mov %r1, %r10
    add %r1, -8
    call local read
    stdw [%r10-8], 4096      # second call: a number
    mov %r1, %r10
    add %r1, -8
    call local read
out:
    exit
read:
    ldxdw %r4, [%r1]
    ldxb %r0, [%r4]
    exit
"""

CALLEE_WRITES_THROUGH_AN_ALIAS = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-8], %r1
    mov %r1, %r10
    add %r1, -8
    mov %r2, %r10
    add %r2, -8              # the same slot
    call local f
out:
    exit
f:
    stw [%r2], 4096          # two halves: no spill of its own
    stw [%r2+4], 0
    ldxdw %r4, [%r1]
    ldxb %r0, [%r4]
    exit
"""

RECURSION_OVERWRITES_A_PASSED_SLOT = """
    mov %r0, 0
    jeq %r2, 0, out
    stxdw [%r10-8], %r1
    mov %r1, %r10
    add %r1, -8
    mov %r2, 2
    call local f
out:
    exit
f:                           # f(p, n): the deepest level stores a number at p
    jeq %r2, 0, bottom
    mov %r6, %r1
    sub %r2, 1
    call local f
    ldxdw %r4, [%r6]
    ldxb %r0, [%r4]
    exit
bottom:
    stdw [%r1], 4096
    mov %r0, 0
    exit
"""

CALLER_SLOTS = [DEEPER_CALLEE_OVERWRITES_A_PASSED_SLOT,
                CALLEE_STORES_A_NUMBER_IN_ITS_CALLERS_SLOT,
                TWO_CALL_SITES_PASS_DIFFERENT_SLOTS, CALLEE_WRITES_THROUGH_AN_ALIAS,
                RECURSION_OVERWRITES_A_PASSED_SLOT]


@pytest.mark.parametrize("text", CALLER_SLOTS,
                         ids=["deeper-callee", "callee-stores", "two-call-sites", "alias",
                              "recursion"])
def test_a_callers_slot_changed_behind_a_callees_back_is_not_trusted(text):
    assert_proofs_hold(text, [bytes([0, 1, 2]), bytes([1, 1, 2])])


@pytest.mark.parametrize("text", [SPILL_OVERWRITTEN_THROUGH_AN_UNKNOWN_POINTER,
                                  CALLEE_WRITES_BELOW_THE_POINTER_IT_WAS_GIVEN,
                                  CALLEE_WRITES_ABOVE_ITS_FRAME,
                                  CALLEE_WRITES_BELOW_ITS_CALLERS_FRAME,
                                  CALLEE_WRITES_PAST_ITS_CALLERS_FRAME],
                         ids=["unknown-pointer", "callee-below-its-pointer",
                              "callee-above-its-frame", "callee-below-its-callers-frame",
                              "callee-past-its-callers-frame"])
def test_an_overwritten_spill_is_not_trusted(text):
    assert_proofs_hold(text, [bytes([0, 1, 2]), bytes([1, 1, 2])])


# regression: a zero-extension (`lsh 32; rsh 32`) of len - 2^32, whose upper half is
# 0xffffffff on its whole range, moved the zone's relations by -(0xffffffff << 32), the
# unsigned view, instead of +2^32, the signed one the zone counts in: r3 == len was
# held to be len - 2^64, and `jne %r3, %r2` always taken, so pcs 8 and 9 unreachable
EXTENSION_OF_A_NEGATIVE_VALUE = """
    mov %r0, 0
    mov %r3, %r2
    lddw %r4, 0xffffffff00000000
    add %r3, %r4            # len - 2^32
    lsh %r3, 32
    rsh %r3, 32             # len again
    jne %r3, %r2, out
    mov %r0, 1
out:
    exit
"""


def test_a_zero_extension_of_a_negative_value_moves_its_relations_by_the_signed_difference(
        engine):
    assert_proofs_hold(EXTENSION_OF_A_NEGATIVE_VALUE, [bytes(0), bytes(8), bytes(300)])
    prog = bpfjit.assemble(EXTENSION_OF_A_NEGATIVE_VALUE)
    # r3 == len after the extension, so the jump falls through: r0 = 1
    assert bpfjit.compile(prog, engine)(bytearray(8)) == 1


# regression: when a recursive function's summary grew, the blocks whose state had not
# changed were not analysed again, so what followed a recursive call kept the first,
# too small summary (f "returns 1"), and a store indexed by the result was proven
RECURSIVE_RESULT_USED_AS_AN_INDEX = """
    mov %r1, 3
    call local f            # 2**3 = 8
    lsh %r0, 8              # 2048 (the verifier once believed 256)
    mov %r2, %r10
    add %r2, -300
    add %r2, %r0
    stb [%r2], 0            # r10 + 1748: above the frame
    mov %r0, 0
    exit
f:
    mov %r0, 1
    jeq %r1, 0, done
    sub %r1, 1
    call local f
    jeq %r0, 0, done        # never: f returns at least 1
    lsh %r0, 1
done:
    exit
"""


def test_a_recursive_result_is_what_every_level_can_return():
    assert_proofs_hold(RECURSIVE_RESULT_USED_AS_AN_INDEX, [b""])


# regression: a map lookup in a loop gave its result the same link (the lookup's pc) on
# every trip, so the NULL test of the second trip's result also "checked" a copy kept
# from the first trip, which was NULL: the load through it was proven, and both JITs
# read address 0 (the process died of SIGSEGV)
STALE_LOOKUP = """
    stw [%r10-4], 3                 # key
    stdw [%r10-16], 77              # value to insert
    mov %r8, 0                      # old = NULL
    mov %r9, 2                      # two trips
loop:
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1                          # v = lookup(&key): NULL on the first trip
    jne %r9, 2, second
    mov %r8, %r0                    # first trip: old = v
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2                          # insert: the second trip's lookup finds it
    ja next
second:
    jeq %r0, 0, next                # v is checked; old never is
    ldxdw %r0, [%r8]                # *old
    exit
next:
    sub %r9, 1
    jne %r9, 0, loop
    mov %r0, 0
    exit
"""


def _stale_lookup_program():
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import HashMap, MapSpec, MapTable
    base = bpfjit.assemble(STALE_LOOKUP)
    table = MapTable([HashMap(MapSpec("h", 1, 4, 8, 4))])
    return bpfjit.Program(base.insns, env=KernelEnv(table))


def test_a_null_test_does_not_check_a_copy_of_an_earlier_trips_lookup():
    # old was never compared with 0: strict mode refuses the load, as the kernel does;
    # checked mode leaves it unproven (checked at run time, where NULL stops it)
    prog = _stale_lookup_program()
    load = next(pc for pc, insn in prog if insn.spec.mnemonic == "ldxdw" and insn.src == 8)
    with pytest.raises(bpfjit.VerifierError, match="compare it with 0") as info:
        bpfjit.verify(prog, mode="strict", cache=False)
    assert info.value.pc == load
    verified = bpfjit.verify(prog, cache=False)
    assert load in verified.accesses and load not in verified.proven


def test_every_engine_stops_at_a_copy_of_an_earlier_trips_lookup(engine):
    # in a child process: before the fix of 2026-12-01, the JITs' load of address 0
    # killed it; the second trip loads through the first trip's NULL
    if engine == "kernel":
        pytest.skip("the kernel refuses the load (old is never compared with 0)")
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "import bpfjit, test_verifier_soundness as t\n"
            "try:\n"
            f"    bpfjit.compile(t._stale_lookup_program(), {engine!r}, cache=False)()\n"
            "except bpfjit.MemoryAccessError as e:\n    print('stopped', e.pc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    load = next(pc for pc, insn in _stale_lookup_program()
                if insn.spec.mnemonic == "ldxdw" and insn.src == 8)
    assert result.stdout.split() == ["stopped", str(load)]


# regression: a lookup's result joined with an unrelated NULL kept its link: on the path
# where the copy was never made (r8 still NULL from the first trip) the join still
# called r8 a copy of this trip's result, so the test of the result "checked" r8 too;
# found by a longer run of the property test of lookups in loops
STALE_JOIN = """
    stw [%r10-4], 0
    stdw [%r10-16], 7
    mov %r8, 0
    mov %r9, 2
loop:
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jne %r9, 2, +1
    mov %r8, %r0                    # a copy on the first trip only
    mov %r6, %r0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    call 2                          # insert: the second trip's lookup finds it
    mov %r0, %r6
    jeq %r0, 0, skip
    ldxw %r7, [%r8+0]               # the second trip: r8 is the first trip's NULL
    mov %r0, %r7
    exit
skip:
    sub %r9, 1
    jne %r9, 0, loop
    mov %r0, 0
    exit
"""


def test_a_result_joined_with_an_unrelated_null_is_no_longer_its_copy():
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import HashMap, MapSpec, MapTable
    base = bpfjit.assemble(STALE_JOIN)
    prog = bpfjit.Program(base.insns, env=KernelEnv(MapTable([HashMap(
        MapSpec("h", 1, 4, 8, 4))])))
    load = next(pc for pc, insn in prog if insn.spec.mnemonic == "ldxw" and insn.src == 8)
    with pytest.raises(bpfjit.VerifierError, match="compare it with 0") as info:
        bpfjit.verify(prog, mode="strict", cache=False)
    assert info.value.pc == load
    verified = bpfjit.verify(prog, cache=False)         # checked: at run time
    assert load in verified.accesses and load not in verified.proven
    with pytest.raises(bpfjit.MemoryAccessError) as stopped:
        bpfjit.compile(prog, "interp")()
    assert stopped.value.pc == load


# A host crash found this session (2026-12-02): r7 is set on one path only and tested
# where the paths meet.  That test is run once per incoming path (`_threads`: r7 is a
# constant on one); on the other it reads r7 uninitialised and is refused, which during
# the fixpoint only ends that path.  The final pass then replayed the block's journal
# (kept since the fixpoint) instead of running it and raising, so the program was
# accepted, and the load after it was proven from the surviving path alone (r4 on the
# stack): on the dropped path r4 is a lookup's result, NULL for key 300, and both JITs
# loaded from address 0 without a check -- a segfault of the host process.
DROPPED_PATH = """
    ldxw %r6, [%r1+16]
    stw [%r10-4], 300
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(1)
    call 1
    stdw [%r10-16], 0
    jne %r6, 0, other
    mov %r7, 0
    mov %r4, %r10
    add %r4, -16
    ja join
other:
    mov %r4, %r0
join:
    jeq %r7, 0, load
load:
    ldxw %r0, [%r4+0]
    exit
"""


@pytest.mark.parametrize("mode", ["checked", "strict", "unchecked"])
def test_a_path_dropped_during_the_fixpoint_is_refused_at_the_end(mode):
    env = bpfjit.load_elf(Path(__file__).parent / "elf" / "counter.o", section="xdp").env
    prog = bpfjit.Program(bpfjit.assemble(DROPPED_PATH).insns, env=env, context="xdp",
                          prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError, match="pc 14: r7 is read before anything "
                                                   "was written"):
        bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)


# Found 2026-12-03 (sixth session): a block that calls a helper whose map differs per
# incoming path runs once per path (bpfjit.verifier.perpath).  A load before the call
# was proven on the path that had checked the packet's length and not on the other,
# and the last path run decided: with the checked path last, the load was "proven",
# both JITs dropped its check, and an empty packet was read past its end (llvm and
# peachpy returned 0 where the interpreter stops at the load).  The two layouts run
# the paths in the two orders.  r6 = data; map 0 where data + 1 <= data_end, else map 1.
def per_path_load(jump: str, taken: str, fall: str) -> str:
    return f"""
    ldxw %r6, [%r1+0]
    ldxw %r7, [%r1+4]
    mov %r8, %r6
    add %r8, 1
    mov %r2, %r10
    add %r2, -8
    stw [%r10-8], 0
    lddw %r1, map_by_fd({taken})
    {jump} %r8, %r7, join
    lddw %r1, map_by_fd({fall})
join:
    ldxb %r9, [%r6+0]
    call 1
    mov %r0, %r9
    exit
"""


PER_PATH_LOADS = [per_path_load("jgt", 0, 1), per_path_load("jle", 1, 0)]
PER_PATH_LOAD_PC = 12


def per_path_program(text: str) -> bpfjit.Program:
    from bpfjit.kernel import KernelEnv
    from bpfjit.maps import MapSpec, MapTable, make_map
    maps = [make_map(MapSpec(name, 2, 4, 4, 1)) for name in ("a", "b")]
    return bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable(maps)),
                          context="xdp", prog_type="xdp")


@pytest.mark.parametrize("text", PER_PATH_LOADS, ids=["unchecked-path-jumps",
                                                      "unchecked-path-falls-through"])
def test_an_access_run_per_path_is_proven_only_if_every_path_proves_it(text):
    prog = per_path_program(text)
    verified = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
    assert prog.at(PER_PATH_LOAD_PC).spec.mnemonic == "ldxb"
    assert PER_PATH_LOAD_PC in verified.accesses
    assert PER_PATH_LOAD_PC not in verified.proven      # an empty packet reaches it


@pytest.mark.parametrize("text", PER_PATH_LOADS, ids=["unchecked-path-jumps",
                                                      "unchecked-path-falls-through"])
def test_every_engine_stops_at_a_load_one_path_did_not_check(engine, text):
    if engine == "kernel":
        pytest.skip("the kernel refuses the unchecked load (that is the point)")
    program = bpfjit.compile(per_path_program(text), engine)
    with pytest.raises(bpfjit.MemoryAccessError) as info:
        program(bpfjit.XdpContext(b""))
    assert info.value.pc == PER_PATH_LOAD_PC
    assert program(bpfjit.XdpContext(b"\x07")) == 7


# The same block with r6 the context on one path and the packet (4 bytes checked) on
# the other: the load at `join` would be a context field (`data`, rewritten into the
# kernel's own layout) on one path and a packet read on the other.  One instruction
# cannot be both; it is refused, as the kernel refuses it.
CONTEXT_OR_PACKET = """
    ldxw %r7, [%r1+0]
    ldxw %r8, [%r1+4]
    mov %r6, %r1
    mov %r9, %r7
    add %r9, 4
    mov %r2, %r10
    add %r2, -8
    stw [%r10-8], 0
    lddw %r1, map_by_fd(0)
    jgt %r9, %r8, join
    mov %r6, %r7
    lddw %r1, map_by_fd(1)
join:
    ldxw %r9, [%r6+0]
    call 1
    mov %r0, 0
    exit
"""


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_one_load_of_a_context_field_and_of_the_packet_is_refused(mode):
    from context_oracle import kernel_loads_program
    prog = per_path_program(CONTEXT_OR_PACKET)
    with pytest.raises(bpfjit.VerifierError, match="pc 14: the same instruction accesses "
                                                   "a context or socket field on one path"):
        bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)
    assert kernel_loads_program(prog, "xdp") in (False, None)
