"""The dashboard in a real browser: `streamlit run` on the fixture release, pages opened in Chromium.

Uses Debian's /usr/bin/chromium (never a downloaded browser). Saves map.png and scorecard.png into
$LCP_SCREENSHOT_DIR (default: a temporary folder) for review; the README's images come from
`make screenshots`, which runs the same browser walk on the demo release.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("LCP_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="lcp-shots-"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(fixture_release, tmp_path_factory):
    """Base URL of a streamlit server on the fixture release; always stopped afterwards."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "LCP_DATA_DIR": str(fixture_release.parents[1]), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start in 60 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    return page, failed


def _check_page(page, server: str, failed: list[str]) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0
    assert not [u for u in failed if not u.startswith(server)], failed  # nothing fetched from outside


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script and nothing is stale."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')",
        timeout=60_000,
    )
    page.wait_for_timeout(800)


def _screenshot(page, path: Path) -> None:
    """The whole page: grow the viewport to the app's scroll height first (Streamlit scrolls inside)."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
        "[data-testid=\"stAppViewContainer\"], section.main, body')].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": 1440, "height": min(max(int(height) + 40, 900), 6000)})
    page.wait_for_timeout(800)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def test_map_page_in_browser(server, browser):
    page, failed = _open(browser, f"{server}/map?area=LCP01&indicator=NI+55&period=2023/24&colour=rag")
    try:
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.wait_for_selector(".js-plotly-plot path.choroplethlocation", state="attached", timeout=60_000)
        _settle(page)
        _check_page(page, server, failed)
        assert page.locator(".js-plotly-plot path.choroplethlocation").count() >= 155
        legend = page.locator(".js-plotly-plot .legend").text_content()
        assert "withheld (c)" in legend and "Green" in legend and "Red" in legend
        assert "LCP01" in page.url and "colour=rag" in page.url
        _check_page(page, server, failed)
    finally:
        page.close()


def test_map_area_view_hover_and_screenshot(server, browser):
    """Boston LCP only, by RAG: hovering where a "c" is drawn names the ward and shows no number."""
    page, failed = _open(browser, f"{server}/map?area=LCP01&indicator=NI+55&period=2023/24&colour=rag&view=area")
    try:
        page.wait_for_selector(".js-plotly-plot path.choroplethlocation", state="attached", timeout=60_000)
        _settle(page)
        _check_page(page, server, failed)
        labels = page.locator(".js-plotly-plot g.trace.scattergeo text").filter(has_text=re.compile(r"^c$"))
        assert labels.count() == 2
        seen = []
        for i in range(labels.count()):
            box = labels.nth(i).bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(400)
            seen.append(page.locator(".js-plotly-plot .hoverlayer").text_content() or "")
        withheld = [t for t in seen if "withheld: 10 or fewer children, or could reveal such a count" in t]
        assert withheld, seen
        for text in withheld:
            assert any(name in text for name in ("Fenside", "Fishtoft"))
            assert not any(ch.isdigit() for ch in text.replace("10 or fewer", "")), text
        page.mouse.move(5, 5)
        page.wait_for_timeout(300)
        _screenshot(page, SHOTS / "map.png")
        _check_page(page, server, failed)
    finally:
        page.close()


def test_scorecard_page_in_browser(server, browser):
    # The default page is served at "/" (Streamlit ignores a default page's url_path).
    page, failed = _open(browser, f"{server}/?area=LCP01")
    try:
        page.wait_for_selector('[data-testid="stTable"]', timeout=60_000)
        _settle(page)
        _check_page(page, server, failed)
        text = page.locator('[data-testid="stMain"]').inner_text()
        assert "Boston LCP" in text and "10.6" in text
        cells = page.locator('[data-testid="stTable"] td').all_inner_texts()
        assert "c" in [c.strip() for c in cells]
        assert "fixture-2024-25-r1" in page.locator('[data-testid="stSidebar"]').inner_text()
        _screenshot(page, SHOTS / "scorecard.png")
        _check_page(page, server, failed)
    finally:
        page.close()


# ---------------------------------------------------------------- issue 8: every page, every partnership area
PAGES = {  # screenshot name -> URL path (the default page is served at "/")
    "overview": "/", "map": "/map", "profile": "/profile", "indicator": "/indicator", "exceptions": "/exceptions",
    "methods": "/methods", "changes": "/changes",
}


def _no_exception(page, server: str, failed: list[str], where: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, where
    assert "Traceback" not in page.locator('[data-testid="stMain"]').inner_text(), where
    _check_page(page, server, failed)


def test_walk_every_page_and_area(server, browser):
    """Every page for the county and each partnership area: no exception, nothing fetched from outside."""
    page, failed = _open(browser, f"{server}/")
    try:
        _settle(page)
        for name, path in PAGES.items():
            for area in ("E10000019", "LCP01", "LCP03"):
                page.goto(f"{server}{path}?area={area}", wait_until="domcontentloaded", timeout=60_000)
                _settle(page)
                _no_exception(page, server, failed, f"{name} {area}")
                if area == "LCP01":
                    _screenshot(page, SHOTS / f"{name}.png")
                    page.set_viewport_size({"width": 1440, "height": 1000})
        # A ward profile, and the indicator detail of a ward.
        for path in ("/profile?area=E05009622", "/indicator?indicator=NI+111&area=E05009622&level=partnership"):
            page.goto(f"{server}{path}", wait_until="domcontentloaded", timeout=60_000)
            _settle(page)
            _no_exception(page, server, failed, path)
    finally:
        page.close()


def test_download_csv_is_what_is_shown(server, browser):
    page, failed = _open(browser, f"{server}/?area=LCP01&period=2023/24")
    try:
        page.wait_for_selector('[data-testid="stTable"]', timeout=60_000)
        _settle(page)
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Download CSV").first.click()
        text = Path(info.value.path()).read_text(encoding="utf-8-sig")
        assert "# Release: fixture-2024-25-r1" in text and "10 or fewer children" in text
        body = text.split("\n\n", 1)[1]
        assert "Boston LCP,Make a positive contribution,NI 111" in body
        ni111 = next(line for line in body.splitlines() if ",NI 111," in line)
        assert ",c,percentage" not in ni111 and ",c," in ni111
        _no_exception(page, server, failed, "download")
    finally:
        page.close()


def test_postcode_search_and_profile_link(server, browser):
    page, failed = _open(browser, f"{server}/")
    try:
        _settle(page)
        box = page.get_by_role("textbox", name="Find a postcode")
        box.fill("pe21 8dx")
        box.press("Enter")
        page.get_by_text("PE21 8DX").wait_for(timeout=30_000)
        page.get_by_role("link", name="Fenside (ward)").click()
        page.wait_for_url(re.compile(r"/profile\?area=E05009622"), timeout=30_000)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        _settle(page)
        assert "Fenside" in page.locator('[data-testid="stMain"]').inner_text()
        _no_exception(page, server, failed, "postcode")
    finally:
        page.close()


def test_clicking_a_ward_on_the_map_opens_its_profile(server, browser):
    page, failed = _open(browser, f"{server}/map?area=LCP01&indicator=NI+55&period=2023/24&colour=rag&view=area")
    try:
        page.wait_for_selector(".js-plotly-plot path.choroplethlocation", state="attached", timeout=60_000)
        _settle(page)
        shapes = page.locator(".js-plotly-plot path.choroplethlocation")
        boxes = [b for b in (shapes.nth(i).bounding_box() for i in range(shapes.count())) if b]
        box = max(boxes, key=lambda b: b["width"] * b["height"])  # the biggest ward: easy to hit
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url(re.compile(r"/profile\?.*area=E05\d{6}"), timeout=60_000)
        _settle(page)
        _check_page(page, server, failed)
        assert page.get_by_role("heading", name="Locality profile").count() == 1
        assert "(ward, Boston LCP)" in page.locator('[data-testid="stMain"]').text_content()
    finally:
        page.close()
