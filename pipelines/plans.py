"""Priorities and local plans (issue 13): partnership working data over `pipelines.working_store`.

Kept in the working store (`working/working.duckdb`), apart from the published release and from any
client-level data, so a rebuild of the release never touches them; every change is an event in the
store's append-only history (who, when, the item's whole state after the change).

Four kinds of item:

- a **priority** (`PRIORITIES`): an indicator the partnership board chose for an area and period, offered
  from the area's red and red-and-worsening exceptions, with the plan it serves (`PLANS`: Local Area
  Agreement, Children and Young People's Plan, or local). Removing one marks it inactive (history kept).
- an **action** (`ACTIONS`): the area's local plan: code (unique per area), title, the indicators it aims
  to move, lead (a team or role), start and due dates, milestones, and the rating typed by the analyst
  (`RATINGS`: green, amber, red, on hold, delayed, complete).
- a **progress note** (`PROGRESS`): per action and quarter ('2024/25 Q3'), the text and the rating at
  that time.
- an **action exception report** (`REPORTS`): for an action that is red, delayed or overdue, the
  analysis of the problem and the options for bringing it back on track (one current report per action).

Rules (docs/plans.md):

- *Overdue* is never typed: an action not `complete` whose due date is before the date of the release
  being viewed is overdue (`overdue`). `status` gives what is shown: complete, overdue, then the rating.
- Each status maps to the scorecard's RAG as the Sefton reports did: complete and green are green, amber
  and on hold amber, red, delayed and overdue red (`STATUS_RAG`); red, delayed and overdue need an
  exception report (`needs_report`). A status is always shown as a symbol and a word, never colour alone.
- *Is it working* (`movement`): for each indicator of an action, the published value at the latest
  year at or before the year the action started (by the indicator's period basis: financial years from
  April, academic years from September) against the latest year published, tested with the same test
  as the direction of travel (`pipelines.stats.compare`, |z| > 1.96): improving, worsening or no
  significant change. A withheld figure at either end gives "cannot tell (withheld)" and no number.

Everything typed is stored exactly as typed and returned as text; showing it safely (plain text, never
Markdown or HTML; formulas neutralised in downloads) is the caller's job. This module must not import
streamlit. Every read returns polars frames; reading never creates the store.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.working_store import Kind, WorkingStore

PRIORITIES = Kind("plan_priorities", {"area_code": "VARCHAR", "period": "VARCHAR", "indicator_id": "VARCHAR",
                                      "plan": "VARCHAR", "active": "BOOLEAN"})
ACTIONS = Kind("plan_actions", {"area_code": "VARCHAR", "code": "VARCHAR", "title": "VARCHAR",
                                "indicator_ids": "VARCHAR", "lead": "VARCHAR", "start_date": "DATE",
                                "due_date": "DATE", "milestones": "VARCHAR", "rating": "VARCHAR"})
PROGRESS = Kind("plan_progress", {"action_id": "BIGINT", "quarter": "VARCHAR", "text": "VARCHAR",
                                  "rating": "VARCHAR"})
REPORTS = Kind("plan_action_reports", {"action_id": "BIGINT", "analysis": "VARCHAR", "options": "VARCHAR"})

#: plan key -> its name
PLANS = {"laa": "Local Area Agreement", "cypp": "Children and Young People's Plan", "local": "Local"}
#: the ratings an analyst may type, in the order they are offered
RATINGS = ("green", "amber", "red", "on hold", "delayed", "complete")
#: status (a rating, or the derived 'overdue') -> the RAG it counts as
STATUS_RAG = {"green": "green", "complete": "green", "amber": "amber", "on hold": "amber", "red": "red",
              "delayed": "red", "overdue": "red"}
#: status -> symbol (the scorecard's RAG shapes; complete a tick)
STATUS_SYMBOL = {"green": "●", "amber": "◆", "red": "■", "on hold": "◆", "delayed": "■", "overdue": "■",
                 "complete": "✓"}
#: statuses that need an exception report (analysis and options)
NEEDS_REPORT = ("red", "delayed", "overdue")
#: the columns of `lcp plan import` CSV (docs/contract.md, "Local plans"), in order
CSV_COLUMNS = ("code", "area_code", "title", "indicator_ids", "lead", "start_date", "due_date", "rating", "progress")
MAX_CODE = 40
MAX_TITLE = 300
MAX_TEXT = 4000
WITHHELD = "c"
NO_DATA = "–"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUARTER = re.compile(r"^\d{4}/\d{2} Q[1-4]$")


class PlanError(ValueError):
    """A plan change that cannot be made (bad value, unknown action); the message says why."""


class PlanImportError(PlanError):
    """`lcp plan import` refused a file: `problems` lists every one as 'row N, field F: ...'."""

    def __init__(self, path: str, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:20]) + (f"; ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported: {shown}")


# ---------------------------------------------------------------- rules (pure)
def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def overdue(action: Mapping[str, Any], release_date: dt.date | dt.datetime | None) -> bool:
    """An action is overdue when it is not complete and its due date is before `release_date` (the date of
    the release being viewed). Due on the release date itself is not overdue. No release date: never."""
    due, when = _as_date(action.get("due_date")), _as_date(release_date)
    if due is None or when is None:
        return False
    return action.get("rating") != "complete" and due < when


def status(action: Mapping[str, Any], release_date: dt.date | dt.datetime | None) -> str:
    """What an action shows: 'complete' if rated so, else 'overdue' if past its due date, else its rating."""
    rating = action.get("rating") or "green"
    if rating == "complete":
        return "complete"
    if overdue(action, release_date):
        return "overdue"
    return rating


def status_label(action: Mapping[str, Any], release_date: dt.date | dt.datetime | None) -> str:
    """'■ Overdue (rated Green)', '◆ On hold', '✓ Complete': symbol and word, never colour alone."""
    s = status(action, release_date)
    label = f"{STATUS_SYMBOL[s]} {s.capitalize()}"
    if s == "overdue":
        label += f" (due {_as_date(action['due_date']):%d/%m/%Y}; rated {str(action.get('rating') or 'green').capitalize()})"
    return label


def needs_report(action: Mapping[str, Any], release_date: dt.date | dt.datetime | None) -> bool:
    return status(action, release_date) in NEEDS_REPORT


def period_of(day: dt.date, basis: str | None = "financial_year") -> str:
    """The year period ('2023/24') holding a date: financial years from 1 April, academic from 1 September."""
    start_month = 9 if basis == "academic_year" else 4
    first = day.year if day.month >= start_month else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def quarter_of(day: dt.date) -> str:
    """The financial quarter of a date, as the release labels quarters: '2024/25 Q3' (Q1 = April-June)."""
    fy = period_of(day, "financial_year")
    return f"{fy} Q{((day.month - 4) % 12) // 3 + 1}"


def release_date(info: Mapping[str, Any] | None) -> dt.date | None:
    """The date of a release (its `built_at`), from `ReleaseReader.release_info()`."""
    built = (info or {}).get("built_at")
    try:
        return _as_date(built)
    except ValueError:
        return None


def split_ids(text: str | None) -> list[str]:
    """'NI 55; NI 56' -> ['NI 55', 'NI 56'] (semicolon-separated, spaces trimmed, empty parts dropped)."""
    return [p.strip() for p in str(text or "").split(";") if p.strip()]


# ---------------------------------------------------------------- checks
def _text(name: str, value: Any, required: bool = True, limit: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PlanError(f"{name} must be text")
    if required and not value.strip():
        raise PlanError(f"{name} is required")
    if len(value) > limit:
        raise PlanError(f"{name} is at most {limit:,} characters (this one has {len(value):,})")
    return value


def _actor(actor: str) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise PlanError("a change needs the name of who made it (actor)")
    return actor.strip()


def _rating(value: Any) -> str:
    rating = re.sub(r"\s+", " ", str(value or "")).strip().lower()
    if rating not in RATINGS:
        raise PlanError(f"rating {value!r} is not one of {', '.join(RATINGS)}")
    return rating


# ---------------------------------------------------------------- reading
def _items(kind: Kind, path: Path | None) -> pl.DataFrame:
    if not WorkingStore.exists(path):
        return pl.DataFrame(schema=kind.schema())
    with WorkingStore(path, read_only=True) as store:
        return store.items(kind)


def priorities(area_code: str, period: str | None = None, path: Path | None = None) -> pl.DataFrame:
    """The area's active priorities: id, area_code, period, indicator_id, plan, plan_name, updated_by,
    updated_at. For `period`, or (None) for the latest period that has any; by indicator."""
    items = _items(PRIORITIES, path).filter((pl.col("area_code") == area_code) & pl.col("active").fill_null(False))
    if period is None and items.height:
        period = max(items["period"].to_list())
    items = items.filter(pl.col("period") == period) if period is not None else items
    return items.sort("indicator_id").select(
        "id", "area_code", "period", "indicator_id", "plan",
        pl.col("plan").replace_strict(PLANS, default=None, return_dtype=pl.String).alias("plan_name"),
        "updated_by", "updated_at")


def actions(area_code: str | None = None, path: Path | None = None) -> pl.DataFrame:
    """The actions (every area, or one), by area and code: id, area_code, code, title, indicator_ids, lead,
    start_date, due_date, milestones, rating, created_*, updated_*."""
    items = _items(ACTIONS, path)
    if area_code is not None:
        items = items.filter(pl.col("area_code") == area_code)
    return items.sort("area_code", "code")


def action(action_id: int, path: Path | None = None) -> dict | None:
    rows = _items(ACTIONS, path).filter(pl.col("id") == action_id)
    return rows.row(0, named=True) if rows.height else None


def actions_for_indicator(indicator_id: str, area_code: str | None = None, path: Path | None = None) -> pl.DataFrame:
    """The actions aiming to move one indicator (in one area, or all)."""
    items = actions(area_code, path)
    if not items.height:
        return items
    return items.filter(pl.col("indicator_ids").map_elements(lambda t: indicator_id in split_ids(t),
                                                             return_dtype=pl.Boolean))


def progress(action_id: int | None = None, path: Path | None = None) -> pl.DataFrame:
    """Progress notes (of one action, or all), oldest quarter first: id, action_id, quarter, text, rating,
    created_by, created_at."""
    items = _items(PROGRESS, path)
    if action_id is not None:
        items = items.filter(pl.col("action_id") == action_id)
    return items.sort("action_id", "quarter", "id")


def latest_progress(action_id: int, path: Path | None = None) -> dict | None:
    notes = progress(action_id, path)
    return notes.row(-1, named=True) if notes.height else None


def report(action_id: int, path: Path | None = None) -> dict | None:
    """The action's current exception report (analysis, options, updated_by, updated_at), or None."""
    rows = _items(REPORTS, path).filter(pl.col("action_id") == action_id)
    return rows.row(-1, named=True) if rows.height else None


