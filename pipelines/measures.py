"""Stage 1: minimised records -> counts by indicator x period x area x breakdown.

Pure functions, LazyFrame in and out; the runner (`pipelines.build`) collects.

Every (ward, sex) cell of every period is present, zeros included, so that disclosure control sees
the zeros; higher levels are sums of wards along `geo/hierarchy.csv`, so parents always equal the sum
of their children and breakdown parts always add up to `all`.
"""
from __future__ import annotations

import polars as pl

from pipelines.specs import IndicatorSpec

LEVEL_COLUMNS = {
    "ward": "ward_code",
    "district": "district_code",
    "partnership": "partnership_code",
    "county": "county_code",
}
SEXES = ("F", "M")
OUTPUT_SCHEMA = {
    "indicator_id": pl.String,
    "period": pl.String,
    "area_code": pl.String,
    "area_level": pl.String,
    "breakdown": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Float64,
}
_PERIOD_START_MONTH = {"financial_year": 4, "academic_year": 9}


def period_expr(basis: str, date_col: str = "event_date") -> pl.Expr:
    """Label like '2023/24' for the financial (April-March) or academic (September-August) year."""
    d = pl.col(date_col)
    start = pl.when(d.dt.month() >= _PERIOD_START_MONTH[basis]).then(d.dt.year()).otherwise(d.dt.year() - 1)
    return pl.concat_str(
        [start.cast(pl.String), pl.lit("/"), ((start + 1) % 100).cast(pl.String).str.zfill(2)]
    ).alias("period")


def _all(filters) -> pl.Expr:
    expr = pl.lit(True)
    for f in filters:
        expr = expr & f.expr()
    return expr


def ward_cells(
    records: pl.LazyFrame, spec: IndicatorSpec, wards: list[str], population: pl.LazyFrame, periods: list[str]
) -> pl.LazyFrame:
    """Counts per (period, ward_code, sex): numerator and denominator, zeros filled in."""
    sexes = list(spec.population.sex) if spec.population else list(SEXES)
    cohort = records.filter(_all(spec.cohort)).with_columns(period_expr(spec.period_basis))
    cohort = cohort.filter(pl.col("period").is_in(periods) & pl.col("sex").is_in(sexes))
    if spec.denominator_kind == "client":
        counts = cohort.with_columns(_all(spec.numerator).alias("numerator_flag")).group_by(
            "period", "ward_code", "sex"
        ).agg(
            pl.col("numerator_flag").sum().cast(pl.Int64).alias("numerator"),
            pl.len().cast(pl.Float64).alias("denominator"),
        )
    else:
        counts = cohort.filter(_all(spec.numerator)).group_by("period", "ward_code", "sex").agg(
            pl.len().cast(pl.Int64).alias("numerator")
        )
    grid = (
        pl.LazyFrame({"ward_code": wards})
        .join(pl.LazyFrame({"sex": sexes}), how="cross")
        .join(pl.LazyFrame({"period": periods}), how="cross")
    )
    cells = grid.join(counts, on=["period", "ward_code", "sex"], how="left")
    if spec.denominator_kind == "client":
        return cells.with_columns(pl.col("numerator").fill_null(0), pl.col("denominator").fill_null(0.0))
    pop = (
        population.filter(pl.col("age").is_between(spec.population.age_min, spec.population.age_max))
        .group_by("ward_code", "sex")
        .agg(pl.col("population").sum().alias("denominator"))
    )
    return cells.with_columns(pl.col("numerator").fill_null(0)).join(pop, on=["ward_code", "sex"], how="left")


def indicator_counts(
    records: pl.LazyFrame,
    spec: IndicatorSpec,
    hierarchy: pl.DataFrame,
    population: pl.LazyFrame,
    periods: list[str],
) -> pl.LazyFrame:
    """All levels and breakdowns (all, sex=F, sex=M) for one indicator, in OUTPUT_SCHEMA.

    `hierarchy` is the (small, static) ward lookup: ward_code, district_code, partnership_code,
    county_code.
    """
    cells = ward_cells(records, spec, hierarchy["ward_code"].to_list(), population, periods).join(
        hierarchy.lazy(), on="ward_code", how="left"
    )
    parts = []
    for level, col in LEVEL_COLUMNS.items():
        for breakdown in ("all", "sex"):
            keys = ["period", col] + (["sex"] if breakdown == "sex" else [])
            agg = cells.group_by(keys).agg(pl.col("numerator").sum(), pl.col("denominator").sum())
            label = pl.lit("all") if breakdown == "all" else pl.concat_str([pl.lit("sex="), pl.col("sex")])
            parts.append(
                agg.select(
                    pl.lit(spec.id).alias("indicator_id"),
                    "period",
                    pl.col(col).alias("area_code"),
                    pl.lit(level).alias("area_level"),
                    label.alias("breakdown"),
                    pl.col("numerator").cast(pl.Int64),
                    pl.col("denominator").cast(pl.Float64),
                )
            )
    return pl.concat(parts)


