"""Downloads of exactly what a dashboard page shows: CSV and Excel bytes (no streamlit here).

A page builds the table it shows as text (values already formatted, `c` for withheld, `–` for none)
and hands it here with the notes that must travel with it:

    notes = download_notes(release_info, title="Scorecard: Boston LCP", source="...")
    csv_bytes(table, notes)    # notes first as '# ' lines, a blank line, then the table (UTF-8 with BOM)
    xlsx_bytes(table, notes)   # sheet "Data" (the table, as text) and sheet "Notes"

Every text cell a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) is neutralised with a leading apostrophe, in both formats and in the notes. A withheld value
(a null with the row's `suppressed` flag, or already `c`) is written as `c`, never a number.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from pipelines.config import ATTRIBUTION, DEFAULT_SUPPRESSION_THRESHOLD, WITHHELD_SYMBOL

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NOTES_SHEET = "Notes"
DATA_SHEET = "Data"


def neutralise(value: Any) -> Any:
    """A text that would run as a formula gets a leading apostrophe; anything else is returned as is.

    '–' (the no-data dash, U+2013) is not a minus sign and is left alone; a negative number written as
    text ('-1.5') is neutralised like any other text starting with '-'.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def shown_text(frame: pl.DataFrame, withheld_columns: Iterable[str] = (), suppressed_column: str = "suppressed") -> pl.DataFrame:
    """The table as text cells: `withheld_columns` read `c` where the row's `suppressed_column` is true
    (whatever they hold), and the flag column itself is dropped. Other cells are their text."""
    withheld_columns = [c for c in withheld_columns if c in frame.columns]
    rows = []
    has_flag = suppressed_column in frame.columns
    for r in frame.iter_rows(named=True):
        hidden = bool(r.get(suppressed_column)) if has_flag else False
        rows.append({
            c: (WITHHELD_SYMBOL if hidden and c in withheld_columns else _text(v))
            for c, v in r.items() if not (has_flag and c == suppressed_column)
        })
    columns = [c for c in frame.columns if not (has_flag and c == suppressed_column)]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns}) if rows else pl.DataFrame(
        schema={c: pl.String for c in columns})


def suppression_rule(threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> str:
    return (
        f"Figures for {threshold} or fewer children (zero included) are withheld and shown as "
        f"'{WITHHELD_SYMBOL}', as are figures that would let a withheld one be worked out; nothing derived from "
        "a withheld count (value, limits, RAG, direction, quartile, comparison) is shown."
    )


def download_notes(release_info: Mapping[str, Any], title: str, source: str = "", extra: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, text) pairs written above a CSV and on the Notes sheet: what, source, release, suppression."""
    built = release_info.get("built_at")
    threshold = int(release_info.get("suppression_threshold") or DEFAULT_SUPPRESSION_THRESHOLD)
    notes = [
        ("Table", title),
        ("Source", source or "LCP Scorecard published release (Lincolnshire Locality Children's Partnerships)"),
        ("Release", str(release_info.get("release_id") or "unknown")),
        ("Release built", _text(built) or "unknown"),
        ("Methods version", str(release_info.get("methods_version") or "unknown")),
        ("Suppression", suppression_rule(threshold)),
        ("Key", f"{WITHHELD_SYMBOL} = withheld; – = no data or not assessed"),
    ]
    notes += [("Note", e) for e in extra]
    notes.append(("Attribution", ATTRIBUTION))
    notes.append(("Downloaded", dt.datetime.now().strftime("%d/%m/%Y %H:%M")))
    return notes


def _cells(table: pl.DataFrame) -> tuple[list[str], list[list[Any]]]:
    header = [str(neutralise(c)) for c in table.columns]
    rows = [[neutralise(_text(v)) for v in row] for row in table.iter_rows()]
    return header, rows


def csv_bytes(table: pl.DataFrame, notes: Sequence[tuple[str, str]] = ()) -> bytes:
    """The table as CSV (UTF-8 with a byte-order mark so Excel reads '–' and '●' right): the notes first,
    one '# label: text' line each, then a blank line, then the header and rows, every cell as text."""
    import csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for label, text in notes:
        writer.writerow([neutralise(f"# {label}: {text}")])
    if notes:
        writer.writerow([])
    header, rows = _cells(table)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(table: pl.DataFrame, notes: Sequence[tuple[str, str]] = (), sheet_title: str | None = None) -> bytes:
    """The table as an Excel workbook: sheet 'Data' (a title line, then the header and rows, every cell
    written as text, so nothing is evaluated) and sheet 'Notes' (label, text)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "bg_color": "#E8EEF5", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    title_fmt = book.add_format({"bold": True, "font_size": 13})
    data = book.add_worksheet(DATA_SHEET)
    header, rows = _cells(table)
    start = 0
    if sheet_title:
        data.write_string(0, 0, str(neutralise(sheet_title)), title_fmt)
        data.write_string(1, 0, "See the Notes sheet for the source, release and suppression rule. "
                                f"{WITHHELD_SYMBOL} = withheld.")
        start = 3
    for j, name in enumerate(header):
        data.write_string(start, j, name, bold)
        width = max([len(name)] + [len(str(r[j])) for r in rows[:500]]) + 2
        data.set_column(j, j, min(max(width, 8), 60))
    for i, row in enumerate(rows, start=start + 1):
        for j, v in enumerate(row):
            data.write_string(i, j, str(v))
    data.freeze_panes(start + 1, 0)
    sheet = book.add_worksheet(NOTES_SHEET)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 110, wrap)
    for i, (label, text) in enumerate(notes):
        sheet.write_string(i, 0, str(neutralise(label)), bold)
        sheet.write_string(i, 1, str(neutralise(text)), wrap)
    book.close()
    return out.getvalue()
