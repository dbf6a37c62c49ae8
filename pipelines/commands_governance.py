"""`lcp agreements`, `lcp corrections`, `lcp purge`, `lcp audit-log`: supplies governance (docs/supplies.md).

Registered by pipelines.cli (COMMAND_MODULES); user errors are the classes in USER_ERRORS.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from pipelines import audit_log, config
from pipelines.audit_log import AuditLogError
from pipelines.corrections import CorrectionError
from pipelines.working_store import WorkingStoreError


class GovernanceError(Exception):
    """A governance command asked for something it cannot do; one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (GovernanceError, CorrectionError, WorkingStoreError, AuditLogError)


def _text_table(rows: list[dict], columns: dict[str, str]) -> str:
    """Rows as an aligned plain-text table (columns: key -> heading)."""
    cells = [[("" if r.get(k) is None else str(r[k])).replace("\n", " ") for k in columns] for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(columns.values())]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([line(list(columns.values())), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


# ---------------------------------------------------------------- lcp agreements
def _agreements(args) -> int:
    import polars as pl

    from pipelines.agreements import status
    from pipelines.ingest import IngestError, read_agreement, supplier_folders
    from pipelines.restricted_store import RestrictedStore, SUPPLIES_SCHEMA

    store = RestrictedStore() if config.restricted_db_path().exists() else None
    try:
        supplies = store.supplies() if store else pl.DataFrame(schema=SUPPLIES_SCHEMA)
        if args.dir:
            path = Path(args.dir)
            if not path.is_dir():
                raise GovernanceError(f"{path}: no such directory")
            try:
                agreements = [read_agreement(f / "agreement.yaml") for f in supplier_folders(path)]
            except IngestError as e:
                raise GovernanceError(str(e)) from None
            source = str(path)
        else:
            agreements = store.agreements() if store else []
            source = "the restricted store"
    finally:
        if store:
            store.close()
    if not agreements:
        raise GovernanceError(f"no agreements in {source}: run `lcp ingest DIR` (or give DIR)")
    today = dt.date.today()
    frame = status(agreements, supplies, today)
    rows = []
    for r in frame.iter_rows(named=True):
        review = f"{r['review_date']:%d/%m/%Y}" + (f" ({r['review'].upper()})" if r["review"] else "")
        if r["last_period"]:
            provided = f"{r['last_date_provided']:%d/%m/%Y}" if r["last_date_provided"] else "?"
            last = f"{r['last_period']} (provided {provided})"
            nxt = f"{r['next_expected']:%d/%m/%Y}" + (" LATE" if r["late"] else "")
        else:
            last, nxt = "none yet", "now"
        rows.append({"supplier": r["supplier_code"], "dataset": r["dataset"], "frequency": r["frequency"],
                     "review": review, "last": last, "next": nxt})
    print(f"Data Specification Agreements ({source}), {today:%d/%m/%Y}:")
    print(_text_table(rows, {"supplier": "supplier", "dataset": "dataset", "frequency": "frequency",
                             "review": "review date", "last": "last supply", "next": "next supply expected"}))
    due = frame.filter(frame["review"].is_not_null()).height
    late = int(frame["late"].sum())
    print(f"{due} review date(s) due within 60 days or past; {late} supply(ies) late")
    return 0


# ---------------------------------------------------------------- lcp corrections
def _published_release_id() -> str | None:
    from pipelines.release import ReleaseMissing, ReleaseReader, open_release

    try:
        con = open_release()
    except ReleaseMissing:
        return None
    try:
        return ReleaseReader(con).release_info().get("release_id")
    finally:
        con.close()


def _corrections_add(args) -> int:
    from pipelines import corrections
    from pipelines.working_store import WorkingStore

    with WorkingStore() as ws:
        item_id = corrections.add(
            ws, supplier=args.supplier, indicator_id=args.indicator, area_code=args.area, period=args.period,
            description=args.description, reported_by=args.reported_by, reported_on=args.reported_on,
        )
        item = ws.get(corrections.KIND, item_id) or {}
    print(f"correction {item_id} recorded: {item['indicator_id']} {item['area_code']} {item['period']}; "
          f"reported {item['reported_on']:%d/%m/%Y}, to be corrected by {item['deadline']:%d/%m/%Y} "
          f"({corrections.days_left_text(item['deadline'], 'open', dt.date.today())})")
    return 0


def _corrections_list(args) -> int:
    from pipelines import corrections
    from pipelines.working_store import WorkingStore

    if not WorkingStore.exists():
        print("no corrections recorded")
        return 0
    with WorkingStore(read_only=True) as ws:
        frame = corrections.listing(ws, open_only=args.open)
    if frame.is_empty():
        print("no open corrections" if args.open else "no corrections recorded")
        return 0
    rows = []
    for r in frame.iter_rows(named=True):
        desc = r["description"] if len(r["description"]) <= 50 else r["description"][:49] + "…"
        rows.append({**r, "reported_on": f"{r['reported_on']:%d/%m/%Y}", "deadline": f"{r['deadline']:%d/%m/%Y}",
                     "state": r["status"] + (f" ({r['closed_in_release']})" if r["closed_in_release"] else ""),
                     "description": desc})
    print(_text_table(rows, {"id": "id", "supplier": "supplier", "indicator_id": "indicator", "area_code": "area",
                             "period": "period", "reported_on": "reported", "deadline": "deadline",
                             "due": "working days", "state": "status", "description": "description"}))
    overdue = frame.filter((frame["status"] == "open") & (frame["days_left"] < 0)).height
    if overdue:
        print(f"{overdue} open correction(s) past their 7-working-day deadline", file=sys.stderr)
    return 0


def _corrections_close(args) -> int:
    from pipelines import corrections
    from pipelines.working_store import WorkingStore

    if not WorkingStore.exists():
        raise GovernanceError(f"no correction {args.id}: no corrections recorded")
    with WorkingStore() as ws:
        item = corrections.close(ws, args.id, args.release, published_release_id=_published_release_id())
    print(f"correction {args.id} closed: fixed in release {item['closed_in_release']}")
    return 0


# ---------------------------------------------------------------- lcp purge
def _purge(args) -> int:
    from pipelines.retention import purge

    try:
        years = args.years if args.years is not None else config.retention_years()
    except ValueError as e:
        raise GovernanceError(str(e)) from None
    if years < 1:
        raise GovernanceError(f"--years must be 1 or more, not {years}")
    report = purge(years, dry_run=args.dry_run)
    print("\n".join(report.lines()))
    return 0


# ---------------------------------------------------------------- lcp audit-log
def _audit_log(args) -> int:
    if args.verify:
        result = audit_log.verify()
        print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
        return 0 if result.ok else 1
    entries = audit_log.entries()
    for e in entries[-args.tail:] if args.tail else entries:
        where = " ".join(str(e[k]) for k in ("supplier_code", "dataset", "period") if e.get(k))
        rows = f" rows={e['rows']}" if e.get("rows") is not None else ""
        print(f"{e['at']} {e['actor']} {e['action']} {where} {e.get('file') or ''}{rows} "
              f"{e.get('outcome') or ''} {e.get('detail') or ''}".replace("  ", " ").rstrip())
    return 0


# ---------------------------------------------------------------- registration
def register(sub) -> None:
    a = sub.add_parser("agreements", help="list the Data Specification Agreements: reviews due, supplies late")
    a.add_argument("dir", nargs="?", help="read the agreements from this supply directory (default: the store)")
    a.set_defaults(func=_agreements)

    c = sub.add_parser("corrections", help="errors reported in published figures (7 working days to correct)")
    csub = c.add_subparsers(dest="corrections_command", required=True)
    add = csub.add_parser("add", help="record a reported error")
    add.add_argument("--supplier", required=True)
    add.add_argument("--indicator", required=True, help="indicator id, e.g. 'NI 55'")
    add.add_argument("--area", required=True, help="area code, e.g. LCP01 or E10000019")
    add.add_argument("--period", required=True, help="e.g. 2023/24")
    add.add_argument("--description", required=True)
    add.add_argument("--reported-by", dest="reported_by")
    add.add_argument("--reported-on", dest="reported_on", type=_date, help="YYYY-MM-DD (default today)")
    add.set_defaults(func=_corrections_add)
    ls = csub.add_parser("list", help="list corrections with their deadlines")
    ls.add_argument("--open", action="store_true", help="open corrections only")
    ls.set_defaults(func=_corrections_list)
    cl = csub.add_parser("close", help="close a correction fixed by the published release")
    cl.add_argument("id", type=int)
    cl.add_argument("--release", required=True, help="the published release that fixes it (its release_id)")
    cl.set_defaults(func=_corrections_close)

    p = sub.add_parser("purge", help="delete client-level records older than the retention period")
    p.add_argument("--years", type=int, help="retention in years (default LCP_RETENTION_YEARS or 5)")
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    p.set_defaults(func=_purge)

    log = sub.add_parser("audit-log", help="show or verify the audit log of supplies, purges and corrections")
    log.add_argument("--verify", action="store_true", help="check the hash chain; non-zero exit if broken")
    log.add_argument("--tail", type=int, default=0, help="show only the last N entries")
    log.set_defaults(func=_audit_log)
