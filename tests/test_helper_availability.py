"""Which program types may call which helper, as the kernel decides it: each program
type's `func_proto` gives some helpers and not others, and a program calling one its
type lacks is refused at load ("program of this type cannot use helper").  bpfjit's
registry says the same (Signature.contexts, prog_types, attach_types; the table
bpfjit.helpers.KERNEL_PROGRAM_TYPES), so that a program tested here loads there.

Where this process may load programs, every helper of the registry is called from a
program of every type and hook bpfjit runs, with zeroed arguments, and the kernel's
verdict (it refuses that helper, or something else) is compared with the registry's.
The cases below it were measured so on Linux 6.18 and hold on any machine."""

from __future__ import annotations

import pytest

import bpfjit
from bpfjit import bpfsys
from bpfjit.helpers import KERNEL_HELPERS
from bpfjit.progtypes import PROG_TYPES

from context_oracle import kernel_allows_helper

KERNEL = "kernel" in bpfjit.engines(kernel=True)
TYPES = [("xdp", None), ("sched_cls", None), ("sched_act", None), ("socket_filter", None),
         ("cgroup_skb", "ingress"), ("cgroup_skb", "egress"), ("cgroup_sock", "sock_create"),
         ("cgroup_sock", "post_bind4"), ("cgroup_sock", "sock_release"),
         ("sock_ops", None), ("sk_msg", None), ("cgroup_sockopt", "getsockopt"),
         ("cgroup_sockopt", "setsockopt"), ("sk_lookup", None),
         ("sk_skb", "stream_verdict"), ("sk_skb", "stream_parser"),
         ("cgroup_device", None), ("cgroup_sysctl", None)] + [
    ("cgroup_sock_addr", f"{hook}{v}") for hook in ("bind", "connect", "sendmsg", "recvmsg",
                                                    "getpeername", "getsockname")
    for v in ("4", "6")]


def registry_allows(helper: int, prog_type: str, attach: str | None) -> bool:
    h = KERNEL_HELPERS[helper]
    context = PROG_TYPES[prog_type].context
    return h.signature_for(context).refusal(h.name, context, prog_type, attach) is None


def test_the_registry_gives_what_the_kernel_gives():
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    verdicts = {(h, prog_type, attach): kernel_allows_helper(h, prog_type, attach)
                for h in sorted(KERNEL_HELPERS) for prog_type, attach in TYPES}
    # a helper the running kernel gives no program type at all is one its build leaves
    # out (Linux 6.18.44-fc: bpf_xdp_adjust_meta, which mainline gives XDP)
    absent = {h for h in KERNEL_HELPERS
              if not any(verdicts[h, prog_type, attach] for prog_type, attach in TYPES)}
    differ = [(KERNEL_HELPERS[h].name, prog_type, attach)
              for (h, prog_type, attach), allowed in verdicts.items()
              if h not in absent and registry_allows(h, prog_type, attach) != allowed]
    assert differ == []


@pytest.mark.parametrize("helper, prog_type, attach, allowed", [
    (9, "socket_filter", None, False),      # skb_store_bytes: tc's
    (9, "sched_cls", None, True),
    (9, "cgroup_skb", "ingress", False),
    (23, "xdp", None, True),                # redirect: tc's and XDP's
    (23, "sock_ops", None, False),
    (28, "sk_msg", None, False),            # csum_diff
    (84, "socket_filter", None, False),     # sk_lookup_tcp
    (84, "cgroup_skb", "egress", True),
    (86, "sk_lookup", None, True),          # sk_release
    (86, "sock_ops", None, False),
    (160, "cgroup_sockopt", "getsockopt", False),   # ktime_get_coarse_ns
    (160, "socket_filter", None, True),
])
def test_measured_cases(helper, prog_type, attach, allowed):
    assert registry_allows(helper, prog_type, attach) is allowed


# ---- what the kernel gives that bpfjit gave no program type before 2026-12-03 -----------------

