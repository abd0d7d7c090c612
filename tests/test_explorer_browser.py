"""The explorer page in a real browser: headless Chromium (Debian's package), driven by
Playwright.  Skipped, with the reason, where either is missing; CI installs both."""

import os
import shutil
import struct
from pathlib import Path

import pytest

import bpfjit

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the browser test needs playwright (the test extra)")

EXAMPLE = Path(__file__).parent.parent / "examples" / "firewall" / "firewall.o"
CHROMIUM = os.environ.get("BPFJIT_CHROMIUM") or shutil.which("chromium") \
    or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("the browser test needs Chromium: apt-get install chromium",
                allow_module_level=True)

XDP_DROP = 1


def telnet_packet() -> bytes:
    """The tour's packet: Ethernet + IPv4 (ihl 5) + TCP to port 23, which firewall.c
    drops."""
    packet = (EXAMPLE.parent / "telnet.pkt").read_bytes()
    assert packet[12:14] == b"\x08\x00" and packet[14] == 0x45 and packet[23] == 6
    assert struct.unpack("!H", packet[36:38]) == (23,)
    return packet


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorer") / "firewall.html"
    bpfjit.explore(str(EXAMPLE), telnet_packet(), section="xdp", output=out)
    return out


@pytest.fixture
def page(browser, page_file):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    yield page
    assert errors == []
    # the page itself is the only thing loaded: no scripts, fonts, images from anywhere
    assert requests == [page_file.as_uri()]
    page.close()


def _pcs(page, selector: str) -> list[int]:
    return page.eval_on_selector_all(selector, "els => els.map(e => +e.dataset.pc)")


def test_clicking_a_line_of_c_highlights_its_counterparts(page):
    prog = bpfjit.load_elf(str(EXAMPLE), section="xdp")
    page.locator("#col-source .r", has_text="ip->ihl_version & 0x0f").click()
    number = int(page.locator("#col-source .r.sel .no").inner_text())
    want = sorted(pc for pc, line in prog.source_lines.items()
                  if line is not None and line.line == number)
    assert want, "the line has code"
    assert sorted(_pcs(page, "#col-bpf .r.sel")) == want
    assert sorted(_pcs(page, "#col-verifier .r.sel")) == want
    # `(ih & 0x0f) != 5`: a mask by 15 and a comparison with 5 among its instructions
    selected = page.locator("#col-bpf .r.sel .asm").all_inner_texts()
    assert any(text.startswith("and") and text.endswith(", 15") for text in selected)
    assert any(text.startswith("j") and ", 5, " in text for text in selected)
    # every shown IR and x86 row that lights up belongs to one of those pcs
    for column in ("#col-ir", "#col-x86"):
        lit = _pcs(page, f"{column} .body:not([hidden]) .r.sel")
        assert lit and set(lit) <= set(want), column
    # and the details box names the line
    assert f"firewall.c:{number}" in page.locator("#details").inner_text()
    # every column has scrolled its first highlighted row into view
    assert _first_marked_in_view(page, "sel") == {"col-source": True, "col-bpf": True,
                                                  "col-verifier": True, "col-ir": True,
                                                  "col-x86": True}


def _first_marked_in_view(page, cls: str) -> dict[str, bool]:
    """column id -> whether the first row marked `cls` in its shown panel is inside
    that panel's visible box."""
    return page.evaluate("""cls => Object.fromEntries(
        [...document.querySelectorAll('.body:not([hidden])')].map(body => {
            const el = body.querySelector('.r.' + cls);
            if (!el) return [body.closest('.col').id, null];
            const r = el.getBoundingClientRect(), b = body.getBoundingClientRect();
            return [body.closest('.col').id,
                    r.top >= b.top && r.bottom <= b.top + body.clientHeight];
        }))""", cls)


def test_clicking_an_instruction_selects_its_line_of_c(page):
    prog = bpfjit.load_elf(str(EXAMPLE), section="xdp")
    pc = next(pc for pc, line in sorted(prog.source_lines.items())
              if line is not None and line.line and pc > 10)
    page.locator(f"#col-bpf .r[data-pc='{pc}']").click()
    line = prog.source_lines[pc].line
    assert page.locator("#col-source .r.sel .no").all_inner_texts() == [str(line)]


def test_the_run_plays_forward_and_back(page):
    prog = bpfjit.load_elf(str(EXAMPLE), section="xdp")
    path, r0 = bpfjit.compile(prog, "interp").trace(telnet_packet())
    assert r0 == XDP_DROP
    assert "XDP_DROP" in page.locator("#player .result").inner_text()
    assert _pcs(page, "#col-bpf .r.cur") == [path[0]]
    for _ in range(5):
        page.locator("#forward").click()
    assert _pcs(page, "#col-bpf .r.cur") == [path[5]]
    page.keyboard.press("ArrowLeft")
    assert _pcs(page, "#col-bpf .r.cur") == [path[4]]
    page.locator("#last").click()
    assert _pcs(page, "#col-bpf .r.cur") == [path[-1]]
    assert set(_first_marked_in_view(page, "cur").values()) <= {True, None}, _first_marked_in_view(page, "cur")
    assert page.locator("#where").inner_text().startswith(f"step {len(path)} of {len(path)}")
    # after the last step (the exit), r0 holds the verdict
    assert f"r0={XDP_DROP:#x}" in page.locator("#registers").inner_text()
    # taken branches are marked: a conditional jump the run took is in the BPF column
    targets = {pc: pc + 1 + prog.at(pc).off for pc in path
               if prog.at(pc).spec.op.startswith("j") and prog.at(pc).spec.op != "ja"}
    taken = {pc for i, pc in enumerate(path[:-1]) if targets.get(pc) == path[i + 1]}
    marked = set(_pcs(page, "#col-bpf .r.br-t")) | set(_pcs(page, "#col-bpf .r.br-tf"))
    assert marked == taken


def test_tabs_switch_the_engine(page):
    engines = page.locator("#col-x86 nav .tab").all_inner_texts()
    assert engines == [e for e in bpfjit.engines() if e != "interp"]
    if len(engines) > 1:
        page.locator("#col-x86 nav .tab", has_text=engines[1]).click()
        assert page.locator("#col-x86 .body:not([hidden])").get_attribute("data-panel") == "1"


def test_an_instruction_from_a_header_shows_the_header(browser, tmp_path):
    # ip_checksum.o: the sum is inlined from ip_checksum.h, so its instructions name a
    # line of the header, which the C column shows in a second tab
    obj = Path(__file__).parent / "elf" / "ip_checksum.o"
    prog = bpfjit.load_elf(str(obj))
    out = tmp_path / "sum.html"
    bpfjit.explore(prog, output=out)
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    page.goto(out.as_uri())
    tabs = page.locator("#col-source nav .tab").all_inner_texts()
    assert [Path(t).name for t in tabs] == ["ip_checksum.c", "ip_checksum.h"]
    pc, line = next((pc, line) for pc, line in sorted(prog.source_lines.items())
                    if line is not None and line.file.endswith(".h"))
    page.locator(f"#col-bpf .r[data-pc='{pc}']").click()
    shown = page.locator("#col-source .body:not([hidden])")
    assert Path(shown.get_attribute("data-name")).name == "ip_checksum.h"
    assert shown.locator(".r.sel .no").all_inner_texts() == [str(line.line)]
    # the header's line is the sum's: `sum += words[i];` and its neighbours
    text = (Path(__file__).parent / "elf" / "ip_checksum.h").read_text().splitlines()
    assert "sum" in text[line.line - 1]
    page.close()
