"""A helper's pointer argument that is the packet on one path and the stack on another.

clang sinks two calls that differ only in an argument into one call after the paths
meet (`if (iph) update(&map, &iph->saddr, ...) else update(&map6, &src_ip6, ...)`,
gamemann's XDP firewall): the key is then a packet pointer or a stack pointer, which
the join-based verifier cannot tell apart.  The kernel follows each path and accepts
it.  Where the call's block begins at the join, it runs once per path (bpfjit.verifier.
perpath), and strict mode accepts it as the kernel does; where the paths met earlier,
checked mode accepts it, the helper checking the pointer when it runs, as it checks
every pointer it is given, and strict mode refuses it.  Such a pointer stays one
through a NULL test and a constant move (below, cilium's SNAT state)."""

from pathlib import Path

import pytest

import bpfjit
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, make_map

ELF = Path(__file__).parent / "elf"


def xdp(source: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "loops.o", function="count_byte").env   # map 0: `found`
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")


# key: the packet's first 4 bytes when its first byte is not 0, else 0 from the stack;
# r0 = the array's value for the key, or 7 when there is none
LOOKUP = """
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 4
    mov %r0, 0
    jgt %r4, %r3, out
    stw [%r10-4], 0
    ldxb %r5, [%r2+0]
    mov %r7, %r2
    jne %r5, 0, +2
    mov %r7, %r10
    add %r7, -4
    lddw %r1, map_by_fd(0)
    mov %r2, %r7
    call 1
    mov %r8, %r0
    mov %r0, 7
    jeq %r8, 0, out
    ldxdw %r0, [%r8+0]
out:
    exit
"""


@pytest.mark.parametrize("first, result", [
    (b"\x01\x00\x00\x00", 200),     # the packet's key, 1
    (b"\x00\x00\x00\x00", 100),     # the stack's key, 0
    (b"\x05\x00\x00\x00", 7),       # the packet's key, 5: none in a 2-entry array
])
def test_a_key_from_the_packet_or_the_stack(engine, first, result):
    prog = xdp(LOOKUP)
    prog.maps["found"][0] = 100
    prog.maps["found"][1] = 200
    assert bpfjit.compile(prog, engine)(bpfjit.XdpContext(first + bytes(16))) == result


def test_strict_mode_takes_the_key_path_by_path():
    # the block of the call starts where the paths meet: it runs once per path, the key
    # a packet pointer on one and a stack pointer on the other, as the kernel sees it
    # (until 2026-12-03 strict mode refused the joined key: "r7 holds a pointer on some
    # paths")
    prog = xdp(LOOKUP)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    assert set(verified.proven) == set(verified.accesses)
    if "kernel" in bpfjit.engines(kernel=True):
        from bpfjit import bpfsys
        from bpfjit.backends.kerneljit import _with_map_fds
        spec = prog.maps.list[0].spec
        fd = bpfsys.map_create(spec.type, spec.key_size, spec.value_size, spec.max_entries)
        try:
            bpfsys.close(bpfsys.prog_load(_with_map_fds(prog.to_bytes(), [fd]), "xdp"))
        finally:
            bpfsys.close(fd)


def test_a_plain_number_is_still_no_key():
    prog = xdp(LOOKUP.replace("mov %r2, %r7\n", "mov %r2, 12\n"))
    with pytest.raises(bpfjit.VerifierError, match="pc 15: map_lookup_elem takes a pointer"
                                                   ".* not 0xc"):
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))


def test_a_number_joined_with_a_key_fails_in_the_helper(engine):
    # the key is 12 (no pointer) where the first byte is not 0: the helper refuses it
    # when it runs, on every engine; the stack's key still works
    prog = xdp(LOOKUP.replace("mov %r7, %r2\n", "mov %r7, 12\n"))
    prog.maps["found"][0] = 100
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(bytes(16))) == 100
    with pytest.raises(bpfjit.HelperError) as caught:
        fn(bpfjit.XdpContext(b"\x01" + bytes(15)))
    assert caught.value.pc == 15


