"""Program types, and the section names that choose them.

An object file says what kind of program each function is by the name of its
section, as libbpf reads it: `xdp`, `tc`, `socket`, `kprobe/...`.  The type fixes
the context the program is given in r1 and what its return value means.  bpfjit
runs nine contexts: an XDP frame (`xdp`), a socket buffer (`skb`: socket filters,
tc, cgroup_skb and a socket map's sk_skb programs), a socket address (`sock_addr`:
cgroup sock_addr programs, whose attach type the section names too: `cgroup/connect4`), a socket (`sock`: cgroup sock programs,
`cgroup/sock`, `cgroup/post_bind4`, ...), TCP socket operations (`sock_ops`), socket
messages (`sk_msg`), socket options (`sockopt`: `cgroup/getsockopt`, `setsockopt`),
socket lookups (`sk_lookup`), and its own plain convention (`plain`: r1 = a buffer, r2 = its length) for code with
no program type, such as a global function in `.text`.  The other
types are named so that the error says what a program is and why it cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .context import (ATTACH_TYPES, SK_ACTIONS, SK_LOOKUP_RETURNS, SOCK_ADDR_RETURNS,
                      SOCK_ATTACH_TYPES, SOCKOPT_ATTACH_TYPES, TC_ACTIONS, XDP_ACTIONS)
from .errors import ElfError

__all__ = ["ProgType", "PROG_TYPES", "section_type", "prog_type", "accepted_sections",
           "result_name", "attach_type"]


@dataclass(frozen=True)
class ProgType:
    """A kernel program type: its name, the kernel's id, the context bpfjit gives it
    (None: bpfjit cannot run it) and the names of its return values."""
    name: str
    kernel_id: int
    context: str | None
    returns: dict[int, str]


_XDP_RETURNS = XDP_ACTIONS
_TC_RETURNS = TC_ACTIONS
_CGROUP_SKB_RETURNS = {0: "drop", 1: "allow"}

PROG_TYPES: dict[str, ProgType] = {t.name: t for t in (
    ProgType("plain", 0, "plain", {}),
    ProgType("socket_filter", 1, "skb", {}),
    ProgType("kprobe", 2, None, {}),
    ProgType("sched_cls", 3, "skb", _TC_RETURNS),
    ProgType("sched_act", 4, "skb", _TC_RETURNS),
    ProgType("tracepoint", 5, None, {}),
    ProgType("xdp", 6, "xdp", _XDP_RETURNS),
    ProgType("perf_event", 7, None, {}),
    ProgType("cgroup_skb", 8, "skb", _CGROUP_SKB_RETURNS),
    ProgType("cgroup_sock", 9, "sock", SOCK_ADDR_RETURNS),
    ProgType("lwt_in", 10, None, {}),
    ProgType("lwt_out", 11, None, {}),
    ProgType("lwt_xmit", 12, None, {}),
    ProgType("sock_ops", 13, "sock_ops", {}),
    ProgType("sk_skb", 14, "skb", SK_ACTIONS),
    ProgType("cgroup_device", 15, "device", {0: "EPERM", 1: "allow"}),
    ProgType("sk_msg", 16, "sk_msg", SK_ACTIONS),
    ProgType("raw_tracepoint", 17, None, {}),
    ProgType("cgroup_sock_addr", 18, "sock_addr", SOCK_ADDR_RETURNS),
    ProgType("lwt_seg6local", 19, None, {}),
    ProgType("lirc_mode2", 20, None, {}),
    ProgType("sk_reuseport", 21, None, {}),
    ProgType("flow_dissector", 22, None, {}),
    ProgType("cgroup_sysctl", 23, "sysctl", {0: "EPERM", 1: "go on"}),
    ProgType("cgroup_sockopt", 25, "sockopt", {0: "EPERM", 1: "go on"}),
    ProgType("tracing", 26, None, {}),
    ProgType("struct_ops", 27, None, {}),
    ProgType("lsm", 29, None, {}),
    ProgType("sk_lookup", 30, "sk_lookup", SK_LOOKUP_RETURNS),
    ProgType("syscall", 31, None, {}),
    ProgType("netfilter", 32, None, {}),
)}

# libbpf's section names: (name, type, how it matches).  "exact": only the name;
# "sub": the name or name/anything; "prefix": any section starting with the name.
_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("socket", "socket_filter", "sub"),
    ("sk_reuseport", "sk_reuseport", "sub"),
    ("kprobe", "kprobe", "sub"), ("kretprobe", "kprobe", "sub"),
    ("uprobe", "kprobe", "sub"), ("uretprobe", "kprobe", "sub"),
    ("uprobe.s", "kprobe", "sub"), ("uretprobe.s", "kprobe", "sub"),
    ("ksyscall", "kprobe", "sub"), ("kretsyscall", "kprobe", "sub"),
    ("usdt", "kprobe", "sub"), ("kprobe.multi", "kprobe", "sub"),
    ("kretprobe.multi", "kprobe", "sub"),
    ("tc", "sched_cls", "sub"), ("tcx", "sched_cls", "sub"), ("netkit", "sched_cls", "sub"),
    ("classifier", "sched_cls", "sub"), ("action", "sched_act", "sub"),
    ("tracepoint", "tracepoint", "sub"), ("tp", "tracepoint", "sub"),
    ("raw_tracepoint", "raw_tracepoint", "sub"), ("raw_tp", "raw_tracepoint", "sub"),
    ("raw_tracepoint.w", "raw_tracepoint", "sub"), ("raw_tp.w", "raw_tracepoint", "sub"),
    ("tp_btf", "tracing", "sub"), ("fentry", "tracing", "sub"), ("fexit", "tracing", "sub"),
    ("fmod_ret", "tracing", "sub"), ("fentry.s", "tracing", "sub"),
    ("fexit.s", "tracing", "sub"), ("fmod_ret.s", "tracing", "sub"),
    ("freplace", "tracing", "sub"), ("iter", "tracing", "sub"), ("iter.s", "tracing", "sub"),
    ("lsm", "lsm", "sub"), ("lsm.s", "lsm", "sub"), ("lsm_cgroup", "lsm", "sub"),
    ("syscall", "syscall", "exact"),
    ("xdp", "xdp", "sub"), ("xdp.frags", "xdp", "sub"),
    ("perf_event", "perf_event", "exact"),
    ("lwt_in", "lwt_in", "exact"), ("lwt_out", "lwt_out", "exact"),
    ("lwt_xmit", "lwt_xmit", "exact"), ("lwt_seg6local", "lwt_seg6local", "exact"),
    ("sockops", "sock_ops", "exact"), ("sk_skb", "sk_skb", "sub"), ("sk_msg", "sk_msg", "exact"),
    ("lirc_mode2", "lirc_mode2", "exact"), ("flow_dissector", "flow_dissector", "exact"),
    ("cgroup_skb", "cgroup_skb", "sub"), ("cgroup/skb", "cgroup_skb", "exact"),
    ("cgroup/dev", "cgroup_device", "exact"), ("cgroup/sysctl", "cgroup_sysctl", "exact"),
    ("cgroup/getsockopt", "cgroup_sockopt", "exact"),
    ("cgroup/setsockopt", "cgroup_sockopt", "exact"),
    ("cgroup/sock", "cgroup_sock", "prefix"), ("cgroup/post_bind", "cgroup_sock", "prefix"),
    ("cgroup/bind", "cgroup_sock_addr", "prefix"),
    ("cgroup/connect", "cgroup_sock_addr", "prefix"),
    ("cgroup/sendmsg", "cgroup_sock_addr", "prefix"),
    ("cgroup/recvmsg", "cgroup_sock_addr", "prefix"),
    ("cgroup/getpeername", "cgroup_sock_addr", "prefix"),
    ("cgroup/getsockname", "cgroup_sock_addr", "prefix"),
    ("struct_ops", "struct_ops", "sub"), ("struct_ops.s", "struct_ops", "sub"),
    ("sk_lookup", "sk_lookup", "sub"), ("netfilter", "netfilter", "exact"),
)
# older loaders (the kernel's samples/bpf, iproute2, early libbpf, goebpf's Go loader)
# took any section that starts with these: SEC("xdp1"), SEC("xdp_redirect_map"),
# SEC("socket2"), SEC("tc_cls")
_LEGACY_PREFIXES = (("xdp", "xdp"), ("socket", "socket_filter"), ("classifier", "sched_cls"),
                    ("tc_cls", "sched_cls"), ("tc_act", "sched_act"),
                    ("kprobe/", "kprobe"), ("kretprobe/", "kprobe"),
                    ("tracepoint/", "tracepoint"), ("raw_tracepoint/", "raw_tracepoint"))


def prog_type(name: str) -> ProgType:
    """The program type called `name` (`xdp`, `sched_cls`, `socket_filter`, ...), or
    an ElfError listing them; `tc` and `socket` are accepted as the section names."""
    if name in PROG_TYPES:
        return PROG_TYPES[name]
    for section, type_name, _ in _SECTIONS:
        if name == section:
            return PROG_TYPES[type_name]
    runnable = ", ".join(n for n, t in PROG_TYPES.items() if t.context is not None)
    raise ElfError(f"unknown program type {name!r}; bpfjit runs {runnable} "
                   f"(also written as a section name: xdp, tc, classifier, socket)")


def section_type(section: str) -> ProgType:
    """The program type of a code section, by libbpf's names and then the legacy
    prefixes; `.text` is the plain convention.  ElfError for a name neither knows."""
    if section == ".text":
        return PROG_TYPES["plain"]
    for name, type_name, how in _SECTIONS:
        if section == name or (how == "sub" and section.startswith(name + "/")) \
                or (how == "prefix" and section.startswith(name)):
            return PROG_TYPES[type_name]
    for prefix, type_name in _LEGACY_PREFIXES:
        if section.startswith(prefix):
            return PROG_TYPES[type_name]
    raise ElfError(f"section {section!r} does not name a program type; "
                   f"{accepted_sections()}; or give the type: prog_type= / --type")


def attach_type(section: str | None) -> str | None:
    """The attach type a section names for a cgroup sock_addr, sock or sockopt program
    (`cgroup/connect4` -> "connect4", `cgroup/sock` -> "sock_create",
    `cgroup/getsockopt` -> "getsockopt"), or an XDP program of a device or CPU map
    (`xdp/devmap` -> "devmap", `xdp/cpumap`; libbpf before 1.0 named them
    `xdp_devmap/...` and `xdp_cpumap/...`), as libbpf reads it; None for other
    sections."""
    if section is not None and section.split("/")[:1] in (["xdp"], ["xdp.frags"]):
        hook = section.split("/")[1:2]
        return hook[0] if hook in (["devmap"], ["cpumap"]) else None
    if section is not None and section.split("/")[:1] in (["xdp_devmap"], ["xdp_cpumap"]):
        return section.split("/")[0][len("xdp_"):]
    if section is not None and section.split("/")[:1] == ["sk_skb"]:
        hook = section.split("/")[1:2]       # sk_skb/stream_parser, /stream_verdict, /verdict
        return hook[0] if hook in (["stream_parser"], ["stream_verdict"], ["verdict"]) \
            else None
    if section is not None and section.split("/")[:1] == ["cgroup_skb"]:
        hook = section.split("/")[1:2]       # cgroup_skb/ingress, cgroup_skb/egress
        return hook[0] if hook in (["ingress"], ["egress"]) else None
    if section is None or not section.startswith("cgroup/"):
        return None
    # (a section under the hook's, `cgroup/connect4/...`: the hook's, as cilium/ebpf
    # reads it; kmesh's tail-called programs are named so)
    name = section[len("cgroup/"):].split("/", 1)[0]
    if name in ATTACH_TYPES or name in SOCK_ATTACH_TYPES or name in SOCKOPT_ATTACH_TYPES:
        return name
    if name.startswith("sock") and not name.startswith("sock_"):
        return "sock_create"            # cgroup/sock, and the older cgroup/sock1, ...
    return None


def accepted_sections() -> str:
    """A one-line summary of the section names bpfjit reads, for error messages."""
    runnable = sorted({n for n, t, _ in _SECTIONS if PROG_TYPES[t].context is not None})
    return (f"programs bpfjit runs are in sections {', '.join(runnable)} (each also as "
            f"NAME/...), or start with xdp, socket or classifier as older loaders allowed")


def result_name(type_name: str, r0: int) -> str:
    """What a program's return value means for its type: an XDP action, a TC_ACT_*
    verdict, a socket filter's kept length; "" where it has no name."""
    if type_name == "socket_filter":
        kept = r0 & 0xFFFFFFFF
        return "drop" if kept == 0 else "keep all" if kept == 0xFFFFFFFF else \
            f"keep {kept} bytes"
    return PROG_TYPES[type_name].returns.get(r0 & 0xFFFFFFFF, "") \
        if type_name in PROG_TYPES else ""
