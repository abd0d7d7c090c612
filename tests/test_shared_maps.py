"""Maps a loader gives an object (`load_elf(..., maps=)`, `--maps-from`): one map used by
the programs of several objects, as a pinned map is, whether the object declares it
(with the same definition) or only names it (a variable a loader resolves by name).

The fixtures: shared_owner.c owns `per_source` (hash, u32 -> u64, 16 entries) and
`total` (array of one u64) and reports a source's count; shared_user.c declares
`per_source` the same way, names `total` as a variable, and counts each packet in both
(by the source address in its first four bytes)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.elf import ElfObject
from bpfjit.maps import MapSpec, make_map

ELF = Path(__file__).parent / "elf"
XDP_PASS = 2
SOURCES = [b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x01"]


def owner():
    obj = ElfObject(ELF / "shared_owner.o")
    return obj.program("xdp", "report"), obj.map_table()


def u64(raw: bytes) -> int:
    return struct.unpack("<Q", raw)[0]


def test_both_objects_count_in_one_map(engine):
    report, table = owner()
    user = bpfjit.load_elf(ELF / "shared_user.o", maps={"per_source": table["per_source"],
                                                        "total": table["total"]})
    count = bpfjit.compile(user, engine)
    for source in SOURCES:
        assert count(bpfjit.XdpContext(source + bytes(60))) == XDP_PASS
    # 10.0.0.1 twice, 10.0.0.2 once: seen through the owner's own maps and program
    assert u64(table["per_source"][SOURCES[0]]) == 2
    assert u64(table["per_source"][SOURCES[1]]) == 1
    assert u64(table["total"][0]) == 3
    ask = bpfjit.compile(report, engine)
    assert ask(bpfjit.XdpContext(SOURCES[0] + bytes(60))) == 2
    assert user.maps["per_source"] is table["per_source"]


def test_a_given_map_keeps_its_contents(engine):
    _, table = owner()
    table["per_source"][SOURCES[1]] = struct.pack("<Q", 40)
    user = bpfjit.load_elf(ELF / "shared_user.o", maps={"per_source": table["per_source"],
                                                        "total": table["total"]})
    bpfjit.compile(user, engine)(bpfjit.XdpContext(SOURCES[1] + bytes(60)))
    assert u64(table["per_source"][SOURCES[1]]) == 41


def test_without_the_map_the_name_is_a_variable():
    # `total` is then 28 bytes of .bss, which bpf_map_lookup_elem may not take, as the
    # kernel (through libbpf) refuses it too
    user = bpfjit.load_elf(ELF / "shared_user.o")
    assert ".bss" in user.maps and "total" not in user.maps
    with pytest.raises(bpfjit.VerifierError, match="map_lookup_elem takes a map"):
        bpfjit.verify(user, helpers=bpfjit.helper_ids(user), cache=False)


@pytest.mark.parametrize("given, words", [
    ({"per_source": make_map(MapSpec("per_source", 1, 4, 4, 16))},
     "not of its definition: value_size 8 (given 4)"),
    ({"per_source": make_map(MapSpec("per_source", 9, 4, 8, 32))},
     "type hash (given lru_hash), max_entries 16 (given 32)"),
    ({"per_sauce": make_map(MapSpec("x", 1, 4, 8, 16))},
     "neither declares nor refers to a map 'per_sauce' (it declares per_source)"),
    ({".bss": make_map(MapSpec("x", 2, 4, 28, 1))}, "'.bss' is the object's own global data"),
    ({"total": b"\x00" * 8}, "maps must be a dict of map name -> bpfjit map"),
    ({"total": make_map(MapSpec("jumps", 3, 4, 4, 2))}, "shares no map of maps or program array"),
])
def test_a_map_that_does_not_fit_is_refused(given, words):
    with pytest.raises(bpfjit.ElfError, match=words.replace("(", r"\(").replace(")", r"\)")):
        bpfjit.load_elf(ELF / "shared_user.o", maps=given)


def test_the_names_an_object_may_be_given():
    # the maps it declares and what it names without declaring (not .bss, not functions)
    assert ElfObject(ELF / "shared_user.o").map_names() == {"per_source", "total"}


def test_maps_from_on_the_command_line():
    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bpfjit", "run", str(ELF / "shared_user.o"),
                               "--mem-hex", "0a000001", *extra], capture_output=True,
                              text=True)
    ok = run("--maps-from", str(ELF / "shared_owner.o"))
    assert ok.returncode == 0 and "XDP_PASS" in ok.stdout
    unrelated = run("--maps-from", str(ELF / "flows.o"))
    assert unrelated.returncode != 0 and len(unrelated.stderr.strip().splitlines()) == 1
    assert "has no map that" in unrelated.stderr