# xdp_load_bytes(ctx, 0, buf, 8) into the stack or, on the other path, over the
# packet itself; fp-8 held 0, so fp-16 + [fp-8] was the start of an 8-byte slot -- but
# after the call it holds the packet's first 8 bytes
STORE_THROUGH_JOINED = """
    mov %r6, %r1
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r4, %r2
    add %r4, 8
    mov %r0, 0
    jgt %r4, %r3, out
    stdw [%r10-8], 0
    stdw [%r10-16], 0
    ldxb %r5, [%r2+0]
    mov %r3, %r2
    jeq %r5, 0, +2
    mov %r3, %r10
    add %r3, -8
    mov %r1, %r6
    mov %r2, 0
    mov %r4, 8
    call 189
    ldxdw %r1, [%r10-8]
    mov %r2, %r10
    add %r2, -16
    add %r2, %r1
    ldxb %r0, [%r2]
out:
    exit
"""


def test_a_helper_writing_through_a_joined_pointer_forgets_the_stack(engine):
    # on the stack path fp-8 now holds 200: the load at fp-16 + 200 is outside the
    # stack, and every engine stops at it (the verifier must not keep fp-8 == 0)
    prog = xdp(STORE_THROUGH_JOINED)
    verified = bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))
    assert 22 not in verified.proven
    fn = bpfjit.compile(prog, engine)
    with pytest.raises(bpfjit.MemoryAccessError) as caught:
        fn(bpfjit.XdpContext(b"\xc8" + bytes(15)))
    assert caught.value.pc == 22
    # on the packet path the stack keeps its 0: the load reads fp-16
    assert fn(bpfjit.XdpContext(bytes(16))) == 0


# A pointer joined from two regions (a map value on one path, a copy on the stack on the
# other, as cilium's SNAT keeps its state), tested for NULL and moved by a constant, then
# given to csum_diff: the kernel follows each path and loads it; bpfjit's checked mode
# keeps it a pointer on some paths, which the helper checks when it runs.
_JOINED = """
    ldxw %r6, [%r1+0]
    ldxw %r7, [%r1+4]
    mov %r2, %r6
    add %r2, 20
    jgt %r2, %r7, short
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r8, %r10
    add %r8, -16
    ldxb %r3, [%r6+0]
    jne %r3, 1, chosen
    stdw [%r10-24], 0
    lddw %r1, map_by_fd(0)
    mov %r2, %r10
    add %r2, -24
    call 1
    mov %r8, %r0
chosen:
    jeq %r8, 0, short
    add %r8, 4
    mov %r1, 0
    mov %r2, 0
    mov %r3, %r8
    mov %r4, 4
    mov %r5, 0
    call 28
    exit
short:
    mov %r0, 99
    exit
"""


def _joined_program() -> tuple[bpfjit.Program, object]:
    values = make_map(MapSpec("state", 2, 4, 16, 1))
    values[0] = bytes(range(16))
    prog = bpfjit.Program(bpfjit.assemble(_JOINED).insns,
                          env=KernelEnv(MapTable([values])), context="xdp", prog_type="xdp")
    return prog, values


def test_a_pointer_joined_from_a_map_value_and_the_stack_reaches_a_helper(engine):
    prog, _ = _joined_program()
    fn = bpfjit.compile(prog, engine)
    # byte 0 is 1: the map value's bytes 4-7 (4, 5, 6, 7), one little-endian word
    # 0x07060504, folded to 16 bits: 0x0504 + 0x0706; else the stack copy's zeros
    assert fn(b"\x01" + bytes(39)) == 0x0C0A
    assert fn(b"\x02" + bytes(39)) == 0
    assert fn(bytes(10)) == 99


def test_strict_mode_proves_the_joined_pointer_path_by_path():
    # the block of `chosen` runs once for the stack's path and once for the lookup's
    # (bpfjit.verifier.perpath._partitions: joined, r8 would be a pointer on some paths
    # and another on others); strict mode refused it until 2026-12-03, as the kernel does not
    from context_oracle import kernel_loads_program
    prog, _ = _joined_program()
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)
