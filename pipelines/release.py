"""The read-only reader of the published release (`published/scorecard.duckdb`).

This is the only module with SQL that reads the release; the dashboard, exports and briefs go through
it. Every query runs on its own cursor (`con.cursor()`, safe to share one connection between
Streamlit sessions), every value is a bound parameter, and every result is a polars DataFrame.

    con = open_release()                      # read-only; ReleaseMissing if nothing is published
    reader = ReleaseReader(con)
    reader.release_info()                     # {'release_id': ..., 'built_at': ..., ...}
    reader.scorecard("LCP01")                 # one row per indicator, latest period, breakdown 'all'
    reader.map_values("NI 55", "2023/24")     # one row per ward

Suppressed rows come back as the release holds them: `suppressed` true and the value, limits, RAG,
direction, quartile and comparison NULL. Showing them as withheld (`c`) is the caller's job
(`pipelines.charts.format_value`).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines import config

#: Tables the contract (../shared/contract.md, "The published release") promises.
RELEASE_TABLES = ("areas", "area_lookup", "indicators", "indicator_values", "benchmarks", "release", "sources")
#: Every Child Matters outcomes in their customary order (the scorecard's grouping).
ECM_OUTCOMES = (
    "Be healthy",
    "Stay safe",
    "Enjoy and achieve",
    "Make a positive contribution",
    "Achieve economic well-being",
)
#: The benchmark the scorecard shows next to every value.
DEFAULT_BENCHMARK = "England"
_YEAR = re.compile(r"\d{4}/\d{2}")  # a financial-year period label

# Sort keys shared by several queries: indicator ids in natural order (NI 55 before NI 111).
_INDICATOR_ORDER = "TRY_CAST(regexp_extract(i.indicator_id, '(\\d+)', 1) AS INTEGER) NULLS LAST, i.indicator_id"
_ECM_ORDER = "coalesce(list_position($ecm, i.ecm_outcome), 99)"


#: Whole-table queries (fixed text, no user input), ordered by their keys.
_WHOLE_TABLES = {
    "areas": "SELECT * FROM areas ORDER BY list_position(['county', 'partnership', 'district', 'ward'], area_level), area_code",
    "area_lookup": "SELECT * FROM area_lookup ORDER BY ward_code",
    "indicators": "SELECT * FROM indicators ORDER BY indicator_id",
    "indicator_values": "SELECT * FROM indicator_values ORDER BY indicator_id, period, area_level, area_code, breakdown",
    "benchmarks": "SELECT * FROM benchmarks ORDER BY indicator_id, period, benchmark",
    "release": "SELECT * FROM release",
    "sources": "SELECT * FROM sources ORDER BY ALL",
}


class ReleaseMissing(FileNotFoundError):
    """There is no (complete) published release where one was expected."""


def open_release(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the published release read-only (default `config.release_path()`).

    Raises `ReleaseMissing` with a message saying how to build one if the file does not exist, is
    not a DuckDB database, or lacks one of the contract's tables.
    """
    path = Path(path) if path is not None else config.release_path()
    if not path.is_file():
        raise ReleaseMissing(f"No published release at {path}: run `lcp build` (or `make run`).")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise ReleaseMissing(f"The release at {path} cannot be opened ({e}): run `lcp build` (or `make run`).") from None
    cur = con.cursor()
    try:
        rows = cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    finally:
        cur.close()
    missing = sorted(set(RELEASE_TABLES) - {r[0] for r in rows})
    if missing:
        con.close()
        raise ReleaseMissing(
            f"The release at {path} is incomplete (no table {', '.join(missing)}): run `lcp build` (or `make run`)."
        )
    return con


