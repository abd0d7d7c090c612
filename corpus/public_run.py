"""Load, verify and run every program of some object files on every engine.

For programs written elsewhere (public XDP, tc and socket-filter projects, built
locally): each program is loaded, verified in checked mode and run on every engine
with a handful of packets (IPv4 TCP and UDP, IPv6 UDP, ARP, a VLAN-tagged IPv4),
each engine on a fresh load so that its maps start empty.  A program "runs" when no
engine raises and every engine returns the same values, leaves the same packets and
the same map contents.  Each program that stops says where and why.  With `--kernel`
(root, where the kernel engine is available), each program that runs alike is run by
the running kernel too, an independent oracle: it agrees, differs, or cannot run the
program (its limits: bpfjit.backends.kerneljit), and the summary counts each.

    python corpus/public_run.py [--kernel] [--type SECTION=TYPE]... [--constant NAME=VALUE]...
                                [--max-entries MAP=N]... [--maps-from OBJECT]... OBJECT...

`--type '*=tc'` gives that type to every section that names none (iproute2's loader
takes it from the command line, so its objects' sections name slots of a tail-call
table, not types).  `--maps-from OBJECT` gives each object the maps of OBJECT it
declares or refers to by name (fresh for each load), as a loader that pins maps or
resolves them by name does (aws-network-policy-agent's tc programs use the maps its
events object defines).

Tracing programs (kprobe, tracepoint, ...) are listed but not counted: the goal is
the packet programs.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import struct
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import bpfjit  # noqa: E402
from elftools.common.exceptions import ELFError  # noqa: E402
from bpfjit.elf import ElfObject, maps_from  # noqa: E402
from bpfjit.loaderargs import parse_inner_map  # noqa: E402
from bpfjit.maps import ArrayMap, SkStorage  # noqa: E402
from bpfjit.progtypes import section_type  # noqa: E402

_TRACING = ("kprobe", "kretprobe", "tracepoint", "tp/", "tp_btf", "raw_tp", "raw_tracepoint",
            "fentry", "fexit", "uprobe", "uretprobe", "perf_event", "lsm", "iter", "struct_ops",
            "fmod_ret", "usdt", "ksyscall", "kretsyscall")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4(proto: int, payload: bytes, src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                         src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + payload


def packets() -> dict[str, bytes]:
    """A few ordinary frames, built by hand from the header layouts."""
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
    udp = struct.pack("!HHHH", 5353, 53, 8 + 12, 0) + b"payload-1234"
    ipv6 = struct.pack("!IHBB16s16s", 6 << 28, len(udp), 17, 64,
                       b"\xfd" + b"\0" * 14 + b"\x01", b"\xfd" + b"\0" * 14 + b"\x02") + udp
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, eth[6:], b"\x0a\0\0\x01",
                      b"\0" * 6, b"\x0a\0\0\x02")
    return {
        "ipv4-tcp": eth + b"\x08\x00" + _ipv4(6, tcp),
        "ipv4-udp": eth + b"\x08\x00" + _ipv4(17, udp),
        "ipv6-udp": eth + b"\x86\xdd" + ipv6,
        "arp": eth + b"\x08\x06" + arp + b"\0" * 18,
        "vlan-ipv4": eth + b"\x81\x00\x00\x64\x08\x00" + _ipv4(17, udp),
    }


def sock_addrs(hook: str | None) -> dict[str, tuple]:
    """For a cgroup sock_addr program: a few destinations of its family, TCP and UDP."""
    if hook and hook.endswith("6"):
        return {"tcp6": ("fd00::2", 80, 1), "udp6": ("fd00::2", 53, 2)}
    return {"tcp4": ("10.0.0.2", 80, 1), "udp4": ("10.0.0.2", 53, 2)}


def _outcome(prog, engine: str, frames: dict[str, bytes]):
    fn = bpfjit.compile(prog, engine)
    results = []
    if prog.context == "sock_addr":
        for name, (address, port, kind) in sock_addrs(prog.attach_type).items():
            ctx = bpfjit.SockAddrContext(address, port, type=kind, socket_cookie=7)
            results.append((name, fn(ctx), ctx.outcome(), None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sock":
        family = 10 if prog.attach_type == "post_bind6" else 2
        source = "fd00::1" if family == 10 else "10.0.0.1"
        for name, kind in (("stream", 1), ("dgram", 2), ("raw", 3)):
            ctx = bpfjit.SockContext(family, kind, src=source, src_port=8080,
                                     socket_cookie=7)
            results.append((name, fn(ctx), ctx.outcome(), None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sk_lookup":    # TCP and UDP, IPv4 and IPv6, to a few ports
        for protocol in ("tcp", "udp"):
            for local, remote in (("10.0.0.2", "10.0.0.1"), ("fd00::2", "fd00::1")):
                for port in (53, 80, 443):
                    ctx = bpfjit.SkLookupContext(protocol, local=(local, port),
                                                 remote=(remote, 40000))
                    results.append((f"{protocol}/{local}/{port}", fn(ctx), ctx.outcome(),
                                    None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sock_ops":     # every op, an IPv4 and an IPv6 connection
        for family, local, remote in (("4", "10.0.0.2", "10.0.0.1"), ("6", "fd00::2", "fd00::1")):
            for op in range(16):
                ctx = bpfjit.SockOpsContext(op, local=(local, 80), remote=(remote, 55601),
                                            snd_cwnd=10, srtt_us=800, state=1)
                results.append((f"op{op}/{family}", fn(ctx), ctx.outcome(), None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sk_msg":       # a request and a reply, IPv4 and IPv6
        for family, address in (("4", "127.0.0.1"), ("6", "::1")):
            for name, data, ports in (("request", b"GET / HTTP/1.1\r\n\r\n", (80, 40000)),
                                      ("reply", b"HTTP/1.1 200 OK\r\n\r\n", (40000, 80))):
                ctx = bpfjit.SkMsgContext(data, local=(address, ports[0]),
                                          remote=(address, ports[1]))
                r0 = fn(ctx)
                results.append((f"{name}/{family}", r0, (ctx.packet, ctx.apply_bytes,
                                                         ctx.cork_bytes), ctx.redirect))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sockopt":      # a few options, on an IPv4 and an IPv6 connection
        for family, local, remote in (("4", "10.0.0.2", "10.0.0.1"), ("6", "fd00::2", "fd00::1")):
            sock = bpfjit.Socket("tcp", local=(local, 15001), remote=(remote, 40000))
            for name, level, optname, value in (("original_dst", 0, 80, bytes(16)),
                                                ("original_dst6", 41, 80, bytes(28)),
                                                ("mark", 1, 36, (7).to_bytes(4, "little")),
                                                ("nodelay", 6, 1, (1).to_bytes(4, "little")),
                                                ("huge", 1, 8, bytes(4096))):
                ctx = bpfjit.SockoptContext(level, optname, value, optlen=len(value) * 2
                                            if name == "huge" else None, socket=sock)
                results.append((f"{name}/{family}", fn(ctx), (ctx.outcome(), ctx.packet), None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "device":       # /dev/null, a pty, a disk: each access
        for kind, major, minor in (("char", 1, 3), ("char", 136, 0), ("block", 8, 0)):
            for access in ("r", "w", "rw", "m"):
                ctx = bpfjit.DeviceContext(kind, access, major, minor)
                results.append((f"{kind}/{major}:{minor}/{access}", fn(ctx), None, None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    if prog.context == "sysctl":       # reads and writes of a few sysctls
        for name, value, written in (("net/ipv4/ip_forward", "0\n", None),
                                     ("net/ipv4/ip_forward", "0\n", "1\n"),
                                     ("kernel/hostname", "box\n", "guest\n"),
                                     ("net/core/somaxconn", "4096\n", "65535\n")):
            ctx = bpfjit.SysctlContext(name, value, new_value=written)
            results.append((f"{name}/{'write' if written else 'read'}", fn(ctx),
                            ctx.outcome(), None))
        return results, {name: _digest(m) for name, m in prog.maps.items()}
    for name, frame in frames.items():
        ctx = prog.make_context(frame) if hasattr(prog, "make_context") else bytearray(frame)
        r0 = fn(ctx)
        after = getattr(ctx, "packet", bytes(ctx) if isinstance(ctx, bytearray) else None)
        results.append((name, r0, after, getattr(ctx, "redirect", None)))
    return results, {name: _digest(m) for name, m in prog.maps.items()}


def _digest(m) -> tuple:
    """A map's state, compactly: its value arena's hash, its keys unless it is an array
    (arrays may have millions of elements), and the records of an event map."""
    # (arrays: no keys; socket storage: keyed by the sockets each engine's run made)
    keys = sorted(bytes(k) for k in m) if not isinstance(m, (ArrayMap, SkStorage)) else None
    return hashlib.sha256(m.arena).hexdigest(), keys, getattr(m, "records", None)


def _names_type(section: str) -> bool:
    try:
        section_type(section)
    except bpfjit.BpfError:
        return False
    return True


def _undefined(path: Path) -> set[str]:
    """The symbols an object leaves to its loader (the constants `--constant` fills)."""
    from elftools.elf.elffile import ELFFile
    try:
        with open(path, "rb") as f:
            symbols = ELFFile(f).get_section_by_name(".symtab")
            return {sym.name for sym in (symbols.iter_symbols() if symbols else ())
                    if sym["st_shndx"] == "SHN_UNDEF" and sym.name}
    except (ELFError, OSError):
        return set()            # (the loader says what is wrong with it)


def _declared(path: Path) -> set[str]:
    """The names of the maps an object declares (in section maps or .maps): those
    `--inner-map` may give an inner definition."""
    from elftools.elf.elffile import ELFFile
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            sections = {i for i, s in enumerate(elf.iter_sections())
                        if s.name in ("maps", ".maps")}
            symbols = elf.get_section_by_name(".symtab")
            return {sym.name for sym in (symbols.iter_symbols() if symbols else ())
                    if sym["st_shndx"] in sections and sym.name}
    except (ELFError, OSError):
        return set()            # (the loader says what is wrong with it)


def check(path: Path, section: str, function: str, types: dict[str, str],
          kernel: bool = False, constants: dict[str, int] | None = None,
          max_entries: dict[str, int] | None = None,
          maps_from: list[Path] | None = None,
          inner_maps: dict[str, dict] | None = None) -> tuple[str, str]:
    """("ok" | "load" | "verify" | "run" | "engines" | "kernel", detail) for one
    program; with `kernel`, an "ok" program's detail says what the kernel made of it.
    `constants`: those of `--constant` the object leaves to its loader; `max_entries`:
    the sizes of `--max-entries`, for maps whose loader sizes them; `maps_from`: the
    objects of `--maps-from`; `inner_maps`: the definitions of `--inner-map`."""
    load_options: dict = {"constants": constants} if constants else {}
    if max_entries:
        load_options["max_entries"] = max_entries
    if inner_maps:
        load_options["inner_maps"] = inner_maps
    if section in types:
        load_options["prog_type"] = types[section]
    elif "*" in types and not _names_type(section):
        load_options["prog_type"] = types["*"]
    try:
        shared = _shared_maps(path, maps_from or [], max_entries)
        prog = bpfjit.load_elf(str(path), section=section, function=function,
                               maps=shared(), **load_options)
    except bpfjit.BpfError as exc:
        return "load", str(exc)
    try:
        bpfjit.verify(prog, helpers=bpfjit.helper_ids(prog))
    except bpfjit.BpfError as exc:
        return "verify", str(exc)
    frames = packets()
    seen = {}

    def outcome(engine: str):
        fresh = bpfjit.load_elf(str(path), section=section, function=function,
                                maps=shared(), **load_options)
        fresh.env.clock = lambda: 1_000_000_000          # runs repeatable on every engine
        fresh.env.random.seed(1)
        return _outcome(fresh, engine, frames)
    for engine in bpfjit.engines():
        try:
            seen[engine] = outcome(engine)
        except bpfjit.BpfError as exc:
            return "run", f"{engine}: {exc}"
    first = next(iter(seen.values()))
    differ = [e for e, o in seen.items() if o != first]
    if differ:
        return "engines", f"{', '.join(differ)} differ from {next(iter(seen))}"
    verdicts = collections.Counter(r0 for _, r0, _, _ in first[0])
    detail = ", ".join(f"{r0}x{n}" for r0, n in sorted(verdicts.items()))
    if not kernel:
        return "ok", detail
    try:
        theirs = outcome("kernel")
    except bpfjit.BpfError as exc:
        return "ok", f"{detail}; kernel cannot run it: {exc}"
    if theirs != first:
        return "kernel", f"the kernel differs from {next(iter(seen))}: " + "; ".join(
            f"{mine[0]}: {mine[1]:#x} vs {other[1]:#x}" for mine, other in
            zip(first[0], theirs[0]) if mine != other)
    return "ok", f"{detail}; the kernel agrees"


def _shared_maps(path: Path, sources: list[Path], sizes: dict[str, int] | None):
    """A function giving fresh maps of the `sources` objects that the object at `path`
    declares or refers to by name (None: none)."""
    if not sources:
        return lambda: None
    wanted = ElfObject(str(path), sizes).map_names()
    return lambda: maps_from([str(s) for s in sources], wanted, sizes) or None


def programs(path: Path) -> list[tuple[str, str]]:
    """(section, function) of each program, as libbpf sees them: the global functions of
    executable sections other than .text; in a section with no function symbol (clang
    before LLVM 7), its global untyped symbols, as the loaders of that day saw them
    (read with pyelftools, not with bpfjit, so that every version of bpfjit is measured
    on the same list)."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        sections = list(elf.iter_sections())
        found: dict[int, dict[str, list[str]]] = collections.defaultdict(
            lambda: collections.defaultdict(list))
        for sym in elf.get_section_by_name(".symtab").iter_symbols():
            index = sym["st_shndx"]
            if sym["st_info"]["bind"] != "STB_GLOBAL" or not isinstance(index, int):
                continue
            section = sections[index]
            if section["sh_flags"] & 0x4 and section.name != ".text":
                found[index][sym["st_info"]["type"]].append(sym.name)
        out = []
        for index, kinds in found.items():
            names = kinds.get("STT_FUNC") or kinds.get("STT_NOTYPE", [])
            out.extend((sections[index].name, name) for name in names)
    return sorted(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("objects", nargs="+", type=Path)
    parser.add_argument("--type", action="append", default=[], metavar="SECTION=TYPE",
                        help="program type for a section the loader does not know "
                             "(SECTION * for every section that names none)")
    parser.add_argument("--kernel", action="store_true",
                        help="also run each program that runs alike on the kernel engine")
    parser.add_argument("--constant", action="append", default=[], metavar="NAME=VALUE",
                        help="the value of a symbol objects leave to their loader (given "
                             "to each object that has it)")
    parser.add_argument("--max-entries", action="append", default=[], metavar="MAP=N",
                        help="max_entries of a map that declares none (its loader sizes it)")
    parser.add_argument("--inner-map", action="append", default=[],
                        metavar="MAP=TYPE:KEY:VALUE:ENTRIES[:FLAGS]",
                        help="the inner definition of a map of maps that leaves it to its "
                             "loader (given to each object that declares MAP)")
    parser.add_argument("--maps-from", action="append", default=[], type=Path,
                        metavar="OBJECT",
                        help="give each object the maps of OBJECT it declares or refers to "
                             "by name (as pinned maps)")
    args = parser.parse_args()
    sizes = {name: int(value, 0) for name, value in
             (s.split("=", 1) for s in args.max_entries)}
    constants = {name: int(value, 0) for name, value in
                 (c.split("=", 1) for c in args.constant)}
    inner = dict(parse_inner_map(item) for item in args.inner_map)
    if args.kernel and "kernel" not in bpfjit.engines(kernel=True):
        parser.error("--kernel: the kernel engine is not available here (root needed)")
    types = dict(t.split("=", 1) for t in args.type)
    counts: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    oracle: collections.Counter = collections.Counter()     # what the kernel made of "ok"
    for path in args.objects:
        undefined = _undefined(path)
        given = {name: value for name, value in constants.items() if name in undefined}
        try:
            found = programs(path)
        except (ELFError, OSError) as exc:          # (a truncated file, say)
            print(f"{path.name}: not an object this script can read ({exc})")
            continue
        for section, function in found:
            if section.startswith(_TRACING):
                print(f"{path.name} {section}/{function}: not a packet program")
                continue
            declared = _declared(path) if inner else set()
            stage, detail = check(path, section, function, types, args.kernel, given, sizes,
                                  args.maps_from,
                                  {n: d for n, d in inner.items() if n in declared})
            counts[stage] += 1
            if stage != "ok":
                reasons[_reason(detail)] += 1
            elif args.kernel:
                oracle["agrees" if detail.endswith("agrees") else "cannot"] += 1
            print(f"{path.name} {section}/{function}: {stage.upper()} {detail[:160]}")
    total = sum(counts.values())
    print(f"\n{total} packet programs: {counts['ok']} run on every engine alike; stopped at "
          f"load {counts['load']}, verify {counts['verify']}, run {counts['run']}, "
          f"engines disagree {counts['engines']}")
    if args.kernel:
        print(f"the kernel: agrees on {oracle['agrees']}, cannot run {oracle['cannot']}, "
              f"differs on {counts['kernel']}")
    for reason, n in reasons.most_common():
        print(f"  {n:3}  {reason}")


def _reason(detail: str) -> str:
    """The message without the object's path, for counting causes."""
    text = detail.split(": ", 1)[1] if detail.startswith("/") else detail
    return text[:110]


if __name__ == "__main__":
    main()
