"""bpfjit's pytest plugin (installed with the package, entry point `pytest11`): test
XDP, tc and socket programs from clang-built object files, on every engine, without
root or a kernel.

    def test_drops_telnet(bpf):
        fw = bpf.load("firewall.o", section="xdp")
        assert fw.run(Ether() / IP() / TCP(dport=23)).verdict == "XDP_DROP"
        assert fw.maps["drops"].ints()[6] == 1

`bpf` is parametrized over the engines (`--bpf-engines interp,llvm,peachpy`; default:
every engine available here), so each test runs once per engine.  On a JIT engine,
every run is also made on the interpreter, on its own load of the object (its own
maps), and the two must agree — r0, the packet as the program left it, and every
map's contents — or the test fails with the differences listed: a test written for
one engine checks them all.  `--bpf-cov FILE` writes the C source lines and
branches the tests' runs executed as an lcov tracefile (bpfjit.coverage).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["BpfTester", "LoadedProgram", "RunResult", "EnginesDisagree"]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("bpfjit", "eBPF programs under bpfjit")
    group.addoption("--bpf-engines", metavar="LIST", default=None,
                    help="comma-separated engines the `bpf` fixture runs each test on "
                         "(interp, llvm, peachpy, kernel; default: every engine available)")
    group.addoption("--bpf-cov", metavar="FILE", default=None,
                    help="write the C lines and branches the programs' runs executed, as "
                         "an lcov tracefile (objects built with clang -g)")


def _engines(config) -> list[str]:
    import bpfjit
    given = config.getoption("bpf_engines")
    available = bpfjit.engines(kernel=True)
    if not given:
        return bpfjit.engines()
    names = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise pytest.UsageError(f"--bpf-engines: {', '.join(unknown)} not available here "
                                f"(available: {', '.join(available)})")
    return names


def pytest_generate_tests(metafunc) -> None:
    if "bpf" in metafunc.fixturenames or "bpf_engine" in metafunc.fixturenames:
        engines = getattr(metafunc.config, "_bpfjit_engines", None)
        if engines is None:
            engines = metafunc.config._bpfjit_engines = _engines(metafunc.config)
        metafunc.parametrize("bpf_engine", engines, indirect=True)


def pytest_configure(config) -> None:
    if config.getoption("bpf_engines", None):       # checked now: a usage error, not a
        config._bpfjit_engines = _engines(config)   # collection error in every module
    path = config.getoption("bpf_cov", None)
    if path:
        from .coverage_report import CoverageRecorder
        config._bpfjit_coverage = CoverageRecorder()


def pytest_unconfigure(config) -> None:
    recorder = getattr(config, "_bpfjit_coverage", None)
    if recorder is not None:
        path = config.getoption("bpf_cov")
        Path(path).write_text(recorder.lcov())
        config._bpfjit_coverage = None


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    recorder = getattr(config, "_bpfjit_coverage", None)
    if recorder is not None:
        terminalreporter.write_sep("-", "bpfjit coverage of the programs' C source")
        terminalreporter.write_line(recorder.summary())
        terminalreporter.write_line(f"lcov tracefile: {config.getoption('bpf_cov')}")


@pytest.fixture
def bpf_engine(request) -> str:
    """The engine this test runs on (one of --bpf-engines)."""
    return request.param


@pytest.fixture
def bpf(bpf_engine, request) -> "BpfTester":
    """Load object files and run their programs on this test's engine (see the module
    docstring); paths are relative to the test file's directory."""
    return BpfTester(bpf_engine, Path(request.node.path).parent,
                     getattr(request.config, "_bpfjit_coverage", None))


class EnginesDisagree(AssertionError):
    """A run's outcome on the tested engine differs from the interpreter's."""


@dataclass
class RunResult:
    """One run: `r0`; `verdict`, its name for the program type ("XDP_DROP",
    "TC_ACT_OK", "keep 60 bytes"; "" if none); `packet`, the packet as the program left
    it; `ctx`, the context the run used (fields a program may write are read back)."""
    r0: int
    verdict: str
    packet: bytes
    ctx: object = field(repr=False, default=None)

    def scapy(self):
        """The packet after the run, parsed by scapy."""
        return self.ctx.scapy()


