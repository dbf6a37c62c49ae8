"""The whole path on the demo: lcp demo -> lcp ingest -> lcp build, then the release checked
independently of the code that made it (contract, disclosure, derived values, limits)."""
from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import polars as pl
import pytest

from pipelines import cli, stats

CONTRACT = {  # ../shared/contract.md, "The published release"
    "areas": ["area_code", "area_name", "area_level", "parent_code"],
    "area_lookup": ["ward_code", "district_code", "partnership_code", "county_code"],
    "indicators": ["indicator_id", "title", "ecm_outcome", "unit", "multiplier", "polarity", "ci_method",
                   "numerator_definition", "denominator_definition", "denominator_kind", "supplier", "frequency"],
    "indicator_values": ["indicator_id", "period", "area_code", "area_level", "breakdown", "numerator",
                         "denominator", "value", "lower_95", "upper_95", "lower_998", "upper_998", "suppressed",
                         "rag", "direction", "quartile", "vs_benchmark"],
    "benchmarks": ["indicator_id", "period", "benchmark", "value", "lower_95", "upper_95", "source"],
    "release": ["release_id", "built_at", "suppression_threshold", "methods_version"],
    "sources": ["supplier", "dataset", "record_level", "period", "date_provided", "refresh_date"],
}
DERIVED = ["value", "lower_95", "upper_95", "lower_998", "upper_998", "rag", "direction", "quartile", "vs_benchmark"]


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e")
    previous = os.environ.get("LCP_DATA_DIR")
    os.environ["LCP_DATA_DIR"] = str(data)
    try:
        assert cli.main(["demo", "--out", str(data / "supplies"), "--seed", "7"]) == 0
        assert cli.main(["ingest", str(data / "supplies")]) == 0
        assert cli.main(["build"]) == 0
        yield data
    finally:
        if previous is None:
            os.environ.pop("LCP_DATA_DIR", None)
        else:
            os.environ["LCP_DATA_DIR"] = previous


@pytest.fixture(scope="module")
def release(demo_release):
    con = duckdb.connect(str(demo_release / "published" / "scorecard.duckdb"), read_only=True)
    tables = {t: con.sql(f"SELECT * FROM {t}").pl() for t in CONTRACT}  # noqa: S608 (fixed names)
    con.close()
    return tables


def test_release_has_the_contract_tables_and_columns(release):
    for table, cols in CONTRACT.items():
        assert release[table].columns[: len(cols)] == cols, table
    assert release["release"].height == 1
    assert release["release"]["suppression_threshold"][0] == 10
    levels = release["areas"]["area_level"].value_counts().sort("area_level")
    assert dict(levels.iter_rows()) == {"county": 1, "district": 7, "partnership": 7, "ward": 155}
    assert release["area_lookup"].height == 155
    assert release["indicators"].height >= 5
    assert set(release["sources"]["dataset"]) == {"ncmp", "injury_admissions", "yjs_disposals"}


def test_every_partnership_has_every_indicator_for_five_years(release):
    v = release["indicator_values"].filter((pl.col("area_level") == "partnership") & (pl.col("breakdown") == "all"))
    per = v.group_by("area_code").agg(pl.col("indicator_id").n_unique(), pl.col("period").n_unique())
    assert per.height == 7
    assert per["indicator_id"].min() == release["indicators"].height
    assert per["period"].min() == 5


def test_no_published_count_is_ten_or_less(release):
    v = release["indicator_values"].join(release["indicators"].select("indicator_id", "denominator_kind"),
                                         on="indicator_id")
    published = v.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("numerator").is_null() | (pl.col("numerator") <= 10)).height == 0
    client = published.filter(pl.col("denominator_kind") == "client")
    assert client.filter(pl.col("denominator") <= 10).height == 0
    # suppression is exercised, and not total
    assert 0 < v["suppressed"].sum() < v.height


def test_nothing_derived_from_a_withheld_count_is_shown(release):
    sup = release["indicator_values"].filter(pl.col("suppressed"))
    for col in ["numerator"] + DERIVED:
        assert sup[col].null_count() == sup.height, col


