"""What the upload app does, without Streamlit: a supplier's agreement, names, validation, loading, history.

Every function takes the signed-in supplier's code (or its Agreement) from the server-side account,
never from anything the browser sends, and refuses a dataset that is not in that supplier's own
agreement. The restricted store is opened only for the moment each call needs it (DuckDB allows one
writing process: `lcp ingest` and `lcp build` must be able to run while the app is up).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath

import polars as pl

from pipelines import audit_log, ingest
from pipelines.restricted_store import RestrictedStore, StoreError
from pipelines.specs import COMMON_FIELDS, Agreement, DatasetAgreement
from pipelines.text import plain

MAX_UPLOAD_MB = 200
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
EXTENSIONS = ("csv", "xlsx")
#: periods offered in the period choice: the current one and this many before it
PERIODS_BACK = 6
BUSY = "The data store is busy (an analyst is loading or building). Please try again in a minute."

HISTORY_COLUMNS = {
    "dataset": "Dataset",
    "period": "Period",
    "file_name": "File",
    "rows": "Rows stored",
    "loaded_at": "Loaded (UTC)",
}


class UploadRefused(Exception):
    """An upload the app will not take; str() is one sentence for the supplier."""


@contextmanager
def store() -> Iterator[RestrictedStore]:
    try:
        s = RestrictedStore()
    except StoreError:
        raise UploadRefused(BUSY) from None
    try:
        yield s
    finally:
        s.close()


# ---------------------------------------------------------------- the supplier's own agreement and history
def supplier_agreement(supplier_code: str) -> Agreement | None:
    with store() as s:
        return s.agreement(supplier_code)


def own_dataset(agreement: Agreement, dataset: str) -> DatasetAgreement:
    ds = agreement.dataset(dataset)
    if ds is None:
        raise UploadRefused(f"{dataset!r} is not one of your datasets.")
    return ds


def own_history(supplier_code: str) -> pl.DataFrame:
    """This supplier's loaded supplies only, newest first, with readable column names."""
    with store() as s:
        df = s.supplies()
    df = df.filter(pl.col("supplier_code") == supplier_code).sort("loaded_at", descending=True)
    return df.select(
        pl.col("dataset"), pl.col("period"), pl.col("file_name"), pl.col("rows"),
        pl.col("loaded_at").dt.strftime("%d %b %Y %H:%M"),
    ).rename(HISTORY_COLUMNS)


def existing_supply(agreement: Agreement, dataset: str, period: str) -> dict | None:
    own_dataset(agreement, dataset)
    with store() as s:
        row = s.existing_supply(dataset, period)
    return row if row and row.get("supplier_code") == agreement.supplier_code else None


# ---------------------------------------------------------------- periods and names
def period_label(start_year: int) -> str:
    """2024 -> '2024-25' (as in file names)."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def period_options(ds: DatasetAgreement, today: dt.date | None = None) -> list[str]:
    """Period labels a supply may be for, newest first: the current period and PERIODS_BACK before it."""
    today = today or dt.date.today()
    start_month = 9 if ds.period_basis == "academic_year" else 4
    current = today.year if today.month >= start_month else today.year - 1
    return [period_label(y) for y in range(current, current - PERIODS_BACK - 1, -1)]


def describe_period(ds: DatasetAgreement, label: str) -> str:
    """'2024/25 (1 April 2024 to 31 March 2025)'."""
    start = ingest.parse_period_label(label)
    if start is None:
        return label
    lo, hi = ingest.period_bounds(start, ds.period_basis)
    return f"{ingest.period_name(start)} ({lo:%-d %B %Y} to {hi:%-d %B %Y})"


def supply_name(agreement: Agreement, dataset: str, label: str, uploaded_name: str) -> str:
    """The name the supply is checked and stored under: `<dataset>_<YYYY-YY>.<ext>`.

    Built from the chosen dataset (one of the supplier's own) and period; the extension comes from the
    uploaded file. If the uploaded file's own name already names a dataset and period, they must be
    these (a file named for another period is refused, so it cannot replace the wrong supply).
    """
    own_dataset(agreement, dataset)
    if ingest.parse_period_label(label) is None:
        raise UploadRefused(f"{label!r} is not a period (YYYY-YY).")
    base = PurePath(uploaded_name or "").name
    ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
    if ext not in EXTENSIONS:
        raise UploadRefused("The file must be a CSV (.csv) or Excel workbook (.xlsx).")
    m = ingest.FILE_RE.match(base)
    if m and ingest.parse_period_label(m.group("label")) is not None:
        named_ds, named_label = m.group("dataset"), m.group("label")
        if named_ds.lower() != dataset:
            raise UploadRefused(
                f"This file is named for dataset {named_ds!r}, not {dataset!r}: check you chose the right file."
            )
        if named_label != label:
            raise UploadRefused(
                f"This file is named for period {named_label} but you chose {label}: "
                "choose the period the file covers, or rename the file."
            )
    name = f"{dataset}_{label}.{ext}"
    check_supply_name(agreement, name)
    return name


def check_supply_name(agreement: Agreement, file_name: str) -> tuple[DatasetAgreement, str]:
    """Server-side check: `<dataset>_<YYYY-YY>.csv|xlsx` for one of this supplier's own datasets."""
    m = ingest.FILE_RE.match(file_name)
    if not m or m.group("ext").lower() not in EXTENSIONS or PurePath(file_name).name != file_name:
        raise UploadRefused("The supply name must be <dataset>_<YYYY-YY>.csv or .xlsx.")
    ds = own_dataset(agreement, m.group("dataset"))
    label = m.group("label")
    if ingest.parse_period_label(label) is None:
        raise UploadRefused(f"{label!r} is not a period (YYYY-YY).")
    return ds, label


# ---------------------------------------------------------------- validating and loading
def _check_size(data: bytes) -> None:
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"The file is larger than {MAX_UPLOAD_MB} MB: split it or ask the scorecard team.")