def history(area_code: str | None = None, path: Path | None = None) -> pl.DataFrame:
    """Every change to priorities and plans (of one area, or all), oldest first: occurred_at, actor, kind,
    action ('add', 'update', ...), what (a short description), data (the item's state as JSON)."""
    schema = {"occurred_at": pl.Datetime("us"), "actor": pl.String(), "kind": pl.String(), "action": pl.String(),
              "what": pl.String(), "data": pl.String()}
    if not WorkingStore.exists(path):
        return pl.DataFrame(schema=schema)
    with WorkingStore(path, read_only=True) as store:
        events = store.history()
        acts = store.items(ACTIONS)
    names = {PRIORITIES.name: "priority", ACTIONS.name: "action", PROGRESS.name: "progress note",
             REPORTS.name: "exception report"}
    area_of = {r["id"]: (r["area_code"], r["code"]) for r in acts.iter_rows(named=True)}
    rows = []
    for e in events.filter(pl.col("kind").is_in(list(names))).iter_rows(named=True):
        data = json.loads(e["data"])
        if e["kind"] in (PRIORITIES.name, ACTIONS.name):
            area = data.get("area_code")
            what = data.get("indicator_id") if e["kind"] == PRIORITIES.name else data.get("code")
        else:
            area, code = area_of.get(data.get("action_id"), (None, None))
            what = f"{code} {data.get('quarter')}" if e["kind"] == PROGRESS.name else code
        if area_code is not None and area != area_code:
            continue
        rows.append({"occurred_at": e["occurred_at"], "actor": e["actor"], "kind": names[e["kind"]],
                     "action": e["action"], "what": str(what or ""), "data": e["data"]})
    return pl.DataFrame(rows, schema=schema)


