"""Walk every dashboard page for every area of the published release in Debian's Chromium.

`make walk` (after `make release`): serves the release in LCP_DATA_DIR, opens each page of
dashboard/pages.yaml for the county and every partnership area (and the map, profile and indicator
pages at each level), and fails (exit 1) listing every view that shows a Streamlit exception, a
Python traceback, or fetches anything from outside. Prints how many views it walked and the slowest.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import config  # noqa: E402
from pipelines.release import ReleaseReader, open_release  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SETTLED = ("() => document.querySelector('[data-testid=\"stMain\"]')"
           " && !document.querySelector('[data-testid=\"stStatusWidget\"]')"
           " && !document.querySelector('[data-stale=\"true\"]')")


def views() -> list[str]:
    con = open_release()
    try:
        reader = ReleaseReader(con)
        top = reader.top_area() or config.COUNTY_CODE
        areas = [top, *reader.partnerships()["area_code"].to_list()]
        wards = reader.areas("ward")["area_code"].to_list()
        indicators = reader.indicators()["indicator_id"].to_list()
    finally:
        con.close()
    pages = [p["url_path"] if not p.get("default") else "" for p in
             yaml.safe_load((ROOT / "dashboard" / "pages.yaml").read_text(encoding="utf-8"))]
    out = []
    for area in areas:
        for page in pages:
            out.append(f"/{page}?area={area}")
    for level in ("ward", "district", "partnership"):
        out.append(f"/map?area={top}&level={level}&indicator=NI+56&colour=rag")
        out.append(f"/indicator?indicator=NI+56&area={areas[1]}&level={level}")
    out += [f"/profile?area={w}" for w in wards[:5]]
    out += [f"/indicator?indicator={i.replace(' ', '+')}&area={areas[1]}" for i in indicators]
    return out


def main() -> int:
    if not config.release_path().is_file():
        print(f"no release at {config.release_path()}: run `make release` first", file=sys.stderr)
        return 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, LCP_DATA_DIR=str(config.data_dir())),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    bad: list[str] = []
    timings: list[tuple[float, str]] = []
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        todo = views()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) and
                    not r.url.startswith("data:") and not r.url.startswith("blob:") else None)
            for path in todo:
                t0 = time.perf_counter()
                page.goto(base + path, wait_until="domcontentloaded", timeout=120_000)
                page.wait_for_timeout(200)
                page.wait_for_function(SETTLED, timeout=120_000)
                timings.append((time.perf_counter() - t0, path))
                text = page.locator("body").inner_text()
                problems = []
                if page.locator('[data-testid="stException"]').count():
                    problems.append("exception")
                if "Traceback" in text:
                    problems.append("traceback")
                if outside:
                    problems.append(f"fetched {outside[:2]}")
                    outside.clear()
                if problems:
                    bad.append(f"{path}: {', '.join(problems)}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    timings.sort(reverse=True)
    print(f"walked {len(timings)} views of {config.release_path()}: {len(bad)} with a problem; "
          f"slowest {timings[0][0]:.1f}s ({timings[0][1]}), median {timings[len(timings) // 2][0]:.1f}s")
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
