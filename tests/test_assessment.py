"""Assessment stage on hand-made frames: benchmark comparison, RAG, direction, quartile, suppression."""
from __future__ import annotations

import math

import polars as pl
import pytest

from pipelines import assessment as a
from pipelines import stats
from pipelines.stats import add_confidence_limits

SCHEMA = {
    "indicator_id": pl.String, "period": pl.String, "area_code": pl.String, "area_level": pl.String,
    "breakdown": pl.String, "numerator": pl.Int64, "denominator": pl.Float64, "value": pl.Float64,
    "lower_95": pl.Float64, "upper_95": pl.Float64, "lower_998": pl.Float64, "upper_998": pl.Float64,
    "suppressed": pl.Boolean, "polarity": pl.String, "ci_method": pl.String,
}


def row(**kw):
    base = dict(indicator_id="NI 55", period="2024/25", area_code="A", area_level="ward", breakdown="all",
                numerator=50, denominator=100.0, value=None, lower_95=None, upper_95=None, lower_998=None,
                upper_998=None, suppressed=False, polarity="lower_better", ci_method="wilson")
    base.update(kw)
    return base


def frame(rows, extra=None):
    return pl.LazyFrame(rows, schema={**SCHEMA, **(extra or {})})


def benchmarks(*items):
    return pl.DataFrame(
        [dict(indicator_id=i, period=p, benchmark=b, value=v) for i, p, b, v in items],
        schema={"indicator_id": pl.String, "period": pl.String, "benchmark": pl.String, "value": pl.Float64},
    )


def by_area(df: pl.DataFrame, col: str) -> dict:
    return dict(zip(df["area_code"], df[col], strict=True))


# ---------------------------------------------------------------- benchmark comparison
INTERVALS = {  # area: (lower_95, upper_95) against a benchmark of 10
    "above": (11.0, 15.0),
    "below": (5.0, 9.0),
    "contains": (8.0, 12.0),
    "touch_low": (10.0, 14.0),  # lower limit equals the benchmark: similar
    "touch_high": (6.0, 10.0),  # upper limit equals the benchmark: similar
}


def _bench_rows(polarity):
    return [row(area_code=k, value=(lo + hi) / 2, lower_95=lo, upper_95=hi, polarity=polarity)
            for k, (lo, hi) in INTERVALS.items()]


BENCH = benchmarks(("NI 55", "2024/25", "England", 10.0), ("NI 55", "2024/25", "East Midlands", 100.0),
                   ("NI 55", "2023/24", "England", 50.0))


@pytest.mark.parametrize("polarity,above,below", [("lower_better", "worse", "better"),
                                                  ("higher_better", "better", "worse")])
def test_benchmark_comparison_polarity(polarity, above, below):
    out = a.add_benchmark_comparison(frame(_bench_rows(polarity)), BENCH).collect()
    assert out.height == 5  # the other benchmark rows do not multiply rows
    assert set(out["benchmark_value"]) == {10.0}
    assert by_area(out, "vs_benchmark") == {
        "above": above, "below": below, "contains": "similar", "touch_low": "similar", "touch_high": "similar",
    }


def test_benchmark_comparison_named_benchmark():
    out = a.add_benchmark_comparison(frame(_bench_rows("lower_better")), BENCH, "East Midlands").collect()
    assert set(out["vs_benchmark"]) == {"better"}  # every interval is below 100


def test_benchmark_comparison_nulls():
    rows = [
        row(area_code="supp", suppressed=True, numerator=None),
        row(area_code="nojudge", value=20.0, lower_95=15.0, upper_95=25.0, polarity="no_judgement"),
        row(area_code="nobench", period="2022/23", value=20.0, lower_95=15.0, upper_95=25.0),
        row(area_code="noci", value=None),
        row(area_code="ok", value=20.0, lower_95=15.0, upper_95=25.0),
    ]
    out = a.add_benchmark_comparison(frame(rows), BENCH).collect()
    assert by_area(out, "vs_benchmark") == {"supp": None, "nojudge": None, "nobench": None, "noci": None,
                                            "ok": "worse"}
    assert by_area(out, "benchmark_value")["nobench"] is None


