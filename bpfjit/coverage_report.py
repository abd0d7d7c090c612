"""Line and branch coverage of a program's C source, offline: runs on the interpreter
record the instructions they execute; the object's line information (clang -g:
`.BTF.ext` line_info, bpfjit.lineinfo) turns them into lines of C, and each
conditional jump into a branch taken or not.

    cov = bpfjit.Coverage()
    prog = bpfjit.load_elf("fw.o", section="xdp")
    cov.run(prog, packet)            # as many runs as the tests make
    print(cov.summary())             # per file: lines and branches hit, lines missed
    open("bpf.info", "w").write(cov.lcov())    # for genhtml, IDEs, CI services

A line counts as many times as the most-executed of its instructions; a line the
compiler gave no instruction (comments, declarations) is not a line of the report.
Line 0 (code the compiler made for no line) is left out.  Programs a run reaches by
tail call are not traced.  The pytest plugin's `--bpf-cov FILE` records every run its
`bpf` fixture makes (bpfjit.pytest_plugin).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

from .errors import BpfError, BpfTrap
from .isa import Kind
from .lineinfo import object_directory, source_path

__all__ = ["Coverage", "CoverageRecorder"]


class Coverage:
    """Executed lines and branches of the C source of the programs run through it."""

    def __init__(self):
        # (file, line) -> executions; every line with an instruction is a key
        self.lines: dict[tuple[str, int], int] = {}
        # (file, line, program key, pc) -> [taken, not taken]
        self.branches: dict[tuple, list[int]] = {}
        # program key -> {pc: (file, line)}
        self._places: dict[tuple, dict[int, tuple[str, int]]] = {}
        self._interpreters: dict[int, tuple] = {}

    # ---- recording ---------------------------------------------------------------------------

    def run(self, program, mem=None, **options) -> int:
        """Run a Program (from load_elf; compiled once here on the interpreter) on `mem`
        (a packet, context or buffer), recording what it executes; its r0, or the
        trap it raised."""
        held = self._interpreters.get(id(program))
        if held is None or held[0] is not program:
            from . import compile as compile_program
            held = self._interpreters[id(program)] = (program, compile_program(
                program, "interp", **options))
        r0, error = self.trace(held[1], mem)
        if error is not None:
            raise error
        return r0

    def trace(self, interpreter, mem, base: str | os.PathLike | None = None):
        """Run an Interpreter on `mem` with tracing: (r0, None), or (None, the trap).
        `base`: the directory the object's relative source paths are taken from
        (default: the object file's)."""
        program = interpreter.program
        key, places = self._places_of(program, base)
        pcs, result = interpreter.trace(mem)
        for pc, count in collections.Counter(pcs).items():
            where = places.get(pc)
            if where is not None:
                self.lines[where] = max(self.lines[where], count)
        for here, after in zip(pcs, pcs[1:]):
            where = places.get(here)
            if where is not None and program.at(here).kind is Kind.JCOND:
                self.branches[where + (key, here)][after == here + 1] += 1
        if isinstance(result, BpfError):
            if isinstance(result, BpfTrap):
                return None, result
            raise result
        return result, None

    def _places_of(self, program, base) -> tuple[tuple, dict]:
        """The program's key and its pcs' (file, line), worked out on its first run:
        every line with code is then a line of the report, every conditional jump on one
        a branch point, whether or not a run reaches them."""
        path = getattr(program, "object_path", None)
        key = (path if path is not None else id(program.source_lines),
               getattr(program, "section", None), getattr(program, "function", None))
        places = self._places.get(key)
        if places is None:
            if base is None:
                base = object_directory(program)
            places = self._places[key] = {}
            for pc, line in program.source_lines.items():
                where = self._where(line, base)
                if where is None:
                    continue
                places[pc] = where
                self.lines.setdefault(where, 0)
                if program.at(pc).kind is Kind.JCOND:
                    self.branches.setdefault(where + (key, pc), [0, 0])
        return key, places

    @staticmethod
    def _where(line, base) -> tuple[str, int] | None:
        if line is None or line.line == 0:
            return None
        return source_path(line.file, base), line.line

    # ---- reports -----------------------------------------------------------------------------

    def files(self) -> dict[str, dict]:
        """Per source file: lines (with instructions), hit, missed lines, branches, hit."""
        out: dict[str, dict] = {}
        for (path, line), count in sorted(self.lines.items()):
            entry = out.setdefault(path, {"lines": 0, "hit": 0, "missed": [], "branches": 0,
                                          "branches_hit": 0})
            entry["lines"] += 1
            if count:
                entry["hit"] += 1
            else:
                entry["missed"].append(line)
        for (path, *_), (taken, not_taken) in self.branches.items():
            entry = out[path]
            entry["branches"] += 2
            entry["branches_hit"] += (taken > 0) + (not_taken > 0)
        return out

    def summary(self) -> str:
        """A table: per file, lines and branches hit, and the lines never run."""
        rows = [("file", "lines", "hit", "branches", "hit", "missed lines")]
        for path, entry in self.files().items():
            rows.append((_shown(path), str(entry["lines"]), _percent(entry["hit"], entry["lines"]),
                         str(entry["branches"]),
                         _percent(entry["branches_hit"], entry["branches"]),
                         _ranges(entry["missed"])))
        if len(rows) == 1:
            return "no line information: build the object with clang -g"
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        return "\n".join("  ".join([row[0].ljust(widths[0])] +
                                   [row[i].rjust(widths[i]) for i in range(1, 5)] + [row[5]])
                         .rstrip() for row in rows)

    def lcov(self, test_name: str = "") -> str:
        """An lcov tracefile (genhtml, IDE and CI coverage tools read it)."""
        out = []
        by_file = collections.defaultdict(list)
        for (path, line), count in self.lines.items():
            by_file[path].append((line, count))
        branches = collections.defaultdict(list)
        for (path, line, _, pc), counts in self.branches.items():
            branches[path].append((line, pc, counts))
        for path in sorted(by_file):
            out += [f"TN:{test_name}", f"SF:{path}"]
            found = hit = 0
            for block, (line, pc, (taken, not_taken)) in enumerate(sorted(branches[path])):
                ran = taken + not_taken > 0
                for branch, count in enumerate((taken, not_taken)):
                    out.append(f"BRDA:{line},{block},{branch},{count if ran else '-'}")
                    found += 1
                    hit += count > 0
            out += [f"BRF:{found}", f"BRH:{hit}"]
            lines = sorted(by_file[path])
            out += [f"DA:{line},{count}" for line, count in lines]
            out += [f"LF:{len(lines)}", f"LH:{sum(1 for _, c in lines if c)}", "end_of_record"]
        return "\n".join(out) + "\n"

    def write_lcov(self, path: str | os.PathLike) -> Path:
        """Write `lcov()` to `path`."""
        try:
            Path(path).write_text(self.lcov())
        except OSError as exc:
            raise BpfError(f"cannot write {path}: {exc.strerror or exc}") from None
        return Path(path)


# the pytest plugin's recorder is a Coverage
CoverageRecorder = Coverage


def _shown(path: str) -> str:
    """A path as the summary shows it: relative to the working directory when under it."""
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        if not relative.startswith(".."):
            return relative
    return path


def _percent(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else "-"


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9"."""
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)
