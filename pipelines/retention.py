"""Retention (protocol 7.i: supplied data is kept for 5 years): `lcp purge`.

Client-level records whose event date is more than `years` years before today are deleted from the
restricted store, with the supplies this leaves empty, and so are aggregate supplies whose whole period
ended before that date, in one transaction; each dataset's removal is audit-logged. Published releases
are untouched: the published aggregates stay for trends.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pipelines import audit_log, config
from pipelines.restricted_store import RestrictedStore


def cutoff_date(years: int, today: dt.date | None = None) -> dt.date:
    """The same day `years` years before today (29 February -> 28 February)."""
    today = today or dt.date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


@dataclass
class PurgeReport:
    years: int
    cutoff: dt.date
    dry_run: bool
    datasets: list[dict] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(d["records"] for d in self.datasets)

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        head = (f"retention {self.years} years: {verb} client-level records with an event date before "
                f"{self.cutoff:%d/%m/%Y}, and aggregate supplies whose period ended before it")
        out = [head]
        for d in self.datasets:
            periods = ", ".join(s["period"] for s in d["supplies"])
            if d.get("record_level") == "aggregate":
                if d["supplies"]:
                    out.append(f"  {d['dataset']}: {len(d['supplies'])} aggregate supplies ({periods}), "
                               f"{d['records']:,} rows")
                continue
            emptied = f"; {len(d['supplies'])} supplies left empty and removed ({periods})" if d["supplies"] else ""
            out.append(f"  {d['dataset']}: {d['records']:,} records{emptied}")
        if not self.datasets:
            out.append("  the restricted store holds no client-level data")
        out.append("published releases are unchanged")
        return out


def purge(years: int | None = None, *, today: dt.date | None = None, dry_run: bool = False,
          actor: str | None = None, store: RestrictedStore | None = None) -> PurgeReport:
    years = config.retention_years() if years is None else years
    if years < 1:
        raise ValueError(f"--years must be 1 or more, not {years}")
    cutoff = cutoff_date(years, today)
    own = store is None
    if own and not config.restricted_db_path().exists():
        return PurgeReport(years, cutoff, dry_run)
    store = store or RestrictedStore()
    try:
        removed = store.purge_before(cutoff, dry_run=dry_run)
    finally:
        if own:
            store.close()
    report = PurgeReport(years, cutoff, dry_run, removed)
    if not dry_run:
        actor = actor or audit_log.default_actor()
        for d in removed:
            periods = ", ".join(s["period"] for s in d["supplies"]) or "none"
            if d.get("record_level") == "aggregate":
                if not d["supplies"]:
                    continue
                detail = (f"retention {years} years: aggregate supplies whose period ended before "
                          f"{cutoff:%Y-%m-%d} removed: {periods}")
            else:
                detail = (f"retention {years} years: records with event_date before {cutoff:%Y-%m-%d}; "
                          f"supplies left empty and removed: {periods}")
            audit_log.append("purge", actor=actor, dataset=d["dataset"], rows=d["records"], outcome="purged",
                             detail=detail)
    return report
