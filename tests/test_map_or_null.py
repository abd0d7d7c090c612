"""A map chosen on some paths and NULL on others (`map = tcp ? &tcp_map : udp ? &udp_map :
NULL; ... if (map) lookup(map, ...)`, as a public XDP forwarder writes it) is a map or
NULL: its NULL test gives the map back, on the register tested and on its copies, as
a lookup's result or NULL is.  The kernel follows each path apart and loads it."""

from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier import verify

ELF = Path(__file__).parent / "elf"

# r1 = proto_counts (the second map) when rx_queue_index is not 0, else NULL; spilled,
# a fill tested, another fill passed to map_lookup_elem.  Returns 1 without a map, else
# 3 when the lookup finds entry 7 (an array's entries always exist)
CHOSEN = """
    ldxw %r7, [%r1+16]
    mov %r1, 0
    jeq %r7, 0, +2
    lddw %r1, map_by_fd(1)
    stxdw [%r10-16], %r1
    mov %r0, 1
    ldxdw %r1, [%r10-16]
    jeq %r1, 0, +8
    stw [%r10-4], 7
    mov %r2, %r10
    add %r2, -4
    ldxdw %r1, [%r10-16]
    call 1
    mov %r0, 2
    jeq %r0, 0, +1
    mov %r0, 3
    exit
"""
# the same choice, used without its test: a lookup in NULL
UNTESTED = CHOSEN.replace("    jeq %r1, 0, +8\n", "    ja +0\n")


def _program(text: str) -> bpfjit.Program:
    maps = bpfjit.load_elf(ELF / "counter.o", section="xdp")
    return bpfjit.Program(bpfjit.assemble(text).insns, env=maps.env, context="xdp",
                          prog_type="xdp")


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_a_map_or_null_tested_is_a_map(mode):
    verified = verify(_program(CHOSEN), mode=mode, helpers={1}, cache=False)
    # at the lookup (pc 13: the lddw takes two slots), r1 is the second map, only
    assert verified.map_calls == {13: (1,)}


def test_a_map_or_null_not_tested_is_refused():
    with pytest.raises(bpfjit.VerifierError, match="map_lookup_elem"):
        verify(_program(UNTESTED), mode="checked", helpers={1}, cache=False)


@pytest.mark.parametrize("queue, expected", [(0, 1), (3, 3)])
def test_a_map_or_null_runs_alike_on_every_engine(engine, queue, expected):
    prog = _program(CHOSEN)
    ctx = bpfjit.XdpContext(bytes(64), rx_queue_index=queue)
    assert bpfjit.compile(prog, engine)(ctx) == expected


# A lookup's result kept in r9 and spilled to fp-16 on one path, 0 in both on the other
# (dae's tproxy: `sk = found ? value : NULL`, spilled across a call).  Where the paths
# meet, r9 and the slot are each a map value or NULL; they are non-NULL together on the
# first path and NULL together on the second, so a NULL test of a copy of r9 says the
# slot is not NULL either, as the kernel (following each path) knows.  Returns 1 without
# the lookup, else entry 7's value + 2.
JOINED_COPIES = """
    ldxw %r7, [%r1+16]
    mov %r9, 0
    stxdw [%r10-16], %r9
    jeq %r7, 0, join
    stw [%r10-4], 7
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(1)
    call 1
    jeq %r0, 0, join
    mov %r9, %r0
    {spill}
join:
    mov %r0, 1
    mov %r3, %r9
    jeq %r3, 0, out
    ldxdw %r9, [%r10-16]
    ldxdw %r0, [%r9+0]
    add %r0, 2
out:
    exit
"""


@pytest.mark.parametrize("queue, expected", [(0, 1), (3, 42)])
def test_copies_null_together_are_tested_together(engine, queue, expected):
    prog = _program(JOINED_COPIES.format(spill="stxdw [%r10-16], %r0"))
    prog.maps["proto_counts"][7] = 40
    ctx = bpfjit.XdpContext(bytes(20), rx_queue_index=queue)
    assert bpfjit.compile(prog, engine)(ctx) == expected


def test_copies_null_together_prove_in_strict_mode():
    verified = verify(_program(JOINED_COPIES.format(spill="stxdw [%r10-16], %r0")),
                      mode="strict", helpers={1}, cache=False)
    assert verified.proven == frozenset(verified.accesses)


