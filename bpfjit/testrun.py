"""The kernel's test run, offline: `test_run(fn, data_in, ctx_in=None, repeat=1)`
returns what `bpf_prog_test_run_opts` (BPF_PROG_TEST_RUN) returns — retval, data_out,
ctx_out, duration — for a program compiled on any engine, so that a test written
against the kernel ports with a one-line change.

What the kernel does, and so this module:
- XDP: `ctx_in` is a `struct xdp_md` (24 bytes; shorter is zero-filled, longer must be
  zeros).  `data` is the length of the metadata at the front of `data_in`, `data_end`
  the length of `data_in`, `data_meta` and `egress_ifindex` must be 0; otherwise
  EINVAL.  `data_out` is the metadata and the packet as the program left them;
  `ctx_out` the `xdp_md` with `data`/`data_end` as offsets from the metadata's start.
- socket filters and tc: `ctx_in` is a `struct __sk_buff` of which only mark,
  priority, ingress_ifindex, ifindex, cb[], tstamp, wire_len, gso_segs and gso_size
  may be non-zero (EINVAL otherwise); `ctx_out` has those fields after the run.
- `repeat` runs the program that many times on the same context, each run seeing the
  packet as the last left it; `duration` is the average time of one run in
  nanoseconds, timed in a native loop on the JIT engines (`run_batch`), by the kernel
  on the kernel engine (XDP), in Python on the interpreter.
bpfjit's plain programs (r1 = the buffer) take `data_in` as their memory and no
`ctx_in`; `data_out` is the memory after the run.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from .context import SkbContext, XdpContext
from .context.xdp import META_ROOM
from .errors import BpfError

__all__ = ["TestRunResult", "test_run", "TestRunnable", "XDP_MD", "SK_BUFF_SIZE"]

XDP_MD = struct.Struct("<6I")    # data, data_end, data_meta, ingress_ifindex, rx_queue, egress
SK_BUFF_SIZE = 192               # sizeof(struct __sk_buff)
# the __sk_buff fields a test run's ctx_in may set (the kernel's convert___skb_to_skb):
# name -> (offset, size)
_SKB_IN = {"mark": (8, 4), "priority": (32, 4), "ingress_ifindex": (36, 4),
           "ifindex": (40, 4), "cb": (48, 20), "tstamp": (152, 8), "wire_len": (160, 4),
           "gso_segs": (164, 4), "gso_size": (176, 4)}
_META_MAX = META_ROOM            # the most metadata the kernel takes in front of a frame


@dataclass(frozen=True)
class TestRunResult:
    """What a test run returns: `retval` as the kernel gives it (the low 32 bits of
    r0), `r0` in full, `data_out`, `ctx_out` (b"" without a context) and `duration`,
    the average nanoseconds of one run."""
    __test__ = False             # (not a pytest test class, whatever its name)

    retval: int
    data_out: bytes
    ctx_out: bytes
    duration: int
    r0: int


def _einval(what: str) -> BpfError:
    return BpfError(f"test run: {what} (the kernel returns EINVAL)")


def _struct_in(ctx_in: bytes | None, size: int, name: str) -> bytes:
    """`ctx_in` as `size` bytes: shorter is zero-filled, longer must be zeros."""
    data = bytes(ctx_in or b"")
    if any(data[size:]):
        raise _einval(f"ctx_in is {len(data)} bytes, more than sizeof(struct {name}) = "
                      f"{size}, and the bytes past it are not zero")
    return data[:size].ljust(size, b"\0")


def _xdp_context(data_in: bytes, ctx_in: bytes | None) -> XdpContext:
    if ctx_in is None:
        return XdpContext(data_in)
    data, data_end, data_meta, ingress, queue, egress = XDP_MD.unpack(
        _struct_in(ctx_in, XDP_MD.size, "xdp_md"))
    if data_meta or egress:
        raise _einval("data_meta and egress_ifindex of ctx_in must be 0")
    if data_end != len(data_in) or data > data_end:
        raise _einval(f"ctx_in's data_end must be the length of data_in ({len(data_in)}) "
                      f"and data ({data}) at most that")
    if data % 4 or data > _META_MAX:
        raise _einval(f"ctx_in's data ({data}) is the metadata's length: a multiple of 4 "
                      f"up to {_META_MAX}")
    ctx = XdpContext(data_in[data:], ingress_ifindex=ingress, rx_queue_index=queue)
    if data:
        ctx.buffer[ctx.HEADER - data:ctx.HEADER] = data_in[:data]
        ctx.metalen = data
    return ctx


def _xdp_out(ctx: XdpContext) -> tuple[bytes, bytes]:
    meta = ctx.metalen
    md = XDP_MD.pack(meta, meta + len(ctx), 0, ctx.ingress_ifindex & 0xFFFFFFFF,
                     ctx.rx_queue_index & 0xFFFFFFFF, 0)
    return ctx.metadata + ctx.packet, md


def _skb_context(data_in: bytes, ctx_in: bytes | None) -> SkbContext:
    ctx = SkbContext(data_in)
    if ctx_in is None:
        return ctx
    block = _struct_in(ctx_in, SK_BUFF_SIZE, "__sk_buff")
    allowed = bytearray(SK_BUFF_SIZE)
    for offset, size in _SKB_IN.values():
        allowed[offset:offset + size] = block[offset:offset + size]
    if bytes(allowed) != block:
        first = next(i for i in range(SK_BUFF_SIZE) if allowed[i] != block[i])
        raise _einval(f"ctx_in sets __sk_buff byte {first}; a test run may set only "
                      f"{', '.join(_SKB_IN)}")

    def read(name: str) -> int:
        offset, size = _SKB_IN[name]
        return int.from_bytes(block[offset:offset + size], "little")
    ctx.mark, ctx.priority, ctx.tstamp = read("mark"), read("priority"), read("tstamp")
    if read("ifindex"):
        ctx.ifindex = read("ifindex")
    if read("ingress_ifindex"):
        ctx.ingress_ifindex = read("ingress_ifindex")
    ctx.cb = list(struct.unpack_from("<5I", block, _SKB_IN["cb"][0]))
    return ctx


def _skb_out(ctx: SkbContext) -> tuple[bytes, bytes]:
    out = bytearray(SK_BUFF_SIZE)
    values = {"mark": ctx.mark, "priority": ctx.priority, "ingress_ifindex": ctx.ingress_ifindex,
              "ifindex": ctx.ifindex, "tstamp": ctx.tstamp, "wire_len": len(ctx),
              "gso_segs": 1, "gso_size": 0}
    for name, value in values.items():
        offset, size = _SKB_IN[name]
        out[offset:offset + size] = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")
    struct.pack_into("<5I", out, _SKB_IN["cb"][0], *(v & 0xFFFFFFFF for v in ctx.cb))
    return ctx.packet, bytes(out)


# a context's test-run input (data_in, ctx_in -> context) and output (-> data_out, ctx_out)
_CONTEXT_IO = {"xdp": (_xdp_context, _xdp_out), "skb": (_skb_context, _skb_out)}


class TestRunnable:
    """What every engine's compiled program has: `fn.test_run(data_in, ctx_in, repeat)`."""
    __test__ = False

    def test_run(self, data_in: bytes | bytearray | memoryview | None = None,
                 ctx_in: bytes | None = None, repeat: int = 1) -> TestRunResult:
        """This program run as BPF_PROG_TEST_RUN would (bpfjit.testrun)."""
        return test_run(self, data_in, ctx_in, repeat)


