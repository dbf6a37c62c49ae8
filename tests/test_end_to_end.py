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
#: The demo's datasets the end-to-end run ingests (every unit, CI method, quarters and 12-month windows,
#: client and population denominators, sensitive indicators); the largest supplies (school census,
#: Connexions, chlamydia tests, referrals and assessments) are left out to keep the run short.
#: LCP_E2E_FULL=1 runs the whole demo.
E2E_DATASETS = {
    "ncmp", "injury_admissions", "yjs_disposals", "yos_closures", "lac_31mar", "cp_plan_starts", "cp_plan_ends",
    "care_leavers", "ks4", "infant_feeding", "teenage_conceptions",
    "road_casualties", "low_income_children",  # aggregate supplies: by district (NI 48, L 03) and by ward (NI 116)
}


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e")
    previous = os.environ.get("LCP_DATA_DIR")
    os.environ["LCP_DATA_DIR"] = str(data)
    try:
        assert cli.main(["demo", "--out", str(data / "supplies"), "--seed", "7"]) == 0
        if os.environ.get("LCP_E2E_FULL") != "1":
            for f in (data / "supplies").glob("*/*_*-*.*"):
                if f.name.rsplit("_", 1)[0] not in E2E_DATASETS:
                    f.unlink()
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
    # at least 25 complete indicator rows: every contract column filled
    ind = release["indicators"]
    complete = ind.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in CONTRACT["indicators"]))
    assert complete.height >= 25
    assert set(ind["ci_method"]) == {"wilson", "byars", "mean_t", "newcombe"}
    expected = E2E_DATASETS if os.environ.get("LCP_E2E_FULL") != "1" else set(release["sources"]["dataset"])
    assert set(release["sources"]["dataset"]) == expected


def _with_data(release) -> pl.DataFrame:
    """Indicators with values in the release (those whose dataset was ingested)."""
    return release["indicators"].filter(
        pl.col("indicator_id").is_in(release["indicator_values"]["indicator_id"].unique().to_list()))


def test_every_partnership_has_every_indicator_for_five_years(release):
    v = release["indicator_values"].filter(
        (pl.col("area_level") == "partnership") & (pl.col("breakdown") == "all") & ~pl.col("period").str.contains(" ")
    )
    per = v.group_by("area_code").agg(pl.col("indicator_id").n_unique(), pl.col("period").n_unique())
    assert per.height == 7
    with_data = _with_data(release)
    assert per["indicator_id"].min() == with_data.height
    assert with_data.height >= 20 and set(with_data["ci_method"]) == {"wilson", "byars", "mean_t", "newcombe"}
    assert per["period"].min() == 5
    # quarters of the quarterly indicators, 12-month windows of the rolling ones
    periods = release["indicator_values"].group_by("indicator_id").agg(pl.col("period").unique())
    got = dict(periods.iter_rows())
    for r in with_data.iter_rows(named=True):
        quarters = [p for p in got[r["indicator_id"]] if " Q" in p]
        assert (len(quarters) == 20) == (r["frequency"] == "quarterly"), r["indicator_id"]


def test_no_published_count_is_ten_or_less(release):
    v = release["indicator_values"].join(release["indicators"].select("indicator_id", "denominator_kind"),
                                         on="indicator_id")
    published = v.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("numerator").is_null() | (pl.col("numerator") <= 10)).height == 0
    client = published.filter(pl.col("denominator_kind") == "client")
    assert client.filter(pl.col("denominator") <= 10).height == 0
    gaps = published.filter(pl.col("numerator_2").is_not_null() | pl.col("denominator_2").is_not_null())
    assert gaps.filter((pl.col("numerator_2") <= 10) | (pl.col("denominator_2") <= 10)).height == 0
    # suppression is exercised, and not total
    assert 0 < v["suppressed"].sum() < v.height


def test_nothing_derived_from_a_withheld_count_is_shown(release):
    sup = release["indicator_values"].filter(pl.col("suppressed"))
    for col in ["numerator", "numerator_2", "denominator_2", "sum_squares"] + DERIVED:
        assert sup[col].null_count() == sup.height, col


