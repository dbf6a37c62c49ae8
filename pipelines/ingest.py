"""Reading and validating supplies, pseudonymising and minimising them, loading them (all or nothing).

A supply directory holds one folder per supplier: `agreement.yaml` (pipelines.specs.Agreement) and one
file `<dataset>_<YYYY-YY>.csv|xlsx` per dataset and period. Each file is one supply: it is validated
as a whole (every problem reported at once, vectorised), and either stored whole -- replacing any earlier
supply of the same dataset and period -- or not at all.

Stored per client record (docs/architecture.md): person_key (HMAC-SHA256 of "supplier_code:id" under
the project's secret key), ward_code, sex, ethnicity, event_date, age_at_event, age_at_31aug, age_at_31mar and the
agreement's own fields except the id. Never the date of birth, the postcode or the supplier's id.

A file is read in batches (BATCH_ROWS rows; a CSV is never loaded whole): each batch is validated,
minimised and written inside the supply's one store transaction, which commits only if the whole file
had no error. Supplies may also arrive in AES-256 encrypted zips, decrypted in memory only, or as bytes
(`validate_bytes`, `ingest_bytes`: the upload app). Every attempt writes a validation report for the
supplier (`reports/<supplier>/`, values masked) and one audit log entry. See docs/supplies.md.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import getpass
import hashlib
import hmac
import io
import os
import re
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import duckdb
import polars as pl
import pyzipper
import yaml
from pydantic import ValidationError

from pipelines import audit_log, config, geography
from pipelines.restricted_store import RestrictedStore, StoreError, pseudonym_key
from pipelines.specs import (
    COMMON_FIELDS, Agreement, DatasetAgreement, FieldSpec, SpecError, load_agreement, yaml_problem,
)

AGREEMENT_FILE = "agreement.yaml"
FILE_RE = re.compile(r"^(?P<dataset>.+)_(?P<label>[^_]+)\.(?P<ext>csv|xlsx)$", re.IGNORECASE)
PERIOD_LABEL_RE = re.compile(r"^(\d{4})-(\d{2})$")
#: Problems listed per (field, rule); beyond this one summary problem gives the count of the rest.
MAX_PROBLEMS_PER_CHECK = 1000
MAX_CHILD_AGE = 25
AGGREGATE_COLUMNS = ("area_code", "period", "numerator")
AGGREGATE_OPTIONAL = ("breakdown", "denominator")
FORMULA_RE = r"^[=+\-@\t\r]"

_R = "__row"  # spreadsheet line number of each data row (header = 1)


# ---------------------------------------------------------------- results
@dataclass
class Problem:
    file: str
    row: int | None
    field: str | None
    rule: str
    value_masked: str | None = None
    #: 1, or for the summary of problems not listed one by one, how many rows it stands for
    rows_affected: int = 1

    def __str__(self) -> str:
        where = ", ".join(p for p in (f"row {self.row}" if self.row is not None else "",
                                      f"field {self.field}" if self.field else "") if p)
        value = f" (value {self.value_masked})" if self.value_masked not in (None, "") else ""
        return f"{where}: {self.rule}{value}" if where else f"{self.rule}{value}"


@dataclass
class SupplyResult:
    supplier_code: str
    dataset: str | None
    period: str | None
    file: str
    rows: int
    outcome: Literal["loaded", "rejected"]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    supply_id: str | None = None
    #: data rows read from the file (rows is what was stored: rows read less empty / out-of-county rows)
    rows_read: int = 0
    #: SHA-256 of the file's bytes as received (None if it could not be read)
    sha256: str | None = None
    #: the validation report written for this attempt (`LCP_DATA_DIR/reports/<supplier>/...csv`)
    report_path: str | None = None
    #: the supply_id this supply replaced (same dataset and period), if any
    replaced: str | None = None

    def error(self) -> IngestError:
        return IngestError.from_problems(self.file, self.errors)

    def summary(self) -> str:
        """One line for the CLI."""
        if self.outcome == "rejected":
            return f"REJECTED {self.error()}"
        warn = ""
        if self.warnings:
            warn = f"; {len(self.warnings)} warning(s), first: {self.warnings[0]}"
        return f"loaded {self.file}: {self.rows} rows ({self.dataset} {self.period}){warn}"


class IngestError(Exception):
    """A supply or agreement that cannot be used; str() is one line naming file, row and field."""

    @classmethod
    def from_problems(cls, file: str, problems: list[Problem]) -> IngestError:
        if not problems:
            return cls(f"{file}: rejected")
        n = sum(p.rows_affected for p in problems)
        if n == 1:
            return cls(f"{file}: {problems[0]}")
        return cls(f"{file}: {n} errors; first: {problems[0]}")


class _Reject(Exception):
    """Internal: file-level problems that stop validation of a file."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].rule)
        self.problems = problems


# ---------------------------------------------------------------- helpers
def mask_value(value: str | None) -> str | None:
    """Digits -> '*', letters after the first character -> '*' ('LN11 1PL' -> 'L*** ***'); control
    characters (line breaks, tabs, NUL) -> '?', so that a message stays on one line."""
    if value is None:
        return None
    head = re.sub(r"\d", "*", value[:1])
    return re.sub(r"[\x00-\x1f\x7f]", "?", head + re.sub(r"[^\W_]", "*", value[1:]))[:40]


def mask_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised mask_value."""
    s = col.cast(pl.String)
    return pl.concat_str(
        [s.str.slice(0, 1).str.replace_all(r"\d", "*"), s.str.slice(1).str.replace_all(r"[\p{L}\p{N}]", "*")]
    ).str.replace_all(r"[\x00-\x1f\x7f]", "?").str.slice(0, 40)


def person_key(key: bytes, supplier_code: str, supplier_id: str) -> str:
    """HMAC-SHA256(key, "supplier_code:supplier_id"), hex."""
    return hmac.digest(key, f"{supplier_code}:{supplier_id}".encode(), "sha256").hex()


def person_key_expr(ids: pl.Series, key: bytes, supplier_code: str) -> pl.Series:
    """person_key for a Series of ids (HMAC computed once per distinct id; null id -> null key)."""
    uniq = ids.drop_nulls().unique()
    prefix = f"{supplier_code}:".encode()
    digest = hmac.digest
    hashed = [digest(key, prefix + v.encode(), "sha256").hex() for v in uniq.to_list()]
    return ids.replace_strict(uniq, pl.Series(hashed, dtype=pl.String), default=None, return_dtype=pl.String)


def parse_period_label(label: str) -> int | None:
    """'2023-24' -> 2023 (first year); None unless YYYY-YY with consecutive years."""
    m = PERIOD_LABEL_RE.match(label)
    if not m:
        return None
    start = int(m.group(1))
    return start if (start + 1) % 100 == int(m.group(2)) else None


def period_bounds(start_year: int, basis: str) -> tuple[dt.date, dt.date]:
    if basis == "academic_year":
        return dt.date(start_year, 9, 1), dt.date(start_year + 1, 8, 31)
    return dt.date(start_year, 4, 1), dt.date(start_year + 1, 3, 31)


def period_name(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def _date_expr(col: pl.Expr, excel: bool) -> pl.Expr:
    """DD/MM/YYYY (strict shape, real date) -> Date; in XLSX also a date cell ('YYYY-MM-DD 00:00:00')."""
    out = pl.when(col.str.contains(r"^\d{2}/\d{2}/\d{4}$")).then(col.str.strptime(pl.Date, "%d/%m/%Y", strict=False))
    if excel:
        out = out.when(col.str.contains(r"^\d{4}-\d{2}-\d{2}( 00:00:00(\.0+)?)?$")).then(
            col.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        )
    return out.otherwise(None)


def _age_expr(dob: pl.Expr, on: pl.Expr) -> pl.Expr:
    """Whole years from dob to on (a 29 February birthday falls on 1 March in other years)."""
    md_on = on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32)
    md_dob = dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day().cast(pl.Int32)
    return (on.dt.year().cast(pl.Int32) - dob.dt.year().cast(pl.Int32) - (md_on < md_dob).cast(pl.Int32)).cast(pl.Int32)


def _last_31aug(on: pl.Expr) -> pl.Expr:
    md = on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32)
    return pl.date(on.dt.year().cast(pl.Int32) - (md < 831).cast(pl.Int32), 8, 31)


def _next_31mar(on: pl.Expr) -> pl.Expr:
    """The first 31 March on or after the date (the end of the financial year it falls in)."""
    md = on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32)
    return pl.date(on.dt.year().cast(pl.Int32) + (md > 331).cast(pl.Int32), 3, 31)


def _fmt(v: float) -> str:
    return f"{v:g}"


# ---------------------------------------------------------------- reading
#: Rows validated, minimised and stored at a time: memory stays bounded whatever the file's size.
BATCH_ROWS = 100_000
_BLOCK = 1 << 20
_TAIL = 1 << 16


class _Source:
    """A supply's bytes: a file on disk (read in blocks, never whole) or bytes already in memory."""

    def __init__(self, path: Path | None = None, data: bytes | None = None):
        if (path is None) == (data is None):
            raise ValueError("a supply source is a path or bytes")
        self.path, self.data = path, data

    def blocks(self) -> Iterator[bytes]:
        if self.data is not None:
            view = memoryview(self.data)
            for i in range(0, len(view), _BLOCK):
                yield bytes(view[i:i + _BLOCK])
            return
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            while block := fh.read(_BLOCK):
                yield block

    def polars(self) -> Path | bytes:
        return self.path if self.data is None else self.data  # type: ignore[return-value]

    def binary(self) -> IO[bytes]:
        return open(self.path, "rb") if self.data is None else io.BytesIO(self.data)  # type: ignore[arg-type]


