"""tc programs on the kernel engine: a socket buffer given to BPF_PROG_TEST_RUN and
read back.

The kernel builds the buffer itself from the packet and a `struct __sk_buff`, of
which it takes mark, priority, ingress_ifindex, ifindex, cb[] and tstamp (the other
fields must be zero) and reports those back with the packet as the program left it.
It sets the rest as a receiving device would: `protocol` and `pkt_type` from the
Ethernet header (eth_type_trans on the loopback device, address 00:00:00:00:00:00),
`hash`, the VLAN tag, queue_mapping, tc_index and tc_classid to zero, gso_segs to 0.
So a program runs here only when it reads no field whose value the kernel would set
otherwise than the context holds, and writes none the kernel does not report; and it
calls only helpers whose effect is on the packet, the fields reported, the maps or
its own stack.
"""

from __future__ import annotations

from bpfjit.context import SkbContext, frame_protocol, net16
from bpfjit.errors import BpfError
from bpfjit.isa import Kind

__all__ = ["SKB_HELPERS", "check_fields", "skb_input", "skb_output"]

# helpers a tc program may call here: maps, bpf_loop, spin locks, timers, strncmp, the
# cgroup id, and the packet's own
# helpers
# (store/load bytes, checksums and their levels, VLAN tags, tunnel keys, resizing,
# protocol, ECN, type, pull, hash, the device's MTU)
SKB_HELPERS = frozenset((1, 2, 3, 8, 9, 10, 11, 18, 19, 20, 21, 26, 28, 31, 32, 38, 39, 40, 41,
                         43, 48, 50, 68, 80, 93, 94, 97, 135, 163, 164, 169, 170, 171, 172,
                         181, 182))
# what the kernel takes in, and reports back after the run
_REPORTED = {"mark", "priority", "ingress_ifindex", "ifindex", "tstamp",
             "cb0", "cb1", "cb2", "cb3", "cb4"}
# read as the context holds them, whatever it is: the kernel's are the same by construction
_ALIKE = _REPORTED | {"len", "data", "data_end", "data_meta", "wire_len", "gso_size",
                      "hwtstamp"}


# the fields the kernel's test run sets itself (to what _kernel_values says)
_SET_BY_KERNEL = ("protocol", "pkt_type", "hash", "vlan_present", "vlan_tci", "vlan_proto",
                  "queue_mapping", "tc_index", "tc_classid", "gso_segs")


def _kernel_values(ctx: SkbContext, l3: bool = False) -> dict[str, int]:
    """The fields the kernel's test run sets itself, for this packet (`l3`: a cgroup_skb
    program's or a socket filter's, which the run shows from skb->data on: the engine
    puts an Ethernet header of ctx.protocol in front of it, to this host)."""
    packet = ctx.packet if not l3 else ethernet_header(ctx) + ctx.packet
    dest = packet[:6]
    if dest == bytes(6):
        pkt_type = 0                    # PACKET_HOST: the loopback device's address
    elif dest[0] & 1:
        pkt_type = 1 if dest == b"\xff" * 6 else 2      # broadcast, multicast
    else:
        pkt_type = 3                    # PACKET_OTHERHOST
    return {"protocol": net16(frame_protocol(packet[12:14], packet[14:16])),
            "pkt_type": pkt_type, "hash": 0, "vlan_present": 0, "vlan_tci": 0,
            "vlan_proto": 0, "queue_mapping": 0, "tc_index": 0, "tc_classid": 0,
            "gso_segs": 0}


def check_fields(verified) -> tuple[set[str], set[str]]:
    """(fields the program reads, fields it writes), by name; BpfError for a field the
    kernel's test run would not report back after a write, or never set as bpfjit's
    context can (napi_id, the socket's addresses and ports, ...)."""
    by_offset = {}          # as rewritten; cb0, not cb0_1: the kernel reports both halves
    for f in SkbContext.FIELDS.values():
        by_offset.setdefault(f.slot, f.name)
    reads, writes = set(), set()
    prog = verified.program
    for pc, region in verified.regions.items():
        if region != "ctx":
            continue
        insn = prog.at(pc)
        name = by_offset.get(insn.off, f"the field at offset {insn.off}")
        (reads if insn.kind in (Kind.LDX, Kind.LDSX) else writes).add(name)
    unknown = reads - _ALIKE - set(_SET_BY_KERNEL)
    if unknown:
        raise BpfError(f"the kernel's test run sets {', '.join(sorted(unknown))} itself; "
                       f"the kernel engine does not run a tc program that reads it")
    unreported = writes - _REPORTED
    if unreported:
        raise BpfError(f"the kernel's test run does not report {', '.join(sorted(unreported))}"
                       f" back; the kernel engine does not run a tc program that writes it")
    return reads, writes


def ethernet_header(ctx: SkbContext) -> bytes:
    """The Ethernet header a cgroup_skb program's packet, or a socket filter's, comes
    behind in a test run: to this host (a zero address), of the context's protocol (kept
    in network order)."""
    return bytes(12) + (ctx.protocol & 0xFFFF).to_bytes(2, "little")


def skb_input(ctx: SkbContext, reads: set[str], l3: bool = False) -> tuple[bytes, bytes]:
    """The data and the `struct __sk_buff` of a test run on `ctx` (`l3`: a cgroup_skb
    program's packet or a socket filter's, which the kernel shows from skb->data on,
    after the Ethernet header its run strips: one put in front); BpfError when the
    kernel would give a field the program reads another value than the context's."""
    packet = ctx.packet if not l3 else ethernet_header(ctx) + ctx.packet
    if len(packet) < 14:
        raise BpfError(f"the kernel runs tc programs on packets of at least 14 bytes (an "
                       f"Ethernet header), not {len(packet)}")
    if ctx.tunnel_info is not None:
        raise BpfError("the kernel's test run gives a packet no tunnel metadata; the "
                       "context has some (tunnel_info)")
    mine = ctx.field_values()
    for name, value in _kernel_values(ctx, l3).items():
        if name in reads and mine.get(name, 0) != value:
            raise BpfError(f"the kernel's test run sets {name} to {value}, and the program "
                           f"reads it: the context holds {mine.get(name, 0)}")
    block = bytearray(192)
    for name in _REPORTED:
        field = SkbContext.FIELDS[name]
        block[field.offset:field.offset + field.size] = \
            (mine[name] & ((1 << 8 * field.size) - 1)).to_bytes(field.size, "little")
    return bytes(packet), bytes(block)


def skb_output(ctx: SkbContext, data: bytes, block: bytes, l3: bool = False) -> None:
    """The packet and the reported fields as the run left them, into `ctx` (not the
    tunnel metadata skb_set_tunnel_key sets: the test run does not report it; `l3`: a
    cgroup_skb program's or a socket filter's, after the Ethernet header the kernel
    gives back zeroed)."""
    if l3:
        data = data[14:]
    length = len(ctx)
    if len(data) > length:
        ctx.insert(length, len(data) - length)
    elif len(data) < length:
        ctx.remove(len(data), length - len(data))
    ctx.buffer[ctx.HEADER:ctx.HEADER + len(data)] = data
    for name in _REPORTED:
        field = SkbContext.FIELDS[name]
        ctx.write_field(name, int.from_bytes(block[field.offset:field.offset + field.size],
                                             "little"))