# ---------------------------------------------------------------- RAG
def test_rag_from_benchmark():
    rows = _bench_rows("lower_better") + [row(area_code="supp", suppressed=True),
                                          row(area_code="nojudge", value=20.0, lower_95=15.0, upper_95=25.0,
                                              polarity="no_judgement")]
    out = a.add_rag(a.add_benchmark_comparison(frame(rows), BENCH)).collect()
    assert by_area(out, "rag") == {"above": "red", "below": "green", "contains": "amber", "touch_low": "amber",
                                   "touch_high": "amber", "supp": None, "nojudge": None}


def test_rag_with_target_and_tolerance():
    # benchmark 10; every row here except "better" and "nobench" is significantly worse than it
    rows = [
        # lower_better, target 12 +/- 1: bad direction is above 13
        row(area_code="lb_within", value=12.5, lower_95=11.0, upper_95=14.0),  # worse, on target -> amber
        row(area_code="lb_edge", value=13.0, lower_95=11.0, upper_95=15.0),  # exactly target+tol: not missed
        row(area_code="lb_miss", value=13.5, lower_95=11.0, upper_95=16.0),  # worse, misses by > tol -> red
        row(area_code="lb_better", value=8.0, lower_95=6.0, upper_95=9.0),  # better -> green whatever the target
        # higher_better, target 50 +/- 2: bad direction is below 48 (benchmark 60 so these are worse)
        row(area_code="hb_within", indicator_id="X", value=49.0, lower_95=45.0, upper_95=55.0,
            polarity="higher_better"),
        row(area_code="hb_miss", indicator_id="X", value=47.0, lower_95=43.0, upper_95=51.0,
            polarity="higher_better"),
        # no target on the row: the plain rule
        row(area_code="no_target", value=30.0, lower_95=25.0, upper_95=35.0),
        row(area_code="supp", value=30.0, lower_95=25.0, upper_95=35.0, suppressed=True),
    ]
    targets = {"lb_within": (12, 1), "lb_edge": (12, 1), "lb_miss": (12, 1), "lb_better": (12, 1),
               "hb_within": (50, 2), "hb_miss": (50, 2), "supp": (12, 1)}
    for r in rows:
        r["target_value"], r["target_tolerance"] = targets.get(r["area_code"], (None, None))
    f = frame(rows, {"target_value": pl.Float64, "target_tolerance": pl.Float64})
    bench = benchmarks(("NI 55", "2024/25", "England", 10.0), ("X", "2024/25", "England", 60.0))
    out = a.add_rag(a.add_benchmark_comparison(f, bench)).collect()
    assert by_area(out, "vs_benchmark")["lb_within"] == "worse"
    assert by_area(out, "rag") == {"lb_within": "amber", "lb_edge": "amber", "lb_miss": "red",
                                   "lb_better": "green", "hb_within": "amber", "hb_miss": "red",
                                   "no_target": "red", "supp": None}


# ---------------------------------------------------------------- direction of travel
def _dir_rows(ci_method, polarity, prev, cur, area="A", indicator="NI 55", denom=100.0):
    return [row(indicator_id=indicator, area_code=area, period="2023/24", numerator=prev, denominator=denom,
                ci_method=ci_method, polarity=polarity),
            row(indicator_id=indicator, area_code=area, period="2024/25", numerator=cur, denominator=denom,
                ci_method=ci_method, polarity=polarity)]


def _direction(rows) -> dict:
    out = a.add_direction(frame(rows)).collect()
    return {(r["indicator_id"], r["area_code"], r["period"]): r["direction"] for r in out.iter_rows(named=True)}


def test_direction_proportions_significance_and_polarity():
    # 30/100 -> 45/100: pooled p = 0.375, se = sqrt(0.375*0.625*0.02) = 0.068465, z = 0.15/0.068465 = 2.19 > 1.96
    # 30/100 -> 35/100: pooled p = 0.325, se = sqrt(0.325*0.675*0.02) = 0.066238, z = 0.05/0.066238 = 0.75
    rows = (_dir_rows("wilson", "lower_better", 30, 45, "up_lb") + _dir_rows("wilson", "higher_better", 30, 45, "up_hb")
            + _dir_rows("wilson", "lower_better", 45, 30, "down_lb")
            + _dir_rows("wilson", "higher_better", 45, 30, "down_hb")
            + _dir_rows("wilson", "lower_better", 30, 35, "small"))
    d = _direction(rows)
    assert d[("NI 55", "up_lb", "2024/25")] == "worsening"
    assert d[("NI 55", "up_hb", "2024/25")] == "improving"
    assert d[("NI 55", "down_lb", "2024/25")] == "improving"
    assert d[("NI 55", "down_hb", "2024/25")] == "worsening"
    assert d[("NI 55", "small", "2024/25")] == "no_change"
    assert all(v is None for (_, _, p), v in d.items() if p == "2023/24")  # first period: nothing to compare


