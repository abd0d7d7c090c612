"""The explorer page: one self-contained HTML file (its CSS and script inline, no
network) drawn from an Exploration.  Every row of every column carries the BPF pc it
belongs to (`data-pc`, or `data-pcs` for a line of C), which is all the script needs
to link the columns; the trace travels as JSON, registers as hex strings."""

from __future__ import annotations

import json
from html import escape
from importlib import resources

from .. import __version__
from ..asm import format_insn
from .collect import Exploration

__all__ = ["render"]

CHUNK = 100         # rows per block of layout (page.css sizes a block before it is shown)


def render(x: Exploration) -> str:
    """The page for `x`, as HTML text."""
    targets = x.jump_targets()
    counts, branches = _run_marks(x, targets)
    columns = []
    if x.sources:
        title = "C source" + (f": {x.sources[0].name}" if len(x.sources) == 1 else "")
        columns.append(_column("source", title, {f.name: _source_rows(f, counts)
                                                 for f in x.sources}))
    columns.append(_column("bpf", "BPF instructions", {"": _bpf_rows(x, counts, branches)}))
    columns.append(_column("verifier", "Verifier", {"": _verifier_rows(x, counts)}))
    if x.ir:
        columns.append(_column("ir", "LLVM IR", {
            "before optimisation": _code_rows(x.ir["before"], counts, branches),
            "after": _code_rows(x.ir["after"], counts, branches)}, start=1))
    if x.native:
        columns.append(_column("x86", "x86-64", {
            engine: _native_rows(rows, counts, branches) for engine, rows in x.native.items()}))
    data = {"trace": _trace_data(x), "result": x.result, "steps": x.trace_steps,
            "targets": {str(k): v for k, v in targets.items()}}
    script = resources.files(__package__).joinpath("page.js").read_text()
    style = resources.files(__package__).joinpath("page.css").read_text()
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(x.title or 'bpfjit explorer')}</title><style>{style}</style>",
        "</head><body>", _header(x), "<main id=\"columns\">", *columns, "</main>",
        f"<script type=\"application/json\" id=\"bpfjit-data\">{payload}</script>",
        f"<script>{script}</script></body></html>\n"])


# ---- the header: title, verdict, figures, the player ----------------------------------

def _header(x: Exploration) -> str:
    parts = [f"<header><h1>{escape(x.title)}</h1>",
             f"<span class=\"version\">bpfjit {escape(__version__)}</span>"]
    if x.rejected is not None:
        pc, reason = x.rejected
        parts.append(f"<p class=\"rejected\" id=\"rejected\">The verifier rejects this "
                     f"program at pc {pc}: {escape(reason)}</p>")
    for engine, why in x.unavailable.items():
        parts.append(f"<p class=\"note\">{escape(engine)}: {escape(why)}</p>")
    parts.append(_figures(x))
    parts.append("<div id=\"controls\"><label><input type=\"checkbox\" id=\"show-bytes\"> "
                 "encoded bytes</label> <label><input type=\"checkbox\" id=\"show-c\"> "
                 "pseudo-C</label></div>")
    if x.trace is not None:
        shown = len(x.trace)
        cut = (f" (the run took {x.trace_steps:,} steps; the first {shown:,} are shown)"
               if x.trace_steps > shown else "")
        parts.append(
            "<div id=\"player\"><button id=\"first\" title=\"first step\">|&lt;</button>"
            "<button id=\"back\" title=\"step back (&larr;)\">&lt;</button>"
            "<button id=\"forward\" title=\"step forward (&rarr;)\">&gt;</button>"
            "<button id=\"last\" title=\"last step\">&gt;|</button>"
            f"<input type=\"range\" id=\"step\" min=\"0\" max=\"{max(shown - 1, 0)}\" "
            "value=\"0\"><span id=\"where\"></span>"
            f"<span class=\"result\">{escape(x.result or '')}{escape(cut)}</span>"
            "<table id=\"registers\"></table></div>")
    parts.append("<div id=\"details\">Select any line to see its counterparts.</div>"
                 "</header>")
    return "".join(parts)


