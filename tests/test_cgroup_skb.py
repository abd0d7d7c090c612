"""cgroup_skb programs: the socket buffer of a cgroup's traffic, which starts at the
network header; 1 allows the packet, 0 drops it.  From a clang-built egress filter
(tests/elf/cgroup_egress.c), on every engine."""

import struct
from pathlib import Path

import pytest

import bpfjit

ELF = Path(__file__).parent / "elf"
IPV4 = 0x0008             # ETH_P_IP as skb->protocol holds it: network order, low half
IPV6 = 0xDD86


def ipv4(proto: int, dport: int, payload: bytes = b"x" * 8) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 24 + len(payload), 0, 0, 64, proto, 0,
                     bytes((10, 0, 0, 1)), bytes((10, 0, 0, 2)))
    return ip + struct.pack("!HH", 40000, dport) + payload


@pytest.mark.parametrize("packet, protocol, verdict, mark", [
    (ipv4(6, 23), IPV4, 0, 0),           # TCP to port 23: denied
    (ipv4(6, 80), IPV4, 1, 0),           # TCP to port 80: allowed
    (ipv4(17, 53), IPV4, 1, 53),         # UDP to port 53: allowed and marked
    (bytes(40), IPV6, 1, 0),             # not IPv4: allowed, counted only
])
def test_egress_filter_allows_denies_marks_and_counts(engine, packet, protocol, verdict,
                                                      mark):
    prog = bpfjit.load_elf(ELF / "cgroup_egress.o")
    assert prog.prog_type == "cgroup_skb" and prog.context == "skb"
    fn = bpfjit.compile(prog, engine)
    skb = bpfjit.SkbContext(packet, protocol=protocol)
    assert fn(skb) == verdict
    assert skb.mark == mark
    # one packet of len(packet) bytes, counted whatever the verdict
    assert prog.maps["egress"].ints() == {0: 1, 1: len(packet)}


def test_egress_filter_is_proven_in_strict_mode():
    prog = bpfjit.load_elf(ELF / "cgroup_egress.o")
    verified = bpfjit.verify(prog, mode="strict", helpers=bpfjit.helper_ids(prog))
    assert verified.proven == frozenset(verified.accesses)


@pytest.mark.parametrize("field, offset, allowed", [
    ("mark", 8, True), ("priority", 32, True), ("cb0", 48, True),
    ("tc_index", 44, False), ("queue_mapping", 12, False), ("tc_classid", 72, False),
])
def test_cgroup_skb_programs_write_the_fields_the_kernel_lets_them(field, offset, allowed):
    # cg_skb_is_valid_access: mark, priority, cb[] and tstamp; not tc's fields
    prog = bpfjit.Program(bpfjit.assemble(f"stw [%r1+{offset}], 1\nmov %r0, 1\nexit").insns,
                          context="skb", prog_type="cgroup_skb")
    if allowed:
        bpfjit.verify(prog)
    else:
        # (tc_classid is not even readable there: no field of a cgroup_skb program)
        with pytest.raises(bpfjit.VerifierError, match=f"cgroup_skb programs may not write "
                                                       f".*{field}|not a field of a cgroup_skb"):
            bpfjit.verify(prog)


@pytest.mark.parametrize("section, hook, r0, allowed", [
    ("cgroup_skb/ingress", "ingress", 1, True), ("cgroup_skb/ingress", "ingress", 2, False),
    ("cgroup/skb", None, 2, False),                      # no hook named: ingress's range
    ("cgroup_skb/egress", "egress", 3, True),             # egress: bit 1 asks for CN
    ("cgroup_skb/egress", "egress", 4, False),
])
def test_the_hook_decides_what_a_program_may_return(section, hook, r0, allowed):
    from bpfjit.progtypes import attach_type
    assert attach_type(section) == hook
    prog = bpfjit.Program(bpfjit.assemble(f"mov %r0, {r0}\nexit").insns, context="skb",
                          prog_type="cgroup_skb", attach_type=hook)
    if allowed:
        bpfjit.verify(prog, cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="returns 0 to"):
            bpfjit.verify(prog, cache=False)
    if "kernel" in bpfjit.engines(kernel=True):
        from context_oracle import kernel_loads
        assert kernel_loads(prog.to_bytes(), "cgroup_skb", hook) is allowed


def test_tc_programs_return_anything():
    prog = bpfjit.Program(bpfjit.assemble("mov %r0, 99\nexit").insns, context="skb",
                          prog_type="sched_cls")
    bpfjit.verify(prog, cache=False)


# the packet is a cgroup_skb program's to read, not to write (the kernel's
# may_access_direct_pkt_data: "cannot write into packet"); tc programs may
WRITE = """
    ldxw %r2, [%r1+76]
    ldxw %r3, [%r1+80]
    mov %r4, %r2
    add %r4, 1
    jgt %r4, %r3, +1
    stb [%r2+0], 0x46
    mov %r0, 1
    exit
"""


@pytest.mark.parametrize("prog_type, allowed", [("cgroup_skb", False), ("sched_cls", True)])
def test_cgroup_skb_programs_do_not_write_the_packet(prog_type, allowed):
    prog = bpfjit.Program(bpfjit.assemble(WRITE).insns, context="skb", prog_type=prog_type,
                          attach_type="ingress" if prog_type == "cgroup_skb" else None)
    if allowed:
        bpfjit.verify(prog, cache=False)
    else:
        with pytest.raises(bpfjit.VerifierError, match="pc 5: cgroup_skb programs may not "
                                                       "write the packet"):
            bpfjit.verify(prog, cache=False)
    from context_oracle import kernel_loads
    assert kernel_loads(prog.to_bytes(), prog_type, prog.attach_type) in (None, allowed)
