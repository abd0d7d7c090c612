"""What a helper is to the rest of bpfjit: its signature (argument and result kinds,
what the verifier checks and learns) and, for the kernel's, its implementation.

Argument kinds (one per register r1.. in order):

    map          a map handle (lddw rX, map)
    key, value   a pointer to the key / a value of the map in r1 (read by the helper)
    value_or_null  the same as value, or 0
    value_out    a pointer to room for a value of the map in r1 (written by the helper)
    mem          a pointer to memory the helper reads; the next argument is its size
    mem_or_null  the same, or 0 (with size 0)
    out          a pointer to memory the helper writes; the next argument is its size:
                 the verifier counts those stack bytes as initialised afterwards
    out_or_null  the same, or 0 (with size 0)
    size         the size of the pointer before it, at least 1 (the kernel's verifier
                 refuses a size that may be 0, "invalid zero-sized read"; so does strict
                 mode, and checked mode takes 0 as the helper answers it)
    size_or_zero the same where 0 is allowed (bpf_perf_event_output, bpf_csum_diff, ...)
    out_u64      a pointer to 8 bytes the helper writes (bpf_strtol's result)
    inout_u32    a pointer to 4 bytes the helper reads and writes (bpf_check_mtu's length)
    ctx          the program's context (r1 at entry)
    ctx_or_null  the program's context, or 0
    any          any initialised value
    source       the same: an address the helper reads from (bpf_probe_read_kernel's), which
                 strict mode takes as a pointer into the packet or a map value (bytes that
                 hold no address there)
    ringbuf_mem  a record a ring buffer reservation returned
    callback     a subprogram's address (lddw rX, code_addr(...)): the helper calls it
    callback_ctx a pointer into the stack, or 0: what the callback gets in r2
    spin_lock    a pointer to the struct bpf_spin_lock of a map value (at its offset)
    timer        a pointer to the struct bpf_timer of a map value (at its offset)
    timer_callback  a subprogram's address the timer in r1 calls back (map, key, value)
    sock_common  a socket (a lookup's, a socket map's, a context's `sk`; tested for NULL)
    sock_release the same, whose reference the helper gives back (bpf_sk_release)
    sock_or_null a socket, or 0, or a socket or NULL untested (an sk_lookup context's
                 `sk`, a lookup's result)
    const_str    a NUL-terminated string of read-only data (.rodata), at a constant offset

Result kinds: "scalar" (anything), "errno" (0 or a negative error), "map_value_or_null"
(a lookup), "ringbuf_mem_or_null", "sock_or_null" and "sock_common_or_null" (a socket
lookup: a reference the program must give back), "fullsock_or_null" (the full socket of
r1's, no reference of its own), "tcp_sock_or_null" (r1's struct bpf_tcp_sock, the same),
or a (low, high) range of the scalar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import BpfError
from ..semantics import M64

__all__ = ["Signature", "KernelHelper", "Helper", "ARG_KINDS", "RESULT_KINDS", "SIZES",
           "errno_result", "zero_fill", "c_string"]


def errno_result(code: int) -> int:
    """What a helper returns for the error `code` (an errno): -code, as a 64-bit r0."""
    return -code & M64


def zero_fill(memory, address: int, size: int) -> None:
    """Zero `size` bytes of a program's buffer at `address` (a helper's error path): the
    room is checked (HelperArgumentError) before any byte is built, so a wild size
    costs nothing."""
    memory.read(address, size)
    memory.write(address, bytes(size))


def c_string(read, address: int, limit: int) -> tuple[bytes, bool]:
    """The bytes at `address` before a NUL, at most `limit` of them, and whether the
    string ran into memory `read` refuses (it answers None) before its NUL or limit.
    Read 64 bytes at a time, fewer where that would pass readable memory (a byte at a
    time cost a helper memory check per byte)."""
    out, chunk = bytearray(), 64
    while len(out) < limit:
        want = min(chunk, limit - len(out))
        got = read(address + len(out), want)
        if got is None:
            if want == 1:
                return bytes(out), True
            chunk = want // 2
            continue
        end = got.find(b"\0")
        if end >= 0:
            return bytes(out + got[:end]), False
        out += got
    return bytes(out), False

ARG_KINDS = frozenset(("map", "key", "value", "value_or_null", "value_out", "mem", "mem_or_null",
                       "out", "out_or_null", "size", "size_or_zero", "out_u64", "inout_u32",
                       "ctx", "ctx_or_null", "any", "source", "ringbuf_mem", "callback", "callback_ctx",
                       "spin_lock", "timer", "timer_callback", "sock_common", "sock_release",
                       "sock_or_null", "const_str"))
RESULT_KINDS = frozenset(("scalar", "errno", "map_value_or_null", "ringbuf_mem_or_null",
                          "sock_or_null", "sock_common_or_null", "fullsock_or_null",
                          "tcp_sock_or_null"))
_SIZED = ("mem", "mem_or_null", "out", "out_or_null")
# the size after one: the kernel's ARG_CONST_SIZE, which its verifier wants to be at
# least 1 ("invalid zero-sized read"; strict mode checks it too), and
# ARG_CONST_SIZE_OR_ZERO
SIZES = ("size", "size_or_zero")


@dataclass(frozen=True)
class Signature:
    """What the verifier checks at a call and what r0 is afterwards.

    `changes_packet`: the call may move or resize the packet, so every packet pointer
    is invalid after it (as in the kernel); `contexts`: the program contexts that may
    call it ("xdp", "skb"; None: any); `prog_types`: the program types that may (where
    types sharing a context differ: "sched_cls" but not "socket_filter"; None: any);
    `attach_types`: the hooks of those that may
    (bpf_bind: "connect4", "connect6"; None: any); `map_types`: the kernel map types its map
    argument may be (None: any); `lock`: "take" or "give back" for the helpers that
    take and release the spin lock their argument points to; `packet_access`: its
    pointer arguments may point into the packet (a helper of the user's own may; of the
    kernel's, those whose `pkt_access` the kernel sets: bpfjit.helpers); `formats`: (r, s) for a
    helper whose constant string in r is a format for the u64s whose byte count is in
    s, which the verifier checks as the kernel does (bpf_snprintf)."""
    args: tuple[str, ...] = ()
    result: str | tuple[int, int] = "scalar"
    changes_packet: bool = False
    contexts: frozenset[str] | None = None
    prog_types: frozenset[str] | None = None
    attach_types: frozenset[str] | None = None
    map_types: frozenset[int] | None = None
    lock: str | None = None
    formats: tuple[int, int] | None = None
    packet_access: bool = True

    def refusal(self, name: str, context: str | None, prog_type: str | None,
                attach: str | None) -> str | None:
        """Why programs of `prog_type` (of `context`, and hook `attach`) may not call the
        helper `name` with this signature; None when they may."""
        if self.contexts is not None and context not in self.contexts:
            return (f"{name} is not available to {prog_type} programs (only "
                    f"{', '.join(sorted(self.contexts))})")
        if self.prog_types is not None and prog_type not in self.prog_types:
            return (f"{name} is not available to {prog_type} programs (only "
                    f"{', '.join(sorted(self.prog_types))})")
        if self.attach_types is not None and attach not in self.attach_types:
            return (f"{name} is available to {', '.join(sorted(self.attach_types))} hooks "
                    f"only, not {attach or prog_type}")
        return None

    def __post_init__(self) -> None:
        if len(self.args) > 5 or any(a not in ARG_KINDS for a in self.args):
            raise BpfError(f"helper arguments are up to 5 of {', '.join(sorted(ARG_KINDS))}; "
                           f"got {self.args!r}")
        for i, kind in enumerate(self.args):
            if kind in _SIZED and (i + 1 >= len(self.args) or self.args[i + 1] not in SIZES):
                raise BpfError(f"helper argument r{i + 1} ({kind}) must be followed by its "
                               f"size (\"size\", or \"size_or_zero\" where 0 is allowed)")
            if kind in SIZES and (i == 0 or self.args[i - 1] not in _SIZED):
                raise BpfError(f"helper argument r{i + 1} is a size, but r{i} is not a "
                               f"pointer with a size (mem, mem_or_null, out)")
        if self.lock not in (None, "take", "give back"):
            raise BpfError(f"a helper's lock action is \"take\" or \"give back\", not "
                           f"{self.lock!r}")
        if isinstance(self.result, tuple):
            if len(self.result) != 2 or not all(isinstance(x, int) for x in self.result) \
                    or self.result[0] > self.result[1]:
                raise BpfError(f"a helper's result range is (low, high), not {self.result!r}")
        elif self.result not in RESULT_KINDS:
            raise BpfError(f"a helper's result is one of {', '.join(sorted(RESULT_KINDS))} "
                           f"or a (low, high) range, not {self.result!r}")


@dataclass(frozen=True)
class KernelHelper:
    """One of the kernel's helpers as bpfjit provides it.  `impl(call, r1..r5)` gets a
    bpfjit.kernel.HelperCall (the run's memory, context, maps) and returns r0.
    `variants`: (contexts, signature) for the program contexts the kernel gives another
    prototype under the same id (bpf_sk_assign of sk_lookup programs)."""
    id: int
    name: str
    signature: Signature
    impl: Callable = field(compare=False)
    doc: str = ""
    variants: tuple[tuple[frozenset[str], Signature], ...] = ()

    def signature_for(self, context: str | None) -> Signature:
        """The signature programs of `context` call it with."""
        for contexts, signature in self.variants:
            if context in contexts:
                return signature
        return self.signature


class Helper:
    """A Python helper with a declared signature, for `compile(helpers={id: Helper(...)})`:

        Helper(fill, args=("out", "size"), result="errno")

    tells the verifier that `fill(r1, r2, ...)` writes r2 bytes at r1, so the program
    may read them afterwards.  Called like the function it wraps."""

    def __init__(self, fn: Callable, args: tuple[str, ...] = (), result="scalar",
                 name: str | None = None):
        if not callable(fn):
            raise BpfError(f"Helper needs a callable, not {type(fn).__name__}")
        if {"callback", "callback_ctx"} & set(args):
            raise BpfError("a Python helper cannot call back into the program: callback "
                           "arguments are bpf_loop's (181)")
        self.fn = fn
        self.signature = Signature(tuple(args), result)
        self.name = name or getattr(fn, "__name__", "helper")

    def __call__(self, r1: int, r2: int, r3: int, r4: int, r5: int) -> int:
        return self.fn(r1, r2, r3, r4, r5)

    def __repr__(self) -> str:
        return f"<Helper {self.name} args={self.signature.args} result={self.signature.result}>"