def _figures(x: Exploration) -> str:
    """A line of counts, then one row per engine: cold compile time (verification
    apart) with its stages, code size and time per run on the given input."""
    f = x.figures
    facts = [f"{f.get('instructions', 0):,} instructions"]
    if f.get("accesses"):
        facts.append(f"{f['proven']} of {f['accesses']} accesses proven "
                     f"({100 * f['proven'] / f['accesses']:.0f}%)")
    if "executed" in f:
        facts.append(f"{f['executed']:,} executed on this input")
    stages = f.get("stages_ms", {})
    rows = ["<tr><th></th><th>cold compile</th><th>stages (ms)</th><th>code</th>"
            "<th>per run</th></tr>"]
    if "verify" in stages:
        rows.append(f"<tr><th>verify</th><td>{stages['verify']:.2f} ms</td><td></td>"
                    f"<td></td><td></td></tr>")
    for engine in ["interp", *f.get("code_bytes", {})]:
        own = {k.split(": ", 1)[1]: ms for k, ms in stages.items()
               if k.startswith(engine + ": ")}
        size = f.get("code_bytes", {}).get(engine)
        run = f.get("run_ns", {}).get(engine)
        if not own and run is None:
            continue
        detail = " · ".join(f"{k} {ms:.2f}" for k, ms in own.items()) if len(own) > 1 else ""
        rows.append(f"<tr><th>{escape(engine)}</th>"
                    f"<td>{f'{sum(own.values()):.2f} ms' if own else ''}</td>"
                    f"<td>{escape(detail)}</td><td>{f'{size:,} B' if size else ''}</td>"
                    f"<td>{f'{run:,.1f} ns' if run is not None else ''}</td></tr>")
    return (f"<div id=\"figures\"><div>{escape(', '.join(facts))}</div>"
            f"<table>{''.join(rows)}</table></div>")


# ---- columns ---------------------------------------------------------------------------

def _column(key: str, title: str, panels: dict[str, list[str]], start: int = 0) -> str:
    """A column; several panels become tabs (the one at `start` shown first)."""
    tabs = ""
    if len(panels) > 1:
        tabs = "<nav>" + "".join(
            f"<button class=\"tab{' on' if i == start else ''}\" data-panel=\"{i}\">"
            f"{escape(name)}</button>" for i, name in enumerate(panels)) + "</nav>"
    bodies = "".join(
        f"<div class=\"body\" data-panel=\"{i}\" data-name=\"{escape(name)}\""
        f"{'' if i == start else ' hidden'}>{_chunked(rows)}</div>"
        for i, (name, rows) in enumerate(panels.items()))
    return f"<section class=\"col\" id=\"col-{key}\"><h2>{escape(title)}</h2>{tabs}{bodies}</section>"


def _chunked(rows: list[str]) -> str:
    """Rows in blocks of CHUNK that the browser lays out only when they scroll into
    view (CSS content-visibility): a page of thousands of instructions opens at once."""
    return "".join(f"<div class=\"chunk\">{''.join(rows[i:i + CHUNK])}</div>"
                   for i in range(0, len(rows), CHUNK))


def _marks(pc: int, counts: dict, branches: dict) -> str:
    classes = []
    if pc in counts:
        classes.append("hit")
    if pc in branches:
        taken, fell = branches[pc]
        classes.append("br-tf" if taken and fell else "br-t" if taken else "br-f")
    return " " + " ".join(classes) if classes else ""


def _source_rows(f, counts: dict) -> list[str]:
    out = []
    for number, text, pcs in f.lines:
        hit = " hit" if any(pc in counts for pc in pcs) else ""
        code = " code" if pcs else ""
        out.append(f"<div class=\"r{code}{hit}\" data-pcs=\"{' '.join(map(str, pcs))}\">"
                   f"<span class=\"no\">{number}</span><code>{escape(text)}</code></div>")
    if not f.whole:
        out.insert(0, "<div class=\"note\">(only the lines the object records: the file "
                      "was not found next to it)</div>")
    return out


