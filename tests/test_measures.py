"""Measures on a tiny fixture: periods, filters, zero cells, sums up the hierarchy and breakdowns."""
from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.measures import indicator_counts, period_expr
from pipelines.specs import IndicatorSpec

HIER = pl.DataFrame(
    {
        "ward_code": ["W1", "W2", "W3"],
        "district_code": ["D1", "D1", "D2"],
        "partnership_code": ["P1", "P1", "P2"],
        "county_code": ["C", "C", "C"],
    }
)
POP = pl.DataFrame(
    {
        "ward_code": ["W1"] * 4 + ["W2"] * 4 + ["W3"] * 4,
        "sex": ["F", "F", "M", "M"] * 3,
        "age": [10, 18, 10, 18] * 3,
        "population": [100.0, 50.0, 110.0, 50.0, 200.0, 50.0, 190.0, 50.0, 300.0, 50.0, 310.0, 50.0],
    }
)

PROPORTION = IndicatorSpec.model_validate(
    dict(
        id="T1", title="test proportion", ecm_outcome="Be healthy", unit="percentage", multiplier=100,
        polarity="lower_better", ci_method="wilson", frequency="annual", supplier="s", dataset="d",
        period_basis="academic_year", numerator_definition="n", denominator_definition="d",
        denominator_kind="client", cohort=[{"field": "school_year", "op": "eq", "value": "R"}],
        numerator=[{"field": "bmi_centile", "op": "ge", "value": 95}],
    )
)
RATE = IndicatorSpec.model_validate(
    dict(
        id="T2", title="test rate", ecm_outcome="Stay safe", unit="rate per 1,000", multiplier=1000,
        polarity="lower_better", ci_method="byars", frequency="annual", supplier="s", dataset="d",
        period_basis="financial_year", numerator_definition="n", denominator_definition="d",
        denominator_kind="population", cohort=[{"field": "age_at_event", "op": "between", "value": [10, 17]}],
        population={"age_min": 10, "age_max": 17},
    )
)


def records():
    d = dt.date
    return pl.LazyFrame(
        {
            "ward_code": ["W1", "W1", "W1", "W2", "W3", "W3"],
            "sex": ["F", "M", "M", "F", "F", "M"],
            "event_date": [d(2023, 9, 1), d(2024, 3, 31), d(2024, 4, 1), d(2024, 8, 31), d(2024, 9, 1), d(2023, 10, 5)],
            "age_at_event": [10, 11, 12, 18, 15, 16],
            "school_year": ["R", "R", "R", "6", "R", "R"],
            "bmi_centile": [96.0, 50.0, 95.0, 99.0, 97.0, 10.0],
        }
    )


def test_period_labels_for_financial_and_academic_years():
    f = pl.DataFrame({"event_date": [dt.date(2024, 3, 31), dt.date(2024, 4, 1), dt.date(2024, 8, 31),
                                     dt.date(2024, 9, 1), dt.date(2009, 12, 1)]})
    assert f.select(period_expr("financial_year"))["period"].to_list() == [
        "2023/24", "2024/25", "2024/25", "2024/25", "2009/10"]
    assert f.select(period_expr("academic_year"))["period"].to_list() == [
        "2023/24", "2023/24", "2023/24", "2024/25", "2009/10"]


def _cell(out, area, breakdown, period):
    row = out.filter((pl.col("area_code") == area) & (pl.col("breakdown") == breakdown) & (pl.col("period") == period))
    assert row.height == 1
    return row["numerator"][0], row["denominator"][0]


def test_client_proportion_counts_at_every_level():
    out = indicator_counts(records(), PROPORTION, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # 2023/24 academic year, Reception: W1 F 96 (obese), W1 M 50, W1 M 95 (obese), W3 M 10 -> W3 F 2024/25
    assert _cell(out, "W1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "W1", "sex=F", "2023/24") == (1, 1.0)
    assert _cell(out, "W1", "sex=M", "2023/24") == (1, 2.0)
    assert _cell(out, "W2", "all", "2023/24") == (0, 0.0)  # Year 6 row is outside the cohort: a zero cell
    assert _cell(out, "D1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "P1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "C", "all", "2023/24") == (2, 4.0)
    assert _cell(out, "W3", "sex=F", "2024/25") == (1, 1.0)
    # every area x breakdown x period present: (3 wards + 2 districts + 2 partnerships + 1 county) x 3 x 2
    assert out.height == 8 * 3 * 2
    assert out["area_level"].value_counts().sort("area_level")["count"].to_list() == [6, 12, 12, 18]


def test_population_rate_uses_population_for_the_age_range():
    out = indicator_counts(records(), RATE, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # financial years: 2023/24: W1 F (10), W1 M (11, 31 Mar), W3 M (16); 2024/25: W1 M (12), W3 F (15); W2 F is 18
    assert _cell(out, "W1", "all", "2023/24") == (2, 210.0)
    assert _cell(out, "W1", "all", "2024/25") == (1, 210.0)
    assert _cell(out, "W2", "all", "2024/25") == (0, 390.0)
    assert _cell(out, "C", "sex=M", "2023/24") == (2, 610.0)
    assert _cell(out, "C", "all", "2023/24") == (3, 1210.0)


def test_breakdown_parts_and_children_add_up():
    out = indicator_counts(records(), PROPORTION, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    wide = out.pivot(on="breakdown", index=["period", "area_code"], values="numerator")
    assert (wide["all"] == wide["sex=F"] + wide["sex=M"]).all()
    wards = out.filter(pl.col("area_level") == "ward").join(HIER, left_on="area_code", right_on="ward_code")
    by_d = wards.group_by("period", "breakdown", "district_code").agg(pl.col("numerator").sum())
    joined = by_d.join(out, left_on=["period", "breakdown", "district_code"],
                       right_on=["period", "breakdown", "area_code"], suffix="_d")
    assert (joined["numerator"] == joined["numerator_d"]).all()
