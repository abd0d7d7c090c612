"""Socket lookups (bpf_sk_lookup_tcp, bpf_sk_lookup_udp, bpf_skc_lookup_tcp, bpf_sk_release,
bpf_sk_fullsock) over the sockets a test gives `env.sockets`, and the references the
verifier makes a program give back, as the kernel's does.

Expected values are worked out from the kernel's rules: a lookup's tuple names the
remote end as its source; TCP finds an established socket matching all four, else a
listener; UDP the best match on the port; `struct bpf_sock` has the local port in host
order and the remote one in network order.  Where this process may load programs into
the running kernel, every program the verifier here refuses is loaded there too and
must be refused as well, and the fixture must be accepted."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.verifier.sockets import readable_socket_field

ELF = Path(__file__).parent / "elf"
TC_ACT_OK, TC_ACT_SHOT = 0, 2
XDP_DROP, XDP_PASS = 1, 2


def frame4(proto: int, sport: int, dport: int, src=(10, 0, 0, 1), dst=(10, 0, 0, 2)) -> bytes:
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28, 0, 0, 64, proto, 0, bytes(src), bytes(dst))
    return eth + ip + struct.pack("!HH", sport, dport) + b"data"


def frame6(sport: int, dport: int, src: str, dst: str) -> bytes:
    import ipaddress
    eth = b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd"
    ip6 = struct.pack("!IHBB16s16s", 0x60000000, 12, 6, 64, ipaddress.IPv6Address(src).packed,
                      ipaddress.IPv6Address(dst).packed)
    return eth + ip6 + struct.pack("!HH", sport, dport) + b"data1234"


def seen(prog, slot: int) -> int:
    return int.from_bytes(prog.maps["seen"].slot_bytes(slot)[:8], "little")


def steer():
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_steer")
    sockets = prog.env.sockets
    sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80)))
    sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80), remote=("10.0.0.1", 1234), mark=77))
    sockets.add(bpfjit.Socket("udp", local=("0.0.0.0", 53), mark=5))
    return prog


def kernel_verdict(prog: bpfjit.Program) -> bool | None:
    """Whether the running kernel's verifier accepts `prog` (None: it cannot be asked)."""
    if "kernel" not in bpfjit.engines(kernel=True):
        return None
    from bpfjit.backends.kerneljit import KernelProgram
    try:
        KernelProgram(prog, frozenset()).close()
    except bpfjit.VerifierError:
        return False
    except bpfjit.BpfError:         # what the kernel engine cannot load (a program array)
        return None
    return True


# ---- the fixture on every engine -------------------------------------------------------

@pytest.mark.parametrize("proto, sport, dport, action, mark, record", [
    # TCP from a port no connection has: the listener (state 10, port 80, no remote port)
    (6, 999, 80, TC_ACT_OK, 1, 10 << 32 | 80 << 16),
    # TCP from 10.0.0.1:1234: the established socket (state 1), its full socket's mark
    (6, 1234, 80, TC_ACT_OK, 77, 1 << 32 | 80 << 16 | 1234),
    # UDP to port 53: the socket bound to the wildcard address (unconnected: state 7)
    (17, 4000, 53, TC_ACT_OK, 5, 7 << 32 | 53 << 16),
    # nothing listens on 81
    (6, 1234, 81, TC_ACT_SHOT, 0, 0),
])
def test_tc_looks_up_reads_and_gives_back(engine, proto, sport, dport, action, mark, record):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    prog = steer()
    ctx = bpfjit.SkbContext(frame4(proto, sport, dport))
    assert bpfjit.compile(prog, engine)(ctx) == action
    assert (ctx.mark, seen(prog, 0)) == (mark, record)


