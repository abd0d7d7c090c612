"""Context accesses as the running kernel allows them, for the contexts of XDP, socket
filters, tc and cgroup_skb programs, cgroup sock, sock_addr and device programs: every offset
and size of a load and a store, verified here and loaded there (the other contexts'
tests do the same: test_sock_ops, test_sk_msg, test_sockopt, test_sk_lookup_context).

On 2026-12-03 this found, where bpfjit accepted what the kernel refuses: loads at an
offset that is no multiple of their size; `__sk_buff`'s socket fields (family ...
local_port) read by tc programs and socket filters, `tc_classid`, `data_meta` and
`wire_len` by cgroup_skb programs and socket filters, `data`/`data_end`, `tstamp` and
`hwtstamp` by socket filters, the two timestamps in part, and the remote and local
addresses in part; `xdp_md.egress_ifindex` outside devmap programs; and `bpf_sock`'s
padding after `dst_port`.  And the kernel accepts what bpfjit refused: 1- and 2-byte
stores into `cb[]`, `tstamp_type`'s byte (tc), `bpf_sock`'s family, type, protocol,
state, rx_queue_mapping and src_port in part, and 8-byte loads and stores of two
`user_ip6` / `msg_src_ip6` words at once.  The cases below the kernel comparison were
measured so and hold on any machine."""

from __future__ import annotations

import pytest

import bpfjit
from context_oracle import disagreements

KERNEL = "kernel" in bpfjit.engines(kernel=True)


@pytest.mark.parametrize("context, prog_type, attach, end", [
    ("xdp", "xdp", None, 32), ("xdp", "xdp", "devmap", 32),
    ("skb", "sched_cls", None, 200), ("skb", "socket_filter", None, 200),
    ("skb", "cgroup_skb", "ingress", 200), ("skb", "sk_skb", "stream_verdict", 200),
    ("sock", "cgroup_sock", "sock_create", 84), ("sock", "cgroup_sock", "post_bind4", 84),
    ("sock", "cgroup_sock", "post_bind6", 84),
    ("sock_addr", "cgroup_sock_addr", "connect4", 76),
    ("sock_addr", "cgroup_sock_addr", "sendmsg6", 76),
    ("sock_addr", "cgroup_sock_addr", "bind6", 76),
    ("sock_addr", "cgroup_sock_addr", "recvmsg4", 76),
    ("device", "cgroup_device", None, 16),
])
def test_every_access_as_the_kernel_decides(context, prog_type, attach, end):
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    assert disagreements(context, prog_type, end, set(), attach) == []


@pytest.mark.parametrize("context, prog_type, attach, access, allowed", [
    ("skb", "sched_cls", None, "ldxh %r2, [%r1+1]", False),        # misaligned
    ("skb", "sched_cls", None, "ldxh %r2, [%r1+2]", True),
    ("skb", "sched_cls", None, "ldxw %r2, [%r1+88]", False),       # family: not tc's
    ("skb", "cgroup_skb", "ingress", "ldxw %r2, [%r1+88]", True),
    ("skb", "cgroup_skb", "ingress", "ldxb %r2, [%r1+92]", False),  # remote_ip4 in part
    ("skb", "socket_filter", None, "ldxw %r2, [%r1+76]", False),   # data
    ("skb", "sched_cls", None, "ldxw %r2, [%r1+152]", False),      # tstamp in part
    ("skb", "sched_cls", None, "ldxdw %r2, [%r1+152]", True),
    ("skb", "sched_cls", None, "ldxb %r2, [%r1+180]", True),       # tstamp_type
    ("skb", "socket_filter", None, "mov %r2, 0\nstxb [%r1+49], %r2", True),   # cb[0]
    ("skb", "sched_cls", None, "mov %r2, 0\nstxh [%r1+66], %r2", True),       # cb[4]
    ("xdp", "xdp", None, "ldxw %r2, [%r1+20]", False),             # egress_ifindex
    ("xdp", "xdp", "devmap", "ldxw %r2, [%r1+20]", True),
    ("sock", "cgroup_sock", "sock_create", "ldxb %r2, [%r1+4]", True),    # family
    ("sock", "cgroup_sock", "sock_create", "ldxb %r2, [%r1+50]", False),  # padding
    ("device", "cgroup_device", None, "ldxh %r2, [%r1+2]", True),    # access_type's half
    ("device", "cgroup_device", None, "ldxb %r2, [%r1+5]", False),   # major in part
    ("device", "cgroup_device", None, "ldxdw %r2, [%r1+0]", False),  # two fields at once
    ("device", "cgroup_device", None, "mov %r2, 0\nstxw [%r1+4], %r2", False),  # read-only
    ("sock_addr", "cgroup_sock_addr", "connect6", "ldxdw %r2, [%r1+16]", True),
    ("sock_addr", "cgroup_sock_addr", "connect6", "mov %r2, 0\nstxdw [%r1+8], %r2", True),
    ("sock_addr", "cgroup_sock_addr", "sendmsg6", "ldxdw %r2, [%r1+48]", True),
    ("sock_addr", "cgroup_sock_addr", "connect4", "ldxdw %r2, [%r1+8]", False),
])
def test_measured_cases(context, prog_type, attach, access, allowed):
    prog = bpfjit.Program(bpfjit.assemble(f"{access}\nmov %r0, 1\nexit").insns,
                          context=context, prog_type=prog_type, attach_type=attach)
    try:
        bpfjit.verify(prog, cache=False)
        verdict = True
    except bpfjit.VerifierError:
        verdict = False
    assert verdict is allowed


# ---- what the new accesses do, on every engine -----------------------------------------------

# a tc program writes 0xab into cb[0]'s second byte and 0x1234 into cb[4]'s low half, then
# reads cb[0] whole: 0xab00 | what cb[0] held there before (0x11223344 -> 0x1122ab44)
CB_BYTES = """
    mov %r2, 0xab
    stxb [%r1+49], %r2
    mov %r2, 0x1234
    stxh [%r1+64], %r2
    ldxw %r0, [%r1+48]
    exit
"""


def test_cb_written_a_byte_at_a_time(engine):
    prog = bpfjit.Program(bpfjit.assemble(CB_BYTES).insns, context="skb", prog_type="sched_cls")
    ctx = bpfjit.SkbContext(bytes(64), cb=(0x11223344, 0, 0, 0, 0x55667788))
    assert bpfjit.compile(prog, engine)(ctx) == 0x1122AB44
    if engine != "kernel":          # (the kernel engine reports r0 only for cb)
        assert ctx.cb[4] == 0x55661234


# a connect6 hook rewrites the destination's first 8 bytes with one store (fd00:: -> the
# words 0x20010db8, 0) and reads the last 8 with one load
IP6_PAIRS = """
    lddw %r2, 0xb80d0120
    stxdw [%r1+8], %r2
    ldxdw %r3, [%r1+16]
    mov %r0, 1
    jne %r3, 0x02000000, +1
    exit
    mov %r0, 0
    exit
"""


def test_two_address_words_at_once(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine runs no cgroup programs")
    prog = bpfjit.Program(bpfjit.assemble(IP6_PAIRS).insns, context="sock_addr",
                          prog_type="cgroup_sock_addr", attach_type="connect6")
    ctx = bpfjit.SockAddrContext("fd00::2:0:0", 80)
    assert bpfjit.compile(prog, engine)(ctx) == 1
    assert str(ctx.address) == "2001:db8::2:0:0"
