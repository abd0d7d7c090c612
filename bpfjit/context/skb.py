"""The socket-buffer context, `struct __sk_buff`, of socket filters, tc and cgroup_skb
programs.

The block is the kernel's `struct __sk_buff` layout (192 bytes: every scalar field
at its own offset), followed by three 8-byte slots for `data`, `data_end` and
`data_meta`, which programs read with 32-bit loads as packet pointers.  tc programs
may write `mark`, `priority`, `cb[]`, `tc_index`, `tc_classid`, `queue_mapping` and
`tstamp`; cgroup_skb programs `mark`, `priority`, `cb[]` and `tstamp`; socket filters
only `cb[]`.  A cgroup's packets start at the network header: give `protocol`.  After a run those fields are attributes of
the context again, so a test can assert what the program set.
"""

from __future__ import annotations

import struct

from ..errors import BpfError
from .base import SOCKET_SPAN, Field, PacketContext

__all__ = ["SkbContext", "SKB_HEADER", "TC_ACTIONS", "legacy_headers", "net16",
           "frame_protocol"]

_STRUCT_SIZE = 192                   # sizeof(struct __sk_buff)
_POINTERS = struct.Struct("<QQQ")    # data, data_end, data_meta after the struct
_SOCKET_AT = _STRUCT_SIZE + _POINTERS.size      # then the struct bpf_sock sk points at
SKB_HEADER = _SOCKET_AT + SOCKET_SPAN
TC_ACTIONS = {0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT", 3: "TC_ACT_PIPE",
              4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT",
              7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP", 0xFFFFFFFF: "TC_ACT_UNSPEC"}

_U32 = ("len", "pkt_type", "mark", "queue_mapping", "protocol", "vlan_present", "vlan_tci",
        "vlan_proto", "priority", "ingress_ifindex", "ifindex", "tc_index",
        "cb0", "cb1", "cb2", "cb3", "cb4", "hash", "tc_classid")
# cb[0..1] and cb[2..3] as one u64 each: the kernel's 8-byte cb accesses (8-aligned,
# ending inside cb[4]); the block keeps cb[] where the 4-byte fields are
_CB_PAIRS = ("cb0_1", "cb2_3")
_SOCKET_WRITABLE = {"cb0", "cb1", "cb2", "cb3", "cb4", *_CB_PAIRS}
_TC_WRITABLE = {"mark", "priority", "tc_index", "tc_classid", "queue_mapping", "tstamp",
                *_SOCKET_WRITABLE}
_CGROUP_WRITABLE = _SOCKET_WRITABLE | {"mark", "priority", "tstamp"}
# what each program type may not read (the kernel's sk_filter_, tc_cls_act_ and
# cg_skb_is_valid_access, measured against Linux 6.18: tests/test_context_access.py):
# the socket's addresses and ports are cgroup_skb's alone, the packet pointers not a
# socket filter's, ...
_SOCKET_FIELDS = {"family", "remote_ip4", "local_ip4", "remote_port", "local_port"} | {
    f"{end}_ip6_{i}" for end in ("remote", "local") for i in range(4)}
_UNREADABLE = {
    "sched_cls": _SOCKET_FIELDS, "sched_act": _SOCKET_FIELDS,
    "cgroup_skb": {"tc_classid", "data_meta", "wire_len", "tstamp_type"},
    "socket_filter": _SOCKET_FIELDS | {"tc_classid", "data", "data_end", "data_meta",
                                       "tstamp", "wire_len", "hwtstamp", "tstamp_type"},
    "sk_skb": {"mark", "tc_classid", "data_meta", "tstamp", "wire_len", "tstamp_type",
               "hwtstamp"},
}
_SK_SKB_WRITABLE = {"priority", "tc_index"}
# fields read whole only: the timestamps (u64), the socket's addresses
_WHOLE = {"tstamp", "hwtstamp", "remote_ip4", "local_ip4"} | {
    f"{end}_ip6_{i}" for end in ("remote", "local") for i in range(4)}
_CB = {"cb0", "cb1", "cb2", "cb3", "cb4"}


def legacy_headers(prog_type: str | None) -> tuple[int | None, int]:
    """Where a program's packet has its MAC header (None: not in it) and its network
    header, for the legacy loads' SKF_LL_OFF and SKF_NET_OFF offsets: a socket filter
    or tc program sees the frame from its MAC header, the network header after the
    14-byte Ethernet header, as the kernel sets it; a cgroup_skb program's packet
    starts at the network header."""
    return (None, 0) if prog_type == "cgroup_skb" else (0, 14)


def net16(value: int) -> int:
    """A 16-bit protocol number and its network-byte-order form, as `protocol` and
    `vlan_proto` hold it (each is the other's)."""
    return int.from_bytes((value & 0xFFFF).to_bytes(2, "little"), "big")


def frame_protocol(type_field: bytes, following: bytes) -> int:
    """The protocol number a receiver gives a frame whose type field (after the MAC
    addresses, or a VLAN tag's) is `type_field`, as eth_type_trans does: the type, or
    for a length (below 0x600) 802.3 raw (ETH_P_802_3, 1) when 0xffff follows, else
    802.2 LLC (ETH_P_802_2, 4)."""
    number = int.from_bytes(type_field, "big")
    if number >= 0x600:
        return number
    return 0x0001 if following[:2] == b"\xff\xff" else 0x0004


def _fields() -> dict[str, Field]:
    fields = [Field(name, 4 * i, 4, writable=name in _TC_WRITABLE) for i, name in enumerate(_U32)]
    fields += [Field("data", 76, 4, "data", _STRUCT_SIZE),
               Field("data_end", 80, 4, "data_end", _STRUCT_SIZE + 8),
               Field("napi_id", 84, 4), Field("family", 88, 4),
               Field("remote_ip4", 92, 4), Field("local_ip4", 96, 4)]
    fields += [Field(f"remote_ip6_{i}", 100 + 4 * i, 4) for i in range(4)]
    fields += [Field(f"local_ip6_{i}", 116 + 4 * i, 4) for i in range(4)]
    fields += [Field("remote_port", 132, 4), Field("local_port", 136, 4),
               Field("data_meta", 140, 4, "data_meta", _STRUCT_SIZE + 16),
               Field("tstamp", 152, 8, writable=True), Field("wire_len", 160, 4),
               Field("gso_segs", 164, 4), Field("sk", 168, 8, "sock_common_or_null", 168),
               Field("gso_size", 176, 4), Field("tstamp_type", 180, 1),
               Field("hwtstamp", 184, 8)]
    fields += [Field(name, 48 + 8 * i, 8, writable=True) for i, name in enumerate(_CB_PAIRS)]
    return {f.name: f for f in fields}


# the scalar fields every run's block holds (SkbContext.field_values), in the order of
# their offsets, and one struct that writes them all with zeros around them: the whole
# struct __sk_buff in one pack (24 writes of one field each cost ~7 us a call)
_WRITTEN = ("len", "pkt_type", "mark", "queue_mapping", "protocol", "vlan_present",
            "vlan_tci", "vlan_proto", "priority", "ingress_ifindex", "ifindex", "tc_index",
            "cb0", "cb1", "cb2", "cb3", "cb4", "hash", "tc_classid", "tstamp", "wire_len",
            "gso_segs")
_MARK, _QUEUE_MAPPING, _PRIORITY, _TC_INDEX, _CB0, _TC_CLASSID, _TSTAMP = (
    _WRITTEN.index(name) for name in ("mark", "queue_mapping", "priority", "tc_index",
                                      "cb0", "tc_classid", "tstamp"))
_U32_AT = struct.Struct("<I")
_WIRE_LEN = 160


def _block_struct(fields: dict[str, Field]) -> struct.Struct:
    """The struct writing the fields of _WRITTEN at their offsets, zeros elsewhere."""
    spec, at = "<", 0
    for name in _WRITTEN:
        field = fields[name]
        assert field.offset >= at, "_WRITTEN is in the order of the offsets"
        spec += "x" * (field.offset - at) + {4: "I", 8: "Q"}[field.size]
        at = field.offset + field.size
    return struct.Struct(spec + "x" * (_STRUCT_SIZE - at))


_BLOCK = _block_struct(_fields())
# every attribute of a context made for packet bytes that is not the packet's
# (SkbContext.__init__'s defaults; SkbContext._reload)
MAX_CSUM_LEVEL = 3          # the kernel's SKB_MAX_CSUM_LEVEL
_FRESH = {"netns_cookie": 1, "mark": 0, "priority": 0, "ifindex": 1, "ingress_ifindex": 1,
          "hash": 0, "vlan_tci": None, "vlan_proto": 0, "queue_mapping": 0, "tc_index": 0,
          "tc_classid": 0, "pkt_type": 0, "tstamp": 0, "tunnel_info": None, "ingress": True,
          "socket": None, "assigned": None, "redirect": None, "csum_level": None}


class SkbContext(PacketContext):
    """A packet for a socket filter or tc program, with the `__sk_buff` fields they read.

    `protocol` is the EtherType as the kernel stores it (network byte order in the
    low 16 bits); by default it is taken from bytes 12-13 of the packet.  After the
    run, `.packet` is the packet as the program left it and `mark`, `priority`,
    `tc_index`, `tc_classid`, `queue_mapping`, `tstamp` and `cb` what it wrote;
    `.assigned` the socket bpf_sk_assign gave the packet (only at tc ingress:
    `ingress=False` makes it a packet leaving, as the kernel's egress hook sees it).
    `socket` is the bpfjit.Socket the packet belongs to, which `sk` points at (a
    sock_common: tested for NULL first), None for none (NULL); `netns_cookie` the
    cookie of its device's network namespace, what bpf_get_netns_cookie returns.
    `csum_level` is how many of its checksums the device verified, less one
    (CHECKSUM_UNNECESSARY at that level, 0 to 3), None for none (CHECKSUM_NONE, as a
    test run's packet): what bpf_csum_level reads and changes.
    """

    HEADER = SKB_HEADER
    SOCKET_AT = _SOCKET_AT
    SPARE = 4096                     # what skb_change_head / adjust_room / change_tail may add
    KIND = "skb"
    NARROW_LOADS = True
    FIELDS = _fields()

    def __init__(self, packet: bytes | bytearray | memoryview, *, protocol: int | None = None,
                 mark: int = 0, priority: int = 0, ifindex: int = 1, ingress_ifindex: int = 1,
                 hash: int = 0, vlan_tci: int | None = None, vlan_proto: int = 0,
                 queue_mapping: int = 0, tc_index: int = 0, tc_classid: int = 0,
                 pkt_type: int = 0, tstamp: int = 0, cb: tuple[int, ...] = (0,) * 5,
                 ingress: bool = True, socket=None, netns_cookie: int = 1,
                 csum_level: int | None = None):
        super().__init__(packet)
        self.netns_cookie = netns_cookie
        if csum_level is not None and csum_level not in range(MAX_CSUM_LEVEL + 1):
            raise BpfError(f"csum_level is None or 0 to {MAX_CSUM_LEVEL}, not {csum_level!r}")
        self.csum_level = csum_level
        if protocol is None:
            protocol = int.from_bytes(self.buffer[self.HEADER + 12:self.HEADER + 14], "little") \
                if len(self) >= 14 else 0
        self.protocol, self.mark, self.priority = protocol, mark, priority
        self.ifindex, self.ingress_ifindex, self.hash = ifindex, ingress_ifindex, hash
        self.vlan_tci, self.vlan_proto = vlan_tci, vlan_proto
        self.queue_mapping, self.tc_index, self.tc_classid = queue_mapping, tc_index, tc_classid
        self.pkt_type, self.tstamp = pkt_type, tstamp
        self.cb = list(cb) + [0] * (5 - len(cb))
        # the tunnel metadata (bpfjit.context.TunnelInfo) skb_get_tunnel_key reads and
        # skb_set_tunnel_key writes; None: the packet came through no tunnel device
        self.tunnel_info = None
        # a tc program's packet at ingress (bpf_sk_assign works there only), and the
        # socket (bpfjit.Socket) the last run's sk_assign gave it, or None
        self.ingress = ingress
        self.socket = socket
        self.assigned = None

    def _reload(self, packet: object) -> bool:
        """Become what SkbContext(packet) would be — every field its default, the
        protocol from the frame — in this context's buffer: a JIT program reuses the
        context it made for the last call with packet bytes.  False, changing nothing,
        unless `packet` is bytes or a bytearray that fits the buffer.  (The block is
        written whole before a run; bytes past the packet need no zeroing, a packet
        grows only by zeroed bytes; the socket's bytes are unreachable without one.)"""
        n = self._room_for(packet)
        if n is None:
            return False
        self.buffer[SKB_HEADER:SKB_HEADER + n] = packet
        self.__dict__.update(_FRESH)
        self.cb, self.clones = [0] * 5, []
        self.length, self.capacity = n, n + self.SPARE
        self.protocol = int.from_bytes(packet[12:14], "little") if n >= 14 else 0
        return True

    def field_values(self) -> dict[str, int]:
        """Each field's value, by name, as the program will read it."""
        values = {"len": len(self), "pkt_type": self.pkt_type, "mark": self.mark,
                  "queue_mapping": self.queue_mapping, "protocol": self.protocol,
                  "vlan_present": int(self.vlan_tci is not None),
                  "vlan_tci": self.vlan_tci or 0, "vlan_proto": self.vlan_proto,
                  "priority": self.priority, "ingress_ifindex": self.ingress_ifindex,
                  "ifindex": self.ifindex, "tc_index": self.tc_index, "hash": self.hash,
                  "tc_classid": self.tc_classid, "tstamp": self.tstamp, "wire_len": len(self),
                  "gso_segs": 1}
        values.update({f"cb{i}": v for i, v in enumerate(self.cb)})
        return values

    def set_vlan(self, tci: int | None, proto: int = 0) -> None:
        """Keep the tag `tci` of protocol `proto` (network byte order, as `protocol`) out
        of the packet, or none (None), as skb_vlan_push and skb_vlan_pop leave it."""
        self.vlan_tci, self.vlan_proto = tci, 0 if tci is None else proto
        self._put("vlan_present", int(tci is not None))
        self._put("vlan_tci", tci or 0)
        self._put("vlan_proto", self.vlan_proto)

    def set_field(self, name: str, value: int) -> None:
        """A helper changed field `name` (protocol, hash, pkt_type): the attribute and
        the block the program reads."""
        setattr(self, name, value)
        self._put(name, value)

    def write_field(self, name: str, value: int) -> None:
        """Field `name` in the block as a run left it (the kernel engine's report): the
        attributes follow at read_back."""
        self._put(name, value)

    def _put(self, name: str, value: int) -> None:
        field = self.FIELDS[name]
        self.buffer[field.offset:field.offset + field.size] = \
            (value & ((1 << (8 * field.size)) - 1)).to_bytes(field.size, "little")

    def _get(self, name: str) -> int:
        field = self.FIELDS[name]
        return int.from_bytes(self.buffer[field.offset:field.offset + field.size], "little")

    def fill(self, data_address: int, block_address: int | None = None) -> None:
        self.assigned = None
        if self.socket is not None:
            super().fill(data_address, block_address)
            return
        # without a socket, `sk` is NULL, which the struct's pack writes (zeros between
        # the fields), and the lengths are in it: two packs make the whole block
        self.redirect, self.clones, self.socket_address = None, [], 0
        self.write_fields()
        _POINTERS.pack_into(self.buffer, _STRUCT_SIZE, data_address, data_address + self.length,
                            data_address)

    def write_fields(self) -> None:
        """The whole struct in one pack; field by field, each value cut to its field's
        width, where a value does not fit it (or `cb` is not five numbers)."""
        n, tci = self.length, self.vlan_tci
        try:
            cb0, cb1, cb2, cb3, cb4 = self.cb
            _BLOCK.pack_into(self.buffer, 0, n, self.pkt_type, self.mark, self.queue_mapping,
                             self.protocol, tci is not None, tci or 0, self.vlan_proto,
                             self.priority, self.ingress_ifindex, self.ifindex,
                             self.tc_index, cb0, cb1, cb2, cb3, cb4, self.hash,
                             self.tc_classid, self.tstamp, n, 1)
        except (ValueError, struct.error):
            self.buffer[:_STRUCT_SIZE] = bytes(_STRUCT_SIZE)
            for name, value in self.field_values().items():
                self._put(name, value)

    def refresh(self, data_address: int) -> None:
        n = self.length
        buffer = self.buffer
        _POINTERS.pack_into(buffer, _STRUCT_SIZE, data_address, data_address + n,
                            data_address)
        _U32_AT.pack_into(buffer, 0, n)             # the lengths follow the packet
        _U32_AT.pack_into(buffer, _WIRE_LEN, n)

    def read_back(self) -> None:
        values = _BLOCK.unpack_from(self.buffer)
        self.mark, self.priority = values[_MARK], values[_PRIORITY]
        self.tc_index, self.tc_classid = values[_TC_INDEX], values[_TC_CLASSID]
        self.queue_mapping, self.tstamp = values[_QUEUE_MAPPING], values[_TSTAMP]
        self.cb = list(values[_CB0:_CB0 + 5])

    @classmethod
    def returns(cls, attach: str | None, prog_type: str | None = None
                ) -> tuple[int, int] | None:
        """cgroup_skb programs return 0 (drop) or 1 (allow), at egress also 2 and 3 (bit
        1 asks for congestion notification), as the kernel checks; the others
        anything."""
        if prog_type != "cgroup_skb":
            return None
        return (0, 3) if attach == "egress" else (0, 1)

    @classmethod
    def accessible(cls, attach: str | None, prog_type: str | None = None
                   ) -> set[str] | None:
        if prog_type not in _UNREADABLE:
            return None
        return set(cls.FIELDS) - _UNREADABLE[prog_type]

    @classmethod
    def narrow(cls, name: str) -> bool:
        return name not in _WHOLE

    @classmethod
    def narrow_write(cls, name: str) -> bool:
        """cb[] may be written a byte or two at a time, as the kernel allows."""
        return name in _CB

    @classmethod
    def writable(cls, prog_type: str, attach: str | None = None) -> set[str]:
        """Socket filters may store to cb[] only, cgroup_skb programs also to mark,
        priority and tstamp (the kernel's cg_skb_is_valid_access); tc programs to the
        fields marked."""
        if prog_type == "socket_filter":
            return _SOCKET_WRITABLE
        if prog_type == "cgroup_skb":
            return _CGROUP_WRITABLE
        if prog_type == "sk_skb":
            return _SK_SKB_WRITABLE
        return super().writable(prog_type)