@dataclass
class _Inspection:
    """One streaming pass over the bytes: hash, emptiness, and for CSV the encoding and the last line."""

    sha256: str
    blank: bool
    problem: Problem | None = None
    ends_with_newline: bool = True
    last_line: str | None = None


def _inspect(file: str, source: _Source, ext: str) -> _Inspection:
    digest = hashlib.sha256()
    blank, first, lines, tail, header_line = True, True, 0, b"", b""
    decoder = codecs.getincrementaldecoder("utf-8")() if ext == "csv" else None
    problem: Problem | None = None
    for block in source.blocks():
        digest.update(block)
        if blank and block.strip():
            blank = False
        if decoder is not None and problem is None:
            chunk = block[len(codecs.BOM_UTF8):] if first and block.startswith(codecs.BOM_UTF8) else block
            if first:
                header_line = chunk.split(b"\n", 1)[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = max(e.start, 0)
                line = lines + chunk[:at].count(b"\n") + 1
                problem = Problem(file, line, _field_at(header_line, chunk, at, line),
                                  "not UTF-8 text (save it as 'CSV UTF-8')")
            else:
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    problem = Problem(file, lines + chunk[:nul].count(b"\n") + 1, None,
                                      "contains NUL bytes, so is not a text CSV file (save it as 'CSV UTF-8')")
            lines += chunk.count(b"\n")
        first = False
        tail = (tail + block)[-_TAIL:]
    if decoder is not None and problem is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            problem = Problem(file, lines + 1, None, "not UTF-8 text: the file ends part-way through a character")
    out = _Inspection(digest.hexdigest(), blank, problem)
    if ext == "csv" and problem is None and tail:
        out.ends_with_newline = tail.endswith((b"\n", b"\r"))
        if not out.ends_with_newline and (b"\n" in tail or lines == 0):
            out.last_line = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    return out


def _field_at(header_line: bytes, chunk: bytes, at: int, line: int) -> str | None:
    """The header name of the column holding byte `at` of `chunk` (None for the header or if unknown)."""
    start = chunk.rfind(b"\n", 0, at)
    if line <= 1 or start < 0:
        return None
    prefix = chunk[start + 1:at].decode("utf-8", errors="replace")
    try:
        index = len(next(csv.reader([prefix]), [""])) - 1 if prefix else 0
        names = next(csv.reader([header_line.decode("utf-8", errors="replace").strip("\r")]), [])
    except csv.Error:  # a stray carriage return: the column cannot be told
        return None
    return (names[index].strip().lower() or None) if 0 <= index < len(names) else None


def _raw_batches(file: str, source: _Source, ext: str) -> Iterator[pl.DataFrame]:
    """Every cell as a string (column_0, column_1, ...) and `_R`, the line number (header = 1), in batches.

    CSV is read in batches of BATCH_ROWS (never loaded whole); an XLSX workbook is read whole (the
    format holds at most 1,048,576 rows) and then handed on in batches. Raises _Reject.
    """
    if ext == "csv":
        lf = pl.scan_csv(source.polars(), has_header=False, infer_schema=False, separator=",", quote_char='"')
        lf = lf.with_row_index(_R, offset=1).with_columns(pl.col(_R).cast(pl.Int64))
        try:
            yield from lf.collect_batches(chunk_size=BATCH_ROWS)
        except pl.exceptions.NoDataError:
            raise _Reject([Problem(file, None, None, "file is empty")]) from None
        except pl.exceptions.PolarsError as e:
            raise _Reject([_csv_shape_problem(file, source, e)]) from None
        return
    try:
        with source.binary() as fh:
            raw = pl.read_excel(
                fh, engine="calamine", has_header=False, infer_schema_length=0,
                drop_empty_rows=False, drop_empty_cols=False, raise_if_empty=False,
            )
    except Exception as e:  # calamine raises its own error types
        if "empty" in str(e).lower():
            raise _Reject([Problem(file, None, None, "file is empty")]) from None
        raise _Reject([Problem(file, None, None, "not a readable XLSX workbook")]) from None
    if raw.height == 0 or raw.width == 0:
        raise _Reject([Problem(file, None, None, "file is empty")])
    raw = raw.select(pl.all().cast(pl.String)).with_row_index(_R, offset=1).with_columns(pl.col(_R).cast(pl.Int64))
    for offset in range(0, raw.height, BATCH_ROWS):
        yield raw.slice(offset, BATCH_ROWS)


def _csv_shape_problem(file: str, source: _Source, err: Exception) -> Problem:
    """Locate a ragged row or an unclosed quote (error path only; streams the file again)."""
    with io.TextIOWrapper(source.binary(), encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        width, start = None, 1
        try:
            for rec in reader:
                if width is None:
                    width = len(rec)
                elif len(rec) > width:
                    return Problem(file, reader.line_num, None, f"row has {len(rec)} fields but the header has {width}")
                start = reader.line_num + 1
        except csv.Error as e:
            if "end of data" in str(e) or "newline" in str(e):
                return Problem(file, start, None,
                               "a quoted value is never closed (a stray quote, or the file was cut short)")
            return Problem(file, reader.line_num, None, f"not a well-formed CSV row: {e}")
    with io.TextIOWrapper(source.binary(), encoding="utf-8-sig", errors="replace", newline="") as fh:
        for i, line in enumerate(fh, start=1):
            if line.count('"') % 2:
                return Problem(file, i, None, 'a stray quote character ("): put the whole value in quotes and '
                                              'double any quote inside it, or remove it')
    return Problem(file, None, None, f"not a well-formed CSV file: {str(err).splitlines()[0]}")


@dataclass
class _Header:
    raw_columns: list[str]
    #: the header row's names, lower-cased and trimmed ('' where a column has no name)
    names: list[str]

    @property
    def named(self) -> list[str]:
        return [n for n in self.names if n]


def _read_header(file: str, first: pl.DataFrame) -> _Header:
    cols = [c for c in first.columns if c != _R]
    names = [(h or "").strip().lower() for h in first.select(cols).row(0)]
    named = [n for n in names if n]
    dups = sorted({n for n in named if named.count(n) > 1})
    if dups:
        raise _Reject([Problem(file, 1, n, "column appears more than once in the header") for n in dups])
    return _Header(cols, names)


def _apply_header(file: str, header: _Header, raw: pl.DataFrame, flagged: set[int]) -> tuple[pl.DataFrame, list[Problem]]:
    """Name the columns, trim cells, empty -> null; problems for unnamed columns holding values."""
    problems = []
    for i, name in enumerate(header.names):
        if not name and i not in flagged and raw.height:
            if raw[:, header.raw_columns[i]].drop_nulls().str.strip_chars().str.len_chars().sum() > 0:
                flagged.add(i)
                problems.append(Problem(file, 1, None, f"column {i + 1} has values but no header name"))
    df = raw.select(_R, *[pl.col(header.raw_columns[i]).alias(n) for i, n in enumerate(header.names) if n])
    names = header.named
    df = df.with_columns(pl.col(names).str.strip_chars()).with_columns(
        [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in names]
    )
    return df, problems


# ---------------------------------------------------------------- checks
@dataclass
class _Check:
    field: str | None
    rule: str
    bad: pl.Expr
    value: pl.Expr | None


class _Collector:
    """Problems found batch by batch: ordered by row, at most MAX_PROBLEMS_PER_CHECK listed per check
    (field and rule) over the whole file, then one summary problem giving the count of the rest."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self._listed: dict[tuple[str | None, str], int] = {}
        self._total: dict[tuple[str | None, str], int] = {}

    @property
    def found(self) -> bool:
        return bool(self._total)

    def add(self, df: pl.DataFrame, checks: list[_Check]) -> None:
        if not checks or df.height == 0:
            return
        counts = df.select([c.bad.fill_null(False).sum().alias(f"c{i}") for i, c in enumerate(checks)]).row(0)
        parts = []
        for i, (c, n) in enumerate(zip(checks, counts)):
            if not n:
                continue
            k = (c.field, c.rule)
            self._total[k] = self._total.get(k, 0) + n
            room = MAX_PROBLEMS_PER_CHECK - self._listed.get(k, 0)
            if room <= 0:
                continue
            take = min(n, room)
            self._listed[k] = self._listed.get(k, 0) + take
            value = mask_expr(c.value) if c.value is not None else pl.lit(None, dtype=pl.String)
            parts.append(
                df.lazy().filter(c.bad.fill_null(False)).head(take).select(
                    pl.col(_R).alias("row"), pl.lit(i, dtype=pl.Int32).alias("check"), value.alias("value")
                )
            )
        if parts:
            found = pl.concat(pl.collect_all(parts)).sort(["row", "check"])
            self.problems += [Problem(self.file, row, checks[ci].field, checks[ci].rule, val)
                              for row, ci, val in found.iter_rows()]

    def finish(self) -> list[Problem]:
        extra = []
        for (fld, rule), total in self._total.items():
            rest = total - self._listed.get((fld, rule), 0)
            if rest > 0:
                extra.append(Problem(self.file, None, fld, f"{rule}: {rest} more rows not listed", None, rest))
        return self.problems + extra


def _collect(file: str, df: pl.DataFrame, checks: list[_Check]) -> list[Problem]:
    """Evaluate every check at once; problems ordered by row, at most MAX_PROBLEMS_PER_CHECK per check."""
    collector = _Collector(file)
    collector.add(df, checks)
    return collector.finish()


def _required(f: str) -> _Check:
    return _Check(f, "required value missing", pl.col(f).is_null(), None)


def _field_checks(spec: FieldSpec, excel: bool) -> tuple[list[_Check], pl.Expr]:
    """Checks for one agreement field, and the typed expression for its stored value."""
    c = pl.col(spec.name)
    present = c.is_not_null()
    checks: list[_Check] = [_required(spec.name)] if spec.required else []
    rng: list[tuple[str, pl.Expr]] = []
    match spec.type:
        case "string":
            typed = c
            checks.append(_Check(spec.name, "looks like a spreadsheet formula (starts with =, +, - or @)",
                                 present & c.str.contains(FORMULA_RE), c))
        case "date":
            typed = _date_expr(c, excel)
            checks.append(_Check(spec.name, "not a date in DD/MM/YYYY", present & typed.is_null(), c))
        case "integer":
            ok = c.str.contains(r"^[+-]?\d{1,18}$")
            typed = pl.when(ok).then(c.cast(pl.Int64, strict=False)).otherwise(None)
            checks.append(_Check(spec.name, "not a whole number", present & ~ok, c))
            rng = [("v", typed)]
        case "number":
            typed = c.cast(pl.Float64, strict=False)
            typed = pl.when(typed.is_finite()).then(typed).otherwise(None)
            checks.append(_Check(spec.name, "not a number", present & typed.is_null(), c))
            rng = [("v", typed)]
        case "category":
            values = list(spec.values or [])
            lookup = {v.lower(): v for v in values}
            typed = c.str.to_lowercase().replace_strict(list(lookup), list(lookup.values()), default=None,
                                                        return_dtype=pl.String)
            checks.append(_Check(spec.name, "not one of: " + ", ".join(values), present & typed.is_null(), c))
        case "flag":
            typed = c.str.to_uppercase()
            checks.append(_Check(spec.name, "not Y or N", present & ~typed.is_in(["Y", "N"]), c))
            typed = pl.when(typed.is_in(["Y", "N"])).then(typed).otherwise(None)
        case _:  # pragma: no cover - FieldSpec.type is a Literal
            raise AssertionError(spec.type)
    for _, v in rng:
        if spec.min is not None:
            checks.append(_Check(spec.name, f"below the minimum {_fmt(spec.min)}", v < spec.min, c))
        if spec.max is not None:
            checks.append(_Check(spec.name, f"above the maximum {_fmt(spec.max)}", v > spec.max, c))
    return checks, typed


def _client_checks(
    df: pl.DataFrame, ds: DatasetAgreement, start_year: int, excel: bool
) -> tuple[pl.DataFrame, list[_Check], list[_Check]]:
    """-> the frame with parsed columns (`_dob`, `_event`, `ward_code`, ... and typed fields), error checks,
    warning checks. Row by row only, so a file can be checked batch by batch."""
    today = dt.date.today()
    lo, hi = period_bounds(start_year, ds.period_basis)
    ev = ds.event_date_field

    # the event date and the id are needed for every record, whatever the agreement says of `required`
    checks: list[_Check] = [_required(f) for f in (ds.id_field, ev) if not ds.field(f).required]
    typed: dict[str, pl.Expr] = {}
    for spec in ds.fields:
        fc, t = _field_checks(spec, excel)
        checks += fc
        typed[spec.name] = t

    # postcodes normalised and looked up once per distinct value
    postcodes = (
        df.select(pl.col("postcode").drop_nulls().unique())
        .with_columns(geography.normalise_postcode_expr(pl.col("postcode")).alias("_pc"))
        .join(geography.postcodes().select(pl.col("postcode").alias("_pc"), "ward_code"), on="_pc", how="left")
    )
    parsed = (
        df.join(postcodes, on="postcode", how="left", maintain_order="left")
        .with_columns(
            _date_expr(pl.col("dob"), excel).alias("_dob"),
            pl.col("gender").str.to_uppercase().alias("_sex"),
            pl.when(pl.col("ethnicity").str.contains(r"^\d{1,2}$"))
            .then(pl.col("ethnicity").cast(pl.Int32, strict=False))
            .otherwise(None)
            .alias("_eth"),
            *[t.alias(f"_f_{name}") for name, t in typed.items()],
        )
        .with_columns(pl.col(f"_f_{ev}").alias("_event"))
        .with_columns(_age_expr(pl.col("_dob"), pl.col("_event")).alias("_age"))
    )

    dob, event = pl.col("dob"), pl.col(ev)
    checks += [
        _required("dob"),
        _Check("dob", "not a date in DD/MM/YYYY", dob.is_not_null() & pl.col("_dob").is_null(), dob),
        _Check("dob", "date of birth in the future", pl.col("_dob") > today, dob),
        _Check("dob", "date of birth after the event date", pl.col("_age") < 0, dob),
        _Check("dob", f"child aged over {MAX_CHILD_AGE} at the event date", pl.col("_age") > MAX_CHILD_AGE, dob),
        _required("gender"),
        _Check("gender", "not M or F", pl.col("gender").is_not_null() & ~pl.col("_sex").is_in(["M", "F"]),
               pl.col("gender")),
        _required("postcode"),
        _Check("postcode", "not a valid UK postcode",
               pl.col("postcode").is_not_null() & pl.col("_pc").is_null(), pl.col("postcode")),
        _required("ethnicity"),
        _Check("ethnicity", "not an ethnicity code 1-20",
               pl.col("ethnicity").is_not_null() & ~pl.col("_eth").is_between(1, 20).fill_null(False),
               pl.col("ethnicity")),
        _Check(ev, f"event date outside the period {period_name(start_year)} "
                   f"({lo:%d/%m/%Y} to {hi:%d/%m/%Y})",
               ~pl.col("_event").is_between(lo, hi), event),
        _Check(ev, "event date in the future", pl.col("_event") > today, event),
    ]
    warn_checks = [
        _Check("postcode", "postcode not in the Lincolnshire postcode lookup: row not stored, not counted",
               pl.col("_pc").is_not_null() & pl.col("ward_code").is_null(), pl.col("postcode")),
    ]
    return parsed, checks, warn_checks


def _minimise_client(parsed: pl.DataFrame, ds: DatasetAgreement, supplier_code: str, key: bytes) -> pl.DataFrame:
    kept = parsed.filter(pl.col("ward_code").is_not_null())
    keys = person_key_expr(kept[ds.id_field], key, supplier_code)
    dtypes = {"string": pl.String, "category": pl.String, "flag": pl.String, "integer": pl.Int64,
              "number": pl.Float64, "date": pl.Date}
    return kept.select(
        keys.alias("person_key"),
        pl.col("ward_code").cast(pl.String),
        pl.col("_sex").alias("sex"),
        pl.col("_eth").cast(pl.Int32).alias("ethnicity"),
        pl.col("_event").alias("event_date"),
        pl.col("_age").cast(pl.Int32).alias("age_at_event"),
        _age_expr(pl.col("_dob"), _last_31aug(pl.col("_event"))).alias("age_at_31aug"),
        _age_expr(pl.col("_dob"), _next_31mar(pl.col("_event"))).alias("age_at_31mar"),
        *[
            pl.col(f"_f_{f.name}").cast(dtypes[f.type]).alias(f.name)
            for f in ds.fields
            if f.name != ds.id_field
        ],
    )


_DIMENSIONS = ("sex", "ethnicity", "age")


def _aggregate_breakdown(col: pl.Expr) -> pl.Expr:
    """A supplied breakdown label, normalised ('all', 'sex=F', 'ethnicity=White', 'age=0-4'), or null
    where it is not one (an empty cell is `all`)."""
    from pipelines.measures import ETHNIC_GROUP_ORDER

    raw = col.str.strip_chars()
    is_all = raw.is_null() | (raw == "") | (raw.str.to_lowercase() == "all")
    dim = raw.str.extract(r"^([A-Za-z]+)\s*=", 1).str.to_lowercase()
    cat = raw.str.extract(r"=\s*(.*?)$", 1)
    groups = {g.lower(): g for g in ETHNIC_GROUP_ORDER}
    group = cat.str.to_lowercase().replace_strict(list(groups), list(groups.values()), default=None,
                                                  return_dtype=pl.String)
    lo = cat.str.extract(r"^(\d{1,2})-\d{1,2}$", 1).cast(pl.Int32, strict=False)
    hi = cat.str.extract(r"^\d{1,2}-(\d{1,2})$", 1).cast(pl.Int32, strict=False)
    return (
        pl.when(is_all).then(pl.lit("all"))
        .when((dim == "sex") & cat.str.to_uppercase().is_in(["F", "M"]))
        .then(pl.concat_str([pl.lit("sex="), cat.str.to_uppercase()]))
        .when((dim == "ethnicity") & group.is_not_null()).then(pl.concat_str([pl.lit("ethnicity="), group]))
        .when((dim == "age") & (lo <= hi)).then(pl.concat_str([pl.lit("age="), lo.cast(pl.String), pl.lit("-"),
                                                               hi.cast(pl.String)]))
        .otherwise(None)
    )


def _count_checks(name: str, ok: pl.Expr, value: pl.Expr) -> list[_Check]:
    c = pl.col(name)
    negative = c.str.strip_chars().str.contains(r"^-\s*\d") & ~ok
    return [
        _Check(name, "a negative count", c.is_not_null() & negative, c),
        _Check(name, "not a whole number (a count: 0, 1, 2, ...)", c.is_not_null() & ~ok & ~negative, c),
    ]


def _validate_aggregate(
    file: str, df: pl.DataFrame, start_year: int, ds: DatasetAgreement
) -> tuple[list[Problem], list[Problem], pl.DataFrame]:
    """Aggregate supplies: one row per area (ward or district code), period, measure and breakdown.

    Row checks (every one reported at once, by row and field): the area a current Lincolnshire ward or
    district (a retired ward code is named so), every row at one level; the period the file's period;
    the measure one the agreement names; counts whole numbers 0 or more, the numerator not above the
    denominator; the breakdown `all` (or empty), `sex=F|M`, `ethnicity=<group>` or `age=<low-high>`;
    each area, measure and breakdown once, and a part only beside its `all` row. Then the parts of
    each breakdown must add up to their `all` row (numerator and denominator), reported at that row.
    """
    h = geography.hierarchy()
    levels = pl.concat([
        h.select(pl.col("ward_code").alias("area_code"), pl.lit("ward").alias("area_level")),
        h.select(pl.col("district_code").alias("area_code"), pl.lit("district").alias("area_level")).unique(),
    ])
    retired = geography.retired_wards().select(pl.col("ward_code").alias("area_code"),
                                               pl.lit(True).alias("_retired"))
    for c in AGGREGATE_OPTIONAL + ("measure",):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    if not ds.denominator:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("denominator"))
    if not ds.measures:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("measure"))
    want = period_name(start_year)
    num_ok = pl.col("numerator").str.strip_chars().str.contains(r"^\+?\d{1,18}$")
    den_ok = pl.col("denominator").str.strip_chars().str.contains(r"^\+?\d{1,18}$")
    parsed = (
        df.with_columns(pl.col("area_code").str.strip_chars().str.to_uppercase().alias("_area"))
        .join(levels.rename({"area_code": "_area"}), on="_area", how="left", maintain_order="left")
        .join(retired.rename({"area_code": "_area"}), on="_area", how="left", maintain_order="left")
        .with_columns(
            pl.col("period").str.strip_chars().str.replace("-", "/").alias("_period"),
            pl.when(num_ok).then(pl.col("numerator").str.strip_chars().cast(pl.Int64, strict=False)).alias("_num"),
            pl.when(den_ok).then(pl.col("denominator").str.strip_chars().cast(pl.Int64, strict=False)).alias("_den"),
            _aggregate_breakdown(pl.col("breakdown")).alias("_bd"),
            pl.col("measure").str.strip_chars().str.to_lowercase().alias("_measure"),
        )
    )
    n_ward = parsed.filter(pl.col("area_level") == "ward").height
    n_district = parsed.filter(pl.col("area_level") == "district").height
    level = "ward" if n_ward >= n_district else "district"
    other = "district" if level == "ward" else "ward"
    key = pl.struct("_area", "_measure", "_bd")
    has_all = parsed.filter(pl.col("_bd") == "all").select("_area", "_measure").unique().with_columns(
        pl.lit(True).alias("_has_all"))
    parsed = parsed.join(has_all, on=["_area", "_measure"], how="left", nulls_equal=True, maintain_order="left")
    area = pl.col("area_code")
    checks = [
        _required("area_code"),
        _Check("area_code", "a retired ward code (North Kesteven wards before May 2023): use the current ward codes",
               area.is_not_null() & pl.col("_retired").fill_null(False), area),
        _Check("area_code", "not a Lincolnshire ward or district code",
               area.is_not_null() & pl.col("area_level").is_null() & pl.col("_retired").is_null(), area),
        _Check("area_code", f"a {other} code in a supply by {level}: one level per supply (every row a ward, "
                            "or every row a district)", pl.col("area_level") == other, area),
        _required("period"),
        _Check("period", f"outside the agreement: the file's period is {want} ({ds.frequency} supplies by "
                         f"{ds.period_basis.replace('_', ' ')}, one file per period)",
               pl.col("period").is_not_null() & (pl.col("_period") != want), pl.col("period")),
        _required("numerator"),
        *_count_checks("numerator", num_ok, pl.col("numerator")),
        _Check("numerator", "numerator larger than the denominator", pl.col("_num") > pl.col("_den"),
               pl.col("numerator")),
        _Check("breakdown", "looks like a spreadsheet formula (starts with =, +, - or @)",
               pl.col("breakdown").str.contains(FORMULA_RE), pl.col("breakdown")),
        _Check("breakdown", "not a breakdown: all (or empty), sex=F, sex=M, ethnicity=<group> (White, Mixed, "
                            "Asian, Black, Chinese, Other, Not known) or age=<low-high>",
               pl.col("_bd").is_null() & ~pl.col("breakdown").str.contains(FORMULA_RE).fill_null(False),
               pl.col("breakdown")),
        _Check("area_code", "area, measure and breakdown given more than once",
               key.is_duplicated() & pl.col("_area").is_not_null() & pl.col("_bd").is_not_null(), area),
        _Check("breakdown", "a breakdown part without an 'all' row for its area",
               (pl.col("_bd") != "all") & pl.col("_has_all").is_null() & area.is_not_null(), pl.col("breakdown")),
    ]
    if ds.denominator:
        checks += [_required("denominator"), *_count_checks("denominator", den_ok, pl.col("denominator"))]
    if ds.measures:
        checks += [
            _required("measure"),
            _Check("measure", "not one of the agreement's measures: " + ", ".join(ds.measures),
                   pl.col("measure").is_not_null() & ~pl.col("_measure").is_in(ds.measures), pl.col("measure")),
        ]
    errors = _collect(file, parsed, checks)
    errors += _parts_add_up(file, parsed, ds.denominator)
    today = dt.date.today()
    lo, _ = period_bounds(start_year, ds.period_basis)
    if lo > today:
        errors.insert(0, Problem(file, None, "period", f"the period {want} has not started ({lo:%d/%m/%Y})"))
    warnings: list[Problem] = []
    expected = set(levels.filter(pl.col("area_level") == level)["area_code"].to_list())
    missing = len(expected - set(parsed["_area"].drop_nulls().to_list()))
    if missing:
        warnings.append(Problem(file, None, "area_code",
                                f"{missing} of the {len(expected)} {level}s have no row: counted as 0"))
    out = parsed.select(
        pl.col("_area").alias("area_code"), pl.col("area_level"), pl.lit(want).alias("period"),
        pl.col("_measure").alias("measure"), pl.col("_bd").alias("breakdown"),
        pl.col("_num").alias("numerator"), pl.col("_den").alias("denominator"),
    )
    return errors, warnings, out


def _parts_add_up(file: str, parsed: pl.DataFrame, denominator: bool) -> list[Problem]:
    """The parts of each breakdown (sex, ethnicity, age) of an area and measure add up to its `all`
    row, numerator and denominator: one problem per total and dimension that does not, at the `all`
    row. Groups holding a value that could not be read, or a key given twice, are left to the row checks."""
    keys = ["_area", "_measure"]
    usable = parsed.filter(pl.col("_area").is_not_null() & pl.col("_bd").is_not_null())
    dup = usable.filter(pl.struct(*keys, "_bd").is_duplicated()).select(keys).unique()
    usable = usable.join(dup, on=keys, how="anti", nulls_equal=True)
    parts = usable.filter(pl.col("_bd") != "all").with_columns(
        pl.col("_bd").str.split("=").list.first().alias("_dim"))
    totals = usable.filter(pl.col("_bd") == "all").select(
        *keys, pl.col(_R).alias("_row"), pl.col("_num").alias("_tnum"), pl.col("_den").alias("_tden"),
        pl.col("numerator").alias("_tnum_raw"), pl.col("denominator").alias("_tden_raw"))
    counts = [("numerator", "_num", "_tnum", "_tnum_raw")]
    if denominator:
        counts.append(("denominator", "_den", "_tden", "_tden_raw"))
    problems: list[Problem] = []
    for name, col, total, raw in counts:
        sums = parts.group_by(*keys, "_dim").agg(
            pl.col(col).sum().alias("_sum"), pl.col(col).null_count().alias("_bad"))
        joined = sums.join(totals, on=keys, how="inner", nulls_equal=True).filter(
            (pl.col("_bad") == 0) & pl.col(total).is_not_null() & (pl.col("_sum") != pl.col(total))
        ).sort("_row", "_dim").head(MAX_PROBLEMS_PER_CHECK)
        for r in joined.iter_rows(named=True):
            problems.append(Problem(
                file, r["_row"], name, f"the {r['_dim']} parts add up to {r['_sum']}, not to the 'all' row's "
                                       f"{r[total]}", mask_value(r[raw])))
    return sorted(problems, key=lambda p: (p.row or 0, p.field or ""))


# ---------------------------------------------------------------- one file
def _rejected(supplier_code: str, dataset, period, file: str, problems: list[Problem],
              warnings: list[Problem] | None = None, rows_read: int = 0) -> SupplyResult:
    return SupplyResult(supplier_code, dataset, period, file, 0, "rejected", problems, warnings or [], None, rows_read)


class _Supply:
    """One supply whose name, agreement and bytes have been checked; its rows come in batches.

    `minimised(key)` validates every batch and yields the minimised records batch by batch while no
    error has been found; once the whole file is read it raises _Reject if there was any error (after
    yielding, so a consumer storing the batches in one transaction rolls back). `errors`, `warnings`,
    `rows_read` and `rows` are filled in as it goes; `result()` gives the SupplyResult.
    """

    def __init__(self, file: str, agreement: Agreement, ds: DatasetAgreement, start_year: int, ext: str,
                 source: _Source, inspection: _Inspection, warnings: list[Problem]):
        self.file, self.agreement, self.ds, self.start_year = file, agreement, ds, start_year
        self.ext, self.source, self.inspection = ext, source, inspection
        self.period = period_name(start_year)
        self.errors: list[Problem] = []
        self.warnings = warnings
        self.rows_read = 0
        self.rows = 0
        self.schema: dict[str, pl.DataType] | None = None

    @property
    def aggregate(self) -> bool:
        return self.ds.record_level == "aggregate"

    def meta(self) -> dict:
        return {
            "supplier_code": self.agreement.supplier_code,
            "supplier": self.agreement.supplier,
            "dataset": self.ds.dataset,
            "record_level": self.ds.record_level,
            "period": self.period,
            "file_name": Path(self.file).name,
            "file_sha256": self.inspection.sha256,
            "date_provided": self.ds.metadata.date_provided,
            "refresh_date": self.ds.metadata.refresh_date,
        }

    def result(self) -> SupplyResult:
        ok = not self.errors
        return SupplyResult(self.agreement.supplier_code, self.ds.dataset, self.period, self.file,
                            self.rows if ok else 0, "loaded" if ok else "rejected", self.errors, self.warnings,
                            None, self.rows_read, self.inspection.sha256)

    def _reject(self, problems: list[Problem]) -> _Reject:
        self.errors += problems
        return _Reject(self.errors)

    def minimised(self, key: bytes | None = None) -> Iterator[pl.DataFrame]:
        file, ds = self.file, self.ds
        batches = _raw_batches(file, self.source, self.ext)
        try:
            first = next(batches, None)
            if first is None:
                raise _Reject([Problem(file, None, None, "file is empty")])
            header = _read_header(file, first)
        except _Reject as r:
            raise self._reject(r.problems) from None
        if self.aggregate:
            needed = list(AGGREGATE_COLUMNS) + (["measure"] if ds.measures else []) + (
                ["denominator"] if ds.denominator else [])
            allowed = needed + ["breakdown"]
        else:
            needed = list(COMMON_FIELDS) + [f.name for f in ds.fields]
            allowed = needed
        have = header.named
        missing = [c for c in needed if c not in have]
        if missing:
            hint = ""
            if len(have) == 1 and any(s in have[0] for s in (";", "\t", "|")):
                hint = "; the header is one column: the file must be comma-separated"
            shown = ", ".join(have)[:120]
            raise self._reject([Problem(file, 1, c, f"missing column (the header has: {shown}){hint}")
                                for c in missing])
        for c in have:
            if c not in allowed:
                self.warnings.append(Problem(file, 1, c, "column not in the agreement: ignored, not stored"))
        keep = [c for c in allowed if c in have]

        errors, warnings = _Collector(file), _Collector(file)
        flagged: set[int] = set()
        n_empty, last_row = 0, 1
        aggregate_parts: list[pl.DataFrame] = []
        excel = self.ext == "xlsx"
        key_bytes = key

        def bodies() -> Iterator[pl.DataFrame]:
            yield first.slice(1)
            yield from batches

        try:
            for raw in bodies():
                if raw.height == 0:
                    continue
                last_row = int(raw[_R][-1])
                df, problems = _apply_header(file, header, raw, flagged)
                self.errors += problems
                df = df.select(_R, *keep)
                empty = pl.all_horizontal([pl.col(c).is_null() for c in keep])
                n = df.select(empty.sum()).item()
                if n:
                    n_empty += n
                    df = df.filter(~empty)
                self.rows_read += df.height
                if df.height == 0:
                    continue
                if self.aggregate:
                    aggregate_parts.append(df)
                    continue
                parsed, error_checks, warn_checks = _client_checks(df, ds, self.start_year, excel)
                errors.add(parsed, error_checks)
                warnings.add(parsed, warn_checks)
                if not errors.found and not self.errors:
                    if key_bytes is None:
                        key_bytes = pseudonym_key()
                    out = _minimise_client(parsed, ds, self.agreement.supplier_code, key_bytes)
                    self.schema = dict(out.schema)
                    self.rows += out.height
                    yield out
        except _Reject as r:
            raise self._reject(errors.finish() + r.problems) from None
        self.errors += errors.finish()
        self.warnings += warnings.finish()
        truncated = self._truncated_row(header, last_row)
        if truncated:
            self.errors.insert(0, truncated)  # the cause of any missing values in that row: say it first
        if n_empty and self.rows_read:
            self.warnings.append(Problem(file, None, None, f"{n_empty} empty row(s) ignored"))
        if self.rows_read == 0:
            raise self._reject([Problem(file, None, None, "no data rows (header only)")])
        if self.aggregate and not self.errors:
            agg_errors, agg_warnings, out = _validate_aggregate(file, pl.concat(aggregate_parts), self.start_year,
                                                                self.ds)
            self.errors += agg_errors
            self.warnings += agg_warnings
            if not agg_errors:
                self.schema = dict(out.schema)
                self.rows = out.height
                yield out
        if self.errors:
            raise _Reject(self.errors)

    def _truncated_row(self, header: _Header, last_row: int) -> Problem | None:
        """A CSV whose last line has fewer fields than the header and no line end was cut short."""
        line = self.inspection.last_line
        if self.ext != "csv" or self.inspection.ends_with_newline or not line or '"' in line or last_row < 2:
            return None
        try:
            fields = next(csv.reader([line]), [])
        except csv.Error:  # a stray carriage return: not the truncation pattern
            return None
        width = len(header.names)
        if len(fields) >= width:
            return None
        name = header.names[len(fields)] or None
        return Problem(self.file, last_row, name,
                       f"the last row stops after {len(fields)} of {width} fields: the file looks cut short")


def _open_supply(file: str, source: _Source, agreement: Agreement) -> _Supply | SupplyResult:
    """Check the file's name against the agreement and read its bytes once (hash, encoding).

    Returns the supply, ready to be read in batches, or the rejected result.
    """
    code = agreement.supplier_code
    name = Path(file).name
    m = FILE_RE.match(name)
    if not m:
        rule = "file name must be <dataset>_<YYYY-YY>.csv or .xlsx, e.g. ncmp_2023-24.xlsx"
        result = _rejected(code, None, None, file, [Problem(file, None, None, rule)])
        result.sha256 = _inspect(file, source, "").sha256
        return result
    dataset, label, ext = m.group("dataset"), m.group("label"), m.group("ext").lower()
    start_year = parse_period_label(label)
    period = period_name(start_year) if start_year is not None else None
    problems: list[Problem] = []
    if start_year is None:
        rule = f"period {label!r} in the file name must be YYYY-YY for consecutive years, e.g. 2023-24"
        problems.append(Problem(file, None, None, rule))
    ds = agreement.dataset(dataset)
    if ds is None:
        agreed = ", ".join(d.dataset for d in agreement.datasets)
        problems.append(Problem(file, None, None, f"dataset {dataset!r} is not in the agreement (agreed: {agreed})"))
    inspection = _inspect(file, source, ext)
    if inspection.blank:
        problems.append(Problem(file, None, None, "file is empty"))
    elif inspection.problem is not None:
        problems.append(inspection.problem)
    warnings: list[Problem] = []
    if ds is not None and ext != ds.format:
        warnings.append(Problem(file, None, None, f"the agreement says {ds.format}, this file is {ext}"))
    if problems or ds is None or start_year is None:
        result = _rejected(code, dataset, period, file, problems, warnings)
        result.sha256 = inspection.sha256
        return result
    return _Supply(file, agreement, ds, start_year, ext, source, inspection, warnings)


def _validate_source(file: str, source: _Source, agreement: Agreement, key: bytes | None
                     ) -> tuple[SupplyResult, pl.DataFrame | None, dict | None]:
    supply = _open_supply(file, source, agreement)
    if isinstance(supply, SupplyResult):
        return supply, None, None
    frames: list[pl.DataFrame] = []
    try:
        frames.extend(supply.minimised(key))
    except _Reject:
        return supply.result(), None, None
    except pl.exceptions.PolarsError as e:  # unforeseen content: reject the file, never crash the run
        supply.errors.append(Problem(file, None, None, f"could not be read: {str(e).splitlines()[0]}"))
        return supply.result(), None, None
    return supply.result(), pl.concat(frames), supply.meta()


def validate_file(
    path: Path, agreement: Agreement, key: bytes | None = None
) -> tuple[SupplyResult, pl.DataFrame | None, dict | None]:
    """Validate one supply file and minimise it; nothing is stored (see `validate_bytes`)."""
    path = Path(path)
    if not path.is_file():
        return _rejected(agreement.supplier_code, None, None, str(path),
                         [Problem(str(path), None, None, "cannot be read: not a file")]), None, None
    return _validate_source(str(path), _Source(path=path), agreement, key)


def validate_bytes(
    file_name: str, data: bytes, agreement: Agreement, key: bytes | None = None
) -> tuple[SupplyResult, pl.DataFrame | None, dict | None]:
    """Validate one supply held in memory and minimise it; nothing is stored, nothing written to disk.

    `file_name` is the supply's name as sent (`<dataset>_<YYYY-YY>.csv|xlsx`, a path is allowed: its
    last part is the name) and is used in every message. Returns (result, frame, meta): frame and meta
    are None when the supply has errors (result.outcome is then "rejected"); otherwise result.outcome
    is "loaded" pending `RestrictedStore.replace_supply(meta, frame)`. `result.sha256` is always set.
    """
    return _validate_source(str(file_name), _Source(data=bytes(data)), agreement, key)


def ingest_file(path: Path, agreement: Agreement, store: RestrictedStore, key: bytes | None = None,
                actor: str | None = None) -> SupplyResult:
    """Validate one supply file and, if it has no errors, store it (replacing its dataset+period).

    The file is read in batches: each is validated, minimised and written inside one store transaction
    that commits only if the whole file had no error. Every attempt writes a validation report and one
    audit log entry (load, replace or reject).
    """
    path = Path(path)
    if not path.is_file():
        result = _rejected(agreement.supplier_code, None, None, str(path),
                           [Problem(str(path), None, None, "cannot be read: not a file")])
        return _record(result, actor)
    try:
        return _load(str(path), _Source(path=path), agreement, store, key, actor)
    except OSError as e:
        result = _rejected(agreement.supplier_code, None, None, str(path),
                           [Problem(str(path), None, None, f"cannot be read: {e.strerror}")])
        return _record(result, actor)


def ingest_bytes(file_name: str, data: bytes, agreement: Agreement, store: RestrictedStore | None = None,
                 actor: str = "cli") -> SupplyResult:
    """Validate a supply held in memory and load it if it has no errors; the plain file never touches disk.

    The agreement is saved in the store (if it changed), a validation report is written
    (`result.report_path`) and one audit log entry records the attempt, by `actor`.
    """
    own = store is None
    store = store or RestrictedStore()
    try:
        record_interrupted(store, actor)
        _save_agreement(store, agreement)
        return _load(str(file_name), _Source(data=bytes(data)), agreement, store, None, actor)
    finally:
        if own:
            store.close()


def _save_agreement(store: RestrictedStore, agreement: Agreement, yaml_text: str | None = None) -> None:
    if yaml_text is None:
        if store.agreement(agreement.supplier_code) == agreement:
            return
        yaml_text = yaml.safe_dump(agreement.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    store.save_agreement(agreement, yaml_text)


def _load(file: str, source: _Source, agreement: Agreement, store: RestrictedStore, key: bytes | None,
          actor: str | None) -> SupplyResult:
    supply = _open_supply(file, source, agreement)
    if isinstance(supply, SupplyResult):
        return _record(supply, actor)
    meta = supply.meta()
    previous = store.existing_supply(meta["dataset"], meta["period"])
    supply_id = None
    try:
        supply_id = store.replace_supply_batches(meta, supply.minimised(key))
    except _Reject:
        pass  # supply.errors says why; the store rolled back
    except pl.exceptions.PolarsError as e:  # unforeseen content: reject the file, never crash the run
        supply.errors.append(Problem(file, None, None, f"could not be read: {str(e).splitlines()[0]}"))
    except (StoreError, duckdb.Error) as e:  # the store has rolled back
        supply.errors.append(Problem(file, None, None, f"could not be stored: {str(e).splitlines()[0]}"))
    result = supply.result()
    if result.outcome == "loaded":
        result.supply_id = supply_id
        result.replaced = previous["supply_id"] if previous else None
    return _record(result, actor)


def record_interrupted(store: RestrictedStore, actor: str | None = None) -> int:
    """Audit-log every stored supply that has no load entry (matched by file SHA-256).

    A supply is committed to the store first and its audit entry appended just after; an ingest killed
    between the two leaves a supply without its entry. Each ingest starts by recording such supplies,
    so the log again has an entry for every supply stored. Returns how many were recorded."""
    sup = store.supplies()
    if sup.is_empty():
        return 0
    try:
        logged = {e.get("sha256") for e in audit_log.entries() if e.get("action") in ("load", "replace")}
    except audit_log.AuditLogError:
        return 0  # a damaged log is reported by `lcp audit-log verify`; never block a supply on it
    n = 0
    for r in sup.iter_rows(named=True):
        if r["file_sha256"] and r["file_sha256"] not in logged:
            audit_log.append(
                "load", actor=actor or audit_log.default_actor(), supplier_code=r["supplier_code"],
                dataset=r["dataset"], period=r["period"], file=r["file_name"], sha256=r["file_sha256"],
                rows=r["rows"], outcome="loaded",
                detail=f"supply {r['supply_id']} was stored by an ingest interrupted before its audit entry; "
                       "recorded on recovery",
            )
            logged.add(r["file_sha256"])
            n += 1
    return n


def _record(result: SupplyResult, actor: str | None) -> SupplyResult:
    """Write the attempt's validation report and its audit log entry."""
    result.report_path = str(write_report(result))
    if result.outcome == "loaded":
        action = "replace" if result.replaced else "load"
        detail = f"replaced supply {result.replaced}" if result.replaced else ""
        if result.warnings:
            detail = "; ".join(p for p in (detail, f"{sum(w.rows_affected for w in result.warnings)} warning(s)") if p)
    else:
        action, detail = "reject", str(result.error())
    audit_log.append(
        action, actor=actor or audit_log.default_actor(), supplier_code=result.supplier_code, dataset=result.dataset,
        period=result.period, file=result.file, sha256=result.sha256, rows=result.rows,
        outcome=result.outcome, detail=detail,
    )
    return result


# ---------------------------------------------------------------- validation reports
REPORT_COLUMNS = ("severity", "file", "row", "field", "rule", "value_masked")


def _cell(value) -> str:
    """A report cell that a spreadsheet shows as text (never runs it as a formula)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_report(result: SupplyResult, when: dt.datetime | None = None) -> Path:
    """`reports/<supplier_code>/<file-stem>-<UTC timestamp>.csv` (+ `.txt` summary); returns the CSV path.

    One row per problem (errors, then warnings), with the value masked: the report can go back to the
    supplier as it is. Files are owner-only.
    """
    when = when or dt.datetime.now(dt.UTC)
    name = Path(result.file).name
    stem = Path(name).stem if name else "supply"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:80] or "supply"
    folder = config.reports_dir() / result.supplier_code
    folder.mkdir(parents=True, exist_ok=True)
    for d in (config.reports_dir(), folder):
        os.chmod(d, 0o700)
    base = f"{stem}-{when:%Y%m%dT%H%M%SZ}"
    for n in range(1000):
        csv_path = folder / (f"{base}.csv" if n == 0 else f"{base}-{n}.csv")
        try:
            fd = os.open(csv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a thousand attempts in one second
        raise IngestError(f"{folder}: cannot name a new report for {name}")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REPORT_COLUMNS)
        for severity, problems in (("error", result.errors), ("warning", result.warnings)):
            for p in problems:
                w.writerow([severity, _cell(name), "" if p.row is None else p.row, _cell(p.field), _cell(p.rule),
                            _cell(p.value_masked)])
    n_err = sum(p.rows_affected for p in result.errors)
    n_warn = sum(p.rows_affected for p in result.warnings)
    lines = [
        f"Validation report for {name}",
        f"supplier: {result.supplier_code}",
        f"checked at: {when:%Y-%m-%d %H:%M:%S} UTC",
        f"file SHA-256: {result.sha256 or 'unknown'}",
        f"dataset: {result.dataset or 'unknown'}; period: {result.period or 'unknown'}",
        f"outcome: {'LOADED' if result.outcome == 'loaded' else 'REJECTED: nothing from this file was stored'}",
        f"rows read: {result.rows_read}; rows stored: {result.rows}",
        f"errors: {n_err}; warnings: {n_warn}",
    ]
    if result.errors:
        lines += ["", "First errors:"] + [f"  {p}" for p in result.errors[:10]]
    if result.warnings:
        lines += ["", "First warnings:"] + [f"  {p}" for p in result.warnings[:10]]
    lines += ["", f"Every problem, one per row, with values masked: {csv_path.name}"]
    txt = csv_path.with_suffix(".txt")
    fd = os.open(txt, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return csv_path


# ---------------------------------------------------------------- encrypted zips (protocol 6.ii)
ZIP_PASSWORD_ENV = "LCP_ZIP_PASSWORD"
_AES_256 = 3  # WinZip AES strength code for a 256-bit key
_ENCRYPTED = 0x1


def zip_password(path: Path) -> bytes:
    """The zip password: `LCP_ZIP_PASSWORD`, or asked for (not echoed) when run in a terminal."""
    password = os.environ.get(ZIP_PASSWORD_ENV)
    if password:
        return password.encode("utf-8")
    if sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(f"Password for the encrypted supplies ({Path(path).name}): ")
        if password:
            return password.encode("utf-8")
    raise IngestError(
        f"{path}: an encrypted zip needs its password: set {ZIP_PASSWORD_ENV} or run `lcp ingest` in a terminal"
    )


@dataclass(frozen=True)
class ZipMember:
    """One file inside an AES-256 encrypted zip: decrypted into memory when read, never onto disk."""

    zip_path: Path
    name: str
    password: bytes = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.zip_path}:{self.name}"

    def read(self) -> bytes:
        with pyzipper.AESZipFile(self.zip_path) as zf:
            zf.setpassword(self.password)
            try:
                return zf.read(self.name)
            except RuntimeError:
                raise IngestError(f"{self.zip_path}: wrong password for the encrypted zip") from None
            except (zipfile.BadZipFile, pyzipper.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise IngestError(f"{self.label}: the zip is damaged ({e})") from None


def open_zip(path: Path, password: bytes) -> list[ZipMember]:
    """Check a zip: every file in it AES-256 encrypted, the password right. Nothing is extracted.

    Raises IngestError (one line) for a file that is not a zip, an empty zip, a member that is not
    encrypted or is encrypted with ZipCrypto or AES-128/192, and a wrong password.
    """
    path = Path(path)
    try:
        zf = pyzipper.AESZipFile(path)
    except (zipfile.BadZipFile, pyzipper.BadZipFile, OSError, ValueError) as e:
        raise IngestError(f"{path}: not a readable zip file ({e})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if not infos:
            raise IngestError(f"{path}: the zip holds no files")
        for info in infos:
            if not info.flag_bits & _ENCRYPTED:
                raise IngestError(f"{path}: {info.filename} is not encrypted: supplies sent outside the upload site "
                                  "must be in an AES-256 encrypted zip")
            strength = getattr(info, "wz_aes_strength", None)
            if strength is None:
                raise IngestError(f"{path}: {info.filename} is encrypted with ZipCrypto, which is not secure: "
                                  "encrypt it with AES-256 (e.g. 7-Zip: zip format, AES-256)")
            if strength != _AES_256:
                raise IngestError(f"{path}: {info.filename} is encrypted with AES-{64 + 64 * strength}, "
                                  "not AES-256 as the protocol requires")
        zf.setpassword(password)
        for info in infos:
            try:
                zf.open(info).close()  # checks the password verifier; decrypts nothing to disk
            except RuntimeError:
                raise IngestError(f"{path}: wrong password for the encrypted zip") from None
            except (zipfile.BadZipFile, pyzipper.BadZipFile, zlib.error, EOFError) as e:
                raise IngestError(f"{path}: {info.filename}: the zip is damaged ({e})") from None
    return [ZipMember(path, i.filename, password) for i in infos]


# ---------------------------------------------------------------- a supply directory
def read_agreement(path: Path) -> Agreement:
    """load_agreement, with its SpecError turned into an IngestError (file and field named)."""
    try:
        return load_agreement(path)
    except SpecError as e:
        raise IngestError(str(e)) from None


def parse_agreement(label: str, text: str) -> Agreement:
    """An agreement from YAML text (e.g. inside a zip); IngestError names the file and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise IngestError(f"{label}:{yaml_problem(e)}") from None
    try:
        return Agreement.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top)"
        msg = " ".join(str(first["msg"]).split())
        raise IngestError(f"{label}: field {loc}: {msg} ({len(e.errors())} problem(s))") from None


