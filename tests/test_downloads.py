"""pipelines.downloads: CSV and Excel of a shown table, read back as a spreadsheet would."""
from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import polars as pl

from pipelines import downloads

INFO = {"release_id": "r-2025-1", "built_at": dt.datetime(2025, 6, 30, 9, 30), "suppression_threshold": 10,
        "methods_version": "2026.1"}


def _table() -> pl.DataFrame:
    return pl.DataFrame({
        "Area": ["Boston LCP", "=HYPERLINK(\"http://x\")", "+1+2", "@SUM(A1)", "-3", "\tTab", "Lincoln"],
        "Value": ["10.6", "c", "1.0", "2.0", "–", "3.0", "c"],
    })


def test_neutralise():
    assert downloads.neutralise("=1+1") == "'=1+1"
    for s in ("+1", "-1", "@x", "\tx", "\rx"):
        assert downloads.neutralise(s) == "'" + s
    assert downloads.neutralise("– no data") == "– no data"  # an en dash is not a minus
    assert downloads.neutralise("10.6") == "10.6"
    assert downloads.neutralise(3) == 3


def test_shown_text_marks_withheld_c_and_drops_the_flag():
    frame = pl.DataFrame({"Area": ["A", "B"], "Value": [10.6, 4.0], "suppressed": [False, True]})
    out = downloads.shown_text(frame, withheld_columns=["Value"])
    assert out.columns == ["Area", "Value"]
    assert out.rows() == [("A", "10.6"), ("B", "c")]
    assert "4" not in out["Value"].to_list()[1]


def test_csv_has_notes_then_the_table_with_formulas_neutralised():
    notes = downloads.download_notes(INFO, title="Scorecard: Boston LCP", source="=cmd|' /C calc'!A0")
    data = downloads.csv_bytes(_table(), notes)
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM so that Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    blank = rows.index([])
    head = [r[0] for r in rows[:blank]]
    assert head[0] == "# Table: Scorecard: Boston LCP"
    assert "# Release: r-2025-1" in head
    assert any(h.startswith("# Suppression: Figures for 10 or fewer children") for h in head)
    assert any(h.startswith("# Source: =cmd") for h in head)  # starts with '#', so never a formula
    table = rows[blank + 1:]
    assert table[0] == ["Area", "Value"]
    assert table[1] == ["Boston LCP", "10.6"]
    assert table[2] == ["'=HYPERLINK(\"http://x\")", "c"]
    assert [r[0] for r in table[3:7]] == ["'+1+2", "'@SUM(A1)", "'-3", "'\tTab"]
    assert table[5][1] == "–" and table[7] == ["Lincoln", "c"]


def test_xlsx_reads_back_with_a_notes_sheet_and_no_formulas(tmp_path):
    notes = downloads.download_notes(INFO, title="Scorecard: Boston LCP", source="LCHS")
    path = tmp_path / "t.xlsx"
    path.write_bytes(downloads.xlsx_bytes(_table(), notes, sheet_title="Scorecard: Boston LCP"))
    book = openpyxl.load_workbook(path)  # formulas would come back as '=...' strings with data_type 'f'
    assert book.sheetnames == ["Data", "Notes"]
    data = book["Data"]
    assert data["A1"].value == "Scorecard: Boston LCP"
    rows = [[c.value for c in r] for r in data.iter_rows(min_row=4)]
    assert rows[0] == ["Area", "Value"]
    assert rows[1] == ["Boston LCP", "10.6"]
    assert rows[2] == ["'=HYPERLINK(\"http://x\")", "c"]
    assert all(c.data_type == "s" for r in data.iter_rows(min_row=4) for c in r if c.value is not None)
    notes_sheet = {r[0].value: r[1].value for r in book["Notes"].iter_rows()}
    assert notes_sheet["Release"] == "r-2025-1"
    assert notes_sheet["Release built"] == "30/06/2025 09:30"
    assert notes_sheet["Source"] == "LCHS"
    assert "10 or fewer children" in notes_sheet["Suppression"]
    assert "Open Government Licence" in notes_sheet["Attribution"]