def test_no_withheld_count_is_recoverable_from_a_parent_or_the_breakdown(release):
    """Independent check: in every parent = sum(children) relation and every all = F + M relation,
    a withheld cell never stands alone, and withheld cells under a published total sum to more than 10
    (their sum is total minus the published cells)."""
    v = release["indicator_values"]
    lookup = release["area_lookup"]
    relations = []
    for parent_col, child_col in (("district_code", "ward_code"), ("partnership_code", "ward_code"),
                                  ("county_code", "district_code"), ("county_code", "partnership_code")):
        relations.append(lookup.select(pl.col(parent_col).alias("parent"), pl.col(child_col).alias("child"),
                                       pl.lit(f"{parent_col}>{child_col}").alias("relation")).unique())
    rel = pl.concat(relations)
    key = ["indicator_id", "period", "breakdown"]
    kids = v.join(rel, left_on="area_code", right_on="child").group_by(key + ["relation", "parent"]).agg(
        pl.col("suppressed").sum().alias("hidden"),
        pl.col("numerator").sum().alias("published_sum"),
        pl.col("area_level").first().alias("child_level"),
    )
    parents = kids.join(v, left_on=key + ["parent"], right_on=key + ["area_code"])
    assert parents.filter(pl.col("hidden") == 1).height == 0
    exposed = parents.filter((pl.col("hidden") > 0) & ~pl.col("suppressed"))
    assert exposed.filter(pl.col("numerator") - pl.col("published_sum") <= 10).height == 0
    # breakdowns: all = sex=F + sex=M
    wide = v.with_columns(pl.col("breakdown").str.replace("sex=", "")).pivot(
        on="breakdown", index=["indicator_id", "period", "area_code"], values="suppressed")
    hidden = wide.select(pl.sum_horizontal(pl.col("all", "F", "M").cast(pl.Int8)).alias("h"))
    assert (hidden["h"] != 1).all()


def test_confidence_limits_recomputed_from_published_counts_agree(release):
    v = release["indicator_values"].filter(~pl.col("suppressed")).join(
        release["indicators"].select("indicator_id", "ci_method", "multiplier"), on="indicator_id")
    sample = v.sample(n=min(300, v.height), seed=1)
    for r in sample.iter_rows(named=True):
        for conf, lo, hi in ((0.95, "lower_95", "upper_95"), (0.998, "lower_998", "upper_998")):
            value, lower, upper = stats.limits(r["numerator"], r["denominator"], r["ci_method"], r["multiplier"], conf)
            assert r["value"] == pytest.approx(value, rel=1e-9)
            assert r[lo] == pytest.approx(lower, rel=1e-6, abs=1e-9)
            assert r[hi] == pytest.approx(upper, rel=1e-6, abs=1e-9)


def test_no_client_level_data_in_the_release(demo_release):
    con = duckdb.connect(str(demo_release / "published" / "scorecard.duckdb"), read_only=True)
    cols = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
    con.close()
    assert not cols & {"dob", "postcode", "person_key", "child_id", "episode_id", "young_person_id", "event_date"}


def test_a_rebuild_replaces_the_release_while_a_reader_keeps_the_old_one(demo_release):
    path = demo_release / "published" / "scorecard.duckdb"
    inode = path.stat().st_ino
    reader = duckdb.connect(str(path), read_only=True)
    before = reader.execute("SELECT release_id FROM release").fetchall()
    env = dict(os.environ, LCP_DATA_DIR=str(demo_release))
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "build"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert reader.execute("SELECT count(*) FROM indicator_values").fetchall()[0][0] > 0  # old file still readable
    assert reader.execute("SELECT release_id FROM release").fetchall() == before
    reader.close()
    assert path.stat().st_ino != inode  # replaced whole by a rename, not rewritten in place
    fresh = duckdb.connect(str(path), read_only=True)
    assert fresh.execute("SELECT count(*) FROM release").fetchall() == [(1,)]
    fresh.close()
    assert not list(path.parent.glob("*.tmp"))


def test_user_errors_are_one_line_without_traceback(tmp_path):
    env = dict(os.environ, LCP_DATA_DIR=str(tmp_path / "data"))
    missing = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", str(tmp_path / "nope")],
                             env=env, capture_output=True, text=True)
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr and missing.stderr.strip().count("\n") == 0
    assert "no such directory" in missing.stderr
    empty = subprocess.run([sys.executable, "-m", "pipelines.cli", "build"], env=env, capture_output=True, text=True)
    assert empty.returncode != 0 and "Traceback" not in empty.stderr
    assert "lcp ingest" in empty.stderr
