"""A pointer to a field of a map value on one path and NULL on the other (calico's IPv4
fragment handling: `tcp = NULL; if (proto == IPPROTO_TCP) tcp = &state->tcp;`, then
`if (tcp) ... tcp->...`, the pointer spilled between).  The join was MIXED, a pointer
or a number, because only a map value at offset 0 (a lookup's result) had a "map value
or NULL" form: strict mode refused the spill, and checked mode checked every access
through it at run time.  It is now a map value or NULL at the field's offset, which the
NULL test turns back into the map value it was; the kernel, which follows each path,
accepts the same."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

# r4 = &value[0].field (bytes 8-15) when the value's byte 16 is 6, else NULL; spilled and
# reloaded; then r0 = the field, or 99 for NULL
# r0 = &value[0], r9 = its byte 16 (the value's `kind`)
LOOKUP = """
    stw [%r10-4], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -4
    call 1
    jeq %r0, 0, out
    ldxb %r9, [%r0+16]
"""

FIELD_OR_NULL = LOOKUP + """
    mov %r4, %r0
    add %r4, {offset}
    jeq %r9, 6, +1
    mov %r4, 0
    stxdw [%r10-16], %r4
    ldxdw %r5, [%r10-16]
    jeq %r5, 0, out
    ldxdw %r0, [%r5+0]
    exit
out:
    mov %r0, 99
    exit
"""


def program(offset: int = 8, kind: int = 6) -> bpfjit.Program:
    m = make_map(MapSpec("state", 2, 4, 24, 1))
    m[0] = (1).to_bytes(8, "little") + (77).to_bytes(8, "little") + kind.to_bytes(8, "little")
    return bpfjit.Program(bpfjit.assemble(FIELD_OR_NULL.format(offset=offset)).insns,
                          env=KernelEnv(MapTable([m])))


def test_strict_mode_proves_the_access_after_the_null_test():
    verified = bpfjit.verify(program(), mode="strict", cache=False)
    load = next(pc for pc, insn in verified.program if insn.src == 5)   # [%r5+0]
    assert load in verified.proven


def test_an_offset_past_the_value_is_still_refused():
    # the same pointer 24 bytes in: past the 24-byte value, after the NULL test too
    with pytest.raises(bpfjit.VerifierError, match="outside the 24-byte value"):
        bpfjit.verify(program(24), mode="strict", cache=False)


@pytest.mark.parametrize("kind, result", [(6, 77), (7, 99)])
def test_each_path_reads_the_field_or_stops(engine, kind, result):
    # (the kernel engine's run shows its verifier accepts the program too)
    fn = bpfjit.compile(program(kind=kind), engine, cache=False)
    assert fn(bytes(8)) == result


# checked mode: the field or NULL (value + 8), moved by 8 more, is a lookup's key (a
# helper checks the pointer it gets when it runs); r0 = 1 when found, else 99
MOVED = LOOKUP + """
    mov %r4, %r0
    add %r4, 8
    jeq %r9, 6, +1
    mov %r4, 0
    add %r4, 8
    lddw %r1, map_by_fd(0)
    mov %r2, %r4
    call 1
    jeq %r0, 0, out
    mov %r0, 1
    exit
out:
    mov %r0, 99
    exit
"""


def test_moved_by_a_number_it_is_still_a_pointer_to_a_helper(engine):
    # it was MIXED, which a number moves and a helper takes; as a map value or NULL it
    # became a number, which no helper takes.  The key is the value's bytes 16-19, 6:
    # past the one-entry array, so the lookup finds nothing (99)
    m = make_map(MapSpec("state", 2, 4, 24, 1))
    m[0] = (1).to_bytes(8, "little") + (77).to_bytes(8, "little") + (6).to_bytes(8, "little")
    prog = bpfjit.Program(bpfjit.assemble(MOVED).insns, env=KernelEnv(MapTable([m])))
    bpfjit.verify(prog, cache=False)
    if engine == "kernel":
        pytest.skip("the kernel refuses arithmetic on a map value or NULL")
    assert bpfjit.compile(prog, engine, cache=False)(bytes(8)) == 99
