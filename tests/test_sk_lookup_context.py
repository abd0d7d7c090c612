"""sk_lookup programs (SEC("sk_lookup")): `struct bpf_sk_lookup`, bpfjit.SkLookupContext,
and bpf_sk_assign as those programs have it (the kernel's bpf_sk_lookup_assign).  A
dispatcher picks a service's listening socket from a sockmap for the port a new
connection or datagram is for (Cloudflare's tubular serves its addresses so).

Where this process may load programs, the running kernel's verifier is asked too: the
context's loads (every offset and size), the fixture, and each helper-argument verdict.
Run results are worked out from the kernel's rules for bpf_sk_lookup_assign (a TCP
socket must listen, a UDP one be unconnected; the protocol must match; an IPv4 socket
takes no IPv6 lookup; a second pick needs BPF_SK_LOOKUP_F_REPLACE) and the fixture's C."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.kernel import KernelEnv
from bpfjit.maps import MapSpec, MapTable, SockMap
from context_oracle import disagreements, kernel_loads

ELF = Path(__file__).parent / "elf"
SK_DROP, SK_PASS = 0, 1
EEXIST, EINVAL, EPROTOTYPE, ESOCKTNOSUPPORT, EAFNOSUPPORT = 17, 22, 91, 94, 97
KERNEL = "kernel" in bpfjit.engines(kernel=True)


def test_the_context_reads_as_the_kernel_allows():
    # every field read whole or in part at a multiple of the load's size, `sk` as 8
    # bytes; nothing written
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert disagreements("sk_lookup", "sk_lookup", 76, set()) == []


@pytest.mark.parametrize("access, ok", [
    ("ldxw %r2, [%r1+8]", True), ("ldxb %r2, [%r1+9]", True), ("ldxh %r2, [%r1+38]", True),
    ("ldxh %r2, [%r1+17]", False), ("ldxw %r2, [%r1+0]", False), ("ldxdw %r2, [%r1+0]", True),
    ("ldxw %r2, [%r1+68]", False), ("mov %r2, 0\n stxw [%r1+60], %r2", False),
])
def test_context_accesses(access, ok):
    prog = bpfjit.Program(bpfjit.assemble(f"{access}\nmov %r0, 1\nexit").insns,
                          context="sk_lookup", prog_type="sk_lookup")
    if ok:
        bpfjit.verify(prog, cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="sk_lookup context access"):
            bpfjit.verify(prog, cache=False)


# ---- the dispatcher ---------------------------------------------------------------------------

LISTENER = dict(protocol="tcp", local=("10.0.0.2", 8080))
SERVICES = [bpfjit.Socket(**LISTENER),                                        # 0
            bpfjit.Socket("udp", local=("0.0.0.0", 5353)),                    # 1
            bpfjit.Socket("tcp", local=("10.0.0.2", 8081), remote=("10.0.0.1", 9)),  # 2
            bpfjit.Socket("tcp", local=("::", 8443))]                         # 3
BINDINGS = {(6, 80): 0, (17, 53): 1, (6, 81): 2, (6, 443): 3, (17, 54): 0, (6, 85): 7}


def dispatcher(assign_flags: int = 0, second: int = 0, second_flags: int = 0):
    prog = bpfjit.load_elf(ELF / "sk_lookup_dispatch.o")
    for index, sock in enumerate(SERVICES):
        prog.maps["services"][index] = prog.env.sockets.add(sock)
    for (proto, port), index in BINDINGS.items():
        prog.maps["bindings"][struct.pack("<II", proto, port)] = index
    set_globals(prog, assign_flags, second, second_flags)
    return prog


def set_globals(prog, assign_flags: int, second: int, second_flags: int) -> None:
    # .bss: assign_flags (u64), second (u32), pad, second_flags (u64), last_error,
    # second_error (s64), last_port (u32), as the object's symbols place them
    prog.maps[".bss"][0] = struct.pack("<QI4xQqqI", assign_flags, second, second_flags,
                                       0, 0, 0)


def results(prog) -> tuple[int, int, int]:
    _, _, _, last_error, second_error, last_port = struct.unpack("<QI4xQqqI",
                                                                  prog.maps[".bss"][0])
    return last_error, second_error, last_port


def counts(prog) -> list[int]:
    return [struct.unpack("<Q", prog.maps["counts"][i])[0] for i in range(2)]


def lookup(protocol: str, port: int, family: int = 4) -> bpfjit.SkLookupContext:
    local, remote = ("10.0.0.2", "10.0.0.1") if family == 4 else ("fd00::2", "fd00::1")
    return bpfjit.SkLookupContext(protocol, local=(local, port), remote=(remote, 40000))


@pytest.mark.parametrize("protocol, port, family, verdict, picked, error", [
    ("tcp", 80, 4, SK_PASS, 0, 0),                    # the TCP listener
    ("udp", 53, 4, SK_PASS, 1, 0),                    # the unconnected UDP socket
    ("tcp", 443, 4, SK_PASS, 3, 0),                   # an IPv6 socket takes IPv4
    ("tcp", 81, 4, SK_DROP, None, -ESOCKTNOSUPPORT),  # established, not listening
    ("udp", 54, 4, SK_DROP, None, -EPROTOTYPE),       # a TCP socket for UDP
    ("tcp", 80, 6, SK_DROP, None, -EAFNOSUPPORT),     # an IPv4 socket for IPv6
    ("tcp", 9999, 4, SK_PASS, None, 0),               # no binding: the kernel's lookup
    ("tcp", 85, 4, SK_DROP, None, 0),                 # a service with no socket
])
def test_the_dispatcher_picks_a_socket(engine, protocol, port, family, verdict, picked,
                                       error):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run sk_lookup programs")
    prog = dispatcher()
    ctx = lookup(protocol, port, family)
    assert bpfjit.compile(prog, engine)(ctx) == verdict
    assert ctx.selected is (None if picked is None else SERVICES[picked])
    last_error, _, last_port = results(prog)
    assert last_error == error
    assert last_port == (0 if picked is None else SERVICES[picked].local[1])
    assert counts(prog) == [1 if picked is not None else 0, 1 if port == 85 else 0]


@pytest.mark.parametrize("second_flags, second_error, picked", [
    (0, -EEXIST, 0),            # one is picked already: refused
    (1, 0, 3),                  # BPF_SK_LOOKUP_F_REPLACE: the second replaces it
])
def test_a_second_pick_needs_replace(engine, second_flags, second_error, picked):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run sk_lookup programs")
    prog = dispatcher(second=4, second_flags=second_flags)
    ctx = lookup("tcp", 80)
    assert bpfjit.compile(prog, engine)(ctx) == SK_PASS
    assert results(prog)[1] == second_error
    assert ctx.selected is SERVICES[picked]


@pytest.mark.parametrize("flags, error, no_reuseport", [(2, 0, True), (4, -EINVAL, False)])
def test_the_assign_flags(engine, flags, error, no_reuseport):
    if engine == "kernel":
        pytest.skip("the kernel engine does not run sk_lookup programs")
    prog = dispatcher(assign_flags=flags)
    ctx = lookup("tcp", 80)
    bpfjit.compile(prog, engine)(ctx)
    assert results(prog)[0] == error
    assert ctx.no_reuseport is no_reuseport


def test_the_kernel_loads_the_dispatcher():
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    prog = bpfjit.load_elf(ELF / "sk_lookup_dispatch.o")
    fds = [bpfsys.map_create(m.spec.type, m.key_size, m.value_size, m.max_entries)
           for m in prog.maps.list]
    try:
        assert kernel_loads(_with_map_fds(prog.to_bytes(), fds), "sk_lookup")
    finally:
        for fd in fds:
            bpfsys.close(fd)


@pytest.mark.parametrize("mode", ["checked", "strict"])
def test_every_access_is_proven(mode):
    prog = bpfjit.load_elf(ELF / "sk_lookup_dispatch.o")
    verified = bpfjit.verify(prog, mode=mode, helpers=bpfjit.helper_ids(prog), cache=False)
    assert verified.proven == frozenset(verified.accesses)


# ---- what the verifier allows -----------------------------------------------------------------

# a sockmap lookup's socket, tested for NULL (or not) before bpf_sk_assign
FROM_MAP = """
    mov %r6, %r1
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map_by_fd(0)
    call 1
    mov %r7, %r0
    {test}
    mov %r1, %r6
    mov %r2, %r7
    mov %r3, 0
    call 124
    jeq %r7, 0, out
    mov %r1, %r7
    call 86
