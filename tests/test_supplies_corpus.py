"""Issue 4's "done when": a corpus of bad supplies through the real `lcp ingest`.

Each bad supply gives a non-zero exit and a message naming the file, the row and the field (where
they apply), and leaves both stores as they were; good supplies load; the restricted store holds no
raw date of birth, postcode or supplier id; the audit log has one entry per attempt.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
import yaml

from pipelines import audit_log, config
from pipelines.cli import main
from pipelines.restricted_store import RestrictedStore

import fixture_release

PC1, PC2 = "DN17 3AP", "LN11 0AA"
NAME = "yjs_disposals_2023-24.csv"
HEADER = ["young_person_id", "dob", "gender", "postcode", "ethnicity", "disposal_date", "disposal_type",
          "court_disposal", "note"]
GOOD = [
    ["YP0001", "15/10/2010", "M", PC1, "1", "10/06/2023", "reprimand", "N", "first"],
    ["YP0002", "01/01/2008", "F", PC2, "14", "31/03/2024", "custody", "Y", ""],
    ["YP0003", "29/02/2008", "F", PC2, "20", "01/04/2023", "final_warning", "N", "x"],
]
GOOD_2022 = [  # the same people a year earlier
    ["YP0001", "15/10/2010", "M", PC1, "1", "10/06/2022", "reprimand", "N", ""],
    ["YP0002", "01/01/2008", "F", PC2, "14", "31/03/2023", "final_warning", "N", ""],
    ["YP0003", "29/02/2008", "F", PC2, "20", "01/04/2022", "reprimand", "N", ""],
]
AGREEMENT = {
    "supplier": "Lincolnshire Youth Offending Service",
    "supplier_code": "yos",
    "data_protection_registration": "Z0000000",
    "contact": "data@example.org",
    "review_date": "2030-03-31",
    "datasets": [{
        "dataset": "yjs_disposals",
        "title": "Youth justice disposals",
        "indicators": ["NI 111"],
        "frequency": "annual",
        "format": "csv",
        "period_basis": "financial_year",
        "event_date_field": "disposal_date",
        "id_field": "young_person_id",
        "fields": [
            {"name": "young_person_id", "type": "string"},
            {"name": "disposal_date", "type": "date"},
            {"name": "disposal_type", "type": "category", "values": ["reprimand", "final_warning", "custody"]},
            {"name": "court_disposal", "type": "flag"},
            {"name": "note", "type": "string", "required": False},
        ],
        "metadata": {"description": "YOS disposals", "date_provided": "2024-05-01", "refresh_date": "2025-05-01"},
    }],
}


def csv_bytes(rows, header=HEADER, sep=",", encoding="utf-8") -> bytes:
    return ("\n".join(sep.join(r) for r in [header, *rows]) + "\n").encode(encoding)


def with_value(row: int, field: str, value: str) -> bytes:
    rows = [list(r) for r in GOOD]
    rows[row][HEADER.index(field)] = value
    return csv_bytes(rows)


def xlsx_bytes(tmp: Path, rows) -> bytes:
    path = tmp / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    for i, r in enumerate([HEADER, *rows]):
        ws.write_row(i, 0, r)
    wb.close()
    return path.read_bytes()


def truncated() -> bytes:
    """Cut in the middle of the last row's court_disposal field (no line end)."""
    data = csv_bytes(GOOD)
    return data[: data.rindex(b",final_warning") + len(b",final_warning")]