def validate(agreement: Agreement, file_name: str, data: bytes) -> ingest.SupplyResult:
    """Check a supply at once; nothing is stored (the minimised frame is dropped)."""
    check_supply_name(agreement, file_name)
    _check_size(data)
    try:
        result, _frame, _meta = ingest.validate_bytes(file_name, data, agreement)
    except Exception as e:  # unforeseen content: report it as a problem, never a traceback
        result = ingest.SupplyResult(agreement.supplier_code, None, None, file_name, 0, "rejected",
                                     [ingest.Problem(file_name, None, None, f"could not be read ({type(e).__name__})")])
    return result


def record_rejection(result: ingest.SupplyResult, actor: str) -> None:
    """A supply checked in the app and rejected: a validation report and an audit log entry (no data)."""
    result.report_path = str(ingest.write_report(result))
    audit_log.append(
        "reject", actor=actor, supplier_code=result.supplier_code, dataset=result.dataset, period=result.period,
        file=PurePath(result.file).name, sha256=result.sha256, rows=0, outcome="rejected",
        detail=f"upload app: {result.error()}",
    )


def load(agreement: Agreement, file_name: str, data: bytes, actor: str) -> ingest.SupplyResult:
    """Validate again and store the supply (replacing the same dataset and period), all or nothing."""
    check_supply_name(agreement, file_name)
    _check_size(data)
    with store() as s:
        if s.agreement(agreement.supplier_code) != agreement:  # never save an older agreement over a newer one
            raise UploadRefused(
                "Your agreement was updated a moment ago: please upload the file again so that it is checked "
                "against the new one."
            )
        return ingest.ingest_bytes(file_name, data, agreement, store=s, actor=actor)


# ---------------------------------------------------------------- text
# plain(text): markdown-escaped text, pipelines.text.plain (shared with the dashboard's sign-in)


def plain_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Every cell as `plain` text, for st.table (which renders Markdown in cells)."""
    return df.select(pl.col(c).cast(pl.String).map_elements(plain, return_dtype=pl.String) for c in df.columns)


# ---------------------------------------------------------------- the report
def problems_frame(problems: list[ingest.Problem]) -> pl.DataFrame:
    """Row, field, rule and the masked value of each problem (text, shown as text)."""
    return pl.DataFrame(
        {
            "Row": [p.row for p in problems],
            "Field": [p.field or "" for p in problems],
            "Problem": [p.rule for p in problems],
            "Value (masked)": [p.value_masked or "" for p in problems],
        },
        schema={"Row": pl.Int64, "Field": pl.String, "Problem": pl.String, "Value (masked)": pl.String},
    )


def count(problems: list[ingest.Problem]) -> int:
    return sum(p.rows_affected for p in problems)


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(result: ingest.SupplyResult) -> bytes:
    """The validation report as CSV for the supplier (values masked; no cell can run as a formula)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["severity", "file", "row", "field", "rule", "value_masked"])
    name = PurePath(result.file).name
    for severity, problems in (("error", result.errors), ("warning", result.warnings)):
        for p in problems:
            w.writerow([severity, _cell(name), "" if p.row is None else p.row, _cell(p.field), _cell(p.rule),
                        _cell(p.value_masked)])
    return out.getvalue().encode("utf-8-sig")


def expected_columns(ds: DatasetAgreement) -> pl.DataFrame:
    """What the file must contain: the common fields, then the dataset's own, with their formats."""
    common = {
        "dob": "date of birth, DD/MM/YYYY",
        "gender": "M or F",
        "postcode": "full UK postcode, e.g. LN1 1YL",
        "ethnicity": "code 1-20 (protocol Appendix 5)",
    }
    rows: list[tuple[str, str, str]] = []
    if ds.record_level == "aggregate":
        rows = [
            ("area_code", "ward or district code (E05..., E07...), one level per file", "yes"),
            ("period", "the file's period, e.g. 2024/25", "yes"),
            *([("measure", "one of: " + ", ".join(ds.measures), "yes")] if ds.measures else []),
            ("breakdown", "all (or empty), sex=F, sex=M, ethnicity=<group> or age=<low-high>", "no"),
            ("numerator", "whole number 0 or more", "yes"),
            *([("denominator", "whole number 0 or more, not below the numerator", "yes")] if ds.denominator else []),
        ]
    else:
        rows = [(c, common.get(c, ""), "yes") for c in COMMON_FIELDS]
        for f in ds.fields:
            fmt = {"string": "text", "integer": "whole number", "number": "number", "date": "date, DD/MM/YYYY",
                   "flag": "Y or N", "category": "one of: " + ", ".join(f.values or [])}[f.type]
            if f.min is not None or f.max is not None:
                lo = "" if f.min is None else f"{f.min:g}"
                hi = "" if f.max is None else f"{f.max:g}"
                fmt += f" ({lo} to {hi})" if lo and hi else (f" (at least {lo})" if lo else f" (at most {hi})")
            rows.append((f.name, fmt, "yes" if f.required or f.name in (ds.id_field, ds.event_date_field) else "no"))
    return pl.DataFrame(rows, schema=["Column", "Format", "Required"], orient="row")