out:
    mov %r0, 1
    exit
"""

VERDICTS = {
    "NULL": ("mov %r2, 0\nmov %r3, 0\ncall 124\nmov %r0, 1\nexit", True),
    "ctx->sk, untested (it holds no reference)":
        ("ldxdw %r2, [%r1+0]\nmov %r3, 0\ncall 124\nmov %r0, 1\nexit", True),
    "a map's socket, tested": (FROM_MAP.format(test="jeq %r7, 0, out"), True),
    "a map's socket, untested": (FROM_MAP.format(test=""), True),
    "return 2": ("mov %r0, 2\nexit", False),
    "bpf_sk_lookup_tcp": ("mov %r2, %r10\nadd %r2, -16\nstdw [%r10-16], 0\nstdw [%r10-8], 0\n"
                          "mov %r3, 12\nmov %r4, -1\nmov %r5, 0\ncall 84\njeq %r0, 0, +2\n"
                          "mov %r1, %r0\ncall 86\nmov %r0, 1\nexit", False),
    "sk_release of ctx->sk": ("ldxdw %r1, [%r1+0]\njeq %r1, 0, +1\ncall 86\nmov %r0, 1\nexit",
                              False),
}

# kernel 6.18 loads a socket map's lookup passed to bpf_sk_assign untested (the
# argument is ARG_PTR_TO_SOCKET_OR_NULL, and the program still gives the reference back
# after its own test), as bpfjit now does; the earlier kernel these tests first met
# refused it, so the running kernel's verdict is not compared there
KERNEL_VARIES = {"a map's socket, untested"}


@pytest.mark.parametrize("case", sorted(VERDICTS))
def test_what_the_verifier_allows(case):
    text, allowed = VERDICTS[case]
    maps = MapTable([SockMap(MapSpec("services", 15, 4, 8, 4))])
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(maps),
                          context="sk_lookup", prog_type="sk_lookup")
    try:
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
        verdict = True
    except bpfjit.VerifierError:
        verdict = False
    assert verdict is allowed
    if KERNEL and case not in KERNEL_VARIES:
        from bpfjit.backends.kerneljit import _with_map_fds
        fd = bpfsys.map_create(15, 4, 8, 4)
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), "sk_lookup") is allowed
        finally:
            bpfsys.close(fd)