# r9 the value and the slot 0 on one path, r9 0 and the slot the value on the other:
# never NULL together, so r9's test says nothing of the slot
NOT_TOGETHER = """
    ldxw %r7, [%r1+16]
    stw [%r10-4], 7
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(1)
    call 1
    jeq %r0, 0, out
    mov %r9, %r0
    mov %r8, 0
    stxdw [%r10-16], %r8
    jne %r7, 0, join
    mov %r9, 0
    stxdw [%r10-16], %r0
join:
    mov %r0, 1
    mov %r3, %r9
    jeq %r3, 0, out
    ldxdw %r9, [%r10-16]
    ldxdw %r0, [%r9+0]
out:
    exit
"""


def test_values_not_null_together_are_not_tested_together():
    # strict mode refuses the load, as the kernel does; checked mode checks it at run
    # time (a map value or NULL used untested: NULL lies in no region)
    prog = _program(NOT_TOGETHER)
    with pytest.raises(bpfjit.VerifierError, match="pc 18: r9 is a map value or NULL"):
        verify(prog, mode="strict", helpers={1}, cache=False)
    verified = verify(prog, mode="checked", helpers={1}, cache=False)
    assert 18 in verified.accesses and 18 not in verified.proven


@pytest.mark.parametrize("queue", [0, 3])
def test_the_null_slot_stops_every_engine_where_it_is_read(engine, queue):
    # queue 0: r9 is NULL, the test goes out with r0 = 1; else the slot is NULL and
    # its load stops the program at pc 18
    if engine == "kernel":
        pytest.skip("the kernel refuses the program (the load is untested)")
    prog = _program(NOT_TOGETHER)
    prog.maps["proto_counts"][7] = 40
    run = bpfjit.compile(prog, engine)
    ctx = bpfjit.XdpContext(bytes(20), rx_queue_index=queue)
    if queue == 0:
        assert run(ctx) == 1
    else:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            run(ctx)
        assert info.value.pc == 18


# A lookup's result used without a NULL test: the kernel refuses it, and so does strict
# mode; checked mode checks the first load at run time (NULL lies in no region, so a
# missing key stops the program there) and proves the second, which only a found value
# reaches (proto_counts has 256 entries: key 300 is found in none).  Before 2026-12-03 checked mode refused it too, so a join made more precise
# (a pointer or a number become a map value or NULL) could turn a run-time check into
# a refusal: cilium's SNAT tail calls, which the kernel loads (its NULL test is a flag
# bpfjit does not follow there).  r0 = the value + the value.
UNTESTED_LOOKUP = """
    stw [%r10-4], {key}
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(1)
    call 1
    ldxdw %r1, [%r0+0]
    ldxdw %r2, [%r0+0]
    add %r1, %r2
    mov %r0, %r1
    exit
"""


def test_an_untested_lookup_is_refused_in_strict_mode_and_checked_in_checked_mode():
    from context_oracle import kernel_loads_program
    prog = _program(UNTESTED_LOOKUP.format(key=7))
    with pytest.raises(bpfjit.VerifierError, match="pc 6: r0 is a map value or NULL: "
                                                   "compare it with 0 before using it"):
        verify(prog, mode="strict", helpers={1}, cache=False)
    verified = verify(prog, mode="checked", helpers={1}, cache=False)
    assert 6 not in verified.proven and 7 in verified.proven
    assert kernel_loads_program(prog, "xdp") in (False, None)


@pytest.mark.parametrize("key", [300, 7])
def test_an_untested_lookup_stops_every_engine_where_nothing_was_found(engine, key):
    if engine == "kernel":
        pytest.skip("the kernel refuses the program (the lookup is untested)")
    prog = _program(UNTESTED_LOOKUP.format(key=key))
    prog.maps["proto_counts"][7] = 21
    run = bpfjit.compile(prog, engine)
    ctx = bpfjit.XdpContext(bytes(20))
    if key == 300:
        with pytest.raises(bpfjit.MemoryAccessError) as info:
            run(ctx)
        assert info.value.pc == 6
    else:
        assert run(ctx) == 42