from bpfjit.kernel import KernelEnv                 # noqa: E402
from bpfjit.maps import MapSpec, MapTable, make_map  # noqa: E402
from context_oracle import kernel_loads              # noqa: E402

# bpf_setsockopt(ctx, SOL_SOCKET, SO_MARK, &7, 4), then bpf_getsockopt of it into the
# stack: r0 = the value read back, or 100 + -error when either call fails
SET_MARK = """
    {first}
    stw [%r10-4], 7
    mov %r1, %r6
    mov %r2, 1
    mov %r3, 36
    mov %r4, %r10
    add %r4, -4
    mov %r5, 4
    call 49
    mov %r7, %r0
    stw [%r10-8], 0
    mov %r1, %r6
    mov %r2, 1
    mov %r3, 36
    mov %r4, %r10
    add %r4, -8
    mov %r5, 4
    call 57
    or %r0, %r7
    jne %r0, 0, fail
    ldxw %r0, [%r10-8]
    {exit}
fail:
    neg %r0
    add %r0, 100
    {exit}
"""


# r1 is the context, or (sockopt programs) the context's socket, ctx->sk
@pytest.mark.parametrize("context, prog_type, attach, first, make", [
    ("sock_addr", "cgroup_sock_addr", "connect4", "mov %r6, %r1",
     lambda: bpfjit.SockAddrContext("10.0.0.2", 80)),
    ("sock_addr", "cgroup_sock_addr", "sendmsg6", "mov %r6, %r1",
     lambda: bpfjit.SockAddrContext("fd00::2", 53, type=2)),
    ("sockopt", "cgroup_sockopt", "setsockopt", "ldxdw %r6, [%r1+0]",
     lambda: bpfjit.SockoptContext(1, 7, bytes(4))),
])
def test_a_socket_option_set_and_read_back(engine, context, prog_type, attach, first, make):
    if engine == "kernel":
        pytest.skip("the kernel engine runs no cgroup programs")
    # a sock_addr or sockopt program must return 0 or 1: the value read back is kept in
    # the options, r0 is 1 when it was 7
    text = SET_MARK.format(first=first, exit="mov %r1, %r0\n    mov %r0, 0\n    jne %r1, 7, +1\n"
                                "    mov %r0, 1\n    exit")
    prog = bpfjit.Program(bpfjit.assemble(text).insns, env=KernelEnv(MapTable([])),
                          context=context, prog_type=prog_type, attach_type=attach)
    ctx = make()
    assert bpfjit.compile(prog, engine)(ctx) == 1
    assert ctx.options == {(1, 36): 7}
    if KERNEL:
        assert kernel_loads(prog.to_bytes(), prog_type, attach)


def test_a_tc_program_reads_its_netns_cookie(engine):
    if engine == "kernel":
        pytest.skip("the kernel's test run has its own namespace's cookie")
    prog = bpfjit.Program(bpfjit.assemble("call 122\nexit").insns,
                          env=KernelEnv(MapTable([])), context="skb", prog_type="sched_cls")
    assert bpfjit.compile(prog, engine)(bpfjit.SkbContext(bytes(64), netns_cookie=5)) == 5


# a cgroup sock program keeps a counter per socket: bpf_sk_storage_get(map, ctx, NULL,
# F_CREATE), then *value += 1; r0 = 1 (the socket may be created)
STORAGE = """
    mov %r2, %r1
    lddw %r1, map_by_fd(0)
    mov %r3, 0
    mov %r4, 1
    call 107
    jeq %r0, 0, out
    ldxdw %r1, [%r0+0]
    add %r1, 1
    stxdw [%r0+0], %r1
out:
    mov %r0, 1
    exit
"""


