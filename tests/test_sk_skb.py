"""sk_skb programs (SEC("sk_skb/stream_parser"), "sk_skb/stream_verdict"): what arrives on
a socket of a socket map, cut into messages by the parser and given a verdict, which may
send it to another socket of the map (bpf_sk_redirect_map, bpf_sk_redirect_hash: sent
out, or received with BPF_F_INGRESS).  The context is `struct __sk_buff`
(bpfjit.SkbContext, whose packet is the data that arrived) with the kernel's rules for
these programs: `mark`, `tc_classid`, the timestamps and `wire_len` not readable,
`priority` and `tc_index` the only fields written (the running kernel's verdict for
every offset and size: tests/test_context_access.py); the helpers the kernel gives them
(tests/test_helper_availability.py).  The kernel has no test run for sk_skb programs:
results are worked out from the fixture's C and the kernel's rules for a redirect (an
entry holding a socket that may take one: a TCP socket not listening, another one
connected)."""

from __future__ import annotations

from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.elf import ElfObject
from context_oracle import kernel_loads

ELF = Path(__file__).parent / "elf"
SK_DROP, SK_PASS = 0, 1


def steer():
    """The verdict program, socks[0] and socks[1] connected TCP sockets."""
    obj = ElfObject(ELF / "sk_skb.o")
    prog = obj.program("sk_skb/stream_verdict", None)
    sockets = [prog.env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 8000 + i),
                                                  remote=("10.0.0.9", 9000 + i)))
               for i in range(2)]
    for i, sock in enumerate(sockets):
        prog.maps["socks"][i] = sock
    return prog, sockets


@pytest.mark.parametrize("data, verdict, to, flags", [
    (b"A message", SK_PASS, 0, 0),            # sent out of socks[0]
    (b"B message", SK_PASS, 1, 1),            # received on socks[1] (BPF_F_INGRESS)
    (b"X message", SK_DROP, None, None),
    (b"hello", SK_PASS, None, None),          # stays where it arrived
])
def test_the_verdict(engine, data, verdict, to, flags):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_skb programs")
    prog, sockets = steer()
    ctx = bpfjit.SkbContext(data)
    assert bpfjit.compile(prog, engine)(ctx) == verdict
    assert ctx.tc_index == data[0]
    if to is None:
        assert ctx.redirect is None
    else:
        assert (ctx.redirect.target, ctx.redirect.flags) == (sockets[to], flags)


def test_an_empty_entry_drops(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_skb programs")
    prog, sockets = steer()
    prog.maps["socks"].delete(0)
    ctx = bpfjit.SkbContext(b"A")
    assert bpfjit.compile(prog, engine)(ctx) == SK_DROP and ctx.redirect is None


def test_the_parser_takes_what_arrived(engine):
    if engine == "kernel":
        pytest.skip("the kernel has no test run for sk_skb programs")
    prog = bpfjit.load_elf(ELF / "sk_skb.o", section="sk_skb/stream_parser")
    assert (prog.prog_type, prog.attach_type) == ("sk_skb", "stream_parser")
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(b"twelve bytes")) == 12


def test_the_kernel_loads_them():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    for section in ("sk_skb/stream_parser", "sk_skb/stream_verdict"):
        prog = bpfjit.load_elf(ELF / "sk_skb.o", section=section)
        fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
               for m in prog.maps.list]
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), "sk_skb",
                                prog.attach_type)
        finally:
            for fd in fds:
                bpfsys.close(fd)


@pytest.mark.parametrize("access, allowed", [
    ("ldxw %r2, [%r1+8]", False),                   # mark
    ("stw [%r1+44], 1", True),                      # tc_index
    ("stw [%r1+48], 1", False),                     # cb[0]
    ("ldxw %r2, [%r1+88]", True),                   # family
])
def test_the_context_is_the_kernels(access, allowed):
    prog = bpfjit.Program(bpfjit.assemble(f"{access}\nmov %r0, 1\nexit").insns,
                          context="skb", prog_type="sk_skb", attach_type="stream_verdict")
    try:
        bpfjit.verify(prog, cache=False)
        verdict = True
    except bpfjit.VerifierError:
        verdict = False
    assert verdict is allowed
    assert kernel_loads(prog.to_bytes(), "sk_skb", "stream_verdict") in (None, allowed)
