"""The `bpfjit` command line: run, verify, asm, disasm, explore, bench, bench-suite,
bench-calls, fuzz, prog-run, conformance-plugin.

User errors print one line on stderr and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .asm import assemble, disassemble
from .conformance import conformance_helpers
from .progtypes import result_name
from .datafile import DataTest, parse_data, parse_hex_bytes
from .errors import BpfError
from .fuzz.command import add_fuzz_parser
from .progrun import add_prog_run_parser
from .program import Program

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line."""

    def error(self, message: str) -> None:   # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _UserError(BpfError):
    """A problem with the command line's inputs (missing file, wrong type)."""


# ---------------------------------------------------------------------------
# loading programs and memory
# ---------------------------------------------------------------------------

def _read(path: str, mode: str = "b"):
    try:
        p = Path(path)
        return p.read_bytes() if mode == "b" else p.read_text()
    except OSError as exc:
        raise _UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise _UserError(f"{path} is not a text file") from None


def _load(path: str, args=None) -> tuple[Program | None, DataTest | None]:
    """Load PROG by its extension: .bin (raw), .s/.asm (assembly), .data (test file) or
    .o (an eBPF object file; --section / --function pick the program)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".o":
        from .elf import load_elf
        _read(path)                             # a missing file: one clear line
        return load_elf(path, section=getattr(args, "section", None),
                        function=getattr(args, "function", None),
                        prog_type=getattr(args, "type", None),
                        max_entries=_max_entries(args), constants=_constants(args),
                        maps=_maps_from(path, args), inner_maps=_inner_maps(args)), None
    if suffix in (".bin", ".o.bin", ".raw"):
        return Program.from_bytes(_read(path)), None
    if suffix in (".s", ".asm"):
        return assemble(_read(path, "t")), None
    if suffix == ".data":
        test = parse_data(_read(path, "t"))
        return test.program, test
    raise _UserError(f"{path}: unknown program type {suffix or '(no extension)'!r}; "
                     f"use .bin (raw bytecode), .s/.asm (assembly), .data (test file) or "
                     f".o (object file)")


def _name_values(given: list[str] | None, flag: str, what: str,
                 positive: bool) -> dict[str, int] | None:
    """`flag NAME=N`, repeated: {name: n} (n positive when `positive`)."""
    if not given:
        return None
    out = {}
    for item in given:
        name, _, number = item.partition("=")
        try:
            out[name] = int(number, 0)
        except ValueError:
            raise _UserError(f"{flag} takes NAME={what}, got {item!r}") from None
        if not name or (positive and out[name] <= 0):
            raise _UserError(f"{flag} takes NAME={what}"
                             f"{f' with {what} > 0' if positive else ''}, got {item!r}")
    return out


def _max_entries(args) -> dict[str, int] | None:
    """--max-entries NAME=N, repeated: {name: n}."""
    return _name_values(getattr(args, "max_entries", None), "--max-entries", "N", True)


def _maps_from(path: str, args) -> dict | None:
    """--maps-from OBJECT, repeated: the maps of those objects that the object at
    `path` declares or refers to by name (as pinned maps are shared)."""
    sources = getattr(args, "maps_from", None)
    if not sources:
        return None
    from .elf import ElfObject, maps_from
    for source in sources:
        _read(source)                           # a missing file: one clear line
    given = maps_from(sources, ElfObject(path, _max_entries(args),
                                         inner_maps=_inner_maps(args)).map_names(),
                      _max_entries(args))
    if not given:
        raise _UserError(f"--maps-from: {', '.join(sources)} has no map that {path} "
                         f"declares or refers to")
    return given


def _inner_maps(args) -> dict[str, dict] | None:
    """--inner-map NAME=TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS], repeated: the
    inner map definition of each map of maps NAME that leaves it to its loader."""
    given = getattr(args, "inner_map", None)
    if not given:
        return None
    from .loaderargs import parse_inner_map
    out = {}
    for item in given:
        try:
            name, definition = parse_inner_map(item)
            out[name] = definition
        except ValueError:
            raise _UserError(f"--inner-map takes NAME=TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES"
                             f"[:FLAGS] (such as tables=array:4:8:65536), got {item!r}") from None
    return out


def _constants(args) -> dict[str, int] | None:
    """--constant NAME=VALUE, repeated: {name: value}."""
    return _name_values(getattr(args, "constant", None), "--constant", "VALUE", False)


def _load_runnable(path: str, args=None) -> tuple[Program, DataTest | None]:
    """Like _load, for commands that need the program itself: a .data file whose
    program does not assemble is an error here, not an expected outcome."""
    prog, test = _load(path, args)
    if prog is None:
        raise test.program_error
    return prog, test


def _memory(args, test: DataTest | None = None) -> bytearray | None:
    if getattr(args, "packet", None) is not None:
        return bytearray(_read(args.packet))
    if getattr(args, "mem", None) is not None:
        return bytearray(_read(args.mem))
    if getattr(args, "mem_hex", None) is not None:
        return bytearray(parse_hex_bytes(args.mem_hex, "--mem-hex"))
    if test is not None and test.memory:
        return bytearray(test.memory)
    return None


def _speculation_arg(p) -> None:
    from .speculation import LEVELS
    p.add_argument("--speculation", choices=LEVELS, default=None,
                   help="how far JIT code masks accesses against mispredicted branches "
                        "(default: checks, off in unchecked mode)")


def _compile(prog: Program, engine: str, budget: int | None = None, helpers=None,
             mode: str = "checked", args=None):
    from . import compile as compile_program
    options = {"mode": mode} if budget is None else {"budget": budget, "mode": mode}
    if helpers:
        options["helpers"] = helpers
    # `run`'s --helper-calls and --blind / --no-blind (bpfjit.limits, bpfjit.blinding)
    if getattr(args, "helper_calls", None) is not None:
        options["helper_calls"] = args.helper_calls
    if getattr(args, "blind", None) is not None:
        options["blind"] = args.blind
    if getattr(args, "speculation", None) is not None:     # (bpfjit.speculation)
        options["speculation"] = args.speculation
    return compile_program(prog, engine, **options)


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

def cmd_run(args) -> int:
    prog, test = _load(args.prog, args)
    if args.pcap is not None or args.write_pcap is not None:
        return _replay(prog, test, args)
    mem = _memory(args, test)
    if test is None:
        fn = _compile(prog, args.engine, args.budget, mode=args.mode, args=args)
        packet = prog.context is not None
        r0 = fn(bytearray() if packet and mem is None else mem)   # engines wrap the packet
        name = result_name(prog.prog_type, r0)
        suffix = f" {name}" if name else ""
        for line in prog.trace:
            print(f"trace: {line}")
        print(f"r0 = {r0} ({r0:#x}){suffix}")
        return 0
    return _check_data_test(prog, test, mem, args)


def cmd_cache(args) -> int:
    """Where the code cache is and what it holds; --clear empties it."""
    from . import cache
    if args.clear:
        print(f"removed {cache.clear()} entries")
        return 0
    root, count, size = cache.usage()
    state = "on" if cache.enabled() else "off (BPFJIT_CACHE)"
    print(f"{root}: {count} entries, {size / 1024:.0f} KiB; the cache is {state}")
    return 0


def cmd_helpers(args) -> int:
    """The helper registry: id, name, arguments -> result, who may call it, what it does."""
    from .helpers import KERNEL_HELPERS
    if args.markdown:
        print("# The kernel helpers bpfjit provides\n\nGenerated from the helper registry "
              "(`bpfjit/helpers`) by `make docs`; the argument and result kinds are explained "
              "in `bpfjit/helpers/spec.py`. A program loaded from an object file may call "
              "these; `compile(prog, helpers={id: fn})` adds or replaces helpers.\n")
        print("| id | helper | arguments (r1..) | result | programs | what it does |")
        print("|---|---|---|---|---|---|")
    for hid, helper in sorted(KERNEL_HELPERS.items()):
        sig = helper.signature
        result = sig.result if isinstance(sig.result, str) else \
            f"{sig.result[0]}..{sig.result[1]}"
        who = ", ".join(sorted(sig.prog_types)) if sig.prog_types else \
            ", ".join(sorted(sig.contexts)) if sig.contexts else "all"
        args_text = ", ".join(sig.args) or "-"
        note = helper.doc + (" (moves packet pointers)" if sig.changes_packet else "")
        for contexts, variant in helper.variants:   # another prototype, as the kernel's
            hooks = f" at {', '.join(sorted(variant.attach_types))}" \
                if variant.attach_types else ""
            note += (f"; {', '.join(sorted(contexts))} programs{hooks}: "
                     f"({', '.join(variant.args)})")
        if args.markdown:
            print(f"| {hid} | `bpf_{helper.name}` | {args_text} | {result} | {who} | {note} |")
        else:
            print(f"{hid:4} {helper.name:22} ({args_text}) -> {result}  [{who}]  {note}")
    return 0


def cmd_maps(args) -> int:
    """One line per map: name, type, key size, value size, max entries (and where a
    value's spin lock is); the maps of types bpfjit lacks last, said so."""
    from .elf import ElfObject
    _read(args.object)
    obj = ElfObject(args.object, _max_entries(args), inner_maps=_inner_maps(args))
    for i, (spec, _, _) in enumerate(obj.maps + obj.unimplemented):
        flags = " read-only" if spec.read_only else ""
        if spec.spin_lock is not None:
            flags += f" spin_lock={spec.spin_lock}"
        if spec.timer is not None:
            flags += f" timer={spec.timer}"
        if i >= len(obj.maps):
            flags += " (not implemented: a program that uses it does not load)"
        print(f"{spec.name} type={spec.type_name} key={spec.key_size} value={spec.value_size} "
              f"max_entries={spec.max_entries}{flags}")
    return 0


def _check_data_test(prog, test: DataTest, mem, args) -> int:
    """Run a .data file and compare with its -- result / -- error section.

    The conformance suite's test helper (id 5) is registered, as the suite expects.
    """
    name = args.prog
    try:
        if prog is None:
            raise test.program_error
        r0 = _compile(prog, args.engine, args.budget, conformance_helpers(), args.mode,
                      args)(mem)
    except BpfError as exc:
        if test.error is not None:
            print(f"PASS {name}: failed as expected: {exc}")
            return 0
        print(f"FAIL {name}: expected r0 = {test.result:#x}, got error: {exc}")
        return 1
    if test.error is not None:
        print(f"FAIL {name}: expected an error ({test.error or 'any'}), got r0 = {r0:#x}")
        return 1
    if r0 != test.result:
        print(f"FAIL {name}: expected r0 = {test.result:#x}, got r0 = {r0:#x}")
        return 1
    print(f"PASS {name}: r0 = {r0:#x}")
    return 0


def cmd_verify(args) -> int:
    """Verify a program; print the log and statistics when asked."""
    from .verifier import verify
    from . import helper_ids
    prog, test = _load_runnable(args.prog, args)
    # the helpers `run` would have: the conformance suite's for a .data test, the
    # kernel's for an object file, none otherwise
    helpers = helper_ids(prog, conformance_helpers() if test is not None else None)
    try:
        verified = verify(prog, mode=args.mode, helpers=helpers, log=args.log)
    except BpfError:
        if args.log:        # show how far the reasoning got before the rejection
            from .verifier import reasoning_until_rejection
            sys.stdout.write(reasoning_until_rejection(prog, args.mode, helpers))
        raise
    if args.log:
        print("\n".join(verified.log))
    for pc in verified.unreachable:
        print(f"warning: pc {pc} is unreachable")
    print(f"{args.prog}: accepted ({args.mode} mode)")
    if args.stats:
        print(verified.stats)
    return 0


def cmd_asm(args) -> int:
    prog = assemble(_read(args.source, "t"))
    raw = prog.to_bytes()
    if args.hex:
        print(" ".join(f"{b:02x}" for b in raw))
        return 0
    out = args.output or str(Path(args.source).with_suffix(".bin"))
    try:
        Path(out).write_bytes(raw)
    except OSError as exc:
        raise _UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"{out}: {len(prog)} instructions, {len(raw)} bytes")
    return 0


