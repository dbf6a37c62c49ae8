"""`lcp backup DIR` / `lcp restore DIR` (pipelines.backup): round trips, checksums, the audit log kept
append-only, encryption, and the one-line errors a user sees."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import audit_log, backup, cli, config
from pipelines.ingest import ingest_dir
from pipelines.restricted_store import RestrictedStore

from test_ingest import snapshot, yos_supply  # noqa: E402  (the same small supply the ingest tests load)

import fixture_release as fx


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A data directory with a loaded supply (store, key, audit log, report) and a published release."""
    d = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    monkeypatch.delenv(backup.PASSWORD_ENV, raising=False)
    yos_supply(tmp_path / "in")
    with RestrictedStore() as store:
        [res] = ingest_dir(tmp_path / "in", store)
        assert res.outcome == "loaded", res.errors
    fx.write_fixture_release(config.release_path())
    return d


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _store_state():
    with RestrictedStore() as store:
        return snapshot(store)


def test_backup_then_restore_on_an_empty_machine_gives_back_every_file(data_dir, tmp_path, capsys):
    before = _tree(data_dir)
    state = _store_state()
    assert {"restricted/store.duckdb", "restricted/pseudonym.key", "restricted/audit.log",
            "published/scorecard.duckdb"} <= set(before)
    assert cli.main(["backup", str(tmp_path / "bk")]) == 0
    assert "plain copies, owner-only" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "bk" / "MANIFEST.json").read_text())
    assert {f["path"] for f in manifest["files"]} == set(before)
    assert manifest["audit_log"]["entries"] == 1
    assert stat.S_IMODE((tmp_path / "bk").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "bk" / "restricted" / "pseudonym.key").stat().st_mode) == 0o600

    shutil.rmtree(data_dir)  # the machine is lost
    assert cli.main(["restore", str(tmp_path / "bk")]) == 0
    assert "audit log restored from the backup" in capsys.readouterr().out
    after = _tree(data_dir)
    assert {k: v for k, v in after.items() if k != "restricted/audit.log"} == \
        {k: v for k, v in before.items() if k != "restricted/audit.log"}
    assert _store_state() == state
    # the restored log is the old one with a restore entry appended, still a valid chain
    entries = audit_log.entries()
    assert [e["action"] for e in entries] == ["load", "restore"]
    assert audit_log.verify().ok
    assert stat.S_IMODE((data_dir / "restricted").stat().st_mode) == 0o700
    assert stat.S_IMODE(config.pseudonym_key_path().stat().st_mode) == 0o600


def test_restore_refuses_a_backup_whose_checksum_does_not_match(data_dir, tmp_path, capsys):
    backup.backup(tmp_path / "bk")
    key = tmp_path / "bk" / "restricted" / "pseudonym.key"
    key.write_bytes(b"x" * len(key.read_bytes()))
    before = _tree(data_dir)
    assert cli.main(["restore", "--force", str(tmp_path / "bk")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("restricted/pseudonym.key does not match its checksum in MANIFEST.json (damaged backup)")
    assert "\n" not in err and "Traceback" not in err
    assert _tree(data_dir) == before  # nothing touched


def test_restore_over_existing_data_needs_force_and_keeps_the_longer_audit_log(data_dir, tmp_path, capsys):
    backup.backup(tmp_path / "bk")
    state = _store_state()
    # later work: another load and a damaged store
    audit_log.append("purge", outcome="done", detail="later entry")
    config.restricted_db_path().write_bytes(b"not a database any more")
    assert cli.main(["restore", str(tmp_path / "bk")]) == 1
    assert "already holds data" in capsys.readouterr().err
    assert cli.main(["restore", "--force", str(tmp_path / "bk")]) == 0
    assert "audit log kept (2 entries, the backup's 1 at its start)" in capsys.readouterr().out
    assert _store_state() == state
    assert [e["action"] for e in audit_log.entries()] == ["load", "purge", "restore"]
    assert audit_log.verify().ok


def test_restore_refuses_when_the_audit_logs_have_diverged(data_dir, tmp_path, capsys):
    backup.backup(tmp_path / "bk")
    config.audit_log_path().unlink()
    audit_log.append("purge", outcome="done")  # a different history
    assert cli.main(["restore", "--force", str(tmp_path / "bk")]) == 1
    assert "the two have diverged" in capsys.readouterr().err
    assert [e["action"] for e in audit_log.entries()] == ["purge"]


def test_an_encrypted_backup_needs_its_password(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(backup.PASSWORD_ENV, "correct horse")
    assert cli.main(["backup", str(tmp_path / "bk")]) == 0
    assert "encrypted (AES-256) in backup.zip" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "bk").iterdir()) == ["backup.zip"]
    raw = (tmp_path / "bk" / "backup.zip").read_bytes()
    key = config.pseudonym_key_path().read_bytes()
    assert key not in raw and b"store.duckdb" in raw  # names are visible in a zip, contents are not
    monkeypatch.setenv(backup.PASSWORD_ENV, "wrong")
    assert cli.main(["restore", "--force", str(tmp_path / "bk")]) == 1
    assert capsys.readouterr().err.strip().endswith("wrong password for backup.zip")
    monkeypatch.setenv(backup.PASSWORD_ENV, "correct horse")
    assert backup.describe(tmp_path / "bk", b"correct horse").endswith("all match the manifest")
    config.pseudonym_key_path().write_bytes(b"lost")
    assert cli.main(["restore", "--force", str(tmp_path / "bk")]) == 0
    assert config.pseudonym_key_path().read_bytes() == key


def test_backup_refuses_while_a_writer_holds_the_store_and_leaves_nothing(data_dir, tmp_path, capsys):
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(30)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(config.restricted_db_path())],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        assert cli.main(["backup", str(tmp_path / "bk")]) == 1
        err = capsys.readouterr().err
        assert "store.duckdb: in use by another process" in err and "no ingest or build runs" in err
    finally:
        writer.kill()
        writer.wait()
    assert not (tmp_path / "bk").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".bk")] == []


@pytest.mark.parametrize("where", ["inside", "not_empty"])
def test_backup_target_errors(data_dir, tmp_path, capsys, where):
    target = data_dir / "bk" if where == "inside" else tmp_path / "full"
    if where == "not_empty":
        target.mkdir()
        (target / "x").write_text("x")
    assert cli.main(["backup", str(target)]) == 1
    err = capsys.readouterr().err
    assert ("outside the data directory" if where == "inside" else "is not an empty folder") in err


def test_restore_of_a_folder_that_is_not_a_backup(data_dir, tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    assert cli.main(["restore", str(tmp_path / "junk")]) == 1
    assert "not an lcp backup (no MANIFEST.json)" in capsys.readouterr().err
    assert cli.main(["restore", str(tmp_path / "nowhere")]) == 1
    assert "no such backup folder" in capsys.readouterr().err


def test_a_restored_release_opens(data_dir, tmp_path):
    backup.backup(tmp_path / "bk")
    os.remove(config.release_path())
    backup.restore(tmp_path / "bk", force=True)
    con = duckdb.connect(str(config.release_path()), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM indicators").fetchall()[0][0] == 2
    finally:
        con.close()
