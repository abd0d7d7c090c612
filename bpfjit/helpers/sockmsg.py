"""An sk_msg program's helpers, on a bpfjit.SkMsgContext: the verdict's msg_redirect_map
(60), msg_redirect_hash (71), msg_apply_bytes (61), msg_cork_bytes (62), and the
message's msg_pull_data (63), msg_push_data (90), msg_pop_data (91); and an sk_skb
program's sk_redirect_map (52) and sk_redirect_hash (72), on a bpfjit.SkbContext.

A redirect names the socket of a sockmap entry (by u32 index) or a sockhash entry (by
the key the pointer gives) and is recorded as `ctx.redirect` (a Redirect whose target
is that bpfjit.Socket, `flags` BPF_F_INGRESS or 0); it returns SK_PASS (1), or SK_DROP
(0) when the entry is empty (or its socket left env.sockets), the socket may take no
redirect (the kernel's sock_map_redirect_allowed: a TCP socket listening, another not
connected) or the flags are other than BPF_F_INGRESS, as the kernel's.  apply_bytes and cork_bytes record how many bytes
the verdict covers or must wait for (`ctx.apply_bytes`, `ctx.cork_bytes`) and return 0.
Pull, push and pop reshape the message (bpfjit.context.sk_msg: which bytes data..data_end
show after each); like the kernel's, they leave every packet pointer invalid.
"""

from __future__ import annotations

from ..semantics import M32
from .packet import _resized
from .redirect import BPF_F_INGRESS, Redirect
from .spec import KernelHelper, Signature

__all__ = ["HELPERS"]

SK_DROP, SK_PASS = 0, 1


_TCP_ESTABLISHED, _TCP_LISTEN = 1, 10


def _redirect(call, the_map, key: bytes, flags: int) -> int:
    socket = the_map.socket(key)
    if flags & ~BPF_F_INGRESS or socket is None or call.env.sockets.offset_of(socket) is None:
        return SK_DROP
    if (socket.state == _TCP_LISTEN) if socket.protocol == "tcp" else \
            (socket.state != _TCP_ESTABLISHED):
        return SK_DROP
    call.context.redirect = Redirect(socket, the_map.name,
                                     int.from_bytes(key, "little") if len(key) <= 8 else key,
                                     flags)
    return SK_PASS


def _redirect_map(call, ctx, handle, key, flags, *_) -> int:
    """(an sk_skb program's ctx is its socket buffer's: the redirect goes on it too)"""
    _, the_map = call.the_map(handle)
    return _redirect(call, the_map, (key & 0xFFFFFFFF).to_bytes(4, "little"), flags)


def _redirect_hash(call, ctx, handle, key, flags, *_) -> int:
    _, the_map = call.the_map(handle)
    return _redirect(call, the_map, call.memory.read(key, the_map.key_size), flags)


def _apply(name: str):
    def record(call, ctx, count, *_) -> int:
        setattr(call.context, name, count & 0xFFFFFFFF)
        return 0
    return record


def _reshape(name: str):
    def reshape(call, ctx, start, other, flags, *_) -> int:
        return _resized(call, getattr(call.context, name)(start & M32, other & M32, flags))
    return reshape


_SK_MSG = frozenset(("sk_msg",))
_SK_SKB = frozenset(("sk_skb",))
_RESHAPE = Signature(("ctx", "any", "any", "any"), "errno", changes_packet=True,
                     contexts=_SK_MSG)

HELPERS = [
    KernelHelper(60, "msg_redirect_map", Signature(("ctx", "map", "any", "any"), (0, 1),
                                                   contexts=_SK_MSG,
                                                   map_types=frozenset({15})),
                 _redirect_map, "send the message to the socket of a sockmap entry "
                                "(ctx.redirect); SK_PASS, or SK_DROP for an empty one"),
    KernelHelper(71, "msg_redirect_hash", Signature(("ctx", "map", "key", "any"), (0, 1),
                                                    contexts=_SK_MSG,
                                                    map_types=frozenset({18})),
                 _redirect_hash, "send the message to the socket of a sockhash entry "
                                 "(ctx.redirect); SK_PASS, or SK_DROP for an empty one"),
    KernelHelper(52, "sk_redirect_map", Signature(("ctx", "map", "any", "any"), (0, 1),
                                                  prog_types=_SK_SKB,
                                                  map_types=frozenset({15})),
                 _redirect_map, "send the packet to the socket of a sockmap entry "
                                "(ctx.redirect); SK_PASS, or SK_DROP for an empty one"),
    KernelHelper(72, "sk_redirect_hash", Signature(("ctx", "map", "key", "any"), (0, 1),
                                                   prog_types=_SK_SKB,
                                                   map_types=frozenset({18})),
                 _redirect_hash, "send the packet to the socket of a sockhash entry "
                                 "(ctx.redirect); SK_PASS, or SK_DROP for an empty one"),
    KernelHelper(61, "msg_apply_bytes", Signature(("ctx", "any"), (0, 0), contexts=_SK_MSG),
                 _apply("apply_bytes"), "the verdict covers the next r2 bytes "
                                        "(ctx.apply_bytes)"),
    KernelHelper(62, "msg_cork_bytes", Signature(("ctx", "any"), (0, 0), contexts=_SK_MSG),
                 _apply("cork_bytes"), "wait for r2 bytes before the verdict "
                                       "(ctx.cork_bytes)"),
    KernelHelper(63, "msg_pull_data", _RESHAPE, _reshape("pull"),
                 "show the message's bytes [r2, r3) at data..data_end"),
    KernelHelper(90, "msg_push_data", _RESHAPE, _reshape("push"),
                 "insert r3 bytes (zeros) into the message at r2"),
    KernelHelper(91, "msg_pop_data", _RESHAPE, _reshape("pop"),
                 "remove r3 bytes of the message from r2"),
]