@pytest.mark.parametrize("netns, sockets_netns, found", [
    (5, 5, True),               # an id names that namespace
    (5, None, False),           # ... and not the program's own
    (0xFFFFFFFF, None, False),  # (s32)-1 but not BPF_F_CURRENT_NETNS: nothing, as in the kernel
    ((1 << 64) - 1, None, True),
])
def test_the_namespace_argument(engine, netns, sockets_netns, found):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_steer")
    prog.env.sockets.add(bpfjit.Socket("udp", local=("10.0.0.2", 53), netns=sockets_netns))
    prog.maps[".data"][0] = netns.to_bytes(8, "little")
    ctx = bpfjit.SkbContext(frame4(17, 4000, 53))
    assert bpfjit.compile(prog, engine)(ctx) == (TC_ACT_OK if found else TC_ACT_SHOT)


@pytest.mark.parametrize("ifindex, action", [(3, XDP_PASS), (4, XDP_DROP)])
def test_xdp_ipv6_lookup_and_bound_device(engine, ifindex, action):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="xdp_v6")
    prog.env.sockets.add(bpfjit.Socket("tcp", local=("2001:db8::2", 443),
                                       remote=("2001:db8::1", 5000), bound_dev_if=3))
    ctx = bpfjit.XdpContext(frame6(5000, 443, "2001:db8::1", "2001:db8::2"),
                            ingress_ifindex=ifindex)
    assert bpfjit.compile(prog, engine)(ctx) == action
    if action == XDP_PASS:
        # family AF_INET6; the remote address's last word as it is in memory (::1 is
        # 00 00 00 01 in network order, read as a little-endian u32); the bound device
        assert (seen(prog, 1), seen(prog, 2), seen(prog, 3)) == (10, 0x01000000, 3)


def test_the_kernel_accepts_the_fixture():
    for function in ("tc_steer", "xdp_v6"):
        verdict = kernel_verdict(bpfjit.load_elf(ELF / "sk_lookup.o", function=function))
        if verdict is None:
            pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
        assert verdict, function


@pytest.mark.parametrize("function", ["tc_steer", "xdp_v6", "tc_proxy"])
def test_strict_mode_proves_every_access(function):
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function=function)
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog), cache=False)
    assert verified.proven == frozenset(verified.accesses)


# ---- the table -----------------------------------------------------------------------------

def tuple4(src, sport, dst, dport) -> bytes:
    return bytes(src) + bytes(dst) + struct.pack("!HH", sport, dport)


def test_the_most_specific_socket_wins():
    table = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_steer").env.sockets
    wild = table.add(bpfjit.Socket("udp", local=("0.0.0.0", 53)))
    bound = table.add(bpfjit.Socket("udp", local=("10.0.0.2", 53)))
    connected = table.add(bpfjit.Socket("udp", local=("10.0.0.2", 53), remote=("10.0.0.1", 7)))
    slots = list(table)
    look = lambda sport: table.lookup("udp", tuple4((10, 0, 0, 1), sport, (10, 0, 0, 2), 53), 1,
                                      None)
    assert look(7) == 80 * slots.index(connected)      # its remote end matches
    assert look(8) == 80 * slots.index(bound)          # the bound address over the wildcard
    table.remove(bound)
    assert look(8) == 80 * slots.index(wild)
    assert table.lookup("tcp", tuple4((10, 0, 0, 1), 8, (10, 0, 0, 2), 53), 1, None) is None


def test_a_socket_block_is_struct_bpf_sock():
    block = bpfjit.Socket("tcp", local=("10.0.0.2", 80), remote=("10.0.0.1", 1234),
                          mark=9, priority=3, bound_dev_if=2).block()
    assert len(block) == 80
    # bound_dev_if, family AF_INET, SOCK_STREAM, IPPROTO_TCP, mark, priority
    assert struct.unpack_from("<6I", block, 0) == (2, 2, 1, 6, 9, 3)
    assert block[24:28] == bytes([10, 0, 0, 2]) and block[52:56] == bytes([10, 0, 0, 1])
    assert struct.unpack_from("<I", block, 44)[0] == 80          # host order
    assert block[48:50] == (1234).to_bytes(2, "big")              # network order
    assert struct.unpack_from("<Ii", block, 72) == (1, -1)        # established, no queue


