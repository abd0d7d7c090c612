"""The explorer page (bpfjit.explorer): what it gathers from each stage, checked against
hand-worked programs, and the page itself (self-contained, every pc linked).  A real
browser drives it in test_explorer_browser.py."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import bpfjit
from bpfjit.explorer import collect, render
from bpfjit.explorer.collect import TRACE_LIMIT, ir_lines

from test_cli import assert_one_line_error, bpfjit as run_cli

ELF = Path(__file__).parent / "elf"

# r1 points at the buffer.  Path on a buffer whose first byte is 7: pcs 0 1 2 3 6 7
# (the jump is taken), r0 = 2; on any other first byte: 0 1 2 3 4 5, r0 = 1.
BRANCHY = """
    mov %r0, 0
    stxdw [%r10-8], %r0
    ldxb %r3, [%r1]
    jeq %r3, 7, +2
    mov %r0, 1
    exit
    mov %r0, 2
    exit
"""


def _jit_engines(engine: str) -> list[str]:
    if engine in ("interp", "kernel"):
        pytest.skip("the explorer shows the machine code of bpfjit's JITs")
    return [engine]


class _Rows(HTMLParser):
    """Every `.r` row of a page: (column id, panel, pc or pcs, text, text of its
    <code> elements)."""

    def __init__(self):
        super().__init__()
        self.rows, self.column, self.panel, self.current, self.depth = [], None, None, None, 0
        self.in_code = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.column = a.get("id")
        if tag == "div" and "data-panel" in a:
            self.panel = a["data-panel"]
        if tag == "div" and "r" in a.get("class", "").split():
            self.current = [self.column, self.panel, a.get("data-pc", a.get("data-pcs")), "", ""]
            self.depth = 1
        elif self.current is not None and tag == "div":
            self.depth += 1
        self.in_code = self.in_code or tag == "code"

    def handle_endtag(self, tag):
        if tag == "code":
            self.in_code = False
        if self.current is not None and tag == "div":
            self.depth -= 1
            if self.depth == 0:
                self.rows.append(tuple(self.current))
                self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current[3] += data
            if self.in_code:
                self.current[4] += data


def rows_of(page: str) -> list[tuple]:
    parser = _Rows()
    parser.feed(page)
    return parser.rows


def page_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="bpfjit-data">(.*?)</script>', page,
                  re.S)
    return json.loads(m.group(1))


def test_verdicts_trace_and_result_of_a_hand_worked_program(engine):
    x = collect(bpfjit.assemble(BRANCHY), b"\x07abc", engines=_jit_engines(engine))
    # the stack store is proven; a byte of a buffer of unknown length is checked
    assert {pc: v for pc, (v, _) in x.verdicts.items()} == {1: "proven", 2: "checked"}
    assert "r10" in x.verdicts[1][1] and "fp" in x.verdicts[1][1]
    assert [s.pc for s in x.trace] == [0, 1, 2, 3, 6, 7]
    assert x.trace_steps == 6
    assert x.result == "r0 = 0x2"
    before_jump = x.trace[3].registers
    assert before_jump[3] == 7 and before_jump[0] == 0
    assert x.figures["proven"] == 1 and x.figures["accesses"] == 2
    assert x.figures["executed"] == 6
    assert set(x.figures["run_ns"]) == {"interp", engine}
    # the checked load at pc 2 compares against the buffer's bounds in the machine code
    rows = x.native[engine]
    assert all(r.pc == -1 or r.pc in dict(x.program) for r in rows)
    at_load = [r.text for r in rows if r.pc == 2]
    assert any(t.startswith("cmp ") for t in at_load), at_load


def test_the_other_path(engine):
    x = collect(bpfjit.assemble(BRANCHY), b"\x08", engines=_jit_engines(engine))
    assert [s.pc for s in x.trace] == [0, 1, 2, 3, 4, 5]
    assert x.result == "r0 = 0x1"


def test_llvm_ir_rows_name_their_pc():
    if "llvm" not in bpfjit.engines():
        pytest.skip("llvm engine unavailable")
    x = collect(bpfjit.assemble(BRANCHY), engines=["llvm"])
    before = [(text, pc) for text, pc in x.ir["before"] if pc == 2]
    assert any("load i8" in text for text, _ in before)      # ldxb: an 8-bit load
    assert all("!dbg" not in text for text, _ in x.ir["before"] + x.ir["after"])
    assert {pc for _, pc in x.ir["after"]} - {-1} <= set(dict(x.program))


def test_ir_lines_reads_debug_locations():
    text = ("define i64 @f() {\n  %a = add i64 1, 2, !dbg !7\n  ret i64 %a, !dbg !9\n}\n"
            "!7 = !DILocation(line: 4, column: 0, scope: !3)\n"
            "!9 = !DILocation(column: 0, line: 1, scope: !3)\n")
    assert ir_lines(text) == [("define i64 @f() {", -1), ("  %a = add i64 1, 2", 3),
                              ("  ret i64 %a", 0), ("}", -1)]


def test_a_trace_longer_than_the_page_keeps_its_first_steps():
    # 2 + 3 * n + 1 steps; r0 counts the trips
    loop = "mov %r0, 0\nmov %r1, {n}\nadd %r0, 1\nsub %r1, 1\njne %r1, 0, -3\nexit\n"
    x = collect(bpfjit.assemble(loop.format(n=10_000)), b"", engines=[])
    assert len(x.trace) == TRACE_LIMIT and x.trace_steps == 30_003
    assert x.result == "r0 = 0x2710"
    # longer than the traced run's budget (10 x TRACE_LIMIT): the count comes from a
    # whole run
    x = collect(bpfjit.assemble(loop.format(n=40_000)), b"", engines=[])
    assert x.trace_steps == 120_003 and x.result == "r0 = 0x9c40"


def test_a_trap_is_the_result():
    x = collect(bpfjit.assemble(BRANCHY), b"", engines=[])
    assert [s.pc for s in x.trace] == [0, 1, 2]
    assert x.result.startswith("trap: ") and "pc 2" in x.result


def test_a_rejected_program_shows_where_and_why():
    prog = bpfjit.assemble("mov %r0, 0\nadd %r0, %r5\nexit")     # r5 is never written
    page = bpfjit.explore(prog)
    assert "rejects this program at pc 1" in page
    assert "r5" in re.search(r'<p class="rejected"[^>]*>(.*?)</p>', page).group(1)
    bpf = [r for r in rows_of(page) if r[0] == "col-bpf"]
    assert [r[2] for r in bpf] == ["0", "1", "2"]


def test_the_page_is_self_contained_and_links_every_pc(tmp_path):
    prog = bpfjit.load_elf(str(ELF / "parser.o"), section="xdp")
    out = tmp_path / "page.html"
    page = bpfjit.explore(prog, bytes(64), output=out)
    assert out.read_text() == page
    # nothing that would load from elsewhere
    assert not re.search(r"(?i)(src|href)\s*=|<link|@import|url\(|https?://", page)
    rows = rows_of(page)
    pcs = [str(pc) for pc, _ in prog]
    assert [r[2] for r in rows if r[0] == "col-bpf"] == pcs
    assert [r[2] for r in rows if r[0] == "col-verifier"] == pcs
    # the C column is parser.c, whole, each line with the pcs compiled from it
    c_rows = [r for r in rows if r[0] == "col-source"]
    text = (ELF / "parser.c").read_text().splitlines()
    assert [r[3] for r in c_rows] == [f"{n}{line}" for n, line in enumerate(text, start=1)]
    for number, row in enumerate(c_rows, start=1):
        want = sorted(pc for pc, line in prog.source_lines.items()
                      if line is not None and line.line == number)
        assert sorted(map(int, row[2].split())) == want
    # the run: registers are 64-bit hex strings, the first step has all eleven
    data = page_data(page)
    assert data["trace"][0][0] == 0 and len(data["trace"][0][1]) == 11


def test_the_data_end_load_is_linked_to_its_line_of_c():
    prog = bpfjit.load_elf(str(ELF / "parser.o"), section="xdp")
    page = bpfjit.explore(prog)
    line = next(r for r in rows_of(page) if r[0] == "col-source"
                and "data_end = (void *)(long)ctx->data_end" in r[3])
    pcs = [int(p) for p in line[2].split()]
    # struct xdp_md: data at offset 0, data_end at offset 4, both 32-bit
    assert any(re.fullmatch(r"ldxw %r\d+, \[%r1\+4\]", bpfjit.disassemble(
        prog.with_insns([prog.at(pc)])).strip()) for pc in pcs)


def test_python_errors_are_bpf_errors(tmp_path):
    with pytest.raises(bpfjit.BpfError, match="object file"):
        bpfjit.explore("program.s")
    with pytest.raises(bpfjit.BpfError, match="memory must be bytes"):
        bpfjit.explore(bpfjit.assemble(BRANCHY), memory=[1, 2])
    with pytest.raises(bpfjit.BpfError, match="cannot write"):
        bpfjit.explore(bpfjit.assemble(BRANCHY), output=tmp_path / "no" / "page.html")


def test_cli_writes_the_page(tmp_path):
    prog, mem, out = tmp_path / "p.s", tmp_path / "m.bin", tmp_path / "p.html"
    prog.write_text(BRANCHY)
    mem.write_bytes(b"\x07")
    proc = run_cli("explore", str(prog), "--mem", str(mem), "-o", str(out),
                   "--engines", "peachpy" if "peachpy" in bpfjit.engines() else "llvm")
    assert proc.returncode == 0, proc.stderr
    assert f"{out.stat().st_size:,} bytes" in proc.stdout
    data = page_data(out.read_text())
    assert [step[0] for step in data["trace"]] == [0, 1, 2, 3, 6, 7]
    assert data["result"] == "r0 = 0x2"


def test_cli_errors_are_one_line(tmp_path):
    prog = tmp_path / "p.s"
    prog.write_text(BRANCHY)
    assert_one_line_error(run_cli("explore", str(tmp_path / "none.o"), "-o",
                                  str(tmp_path / "x.html")), "cannot read")
    assert_one_line_error(run_cli("explore", str(prog), "-o",
                                  str(tmp_path / "no" / "x.html")), "cannot write")
    assert_one_line_error(run_cli("explore", str(prog)), "-o/--output")
    assert_one_line_error(run_cli("explore", str(prog), "--mem", "a", "--packet", "b",
                                  "-o", "x.html"), "not allowed with")


def test_both_files_of_an_inlined_header_are_shown_whole():
    prog = bpfjit.load_elf(str(ELF / "ip_checksum.o"))
    x = collect(prog, engines=[])
    names = {Path(f.name).name: f for f in x.sources}
    assert set(names) == {"ip_checksum.c", "ip_checksum.h"}
    for name, f in names.items():
        assert f.whole
        assert [t for _, t, _ in f.lines] == (ELF / name).read_text().splitlines()


def test_checksum_verdicts_on_packets(engine):
    # a hand-built IPv4 header with a correct checksum passes; one bit off is dropped
    import struct
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20, 0, 0, 64, 17, 0,
                                   bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])))
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    header[10:12] = struct.pack("!H", ~total & 0xFFFF)
    packet = bytes(12) + b"\x08\x00" + bytes(header)
    prog = bpfjit.load_elf(str(ELF / "ip_checksum.o"))
    fn = bpfjit.compile(prog, engine)
    assert fn(bytearray(packet)) == 2                           # XDP_PASS
    broken = bytearray(packet)
    broken[14 + 8] ^= 1                                         # the TTL, one bit
    assert fn(broken) == 1                                      # XDP_DROP


def test_cli_writes_the_page_of_a_rejected_program_and_says_so(tmp_path):
    prog, out = tmp_path / "peek.s", tmp_path / "peek.html"
    prog.write_text("ldxb %r0, [%r1+3]\nexit\n")       # nothing proves 4 bytes are there
    proc = run_cli("explore", str(prog), "--mode", "strict", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "the verifier rejects it at pc 0: strict mode: cannot prove" in proc.stdout
    assert "rejects this program at pc 0" in out.read_text()


def test_cli_picks_a_program_of_an_object(tmp_path):
    out = tmp_path / "mix.html"
    proc = run_cli("explore", str(ELF / "calls.o"), "--section", "xdp/mix", "-o", str(out),
                   "--engines", "peachpy" if "peachpy" in bpfjit.engines() else "llvm")
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    assert "<title>calls.o [xdp/mix] mix_only</title>" in page
    prog = bpfjit.load_elf(str(ELF / "calls.o"), section="xdp/mix")
    assert [r[2] for r in rows_of(page) if r[0] == "col-bpf"] == [str(pc) for pc, _ in prog]
    # an object with several programs and no --section: one line naming them
    assert_one_line_error(run_cli("explore", str(ELF / "calls.o"), "-o", str(out)),
                          "has several programs")


def test_engines_without_a_column_are_named(tmp_path):
    x = collect(bpfjit.assemble(BRANCHY), engines=["kernel"])
    assert x.native == {} and "machine code of bpfjit's JITs" in x.unavailable["kernel"]
    with pytest.raises(bpfjit.BpfError, match="unknown engine 'nope'"):
        collect(bpfjit.assemble(BRANCHY), engines=["nope"])
    prog = tmp_path / "p.s"
    prog.write_text(BRANCHY)
    assert_one_line_error(run_cli("explore", str(prog), "--engines", "nope", "-o",
                                  str(tmp_path / "x.html")), "unknown engine 'nope'")
