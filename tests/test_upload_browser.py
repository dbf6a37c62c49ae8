"""The upload app in a real browser: `lcp upload` on a free port, signed in with the form in Chromium.

Uses Debian's /usr/bin/chromium (never a downloaded browser). A temporary LCP_DATA_DIR holds a store
with two suppliers' agreements and a credentials file (tests/upload_fixtures.py). Saves
upload-login.png and upload-supplier.png into $LCP_SCREENSHOT_DIR (default: a temporary folder).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from upload import signin
from upload_fixtures import PASSWORD, make_upload_data

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("LCP_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="lcp-shots-"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory):
    """Base URL of `lcp upload` on a temporary data dir; the server (its whole process group) always stopped."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    data = tmp_path_factory.mktemp("upload_browser") / "data"
    auth_file = tmp_path_factory.mktemp("upload_auth") / "users.yaml"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LCP_DATA_DIR", str(data))
        make_upload_data(data, auth_file)
    port = _free_port()
    log = data.parent / "upload.log"
    env = {**os.environ, "LCP_DATA_DIR": str(data), "LCP_AUTH_FILE": str(auth_file), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(  # `lcp upload` starts streamlit as its child: one process group for both
            [sys.executable, "-m", "pipelines.cli", "upload", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"lcp upload exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"lcp upload did not start in 90 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    return page, failed


def _settle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)


def _sign_in(page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _check(page, base: str, failed: list[str]) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not [u for u in failed if not u.startswith(base)], failed  # nothing fetched from outside


def test_supplier_signs_in_sees_its_dataset_and_signs_out(upload_server, browser):
    page, failed = _open(browser, upload_server)
    try:
        _settle(page)
        main = page.locator('[data-testid="stMain"]')
        assert "Youth justice disposals" not in main.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "upload-login.png"), full_page=True)
        _sign_in(page, "yos_upload", PASSWORD)
        page.get_by_text("Your supplies").wait_for(timeout=60_000)
        page.locator('[data-testid="stFileUploader"]').wait_for(timeout=60_000)
        page.locator('[data-testid="stDataFrame"]').wait_for(timeout=60_000)  # the supply history
        _settle(page)
        text = main.inner_text()
        assert "Youth justice disposals" in text and "Lincolnshire Youth Offending Service" in text
        assert "National Child Measurement Programme" not in text and "ncmp" not in text
        assert page.get_by_role("textbox", name="Password").count() == 0
        assert page.locator('[data-testid="stFileUploader"]').count() == 1, text
        page.screenshot(path=str(SHOTS / "upload-supplier.png"), full_page=True)
        _check(page, upload_server, failed)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        _settle(page)
        assert "Youth justice disposals" not in main.inner_text()
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        _check(page, upload_server, failed)
    finally:
        page.close()


def test_wrong_password_shows_an_error(upload_server, browser):
    page, failed = _open(browser, upload_server)
    try:
        _sign_in(page, "yos_upload", "not the password")
        page.get_by_text(signin.WRONG).wait_for(timeout=60_000)
        _settle(page)
        assert "Your supplies" not in page.locator('[data-testid="stMain"]').inner_text()
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        _check(page, upload_server, failed)
    finally:
        page.close()