@pytest.mark.parametrize("kwargs, message", [
    (dict(protocol="sctp", local=("10.0.0.2", 1)), "protocol is \"tcp\" or \"udp\""),
    (dict(protocol="tcp", local=("10.0.0.2", 70000)), "port is 0-65535"),
    (dict(protocol="tcp", local=("nowhere", 1)), "an IPv4 or IPv6 address"),
    (dict(protocol="tcp", local=("10.0.0.2", 1), remote=("::1", 2)), "not of its local"),
    (dict(protocol="udp", local=("10.0.0.2", 1), netns=-3), "netns is None"),
])
def test_bad_sockets_are_errors(kwargs, message):
    with pytest.raises(bpfjit.BpfError, match=message):
        bpfjit.Socket(**kwargs)


def test_a_full_table_and_a_stranger_are_errors():
    table = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_steer").env.sockets
    for port in range(64):
        table.add(bpfjit.Socket("udp", local=("10.0.0.2", port)))
    with pytest.raises(bpfjit.BpfError, match="up to 64 sockets"):
        table.add(bpfjit.Socket("udp", local=("10.0.0.2", 100)))
    with pytest.raises(bpfjit.BpfError, match="not in the table"):
        table.remove(bpfjit.Socket("udp", local=("10.0.0.2", 100)))
    table.clear()
    assert len(table) == 0


# ---- the verifier: references and fields ------------------------------------------------

def tc(text: str) -> bpfjit.Program:
    env = bpfjit.load_elf(ELF / "tc_classify.o").env
    return bpfjit.Program(bpfjit.assemble(text).insns, env=env, context="skb",
                          prog_type="sched_cls")


# r6 = ctx; a zeroed 12-byte tuple at fp-16; {lookup} (sk_lookup_tcp: 84) into r0
LOOKUP = """
    mov %r6, %r1
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call {lookup}
"""


def lookup(body: str, helper: int = 84) -> bpfjit.Program:
    return tc(LOOKUP.format(lookup=helper) + body)


def xdp_with_tail_calls(body: str) -> bpfjit.Program:
    """The same lookup in an XDP program whose object has a program array (map 0)."""
    env = bpfjit.load_elf(ELF / "tail_calls.o", function="dispatch").env
    return bpfjit.Program(bpfjit.assemble(LOOKUP.format(lookup=84) + body).insns, env=env,
                          context="xdp", prog_type="xdp")


RELEASE_ON_EVERY_PATH = """
    jeq %r0, 0, out
    ldxw %r7, [%r0+72]
    mov %r1, %r0
    call 86
out:
    mov %r0, 0
    exit
"""

REFUSED = {
    "leak": ("""
    jeq %r0, 0, out
    ldxw %r7, [%r0+72]
out:
    mov %r0, 0
    exit
""", "exits holding a socket reference \\(from the lookup at pc 9\\)"),
    "no NULL test": ("""
    ldxw %r7, [%r0+72]
    mov %r1, %r0
    call 86
    mov %r0, 0
    exit
""", "r0 is a socket or NULL: compare it with 0"),
    "use after release": ("""
    jeq %r0, 0, out
    mov %r7, %r0
    mov %r1, %r0
    call 86
    ldxw %r2, [%r7+72]
out:
    mov %r0, 0
    exit
""", "r7 is read before anything was written to it \\(it held a socket bpf_sk_release"),
    "release twice": ("""
    jeq %r0, 0, out
    mov %r7, %r0
    mov %r1, %r0
    call 86
    mov %r1, %r7
    call 86
out:
    mov %r0, 0
    exit
""", "r7 is read before anything was written"),
    "a store": ("""
    jeq %r0, 0, out
    stw [%r0+16], 1
    mov %r1, %r0
    call 86
out:
    mov %r0, 0
    exit
""", "whose fields programs may only read"),
    "arithmetic": ("""
    jeq %r0, 0, out
    add %r0, 4
    mov %r1, %r0
    call 86
out:
    mov %r0, 0
    exit
""", "add on a socket pointer"),
    "padding": ("""
    jeq %r0, 0, out
    ldxh %r7, [%r0+50]
    mov %r1, %r0
    call 86
out:
    mov %r0, 0
    exit
""", "at offset 50, size 2: not a field it may read"),
    "a tail call holding one": ("""
    jeq %r0, 0, out
    mov %r7, %r0
    mov %r1, %r6
    lddw %r2, map_by_fd(0)
    mov %r3, 0
    call 12
    mov %r1, %r7
    call 86
out:
    mov %r0, 0
    exit
""", "a tail call while holding a socket reference"),
    "a full socket's NULL test releases nothing": ("""
    jeq %r0, 0, out
    mov %r7, %r0
    mov %r1, %r0
    call 95
    jeq %r0, 0, out
    mov %r1, %r7
    call 86
out:
    mov %r0, 0
    exit
""", "exits holding a socket reference"),
}

