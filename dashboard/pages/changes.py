"""Corrections and changes: errors reported in published figures (with their 7-working-day deadlines)
and the figures that changed since the previous release.

Reads the release's `corrections` and `changes` tables only. Free text (a correction's description)
is shown as plain text in a table cell, never as markdown or HTML.

URL: ?indicator=all|NI 55
"""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts
from pipelines.working_days import days_left_text

ALL = "all"
CHANGE_LABELS = {"new": "New figure", "changed": "Changed", "removed": "No longer published"}


@st.cache_data(show_spinner=False, max_entries=8)
def corrections(key: common.ReleaseKey) -> pl.DataFrame:
    return common.reader(key).corrections()


@st.cache_data(show_spinner=False, max_entries=8)
def changes(key: common.ReleaseKey) -> pl.DataFrame:
    return common.reader(key).changes()


def corrections_frame(frame: pl.DataFrame, names: dict[str, str], today: dt.date) -> pl.DataFrame:
    """The corrections as the text shown, one row each."""
    rows = [{
        "Ref": str(r["id"]),
        "Indicator": r["indicator_id"],
        "Area": names.get(r["area_code"], r["area_code"]),
        "Period": r["period"],
        "What is wrong": r["description"],
        "Reported by": r["supplier"],
        "Reported on": f"{r['reported_on']:%d/%m/%Y}",
        "Deadline": f"{r['deadline']:%d/%m/%Y}",
        "Time left": days_left_text(r["deadline"], r["status"], today),
        "Fixed in release": r["closed_in_release"] or "",
    } for r in frame.iter_rows(named=True)]
    columns = ["Ref", "Indicator", "Area", "Period", "What is wrong", "Reported by", "Reported on", "Deadline",
               "Time left", "Fixed in release"]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


def changes_frame(frame: pl.DataFrame, names: dict[str, str], units: dict[str, str]) -> pl.DataFrame:
    """The changed figures as the text shown: 'c' for a withheld value, '–' where there was none."""
    rows = []
    for r in frame.iter_rows(named=True):
        unit = units.get(r["indicator_id"], "")
        before = ("–" if r["previous_suppressed"] is None
                  else charts.format_value(r["previous_value"], bool(r["previous_suppressed"]), unit))
        after = "–" if r["suppressed"] is None else charts.format_value(r["value"], bool(r["suppressed"]), unit)
        rows.append({
            "Indicator": r["indicator_id"],
            "Period": r["period"],
            "Area": names.get(r["area_code"], r["area_code"]),
            "Level": r["area_level"] or "",
            "Breakdown": r["breakdown"],
            "Previous release": before,
            "This release": after,
            "Change": CHANGE_LABELS.get(r["change"], r["change"]),
        })
    columns = ["Indicator", "Period", "Area", "Level", "Breakdown", "Previous release", "This release", "Change"]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


common.ensure_app_entry()
key = common.require_release()
st.title("Corrections and changes")
st.caption(
    "Suppliers have the right to have errors in the published figures corrected within 7 working days "
    "of reporting them (weekends and England bank holidays not counted)."
)

names = dict(zip(*common.areas(key).select("area_code", "area_name").to_dict(as_series=False).values()))
today = dt.date.today()
corr = corrections(key)
open_corr = corr.filter(pl.col("status") == "open")
closed_corr = corr.filter(pl.col("status") != "open")

st.subheader("Open corrections")
if open_corr.is_empty():
    st.info("No reported error is waiting to be corrected.")
else:
    st.dataframe(corrections_frame(open_corr, names, today).drop("Fixed in release"), hide_index=True)
if not closed_corr.is_empty():
    st.subheader("Recently corrected")
    st.dataframe(corrections_frame(closed_corr, names, today).drop("Time left"), hide_index=True)

st.subheader("Figures changed since the previous release")
ch = changes(key)
if ch.is_empty():
    st.info("No published figure changed since the previous release (or this is the first release).")
else:
    previous = ch["previous_release_id"].drop_nulls()
    inds = common.indicators(key)
    units = dict(zip(inds["indicator_id"].to_list(), inds["unit"].to_list()))
    present = [i for i in inds["indicator_id"].to_list() if i in set(ch["indicator_id"].to_list())]
    indicator = common.url_choice(
        "indicator", "Indicator", [ALL, *present], default=ALL,
        format_func=lambda i: "All indicators" if i == ALL else i,
    )
    shown = ch if indicator == ALL else ch.filter(pl.col("indicator_id") == indicator)
    counts = {k: shown.filter(pl.col("change") == k).height for k in CHANGE_LABELS}
    st.caption(
        f"Compared with release {previous[0] if previous.len() else 'unknown'}: {counts['changed']} changed, "
        f"{counts['new']} new, {counts['removed']} no longer published. "
        "c = withheld (only figures published in each release are shown)."
    )
    st.dataframe(changes_frame(shown, names, units), hide_index=True)
