"""Shared pytest fixtures.

fixture_release: a small deterministic published release (tests/fixture_release.py) in a session
temporary LCP_DATA_DIR; the release is at <dir>/published/scorecard.duckdb. Tests that use it (or
anything that reads `pipelines.config.release_path()`) see LCP_DATA_DIR set for the whole session.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from fixture_release import write_fixture_release  # noqa: E402


@pytest.fixture(scope="session")
def fixture_release(tmp_path_factory: pytest.TempPathFactory):
    """Path of the fixture release; LCP_DATA_DIR points at its data dir for the session."""
    data_dir = tmp_path_factory.mktemp("lcp_fixture_data")
    path = write_fixture_release(data_dir / "published" / "scorecard.duckdb")
    previous = os.environ.get("LCP_DATA_DIR")
    os.environ["LCP_DATA_DIR"] = str(data_dir)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("LCP_DATA_DIR", None)
        else:
            os.environ["LCP_DATA_DIR"] = previous
