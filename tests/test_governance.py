"""Supplies governance: the in-memory ingest API, batches, reports, permissions, the audit log, agreements,
corrections (working days), the working store and retention."""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines import agreements as agreements_mod
from pipelines import audit_log, config, corrections, ingest, retention
from pipelines.cli import main
from pipelines.ingest import ingest_bytes, ingest_dir, validate_bytes
from pipelines.restricted_store import RestrictedStore
from pipelines.specs import Agreement
from pipelines.working_days import days_left_text, working_days_after, working_days_between
from pipelines.working_store import Kind, WorkingStore, WorkingStoreError

from test_supplies_corpus import AGREEMENT, GOOD, HEADER, NAME, PC1, csv_bytes

import fixture_release


@pytest.fixture(autouse=True)
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LCP_RETENTION_YEARS", raising=False)
    return tmp_path / "data"


def agreement() -> Agreement:
    return Agreement.model_validate(AGREEMENT)


def row(i: int, event: str, dob: str = "15/10/2010") -> list[str]:
    return [f"YP{i:04d}", dob, "M" if i % 2 else "F", PC1, "1", event, "custody", "Y", ""]


# ---------------------------------------------------------------- the in-memory API (upload app)
def test_validate_and_ingest_bytes(tmp_path):
    result, frame, meta = validate_bytes(NAME, csv_bytes(GOOD), agreement())
    assert result.outcome == "loaded" and frame.height == 3 and meta["file_name"] == NAME
    assert "dob" not in frame.columns and len(result.sha256) == 64
    bad, frame, meta = validate_bytes(NAME, csv_bytes([row(1, "01/01/2030")]), agreement())
    assert bad.outcome == "rejected" and frame is None and meta is None and bad.errors[0].field == "disposal_date"
    assert not config.restricted_db_path().exists()  # validation alone stores nothing
    before = set(tmp_path.rglob("*"))
    res = ingest_bytes(NAME, csv_bytes(GOOD), agreement(), actor="supplier:yos-contact")
    assert res.outcome == "loaded" and res.rows == 3 and res.supply_id
    assert Path(res.report_path).is_file()
    written = {p for p in set(tmp_path.rglob("*")) - before if p.is_file()}
    assert all(config.data_dir() in p.parents for p in written)
    assert not any(p.suffix == ".csv" and "reports" not in p.parts for p in written)  # no plain file kept
    entry = audit_log.entries()[-1]
    assert (entry["actor"], entry["action"], entry["rows"]) == ("supplier:yos-contact", "load", 3)
    with RestrictedStore() as store:
        assert store.agreement("yos") == agreement()
        assert [a.supplier_code for a in store.agreements()] == ["yos"]
        assert store.agreement("nobody") is None
        ingest_bytes(NAME, csv_bytes(GOOD), agreement(), store=store)
        assert store.agreement_history().height == 1  # unchanged agreement: not saved again
        changed = agreement().model_copy(update={"contact": "new@example.org"})
        ingest_bytes(NAME, csv_bytes(GOOD), changed, store=store)
        assert store.agreement_history().height == 2 and store.agreement("yos").contact == "new@example.org"


