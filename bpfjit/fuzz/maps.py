"""The maps of generated programs: an array (inlined lookups in both JITs) and a hash
(native index routines), the same for every run, so that engines can be compared on
what their lookups find and what their stores leave.

A program that loads a map handle (`lddw rX, map_by_fd(i)`) is given this table when
decoded (`attach`); before each run the maps are set back to their first contents
(`reset`), and after it their contents are part of the outcome (`snapshot`).
"""

from __future__ import annotations

from ..isa import Kind
from ..kernel import KernelEnv
from ..maps import MapSpec, MapTable, make_map
from ..program import Program

__all__ = ["SPECS", "VALUE_SIZE", "KEY_SLOT", "VALUE_SLOT", "uses_maps", "attach", "reset",
           "snapshot"]

ARRAY, HASH = 0, 1
VALUE_SIZE = 16
SPECS = (MapSpec("fuzz_array", 2, 4, VALUE_SIZE, 4),
         MapSpec("fuzz_hash", 1, 8, VALUE_SIZE, 4))
HASH_KEYS = (1, 2)                  # in the hash at the start of each run
KEY_SLOT, VALUE_SLOT = 120, 136     # [r10 - 120]: a key; [r10 - 136]: a value to store
_LDDW_MAP, _LDDW_CODE = 1, 4


def _first_value(map_index: int, slot: int) -> bytes:
    return bytes((0x11 * (map_index + 1) + 7 * slot + i) & 0xFF for i in range(VALUE_SIZE))


def uses_maps(prog: Program) -> bool:
    return _loads(prog, _LDDW_MAP)


def _loads(prog: Program, src: int) -> bool:
    """Whether `prog` has an lddw of pseudo type `src` (a map; a callback's address)."""
    return any(i.kind is Kind.LDDW and i.src == src for i in prog.insns)


def attach(prog: Program) -> Program:
    """`prog` with a fresh table of the fuzz maps (and the kernel's helpers), if it uses
    maps or calls bpf_loop."""
    if not uses_maps(prog) and not _loads(prog, _LDDW_CODE):
        return prog
    env = KernelEnv(MapTable([make_map(spec) for spec in SPECS]))
    return Program(prog.insns, env=env, context=prog.context, prog_type=prog.prog_type)


def reset(prog: Program) -> None:
    """Set the maps back to their first contents (each engine's run starts alike)."""
    if prog.env is None:
        return
    array, table = prog.maps.list[ARRAY], prog.maps.list[HASH]
    for slot in range(array.max_entries):
        array[slot] = _first_value(ARRAY, slot)
    table.clear()           # (the slots of a new map: a for_each walk's order)
    for key in HASH_KEYS:
        table[key] = _first_value(HASH, key)


def snapshot(prog: Program) -> bytes:
    """The maps' contents, in a fixed order: the array's values, then the hash's
    entries sorted by key."""
    if prog.env is None:
        return b""
    array, table = prog.maps.list[ARRAY], prog.maps.list[HASH]
    out = b"".join(bytes(array[slot]) for slot in range(array.max_entries))
    for key, value in sorted((bytes(k), bytes(v)) for k, v in table.items()):
        out += key + value
    return out
