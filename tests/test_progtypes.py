"""Program types from section names (libbpf's table and the legacy prefixes), the
override, and what a program's return value is called."""

from pathlib import Path

import pytest

import bpfjit
from bpfjit.progtypes import attach_type, result_name, section_type

ELF = Path(__file__).parent / "elf"


@pytest.mark.parametrize("section,expected", [
    ("xdp", "xdp"), ("xdp/flows", "xdp"), ("xdp.frags", "xdp"), ("xdp.frags/devmap", "xdp"),
    ("xdp1", "xdp"), ("xdp_redirect_map", "xdp"),          # older loaders: any xdp prefix
    ("tc", "sched_cls"), ("tc/ingress", "sched_cls"), ("tcx/egress", "sched_cls"),
    ("classifier", "sched_cls"), ("classifier/cls", "sched_cls"), ("action", "sched_act"),
    ("socket", "socket_filter"), ("socket2", "socket_filter"),
    ("kprobe/do_sys_open", "kprobe"), ("tracepoint/xdp/xdp_exception", "tracepoint"),
    ("tp/syscalls/sys_enter_write", "tracepoint"), ("cgroup/skb", "cgroup_skb"),
    ("cgroup/connect4", "cgroup_sock_addr"), (".text", "plain"),
])
def test_section_names_give_the_program_type(section, expected):
    assert section_type(section).name == expected


@pytest.mark.parametrize("section, hook", [
    ("cgroup/connect4", "connect4"), ("cgroup/getsockopt", "getsockopt"),
    # a program the hook's program tail-calls, in a section under the hook's (kmesh's
    # `cgroup/connect4/KMESH_TAIL_CALL_CLUSTER`): the hook's, as cilium/ebpf reads it
    ("cgroup/connect4/cluster_manager", "connect4"), ("cgroup/sendmsg6/x", "sendmsg6"),
    ("cgroup/skb", None), ("xdp", None), ("cgroup/connect", None),
    # a device or CPU map's XDP program, and the names libbpf before 1.0 gave them
    # (the kernel selftest xdp_redirect_multi_kern's `xdp_devmap/map_prog`)
    ("xdp/devmap", "devmap"), ("xdp.frags/cpumap", "cpumap"),
    ("xdp_devmap/map_prog", "devmap"), ("xdp_cpumap/x", "cpumap"), ("xdp_devmapper", None),
])
def test_section_names_give_the_hook(section, hook):
    assert attach_type(section) == hook


def test_an_unknown_section_lists_what_is_accepted():
    with pytest.raises(bpfjit.ElfError) as err:
        section_type("filter")
    message = str(err.value)
    assert "'filter'" in message and "xdp" in message and "socket" in message \
        and "prog_type=" in message


@pytest.mark.parametrize("type_name,r0,name", [
    ("xdp", 1, "XDP_DROP"), ("xdp", 4, "XDP_REDIRECT"), ("xdp", 9, ""),
    ("sched_cls", 2, "TC_ACT_SHOT"), ("sched_cls", 2**64 - 1, "TC_ACT_UNSPEC"),
    ("sched_act", 0, "TC_ACT_OK"), ("socket_filter", 0, "drop"),
    ("socket_filter", 64, "keep 64 bytes"), ("plain", 7, ""),
])
def test_result_names(type_name, r0, name):
    assert result_name(type_name, r0) == name


def test_legacy_xdp_section_runs_with_an_xdp_context(engine):
    prog = bpfjit.load_elf(ELF / "legacy_xdp.o", section="xdp1")
    assert (prog.context, prog.prog_type) == ("xdp", "xdp")
    fn = bpfjit.compile(prog, engine)
    eth = b"\x02" * 12
    assert fn(eth + b"\x86\xdd" + bytes(40)) == 1           # IPv6: XDP_DROP
    assert fn(eth + b"\x08\x00" + bytes(20)) == 2           # IPv4: XDP_PASS
    assert fn(eth) == 0                                     # too short: XDP_ABORTED