def test_direction_rates_significance():
    # 100 -> 150 per 10000: z = ln 1.5 / sqrt(1/100 + 1/150) = 0.405465/0.129099 = 3.14 -> significant
    # 100 -> 110: z = ln 1.1 / sqrt(1/100 + 1/110) = 0.095310/0.138170 = 0.69 -> no change
    rows = (_dir_rows("byars", "lower_better", 100, 150, "big", "NI 70", 10000.0)
            + _dir_rows("byars", "lower_better", 100, 110, "small", "NI 70", 10000.0)
            + _dir_rows("byars", "higher_better", 150, 100, "fall_hb", "NI 70", 10000.0))
    d = _direction(rows)
    assert d[("NI 70", "big", "2024/25")] == "worsening"
    assert d[("NI 70", "small", "2024/25")] == "no_change"
    assert d[("NI 70", "fall_hb", "2024/25")] == "worsening"


def test_direction_nulls():
    rows = _dir_rows("wilson", "lower_better", 30, 45, "prev_supp") + _dir_rows("wilson", "lower_better", 30, 45,
                                                                                  "cur_supp")
    rows += _dir_rows("wilson", "no_judgement", 30, 45, "nojudge")
    rows[0].update(suppressed=True, numerator=None)
    rows[3].update(suppressed=True)  # current suppressed (count left in place): still null
    rows.append(row(area_code="new_area", period="2024/25", numerator=90))  # no row in 2023/24
    d = _direction(rows)
    assert d[("NI 55", "prev_supp", "2024/25")] is None
    assert d[("NI 55", "cur_supp", "2024/25")] is None
    assert d[("NI 55", "nojudge", "2024/25")] is None
    assert d[("NI 55", "new_area", "2024/25")] is None


def test_direction_previous_period_is_per_indicator_and_breakdown():
    # NI 56 has no 2023/24, so its 2024/25 is compared with 2022/23, even though NI 55 has 2023/24
    rows = [
        row(indicator_id="NI 56", period="2022/23", numerator=30),
        row(indicator_id="NI 56", period="2024/25", numerator=45),
        row(indicator_id="NI 55", period="2023/24", numerator=45),
        row(indicator_id="NI 55", period="2024/25", numerator=45),
        # breakdowns are matched to themselves
        row(indicator_id="NI 55", period="2023/24", numerator=45, breakdown="sex=F"),
        row(indicator_id="NI 55", period="2024/25", numerator=20, breakdown="sex=F"),
    ]
    out = a.add_direction(frame(rows)).collect()
    d = {(r["indicator_id"], r["period"], r["breakdown"]): r["direction"] for r in out.iter_rows(named=True)}
    assert d[("NI 56", "2024/25", "all")] == "worsening"
    assert d[("NI 56", "2022/23", "all")] is None
    assert d[("NI 55", "2024/25", "all")] == "no_change"
    assert d[("NI 55", "2024/25", "sex=F")] == "improving"  # 45% -> 20%, lower is better
    assert out.height == len(rows)
    assert out.columns == list(SCHEMA) + ["direction"]  # no helper columns left behind


# ---------------------------------------------------------------- quartiles
def _q_rows(values, polarity="lower_better", level="ward", prefix="W"):
    return [row(area_code=f"{prefix}{i}", area_level=level, value=v, polarity=polarity)
            for i, v in enumerate(values, start=1)]


def _quartiles(rows) -> list:
    out = a.add_quartile(frame(rows)).collect()
    return by_area(out, "quartile")


EIGHT = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0]


