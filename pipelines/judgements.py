"""Judgements over the whole release: summary counts per area and outcome, and funnel-plot limits.

Pure functions LazyFrame -> LazyFrame, no I/O (the build collects and writes). Inputs are the assessed
`indicator_values` (after `pipelines.assessment.assess`), the `indicators` table, `areas` and the
benchmarks. The rules, with formulas and references, are in docs/methods.md ("Judgements").

- `latest_periods`: each indicator's latest year ('2024/25'), or its latest period if it has no year.
- `summary_counts`: per area and Every Child Matters outcome, how many indicators fall in each category
  of RAG, quartile, direction of travel and comparison with England, at each indicator's latest period,
  breakdown 'all' (as the executive summary of a performance report).
- `funnel`: 95% and 99.8% control limits around the county value (or England's where the county value
  is withheld) on a regular grid of denominators, per indicator, year and level. The limits depend only
  on the centre (published) and the grid (spanning published denominators only, rounded outwards), so
  they reveal no withheld count.
"""
from __future__ import annotations

import polars as pl

from pipelines import stats

YEAR_PATTERN = r"^\d{4}/\d{2}$"
#: Measures of `summary_counts` and their categories, in display order.
SUMMARY_CATEGORIES: dict[str, tuple[str, ...]] = {
    "rag": ("green", "amber", "red"),
    "quartile": ("1", "2", "3", "4"),
    "direction": ("improving", "no_change", "worsening"),
    "vs_benchmark": ("better", "similar", "worse"),
}
#: Categories every measure also has: a published value with no judgement on the measure, a withheld
#: value, no row for the area at the indicator's latest period.
NO_JUDGEMENT, WITHHELD, NO_DATA = "no judgement", "withheld", "no data"
SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "area_code": pl.String(), "period_basis": pl.String(), "ecm_outcome": pl.String(), "measure": pl.String(),
    "category": pl.String(), "n_indicators": pl.Int64(),
}
FUNNEL_LEVELS = ("ward", "district", "partnership")
#: Denominator points per funnel (a geometric grid between the rounded ends).
FUNNEL_POINTS = 50
FUNNEL_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "period": pl.String(), "area_level": pl.String(), "centre_kind": pl.String(),
    "centre": pl.Float64(), "denominator": pl.Float64(), "lower_998": pl.Float64(), "lower_95": pl.Float64(),
    "upper_95": pl.Float64(), "upper_998": pl.Float64(),
}


def latest_periods(values: pl.LazyFrame) -> pl.LazyFrame:
    """indicator_id, period: the latest year of each indicator ('2024/25' > '2023/24'), or its latest
    period (lexical) where it has no year label."""
    return (
        values.select("indicator_id", "period").unique()
        .with_columns(pl.col("period").str.contains(YEAR_PATTERN).alias("_year"))
        .sort("indicator_id", "_year", "period")
        .group_by("indicator_id", maintain_order=True).last()
        .select("indicator_id", "period")
    )


def _category(measure: str) -> pl.Expr:
    supp = pl.col("suppressed")
    col = pl.col(measure).cast(pl.String)
    return (
        pl.when(supp.is_null()).then(pl.lit(NO_DATA))
        .when(supp).then(pl.lit(WITHHELD))
        .when(pl.col("value").is_null()).then(pl.lit(NO_DATA))
        .when(col.is_null()).then(pl.lit(NO_JUDGEMENT))
        .otherwise(col)
    )


