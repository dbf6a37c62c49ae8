"""Analysts' commentary on the scorecard: one current comment per indicator, area and period.

Kept in the partnership's working store (`pipelines.working_store`, `working/working.duckdb`), outside the
published release: a comment is written in the dashboard by an analyst and shown beside the figure (in
the exceptions list and in briefings), but is never part of a release or its open data. Every save is an
event in the store's append-only history (`history`), so earlier wordings are kept.

    commentary.save("NI 55", "LCP01", "2024/25", "Rise follows the new measurement team.", actor="ana")
    commentary.current("LCP01")          # indicator_id, area_code, period, text, updated_by, updated_at
    commentary.save("NI 55", "LCP01", "2024/25", "", actor="ana")   # clears it (history keeps the old text)

Text is stored exactly as typed (never trimmed, run or rendered as markup here; showing it safely is
the caller's job) and is at most `MAX_LENGTH` characters. Reading never creates the store.
This module must not import streamlit (import-linter: the library imports no apps).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.working_store import Kind, WorkingStore

COMMENTARY = Kind("commentary", {"indicator_id": "VARCHAR", "area_code": "VARCHAR", "period": "VARCHAR",
                                 "text": "VARCHAR"})
#: The longest comment accepted, in characters.
MAX_LENGTH = 2000
CURRENT_SCHEMA: dict[str, pl.DataType] = {
    "indicator_id": pl.String(), "area_code": pl.String(), "period": pl.String(), "text": pl.String(),
    "updated_by": pl.String(), "updated_at": pl.Datetime("us"),
}
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "action": pl.String(), "occurred_at": pl.Datetime("us"), "actor": pl.String(), "text": pl.String(),
}


class CommentaryError(ValueError):
    """A comment that cannot be saved (too long, a missing key or actor); the message says why."""


def _check_key(indicator_id: str, area_code: str, period: str, actor: str | None = None) -> None:
    for name, v in (("indicator_id", indicator_id), ("area_code", area_code), ("period", period)):
        if not isinstance(v, str) or not v.strip():
            raise CommentaryError(f"a comment needs a {name}")
    if actor is not None and (not isinstance(actor, str) or not actor.strip()):
        raise CommentaryError("a comment needs the name of who wrote it (actor)")


def _find(store: WorkingStore, indicator_id: str, area_code: str, period: str) -> dict | None:
    items = store.items(COMMENTARY).filter(
        (pl.col("indicator_id") == indicator_id) & (pl.col("area_code") == area_code) & (pl.col("period") == period)
    )
    return items.row(0, named=True) if items.height else None


def save(indicator_id: str, area_code: str, period: str, text: str, actor: str, path: Path | None = None) -> None:
    """Save the comment on one indicator, area and period: added if there is none, else updated; an empty
    (or all-whitespace) text clears it. The text is stored as typed. Raises CommentaryError for text over
    `MAX_LENGTH` characters or a missing key or actor. `path`: the working store (default
    `config.working_db_path()`), created if needed."""
    _check_key(indicator_id, area_code, period, actor)
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise CommentaryError("a comment is text")
    if len(text) > MAX_LENGTH:
        raise CommentaryError(f"a comment is at most {MAX_LENGTH:,} characters (this one has {len(text):,})")
    clear = not text.strip()
    with WorkingStore(path) as store:
        existing = _find(store, indicator_id, area_code, period)
        if existing is None:
            if clear:
                return  # nothing to clear
            store.add(COMMENTARY, {"indicator_id": indicator_id, "area_code": area_code, "period": period,
                                   "text": text}, actor=actor, action="add")
        elif clear:
            if existing["text"]:
                store.update(COMMENTARY, existing["id"], {"text": ""}, actor=actor, action="clear")
        elif existing["text"] != text:
            store.update(COMMENTARY, existing["id"], {"text": text}, actor=actor, action="update")


def current(area_code: str | None = None, path: Path | None = None) -> pl.DataFrame:
    """The current comments (cleared ones left out), for one area or all: indicator_id, area_code, period,
    text, updated_by, updated_at; by area, indicator and period. An empty frame of those columns where
    the working store does not exist (it is not created) or holds no comment."""
    if not WorkingStore.exists(path):
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    with WorkingStore(path, read_only=True) as store:
        items = store.items(COMMENTARY)
    out = items.filter(pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
    if area_code is not None:
        out = out.filter(pl.col("area_code") == area_code)
    if not out.height:
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    return out.sort("area_code", "indicator_id", "period").select(
        [pl.col(c).cast(t) for c, t in CURRENT_SCHEMA.items()])


def history(indicator_id: str, area_code: str, period: str, path: Path | None = None) -> pl.DataFrame:
    """Every saved version of one comment, oldest first: action ('add', 'update', 'clear'), occurred_at,
    actor, text (as it stood after that change). Empty where there is none or no store."""
    _check_key(indicator_id, area_code, period)
    if not WorkingStore.exists(path):
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    import json  # noqa: PLC0415

    with WorkingStore(path, read_only=True) as store:
        items = store.items(COMMENTARY)
        match = items.filter((pl.col("indicator_id") == indicator_id) & (pl.col("area_code") == area_code)
                             & (pl.col("period") == period))
        if not match.height:
            return pl.DataFrame(schema=HISTORY_SCHEMA)
        events = store.history(COMMENTARY, int(match["id"][0]))
    rows = [
        {"action": e["action"], "occurred_at": e["occurred_at"], "actor": e["actor"],
         "text": json.loads(e["data"]).get("text")}
        for e in events.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=HISTORY_SCHEMA)


def for_release_rows(rows: pl.DataFrame, path: Path | None = None) -> pl.DataFrame:
    """`rows` (with indicator_id, area_code, period) with the current comment joined as `commentary`
    (null where there is none): for the exceptions list and briefings."""
    comments = current(path=path).select("indicator_id", "area_code", "period", pl.col("text").alias("commentary"))
    if "commentary" in rows.columns:
        rows = rows.drop("commentary")
    return rows.join(comments, on=["indicator_id", "area_code", "period"], how="left", maintain_order="left")


def for_brief(area_code: str, periods: dict[str, str | None], path: Path | None = None) -> dict[str, str]:
    """indicator_id -> current comment for one area, each at the period the brief shows for it
    (`periods`: indicator_id -> period, e.g. from `ReleaseReader.scorecard`), for `pipelines.briefs`."""
    cur = current(area_code, path=path)
    return {r["indicator_id"]: r["text"] for r in cur.iter_rows(named=True)
            if periods.get(r["indicator_id"]) == r["period"]}


def briefs_mapping(reader, areas: list[str], period: str | None = None,
                   path: Path | None = None) -> dict[str, dict[str, str]]:
    """area_code -> (indicator_id -> comment) for `briefs.write_all` / `write_brief`, matched to the
    period each area's brief shows (`reader`: a `ReleaseReader`). Empty without a working store."""
    if not WorkingStore.exists(path):
        return {}
    out = {}
    for code in areas:
        card = reader.scorecard(code, period)
        out[code] = for_brief(code, dict(zip(card["indicator_id"], card["period"])), path)
    return out


__all__ = ["COMMENTARY", "MAX_LENGTH", "CommentaryError", "briefs_mapping", "current", "for_brief",
           "for_release_rows", "history", "save"]
