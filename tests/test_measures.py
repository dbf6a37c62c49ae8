"""Measures on tiny fixtures: periods (years, quarters, 12-month windows), filters and age rules, zero
cells, sums up the hierarchy, breakdowns adding up to `all`, means and gaps, and the disclosure cells."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines import measures
from pipelines.measures import (
    ETHNIC_GROUPS,
    apply_disclosure,
    disclosure_view,
    indicator_counts,
    period_expr,
    period_map,
    quarter_expr,
)
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
BASE = dict(
    title="t", ecm_outcome="Be healthy", unit="percentage", multiplier=100, polarity="lower_better",
    ci_method="wilson", frequency="annual", supplier="s", dataset="d", numerator_definition="n",
    denominator_definition="d",
)


def spec(**kw) -> IndicatorSpec:
    return IndicatorSpec.model_validate({**BASE, **kw})


PROPORTION = spec(
    id="T1", period_basis="academic_year", denominator_kind="client",
    cohort=[{"field": "school_year", "op": "eq", "value": "R"}],
    numerator=[{"field": "bmi_centile", "op": "ge", "value": 95}], breakdowns=["sex"],
)
RATE = spec(
    id="T2", unit="rate per 1,000", multiplier=1000, ci_method="byars", period_basis="financial_year",
    denominator_kind="population", cohort=[{"field": "age_at_event", "op": "between", "value": [10, 17]}],
    population={"age_min": 10, "age_max": 17}, breakdowns=["sex"],
)


def records():
    d = dt.date
    return pl.LazyFrame(
        {
            "ward_code": ["W1", "W1", "W1", "W2", "W3", "W3"],
            "sex": ["F", "M", "M", "F", "F", "M"],
            "ethnicity": [1, 5, 19, 20, 10, 17],
            "event_date": [d(2023, 9, 1), d(2024, 3, 31), d(2024, 4, 1), d(2024, 8, 31), d(2024, 9, 1), d(2023, 10, 5)],
            "age_at_event": [10, 11, 12, 18, 15, 16],
            "age_at_31aug": [10, 10, 11, 17, 15, 15],
            "school_year": ["R", "R", "R", "6", "R", "R"],
            "bmi_centile": [96.0, 50.0, 95.0, 99.0, 97.0, 10.0],
        }
    )


def _cell(out, area, breakdown, period, cols=("numerator", "denominator")):
    row = out.filter((pl.col("area_code") == area) & (pl.col("breakdown") == breakdown) & (pl.col("period") == period))
    assert row.height == 1, (area, breakdown, period, row)
    return tuple(row[c][0] for c in cols)


# ---------------------------------------------------------------- periods
def test_period_labels_for_financial_and_academic_years():
    f = pl.DataFrame({"event_date": [dt.date(2024, 3, 31), dt.date(2024, 4, 1), dt.date(2024, 8, 31),
                                     dt.date(2024, 9, 1), dt.date(2009, 12, 1)]})
    assert f.select(period_expr("financial_year"))["period"].to_list() == [
        "2023/24", "2024/25", "2024/25", "2024/25", "2009/10"]
    assert f.select(period_expr("academic_year"))["period"].to_list() == [
        "2023/24", "2023/24", "2023/24", "2024/25", "2009/10"]


def test_quarters_start_with_the_year():
    months = [dt.date(2024, m, 15) for m in range(1, 13)]
    f = pl.DataFrame({"event_date": months})
    # financial: Q1 = Apr-Jun ... Q4 = Jan-Mar; academic: Q1 = Sep-Nov ... Q4 = Jun-Aug
    assert f.select(quarter_expr("financial_year"))["quarter"].to_list() == [4, 4, 4, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert f.select(quarter_expr("academic_year"))["quarter"].to_list() == [2, 2, 3, 3, 3, 4, 4, 4, 1, 1, 1, 2]


def test_period_map_quarters_and_rolling_windows():
    s = spec(id="T3", period_basis="financial_year", denominator_kind="client", frequency="quarterly", rolling_12m=True,
             numerator=[{"field": "x", "op": "eq", "value": 1}])
    m = period_map(s, ["2022/23", "2023/24"])
    labels = measures.period_labels(s, ["2022/23", "2023/24"])
    assert labels[:2] == ["2022/23", "2023/24"]
    assert "2023/24 Q3" in labels and "2022/23 Q1" in labels
    # windows need all four quarters in the years held: ending Mar 2023, Jun, Sep, Dec 2023, Mar 2024
    windows = [p for p in labels if p.startswith("12m")]
    assert windows == ["12m to 2023-03", "12m to 2023-06", "12m to 2023-09", "12m to 2023-12", "12m to 2024-03"]
    members = lambda label: sorted(m.filter(pl.col("period") == label).select("_year", "_q").rows())  # noqa: E731
    assert members("12m to 2023-09") == [("2022/23", 3), ("2022/23", 4), ("2023/24", 1), ("2023/24", 2)]
    assert members("12m to 2024-03") == members("2023/24")  # the window ending with the year is the year
    assert members("2023/24 Q2") == [("2023/24", 2)]
    academic = spec(id="T4", period_basis="academic_year", denominator_kind="client", rolling_12m=True,
                    numerator=[{"field": "x", "op": "eq", "value": 1}])
    assert [p for p in measures.period_labels(academic, ["2023/24"]) if p.startswith("12m")] == ["12m to 2024-08"]
    assert not any(" Q" in p for p in measures.period_labels(academic, ["2023/24"]))  # annual: no quarters


def test_quarters_add_up_to_the_year_and_windows_are_sums_of_quarters():
    d = dt.date
    dates = [d(2023, 4, 1), d(2023, 6, 30), d(2023, 7, 1), d(2023, 12, 31), d(2024, 1, 1), d(2024, 3, 31),
             d(2024, 5, 5), d(2024, 8, 8)]
    recs = pl.LazyFrame({
        "ward_code": ["W1", "W2", "W3", "W1", "W2", "W3", "W1", "W3"], "sex": ["F", "M"] * 4,
        "ethnicity": [1] * 8, "event_date": dates, "age_at_event": [12] * 8, "flag": [1, 0, 1, 1, 0, 1, 1, 1],
    })
    s = spec(id="Q", period_basis="financial_year", denominator_kind="client", frequency="quarterly",
             rolling_12m=True, numerator=[{"field": "flag", "op": "eq", "value": 1}])
    out = indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    county = out.filter((pl.col("area_code") == "C") & (pl.col("breakdown") == "all"))
    val = dict(zip(county["period"], county["denominator"]))
    assert [val[f"2023/24 Q{q}"] for q in (1, 2, 3, 4)] == [2.0, 1.0, 1.0, 2.0]
    assert val["2023/24"] == sum(val[f"2023/24 Q{q}"] for q in (1, 2, 3, 4)) == 6.0
    assert val["2024/25 Q1"] == 1.0 and val["2024/25 Q2"] == 1.0 and val["2024/25"] == 2.0
    assert val["12m to 2024-03"] == val["2023/24"]
    assert val["12m to 2024-06"] == 6.0 - 2.0 + 1.0  # Q2-Q4 of 2023/24 and Q1 of 2024/25
    assert val["12m to 2024-09"] == 1.0 + 2.0 + 1.0 + 1.0
    # quarters and windows are published above wards only, for `all`
    assert out.filter(pl.col("period").str.contains(" ") & (pl.col("area_level") == "ward")).height == 0
    assert out.filter(pl.col("period").str.contains(" ") & (pl.col("breakdown") != "all")).height == 0
    # every area (3 + 2 + 2 + 1) has every period, zeros included
    per = out.filter(pl.col("breakdown") == "all").group_by("area_code").agg(pl.col("period").n_unique())
    # 2 years; above wards also 8 quarters and the windows ending Mar 2024, Jun, Sep, Dec 2024 and Mar 2025
    assert dict(per.rows())["W1"] == 2
    assert dict(per.rows())["C"] == dict(per.rows())["D2"] == 2 + 8 + 5


# ---------------------------------------------------------------- counts, levels and breakdowns
def test_client_proportion_counts_at_every_level():
    out = indicator_counts(records(), PROPORTION, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # 2023/24 academic year, Reception: W1 F 96 (obese), W1 M 50, W1 M 95 (obese), W3 M 10 -> W3 F 2024/25
    assert _cell(out, "W1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "D1", "sex=F", "2023/24") == (1, 1.0)
    assert _cell(out, "D1", "sex=M", "2023/24") == (1, 2.0)
    assert _cell(out, "W2", "all", "2023/24") == (0, 0.0)  # Year 6 row is outside the cohort: a zero cell
    assert _cell(out, "D1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "P1", "all", "2023/24") == (2, 3.0)
    assert _cell(out, "C", "all", "2023/24") == (2, 4.0)
    assert _cell(out, "D2", "sex=F", "2024/25") == (1, 1.0)
    # wards: `all` only; districts, partnerships, county: all + sex=F + sex=M; 2 periods
    assert out.height == (3 * 1 + 5 * 3) * 2
    assert out["area_level"].value_counts().sort("area_level")["count"].to_list() == [6, 12, 12, 6]
    assert out.columns == list(measures.OUTPUT_SCHEMA)
    assert dict(out.schema) == measures.OUTPUT_SCHEMA


def test_population_rate_uses_population_for_the_age_range():
    out = indicator_counts(records(), RATE, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # financial years: 2023/24: W1 F (10), W1 M (11, 31 Mar), W3 M (16); 2024/25: W1 M (12), W3 F (15); W2 F is 18
    assert _cell(out, "W1", "all", "2023/24") == (2, 210.0)
    assert _cell(out, "W1", "all", "2024/25") == (1, 210.0)
    assert _cell(out, "W2", "all", "2024/25") == (0, 390.0)
    assert _cell(out, "C", "sex=M", "2023/24") == (2, 610.0)
    assert _cell(out, "C", "all", "2023/24") == (3, 1210.0)


def test_ethnic_groups_cover_appendix_5():
    assert set(ETHNIC_GROUPS) == set(range(1, 21))
    assert {ETHNIC_GROUPS[c] for c in (19, 20)} == {"Not known"}
    assert [ETHNIC_GROUPS[c] for c in (1, 5, 6, 9, 10, 13, 14, 16, 17, 18)] == [
        "White", "White", "Mixed", "Mixed", "Asian", "Asian", "Black", "Black", "Chinese", "Other"]
    f = pl.DataFrame({"ethnicity": [1, 4, 8, 12, 15, 17, 18, 19, 20, None, 99]})
    assert f.select(measures.ethnic_group_expr())["ethnicity"].to_list() == [
        "White", "White", "Mixed", "Asian", "Black", "Chinese", "Other", "Not known", "Not known", "Not known",
        "Not known"]


AGE_SPEC = spec(
    id="T5", period_basis="financial_year", denominator_kind="client",
    numerator=[{"field": "flag", "op": "eq", "value": 1}],
    age_rule={"at": "event", "min": 0, "max": 17, "bands": ["0-4", "5-9", "10-14", "15-17"]},
)


def _people(n=400, seed=3):
    import numpy as np

    rng = np.random.default_rng(seed)
    start = dt.date(2023, 4, 1)
    return pl.LazyFrame({
        "ward_code": rng.choice(["W1", "W2", "W3"], n), "sex": rng.choice(["F", "M"], n),
        "ethnicity": rng.integers(1, 21, n), "age_at_event": rng.integers(0, 20, n),
        "event_date": [start + dt.timedelta(days=int(x)) for x in rng.integers(0, 730, n)],
        "flag": rng.integers(0, 2, n),
    })


def test_every_breakdown_adds_up_to_all_at_every_area():
    out = indicator_counts(_people(), AGE_SPEC, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    assert set(out["breakdown"]) == {"all", "sex=F", "sex=M", "age=0-4", "age=5-9", "age=10-14", "age=15-17",
                                     *(f"ethnicity={g}" for g in measures.ETHNIC_GROUP_ORDER)}
    parts = out.filter(pl.col("breakdown") != "all").with_columns(
        pl.col("breakdown").str.split("=").list.first().alias("dim"))
    sums = parts.group_by("period", "area_code", "dim").agg(pl.col("numerator", "denominator").sum())
    totals = out.filter(pl.col("breakdown") == "all").select("period", "area_code", "numerator", "denominator")
    joined = sums.join(totals, on=["period", "area_code"], suffix="_all")
    assert joined.height == 5 * 2 * 3  # 5 areas above wards x 2 periods x 3 dimensions
    assert (joined["numerator"] == joined["numerator_all"]).all()
    assert (joined["denominator"] == joined["denominator_all"]).all()
    # ages 18-19 are outside the rule: not counted anywhere
    people = _people().collect()
    counted = people.filter(pl.col("age_at_event") <= 17).height
    assert out.filter((pl.col("area_code") == "C") & (pl.col("breakdown") == "all"))["denominator"].sum() == counted
    # the ethnicity rows of the not-known group hold codes 19 and 20
    not_known = people.filter((pl.col("age_at_event") <= 17) & pl.col("ethnicity").is_in([19, 20])).height
    assert out.filter((pl.col("area_code") == "C") & (pl.col("breakdown") == "ethnicity=Not known"))[
        "denominator"].sum() == not_known


def test_population_rate_ethnicity_rows_have_counts_and_no_denominator():
    s = spec(id="T6", unit="rate", multiplier=1000, ci_method="byars", period_basis="financial_year",
             denominator_kind="population", population={"age_min": 10, "age_max": 18},
             age_rule={"at": "event", "min": 10, "max": 18, "bands": ["10-17", "18-18"]})
    out = indicator_counts(records(), s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    eth = out.filter(pl.col("breakdown").str.starts_with("ethnicity="))
    assert eth["denominator"].null_count() == eth.height
    assert eth["numerator"].null_count() == 0
    c = out.filter((pl.col("area_code") == "C") & (pl.col("period") == "2024/25"))
    by = dict(zip(c["breakdown"], c["numerator"]))
    assert sum(v for k, v in by.items() if k.startswith("ethnicity=")) == by["all"] == 3
    assert by["ethnicity=Not known"] == 2 and by["ethnicity=Asian"] == 1  # codes 19 and 20; code 10
    assert by["ethnicity=White"] == 0
    # age band population: 10-17 -> ages 10 only in the fixture, 18-18 -> age 18
    den = dict(zip(c["breakdown"], c["denominator"]))
    assert den["age=10-17"] == 1210.0 and den["age=18-18"] == 300.0 and den["all"] == 1510.0


def test_age_at_31_august_rule():
    s = spec(id="T7", period_basis="academic_year", denominator_kind="client",
             numerator=[{"field": "bmi_centile", "op": "ge", "value": 95}],
             age_rule={"at": "31 August", "min": 10, "max": 10})
    out = indicator_counts(records(), s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # age_at_31aug == 10: W1 F (2023-09-01), W1 M (2024-03-31); the age at the event (11) is not used
    assert _cell(out, "C", "all", "2023/24") == (1, 2.0)
    assert _cell(out, "C", "all", "2024/25") == (0, 0.0)


def test_age_at_31_march_rule():
    d = dt.date
    recs = pl.LazyFrame({
        "ward_code": ["W1"] * 4, "sex": ["F"] * 4, "ethnicity": [1] * 4,
        "event_date": [d(2024, 3, 31), d(2024, 3, 31), d(2023, 10, 1), d(2023, 10, 1)],
        "age_at_event": [15, 16, 15, 15], "flag": [1, 1, 1, 1],
    })
    s = spec(id="T8", period_basis="financial_year", denominator_kind="client",
             numerator=[{"field": "flag", "op": "eq", "value": 1}],
             age_rule={"at": "31 March", "min": 0, "max": 15})
    # without age_at_31mar: exact for the 31 March snapshot rows only; the October rows have no age
    out = indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24"]).collect()
    assert _cell(out, "C", "all", "2023/24") == (1, 1.0)
    # with the derived field, every record has its age at the 31 March ending the year
    with_field = recs.with_columns(pl.Series("age_at_31mar", [15, 16, 15, 16]))
    out = indicator_counts(with_field, s, HIER, POP.lazy(), ["2023/24"]).collect()
    assert _cell(out, "C", "all", "2023/24") == (2, 2.0)


def test_any_of_and_present_filters():
    recs = records().with_columns(pl.Series("score", [None, 3, 5, None, 9, 1]))
    s = spec(id="T9", period_basis="financial_year", denominator_kind="client",
             cohort=[{"field": "score", "op": "present"}],
             numerator=[{"any_of": [{"field": "score", "op": "ge", "value": 5},
                                    {"field": "sex", "op": "eq", "value": "M"}]}])
    out = indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # 2023/24: W1 M score 3 (M -> yes), W3 M score 1 (M -> yes); 2024/25: W1 M 5 (yes), W3 F 9 (yes)
    assert _cell(out, "C", "all", "2023/24") == (2, 2.0)
    assert _cell(out, "C", "all", "2024/25") == (2, 2.0)


def test_mean_counts_sum_count_and_squares():
    recs = records().with_columns(pl.Series("score", [10, 12, None, 14, 16, 18]))
    s = spec(id="T10", unit="mean", multiplier=1, ci_method="mean_t", period_basis="financial_year",
             denominator_kind="client", sum_field="score")
    out = indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    # 2023/24: W1 F 10, W1 M 12, W3 M 18; 2024/25: W1 M (null: not counted), W2 F 14, W3 F 16
    assert _cell(out, "C", "all", "2023/24", ("numerator", "denominator", "sum_squares")) == (40, 3.0, 568.0)
    assert _cell(out, "C", "all", "2024/25", ("numerator", "denominator", "sum_squares")) == (30, 2.0, 452.0)
    assert _cell(out, "D1", "sex=M", "2024/25", ("numerator", "denominator", "sum_squares")) == (0, 0.0, 0.0)
    assert out["numerator_2"].null_count() == out.height


def test_gap_counts_both_groups():
    recs = records().with_columns(pl.Series("fsm", ["Y", "N", "N", "Y", "N", "Y"]))
    s = spec(id="T11", unit="percentage points", ci_method="newcombe", period_basis="academic_year",
             denominator_kind="client", numerator=[{"field": "bmi_centile", "op": "ge", "value": 95}],
             comparison={"group_1": [{"field": "fsm", "op": "eq", "value": "N"}],
                         "group_2": [{"field": "fsm", "op": "eq", "value": "Y"}],
                         "label_1": "not FSM", "label_2": "FSM"})
    out = indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24", "2024/25"]).collect()
    cols = ("numerator", "denominator", "numerator_2", "denominator_2")
    # 2023/24 (academic): W1 F Y 96, W1 M N 50, W1 M N 95, W2 F Y 99, W3 M Y 10 -> N: 1 of 2; Y: 2 of 3
    assert _cell(out, "C", "all", "2023/24", cols) == (1, 2.0, 2, 3.0)
    assert _cell(out, "C", "all", "2024/25", cols) == (1, 1.0, 0, 0.0)


# ---------------------------------------------------------------- disclosure cells
def _ind(rows):
    return pl.DataFrame(rows, schema={"indicator_id": pl.String, "ci_method": pl.String,
                                      "denominator_kind": pl.String, "sensitive": pl.Boolean}, orient="row")


def test_disclosure_view_and_back():
    base = {"period": "2024/25", "area_code": "C", "area_level": "county", "breakdown": "all"}
    counts = pl.DataFrame([
        {**base, "indicator_id": "P", "numerator": 40, "denominator": 100.0, "numerator_2": None,
         "denominator_2": None, "sum_squares": None},
        {**base, "indicator_id": "M", "numerator": 8, "denominator": 30.0, "numerator_2": None,
         "denominator_2": None, "sum_squares": 20.0},
        {**base, "indicator_id": "G", "numerator": 40, "denominator": 100.0, "numerator_2": 5,
         "denominator_2": 20.0, "sum_squares": None},
        {**base, "indicator_id": "R", "period": "12m to 2025-03", "numerator": 50, "denominator": 1000.0,
         "numerator_2": None, "denominator_2": None, "sum_squares": None},
    ], schema=measures.OUTPUT_SCHEMA)
    ind = _ind([("P", "wilson", "client", True), ("M", "mean_t", "client", True), ("G", "newcombe", "client", False),
                ("R", "byars", "population", False)])
    cells, cell_ind = disclosure_view(counts, ind, 10)
    got = {r["indicator_id"]: (r["numerator"], r["denominator"]) for r in cells.iter_rows(named=True)}
    assert got == {"P": (40, 100.0), "M": (8, 30.0), "G #1": (40, 100.0), "G #2": (5, 20.0),
                   "R #12m to 2025-03": (50, 1000.0)}
    meta = {r["indicator_id"]: (r["denominator_kind"], r["sensitive"]) for r in cell_ind.iter_rows(named=True)}
    assert meta["M"] == ("client", False)  # the complement rule does not apply to a mean
    assert meta["P"] == ("client", True) and meta["G #2"] == ("client", False)
    assert meta["R #12m to 2025-03"] == ("population", False)
    # a mean is protected through min(sum, n); a sum over 10 leaves n
    big = counts.with_columns(pl.when(pl.col("indicator_id") == "M").then(400).otherwise(pl.col("numerator"))
                              .alias("numerator"))
    cells2, _ = disclosure_view(big, ind, 10)
    assert cells2.filter(pl.col("indicator_id") == "M")["numerator"].item() == 30
    # back: a gap is withheld when either group is; counts nulled, a population denominator kept
    protected = cells.with_columns((pl.col("indicator_id").is_in(["G #2", "R #12m to 2025-03"])).alias("suppressed"))
    out = apply_disclosure(counts, protected, ind)
    by = {r["indicator_id"]: r for r in out.iter_rows(named=True)}
    assert by["G"]["suppressed"] and by["G"]["numerator"] is None and by["G"]["numerator_2"] is None
    assert by["G"]["denominator"] is None and by["G"]["denominator_2"] is None
    assert by["R"]["suppressed"] and by["R"]["numerator"] is None and by["R"]["denominator"] == 1000.0
    assert not by["P"]["suppressed"] and by["P"]["numerator"] == 40
    assert not by["M"]["suppressed"] and by["M"]["sum_squares"] == 20.0
    assert out.height == counts.height


def test_counts_frame_feeds_the_disclosure_stage():
    """The real disclosure stage accepts the view of a gap, a mean and a rolling indicator."""
    from pipelines import disclosure

    recs = _people(3000, seed=5).with_columns(
        pl.col("flag").cast(pl.String).replace({"1": "Y", "0": "N"}).alias("grp"),
        (pl.col("age_at_event") * 2).alias("score"),
    )
    gap = spec(id="G1", unit="pp", ci_method="newcombe", period_basis="financial_year", denominator_kind="client",
               numerator=[{"field": "age_at_event", "op": "ge", "value": 9}],
               comparison={"group_1": [{"field": "grp", "op": "eq", "value": "N"}],
                           "group_2": [{"field": "grp", "op": "eq", "value": "Y"}], "label_1": "a", "label_2": "b"})
    mean = spec(id="M1", unit="mean", multiplier=1, ci_method="mean_t", period_basis="financial_year",
                denominator_kind="client", sum_field="score", sensitive=True)
    roll = spec(id="R1", unit="rate", multiplier=1000, ci_method="byars", period_basis="financial_year",
                denominator_kind="population", population={"age_min": 10, "age_max": 18}, rolling_12m=True,
                age_rule={"at": "event", "min": 10, "max": 18})
    counts = pl.concat([indicator_counts(recs, s, HIER, POP.lazy(), ["2023/24", "2024/25"]) for s in (gap, mean, roll)]
                       ).collect()
    ind = pl.DataFrame({"indicator_id": ["G1", "M1", "R1"], "ci_method": ["newcombe", "mean_t", "byars"],
                        "denominator_kind": ["client", "client", "population"], "sensitive": [False, True, False]})
    cells, cell_ind = disclosure_view(counts, ind, 10)
    out = apply_disclosure(counts, disclosure.suppress(cells, cell_ind, HIER, 10), ind)
    assert out.height == counts.height
    published = out.filter(~pl.col("suppressed"))
    assert published.height > 0
    assert (published["numerator"] > 10).all()
    assert (published.filter(pl.col("indicator_id") == "G1")["numerator_2"] > 10).all()
    assert (published.filter(pl.col("indicator_id") == "M1")["denominator"] > 10).all()


@pytest.mark.parametrize("bad,match", [
    ({"age_rule": {"min": 0, "max": 17, "bands": ["0-4", "6-17"]}}, "should start at 5"),
    ({"age_rule": {"min": 0, "max": 17, "bands": ["0-4", "5-16"]}}, "not at the rule's max"),
    ({"age_rule": {"min": 0, "max": 17, "bands": ["0-4", "five-17"]}}, "must be 'low-high'"),
    ({"breakdowns": ["age"]}, "needs `age_rule.bands`"),
    ({"ci_method": "mean_t"}, "mean_t needs"),
    ({"ci_method": "newcombe"}, "comparison"),
    ({"sum_field": "score"}, "sum_field is only"),
    ({"numerator": [{"field": "x", "op": "present", "value": 1}]}, "takes no value"),
    ({"numerator": [{"field": "x", "op": "eq"}]}, "needs a value"),
    ({"colour": "red"}, "Extra inputs"),
    ({"polarity": "no_judgement", "target": {"value": 5}}, "target needs a polarity"),
])
def test_spec_schema_is_strict(bad, match):
    base = dict(id="X1", period_basis="financial_year", denominator_kind="client",
                numerator=[{"field": "x", "op": "eq", "value": 1}])
    with pytest.raises(ValueError, match=match):
        spec(**{**base, **bad})