# a socket handed to a subprogram that gives it back: the kernel follows the reference
# into the callee and accepts it; bpfjit keeps a reference within one function and
# refuses it (a documented limit: no program met so far does this)
TO_A_SUBPROGRAM = """
    jeq %r0, 0, out
    mov %r1, %r0
    call local sub
out:
    mov %r0, 0
    exit
sub:
    call 86
    mov %r0, 0
    exit
"""


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_as_the_kernel_refuses(case):
    body, message = REFUSED[case]
    prog = xdp_with_tail_calls(body) if "tail call" in case else lookup(body)
    with pytest.raises(bpfjit.VerifierError, match=message):
        bpfjit.verify(prog, cache=False)
    assert kernel_verdict(prog) in (None, False)


def test_a_socket_passed_to_a_subprogram_is_refused_here():
    prog = lookup(TO_A_SUBPROGRAM)
    with pytest.raises(bpfjit.VerifierError, match="r1 passes a socket a lookup returned to a subprogram"):
        bpfjit.verify(prog, cache=False)
    assert kernel_verdict(prog) in (None, True)


def test_released_on_every_path_is_accepted_here_and_by_the_kernel():
    prog = lookup(RELEASE_ON_EVERY_PATH)
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_verdict(prog) in (None, True)


def test_sock_common_fields():
    # bpf_skc_lookup_tcp's socket: state readable, mark (offset 16) not
    bpfjit.verify(lookup(RELEASE_ON_EVERY_PATH, helper=99), cache=False)
    with pytest.raises(bpfjit.VerifierError, match="sock_common .* at offset 16"):
        bpfjit.verify(lookup(RELEASE_ON_EVERY_PATH.replace("+72", "+16"), helper=99),
                      cache=False)


# two lookups, one register: `sk = tcp ? sk_lookup_tcp() : sk_lookup_udp()`, one NULL
# test, one release (the paths' references are named alike where they meet); r0 = the
# socket's protocol when found, else 1
ONE_OF_TWO = """
    mov %r6, %r1
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    ldxw %r7, [%r6+8]
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    jeq %r7, 0, udp
    call 84
    ja joined
udp:
    call 85
joined:
    mov %r8, %r0
    mov %r0, 1
    jeq %r8, 0, out
    ldxw %r0, [%r8+{field}]
    mov %r1, %r8
    call 86
    mov %r0, 3
out:
    exit
"""


@pytest.mark.parametrize("mark, action", [(0, 3), (1, 3)])
def test_two_lookups_one_release(engine, mark, action):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    prog = tc(ONE_OF_TWO.format(field=12))
    # a tuple of zeros: the wildcard sockets on port 0
    prog.env.sockets.add(bpfjit.Socket("tcp", local=("0.0.0.0", 0)))
    prog.env.sockets.add(bpfjit.Socket("udp", local=("0.0.0.0", 0)))
    ctx = bpfjit.SkbContext(frame4(6, 1, 2), mark=mark)
    assert bpfjit.compile(prog, engine)(ctx) == action


def test_two_lookups_one_release_the_kernel_agrees():
    prog = tc(ONE_OF_TWO.format(field=12))
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_verdict(prog) in (None, True)


