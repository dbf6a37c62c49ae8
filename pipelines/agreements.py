"""Data Specification Agreements at a glance (`lcp agreements`): review dates and late supplies.

For each supplier and dataset: the agreement's review date, flagged `due` within REVIEW_DUE_DAYS days
and `past` once passed; the frequency of supply; the last supply held (period, date provided); when the
next supply is expected and whether it is `late`.

Next supply expected: the last supply's refresh date (the agreement's metadata says when the data is
next refreshed) when that is after its date provided; otherwise the date provided plus one interval
of the agreed frequency (a month, a quarter, a year). A dataset with no supply yet is expected at once.
"""
from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.specs import Agreement

REVIEW_DUE_DAYS = 60
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}

STATUS_SCHEMA: dict[str, pl.DataType] = {
    "supplier_code": pl.String(), "supplier": pl.String(), "dataset": pl.String(), "record_level": pl.String(),
    "frequency": pl.String(), "review_date": pl.Date(), "review": pl.String(), "last_period": pl.String(),
    "last_date_provided": pl.Date(), "last_loaded_at": pl.Datetime("us"), "next_expected": pl.Date(),
    "late": pl.Boolean(),
}


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` months later (clipped to the month's last day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def review_flag(review_date: dt.date, today: dt.date) -> str | None:
    if review_date < today:
        return "past"
    if (review_date - today).days <= REVIEW_DUE_DAYS:
        return "due"
    return None


def next_expected(frequency: str, date_provided: dt.date | None, refresh_date: dt.date | None) -> dt.date | None:
    if date_provided is None:
        return refresh_date
    if refresh_date is not None and refresh_date > date_provided:
        return refresh_date
    return add_months(date_provided, FREQUENCY_MONTHS[frequency])


def status(agreements: list[Agreement], supplies: pl.DataFrame, today: dt.date | None = None) -> pl.DataFrame:
    """One row per supplier and dataset (STATUS_SCHEMA), from the agreements and the store's supplies."""
    today = today or dt.date.today()
    rows = []
    for a in sorted(agreements, key=lambda a: a.supplier_code):
        for d in a.datasets:
            mine = supplies.filter(pl.col("dataset") == d.dataset) if supplies.height else supplies
            last = mine.sort(["period", "loaded_at"]).tail(1).to_dicts() if mine.height else []
            if last:
                s = last[0]
                provided = s.get("date_provided") or (s["loaded_at"].date() if s.get("loaded_at") else None)
                expected = next_expected(d.frequency, provided, s.get("refresh_date"))
                row = {"last_period": s["period"], "last_date_provided": provided, "last_loaded_at": s.get("loaded_at"),
                       "next_expected": expected}
            else:
                row = {"last_period": None, "last_date_provided": None, "last_loaded_at": None,
                       "next_expected": today}
            rows.append({
                "supplier_code": a.supplier_code, "supplier": a.supplier, "dataset": d.dataset,
                "record_level": d.record_level, "frequency": d.frequency, "review_date": a.review_date,
                "review": review_flag(a.review_date, today), **row,
                "late": row["next_expected"] is not None and row["next_expected"] < today,
            })
    return pl.DataFrame(rows, schema=STATUS_SCHEMA) if rows else pl.DataFrame(schema=STATUS_SCHEMA)