def cmd_disasm(args) -> int:
    prog, test = _load_runnable(args.prog, args)
    if not (args.native or args.ir):
        sys.stdout.write(disassemble(prog, args.syntax, pcs=args.pcs))
        return 0
    if args.engine == "interp":
        raise _UserError("the interpreter makes no machine code or IR; use --engine llvm")
    from . import compile as compile_program
    options = {"keep_ir": True} if args.ir else {"line_info": True}
    if args.speculation is not None:
        options["speculation"] = args.speculation
    fn = compile_program(prog, args.engine, **options)
    if args.ir:
        ir_text, optimised = fn.extra.get("ir"), fn.extra.get("optimised_ir")
        if ir_text is None:
            raise _UserError(f"engine {args.engine!r} has no IR to show")
        sys.stdout.write("; ---- LLVM IR before optimisation ----\n" + ir_text
                         + "\n; ---- after optimisation ----\n" + (optimised or ""))
    if args.native:
        from .nativedis import native_listing
        start, size = fn.extra.get("text_range", (0, len(fn.memory.code)))
        sys.stdout.write(native_listing(fn.program, fn.memory.code, fn.memory.address,
                                        fn.extra.get("symbols", {}), fn.extra.get("lines"),
                                        start + size))
    return 0


def cmd_explore(args) -> int:
    """Write the explorer page of a program (bpfjit.explorer); a program the verifier
    rejects still gets its page, and a line saying where and why."""
    from .explorer import collect, default_title, render, write_page
    prog, test = _load_runnable(args.prog, args)
    memory = _memory(args, test)
    x = collect(prog, None if memory is None else bytes(memory), mode=args.mode,
                helpers=conformance_helpers() if test is not None else None,
                engines=args.engines.split(",") if args.engines else None,
                title=default_title(prog, args.prog))
    size = write_page(render(x), args.output)
    print(f"{args.output}: {size:,} bytes; open it in a browser")
    if x.rejected is not None:
        print(f"the verifier rejects it at pc {x.rejected[0]}: {x.rejected[1]} (the page "
              f"shows its reasoning up to there)")
    return 0


