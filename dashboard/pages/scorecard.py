"""Scorecard: every indicator for one partnership area (or the county), grouped by ECM outcome.

URL: ?area=LCP01&period=latest (period: 'latest' = each indicator's newest period, or e.g. 2023/24).
"""
from __future__ import annotations

import pandas as pd
import polars as pl
import streamlit as st

from dashboard import common
from pipelines import briefs, charts, config

LATEST = "latest"
COLUMNS = {
    "indicator_id": "Indicator",
    "title": "Title",
    "period": "Period",
    "value_text": "Value",
    "unit_text": "Unit",
    "ci_text": "95% confidence interval",
    "rag_text": "RAG",
    "direction_text": "Direction of travel",
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


def display_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The scorecard rows as the text shown: 'c' for withheld, '–' for none, labels with symbols."""
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
            "direction_text": charts.direction_label(r["direction"], r["polarity"]),
            "quartile_text": charts.quartile_label(r["quartile"]),
            "benchmark_text": charts.format_value(r["benchmark_value"], False, r["unit"]),
            "vs_text": charts.vs_label(r["vs_benchmark"]),
        })
    return pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS}).rename(COLUMNS)


def styled(table: pl.DataFrame):
    """A pandas Styler (st.table renders it as a plain HTML table that prints whole)."""
    frame = pd.DataFrame(table.to_dict(as_series=False))
    style = frame.style.hide(axis="index")
    style = style.map(lambda v: RAG_CELL.get(v, ""), subset=["RAG"])
    withheld = f"background-color: {WITHHELD_CELL}; font-weight: 600"
    return style.map(lambda v: withheld if v == config.WITHHELD_SYMBOL else "", subset=["Value", "95% confidence interval"])


common.ensure_app_entry()
key = common.require_release()
st.title("Scorecard")

choices = common.area_choices(key)
all_periods = sorted(
    {p for ind in common.indicators(key)["indicator_id"].to_list() for p in common.periods(key, ind)}, reverse=True
)
left, right = st.columns([2, 1])
with left:
    area = common.url_choice(
        "area", "Partnership area", list(choices), default=config.COUNTY_CODE, format_func=choices.get
    )
with right:
    period = common.url_choice(
        "period", "Period", [LATEST, *all_periods], default=LATEST,
        format_func=lambda p: "Latest for each indicator" if p == LATEST else p,
    )

frame = common.scorecard(key, area, None if period == LATEST else period)
info = common.release_info(key)
st.markdown(
    f"**{choices[area]}** · {'latest period published for each indicator' if period == LATEST else period} · "
    f"compared with England · release `{info.get('release_id', '?')}`"
)

if frame.is_empty():
    st.warning("This release has no indicators.")
else:
    for (outcome,), group in frame.group_by("ecm_outcome", maintain_order=True):
        st.subheader(outcome or "Other")
        st.table(styled(display_frame(group)))

    st.markdown("**How to read this table**")
    st.markdown(common.legend_text(key))

    export = display_frame(frame).with_columns(pl.Series("Area", [choices[area]] * frame.height))
    st.download_button(
        "Download this table (CSV)",
        data=export.write_csv(),
        file_name=f"scorecard_{area}_{period.replace('/', '-')}.csv",
        mime="text/csv",
        icon=":material/download:",
    )

    # The one-page brief of this area (made when clicked: the map takes a few seconds to draw).
    chosen = None if period == LATEST else period
    stem = f"brief_{area}_{period.replace('/', '-')}"
    pdf_col, pptx_col = st.columns(2)
    pdf_col.download_button(
        "Download brief (PDF, one page)",
        data=lambda: briefs.brief_bytes(common.reader(key), area, ".pdf", period=chosen),
        file_name=f"{stem}.pdf", mime="application/pdf", on_click="ignore", icon=":material/picture_as_pdf:",
    )
    pptx_col.download_button(
        "Download brief (PowerPoint slide)",
        data=lambda: briefs.brief_bytes(common.reader(key), area, ".pptx", period=chosen),
        file_name=f"{stem}.pptx", on_click="ignore", icon=":material/slideshow:",
        mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
    )