def test_ingest_dir_records_the_os_user_by_default(tmp_path):
    folder = tmp_path / "in" / "yos"
    folder.mkdir(parents=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
    (folder / NAME).write_bytes(csv_bytes(GOOD))
    ingest_dir(tmp_path / "in")
    ingest_dir(tmp_path / "in", actor="analyst-1")
    assert [e["actor"] for e in audit_log.entries()] == [audit_log.default_actor(), "analyst-1"]


# ---------------------------------------------------------------- batches (bounded memory)
def test_batches_are_all_or_nothing_and_report_everything(monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 4)
    monkeypatch.setattr(ingest, "MAX_PROBLEMS_PER_CHECK", 3)
    good = [row(i, "01/06/2023") for i in range(1, 11)]
    res = ingest_bytes(NAME, csv_bytes(good), agreement())
    assert res.outcome == "loaded" and res.rows == 10
    with RestrictedStore() as store:
        before = store.supplies().drop("loaded_at").to_dicts(), store.scan("yjs_disposals").sort(pl.all()).to_dicts()
    bad = [row(i, "01/06/2023") for i in range(1, 21)]
    for i in (9, 11, 13, 15, 17):  # errors only from the third batch on, after two good batches
        bad[i][2] = "X"
    bad[19][3] = "NOT A PC"
    res = ingest_bytes(NAME, csv_bytes(bad), agreement())
    assert res.outcome == "rejected" and res.rows_read == 20
    assert [(p.row, p.field) for p in res.errors] == [(11, "gender"), (13, "gender"), (15, "gender"),
                                                       (21, "postcode"), (None, "gender")]
    assert res.errors[-1].rows_affected == 2 and "2 more rows not listed" in res.errors[-1].rule
    with RestrictedStore() as store:  # the batches stored before the error were rolled back
        after = store.supplies().drop("loaded_at").to_dicts(), store.scan("yjs_disposals").sort(pl.all()).to_dicts()
    assert after == before


def test_empty_rows_and_unnamed_columns_across_batches(monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_ROWS", 2)
    lines = [",".join(HEADER + [""])] + [",".join(row(i, "01/06/2023") + [""]) for i in range(1, 5)]
    lines.insert(3, "," * len(HEADER))
    res, frame, _ = validate_bytes(NAME, ("\n".join(lines) + "\n").encode(), agreement())
    assert res.outcome == "loaded" and frame.height == 4
    assert any("1 empty row(s) ignored" in w.rule for w in res.warnings)
    lines[-1] += "surprise"
    res, _, _ = validate_bytes(NAME, ("\n".join(lines) + "\n").encode(), agreement())
    assert [(p.row, p.rule) for p in res.errors] == [(1, "column 10 has values but no header name")]


# ---------------------------------------------------------------- reports and permissions
def test_report_is_masked_and_safe_in_a_spreadsheet():
    rows = [row(1, "01/06/2023"), row(2, "01/06/2023")]
    rows[0][1] = "=1+2"
    rows[1][3] = "ZZ1 1ZZ"
    res = ingest_bytes(NAME, csv_bytes(rows), agreement())
    text = Path(res.report_path).read_text(encoding="utf-8")
    assert "ZZ1 1ZZ" not in text and "Z** *" in text
    table = pl.read_csv(res.report_path, infer_schema=False)
    assert table["value_masked"].to_list()[0].startswith("'=")  # shown as text, never run as a formula
    summary = Path(res.report_path).with_suffix(".txt").read_text(encoding="utf-8")
    assert "REJECTED" in summary and "errors: 1; warnings: 1" in summary and "supplier: yos" in summary


def test_nothing_under_restricted_is_readable_by_group_or_others(data):
    folder = data.parent / "in" / "yos"
    folder.mkdir(parents=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
    (folder / NAME).write_bytes(csv_bytes(GOOD))
    old = os.umask(0o022)  # a permissive umask: the code must not rely on the caller's
    try:
        assert main(["ingest", str(folder.parent)]) == 0
        retention.purge(1)
        with WorkingStore() as ws:
            corrections.add(ws, supplier="yos", indicator_id="NI 111", area_code="LCP01", period="2023/24",
                            description="x")
    finally:
        os.umask(old)
    paths = [config.restricted_dir(), *config.restricted_dir().rglob("*"), config.working_dir(),
             *config.working_dir().rglob("*"), config.reports_dir(), *config.reports_dir().rglob("*")]
    assert {p.name for p in config.restricted_dir().iterdir()} >= {"store.duckdb", "pseudonym.key", "audit.log"}
    for p in paths:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode & 0o077 == 0, f"{p} is {oct(mode)}"


# ---------------------------------------------------------------- audit log
def test_audit_log_chain_and_tampering(data):
    for i in range(3):
        audit_log.append("load", actor="a", supplier_code="yos", dataset="d", period="2023/24", file=f"f{i}",
                         rows=i, outcome="loaded")
    path = config.audit_log_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ok = audit_log.verify()
    assert ok.ok and ok.entries == 3 and ok.head == audit_log.entries()[-1]["hash"]
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(x) for x in lines]
    assert entries[0]["prev_hash"] == audit_log.GENESIS and entries[1]["prev_hash"] == entries[0]["hash"]
    assert set(entries[0]) == set(audit_log.FIELDS) | {"prev_hash", "hash"}
    original = path.read_bytes()

    def broken(new_lines) -> audit_log.Verification:
        path.write_text("\n".join(new_lines) + "\n", encoding="utf-8")
        try:
            return audit_log.verify()
        finally:
            path.write_bytes(original)

    edited = json.loads(lines[1])
    edited["rows"] = 99
    v = broken([lines[0], json.dumps(edited), lines[2]])
    assert not v.ok and v.line == 2 and "content" in v.message
    v = broken([lines[0], lines[2]])
    assert not v.ok and v.line == 2 and "chain" in v.message
    v = broken([lines[0], lines[1], "not json", lines[2]])
    assert not v.ok and v.line == 3
    assert audit_log.verify().ok


def test_audit_log_command(data, capsys):
    audit_log.append("load", actor="a", supplier_code="yos", rows=3, outcome="loaded")
    assert main(["audit-log", "--verify"]) == 0
    assert "intact: 1 entries" in capsys.readouterr().out
    assert main(["audit-log"]) == 0 and "load yos" in capsys.readouterr().out
    with open(config.audit_log_path(), "a", encoding="utf-8") as fh:
        fh.write('{"hash": "x", "prev_hash": "y"}\n')
    assert main(["audit-log", "--verify"]) == 1
    assert "BROKEN at line 2" in capsys.readouterr().err


def test_audit_log_has_no_edit_or_delete_api():
    public = {n for n in dir(audit_log) if not n.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("delete", "remove", "edit", "update", "truncate",
                                                              "rewrite"))}


# ---------------------------------------------------------------- agreements
def test_agreement_status_review_and_late():
    today = dt.date(2025, 6, 1)
    a = Agreement.model_validate({**AGREEMENT, "review_date": "2025-07-15"})
    monthly = yaml.safe_load(yaml.safe_dump(AGREEMENT))
    monthly["supplier_code"], monthly["review_date"] = "ulh", "2025-05-01"
    monthly["datasets"][0].update(dataset="admissions", frequency="monthly")
    b = Agreement.model_validate(monthly)
    supplies = pl.DataFrame({
        "dataset": ["yjs_disposals", "yjs_disposals", "admissions"], "period": ["2023/24", "2024/25", "2024/25"],
        "loaded_at": [dt.datetime(2024, 5, 2), dt.datetime(2025, 5, 2), dt.datetime(2025, 3, 2)],
        "date_provided": [dt.date(2024, 5, 1), dt.date(2025, 5, 1), dt.date(2025, 3, 1)],
        "refresh_date": [dt.date(2025, 5, 1), dt.date(2026, 5, 1), dt.date(2025, 3, 1)],
    })
    s = {r["supplier_code"]: r for r in agreements_mod.status([a, b], supplies, today).iter_rows(named=True)}
    assert (s["yos"]["review"], s["yos"]["last_period"], s["yos"]["next_expected"], s["yos"]["late"]) == (
        "due", "2024/25", dt.date(2026, 5, 1), False)
    assert (s["ulh"]["review"], s["ulh"]["next_expected"], s["ulh"]["late"]) == ("past", dt.date(2025, 4, 1), True)
    assert agreements_mod.add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    none = agreements_mod.status([a], supplies.clear(), today).row(0, named=True)
    assert none["last_period"] is None and none["late"] is False


def test_agreements_command(data, capsys):
    folder = data.parent / "in" / "yos"
    folder.mkdir(parents=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
    assert main(["agreements"]) == 1 and "no agreements" in capsys.readouterr().err
    assert main(["agreements", str(folder.parent)]) == 0
    assert "none yet" in capsys.readouterr().out
    (folder / NAME).write_bytes(csv_bytes(GOOD))
    main(["ingest", str(folder.parent)])
    capsys.readouterr()
    assert main(["agreements"]) == 0
    out = capsys.readouterr().out
    assert "yjs_disposals" in out and "2023/24 (provided 01/05/2024)" in out and "31/03/2030" in out


# ---------------------------------------------------------------- working days and corrections
def test_working_days_skip_weekends_and_england_bank_holidays():
    # Friday 19 December 2025: Christmas Day, Boxing Day, New Year's Day and two weekends are skipped.
    assert working_days_after(dt.date(2025, 12, 19), 7) == dt.date(2026, 1, 2)
    # Thursday 17 April 2025: Good Friday and Easter Monday skipped.
    assert working_days_after(dt.date(2025, 4, 17), 7) == dt.date(2025, 4, 30)
    assert working_days_after(dt.date(2025, 3, 3), 7) == dt.date(2025, 3, 12)
    assert working_days_between(dt.date(2025, 12, 19), dt.date(2026, 1, 2)) == 7
    assert working_days_between(dt.date(2026, 1, 2), dt.date(2025, 12, 19)) == -7
    assert days_left_text(dt.date(2025, 3, 12), "open", dt.date(2025, 3, 14)) == "overdue by 2 working days"
    assert days_left_text(dt.date(2025, 3, 12), "open", dt.date(2025, 3, 12)) == "due today"
    assert days_left_text(dt.date(2025, 3, 12), "open", dt.date(2025, 3, 11)) == "1 working day left"


def test_corrections_commands(data, capsys):
    fixture_release.write_fixture_release(config.release_path())
    args = ["corrections", "add", "--supplier", "yos", "--indicator", "NI 111", "--area", "LCP01", "--period",
            "2023/24", "--description", "Boston double-counted", "--reported-by", "J Smith"]
    assert main([*args, "--reported-on", "2025-12-19"]) == 0
    assert "to be corrected by 02/01/2026" in capsys.readouterr().out
    assert main([*args]) == 0
    assert main(["corrections", "list", "--open"]) == 0
    out, err = capsys.readouterr()
    assert "overdue by" in out and "7 working days left" in out and "Boston double-counted" in out
    assert "1 open correction(s) past" in err
    for bad, words in ((["--indicator", "NI 999"], "--indicator"), (["--area", "XX"], "--area"),
                       (["--period", "2023"], "--period"), (["--reported-on", "2999-01-01"], "future")):
        a = list(args)
        if bad[0] in a:
            a[a.index(bad[0]) + 1] = bad[1]
        else:
            a += bad
        assert main(a) == 1
        e = capsys.readouterr().err
        assert words in e and len(e.strip().splitlines()) == 1
    assert main(["corrections", "close", "1", "--release", "not-the-release"]) == 1
    assert "not the published release" in capsys.readouterr().err
    assert main(["corrections", "close", "1", "--release", fixture_release.RELEASE_ID]) == 0
    assert main(["corrections", "close", "1", "--release", fixture_release.RELEASE_ID]) == 1
    assert "already closed" in capsys.readouterr().err
    assert main(["corrections", "close", "9", "--release", fixture_release.RELEASE_ID]) == 1
    capsys.readouterr()
    assert main(["corrections", "list"]) == 0
    assert f"closed ({fixture_release.RELEASE_ID})" in capsys.readouterr().out
    actions = [e["action"] for e in audit_log.entries()]
    assert actions == ["correction-open", "correction-open", "correction-close"]
    with WorkingStore(read_only=True) as ws:
        hist = ws.history(corrections.KIND, 1)
        release = corrections.for_release(ws)
    assert hist["action"].to_list() == ["open", "close"]
    assert json.loads(hist["data"][0])["status"] == "open" and json.loads(hist["data"][1])["status"] == "closed"
    assert release["id"].to_list() == [1, 2] and release["status"].to_list() == ["closed", "open"]
    assert "reported_by" not in release.columns  # names of people are not published


def test_working_store_is_generic_and_keeps_history(data):
    notes = Kind("commentary", {"area_code": "VARCHAR", "text": "VARCHAR", "on": "DATE"})
    with WorkingStore() as ws:
        assert ws.items(notes).is_empty()
        a = ws.add(notes, {"area_code": "LCP01", "text": "first", "on": dt.date(2025, 1, 1)}, actor="x")
        b = ws.add(notes, {"area_code": "LCP02", "text": "second"}, actor="y")
        ws.update(notes, a, {"text": "first, revised"}, actor="z")
        with pytest.raises(WorkingStoreError):
            ws.update(notes, 99, {"text": "?"}, actor="z")
        with pytest.raises(WorkingStoreError):
            ws.add(notes, {"nope": 1}, actor="z")
        items = ws.items(notes)
        assert (a, b) == (1, 2) and items["text"].to_list() == ["first, revised", "second"]
        assert items["updated_by"].to_list() == ["z", "y"]
        hist = ws.history(notes)
        assert hist["action"].to_list() == ["add", "add", "update"]
        assert [json.loads(d)["text"] for d in hist["data"]] == ["first", "second", "first, revised"]
        grown = Kind("commentary", {**notes.columns, "author": "VARCHAR"})  # a later issue adds a column
        ws.add(grown, {"area_code": "LCP03", "text": "third", "author": "q"}, actor="q")
        assert ws.items(grown)["author"].to_list() == [None, None, "q"]
    with pytest.raises(WorkingStoreError):
        Kind("events", {})
    with pytest.raises(WorkingStoreError):
        Kind("x", {"id": "VARCHAR"})
    with pytest.raises(WorkingStoreError):
        Kind("x", {"a": "TEXT; DROP"})


# ---------------------------------------------------------------- retention
def test_purge_removes_old_records_and_empty_supplies(data, capsys):
    fixture_release.write_fixture_release(config.release_path())
    release_bytes = config.release_path().read_bytes()
    old = [row(1, "01/06/2019", "01/01/2008"), row(2, "01/06/2019", "01/01/2008")]
    ingest_bytes("yjs_disposals_2019-20.csv", csv_bytes(old), agreement())
    ingest_bytes("yjs_disposals_2020-21.csv", csv_bytes([row(3, "01/05/2020"), row(4, "01/03/2021")]), agreement())
    ingest_bytes(NAME, csv_bytes(GOOD), agreement())
    cutoff = retention.cutoff_date(5, dt.date(2026, 1, 15))
    assert cutoff == dt.date(2021, 1, 15) and retention.cutoff_date(1, dt.date(2024, 2, 29)) == dt.date(2023, 2, 28)
    dry = retention.purge(5, today=dt.date(2026, 1, 15), dry_run=True)
    assert dry.records == 3
    with RestrictedStore() as store:
        assert store.row_count("yjs_disposals") == 7
    entries = len(audit_log.entries())
    report = retention.purge(5, today=dt.date(2026, 1, 15))
    assert report.records == 3
    [d] = report.datasets
    assert d["dataset"] == "yjs_disposals" and [s["period"] for s in d["supplies"]] == ["2019/20"]
    with RestrictedStore() as store:
        assert store.row_count("yjs_disposals") == 4
        assert store.supplies()["period"].to_list() == ["2020/21", "2023/24"]
        assert store.scan("yjs_disposals")["event_date"].min() >= cutoff
    [entry] = audit_log.entries()[entries:]
    assert (entry["action"], entry["dataset"], entry["rows"]) == ("purge", "yjs_disposals", 3)
    assert "2019/20" in entry["detail"]
    assert config.release_path().read_bytes() == release_bytes  # published aggregates stay
    os.environ["LCP_RETENTION_YEARS"] = "50"
    try:
        assert main(["purge"]) == 0
        assert "retention 50 years" in capsys.readouterr().out
        os.environ["LCP_RETENTION_YEARS"] = "five"
        assert main(["purge"]) == 1
        assert "LCP_RETENTION_YEARS" in capsys.readouterr().err
    finally:
        del os.environ["LCP_RETENTION_YEARS"]
    assert main(["purge", "--years", "1", "--dry-run"]) == 0
    assert "would remove" in capsys.readouterr().out
