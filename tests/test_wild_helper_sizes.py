"""Helpers given a size the program read from its packet (any u32): an error path that
zeroes the caller's buffer checks the buffer's room before it builds a single byte,
as the kernel's helpers only touch memory the verifier proved.  With the size 4 GiB,
a program once made the host build 4 GiB of zeros before the helper found the buffer
too small."""

from __future__ import annotations

import tracemalloc

import pytest

import bpfjit
from skb_programs import tc_program

# r4 = the packet's first word (the size), r3 = an 8-byte stack buffer, then the helper
LOAD_BYTES_RELATIVE = """
    ldxw %r2, [%r1+80]
    ldxw %r3, [%r1+76]
    mov %r0, 0
    mov %r4, %r3
    add %r4, 4
    jgt %r4, %r2, out
    ldxw %r4, [%r3+0]
    stdw [%r10-8], 0
    mov %r3, %r10
    add %r3, -8
    mov %r2, 0
    mov %r5, 7
    call 68
out:
    exit
"""
TUNNEL_KEY = """
    ldxw %r2, [%r1+80]
    ldxw %r3, [%r1+76]
    mov %r0, 0
    mov %r4, %r3
    add %r4, 4
    jgt %r4, %r2, out
    ldxw %r3, [%r3+0]
    stdw [%r10-8], 0
    mov %r2, %r10
    add %r2, -8
    mov %r4, 0
    call 20
out:
    exit
"""


@pytest.mark.parametrize("text", [LOAD_BYTES_RELATIVE, TUNNEL_KEY],
                         ids=["skb_load_bytes_relative", "skb_get_tunnel_key"])
def test_a_wild_size_on_an_error_path_builds_nothing(engine, text):
    if engine == "kernel":
        pytest.skip("the kernel refuses a size it cannot bound at load")
    fn = bpfjit.compile(tc_program(text), engine, cache=False)
    packet = (0xFFFFFFF0).to_bytes(4, "little") + bytes(60)
    tracemalloc.start()
    try:
        with pytest.raises(bpfjit.BpfError, match="outside"):
            fn(bpfjit.SkbContext(packet))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20          # not the 4 GiB the size asks for


@pytest.mark.parametrize("text", [LOAD_BYTES_RELATIVE, TUNNEL_KEY],
                         ids=["skb_load_bytes_relative", "skb_get_tunnel_key"])
def test_a_size_that_fits_is_zeroed_on_the_error_path(engine, text):
    # 8 bytes: the buffer's own size; the error path zeroes it and returns the error
    if engine == "kernel":
        pytest.skip("the kernel refuses a size it cannot bound at load")
    fn = bpfjit.compile(tc_program(text), engine, cache=False)
    packet = (8).to_bytes(4, "little") + bytes(60)
    r0 = fn(bpfjit.SkbContext(packet))
    assert r0 >= 1 << 63            # a negative errno
