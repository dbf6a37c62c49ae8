"""Assessment stage: benchmark comparison, RAG, direction of travel and quartile.

Pure functions LazyFrame -> LazyFrame, no I/O. Input rows are `indicator_values` after the stats stage:
indicator_id, period, area_code, area_level, breakdown, numerator, denominator, value, lower_95,
upper_95, suppressed, plus the indicator's `polarity` ("higher_better" | "lower_better" |
"no_judgement") and `ci_method` ("wilson" | "byars" | "mean_t" | "newcombe") on every row; a gap also
has numerator_2 / denominator_2 and a mean sum_squares (used by the direction of travel).

Rules (each function's docstring has the detail):

- vs_benchmark: the area's 95% interval against the benchmark value (Fingertips): entirely above ->
  higher, entirely below -> lower, touching or containing -> similar; higher/lower -> better/worse by
  polarity.
- rag: by the indicator's rule (`rag_rule`): benchmark (green = significantly better than England,
  amber = similar, red = significantly worse), target (met / missed within tolerance / missed beyond
  it) or target_and_benchmark (both must agree for green or red); `rag_rule_text` says it in words.
- direction: significant change (two-sample z test at 95%) from the previous period of the same kind
  (year, same quarter, 12-month window a year earlier) of the same indicator, area and breakdown;
  improving/worsening by polarity, else no_change.
- trend: a test for trend over the last 5 points of the same period kind (Cochran-Armitage for
  proportions, Poisson regression score test for rates, inverse-variance weighted regression for means
  and gaps) at 95%; improving/worsening by polarity, else no_change; null without 5 published points.
- quartile: PHE quantile method (nq = 4, ties "min") among areas of the same level; 1 = best.
- national_quartile: a district's quartile against England's quartile thresholds (benchmark data).

Whatever the functions compute, `assess` ends by nulling value, limits, vs_benchmark, rag, direction,
trend, quartile and national_quartile on suppressed rows: nothing derived from a withheld count is shown.
"""
from __future__ import annotations

import polars as pl

from pipelines.stats import TREND_POINTS, Z95, compare_expr, trend_expr

NQ = 4
#: Columns nulled on a suppressed row by `assess` (those present in the frame).
SUPPRESSED_NULL_COLUMNS = (
    "value", "lower_95", "upper_95", "lower_998", "upper_998", "vs_benchmark", "rag", "direction", "trend",
    "quartile", "national_quartile",
)
_JUDGED = pl.col("polarity").is_in(["higher_better", "lower_better"])


def _not_suppressed(schema_names: list[str]) -> pl.Expr:
    if "suppressed" in schema_names:
        return pl.col("suppressed").fill_null(False).not_()
    return pl.lit(True)


