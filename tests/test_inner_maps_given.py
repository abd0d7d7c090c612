"""A map of maps whose inner definition its loader gives (load_elf's `inner_maps=`,
the command line's `--inner-map`), as libbpf's bpf_map__set_inner_map_fd and
cilium/ebpf's MapSpec.InnerMap give it: github/glb-director's forwarding tables
declare neither their value size nor their inner map."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit
from bpfjit.maps import MapSpec

ELF = Path(__file__).parent / "elf"
FIXTURE = ELF / "loader_inner.o"
ROWS = {"type": "array", "key_size": 4, "value_size": 8, "max_entries": 16}
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX = 0, 1, 2, 3
MATCH = (0x1122334455667788).to_bytes(8, "little")


def _frame(table: int, row: int) -> bpfjit.XdpContext:
    """64 bytes whose byte 14 picks the table and byte 15 the row (its low 4 bits)."""
    frame = bytearray(64)
    frame[14], frame[15] = table, row
    return bpfjit.XdpContext(bytes(frame))


@pytest.mark.parametrize("inner", [ROWS, MapSpec("rows", 2, 4, 8, 16)],
                         ids=["dict", "MapSpec"])
def test_the_given_inner_map_is_the_tables_rows(engine, inner):
    prog = bpfjit.load_elf(FIXTURE, inner_maps={"tables": inner})
    tables, rows = prog.maps["tables"], prog.maps["tables.inner"]
    # the outer map's values are maps (4 bytes, as the kernel wants them); the inner
    # definition is the one given, unnamed as a declared one is
    assert (tables.spec.key_size, tables.spec.value_size, tables.spec.max_entries) == (4, 4, 4)
    assert (tables.spec.inner.type, tables.spec.inner.key_size, tables.spec.inner.value_size,
            tables.spec.inner.max_entries, tables.spec.inner.name) == (2, 4, 8, 16, "")
    fn = bpfjit.compile(prog, engine)
    assert fn(_frame(1, 5)) == XDP_DROP                     # no table under key 1
    rows[5] = MATCH
    rows[6] = (7).to_bytes(8, "little")
    tables[1] = "tables.inner"
    assert fn(_frame(1, 5)) == XDP_TX
    assert fn(_frame(1, 0x36)) == XDP_PASS                  # row 0x36 & 15 = 6
    assert fn(_frame(1, 0x15)) == XDP_TX                    # row 5 again
    assert fn(_frame(2, 5)) == XDP_DROP                     # table 2 is empty
    assert fn(_frame(9, 5)) == XDP_DROP                     # past the outer array
    assert fn(bpfjit.XdpContext(bytes(15))) == XDP_ABORTED  # too short for byte 15


def test_the_verifier_reads_the_given_definition():
    # the 8-byte load of the row is proven within 8-byte values, and refused where the
    # loader's rows are 4 bytes (a constant offset outside the value)
    prog = bpfjit.load_elf(FIXTURE, inner_maps={"tables": ROWS})
    verdict = bpfjit.verify(prog)
    assert verdict.accesses and set(verdict.accesses) == set(verdict.proven)
    narrow = bpfjit.load_elf(FIXTURE, inner_maps={"tables": {**ROWS, "value_size": 4}})
    with pytest.raises(bpfjit.BpfError, match="value"):
        bpfjit.verify(narrow)


def test_without_an_inner_definition_the_error_says_how_to_give_one():
    with pytest.raises(bpfjit.BpfError, match="inner_maps=.*--inner-map"):
        bpfjit.load_elf(FIXTURE)


@pytest.mark.parametrize("given, message", [
    ({"rows": ROWS}, r"'rows' is no map of the object; it declares the maps of maps declared, tables"),
    ({"tables": {**ROWS, "type": "arry"}}, r"no map type 'arry'"),
    ({"tables": {"type": "array", "key_size": 4}}, r"missing value_size, max_entries"),
    ({"tables": {**ROWS, "size": 3}}, r"unknown size"),
    ({"tables": {**ROWS, "key_size": True}}, r"32-bit numbers"),
    ({"tables": {**ROWS, "max_entries": -1}}, r"32-bit numbers"),
    ({"tables": [2, 4, 8, 16]}, r"takes a MapSpec or a dict"),
    ({"tables": {**ROWS, "type": "array_of_maps"}}, r"cannot itself be a map of maps"),
    (["tables"], r"inner_maps must be a dict"),
])
def test_inner_definitions_that_cannot_be_are_refused(given, message):
    with pytest.raises(bpfjit.ElfError, match=message):
        bpfjit.load_elf(FIXTURE, inner_maps=given)


def test_a_map_of_maps_that_declares_its_inner_map_keeps_it():
    # libbpf refuses to set an inner map where the object declares one; so does bpfjit
    with pytest.raises(bpfjit.ElfError, match="'declared' declares its inner map already"):
        bpfjit.load_elf(FIXTURE, inner_maps={"declared": ROWS})


def test_a_map_that_is_no_map_of_maps_takes_no_inner_definition():
    with pytest.raises(bpfjit.ElfError, match="'backends' is a array map of the object"):
        bpfjit.load_elf(ELF / "legacy_inner_map_pointer.o", inner_maps={"backends": ROWS})


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_the_command_line_gives_it_with_inner_map(tmp_path):
    packet = tmp_path / "frame.bin"
    packet.write_bytes(bytes(64))
    done = _cli("run", str(FIXTURE), "--inner-map", "tables=array:4:8:16",
                "--packet", str(packet))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("r0 = 1 (0x1) XDP_DROP")
    listed = _cli("maps", str(FIXTURE), "--inner-map", "tables=2:4:8:0x10")
    assert listed.stdout.splitlines() == [
        "tables type=array_of_maps key=4 value=4 max_entries=4",
        "declared type=array_of_maps key=4 value=4 max_entries=2",
        "tables.inner type=array key=4 value=8 max_entries=16",
        "declared.inner type=array key=4 value=8 max_entries=16"]
    bad = _cli("maps", str(FIXTURE), "--inner-map", "tables=array:4:8")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "bpfjit: error: --inner-map takes NAME=TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS] (such as "
        "tables=array:4:8:65536), got 'tables=array:4:8'"]


def test_a_record_whose_inner_map_the_loader_sets_takes_the_given_one(engine):
    # libbpf reads 20 bytes of a 28-byte samples/bpf record and leaves the inner map to
    # bpf_map__set_inner_map_fd (CentaurusInfra/mizar's maps of maps, whose
    # inner_map_idx is 0): given, the definition replaces the record's inner_map_idx
    # (here 1, `backends`); the program reads element 0 of the inner map + 100
    given = {"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 2, "flags": 1}
    prog = bpfjit.load_elf(ELF / "legacy_inner_map_def.o", inner_maps={"by_service": given})
    outer, inner = prog.maps["by_service"], prog.maps["by_service.inner"]
    assert (outer.spec.inner.type, outer.spec.inner.key_size, outer.spec.inner.value_size,
            outer.spec.inner.max_entries, outer.spec.inner.flags) == (1, 4, 8, 2, 1)
    fn = bpfjit.compile(prog, engine)
    assert fn(bytes(64)) == 0                               # no inner map under key 1
    outer[1] = "by_service.inner"
    assert fn(bytes(64)) == 0                               # no element 0 in the hash
    inner[0] = (5).to_bytes(8, "little")
    assert fn(bytes(64)) == 105


def test_the_command_line_takes_flags_as_a_fifth_field():
    listed = _cli("maps", str(ELF / "legacy_inner_map_def.o"), "--inner-map",
                  "by_service=hash:4:8:2:1")
    assert listed.returncode == 0, listed.stderr
    assert "by_service.inner type=hash key=4 value=8 max_entries=2" in listed.stdout
    bad = _cli("maps", str(FIXTURE), "--inner-map", "tables=array:4:8:16:0:9")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "--inner-map takes NAME=TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]" in bad.stderr
