"""Data and methods: the release, the suppression rule, how values are judged, every indicator's
definition, and the sources with the dates they were provided and are next due (a warning where a
source is overdue).
"""
from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts, config
from pipelines.downloads import suppression_rule

POLARITY = {"lower_better": "Lower is better", "higher_better": "Higher is better", "no_judgement": "No judgement"}
CI = {"wilson": "Wilson score (proportions)", "byars": "Byar's (rates)", "exact_poisson": "Exact Poisson (rates)",
      "mean_t": "Student t (means)", "newcombe": "Newcombe (gaps between two groups)"}


def methods_sections(path=None) -> list[tuple[str, str]]:
    """(title, markdown) of each `## ` section of docs/methods.md: the project's own, trusted text."""
    text = (path or config.ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    out = []
    for part in text.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        out.append((title.strip(), body.strip()))
    return out


def sources_table(src: pl.DataFrame, today: dt.date) -> pl.DataFrame:
    """One row per supplier dataset: the periods it covers, the latest date provided, the next refresh."""
    if src.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in ("Supplier", "Dataset", "Periods", "Date provided",
                                                           "Next refresh", "Status")})
    grouped = src.group_by("supplier", "dataset", maintain_order=True).agg(
        pl.col("period").min().alias("first"), pl.col("period").max().alias("last"),
        pl.col("date_provided").max(), pl.col("refresh_date").max(),
    ).sort("supplier", "dataset")
    rows = []
    for r in grouped.iter_rows(named=True):
        due = r["refresh_date"]
        overdue = due is not None and due < today
        rows.append({
            "Supplier": r["supplier"], "Dataset": r["dataset"],
            "Periods": r["first"] if r["first"] == r["last"] else f"{r['first']} to {r['last']}",
            "Date provided": f"{r['date_provided']:%d/%m/%Y}" if r["date_provided"] else charts.NO_DATA,
            "Next refresh": f"{due:%d/%m/%Y}" if due else charts.NO_DATA,
            "Status": "⚠ Overdue" if overdue else "✓ Up to date" if due else charts.NO_DATA,
        })
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]})


def definitions_table(inds: pl.DataFrame) -> pl.DataFrame:
    rows = [{
        "Indicator": r["indicator_id"], "Title": r["title"], "Outcome": r["ecm_outcome"] or "",
        "Numerator": r.get("numerator_definition") or "", "Denominator": r.get("denominator_definition") or "",
        "Unit": r["unit"] or "", "Better": POLARITY.get(r["polarity"], r["polarity"] or ""),
        "Confidence limits": CI.get(r.get("ci_method") or "", r.get("ci_method") or ""),
        "RAG rule": r.get("rag_rule_text") or "Against England by 95% limits",
        "Supplier": r.get("supplier") or "", "Frequency": r.get("frequency") or "",
    } for r in inds.iter_rows(named=True)]
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}) if rows else pl.DataFrame()


common.ensure_app_entry()
key = common.require_release()
common.print_css()
st.title("Data and methods")

info = common.release_info(key)
limit = common.threshold(key)
built = info.get("built_at")
st.subheader("This release")
release_rows = [
    ("Release", str(info.get("release_id", "unknown"))),
    ("Built", built.strftime("%d %B %Y %H:%M") if hasattr(built, "strftime") else str(built or "unknown")),
    ("Methods version", str(info.get("methods_version", "unknown"))),
    ("Suppression threshold", f"publish 11 or more; withhold {limit} or fewer (zero included)"),
]
for extra in ("primary_suppressions", "complementary_suppressions"):
    if info.get(extra) is not None:
        release_rows.append((extra.replace("_", " ").capitalize(), f"{int(info[extra]):,} figures"))
st.table(pl.DataFrame({"": [r[0] for r in release_rows], "Value": [r[1] for r in release_rows]}).to_pandas()
         .style.hide(axis="index"))

st.subheader("Suppression rule")
st.markdown(suppression_rule(limit) + f" Withheld figures are shown as **{config.WITHHELD_SYMBOL}** everywhere "
            "(tables, maps, charts and downloads), never as a number.")

st.subheader("Methods")
st.markdown("\n".join(f"- {line}" for line in (
    "Values are computed from partners' pseudonymised client-level records by ward, then summed up the hierarchy "
    "(ward → district → county, ward → partnership area → county).",
    "95% confidence limits: Wilson score for proportions, Byar's method for rates, Student t for means, Newcombe "
    "for gaps; 99.8% limits are used for funnel plots.",
    charts.rag_legend(),
    charts.direction_legend(),
    charts.quartile_legend(),
    "Benchmarks: England (and regional) values as published by the national sources; demo values are labelled so.",
    "Each method in full, with its formula and reference, is below (the project's docs/methods.md).",
)))
for title, body in methods_sections():
    with st.expander(title):
        st.markdown(body)

st.subheader("Sources")
src = common.sources(key)
today = dt.date.today()
stable = sources_table(src, today)
overdue = stable.filter(pl.col("Status") == "⚠ Overdue") if stable.height else stable
for r in overdue.iter_rows(named=True):
    st.warning(f"{r['Supplier']}: {r['Dataset']} was due to be refreshed on {r['Next refresh']} and is overdue.",
               icon=":material/schedule:")
st.table(stable.to_pandas().style.hide(axis="index"))
common.download_buttons(key, stable, title="Sources of the release", stem="sources", widget_key="sources")

st.subheader("Indicator definitions")
inds = common.indicators(key)
defs = definitions_table(inds)
st.table(defs.to_pandas().style.hide(axis="index"))
common.download_buttons(key, defs, title="Indicator definitions", stem="definitions", widget_key="defs")
st.caption(config.ATTRIBUTION)
