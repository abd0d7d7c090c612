"""The map helpers: lookup (1), update (2), delete (3), and the program array's
tail call (12)."""

from __future__ import annotations

import errno

from ..errors import HelperArgumentError
from ..maps import SOCKET_MAP_TYPES, BPF_ANY, MapError, ProgArray, QueueMap, StackMap
from ..semantics import M64
from .redirect import REDIRECT_MAP
from .spec import KernelHelper, Signature

__all__ = ["HELPERS", "TailCalled", "MAX_TAIL_CALLS", "MAP_OPERATIONS", "NATIVE_MAP_HELPERS",
           "TAIL_CALL"]

MAX_TAIL_CALLS = 33          # the kernel's MAX_TAIL_CALL_CNT
# the map helpers the JIT engines may do in native code: helper id -> operation
MAP_OPERATIONS = {1: "lookup", 2: "update", 3: "delete"}
TAIL_CALL = 12               # bpf_tail_call's id
# the calls the JITs may answer themselves unless the caller replaced the helper: the
# map operations, a tail call's test of its slot, bpf_redirect_map (backends.mapops)
NATIVE_MAP_HELPERS = frozenset(MAP_OPERATIONS) | {TAIL_CALL, REDIRECT_MAP}


def errno_result(operation) -> int:
    """0, or the kernel's negative errno as an unsigned 64-bit r0."""
    try:
        operation()
    except MapError as exc:
        return -exc.errno & M64
    return 0


def lookup(call, r1, r2, r3, r4, r5) -> int:
    index, m = call.the_map(r1)
    mem = call.memory
    key = mem.read(r2, m.key_size)
    if m.spec.type in SOCKET_MAP_TYPES:         # the socket, if still in env.sockets
        table = call.env.sockets
        offset = table.offset_of(m.socket(key))
        return 0 if offset is None else mem.socket_base(table) + offset
    return m.program_lookup(key, mem.map_address(index))


def update(call, r1, r2, r3, r4, r5) -> int:
    _, m = call.the_map(r1)
    mem = call.memory
    flags = r4 & M64 if r4 else BPF_ANY
    if m.spec.type in SOCKET_MAP_TYPES:         # the value is a socket the program has
        key, owner = mem.read(r2, m.key_size), call.socket_owner(r3)
        return errno_result(lambda: m.program_update(key, owner, flags))
    key, value = mem.read(r2, m.key_size), mem.read(r3, m.value_size)
    return errno_result(lambda: m.update(key, value, flags))


def delete(call, r1, r2, r3, r4, r5) -> int:
    _, m = call.the_map(r1)
    key = call.memory.read(r2, m.key_size)
    return errno_result(lambda: m.delete(key))


def _sequence(call, handle: int):
    _, m = call.the_map(handle)
    if not isinstance(m, (QueueMap, StackMap)):
        raise HelperArgumentError(f"map {m.name!r} is a {m.spec.type_name}, not a queue or "
                                  f"a stack")
    return m


def push(call, r1, r2, r3, r4, r5) -> int:
    m = _sequence(call, r1)
    value = call.memory.read(r2, m.value_size)
    return errno_result(lambda: m.push(value, r3 & M64))


def _take(call, r1, r2, remove: bool) -> int:
    m = _sequence(call, r1)
    try:
        value = m.pop() if remove else m.peek()
    except MapError as exc:
        return -exc.errno & M64
    call.memory.write(r2, value)
    return 0


class TailCalled(Exception):
    """Raised by a successful tail call: the program that made it ends with `r0`, the
    result of the program it called (the engines catch it at their run loop)."""

    def __init__(self, r0: int):
        super().__init__(f"tail call returned {r0}")
        self.r0 = r0


def tail_call(call, r1, r2, r3, r4, r5) -> int:
    """Run the program at index r3 of the program array r2 on the same context and end
    the caller with its result; fall through (r0 = -ENOENT) for an empty slot or
    after 33 nested tail calls, as the kernel does."""
    _, m = call.the_map(r2)
    if not isinstance(m, ProgArray):
        return -errno.EINVAL & M64
    target = m.program(r3 & 0xFFFFFFFF)
    if target is None or call.env.tail_depth() >= MAX_TAIL_CALLS:
        return -errno.ENOENT & M64
    result = call.env.run_tail_call(target, call)
    if call.engine == "interp":
        raise TailCalled(result)
    # JIT code ends the run with `result` when it sees the run so marked, as it returns
    # from the call (no trap, no exception: a set slot's call costs a few µs less)
    call.memory.end_run(result)
    return 0


HELPERS = [
    KernelHelper(1, "map_lookup_elem", Signature(("map", "key"), "map_value_or_null"), lookup,
                 "a pointer to the value of the key at r2, or NULL"),
    KernelHelper(2, "map_update_elem", Signature(("map", "key", "value", "any"), "errno"),
                 update, "set the key at r2 to the value at r3 (flags r4: BPF_ANY, "
                 "BPF_NOEXIST, BPF_EXIST)"),
    KernelHelper(3, "map_delete_elem", Signature(("map", "key"), "errno"), delete,
                 "remove the key at r2"),
    KernelHelper(87, "map_push_elem", Signature(("map", "value", "any"), "errno",
                                                map_types=frozenset({22, 23})), push,
                 "add the value at r2 to a queue or stack (flags r3: BPF_EXIST drops the "
                 "oldest when full)"),
    KernelHelper(88, "map_pop_elem", Signature(("map", "value_out"), "errno",
                                               map_types=frozenset({22, 23})),
                 lambda call, r1, r2, r3, r4, r5: _take(call, r1, r2, True),
                 "take the next value of a queue or stack into r2"),
    KernelHelper(89, "map_peek_elem", Signature(("map", "value_out"), "errno",
                                                map_types=frozenset({22, 23})),
                 lambda call, r1, r2, r3, r4, r5: _take(call, r1, r2, False),
                 "copy the next value of a queue or stack into r2"),
    KernelHelper(TAIL_CALL, "tail_call", Signature(("ctx", "map", "any"), "errno",
                                            map_types=frozenset({3})), tail_call,
                 "run program r3 of the program array r2 in place of this one"),
]