def test_quartile_eight_areas_both_polarities():
    # N = 8, N/nq = 2: q = floor(5 - ceil((9 - rank)/2)): ranks 1,2 -> 1; 3,4 -> 2; 5,6 -> 3; 7,8 -> 4
    q = _quartiles(_q_rows(EIGHT, "lower_better"))  # lowest value ranks first
    assert [q[f"W{i}"] for i in range(1, 9)] == [1, 1, 2, 2, 3, 3, 4, 4]
    q = _quartiles(_q_rows(EIGHT, "higher_better"))  # highest value ranks first
    assert [q[f"W{i}"] for i in range(1, 9)] == [4, 4, 3, 3, 2, 2, 1, 1]
    # input order does not matter
    q = _quartiles(_q_rows([50.0, 10.0, 80.0, 30.0, 20.0, 70.0, 40.0, 60.0], "lower_better"))
    assert [q[f"W{i}"] for i in range(1, 9)] == [3, 1, 4, 2, 1, 4, 2, 3]


def test_quartile_five_areas():
    # N = 5, N/nq = 1.25: rank 1: ceil(5/1.25 = 4) -> 1; 2: ceil(3.2) = 4 -> 1; 3: ceil(2.4) = 3 -> 2;
    # 4: ceil(1.6) = 2 -> 3; 5: ceil(0.8) = 1 -> 4
    q = _quartiles(_q_rows([1.0, 2.0, 3.0, 4.0, 5.0], "lower_better"))
    assert [q[f"W{i}"] for i in range(1, 6)] == [1, 1, 2, 3, 4]


def test_quartile_ties_share_the_better_quartile():
    # lower_better, values 1, 2, 2, 4, ...: ranks (min) 1, 2, 2, 4, 5, 6, 7, 8; the tie at ranks 2-3
    # straddles the 1/2 boundary and both get rank 2 -> quartile 1
    q = _quartiles(_q_rows([1.0, 2.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0], "lower_better"))
    assert [q[f"W{i}"] for i in range(1, 9)] == [1, 1, 1, 2, 3, 3, 4, 4]
    # higher_better, values 8, 8, 8, 5, ...: ranks 1, 1, 1, 4, ... -> 1, 1, 1, 2, 3, 3, 4, 4
    q = _quartiles(_q_rows([8.0, 8.0, 8.0, 5.0, 4.0, 3.0, 2.0, 1.0], "higher_better"))
    assert [q[f"W{i}"] for i in range(1, 9)] == [1, 1, 1, 2, 3, 3, 4, 4]


def test_quartile_suppressed_area_excluded():
    rows = _q_rows(EIGHT, "lower_better")
    rows.append(row(area_code="S1", value=None, suppressed=True))  # withheld
    rows.append(row(area_code="S2", value=1.0, suppressed=True))  # stale value on a suppressed row: ignored
    q = _quartiles(rows)
    assert [q[f"W{i}"] for i in range(1, 9)] == [1, 1, 2, 2, 3, 3, 4, 4]  # N is still 8
    assert q["S1"] is None and q["S2"] is None


def test_quartile_too_few_areas_and_groups():
    rows = _q_rows(EIGHT, "lower_better")
    rows += _q_rows([1.0, 2.0, 3.0], "lower_better", level="district", prefix="D")  # N = 3 < 4
    rows += _q_rows([1.0, 2.0, 3.0, None], "lower_better", level="partnership", prefix="P")  # N = 3 non-null
    rows += [dict(r, breakdown="sex=F", area_code=r["area_code"] + "F") for r in _q_rows(EIGHT[:4])]
    rows += [dict(r, polarity="no_judgement", indicator_id="NJ") for r in _q_rows(EIGHT, prefix="N")]
    q = _quartiles(rows)
    assert [q[f"W{i}"] for i in range(1, 9)] == [1, 1, 2, 2, 3, 3, 4, 4]  # districts are not counted with wards
    assert all(q[f"D{i}"] is None for i in range(1, 4))
    assert all(q[f"P{i}"] is None for i in range(1, 5))
    # N = 4, N/nq = 1: rank r -> 5 - (5 - r) = r
    assert [q[f"W{i}F"] for i in range(1, 5)] == [1, 2, 3, 4]
    assert all(q[f"N{i}"] is None for i in range(1, 9))