def test_one_load_of_a_socket_and_a_sock_common_is_refused():
    # skc_lookup_tcp on one path, sk_lookup_udp on the other, one load of state
    prog = tc(ONE_OF_TWO.format(field=72).replace("call 84", "call 99"))
    with pytest.raises(bpfjit.VerifierError, match="same insn cannot be used with different"):
        bpfjit.verify(prog, cache=False)
    assert kernel_verdict(prog) in (None, False)


def test_field_rules_match_the_kernel():
    """Every offset and size of a load from each kind of socket: readable here exactly
    when the running kernel's verifier accepts it."""
    sizes = {1: "b", 2: "h", 4: "w", 8: "dw"}
    if kernel_verdict(lookup(RELEASE_ON_EVERY_PATH)) is None:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    for helper, common in ((84, False), (99, True)):
        for offset in range(84):
            for size, suffix in sizes.items():
                body = RELEASE_ON_EVERY_PATH.replace("ldxw %r7, [%r0+72]",
                                                     f"ldx{suffix} %r7, [%r0+{offset}]")
                expected = kernel_verdict(lookup(body, helper))
                assert (readable_socket_field(offset, size, common) is not None) == expected, \
                    (helper, offset, size)


# two lookups from one call (a loop), the first {keep}
LOOP = """
    mov %r6, %r1
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    mov %r8, 0
again:
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call 84
    jeq %r0, 0, next
    {keep}
next:
    add %r8, 1
    jlt %r8, 2, again
    mov %r0, 0
    exit
"""


def test_a_loop_that_keeps_each_socket_is_refused():
    prog = tc(LOOP.format(keep="mov %r9, %r0"))
    with pytest.raises(bpfjit.VerifierError, match="still held|exits holding"):
        bpfjit.verify(prog, cache=False)
    assert kernel_verdict(prog) in (None, False)


def test_a_loop_that_gives_each_back_is_accepted():
    prog = tc(LOOP.format(keep="mov %r1, %r0\n    call 86"))
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_verdict(prog) in (None, True)


# ---- bpf_sk_assign: steer the packet to a socket (tc ingress) ------------------------

# a listener looked up by the packet's destination port, whatever its source: the tuple
# (zeroed at fp-16) takes the TCP destination port, the lookup namespace {netns};
# assigned with flags r8 (r0 = its result, or 99 when no socket is found)
ASSIGN = """
    mov %r6, %r1
    ldxw %r8, [%r6+8]
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    ldxw %r2, [%r6+76]
    ldxw %r3, [%r6+80]
    mov %r4, %r2
    add %r4, 38
    mov %r0, 0
    jgt %r4, %r3, out
    ldxh %r4, [%r2+36]
    stxh [%r10-6], %r4
    mov %r1, %r6
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, {netns}
    mov %r5, 0
    call 84
    mov %r7, %r0
    mov %r0, 99
    jeq %r7, 0, out
    mov %r1, %r6
    mov %r2, %r7
    mov %r3, %r8
    call 124
    mov %r9, %r0
    mov %r1, %r7
    call 86
    mov %r0, %r9
out:
    exit
"""
EINVAL, EOPNOTSUPP, ENETUNREACH = 22, 95, 101


@pytest.mark.parametrize("ingress, flags, netns, result", [
    (True, 0, None, 0),
    (False, 0, None, -EOPNOTSUPP),        # the kernel assigns at tc ingress only
    (True, 1, None, -EINVAL),             # flags other than 0
    (True, 0, 7, -ENETUNREACH),           # a socket of another namespace (looked up by id)
])
def test_sk_assign(engine, ingress, flags, netns, result):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    prog = tc(ASSIGN.format(netns=-1 if netns is None else netns))
    sock = prog.env.sockets.add(bpfjit.Socket("tcp", local=("0.0.0.0", 80), netns=netns))
    fn = bpfjit.compile(prog, engine)
    ctx = bpfjit.SkbContext(frame4(6, 1234, 80), mark=flags, ingress=ingress)
    assert fn(ctx) == result & (1 << 64) - 1
    assert ctx.assigned is (sock if result == 0 else None)
    if result == 0:             # a run that assigns nothing leaves none assigned
        ctx.mark = 1
        assert fn(ctx) == -EINVAL & (1 << 64) - 1 and ctx.assigned is None