def supplier_folders(path: Path) -> list[Path]:
    path = Path(path)
    if (path / AGREEMENT_FILE).is_file():
        return [path]
    return sorted(d for d in path.iterdir() if d.is_dir() and (d / AGREEMENT_FILE).is_file())


def supply_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith((".", "~$")) and p.name not in (AGREEMENT_FILE, "agreement.yml")
    )


@dataclass
class _Unit:
    """One supplier's agreement and the supplies sent under it (files, or files inside encrypted zips)."""

    agreement: Agreement
    yaml_text: str
    where: str
    files: list[Path | ZipMember] = field(default_factory=list)


def _name(f: Path | ZipMember) -> str:
    return PurePosixPath(f.name).name


def _gather(path: Path, password: Callable[[Path], bytes]) -> list[_Unit]:
    """Every supplier's agreement and supplies under PATH (a directory or an encrypted zip). Raises IngestError."""
    units: list[_Unit] = []
    if path.is_file():
        if path.suffix.lower() != ".zip":
            raise IngestError(f"{path}: not a directory or an encrypted .zip of supplier folders")
        return _zip_units(path, open_zip(path, password(path)))
    if not path.is_dir():
        raise IngestError(f"{path}: not a directory")
    folders = supplier_folders(path)
    for folder in folders:
        f = folder / AGREEMENT_FILE
        agreement = read_agreement(f)
        if folder != path and folder.name != agreement.supplier_code:
            raise IngestError(
                f"{f}: field supplier_code: {agreement.supplier_code!r} does not match its folder {folder.name!r}"
            )
        unit = _Unit(agreement, f.read_text(encoding="utf-8"), str(f))
        for p in supply_files(folder):
            if p.suffix.lower() == ".zip":
                unit.files += [m for m in open_zip(p, password(p)) if _name(m) not in (AGREEMENT_FILE, "agreement.yml")]
            else:
                unit.files.append(p)
        units.append(unit)
    if folders != [path]:
        for z in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".zip"):
            units += _zip_units(z, open_zip(z, password(z)))
    if not units:
        raise IngestError(f"{path}: no supplier folder with an {AGREEMENT_FILE} (nor an encrypted zip of them)")
    return units


