"""Screenshots of every dashboard page on the published release, for the README and for review.

`make screenshots` (after `make release`): serves the release in LCP_DATA_DIR with streamlit, opens
each page in Debian's Chromium and writes docs/screenshots/<page>.png. Fails loudly on any page
showing a Streamlit exception.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
PAGES = {  # file name -> path and query (a partnership a board would look at)
    "scorecard": "/?area=LCP02",
    "map": "/map?area=LCP02&indicator=NI+56&colour=rag",
    "profile": "/profile?area=LCP02",
    "indicator": "/indicator?indicator=NI+56&area=LCP02&level=ward",
    "exceptions": "/exceptions?area=all",
    "methods": "/methods",
}


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        OUT.mkdir(parents=True, exist_ok=True)
        failures = 0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, path in PAGES.items():
                page.goto(base + path)
                page.wait_for_selector('[data-testid="stMainBlockContainer"]', timeout=60_000)
                if name in ("map", "profile", "indicator"):
                    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
                else:
                    page.wait_for_selector('[data-testid="stTable"], [data-testid="stAlert"]', timeout=60_000)
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                    " && !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
                time.sleep(2)
                height = page.evaluate(
                    "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                    "[data-testid=\"stAppViewContainer\"], body')].map(e => e.scrollHeight))")
                page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 40, 1000), 9000)})
                time.sleep(1.5)
                if page.locator('[data-testid="stException"]').count():
                    failures += 1
                    print(f"{name}: the page shows an exception", file=sys.stderr)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print(f"wrote {OUT / f'{name}.png'}")
                page.set_viewport_size({"width": 1400, "height": 1000})
            browser.close()
        return 1 if failures else 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
