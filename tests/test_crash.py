"""Crash safety: `lcp build` and `lcp ingest` killed (SIGKILL, via pipelines.failpoints) at each
named point leave the live release and the restricted store valid: the old state or the new, never
half of one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines import audit_log, build, config, failpoints, publish
from pipelines.ingest import ingest_dir
from pipelines.release import RELEASE_TABLES
from pipelines.restricted_store import RestrictedStore

from test_ingest import GOOD_YOS, snapshot, yos_supply  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    yos_supply(tmp_path / "in")
    with RestrictedStore() as store:
        [res] = ingest_dir(tmp_path / "in", store)
        assert res.outcome == "loaded", res.errors
    build.build()
    return d


def lcp(*args: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(failpoints.ENV, None)
    if failpoint:
        env[failpoints.ENV] = failpoint
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def release_state(path: Path | None = None) -> tuple[str, dict[str, int]]:
    """(release_id, rows per contract table) of the live release, opened as a reader would."""
    con = duckdb.connect(str(path or config.release_path()), read_only=True)
    try:
        (rid,) = con.execute("SELECT release_id FROM release").fetchall()[0]
        return rid, {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in RELEASE_TABLES}
    finally:
        con.close()


@pytest.mark.parametrize("point, survives", [
    ("build:computed", "old"), ("publish:written", "old"), ("publish:replaced", "new"),
])
def test_a_killed_build_leaves_the_old_release_or_the_new_never_half(data_dir, point, survives):
    old_id, old_rows = release_state()
    time.sleep(1.1)  # release ids carry the build's second
    killed = lcp("build", failpoint=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    rid, rows = release_state()
    assert all(n > 0 for t, n in rows.items() if t != "benchmarks"), rows
    if survives == "old":
        assert (rid, rows) == (old_id, old_rows)
    else:
        assert rid != old_id and rows == old_rows  # the same data, published anew
    leftovers = list(config.published_dir().glob(".scorecard.duckdb.*.tmp"))
    assert len(leftovers) == (1 if point == "publish:written" else 0)
    # the next build runs normally and clears what the killed one left behind
    done = lcp("build")
    assert done.returncode == 0, done.stderr
    assert release_state()[0] not in (old_id, rid)
    assert list(config.published_dir().glob(".scorecard.duckdb.*.tmp")) == []


def test_a_running_builds_temporary_file_is_not_removed(tmp_path):
    target = tmp_path / "scorecard.duckdb"
    mine = tmp_path / f".scorecard.duckdb.{os.getpid()}.tmp"
    mine.write_text("in progress")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f".scorecard.duckdb.{gone.pid}.tmp"
    dead.write_text("left by a killed build")
    assert publish.remove_stale_temporaries(target) == [dead]
    assert mine.exists() and not dead.exists()


def test_a_killed_ingest_leaves_the_store_as_before_the_supply(data_dir, tmp_path):
    with RestrictedStore() as store:
        before = snapshot(store)
    entries = len(audit_log.entries())
    # a replacement supply of the same dataset and period, with one row fewer
    yos_supply(tmp_path / "in2", rows=GOOD_YOS[:-1])
    killed = lcp("ingest", str(tmp_path / "in2"), failpoint="ingest:batch")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with RestrictedStore() as store:  # opens cleanly: DuckDB discards the uncommitted transaction
        assert snapshot(store) == before
    assert len(audit_log.entries()) == entries and audit_log.verify().ok
    # the same supply, killed just after its commit: it is in whole, and the store opens
    killed = lcp("ingest", str(tmp_path / "in2"), failpoint="ingest:committed")
    assert killed.returncode == -signal.SIGKILL
    with RestrictedStore() as store:
        sup = store.supplies()
        assert sup.height == 1 and sup["rows"].to_list() == [len(GOOD_YOS) - 1]
        assert store.scan("yjs_disposals").height == len(GOOD_YOS) - 1
    assert audit_log.verify().ok and len(audit_log.entries()) == entries  # killed before its entry
    # the next run first records the interrupted supply, then loads normally
    done = lcp("ingest", str(tmp_path / "in2"))
    assert done.returncode == 0, done.stderr
    new = audit_log.entries()[entries:]
    assert [e["action"] for e in new] == ["load", "replace"]
    assert "interrupted before its audit entry" in new[0]["detail"] and new[0]["rows"] == len(GOOD_YOS) - 1
    assert audit_log.verify().ok


def test_an_indicator_whose_stored_records_lack_a_field_is_left_out_with_a_reason(data_dir):
    # the test agreement has no first_time_entrant, which NI 111 reads: not built, said why, no crash
    report = build.build()
    assert "NI 111" in report.skipped
    assert report.missing_fields["NI 111"] == "yjs_disposals lacks first_time_entrant"
    assert "NI 111 not built: the stored yjs_disposals lacks first_time_entrant" in report.summary()
    assert "NI 43" not in report.skipped
