"""The TCP socket-operations context, `struct bpf_sock_ops`, of sock_ops programs: the
kernel calls them at points of a TCP connection's life (`op`: BPF_SOCK_OPS_TCP_CONNECT_CB,
..._ACTIVE_ESTABLISHED_CB, ..._RTO_CB, ..._BASE_RTT, ...) to read its state, answer
(`reply`), tune it with bpf_setsockopt and ask for more callbacks
(bpf_sock_ops_cb_flags_set).

The block is the kernel's `struct bpf_sock_ops` (224 bytes).  Programs read its 4-byte
fields whole (`skb_tcp_flags` also its first one or two bytes), `bytes_received`,
`bytes_acked` and `skb_hwtstamp` as 8 bytes, and write `reply` (= `args[0]`) and
`sk_txhash` only: the kernel's rules (sock_ops_is_valid_access, measured against Linux
6.18).  Addresses are in network byte order, `local_port` in host order, `remote_port`
in network order in the upper half (`bpf_ntohl(remote_port)` is the port), as the
kernel shows them.  `sk` is the connection's socket (its `struct bpf_sock` follows the
block), or NULL when `is_fullsock` is 0, as the kernel types it: tested before use,
holding no reference.  bpfjit does not give the header-option callbacks'
`skb_data`/`skb_data_end`: loads of them are refused.  The program returns 0 or 1.
"""

from __future__ import annotations

import ipaddress
import struct

from ..errors import BpfError
from .base import SOCKET_SPAN, Field
from .tcp_sock import TCP_SOCK_FIELDS, pack_tcp_sock
from .socket import AF_INET, SOCK_STREAM, SocketContext, SocketOptions, connection_ends

__all__ = ["SockOpsContext", "SOCK_OPS_HEADER", "TCP_FIELDS", "ALL_CB_FLAGS"]

SOCK_OPS_SIZE = 224                    # sizeof(struct bpf_sock_ops), sk at 184
SOCK_OPS_HEADER = SOCK_OPS_SIZE + SOCKET_SPAN     # and the socket sk points at
ALL_CB_FLAGS = 0x7F                    # BPF_SOCK_OPS_ALL_CB_FLAGS
# the fields of a full TCP socket, from offset 76 on (0 when is_fullsock is 0)
TCP_FIELDS = ("snd_cwnd", "srtt_us", "bpf_sock_ops_cb_flags", "state", "rtt_min",
              "snd_ssthresh", "rcv_nxt", "snd_nxt", "snd_una", "mss_cache", "ecn_flags",
              "rate_delivered", "rate_interval_us", "packets_out", "retrans_out",
              "total_retrans", "segs_in", "data_segs_in", "segs_out", "data_segs_out",
              "lost_out", "sacked_out")
_U64 = {"bytes_received": 168, "bytes_acked": 176}


def _fields() -> dict[str, Field]:
    fields = [Field("op", 0, 4), Field("reply", 4, 4, writable=True)]
    fields += [Field(f"args{i}", 4 + 4 * i, 4) for i in range(1, 4)]
    fields += [Field("family", 20, 4), Field("remote_ip4", 24, 4), Field("local_ip4", 28, 4)]
    fields += [Field(f"remote_ip6_{i}", 32 + 4 * i, 4) for i in range(4)]
    fields += [Field(f"local_ip6_{i}", 48 + 4 * i, 4) for i in range(4)]
    fields += [Field("remote_port", 64, 4), Field("local_port", 68, 4),
               Field("is_fullsock", 72, 4)]
    fields += [Field(name, 76 + 4 * i, 4) for i, name in enumerate(TCP_FIELDS)]
    fields += [Field("sk_txhash", 164, 4, writable=True)]
    fields += [Field(name, offset, 8) for name, offset in _U64.items()]
    fields += [Field("sk", 184, 8, "socket_or_null", 184)]
    fields += [Field("skb_len", 208, 4), Field("skb_tcp_flags", 212, 4),
               Field("skb_tcp_flags_b", 212, 1), Field("skb_tcp_flags_h", 212, 2),
               Field("skb_hwtstamp", 216, 8)]
    return {f.name: f for f in fields}


