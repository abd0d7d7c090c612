"""Sockets in the abstract: the kernel's socket lookups and the references they hold.

bpf_sk_lookup_tcp, bpf_sk_lookup_udp and bpf_skc_lookup_tcp return a socket or NULL
that holds a *reference*: the program gives it back with bpf_sk_release on every path
before it exits, and the kernel's verifier refuses a program that may exit (or tail
call, or use a legacy packet load) holding one.  This module checks the same.

- A reference is named by the acquiring call (its pc + 1); `State.refs` is the set a
  path holds, the socket pointers carry the one they hold (`Value.ref`).  A NULL test
  of a lookup's result gives its reference back on the NULL side; a release gives it
  back and makes every copy of the pointer invalid; a join keeps what any path holds
  (on the others the pointer is NULL or gone: `State.merge` names one pointer's
  references alike, `unify_refs`).
- A subprogram or callback starts holding none and must return holding none: a socket
  holding a reference is not passed to subprograms (the kernel allows more; nothing
  written for the kernel that bpfjit has met needs it); one holding none is.
- bpf_sk_fullsock gives a full socket derived from one held (no reference of its own:
  its NULL test gives nothing back; releasing it releases the reference it came from).
- bpf_tcp_sock gives a TCP socket's `struct bpf_tcp_sock` the same way (TCP_SOCK).
- A socket's fields (`struct bpf_sock`) are read at constant offsets and never written,
  by the kernel's rules (`bpf_sock_is_valid_access`; of what bpf_skc_lookup_tcp
  returns, `type` to `priority` are not readable): every access is proven in every
  mode, so the engines need no check for them (region "sock").
"""

from __future__ import annotations

from ..context.tcp_sock import TCP_SOCK_FIELDS
from ..isa import Kind
from .domain import (NULLABLE, SCALAR, SOCK_COMMON, SOCK_COMMON_OR_NULL, SOCKET,
                     SOCKET_OR_NULL, SOCKETS, TCP_SOCK, TCP_SOCK_OR_NULL, Value, scalar)
from .state import State

__all__ = ["SocketRules", "SOCKET_FIELDS", "readable_socket_field"]

SOCKET_SIZE = 80                # sizeof(struct bpf_sock)
# offset -> (name, size) of struct bpf_sock's fields
SOCKET_FIELDS = {0: ("bound_dev_if", 4), 4: ("family", 4), 8: ("type", 4),
                 12: ("protocol", 4), 16: ("mark", 4), 20: ("priority", 4),
                 24: ("src_ip4", 4), **{28 + 4 * i: (f"src_ip6[{i}]", 4) for i in range(4)},
                 44: ("src_port", 4), 48: ("dst_port", 2), 52: ("dst_ip4", 4),
                 **{56 + 4 * i: (f"dst_ip6[{i}]", 4) for i in range(4)},
                 72: ("state", 4), 76: ("rx_queue_mapping", 4)}
# fields read in part too: the addresses at any aligned byte, these from their first
# byte only (measured against Linux 6.18's verifier); the others only whole
_ANY_PART = {"src_ip4", "dst_ip4", "dst_port"} | {f"src_ip6[{i}]" for i in range(4)} \
    | {f"dst_ip6[{i}]" for i in range(4)}
_LOW_PART = {"state", "family", "type", "protocol", "src_port", "rx_queue_mapping"}
_NOT_COMMON = {"type", "protocol", "mark", "priority"}     # not of a sock_common


# offset -> size of the fields of struct bpf_tcp_sock a load reads whole (the kernel
# reads no part of one: measured against Linux 6.18)
_TCP_SOCK_LOADS = {offset: size for offset, size in TCP_SOCK_FIELDS.values()}


def readable_socket_field(offset: int, size: int, common: bool) -> str | None:
    """The field of struct bpf_sock a load of `size` bytes at `offset` reads, or None
    when the kernel refuses it (for a sock_common when `common`)."""
    if not 0 <= offset < SOCKET_SIZE or size not in (1, 2, 4, 8) or offset % size:
        return None
    start = offset - offset % 4
    name, width = SOCKET_FIELDS.get(start, (None, 0))
    if name is None or (common and name in _NOT_COMMON):
        return None
    if name == "dst_port":          # a 2-byte field in a 4-byte slot: 4 bytes, or within 2
        return name if size == 4 or offset + size <= start + 2 else None
    if size == 4 or (size < 4 and (name in _ANY_PART
                                   or (name in _LOW_PART and offset == start))):
        return name
    return None


