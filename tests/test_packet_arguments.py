"""Which of the kernel's helpers may be given a pointer into the packet: the map
helpers (lookup, update, delete, push), csum_diff and the socket lookups take one, as
the kernel's do (their `pkt_access`); every other refuses it ("helper access to the
packet is not allowed"), so a program tested here loads there.  Each verdict is the
running kernel's too.  A plain program's buffer (bpfjit's own convention, no packet)
and a helper of the user's own may be given it."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
KERNEL = "kernel" in bpfjit.engines(kernel=True)

# r7 = the packet (64 bytes checked), then the call
PROLOGUE = """
    ldxw %r7, [%r1+0]
    ldxw %r8, [%r1+4]
    mov %r6, %r1
    mov %r9, %r7
    add %r9, 64
    mov %r0, 0
    jgt %r9, %r8, out
"""
CALLS = {
    "map_lookup_elem": ("lddw %r1, map_by_fd(0)\nmov %r2, %r7\ncall 1", True),
    "map_update_elem": ("lddw %r1, map_by_fd(0)\nmov %r2, %r7\nmov %r3, %r7\nmov %r4, 0\n"
                        "call 2", True),
    "map_delete_elem": ("lddw %r1, map_by_fd(0)\nmov %r2, %r7\ncall 3", True),
    "csum_diff": ("mov %r1, %r7\nmov %r2, 4\nmov %r3, 0\nmov %r4, 0\nmov %r5, 0\ncall 28",
                  True),
    "sk_lookup_tcp": ("mov %r1, %r6\nmov %r2, %r7\nmov %r3, 12\nmov %r4, -1\nmov %r5, 0\n"
                      "call 84\njeq %r0, 0, +2\nmov %r1, %r0\ncall 86", True),
    "trace_printk": ("mov %r1, %r7\nmov %r2, 4\ncall 6", False),
    "get_current_comm": ("mov %r1, %r7\nmov %r2, 16\ncall 16", False),
    "probe_read_kernel": ("mov %r1, %r7\nmov %r2, 8\nmov %r3, 0\ncall 113", False),
    "xdp_load_bytes": ("mov %r1, %r6\nmov %r2, 0\nmov %r3, %r7\nmov %r4, 4\ncall 189", False),
}


def _program(name: str) -> bpfjit.Program:
    # flows.o's map: a hash of 16-byte keys and values (they fit the 64 bytes checked)
    body, _ = CALLS[name]
    env = bpfjit.load_elf(ELF / "flows.o").env
    text = PROLOGUE + body + "\nmov %r0, 0\nout:\nexit"
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="xdp",
                          prog_type="xdp")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_packet_pointer_is_for_the_helpers_that_take_one(name):
    prog = _program(name)
    takes = CALLS[name][1]
    if takes:
        bpfjit.verify(prog, cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="packet"):
            bpfjit.verify(prog, cache=False)
    if KERNEL:
        from bpfjit.backends.kerneljit import KernelProgram
        if takes:
            KernelProgram(prog)
        else:
            with pytest.raises(bpfjit.VerifierError, match="packet is not allowed"):
                KernelProgram(prog)