def cmd_conformance_plugin(args) -> int:
    """The bpf_conformance plugin protocol: program hex on stdin, memory hex in argv."""
    if args.elf:
        raise _UserError("--elf input is not supported by this plugin; run without --elf")
    memory = parse_hex_bytes(" ".join(args.memory), "memory argument")
    prog = Program.from_bytes(parse_hex_bytes(sys.stdin.read(), "program on stdin"))
    r0 = _compile(prog, args.engine, helpers=conformance_helpers())(
        bytearray(memory) if memory else None)
    print(f"{r0:x}")
    return 0


def cmd_bench(args) -> int:
    from .bench import bench_program
    prog, test = _load_runnable(args.prog, args)
    result = bench_program(prog, args.engine, _memory(args, test), iters=args.iters)
    print(f"engine={args.engine} insns_per_run={result.insns_per_run} "
          f"ns_per_insn={result.ns_per_insn:.2f} call_overhead_ns={result.call_overhead_ns:.1f}")
    print(f"ns_per_run={result.ns_per_run:.1f} r0={result.r0} compile_ns={result.compile_ns:.1f}")
    return 0


def cmd_bench_suite(args) -> int:
    from .bench import run_suite
    return run_suite(Path(args.directory), args.engines, quick=args.quick,
                     output=None if args.no_save else Path(args.output),
                     progress=sys.stderr.isatty() and not args.no_progress)