def test_sk_assign_takes_a_tested_socket_as_the_kernel_does():
    untested = tc(ASSIGN.format(netns=-1).replace("    jeq %r7, 0, out\n", ""))
    with pytest.raises(bpfjit.VerifierError, match="sk_assign takes a socket .* or NULL"):
        bpfjit.verify(untested, cache=False)
    assert kernel_verdict(untested) in (None, False)
    assert kernel_verdict(tc(ASSIGN.format(netns=-1))) in (None, True)


def test_sk_assign_is_for_tc():
    env = bpfjit.load_elf(ELF / "sk_lookup.o", function="xdp_v6").env
    source = "mov %r2, 0\nmov %r3, 0\ncall 124\nmov %r0, 2\nexit"
    prog = bpfjit.Program(bpfjit.assemble(source).insns, env=env, context="xdp",
                          prog_type="xdp")
    with pytest.raises(bpfjit.VerifierError, match="sk_assign is not available to xdp"):
        bpfjit.verify(prog, cache=False)


# ---- socket maps --------------------------------------------------------------------------

@pytest.mark.parametrize("proto, filled, result", [
    (6, True, 0),           # the TCP listener from listeners[0], assigned
    (17, False, 1),         # listeners[1] is empty: no socket
    (1, True, 2),           # ICMP: not steered
])
def test_a_sockmap_entry_is_looked_up_and_assigned(engine, proto, filled, result):
    if engine == "kernel":
        pytest.skip("the kernel engine has no twin for a sockmap")
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_proxy")
    listener = prog.env.sockets.add(bpfjit.Socket("tcp", local=("0.0.0.0", 8443)))
    if filled:
        prog.maps["listeners"][0] = listener
    ctx = bpfjit.SkbContext(frame4(proto, 1234, 80))
    assert bpfjit.compile(prog, engine)(ctx) == result
    assert ctx.assigned is (listener if result == 0 else None)


def test_a_socket_gone_from_the_table_is_gone_from_the_map(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine has no twin for a sockmap")
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_proxy")
    listener = prog.env.sockets.add(bpfjit.Socket("tcp", local=("0.0.0.0", 8443)))
    prog.maps["listeners"][0] = listener
    prog.env.sockets.remove(listener)           # a closed socket leaves every map
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(frame4(6, 1234, 80))) == 1


def test_socket_maps_from_python():
    from bpfjit.maps import MapError, MapSpec, make_map
    sockmap = make_map(MapSpec("m", 15, 4, 8, 2))
    sockhash = make_map(MapSpec("h", 18, 8, 4, 1))
    sock = bpfjit.Socket("udp", local=("10.0.0.2", 53))
    sockmap[1] = sock
    assert sockmap[1] is sock and list(sockmap) == [(1).to_bytes(4, "little")]
    with pytest.raises(MapError, match="past max_entries"):
        sockmap[2] = sock
    with pytest.raises(bpfjit.BpfError, match="an entry is a bpfjit.Socket"):
        sockmap[0] = b"\x03\0\0\0\0\0\0\0"
    sockhash[7] = sock
    with pytest.raises(MapError, match="full"):
        sockhash[8] = sock
    del sockhash[7]
    with pytest.raises(KeyError):
        del sockhash[7]
    with pytest.raises(bpfjit.BpfError, match="values are 4 or 8 bytes"):
        make_map(MapSpec("bad", 15, 4, 2, 2))