def test_legacy_socket_section_keeps_at_most_64_bytes(engine):
    prog = bpfjit.load_elf(ELF / "legacy_xdp.o", section="socket1")
    assert prog.prog_type == "socket_filter"
    fn = bpfjit.compile(prog, engine)
    assert [fn(bytes(n)) for n in (10, 64, 1500)] == [10, 64, 64]


def test_prog_type_overrides_the_section():
    prog = bpfjit.load_elf(ELF / "legacy_xdp.o", section="socket1", prog_type="tc")
    assert (prog.prog_type, prog.context) == ("sched_cls", "skb")
    with pytest.raises(bpfjit.ElfError, match="unknown program type 'nonsense'"):
        bpfjit.load_elf(ELF / "legacy_xdp.o", section="socket1", prog_type="nonsense")


def test_a_type_without_a_context_says_so():
    with pytest.raises(bpfjit.ElfError, match="kprobe program, whose context bpfjit does "
                                              "not provide"):
        bpfjit.load_elf(ELF / "legacy_xdp.o", section="socket1", prog_type="kprobe")


def test_socket_filters_may_not_write_the_mark():
    # the verifier allows socket filters to write only cb[], as the kernel does (nor may
    # they read data_end, which tc_classify.o, loaded as a socket filter, reads first)
    prog = bpfjit.Program(bpfjit.assemble("stw [%r1+8], 7\nmov %r0, 0\nexit").insns,
                          context="skb", prog_type="socket_filter")
    with pytest.raises(bpfjit.VerifierError, match="socket_filter programs may not write"):
        bpfjit.compile(prog)
    tc = bpfjit.load_elf(ELF / "tc_classify.o", prog_type="socket_filter")
    with pytest.raises(bpfjit.VerifierError, match="not a field of a socket_filter program"):
        bpfjit.compile(tc)


# ---- the CLI -----------------------------------------------------------------------------------

def cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "bpfjit", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_names_the_result_by_program_type(tmp_path):
    ipv4 = tmp_path / "frame.bin"
    ipv4.write_bytes(b"\x02" * 12 + b"\x08\x00" + bytes(20))
    proc = cli("run", str(ELF / "legacy_xdp.o"), "--section", "xdp1", "--packet", str(ipv4))
    assert proc.returncode == 0 and proc.stdout.strip() == "r0 = 2 (0x2) XDP_PASS"
    proc = cli("run", str(ELF / "legacy_xdp.o"), "--section", "xdp1", "--type", "socket",
               "--packet", str(ipv4))
    # as a socket filter, offsets 0 and 4 are skb->len (34) and pkt_type (0): numbers, so
    # `data + 14 > data_end` holds and the program returns 0, which drops the packet
    assert proc.returncode == 0 and proc.stdout.strip() == "r0 = 0 (0x0) drop"
    proc = cli("run", str(ELF / "legacy_xdp.o"), "--section", "socket1", "--packet", str(ipv4))
    assert proc.stdout.strip() == "r0 = 34 (0x22) keep 34 bytes"


def test_cli_type_and_max_entries_errors_are_one_line(tmp_path):
    proc = cli("run", str(ELF / "legacy_xdp.o"), "--section", "xdp1", "--type", "bogus")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert "unknown program type 'bogus'" in proc.stderr
    proc = cli("maps", str(ELF / "counter.o"), "--max-entries", "total")
    assert proc.returncode == 1 and "NAME=N" in proc.stderr
    proc = cli("maps", str(ELF / "counter.o"), "--max-entries", "total=3")
    assert "total type=array key=4 value=8 max_entries=3" in proc.stdout.splitlines()


def test_cli_lists_the_helpers():
    proc = cli("helpers")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert lines[0].split()[:2] == ["1", "map_lookup_elem"]
    assert any(line.split()[:2] == ["44", "xdp_adjust_head"] and "[xdp]" in line
               for line in lines)


def test_the_helper_docs_are_generated_from_the_registry():
    # docs/helpers.md is `bpfjit helpers --markdown` (make docs): it must not go stale
    docs = Path(__file__).parent.parent / "docs" / "helpers.md"
    assert docs.read_text() == cli("helpers", "--markdown").stdout