def test_run(program, data_in: bytes | bytearray | memoryview | None = None,
             ctx_in: bytes | None = None, repeat: int = 1) -> TestRunResult:
    """Run a compiled program (`bpfjit.compile(...)`, any engine) as BPF_PROG_TEST_RUN
    would: see the module docstring.  A trap raises its BpfError, as a run does."""
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat < 2**32:
        raise BpfError(f"repeat must be an int from 1 to 2**32 - 1, got {repeat!r}")
    kind = program.program.context
    data = b"" if data_in is None else bytes(data_in)
    io = _CONTEXT_IO.get(kind)
    if io is not None:
        arg = io[0](data, ctx_in)
    elif kind is None:
        if ctx_in:
            raise _einval("a plain program (r1 = its memory) takes no ctx_in")
        arg = bytearray(data)
    else:
        raise BpfError(f"test run: the kernel makes none for a {kind} program (call it "
                       f"with its context instead: bpfjit.SockAddrContext(address, port) "
                       f"or bpfjit.SockContext(family, type) or bpfjit.SockOpsContext(op))"
                       if kind in ("sock_addr", "sock", "sock_ops")
                       else f"test run: no context {kind!r}")
    batch = getattr(program, "run_batch", None)
    if batch is not None and (kind == "xdp" or getattr(program, "engine", None) != "kernel"):
        # the engine's native loop, no Python per run (the kernel engine's: one test run
        # with `repeat`, timed by the kernel)
        r0, ns = batch(arg, repeat)
        if kind is not None:
            arg.read_back()
        duration = int(ns)
    else:
        start = time.perf_counter_ns()
        for _ in range(repeat):
            r0 = program(arg)
        duration = (time.perf_counter_ns() - start) // repeat
    data_out, ctx_out = io[1](arg) if io is not None else (bytes(arg), b"")
    return TestRunResult(r0 & 0xFFFFFFFF, data_out, ctx_out, duration, r0)
