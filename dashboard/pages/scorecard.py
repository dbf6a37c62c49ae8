"""Overview (the default page): the scorecard of every indicator for the county or one partnership
area, grouped by Every Child Matters outcome, with the summary counts (RAG, quartile, direction of
travel, comparison with England), filters, and CSV/Excel downloads of exactly what is shown.

URL: ?area=LCP01&period=latest&outcome=all&rag=all (period: 'latest' = each indicator's newest
period, or e.g. 2023/24; rag: all, red, amber, green, none).
"""
from __future__ import annotations

import pandas as pd
import polars as pl
import streamlit as st

from dashboard import common
from pipelines import briefs, charts, commentary, config, plans

LATEST = "latest"
COLUMNS = {
    "indicator_id": "Indicator",
    "title": "Title",
    "period": "Period",
    "value_text": "Value",
    "unit_text": "Unit",
    "ci_text": "95% confidence interval",
    "rag_text": "RAG",
    "rag_rule": "RAG rule",
    "direction_text": "Direction of travel",
    "trend_text": "5-year trend",
    "quartile_text": "Quartile (1 = best)",
    "benchmark_text": "England",
    "vs_text": "vs England",
}
RAG_CELL = {  # pale tints of the Okabe-Ito RAG colours; the cell also carries the word and symbol
    charts.rag_label("green"): "background-color: #CCEFE5",
    charts.rag_label("amber"): "background-color: #FBEBC6",
    charts.rag_label("red"): "background-color: #F7D6C2",
}


WITHHELD_CELL = "#E6E6E6"  # the map's withheld grey, lighter: a "c" cell reads the same on screen and paper


ALL = "all"
RAG_FILTERS = {ALL: "All", "red": charts.rag_label("red"), "amber": charts.rag_label("amber"),
               "green": charts.rag_label("green"), "none": "Not assessed or withheld"}
TREND_LABELS = {"improving": "Improving", "worsening": "Worsening", "no_change": "No significant trend"}


def display_frame(frame: pl.DataFrame, rules: dict[str, str] | None = None) -> pl.DataFrame:
    """The scorecard rows as the text shown: 'c' for withheld, '–' for none, labels with symbols.

    The 'RAG rule' column appears when the release has `indicators.rag_rule_text` (`rules`), the
    '5-year trend' column when it has `indicator_values.trend`."""
    rows = []
    for r in frame.iter_rows(named=True):
        withheld = bool(r["suppressed"])
        rows.append({
            "indicator_id": r["indicator_id"],
            "title": r["title"],
            "period": r["period"] or charts.NO_DATA,
            "value_text": charts.format_value(r["value"], withheld, r["unit"]),
            "unit_text": r["unit"],
            "ci_text": charts.format_ci(r["lower_95"], r["upper_95"], withheld, r["unit"]),
            "rag_text": charts.rag_label(r["rag"]),
            "rag_rule": charts.rag_rule_short((rules or {}).get(r["indicator_id"])),
            "direction_text": charts.direction_label(r["direction"], r["polarity"]),
            "trend_text": TREND_LABELS.get(r.get("trend") or "", charts.NO_DATA),
            "quartile_text": charts.quartile_label(r["quartile"]),
            "benchmark_text": charts.format_value(r["benchmark_value"], False, r["unit"]),
            "vs_text": charts.vs_label(r["vs_benchmark"]),
        })
    out = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS}).rename(COLUMNS)
    if rules is None:
        out = out.drop("RAG rule")
    if "trend" not in frame.columns:
        out = out.drop("5-year trend")
    return out


def styled(table: pl.DataFrame):
    """A pandas Styler (st.table renders it as a plain HTML table that prints whole)."""
    frame = pd.DataFrame(table.to_dict(as_series=False))
    style = frame.style.hide(axis="index")
    style = style.map(lambda v: RAG_CELL.get(v, ""), subset=["RAG"])
    withheld = f"background-color: {WITHHELD_CELL}; font-weight: 600"
    return style.map(lambda v: withheld if v == config.WITHHELD_SYMBOL else "", subset=["Value", "95% confidence interval"])


common.ensure_app_entry()
key = common.require_release()
top = common.top_area(key)  # Lincolnshire, or England in a national release
common.print_css()
st.title("Overview")

choices = common.area_choices(key)
inds = common.indicators(key)
all_periods = sorted({p for ind in inds["indicator_id"].to_list() for p in common.periods(key, ind)}, reverse=True)
outcomes = [o for o in inds["ecm_outcome"].unique(maintain_order=True).to_list() if o]
c1, c2, c3, c4 = st.columns([2, 1, 1.4, 1.2])
with c1:
    area = common.url_choice(
        "area", "Partnership area", list(choices), default=top, format_func=choices.get
    )
with c2:
    period = common.url_choice(
        "period", "Period", [LATEST, *all_periods], default=LATEST,
        format_func=lambda p: "Latest for each indicator" if p == LATEST else p,
    )
with c3:
    outcome = common.url_choice("outcome", "Every Child Matters outcome", [ALL, *outcomes], default=ALL,
                                format_func=lambda o: "All outcomes" if o == ALL else o)