def summary_counts(values: pl.LazyFrame, indicators: pl.LazyFrame, areas: pl.LazyFrame) -> pl.LazyFrame:
    """area_code, period_basis ('latest'), ecm_outcome, measure, category, n_indicators.

    For every area and every Every Child Matters outcome that has indicators: at each indicator's latest
    period (`latest_periods`), breakdown 'all', how many indicators are in each category of each measure
    (`SUMMARY_CATEGORIES`, plus 'no judgement': a published value with nothing on this measure, e.g. no
    polarity, no benchmark, no previous period, fewer than 4 areas, the county's quartile; 'withheld':
    the value is suppressed; 'no data': no row for the area at that period). Every category is listed,
    zeros included, so the counts of one measure add up to the outcome's number of indicators.
    """
    latest = latest_periods(values)
    inds = indicators.select("indicator_id", "ecm_outcome")
    grid = (
        areas.select("area_code").unique()
        .join(inds, how="cross")
        .join(latest, on="indicator_id", how="left")
    )
    rows = values.filter(pl.col("breakdown") == "all").select(
        "indicator_id", "period", "area_code", pl.col("suppressed").fill_null(False), "value",
        *SUMMARY_CATEGORIES,
    )
    joined = grid.join(rows, on=["indicator_id", "period", "area_code"], how="left")
    long = pl.concat(
        [joined.select("area_code", "ecm_outcome", pl.lit(m).alias("measure"), _category(m).alias("category"))
         for m in SUMMARY_CATEGORIES]
    )
    counts = long.group_by("area_code", "ecm_outcome", "measure", "category").agg(pl.len().alias("n_indicators"))
    categories = pl.LazyFrame(
        [{"measure": m, "category": c, "_order": i}
         for m, cats in SUMMARY_CATEGORIES.items()
         for i, c in enumerate((*cats, NO_JUDGEMENT, WITHHELD, NO_DATA))],
        schema={"measure": pl.String, "category": pl.String, "_order": pl.Int64},
    )
    full = (
        areas.select("area_code").unique()
        .join(inds.select("ecm_outcome").unique(), how="cross")
        .join(categories, how="cross")
        .join(counts, on=["area_code", "ecm_outcome", "measure", "category"], how="left")
    )
    measure_order = pl.col("measure").replace_strict(
        {m: i for i, m in enumerate(SUMMARY_CATEGORIES)}, return_dtype=pl.Int64)
    return (
        full.with_columns(pl.col("n_indicators").fill_null(0).cast(pl.Int64), pl.lit("latest").alias("period_basis"))
        .sort("area_code", "ecm_outcome", measure_order, "_order")
        .select(list(SUMMARY_SCHEMA))
    )


def _nice(v: pl.Expr, up: bool, digits: int) -> pl.Expr:
    """Round v > 0 down (up=False) or up to `digits` significant figures."""
    scale = pl.lit(10.0).pow(v.log10().floor() - (digits - 1))
    return ((v / scale).ceil() if up else (v / scale).floor()) * scale


def funnel_centres(
    values: pl.LazyFrame, indicators: pl.LazyFrame, benchmarks: pl.LazyFrame, benchmark: str = "England"
) -> pl.LazyFrame:
    """indicator_id, period, ci_method, multiplier, centre_kind, centre and what the method needs (sd of a
    mean; p1, p2, share_1 of a gap): the county's published value for the period (breakdown 'all'), else
    England's for proportions and rates (a mean's or a gap's spread is known only for the county)."""
    names = values.collect_schema().names()

    def opt(c: str) -> pl.Expr:
        return pl.col(c).cast(pl.Float64) if c in names else pl.lit(None, dtype=pl.Float64)

    x, n = pl.col("numerator").cast(pl.Float64), pl.col("denominator").cast(pl.Float64)
    x2, n2, ss = opt("numerator_2"), opt("denominator_2"), opt("sum_squares")
    county = values.filter(
        (pl.col("area_level") == "county") & (pl.col("breakdown") == "all")
        & ~pl.col("suppressed").fill_null(False) & pl.col("value").is_not_null()
    ).select(
        "indicator_id", "period", pl.col("value").cast(pl.Float64).alias("_county"),
        pl.when(n >= 2).then(((ss - x * x / n) / (n - 1)).clip(lower_bound=0.0).sqrt()).alias("sd"),
        (x / n).alias("p1"), (x2 / n2).alias("p2"), (n / (n + n2)).alias("share_1"),
    ).unique(subset=["indicator_id", "period"], keep="first")
    england = (
        benchmarks.filter(pl.col("benchmark") == benchmark)
        .select("indicator_id", "period", pl.col("value").cast(pl.Float64).alias("_england"))
        .unique(subset=["indicator_id", "period"], keep="first")
    )
    periods = values.select("indicator_id", "period").unique()
    years = periods.filter(pl.col("period").str.contains(YEAR_PATTERN))
    no_years = latest_periods(values).join(years.select("indicator_id").unique(), on="indicator_id", how="anti")
    chosen = pl.concat([years, no_years])
    meta = indicators.select("indicator_id", "ci_method", pl.col("multiplier").cast(pl.Float64))
    out = (
        chosen.join(meta, on="indicator_id", how="inner")
        .join(county, on=["indicator_id", "period"], how="left")
        .join(england, on=["indicator_id", "period"], how="left")
    )
    simple = pl.col("ci_method").is_in(["wilson", "byars"])
    return out.with_columns(
        pl.when(pl.col("_county").is_not_null()).then(pl.lit("county"))
        .when(simple & pl.col("_england").is_not_null()).then(pl.lit(benchmark))
        .alias("centre_kind"),
        pl.when(pl.col("_county").is_not_null()).then(pl.col("_county"))
        .when(simple).then(pl.col("_england")).alias("centre"),
    ).filter(pl.col("centre").is_not_null()).drop("_county", "_england")


