"""What a call from Python into a JIT-compiled program costs, next to cffi's own floor.

The floor for each kind of argument is the cheapest call cffi itself can make of the
same entry point with the same memory: `entry(NULL, 0, config)` for None,
`entry(ffi.from_buffer(...), len, config)` for a buffer (read-only for bytes, which
bpfjit hands over in place to a program that cannot write its memory, as this one,
and copies once for one that may; the context's own buffer for an XdpContext).  Both are timed on the same compiled program, interleaved, and the
best of several rounds is kept, so machine noise affects both alike.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass

from .asm import assemble
from .errors import BpfError
from .native import ffi
from .program import Program

__all__ = ["CallCost", "measure_call_costs", "format_call_costs"]

_PLAIN = "mov r0, 0\nexit"
# an XDP program that reads its packet pointers, as every XDP program does
_XDP = "ldxw r2, [r1+0]\nldxw r3, [r1+4]\nmov r0, 2\nexit"
_BYTES = ffi.typeof("uint8_t[]")


@dataclass
class CallCost:
    engine: str
    argument: str          # what the program was called with
    ns: float              # one call through the compiled program's __call__
    floor_ns: float        # the same entry point called directly through cffi

    @property
    def ratio(self) -> float:
        return self.ns / self.floor_ns


def _best(statement: str, names: dict, number: int, rounds: int) -> float:
    return min(timeit.repeat(statement, globals=names, number=number, repeat=rounds)) \
        / number * 1e9


def _arguments(size: int) -> list[tuple[str, object, str]]:
    """(name, argument, floor statement) for the plain convention."""
    cases = [("None", None, "entry(NULL, 0, config)"),
             ("bytearray", bytearray(size), "entry(from_buffer(B, arg, True), n, config)"),
             ("bytes", bytes(size), "entry(from_buffer(B, arg, False), n, config)"),
             ("memoryview", memoryview(bytearray(size)),
              "entry(from_buffer(B, arg, True), n, config)")]
    try:
        import numpy
    except ImportError:
        return cases
    return cases + [("numpy", numpy.zeros(size, dtype=numpy.uint8),
                     "entry(from_buffer(B, arg, True), n, config)")]


def measure_call_costs(engine: str, size: int = 64, number: int = 20000,
                       rounds: int = 7) -> list[CallCost]:
    """Time calls of a trivial program on `engine` with each kind of argument (a
    `size`-byte buffer), and an XDP program on an XdpContext, against cffi's floor."""
    from . import compile as compile_program
    from .context import XdpContext
    if not isinstance(size, int) or size < 1:
        raise BpfError(f"the buffer size must be a positive int, got {size!r}")
    if engine == "interp":
        raise BpfError("call costs are measured for JIT engines (the interpreter has no "
                       "native entry point)")
    plain = compile_program(assemble(_PLAIN), engine)
    xdp = compile_program(Program(assemble(_XDP).insns, context="xdp", prog_type="xdp"),
                          engine)
    rows = []
    jobs = [(name, plain, arg, floor, len(arg) if arg is not None else 0)
            for name, arg, floor in _arguments(size)]
    ctx = XdpContext(bytes(size))
    jobs.append(("XdpContext", xdp, ctx, "entry(from_buffer(B, arg.buffer, True), n, config)",
                 len(ctx)))
    for name, fn, arg, floor, n in jobs:
        names = {"fn": fn, "arg": arg, "entry": fn._entry, "config": fn._config, "n": n,
                 "NULL": ffi.NULL, "B": _BYTES, "from_buffer": ffi.from_buffer}
        fn(arg)
        ours, base = [], []
        for _ in range(rounds):            # interleaved: noise hits both alike
            ours.append(_best("fn(arg)", names, number, 1))
            base.append(_best(floor, names, number, 1))
        rows.append(CallCost(engine, name, min(ours), min(base)))
    return rows


def format_call_costs(rows: list[CallCost]) -> str:
    lines = [f"{'engine':8s} {'argument':11s} {'call ns':>8s} {'cffi floor ns':>14s} "
             f"{'ratio':>6s}"]
    for row in rows:
        lines.append(f"{row.engine:8s} {row.argument:11s} {row.ns:8.0f} {row.floor_ns:14.0f} "
                     f"{row.ratio:5.2f}x")
    return "\n".join(lines)
