"""The restricted store: pseudonymised, minimised client records (DuckDB, `restricted/store.duckdb`).

The ONLY module with SQL on the restricted store. Every value is a bound parameter; table and column
names cannot be bound, so only names matching `pipelines.specs.IDENT` are used, always double-quoted.

- `supplies`: one row per loaded supply (see docs/architecture.md).
- `ds_<dataset>`: one table per dataset, the minimised records of every loaded supply of it.

The directory is owner-only (0o700), the database file and the pseudonymisation key are 0o600.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from pipelines import config, failpoints
from pipelines.specs import IDENT, Agreement

KEY_BYTES = 32

#: polars dtype -> DuckDB column type for ds_<dataset> tables.
_SQL_TYPES: dict[type[pl.DataType] | pl.DataType, str] = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Float64: "DOUBLE",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
}

#: Rows per batch when the build reads a dataset (`scan(..., for_measures=True)`).
SCAN_BATCH_ROWS = 1_000_000

#: The columns every client-level ds_<dataset> table starts with (after supply_id), in order.
CLIENT_COLUMNS: dict[str, pl.DataType] = {
    "person_key": pl.String(),
    "ward_code": pl.String(),
    "sex": pl.String(),
    "ethnicity": pl.Int32(),
    "event_date": pl.Date(),
    "age_at_event": pl.Int32(),
    "age_at_31aug": pl.Int32(),
    "age_at_31mar": pl.Int32(),
}

SUPPLIES_SCHEMA: dict[str, pl.DataType] = {
    "supply_id": pl.String(),
    "supplier_code": pl.String(),
    "supplier": pl.String(),
    "dataset": pl.String(),
    "record_level": pl.String(),
    "period": pl.String(),
    "file_name": pl.String(),
    "file_sha256": pl.String(),
    "rows": pl.Int64(),
    "loaded_at": pl.Datetime("us"),
    "date_provided": pl.Date(),
    "refresh_date": pl.Date(),
}

_SUPPLIES_DDL = """
CREATE TABLE IF NOT EXISTS supplies (
    supply_id VARCHAR PRIMARY KEY,
    supplier_code VARCHAR NOT NULL,
    supplier VARCHAR,
    dataset VARCHAR NOT NULL,
    record_level VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    file_name VARCHAR,
    file_sha256 VARCHAR,
    rows BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    date_provided DATE,
    refresh_date DATE
)
"""


_AGREEMENTS_DDL = """
CREATE TABLE IF NOT EXISTS agreements (
    supplier_code VARCHAR NOT NULL,
    yaml_text VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL
)
"""


class StoreError(RuntimeError):
    """The restricted store refused an operation (bad name, incompatible columns, damaged key)."""


def _ident(name: str, what: str = "name") -> str:
    if not isinstance(name, str) or not IDENT.match(name):
        raise StoreError(f"{what} {name!r} is not a valid identifier (lower_snake_case, at most 40 characters)")
    return name


def _table(dataset: str) -> str:
    return f'"ds_{_ident(dataset, "dataset")}"'


def _quote(column: str) -> str:
    return f'"{_ident(column, "column")}"'


def ensure_restricted_dir(path: Path | None = None) -> Path:
    """Create (if needed) the owner-only directory; returns it."""
    d = Path(path) if path is not None else config.restricted_dir()
    created = not d.exists()
    d.mkdir(parents=True, exist_ok=True)
    if created or d.resolve() == config.restricted_dir():
        os.chmod(d, 0o700)  # never loosen or tighten some other existing folder (e.g. the cwd)
    return d


def pseudonym_key() -> bytes:
    """The project's secret pseudonymisation key (32 random bytes), created owner-only on first use."""
    path = config.pseudonym_key_path()
    ensure_restricted_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise StoreError(
                f"{path}: pseudonymisation key is damaged ({len(key)} bytes, expected {KEY_BYTES})"
            ) from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def _sql_type(dtype: pl.DataType) -> str:
    for k, v in _SQL_TYPES.items():
        if dtype == k:
            return v
    raise StoreError(f"no store column type for polars dtype {dtype}")


