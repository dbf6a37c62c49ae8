"""The upload app in a real browser: `lcp upload` on a free port, signed in with the form in Chromium.

Uses Debian's /usr/bin/chromium (never a downloaded browser). A temporary LCP_DATA_DIR holds a store
with two suppliers' agreements and a credentials file (tests/upload_fixtures.py). Saves
upload-login.png and upload-supplier.png into $LCP_SCREENSHOT_DIR (default: a temporary folder).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from browser_support import (  # noqa: F401 (browser: a fixture)
    ROOT, SHOTS, browser, check, free_port, need_chromium, settle, sign_in, stop_group, wait_until_up,
)

from upload import signin
from upload_fixtures import PASSWORD, make_upload_data


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory):
    """Base URL of `lcp upload` on a temporary data dir; the server (its whole process group) always stopped."""
    need_chromium()
    data = tmp_path_factory.mktemp("upload_browser") / "data"
    auth_file = tmp_path_factory.mktemp("upload_auth") / "users.yaml"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LCP_DATA_DIR", str(data))
        make_upload_data(data, auth_file)
    port = free_port()
    log = data.parent / "upload.log"
    env = {**os.environ, "LCP_DATA_DIR": str(data), "LCP_AUTH_FILE": str(auth_file), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(  # `lcp upload` starts streamlit as its child: one process group for both
            [sys.executable, "-m", "pipelines.cli", "upload", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://localhost:{port}"
    try:
        wait_until_up(proc, base, log, "lcp upload")
        yield base
    finally:
        stop_group(proc)


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    return page, failed


def test_supplier_signs_in_sees_its_dataset_and_signs_out(upload_server, browser):
    page, failed = _open(browser, upload_server)
    try:
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        assert "Youth justice disposals" not in main.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "upload-login.png"), full_page=True)
        sign_in(page, "yos_upload", PASSWORD)
        page.get_by_text("Your supplies").wait_for(timeout=60_000)
        page.locator('[data-testid="stFileUploader"]').wait_for(timeout=60_000)
        page.locator('[data-testid="stDataFrame"]').wait_for(timeout=60_000)  # the supply history
        settle(page)
        text = main.inner_text()
        assert "Youth justice disposals" in text and "Lincolnshire Youth Offending Service" in text
        assert "National Child Measurement Programme" not in text and "ncmp" not in text
        assert page.get_by_role("textbox", name="Password").count() == 0
        assert page.locator('[data-testid="stFileUploader"]').count() == 1, text
        page.screenshot(path=str(SHOTS / "upload-supplier.png"), full_page=True)
        check(page, upload_server, failed)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        settle(page)
        assert "Youth justice disposals" not in main.inner_text()
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        check(page, upload_server, failed)
    finally:
        page.close()


def test_wrong_password_shows_an_error(upload_server, browser):
    page, failed = _open(browser, upload_server)
    try:
        sign_in(page, "yos_upload", "not the password")
        page.get_by_text(signin.WRONG).wait_for(timeout=60_000)
        settle(page)
        assert "Your supplies" not in page.locator('[data-testid="stMain"]').inner_text()
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        check(page, upload_server, failed)
    finally:
        page.close()
