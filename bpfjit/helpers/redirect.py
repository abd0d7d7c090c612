"""Where a packet goes: redirect (23), redirect_map (51), redirect_neigh (152),
redirect_peer (155), fib_lookup (69), check_mtu (163), and where a copy of it goes:
clone_redirect (13).

A redirect is recorded on the context (`ctx.redirect`, a Redirect) so that a test can
assert where the packet went; the program's return value says whether it will
(XDP_REDIRECT for XDP, TC_ACT_REDIRECT for tc).  A clone sent on is recorded in
`ctx.clones` (a Clone each, with the packet as it was at the call).  fib_lookup asks
the routing callback of the loaded object (`prog.env.routes`), so a test decides the
routes, and check_mtu the MTUs of its devices (`prog.env.mtus`).
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

from ..errors import HelperArgumentError
from ..semantics import M64
from .spec import KernelHelper, Signature

__all__ = ["HELPERS", "Redirect", "Clone", "FibRequest", "FibResult", "FIB_PARAMS_SIZE",
           "REDIRECT", "REDIRECT_MAP", "REDIRECT_MAP_FLAGS", "XDP_ABORTED", "XDP_REDIRECT"]

XDP_ABORTED, XDP_REDIRECT, TC_ACT_SHOT, TC_ACT_REDIRECT = 0, 4, 2, 7
REDIRECT = 23               # bpf_redirect's id (native in XDP programs: backends.helperops)
REDIRECT_MAP = 51           # bpf_redirect_map's (answered in line: backends.mapops)
BPF_F_INGRESS = 1
REDIRECT_MAP_FLAGS = 0x3 | 0x8 | 0x10       # fallback action, BROADCAST, EXCLUDE_INGRESS
_TARGET_TYPES = frozenset({14, 16, 17, 25})   # devmap, cpumap, xskmap, devmap_hash


@dataclass(frozen=True)
class Redirect:
    """Where a program redirected its packet: through `map` (its name) at `key` to
    `target` (the entry's number: an ifindex, a CPU's queue size, an XSK; for an sk_msg
    program the bpfjit.Socket of a socket map, a sockhash's key as bytes when longer
    than 8), or
    (map None) straight to the device `target`, or with `peer` to the peer device of
    `target` (a veth's other end, bpf_redirect_peer).  `flags` as the program passed
    them."""
    target: object
    map: str | None = None
    key: int | bytes | None = None
    flags: int = 0
    peer: bool = False


@dataclass(frozen=True)
class Clone:
    """A copy of the packet that a tc program sent to device `target` with
    bpf_clone_redirect (to its ingress when `flags` has BPF_F_INGRESS), as the packet
    was at the call; the program went on with the original."""
    target: int
    packet: bytes
    flags: int = 0


def _record(call, redirect: Redirect) -> None:
    ctx = call.context
    if ctx is not None:
        ctx.redirect = redirect


def redirect(call, r1, r2, r3, r4, r5) -> int:
    """bpf_redirect(ifindex, flags): XDP_REDIRECT (XDP) or TC_ACT_REDIRECT (tc); XDP
    takes no flags (XDP_ABORTED otherwise), tc only BPF_F_INGRESS (TC_ACT_SHOT)."""
    xdp = call.context_kind == "xdp"
    flags = r2 & 0xFFFFFFFF
    if flags & ~(0 if xdp else BPF_F_INGRESS):
        return XDP_ABORTED if xdp else TC_ACT_SHOT
    _record(call, Redirect(r1 & 0xFFFFFFFF, flags=flags))
    return XDP_REDIRECT if xdp else TC_ACT_REDIRECT


def clone_redirect(call, r1, r2, r3, r4, r5) -> int:
    """bpf_clone_redirect(skb, ifindex, flags): 0, and a copy of the packet as it is now
    goes to device r2 (recorded in ctx.clones); -EINVAL for flags other than
    BPF_F_INGRESS, and nothing sent.  (The kernel also answers -EINVAL for a device that
    does not exist; here every device does, as for redirect.)"""
    flags = r3 & M64
    if flags & ~BPF_F_INGRESS:
        return -errno.EINVAL & M64
    ctx = call.context
    if ctx is not None:
        ctx.clones.append(Clone(r2 & 0xFFFFFFFF, ctx.packet, flags))
    return 0


def redirect_map(call, r1, r2, r3, r4, r5) -> int:
    """bpf_redirect_map(map, key, flags): XDP_REDIRECT when the entry exists, else the
    action in the low two bits of flags."""
    index, m = call.the_map(r1)
    if m.spec.type not in _TARGET_TYPES:
        raise HelperArgumentError(f"redirect_map: map {m.name!r} is a {m.spec.type_name}, "
                                  f"not a devmap, devmap_hash, cpumap or xskmap")
    flags = r3 & M64
    if flags & ~REDIRECT_MAP_FLAGS:
        return XDP_ABORTED
    key = (r2 & 0xFFFFFFFF).to_bytes(4, "little")
    slot = m.lookup_slot(key)
    if slot is None:
        return flags & 0x3
    target = int.from_bytes(m.slot_bytes(slot)[:4], "little")
    _record(call, Redirect(target, m.name, r2 & 0xFFFFFFFF, flags))
    return XDP_REDIRECT


# ---- fib_lookup ---------------------------------------------------------------------------

# struct bpf_fib_lookup: family (0), l4_protocol (1), sport (2), dport (4), tot_len in /
# mtu_result out (6), ifindex (8), tos/flowinfo (12), ipv4_src or ipv6_src (16),
# ipv4_dst or ipv6_dst (32), h_vlan_proto, h_vlan_TCI (48), smac (52), dmac (58)
FIB_PARAMS_SIZE = 64
_FIB_HEAD = struct.Struct("<BBHHHI")          # family .. ifindex (12 bytes)
AF_INET, AF_INET6 = 2, 10
BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LKUP_RET_NOT_FWDED = 0, 4


@dataclass(frozen=True)
class FibRequest:
    """What a program asks bpf_fib_lookup: addresses as bytes (4 or 16, network order)."""
    family: int
    src: bytes
    dst: bytes
    ifindex: int
    l4_protocol: int
    tot_len: int


@dataclass(frozen=True)
class FibResult:
    """A route: the egress device, the next hop's and our MAC addresses, the MTU."""
    ifindex: int
    dmac: bytes
    smac: bytes
    mtu: int = 1500


def fib_lookup(call, r1, r2, r3, r4, r5) -> int:
    """bpf_fib_lookup(ctx, params, plen, flags): asks `env.routes(FibRequest)`; a
    FibResult fills params in (BPF_FIB_LKUP_RET_SUCCESS), None answers
    BPF_FIB_LKUP_RET_NOT_FWDED (the default: no routes)."""
    if r3 < FIB_PARAMS_SIZE:
        return -errno.EINVAL & M64
    mem = call.memory
    params = bytearray(mem.read(r2, FIB_PARAMS_SIZE))
    family, proto, _, _, tot_len, ifindex = _FIB_HEAD.unpack_from(params)
    if family == AF_INET:
        src, dst = bytes(params[16:20]), bytes(params[32:36])
    elif family == AF_INET6:
        src, dst = bytes(params[16:32]), bytes(params[32:48])
    else:
        return -errno.EAFNOSUPPORT & M64
    routes = call.env.routes
    result = routes(FibRequest(family, src, dst, ifindex, proto, tot_len)) if routes else None
    if result is None:
        return BPF_FIB_LKUP_RET_NOT_FWDED
    if not isinstance(result, FibResult):
        raise HelperArgumentError(f"fib_lookup: the routing callback returned "
                                  f"{type(result).__name__}, not a FibResult or None")
    struct.pack_into("<H", params, 6, result.mtu & 0xFFFF)       # mtu_result
    struct.pack_into("<I", params, 8, result.ifindex & 0xFFFFFFFF)
    params[52:58] = result.smac[:6].ljust(6, b"\0")
    params[58:64] = result.dmac[:6].ljust(6, b"\0")
    mem.write(r2, bytes(params))
    return BPF_FIB_LKUP_RET_SUCCESS


# ---- check_mtu ----------------------------------------------------------------------------

ETH_HLEN = 14                   # every device's hard_header_len: Ethernet
DEFAULT_MTU = 1500              # the packet's own device, unless env.mtus says otherwise
MTU_CHK_SEGS = 1                # BPF_MTU_CHK_SEGS
MTU_SUCCESS, MTU_FRAG_NEEDED = 0, 1     # BPF_MTU_CHK_RET_SUCCESS, _FRAG_NEEDED


def device_mtu(call, ifindex: int) -> int | None:
    """The MTU of device `ifindex` (0: the packet's own: the context's ifindex, or an XDP
    frame's ingress_ifindex) from env.mtus; the packet's own device has DEFAULT_MTU
    unless listed, and another device not listed does not exist (None)."""
    ctx = call.context
    own = ctx.ingress_ifindex if ctx.KIND == "xdp" else ctx.ifindex
    ifindex = ifindex or own
    mtu = call.env.mtus.get(ifindex)
    return DEFAULT_MTU if mtu is None and ifindex == own else mtu


def check_mtu(call, r1, r2, r3, r4, r5) -> int:
    """(ctx, ifindex, &mtu_len, len_diff, flags), as the kernel's bpf_skb_check_mtu and
    bpf_xdp_check_mtu: whether the packet, `len_diff` bytes longer (or, where mtu_len
    is not 0, an L3 length of mtu_len + len_diff), fits device r2's MTU plus its
    Ethernet header: 0, else 1 (BPF_MTU_CHK_RET_FRAG_NEEDED), with the device's MTU
    written to mtu_len; -EINVAL for unknown flags (XDP: any; tc: BPF_MTU_CHK_SEGS with
    a len_diff or an mtu_len), -ENODEV for a device env.mtus does not have.  bpfjit's
    packets are never GSO, so a longer one needs fragmenting whatever the flags."""
    ctx, memory = call.context, call.memory
    flags, diff = r5 & M64, (r4 & 0xFFFFFFFF) - ((r4 & 0x80000000) << 1)
    given = int.from_bytes(memory.read(r3, 4), "little")
    if flags & ~(0 if ctx.KIND == "xdp" else MTU_CHK_SEGS) or flags and (diff or given):
        return -errno.EINVAL & M64
    mtu = device_mtu(call, r2 & 0xFFFFFFFF)
    if mtu is None:
        return -errno.ENODEV & M64
    length = (given + ETH_HLEN if given else len(ctx)) + diff
    memory.write(r3, (mtu & 0xFFFFFFFF).to_bytes(4, "little"))
    return MTU_SUCCESS if length <= mtu + ETH_HLEN else MTU_FRAG_NEEDED


def redirect_neigh(call, r1, r2, r3, r4, r5) -> int:
    """(ifindex, params, plen, flags): TC_ACT_REDIRECT to device r1, its neighbour
    resolved by the kernel (recorded as ctx.redirect)."""
    if r4:
        return TC_ACT_SHOT
    _record(call, Redirect(r1 & 0xFFFFFFFF))
    return TC_ACT_REDIRECT


def redirect_peer(call, r1, r2, r3, r4, r5) -> int:
    """(ifindex, flags): TC_ACT_REDIRECT to the peer of device r1 (recorded as
    ctx.redirect, peer=True); any flag is TC_ACT_SHOT, as the kernel has none."""
    if r2:
        return TC_ACT_SHOT
    _record(call, Redirect(r1 & 0xFFFFFFFF, peer=True))
    return TC_ACT_REDIRECT


HELPERS = [
    KernelHelper(152, "redirect_neigh", Signature(("any", "mem_or_null", "size_or_zero", "any"),
                                                  (0, 8), contexts=frozenset({"skb"})),
                 redirect_neigh, "send the packet to device r1 via its neighbour"),
    KernelHelper(155, "redirect_peer", Signature(("any", "any"), (2, 7),
                                                 contexts=frozenset({"skb"})),
                 redirect_peer, "send the packet to the peer of device r1 (a veth's other "
                 "end)"),
    KernelHelper(REDIRECT, "redirect", Signature(("any", "any"), (0, 8)), redirect,
                 "send the packet to device r1 (recorded as ctx.redirect)"),
    KernelHelper(13, "clone_redirect", Signature(("ctx", "any", "any"), "scalar",
                                                 changes_packet=True,
                                                 contexts=frozenset({"skb"})),
                 clone_redirect, "send a copy of the packet to device r2 (ctx.clones)"),
    KernelHelper(51, "redirect_map", Signature(("map", "any", "any"), (0, 4),
                                               contexts=frozenset({"xdp"}),
                                               map_types=_TARGET_TYPES),
                 redirect_map, "send the packet to entry r2 of a devmap, cpumap or xskmap"),
    KernelHelper(69, "fib_lookup", Signature(("ctx", "out", "size", "any"), "scalar",
                                             contexts=frozenset({"xdp", "skb"})),
                 fib_lookup, "route the packet described at r2 (answered by env.routes)"),
    KernelHelper(163, "check_mtu", Signature(("ctx", "any", "inout_u32", "any", "any"),
                                             "scalar", contexts=frozenset({"xdp", "skb"})),
                 check_mtu, "whether the packet, r4 bytes longer, fits device r2's MTU "
                            "(env.mtus), which it writes at r3"),
]
