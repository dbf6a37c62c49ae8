"""The indicator set as data: the shipped YAML, the benchmarks, and a local indicator added by YAML alone."""
from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines import build, geography
from pipelines.restricted_store import RestrictedStore
from pipelines.specs import SpecError, indicator_files, load_benchmarks, load_indicators

#: ../shared/reference beside the checkout (not in every CI checkout: the test that reads it skips)
CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ni_catalogue.csv"


def test_the_shipped_set_has_at_least_25_childrens_nis():
    specs = load_indicators()
    nis = [s for s in specs if s.id.startswith("NI ") and not s.local]
    assert len(nis) >= 25
    assert len({s.id for s in specs}) == len(specs)
    methods = {s.ci_method for s in specs}
    assert methods == {"wilson", "byars", "mean_t", "newcombe"}
    assert any(s.frequency == "quarterly" for s in specs) and any(s.rolling_12m for s in specs)
    assert any(s.target for s in specs) and any(s.sensitive for s in specs) and any(s.local for s in specs)
    for s in specs:
        assert s.notes, s.id  # every definition says where it stands against the catalogue
        if s.population:
            assert s.denominator_kind == "population"
        if s.age_rule and s.age_rule.bands:
            assert "age" in s.published_breakdowns


def test_every_ni_is_in_the_catalogue_or_a_named_variant():
    import csv

    if not CATALOGUE.is_file():
        pytest.fail(f"{CATALOGUE} is not here: the tests run in a checkout with ../shared beside it")
    with open(CATALOGUE, encoding="utf-8") as f:
        catalogue = {r["ni"]: r for r in csv.DictReader(f)}
    variants = {"NI 102a": "NI 102", "NI 102b": "NI 102", "NI 105": "NI 104", "NI 81": "NI 82"}
    for s in load_indicators():
        if s.local:
            continue
        row = catalogue[variants.get(s.id, s.id)]
        assert row["ecm_outcome"] == s.ecm_outcome, s.id
        # NI 48's headline is a count with an "optional rate per 100,000" (the catalogue's unit): the rate is published
        optional_rate = f"rate per {s.multiplier:,}" in row["unit"]
        assert int(row["multiplier"]) == s.multiplier or s.ci_method == "mean_t" or optional_rate, s.id


def test_benchmarks_cover_every_indicator_and_period_and_say_where_they_come_from():
    b = load_benchmarks()
    specs = load_indicators()
    years = ["2020/21", "2021/22", "2022/23", "2023/24", "2024/25"]
    for s in specs:
        for bench in ("England", "East Midlands"):
            have = set(b.filter((pl.col("indicator_id") == s.id) & (pl.col("benchmark") == bench))["period"])
            assert set(years) <= have, (s.id, bench)
            if s.frequency == "quarterly":
                assert "2024/25 Q3" in have, s.id
            if s.rolling_12m:
                assert "12m to 2024-12" in have, s.id
    assert b["source"].null_count() == 0
    assert b["source"].str.contains("(?i)demo").all()  # none of these is an official figure yet
    assert b.select("indicator_id", "period", "benchmark").is_unique().all()


def test_a_bad_spec_names_its_file_and_item(tmp_path):
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "bad.yaml").write_text(textwrap.dedent("""
        - id: L 98
          title: t
    """))
    with pytest.raises(SpecError, match=r"bad.yaml: field ecm_outcome: .*\[item 1\]"):
        load_indicators(tmp_path)


# ---------------------------------------------------------------- a local indicator by YAML alone
LOCAL = """
# docs/indicators.md: a local indicator is one YAML entry; nothing else changes.
- id: L 99
  title: Year 6 children overweight or obese
  ecm_outcome: Be healthy
  unit: percentage
  multiplier: 100
  polarity: lower_better
  ci_method: wilson
  frequency: annual
  supplier: Lincolnshire Community Health Services NHS Trust
  dataset: ncmp
  period_basis: academic_year
  numerator_definition: Year 6 children with BMI at or above the 85th centile
  denominator_definition: Year 6 children with a valid measurement
  denominator_kind: client
  cohort:
    - {field: school_year, op: eq, value: "6"}
  numerator:
    - {field: bmi_centile, op: ge, value: 85}
  target: {value: 33.0, tolerance: 1.0, source: local ambition}
  local: true
  notes: A test of the local-indicator route.
"""


def _ncmp_records(n: int = 6000, seed: int = 11) -> pl.DataFrame:
    """Minimised NCMP records as the store keeps them (one academic year)."""
    rng = np.random.default_rng(seed)
    wards = geography.hierarchy()["ward_code"].to_numpy()
    year6 = rng.random(n) < 0.5
    start = dt.date(2023, 10, 2)
    return pl.DataFrame({
        "person_key": [f"k{i}" for i in range(n)],
        "ward_code": rng.choice(wards, n),
        "sex": rng.choice(["F", "M"], n),
        "ethnicity": pl.Series(rng.integers(1, 21, n), dtype=pl.Int32),
        "event_date": [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 250, n)],
        "age_at_event": pl.Series(np.where(year6, 11, 5), dtype=pl.Int32),
        "age_at_31aug": pl.Series(np.where(year6, 10, 4), dtype=pl.Int32),
        "school_year": np.where(year6, "6", "R"),
        "bmi_centile": np.round(rng.uniform(0, 100, n), 1),
    })


def test_a_local_indicator_added_as_yaml_alone_is_in_the_built_release(tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    specs_dir = tmp_path / "specs"
    (specs_dir / "indicators").mkdir(parents=True)
    for f in indicator_files():  # the project's set, as shipped
        shutil.copy(f, specs_dir / "indicators" / f.name)
    (specs_dir / "indicators" / "my_partnership.yaml").write_text(LOCAL, encoding="utf-8")
    assert "L 99" in {s.id for s in load_indicators(specs_dir)}
    assert "L 99" not in {s.id for s in load_indicators()}

    with RestrictedStore(tmp_path / "store.duckdb") as store:
        store.replace_supply(
            {"supplier_code": "lchs", "supplier": "LCHS", "dataset": "ncmp", "record_level": "client",
             "period": "2023/24", "file_name": "ncmp_2023-24.xlsx", "file_sha256": "0" * 64,
             "date_provided": dt.date(2024, 10, 1), "refresh_date": dt.date(2025, 10, 1)},
            _ncmp_records(),
        )
        report = build.build(target=tmp_path / "release" / "scorecard.duckdb", store=store, specs_dir=specs_dir)
    assert "L 99" not in report.skipped and "NI 55" not in report.skipped
    con = duckdb.connect(str(tmp_path / "release" / "scorecard.duckdb"), read_only=True)
    ind = con.sql("SELECT * FROM indicators WHERE indicator_id = 'L 99'").pl()
    values = con.sql("SELECT * FROM indicator_values WHERE indicator_id = 'L 99'").pl()
    con.close()
    assert ind.height == 1 and ind["local"][0] and ind["target_value"][0] == 33.0
    assert ind["title"][0] == "Year 6 children overweight or obese"
    county = values.filter((pl.col("area_level") == "county") & (pl.col("breakdown") == "all"))
    assert county.height == 1 and not county["suppressed"][0]
    # about 15% of a uniform centile is at or above 85
    assert 12 <= county["value"][0] <= 18
    assert county["lower_998"][0] < county["lower_95"][0] < county["value"][0] < county["upper_95"][0]
    assert set(values["area_level"]) == {"ward", "district", "partnership", "county"}
    assert {"sex=F", "sex=M", "ethnicity=White"} <= set(values["breakdown"])
