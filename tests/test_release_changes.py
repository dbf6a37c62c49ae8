"""The release's `corrections` and `changes` tables: built, published, read, and shown on the dashboard."""
from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

import fixture_release
from pipelines import config, corrections, publish
from pipelines.build import CHANGES_SCHEMA, governance_tables, release_changes
from pipelines.release import ReleaseReader, open_release
from pipelines.working_store import WorkingStore

PAGE = "../dashboard/pages/changes.py"
KEYS = ["indicator_id", "period", "area_code", "breakdown"]


def values(rows: list[tuple]) -> pl.DataFrame:
    """(area_code, value, suppressed) rows of NI 55 2023/24, breakdown all."""
    return pl.DataFrame(
        [{"indicator_id": "NI 55", "period": "2023/24", "area_code": a, "area_level": "ward", "breakdown": "all",
          "value": v, "suppressed": s} for a, v, s in rows],
        schema={"indicator_id": pl.String, "period": pl.String, "area_code": pl.String, "area_level": pl.String,
                "breakdown": pl.String, "value": pl.Float64, "suppressed": pl.Boolean},
    )


def test_release_changes_shows_only_published_values():
    old = values([("same", 1.0, False), ("moved", 2.0, False), ("hidden", 3.0, False), ("shown", None, True),
                  ("both", None, True), ("gone", 4.0, False), ("gone-hidden", None, True)])
    new = values([("same", 1.0 + 1e-12, False), ("moved", 2.5, False), ("hidden", None, True),
                  ("shown", 7.0, False), ("both", None, True), ("fresh", 5.0, False), ("fresh-hidden", None, True)])
    # a withheld row in a release never carries its value (the release nulls it); make sure even if it did
    new = new.with_columns(pl.when(pl.col("area_code") == "hidden").then(3.3).otherwise(pl.col("value"))
                           .alias("value"))
    ch = release_changes(old, "r1", new)
    got = {r["area_code"]: (r["change"], r["previous_value"], r["value"], r["previous_suppressed"], r["suppressed"])
           for r in ch.iter_rows(named=True)}
    assert got == {
        "moved": ("changed", 2.0, 2.5, False, False),
        "hidden": ("changed", 3.0, None, False, True),  # now withheld: its new value is not shown
        "shown": ("changed", None, 7.0, True, False),
        "gone": ("removed", 4.0, None, False, None),
        "fresh": ("new", None, 5.0, None, False),
    }
    assert ch.schema == pl.Schema(CHANGES_SCHEMA) and set(ch["previous_release_id"]) == {"r1"}
    assert release_changes(None, None, new).is_empty()


@pytest.fixture
def release_with_tables(tmp_path, monkeypatch):
    """The fixture release as 'previous', then a new release with NI 55 moved in LCP01 and corrections."""
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    target = fixture_release.write_fixture_release(config.release_path())
    today = dt.date.today()
    with WorkingStore() as ws:
        corrections.add(ws, supplier="lchs", indicator_id="NI 55", area_code="LCP01", period="2023/24",
                        description='<b>Bold</b> =HYPERLINK("http://x") **not markdown**', reported_by="A Person",
                        today=today)
        second = corrections.add(ws, supplier="yos", indicator_id="NI 111", area_code="LCP03", period="2022/23",
                                 description="Lincoln figure used the wrong year", today=today)
        corrections.close(ws, second, fixture_release.RELEASE_ID, published_release_id=fixture_release.RELEASE_ID)
    con = duckdb.connect(str(target), read_only=True)
    try:
        tables = {name: con.sql(f"SELECT * FROM {name}").pl() for name in publish.RELEASE_TABLES}
    finally:
        con.close()
    vals = tables["indicator_values"]
    moved = (pl.col("indicator_id") == "NI 55") & (pl.col("period") == "2023/24") & (pl.col("area_code") == "LCP01")
    tables["indicator_values"] = vals.with_columns(
        pl.when(moved & ~pl.col("suppressed")).then(pl.col("value") + 1.0).otherwise(pl.col("value")).alias("value"))
    extra = governance_tables(target, tables["indicator_values"])
    tables["release"] = tables["release"].with_columns(pl.lit("fixture-r2").alias("release_id"))
    publish.write_release({**tables, **extra}, target)
    return target


def test_reader_corrections_and_changes(release_with_tables):
    con = open_release(release_with_tables)
    try:
        reader = ReleaseReader(con)
        corr = reader.corrections()
        only_open = reader.corrections(open_only=True)
        ch = reader.changes()
    finally:
        con.close()
    assert corr["status"].to_list() == ["open", "closed"]
    assert corr["closed_in_release"].to_list() == [None, fixture_release.RELEASE_ID]
    assert "reported_by" not in corr.columns and only_open.height == 1
    assert corr["deadline"][0] > dt.date.today()
    assert ch.height == 1
    r = ch.row(0, named=True)
    assert (r["indicator_id"], r["area_code"], r["change"], r["previous_release_id"]) == (
        "NI 55", "LCP01", "changed", fixture_release.RELEASE_ID)
    assert r["value"] == pytest.approx(r["previous_value"] + 1.0)


def test_reader_on_a_release_without_the_tables(tmp_path):
    path = fixture_release.write_fixture_release(tmp_path / "old.duckdb")
    con = open_release(path)
    try:
        reader = ReleaseReader(con)
        assert reader.corrections().is_empty() and "deadline" in reader.corrections().columns
        assert reader.changes().is_empty() and "previous_value" in reader.changes().columns
    finally:
        con.close()


def test_changes_page(release_with_tables):
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.subheader] == ["Open corrections", "Recently corrected",
                                               "Figures changed since the previous release"]
    open_table, closed_table, changes_table = (d.value for d in at.dataframe)
    row = open_table.to_dict("records")[0]
    assert row["What is wrong"] == '<b>Bold</b> =HYPERLINK("http://x") **not markdown**'  # text, as typed
    assert row["Area"] == "Boston LCP" and row["Time left"].endswith("working days left")
    assert closed_table.to_dict("records")[0]["Fixed in release"] == fixture_release.RELEASE_ID
    changed = changes_table.to_dict("records")
    assert [(c["Indicator"], c["Area"], c["Change"]) for c in changed] == [("NI 55", "Boston LCP", "Changed")]
    want = fixture_release.expected("NI 55", "2023/24", "LCP01")["value"]
    assert changed[0]["Previous release"] == f"{want:.1f}" and changed[0]["This release"] == f"{want + 1:.1f}"
    rendered = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert "<b>" not in rendered and "HYPERLINK" not in rendered  # never as markdown or HTML
    at.selectbox(key="url_indicator").select("NI 55").run()
    assert not at.exception and at.query_params["indicator"] == "NI 55"


def test_changes_page_first_release(tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    fixture_release.write_fixture_release(config.release_path())
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "No reported error is waiting" in info and "No published figure changed" in info


def test_page_is_listed():
    from dashboard.common import load_pages

    pages = {p.file: p for p in load_pages()}
    assert pages["changes.py"].title == "Corrections and changes" and pages["changes.py"].url_path == "changes"


def test_previous_release_is_copied_not_moved(release_with_tables, tmp_path):
    shutil.copy(release_with_tables, tmp_path / "copy.duckdb")
    con = open_release(tmp_path / "copy.duckdb")
    try:
        same = ReleaseReader(con).published_values()
    finally:
        con.close()
    extra = governance_tables(tmp_path / "copy.duckdb", same)
    assert extra["changes"].is_empty()  # the same values again: nothing changed
    assert extra["corrections"].height == 2