def cmd_bench_calls(args) -> int:
    from . import engines as available
    from .callcost import format_call_costs, measure_call_costs
    names = [e for e in (args.engines.split(",") if args.engines else available())
             if e != "interp"]
    unknown = sorted(set(names) - set(available()))
    if unknown:
        raise BpfError(f"engine(s) not available here: {', '.join(unknown)}")
    rows = [row for engine in names for row in measure_call_costs(engine, size=args.size)]
    print(format_call_costs(rows))
    return 0


# ---------------------------------------------------------------------------

def _replay(prog, test, args) -> int:
    """`run --pcap`: every packet of a capture through the program (bpfjit.replay)."""
    from .replay import replay
    if args.pcap is None:
        raise _UserError("--write-pcap needs --pcap (the capture to replay)")
    if test is not None or args.mem is not None or args.mem_hex is not None \
            or args.packet is not None:
        raise _UserError("--pcap replays a capture through an object file's program; it "
                         "takes no .data file, --mem, --mem-hex or --packet")
    fn = _compile(prog, args.engine, args.budget, mode=args.mode, args=args)
    print(replay(fn, args.pcap, write=args.write_pcap).format())
    return 0


def _program_args(p: argparse.ArgumentParser, packet: bool = False) -> None:
    """PROG, its memory (--mem FILE or --mem-hex HEX) and --engine."""
    p.add_argument("prog", help="program: .bin, .s/.asm, .data or .o")
    _memory_args(p, packet)
    _object_args(p)
    _engine_arg(p)


