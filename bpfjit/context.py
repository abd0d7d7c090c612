"""Program contexts besides (mem, len): the XDP context, `struct xdp_md`.

An XDP program reads `ctx->data` and `ctx->data_end` with 32-bit loads and uses
them as packet pointers.  As the kernel does, the verifier rewrites those
context loads (bpfjit.verifier.CTX_FIELDS) into 64-bit loads from a context
block holding real pointers, which the engine fills in just before each run:
the interpreter with its made-up addresses, a JIT with the packet's address.
"""

from __future__ import annotations

import struct

from .errors import BpfError
from .memory import as_buffer

__all__ = ["XdpContext", "XDP_HEADER", "XDP_ACTIONS"]

# the block the rewritten loads read: data, data_end, data_meta (8 bytes each), then
# ingress_ifindex, rx_queue_index, egress_ifindex (4 bytes each), padded to 40
_LAYOUT = struct.Struct("<QQQIIIxxxx")
XDP_HEADER = _LAYOUT.size
XDP_ACTIONS = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


class XdpContext:
    """A packet for an XDP program: `fn(XdpContext(packet))` returns the program's action.

    After the run, `.packet` holds the packet as the program left it.
    """

    def __init__(self, packet: bytes | bytearray | memoryview, ingress_ifindex: int = 1,
                 rx_queue_index: int = 0):
        data = as_buffer(packet)
        self.buffer = bytearray(XDP_HEADER) + bytes(data)
        self.ingress_ifindex = ingress_ifindex
        self.rx_queue_index = rx_queue_index

    def __len__(self) -> int:
        return len(self.buffer) - XDP_HEADER

    @property
    def packet(self) -> bytes:
        return bytes(self.buffer[XDP_HEADER:])

    def fill(self, data_address: int) -> None:
        """Write the context block for a run that sees the packet at `data_address`."""
        end = data_address + len(self)
        _LAYOUT.pack_into(self.buffer, 0, data_address, end, data_address,
                          self.ingress_ifindex & 0xFFFFFFFF, self.rx_queue_index & 0xFFFFFFFF,
                          0)

    @staticmethod
    def wrap(mem: object) -> "XdpContext":
        """`mem` as an XdpContext: an XdpContext itself, or a packet to put in one."""
        if isinstance(mem, XdpContext):
            return mem
        if mem is None:
            raise BpfError("an XDP program needs a packet: pass bpfjit.XdpContext(packet) "
                           "or the packet's bytes")
        return XdpContext(mem)

    def __repr__(self) -> str:
        return f"<XdpContext {len(self)}-byte packet>"


def copy_back(original: object, ctx: XdpContext) -> None:
    """When the caller passed a writable buffer rather than a context, give it the
    packet as the program left it."""
    if original is ctx or isinstance(original, (bytes, type(None))):
        return
    try:
        view = memoryview(original)
    except TypeError:
        return
    if not view.readonly and view.nbytes == len(ctx):
        view.cast("B")[:] = ctx.buffer[XDP_HEADER:]
