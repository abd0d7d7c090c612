"""The sockets a program's lookups find (bpf_sk_lookup_tcp, bpf_sk_lookup_udp,
bpf_skc_lookup_tcp): the kernel's socket tables, as a test sets them up.

    env.sockets.add(bpfjit.Socket("tcp", local=("10.0.0.2", 80)))          # listening
    env.sockets.add(bpfjit.Socket("udp", local=("10.0.0.2", 53),
                                  remote=("10.0.0.1", 40000)))             # connected

Each socket is a `struct bpf_sock` (80 bytes, the kernel's layout) in one native arena
that never moves and that programs may only read (the verifier proves every read:
bpfjit.verifier.sockets); a lookup returns its address in the engine's address space.
The lookup follows the kernel's: the tuple's source is the remote end, its destination
the local one; for TCP an established socket matching all four first, then a listener
on the destination port bound to the destination address, else to the wildcard
address; for UDP the best match (a connected socket matching its remote end, a bound
address matching) among the sockets on that port.  A socket bound to a device
(`bound_dev_if`) matches only packets arriving there.  Each socket is in one network
namespace: the program's (`netns=None`), or one it names by its id (a lookup's netns
argument >= 0).  Not modelled: IPv4 packets reaching IPv6 sockets through
v4-mapped addresses, SO_REUSEPORT groups, request and time-wait sockets.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from .context.sock import pack_bpf_sock
from .context.tcp_sock import TCP_SOCK_SIZE, pack_tcp_sock, tcp_fields
from .errors import BpfError
from .native import ffi

__all__ = ["Socket", "SocketTable", "SOCKET_SIZE", "TCP_LISTEN", "TCP_ESTABLISHED",
           "TCP_CLOSE"]

SOCKET_SIZE = 80                    # sizeof(struct bpf_sock)
CAPACITY = 64                       # sockets per table
TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN = 1, 7, 10
_PROTOCOLS = {"tcp": (6, 1), "udp": (17, 2)}          # name -> (IPPROTO_*, SOCK_*)
AF_INET, AF_INET6 = 2, 10


def _endpoint(what: str, value, family: int | None) -> tuple[bytes, int]:
    """(address in network byte order, port) of an (address, port) pair."""
    try:
        address, port = value
        ip = ipaddress.ip_address(address if not isinstance(address, bytes) else
                                  int.from_bytes(address, "big") if len(address) == 4
                                  else ipaddress.IPv6Address(address))
    except (TypeError, ValueError):
        raise BpfError(f"a socket's {what} is (address, port), an IPv4 or IPv6 address "
                       f"and a port; got {value!r}") from None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise BpfError(f"a socket's {what} port is 0-65535, got {port!r}")
    if family is not None and (AF_INET if ip.version == 4 else AF_INET6) != family:
        raise BpfError(f"a socket's {what} address {ip} is not of its local address's family")
    return ip.packed, port


@dataclass(eq=False)
class Socket:
    """A socket the kernel's lookups may find.

    `protocol` "tcp" or "udp"; `local` its bound (address, port) — address 0.0.0.0 or
    :: for any; `remote` the peer's (address, port) for a connected socket, None for
    a listening (TCP) or unconnected (UDP) one; `state` the TCP state `struct bpf_sock`
    shows (default: 10, listen, without a remote, 1, established, with one; UDP: 7
    unconnected, 1 connected); `netns` None for the program's namespace or the id a
    lookup names another by; `bound_dev_if` the device it is bound to (0: any), and the
    fields `struct bpf_sock` shows as they are; `tcp` the fields of `struct
    bpf_tcp_sock` (bpf_tcp_sock's view of a TCP socket: snd_cwnd, srtt_us, ...; the
    others 0); `cgroup_id` the cgroup v2 id of the cgroup its task was in when it was
    made (bpf_skb_cgroup_id's answer; None: the current task's, env.cgroup_id);
    `classid` the net_cls classid of its cgroup (bpf_skb_cgroup_classid's answer; 0, as
    on a system with cgroup v2 alone)."""
    protocol: str
    local: tuple
    remote: tuple | None = None
    state: int | None = None
    netns: int | None = None
    bound_dev_if: int = 0
    mark: int = 0
    priority: int = 0
    rx_queue_mapping: int = -1
    tcp: dict = field(default_factory=dict)
    cgroup_id: int | None = None
    classid: int = 0
    family: int = field(init=False)

    def __post_init__(self) -> None:
        if self.protocol not in _PROTOCOLS:
            raise BpfError(f"a socket's protocol is \"tcp\" or \"udp\", not {self.protocol!r}")
        address, self._local_port = _endpoint("local", self.local, None)
        self.family = AF_INET if len(address) == 4 else AF_INET6
        self._local = address
        if self.remote is not None:
            self._remote, self._remote_port = _endpoint("remote", self.remote, self.family)
        else:
            self._remote, self._remote_port = bytes(len(address)), 0
        if self.state is None:
            connected = self.remote is not None
            self.state = TCP_ESTABLISHED if connected else \
                TCP_LISTEN if self.protocol == "tcp" else TCP_CLOSE
        if self.netns is not None and (not isinstance(self.netns, int)
                                       or not 0 <= self.netns <= 0x7FFFFFFF):
            raise BpfError(f"a socket's netns is None (the program's) or an id 0-2**31-1, "
                           f"not {self.netns!r}")
        self.tcp = tcp_fields(self.tcp)
        if self.cgroup_id is not None and (isinstance(self.cgroup_id, bool)
                                           or not isinstance(self.cgroup_id, int)
                                           or not 0 <= self.cgroup_id < 1 << 64):
            raise BpfError(f"a socket's cgroup_id is None (the current task's) or a "
                           f"64-bit unsigned int, not {self.cgroup_id!r}")
        for name in ("state", "bound_dev_if", "mark", "priority", "classid"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 0 <= value <= 0xFFFFFFFF:
                raise BpfError(f"a socket's {name} is a 32-bit unsigned int, not {value!r}")

    def block(self) -> bytes:
        """Its `struct bpf_sock` as programs read it: addresses in network byte order,
        src_port (local) in host order, dst_port (remote) in network order."""
        number, kind = _PROTOCOLS[self.protocol]
        out = bytearray(SOCKET_SIZE)
        pack_bpf_sock(out, self.bound_dev_if, self.family, kind, number, self.mark,
                      self.priority, self._local, self._local_port, self._remote,
                      self._remote_port, self.state, self.rx_queue_mapping)
        return bytes(out)

    def tcp_block(self) -> bytes:
        """Its `struct bpf_tcp_sock` (bpf_tcp_sock's view of a TCP socket): `tcp`'s
        fields, the others 0."""
        return pack_tcp_sock(self.tcp)

    def _score(self, protocol: str, family: int, remote: bytes, remote_port: int,
               local: bytes, local_port: int, ifindex: int, netns: int | None) -> int:
        """How well it matches a lookup: -1 not at all, else higher is better."""
        if self.protocol != protocol or self.family != family or self.netns != netns \
                or self._local_port != local_port:
            return -1
        if self.bound_dev_if and self.bound_dev_if != ifindex:
            return -1
        wildcard = bytes(len(local))
        if self._local not in (local, wildcard):
            return -1
        score = 1 + (self._local == local) * 4 + bool(self.bound_dev_if)
        if self.remote is not None:
            if (self._remote, self._remote_port) != (remote, remote_port):
                return -1
            score += 8
        if protocol == "tcp" and (self.remote is None) != (self.state == TCP_LISTEN):
            return -1       # a TCP socket is found established (4-tuple) or listening
        return score


class SocketTable:
    """The sockets of an environment, each a `struct bpf_sock` in one native arena."""

    def __init__(self) -> None:
        self.arena = ffi.new(f"uint8_t[{CAPACITY * SOCKET_SIZE}]")
        self.address = int(ffi.cast("uintptr_t", self.arena))
        # each socket's struct bpf_tcp_sock, at the same index (bpf_tcp_sock)
        self.tcp_arena = ffi.new(f"uint8_t[{CAPACITY * TCP_SOCK_SIZE}]")
        self.tcp_address = int(ffi.cast("uintptr_t", self.tcp_arena))
        self._slots: list[Socket | None] = [None] * CAPACITY

    def add(self, sock: Socket) -> Socket:
        """Make `sock` findable; it is returned."""
        if not isinstance(sock, Socket):
            raise BpfError(f"sockets.add takes a bpfjit.Socket, not {type(sock).__name__}")
        if any(s is sock for s in self._slots):
            raise BpfError("this socket is already in the table")
        try:
            index = self._slots.index(None)
        except ValueError:
            raise BpfError(f"a socket table holds up to {CAPACITY} sockets") from None
        self._slots[index] = sock
        ffi.memmove(self.arena + index * SOCKET_SIZE, sock.block(), SOCKET_SIZE)
        ffi.memmove(self.tcp_arena + index * TCP_SOCK_SIZE, sock.tcp_block(), TCP_SOCK_SIZE)
        return sock

    def remove(self, sock: Socket) -> None:
        """Make `sock` unfindable (BpfError when it is not in the table)."""
        for index, held in enumerate(self._slots):
            if held is sock:
                self._slots[index] = None
                ffi.memmove(self.arena + index * SOCKET_SIZE, bytes(SOCKET_SIZE), SOCKET_SIZE)
                ffi.memmove(self.tcp_arena + index * TCP_SOCK_SIZE, bytes(TCP_SOCK_SIZE),
                            TCP_SOCK_SIZE)
                return
        raise BpfError("this socket is not in the table")

    def clear(self) -> None:
        for sock in list(self):
            self.remove(sock)

    def __iter__(self):
        return iter([s for s in self._slots if s is not None])

    def __len__(self) -> int:
        return sum(s is not None for s in self._slots)

    def offset_of(self, sock: Socket | None) -> int | None:
        """Where `sock`'s struct bpf_sock starts in the arena; None when it is not in
        the table (or is None)."""
        for index, held in enumerate(self._slots):
            if held is sock and sock is not None:
                return index * SOCKET_SIZE
        return None

    def socket_at(self, offset: int) -> Socket | None:
        """The socket whose struct bpf_sock starts `offset` bytes into the arena."""
        index, rest = divmod(offset, SOCKET_SIZE)
        return self._slots[index] if not rest and 0 <= index < CAPACITY else None

    def view(self) -> memoryview:
        """The arena's bytes (the interpreter maps them read-only)."""
        return memoryview(ffi.buffer(self.arena))

    def tcp_view(self) -> memoryview:
        """The struct bpf_tcp_sock arena's bytes (mapped read-only too)."""
        return memoryview(ffi.buffer(self.tcp_arena))

    def lookup(self, protocol: str, tuple_bytes: bytes, ifindex: int,
               netns: int | None) -> int | None:
        """The offset in the arena of the socket a lookup of `struct bpf_sock_tuple`
        (12 bytes: IPv4, 36: IPv6; source = remote, destination = local) finds."""
        size = 4 if len(tuple_bytes) == 12 else 16
        family = AF_INET if size == 4 else AF_INET6
        remote, local = tuple_bytes[:size], tuple_bytes[size:2 * size]
        remote_port, local_port = struct.unpack_from("!HH", tuple_bytes, 2 * size)
        best, found = -1, None
        for index, sock in enumerate(self._slots):
            if sock is None:
                continue
            score = sock._score(protocol, family, remote, remote_port, local, local_port,
                                ifindex, netns)
            if score > best:
                best, found = score, index
        return None if found is None else found * SOCKET_SIZE
