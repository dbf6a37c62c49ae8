"""Assessment stage on hand-made frames: benchmark comparison, RAG, direction, quartile, suppression."""
from __future__ import annotations

import polars as pl
import pytest

from pipelines import assessment as a
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