def test_a_cgroup_sock_program_keeps_storage_for_its_socket(engine):
    if engine == "kernel":
        pytest.skip("the kernel engine runs no cgroup programs")
    storage = make_map(MapSpec("counts", 24, 4, 8, 0, flags=1))
    prog = bpfjit.Program(bpfjit.assemble(STORAGE).insns, env=KernelEnv(MapTable([storage])),
                          context="sock", prog_type="cgroup_sock", attach_type="sock_create")
    fn = bpfjit.compile(prog, engine)
    first, second = bpfjit.SockContext(), bpfjit.SockContext()
    assert (fn(first), fn(first), fn(second)) == (1, 1, 1)
    assert storage[first] == (2).to_bytes(8, "little")
    assert storage[second] == (1).to_bytes(8, "little")
    if KERNEL:
        from bpfjit.backends.kerneljit import _with_map_fds
        fd = bpfsys.map_create(24, 4, 8, 0, flags=1, btf=True)
        try:
            assert kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), "cgroup_sock",
                                "sock_create")
        finally:
            bpfsys.close(fd)


# ---- map lookups: which maps each program type may look up --------------------------------

# (type, key size, value size, max entries, flags) of each kind of map bpfjit has that a
# lookup takes or refuses: hash and array kinds, LPM, redirect targets, socket maps,
# queues and a ring buffer
MAP_KINDS = [(1, 4, 8, 4, 0), (2, 4, 8, 4, 0), (5, 4, 8, 4, 0), (6, 4, 8, 4, 0), (9, 4, 8, 4, 0),
             (10, 4, 8, 4, 0), (11, 8, 8, 4, 1), (14, 4, 4, 4, 0), (15, 4, 8, 4, 0),
             (16, 4, 4, 4, 0), (17, 4, 4, 4, 0), (18, 4, 8, 4, 0), (25, 4, 4, 4, 0),
             (22, 0, 8, 4, 0), (23, 0, 8, 4, 0), (27, 0, 0, 4096, 0)]
LOOKUP = """
    stdw [%r10-8], 0
    mov %r2, %r10
    add %r2, -8
    lddw %r1, map_by_fd(0)
    call 1
    jeq %r0, 0, +2
    {release}
    mov %r0, 1
    exit
"""


def test_map_lookups_as_the_kernel_allows():
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    from bpfjit.backends.kerneljit import _with_map_fds
    differ = []
    for map_type, key, value, entries, flags in MAP_KINDS:
        the_map = make_map(MapSpec("m", map_type, key, value, entries, flags=flags))
        # a socket map's lookup holds a reference, given back
        release = "mov %r1, %r0\n    call 86" if map_type in (15, 18) else "ja +0"
        for prog_type, attach in TYPES:
            prog = bpfjit.Program(bpfjit.assemble(LOOKUP.format(release=release)).insns,
                                  env=KernelEnv(MapTable([the_map])),
                                  context=PROG_TYPES[prog_type].context,
                                  prog_type=prog_type, attach_type=attach)
            try:
                bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog), cache=False)
                mine = True
            except bpfjit.VerifierError:
                mine = False
            fd = bpfsys.map_create(map_type, key, value, entries, flags=flags)
            try:
                theirs = kernel_loads(_with_map_fds(prog.to_bytes(), [fd]), prog_type, attach)
            finally:
                bpfsys.close(fd)
            if mine != theirs:
                differ.append((the_map.spec.type_name, prog_type, attach, mine))
    assert differ == []


def test_return_values_as_the_kernel_checks_them():
    # each type and hook's exit range (xdp, tc, socket filters, sock_ops, sk_msg: any;
    # cgroup programs 0 or 1, cgroup_skb egress 0-3, bind 0-3, ...)
    if not KERNEL:
        pytest.skip("the kernel engine is not available here (root or CAP_BPF)")
    differ = []
    for prog_type, attach in TYPES:
        for r0 in (-1, 0, 1, 2, 3, 4, 7):
            prog = bpfjit.Program(bpfjit.assemble(f"mov %r0, {r0}\nexit").insns,
                                  context=PROG_TYPES[prog_type].context,
                                  prog_type=prog_type, attach_type=attach)
            try:
                bpfjit.verify(prog, cache=False)
                mine = True
            except bpfjit.VerifierError:
                mine = False
            if mine != kernel_loads(prog.to_bytes(), prog_type, attach):
                differ.append((prog_type, attach, r0, mine))
    assert differ == []
