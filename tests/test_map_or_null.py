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
    with pytest.raises(bpfjit.VerifierError, match="pc 18: r9 is a map value or NULL"):
        verify(_program(NOT_TOGETHER), mode="checked", helpers={1}, cache=False)
