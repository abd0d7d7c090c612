"""Capture replay: every packet of a pcap or pcapng file through an XDP, tc or socket
program, as on a live interface — one compiled program, so its maps persist from packet
to packet — with a count of verdicts and, optionally, the packets it let through (as
it left them) written to a new capture.

Captures are read and written with dpkt.  A packet "goes through" unless the program
dropped it: XDP_PASS, XDP_TX and XDP_REDIRECT go through, other XDP actions not; a tc
program drops with TC_ACT_SHOT, TC_ACT_STOLEN, TC_ACT_QUEUED and TC_ACT_TRAP; a socket
filter keeps as many bytes as it returns (none: dropped).  A packet whose run stops on
a trap is counted under the trap's name and goes nowhere; the replay goes on.
"""

from __future__ import annotations

import collections
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .context import CONTEXTS
from .errors import BpfError, BpfTrap
from .progtypes import result_name

__all__ = ["replay", "ReplayResult", "read_capture"]

_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_ETHERNET = 1                                  # DLT_EN10MB / LINKTYPE_ETHERNET
_TC_DROPS = {2, 4, 5, 8}                       # TC_ACT_SHOT, STOLEN, QUEUED, TRAP
_XDP_THROUGH = {2, 3, 4}                       # XDP_PASS, XDP_TX, XDP_REDIRECT


@dataclass
class ReplayResult:
    """What a replay saw: packets read, how many each verdict got (by name), how many
    went through and were written (when a capture was written)."""
    packets: int = 0
    verdicts: collections.Counter = field(default_factory=collections.Counter)
    through: int = 0
    written: int = 0
    output: Path | None = None

    def format(self) -> str:
        """The verdict table `bpfjit run --pcap` prints."""
        width = max([len("verdict")] + [len(name) for name in self.verdicts])
        lines = [f"{'verdict':<{width}}  {'packets':>8}  share"]
        for name, count in self.verdicts.most_common():
            lines.append(f"{name:<{width}}  {count:>8}  {100 * count / self.packets:5.1f}%")
        lines.append(f"{'total':<{width}}  {self.packets:>8}")
        if self.output is not None:
            lines.append(f"{self.written} packets written to {self.output}")
        return "\n".join(lines)


def _dpkt():
    try:
        import dpkt
    except ImportError:                                    # pragma: no cover - a dependency
        raise BpfError("reading captures needs dpkt (pip install dpkt)") from None
    return dpkt


def read_capture(path: str | os.PathLike):
    """(reader, file): a dpkt reader of the pcap or pcapng file at `path`, which must
    hold Ethernet frames; BpfError for anything else."""
    dpkt = _dpkt()
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise BpfError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        magic = handle.read(4)
        handle.seek(0)
        reader = (dpkt.pcapng.Reader if magic == _PCAPNG_MAGIC else dpkt.pcap.Reader)(handle)
        if reader.datalink() != _ETHERNET:
            raise BpfError(f"{path}: link type {reader.datalink()}, not Ethernet (1): the "
                           f"programs bpfjit replays captures through start at an "
                           f"Ethernet header")
    except BpfError:
        handle.close()
        raise
    except (ValueError, EOFError, dpkt.dpkt.Error) as exc:
        handle.close()
        raise BpfError(f"{path}: not a pcap or pcapng capture ({exc})") from None
    return reader, handle


def _through(prog_type: str, r0: int, length: int) -> int:
    """How many bytes of the packet go on after verdict r0 (0: dropped)."""
    r0 &= 0xFFFFFFFF
    if prog_type == "xdp":
        return length if r0 in _XDP_THROUGH else 0
    if prog_type == "socket_filter":
        return min(r0, length)
    return 0 if r0 in _TC_DROPS else length


def _verdict(prog_type: str, r0: int, kept: int, length: int) -> str:
    """A verdict's name in the table: the action's name, or for a socket filter
    whether it dropped, kept or cut the packet."""
    if prog_type == "socket_filter":
        return "drop" if not kept else "keep" if kept == length else "keep (truncated)"
    return result_name(prog_type, r0) or f"r0 = {r0}"


def _frames(reader, capture, result: ReplayResult):
    """(timestamp, frame) of every record; a damaged record is a BpfError (a program's
    own errors are not caught here: they are not the capture's)."""
    records = iter(reader)
    while True:
        try:
            timestamp, frame = next(records)
        except StopIteration:
            return
        except (ValueError, _dpkt().dpkt.Error) as exc:
            raise BpfError(f"{capture}: a damaged capture ({exc}) after {result.packets} "
                           f"packets") from None
        yield timestamp, frame


def replay(fn, capture: str | os.PathLike, write: str | os.PathLike | None = None,
           progress: bool | None = None) -> ReplayResult:
    """Run every packet of `capture` through `fn` (a compiled XDP, tc or socket
    program, any engine) and count its verdicts; with `write`, save the packets that
    went through, as the program left them, with their timestamps (pcapng when the name
    ends in .pcapng, else pcap).  `progress`: a progress bar (default: when standard
    error is a terminal)."""
    program = fn.program
    if program.context not in ("xdp", "skb"):
        raise BpfError("a capture replays through an XDP, tc or socket program; this one "
                       + ("takes plain memory" if program.context is None else
                          f"takes a {program.context} context, not packets"))
    context = CONTEXTS[program.context]
    dpkt = _dpkt()
    reader, handle = read_capture(capture)
    result = ReplayResult()
    out = writer = None
    try:
        if write is not None:
            result.output = Path(write)
            try:
                out = open(write, "wb")
            except OSError as exc:
                raise BpfError(f"cannot write {write}: {exc.strerror or exc}") from None
            kind = dpkt.pcapng.Writer if str(write).endswith(".pcapng") else dpkt.pcap.Writer
            writer = kind(out, snaplen=65535, linktype=_ETHERNET)
        from tqdm import tqdm
        size = os.fstat(handle.fileno()).st_size
        show = sys.stderr.isatty() if progress is None else progress
        with tqdm(total=size, unit="B", unit_scale=True, disable=not show,
                  desc="replay", leave=False) as bar:
            for timestamp, frame in _frames(reader, capture, result):
                result.packets += 1
                ctx = context(frame)
                try:
                    r0 = fn(ctx)
                except BpfTrap as trap:
                    result.verdicts[f"trap: {type(trap).__name__}"] += 1
                    continue
                finally:
                    bar.update(handle.tell() - bar.n)
                kept = _through(program.prog_type, r0, len(ctx))
                result.verdicts[_verdict(program.prog_type, r0, kept, len(ctx))] += 1
                if kept:
                    result.through += 1
                    if writer is not None:
                        writer.writepkt(ctx.packet[:kept], ts=timestamp)
                        result.written += 1
    finally:
        handle.close()
        if out is not None:
            out.close()
    return result