class SocketRules:
    """Mixed into the analysis: socket pointers, their fields and their references."""

    def _socket_access(self, pc: int, insn, st: State, reg: int, base: Value,
                       writes: bool) -> None:
        """A load of a socket's field: constant offset, a field the kernel lets the
        program read; proven (the engines load it as it is)."""
        kind = NULLABLE.get(base.kind, base.kind)
        what = "a socket" if kind == SOCKET else "a TCP socket" if kind == TCP_SOCK else \
            "a sock_common"
        if base.kind in NULLABLE:
            self.fail(pc, f"r{reg} is {what} or NULL: compare it with 0 before using it")
        if writes:
            self.fail(pc, f"r{reg} is {what}, whose fields programs may only read")
        if base.frame:
            self.fail(pc, f"r{reg} is a full socket on some paths and a sock_common on "
                          f"others; one load may not read both (the kernel refuses it: "
                          f"\"same insn cannot be used with different pointers\")")
        size = insn.spec.size
        if kind == TCP_SOCK:
            if _TCP_SOCK_LOADS.get(insn.off) != size:
                self.fail(pc, f"invalid access to {what} (struct bpf_tcp_sock) at offset "
                              f"{insn.off}, size {size}: not a field it may read (u32 fields "
                              f"whole, bytes_received and bytes_acked as 8 bytes)")
        elif readable_socket_field(insn.off, size, base.kind == SOCK_COMMON) is None:
            self.fail(pc, f"invalid access to {what} (struct bpf_sock) at offset {insn.off}, "
                          f"size {size}: not a field it may read")
        self._fact(self._note_socket_access, pc)
        bits = 8 * size
        st.forget_register(insn.dst, scalar(0, (1 << bits) - 1) if insn.kind is Kind.LDX
                           else scalar(smin=-(1 << (bits - 1)), smax=(1 << (bits - 1)) - 1))

    def _note_socket_access(self, pc: int) -> None:
        self._note_verdict(pc, True, "sock")

    def _socket_argument(self, pc: int, name: str, reg: int, kind: str, arg: Value,
                         st: State) -> int:
        """A socket argument: "sock_common" any socket (tested for NULL), "sock_release"
        one holding a reference the path holds, "sock_or_null" a socket, NULL, or a
        socket or NULL untested (the kernel's ARG_PTR_TO_SOCKET_OR_NULL: an sk_lookup
        context's `sk`, or a lookup's result, which kernel 6.18 takes untested too; its
        reference stays held); the reference released (0: none)."""
        if kind == "sock_or_null" and ((arg.kind == SCALAR and arg.is_const and arg.umin == 0)
                                       or arg.kind == SOCKET_OR_NULL):
            return 0
        # (a struct bpf_tcp_sock is a socket too, as the kernel's sock_common arguments
        # take it: bpf_tcp_sock's result, given to bpf_sk_fullsock)
        if arg.kind not in (SOCKET, SOCK_COMMON, TCP_SOCK) or (
                arg.kind == TCP_SOCK and kind == "sock_or_null"):
            why = " or NULL: compare it with 0 first" if arg.kind in NULLABLE else ""
            self.fail(pc, f"{name} takes a socket a lookup returned in r{reg}, not "
                          f"{arg.describe()}{why}")
        if kind != "sock_release":
            return 0
        ref = abs(arg.ref)
        if ref not in st.refs:
            self.fail(pc, f"{name} gives back a reference this function does not hold "
                          f"({arg.describe()})")
        return ref

    def _acquire(self, pc: int, st: State, kind: str) -> Value:
        """r0 after a lookup: a socket or NULL holding the reference named pc + 1."""
        ref = pc + 1
        if ref in st.refs:
            self.fail(pc, f"the socket this lookup returned before (a loop) is still held: "
                          f"give it back with bpf_sk_release first")
        st.unlink(ref)
        st.refs = st.refs | {ref}
        return Value(kind, 0, 0, 0, 0, ident=ref, ref=ref)

    def _socket_result(self, pc: int, result: str, st: State) -> Value:
        if result == "sock_or_null":
            return self._acquire(pc, st, SOCKET_OR_NULL)
        if result == "sock_common_or_null":
            return self._acquire(pc, st, SOCK_COMMON_OR_NULL)
        # "fullsock_or_null" / "tcp_sock_or_null": the full socket of r1's or its struct
        # bpf_tcp_sock, holding no reference of its own
        arg = st.regs[1]
        kind = TCP_SOCK_OR_NULL if result == "tcp_sock_or_null" else SOCKET_OR_NULL
        return Value(kind, 0, 0, 0, 0, ref=-abs(arg.ref))

    def _references_at_exit(self, pc: int, st: State) -> None:
        """No function returns holding a reference: the main program would leak it (the
        kernel refuses it), a subprogram or callback was given none to keep."""
        if st.refs:
            self.fail(pc, f"exits holding {self._held(min(st.refs))} on every path, as "
                          f"the kernel requires")

    def _references_at(self, pc: int, st: State, what: str) -> None:
        """A tail call or a legacy packet load while holding a reference: refused, as in
        the kernel (the reference would never be given back)."""
        if st.refs:
            self.fail(pc, f"{what} while holding {self._held(min(st.refs))} first")

    def _no_socket_arguments(self, pc: int, st: State) -> None:
        """A local call's arguments hold no socket reference: the callee could not give
        it back.  A socket holding none (a context's `sk`, or a full socket derived from
        one the caller holds) is passed as it is: the callee reads its fields, and may
        not release it."""
        for reg in range(1, 6):
            if st.regs[reg].kind in SOCKETS and st.regs[reg].ref > 0:
                self.fail(pc, f"r{reg} passes a socket a lookup returned to a subprogram; "
                              f"bpfjit follows a socket's reference within one function only")
