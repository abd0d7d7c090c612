"""`bpfjit prog-run`: bpftool's `prog run` offline, with its words, so that a command
line written for the kernel ports by changing its first words:

    bpftool prog run pinned /sys/fs/bpf/fw data_in pkt.bin data_out out.bin repeat 100
    bpfjit prog-run fw.o --section xdp data_in pkt.bin data_out out.bin repeat 100

It prints what bpftool prints, `Return value: R, duration (average): Dns`, after a
test run (bpfjit.testrun) on the engine chosen with --engine.  `-` reads data_in or
ctx_in from standard input and writes data_out or ctx_out to standard output.
"""

from __future__ import annotations

import sys

from .errors import BpfError

__all__ = ["add_prog_run_parser", "parse_words"]

_FILES = ("data_in", "data_out", "ctx_in", "ctx_out")
_NUMBERS = ("repeat", "data_size_out", "ctx_size_out")


def parse_words(words: list[str]) -> dict[str, str | int]:
    """bpftool's `KEYWORD VALUE` pairs as a dict; BpfError naming what is wrong."""
    out: dict[str, str | int] = {}
    if len(words) % 2:
        raise BpfError(f"prog-run: {words[-1]!r} needs a value (words come in pairs: "
                       f"data_in FILE, data_out FILE, ctx_in FILE, ctx_out FILE, repeat N)")
    for key, value in zip(words[::2], words[1::2]):
        if key in out:
            raise BpfError(f"prog-run: {key} given twice")
        if key in _FILES:
            out[key] = value
        elif key in _NUMBERS:
            try:
                out[key] = int(value, 0)
            except ValueError:
                raise BpfError(f"prog-run: {key} takes a number, got {value!r}") from None
            if out[key] < 1:
                raise BpfError(f"prog-run: {key} must be at least 1, got {value}")
        else:
            raise BpfError(f"prog-run: unknown word {key!r}; expected one of "
                           f"{', '.join(_FILES + _NUMBERS)}")
    if "data_in" not in out and "ctx_in" not in out:
        raise BpfError("prog-run: give data_in FILE (and/or ctx_in FILE), as bpftool needs")
    for size, name in (("data_size_out", "data_out"), ("ctx_size_out", "ctx_out")):
        if size in out and name not in out:
            raise BpfError(f"prog-run: {size} limits {name}, which was not given")
    return out


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    from .cli import _read
    return _read(path)


def _write_output(path: str, data: bytes, limit: int | None, name: str) -> None:
    if limit is not None and len(data) > limit:
        raise BpfError(f"prog-run: {name} is {len(data)} bytes, more than "
                       f"{name.replace('out', 'size_out')} {limit} (the kernel returns ENOSPC)")
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise BpfError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_prog_run(args) -> int:
    from .cli import _compile, _load_runnable
    words = parse_words(args.words)
    prog, _ = _load_runnable(args.prog, args)
    data_in = _read_input(words["data_in"]) if "data_in" in words else b""
    ctx_in = _read_input(words["ctx_in"]) if "ctx_in" in words else None
    fn = _compile(prog, args.engine, mode=args.mode, args=args)
    result = fn.test_run(data_in, ctx_in, words.get("repeat", 1))
    if "data_out" in words:
        _write_output(words["data_out"], result.data_out, words.get("data_size_out"),
                      "data_out")
    if "ctx_out" in words:
        _write_output(words["ctx_out"], result.ctx_out, words.get("ctx_size_out"), "ctx_out")
    average = " (average)" if words.get("repeat", 1) > 1 else ""
    print(f"Return value: {result.retval}, duration{average}: {result.duration}ns",
          file=sys.stderr if "-" in (words.get("data_out"), words.get("ctx_out")) else sys.stdout)
    return 0


def add_prog_run_parser(sub, program_args) -> None:
    """The `prog-run` sub-command; `program_args(p)` adds PROG's object options."""
    p = sub.add_parser("prog-run", help="a test run as `bpftool prog run` makes one: data_in, "
                                        "data_out, ctx_in, ctx_out, repeat")
    p.add_argument("prog", help="program: .bin, .s/.asm or .o")
    program_args(p)
    p.add_argument("--mode", choices=("checked", "strict", "unchecked"), default="checked",
                   help="checked (default): runtime checks where nothing is proven")
    p.add_argument("words", nargs="*", metavar="WORD VALUE",
                   help="bpftool's words: data_in FILE [data_out FILE [data_size_out L]] "
                        "[ctx_in FILE [ctx_out FILE [ctx_size_out M]]] [repeat N]; "
                        "- is standard input or output")
    p.set_defaults(func=cmd_prog_run)