def _by_polarity(higher: pl.Expr, lower: pl.Expr, up: str, down: str) -> pl.Expr:
    """Map a 'higher' / 'lower' finding to the polarity's good/bad label (up = good word, down = bad)."""
    hb = pl.col("polarity") == "higher_better"
    lb = pl.col("polarity") == "lower_better"
    return (
        pl.when(higher & hb).then(pl.lit(up))
        .when(higher & lb).then(pl.lit(down))
        .when(lower & hb).then(pl.lit(down))
        .when(lower & lb).then(pl.lit(up))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def add_benchmark_comparison(
    values: pl.LazyFrame, benchmarks: pl.LazyFrame | pl.DataFrame, benchmark: str = "England"
) -> pl.LazyFrame:
    """Add benchmark_value and vs_benchmark ('better' | 'similar' | 'worse' | null).

    benchmarks: indicator_id, period, benchmark, value (as `pipelines.specs.load_benchmarks()`); the row
    named `benchmark` is joined on indicator_id and period. As Fingertips compares an area with a
    benchmark: lower_95 > benchmark -> higher; upper_95 < benchmark -> lower; otherwise (the interval
    contains or touches the benchmark) similar. higher is 'better' for higher_better and 'worse' for
    lower_better, and the reverse for lower. Null where the row is suppressed, there is no benchmark
    value, the limits are null, or the indicator is no_judgement.
    """
    bench = (
        benchmarks.lazy()
        .filter(pl.col("benchmark") == benchmark)
        .select("indicator_id", "period", pl.col("value").cast(pl.Float64).alias("benchmark_value"))
        .unique(subset=["indicator_id", "period"], keep="first")
    )
    names = values.collect_schema().names()
    if "benchmark_value" in names:
        values = values.drop("benchmark_value")
    out = values.join(bench, on=["indicator_id", "period"], how="left", maintain_order="left")
    b = pl.col("benchmark_value")
    lo, hi = pl.col("lower_95"), pl.col("upper_95")
    known = _not_suppressed(names) & _JUDGED & b.is_not_null() & lo.is_not_null() & hi.is_not_null()
    higher, lower = lo > b, hi < b
    vs = (
        pl.when(known.not_()).then(pl.lit(None, dtype=pl.String))
        .when(higher | lower).then(_by_polarity(higher, lower, "better", "worse"))
        .otherwise(pl.lit("similar"))
    )
    return out.with_columns(vs.alias("vs_benchmark"))


#: The RAG rules (`IndicatorSpec.rag_rule`); the default is target_and_benchmark with a target, else benchmark.
RAG_RULES = ("benchmark", "target", "target_and_benchmark")


def _target_status(values_names: list[str]) -> pl.Expr:
    """'met' | 'within' | 'missed' | null: the value against target_value and target_tolerance by polarity.

    higher_better: met when value >= target; within when target - tolerance <= value < target; missed when
    value < target - tolerance. lower_better: the mirror (met when value <= target, missed when value >
    target + tolerance). Null without a target, a value or a polarity.
    """
    if "target_value" not in values_names:
        return pl.lit(None, dtype=pl.String)
    t = pl.col("target_value").cast(pl.Float64)
    tol = pl.col("target_tolerance").cast(pl.Float64).fill_null(0.0) if "target_tolerance" in values_names \
        else pl.lit(0.0)
    v = pl.col("value").cast(pl.Float64)
    hb, lb = pl.col("polarity") == "higher_better", pl.col("polarity") == "lower_better"
    known = t.is_not_null() & v.is_not_null() & (hb | lb)
    met = (hb & (v >= t)) | (lb & (v <= t))
    missed = (hb & (v < t - tol)) | (lb & (v > t + tol))
    return (
        pl.when(known.not_()).then(pl.lit(None, dtype=pl.String))
        .when(met).then(pl.lit("met"))
        .when(missed).then(pl.lit("missed"))
        .otherwise(pl.lit("within"))
    )


def rag_rule_expr(names: list[str]) -> pl.Expr:
    """The rule each row follows: its `rag_rule` column where set, else target_and_benchmark where the row
    has a target, else benchmark."""
    has_target = pl.col("target_value").is_not_null() if "target_value" in names else pl.lit(False)
    default = pl.when(has_target).then(pl.lit("target_and_benchmark")).otherwise(pl.lit("benchmark"))
    if "rag_rule" in names:
        return pl.coalesce(pl.col("rag_rule"), default)
    return default


def add_rag(values: pl.LazyFrame) -> pl.LazyFrame:
    """Add rag ('green' | 'amber' | 'red' | null) by the row's RAG rule (run `add_benchmark_comparison` first).

    Rules (per indicator, `rag_rule` in its YAML; see `rag_rule_expr` for the default):

    - benchmark: green = significantly better than England (the 95% interval, `vs_benchmark`), amber =
      similar, red = significantly worse.
    - target: against target_value with target_tolerance (in the indicator's unit), by polarity:
      green = target met (higher_better: value >= target; lower_better: value <= target), amber = missed
      by no more than the tolerance, red = missed by more than the tolerance.
    - target_and_benchmark: both must agree. green = significantly better than England and the target
      not missed by more than the tolerance; red = significantly worse than England and the target
      missed by more than the tolerance; amber otherwise (similar to England, or the two disagree).

    Null where the row is suppressed, the indicator is no_judgement, or what the rule needs is missing
    (no benchmark comparison for the benchmark rules; no target or value for the target rules).
    """
    names = values.collect_schema().names()
    vs = pl.col("vs_benchmark")
    target = _target_status(names)
    rule = rag_rule_expr(names)
    bench_rag = (
        pl.when(vs == "better").then(pl.lit("green"))
        .when(vs == "similar").then(pl.lit("amber"))
        .when(vs == "worse").then(pl.lit("red"))
    )
    target_rag = (
        pl.when(target == "met").then(pl.lit("green"))
        .when(target == "within").then(pl.lit("amber"))
        .when(target == "missed").then(pl.lit("red"))
    )
    both_rag = (
        pl.when(vs.is_null() | target.is_null()).then(pl.lit(None, dtype=pl.String))
        .when((vs == "better") & (target != "missed")).then(pl.lit("green"))
        .when((vs == "worse") & (target == "missed")).then(pl.lit("red"))
        .otherwise(pl.lit("amber"))
    )
    rag = (
        pl.when(_not_suppressed(names).not_() | _JUDGED.not_()).then(pl.lit(None, dtype=pl.String))
        .when(rule == "target").then(target_rag)
        .when(rule == "target_and_benchmark").then(both_rag)
        .otherwise(bench_rag)
    )
    return values.with_columns(rag.alias("rag"))


def _fmt_number(v: float) -> str:
    return f"{v:,.6g}" if abs(v) >= 1000 else f"{v:.6g}"


def format_in_unit(v: float, unit: str) -> str:
    """A target or tolerance written in the indicator's unit ('85%', '5.5 per 100,000', '12 points')."""
    if unit.startswith("percentage points"):
        return f"{_fmt_number(v)} percentage points"
    if unit.startswith("percentage"):
        return f"{_fmt_number(v)}%"
    if unit.startswith("rate "):
        return f"{_fmt_number(v)} {unit[len('rate '):]}"
    return f"{_fmt_number(v)} ({unit})"


def _tolerance_text(tol: float, unit: str) -> str:
    if unit.startswith("percentage"):
        return f"{_fmt_number(tol)} percentage points"
    return format_in_unit(tol, unit)


def rag_rule_text(
    rule: str | None, polarity: str, unit: str, target_value: float | None = None,
    target_tolerance: float | None = None, benchmark: str = "England",
) -> str:
    """The RAG rule of one indicator in words, shown beside every RAG (release `indicators.rag_rule_text`)."""
    if polarity not in ("higher_better", "lower_better") or rule is None:
        return "No RAG: this indicator has no better or worse direction (no judgement)."
    withheld = " No RAG where the value is withheld."
    bench = (f"Green: significantly better than {benchmark} (95% confidence interval); amber: similar; "
             f"red: significantly worse.")
    if rule == "benchmark":
        return bench + withheld
    if target_value is None:
        raise ValueError(f"rag rule {rule} needs a target")
    tol = target_tolerance or 0.0
    good = "at or above" if polarity == "higher_better" else "at or below"
    bad = "below" if polarity == "higher_better" else "above"
    limit = target_value - tol if polarity == "higher_better" else target_value + tol
    target = format_in_unit(target_value, unit)
    tol_txt = _tolerance_text(tol, unit)
    if rule == "target":
        return (f"Target {target} ± {tol_txt}. Green: {good} the target; amber: {bad} it by no more than "
                f"{tol_txt}; red: {bad} {format_in_unit(limit, unit)}." + withheld)
    if rule == "target_and_benchmark":
        return (f"Target {target} ± {tol_txt}, with the comparison with {benchmark} (95% confidence "
                f"interval). Green: significantly better than {benchmark} and not {bad} "
                f"{format_in_unit(limit, unit)}; red: significantly worse than {benchmark} and {bad} "
                f"{format_in_unit(limit, unit)}; amber: otherwise." + withheld)
    raise ValueError(f"unknown rag rule {rule!r}")


def period_kind_expr(period: str | pl.Expr = "period") -> pl.Expr:
    """What a period is compared with: 'year' ('2023/24'), 'Q<n>' ('2023/24 Q2': the same quarter of
    other years) or '12m-<MM>' ('12m to 2024-06': windows ending in the same month of other years)."""
    p = pl.col(period) if isinstance(period, str) else period
    return (
        pl.when(p.str.contains(r"^12m to \d{4}-\d{2}$")).then(pl.concat_str([pl.lit("12m-"), p.str.slice(-2)]))
        .when(p.str.contains(r" Q[1-4]$")).then(p.str.slice(-2))
        .otherwise(pl.lit("year"))
    )


#: count columns carried from the previous period for the methods that need them
_PREV_EXTRA = ("numerator_2", "denominator_2", "sum_squares")


def add_direction(values: pl.LazyFrame) -> pl.LazyFrame:
    """Add direction ('improving' | 'worsening' | 'no_change' | null): direction of travel by significance.

    The previous period of a row is the latest earlier period of the same kind (`period_kind_expr`) in
    the indicator's own sorted (lexical) list of periods: a year is compared with the year before it
    ("2022/23" < "2023/24"), a quarter with the same quarter a year earlier (no seasonality), a 12-month
    window with the window ending 12 months earlier (so the two never overlap); the row compared is the
    same indicator, area_code and breakdown in that period. The change is tested with
    `pipelines.stats.compare_expr` (pooled two-proportion z test for "wilson", log rate ratio z test for
    "byars", two-sample z test of means for "mean_t", z test of the difference of two gaps for
    "newcombe") at 95%: |z| > 1.959964 is a significant change, its sign gives higher/lower, mapped by
    polarity to improving/worsening; otherwise no_change. Null where either row is suppressed, there is
    no previous period or no row for it, a count is null, the test is undefined (a rate with a zero
    count), or the indicator is no_judgement.
    """
    names = values.collect_schema().names()
    keys = ["indicator_id", "area_code", "breakdown"]
    periods = (
        values.select("indicator_id", "period").unique()
        .with_columns(period_kind_expr().alias("_kind"))
        .sort("indicator_id", "_kind", "period")
        .with_columns(pl.col("period").shift(1).over("indicator_id", "_kind").alias("_prev_period"))
        .drop("_kind")
    )
    prev_supp = pl.col("suppressed").fill_null(False) if "suppressed" in names else pl.lit(False)
    extra = [c for c in _PREV_EXTRA if c in names]
    previous = values.select(
        *keys,
        pl.col("period").alias("_prev_period"),
        pl.col("numerator").alias("_prev_x"),
        pl.col("denominator").alias("_prev_n"),
        *[pl.col(c).alias(f"_prev_{c}") for c in extra],
        prev_supp.alias("_prev_suppressed"),
    )
    out = (
        values.join(periods, on=["indicator_id", "period"], how="left", maintain_order="left")
        .join(previous, on=[*keys, "_prev_period"], how="left", maintain_order="left")
    )
    kw = {}
    if {"numerator_2", "denominator_2"} <= set(extra):
        kw.update(a_x2="numerator_2", a_n2="denominator_2", b_x2="_prev_numerator_2", b_n2="_prev_denominator_2")
    if "sum_squares" in extra:
        kw.update(a_ss="sum_squares", b_ss="_prev_sum_squares")
    z = compare_expr("numerator", "denominator", "_prev_x", "_prev_n", "ci_method", **kw)
    usable = (
        _not_suppressed(names) & _JUDGED
        & pl.col("_prev_suppressed").is_not_null() & pl.col("_prev_suppressed").not_()
        & z.is_not_null()
    )
    direction = (
        pl.when(usable.not_()).then(pl.lit(None, dtype=pl.String))
        .when(z.abs() > Z95).then(_by_polarity(z > 0, z < 0, "improving", "worsening"))
        .otherwise(pl.lit("no_change"))
    )
    return out.with_columns(direction.alias("direction")).drop(
        "_prev_period", "_prev_x", "_prev_n", "_prev_suppressed", *[f"_prev_{c}" for c in extra]
    )


def add_trend(values: pl.LazyFrame, points: int = TREND_POINTS) -> pl.LazyFrame:
    """Add trend ('improving' | 'worsening' | 'no_change' | null): a test for trend over `points` periods.

    For each row, the `points` periods of its kind (`period_kind_expr`) ending at its own period, in the
    indicator's sorted list of periods of that kind (years: this year and the 4 before it; a quarter:
    the same quarter of 5 years; a window: the windows ending in the same month of 5 years), equally
    spaced scores t = 0..4. Every one of them must have a published (not suppressed) row for the same
    indicator, area and breakdown; otherwise null. The test is `pipelines.stats.trend_expr` by
    ci_method (Cochran-Armitage, Poisson score test, weighted regression of means or gaps); |z| >
    1.959964 is a significant trend, its sign gives higher/lower, mapped by polarity to
    improving/worsening; otherwise no_change. Null on a suppressed row and for no_judgement indicators.
    """
    names = values.collect_schema().names()
    keys = ["indicator_id", "_kind", "area_code", "breakdown"]
    periods = (
        values.select("indicator_id", "period").unique()
        .with_columns(period_kind_expr().alias("_kind"))
        .sort("indicator_id", "_kind", "period")
        .with_columns(pl.int_range(pl.len()).over("indicator_id", "_kind").alias("_pidx"))
    )
    pub = _not_suppressed(names)
    extra = [c for c in ("numerator_2", "denominator_2", "sum_squares") if c in names]
    base = ["numerator", "denominator", *extra]
    out = (
        values.with_row_index("_row")
        .join(periods, on=["indicator_id", "period"], how="left")
        .with_columns(pub.alias("_pub"))
        .sort(*keys, "_pidx")
    )
    shifted = []
    for k in range(1, points):
        shifted.append(pl.col("_pidx").shift(k).over(keys).alias(f"_pidx_{k}"))
        shifted.append(pl.col("_pub").shift(k).over(keys).alias(f"_pub_{k}"))
        shifted += [pl.col(c).shift(k).over(keys).alias(f"_{c}_{k}") for c in base]
    out = out.with_columns(shifted)

    def col(c: str, k: int) -> pl.Expr:
        return pl.col(c) if k == 0 else pl.col(f"_{c}_{k}")

    lags = range(points - 1, -1, -1)  # oldest first
    kw = {}
    if {"numerator_2", "denominator_2"} <= set(extra):
        kw.update(x2s=[col("numerator_2", k) for k in lags], n2s=[col("denominator_2", k) for k in lags])
    if "sum_squares" in extra:
        kw.update(sss=[col("sum_squares", k) for k in lags])
    z = trend_expr([col("numerator", k) for k in lags], [col("denominator", k) for k in lags], "ci_method", **kw)
    complete = pl.all_horizontal(
        [pl.col("_pub")]
        + [(pl.col(f"_pidx_{k}") == pl.col("_pidx") - k).fill_null(False) for k in range(1, points)]
        + [pl.col(f"_pub_{k}").fill_null(False) for k in range(1, points)]
    )
    usable = complete & _JUDGED & z.is_not_null()
    trend = (
        pl.when(usable.not_()).then(pl.lit(None, dtype=pl.String))
        .when(z.abs() > Z95).then(_by_polarity(z > 0, z < 0, "improving", "worsening"))
        .otherwise(pl.lit("no_change"))
    )
    helpers = ["_kind", "_pidx", "_pub"] + [f"_pidx_{k}" for k in range(1, points)] + \
        [f"_pub_{k}" for k in range(1, points)] + [f"_{c}_{k}" for c in base for k in range(1, points)]
    return out.with_columns(trend.alias("trend")).sort("_row").drop("_row", *helpers)


def quantile_expr(key: pl.Expr, group: list[str], nq: int = NQ) -> pl.Expr:
    """PHE `phe_quantile` on `key` within `group`, where rank 1 goes to the LOWEST key (ties "min").

    q = floor((nq + 1) - ceil(((N + 1) - rank) / (N / nq))), q = 0 -> 1; N = non-null keys in the group;
    null where the key is null or N < nq. The caller orients `key` (negate it to put the highest first).
    """
    n = key.count().over(group).cast(pl.Float64)
    rank = key.rank("min").over(group).cast(pl.Float64)
    q = ((nq + 1) - (((n + 1) - rank) / (n / nq)).ceil()).floor()
    q = pl.when(q == 0).then(pl.lit(1.0)).otherwise(q)
    return pl.when(key.is_not_null() & (n >= nq)).then(q).cast(pl.Int32)


def add_quartile(values: pl.LazyFrame) -> pl.LazyFrame:
    """Add quartile (Int32, 1 = best .. 4 = worst, or null) among areas of the same area_level.

    Groups: indicator_id x period x breakdown x area_level. PHE quantile method (ci_methods.md §4) with
    nq = 4 and ties "min" (tied areas share the lower-numbered, i.e. better, quartile), oriented so that
    quartile 1 is best: higher_better ranks the highest value first (PHE invert = TRUE), lower_better
    the lowest value first (invert = FALSE). Suppressed rows and null values are not counted in N and get
    null; fewer than 4 counted areas -> null for the whole group; no_judgement -> null.
    """
    names = values.collect_schema().names()
    v = pl.col("value").cast(pl.Float64)
    key = (
        pl.when(_not_suppressed(names) & v.is_not_null() & v.is_not_nan())
        .then(
            pl.when(pl.col("polarity") == "higher_better").then(-v)
            .when(pl.col("polarity") == "lower_better").then(v)
        )
    )
    group = ["indicator_id", "period", "breakdown", "area_level"]
    return values.with_columns(quantile_expr(key, group).alias("quartile"))


def add_national_quartile(
    values: pl.LazyFrame, thresholds: pl.LazyFrame | pl.DataFrame | None, benchmark: str = "England"
) -> pl.LazyFrame:
    """Add national_quartile (Int32, 1 = best .. 4 = worst, or null): the row's value placed among England's
    areas of its level by the quartile thresholds shipped as benchmark data (`load_quartile_thresholds`:
    indicator_id, period, benchmark, area_level, lower_quartile, median, upper_quartile).

    higher_better: value >= upper_quartile -> 1, >= median -> 2, >= lower_quartile -> 3, else 4;
    lower_better: value <= lower_quartile -> 1, <= median -> 2, <= upper_quartile -> 3, else 4. A value
    exactly on a threshold takes the better quartile (as ties do in `add_quartile`). Only breakdown
    'all' rows of the level the thresholds are for (district); null where suppressed, no_judgement, or
    there is no threshold for the indicator, period and level.
    """
    names = values.collect_schema().names()
    if "national_quartile" in names:
        values = values.drop("national_quartile")
    if thresholds is None:
        return values.with_columns(pl.lit(None, dtype=pl.Int32).alias("national_quartile"))
    th = (
        thresholds.lazy().filter(pl.col("benchmark") == benchmark)
        .select("indicator_id", "period", "area_level",
                pl.col("lower_quartile").cast(pl.Float64).alias("_lq"),
                pl.col("median").cast(pl.Float64).alias("_md"),
                pl.col("upper_quartile").cast(pl.Float64).alias("_uq"))
        .unique(subset=["indicator_id", "period", "area_level"], keep="first")
    )
    out = values.join(th, on=["indicator_id", "period", "area_level"], how="left", maintain_order="left")
    v = pl.col("value").cast(pl.Float64)
    lq, md, uq = pl.col("_lq"), pl.col("_md"), pl.col("_uq")
    hb, lb = pl.col("polarity") == "higher_better", pl.col("polarity") == "lower_better"
    q = (
        pl.when(hb).then(pl.when(v >= uq).then(1).when(v >= md).then(2).when(v >= lq).then(3).otherwise(4))
        .when(lb).then(pl.when(v <= lq).then(1).when(v <= md).then(2).when(v <= uq).then(3).otherwise(4))
    )
    ok = (_not_suppressed(names) & (pl.col("breakdown") == "all") & v.is_not_null() & v.is_not_nan()
          & lq.is_not_null() & md.is_not_null() & uq.is_not_null())
    return out.with_columns(pl.when(ok).then(q).cast(pl.Int32).alias("national_quartile")).drop("_lq", "_md", "_uq")


def enforce_suppression(values: pl.LazyFrame) -> pl.LazyFrame:
    """Null value, limits, vs_benchmark, rag, direction and quartile wherever the row is suppressed."""
    names = values.collect_schema().names()
    if "suppressed" not in names:
        return values
    supp = pl.col("suppressed").fill_null(False)
    return values.with_columns(
        pl.when(supp.not_()).then(pl.col(c)).alias(c) for c in SUPPRESSED_NULL_COLUMNS if c in names
    )


def assess(
    values: pl.LazyFrame, benchmarks: pl.LazyFrame | pl.DataFrame, benchmark: str = "England",
    quartile_thresholds: pl.LazyFrame | pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """The whole stage: benchmark comparison, RAG, direction, trend, quartile, national quartile, then the
    suppression invariant."""
    out = enforce_suppression(values)
    out = add_benchmark_comparison(out, benchmarks, benchmark)
    out = add_rag(out)
    out = add_direction(out)
    out = add_trend(out)
    out = add_quartile(out)
    out = add_national_quartile(out, quartile_thresholds, benchmark)
    return enforce_suppression(out)
