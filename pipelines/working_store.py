"""The partnership's working data (`LCP_DATA_DIR/working/working.duckdb`): the ONLY module with its SQL.

Working data is what analysts and partnerships record about the scorecard rather than supply:
corrections today; commentary, priorities and plans later. It holds no client-level data.

The store is generic: a *kind* of item (`Kind`: a name and typed columns) gets one table holding each
item's current state, keyed by a per-kind integer `id`; and every change to any item is also
appended to the one `events` table (kind, id, action, occurred_at, actor, and the item's full state after the
change as JSON) in the same transaction. Items are never deleted and events never changed, so the
whole history of every item is kept:

    store = WorkingStore()
    CORRECTIONS = Kind("corrections", {"indicator_id": "VARCHAR", "reported_on": "DATE", ...})
    item_id = store.add(CORRECTIONS, {...}, actor="ana", action="open")
    store.update(CORRECTIONS, item_id, {"status": "closed"}, actor="ana", action="close")
    store.items(CORRECTIONS)             # current state, polars DataFrame
    store.history(CORRECTIONS, item_id)  # every event of the item, oldest first

Table and column names come from `Kind` declarations in code, checked as identifiers and quoted;
every value is a bound parameter. The directory is owner-only (0o700), the file 0o600.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines import config

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TYPES = {"VARCHAR", "DATE", "TIMESTAMP", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN"}
_RESERVED = {"id", "created_at", "created_by", "updated_at", "updated_by"}
_POLARS = {"VARCHAR": pl.String, "DATE": pl.Date, "TIMESTAMP": pl.Datetime("us"), "BIGINT": pl.Int64,
           "INTEGER": pl.Int32, "DOUBLE": pl.Float64, "BOOLEAN": pl.Boolean}

_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS events (
    event_id BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL,
    item_id BIGINT NOT NULL,
    action VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    data VARCHAR NOT NULL
)
"""


class WorkingStoreError(RuntimeError):
    """The working store refused an operation (unknown item, bad kind, locked file)."""


@dataclass(frozen=True)
class Kind:
    """A kind of working item: its table name and its columns (name -> DuckDB type)."""

    name: str
    columns: dict[str, str] = field(hash=False)

    def __post_init__(self):
        if not _IDENT.match(self.name) or self.name == "events":
            raise WorkingStoreError(f"kind name {self.name!r} must be lower_snake_case and not 'events'")
        for c, t in self.columns.items():
            if not _IDENT.match(c) or c in _RESERVED:
                raise WorkingStoreError(f"{self.name}: column {c!r} must be lower_snake_case and not reserved")
            if t not in _TYPES:
                raise WorkingStoreError(f"{self.name}.{c}: type {t!r} is not one of {sorted(_TYPES)}")

    def schema(self) -> dict[str, pl.DataType]:
        base = {"id": pl.Int64(), "created_at": pl.Datetime("us"), "created_by": pl.String(),
                "updated_at": pl.Datetime("us"), "updated_by": pl.String()}
        return {**base, **{c: _POLARS[t]() for c, t in self.columns.items()}}


