"""Aggregate supplies (issue 14): validation rule by rule, counts up the hierarchy, and a release built
from them (audited, read back from the open-data files)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from pipelines import audit_log, build, cli, config, geography, measures, retention
from pipelines.ingest import ingest_dir
from pipelines.restricted_store import RestrictedStore
from pipelines.specs import Agreement, IndicatorSpec, SpecError, load_indicators

H = geography.hierarchy()
#: Two districts and some of their wards (real codes): district A with three wards, district B with one.
DIST_A, DIST_B = "E07000136", "E07000138"
WARDS_A = sorted(H.filter(pl.col("district_code") == DIST_A)["ward_code"].to_list())[:3]
WARD_B = sorted(H.filter(pl.col("district_code") == DIST_B)["ward_code"].to_list())[0]
RETIRED = geography.retired_wards()["ward_code"][0]  # a North Kesteven ward code before May 2023
COUNTY = H["county_code"][0]
PARTNERSHIP = dict(zip(H["district_code"].to_list(), H["partnership_code"].to_list()))

AGREEMENT = {
    "supplier": "Test Partner",
    "supplier_code": "partner",
    "data_protection_registration": "Z0000009",
    "contact": "data@example.org",
    "review_date": "2027-03-31",
    "datasets": [
        {
            "dataset": "poverty", "title": "Children in low-income families by ward", "record_level": "aggregate",
            "indicators": ["NI 116"], "frequency": "annual", "format": "csv", "period_basis": "financial_year",
            "denominator": True,
            "metadata": {"description": "counts", "date_provided": "2025-04-30", "refresh_date": "2026-04-30"},
        },
        {
            "dataset": "roads", "title": "Child road casualties by district", "record_level": "aggregate",
            "indicators": ["NI 48"], "frequency": "annual", "format": "csv", "period_basis": "financial_year",
            "measures": ["ksi", "all_severities"],
            "metadata": {"description": "counts", "date_provided": "2025-07-31", "refresh_date": "2026-07-31"},
        },
    ],
}
POVERTY_HEADER = ["area_code", "period", "breakdown", "numerator", "denominator"]
ROADS_HEADER = ["area_code", "period", "measure", "breakdown", "numerator"]


def poverty_rows(period: str = "2023/24") -> list[list[str]]:
    """A good ward supply: 3 wards of district A and 1 of district B, with an age breakdown."""
    rows = []
    for ward, (a, b) in zip(WARDS_A + [WARD_B], [(30, 100), (12, 60), (5, 40), (50, 200)], strict=True):
        rows.append([ward, period, "all", str(a), str(b)])
        rows.append([ward, period, "age=0-4", str(a // 2), str(b // 2)])
        rows.append([ward, period, "age=5-15", str(a - a // 2), str(b - b // 2)])
    return rows


def roads_rows(period: str = "2023/24") -> list[list[str]]:
    rows = []
    for district, (ksi_f, ksi_m, slight) in ((DIST_A, (3, 9, 40)), (DIST_B, (6, 8, 30))):
        for measure, (f, m) in (("ksi", (ksi_f, ksi_m)), ("all_severities", (ksi_f + slight, ksi_m + slight))):
            rows += [[district, period, measure, "all", str(f + m)], [district, period, measure, "sex=F", str(f)],
                     [district, period, measure, "sex=M", str(m)]]
    return rows


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("LCP_DATA_DIR", str(d))
    return d


def supply(root: Path, name: str, header: list[str], rows: list[list[str]], agreement: dict = AGREEMENT) -> Path:
    folder = root / "partner"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(agreement, sort_keys=False), encoding="utf-8")
    path = folder / name
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def ingest_one(tmp_path: Path, name: str, header, rows):
    root = tmp_path / f"in-{len(list(tmp_path.glob('in-*')))}"
    supply(root, name, header, rows)
    [result] = ingest_dir(root)
    return result


def problems(result) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.field, p.rule) for p in result.errors]


# ---------------------------------------------------------------- good supplies
def test_good_supplies_load_normalised(tmp_path):
    rows = poverty_rows()
    rows[1][2] = "AGE=0-4"  # case is normalised
    rows[0][2] = ""  # an empty breakdown is `all`
    ok = ingest_one(tmp_path, "poverty_2023-24.csv", POVERTY_HEADER, rows)
    assert ok.outcome == "loaded" and ok.rows == 12, ok.errors
    assert any("have no row: counted as 0" in w.rule for w in ok.warnings)  # 151 wards not listed
    roads = ingest_one(tmp_path, "roads_2023-24.csv", ROADS_HEADER, roads_rows())
    assert roads.outcome == "loaded" and roads.rows == 12, roads.errors
    with RestrictedStore() as store:
        df = store.scan("poverty")
        sup = store.supplies()
    assert set(df["breakdown"]) == {"all", "age=0-4", "age=5-15"} and set(df["area_level"]) == {"ward"}
    assert sorted(sup["record_level"].to_list()) == ["aggregate", "aggregate"]
    assert [e["action"] for e in audit_log.entries()] == ["load", "load"]


# ---------------------------------------------------------------- every rule, every problem at once
@pytest.mark.parametrize(
    ("change", "row", "field", "rule"),
    [
        (lambda r: r[0].__setitem__(0, "E05999999"), 2, "area_code", "not a Lincolnshire ward or district code"),
        (lambda r: r[0].__setitem__(0, RETIRED), 2, "area_code", "a retired ward code"),
        (lambda r: r[3].__setitem__(0, DIST_A), 5, "area_code", "a district code in a supply by ward"),
        (lambda r: r[1].__setitem__(3, "-2"), 3, "numerator", "a negative count"),
        (lambda r: r[1].__setitem__(4, "-50"), 3, "denominator", "a negative count"),
        (lambda r: r[1].__setitem__(3, "7.5"), 3, "numerator", "not a whole number"),
        (lambda r: r[1].__setitem__(4, "many"), 3, "denominator", "not a whole number"),
        (lambda r: r[0].__setitem__(3, "130"), 2, "numerator", "numerator larger than the denominator"),
        (lambda r: r[1].__setitem__(3, "16"), 2, "numerator", "the age parts add up to 31, not to the 'all' row's 30"),
        (lambda r: r[2].__setitem__(4, "51"), 2, "denominator", "the age parts add up to 101, not to the 'all' row's 100"),
        (lambda r: r.append(list(r[1])), 14, "area_code", "area, measure and breakdown given more than once"),
        (lambda r: r[4].__setitem__(2, "all"), 5, "area_code", "area, measure and breakdown given more than once"),
        (lambda r: r[1].__setitem__(2, "colour=red"), 3, "breakdown", "not a breakdown"),
        (lambda r: r[1].__setitem__(2, "=1+1"), 3, "breakdown", "looks like a spreadsheet formula"),
        (lambda r: r[0].__setitem__(1, "2022/23"), 2, "period", "outside the agreement"),
        (lambda r: r[0].__setitem__(1, "2023/24 Q1"), 2, "period", "outside the agreement"),
        (lambda r: r[0].__setitem__(3, ""), 2, "numerator", "required value missing"),
        (lambda r: r[0].__setitem__(4, ""), 2, "denominator", "required value missing"),
    ],
    ids=["unknown area", "retired ward", "mixed levels", "negative numerator", "negative denominator",
         "fractional count", "text count", "numerator above denominator", "numerator parts", "denominator parts",
         "duplicate row", "duplicate all", "bad breakdown", "formula", "other period", "a quarter",
         "missing numerator", "missing denominator"],
)
def test_each_rule_rejects_the_supply_naming_file_row_and_field(tmp_path, capsys, change, row, field, rule):
    first = ingest_one(tmp_path, "poverty_2023-24.csv", POVERTY_HEADER, poverty_rows())
    assert first.outcome == "loaded"
    with RestrictedStore() as store:
        before = store.scan("poverty").drop("supply_id").sort(pl.all()).to_dicts()
    rows = poverty_rows()
    change(rows)
    root = tmp_path / "bad"
    path = supply(root, "poverty_2023-24.csv", POVERTY_HEADER, rows)
    assert cli.main(["ingest", str(root)]) == 1  # a non-zero outcome
    err = capsys.readouterr().err
    assert str(path) in err and f"row {row}" in err and f"field {field}" in err, err
    [bad] = ingest_dir(root)
    assert bad.outcome == "rejected"
    assert any((r, f) == (row, field) and rule in text for r, f, text in problems(bad)), problems(bad)
    with RestrictedStore() as store:  # all or nothing: the good supply stays as it was
        assert store.scan("poverty").drop("supply_id").sort(pl.all()).to_dicts() == before
    log = audit_log.entries()
    assert log[-1]["action"] == "reject" and log[-1]["outcome"] == "rejected"


def test_every_problem_is_reported_at_once(tmp_path):
    rows = poverty_rows()
    rows[0][0] = "E05999999"
    rows[4][3] = "-1"
    rows[7][1] = "2021/22"
    rows[9][3] = "99"  # ward B's all: 99 of 200, its parts add up to 50
    bad = ingest_one(tmp_path, "poverty_2023-24.csv", POVERTY_HEADER, rows)
    got = {(r, f) for r, f, _ in problems(bad)}
    assert {(2, "area_code"), (6, "numerator"), (9, "period"), (11, "numerator")} <= got
    assert bad.report_path and Path(bad.report_path).is_file()
    report = pl.read_csv(bad.report_path, infer_schema_length=0)
    assert set(report.columns) >= {"file", "row", "field", "rule", "value_masked"}
    assert report.height == len(bad.errors) + len(bad.warnings)


def test_measures_and_district_supplies(tmp_path):
    rows = roads_rows()
    rows[0][2] = "fatal"  # not an agreed measure
    bad = ingest_one(tmp_path, "roads_2023-24.csv", ROADS_HEADER, rows)
    assert (2, "measure") in {(r, f) for r, f, _ in problems(bad)}
    no_measure = ingest_one(tmp_path, "roads_2023-24.csv", [c for c in ROADS_HEADER if c != "measure"],
                            [r[:2] + r[3:] for r in roads_rows()])
    assert no_measure.outcome == "rejected" and (1, "measure") in {(r, f) for r, f, _ in problems(no_measure)}
    part_alone = ingest_one(tmp_path, "roads_2023-24.csv", ROADS_HEADER,
                            [r for r in roads_rows() if not (r[0] == DIST_B and r[3] == "all")])
    assert any(f == "breakdown" and "without an 'all' row" in t for _, f, t in problems(part_alone))
    future = ingest_one(tmp_path, f"roads_{dt.date.today().year + 2}-{(dt.date.today().year + 3) % 100:02d}.csv",
                        ROADS_HEADER, roads_rows(f"{dt.date.today().year + 2}/{(dt.date.today().year + 3) % 100:02d}"))
    assert any(f == "period" and "has not started" in t for _, f, t in problems(future))


def test_agreement_schema_for_aggregate_datasets():
    a = Agreement.model_validate(AGREEMENT)
    assert a.dataset("roads").measures == ["ksi", "all_severities"] and a.dataset("poverty").denominator
    wrong = yaml.safe_load(yaml.safe_dump(AGREEMENT))
    wrong["datasets"][0]["fields"] = [{"name": "x", "type": "string"}]
    with pytest.raises(ValueError, match="an aggregate dataset has no fields"):
        Agreement.model_validate(wrong)
    spec = {**_SPEC, "cohort": [{"field": "x", "op": "eq", "value": 1}]}
    with pytest.raises(ValueError, match="no cohort, numerator"):
        IndicatorSpec.model_validate(spec)
    with pytest.raises(ValueError, match="annual"):
        IndicatorSpec.model_validate({**_SPEC, "frequency": "quarterly"})


# ---------------------------------------------------------------- counts up the hierarchy
_SPEC = {
    "id": "L 90", "title": "t", "ecm_outcome": "Achieve economic well-being", "unit": "percentage",
    "multiplier": 100, "polarity": "lower_better", "ci_method": "wilson", "frequency": "annual",
    "supplier": "Test Partner", "dataset": "poverty", "period_basis": "financial_year",
    "numerator_definition": "n", "denominator_definition": "d", "denominator_kind": "client",
    "record_level": "aggregate", "age_rule": {"min": 0, "max": 15, "bands": ["0-4", "5-15"]},
    "breakdowns": ["age"],
}
_ROADS_SPEC = {
    **{k: v for k, v in _SPEC.items() if k not in ("age_rule", "breakdowns")},
    "id": "L 91", "dataset": "roads", "ci_method": "byars", "unit": "rate per 100,000", "multiplier": 100000,
    "denominator_kind": "population", "population": {"age_min": 0, "age_max": 15}, "measure": "ksi",
    "breakdowns": ["sex"],
}


def stored(dataset: str) -> pl.LazyFrame:
    with RestrictedStore() as store:
        return store.scan(dataset).lazy()


def test_a_ward_supply_adds_up_the_hierarchy(tmp_path):
    assert ingest_one(tmp_path, "poverty_2023-24.csv", POVERTY_HEADER, poverty_rows()).outcome == "loaded"
    spec = IndicatorSpec.model_validate(_SPEC)
    counts = measures.counts_for(stored("poverty"), spec, H, geography.population().lazy()).collect()
    assert counts.columns == list(measures.OUTPUT_SCHEMA)

    def get(area, breakdown="all"):
        r = counts.filter((pl.col("area_code") == area) & (pl.col("breakdown") == breakdown))
        assert r.height == 1, (area, breakdown)
        return r["numerator"][0], r["denominator"][0]

    # hand-checked: ward values as supplied; district A = 30+12+5 of 100+60+40; B = 50 of 200
    assert get(WARDS_A[0]) == (30, 100) and get(WARDS_A[2]) == (5, 40) and get(WARD_B) == (50, 200)
    assert get(DIST_A) == (47, 200) and get(DIST_B) == (50, 200)
    assert get(PARTNERSHIP[DIST_A]) == (47, 200)
    assert get(COUNTY) == (97, 400)
    assert get(COUNTY, "age=0-4") == (15 + 6 + 2 + 25, 50 + 30 + 20 + 100)
    assert get(DIST_A, "age=5-15") == (15 + 6 + 3, 50 + 30 + 20)
    # every ward is present (zeros where the supply had no row), `all` only at ward level
    wards = counts.filter(pl.col("area_level") == "ward")
    assert wards.height == H.height and set(wards["breakdown"]) == {"all"}
    other = wards.filter(~pl.col("area_code").is_in(WARDS_A + [WARD_B]))
    assert (other["numerator"] == 0).all() and (other["denominator"] == 0).all()
    assert set(counts["period"]) == {"2023/24"}


def test_a_district_supply_is_never_apportioned_to_wards(tmp_path):
    assert ingest_one(tmp_path, "roads_2023-24.csv", ROADS_HEADER, roads_rows()).outcome == "loaded"
    spec = IndicatorSpec.model_validate(_ROADS_SPEC)
    pop = geography.population()
    counts = measures.counts_for(stored("roads"), spec, H, pop.lazy()).collect()
    assert set(counts["area_level"]) == {"district", "partnership", "county"}  # never a ward
    assert counts.filter(pl.col("area_level") == "district").height == 7 * 3
    a = counts.filter((pl.col("area_code") == DIST_A) & (pl.col("breakdown") == "all")).row(0, named=True)
    assert a["numerator"] == 12
    wards_a = H.filter(pl.col("district_code") == DIST_A)["ward_code"].to_list()
    expected = pop.filter(pl.col("ward_code").is_in(wards_a) & (pl.col("age") <= 15))["population"].sum()
    assert a["denominator"] == pytest.approx(expected, abs=0.01)
    county = counts.filter((pl.col("area_level") == "county") & (pl.col("breakdown") == "sex=M")).row(0, named=True)
    assert county["numerator"] == 9 + 8
    # a partnership made of exactly one district's wards is that district; the rest are never apportioned
    part = counts.filter((pl.col("area_code") == PARTNERSHIP[DIST_A]) & (pl.col("breakdown") == "all"))
    assert part["numerator"].to_list() == [12] and part["denominator"][0] == a["denominator"]
    # a geography whose partnerships cut across districts: no partnership rows at all
    w = H["ward_code"].to_list()
    crossing = H.with_columns(pl.when(pl.col("ward_code") == w[0]).then(pl.lit("LCPX")).otherwise(
        pl.col("partnership_code")).alias("partnership_code"))
    crossing = crossing.with_columns(pl.when(pl.col("partnership_code") == "LCPX").then(pl.lit(PARTNERSHIP[DIST_B]))
                                     .otherwise(pl.col("partnership_code")).alias("partnership_code"))
    moved = measures.coterminous_partnerships(crossing)
    assert PARTNERSHIP[DIST_B] not in moved and len(moved) == 6 - (H.filter(pl.col("ward_code") == w[0])[
        "partnership_code"][0] != PARTNERSHIP[DIST_B])
    c2 = measures.counts_for(stored("roads"), spec, crossing, pop.lazy()).collect()
    assert PARTNERSHIP[DIST_B] not in set(c2["area_code"]) and not c2.filter(pl.col("area_level") == "ward").height


def test_an_indicator_and_its_dataset_must_agree_on_the_record_level(tmp_path):
    assert ingest_one(tmp_path, "roads_2023-24.csv", ROADS_HEADER, roads_rows()).outcome == "loaded"
    no_measure = IndicatorSpec.model_validate({k: v for k, v in _ROADS_SPEC.items() if k != "measure"})
    with pytest.raises(ValueError, match="name one with `measure:`"):
        measures.counts_for(stored("roads"), no_measure, H, geography.population().lazy())
    client = IndicatorSpec.model_validate({k: v for k, v in _ROADS_SPEC.items() if k not in ("record_level", "measure")})
    with pytest.raises(ValueError, match="holds aggregate counts"):
        measures.counts_for(stored("roads"), client, H, geography.population().lazy())


# ---------------------------------------------------------------- retention
def test_retention_removes_aggregate_supplies_whose_period_ended(tmp_path):
    for period in ("2018/19", "2023/24"):
        slug = period.replace("/", "-")
        assert ingest_one(tmp_path, f"poverty_{slug}.csv", POVERTY_HEADER, poverty_rows(period)).outcome == "loaded"
    report = retention.purge(5, today=dt.date(2025, 1, 15))  # cutoff 15/01/2020: 2018/19 ended 31/03/2019
    [d] = report.datasets
    assert d["dataset"] == "poverty" and [s["period"] for s in d["supplies"]] == ["2018/19"] and d["records"] == 12
    with RestrictedStore() as store:
        assert store.supplies()["period"].to_list() == ["2023/24"]
        assert store.row_count("poverty") == 12
    assert audit_log.entries()[-1]["action"] == "purge"
    assert any("aggregate supplies" in line for line in report.lines())


# ---------------------------------------------------------------- through to the release
def test_the_demo_aggregate_supplies_through_build_audit_and_open_data(tmp_path, data_dir, capsys):
    """The demo's aggregate datasets (lrsp road_casualties: NI 48 and L 03, by district; lcc_bi
    low_income_children: NI 116, by ward) -> ingest -> build -> `lcp audit` -> open data read back."""
    from pipelines.demo import write_demo

    write_demo(tmp_path / "supplies", only={"road_casualties", "low_income_children"})
    assert cli.main(["ingest", str(tmp_path / "supplies")]) == 0
    assert cli.main(["build"]) == 0
    assert cli.main(["audit"]) == 0
    assert "audit passed" in capsys.readouterr().out
    con = duckdb.connect(str(config.release_path()), read_only=True)
    try:
        tables = {t: con.sql(f"SELECT * FROM {t}").pl() for t in ("indicator_values", "indicators", "areas",  # noqa: S608
                                                                   "benchmarks", "sources")}
    finally:
        con.close()
    v = tables["indicator_values"]
    levels = dict(v.group_by("indicator_id").agg(pl.col("area_level").unique().sort()).iter_rows())
    assert levels["NI 48"] == levels["L 03"] == ["county", "district", "partnership"]  # never wards
    assert levels["NI 116"] == ["county", "district", "partnership", "ward"]
    assert {s.id for s in load_indicators() if s.dataset == "road_casualties"} == {"NI 48", "L 03"}
    # suppressed like the rest: small district counts withheld, nothing derived shown beside them
    ni48 = v.filter(pl.col("indicator_id") == "NI 48")
    assert 0 < ni48["suppressed"].sum() < ni48.height
    shown = v.filter(~pl.col("suppressed"))
    assert shown.filter(pl.col("numerator") <= 10).height == 0
    assert v.filter(pl.col("suppressed"))["value"].null_count() == v["suppressed"].sum()
    county = v.filter((pl.col("area_level") == "county") & (pl.col("breakdown") == "all") & ~pl.col("suppressed"))
    assert county["rag"].null_count() == 0 and county["lower_95"].null_count() == 0
    sources = tables["sources"]
    assert set(sources["dataset"]) == {"road_casualties", "low_income_children"}
    assert set(sources["record_level"]) == {"aggregate"}
    # the open-data files written by the build read back equal to the release
    for fmt in ("parquet", "csv"):
        folder = data_dir / "published" / "open-data" / fmt
        for name in ("indicator_values", "indicators", "areas", "benchmarks"):
            expected = tables[name]
            got = (pl.read_parquet(folder / f"{name}.parquet") if fmt == "parquet"
                   else pl.read_csv(folder / f"{name}.csv", schema=expected.schema))
            key = [c for c in expected.columns if expected[c].dtype == pl.String]
            assert got.sort(key).equals(expected.sort(key)), (fmt, name)
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["licence"] and "Crown copyright" in meta["attribution"]
        assert {(m["dataset"], m["record_level"]) for m in meta["sources"]} == {
            ("road_casualties", "aggregate"), ("low_income_children", "aggregate")}
        assert "Lincolnshire Road Safety Partnership" in {m["supplier"] for m in meta["sources"]}


def test_a_bad_aggregate_spec_names_its_file(tmp_path):
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "agg.yaml").write_text(yaml.safe_dump([{**_SPEC, "ci_method": "mean_t",
                                                                       "sum_field": "x"}]))
    with pytest.raises(SpecError, match=r"agg.yaml: .*\[item 1\]"):
        load_indicators(tmp_path)
    with pytest.raises(build.BuildError, match="run `lcp ingest DIR` first"):
        build.compute_values({}, [IndicatorSpec.model_validate(_SPEC)], H, geography.population(),
                             pl.DataFrame(), 10)