def test_no_withheld_count_is_recoverable_from_a_parent_or_the_breakdown(release):
    """Independent check: in every parent = sum(children) relation and every all = sum(parts of a
    breakdown) relation, a withheld cell never stands alone, and withheld cells under a published total
    sum to more than 10 (their sum is total minus the published cells)."""
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
    # breakdowns: all = the parts of each dimension (sex, ethnicity, age), at every area that has them
    parts = v.filter(pl.col("breakdown") != "all").with_columns(
        pl.col("breakdown").str.split("=").list.first().alias("dim"))
    by_dim = parts.group_by("indicator_id", "period", "area_code", "dim").agg(
        pl.col("suppressed").sum().alias("hidden"), pl.col("numerator").sum().alias("published_sum"))
    totals = v.filter(pl.col("breakdown") == "all").select(
        "indicator_id", "period", "area_code", pl.col("suppressed").alias("all_hidden"), "numerator")
    joined = by_dim.join(totals, on=["indicator_id", "period", "area_code"])
    assert joined.height == by_dim.height > 0
    assert joined.filter(pl.col("hidden") + pl.col("all_hidden").cast(pl.Int64) == 1).height == 0
    exposed = joined.filter((pl.col("hidden") > 0) & ~pl.col("all_hidden"))
    assert exposed.filter(pl.col("numerator") - pl.col("published_sum") <= 10).height == 0


def test_published_parts_add_up_to_the_whole(release):
    """Where every part is published, breakdown parts sum to `all`, quarters to their year, and
    children to their parent (numerators; client denominators too)."""
    v = release["indicator_values"].filter(~pl.col("suppressed"))
    parts = v.filter(pl.col("breakdown") != "all").with_columns(
        pl.col("breakdown").str.split("=").list.first().alias("dim"))
    n_parts = release["indicator_values"].filter(pl.col("breakdown") != "all").with_columns(
        pl.col("breakdown").str.split("=").list.first().alias("dim")).group_by(
        "indicator_id", "period", "area_code", "dim").len()
    full = parts.group_by("indicator_id", "period", "area_code", "dim").agg(
        pl.len().alias("published"), pl.col("numerator").sum()).join(
        n_parts, on=["indicator_id", "period", "area_code", "dim"]).filter(pl.col("published") == pl.col("len"))
    joined = full.join(v.filter(pl.col("breakdown") == "all"), on=["indicator_id", "period", "area_code"],
                       suffix="_all")
    assert joined.height > 0
    assert (joined["numerator"] == joined["numerator_all"]).all()
    q = v.filter(pl.col("period").str.contains(" Q") & (pl.col("breakdown") == "all")).with_columns(
        pl.col("period").str.slice(0, 7).alias("year"))
    qs = q.group_by("indicator_id", "year", "area_code").agg(pl.len(), pl.col("numerator").sum()).filter(
        pl.col("len") == 4)
    years = qs.join(v.filter(pl.col("breakdown") == "all"), left_on=["indicator_id", "year", "area_code"],
                    right_on=["indicator_id", "period", "area_code"], suffix="_year")
    assert years.height > 0
    assert (years["numerator"] == years["numerator_year"]).all()


def test_confidence_limits_recomputed_from_published_counts_agree(release):
    """Every CI method, recomputed with the scalar reference functions from the published counts."""
    v = release["indicator_values"].filter(~pl.col("suppressed") & pl.col("value").is_not_null()).join(
        release["indicators"].select("indicator_id", "ci_method", "multiplier"), on="indicator_id")
    assert set(v["ci_method"]) == {"wilson", "byars", "mean_t", "newcombe"}
    sample = pl.concat([g.sample(n=min(100, g.height), seed=1) for _, g in v.group_by("ci_method")])
    for r in sample.iter_rows(named=True):
        for conf, lo, hi in ((0.95, "lower_95", "upper_95"), (0.998, "lower_998", "upper_998")):
            value, lower, upper = stats.limits(r["numerator"], r["denominator"], r["ci_method"], r["multiplier"], conf,
                                               x2=r["numerator_2"], n2=r["denominator_2"], sum_sq=r["sum_squares"])
            scale = max(1.0, abs(value))
            assert r["value"] == pytest.approx(value, rel=1e-9, abs=1e-9 * scale)
            assert r[lo] == pytest.approx(lower, rel=1e-6, abs=1e-9 * scale)
            assert r[hi] == pytest.approx(upper, rel=1e-6, abs=1e-9 * scale)


def test_both_limits_on_every_published_value(release):
    """A published row with its counts has a value and both the 95% and the 99.8% limits; the only
    published rows without a value are the ethnicity rows of population rates (no population by
    ethnicity: the count alone)."""
    v = release["indicator_values"].filter(~pl.col("suppressed")).join(
        release["indicators"].select("indicator_id", "denominator_kind"), on="indicator_id")
    with_value = v.filter(pl.col("value").is_not_null())
    for c in ("lower_95", "upper_95", "lower_998", "upper_998"):
        assert with_value[c].null_count() == 0, c
    assert (with_value["lower_998"] <= with_value["lower_95"]).all()
    assert (with_value["lower_95"] <= with_value["value"] + 1e-9).all()
    assert (with_value["value"] <= with_value["upper_95"] + 1e-9).all()
    assert (with_value["upper_95"] <= with_value["upper_998"]).all()
    no_value = v.filter(pl.col("value").is_null())
    assert no_value.filter(~((pl.col("denominator_kind") == "population")
                             & pl.col("breakdown").str.starts_with("ethnicity="))).height == 0
    assert no_value["numerator"].null_count() == 0 and no_value["denominator"].null_count() == no_value.height