class ReleaseReader:
    """Typed read-only queries over an open release connection (see `open_release`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    # ------------------------------------------------------------------ plumbing
    def _frame(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        cur = self._con.cursor()
        try:
            rel = cur.sql(sql, params=params) if params else cur.sql(sql)
            try:
                return rel.pl()
            finally:
                rel.close()
        finally:
            cur.close()

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        cur = self._con.cursor()
        try:
            return cur.execute(sql, params or {}).fetchall()
        finally:
            cur.close()

    # ------------------------------------------------------------------ metadata
    def release_info(self) -> dict[str, Any]:
        """The `release` row as a dict (release_id, built_at, suppression_threshold, methods_version, ...)."""
        frame = self._frame("SELECT * FROM release LIMIT 1")
        return frame.row(0, named=True) if frame.height else {}

    def sources(self) -> pl.DataFrame:
        """One row per supply used: supplier, dataset, record_level, period, date_provided, refresh_date."""
        return self._frame("SELECT * FROM sources ORDER BY ALL")

    def table(self, name: str) -> pl.DataFrame:
        """A whole contract table, every column, in a stable order (for open-data export and audit)."""
        if name not in _WHOLE_TABLES:
            raise ValueError(f"not a release table: {name!r}")
        return self._frame(_WHOLE_TABLES[name])

    # ------------------------------------------------------------------ areas
    def areas(self, level: str | None = None) -> pl.DataFrame:
        """area_code, area_name, area_level, parent_code; county first, then partnerships, districts, wards."""
        return self._frame(
            """
            SELECT area_code, area_name, area_level, parent_code FROM areas
            WHERE $level IS NULL OR area_level = $level
            ORDER BY list_position(['county', 'partnership', 'district', 'ward'], area_level), area_code
            """,
            {"level": level},
        )

    def top_area(self) -> str | None:
        """The code of the release's top area (its `county` level: Lincolnshire, or England in a national
        release), None if the release has no areas."""
        frame = self._frame("SELECT area_code FROM areas WHERE area_level = 'county' ORDER BY area_code LIMIT 1")
        return frame["area_code"][0] if frame.height else None

    def partnerships(self) -> pl.DataFrame:
        """area_code, area_name of the partnership areas, in code order (LCP01, LCP02, ...)."""
        return self.areas("partnership").select("area_code", "area_name")

    def area_lookup(self) -> pl.DataFrame:
        """ward_code, district_code, partnership_code, county_code: one row per ward."""
        return self._frame("SELECT ward_code, district_code, partnership_code, county_code FROM area_lookup ORDER BY ward_code")

    # ------------------------------------------------------------------ indicators and periods
    def indicators(self) -> pl.DataFrame:
        """Every indicator's metadata, ordered by Every Child Matters outcome then id (NI 55 before NI 111)."""
        return self._frame(
            f"SELECT i.* FROM indicators i ORDER BY {_ECM_ORDER}, {_INDICATOR_ORDER}",
            {"ecm": list(ECM_OUTCOMES)},
        )

    def periods(self, indicator_id: str) -> list[str]:
        """The indicator's published periods, oldest first ('2022/23' < '2023/24' < '2023/24 Q1')."""
        rows = self._rows(
            "SELECT DISTINCT period FROM indicator_values WHERE indicator_id = $id ORDER BY period",
            {"id": indicator_id},
        )
        return [r[0] for r in rows]

    def latest_period(self, indicator_id: str) -> str | None:
        """The newest financial year ('2024/25') if the indicator has one, else its newest period: a
        quarter or a 12-month window is a detail of its year, and only years are published for wards."""
        periods = self.periods(indicator_id)
        years = [p for p in periods if _YEAR.fullmatch(p)]
        return (years or periods or [None])[-1]

    # ------------------------------------------------------------------ values
    def scorecard(self, area_code: str, period: str | None = None, benchmark: str = DEFAULT_BENCHMARK) -> pl.DataFrame:
        """One row per indicator for one area, breakdown 'all'.

        The area's latest period for each indicator, or `period` when given (an indicator without a
        row for that period comes back with NULL period and value: "no data", not withheld).
        Columns: indicator_id, title, ecm_outcome, unit, polarity, period, numerator, denominator,
        value, lower_95, upper_95, suppressed, rag, direction, quartile, vs_benchmark,
        benchmark_value (the named benchmark's value for that period, default England).
        Ordered by Every Child Matters outcome, then indicator id.
        """
        return self._frame(
            f"""
            WITH v AS (
                SELECT * FROM indicator_values
                WHERE area_code = $area AND breakdown = 'all' AND ($period IS NULL OR period = $period)
                QUALIFY row_number() OVER (PARTITION BY indicator_id
                                           ORDER BY length(period) = 7 DESC, period DESC) = 1
            )
            SELECT i.indicator_id, i.title, i.ecm_outcome, i.unit, i.polarity,
                   v.period, v.numerator, v.denominator, v.value, v.lower_95, v.upper_95,
                   coalesce(v.suppressed, false) AS suppressed,
                   v.rag, v.direction, v.quartile, v.vs_benchmark,
                   b.value AS benchmark_value
            FROM indicators i
            LEFT JOIN v ON v.indicator_id = i.indicator_id
            LEFT JOIN benchmarks b
                   ON b.indicator_id = i.indicator_id AND b.period = v.period AND b.benchmark = $benchmark
            ORDER BY {_ECM_ORDER}, {_INDICATOR_ORDER}
            """,
            {"area": area_code, "period": period, "benchmark": benchmark, "ecm": list(ECM_OUTCOMES)},
        )

    def map_values(self, indicator_id: str, period: str, level: str = "ward") -> pl.DataFrame:
        """One row per area of `level` with a published row (breakdown 'all') for the indicator and period.

        Columns: area_code, area_name, partnership_code (the area's partnership for wards, districts
        and partnerships; NULL for the county), value, lower_95, upper_95, numerator, denominator,
        suppressed, rag, quartile, vs_benchmark, direction. Ordered by area_code.
        """
        return self._frame(
            """
            SELECT a.area_code, a.area_name,
                   CASE a.area_level
                        WHEN 'partnership' THEN a.area_code
                        WHEN 'ward' THEN (SELECT l.partnership_code FROM area_lookup l WHERE l.ward_code = a.area_code)
                        WHEN 'district' THEN (SELECT min(l.partnership_code) FROM area_lookup l
                                              WHERE l.district_code = a.area_code)
                   END AS partnership_code,
                   v.value, v.lower_95, v.upper_95, v.numerator, v.denominator,
                   coalesce(v.suppressed, false) AS suppressed,
                   v.rag, v.quartile, v.vs_benchmark, v.direction
            FROM indicator_values v
            JOIN areas a ON a.area_code = v.area_code
            WHERE v.indicator_id = $id AND v.period = $period AND v.breakdown = 'all' AND a.area_level = $level
            ORDER BY a.area_code
            """,
            {"id": indicator_id, "period": period, "level": level},
        )

    def benchmarks(self, indicator_id: str) -> pl.DataFrame:
        """benchmark, period, value, lower_95, upper_95, source for one indicator."""
        return self._frame(
            """
            SELECT benchmark, period, value, lower_95, upper_95, source FROM benchmarks
            WHERE indicator_id = $id ORDER BY benchmark, period
            """,
            {"id": indicator_id},
        )

    # ------------------------------------------------------------------ corrections and changes
    def _has_table(self, name: str) -> bool:
        rows = self._rows(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = $name",
            {"name": name},
        )
        return bool(rows[0][0])

    def published_values(self) -> pl.DataFrame:
        """indicator_id, period, area_code, area_level, breakdown, value, suppressed of every row
        (what the next build compares with to list the figures that changed)."""
        return self._frame(
            "SELECT indicator_id, period, area_code, area_level, breakdown, value, suppressed FROM indicator_values"
        )

    def corrections(self, open_only: bool = False) -> pl.DataFrame:
        """Corrections published with the release (open, and recently closed): id, supplier, indicator_id,
        area_code, period, description, reported_on, deadline, status, closed_in_release; by deadline.
        Empty (same columns) for a release built before corrections were published."""
        if not self._has_table("corrections"):
            return pl.DataFrame(schema=_CORRECTIONS_SCHEMA)
        frame = self._frame(
            "SELECT * FROM corrections WHERE NOT $open OR status = 'open' ORDER BY status DESC, deadline, id",
            {"open": open_only},
        )
        return frame if frame.height else pl.DataFrame(schema=_CORRECTIONS_SCHEMA)

    # ------------------------------------------------------------------ judgements (docs/methods.md)
    def _columns(self, table: str) -> set[str]:
        rows = self._rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $t",
            {"t": table},
        )
        return {r[0] for r in rows}

    def summary_counts(self, area_code: str) -> pl.DataFrame:
        """How many indicators of each Every Child Matters outcome are in each category, for one area, at each
        indicator's latest period (breakdown 'all'): area_code, period_basis ('latest'), ecm_outcome, measure
        ('rag', 'quartile', 'direction', 'vs_benchmark'), category ('green', ..., '1'..'4', 'improving',
        'no_change', 'worsening', 'better', 'similar', 'worse', 'no judgement', 'withheld', 'no data'),
        n_indicators. Every category is listed (zeros too); ordered by outcome, measure, category.
        Empty (same columns) for a release built before the table existed."""
        if not self._has_table("summary_counts"):
            return pl.DataFrame(schema=_SUMMARY_SCHEMA)
        frame = self._frame(
            """
            SELECT area_code, period_basis, ecm_outcome, measure, category, n_indicators FROM summary_counts
            WHERE area_code = $area
            ORDER BY coalesce(list_position($ecm, ecm_outcome), 99), list_position($measures, measure),
                     coalesce(list_position($cats, category), 99), category
            """,
            {"area": area_code, "ecm": list(ECM_OUTCOMES), "measures": list(_SUMMARY_MEASURES),
             "cats": list(_SUMMARY_CATEGORY_ORDER)},
        )
        return frame if frame.height else pl.DataFrame(schema=_SUMMARY_SCHEMA)

    def exceptions(self, area_code: str | None = None, levels: tuple[str, ...] = ("county", "partnership", "district"),
                   benchmark: str = DEFAULT_BENCHMARK) -> pl.DataFrame:
        """Indicators rated red at their latest period (latest year, or latest period without years),
        breakdown 'all', for one area or every area of `levels` (wards are left out by default):
        indicator_id, title, ecm_outcome, unit, polarity, area_code, area_name, area_level, period, value,
        lower_95, upper_95, rag, direction, trend, quartile, vs_benchmark, benchmark_value,
        red_and_worsening (red and worsening by the direction of travel or by the trend).
        Red and worsening first, then Every Child Matters order, indicator order (NI 55 before NI 111),
        area level (county, partnership, district, ward) and code. Withheld rows are never red."""
        have = self._columns("indicator_values")
        trend = "v.trend" if "trend" in have else "CAST(NULL AS VARCHAR)"
        bench = ("coalesce(v.benchmark_value, b.value)" if "benchmark_value" in have else "b.value")
        return self._frame(
            f"""
            WITH latest AS (
                SELECT indicator_id, period FROM (SELECT DISTINCT indicator_id, period FROM indicator_values)
                QUALIFY row_number() OVER (PARTITION BY indicator_id
                        ORDER BY regexp_full_match(period, '[0-9]{{4}}/[0-9]{{2}}') DESC, period DESC) = 1
            )
            SELECT i.indicator_id, i.title, i.ecm_outcome, i.unit, i.polarity,
                   v.area_code, a.area_name, v.area_level, v.period, v.value, v.lower_95, v.upper_95,
                   v.rag, v.direction, {trend} AS trend, v.quartile, v.vs_benchmark,
                   {bench} AS benchmark_value,
                   (coalesce(v.direction = 'worsening', false) OR coalesce({trend} = 'worsening', false))
                       AS red_and_worsening
            FROM indicator_values v
            JOIN latest l ON l.indicator_id = v.indicator_id AND l.period = v.period
            JOIN indicators i ON i.indicator_id = v.indicator_id
            JOIN areas a ON a.area_code = v.area_code
            LEFT JOIN benchmarks b
                   ON b.indicator_id = v.indicator_id AND b.period = v.period AND b.benchmark = $benchmark
            WHERE v.breakdown = 'all' AND v.rag = 'red' AND NOT coalesce(v.suppressed, false)
              AND ($area IS NULL OR v.area_code = $area)
              AND ($area IS NOT NULL OR list_contains($levels, v.area_level))
            ORDER BY red_and_worsening DESC, {_ECM_ORDER}, {_INDICATOR_ORDER},
                     list_position(['county', 'partnership', 'district', 'ward'], v.area_level), v.area_code
            """,
            {"area": area_code, "levels": list(levels), "benchmark": benchmark, "ecm": list(ECM_OUTCOMES)},
        ).select(list(_EXCEPTIONS_SCHEMA)).cast(_EXCEPTIONS_SCHEMA)  # type: ignore[arg-type]

    def funnel(self, indicator_id: str, period: str, level: str) -> pl.DataFrame:
        """Funnel-plot control limits for one indicator, period and level (ward, district, partnership):
        indicator_id, period, area_level, centre_kind ('county', or 'England' where the county value is
        withheld), centre, denominator, lower_998, lower_95, upper_95, upper_998; by denominator (a regular
        grid, never the areas' own). Empty (same columns) where there is none or for an older release."""
        if not self._has_table("funnel"):
            return pl.DataFrame(schema=_FUNNEL_SCHEMA)
        frame = self._frame(
            """
            SELECT indicator_id, period, area_level, centre_kind, centre, denominator,
                   lower_998, lower_95, upper_95, upper_998
            FROM funnel WHERE indicator_id = $id AND period = $period AND area_level = $level
            ORDER BY denominator
            """,
            {"id": indicator_id, "period": period, "level": level},
        )
        return frame if frame.height else pl.DataFrame(schema=_FUNNEL_SCHEMA)

    def quartile_thresholds(self, indicator_id: str | None = None) -> pl.DataFrame:
        """England quartile thresholds shipped as benchmark data: indicator_id, period, benchmark,
        area_level, lower_quartile, median, upper_quartile, source (demo values are labelled so)."""
        if not self._has_table("quartile_thresholds"):
            return pl.DataFrame(schema=_THRESHOLDS_SCHEMA)
        frame = self._frame(
            """
            SELECT indicator_id, period, benchmark, area_level, lower_quartile, median, upper_quartile, source
            FROM quartile_thresholds WHERE $id IS NULL OR indicator_id = $id
            ORDER BY indicator_id, period, area_level
            """,
            {"id": indicator_id},
        )
        return frame if frame.height else pl.DataFrame(schema=_THRESHOLDS_SCHEMA)

    def changes(self) -> pl.DataFrame:
        """Figures changed since the previous release: indicator_id, period, area_code, area_level, breakdown,
        previous_value, value, previous_suppressed, suppressed, change (new, changed, removed),
        previous_release_id. A withheld value is NULL. Empty for a first release or an older one."""
        if not self._has_table("changes"):
            return pl.DataFrame(schema=_CHANGES_SCHEMA)
        frame = self._frame(
            f"""
            SELECT c.* FROM changes c LEFT JOIN indicators i ON i.indicator_id = c.indicator_id
            ORDER BY {_INDICATOR_ORDER}, c.period, list_position(['county', 'partnership', 'district', 'ward'],
                     c.area_level), c.area_code, c.breakdown
            """
        )
        return frame if frame.height else pl.DataFrame(schema=_CHANGES_SCHEMA)

    # ---- dashboard queries (issue 8)
    def has_table(self, name: str) -> bool:
        """Whether the release has this table (an older release lacks the optional ones)."""
        return self._has_table(name)

    def columns(self, table: str) -> list[str]:
        """The column names of a release table ([] if there is no such table)."""
        rows = self._rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $t "
            "ORDER BY ordinal_position",
            {"t": table},
        )
        return [r[0] for r in rows]

    def series(self, area_code: str, indicator_id: str | None = None, benchmark: str = DEFAULT_BENCHMARK) -> pl.DataFrame:
        """Every financial/academic-year value of one area (breakdown 'all'), oldest first: indicator_id,
        period, numerator, denominator, value, lower_95, upper_95, suppressed, rag, direction, quartile,
        vs_benchmark, benchmark_value (the named benchmark for that period), and trend where the release
        has it. One indicator when given."""
        extra = "".join(f", v.{c}" for c in self.columns("indicator_values") if c == "trend")
        return self._frame(
            f"""
            SELECT v.indicator_id, v.period, v.numerator, v.denominator, v.value, v.lower_95, v.upper_95,
                   coalesce(v.suppressed, false) AS suppressed, v.rag, v.direction, v.quartile, v.vs_benchmark{extra},
                   b.value AS benchmark_value
            FROM indicator_values v
            LEFT JOIN benchmarks b ON b.indicator_id = v.indicator_id AND b.period = v.period AND b.benchmark = $benchmark
            WHERE v.area_code = $area AND v.breakdown = 'all' AND regexp_full_match(v.period, '\\d{{4}}/\\d{{2}}')
              AND ($id IS NULL OR v.indicator_id = $id)
            ORDER BY v.indicator_id, v.period
            """,
            {"area": area_code, "id": indicator_id, "benchmark": benchmark},
        )

    def counts_series(self, area_code: str, indicator_id: str) -> pl.DataFrame:
        """Every yearly row of one indicator for one area (breakdown 'all'), oldest first, with the counts a
        significance test needs: period, numerator, denominator, value, lower_95, upper_95, suppressed, and
        numerator_2, denominator_2, sum_squares where the release has them (else NULL). For the local
        plan's "is it working" test (`pipelines.plans.movement`)."""
        have = set(self.columns("indicator_values"))
        extra = ", ".join(f"v.{c}" if c in have else f"CAST(NULL AS DOUBLE) AS {c}"
                          for c in ("numerator_2", "denominator_2", "sum_squares"))
        return self._frame(
            f"""
            SELECT v.period, v.numerator, v.denominator, v.value, v.lower_95, v.upper_95,
                   coalesce(v.suppressed, false) AS suppressed, {extra}
            FROM indicator_values v
            WHERE v.area_code = $area AND v.indicator_id = $id AND v.breakdown = 'all'
              AND regexp_full_match(v.period, '\\d{{4}}/\\d{{2}}')
            ORDER BY v.period
            """,
            {"area": area_code, "id": indicator_id},
        )

    def breakdowns(self, indicator_id: str, period: str, area_code: str) -> pl.DataFrame:
        """The breakdown rows (not 'all') of one indicator, period and area: dimension (sex, ethnicity,
        age), category, breakdown, numerator, denominator, value, lower_95, upper_95, suppressed;
        ordered by dimension then category as published."""
        return self._frame(
            """
            SELECT split_part(breakdown, '=', 1) AS dimension, split_part(breakdown, '=', 2) AS category, breakdown,
                   numerator, denominator, value, lower_95, upper_95, coalesce(suppressed, false) AS suppressed
            FROM indicator_values
            WHERE indicator_id = $id AND period = $period AND area_code = $area AND breakdown <> 'all'
            ORDER BY list_position(['sex', 'age', 'ethnicity'], split_part(breakdown, '=', 1)),
                     TRY_CAST(regexp_extract(breakdown, '=(\\d+)', 1) AS INTEGER) NULLS LAST, breakdown
            """,
            {"id": indicator_id, "period": period, "area": area_code},
        )

    def level_values(self, indicator_id: str, period: str, level: str) -> pl.DataFrame:
        """One row per area of `level` (breakdown 'all') for the ranked bars and funnel plot: area_code,
        area_name, partnership_code, numerator, denominator, value, lower_95, upper_95, lower_998,
        upper_998, suppressed, rag, quartile, vs_benchmark, direction; ordered by value (withheld last)."""
        return self._frame(
            """
            SELECT a.area_code, a.area_name,
                   CASE a.area_level
                        WHEN 'partnership' THEN a.area_code
                        WHEN 'ward' THEN (SELECT l.partnership_code FROM area_lookup l WHERE l.ward_code = a.area_code)
                        WHEN 'district' THEN (SELECT min(l.partnership_code) FROM area_lookup l
                                              WHERE l.district_code = a.area_code)
                   END AS partnership_code,
                   v.numerator, v.denominator, v.value, v.lower_95, v.upper_95, v.lower_998, v.upper_998,
                   coalesce(v.suppressed, false) AS suppressed, v.rag, v.quartile, v.vs_benchmark, v.direction
            FROM indicator_values v JOIN areas a ON a.area_code = v.area_code
            WHERE v.indicator_id = $id AND v.period = $period AND v.breakdown = 'all' AND a.area_level = $level
            ORDER BY coalesce(v.suppressed, false), v.value NULLS LAST, a.area_code
            """,
            {"id": indicator_id, "period": period, "level": level},
        )

    def profile(self, area_code: str, benchmark: str = DEFAULT_BENCHMARK) -> pl.DataFrame:
        """Every indicator for one area at its latest year, with what a spine chart sets it against.

        Columns: the `scorecard` columns (indicator_id, title, ecm_outcome, unit, polarity, period, ...,
        benchmark_value), every other `indicator_values` column the release has (e.g. trend), plus
        county_value (the county's value that period, NULL if withheld), area_level, and the range of
        published values among areas of the same level that period: range_min, range_q1, range_q3,
        range_max, range_n (number of published areas). Ordered as the scorecard."""
        extra = [c for c in self.columns("indicator_values") if c in ("trend", "national_quartile")]
        extra_sql = "".join(f", v.{c}" for c in extra)
        return self._frame(
            f"""
            WITH me AS (SELECT area_level FROM areas WHERE area_code = $area),
            v AS (
                SELECT * FROM indicator_values
                WHERE area_code = $area AND breakdown = 'all' AND regexp_full_match(period, '\\d{{4}}/\\d{{2}}')
                QUALIFY row_number() OVER (PARTITION BY indicator_id ORDER BY period DESC) = 1
            ),
            rng AS (
                SELECT o.indicator_id, o.period, min(o.value) AS range_min, quantile_cont(o.value, 0.25) AS range_q1,
                       quantile_cont(o.value, 0.75) AS range_q3, max(o.value) AS range_max, count(o.value) AS range_n
                FROM indicator_values o JOIN v ON v.indicator_id = o.indicator_id AND v.period = o.period
                WHERE o.breakdown = 'all' AND o.area_level = (SELECT area_level FROM me) AND NOT coalesce(o.suppressed, false)
                GROUP BY ALL
            )
            SELECT i.indicator_id, i.title, i.ecm_outcome, i.unit, i.polarity,
                   v.period, v.numerator, v.denominator, v.value, v.lower_95, v.upper_95,
                   coalesce(v.suppressed, false) AS suppressed,
                   v.rag, v.direction, v.quartile, v.vs_benchmark{extra_sql},
                   b.value AS benchmark_value,
                   (SELECT c.value FROM indicator_values c WHERE c.indicator_id = i.indicator_id AND c.period = v.period
                      AND c.area_level = 'county' AND c.breakdown = 'all' AND NOT coalesce(c.suppressed, false)
                    LIMIT 1) AS county_value,
                   (SELECT area_level FROM me) AS area_level,
                   rng.range_min, rng.range_q1, rng.range_q3, rng.range_max, coalesce(rng.range_n, 0) AS range_n
            FROM indicators i
            LEFT JOIN v ON v.indicator_id = i.indicator_id
            LEFT JOIN benchmarks b ON b.indicator_id = i.indicator_id AND b.period = v.period AND b.benchmark = $benchmark
            LEFT JOIN rng ON rng.indicator_id = i.indicator_id AND rng.period = v.period
            ORDER BY {_ECM_ORDER}, {_INDICATOR_ORDER}
            """,
            {"area": area_code, "benchmark": benchmark, "ecm": list(ECM_OUTCOMES)},
        )

    def neighbours(self, area_code: str) -> pl.DataFrame:
        """Areas to compare with: for a ward the other wards of its partnership area; for a partnership
        area or district the others of its level; for the county, the partnership areas. area_code,
        area_name, area_level, in code order."""
        return self._frame(
            """
            WITH me AS (SELECT area_code, area_level FROM areas WHERE area_code = $area)
            SELECT a.area_code, a.area_name, a.area_level FROM areas a, me
            WHERE a.area_code <> me.area_code AND (
                (me.area_level = 'ward' AND a.area_level = 'ward' AND a.area_code IN (
                    SELECT l2.ward_code FROM area_lookup l1 JOIN area_lookup l2 ON l2.partnership_code = l1.partnership_code
                    WHERE l1.ward_code = me.area_code))
                OR (me.area_level IN ('partnership', 'district') AND a.area_level = me.area_level)
                OR (me.area_level = 'county' AND a.area_level = 'partnership'))
            ORDER BY a.area_code
            """,
            {"area": area_code},
        )