# ---------------------------------------------------------------- the whole stage and the invariant
def test_assess_suppressed_rows_have_nothing_derived():
    rows = []
    for period, shift in (("2023/24", 0), ("2024/25", 15)):
        for i in range(1, 7):
            rows.append(row(period=period, area_code=f"W{i}", numerator=20 + 5 * i + shift, denominator=100.0,
                            suppressed=(i == 6)))
    # a suppressed row arriving with its counts and value still in place must come out clean
    f = add_confidence_limits(frame(rows).drop("value", "lower_95", "upper_95", "lower_998", "upper_998")
                              .with_columns(multiplier=pl.lit(100)))
    bench = benchmarks(("NI 55", "2023/24", "England", 30.0), ("NI 55", "2024/25", "England", 30.0))
    out = a.assess(f, bench).collect()
    assert out.height == len(rows)
    derived = ["value", "lower_95", "upper_95", "lower_998", "upper_998", "vs_benchmark", "rag", "direction",
               "quartile"]
    for r in out.filter(pl.col("suppressed")).iter_rows(named=True):
        assert all(r[c] is None for c in derived), r
    live = out.filter(~pl.col("suppressed") & (pl.col("period") == "2024/25"))
    assert live["value"].null_count() == 0 and live["rag"].null_count() == 0
    assert live["quartile"].null_count() == 0 and live["direction"].null_count() == 0
    # W1 2024/25: 40/100 vs 25/100 -> pooled 0.325, se 0.066238, z = 2.26 -> worsening (lower is better)
    w1 = live.filter(pl.col("area_code") == "W1").row(0, named=True)
    assert w1["direction"] == "worsening" and w1["quartile"] == 1 and w1["benchmark_value"] == 30.0
    # W1 2024/25 = 40% with Wilson 95% limits 30.9-49.8: entirely above 30 -> worse -> red
    assert w1["vs_benchmark"] == "worse" and w1["rag"] == "red"
    assert out.schema["quartile"] == pl.Int32
    assert out.schema["rag"] == pl.String and out.schema["direction"] == pl.String


# ---------------------------------------------------------------- RAG rules (issue 7)
def _rag_rows(rule, polarity, cases, target=(50.0, 2.0), indicator="T"):
    """cases: area -> (value, lower_95, upper_95); benchmark 60 for indicator T."""
    rows = []
    for area, (v, lo, hi) in cases.items():
        r = row(indicator_id=indicator, area_code=area, value=v, lower_95=lo, upper_95=hi, polarity=polarity)
        r.update(target_value=target[0] if target else None, target_tolerance=target[1] if target else None,
                 rag_rule=rule)
        rows.append(r)
    return rows


def _rag(rows, bench_value=60.0):
    f = frame(rows, {"target_value": pl.Float64, "target_tolerance": pl.Float64, "rag_rule": pl.String})
    bench = benchmarks(("T", "2024/25", "England", bench_value))
    return by_area(a.add_rag(a.add_benchmark_comparison(f, bench)).collect(), "rag")


def test_rag_rule_target_both_polarities_and_ties():
    # target 50 +/- 2; the benchmark does not matter for the target rule
    hb = _rag(_rag_rows("target", "higher_better", {
        "above": (55.0, 50.0, 60.0), "on": (50.0, 45.0, 55.0),  # exactly on target: met -> green
        "within": (49.0, 44.0, 54.0), "edge": (48.0, 43.0, 53.0),  # exactly target - tolerance: amber
        "miss": (47.9, 43.0, 53.0),
    }))
    assert hb == {"above": "green", "on": "green", "within": "amber", "edge": "amber", "miss": "red"}
    lb = _rag(_rag_rows("target", "lower_better", {
        "below": (45.0, 40.0, 50.0), "on": (50.0, 45.0, 55.0), "within": (51.0, 46.0, 56.0),
        "edge": (52.0, 47.0, 57.0), "miss": (52.1, 47.0, 57.0),
    }))
    assert lb == {"below": "green", "on": "green", "within": "amber", "edge": "amber", "miss": "red"}


def test_rag_rule_benchmark_ignores_the_target():
    out = _rag(_rag_rows("benchmark", "higher_better", {
        "better": (70.0, 65.0, 75.0),  # misses nothing, above England 60
        "worse_on_target": (55.0, 52.0, 58.0),  # target met but significantly below England: red
        "similar": (58.0, 50.0, 66.0),
    }))
    assert out == {"better": "green", "worse_on_target": "red", "similar": "amber"}