# ---------------------------------------------------------------- writing (analysts)
def set_priority(area_code: str, period: str, indicator_id: str, plan: str, actor: str,
                 path: Path | None = None) -> int:
    """Make an indicator a priority of an area and period, serving `plan` (a `PLANS` key); if it already is,
    its plan is updated. Returns the priority's id."""
    actor = _actor(actor)
    for name, v in (("area_code", area_code), ("period", period), ("indicator_id", indicator_id)):
        _text(name, v, limit=100)
    if plan not in PLANS:
        raise PlanError(f"plan {plan!r} is not one of {', '.join(PLANS)}")
    with WorkingStore(path) as store:
        items = store.items(PRIORITIES).filter((pl.col("area_code") == area_code) & (pl.col("period") == period)
                                               & (pl.col("indicator_id") == indicator_id))
        if not items.height:
            return store.add(PRIORITIES, {"area_code": area_code, "period": period, "indicator_id": indicator_id,
                                          "plan": plan, "active": True}, actor=actor, action="add")
        row = items.row(0, named=True)
        if row["plan"] != plan or not row["active"]:
            store.update(PRIORITIES, row["id"], {"plan": plan, "active": True}, actor=actor, action="update")
        return int(row["id"])


def remove_priority(priority_id: int, actor: str, path: Path | None = None) -> None:
    """No longer a priority (marked inactive; the history keeps it)."""
    actor = _actor(actor)
    with WorkingStore(path) as store:
        if store.get(PRIORITIES, priority_id) is None:
            raise PlanError(f"no priority {priority_id}")
        store.update(PRIORITIES, priority_id, {"active": False}, actor=actor, action="remove")