def test_benchmark_comparison_for_every_unit(release):
    """Better / similar / worse against England for proportions, rates, means and gaps alike."""
    v = release["indicator_values"].filter(~pl.col("suppressed") & (pl.col("area_level") == "county")).join(
        release["indicators"].select("indicator_id", "ci_method", "polarity"), on="indicator_id")
    judged = v.filter((pl.col("polarity") != "no_judgement") & pl.col("benchmark_value").is_not_null())
    assert judged.filter(pl.col("breakdown") == "all")["vs_benchmark"].null_count() == 0
    assert set(judged["ci_method"]) == {"wilson", "byars", "mean_t", "newcombe"}
    assert set(judged["vs_benchmark"].drop_nulls()) <= {"better", "similar", "worse"}
    # polarity: an interval entirely below England is better for lower_better, worse for higher_better
    below = judged.filter(pl.col("upper_95") < pl.col("benchmark_value"))
    assert (below.filter(pl.col("polarity") == "lower_better")["vs_benchmark"] == "better").all()
    assert (below.filter(pl.col("polarity") == "higher_better")["vs_benchmark"] == "worse").all()


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


# ------------------------------------------------------------------ disclosure control (issue 6)
def test_lcp_audit_passes_on_the_demo_release_and_prints_the_information_loss(demo_release, capsys):
    assert cli.main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "audit passed" in out
    assert "withheld counts checked by the LP attacker" in out and "primary" in out and "complementary" in out
    for level in ("ward", "district", "partnership", "county"):
        assert any(line.strip().startswith(level) and "population" in line for line in out.splitlines()), level