with c4:
    rag_filter = common.url_choice("rag", "RAG", list(RAG_FILTERS), default=ALL, format_func=RAG_FILTERS.get)

frame = common.scorecard(key, area, None if period == LATEST else period)
if "trend" not in frame.columns and "trend" in common.columns(key, "indicator_values"):
    trends = common.series(key, area).select("indicator_id", "period", "trend")
    frame = frame.join(trends, on=["indicator_id", "period"], how="left", maintain_order="left")
info = common.release_info(key)
rules = None
if "rag_rule_text" in inds.columns:
    rules = dict(zip(inds["indicator_id"].to_list(), inds["rag_rule_text"].to_list()))
st.markdown(
    f"**{choices[area]}** · {'latest period published for each indicator' if period == LATEST else period} · "
    f"compared with England · release `{info.get('release_id', '?')}`"
)

if frame.is_empty():
    st.warning("This release has no indicators.")
    st.stop()

# The board's priorities first (issue 13: partnership working data, never part of the release).
priorities = plans.priorities(area)
if not priorities.is_empty():
    st.subheader("Board priorities")
    by_id = {r["indicator_id"]: r for r in frame.iter_rows(named=True)}
    st.table(pl.DataFrame([{
        "Indicator": p["indicator_id"],
        "Title": (by_id.get(p["indicator_id"]) or {}).get("title") or "",
        "Plan": p["plan_name"],
        "Chosen for": p["period"],
        "Value": charts.format_value((by_id.get(p["indicator_id"]) or {}).get("value"),
                                     bool((by_id.get(p["indicator_id"]) or {}).get("suppressed")),
                                     (by_id.get(p["indicator_id"]) or {}).get("unit")),
        "RAG": charts.rag_label((by_id.get(p["indicator_id"]) or {}).get("rag")),
        "Direction of travel": charts.direction_label((by_id.get(p["indicator_id"]) or {}).get("direction"),
                                                      (by_id.get(p["indicator_id"]) or {}).get("polarity")),
    } for p in priorities.iter_rows(named=True)]).to_pandas().style.hide(axis="index"))
    common.link("plan.py", "The local plan for these priorities", {"area": area}, icon=":material/checklist:")

st.subheader("Summary")
counts = common.summary_counts(key, area) if period == LATEST else None
summary = common.rag_summary_frame(frame, counts)
st.caption(
    "Number of indicators in each category, by Every Child Matters outcome"
    + (" (all periods as published)" if counts is not None else "") + ". Indicators not assessed, or withheld, "
    "are not counted in a category."
)
st.table(summary.to_pandas().style.hide(axis="index"))

shown = frame
if outcome != ALL:
    shown = shown.filter(pl.col("ecm_outcome") == outcome)
if rag_filter == "none":
    shown = shown.filter(pl.col("rag").is_null())
elif rag_filter != ALL:
    shown = shown.filter(pl.col("rag") == rag_filter)

if shown.is_empty():
    st.info("No indicator matches these filters.")
for (group_outcome,), group in shown.group_by("ecm_outcome", maintain_order=True):
    st.subheader(group_outcome or "Other")
    st.table(styled(display_frame(group, rules)))

st.markdown("**How to read this table**")
st.markdown(common.legend_text(key))
if rules is not None:
    st.caption("RAG rule: how each indicator is judged, in short; the full wording is on the Indicator detail and "
               "Data and methods pages.")

export = display_frame(shown, rules).with_columns(
    pl.Series("Area", [choices[area]] * shown.height, dtype=pl.String),
    pl.Series("Outcome", shown["ecm_outcome"].fill_null("Other").to_list(), dtype=pl.String),
)
export = export.select("Area", "Outcome", *[c for c in export.columns if c not in ("Area", "Outcome")])
period_text = "latest period for each indicator" if period == LATEST else period
common.download_buttons(
    key, export, title=f"Scorecard: {choices[area]}, {period_text}", stem=f"scorecard_{area}_{period.replace('/', '-')}",
    extra_notes=[f"Filters: outcome = {outcome}, RAG = {RAG_FILTERS[rag_filter]}"],
)

# The one-page brief of this area (made when clicked: the map takes a few seconds to draw).
chosen = None if period == LATEST else period
stem = f"brief_{area}_{period.replace('/', '-')}"
pdf_col, pptx_col = st.columns(2)


def _brief(suffix: str) -> bytes:
    """The brief with the analysts' commentary on its exceptions (working store; none if it is empty)."""
    reader = common.reader(key)
    notes = commentary.briefs_mapping(reader, [area], chosen).get(area)
    return briefs.brief_bytes(reader, area, suffix, period=chosen, commentary=notes,
                              plan=plans.brief_plan(reader, area))


pdf_col.download_button(
    "Download brief (PDF, one page)",
    data=lambda: _brief(".pdf"),
    file_name=f"{stem}.pdf", mime="application/pdf", on_click="ignore", icon=":material/picture_as_pdf:",
)
pptx_col.download_button(
    "Download brief (PowerPoint slide)",
    data=lambda: _brief(".pptx"),
    file_name=f"{stem}.pptx", on_click="ignore", icon=":material/slideshow:",
    mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
