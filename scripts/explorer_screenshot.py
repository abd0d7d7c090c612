"""Write docs/explorer.png: the explorer page of the example firewall on a telnet
packet, one line of C selected and the run stepped forward (`make explorer-screenshot`;
needs Chromium, as the browser test does)."""

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

import bpfjit

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("explorer-screenshot: needs Chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "firewall.html"
        example = ROOT / "examples" / "firewall"
        bpfjit.explore(str(example / "firewall.o"), (example / "telnet.pkt").read_bytes(),
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