def test_lcp_audit_fails_a_release_that_gives_a_count_away(demo_release, tmp_path, capsys):
    """Publish one withheld ward count again (a lone cell next to its published siblings is enough)."""
    import shutil

    bad = tmp_path / "bad.duckdb"
    shutil.copy(demo_release / "published" / "scorecard.duckdb", bad)
    con = duckdb.connect(str(bad))
    row = con.execute(
        "SELECT v.indicator_id, v.period, v.area_code, v.breakdown FROM indicator_values v "
        "JOIN indicator_values d ON d.indicator_id = v.indicator_id AND d.period = v.period "
        " AND d.breakdown = v.breakdown AND d.area_level = 'county' AND NOT d.suppressed "
        "WHERE v.area_level = 'district' AND v.suppressed ORDER BY ALL LIMIT 1"
    ).fetchone()
    assert row is not None
    # every other district of that table published (with made-up counts): the withheld one is then
    # the county minus the rest
    con.execute(
        "UPDATE indicator_values SET suppressed = false, numerator = 50, denominator = coalesce(denominator, 100) "
        "WHERE indicator_id = ? AND period = ? AND breakdown = ? AND area_level = 'district' AND area_code <> ?",
        [row[0], row[1], row[3], row[2]],
    )
    con.close()
    assert cli.main(["audit", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "audit FAILED" in out


def _riskiest_withheld(values: pl.DataFrame, lookup: pl.DataFrame, per_block: int = 5) -> pl.DataFrame:
    """Withheld rows most exposed to subtraction (chosen without the production code): a withheld row
    under a published total with the fewest withheld siblings, higher levels first; per indicator-year."""
    parent = {}
    for col in ("district_code", "partnership_code"):
        parent.update(dict(lookup.select("ward_code", col).iter_rows()))
    county = lookup["county_code"][0]
    v = values.with_columns(
        pl.when(pl.col("area_level") == "ward").then(pl.col("area_code").replace_strict(parent, default=None))
        .when(pl.col("area_level").is_in(["district", "partnership"])).then(pl.lit(county))
        .otherwise(None).alias("_parent"),
        pl.col("period").str.slice(0, 7).alias("_year"),
    )
    sibs = v.group_by("indicator_id", "period", "breakdown", "_parent").agg(
        pl.col("suppressed").sum().alias("_hidden_siblings"))
    pub = v.filter(~pl.col("suppressed")).select(
        "indicator_id", "period", "breakdown", pl.col("area_code").alias("_parent"), pl.lit(True).alias("_total_shown"))
    ranked = (v.filter(pl.col("suppressed"))
              .join(sibs, on=["indicator_id", "period", "breakdown", "_parent"], how="left")
              .join(pub, on=["indicator_id", "period", "breakdown", "_parent"], how="left")
              .with_columns(pl.col("_total_shown").fill_null(False))
              .sort(["_total_shown", "_hidden_siblings", "area_level", "area_code", "breakdown"],
                    descending=[True, False, False, False, False]))
    return ranked.group_by("indicator_id", "_year", maintain_order=True).head(per_block)


def test_an_independent_lp_attacker_finds_no_withheld_count_it_can_determine_or_bound(release):
    """tests/sdc_attack.py: the full cross-classified table (not the margins the production code
    uses), plain linprog, nothing lumped. For the first and the latest year of every indicator (and
    one 12-month window), exact intervals of the withheld counts most exposed to subtraction and a
    sample of the rest: none is determined or shown to be 10 or less. (`lcp audit`, run above,
    certifies every withheld count; this is the independent second opinion.)"""
    import sdc_attack

    values, lookup = release["indicator_values"], release["area_lookup"]
    years = sorted({p for p in values["period"].unique().to_list() if " " not in p})
    windows = sorted({p for p in values["period"].unique().to_list() if p.startswith("12m")})
    wanted = {years[0], years[-1]} | set(windows[-1:])
    chosen = _riskiest_withheld(values, lookup, per_block=4)
    sample = values.filter(pl.col("suppressed")).sample(n=60, seed=6)
    keys = {(r["indicator_id"], r["period"], r["area_code"], r["breakdown"])
            for frame in (chosen, sample) for r in frame.iter_rows(named=True)}
    checked = 0
    for block in sdc_attack.blocks(values, lookup, keep=lambda _ind, key: key in wanted):
        for r in block.withheld:
            row = block.rows.row(int(r), named=True)
            if (row["indicator_id"], row["period"], row["area_code"], row["breakdown"]) not in keys:
                continue
            verdict = block.verdict(r)
            checked += 1
            assert not verdict.fails(10), verdict
    assert checked >= 30


def test_no_withheld_value_reaches_the_open_data_or_the_changes_table(demo_release, release):
    published = demo_release / "published"
    sup = release["indicator_values"].filter(pl.col("suppressed"))
    csv = pl.read_csv(published / "open-data" / "csv" / "indicator_values.csv", infer_schema_length=0)
    withheld = csv.filter(pl.col("suppressed").str.to_lowercase() == "true")
    assert withheld.height == sup.height
    for col in ["numerator"] + DERIVED:
        if col in withheld.columns:
            assert withheld[col].is_null().all() or (withheld[col] == "").all(), col
    con = duckdb.connect(str(published / "scorecard.duckdb"), read_only=True)
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "changes" in tables:
            shown = con.execute("SELECT count(*) FROM changes WHERE suppressed AND value IS NOT NULL").fetchone()[0]
            assert shown == 0
    finally:
        con.close()


def test_lcp_build_refuses_to_publish_a_release_the_audit_fails(demo_release, release, monkeypatch, capsys):
    """The gate in `lcp build`: values that give a count away are not published (one-line error, the
    live release untouched)."""
    from pipelines import build, disclosure

    path = demo_release / "published" / "scorecard.duckdb"
    inode = path.stat().st_ino
    values = release["indicator_values"]
    key = ["indicator_id", "period", "breakdown"]
    hidden_districts = values.filter((pl.col("area_level") == "district") & pl.col("suppressed")).group_by(key).agg(
        pl.len().alias("n"), pl.col("area_code").min().alias("keep_hidden"))
    shown_county = values.filter((pl.col("area_level") == "county") & ~pl.col("suppressed")).select(key)
    county = hidden_districts.filter(pl.col("n") >= 2).join(shown_county, on=key).sort(key).row(0, named=True)
    # publish every district of that table but one: the last one is then the county minus the rest
    keep_hidden = county["keep_hidden"]
    tampered = values.with_columns(
        pl.when((pl.col("indicator_id") == county["indicator_id"]) & (pl.col("period") == county["period"])
                & (pl.col("breakdown") == county["breakdown"]) & (pl.col("area_level") == "district")
                & (pl.col("area_code") != keep_hidden))
        .then(False).otherwise(pl.col("suppressed")).alias("suppressed"),
    ).with_columns(pl.col("numerator").fill_null(50).alias("numerator"))
    tampered = tampered.with_columns(
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("numerator")).alias("numerator"))

    def fake_compute(*args, **kwargs):
        reports = kwargs.get("reports", args[7] if len(args) > 7 else None)
        reports["disclosure"] = disclosure.SuppressionReport()
        return tampered, []

    monkeypatch.setattr(build, "compute_values", fake_compute)
    assert cli.main(["build"]) == 1
    err = capsys.readouterr().err
    assert "not published" in err and "disclosure audit failed" in err
    assert err.strip().count("\n") == 0
    assert path.stat().st_ino == inode


def test_judgements_on_the_demo_release(demo_release, release):
    """Issue 7 on a real build: rule texts, trend, quartiles recomputed independently from the published
    values, summary counts agreeing with the values, funnel limits around the published county value."""
    con = duckdb.connect(str(demo_release / "published" / "scorecard.duckdb"), read_only=True)
    try:
        summary = con.sql("SELECT * FROM summary_counts").pl()
        funnel = con.sql("SELECT * FROM funnel").pl()
        ind = con.sql("SELECT indicator_id, polarity, rag_rule, rag_rule_text FROM indicators").pl()
    finally:
        con.close()
    assert ind["rag_rule_text"].null_count() == 0
    values = release["indicator_values"]
    assert {"trend", "national_quartile"} <= set(values.columns)
    supp = values.filter(pl.col("suppressed"))
    assert supp["trend"].null_count() == supp.height and supp["national_quartile"].null_count() == supp.height
    latest_years = values.filter(pl.col("period") == "2024/25")
    assert latest_years["trend"].drop_nulls().len() > 0
    assert values.filter(pl.col("period") == "2021/22")["trend"].drop_nulls().len() == 0  # 2 years only
    # quartiles: an independent PHE recomputation from the published values agrees everywhere
    polarity = dict(ind.select("indicator_id", "polarity").iter_rows())
    pub = values.filter(~pl.col("suppressed") & pl.col("value").is_not_null())
    checked = 0
    for _, grp in pub.group_by("indicator_id", "period", "breakdown", "area_level"):
        ind_id = grp["indicator_id"][0]
        if polarity[ind_id] == "no_judgement":
            continue
        vals = [(-v if polarity[ind_id] == "higher_better" else v) for v in grp["value"]]
        n = len(vals)
        for code, k, q in zip(grp["area_code"], vals, grp["quartile"]):
            if n < 4:
                assert q is None, code
                continue
            rank = 1 + sum(1 for o in vals if o < k)
            assert q == max(1, int(5 - -(-(n + 1 - rank) // (n / 4)))), (ind_id, code)
            checked += 1
    assert checked > 1000
    # summary counts: for one partnership, the red count of each outcome equals the red rows at the latest year
    area = "LCP01"
    reds = summary.filter((pl.col("area_code") == area) & (pl.col("measure") == "rag") & (pl.col("category") == "red"))
    latest = {i: max(p for p in values.filter(pl.col("indicator_id") == i)["period"].unique() if len(p) == 7)
              for i in values["indicator_id"].unique()}
    ecm = dict(release["indicators"].select("indicator_id", "ecm_outcome").iter_rows())
    want: dict[str, int] = {}
    for r in values.filter((pl.col("area_code") == area) & (pl.col("breakdown") == "all")
                           & (pl.col("rag") == "red")).iter_rows(named=True):
        if r["period"] == latest[r["indicator_id"]]:
            want[ecm[r["indicator_id"]]] = want.get(ecm[r["indicator_id"]], 0) + 1
    assert {k: v for k, v in reds.select("ecm_outcome", "n_indicators").iter_rows() if v} == want
    totals = summary.group_by("area_code", "ecm_outcome", "measure").agg(pl.col("n_indicators").sum())
    per_outcome = release["indicators"].group_by("ecm_outcome").len()
    assert totals.join(per_outcome, on="ecm_outcome").filter(pl.col("n_indicators") != pl.col("len")).height == 0
    # funnel: every row around a published county value, limits ordered
    assert funnel.height > 0 and set(funnel["area_level"]) <= {"ward", "district", "partnership"}
    county = values.filter((pl.col("area_level") == "county") & (pl.col("breakdown") == "all") & ~pl.col("suppressed"))
    centres = funnel.filter(pl.col("centre_kind") == "county").join(
        county.select("indicator_id", "period", pl.col("value").alias("county_value")), on=["indicator_id", "period"])
    assert centres.height == funnel.filter(pl.col("centre_kind") == "county").height
    assert (centres["centre"] - centres["county_value"]).abs().max() < 1e-9
    assert (funnel["lower_998"] <= funnel["lower_95"] + 1e-9).all() and (funnel["upper_95"] <= funnel["upper_998"] + 1e-9).all()