class SockOpsContext(SocketOptions, SocketContext):
    """What a sock_ops program sees: `fn(SockOpsContext(op, local=("10.0.0.2", 80),
    remote=("10.0.0.1", 40000)))` returns 0 or 1; afterwards `.reply`, `.sk_txhash`,
    `.cb_flags` (what bpf_sock_ops_cb_flags_set left) and `.options` (the socket options
    bpf_setsockopt set, by (level, optname); bpf_getsockopt reads them) say what the
    program did.

    `args` the op's arguments (args[0] is `reply`'s slot); the TCP state fields
    (`snd_cwnd`, `srtt_us`, `state`, ...: TCP_FIELDS) and `bytes_received`,
    `bytes_acked` by keyword, read as 0 when `is_fullsock` is 0, as the kernel shows
    a request or time-wait socket's; `options` the socket's options before the run
    (by default its congestion control, TCP_CONGESTION, is "cubic");
    `congestion_algorithms` the names setsockopt may choose; `socket` the connection as
    a bpfjit.Socket (by default one of its addresses and ports), which
    bpf_sock_hash_update puts into a socket map (add it to `env.sockets` for a lookup
    of that map to find it)."""

    HEADER = SOCK_OPS_HEADER
    SOCKET_AT = SOCK_OPS_SIZE
    KIND = "sock_ops"
    PROGRAMS, USAGE = "sock_ops", "SockOpsContext(op, local=..., remote=...)"
    OUTCOME = "(reply, sk_txhash, cb_flags, options)"
    FIELDS = _fields()

    def __init__(self, op: int, *, local=("0.0.0.0", 0), remote=("0.0.0.0", 0),
                 args: tuple[int, ...] = (0, 0, 0, 0), is_fullsock: int = 1,
                 options: dict | None = None,
                 congestion_algorithms: tuple[str, ...] = ("reno", "cubic"),
                 socket=None, socket_cookie: int = 1, netns_cookie: int = 1, **tcp: int):
        super().__init__(SOCK_STREAM, None, socket_cookie, netns_cookie)
        unknown = set(tcp) - set(TCP_FIELDS) - set(_U64)
        if unknown:
            raise BpfError(f"SockOpsContext has no field {', '.join(sorted(unknown))} (the "
                           f"TCP fields are {', '.join(TCP_FIELDS + tuple(_U64))})")
        self.family, self._local, self.local_port, self._remote, self.remote_port = \
            connection_ends(local, remote)
        self.op = op
        self.args = list(args) + [0] * (4 - len(args))
        self.is_fullsock = is_fullsock
        self.tcp = {name: tcp.get(name, 0) for name in TCP_FIELDS + tuple(_U64)}
        self.cb_flags = self.tcp["bpf_sock_ops_cb_flags"]
        self.keep_options(options, congestion_algorithms)
        self.reply = self.args[0]
        self.sk_txhash = 0
        if socket is None:          # the connection, as a socket a socket map may hold
            from ..sockets import Socket    # (bpfjit.sockets imports this package)
            socket = Socket("tcp", local=(self.local_ip, self.local_port),
                            remote=(self.remote_ip, self.remote_port))
        self.socket = socket

    @property
    def local_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._local)

    @property
    def remote_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._remote)

    def write_fields(self) -> None:
        super().write_fields()
        block = self.buffer
        self.reset_options()
        self.cb_flags = self.tcp["bpf_sock_ops_cb_flags"]
        struct.pack_into("<I4I", block, 0, self.op & 0xFFFFFFFF,
                         *(a & 0xFFFFFFFF for a in self.args[:4]))
        struct.pack_into("<I", block, 20, self.family)
        if self.family == AF_INET:
            block[24:28], block[28:32] = self._remote, self._local
        else:
            block[32:48], block[48:64] = self._remote, self._local
        block[64:68] = self.remote_port.to_bytes(4, "big")
        struct.pack_into("<II", block, 68, self.local_port, self.is_fullsock)
        full = bool(self.is_fullsock)
        for i, name in enumerate(TCP_FIELDS):
            struct.pack_into("<I", block, 76 + 4 * i, self.tcp[name] & 0xFFFFFFFF if full else 0)
        for name, offset in _U64.items():
            struct.pack_into("<Q", block, offset, self.tcp[name] if full else 0)
        struct.pack_into("<I", block, 164, self.sk_txhash & 0xFFFFFFFF)

    def socket_block(self) -> bytes | None:
        """`socket`'s struct bpf_sock, its state the context's `state` (both are the
        socket's TCP state); None (a NULL `sk`) when is_fullsock is 0."""
        if not self.is_fullsock:
            return None
        block = bytearray(self.socket.block())
        struct.pack_into("<I", block, 72, self.tcp["state"] & 0xFFFFFFFF)
        return bytes(block)

    def tcp_block(self) -> bytes:
        """The connection's struct bpf_tcp_sock: the context's TCP fields (the same
        socket's), the others 0."""
        return pack_tcp_sock({name: value for name, value in self.tcp.items()
                              if name in TCP_SOCK_FIELDS})

    def set_cb_flags(self, flags: int) -> None:
        """bpf_sock_ops_cb_flags_set: the flags, and the field programs read."""
        self.cb_flags = flags
        struct.pack_into("<I", self.buffer, 84, flags)

    def read_back(self) -> None:
        self.reply, = struct.unpack_from("<I", self.buffer, 4)
        self.sk_txhash, = struct.unpack_from("<I", self.buffer, 164)

    def outcome(self) -> str:
        return f"({self.reply}, {self.sk_txhash}, {self.cb_flags}, {sorted(self.options.items())})"

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int]:
        return 0, 1

    @classmethod
    def narrow(cls, name: str) -> bool:
        return False            # skb_tcp_flags' first byte and half: fields of their own

    def __repr__(self) -> str:
        return f"<SockOpsContext op {self.op}>"