class BpfTester:
    """The `bpf` fixture: `load(path, ...)` programs, build contexts."""

    def __init__(self, engine: str, directory: Path, coverage=None):
        self.engine = engine
        self._directory = directory
        self._coverage = coverage

    def load(self, path: str | os.PathLike, section: str | None = None,
             function: str | None = None, **options) -> "LoadedProgram":
        """Load a program of an object file (its own maps, fresh for this test) and
        compile it on this test's engine; `options` go to bpfjit.compile."""
        import bpfjit
        resolved = Path(path) if Path(path).is_absolute() else self._directory / path
        program = bpfjit.load_elf(resolved, section=section, function=function)
        shadow = None if self.engine == "interp" else \
            bpfjit.load_elf(resolved, section=section, function=function)
        return LoadedProgram(program, self.engine, shadow, options, self._coverage,
                             resolved.parent)

    @staticmethod
    def xdp(packet, **fields):
        """An XdpContext for `packet` (bytes or a scapy packet); fields such as
        ingress_ifindex=2, rx_queue_index=1."""
        import bpfjit
        return bpfjit.XdpContext(packet, **fields)

    @staticmethod
    def skb(packet, **fields):
        """An SkbContext for `packet`; fields such as mark=1, priority=3, cb=(...)."""
        import bpfjit
        return bpfjit.SkbContext(packet, **fields)

    @staticmethod
    def sock_addr(address, port: int = 0, **fields):
        """A SockAddrContext (cgroup sock_addr programs) for `address` and `port`; fields
        such as type=2, socket_cookie=7."""
        import bpfjit
        return bpfjit.SockAddrContext(address, port, **fields)

    @staticmethod
    def sock(family: int = 2, type: int = 1, **fields):
        """A SockContext (cgroup sock programs); fields such as src="10.0.0.1",
        src_port=80, socket_cookie=7."""
        import bpfjit
        return bpfjit.SockContext(family, type, **fields)

    @staticmethod
    def sock_ops(op: int, **fields):
        """A SockOpsContext (sock_ops programs) for `op`; fields such as local=(address,
        port), remote=(...), srtt_us=800, options={(6, 13): "reno"}."""
        import bpfjit
        return bpfjit.SockOpsContext(op, **fields)

    @staticmethod
    def sk_msg(data, **fields):
        """An SkMsgContext (sk_msg programs) for the message `data`; fields local=(address,
        port), remote=(...)."""
        import bpfjit
        return bpfjit.SkMsgContext(data, **fields)

    @staticmethod
    def sk_lookup(protocol: str = "tcp", **fields):
        """An SkLookupContext (sk_lookup programs) for a new connection or datagram;
        fields local=(address, port), remote=(...), ingress_ifindex=."""
        import bpfjit
        return bpfjit.SkLookupContext(protocol, **fields)

    @staticmethod
    def sockopt(level: int, optname: int, optval=b"", **fields):
        """A SockoptContext (cgroup sockopt programs) for a getsockopt or setsockopt
        call; fields optlen=, retval=, socket=bpfjit.Socket(...)."""
        import bpfjit
        return bpfjit.SockoptContext(level, optname, optval, **fields)

    @staticmethod
    def device(type: str, access: str, major: int, minor: int):
        """A DeviceContext (cgroup device programs) for an access to a device node:
        type "char" or "block", access letters of "mrw"."""
        import bpfjit
        return bpfjit.DeviceContext(type, access, major, minor)

    @staticmethod
    def sysctl(name: str, value=b"", **fields):
        """A SysctlContext (cgroup sysctl programs) for a read of `name`, or a write
        with new_value=...; file_pos=."""
        import bpfjit
        return bpfjit.SysctlContext(name, value, **fields)


