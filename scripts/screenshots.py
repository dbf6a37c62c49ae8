"""Screenshots of every dashboard page on the published release, for the README and for review.

`make screenshots` (after `make release`): serves the release in LCP_DATA_DIR with streamlit, opens
each page in Debian's Chromium and writes docs/screenshots/<page>.png. Fails loudly on any page
showing a Streamlit exception. `--only plan scorecard` takes just those pages.

The Local plan page needs a plan, and `make run` never makes one up: the script serves the release from a
temporary data directory of its own (the release linked in, nothing written to LCP_DATA_DIR) into which it
imports the example plan `docs/plan_example.csv` for East Lindsey (LCP02), chooses that area's first two
exceptions as priorities and writes an exception report for its delayed action, all as "example".
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
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
    "plan": "/plan?area=LCP02",
    "methods": "/methods",
}


EXAMPLE_PLAN = ROOT / "docs" / "plan_example.csv"
EXAMPLE_AREA = "LCP02"


def example_data_dir(tmp: Path) -> Path:
    """A data directory holding the published release (linked, read-only use) and the example plan."""
    sys.path.insert(0, str(ROOT))
    import polars as pl

    from pipelines import config, geography, plans
    from pipelines.release import ReleaseReader, open_release

    data = tmp / "data"
    (data / "published").mkdir(parents=True)
    (data / "published" / "scorecard.duckdb").symlink_to(config.release_path())
    os.environ["LCP_DATA_DIR"] = str(data)
    con = open_release()
    try:
        reader = ReleaseReader(con)
        indicators = reader.indicators()["indicator_id"].to_list()
        plans.import_csv(EXAMPLE_PLAN, "example", areas=geography.partnerships()["partnership_code"].to_list(),
                         indicators=indicators)
        aimed = {i for t in plans.actions(EXAMPLE_AREA)["indicator_ids"].to_list() for i in plans.split_ids(t)}
        offered = reader.exceptions(EXAMPLE_AREA)  # red and worsening first; those the plan aims at first
        offered = pl.concat([offered.filter(pl.col("indicator_id").is_in(aimed)),
                             offered.filter(~pl.col("indicator_id").is_in(aimed))])
        for r, plan in zip(offered.head(2).iter_rows(named=True), ("laa", "cypp")):
            plans.set_priority(EXAMPLE_AREA, r["period"], r["indicator_id"], plan, "example")
    finally:
        con.close()
    delayed = plans.actions(EXAMPLE_AREA).filter(pl.col("rating") == "delayed")
    for aid in delayed["id"].to_list():
        plans.save_report(aid, "The tutoring provider withdrew in June; the re-tendered contract started late, so "
                               "one term of sessions was lost.",
                          "Extend the programme by a term; add after-school sessions in the two schools furthest "
                          "behind.", "example")
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=list(PAGES), help="just these pages")
    args = ap.parse_args(argv)
    pages = {k: v for k, v in PAGES.items() if not args.only or k in args.only}
    tmp = tempfile.TemporaryDirectory(prefix="lcp_screenshots_")
    env = dict(os.environ, LCP_DATA_DIR=str(example_data_dir(Path(tmp.name))))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
            for name, path in pages.items():
                page.goto(base + path)
                page.wait_for_selector('[data-testid="stMainBlockContainer"]', timeout=60_000)
                if name == "plan":  # the last thing on the page, drawn after the "is it working" tests
                    page.wait_for_selector("text=History of changes", timeout=120_000)
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
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
