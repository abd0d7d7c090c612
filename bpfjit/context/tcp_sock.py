"""`struct bpf_tcp_sock`: what bpf_tcp_sock shows of a TCP socket (its congestion
window, RTT and counters), 112 bytes: twenty u32 fields, bytes_received and
bytes_acked as u64, four u32 more."""

from __future__ import annotations

import struct

from ..errors import BpfError

__all__ = ["TCP_SOCK_FIELDS", "TCP_SOCK_SIZE", "pack_tcp_sock", "tcp_fields"]

TCP_SOCK_SIZE = 112
# name -> (offset, size), in the kernel's order
TCP_SOCK_FIELDS: dict[str, tuple[int, int]] = {
    name: (4 * i, 4) for i, name in enumerate((
        "snd_cwnd", "srtt_us", "rtt_min", "snd_ssthresh", "rcv_nxt", "snd_nxt", "snd_una",
        "mss_cache", "ecn_flags", "rate_delivered", "rate_interval_us", "packets_out",
        "retrans_out", "total_retrans", "segs_in", "data_segs_in", "segs_out",
        "data_segs_out", "lost_out", "sacked_out"))}
TCP_SOCK_FIELDS.update(bytes_received=(80, 8), bytes_acked=(88, 8))
TCP_SOCK_FIELDS.update({name: (96 + 4 * i, 4) for i, name in enumerate(
    ("dsack_dups", "delivered", "delivered_ce", "icsk_retransmits"))})


def tcp_fields(values: dict) -> dict[str, int]:
    """`values` checked: known field names, unsigned ints of the field's size;
    BpfError otherwise."""
    for name, value in values.items():
        if name not in TCP_SOCK_FIELDS:
            raise BpfError(f"struct bpf_tcp_sock has no TCP field {name!r} (it has "
                           f"{', '.join(TCP_SOCK_FIELDS)})")
        bits = 8 * TCP_SOCK_FIELDS[name][1]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
            raise BpfError(f"TCP field {name} is a {bits}-bit unsigned int, not {value!r}")
    return dict(values)


def pack_tcp_sock(values: dict) -> bytes:
    """The struct's bytes for `values` (by field name; the others 0)."""
    out = bytearray(TCP_SOCK_SIZE)
    for name, value in values.items():
        offset, size = TCP_SOCK_FIELDS[name]
        struct.pack_into("<I" if size == 4 else "<Q", out, offset, value)
    return bytes(out)