class RestrictedStore:
    """`with RestrictedStore() as store: ...` -- the DuckDB file at `config.restricted_db_path()` by default."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else config.restricted_db_path()
        ensure_restricted_dir(self.path.parent)
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.path))
        except duckdb.Error as e:  # e.g. locked by another process (the upload app, a running ingest)
            raise StoreError(f"{self.path}: cannot open the restricted store: {str(e).splitlines()[0]}") from None
        os.chmod(self.path, 0o600)
        self._con.execute(_SUPPLIES_DDL)
        self._con.execute(_AGREEMENTS_DDL)

    # ------------------------------------------------------------------ lifecycle
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the restricted store is closed")
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            wal = self.path.with_name(self.path.name + ".wal")
            if wal.exists():
                os.chmod(wal, 0o600)

    def __enter__(self) -> RestrictedStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def _query(self, sql: str, params: list | None = None) -> pl.DataFrame:
        rel = self.con.sql(sql, params=params or None)
        try:
            return rel.pl()
        finally:
            rel.close()

    def _columns(self, table: str) -> dict[str, str]:
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return {name: dtype for name, dtype in rows}

    def datasets(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND starts_with(table_name, 'ds_') ORDER BY table_name"
        ).fetchall()
        return [r[0][3:] for r in rows]

    def scan(self, dataset: str, *, for_measures: bool = False, columns: set[str] | None = None) -> pl.DataFrame:
        """Every stored row of ds_<dataset>; an empty frame (client columns) if nothing is stored.

        `for_measures`: without person_key and supply_id, which no indicator reads (the build: the
        64-character pseudonym was about half of the records' memory at scale, docs/scaling.md);
        `columns`: only these of the stored columns (the fields the dataset's indicators read)."""
        table = _table(dataset)
        if dataset not in self.datasets():
            return pl.DataFrame(schema={"supply_id": pl.String(), **CLIENT_COLUMNS})
        if for_measures or columns is not None:
            cols = [r[0] for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table.strip('"')]).fetchall()]
            keep = [c for c in cols if (c not in ("person_key", "supply_id") or not for_measures)
                    and (columns is None or c in columns)]
            sql = f"SELECT {', '.join(_quote(c) for c in keep)} FROM {table}"
            if not for_measures:
                return self._query(sql)
            # the build: read in batches, ward and sex as categoricals, so that the largest dataset
            # (22 million rows nationally) needs about two thirds of the memory of one Arrow copy
            small = [c for c in ("ward_code", "sex") if c in keep]
            rel = self.con.sql(sql)
            try:
                parts = [pl.from_arrow(batch).with_columns(pl.col(small).cast(pl.Categorical))
                         for batch in rel.arrow(SCAN_BATCH_ROWS)]
            finally:
                rel.close()
            if not parts:
                return self._query(sql)
            return pl.concat(parts)
        return self._query(f"SELECT * FROM {table}")

    def supplies(self) -> pl.DataFrame:
        df = self._query("SELECT * FROM supplies ORDER BY dataset, period, loaded_at")
        if df.height == 0:
            return pl.DataFrame(schema=SUPPLIES_SCHEMA)
        return df.with_columns(pl.col("rows").cast(pl.Int64))

    def row_count(self, dataset: str) -> int:
        table = _table(dataset)
        if dataset not in self.datasets():
            return 0
        return int(self.con.execute(f"SELECT CAST(count(*) AS BIGINT) FROM {table}").fetchall()[0][0])

    def existing_supply(self, dataset: str, period: str) -> dict | None:
        """The stored supply of this dataset and period (a `supplies` row as a dict), or None."""
        df = self._query("SELECT * FROM supplies WHERE dataset = ? AND period = ? ORDER BY loaded_at DESC LIMIT 1",
                         [dataset, period])
        return df.row(0, named=True) if df.height else None

    # ------------------------------------------------------------------ agreements
    def save_agreement(self, agreement: Agreement, yaml_text: str) -> bool:
        """Keep the agreement a supply was checked against: a new row when its text changed (history kept).

        Returns True if a new version was saved, False if the latest saved text is the same.
        """
        code = _ident(agreement.supplier_code, "supplier_code")
        sha = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()
        latest = self.con.execute(
            "SELECT sha256 FROM agreements WHERE supplier_code = ? ORDER BY saved_at DESC LIMIT 1", [code]
        ).fetchall()
        if latest and latest[0][0] == sha:
            return False
        saved_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.con.execute("INSERT INTO agreements VALUES (?, ?, ?, ?)", [code, yaml_text, sha, saved_at])
        return True

    def agreement(self, supplier_code: str) -> Agreement | None:
        """The latest saved agreement of a supplier, or None."""
        rows = self.con.execute(
            "SELECT yaml_text FROM agreements WHERE supplier_code = ? ORDER BY saved_at DESC LIMIT 1",
            [supplier_code],
        ).fetchall()
        return _parse_agreement(rows[0][0]) if rows else None

    def agreements(self) -> list[Agreement]:
        """The latest saved agreement of every supplier, by supplier_code."""
        rows = self.con.execute(
            "SELECT yaml_text FROM agreements "
            "QUALIFY row_number() OVER (PARTITION BY supplier_code ORDER BY saved_at DESC) = 1 "
            "ORDER BY supplier_code"
        ).fetchall()
        return [_parse_agreement(r[0]) for r in rows]

    def agreement_history(self) -> pl.DataFrame:
        """supplier_code, sha256, saved_at of every saved version, oldest first."""
        return self._query("SELECT supplier_code, sha256, saved_at FROM agreements ORDER BY saved_at, supplier_code")

    # ------------------------------------------------------------------ writing
    def replace_supply(self, meta: dict, frame: pl.DataFrame) -> str:
        """Store one supply, replacing any earlier supply of the same (dataset, period). One transaction.

        `meta`: supplier_code, supplier, dataset, record_level, period, file_name, file_sha256,
        date_provided, refresh_date (rows and loaded_at are set here). `frame`: the minimised records,
        typed (String, Int32, Int64, Float64, Date, Boolean). Returns the new supply_id.
        """
        return self.replace_supply_batches(meta, [frame])

    def replace_supply_batches(self, meta: dict, batches: Iterable[pl.DataFrame]) -> str:
        """As `replace_supply`, with the records arriving in batches (all with the same columns).

        Everything happens in one transaction: the earlier supply's rows are deleted, each batch is
        inserted as it comes, and the supply is committed only when the iterable is exhausted. If the
        iterable raises (e.g. the ingest found an error in a later batch), everything is rolled back and
        the exception propagates: the store is as it was.
        """
        dataset = _ident(meta["dataset"], "dataset")
        _ident(meta["supplier_code"], "supplier_code")
        table = _table(dataset)
        supply_id = uuid.uuid4().hex
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if dataset in self.datasets():
                con.execute(
                    f"DELETE FROM {table} WHERE supply_id IN "
                    "(SELECT supply_id FROM supplies WHERE dataset = ? AND period = ?)",
                    [dataset, meta["period"]],
                )
            con.execute("DELETE FROM supplies WHERE dataset = ? AND period = ?", [dataset, meta["period"]])
            rows, columns = 0, None
            for frame in batches:
                if "supply_id" in frame.columns:
                    raise StoreError("the frame must not carry supply_id: the store assigns it")
                if columns is None:
                    columns = self._prepare_table(dataset, frame)
                elif list(frame.columns) != list(columns):
                    raise StoreError("every batch of a supply must have the same columns")
                if frame.height:
                    view = f"_incoming_{supply_id}"
                    con.register(view, frame.to_arrow())
                    try:
                        cols = ", ".join(_quote(c) for c in columns)
                        con.execute(
                            f'INSERT INTO {table} (supply_id, {cols}) SELECT ?, {cols} FROM "{view}"', [supply_id]
                        )
                    finally:
                        con.unregister(view)
                    rows += frame.height
                    failpoints.reach("ingest:batch")
            loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            con.execute(
                "INSERT INTO supplies (supply_id, supplier_code, supplier, dataset, record_level, period, "
                "file_name, file_sha256, rows, loaded_at, date_provided, refresh_date) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    supply_id, meta["supplier_code"], meta.get("supplier"), dataset,
                    meta.get("record_level", "client"), meta["period"], meta.get("file_name"),
                    meta.get("file_sha256"), rows, loaded_at, meta.get("date_provided"),
                    meta.get("refresh_date"),
                ],
            )
            con.execute("COMMIT")
            failpoints.reach("ingest:committed")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return supply_id

    def _prepare_table(self, dataset: str, frame: pl.DataFrame) -> dict[str, str]:
        """Create ds_<dataset> or add the frame's new columns (inside the caller's transaction)."""
        table = _table(dataset)
        columns = {c: _sql_type(frame.schema[c]) for c in frame.columns}
        for c in columns:
            _ident(c, "column")
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (supply_id VARCHAR NOT NULL, "
            + ", ".join(f"{_quote(c)} {t}" for c, t in columns.items())
            + ")"
        )
        existing = self._columns(f"ds_{dataset}")
        for c, t in columns.items():
            if c not in existing:
                self.con.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(c)} {t}")
            elif existing[c] != t and not (existing[c] == "DOUBLE" and t in {"BIGINT", "INTEGER"}):
                raise StoreError(
                    f"ds_{dataset}.{c} is stored as {existing[c]} but this supply has {t}: "
                    "a field's type changed in the agreement"
                )
        return columns

    def purge_before(self, cutoff: dt.date, dry_run: bool = False) -> list[dict]:
        """Delete client-level records whose event_date is before `cutoff`, and the supplies this leaves
        with no records, in one transaction (rolled back instead when `dry_run`).

        Returns one dict per dataset: dataset, records (removed), supplies (the removed supplies as
        {supply_id, period, file_name}). An aggregate dataset (no event_date) loses the supplies whose
        whole period ended before `cutoff` (its period basis from the latest saved agreement; the
        academic year, which ends last, when none says).
        """
        basis = {d.dataset: d.period_basis for a in self.agreements() for d in a.datasets}
        con = self.con
        out: list[dict] = []
        con.execute("BEGIN TRANSACTION")
        try:
            for dataset in self.datasets():
                table = _table(dataset)
                if "event_date" not in self._columns(f"ds_{dataset}"):
                    out.append(self._purge_aggregate(dataset, cutoff, basis.get(dataset, "academic_year")))
                    continue
                affected = [r[0] for r in con.execute(
                    f"SELECT DISTINCT supply_id FROM {table} WHERE event_date < ?", [cutoff]).fetchall()]
                n = int(con.execute(f"SELECT CAST(count(*) AS BIGINT) FROM {table} WHERE event_date < ?",
                                    [cutoff]).fetchall()[0][0])
                con.execute(f"DELETE FROM {table} WHERE event_date < ?", [cutoff])
                emptied: list[dict] = []
                for supply_id in affected:
                    left = con.execute(f"SELECT count(*) FROM {table} WHERE supply_id = ?", [supply_id]).fetchall()
                    if left[0][0] == 0:
                        row = con.execute("SELECT period, file_name FROM supplies WHERE supply_id = ?",
                                          [supply_id]).fetchall()
                        con.execute("DELETE FROM supplies WHERE supply_id = ?", [supply_id])
                        if row:
                            emptied.append({"supply_id": supply_id, "period": row[0][0], "file_name": row[0][1]})
                out.append({"dataset": dataset, "records": n, "supplies": sorted(emptied, key=lambda s: s["period"])})
            con.execute("ROLLBACK" if dry_run else "COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return out

    def _purge_aggregate(self, dataset: str, cutoff: dt.date, basis: str) -> dict:
        """Inside purge_before's transaction: remove the aggregate supplies whose period ended before cutoff."""
        con, table = self.con, _table(dataset)
        end_month, end_day = (3, 31) if basis == "financial_year" else (8, 31)
        removed: list[dict] = []
        n = 0
        rows = con.execute("SELECT supply_id, period, file_name FROM supplies WHERE dataset = ? ORDER BY period",
                           [dataset]).fetchall()
        for supply_id, period, file_name in rows:
            try:
                end = dt.date(int(period[:4]) + 1, end_month, end_day)
            except ValueError:
                continue
            if end >= cutoff:
                continue
            n += int(con.execute(f"SELECT CAST(count(*) AS BIGINT) FROM {table} WHERE supply_id = ?",
                                 [supply_id]).fetchall()[0][0])
            con.execute(f"DELETE FROM {table} WHERE supply_id = ?", [supply_id])
            con.execute("DELETE FROM supplies WHERE supply_id = ?", [supply_id])
            removed.append({"supply_id": supply_id, "period": period, "file_name": file_name})
        return {"dataset": dataset, "records": n, "supplies": removed, "record_level": "aggregate"}

    def delete_supply(self, supply_id: str) -> bool:
        """Remove one supply and its rows (one transaction). False if there was no such supply."""
        con = self.con
        rows = con.execute("SELECT dataset FROM supplies WHERE supply_id = ?", [supply_id]).fetchall()
        if not rows:
            return False
        table = _table(rows[0][0])
        con.execute("BEGIN TRANSACTION")
        try:
            if rows[0][0] in self.datasets():
                con.execute(f"DELETE FROM {table} WHERE supply_id = ?", [supply_id])
            con.execute("DELETE FROM supplies WHERE supply_id = ?", [supply_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return True


def _parse_agreement(yaml_text: str) -> Agreement:
    import yaml

    return Agreement.model_validate(yaml.safe_load(yaml_text))
