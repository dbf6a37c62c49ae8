"""What the browser tests share: Debian's Chromium, a free port, waiting for a Streamlit server and
stopping it, the `browser` fixture, and the page helpers the sign-in tests use.

A test module imports the fixture by name (`from browser_support import browser`), which pytest picks up.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")


def wait_until_up(proc: subprocess.Popen, base: str, log: Path, what: str, seconds: float = 90) -> None:
    """Until the server at `base` answers its health check; a test failure (with the log) if it exits or
    does not start in time."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not start in {seconds:g} s:\n{log.read_text()}")
        time.sleep(0.3)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a server started with start_new_session=True (`lcp serve` and its streamlit child)."""
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

    need_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def settle(page) -> None:
    """Until Streamlit has finished running the script and nothing on the page is stale."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')",
        timeout=60_000,
    )
    page.wait_for_timeout(500)


def sign_in(page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def check(page, base: str, failed: list[str]) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not [u for u in failed if not u.startswith(base)], failed  # nothing fetched from outside