def test_rag_rule_target_and_benchmark_needs_both_to_agree():
    # higher_better, England 60, target 50 +/- 2 (missed below 48)
    hb = _rag(_rag_rows("target_and_benchmark", "higher_better", {
        "better_met": (70.0, 65.0, 75.0),  # green
        "worse_missed": (40.0, 35.0, 45.0),  # red
        "worse_within": (49.0, 45.0, 53.0),  # worse but within tolerance: amber
        "similar_missed": (47.0, 30.0, 64.0),  # similar: amber even though the target is missed
    }))
    assert hb == {"better_met": "green", "worse_missed": "red", "worse_within": "amber", "similar_missed": "amber"}
    # lower_better, England 60, target 70 +/- 2 (missed above 72): better than England and on target -> green;
    # better than England but missing the target -> amber; worse and missing -> red
    lb = _rag(_rag_rows("target_and_benchmark", "lower_better", {
        "better_met": (50.0, 45.0, 55.0), "worse_missed": (80.0, 75.0, 85.0), "worse_edge": (72.0, 65.0, 79.0),
    }, target=(70.0, 2.0)))
    assert lb == {"better_met": "green", "worse_missed": "red", "worse_edge": "amber"}
    lb = _rag(_rag_rows("target_and_benchmark", "lower_better", {"better_missed": (50.0, 45.0, 55.0)},
                        target=(40.0, 2.0)))
    assert lb == {"better_missed": "amber"}


def test_rag_rule_default_withheld_and_no_judgement():
    rows = _rag_rows(None, "higher_better", {"default_target": (40.0, 35.0, 45.0)})  # target -> both rule: red
    rows += _rag_rows(None, "higher_better", {"default_bench": (55.0, 52.0, 58.0)}, target=None)  # benchmark: red
    rows += _rag_rows("target", "higher_better", {"withheld": (55.0, 52.0, 58.0)})
    rows[-1]["suppressed"] = True
    rows += _rag_rows("benchmark", "no_judgement", {"nojudge": (55.0, 52.0, 58.0)}, target=None)
    rows += _rag_rows("target", "higher_better", {"novalue": (None, None, None)})
    out = _rag(rows)
    assert out == {"default_target": "red", "default_bench": "red", "withheld": None, "nojudge": None,
                   "novalue": None}
    # the benchmark rules give no RAG without a benchmark for the period
    assert set(_rag(_rag_rows("target_and_benchmark", "higher_better", {"x": (70.0, 65.0, 75.0)}),
                    bench_value=None).values()) == {None}


def test_rag_rule_text():
    assert a.rag_rule_text("benchmark", "higher_better", "percentage") == (
        "Green: significantly better than England (95% confidence interval); amber: similar; red: significantly "
        "worse. No RAG where the value is withheld.")
    text = a.rag_rule_text("target", "higher_better", "percentage", 85.0, 2.0)
    assert text.startswith("Target 85% ± 2 percentage points. Green: at or above the target; amber: below it by "
                           "no more than 2 percentage points; red: below 83%.")
    text = a.rag_rule_text("target_and_benchmark", "lower_better", "rate per 100,000", 150.0, 10.0)
    assert "Target 150 per 100,000 ± 10 per 100,000" in text
    assert "red: significantly worse than England and above 160 per 100,000" in text
    assert a.rag_rule_text(None, "no_judgement", "percentage").startswith("No RAG")
    with pytest.raises(ValueError):
        a.rag_rule_text("target", "higher_better", "percentage")


# ---------------------------------------------------------------- trend over 5 points (issue 7)
YEARS = ["2020/21", "2021/22", "2022/23", "2023/24", "2024/25"]


def _trend_rows(xs, ns, ci_method="wilson", polarity="lower_better", area="A", indicator="NI 55", periods=YEARS,
                **extra_cols):
    rows = []
    for i, (p, x, n) in enumerate(zip(periods, xs, ns)):
        r = row(indicator_id=indicator, area_code=area, period=p, numerator=x, denominator=float(n),
                ci_method=ci_method, polarity=polarity)
        for c, vals in extra_cols.items():
            r[c] = vals[i]
        rows.append(r)
    return rows


def _trend(rows, extra=None) -> dict:
    out = a.add_trend(frame(rows, extra)).collect()
    return {(r["area_code"], r["period"]): r["trend"] for r in out.iter_rows(named=True)}


