"""The registry of the kernel's helpers bpfjit provides: id -> KernelHelper (name,
signature, implementation, one line of doc).  The verifier reads the signatures,
the engines bind the implementations (bpfjit.kernel), and the docs list them
(`bpfjit helpers`)."""

from __future__ import annotations

import dataclasses

from . import (events, locks, loops, maps, misc, packet, redirect, snprintf, sockets, sockmsg,
               sockopts, storage, strings, sysctl, timers, trace, tunnel)
from .maps import MAX_TAIL_CALLS, TailCalled
from .redirect import Clone, FibRequest, FibResult, Redirect
from .sockets import TCP_SOCK
from .spec import ARG_KINDS, RESULT_KINDS, Helper, KernelHelper, Signature

__all__ = ["KERNEL_HELPERS", "KERNEL_SIGNATURES", "HELPER_NAMES", "Helper", "KernelHelper", "Signature",
           "TailCalled", "Redirect", "Clone", "FibRequest", "FibResult",
           "MAX_TAIL_CALLS",
           "ARG_KINDS", "RESULT_KINDS", "signature_of", "PACKET_CHANGERS", "changes_packet",
           "SOCKET_LOOKUPS", "TCP_SOCK", "kernel_signatures"]

# the kernel's helpers that may be given a pointer into the packet (the kernel's
# `pkt_access`: the map helpers that read a key or value, csum_diff, the socket
# lookups' tuple); every other refuses one, "helper access to the packet is not
# allowed" (measured against Linux 6.18: tests/test_packet_arguments.py)
PACKET_ARGUMENTS = frozenset((1, 2, 3, 87, 28, 84, 85, 99, 100))
# the program types the kernel gives these helpers, where they are fewer than their
# contexts' (measured against Linux 6.18 for every helper and program type:
# tests/test_helper_availability.py): the socket buffer's helpers are tc's, not socket
# filters' or cgroup_skb's; redirect, csum_diff and fib_lookup are tc's and XDP's.
# bpfjit's own plain programs (no kernel type) keep the helpers that need no context.
_TC = frozenset(("sched_cls", "sched_act"))
_TC_XDP = _TC | {"xdp"}
_LOOKERS = _TC_XDP | {"cgroup_skb", "cgroup_sock_addr"}
_SK_SKB = frozenset(("sk_skb",))          # a socket map's stream parser and verdict
KERNEL_PROGRAM_TYPES = {
    **{hid: _TC for hid in (10, 11, 13, 18, 19, 20, 21, 31, 32, 34, 40, 41, 48, 152, 155)},
    **{hid: _TC | _SK_SKB for hid in (9, 38, 39, 43, 50)},
    23: _TC_XDP | {"plain"}, 28: _TC_XDP | {"plain"}, 69: _TC_XDP, 100: _TC_XDP,
    135: _TC, 163: _TC_XDP,
    68: _TC | {"socket_filter", "cgroup_skb"},
    84: _LOOKERS | _SK_SKB, 85: _LOOKERS | _SK_SKB, 99: _LOOKERS | _SK_SKB,
    86: _LOOKERS | _SK_SKB | {"sk_lookup"},
    97: _TC | {"cgroup_skb"}, 79: _TC | {"cgroup_skb"}, 124: _TC, 151: _TC,
    122: _TC | {"socket_filter", "cgroup_skb", "cgroup_sock", "cgroup_sock_addr",
                "cgroup_sockopt", "sock_ops", "sk_msg"},
    160: _TC_XDP | _SK_SKB | {"plain", "socket_filter", "cgroup_skb", "cgroup_sock",
                              "cgroup_sock_addr", "sock_ops", "sk_msg", "sk_lookup",
                              "cgroup_sysctl"},
}


def _as_the_kernel(hid: int, signature: Signature, variant: bool = False) -> Signature:
    """The signature with the kernel's pkt_access and, unless a context's own prototype
    (a variant), its program types."""
    types = signature.prog_types if variant else \
        KERNEL_PROGRAM_TYPES.get(hid, signature.prog_types)
    return dataclasses.replace(signature, packet_access=hid in PACKET_ARGUMENTS,
                               prog_types=types)


KERNEL_HELPERS: dict[int, KernelHelper] = {
    h.id: dataclasses.replace(h, signature=_as_the_kernel(h.id, h.signature), variants=tuple(
        (contexts, _as_the_kernel(h.id, s, True)) for contexts, s in h.variants))
    for module in (maps, misc, trace, redirect, events, packet, tunnel, loops,
                   locks, timers, sockets, sockmsg, sockopts, storage, strings, snprintf,
                   sysctl)
    for h in module.HELPERS}
HELPER_NAMES = {hid: h.name for hid, h in sorted(KERNEL_HELPERS.items())}
KERNEL_SIGNATURES = {hid: h.signature for hid, h in KERNEL_HELPERS.items()}


def kernel_signatures(context: str | None) -> dict[int, Signature]:
    """The kernel's helper signatures as programs of `context` see them (a helper with
    another prototype for that context has it)."""
    return {hid: h.signature_for(context) for hid, h in KERNEL_HELPERS.items()}
# the helpers that may resize the packet: JIT code reloads its length after calling them
PACKET_CHANGERS = frozenset(hid for hid, h in KERNEL_HELPERS.items()
                            if h.signature.changes_packet)
# the helpers that return a socket of env.sockets (whose arena the interpreter maps)
SOCKET_LOOKUPS = frozenset(hid for hid, h in KERNEL_HELPERS.items()
                           if h.signature.result in ("sock_or_null", "sock_common_or_null"))


def changes_packet(prog) -> bool:
    """Whether a run of `prog` may resize its packet (a loaded program with a context
    that calls one of PACKET_CHANGERS, or one that calls helpers by register)."""
    from ..isa import Kind
    if prog.env is None or prog.context is None:
        return False
    return any(insn.kind is Kind.CALLX or (insn.kind is Kind.CALL and insn.imm in PACKET_CHANGERS)
               for insn in prog.insns)


def calls_helpers(prog) -> bool:
    """Whether `prog` calls any helper (by id, by BTF id or by register)."""
    from ..isa import Kind
    return any(insn.kind in (Kind.CALL, Kind.CALL_BTF, Kind.CALLX) for insn in prog.insns)


def signature_of(helper_id: int, fn: object, kernel: bool,
                 context: str | None = None) -> Signature | None:
    """What the verifier knows of helper `helper_id` bound to `fn`: a Helper's declared
    signature, the kernel helper's (for programs of `context`) when `fn` is the kernel's
    own (kernel=True and no replacement), else None (arguments unchecked, any scalar
    returned)."""
    if isinstance(fn, Helper):
        return fn.signature
    found = KERNEL_HELPERS.get(helper_id) if kernel and fn is None else None
    return None if found is None else found.signature_for(context)
