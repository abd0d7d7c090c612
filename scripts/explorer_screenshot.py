"""Write docs/explorer.png: the explorer page of the example firewall on a telnet
packet, one line of C selected and the run stepped forward (`make explorer-screenshot`;
needs Chromium, as the browser test does)."""

import shutil
import struct
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import bpfjit

ROOT = Path(__file__).resolve().parent.parent


def telnet_packet() -> bytes:
    ether = bytes(12) + struct.pack("!H", 0x0800)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    tcp = struct.pack("!HHIIBBHHH", 40000, 23, 0, 0, 5 << 4, 0x02, 1024, 0, 0)
    return ether + ip + tcp


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("explorer-screenshot: needs Chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "firewall.html"
        bpfjit.explore(str(ROOT / "examples" / "firewall" / "firewall.o"), telnet_packet(),
                       section="xdp", output=page_file)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(page_file.as_uri())
            for _ in range(14):
                page.locator("#forward").click()
            page.locator("#col-source .r", has_text="tcp->dest").first.click()
            page.screenshot(path=str(ROOT / "docs" / "explorer.png"))
            browser.close()
    print("docs/explorer.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