def _q(name: str) -> str:
    if not _IDENT.match(name):
        raise WorkingStoreError(f"{name!r} is not a valid identifier")
    return f'"{name}"'


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class WorkingStore:
    """`with WorkingStore() as ws: ...` -- the DuckDB file at `config.working_db_path()` by default."""

    def __init__(self, path: Path | None = None, read_only: bool = False):
        self.path = Path(path) if path is not None else config.working_db_path()
        self.read_only = read_only
        if not read_only:
            created = not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if created or self.path.parent.resolve() == config.working_dir():
                os.chmod(self.path.parent, 0o700)
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as e:
            raise WorkingStoreError(f"{self.path}: cannot open the working store: {str(e).splitlines()[0]}") from None
        if not read_only:
            os.chmod(self.path, 0o600)
            self._con.execute(_EVENTS_DDL)
        self._ready: set[tuple] = set()
        self._in_tx = False

    @classmethod
    def exists(cls, path: Path | None = None) -> bool:
        return (Path(path) if path is not None else config.working_db_path()).is_file()

    # ------------------------------------------------------------------ lifecycle
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise WorkingStoreError("the working store is closed")
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> WorkingStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ tables
    def _has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
        ).fetchall()
        return bool(rows[0][0])

    def _ensure(self, kind: Kind) -> bool:
        """Create the kind's table or add new columns; False (read-only store) if it does not exist."""
        token = (kind.name, tuple(kind.columns.items()))
        if token in self._ready:
            return True
        if self.read_only:
            if not self._has_table(kind.name):
                return False
            self._ready.add(token)
            return True
        cols = ", ".join(f"{_q(c)} {t}" for c, t in kind.columns.items())
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {_q(kind.name)} (id BIGINT PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
            f"created_by VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL, updated_by VARCHAR NOT NULL"
            + (f", {cols}" if cols else "") + ")"
        )
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
            [kind.name],
        ).fetchall()}
        for c, t in kind.columns.items():
            if c not in have:
                self.con.execute(f"ALTER TABLE {_q(kind.name)} ADD COLUMN {_q(c)} {t}")
        self._ready.add(token)
        return True

    def _check(self, kind: Kind, values: dict[str, Any]) -> None:
        unknown = sorted(set(values) - set(kind.columns))
        if unknown:
            raise WorkingStoreError(f"{kind.name}: no column(s) {', '.join(unknown)}")

    def _state(self, kind: Kind, item_id: int) -> dict[str, Any] | None:
        rel = self.con.sql(f"SELECT * FROM {_q(kind.name)} WHERE id = $id", params={"id": item_id})
        try:
            df = rel.pl()
        finally:
            rel.close()
        return df.row(0, named=True) if df.height else None

    def _event(self, kind: Kind, item_id: int, action: str, at: dt.datetime, actor: str) -> None:
        state = self._state(kind, item_id) or {}
        data = json.dumps({k: _json(v) for k, v in state.items()}, sort_keys=True, ensure_ascii=False)
        next_id = self.con.execute("SELECT coalesce(max(event_id), 0) + 1 FROM events").fetchall()[0][0]
        self.con.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [int(next_id), kind.name, item_id, action, at, actor, data])

    # ------------------------------------------------------------------ writing (one transaction each)
    def add(self, kind: Kind, values: dict[str, Any], actor: str, action: str = "add") -> int:
        """Add an item; returns its id (1, 2, ... per kind). The event records its first state."""
        if self.read_only:
            raise WorkingStoreError("the working store is open read-only")
        self._check(kind, values)
        self._ensure(kind)
        con = self.con
        own = not self._in_tx  # inside `transaction()` the caller's transaction holds every change
        if own:
            con.execute("BEGIN TRANSACTION")
        try:
            item_id = int(con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {_q(kind.name)}").fetchall()[0][0])
            at = _now()
            cols = ["id", "created_at", "created_by", "updated_at", "updated_by", *values]
            con.execute(
                f"INSERT INTO {_q(kind.name)} ({', '.join(_q(c) for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [item_id, at, actor, at, actor, *values.values()],
            )
            self._event(kind, item_id, action, at, actor)
            if own:
                con.execute("COMMIT")
        except BaseException:
            if own:
                con.execute("ROLLBACK")
            raise
        return item_id

    def update(self, kind: Kind, item_id: int, changes: dict[str, Any], actor: str, action: str = "update") -> None:
        """Change some columns of an item; the event records its state after the change."""
        if self.read_only:
            raise WorkingStoreError("the working store is open read-only")
        self._check(kind, changes)
        self._ensure(kind)
        con = self.con
        own = not self._in_tx
        if own:
            con.execute("BEGIN TRANSACTION")
        try:
            if self._state(kind, item_id) is None:
                raise WorkingStoreError(f"no {kind.name} item {item_id}")
            at = _now()
            sets = {"updated_at": at, "updated_by": actor, **changes}
            con.execute(
                f"UPDATE {_q(kind.name)} SET {', '.join(f'{_q(c)} = ?' for c in sets)} WHERE id = ?",
                [*sets.values(), item_id],
            )
            self._event(kind, item_id, action, at, actor)
            if own:
                con.execute("COMMIT")
        except BaseException:
            if own:
                con.execute("ROLLBACK")
            raise

    @contextmanager
    def transaction(self) -> Iterator[WorkingStore]:
        """`with store.transaction(): store.add(...); store.update(...)`: every change inside is kept
        together or not at all (all or nothing, e.g. `lcp plan import`); an exception rolls them all back."""
        if self.read_only:
            raise WorkingStoreError("the working store is open read-only")
        if self._in_tx:
            raise WorkingStoreError("a working-store transaction is already open")
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            yield self
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            self._ready.clear()  # tables made inside the transaction were rolled back too
            raise
        finally:
            self._in_tx = False

    # ------------------------------------------------------------------ reading
    def get(self, kind: Kind, item_id: int) -> dict[str, Any] | None:
        if not self._ensure(kind):
            return None
        return self._state(kind, item_id)

    def items(self, kind: Kind) -> pl.DataFrame:
        """Every item's current state, by id (an empty frame with the kind's columns if there is none)."""
        if not self._ensure(kind):
            return pl.DataFrame(schema=kind.schema())
        schema = kind.schema()
        have = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
            [kind.name],
        ).fetchall()}
        cols = ", ".join(_q(c) for c in schema if c in have)  # a read-only store may predate a new column
        rel = self.con.sql(f"SELECT {cols} FROM {_q(kind.name)} ORDER BY id")
        try:
            df = rel.pl()
        finally:
            rel.close()
        if not df.height:
            return pl.DataFrame(schema=schema)
        return df.with_columns([pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in have]).select(
            list(schema))

    def history(self, kind: Kind | None = None, item_id: int | None = None) -> pl.DataFrame:
        """Events (event_id, kind, item_id, action, occurred_at, actor, data as JSON text), oldest first."""
        schema = {"event_id": pl.Int64(), "kind": pl.String(), "item_id": pl.Int64(), "action": pl.String(),
                  "occurred_at": pl.Datetime("us"), "actor": pl.String(), "data": pl.String()}
        if self.read_only and not self._has_table("events"):
            return pl.DataFrame(schema=schema)
        rel = self.con.sql(
            "SELECT * FROM events WHERE ($kind IS NULL OR kind = $kind) AND ($item IS NULL OR item_id = $item) "
            "ORDER BY event_id",
            params={"kind": kind.name if kind else None, "item": item_id},
        )
        try:
            df = rel.pl()
        finally:
            rel.close()
        return df if df.height else pl.DataFrame(schema=schema)
