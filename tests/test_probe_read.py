"""bpf_probe_read_kernel (113): copy `size` bytes from an address a program computed,
which the verifier need not place; what cannot be read gives -EFAULT and zeroes the
buffer, as the kernel's does, or -ERANGE for NULL and small numbers (below 64 KiB),
which x86-64's kernel refuses before it tries them (until 2026-12-03 bpfjit gave
-EFAULT there too; the running kernel gives -ERANGE: tests/test_probe_read_str.py).  Outside the kernel the only memory to read is the run's
own (its buffer, stack and map values): kmesh reads rule tables in map values so.
Values worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"
EFAULT, ERANGE = 14, 34

# r0 = probe_read_kernel(&out, 8, SOURCE)'s low byte | out << 8 (out was -1 before)
READ = """
    lddw %r3, SOURCE
    stdw [%r10-8], -1
    mov %r1, %r10
    add %r1, -8
    mov %r2, 8
    call 113
    ldxdw %r1, [%r10-8]
    lsh %r1, 8
    and %r0, 0xff
    or %r0, %r1
    exit
"""


def _program(source: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "counter.o").env
    return bpfjit.Program(bpfjit.assemble(READ.replace("SOURCE", source)).insns, env=env,
                          context="xdp", prog_type="xdp")


@pytest.mark.parametrize("source, expected", [
    ("map_val_by_fd(0, 0)", 0x1122 << 8),           # total[0]: copied, 0 returned
    ("0x1000", -ERANGE & 0xFF),                     # a user address: -ERANGE, zeroed
    ("map_val_by_fd(0, 4)", -EFAULT & 0xFF),        # 4 bytes past the value's end
])
def test_what_is_read(engine, source, expected):
    prog = _program(source)
    if engine == "kernel":
        pytest.skip("the kernel engine does not run bpf_probe_read_kernel")
    prog.maps["total"][0] = 0x1122
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.XdpContext(bytes(64))) == expected


def test_the_kernel_takes_the_program():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit import bpfsys
    from bpfjit.backends.kerneljit import _with_map_fds
    for source in ("map_val_by_fd(0, 0)", "0x1000"):
        prog = _program(source)
        fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
               for m in prog.maps.list]
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), "xdp")
        finally:
            for fd in fds:
                bpfsys.close(fd)


def test_a_socket_is_no_memory_it_reads(engine):
    # the packet's socket (a struct bpf_sock the program reads field by field) is not
    # memory helpers read: -EFAULT on every engine alike
    if engine == "kernel":
        pytest.skip("the kernel's test run gives a packet a socket of its own making")
    text = READ.replace("    lddw %r3, SOURCE\n", "    ldxdw %r3, [%r1+168]\n")
    env = bpfjit.load_elf(ELF / "counter.o").env
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="skb",
                          prog_type="sched_cls")
    sock = bpfjit.Socket("tcp", local=("10.0.0.2", 80))
    fn = bpfjit.compile(prog, engine, cache=False)
    assert fn(bpfjit.SkbContext(bytes(64), socket=sock)) == -EFAULT & 0xFF


# bpf_get_current_task (35): a task_struct's address, whose fields programs read with
# bpf_probe_read_kernel (OpenTelemetry eBPF Instrumentation's pid helpers read tgid so).
# bpfjit models no kernel memory: the address is env.current_task (by default one in a
# kernel's direct map, 0xffff888000100000), where every read gives -EFAULT and zeros.
# r0 = the address's low 32 bits ^ probe_read_kernel's result's low byte << 32 ^ out
TASK = """
    call 35
    mov %r6, %r0
    mov %r3, %r0
    add %r3, 0x9c0
    stdw [%r10-8], -1
    mov %r1, %r10
    add %r1, -8
    mov %r2, 4
    call 113
    and %r0, 0xff
    lsh %r0, 32
    ldxdw %r1, [%r10-8]
    xor %r0, %r1
    mov32 %r6, %r6
    xor %r0, %r6
    exit
"""


@pytest.mark.parametrize("task", [None, 0x1000])
def test_the_current_task_is_no_memory(engine, task):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run get_current_task (a real task there)")
    prog = _program("0")
    prog = bpfjit.Program(bpfjit.assemble(TASK).insns, env=prog.env, context="xdp",
                          prog_type="xdp")
    if task is not None:
        prog.env.current_task = task
    address = 0xFFFF888000100000 if task is None else task
    out = 0xFFFFFFFF00000000          # the 4 bytes read are zeroed, the other 4 stay
    error = EFAULT if task is None else ERANGE      # the kernel's half, or below 64 KiB
    expected = (-error & 0xFF) << 32 ^ out ^ (address & 0xFFFFFFFF)
    assert bpfjit.compile(prog, engine, cache=False)(bpfjit.XdpContext(bytes(64))) == expected


# strict mode keeps addresses out of what a program computes; bpf_probe_read_kernel's
# source is an address the helper reads from, which discloses nothing where the bytes
# there hold no address: the packet's and map values' (strict mode lets no program store
# a pointer in either).  A stack or the context may hold one (a spilled pointer, the
# block's packet pointers): refused there.  r3 = SOURCE, copied 8 bytes from
FROM = """
    ldxw %r6, [%r1+0]
    ldxw %r7, [%r1+4]
    mov %r2, %r6
    add %r2, 8
    mov %r0, 0
    jgt %r2, %r7, out
    stdw [%r10-16], 0
    mov %r8, %r1
    {source}
    mov %r1, %r10
    add %r1, -8
    mov %r2, 8
    call 113
    ldxdw %r0, [%r10-8]
out:
    exit
"""


@pytest.mark.parametrize("source, strict_ok", [
    ("mov %r3, %r6", True),                          # the packet
    ("lddw %r3, map_val_by_fd(0, 0)", True),        # a map value
    ("mov %r3, %r10\n    add %r3, -16", False),      # the stack
    ("mov %r3, %r8", False),                         # the context
])
def test_strict_mode_lets_probe_read_take_a_pointer_to_bytes_without_addresses(source,
                                                                                strict_ok):
    prog = _program("0")
    prog = bpfjit.Program(bpfjit.assemble(FROM.format(source=source)).insns, env=prog.env,
                          context="xdp", prog_type="xdp")
    bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)    # checked mode
    if strict_ok:
        bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="strict mode: probe_read_kernel"):
            bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
