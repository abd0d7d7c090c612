"""The context on some paths and NULL on others (the kernel's selftest
for_each_hash_map_elem.c: a callback gets `struct callback_ctx *data` from two call
sites, one with `data->ctx = skb`, one with `data->ctx = 0`, and reads `skb->len` after
`if (skb)`).  The join was MIXED, a pointer or a number; the NULL test left it MIXED,
the context load through it was no context access, and every engine trapped at it (the
context block is no memory a run may load from).  The kernel follows each path and
runs it.  The join is now the context or NULL, whose NULL test gives the context back;
used without the test it is refused, in every mode."""

from __future__ import annotations

import pytest

import bpfjit
from skb_programs import ELF


def xdp(source: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "loops.o", function="count_byte").env
    return bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")


# r6 = the context, or 0 when the packet's first byte is 0; r0 = data_end - data (the
# packet's length) read through r6 when it is not NULL, else 7
CONTEXT_OR_NULL = """
    mov %r6, %r1
    ldxw %r2, [%r1+0]
    ldxw %r3, [%r1+4]
    mov %r0, 0
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, out
    ldxb %r4, [%r2+0]
    jne %r4, 0, +1
    mov %r6, 0
    mov %r0, 7
    {test}
    ldxw %r2, [%r6+0]
    ldxw %r3, [%r6+4]
    mov %r0, %r3
    sub %r0, %r2
out:
    exit
"""


@pytest.mark.parametrize("first, expected", [(1, 20), (0, 7), (0xFF, 20)])
def test_the_null_test_gives_the_context_back(engine, first, expected):
    prog = xdp(CONTEXT_OR_NULL.format(test="jeq %r6, 0, out"))
    fn = bpfjit.compile(prog, engine)
    assert fn(bpfjit.XdpContext(bytes([first]) + bytes(19))) == expected


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_without_the_test_it_is_refused(mode):
    prog = xdp(CONTEXT_OR_NULL.format(test=""))
    with pytest.raises(bpfjit.VerifierError, match="pc 11: r6 is the context or NULL: "
                                                   "compare it with 0 before using it"):
        bpfjit.verify(prog, mode=mode, cache=False)


def test_strict_mode_proves_it():
    prog = xdp(CONTEXT_OR_NULL.format(test="jeq %r6, 0, out"))
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert verified.proven == frozenset(verified.accesses)