def _action_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, limit in (("area_code", 20), ("code", MAX_CODE), ("title", MAX_TITLE), ("lead", MAX_TITLE)):
        if name in values:
            out[name] = _text(name, values[name], limit=limit)
    if "code" in out:
        out["code"] = out["code"].strip()
    if "indicator_ids" in values:
        ids = values["indicator_ids"]
        ids = split_ids(ids) if isinstance(ids, str) else [str(i).strip() for i in ids if str(i).strip()]
        if not ids:
            raise PlanError("indicator_ids: an action aims to move at least one indicator")
        out["indicator_ids"] = "; ".join(dict.fromkeys(ids))
    for name in ("start_date", "due_date"):
        if name in values:
            try:
                out[name] = _as_date(values[name])
            except ValueError:
                raise PlanError(f"{name} {values[name]!r} is not a date (YYYY-MM-DD)") from None
            if out[name] is None:
                raise PlanError(f"{name} is required")
    if "milestones" in values:
        out["milestones"] = _text("milestones", values["milestones"], required=False)
    if "rating" in values:
        out["rating"] = _rating(values["rating"])
    return out


def save_action(values: Mapping[str, Any], actor: str, action_id: int | None = None,
                path: Path | None = None) -> int:
    """Add an action (action_id None: every field but milestones required) or change some of its fields.
    Checks: code unique in its area, due date not before start date, rating one of `RATINGS`."""
    actor = _actor(actor)
    clean = _action_values(values)
    with WorkingStore(path) as store:
        current = store.get(ACTIONS, action_id) if action_id is not None else {}
        if current is None:
            raise PlanError(f"no action {action_id}")
        merged = {**current, **clean}
        if action_id is None:
            missing = [c for c in ("area_code", "code", "title", "indicator_ids", "lead", "start_date", "due_date",
                                   "rating") if merged.get(c) in (None, "")]
            if missing:
                raise PlanError(f"an action needs {', '.join(missing)}")
            merged.setdefault("milestones", "")
        if merged["due_date"] < merged["start_date"]:
            raise PlanError("due_date is before start_date")
        clash = store.items(ACTIONS).filter((pl.col("area_code") == merged["area_code"])
                                            & (pl.col("code") == merged["code"]))
        if action_id is not None:
            clash = clash.filter(pl.col("id") != action_id)
        if clash.height:
            raise PlanError(f"code {merged['code']!r} is already an action of {merged['area_code']}")
        if action_id is None:
            return store.add(ACTIONS, {c: merged[c] for c in ACTIONS.columns}, actor=actor, action="add")
        changes = {c: v for c, v in clean.items() if current.get(c) != v}
        if changes:
            store.update(ACTIONS, action_id, changes, actor=actor, action="update")
        return action_id


def add_progress(action_id: int, quarter: str, text: str, rating: str, actor: str, path: Path | None = None,
                 *, store: WorkingStore | None = None) -> int:
    """A quarterly progress note with the rating at that time; the action's rating becomes that rating."""
    actor = _actor(actor)
    if not isinstance(quarter, str) or not _QUARTER.match(quarter.strip()):
        raise PlanError(f"quarter {quarter!r} must look like 2024/25 Q3")
    text = _text("progress", text)
    rating = _rating(rating)

    def write(ws: WorkingStore) -> int:
        act = ws.get(ACTIONS, action_id)
        if act is None:
            raise PlanError(f"no action {action_id}")
        note = ws.add(PROGRESS, {"action_id": action_id, "quarter": quarter.strip(), "text": text, "rating": rating},
                      actor=actor, action="add")
        if act["rating"] != rating:
            ws.update(ACTIONS, action_id, {"rating": rating}, actor=actor, action="rate")
        return note

    if store is not None:
        return write(store)
    with WorkingStore(path) as ws, ws.transaction():
        return write(ws)


