"""Stage 1: minimised records -> counts by indicator x period x area x breakdown.

Pure functions, LazyFrame in and out; the runner (`pipelines.build`) collects.

- Periods: the year of the indicator's `period_basis` (`2023/24`), its quarters when the indicator is
  quarterly (`2023/24 Q1`; Q1 = April-June of a financial year, September-November of an academic
  year), and 12-month windows ending at each quarter end when it is `rolling_12m` (`12m to 2024-06`).
  Records are first counted by year and quarter; every published period is a sum of those quarters,
  so quarters add up to their year.
- Levels: every ward cell is present, zeros included, so that disclosure control sees the zeros;
  districts, partnerships and the county are sums of wards along `geo/hierarchy.csv`.
- What is published where: years at every level, with their breakdowns at district, partnership and
  county level (`BREAKDOWN_LEVELS`; wards get `all`); quarters and 12-month windows at those levels,
  for `all`.
- Breakdowns: `all`, `sex=F|M`, `ethnicity=<group>` (Appendix 5 codes in the major groups, codes 19
  and 20 and anything missing in `Not known`) and `age=<band>` (the indicator's bands): every counted
  record is in exactly one part of each breakdown, so the parts always add up to `all`.
- Counts per row (OUTPUT_SCHEMA): numerator and denominator, plus numerator_2 / denominator_2 (the
  second group of a gap) and sum_squares (a mean). A population denominator comes from the ONS ward
  population by sex and single year of age; there is none by ethnicity, so ethnicity rows of a
  population rate carry the numerator and a NULL denominator (no value is computed for them).

`disclosure_view` / `apply_disclosure` translate these rows to and from the cells the disclosure stage
protects (counts of people), for the units whose numerator is not one (means, gaps).
"""
from __future__ import annotations

import polars as pl

from pipelines.specs import AgeRule, IndicatorSpec, parse_band

LEVEL_COLUMNS = {
    "ward": "ward_code",
    "district": "district_code",
    "partnership": "partnership_code",
    "county": "county_code",
}
SEXES = ("F", "M")
#: What is published where (`indicator_counts`): years at every level, broken down (sex, ethnicity,
#: age) at these levels only; quarters and 12-month windows at these levels, `all` only. A ward split
#: by sex, ethnicity, age, quarter or a 12-month window of the rolling (rare-event) indicators, or a
#: quarter split by anything, is nearly always 10 or less: every such cell would be withheld and one
#: more for disclosure control to protect.
BREAKDOWN_LEVELS = ("district", "partnership", "county")
OUTPUT_SCHEMA = {
    "indicator_id": pl.String,
    "period": pl.String,
    "area_code": pl.String,
    "area_level": pl.String,
    "breakdown": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Float64,
    "numerator_2": pl.Int64,
    "denominator_2": pl.Float64,
    "sum_squares": pl.Float64,
}
#: Appendix 5 codes -> the major ethnic groups published as `ethnicity=<group>`.
ETHNIC_GROUPS: dict[int, str] = {
    **{c: "White" for c in range(1, 6)},
    **{c: "Mixed" for c in range(6, 10)},
    **{c: "Asian" for c in range(10, 14)},
    **{c: "Black" for c in range(14, 17)},
    17: "Chinese",
    18: "Other",
    19: "Not known",
    20: "Not known",
}
ETHNIC_GROUP_ORDER = ("White", "Mixed", "Asian", "Black", "Chinese", "Other", "Not known")
_PERIOD_START_MONTH = {"financial_year": 4, "academic_year": 9}
#: Month ending each quarter (1-4) and whether it falls in the year's second calendar year.
_QUARTER_END = {
    "financial_year": {1: (6, 0), 2: (9, 0), 3: (12, 0), 4: (3, 1)},
    "academic_year": {1: (11, 0), 2: (2, 1), 3: (5, 1), 4: (8, 1)},
}
_POP_SCALE = 1000