def funnel(
    values: pl.LazyFrame, indicators: pl.LazyFrame, benchmarks: pl.LazyFrame, benchmark: str = "England",
    points: int = FUNNEL_POINTS,
) -> pl.LazyFrame:
    """indicator_id, period, area_level, centre_kind, centre, denominator, lower_998, lower_95, upper_95,
    upper_998: funnel-plot control limits (`pipelines.stats.funnel_limit_exprs`) for every indicator,
    year (or latest period without years) and level (ward, district, partnership).

    The denominators are a geometric grid of `points` values from the level's least published
    denominator (breakdown 'all', not suppressed; a gap's is both groups together) times 0.9 rounded down
    to 1 significant figure (at least 1; 2 for a mean), to its greatest times 1.1 rounded up to 2
    significant figures: a regular grid, never the areas' own denominators, built from published
    figures only. No rows where a level has no published denominator or there is no centre.
    """
    names = values.collect_schema().names()
    den = pl.col("denominator").cast(pl.Float64)
    if "denominator_2" in names:
        den = pl.when(pl.col("ci_method") == "newcombe").then(den + pl.col("denominator_2").cast(pl.Float64)) \
            .otherwise(den)
    meta = indicators.select("indicator_id", "ci_method")
    spans = (
        values.filter(pl.col("area_level").is_in(FUNNEL_LEVELS) & (pl.col("breakdown") == "all")
                      & ~pl.col("suppressed").fill_null(False))
        .join(meta, on="indicator_id", how="inner")
        .with_columns(den.alias("_den"))
        .filter(pl.col("_den").is_not_null() & (pl.col("_den") > 0))
        .group_by("indicator_id", "period", "area_level")
        .agg(pl.col("_den").min().alias("_min"), pl.col("_den").max().alias("_max"))
    )
    centres = funnel_centres(values, indicators, benchmarks, benchmark)
    floor_n = pl.when(pl.col("ci_method") == "mean_t").then(pl.lit(2.0)).otherwise(pl.lit(1.0))
    grid = (
        centres.join(spans, on=["indicator_id", "period"], how="inner")
        .with_columns(pl.max_horizontal(_nice(pl.col("_min") * 0.9, up=False, digits=1), floor_n).alias("_lo"))
        .with_columns(pl.max_horizontal(_nice(pl.col("_max") * 1.1, up=True, digits=2), pl.col("_lo") * 2)
                      .alias("_hi"))
        .with_columns(pl.int_ranges(0, points).alias("_k"))
        .explode("_k")
        .with_columns(
            (pl.col("_lo") * (pl.col("_hi") / pl.col("_lo")).pow(pl.col("_k").cast(pl.Float64) / (points - 1)))
            .alias("denominator")
        )
    )
    kw = dict(sd=pl.col("sd"), p1=pl.col("p1"), p2=pl.col("p2"), share_1=pl.col("share_1"))
    lo95, hi95 = stats.funnel_limit_exprs(pl.col("centre"), pl.col("denominator"), pl.col("ci_method"),
                                          pl.col("multiplier"), 0.95, **kw)
    lo998, hi998 = stats.funnel_limit_exprs(pl.col("centre"), pl.col("denominator"), pl.col("ci_method"),
                                            pl.col("multiplier"), 0.998, **kw)
    level_order = pl.col("area_level").replace_strict({lv: i for i, lv in enumerate(FUNNEL_LEVELS)},
                                                      return_dtype=pl.Int64)
    return (
        grid.with_columns(lo998.alias("lower_998"), lo95.alias("lower_95"), hi95.alias("upper_95"),
                          hi998.alias("upper_998"))
        .filter(pl.col("lower_95").is_not_null() & pl.col("upper_95").is_not_null())
        .sort("indicator_id", "period", level_order, "denominator")
        .select([pl.col(c).cast(t) for c, t in FUNNEL_SCHEMA.items()])
    )
