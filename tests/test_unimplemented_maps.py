"""An object that declares maps bpfjit does not implement loads its other programs; one
that calls a kfunc says so.

aquasecurity/tracee declares an arena map (to learn whether the kernel has them) beside
the maps its two cgroup_skb programs use; bpfjit refused the whole object, first
because the arena declares no key or value size (the kernel wants both 0, as for a
ring buffer; a bloom filter's key size too), then because it has no arena maps.  Now
such a map is left out of the object's maps, `bpfjit maps` lists it as not
implemented, and only a program that uses it is refused, naming the map and where
the program uses it (tests/elf/unimplemented_maps.c)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import bpfjit

OBJECT = Path(__file__).parent / "elf" / "unimplemented_maps.o"
XDP_PASS = 2


def test_a_program_that_does_not_use_them_runs(engine):
    prog = bpfjit.load_elf(OBJECT, function="count_packets")
    run = bpfjit.compile(prog, engine)
    assert [run(bpfjit.XdpContext(bytes(60))) for _ in range(3)] == [XDP_PASS] * 3
    assert int.from_bytes(prog.maps["counts"][bytes(4)], "little") == 3


def test_a_program_that_uses_one_is_refused_naming_it():
    with pytest.raises(bpfjit.ElfError, match=r"map 'pages' has map type 33 \(arena\), "
                                              r"which bpfjit does not implement.*xdp\+0x"):
        bpfjit.load_elf(OBJECT, function="probe_arena")


def test_the_maps_command_lists_them():
    out = subprocess.run([sys.executable, "-m", "bpfjit", "maps", str(OBJECT)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == [
        "counts type=array key=4 value=8 max_entries=1",
        "pages type=arena key=0 value=0 max_entries=1 (not implemented: a program that "
        "uses it does not load)",
        "seen type=bloom_filter key=0 value=4 max_entries=64 (not implemented: a program "
        "that uses it does not load)",
    ]


def test_the_cli_says_so_in_one_line():
    done = subprocess.run([sys.executable, "-m", "bpfjit", "run", str(OBJECT), "--function",
                           "probe_arena"], capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "arena" in done.stderr


# ---- kfuncs ---------------------------------------------------------------------------------

KFUNC = Path(__file__).parent / "elf" / "kfunc_call.o"


def test_a_kfunc_call_is_named_at_load():
    # eunomia-bpf's dynptr program calls bpf_dynptr_from_skb, a kfunc: the error said
    # "which is not code (an extern function?)"; it now says what it is
    with pytest.raises(bpfjit.ElfError, match=r"the call at tc\+0x0 is to "
                                              r"'bpf_example_kfunc', a function the object "
                                              r"declares extern: a kernel function "
                                              r"\(kfunc\).*not its kfuncs"):
        bpfjit.load_elf(KFUNC)