# ---------------------------------------------------------------- periods
def year_label(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def quarter_label(year: str, quarter: int) -> str:
    """'2024/25', 3 -> '2024/25 Q3'."""
    return f"{year} Q{quarter}"


def rolling_label(end_year: int, end_month: int) -> str:
    """12 months ending with the month: '12m to 2025-03' (April 2024 to March 2025)."""
    return f"12m to {end_year}-{end_month:02d}"


def period_expr(basis: str, date_col: str = "event_date") -> pl.Expr:
    """Label like '2023/24' for the financial (April-March) or academic (September-August) year."""
    d = pl.col(date_col)
    start = pl.when(d.dt.month() >= _PERIOD_START_MONTH[basis]).then(d.dt.year()).otherwise(d.dt.year() - 1)
    return pl.concat_str(
        [start.cast(pl.String), pl.lit("/"), ((start + 1) % 100).cast(pl.String).str.zfill(2)]
    ).alias("period")


def period_start_expr(basis: str, date_col: str = "event_date") -> pl.Expr:
    """The calendar year in which the record's financial or academic year starts (Int32)."""
    d = pl.col(date_col)
    year = d.dt.year().cast(pl.Int32)
    return pl.when(d.dt.month().cast(pl.Int32) >= _PERIOD_START_MONTH[basis]).then(year).otherwise(year - 1)


def year_label_expr(start: pl.Expr) -> pl.Expr:
    """2023 -> '2023/24' (as `year_label`)."""
    return pl.concat_str([start.cast(pl.String), pl.lit("/"), ((start + 1) % 100).cast(pl.String).str.zfill(2)])


def quarter_expr(basis: str, date_col: str = "event_date") -> pl.Expr:
    """Quarter 1-4 of the period year (Q1 = April-June, or September-November for an academic year)."""
    m = pl.col(date_col).dt.month().cast(pl.Int32)
    start = _PERIOD_START_MONTH[basis]
    return (((m - start + 12) % 12) // 3 + 1).cast(pl.Int32).alias("quarter")


def period_map(spec: IndicatorSpec, years: list[str]) -> pl.DataFrame:
    """(year, quarter) -> every published period label it belongs to: its year, its quarter when the
    indicator is quarterly, and the four 12-month windows that contain it when it is rolling_12m.
    A window is published only if all four of its quarters lie in `years` (the years with data)."""
    rows: list[tuple[str, int, str]] = []
    have = set(years)
    for y in years:
        for q in (1, 2, 3, 4):
            rows.append((y, q, y))
            if spec.frequency == "quarterly":
                rows.append((y, q, quarter_label(y, q)))
    if spec.rolling_12m:
        starts = sorted(int(y[:4]) for y in years)
        ends = _QUARTER_END[spec.period_basis]
        for start in starts:
            for q in (1, 2, 3, 4):
                end = start * 4 + q - 1  # global quarter index of the window's last quarter
                members = [(g // 4, g % 4 + 1) for g in range(end - 3, end + 1)]
                if all(year_label(s) in have for s, _ in members):
                    month, offset = ends[q]
                    label = rolling_label(start + offset, month)
                    rows.extend((year_label(s), mq, label) for s, mq in members)
    return pl.DataFrame(rows, schema={"_year": pl.String, "_q": pl.Int32, "period": pl.String}, orient="row")


def period_labels(spec: IndicatorSpec, years: list[str]) -> list[str]:
    """Every period published for the indicator, years first, then quarters, then 12-month windows."""
    labels = period_map(spec, years)["period"].unique().to_list()
    return sorted(labels, key=lambda p: (p.startswith("12m"), len(p) > 7, p))


# ---------------------------------------------------------------- record attributes
def _all(filters) -> pl.Expr:
    expr = pl.lit(True)
    for f in filters:
        expr = expr & f.expr()
    return expr


def age_expr(rule: AgeRule, columns: list[str]) -> pl.Expr:
    """The record's age under the rule (Int32; null where it cannot be known, see AgeRule)."""
    if rule.at == "event":
        return pl.col("age_at_event").cast(pl.Int32)
    if rule.at == "31 August":
        return pl.col("age_at_31aug").cast(pl.Int32)
    if "age_at_31mar" in columns:
        return pl.col("age_at_31mar").cast(pl.Int32)
    e = pl.col("event_date")
    snapshot = (e.dt.month().cast(pl.Int32) == 3) & (e.dt.day().cast(pl.Int32) == 31)
    return pl.when(snapshot).then(pl.col("age_at_event").cast(pl.Int32)).otherwise(None)


def ethnic_group_expr(col: str = "ethnicity") -> pl.Expr:
    """Appendix 5 code -> major group; anything else (missing, out of range) -> 'Not known'."""
    codes = list(ETHNIC_GROUPS)
    return (
        pl.col(col).cast(pl.Int64, strict=False)
        .replace_strict(codes, [ETHNIC_GROUPS[c] for c in codes], default="Not known", return_dtype=pl.String)
        .fill_null("Not known")
    )


def band_expr(rule: AgeRule, age: pl.Expr) -> pl.Expr:
    out = pl.lit(None, dtype=pl.String)
    expr = None
    for b in rule.bands:
        lo, hi = parse_band(b)
        cond = age.is_between(lo, hi)
        expr = pl.when(cond).then(pl.lit(b)) if expr is None else expr.when(cond).then(pl.lit(b))
    return out if expr is None else expr.otherwise(None)


def breakdown_labels(spec: IndicatorSpec) -> list[str]:
    labels = ["all"]
    dims = spec.published_breakdowns
    if "sex" in dims:
        labels += [f"sex={s}" for s in spec.sexes]
    if "ethnicity" in dims:
        labels += [f"ethnicity={g}" for g in ETHNIC_GROUP_ORDER]
    if "age" in dims and spec.age_rule:
        labels += [f"age={b}" for b in spec.age_rule.bands]
    return labels


def _record_measures(spec: IndicatorSpec) -> list[pl.Expr]:
    """Per-record contributions: _x, _n (client), _x2, _n2 (gap), _ss (mean)."""
    num = _all(spec.numerator).fill_null(False)
    one = pl.lit(1, dtype=pl.Int64)
    zero = pl.lit(0, dtype=pl.Int64)
    if spec.ci_method == "mean_t":
        v = pl.col(spec.sum_field).cast(pl.Float64)
        return [v.alias("_x"), one.alias("_n"), (v * v).alias("_ss")]
    if spec.ci_method == "newcombe":
        g1 = _all(spec.comparison.group_1).fill_null(False)
        g2 = _all(spec.comparison.group_2).fill_null(False)
        return [
            (num & g1).cast(pl.Int64).alias("_x"), g1.cast(pl.Int64).alias("_n"),
            (num & g2).cast(pl.Int64).alias("_x2"), g2.cast(pl.Int64).alias("_n2"),
        ]
    if spec.sum_field:
        x = pl.when(num).then(pl.col(spec.sum_field).cast(pl.Float64).fill_null(0.0)).otherwise(0.0)
    else:
        x = num.cast(pl.Int64)
    out = [x.alias("_x")]
    if spec.denominator_kind == "client":
        out.append(one.alias("_n"))
    else:
        out.append(zero.alias("_n"))
    return out


def _count_cols(spec: IndicatorSpec) -> list[str]:
    cols = ["_x", "_n"]
    if spec.ci_method == "newcombe":
        cols += ["_x2", "_n2"]
    if spec.ci_method == "mean_t":
        cols += ["_ss"]
    return cols


def _sums(spec: IndicatorSpec) -> list[pl.Expr]:
    return [pl.col(c).sum().alias(c) for c in _count_cols(spec)]


# ---------------------------------------------------------------- the stage
def indicator_counts(
    records: pl.LazyFrame,
    spec: IndicatorSpec,
    hierarchy: pl.DataFrame,
    population: pl.LazyFrame,
    periods: list[str],
) -> pl.LazyFrame:
    """All periods, levels and breakdowns of one indicator, in OUTPUT_SCHEMA.

    `periods` are the year labels (`2023/24`) with data; quarters and 12-month windows are derived
    from them (`period_map`). `hierarchy` is the (small, static) ward lookup: ward_code,
    district_code, partnership_code, county_code. `population`: ward_code, sex, age, population.
    """
    columns = records.collect_schema().names()
    keep = _all(spec.cohort) & pl.col("sex").is_in(list(spec.sexes))
    if spec.comparison:
        keep = keep & (_all(spec.comparison.group_1) | _all(spec.comparison.group_2)).fill_null(False)
    if spec.ci_method == "mean_t":
        keep = keep & pl.col(spec.sum_field).is_not_null()
    dims = spec.published_breakdowns
    rule = spec.age_rule
    # per record only numbers (start year, quarter, age, ethnicity code), never a label: at national
    # scale (22 million records in one dataset) a string column per record was gigabytes; the labels
    # are made after the first count, on a few thousand rows per ward
    attrs = [period_start_expr(spec.period_basis).alias("_ys"), quarter_expr(spec.period_basis).alias("_q")]
    if rule:
        attrs.append(age_expr(rule, columns).alias("_age"))
    cohort = records.with_columns(attrs)
    if rule:
        keep = keep & pl.col("_age").is_between(rule.min, rule.max).fill_null(False)
    starts = sorted({int(p[:4]) for p in periods})
    cohort = cohort.filter(keep.fill_null(False) & pl.col("_ys").is_in(starts))
    keys = ["_year", "_q", "ward_code", "sex"]
    record_keys = ["_ys", "_q", "ward_code", "sex"]
    labels_after = [year_label_expr(pl.col("_ys")).alias("_year"),
                    pl.col("ward_code").cast(pl.String), pl.col("sex").cast(pl.String)]  # categoricals in a build
    if "ethnicity" in dims:
        record_keys.append("ethnicity")
        labels_after.append(ethnic_group_expr().alias("_eth"))
        keys.append("_eth")
    if "age" in dims and rule:
        record_keys.append("_age")
        labels_after.append(band_expr(rule, pl.col("_age")).alias("_band"))
        keys.append("_band")
    base = (
        cohort.with_columns(*_record_measures(spec)).group_by(record_keys).agg(_sums(spec))
        .with_columns(labels_after).group_by(keys).agg(_sums(spec))
    )

    pmap = period_map(spec, periods).lazy()
    pkeys = ["period"] + keys[2:]
    per_period = base.join(pmap, on=["_year", "_q"], how="inner").group_by(pkeys).agg(_sums(spec))

    label_of = {
        "sex": pl.concat_str([pl.lit("sex="), pl.col("sex")]),
        "ethnicity": pl.concat_str([pl.lit("ethnicity="), pl.col("_eth")]),
        "age": pl.concat_str([pl.lit("age="), pl.col("_band")]),
    }
    sums = _sums(spec)
    parts = [per_period.group_by("period", "ward_code").agg(sums).with_columns(pl.lit("all").alias("breakdown"))]
    for d in dims:
        parts.append(
            per_period.with_columns(label_of[d].alias("breakdown")).group_by("period", "ward_code", "breakdown").agg(sums)
        )
    ward_counts = pl.concat(parts, how="diagonal_relaxed")

    labels = breakdown_labels(spec)
    grid = (
        pl.LazyFrame({"period": period_labels(spec, periods)})
        .join(pl.LazyFrame({"ward_code": hierarchy["ward_code"].to_list()}), how="cross")
        .join(pl.LazyFrame({"breakdown": labels}), how="cross")
    )
    count_cols = _count_cols(spec)
    cells = grid.join(ward_counts, on=["period", "ward_code", "breakdown"], how="left").with_columns(
        pl.col(c).fill_null(0) for c in count_cols
    )
    if spec.denominator_kind == "population":
        cells = cells.join(_ward_population(spec, population, labels), on=["ward_code", "breakdown"], how="left")
    cells = cells.join(hierarchy.lazy(), on="ward_code", how="left")

    out = []
    for level, col in LEVEL_COLUMNS.items():
        agg = [pl.col(c).sum() for c in count_cols]
        if spec.denominator_kind == "population":
            agg.append(pl.col("_pop").sum())
        out.append(
            cells.group_by("period", col, "breakdown")
            .agg(agg)
            .with_columns(pl.col(col).alias("area_code"), pl.lit(level).alias("area_level"))
        )
    above_wards = pl.col("area_level").is_in(BREAKDOWN_LEVELS)
    year = ~pl.col("period").str.contains(" ")
    total = pl.col("breakdown") == "all"
    stacked = pl.concat(out, how="diagonal_relaxed").filter((year & (above_wards | total)) | (~year & above_wards & total))
    return stacked.select(_output_columns(spec, count_cols))


def _ward_population(spec: IndicatorSpec, population: pl.LazyFrame, labels: list[str]) -> pl.LazyFrame:
    """Population per ward and breakdown label: all, sex, age band; NULL for ethnicity (none by ethnicity)."""
    p = spec.population
    # summed in thousandths as integers: exact, so that coterminous areas get equal denominators
    pop = population.filter(
        pl.col("age").is_between(p.age_min, p.age_max) & pl.col("sex").is_in(list(p.sex))
    ).with_columns((pl.col("population") * _POP_SCALE).round(0).cast(pl.Int64).alias("population"))
    parts = [pop.group_by("ward_code").agg(pl.col("population").sum().alias("_pop")).with_columns(
        pl.lit("all").alias("breakdown"))]
    parts.append(
        pop.group_by("ward_code", "sex").agg(pl.col("population").sum().alias("_pop"))
        .select("ward_code", pl.concat_str([pl.lit("sex="), pl.col("sex")]).alias("breakdown"), "_pop")
    )
    if spec.age_rule and spec.age_rule.bands:
        parts.append(
            pop.with_columns(band_expr(spec.age_rule, pl.col("age")).alias("_band"))
            .filter(pl.col("_band").is_not_null())
            .group_by("ward_code", "_band").agg(pl.col("population").sum().alias("_pop"))
            .select("ward_code", pl.concat_str([pl.lit("age="), pl.col("_band")]).alias("breakdown"), "_pop")
        )
    table = pl.concat([t.select("ward_code", "breakdown", "_pop") for t in parts])
    return table.filter(pl.col("breakdown").is_in(labels))


def _output_columns(spec: IndicatorSpec, count_cols: list[str]) -> list[pl.Expr]:
    null_i, null_f = pl.lit(None, dtype=pl.Int64), pl.lit(None, dtype=pl.Float64)
    numerator = pl.col("_x").round(0).cast(pl.Int64) if spec.ci_method == "mean_t" or spec.sum_field else pl.col(
        "_x").cast(pl.Int64)
    if spec.denominator_kind == "population":
        denominator = (
            pl.when(pl.col("breakdown").str.starts_with("ethnicity=")).then(null_f)
            .otherwise(pl.col("_pop").cast(pl.Float64) / _POP_SCALE)
        )
    else:
        denominator = pl.col("_n").cast(pl.Float64)
    gap = spec.ci_method == "newcombe"
    return [
        pl.lit(spec.id).alias("indicator_id"),
        pl.col("period"),
        pl.col("area_code"),
        pl.col("area_level"),
        pl.col("breakdown"),
        numerator.alias("numerator"),
        denominator.alias("denominator"),
        (pl.col("_x2").cast(pl.Int64) if gap else null_i).alias("numerator_2"),
        (pl.col("_n2").cast(pl.Float64) if gap else null_f).alias("denominator_2"),
        (pl.col("_ss").cast(pl.Float64) if "_ss" in count_cols else null_f).alias("sum_squares"),
    ]


# ---------------------------------------------------------------- aggregate supplies
def coterminous_partnerships(hierarchy: pl.DataFrame) -> dict[str, str]:
    """partnership_code -> district_code for every partnership made of exactly one district's wards
    (then a district figure is that partnership's figure: nothing is apportioned)."""
    wards_of = lambda col: {  # noqa: E731
        k: frozenset(v) for k, v in hierarchy.group_by(col).agg(pl.col("ward_code")).iter_rows()
    }
    districts = {w: d for d, w in wards_of("district_code").items()}
    return {p: districts[w] for p, w in wards_of("partnership_code").items() if w in districts}


def aggregate_counts(
    supplied: pl.LazyFrame,
    spec: IndicatorSpec,
    hierarchy: pl.DataFrame,
    population: pl.LazyFrame,
) -> pl.LazyFrame:
    """An aggregate indicator's counts from its supplied counts, in OUTPUT_SCHEMA, like `indicator_counts`.

    `supplied`: the stored aggregate rows (area_code, area_level, period, measure, breakdown,
    numerator, denominator), validated at ingest (one level per supply, parts adding up to `all`).
    Per year, the supply's level decides where the indicator is published:
    - by ward: every ward (zeros where the supply has no row), summed up to district, partnership and
      county, exactly as client records are;
    - by district: districts, the partnerships made of exactly one district's wards, and the county.
      Never wards, nor a partnership that is not one district: a district figure is not apportioned.
    Breakdowns: those of the indicator (`breakdowns`, default sex and ethnicity, plus age where it
    declares bands) that the year's supply gives, at district level and above; a part the supply
    omits for an area is 0 (the supply's parts add up to its `all`). An `age=` part is published only
    where the supply's bands are the indicator's. Denominators: the supplied `denominator` (a client
    denominator) or the ONS population of the areas (a population denominator).
    """
    frame = supplied.collect()
    if "measure" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("measure"))
    frame = frame.filter(
        (pl.col("measure") == spec.measure) if spec.measure else pl.col("measure").is_null()
    ).with_columns(pl.col("breakdown").fill_null("all"))
    labels_all = breakdown_labels(spec)
    dims = spec.published_breakdowns
    client = spec.denominator_kind == "client"
    pop = _ward_population(spec, population, labels_all).collect() if not client else None
    partnership_of = coterminous_partnerships(hierarchy)
    level_col = {"ward": "ward_code", "district": "district_code"}
    out: list[pl.DataFrame] = []
    for year in sorted(frame["period"].unique().to_list()):
        rows = frame.filter(pl.col("period") == year)
        level = "ward" if rows.filter(pl.col("area_level") == "ward").height else "district"
        rows = rows.filter(pl.col("area_level") == level)
        have = {b.split("=", 1)[0] for b in rows["breakdown"].unique().to_list() if b != "all"}
        labels = ["all"]
        for d in dims:
            if d not in have:
                continue
            want = [lab for lab in labels_all if lab.startswith(f"{d}=")]
            supplied_labels = {b for b in rows["breakdown"].unique().to_list() if b.startswith(f"{d}=")}
            if d == "age" and not supplied_labels <= set(want):
                continue  # other bands than the indicator's: not published
            labels += want
        areas = hierarchy.select(pl.col(level_col[level]).alias("area_code")).unique().sort("area_code")
        grid = areas.join(pl.DataFrame({"breakdown": labels}), how="cross")
        cells = grid.join(
            rows.select("area_code", "breakdown", pl.col("numerator").cast(pl.Int64).alias("_x"),
                        pl.col("denominator").cast(pl.Int64).alias("_n")),
            on=["area_code", "breakdown"], how="left",
        ).with_columns(pl.col("_x").fill_null(0), pl.col("_n").fill_null(0))
        if pop is not None:
            area_pop = pop.join(hierarchy.select("ward_code", pl.col(level_col[level]).alias("area_code")),
                                on="ward_code").group_by("area_code", "breakdown").agg(pl.col("_pop").sum())
            cells = cells.join(area_pop, on=["area_code", "breakdown"], how="left")
        sums = [pl.col("_x").sum(), pl.col("_n").sum()] + ([pl.col("_pop").sum()] if pop is not None else [])
        if level == "ward":
            placed = cells.rename({"area_code": "ward_code"}).join(hierarchy, on="ward_code", how="left")
            for lvl, col in LEVEL_COLUMNS.items():
                part = placed.group_by(col, "breakdown").agg(sums).rename({col: "area_code"})
                out.append(part.with_columns(pl.lit(lvl).alias("area_level"), pl.lit(year).alias("period")))
        else:
            out.append(cells.with_columns(pl.lit("district").alias("area_level"), pl.lit(year).alias("period")))
            if partnership_of:
                link = pl.DataFrame({"partnership": list(partnership_of), "area_code": list(partnership_of.values())})
                out.append(cells.join(link, on="area_code").drop("area_code").rename({"partnership": "area_code"})
                           .with_columns(pl.lit("partnership").alias("area_level"), pl.lit(year).alias("period")))
            county = hierarchy["county_code"][0]
            out.append(cells.group_by("breakdown").agg(sums).with_columns(
                pl.lit(county).alias("area_code"), pl.lit("county").alias("area_level"), pl.lit(year).alias("period")))
    if not out:
        return pl.LazyFrame(schema=OUTPUT_SCHEMA)
    stacked = pl.concat(out, how="diagonal_relaxed").filter(
        pl.col("area_level").is_in(BREAKDOWN_LEVELS) | (pl.col("breakdown") == "all"))
    return stacked.lazy().select(_output_columns(spec, ["_x", "_n"])).select(
        [pl.col(c).cast(t) for c, t in OUTPUT_SCHEMA.items()])


def counts_for(
    records: pl.LazyFrame,
    spec: IndicatorSpec,
    hierarchy: pl.DataFrame,
    population: pl.LazyFrame,
) -> pl.LazyFrame:
    """One indicator's counts from its dataset as stored: client records (`indicator_counts`, over
    the years with data) or an aggregate supply (`aggregate_counts`), as the indicator's
    `record_level` says; ValueError when the stored dataset is the other kind."""
    columns = records.collect_schema().names()
    aggregate = "area_code" in columns and "person_key" not in columns
    if (spec.record_level == "aggregate") != aggregate:
        stored = "aggregate counts" if aggregate else "client records"
        raise ValueError(f"{spec.id}: dataset {spec.dataset} holds {stored}, but the indicator says "
                         f"record_level: {spec.record_level}")
    if aggregate:
        measures_held = set(records.select(pl.col("measure").drop_nulls().unique()).collect()["measure"]) \
            if "measure" in columns else set()
        if spec.measure is None and measures_held:
            raise ValueError(f"{spec.id}: dataset {spec.dataset} carries several counts "
                             f"({', '.join(sorted(measures_held))}): name one with `measure:`")
        if spec.denominator_kind == "client":
            missing = records.filter(pl.col("denominator").is_null()).select(pl.len()).collect().item() \
                if "denominator" in columns else 1
            if missing:
                raise ValueError(f"{spec.id}: a client denominator needs a supply with a denominator "
                                 f"(dataset {spec.dataset}: `denominator: true` in its agreement)")
        return aggregate_counts(records, spec, hierarchy, population)
    periods = sorted(records.select(period_expr(spec.period_basis)).unique().collect()["period"].drop_nulls())
    return indicator_counts(records, spec, hierarchy, population, periods)


# ---------------------------------------------------------------- disclosure cells
COMPONENT = " #"
_KEY = ["indicator_id", "period", "area_code", "breakdown"]
_CELL_COLUMNS = ["indicator_id", "period", "area_code", "area_level", "breakdown", "numerator", "denominator"]


def disclosure_view(
    counts: pl.DataFrame, indicators: pl.DataFrame, threshold: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cells the disclosure stage protects, as counts of people, and their indicator table.

    indicators: indicator_id, ci_method, denominator_kind, sensitive. Proportions and rates are their
    own cells. A gap ("newcombe") is two cells per row, `<id> #1` (group 1) and `<id> #2` (group 2),
    each protected like a proportion. A mean ("mean_t") is protected through its count of people n
    (the denominator) and min(sum, n) as its numerator, so that a row is withheld when n or the sum
    is `threshold` or less and withheld cells never add up to a small n or sum; the "denominator minus
    numerator" rule of sensitive indicators does not apply to a mean.
    """
    meta = indicators.select("indicator_id", "ci_method", "denominator_kind", pl.col("sensitive").fill_null(False))
    joined = counts.join(meta.select("indicator_id", "ci_method"), on="indicator_id", how="left")
    plain = joined.filter(~pl.col("ci_method").is_in(["mean_t", "newcombe"])).select(_CELL_COLUMNS)
    means = joined.filter(pl.col("ci_method") == "mean_t").with_columns(
        pl.min_horizontal(pl.col("numerator"), pl.col("denominator").round(0).cast(pl.Int64)).alias("numerator")
    ).select(_CELL_COLUMNS)
    gaps = joined.filter(pl.col("ci_method") == "newcombe")
    gap_cells = [
        gaps.with_columns(pl.concat_str([pl.col("indicator_id"), pl.lit(f"{COMPONENT}1")]).alias("indicator_id"))
        .select(_CELL_COLUMNS),
        gaps.with_columns(
            pl.concat_str([pl.col("indicator_id"), pl.lit(f"{COMPONENT}2")]).alias("indicator_id"),
            pl.col("numerator_2").alias("numerator"),
            pl.col("denominator_2").alias("denominator"),
        ).select(_CELL_COLUMNS),
    ]
    cells = pl.concat([plain, means, *gap_cells])
    # a 12-month window is protected as its own table (it is no quarter of a year): its own block
    rolling = pl.col("period").str.starts_with("12m")
    cells = cells.with_columns(
        pl.when(rolling).then(pl.concat_str([pl.col("indicator_id"), pl.lit(COMPONENT), pl.col("period")]))
        .otherwise(pl.col("indicator_id")).alias("indicator_id")
    )
    gap_ids = meta.filter(pl.col("ci_method") == "newcombe")
    cell_meta = pl.concat([
        meta.filter(pl.col("ci_method") != "newcombe").with_columns(
            pl.when(pl.col("ci_method") == "mean_t").then(False).otherwise(pl.col("sensitive")).alias("sensitive")
        ),
        gap_ids.with_columns(pl.concat_str([pl.col("indicator_id"), pl.lit(f"{COMPONENT}1")]).alias("indicator_id")),
        gap_ids.with_columns(pl.concat_str([pl.col("indicator_id"), pl.lit(f"{COMPONENT}2")]).alias("indicator_id")),
    ]).select("indicator_id", "denominator_kind", "sensitive", "ci_method")
    windows = (
        cells.filter(rolling).select("indicator_id").unique()
        .with_columns(pl.col("indicator_id").str.replace(rf"{COMPONENT}12m.*$", "").alias("_of"))
        .join(cell_meta.rename({"indicator_id": "_of"}), on="_of", how="left").drop("_of")
    )
    cell_meta = pl.concat([cell_meta, windows.select(cell_meta.columns)])
    return cells, cell_meta


def apply_disclosure(counts: pl.DataFrame, protected: pl.DataFrame, indicators: pl.DataFrame) -> pl.DataFrame:
    """counts + `suppressed` from the protected cells (a row is withheld if any of its cells is); the
    counts of a withheld row are nulled (a population denominator stays: it is public)."""
    flags = (
        protected.select(
            pl.col("indicator_id").str.replace(rf"{COMPONENT}.*$", ""), "period", "area_code", "breakdown",
            pl.col("suppressed").fill_null(False),
        )
        .group_by(_KEY)
        .agg(pl.col("suppressed").any())
    )
    kinds = indicators.select("indicator_id", pl.col("denominator_kind").alias("_kind"))
    supp = pl.col("suppressed")
    out = (
        counts.join(flags, on=_KEY, how="left")
        .join(kinds, on="indicator_id", how="left")
        .with_columns(supp.fill_null(False))
        .with_columns(
            *[pl.when(supp).then(None).otherwise(pl.col(c)).alias(c)
              for c in ("numerator", "numerator_2", "denominator_2", "sum_squares")],
            pl.when(supp & (pl.col("_kind") == "client")).then(None).otherwise(pl.col("denominator")).alias(
                "denominator"),
        )
        .drop("_kind")
    )
    return out