def test_trend_cochran_armitage_by_hand_both_polarities():
    # 10, 12, 14, 16, 18 of 100: N = 500, X = 70, p = 0.14, t̄ = 2, U = -20 - 12 + 16 + 36 = 20,
    # Σn(t - t̄)² = 1000, V = 0.14 * 0.86 * 1000 = 120.4, z = 20 / 10.9727 = 1.8227 -> not significant
    assert stats.trend_z([10, 12, 14, 16, 18], [100] * 5, "wilson") == pytest.approx(1.822707, abs=1e-6)
    # the same proportions of 200: U = 40, V = 240.8, z = 40 / 15.5177 = 2.5777 -> significant rise
    assert stats.trend_z([20, 24, 28, 32, 36], [200] * 5, "wilson") == pytest.approx(2.577696, abs=1e-6)
    rows = (_trend_rows([10, 12, 14, 16, 18], [100] * 5, area="small")
            + _trend_rows([20, 24, 28, 32, 36], [200] * 5, area="rise_lb")
            + _trend_rows([20, 24, 28, 32, 36], [200] * 5, polarity="higher_better", area="rise_hb")
            + _trend_rows([36, 32, 28, 24, 20], [200] * 5, area="fall_lb")
            + _trend_rows([36, 32, 28, 24, 20], [200] * 5, polarity="higher_better", area="fall_hb"))
    t = _trend(rows)
    assert t[("small", "2024/25")] == "no_change"
    assert t[("rise_lb", "2024/25")] == "worsening" and t[("rise_hb", "2024/25")] == "improving"
    assert t[("fall_lb", "2024/25")] == "improving" and t[("fall_hb", "2024/25")] == "worsening"
    # fewer than 5 points before 2024/25: every earlier year has no trend
    assert all(v is None for (area, p), v in t.items() if p != "2024/25")


def test_trend_poisson_means_and_gaps():
    # rates: score test of the Poisson regression slope: 10..18 per 1000: p = 0.014, Σn(t - t̄)² = 10000,
    # V = 140, z = 20 / 11.8322 = 1.6903
    assert stats.trend_z([10, 12, 14, 16, 18], [1000] * 5, "byars") == pytest.approx(1.690309, abs=1e-6)
    # means 10..14, n = 25, s² = 25 -> var(mean) = 1, w = 1: b = 1, se = 1/sqrt(10), z = 3.1623
    ns = [25] * 5
    sums = [25 * m for m in (10, 11, 12, 13, 14)]
    ss = [24 * 25 + s * s / 25 for s in sums]
    assert stats.trend_z(sums, ns, "mean_t", ss=ss) == pytest.approx(math.sqrt(10), abs=1e-9)
    rows = (_trend_rows([10, 12, 14, 16, 18], [1000] * 5, "byars", area="rate")
            + _trend_rows([100, 140, 180, 220, 260], [1000] * 5, "byars", area="rate_big")
            + _trend_rows(sums, ns, "mean_t", "higher_better", area="mean", sum_squares=ss))
    t = _trend([dict(r, sum_squares=r.get("sum_squares")) for r in rows], {"sum_squares": pl.Float64})
    assert t[("rate", "2024/25")] == "no_change"
    assert t[("rate_big", "2024/25")] == "worsening"
    assert t[("mean", "2024/25")] == "improving"
    # gaps: group 1 steady at 60%, group 2 falling 50% -> 30%: the gap widens (lower is better: worsening)
    g = dict(numerator_2=[50, 45, 40, 35, 30], denominator_2=[100.0] * 5)
    gap_rows = _trend_rows([60] * 5, [100] * 5, "newcombe", area="gap", **g)
    z = stats.trend_z([60] * 5, [100] * 5, "newcombe", x2=g["numerator_2"], n2=g["denominator_2"])
    assert z > stats.Z95
    t = _trend(gap_rows, {"numerator_2": pl.Int64, "denominator_2": pl.Float64})
    assert t[("gap", "2024/25")] == "worsening"