def test_a_sockmap_update_takes_a_socket():
    # (tc programs may update a sockmap, as the kernel lets them: with a socket, not the
    # bytes of a fd or cookie; tests/test_sockmap_updates.py)
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_proxy")
    update = """
    stw [%r10-4], 0
    stdw [%r10-16], 0
    mov %r2, %r10
    add %r2, -4
    mov %r3, %r10
    add %r3, -16
    mov %r4, 0
    lddw %r1, map_by_fd({index})
    call 2
    mov %r0, 0
    exit
"""
    index = list(prog.maps).index("listeners")
    program = bpfjit.Program(bpfjit.assemble(update.format(index=index)).insns, env=prog.env,
                             context="skb", prog_type="sched_cls")
    with pytest.raises(bpfjit.VerifierError, match="map_update_elem takes a socket a lookup "
                                                   "returned in r3, not fp"):
        bpfjit.verify(program, cache=False)


# a cgroup connect4 hook that lets a connection through only when something listens on
# 10.0.0.2:80 (the tuple's destination): merbridge's connect hooks look up this way
CONNECT = """
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    stw [%r10-12], 0x0200000a
    sth [%r10-6], 0x5000
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call 84
    jeq %r0, 0, out
    mov %r1, %r0
    call 86
    mov %r0, 1
out:
    exit
"""


@pytest.mark.parametrize("listening, verdict", [(True, 1), (False, 0)])
def test_a_connect_hook_looks_up(engine, listening, verdict):
    if engine == "kernel":
        pytest.skip("the kernel's lookups search this host's sockets, not env.sockets")
    env = bpfjit.load_elf(ELF / "sock_lb.o", section="cgroup/connect4").env
    prog = bpfjit.Program(bpfjit.assemble(CONNECT).insns, env=env, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type="connect4")
    if listening:
        env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80)))
    assert bpfjit.compile(prog, engine)(bpfjit.SockAddrContext("10.0.0.2", 80)) == verdict


def test_the_kernel_lets_a_connect_hook_look_up():
    if "kernel" not in bpfjit.engines(kernel=True):
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit import bpfsys
    code = bpfjit.assemble(CONNECT).to_bytes()
    bpfsys.close(bpfsys.prog_load(code, "cgroup_sock_addr", attach="connect4"))


# two sockets held together on one path (the second looked up only when the first was
# found) and neither on the other (r8 == 0); the NULL test of the first says the
# second is NULL too, and so not held: exiting there leaks nothing
TWO_TOGETHER = """
    mov %r6, 0
    mov %r7, 0
    ldxw %r8, [%r1+8]
    mov %r9, %r1
    stdw [%r10-16], 0
    stdw [%r10-8], 0
    jeq %r8, 0, joined
    mov %r1, %r9
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call 84
    jeq %r0, 0, out
    mov %r6, %r0
    mov %r1, %r9
    mov %r2, %r10
    add %r2, -16
    mov %r3, 12
    mov %r4, -1
    mov %r5, 0
    call 85
    jne %r0, 0, found
    mov %r1, %r6
    call 86
    ja out
found:
    mov %r7, %r0
joined:
    jeq %r6, 0, out
    mov %r1, %r6
    call 86
    mov %r1, %r7
    call 86
out:
    mov %r0, 0
    exit
"""


def test_sockets_null_together_are_let_go_together():
    prog = tc(TWO_TOGETHER)
    bpfjit.verify(prog, mode="strict", cache=False)
    assert kernel_verdict(prog) in (None, True)


def test_a_map_of_sockets_or_programs_has_no_ints():
    # ints() reads values as numbers: a socket map (and a program array) holds objects,
    # and says so rather than raising a TypeError
    prog = bpfjit.load_elf(ELF / "sk_lookup.o", function="tc_proxy")
    prog.maps["listeners"][0] = prog.env.sockets.add(bpfjit.Socket("tcp", local=("0.0.0.0", 1)))
    with pytest.raises(bpfjit.BpfError, match="'listeners' holds Socket objects, not numbers"):
        prog.maps["listeners"].ints()
    stages = bpfjit.load_elf(ELF / "tail_calls.o", function="dispatch").maps["stages"]
    stages[0] = "parse_ipv4"
    with pytest.raises(bpfjit.BpfError, match="'stages' holds Program objects, not numbers"):
        stages.ints()
