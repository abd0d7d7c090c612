"""Program contexts: what r1 points at when a program of a given type starts.

`Program.context` names one: "xdp" (`struct xdp_md`, bpfjit.XdpContext), "skb"
(`struct __sk_buff` for socket filters and tc, bpfjit.SkbContext), "sock_addr"
(`struct bpf_sock_addr` for cgroup sock_addr programs, bpfjit.SockAddrContext), "sock"
(`struct bpf_sock` for cgroup sock programs, bpfjit.SockContext), "sock_ops" (`struct
bpf_sock_ops`, bpfjit.SockOpsContext), "sk_msg" (`struct sk_msg_md`, bpfjit.SkMsgContext),
"sockopt" (`struct bpf_sockopt`, bpfjit.SockoptContext), "sk_lookup" (`struct
bpf_sk_lookup`, bpfjit.SkLookupContext), "device" (`struct bpf_cgroup_dev_ctx`,
bpfjit.DeviceContext), "sysctl" (`struct bpf_sysctl`, bpfjit.SysctlContext), or None
for bpfjit's
plain convention (r1 = the buffer, r2 = its length).  The verifier reads
each context's field table; the engines its block size and class.
"""

from __future__ import annotations

from .base import Field, PacketContext, copy_back, copy_packet_back, refuse_context
from .device import DeviceContext
from .skb import SKB_HEADER, TC_ACTIONS, SkbContext, frame_protocol, legacy_headers, net16
from .sock import SOCK_ATTACH_TYPES, SockContext
from .sock_addr import ATTACH_TYPES, SOCK_ADDR_RETURNS, SockAddrContext
from .sk_lookup import SK_LOOKUP_RETURNS, SkLookupContext
from .sk_msg import SK_ACTIONS, SkMsgContext
from .sock_ops import SockOpsContext
from .sockopt import SOCKOPT_ATTACH_TYPES, SockoptContext
from .sysctl import SysctlContext
from .tunnel import TunnelInfo
from .xdp import XDP_ACTIONS, XDP_HEADER, XdpContext

__all__ = ["CONTEXTS", "Field", "PacketContext", "XdpContext", "SkbContext", "copy_back",
           "copy_packet_back",
           "refuse_context", "packet_offsets",
           "context_field", "XDP_HEADER", "SKB_HEADER", "XDP_ACTIONS", "TC_ACTIONS",
           "legacy_headers", "net16", "frame_protocol", "TunnelInfo", "SockAddrContext",
           "ATTACH_TYPES", "SOCK_ADDR_RETURNS", "SockContext", "SOCK_ATTACH_TYPES",
           "SockOpsContext", "SkMsgContext", "SK_ACTIONS", "SockoptContext",
           "SOCKOPT_ATTACH_TYPES", "SkLookupContext", "SK_LOOKUP_RETURNS", "DeviceContext",
           "SysctlContext"]

CONTEXTS: dict[str, type[PacketContext]] = {"xdp": XdpContext, "skb": SkbContext,
                                             "sock_addr": SockAddrContext,
                                             "sock": SockContext,
                                             "sock_ops": SockOpsContext,
                                             "sk_msg": SkMsgContext,
                                             "sockopt": SockoptContext,
                                             "sk_lookup": SkLookupContext,
                                             "device": DeviceContext,
                                             "sysctl": SysctlContext}


def packet_offsets(kind: str | None) -> tuple[int, int | None]:
    """For Program.context `kind`, as offsets from the packet's start: where the context
    block begins (0 without a context), and where it keeps data_meta, the start of the
    metadata in use (None when the context has no metadata room)."""
    cls = CONTEXTS.get(kind)
    if cls is None:
        return 0, None
    meta = cls.FIELDS["data_meta"].slot - cls.HEADER if cls.META_ROOM else None
    return -cls.HEADER, meta


def context_field(kind: str, offset: int, size: int, attach: str | None = None,
                  prog_type: str | None = None) -> tuple[Field, int, int] | None:
    """The field an access of `size` bytes at `offset` of context `kind` reads, with
    the offset and size of the rewritten access in the block; None if none does (or
    the program's attach type, or type, may not touch it).

    Pointer fields take exactly a 32-bit load; scalar fields a load of their size,
    or any load within them (within `narrow_bytes` of them) where the kernel allows
    narrow loads (`__sk_buff`); every access at a multiple of its size."""
    cls = CONTEXTS[kind]
    if cls.ALIGNED_LOADS and offset % size:
        return None
    allowed = cls.accessible(attach, prog_type)
    for field in cls.FIELDS.values():
        if allowed is not None and field.name not in allowed:
            continue
        if field.kind != "scalar":
            if offset == field.offset and size == field.size:
                return field, field.slot, 8
            continue
        reach = field.size if field.narrow_bytes is None else field.narrow_bytes
        if (offset == field.offset and size == field.size) or (
                cls.narrow(field.name) and field.offset <= offset
                and offset + size <= field.offset + reach
                and (offset == field.offset or not field.narrow_start)):
            return field, field.slot + offset - field.offset, size
    return None