def save_report(action_id: int, analysis: str, options: str, actor: str, path: Path | None = None) -> int:
    """The action's exception report: a brief analysis of the problem and the options for bringing the
    action back on track (the current one is updated; the history keeps earlier wordings)."""
    actor = _actor(actor)
    analysis = _text("analysis", analysis)
    options = _text("options", options)
    with WorkingStore(path) as store:
        if store.get(ACTIONS, action_id) is None:
            raise PlanError(f"no action {action_id}")
        rows = store.items(REPORTS).filter(pl.col("action_id") == action_id)
        if not rows.height:
            return store.add(REPORTS, {"action_id": action_id, "analysis": analysis, "options": options},
                             actor=actor, action="add")
        row = rows.row(-1, named=True)
        if (row["analysis"], row["options"]) != (analysis, options):
            store.update(REPORTS, row["id"], {"analysis": analysis, "options": options}, actor=actor, action="update")
        return int(row["id"])


# ---------------------------------------------------------------- import (lcp plan import)
def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a plan CSV (UTF-8, BOM allowed); every cell as text."""
    try:
        raw = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PlanImportError(str(path), ["the file is not UTF-8 text"]) from None
    reader = csv.reader(io.StringIO(raw, newline=""))
    try:
        table = list(reader)
    except csv.Error as e:
        raise PlanImportError(str(path), [f"not a CSV file ({e})"]) from None
    if not table:
        raise PlanImportError(str(path), ["the file is empty: the header row is missing"])
    header = [h.strip() for h in table[0]]
    rows = []
    for cells in table[1:]:
        if not any(c.strip() for c in cells):
            rows.append(None)  # a blank line keeps its row number
            continue
        rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))) | (
            {"\0extra": "1"} if len(cells) > len(header) else {}))
    return header, rows  # type: ignore[return-value]


def validate_rows(header: list[str], rows: list[dict[str, str] | None], areas: Iterable[str],
                  indicators: Iterable[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """(clean rows, problems): every problem named 'row N, field F: ...' (row 1 is the header)."""
    problems: list[str] = []
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"row 1: missing column(s) {', '.join(missing)} (the columns are {', '.join(CSV_COLUMNS)})")
    if unknown:
        problems.append(f"row 1: unknown column(s) {', '.join(repr(c) for c in unknown)} "
                        f"(the columns are {', '.join(CSV_COLUMNS)})")
    if dupes:
        problems.append(f"row 1: column(s) {', '.join(dupes)} given twice")
    if problems:
        return [], problems
    areas, indicators = set(areas), set(indicators)
    clean: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, start=2):
        if row is None:
            continue
        bad = len(problems)

        def fail(field: str, message: str) -> None:
            problems.append(f"row {n}, field {field}: {message}")  # noqa: B023

        if row.get("\0extra"):
            fail("(row)", f"more cells than the {len(header)} columns")
        out: dict[str, Any] = {}
        for name, limit in (("code", MAX_CODE), ("title", MAX_TITLE), ("lead", MAX_TITLE)):
            v = row.get(name, "")
            if not v.strip():
                fail(name, "is empty")
            elif len(v) > limit:
                fail(name, f"is longer than {limit} characters ({len(v)})")
            out[name] = v.strip() if name == "code" else v
        area = row.get("area_code", "").strip()
        if area not in areas:
            fail("area_code", f"{area!r} is not a partnership area ({', '.join(sorted(areas))})"
                 if area else "is empty")
        out["area_code"] = area
        ids = split_ids(row.get("indicator_ids"))
        if not ids:
            fail("indicator_ids", "is empty: give the indicator ids the action aims to move, separated by ';'")
        for i in ids:
            if i not in indicators:
                fail("indicator_ids", f"{i!r} is not an indicator of the scorecard")
        out["indicator_ids"] = "; ".join(dict.fromkeys(ids))
        for name in ("start_date", "due_date"):
            v = row.get(name, "").strip()
            try:
                if not _DATE.match(v):
                    raise ValueError
                out[name] = dt.date.fromisoformat(v)
            except ValueError:
                fail(name, f"{v!r} is not a date as YYYY-MM-DD" if v else "is empty")
                out[name] = None
        if out["start_date"] and out["due_date"] and out["due_date"] < out["start_date"]:
            fail("due_date", f"{out['due_date']} is before start_date {out['start_date']}")
        try:
            out["rating"] = _rating(row.get("rating"))
        except PlanError:
            fail("rating", f"{row.get('rating', '')!r} is not one of {', '.join(RATINGS)}")
        text = row.get("progress", "")
        if len(text) > MAX_TEXT:
            fail("progress", f"is longer than {MAX_TEXT} characters ({len(text)})")
        out["progress"] = text
        k = (out["area_code"], out["code"])
        if out["code"] and k in seen:
            fail("code", f"{out['code']!r} is already on row {seen[k]} for {out['area_code']}")
        seen.setdefault(k, n)
        if len(problems) == bad:
            clean.append(out)
    if not clean and not problems:
        problems.append("row 2: no actions: the file has a header but no rows")
    return clean, problems


def import_csv(path: Path | str, actor: str, *, areas: Iterable[str], indicators: Iterable[str],
               today: dt.date | None = None, store_path: Path | None = None) -> dict[str, int]:
    """Load actions from a CSV (docs/contract.md, "Local plans"): every row checked, all or nothing.

    A row adds the action, or updates the area's action with the same code. A non-empty `progress` adds
    a progress note for the quarter of `today` with the row's rating (unless the action's latest note
    already says the same). Returns counts: added, updated, unchanged, progress."""
    actor = _actor(actor)
    header, rows = read_csv_rows(Path(path))
    clean, problems = validate_rows(header, rows, areas, indicators)
    if problems:
        raise PlanImportError(str(path), problems)
    quarter = quarter_of(today or dt.date.today())
    counts = {"added": 0, "updated": 0, "unchanged": 0, "progress": 0}
    with WorkingStore(store_path) as store, store.transaction():
        existing = {(r["area_code"], r["code"]): r for r in store.items(ACTIONS).iter_rows(named=True)}
        for row in clean:
            values = {c: row[c] for c in ("area_code", "code", "title", "indicator_ids", "lead", "start_date",
                                          "due_date", "rating")}
            old = existing.get((row["area_code"], row["code"]))
            if old is None:
                action_id = store.add(ACTIONS, {**values, "milestones": ""}, actor=actor, action="import")
                counts["added"] += 1
            else:
                action_id = int(old["id"])
                changes = {c: v for c, v in values.items() if old.get(c) != v}
                if changes:
                    store.update(ACTIONS, action_id, changes, actor=actor, action="import")
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            if row["progress"].strip():
                notes = store.items(PROGRESS).filter(pl.col("action_id") == action_id).sort("quarter", "id")
                last = notes.row(-1, named=True) if notes.height else None
                if last is None or (last["text"], last["rating"], last["quarter"]) != (row["progress"], row["rating"], quarter):
                    store.add(PROGRESS, {"action_id": action_id, "quarter": quarter, "text": row["progress"],
                                         "rating": row["rating"]}, actor=actor, action="import")
                    counts["progress"] += 1
    return counts


# ---------------------------------------------------------------- is it working
@dataclass(frozen=True)
class Movement:
    """One indicator of one action, then (at the action's start) and now (the latest year published).
    Values and limits are display text ('c' where withheld, '–' where none); `verdict` says what moved."""

    indicator_id: str
    title: str
    unit: str
    then_period: str
    then_value: str
    then_interval: str
    now_period: str
    now_value: str
    now_interval: str
    verdict: str  # 'improving', 'worsening', 'no significant change', 'higher', 'lower', or 'cannot tell (...)'
    z: float | None = None

    @property
    def verdict_label(self) -> str:
        return {"improving": "▲ Improving (significant)", "worsening": "▼ Worsening (significant)",
                "no significant change": "► No significant change", "higher": "▲ Higher (significant)",
                "lower": "▼ Lower (significant)"}.get(self.verdict, self.verdict.capitalize())


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def movement(reader, action: Mapping[str, Any], area_code: str | None = None) -> list[Movement]:
    """For each indicator of the action, its movement since the action started (see the module's rules).
    `reader`: a `ReleaseReader`; `area_code`: default the action's area."""
    from pipelines import charts, stats

    area = area_code or action["area_code"]
    meta = {r["indicator_id"]: r for r in reader.indicators().iter_rows(named=True)}
    start = _as_date(action["start_date"])
    out = []
    for ind in split_ids(action.get("indicator_ids")):
        m = meta.get(ind)
        if m is None:
            out.append(Movement(ind, "", "", NO_DATA, NO_DATA, NO_DATA, NO_DATA, NO_DATA, NO_DATA,
                                "cannot tell (not in this release)"))
            continue
        unit = str(m.get("unit") or "")
        rows = reader.counts_series(area, ind).to_dicts()
        basis = m.get("period_basis")
        begin = period_of(start, basis)
        before = [r for r in rows if r["period"] <= begin]
        then = before[-1] if before else None
        now = rows[-1] if rows else None

        def shown(r):
            if r is None:
                return NO_DATA, NO_DATA, NO_DATA
            w = bool(r["suppressed"])
            return (r["period"], charts.format_value(r["value"], w, unit),
                    charts.format_ci(r["lower_95"], r["upper_95"], w, unit))

        tp, tv, ti = shown(then)
        np_, nv, ni = shown(now)
        z = None
        if then is None:
            verdict = f"cannot tell (no figure published for {begin} or before)"
        elif now is None or now["period"] <= then["period"]:
            verdict = "too early to tell (no later year published yet)"
            np_, nv, ni = NO_DATA, NO_DATA, NO_DATA
        elif then["suppressed"] or now["suppressed"]:
            verdict = "cannot tell (withheld)"
        else:
            try:
                z = stats.compare(
                    _num(now["numerator"]), _num(now["denominator"]), _num(then["numerator"]), _num(then["denominator"]),
                    m["ci_method"], a_x2=_num(now["numerator_2"]), a_n2=_num(now["denominator_2"]),
                    a_ss=_num(now["sum_squares"]), b_x2=_num(then["numerator_2"]),
                    b_n2=_num(then["denominator_2"]), b_ss=_num(then["sum_squares"]))
            except (TypeError, ValueError, ZeroDivisionError):
                z = None
            if z is None:
                verdict = "cannot tell (no test for these counts)"
            elif abs(z) <= stats.Z95:
                verdict = "no significant change"
            elif m.get("polarity") == "higher_better":
                verdict = "improving" if z > 0 else "worsening"
            elif m.get("polarity") == "lower_better":
                verdict = "improving" if z < 0 else "worsening"
            else:
                verdict = "higher" if z > 0 else "lower"
        out.append(Movement(ind, str(m.get("title") or ""), unit, tp, tv, ti, np_, nv, ni, verdict, z))
    return out


# ---------------------------------------------------------------- tables shown and downloaded (text)
def _d(v: Any) -> str:
    v = _as_date(v) if v is not None else None
    return v.strftime("%d/%m/%Y") if v else NO_DATA


def plan_table(area_code: str, when: dt.date | None, path: Path | None = None) -> pl.DataFrame:
    """The area's actions as text, one row per action (the plan page's table and the export): the contract's
    columns first (code, area_code, title, indicator_ids, lead, start_date, due_date, rating, progress =
    the latest note), then status (derived, with symbol), overdue (yes/no), progress_quarter, milestones,
    exception_analysis, exception_options. Dates as YYYY-MM-DD."""
    acts = actions(area_code, path)
    notes = progress(path=path)
    reps = _items(REPORTS, path)
    columns = [*CSV_COLUMNS, "status", "overdue", "progress_quarter", "milestones", "exception_analysis",
               "exception_options"]
    rows = []
    for a in acts.iter_rows(named=True):
        mine = notes.filter(pl.col("action_id") == a["id"])
        last = mine.row(-1, named=True) if mine.height else None
        rep = reps.filter(pl.col("action_id") == a["id"])
        rep = rep.row(-1, named=True) if rep.height else None
        rows.append({
            "code": a["code"], "area_code": a["area_code"], "title": a["title"], "indicator_ids": a["indicator_ids"],
            "lead": a["lead"], "start_date": a["start_date"].isoformat(), "due_date": a["due_date"].isoformat(),
            "rating": a["rating"], "progress": last["text"] if last else "",
            "status": status_label(a, when), "overdue": "yes" if overdue(a, when) else "no",
            "progress_quarter": last["quarter"] if last else "", "milestones": a["milestones"] or "",
            "exception_analysis": rep["analysis"] if rep else "", "exception_options": rep["options"] if rep else "",
        })
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


def export_notes(area_code: str, area_name: str, when: dt.date | None, release_info: Mapping[str, Any] | None,
                 path: Path | None = None) -> list[tuple[str, str]]:
    """The notes written above the exported plan: what it is, the date overdue is judged at, the rules, and
    one line per priority (its indicator, plan and period)."""
    from pipelines.config import ATTRIBUTION

    info = release_info or {}
    notes = [
        ("Table", f"Priorities and local plan: {area_name} ({area_code})"),
        ("Source", "Partnership working data (lcp plan), not part of the published release"),
        ("Release", str(info.get("release_id") or "none")),
        ("Overdue as at", _d(when) if when else "no release: nothing is judged overdue"),
        ("Rules", "Overdue = not complete and due before the release's date; green/complete count as green, "
                  "amber/on hold as amber, red/delayed/overdue as red and need an exception report. "
                  "Typed text is shown as typed."),
    ]
    pri = priorities(area_code, path=path)
    if not pri.height:
        notes.append(("Priority", "none chosen"))
    for r in pri.iter_rows(named=True):
        notes.append(("Priority", f"{r['indicator_id']} ({r['plan_name']}; chosen for {r['period']})"))
    notes.append(("Attribution", ATTRIBUTION))
    notes.append(("Exported", dt.datetime.now().strftime("%d/%m/%Y %H:%M")))
    return notes


def export(area_code: str, out: Path | str, *, area_name: str | None = None, release_info: Mapping[str, Any] | None = None,
           path: Path | None = None) -> Path:
    """Write an area's priorities and local plan to `out` (.csv or .xlsx by suffix) through
    `pipelines.downloads` (formulas neutralised, every cell text)."""
    from pipelines import downloads

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise PlanError(f"{out}: unknown format {suffix or '(no suffix)'!r}: use .csv or .xlsx")
    when = release_date(release_info)
    table = plan_table(area_code, when, path)
    notes = export_notes(area_code, area_name or area_code, when, release_info, path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        out.write_bytes(downloads.csv_bytes(table, notes))
    else:
        out.write_bytes(downloads.xlsx_bytes(table, notes, sheet_title=notes[0][1]))
    return out


# ---------------------------------------------------------------- the brief's block (display text)
@dataclass(frozen=True)
class BriefPriority:
    indicator_id: str
    title: str
    plan_name: str
    period: str


@dataclass(frozen=True)
class BriefAction:
    code: str
    title: str
    indicator_ids: str
    lead: str
    due: str
    status_text: str
    status_rag: str
    progress: str
    working: str  # 'NI 55 ▲ Improving (significant); NI 56 Cannot tell (withheld)'


@dataclass(frozen=True)
class BriefPlan:
    priorities: list[BriefPriority]
    actions: list[BriefAction]
    as_at: str


#: how many actions a brief lists (red and overdue first); the rest are named in one line
BRIEF_ACTIONS = 5


def brief_plan(reader, area_code: str, path: Path | None = None) -> BriefPlan | None:
    """The priorities and local plan for one area's brief, as display text; None when there are neither
    (or no working store). Actions red, delayed or overdue first, then by code."""
    if not WorkingStore.exists(path):
        return None
    pri = priorities(area_code, path=path)
    acts = actions(area_code, path)
    if not pri.height and not acts.height:
        return None
    when = release_date(reader.release_info())
    titles = dict(zip(*reader.indicators().select("indicator_id", "title").to_dict(as_series=False).values()))
    bp = [BriefPriority(r["indicator_id"], str(titles.get(r["indicator_id"], "")), str(r["plan_name"]), r["period"])
          for r in pri.iter_rows(named=True)]
    items = []
    for a in acts.iter_rows(named=True):
        last = latest_progress(a["id"], path)
        moves = movement(reader, a)
        items.append(BriefAction(
            code=a["code"], title=a["title"], indicator_ids=a["indicator_ids"], lead=a["lead"], due=_d(a["due_date"]),
            status_text=status_label(a, when), status_rag=STATUS_RAG[status(a, when)],
            progress=f"{last['quarter']}: {last['text']}" if last else "",
            working="; ".join(f"{m.indicator_id} {m.verdict_label}" for m in moves),
        ))
    order = {"red": 0, "amber": 1, "green": 2}
    items.sort(key=lambda b: order.get(b.status_rag, 3))
    return BriefPlan(bp, items, _d(when) if when else "")


def briefs_mapping(reader, areas: Iterable[str], path: Path | None = None) -> dict[str, BriefPlan]:
    """area_code -> BriefPlan for the areas that have priorities or actions (for `briefs.write_all`)."""
    out = {}
    for code in areas:
        plan = brief_plan(reader, code, path)
        if plan is not None:
            out[code] = plan
    return out


__all__ = [
    "ACTIONS", "BRIEF_ACTIONS", "BriefAction", "BriefPlan", "BriefPriority", "CSV_COLUMNS", "Movement", "NEEDS_REPORT",
    "PLANS", "PRIORITIES", "PROGRESS", "PlanError", "PlanImportError", "RATINGS", "REPORTS", "STATUS_RAG",
    "action", "actions", "actions_for_indicator", "add_progress", "brief_plan", "briefs_mapping", "export",
    "export_notes", "history", "import_csv", "latest_progress", "movement", "needs_report", "overdue",
    "period_of", "plan_table", "priorities", "progress", "quarter_of", "release_date", "remove_priority",
    "report", "save_action", "save_report", "set_priority", "split_ids", "status", "status_label",
    "validate_rows",
]
