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
