"""Corrections: errors in published figures reported by suppliers (protocol 5.ii: corrected within 7
working days of being identified).

A correction is a working item (`pipelines.working_store`, kind `corrections`): who reported what
(supplier, indicator, area, period, description), when (`reported_on`), its deadline (7 working days
after `reported_on`, weekends and England bank holidays skipped) and, once a release fixes it,
`closed_in_release`. Opening and closing are also written to the audit log.

`lcp build` publishes the open and recently closed corrections (`for_release`) in the release's
`corrections` table: the description is published as text, so it must not name or describe a child.
"""
from __future__ import annotations

import datetime as dt
import re

import polars as pl

from pipelines import audit_log
from pipelines.working_days import days_left_text, working_days_after, working_days_between
from pipelines.working_store import Kind, WorkingStore

__all__ = ["KIND", "CorrectionError", "add", "close", "listing", "for_release", "days_left_text",
           "working_days_after", "working_days_between"]

WORKING_DAYS_TO_CORRECT = 7
#: closed corrections stay in the release (and on the dashboard) for this many days after closing
RECENT_DAYS = 90
PERIOD_RE = re.compile(r"^\d{4}/\d{2}( Q[1-4])?$")
MAX_DESCRIPTION = 2000

KIND = Kind("corrections", {
    "supplier": "VARCHAR",
    "indicator_id": "VARCHAR",
    "area_code": "VARCHAR",
    "period": "VARCHAR",
    "description": "VARCHAR",
    "reported_by": "VARCHAR",
    "reported_on": "DATE",
    "deadline": "DATE",
    "status": "VARCHAR",
    "closed_in_release": "VARCHAR",
    "closed_on": "DATE",
})

#: The release table `corrections` (pipelines.build), in order.
RELEASE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.Int64(), "supplier": pl.String(), "indicator_id": pl.String(), "area_code": pl.String(),
    "period": pl.String(), "description": pl.String(), "reported_on": pl.Date(), "deadline": pl.Date(),
    "status": pl.String(), "closed_in_release": pl.String(),
}


class CorrectionError(ValueError):
    """A correction that cannot be recorded or closed as asked; the message says why."""


# ---------------------------------------------------------------- recording
def _known_indicators() -> set[str]:
    from pipelines.specs import load_indicators

    return {s.id for s in load_indicators()}


def _known_areas() -> set[str]:
    from pipelines import geography

    return set(geography.areas()["area_code"].to_list())


def add(ws: WorkingStore, *, supplier: str, indicator_id: str, area_code: str, period: str, description: str,
        reported_by: str | None = None, reported_on: dt.date | None = None, actor: str | None = None,
        today: dt.date | None = None) -> int:
    """Record a reported error; returns its id. Raises CorrectionError naming the bad field."""
    today = today or dt.date.today()
    actor = actor or audit_log.default_actor()
    reported_on = reported_on or today
    supplier, indicator_id, area_code, period = (s.strip() for s in (supplier, indicator_id, area_code, period))
    description = description.strip()
    if not supplier or len(supplier) > 200:
        raise CorrectionError("--supplier: give the supplier (its code or name, at most 200 characters)")
    if indicator_id not in (known := _known_indicators()):
        raise CorrectionError(f"--indicator: {indicator_id!r} is not an indicator (known: {', '.join(sorted(known))})")
    if area_code not in _known_areas():
        raise CorrectionError(f"--area: {area_code!r} is not an area code of the scorecard (e.g. LCP01, E10000019)")
    if not PERIOD_RE.match(period):
        raise CorrectionError(f"--period: {period!r} must look like 2023/24 (or 2023/24 Q3)")
    if not description or len(description) > MAX_DESCRIPTION:
        raise CorrectionError(f"--description: say what is wrong (1 to {MAX_DESCRIPTION} characters)")
    if reported_on > today:
        raise CorrectionError(f"--reported-on: {reported_on:%Y-%m-%d} is in the future")
    deadline = working_days_after(reported_on, WORKING_DAYS_TO_CORRECT)
    item_id = ws.add(KIND, {
        "supplier": supplier, "indicator_id": indicator_id, "area_code": area_code, "period": period,
        "description": description, "reported_by": (reported_by or "").strip() or None, "reported_on": reported_on,
        "deadline": deadline, "status": "open", "closed_in_release": None, "closed_on": None,
    }, actor=actor, action="open")
    audit_log.append("correction-open", actor=actor, supplier_code=supplier, period=period, outcome="open",
                     detail=f"correction {item_id}: {indicator_id} {area_code} {period}, reported "
                            f"{reported_on:%Y-%m-%d}, deadline {deadline:%Y-%m-%d}")
    return item_id


def close(ws: WorkingStore, item_id: int, release_id: str, actor: str | None = None,
          published_release_id: str | None = None, today: dt.date | None = None) -> dict:
    """Close a correction as fixed by `release_id`, which must be the published release's id."""
    today = today or dt.date.today()
    actor = actor or audit_log.default_actor()
    item = ws.get(KIND, item_id)
    if item is None:
        raise CorrectionError(f"no correction {item_id} (see `lcp corrections list`)")
    if item["status"] != "open":
        raise CorrectionError(f"correction {item_id} is already closed (in release {item['closed_in_release']})")
    if published_release_id is None:
        raise CorrectionError("there is no published release to close it in: run `lcp build` first")
    if release_id != published_release_id:
        raise CorrectionError(f"--release: {release_id!r} is not the published release ({published_release_id})")
    ws.update(KIND, item_id, {"status": "closed", "closed_in_release": release_id, "closed_on": today},
              actor=actor, action="close")
    late = working_days_between(item["deadline"], today)
    timing = f"{late} working day(s) after its deadline" if today > item["deadline"] else "within its deadline"
    audit_log.append("correction-close", actor=actor, supplier_code=item["supplier"], period=item["period"],
                     outcome="closed", detail=f"correction {item_id}: fixed in release {release_id}, {timing}")
    return ws.get(KIND, item_id) or {}


# ---------------------------------------------------------------- reading
def listing(ws: WorkingStore, open_only: bool = False, today: dt.date | None = None) -> pl.DataFrame:
    """Every correction (or the open ones), with `days_left` (working days; negative when overdue;
    null when closed) and `due` (text such as '3 working days left' or 'overdue by 2 working days')."""
    today = today or dt.date.today()
    df = ws.items(KIND)
    if open_only:
        df = df.filter(pl.col("status") == "open")
    days = [working_days_between(today, d) if s == "open" else None
            for d, s in zip(df["deadline"].to_list(), df["status"].to_list())]
    due = [days_left_text(d, s, today) for d, s in zip(df["deadline"].to_list(), df["status"].to_list())]
    return df.with_columns(pl.Series("days_left", days, dtype=pl.Int64), pl.Series("due", due, dtype=pl.String))


def for_release(ws: WorkingStore | None, today: dt.date | None = None) -> pl.DataFrame:
    """The release's `corrections` table: open corrections and those closed in the last RECENT_DAYS days."""
    if ws is None:
        return pl.DataFrame(schema=RELEASE_SCHEMA)
    today = today or dt.date.today()
    df = ws.items(KIND).filter(
        (pl.col("status") == "open") | (pl.col("closed_on") >= today - dt.timedelta(days=RECENT_DAYS))
    )
    return df.select([pl.col(c).cast(t) for c, t in RELEASE_SCHEMA.items()]).sort("id")
