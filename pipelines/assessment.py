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
- rag: green = significantly better than England, amber = similar, red = significantly worse; an
  optional per-indicator target with tolerance can soften red to amber.
- direction: significant change (two-sample z test at 95%) from the previous period of the same kind
  (year, same quarter, 12-month window a year earlier) of the same indicator, area and breakdown;
  improving/worsening by polarity, else no_change.
- quartile: PHE quantile method (nq = 4, ties "min") among areas of the same level; 1 = best.

Whatever the functions compute, `assess` ends by nulling value, limits, vs_benchmark, rag, direction
and quartile on suppressed rows: nothing derived from a withheld count is shown.
"""
from __future__ import annotations

import polars as pl

from pipelines.stats import Z95, compare_expr

NQ = 4
#: Columns nulled on a suppressed row by `assess` (those present in the frame).
SUPPRESSED_NULL_COLUMNS = (
    "value", "lower_95", "upper_95", "lower_998", "upper_998", "vs_benchmark", "rag", "direction", "quartile",
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


def add_rag(values: pl.LazyFrame) -> pl.LazyFrame:
    """Add rag ('green' | 'amber' | 'red' | null) from vs_benchmark (run `add_benchmark_comparison` first).

    Rule: green = significantly better than the England benchmark, amber = similar, red = significantly
    worse; null where vs_benchmark is null (suppressed, no benchmark, no_judgement).

    Targets (optional): where the frame has target_value and target_tolerance (in the indicator's unit)
    and both are non-null on a row, red needs BOTH worse than the benchmark AND missing the target by
    more than the tolerance in the polarity's bad direction (higher_better: value < target - tolerance;
    lower_better: value > target + tolerance). A row worse than the benchmark but on target (within
    tolerance) is amber. A target never changes green or amber. Rows with no target follow the plain rule.
    """
    names = values.collect_schema().names()
    vs = pl.col("vs_benchmark")
    red = vs == "worse"
    if "target_value" in names and "target_tolerance" in names:
        t, tol, v = pl.col("target_value"), pl.col("target_tolerance"), pl.col("value")
        has_target = t.is_not_null() & tol.is_not_null()
        misses = (
            pl.when(pl.col("polarity") == "higher_better").then(v < t - tol)
            .when(pl.col("polarity") == "lower_better").then(v > t + tol)
            .otherwise(pl.lit(False))
            .fill_null(False)
        )
        red = red & (has_target.not_() | misses)
    rag = (
        pl.when(_not_suppressed(names).not_() | _JUDGED.not_()).then(pl.lit(None, dtype=pl.String))
        .when(vs == "better").then(pl.lit("green"))
        .when(vs == "similar").then(pl.lit("amber"))
        .when(red).then(pl.lit("red"))
        .when(vs == "worse").then(pl.lit("amber"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return values.with_columns(rag.alias("rag"))


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
    values: pl.LazyFrame, benchmarks: pl.LazyFrame | pl.DataFrame, benchmark: str = "England"
) -> pl.LazyFrame:
    """The whole stage: benchmark comparison, RAG, direction, quartile, then the suppression invariant."""
    out = enforce_suppression(values)
    out = add_benchmark_comparison(out, benchmarks, benchmark)
    out = add_rag(out)
    out = add_direction(out)
    out = add_quartile(out)
    return enforce_suppression(out)