def _bpf_rows(x: Exploration, counts: dict, branches: dict) -> list[str]:
    out = []
    for pc, insn in x.program:
        raw = insn.encode().hex(" ")
        badge = ""
        if pc in branches:
            taken, fell = branches[pc]
            badge = f"<span class=\"branch\">taken &times;{taken}, fell through &times;{fell}</span>"
        elif pc in counts:
            badge = f"<span class=\"count\">&times;{counts[pc]}</span>"
        rejected = " rejected" if x.rejected is not None and x.rejected[0] == pc else ""
        out.append(f"<div class=\"r{_marks(pc, counts, branches)}{rejected}\" data-pc=\"{pc}\">"
                   f"<span class=\"no\">{pc}</span><span class=\"bytes\">{raw}</span>"
                   f"<code class=\"asm\">{escape(format_insn(insn))}</code>"
                   f"<code class=\"c\">{escape(format_insn(insn, 'c'))}</code>{badge}</div>")
    return out


def _verifier_rows(x: Exploration, counts: dict) -> list[str]:
    out = []
    for pc, _ in x.program:
        state = x.states.get(pc)
        verdict = x.verdicts.get(pc)
        badge = (f"<span class=\"v {verdict[0]}\" title=\"{escape(verdict[1])}\">"
                 f"{verdict[0]}</span>") if verdict else ""
        text = "unreachable" if state is None else state
        if x.rejected is not None and pc > x.rejected[0] and state is None:
            text = ""
        out.append(f"<div class=\"r{' hit' if pc in counts else ''}\" data-pc=\"{pc}\">"
                   f"<span class=\"no\">{pc}</span>{badge}<code>{escape(text)}</code></div>")
    return out


def _code_rows(lines: list[tuple[str, int]], counts: dict, branches: dict) -> list[str]:
    out = []
    for text, pc in lines:
        attribute = f" data-pc=\"{pc}\"" if pc >= 0 else ""
        out.append(f"<div class=\"r{_marks(pc, counts, branches)}\"{attribute}>"
                   f"<code>{escape(text)}</code></div>")
    return out


def _native_rows(rows: list, counts: dict, branches: dict) -> list[str]:
    out = []
    for row in rows:
        if row.function is not None:
            out.append(f"<div class=\"fn\">&lt;{escape(row.function)}&gt;:</div>")
        pc = f" data-pc=\"{row.pc}\"" if row.pc >= 0 else ""
        out.append(f"<div class=\"r{_marks(row.pc, counts, branches)}\"{pc}>"
                   f"<span class=\"no\">{row.address:x}</span>"
                   f"<code>{escape(row.text)}</code></div>")
    return out


# ---- the run ---------------------------------------------------------------------------

def _run_marks(x: Exploration, targets: dict[int, int]
               ) -> tuple[dict[int, int], dict[int, list[int]]]:
    """pc -> times executed, and jump pc -> [taken, fell through], over the shown trace."""
    counts: dict[int, int] = {}
    branches: dict[int, list[int]] = {}
    if not x.trace:
        return counts, branches
    for i, step in enumerate(x.trace):
        counts[step.pc] = counts.get(step.pc, 0) + 1
        if step.pc in targets and i + 1 < len(x.trace):
            taken = x.trace[i + 1].pc == targets[step.pc]
            branches.setdefault(step.pc, [0, 0])[0 if taken else 1] += 1
    return counts, branches


def _trace_data(x: Exploration) -> list | None:
    """[[pc, {register: hex}], ...]: the registers before each step, only those that
    changed since the step before (all of them at the first)."""
    if x.trace is None:
        return None
    out, before = [], None
    for step in x.trace:
        regs = [f"{v & 0xFFFFFFFFFFFFFFFF:#x}" for v in step.registers]
        changed = {i: v for i, v in enumerate(regs) if before is None or before[i] != v}
        out.append([step.pc, changed])
        before = regs
    return out