_CORRECTIONS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(), "supplier": pl.String(), "indicator_id": pl.String(), "area_code": pl.String(),
    "period": pl.String(), "description": pl.String(), "reported_on": pl.Date(), "deadline": pl.Date(),
    "status": pl.String(), "closed_in_release": pl.String(),
}
_CHANGES_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "period": pl.String(), "area_code": pl.String(), "area_level": pl.String(),
    "breakdown": pl.String(), "previous_value": pl.Float64(), "value": pl.Float64(),
    "previous_suppressed": pl.Boolean(), "suppressed": pl.Boolean(), "change": pl.String(),
    "previous_release_id": pl.String(),
}
_SUMMARY_MEASURES = ("rag", "quartile", "direction", "vs_benchmark")
_SUMMARY_CATEGORY_ORDER = (
    "green", "amber", "red", "1", "2", "3", "4", "improving", "no_change", "worsening", "better", "similar", "worse",
    "no judgement", "withheld", "no data",
)
_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "area_code": pl.String(), "period_basis": pl.String(), "ecm_outcome": pl.String(), "measure": pl.String(),
    "category": pl.String(), "n_indicators": pl.Int64(),
}
_EXCEPTIONS_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "title": pl.String(), "ecm_outcome": pl.String(), "unit": pl.String(),
    "polarity": pl.String(), "area_code": pl.String(), "area_name": pl.String(), "area_level": pl.String(),
    "period": pl.String(), "value": pl.Float64(), "lower_95": pl.Float64(), "upper_95": pl.Float64(),
    "rag": pl.String(), "direction": pl.String(), "trend": pl.String(), "quartile": pl.Int32(),
    "vs_benchmark": pl.String(), "benchmark_value": pl.Float64(), "red_and_worsening": pl.Boolean(),
}
_FUNNEL_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "period": pl.String(), "area_level": pl.String(), "centre_kind": pl.String(),
    "centre": pl.Float64(), "denominator": pl.Float64(), "lower_998": pl.Float64(), "lower_95": pl.Float64(),
    "upper_95": pl.Float64(), "upper_998": pl.Float64(),
}
_THRESHOLDS_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "period": pl.String(), "benchmark": pl.String(), "area_level": pl.String(),
    "lower_quartile": pl.Float64(), "median": pl.Float64(), "upper_quartile": pl.Float64(), "source": pl.String(),
}