def test_trend_expression_agrees_with_the_scalar():
    import random

    rnd = random.Random(7)
    rows, expect = [], {}
    for i in range(40):
        method = ("wilson", "byars")[i % 2]
        ns = [rnd.randint(50, 400) for _ in range(5)]
        xs = [rnd.randint(0, n) if method == "wilson" else rnd.randint(0, 60) for n in ns]
        rows += _trend_rows(xs, ns, method, area=f"A{i}")
        z = stats.trend_z(xs, ns, method)
        expect[f"A{i}"] = "no_change" if abs(z) <= stats.Z95 else ("worsening" if z > 0 else "improving")
    t = _trend(rows)
    assert {area: v for (area, p), v in t.items() if p == "2024/25"} == expect


def test_trend_null_when_withheld_or_too_few_points():
    rows = _trend_rows([20, 24, 28, 32, 36], [200] * 5, area="gap_in_middle")
    rows[2].update(suppressed=True, numerator=None)  # a withheld year among the five
    rows += _trend_rows([20, 24, 28, 32, 36], [200] * 5, area="withheld_now")
    rows[-1].update(suppressed=True)  # the current row withheld (count still in place): null
    rows += _trend_rows([24, 28, 32, 36], [200] * 4, area="four", periods=YEARS[1:])
    rows += _trend_rows([20, 24, 28, 32, 36], [200] * 5, area="nojudge", polarity="no_judgement")
    rows += _trend_rows([20, 24, 32, 36], [200] * 4, area="missing_year", periods=YEARS[:2] + YEARS[3:])
    t = _trend(rows)
    for area in ("gap_in_middle", "withheld_now", "four", "nojudge", "missing_year"):
        assert t[(area, "2024/25")] is None, area
    out = a.assess(frame(_trend_rows([20, 24, 28, 32, 36], [200] * 5, area="W")), benchmarks()).collect()
    assert out.filter(pl.col("period") == "2024/25")["trend"].to_list() == ["worsening"]
    assert "trend" in a.SUPPRESSED_NULL_COLUMNS and "national_quartile" in a.SUPPRESSED_NULL_COLUMNS


def test_trend_quarters_compare_the_same_quarter():
    periods = [f"{y} Q2" for y in YEARS]
    rows = _trend_rows([20, 24, 28, 32, 36], [200] * 5, periods=periods, area="q")
    rows += _trend_rows([36, 36, 36, 36, 36], [200] * 4 + [200], periods=[f"{y} Q1" for y in YEARS], area="q")
    t = _trend(rows)
    assert t[("q", "2024/25 Q2")] == "worsening" and t[("q", "2024/25 Q1")] == "no_change"


# ---------------------------------------------------------------- national quartile (issue 7)
def test_national_quartile_by_thresholds_both_polarities_and_ties():
    th = pl.DataFrame({"indicator_id": ["NI 55"], "period": ["2024/25"], "benchmark": ["England"],
                       "area_level": ["district"], "lower_quartile": [8.0], "median": [10.0],
                       "upper_quartile": [12.0], "source": ["test"]})
    values = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]  # 8, 10, 12 lie exactly on a threshold: the better quartile
    for polarity, want in (("lower_better", [1, 1, 2, 2, 3, 3, 4]), ("higher_better", [4, 3, 3, 2, 2, 1, 1])):
        rows = _q_rows(values, polarity, level="district", prefix="D")
        rows.append(row(area_code="W", area_level="ward", value=9.0, polarity=polarity))
        rows.append(row(area_code="S", area_level="district", value=9.0, suppressed=True, polarity=polarity))
        rows.append(row(area_code="F", area_level="district", value=9.0, breakdown="sex=F", polarity=polarity))
        rows.append(row(area_code="P", area_level="district", period="2023/24", value=9.0, polarity=polarity))
        out = a.add_national_quartile(frame(rows), th).collect()
        q = by_area(out, "national_quartile")
        assert [q[f"D{i}"] for i in range(1, 8)] == want, polarity
        assert q["W"] is None and q["S"] is None and q["F"] is None and q["P"] is None
        assert out.schema["national_quartile"] == pl.Int32 and out.height == len(rows)
    nj = a.add_national_quartile(frame(_q_rows(values, "no_judgement", level="district")), th).collect()
    assert nj["national_quartile"].null_count() == nj.height
    assert a.add_national_quartile(frame(_q_rows(values, level="district")), None).collect()[
        "national_quartile"].null_count() == len(values)