class LoadedProgram:
    """A program under test: `run(packet or context)`, `maps`, `test_run(...)`."""

    def __init__(self, program, engine: str, shadow, options: dict, coverage,
                 base: Path | None = None):
        import bpfjit
        self.program = program
        self.engine = engine
        try:
            self._fn = bpfjit.compile(program, engine, **options)
        except bpfjit.BpfError as exc:
            if engine == "kernel" and "kernel" in str(exc):
                pytest.skip(f"the kernel engine cannot run it: {exc}")
            raise
        self._shadow = None
        if shadow is not None:
            self._shadow_program = shadow
            self._shadow = bpfjit.compile(shadow, "interp", **options)
        self._coverage = coverage
        self._base = base              # where the object's relative source paths start
        self._runs = 0

    @property
    def maps(self):
        """The program's maps (a MapTable: `maps["name"]`), as this engine's runs left
        them."""
        return self.program.maps

    def run(self, packet=None, **fields) -> RunResult:
        """Run once on `packet` (bytes, a scapy packet, or a context; `fields` build
        the context with them), checking the interpreter agrees."""
        from .context import CONTEXTS, PacketContext
        from .progtypes import result_name
        self._runs += 1
        kind = CONTEXTS.get(self.program.context)
        if kind is None:
            arg = bytearray(bytes(packet)) if packet is not None else None
        else:
            arg = packet if isinstance(packet, PacketContext) else kind(packet, **fields)
        shadow, coverage = self._shadow, self._coverage
        if shadow is not None:
            twin = arg.copy() if kind is not None else (bytearray(arg) if arg is not None
                                                        else None)
            # the maps as the test (or earlier runs) left them on this engine's load
            _copy_maps(self.program.maps, self._shadow_program.maps)
        # the interpreter's own run is the one coverage traces; on a JIT, the twin's
        traced = coverage is not None and shadow is None
        r0, error = (coverage.trace(self._fn, arg, self._base) if traced
                     else self._outcome(self._fn, arg))
        if shadow is not None:
            other, other_error = (coverage.trace(shadow, twin, self._base)
                                  if coverage is not None else self._outcome(shadow, twin))
            self._compare(r0, error, arg, other, other_error, twin)
        if error is not None:
            raise error
        out = arg.packet if kind is not None else bytes(arg or b"")
        return RunResult(r0, result_name(self.program.prog_type, r0), out,
                         arg if kind is not None else None)

    def test_run(self, data_in=None, ctx_in=None, repeat: int = 1):
        """BPF_PROG_TEST_RUN's interface on this engine (bpfjit.testrun)."""
        return self._fn.test_run(data_in, ctx_in, repeat)

    @staticmethod
    def _outcome(fn, arg):
        import bpfjit
        try:
            return fn(arg), None
        except bpfjit.BpfTrap as exc:
            return None, exc

    def _compare(self, r0, error, arg, other, other_error, twin) -> None:
        differences = []
        if (type(error), getattr(error, "pc", None)) != \
                (type(other_error), getattr(other_error, "pc", None)):
            differences.append(f"outcome: {self.engine} {_describe(r0, error)}, interp "
                               f"{_describe(other, other_error)}")
        elif r0 != other:
            differences.append(f"r0: {self.engine} {r0}, interp {other}")
        mine = arg.packet if hasattr(arg, "packet") else bytes(arg or b"")
        theirs = twin.packet if hasattr(twin, "packet") else bytes(twin or b"")
        if mine != theirs:
            at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                      min(len(mine), len(theirs)))
            differences.append(f"packet: {self.engine} and interp differ from byte {at} "
                               f"({len(mine)} and {len(theirs)} bytes; "
                               f"{mine[at:at + 8].hex()} vs {theirs[at:at + 8].hex()})")
        if hasattr(arg, "outcome"):         # what the program left in the context
            mine, theirs = arg.outcome(), twin.outcome()
            if mine != theirs:
                differences.append(f"{arg.OUTCOME}: {self.engine} {mine}, interp {theirs}")
        differences += _map_differences(self.engine, self.program.maps,
                                        self._shadow_program.maps)
        if differences:
            raise EnginesDisagree(f"engines disagree on run {self._runs} of "
                                  f"{self.program.section}/{self.program.function}:\n  "
                                  + "\n  ".join(differences))


def _key_text(key) -> str:
    """A map key as a difference names it: its bytes in hex, or the socket it is (socket
    storage is keyed by sockets)."""
    return key.hex() if isinstance(key, (bytes, bytearray)) else repr(key)


def _value_items(the_map) -> dict | None:
    """A map's contents as {key bytes: value bytes}; None for maps of programs, maps or
    events, whose contents are handles or records, not values."""
    try:
        items = dict(the_map.items())
    except (TypeError, AttributeError, ValueError):
        return None
    return items if all(isinstance(v, bytes) for v in items.values()) else None


def _copy_maps(source, target) -> None:
    """Make `target`'s value maps hold what `source`'s hold."""
    from .maps import MapError
    for name in source:
        items = _value_items(source[name])
        if items is None:
            continue
        dst = target[name]
        try:
            for key in [k for k in dst.keys() if k not in items]:
                del dst[key]
            for key, value in items.items():
                if dst.get(key) != value:
                    dst[key] = value
        except (MapError, KeyError):
            continue                # (arrays keep their keys; a full map keeps its own)


def _describe(r0, error) -> str:
    return f"raised {type(error).__name__} ({error})" if error is not None else f"r0 = {r0}"


def _map_differences(engine: str, mine, theirs, limit: int = 5) -> list[str]:
    """Every key whose value differs between the two loads' value maps: the first
    `limit` shown, the rest counted."""
    out, more = [], 0

    def show(value) -> str:
        return "absent" if value is None else value.hex()
    for name in mine:
        a, b = _value_items(mine[name]), _value_items(theirs[name])
        if a is None or b is None:
            continue
        for key in sorted(set(a) | set(b), key=_key_text):
            if a.get(key) == b.get(key):
                continue
            if len(out) < limit:
                out.append(f"map {name}[{_key_text(key)}]: {engine} {show(a.get(key))}, "
                           f"interp {show(b.get(key))}")
            else:
                more += 1
    return out + ([f"and {more} more map differences"] if more else [])
