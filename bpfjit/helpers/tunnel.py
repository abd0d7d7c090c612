"""Tunnel metadata: skb_get_tunnel_key (20) and skb_set_tunnel_key (21), on the
socket buffer's bpfjit.context.TunnelInfo, as net/core/filter.c reads and writes
`struct bpf_tunnel_key` (44 bytes; the older 8-, 22-, 24- and 28-byte layouts too)."""

from __future__ import annotations

import errno
import struct

from ..context.tunnel import (TUNNEL_CSUM, TUNNEL_DONT_FRAGMENT, TUNNEL_KEY, TUNNEL_NOCACHE,
                              TUNNEL_SEQ, TunnelInfo)
from ..semantics import M32, M64
from .spec import KernelHelper, Signature, zero_fill, errno_result as _err

__all__ = ["HELPERS"]

KEY_SIZE = 44
# the older layouts: up to remote_ipv6[1], tunnel_ext, tunnel_label, local_ipv6
_COMPAT = (8, 22, 24, 28)
# set flags: TUNINFO_IPV6, ZERO_CSUM_TX, DONT_FRAGMENT, SEQ_NUMBER, NO_TUNNEL_KEY
_IPV6, _ZERO_CSUM, _DONT_FRAGMENT, _SEQ, _NO_KEY = 1, 2, 4, 8, 16
_TUNINFO_FLAGS = 16                                  # get: report the tunnel flags
_FLOW_LABEL = 0xFFFFF
_SKB = frozenset({"skb"})


def skb_get_tunnel_key(call, r1, r2, r3, r4, r5) -> int:
    """Fill the struct at r2 (r3 bytes) from the packet's tunnel metadata; without
    any, or with flags or a size the kernel refuses, zero it and return -EINVAL
    (-EPROTO when the flags ask for the other address family)."""
    size, flags = r3 & M32, r4 & M64
    info = call.context.tunnel_info
    memory = call.memory
    if info is None or flags & ~(_IPV6 | _TUNINFO_FLAGS):
        error = errno.EINVAL
    elif bool(flags & _IPV6) != info.ipv6:              # asked for the other family
        error = errno.EPROTO
    elif size != KEY_SIZE and size not in _COMPAT:
        error = errno.EINVAL
    else:
        error = 0
    if error:
        zero_fill(memory, r2, size)
        return _err(error)
    key = bytearray(KEY_SIZE)
    struct.pack_into("<I", key, 0, info.tunnel_id & M32)
    key[20:22] = bytes((info.tos & 0xFF, info.ttl & 0xFF))
    if flags & _TUNINFO_FLAGS:
        key[22:24] = struct.pack(">H", info.flags & 0xFFFF)
    if flags & _IPV6:
        key[4:20], key[28:44] = info.src, info.dst
        struct.pack_into("<I", key, 24, info.label & M32)
    else:
        struct.pack_into("<I", key, 4, int.from_bytes(info.src, "big"))
        struct.pack_into("<I", key, 28, int.from_bytes(info.dst, "big"))
    memory.write(r2, bytes(key[:size]))
    return 0


def skb_set_tunnel_key(call, r1, r2, r3, r4, r5) -> int:
    """Give the packet tunnel metadata for the device that sends it, from the struct
    at r2 (r3 bytes): remote address as destination, local as source."""
    size, flags = r3 & M32, r4 & M64
    if flags & ~(_IPV6 | _ZERO_CSUM | _DONT_FRAGMENT | _SEQ | _NO_KEY):
        return _err(errno.EINVAL)
    if size != KEY_SIZE and size not in _COMPAT:
        return _err(errno.EINVAL)
    key = call.memory.read(r2, size) + bytes(KEY_SIZE - size)
    tunnel_id, = struct.unpack_from("<I", key, 0)
    tos, ttl, ext, label = struct.unpack_from("<BBHI", key, 20)
    if ext or (label and not flags & _IPV6):
        return _err(errno.EINVAL)
    tunnel_flags = (TUNNEL_NOCACHE | (TUNNEL_DONT_FRAGMENT if flags & _DONT_FRAGMENT else 0)
                    | (0 if flags & _ZERO_CSUM else TUNNEL_CSUM)
                    | (TUNNEL_SEQ if flags & _SEQ else 0)
                    | (0 if flags & _NO_KEY else TUNNEL_KEY))
    if flags & _IPV6:
        src, dst, label = key[28:44], key[4:20], label & _FLOW_LABEL
    else:
        src = struct.unpack_from("<I", key, 28)[0].to_bytes(4, "big")
        dst = struct.unpack_from("<I", key, 4)[0].to_bytes(4, "big")
        label = 0
    call.context.tunnel_info = TunnelInfo(src, dst, tunnel_id, tos, ttl, label, tunnel_flags)
    return 0


HELPERS = [
    KernelHelper(20, "skb_get_tunnel_key", Signature(("ctx", "out", "size", "any"), "errno",
                                                     contexts=_SKB),
                 skb_get_tunnel_key, "from ctx.tunnel_info (-EINVAL, zeroed, without one)"),
    KernelHelper(21, "skb_set_tunnel_key", Signature(("ctx", "mem", "size", "any"), "errno",
                                                     contexts=_SKB),
                 skb_set_tunnel_key, "sets ctx.tunnel_info (bpfjit.context.TunnelInfo)"),
]