def _memory_args(p: argparse.ArgumentParser, packet: bool) -> None:
    """--mem FILE or --mem-hex HEX (or, with `packet`, --packet FILE): what _memory reads."""
    mem = p.add_mutually_exclusive_group()
    mem.add_argument("--mem", metavar="FILE", help="memory buffer from a file")
    mem.add_argument("--mem-hex", metavar="HEX", help="memory buffer as hex bytes")
    if packet:
        mem.add_argument("--packet", metavar="FILE",
                         help="the packet, for an XDP, tc or socket program (or the "
                              "buffer, for others)")


def _object_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--section", help="for a .o: the code section of the program (xdp, ...)")
    p.add_argument("--function", help="for a .o: the entry function (default: the "
                                      "section's global function)")
    p.add_argument("--type", metavar="TYPE",
                   help="for a .o: the program type when the section does not name it "
                        "(xdp, sched_cls or tc, socket_filter or socket, plain)")
    _max_entries_arg(p)
    p.add_argument("--constant", action="append", metavar="NAME=VALUE",
                   help="for a .o: the value of a symbol the object leaves to its loader "
                        "(an lddw of an extern); repeat for several")
    p.add_argument("--maps-from", action="append", metavar="OBJECT",
                   help="for a .o: use the maps of OBJECT that it declares or refers to "
                        "by name, as pinned maps are shared; repeat for several")


def _max_entries_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-entries", action="append", metavar="NAME=N",
                   help="for a .o: the size of map NAME (for maps that declare none, as "
                        "their loader would set it); repeat for several maps")
    p.add_argument("--inner-map", action="append", metavar="NAME=TYPE:KEY:VALUE:ENTRIES[:FLAGS]",
                   help="for a .o: the inner map definition of map of maps NAME when the "
                        "object leaves it to its loader (such as tables=array:4:8:65536)")