#: case -> (file name, content, expected row or None, expected field or None, words in the message)
CORPUS = {
    "bad date": (NAME, with_value(1, "dob", "31/02/2011"), 3, "dob", "not a date in DD/MM/YYYY"),
    "bad date shape": (NAME, with_value(0, "dob", "2011-02-01"), 2, "dob", "DD/MM/YYYY"),
    "bad event date": (NAME, with_value(2, "disposal_date", "32/01/2024"), 4, "disposal_date", "not a date"),
    "bad gender": (NAME, with_value(1, "gender", "X"), 3, "gender", "not M or F"),
    "bad postcode": (NAME, with_value(2, "postcode", "LN99 9ZZZ"), 4, "postcode", "not a valid UK postcode"),
    "bad ethnicity": (NAME, with_value(0, "ethnicity", "21"), 2, "ethnicity", "ethnicity code 1-20"),
    "ethnicity not a number": (NAME, with_value(0, "ethnicity", "W1"), 2, "ethnicity", "1-20"),
    "missing column": (NAME, csv_bytes([r[:4] + r[5:] for r in GOOD], HEADER[:4] + HEADER[5:]), 1, "ethnicity",
                       "missing column"),
    "semicolons": (NAME, csv_bytes(GOOD, sep=";"), 1, "dob", "comma-separated"),
    "tabs": (NAME, csv_bytes(GOOD, sep="\t"), 1, "dob", "comma-separated"),
    "latin-1": (NAME, csv_bytes([GOOD[0], GOOD[1][:8] + ["café"]], encoding="latin-1"), 3, "note", "not UTF-8"),
    "utf-16": (NAME, csv_bytes(GOOD, encoding="utf-16"), 1, None, "not UTF-8"),
    "truncated mid-row": (NAME, truncated(), 4, "court_disposal", "cut short"),
    "unclosed quote": (NAME, csv_bytes(GOOD)[:-2] + b'"oops\n', 4, None, "quoted value is never closed"),
    "empty": (NAME, b"", None, None, "file is empty"),
    "blank": (NAME, b"\n \n", None, None, "file is empty"),
    "header only": (NAME, csv_bytes([]), None, None, "no data rows"),
    "formula in cell": (NAME, with_value(1, "note", "=HYPERLINK(\"http://x\")"), 3, "note", "spreadsheet formula"),
    "formula in id": (NAME, with_value(0, "young_person_id", "@SUM(A1)"), 2, "young_person_id", "formula"),
    "ragged row": (NAME, csv_bytes([GOOD[0], GOOD[1] + ["extra"]]), 3, None, "10 fields but the header has 9"),
    "wrong period in name": (NAME.replace("2023-24", "2023-25"), csv_bytes(GOOD), None, None, "YYYY-YY"),
    "unknown dataset": ("arrests_2023-24.csv", csv_bytes(GOOD), None, None, "not in the agreement"),
    "not a workbook": ("yjs_disposals_2023-24.xlsx", b"dob,gender\n1,2\n", None, None, "not a readable XLSX"),
    "huge junk": (NAME, None, 1, None, "not UTF-8"),  # 5 MB of random bytes, made in the test
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A data dir with a published release and a store holding one good supply (2022/23), made once."""
    root = tmp_path_factory.mktemp("corpus")
    mp = pytest.MonkeyPatch()
    mp.setenv("LCP_DATA_DIR", str(root / "data"))
    try:
        fixture_release.write_fixture_release(config.release_path())
        good = root / "good" / "yos"
        good.mkdir(parents=True)
        (good / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
        (good / "yjs_disposals_2022-23.csv").write_bytes(csv_bytes(GOOD_2022))
        assert main(["ingest", str(good.parent)]) == 0
    finally:
        mp.undo()
    return root / "data"


@pytest.fixture
def env(template, tmp_path, monkeypatch):
    """A fresh copy of the template data dir; returns the test's folder."""
    shutil.copytree(template, tmp_path / "data")
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def stores_state() -> tuple:
    with RestrictedStore() as store:
        sup = store.supplies().drop("loaded_at").sort("supply_id").to_dicts()
        rows = {d: store.scan(d).sort(pl.all()).to_dicts() for d in store.datasets()}
    release = hashlib.sha256(config.release_path().read_bytes()).hexdigest()
    return sup, rows, release


def supply(tmp: Path, name: str, data: bytes) -> Path:
    folder = tmp / "in" / "yos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
    (folder / name).write_bytes(data)
    return folder.parent


@pytest.mark.parametrize("case", list(CORPUS))
def test_bad_supply_rejected_by_the_cli(env, capsys, case):
    name, data, row, fld, words = CORPUS[case]
    if data is None:
        data = os.urandom(5 * 1024 * 1024)
    root = supply(env, name, data)
    before = stores_state()
    entries_before = len(audit_log.entries())
    capsys.readouterr()
    started = time.perf_counter()
    code = main(["ingest", str(root)])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith("rejected ") and name in first and words in first, err
    if row is not None:
        assert f"row {row}" in first, first
    if fld is not None:
        assert f"field {fld}" in first, first
    assert stores_state() == before
    new = audit_log.entries()[entries_before:]
    assert [(e["action"], e["outcome"], Path(e["file"]).name) for e in new] == [("reject", "rejected", name)]
    assert new[0]["sha256"] == hashlib.sha256(data).hexdigest()
    report = Path(err.split("report for the supplier: ")[1].split()[0])
    assert report.is_file() and report.with_suffix(".txt").is_file()
    assert report.parent == config.reports_dir() / "yos"
    table = pl.read_csv(report, infer_schema=False)
    assert table.columns == ["severity", "file", "row", "field", "rule", "value_masked"]
    assert table["severity"][0] == "error" and table["file"][0] == name
    if case == "huge junk":
        assert seconds < 10, f"5 MB of junk took {seconds:.1f}s"
        assert len(first) < 200
    for raw in ("31/02/2011", "LN99 9ZZZ", "HYPERLINK", "SUM(A1)"):  # values are masked everywhere
        assert raw not in err and raw not in report.read_text(encoding="utf-8")


def test_good_supplies_load_and_leave_no_identifiers(env, capsys):
    root = supply(env, NAME, b"\xef\xbb\xbf" + csv_bytes(GOOD))  # CSV UTF-8 with a BOM (Excel's)
    (root / "yos" / "yjs_disposals_2024-25.xlsx").write_bytes(xlsx_bytes(env, [
        ["YP0009", "03/03/2012", "M", PC1, "5", "01/05/2024", "custody", "Y", ""],
    ]))
    entries_before = len(audit_log.entries())
    assert main(["ingest", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.count("loaded ") == 2 and "report " in out
    new = audit_log.entries()[entries_before:]
    assert sorted(e["action"] for e in new) == ["load", "load"]
    assert audit_log.verify().ok
    with RestrictedStore() as store:
        sup = store.supplies()
        df = store.scan("yjs_disposals")
    assert sorted(sup["period"].to_list()) == ["2022/23", "2023/24", "2024/25"]
    assert df.height == 7
    raw = b""
    for p in config.restricted_dir().rglob("*"):
        if p.is_file() and p.name != "pseudonym.key":
            raw += p.read_bytes()
    for p in config.reports_dir().rglob("*"):
        raw += p.read_bytes() if p.is_file() else b""
    for value in (b"YP0001", b"YP0009", b"15/10/2010", b"2010-10-15", b"03/03/2012", PC1.encode(), PC2.encode(),
                  b"DN173AP", b"LN110AA"):
        assert value not in raw, value


def test_a_replacement_is_audited(env, capsys):
    root = supply(env, "yjs_disposals_2022-23.csv", csv_bytes(GOOD_2022[:2]))
    assert main(["ingest", str(root)]) == 0
    last = audit_log.entries()[-1]
    assert last["action"] == "replace" and last["rows"] == 2 and "replaced supply" in last["detail"]
    assert audit_log.verify().ok


def test_bad_agreement_is_audited_and_changes_nothing(env, capsys):
    root = supply(env, NAME, csv_bytes(GOOD))
    bad = yaml.safe_load(yaml.safe_dump(AGREEMENT))
    bad["datasets"][0]["frequency"] = "fortnightly"
    (root / "yos" / "agreement.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    before = stores_state()
    assert main(["ingest", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lcp ingest: error: ") and "agreement.yaml" in err and "frequency" in err
    assert len(err.strip().splitlines()) == 1
    assert stores_state() == before
    assert audit_log.entries()[-1]["action"] == "reject"