def _zip_units(path: Path, members: list[ZipMember]) -> list[_Unit]:
    """A zip of whole supplier folders: `<supplier_code>/agreement.yaml` and its supply files."""
    groups: dict[str, list[ZipMember]] = {}
    for m in members:
        groups.setdefault(str(PurePosixPath(m.name).parent), []).append(m)
    units = []
    for folder, group in sorted(groups.items()):
        agreement_member = next((m for m in group if _name(m) in (AGREEMENT_FILE, "agreement.yml")), None)
        if agreement_member is None:
            raise IngestError(f"{path}: folder {folder!r} in the zip has no {AGREEMENT_FILE}")
        label = agreement_member.label
        try:
            text = agreement_member.read().decode("utf-8")
        except UnicodeDecodeError:
            raise IngestError(f"{label}: not UTF-8 text") from None
        agreement = parse_agreement(label, text)
        if folder != "." and PurePosixPath(folder).name != agreement.supplier_code:
            raise IngestError(f"{label}: field supplier_code: {agreement.supplier_code!r} does not match its "
                              f"folder {PurePosixPath(folder).name!r}")
        units.append(_Unit(agreement, text, label, [m for m in group if m is not agreement_member]))
    return units


def ingest_dir(path: Path, store: RestrictedStore | None = None, actor: str | None = None,
               password: Callable[[Path], bytes] | None = None) -> list[SupplyResult]:
    """Validate and load every supply under PATH: a directory with one folder per supplier (or one
    supplier folder), where supplies may also come in AES-256 encrypted zips, or such a zip itself.

    Every agreement is checked and every zip opened first (a bad agreement, a zip that is not AES-256
    or a wrong password raises IngestError before anything is stored, and is audit-logged as a
    rejection). Each supply is then loaded whole or not at all; the results list every supply, loaded
    or rejected. `actor` (default: the OS user name) is recorded in the audit log; `password(zip_path)`
    gives a zip's password (default: `LCP_ZIP_PASSWORD`, or a prompt in a terminal, asked once).
    """
    path = Path(path)
    actor = actor or audit_log.default_actor()
    if password is None:
        asked: list[bytes] = []

        def password(p: Path) -> bytes:
            if not asked:
                asked.append(zip_password(p))
            return asked[0]

    try:
        units = _gather(path, password)
        owner: dict[str, str] = {}
        for unit in units:
            for d in unit.agreement.datasets:
                if d.dataset in owner and owner[d.dataset] != unit.agreement.supplier_code:
                    raise IngestError(f"{unit.where}: field datasets: {d.dataset!r} is also agreed with "
                                      f"{owner[d.dataset]!r}")
                owner[d.dataset] = unit.agreement.supplier_code
    except IngestError as e:
        audit_log.append("reject", actor=actor, file=str(path), outcome="rejected",
                         sha256=_file_sha(path) if path.is_file() else None, detail=str(e))
        raise

    own = store is None
    store = store or RestrictedStore()
    results: list[SupplyResult] = []
    try:
        record_interrupted(store, actor)
        key = pseudonym_key()
        for unit in units:
            agreement = unit.agreement
            _save_agreement(store, agreement, unit.yaml_text)
            stems: dict[tuple[str, str], list[str]] = {}
            for f in unit.files:
                m = FILE_RE.match(_name(f))
                if m:
                    stems.setdefault((m.group("dataset"), m.group("label")), []).append(_name(f))
            for f in unit.files:
                label = f.label if isinstance(f, ZipMember) else str(f)
                m = FILE_RE.match(_name(f))
                if m and len(same := stems[(m.group("dataset"), m.group("label"))]) > 1:
                    others = ", ".join(n for n in same if n != _name(f)) or _name(f)
                    start = parse_period_label(m.group("label"))
                    result = _rejected(agreement.supplier_code, m.group("dataset"),
                                       period_name(start) if start is not None else None, label,
                                       [Problem(label, None, None,
                                                f"more than one file for this dataset and period ({others})")])
                    result.sha256 = _file_sha(f) if isinstance(f, Path) else hashlib.sha256(f.read()).hexdigest()
                    results.append(_record(result, actor))
                elif isinstance(f, ZipMember):
                    results.append(_load(label, _Source(data=f.read()), agreement, store, key, actor))
                else:
                    results.append(ingest_file(f, agreement, store, key, actor))
    finally:
        if own:
            store.close()
    return results


def _file_sha(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None
