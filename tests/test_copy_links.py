"""A NULL test of a map value or NULL refines its copies.  A value that no lookup links
to its copies any more (a join of two lookups, a callee's return) is linked again when
it is copied: the copy and its source get a link of their own, which a later copy from
the same register takes back from the values it tied before (katran's balancer spills
such a value, tests the register and reads the spill)."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bpfjit
from bpfjit.verifier import verify

ELF = Path(__file__).parent / "elf"

# r6 = one of two lookups in counter.o's first map (their join is linked to nothing);
# it is spilled to [r10-16] (or copied to r8), r6 is tested, and the copy is used
JOINED = """
    ldxw %r7, [%r1+16]
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(0)
    jeq %r7, 0, +3
    call 1
    mov %r6, %r0
    ja +2
    call 1
    mov %r6, %r0
"""
SPILLED = JOINED + """
    stxdw [%r10-16], %r6
    mov %r0, 2
    jeq %r6, 0, +2
    ldxdw %r1, [%r10-16]
    ldxdw %r2, [%r1+0]
    exit
"""
COPIED = JOINED + """
    mov %r8, %r6
    mov %r0, 2
    jeq %r6, 0, +1
    ldxdw %r2, [%r8+0]
    exit
"""
# the same spill, then r6 is another join of two lookups, spilled to [r10-24] and
# tested: that says nothing of [r10-16], whose load must stay unproven
STALE = JOINED + """
    stxdw [%r10-16], %r6
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(0)
    jeq %r7, 1, +3
    call 1
    mov %r6, %r0
    ja +2
    call 1
    mov %r6, %r0
    stxdw [%r10-24], %r6
    mov %r0, 2
    jeq %r6, 0, +2
    ldxdw %r1, [%r10-16]
    ldxdw %r2, [%r1+0]
    exit
"""


def _program(text: str) -> bpfjit.Program:
    maps = bpfjit.load_elf(ELF / "counter.o", section="xdp")
    return bpfjit.Program(bpfjit.assemble(text).insns, env=maps.env, context="xdp",
                          prog_type="xdp")


@pytest.mark.parametrize("text", [SPILLED, COPIED], ids=["spilled", "copied"])
def test_a_copy_of_a_joined_lookup_is_refined_by_the_test(text):
    verified = verify(_program(text), mode="strict", helpers={1}, cache=False)
    last_load = max(verified.accesses)
    assert last_load in verified.proven


def test_a_later_copy_does_not_link_an_older_value():
    # a dereference of a map value or NULL: strict mode refuses it (the kernel's rule),
    # checked mode checks it at run time
    with pytest.raises(bpfjit.VerifierError) as info:
        verify(_program(STALE), mode="strict", helpers={1}, cache=False)
    assert info.value.pc == 27 and "map value or NULL" in str(info.value)
    verified = verify(_program(STALE), mode="checked", helpers={1}, cache=False)
    assert 27 in verified.accesses and 27 not in verified.proven


@pytest.mark.parametrize("text", [SPILLED, COPIED], ids=["spilled", "copied"])
def test_the_programs_run_alike_on_every_engine(engine, text):
    # queue 0 takes the first lookup, queue 3 the second: counter.o's first map has a
    # slot 0, so either finds it, and the program passes the packet
    for queue in (0, 3):
        prog = _program(text)
        ctx = bpfjit.XdpContext(bytes(64), rx_queue_index=queue)
        assert bpfjit.compile(prog, engine)(ctx) == 2


@st.composite
def lookup_copy_programs(draw):
    """A loop of one to three trips; on each, a bit of the receive queue's number picks
    a path: one looks up a key (0: found; 300: past the 256 entries, NULL; or either by
    another bit) into r6, the other does a second lookup, sets NULL or leaves r6 as it
    was.  r6 is copied into r8 or a stack slot on some paths or trips (before or after
    the paths join), r6 may be looked up again (or joined from two more lookups) after
    its copies and copied again, and one of r6, r8 and
    the slot (filled into r4) is tested against NULL and one loaded through: the
    verifier may prove the load only where a copy equal to the tested value on every
    path is the one loaded."""
    regs = ["%r6", "%r8", "%r4"]
    key = draw(st.sampled_from(["0", "300", "var"]))
    lookup = ["mov %r3, %r7", "rsh %r3, %r9", "and %r3, 2", "mul %r3, 150",
              "stxw [%r10-4], %r3"] if key == "var" else [f"stw [%r10-4], {key}"]
    lookup += ["mov %r2, %r10", "add %r2, -4", "lddw %r1, map_by_fd(0)", "call 1"]
    lines = ["ldxw %r7, [%r1+16]", "mov %r6, 0", "mov %r8, 0", "stdw [%r10-16], 0",
             f"mov %r9, {draw(st.integers(1, 3))}", "loop:",
             "mov %r3, %r7", "rsh %r3, %r9", "jset %r3, 1, other", *lookup, "mov %r6, %r0"]
    where = draw(st.sampled_from(["here", "joined", "first trip", "never"]))
    spill = draw(st.sampled_from(["here", "joined", "never"]))
    if where == "here":
        lines.append("mov %r8, %r6")
    if spill == "here":
        lines.append("stxdw [%r10-16], %r6")
    lines += ["ja joined", "other:"]
    other = draw(st.sampled_from(["lookup", "lookup", "null", "keep"]))
    if other == "lookup":
        lines += [*lookup, "mov %r6, %r0"]
    elif other == "null":
        lines.append("mov %r6, 0")
    lines.append("joined:")
    if where == "joined":
        lines.append("mov %r8, %r6")
    elif where == "first trip":
        lines += ["jlt %r9, 3, +1", "mov %r8, %r6"]
    if spill == "joined":
        lines.append("stxdw [%r10-16], %r6")
    again = draw(st.sampled_from(["no", "lookup", "joined"]))
    if again == "lookup":                   # r6 another value after its copies
        lines += [*lookup, "mov %r6, %r0"]
    elif again == "joined":                 # ... a join of two more lookups
        lines += ["mov %r3, %r7", "rsh %r3, 3", "jset %r3, 1, again", *lookup,
                  "mov %r6, %r0", "ja rejoined", "again:", *lookup, "mov %r6, %r0",
                  "rejoined:"]
    if again != "no":                       # ... copied again
        lines.append(draw(st.sampled_from(["mov %r8, %r6", "stxdw [%r10-16], %r6", ""])))
    lines.append("ldxdw %r4, [%r10-16]")
    tested, used = draw(st.sampled_from(regs)), draw(st.sampled_from(regs))
    lines += [f"jeq {tested}, 0, skip", f"ldxdw %r0, [{used}+0]", "skip:",
              "sub %r9, 1", "jne %r9, 0, loop", "mov %r0, 2", "exit"]
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(lookup_copy_programs())
def test_what_the_verifier_proves_never_loads_through_null(text):
    prog = _program(text)
    try:
        verified = verify(prog, helpers={1}, cache=False)
    except bpfjit.VerifierError:
        return
    fn = bpfjit.compile(prog, "interp")
    for queue in range(16):         # every combination of the bits the paths read
        try:
            assert fn(bpfjit.XdpContext(bytes(64), rx_queue_index=queue)) == 2, queue
        except bpfjit.MemoryAccessError as exc:
            # checked mode checks at run time a load through what may be a number (a
            # copy left NULL); one it proved must not fail
            assert exc.pc not in verified.proven, (queue, exc)
