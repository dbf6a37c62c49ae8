"""The dashboard behind the partner login in a real browser: `lcp serve --login` on a free port, signed
in with the form in Chromium, as a viewer and as an analyst, then signed out; and the lock-out.

Uses Debian's /usr/bin/chromium (never a downloaded browser). A temporary LCP_DATA_DIR holds the fixture
release (live) and a draft release; LCP_AUTH_FILE a viewer, an analyst and a viewer to lock out. Saves
dashboard-login.png and dashboard-analyst.png into $LCP_SCREENSHOT_DIR (default: a temporary folder).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import duckdb
import pytest
from browser_support import (  # noqa: F401 (browser: a fixture)
    ROOT, SHOTS, browser, check, free_port, need_chromium, settle, sign_in, stop_group, wait_until_up,
)

import fixture_release as fx
from dashboard import common, signin
from pipelines import auth

VIEWER_PASSWORD = "viewer-password-1"
ANALYST_PASSWORD = "analyst-password-1"
DRAFT_ID = "DRAFT-20260101"


@pytest.fixture(scope="module")
def login_server(fixture_release, tmp_path_factory):
    """(base URL, credentials file) of `lcp serve --login`; the server (its process group) always stopped."""
    need_chromium()
    data = tmp_path_factory.mktemp("dashboard_login") / "data"
    (data / "published").mkdir(parents=True)
    shutil.copy(fixture_release, data / "published" / "scorecard.duckdb")
    draft = data / "published" / "draft.duckdb"
    shutil.copy(fixture_release, draft)
    con = duckdb.connect(str(draft))
    con.execute("UPDATE release SET release_id = ?", [DRAFT_ID])
    con.close()
    auth_file = tmp_path_factory.mktemp("dashboard_auth") / "users.yaml"
    auth.add_or_update_user("vic", "viewer", VIEWER_PASSWORD, path=auth_file)
    auth.add_or_update_user("ana", "analyst", ANALYST_PASSWORD, path=auth_file)
    auth.add_or_update_user("lou", "viewer", VIEWER_PASSWORD, path=auth_file)
    port = free_port()
    log = data.parent / "serve.log"
    env = {**os.environ, "LCP_DATA_DIR": str(data), "LCP_AUTH_FILE": str(auth_file), "PYTHONUNBUFFERED": "1"}
    env.pop("LCP_EDIT", None)
    env.pop("LCP_LOGIN", None)  # --login alone switches it on
    with open(log, "w") as out:
        proc = subprocess.Popen(  # `lcp serve` starts streamlit as its child: one process group for both
            [sys.executable, "-m", "pipelines.cli", "serve", "--login", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://localhost:{port}"
    try:
        wait_until_up(proc, base, log, "lcp serve --login")
        assert "behind the partner login" in log.read_text()
        yield base, auth_file
    finally:
        stop_group(proc)


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    return page, failed


def _go(page, title: str) -> None:
    """Open a page from the sidebar's navigation (a new URL would be a new, signed-out session)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    settle(page)


def _sign_out(page, main) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    settle(page)
    assert fx.RELEASE_ID not in page.locator("body").inner_text()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert main.locator('[data-testid="stTable"]').count() == 0


def test_viewer_reads_but_cannot_write_then_signs_out(login_server, browser):
    base, _ = login_server
    page, failed = _open(browser, base)
    try:
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        body = page.locator("body")
        assert fx.RELEASE_ID not in body.inner_text()  # nothing of the release before sign-in
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert main.locator('[data-testid="stTable"]').count() == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "dashboard-login.png"), full_page=True)
        sign_in(page, "vic", VIEWER_PASSWORD)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Signed in as").wait_for(timeout=60_000)
        settle(page)
        assert re.search(r"Signed in as vic · role viewer", sidebar.inner_text())
        assert fx.RELEASE_ID in sidebar.inner_text()
        assert sidebar.get_by_text("Show draft release").count() == 0
        _go(page, "Exceptions")
        main.locator('[data-testid="stTable"]').first.wait_for(timeout=60_000)
        assert page.get_by_role("button", name="Save commentary").count() == 0
        assert "read-only for your account" in main.inner_text()
        check(page, base, failed)
        _sign_out(page, main)
        check(page, base, failed)
    finally:
        page.close()


def test_analyst_writes_commentary_and_sees_the_draft(login_server, browser):
    base, _ = login_server
    page, failed = _open(browser, base)
    try:
        sign_in(page, "ana", ANALYST_PASSWORD)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Signed in as").wait_for(timeout=60_000)
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        assert "Signed in as ana · role analyst" in sidebar.inner_text()
        toggle = sidebar.get_by_text("Show draft release")
        toggle.wait_for(timeout=60_000)  # drawn later in the same run as "Signed in as" (raced under load)
        assert toggle.count() == 1
        _go(page, "Exceptions")
        page.get_by_role("button", name="Save commentary").wait_for(timeout=60_000)
        assert page.get_by_role("textbox", name="Your name").count() == 0  # the account is the actor
        assert "DRAFT" not in main.inner_text()
        toggle.click()
        main.get_by_text("DRAFT – not published").first.wait_for(timeout=60_000)
        settle(page)
        assert DRAFT_ID in sidebar.inner_text() and fx.RELEASE_ID not in sidebar.inner_text()
        _go(page, "Overview")  # the banner is on every page while the draft is shown
        assert "DRAFT – not published" in main.inner_text()
        page.screenshot(path=str(SHOTS / "dashboard-analyst.png"), full_page=True)
        check(page, base, failed)
        _sign_out(page, main)
        assert DRAFT_ID not in page.locator("body").inner_text()
    finally:
        page.close()


def test_repeated_wrong_passwords_lock_the_account(login_server, browser):
    base, auth_file = login_server
    page, failed = _open(browser, base)
    try:
        for i in range(auth.MAX_FAILED_LOGINS):
            sign_in(page, "lou", "not the password")
            deadline = time.monotonic() + 60
            while auth.load_users(auth_file)["lou"].failed_login_attempts < i + 1:  # this attempt was counted
                assert time.monotonic() < deadline, f"attempt {i + 1} was not recorded"
                page.wait_for_timeout(200)
            expected = "This account is locked" if i == auth.MAX_FAILED_LOGINS - 1 else signin.WRONG
            page.get_by_text(expected).wait_for(timeout=60_000)
            settle(page)
        assert auth.load_users(auth_file)["lou"].locked
        sign_in(page, "lou", VIEWER_PASSWORD)  # the right password no longer opens it
        settle(page)
        assert "This account is locked" in page.locator('[data-testid="stMain"]').inner_text()
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert fx.RELEASE_ID not in page.locator("body").inner_text()
        assert common.SUPPLIER_REFUSED not in page.locator("body").inner_text()
        check(page, base, failed)
    finally:
        page.close()
