"""Maps whose memory the kernel allocates per element (BPF_F_NO_PREALLOC hash maps and
LPM tries) declared as production programs declare them: gtp-guard's and kmesh's
objects declare hash maps of one to ten million entries, which the kernel loads
(their memory comes as elements are added) and bpfjit refused, the declared size
being more than its memory limits.  Such a map declared in an object now holds at
most as many elements as `limits().map_bytes` has room for; a preallocated map of
that size is still refused, and a size the loader gives is taken as given.

tests/elf/big_flow_table.c: ten million 64-byte flows, counted per first byte."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import bpfjit
from bpfjit.limits import limits
from bpfjit.maps import MapSpec, make_map
from context_oracle import kernel_loads_program

ELF = Path(__file__).parent / "elf"
DECLARED = 10_000_000
VALUE = 64


def load(**kw) -> bpfjit.Program:
    return bpfjit.load_elf(ELF / "big_flow_table.o", function="count_flows", **kw)


def test_it_loads_holding_what_the_limit_has_room_for():
    flows = load().maps["flows"]
    assert flows.spec.flags & 1                         # BPF_F_NO_PREALLOC
    assert flows.max_entries == limits().map_bytes // VALUE     # 4,194,304 by default
    assert flows.max_entries < DECLARED


def test_a_size_the_loader_gives_is_taken_as_given():
    assert load(max_entries={"flows": 1000}).maps["flows"].max_entries == 1000


def test_a_preallocated_map_of_that_size_is_still_refused():
    with pytest.raises(bpfjit.BpfError, match="more than the limit"):
        make_map(MapSpec("preallocated", 1, 4, VALUE, DECLARED))


def test_strict_mode_accepts_and_the_kernel_loads_it():
    prog = load()
    verified = bpfjit.verify(prog, mode="strict", cache=False)
    assert set(verified.proven) == set(verified.accesses)
    assert kernel_loads_program(prog, "xdp") in (True, None)


def test_it_counts_flows(engine):
    prog = load()
    run = bpfjit.compile(prog, engine)
    for first, length in [(7, 60), (9, 100), (7, 40)]:
        assert run(bpfjit.XdpContext(bytes([first]) + bytes(length - 1))) == 2
    flows = prog.maps["flows"]
    for first, packets, size in [(7, 2, 100), (9, 1, 100)]:
        value = flows[struct.pack("<I", first)]
        assert struct.unpack_from("<QQ", value) == (packets, size)
    assert len(flows) == 2


def test_such_maps_share_what_the_object_limit_leaves():
    # five tables of ten million 64-byte values and a preallocated array of a million:
    # the array as declared, the tables alike, each within map_bytes, all within
    # object_map_bytes
    from bpfjit.maps import allocated_specs, map_class
    tables = [MapSpec(f"table{i}", 1, 4, VALUE, DECLARED, flags=1) for i in range(5)]
    array = MapSpec("array", 2, 4, VALUE, 1_000_000)
    out = allocated_specs(tables + [array])
    assert out[-1] == array
    assert len({spec.max_entries for spec in out[:5]}) == 1
    assert all(spec.max_entries * VALUE <= limits().map_bytes for spec in out[:5])
    assert sum(map_class(spec).native_bytes(spec) for spec in out) \
        <= limits().object_map_bytes
    assert allocated_specs(tables, {"table0"})[0] == tables[0]     # sized by its loader


def test_preallocated_maps_beyond_the_object_limit_are_still_refused():
    from bpfjit.maps import allocated_specs, check_map_memory
    arrays = [MapSpec(f"array{i}", 2, 4, 1 << 20, 200) for i in range(6)]   # 6 x 200 MiB
    table = MapSpec("table", 1, 4, VALUE, DECLARED, flags=1)
    with pytest.raises(bpfjit.BpfError, match="more than the limit"):
        check_map_memory(allocated_specs(arrays + [table]))
