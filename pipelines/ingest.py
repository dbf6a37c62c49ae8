"""Reading and validating supplies, pseudonymising and minimising them, loading them (all or nothing).

A supply directory holds one folder per supplier: `agreement.yaml` (pipelines.specs.Agreement) and one
file `<dataset>_<YYYY-YY>.csv|xlsx` per dataset and period. Each file is one supply: it is validated
as a whole (every problem reported at once, vectorised), and either stored whole -- replacing any earlier
supply of the same dataset and period -- or not at all.

Stored per client record (docs/architecture.md): person_key (HMAC-SHA256 of "supplier_code:id" under
the project's secret key), ward_code, sex, ethnicity, event_date, age_at_event, age_at_31aug and the
agreement's own fields except the id. Never the date of birth, the postcode or the supplier's id.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import hmac
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from pipelines import geography
from pipelines.restricted_store import RestrictedStore, StoreError, pseudonym_key
from pipelines.specs import COMMON_FIELDS, Agreement, DatasetAgreement, FieldSpec, SpecError, load_agreement

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
    """Digits -> '*', letters after the first character -> '*' ('LN11 1PL' -> 'L*** ***')."""
    if value is None:
        return None
    head = re.sub(r"\d", "*", value[:1])
    return (head + re.sub(r"[^\W_]", "*", value[1:]))[:40]


def mask_expr(col: pl.Expr) -> pl.Expr:
    """Vectorised mask_value."""
    s = col.cast(pl.String)
    return pl.concat_str(
        [s.str.slice(0, 1).str.replace_all(r"\d", "*"), s.str.slice(1).str.replace_all(r"[\p{L}\p{N}]", "*")]
    ).str.slice(0, 40)


def person_key(key: bytes, supplier_code: str, supplier_id: str) -> str:
    """HMAC-SHA256(key, "supplier_code:supplier_id"), hex."""
    return hmac.digest(key, f"{supplier_code}:{supplier_id}".encode(), "sha256").hex()


def person_key_expr(ids: pl.Series, key: bytes, supplier_code: str) -> pl.Series:
    """person_key for a Series of ids (HMAC computed once per distinct id; null id -> null key)."""
    uniq = ids.drop_nulls().unique()
    base = hmac.new(key, f"{supplier_code}:".encode(), hashlib.sha256)
    hashed = []
    for v in uniq.to_list():
        h = base.copy()
        h.update(v.encode())
        hashed.append(h.hexdigest())
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


def _fmt(v: float) -> str:
    return f"{v:g}"


# ---------------------------------------------------------------- reading
def _read_raw(file: str, data: bytes, ext: str) -> pl.DataFrame:
    """All cells as strings, no header interpretation (row 0 is the header). Raises _Reject."""
    if not data.strip():
        raise _Reject([Problem(file, None, None, "file is empty")])
    if ext == "csv":
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise _Reject([Problem(file, line, None, "not UTF-8 text (save it as 'CSV UTF-8')")]) from None
        if not text.strip():
            raise _Reject([Problem(file, None, None, "file is empty")])
        try:
            return pl.read_csv(io.BytesIO(data), has_header=False, infer_schema=False, separator=",", quote_char='"')
        except pl.exceptions.NoDataError:
            raise _Reject([Problem(file, None, None, "file is empty")]) from None
        except pl.exceptions.PolarsError as e:
            raise _Reject([_csv_shape_problem(file, text, e)]) from None
    try:
        raw = pl.read_excel(
            io.BytesIO(data), engine="calamine", has_header=False, infer_schema_length=0,
            drop_empty_rows=False, drop_empty_cols=False, raise_if_empty=False,
        )
    except Exception as e:  # calamine raises its own error types
        if "empty" in str(e).lower():
            raise _Reject([Problem(file, None, None, "file is empty")]) from None
        raise _Reject([Problem(file, None, None, "not a readable XLSX workbook")]) from None
    if raw.height == 0 or raw.width == 0:
        raise _Reject([Problem(file, None, None, "file is empty")])
    return raw.select(pl.all().cast(pl.String))


def _csv_shape_problem(file: str, text: str, err: Exception) -> Problem:
    """Locate a ragged CSV row (error path only)."""
    reader = csv.reader(io.StringIO(text))
    width = None
    for i, rec in enumerate(reader, start=1):
        if width is None:
            width = len(rec)
        elif len(rec) > width:
            return Problem(file, i, None, f"row has {len(rec)} fields but the header has {width}")
    return Problem(file, None, None, f"not a well-formed CSV file: {str(err).splitlines()[0]}")


def _with_header(file: str, raw: pl.DataFrame) -> pl.DataFrame:
    """Apply the header row: lower-case trimmed names, cells trimmed, empty -> null, __row added."""
    header = [(h or "").strip().lower() for h in raw.row(0)]
    body = raw.slice(1)
    problems: list[Problem] = []
    keep: list[int] = []
    for i, name in enumerate(header):
        if not name:
            if body.height and body[:, i].drop_nulls().str.strip_chars().str.len_chars().sum() > 0:
                problems.append(Problem(file, 1, None, f"column {i + 1} has values but no header name"))
            continue
        keep.append(i)
    names = [header[i] for i in keep]
    dups = sorted({n for n in names if names.count(n) > 1})
    for n in dups:
        problems.append(Problem(file, 1, n, "column appears more than once in the header"))
    if problems:
        raise _Reject(problems)
    df = body.select([pl.col(raw.columns[i]).alias(header[i]) for i in keep])
    df = df.with_columns(pl.all().str.strip_chars()).with_columns(
        [pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in names]
    )
    return df.with_row_index(_R, offset=2).with_columns(pl.col(_R).cast(pl.Int64))


# ---------------------------------------------------------------- checks
@dataclass
class _Check:
    field: str | None
    rule: str
    bad: pl.Expr
    value: pl.Expr | None


def _collect(file: str, df: pl.DataFrame, checks: list[_Check]) -> list[Problem]:
    """Evaluate every check at once; problems ordered by row, at most MAX_PROBLEMS_PER_CHECK per check."""
    if not checks or df.height == 0:
        return []
    counts = df.select([c.bad.fill_null(False).sum().alias(f"c{i}") for i, c in enumerate(checks)]).row(0)
    parts = []
    extra: list[Problem] = []
    for i, (c, n) in enumerate(zip(checks, counts)):
        if not n:
            continue
        value = mask_expr(c.value) if c.value is not None else pl.lit(None, dtype=pl.String)
        parts.append(
            df.lazy().filter(c.bad.fill_null(False)).head(MAX_PROBLEMS_PER_CHECK).select(
                pl.col(_R).alias("row"), pl.lit(i, dtype=pl.Int32).alias("check"), value.alias("value")
            )
        )
        if n > MAX_PROBLEMS_PER_CHECK:
            rest = n - MAX_PROBLEMS_PER_CHECK
            extra.append(Problem(file, None, c.field, f"{c.rule}: {rest} more rows not listed", None, rest))
    if not parts:
        return []
    found = pl.concat(pl.collect_all(parts)).sort(["row", "check"])
    out = [Problem(file, row, checks[ci].field, checks[ci].rule, val) for row, ci, val in found.iter_rows()]
    return out + extra


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


def _validate_client(
    file: str, df: pl.DataFrame, ds: DatasetAgreement, start_year: int, excel: bool
) -> tuple[list[Problem], list[Problem], pl.DataFrame]:
    """-> errors, warnings, the frame with parsed columns (`_dob`, `_event`, `ward_code`, ... and typed fields)."""
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
    errors = _collect(file, parsed, checks)
    warn_checks = [
        _Check("postcode", "postcode not in the Lincolnshire postcode lookup: row not stored, not counted",
               pl.col("_pc").is_not_null() & pl.col("ward_code").is_null(), pl.col("postcode")),
    ]
    warnings = _collect(file, parsed, warn_checks)
    return errors, warnings, parsed


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
        *[
            pl.col(f"_f_{f.name}").cast(dtypes[f.type]).alias(f.name)
            for f in ds.fields
            if f.name != ds.id_field
        ],
    )


def _validate_aggregate(
    file: str, df: pl.DataFrame, start_year: int
) -> tuple[list[Problem], list[Problem], pl.DataFrame]:
    """Aggregate supplies: one row per area (ward or district code), period and optional breakdown."""
    h = geography.hierarchy()
    levels = pl.concat([
        h.select(pl.col("ward_code").alias("area_code"), pl.lit("ward").alias("area_level")),
        h.select(pl.col("district_code").alias("area_code"), pl.lit("district").alias("area_level")).unique(),
    ])
    for c in AGGREGATE_OPTIONAL:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    want = period_name(start_year)
    num_ok = pl.col("numerator").str.contains(r"^\d{1,18}$")
    den_ok = pl.col("denominator").str.contains(r"^\d{1,18}$")
    parsed = df.join(levels, on="area_code", how="left", maintain_order="left").with_columns(
        pl.col("period").str.replace("-", "/").alias("_period"),
        pl.when(num_ok).then(pl.col("numerator").cast(pl.Int64, strict=False)).alias("_num"),
        pl.when(den_ok).then(pl.col("denominator").cast(pl.Int64, strict=False)).alias("_den"),
    )
    checks = [
        _required("area_code"),
        _Check("area_code", "not a Lincolnshire ward or district code",
               pl.col("area_code").is_not_null() & pl.col("area_level").is_null(), pl.col("area_code")),
        _required("period"),
        _Check("period", f"not the file's period {want}",
               pl.col("period").is_not_null() & (pl.col("_period") != want), pl.col("period")),
        _required("numerator"),
        _Check("numerator", "not a whole number 0 or more", pl.col("numerator").is_not_null() & ~num_ok,
               pl.col("numerator")),
        _Check("denominator", "not a whole number 0 or more", pl.col("denominator").is_not_null() & ~den_ok,
               pl.col("denominator")),
        _Check("numerator", "numerator larger than the denominator", pl.col("_num") > pl.col("_den"),
               pl.col("numerator")),
        _Check("breakdown", "looks like a spreadsheet formula (starts with =, +, - or @)",
               pl.col("breakdown").str.contains(FORMULA_RE), pl.col("breakdown")),
        _Check("area_code", "area and breakdown given more than once",
               pl.struct("area_code", "breakdown").is_duplicated() & pl.col("area_code").is_not_null(),
               pl.col("area_code")),
    ]
    errors = _collect(file, parsed, checks)
    out = parsed.select(
        pl.col("area_code"), pl.col("area_level"), pl.lit(want).alias("period"), pl.col("breakdown"),
        pl.col("_num").alias("numerator"), pl.col("_den").alias("denominator"),
    )
    return errors, [], out


# ---------------------------------------------------------------- one file
def _rejected(supplier_code: str, dataset, period, file: str, problems: list[Problem],
              warnings: list[Problem] | None = None, rows_read: int = 0) -> SupplyResult:
    return SupplyResult(supplier_code, dataset, period, file, 0, "rejected", problems, warnings or [], None, rows_read)


def validate_file(
    path: Path, agreement: Agreement, key: bytes | None = None
) -> tuple[SupplyResult, pl.DataFrame | None, dict | None]:
    """Validate one supply file and minimise it; nothing is stored.

    Returns (result, frame, meta): frame and meta are None when the supply has errors (result.outcome is
    then "rejected"); otherwise result.outcome is "loaded" pending `RestrictedStore.replace_supply`.
    """
    path = Path(path)
    file = str(path)
    code = agreement.supplier_code
    m = FILE_RE.match(path.name)
    if not m:
        rule = "file name must be <dataset>_<YYYY-YY>.csv or .xlsx, e.g. ncmp_2023-24.xlsx"
        bad_name = Problem(file, None, None, rule)
        return _rejected(code, None, None, file, [bad_name]), None, None
    dataset, label, ext = m.group("dataset"), m.group("label"), m.group("ext").lower()
    start_year = parse_period_label(label)
    problems: list[Problem] = []
    if start_year is None:
        rule = f"period {label!r} in the file name must be YYYY-YY for consecutive years, e.g. 2023-24"
        problems.append(Problem(file, None, None, rule))
    ds = agreement.dataset(dataset)
    if ds is None:
        agreed = ", ".join(d.dataset for d in agreement.datasets)
        problems.append(Problem(file, None, None, f"dataset {dataset!r} is not in the agreement (agreed: {agreed})"))
    period = period_name(start_year) if start_year is not None else None
    if problems or ds is None or start_year is None:
        return _rejected(code, dataset, period, file, problems), None, None

    warnings: list[Problem] = []
    if ext != ds.format:
        warnings.append(Problem(file, None, None, f"the agreement says {ds.format}, this file is {ext}"))
    try:
        data = path.read_bytes()
    except OSError as e:
        unreadable = Problem(file, None, None, f"cannot be read: {e.strerror}")
        return _rejected(code, dataset, period, file, [unreadable]), None, None
    sha = hashlib.sha256(data).hexdigest()
    try:
        raw = _read_raw(file, data, ext)
        df = _with_header(file, raw)
    except _Reject as r:
        return _rejected(code, dataset, period, file, r.problems, warnings), None, None

    aggregate = ds.record_level == "aggregate"
    if aggregate:
        needed = list(AGGREGATE_COLUMNS)
        allowed = needed + list(AGGREGATE_OPTIONAL)
    else:
        needed = list(COMMON_FIELDS) + [f.name for f in ds.fields]
        allowed = needed
    missing = [c for c in needed if c not in df.columns]
    if missing:
        have = [c for c in df.columns if c != _R]
        hint = ""
        if len(have) == 1 and any(s in have[0] for s in (";", "\t", "|")):
            hint = "; the header is one column: the file must be comma-separated"
        shown = ", ".join(have)[:120]
        return _rejected(code, dataset, period, file, [
            Problem(file, 1, c, f"missing column (the header has: {shown}){hint}") for c in missing
        ], warnings, df.height), None, None
    extra = [c for c in df.columns if c not in allowed and c != _R]
    for c in extra:
        warnings.append(Problem(file, 1, c, "column not in the agreement: ignored, not stored"))
    df = df.select([_R, *[c for c in allowed if c in df.columns]])

    data_cols = [c for c in df.columns if c != _R]
    empty = pl.all_horizontal([pl.col(c).is_null() for c in data_cols])
    n_empty = df.select(empty.sum()).item()
    if n_empty:
        df = df.filter(~empty)
        if df.height:
            warnings.append(Problem(file, None, None, f"{n_empty} empty row(s) ignored"))
    rows_read = df.height
    if rows_read == 0:
        return _rejected(code, dataset, period, file, [Problem(file, None, None, "no data rows (header only)")],
                         warnings), None, None

    if aggregate:
        errors, more_warnings, out = _validate_aggregate(file, df, start_year)
    else:
        errors, more_warnings, parsed = _validate_client(file, df, ds, start_year, ext == "xlsx")
    warnings += more_warnings
    if errors:
        return _rejected(code, dataset, period, file, errors, warnings, rows_read), None, None
    if not aggregate:
        out = _minimise_client(parsed, ds, code, key if key is not None else pseudonym_key())
    meta = {
        "supplier_code": code,
        "supplier": agreement.supplier,
        "dataset": dataset,
        "record_level": ds.record_level,
        "period": period,
        "file_name": path.name,
        "file_sha256": sha,
        "date_provided": ds.metadata.date_provided,
        "refresh_date": ds.metadata.refresh_date,
    }
    result = SupplyResult(code, dataset, period, file, out.height, "loaded", [], warnings, None, rows_read)
    return result, out, meta


def ingest_file(path: Path, agreement: Agreement, store: RestrictedStore, key: bytes | None = None) -> SupplyResult:
    """Validate one supply file and, if it has no errors, store it (replacing its dataset+period)."""
    try:
        result, frame, meta = validate_file(path, agreement, key)
    except pl.exceptions.PolarsError as e:  # unforeseen content: reject the file, never crash the run
        problem = Problem(str(path), None, None, f"could not be read: {str(e).splitlines()[0]}")
        return _rejected(agreement.supplier_code, None, None, str(path), [problem])
    if frame is None or meta is None:
        return result
    try:
        result.supply_id = store.replace_supply(meta, frame)
    except (StoreError, duckdb.Error) as e:  # the store has rolled back
        result.outcome = "rejected"
        result.rows = 0
        result.errors.append(Problem(result.file, None, None, f"could not be stored: {str(e).splitlines()[0]}"))
    return result


# ---------------------------------------------------------------- a supply directory
def read_agreement(path: Path) -> Agreement:
    """load_agreement, with its SpecError turned into an IngestError (file and field named)."""
    try:
        return load_agreement(path)
    except SpecError as e:
        raise IngestError(str(e)) from None


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


def ingest_dir(path: Path, store: RestrictedStore | None = None) -> list[SupplyResult]:
    """Validate and load every supply under DIR (one folder per supplier, or one supplier folder).

    Every agreement is checked first (a bad one raises IngestError before anything is stored). Each
    file is then loaded whole or not at all; the results list every file, loaded or rejected.
    """
    path = Path(path)
    if not path.is_dir():
        raise IngestError(f"{path}: not a directory")
    folders = supplier_folders(path)
    if not folders:
        raise IngestError(f"{path}: no supplier folder with an {AGREEMENT_FILE}")
    agreements: list[tuple[Path, Agreement]] = []
    owner: dict[str, str] = {}
    for folder in folders:
        a = read_agreement(folder / AGREEMENT_FILE)
        f = folder / AGREEMENT_FILE
        if folder != path and folder.name != a.supplier_code:
            raise IngestError(
                f"{f}: field supplier_code: {a.supplier_code!r} does not match its folder {folder.name!r}"
            )
        for d in a.datasets:
            if d.dataset in owner and owner[d.dataset] != a.supplier_code:
                raise IngestError(f"{f}: field datasets: {d.dataset!r} is also agreed with {owner[d.dataset]!r}")
            owner[d.dataset] = a.supplier_code
        agreements.append((folder, a))

    own = store is None
    store = store or RestrictedStore()
    results: list[SupplyResult] = []
    try:
        key = pseudonym_key()
        for folder, agreement in agreements:
            files = supply_files(folder)
            stems: dict[tuple[str, str], list[Path]] = {}
            for p in files:
                m = FILE_RE.match(p.name)
                if m:
                    stems.setdefault((m.group("dataset"), m.group("label")), []).append(p)
            for p in files:
                m = FILE_RE.match(p.name)
                if m and len(stems[(m.group("dataset"), m.group("label"))]) > 1:
                    others = ", ".join(q.name for q in stems[(m.group("dataset"), m.group("label"))] if q != p)
                    start = parse_period_label(m.group("label"))
                    results.append(_rejected(agreement.supplier_code, m.group("dataset"),
                                             period_name(start) if start is not None else None, str(p),
                                             [Problem(str(p), None, None,
                                                      f"more than one file for this dataset and period ({others})")]))
                    continue
                results.append(ingest_file(p, agreement, store, key))
    finally:
        if own:
            store.close()
    return results