def _engine_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default="interp",
                   help="interp (default), llvm or peachpy")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bpfjit", description="Run eBPF programs in user space.")
    parser.add_argument("--version", action="version", version=f"bpfjit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a program and print r0 (a .data file is checked)")
    _program_args(p, packet=True)
    p.add_argument("--budget", type=int, help="instruction budget per run")
    p.add_argument("--helper-calls", type=int,
                   help="helper calls allowed per run (default: bpfjit.limits, 1,000,000)")
    p.add_argument("--blind", action=argparse.BooleanOptionalAction, default=None,
                   help="constant blinding in the JIT engines (default: on unless the "
                        "mode is unchecked)")
    _speculation_arg(p)
    p.add_argument("--mode", choices=("checked", "strict", "unchecked"), default="checked",
                   help="checked (default): runtime checks where nothing is proven")
    p.add_argument("--pcap", metavar="FILE",
                   help="replay every packet of a pcap or pcapng capture through the "
                        "program (its maps persist) and print a table of verdicts")
    p.add_argument("--write-pcap", metavar="FILE",
                   help="with --pcap: write the packets the program let through, as it "
                        "left them (pcapng if FILE ends in .pcapng)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("maps", help="list the maps of an eBPF object file, one per line")
    p.add_argument("object", help="object file (.o)")
    _max_entries_arg(p)
    p.set_defaults(func=cmd_maps)

    p = sub.add_parser("cache", help="show the code cache (verdicts and machine code)")
    p.add_argument("--clear", action="store_true", help="remove every entry")
    p.set_defaults(func=cmd_cache)

    p = sub.add_parser("helpers", help="list the kernel helpers bpfjit provides")
    p.add_argument("--markdown", action="store_true", help="as a Markdown table")
    p.set_defaults(func=cmd_helpers)

    p = sub.add_parser("verify", help="verify a program; show its reasoning and what it proved")
    p.add_argument("prog", help="program: .bin, .s/.asm, .data or .o")
    _object_args(p)
    p.add_argument("--log", action="store_true",
                   help="print the abstract state at each instruction")
    p.add_argument("--stats", action="store_true",
                   help="print accesses=N proven=M as the last line")
    p.add_argument("--mode", choices=("checked", "strict", "unchecked"), default="checked")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("asm", help="assemble text into raw bytecode")
    p.add_argument("source", help="assembly file")
    p.add_argument("-o", "--output", help="output file (default: SOURCE with .bin)")
    p.add_argument("--hex", action="store_true", help="print hex bytes instead of writing")
    p.set_defaults(func=cmd_asm)

    p = sub.add_parser("disasm", help="disassemble a program")
    p.add_argument("prog", help="program: .bin, .s/.asm, .data or .o")
    _object_args(p)
    p.add_argument("--syntax", choices=("data", "c"), default="data",
                   help="data: assembler syntax (default); c: llvm-objdump pseudo-C")
    p.add_argument("--pcs", action="store_true", help="prefix each line with its pc")
    p.add_argument("--native", action="store_true",
                   help="show the x86-64 an engine generates, under each BPF instruction")
    p.add_argument("--ir", action="store_true", help="show the LLVM IR, before and after "
                                                     "optimisation (--engine llvm)")
    p.add_argument("--engine", default="llvm", help="engine for --native / --ir (default llvm)")
    _speculation_arg(p)
    p.set_defaults(func=cmd_disasm)

    p = sub.add_parser("explore", help="write one HTML page with the C source, instructions, "
                                       "verifier states, LLVM IR and x86-64 side by side")
    p.add_argument("prog", help="program: .bin, .s/.asm, .data or .o (with --mem, --mem-hex "
                                "or --packet, the page replays a run on that input)")
    _object_args(p)
    _memory_args(p, packet=True)
    p.add_argument("-o", "--output", required=True, metavar="PAGE",
                   help="the HTML file to write")
    p.add_argument("--engines", help="comma-separated JIT engines to show (default: all "
                                     "available)")
    p.add_argument("--mode", choices=("checked", "strict", "unchecked"), default="checked")
    p.set_defaults(func=cmd_explore)

    p = sub.add_parser("bench", help="time one program on one engine")
    _program_args(p)
    p.add_argument("--iters", type=int, default=1000, help="timed runs (default 1000)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("bench-suite", help="time every shipped program on every engine")
    p.add_argument("directory", nargs="?", default="bench/programs",
                   help="directory of .s programs with optional .mem inputs")
    p.add_argument("--engines", help="comma-separated engines (default: all available)")
    p.add_argument("--quick", action="store_true", help="fewer iterations, for CI")
    p.add_argument("--output", default="results",
                   help="folder for results.json and results.png (default: results)")
    p.add_argument("--no-save", action="store_true", help="print the table only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench_suite)

    p = sub.add_parser("bench-calls", help="time a Python call into JIT code with each kind "
                                           "of argument, next to cffi's own floor")
    p.add_argument("--engines", help="comma-separated JIT engines (default: all available)")
    p.add_argument("--size", type=int, default=64, help="buffer size in bytes (default 64)")
    p.set_defaults(func=cmd_bench_calls)

    add_fuzz_parser(sub)
    add_prog_run_parser(sub, lambda p: (_object_args(p), _engine_arg(p)))

    p = sub.add_parser("conformance-plugin",
                       help="plugin for the bpf_conformance runner (program hex on stdin)")
    p.add_argument("memory", nargs="*", help="input memory as hex bytes")
    _engine_arg(p)
    p.add_argument("--elf", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_conformance_plugin)
    return parser


def _plugin_argv(argv: list[str]) -> list[str]:
    """Normalise the argument shapes the bpf_conformance runners produce.

    Runners pass the memory first and the plugin options after it, so with
    --plugin_options "conformance-plugin ..." the memory precedes the
    sub-command name; older runners pass all the options as one argument and
    the memory as an empty string when there is none.
    """
    if not any(a.split()[:1] == ["conformance-plugin"] for a in argv if a.strip()):
        return argv
    words: list[str] = []
    for arg in argv:
        if arg.strip().startswith(("conformance-plugin", "--")) and " " in arg.strip():
            words.extend(arg.split())
        elif arg.strip():
            words.append(arg)
    at = words.index("conformance-plugin")
    lead = words[:at]
    if all(_looks_like_hex(a) for a in lead):
        return words[at:] + lead
    return words


def _looks_like_hex(arg: str) -> bool:
    return not arg.startswith("-") and all(c in "0123456789abcdefABCDEF \t\n" for c in arg)


def plugin_main() -> int:
    """Entry point of `bpfjit-conformance-plugin`: the plugin without the sub-command."""
    return main(["conformance-plugin", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = _plugin_argv(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BpfError as exc:
        print(f"bpfjit: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bpfjit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
