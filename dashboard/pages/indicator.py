"""Indicator detail: one indicator for one area: its 5-year trend with 95% confidence limits against
England and Lincolnshire, a funnel plot and ranked bars (with limits) across wards, districts or
partnership areas, breakdowns by sex, age and ethnicity with withheld cells marked `c`, and the
indicator's definition and source.

URL: ?indicator=NI 55&area=LCP01&period=2023/24&level=ward
"""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts, config, plans

LEVEL_CHOICES = {"ward": "Wards", "district": "Districts", "partnership": "Partnership areas"}


def values_table(frame: pl.DataFrame, unit: str, label: str = "Area", name_col: str = "area_name") -> pl.DataFrame:
    rows = [{
        label: r[name_col],
        "Value": charts.format_value(r["value"], r["suppressed"], unit),
        "95% confidence interval": charts.format_ci(r["lower_95"], r["upper_95"], r["suppressed"], unit),
        "RAG": charts.rag_label(r.get("rag")),
        "Quartile (1 = best)": charts.quartile_label(r.get("quartile")),
    } for r in frame.iter_rows(named=True)]
    columns = [label, "Value", "95% confidence interval", "RAG", "Quartile (1 = best)"]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


common.ensure_app_entry()
key = common.require_release()
top = common.top_area(key)  # Lincolnshire, or England in a national release
common.print_css()
st.title("Indicator detail")

inds = common.indicators(key)
if inds.is_empty():
    st.warning("This release has no indicators.")
    st.stop()
meta = {r["indicator_id"]: r for r in inds.iter_rows(named=True)}
all_areas = common.areas(key)
options = [*common.area_choices(key)] + all_areas.filter(pl.col("area_level") == "ward")["area_code"].to_list()
labels = {c: common.area_label(key, c) for c in options}

c1, c2 = st.columns([3, 2])
with c1:
    indicator = common.url_choice("indicator", "Indicator", list(meta), format_func=lambda i: f"{i}: {meta[i]['title']}")
with c2:
    area = common.url_choice("area", "Area", options, default=top, format_func=labels.get)
ind = meta[indicator]
unit = ind["unit"]
years = [p for p in common.periods(key, indicator) if len(p) == 7]
if not years:
    st.warning(f"{indicator} has no yearly values in this release.")
    st.stop()
c3, c4 = st.columns([1, 1])
with c3:
    period = common.url_choice("period", "Period (for the comparisons and breakdowns)", years[::-1], default=years[-1])
with c4:
    level = common.url_choice("level", "Compare across", list(LEVEL_CHOICES), default="ward",
                              format_func=LEVEL_CHOICES.get, widget=st.radio, horizontal=True)
limit = common.threshold(key)
name = all_areas.filter(pl.col("area_code") == area)["area_name"][0]
area_level = all_areas.filter(pl.col("area_code") == area)["area_level"][0]

st.markdown(f"**{indicator} {ind['title']}** · {labels[area]} · unit: {unit} · "
            f"{'lower is better' if ind['polarity'] == 'lower_better' else 'higher is better' if ind['polarity'] == 'higher_better' else 'no judgement of better or worse'}")

# ---- trend
st.subheader("Trend")
trend = common.series(key, area, indicator).tail(5)
county = common.series(key, top, indicator).tail(5) if area != top else None
trend_fig = charts.trend_chart(trend, unit, title=f"{name}: last {trend.height} years", polarity=ind["polarity"],
                               area_name=name, county=county)
st.plotly_chart(trend_fig, width="stretch", theme=None, key="trend", config={"displaylogo": False})
common.png_download(key, trend_fig, title=f"{indicator} {ind['title']}", stem=f"trend_{indicator}_{area}",
                    subtitle=f"{name}: last {trend.height} years, with 95% confidence limits ({unit})",
                    footnote=f"Source: {ind['supplier'] or 'partner supplies'}.", widget_key="png_trend")
trend_table = pl.DataFrame([{
    "Period": r["period"],
    "Value": charts.format_value(r["value"], r["suppressed"], unit),
    "95% confidence interval": charts.format_ci(r["lower_95"], r["upper_95"], r["suppressed"], unit),
    "England": charts.format_value(r["benchmark_value"], False, unit),
    "RAG": charts.rag_label(r["rag"]),
    "Direction of travel": charts.direction_label(r["direction"], ind["polarity"]),
} for r in trend.iter_rows(named=True)], schema={c: pl.String for c in (
    "Period", "Value", "95% confidence interval", "England", "RAG", "Direction of travel")})
st.table(trend_table.to_pandas().style.hide(axis="index"))
common.download_buttons(key, trend_table, title=f"{indicator} {ind['title']}: trend for {labels[area]}",
                        stem=f"trend_{indicator}_{area}", source=ind["supplier"] or "", widget_key="trend")

# ---- across areas
values = common.level_values(key, indicator, period, level)
highlight = [area] if area_level == level else (
    common.area_lookup(key).filter(pl.col("partnership_code") == area)["ward_code"].to_list()
    if level == "ward" and area_level == "partnership" else [])
england = common.reader(key).scorecard(top, period).filter(pl.col("indicator_id") == indicator)["benchmark_value"]
england_value = england[0] if england.len() else None
st.subheader(f"{LEVEL_CHOICES[level]} compared, {period}")
left, right = st.columns(2)
with left:
    limits = common.funnel(key, indicator, period, level)
    county_row = common.series(key, top, indicator).filter(pl.col("period") == period)
    centre = county_row["value"][0] if county_row.height and not county_row["suppressed"][0] else None
    funnel_fig = charts.funnel_plot(values, unit, limits=limits, centre=centre, highlight=highlight,
                                    title="Funnel plot", level_name=LEVEL_CHOICES[level].lower())
    st.plotly_chart(funnel_fig, width="stretch", theme=None, key="funnel", config={"displaylogo": False})
    common.png_download(key, funnel_fig, title=f"{indicator} {ind['title']}", stem=f"funnel_{indicator}_{period}_{level}",
                        subtitle=f"{LEVEL_CHOICES[level]} against Lincolnshire, {period}: 95% and 99.8% control limits",
                        footnote=f"Source: {ind['supplier'] or 'partner supplies'}.", widget_key="png_funnel")
    if limits is None or limits.is_empty():
        st.caption("Control limits are not available in this release: the funnel shows each area against the "
                   "Lincolnshire value only.")
    else:
        st.caption("Areas outside the dashed lines (99.8%) differ from Lincolnshire by more than chance would explain.")
    n_hidden = int(values["suppressed"].sum()) if values.height else 0
    st.caption(f"{n_hidden} of {values.height} {LEVEL_CHOICES[level].lower()} withheld ({config.WITHHELD_SYMBOL}) "
               "and not plotted.")
with right:
    ranked_fig = charts.ranked_bars(values, unit, benchmark=england_value, highlight=highlight,
                                    title="Ranked, with 95% confidence limits", threshold=limit)
    st.plotly_chart(ranked_fig, width="stretch", theme=None, key="ranked", config={"displaylogo": False})
    common.png_download(key, ranked_fig, title=f"{indicator} {ind['title']}", stem=f"ranked_{indicator}_{period}_{level}",
                        subtitle=f"{LEVEL_CHOICES[level]} ranked, {period}, with 95% confidence limits ({unit})",
                        footnote=f"Source: {ind['supplier'] or 'partner supplies'}.", widget_key="png_ranked")
ranked_table = values_table(values, unit)
with st.expander(f"{LEVEL_CHOICES[level]} as a table"):
    st.table(ranked_table.to_pandas().style.hide(axis="index"))
common.download_buttons(key, ranked_table, title=f"{indicator} {ind['title']}, {period}, by {level}",
                        stem=f"ranked_{indicator}_{period}_{level}", source=ind["supplier"] or "", widget_key="ranked")

# ---- breakdowns
st.subheader(f"Breakdowns: {name}, {period}")
parts = common.breakdowns(key, indicator, period, area)
if parts.is_empty():
    st.caption("This indicator has no breakdown by sex, age or ethnicity for this area and period.")
else:
    dims = parts["dimension"].unique(maintain_order=True).to_list()
    cols = st.columns(len(dims))
    for col, dim in zip(cols, dims):
        with col:
            sub = parts.filter(pl.col("dimension") == dim)
            bd_fig = charts.breakdown_bars(sub, unit, title=charts.BREAKDOWN_NAMES.get(dim, dim), threshold=limit)
            st.plotly_chart(bd_fig, width="stretch", theme=None, key=f"bd_{dim}", config={"displaylogo": False})
            common.png_download(key, bd_fig, title=f"{indicator} {ind['title']}", stem=f"breakdown_{indicator}_{area}_{dim}",
                                subtitle=f"{name}, {period}, by {charts.BREAKDOWN_NAMES.get(dim, dim).lower()} ({unit})",
                                footnote=f"Source: {ind['supplier'] or 'partner supplies'}.", widget_key=f"png_bd_{dim}")
    bd_table = pl.DataFrame([{
        "Breakdown": charts.BREAKDOWN_NAMES.get(r["dimension"], r["dimension"]),
        "Group": charts.breakdown_label(r["dimension"], r["category"]),
        "Value": charts.format_value(r["value"], r["suppressed"], unit),
        "95% confidence interval": charts.format_ci(r["lower_95"], r["upper_95"], r["suppressed"], unit),
    } for r in parts.iter_rows(named=True)], schema={c: pl.String for c in ("Breakdown", "Group", "Value", "95% confidence interval")})
    st.table(bd_table.to_pandas().style.hide(axis="index"))
    st.caption(charts.withheld_note(limit))
    common.download_buttons(key, bd_table, title=f"{indicator} {ind['title']}: breakdowns for {labels[area]}, {period}",
                            stem=f"breakdowns_{indicator}_{area}_{period}", source=ind["supplier"] or "", widget_key="bd")

# ---- definition and source
# The local plan's actions aiming to move this indicator (issue 13): the area's partnership, or every one.
plan_area = (area if area_level == "partnership" else common.area_lookup(key).filter(
    pl.col("ward_code") == area)["partnership_code"].to_list()[0] if area_level == "ward" else None)
linked = plans.actions_for_indicator(indicator, plan_area)
st.subheader("Local plan actions on this indicator")
if linked.is_empty():
    st.caption("No local plan action aims to move this indicator" + (f" in {labels.get(plan_area, plan_area)}."
                                                                      if plan_area else "."))
else:
    when = plans.release_date(common.release_info(key))
    names = common.all_area_names(key)
    st.table(pl.DataFrame([{
        "Partnership area": names.get(a["area_code"], a["area_code"]), "Action": f"{a['code']}: {a['title']}",
        "Lead": a["lead"], "Due": f"{a['due_date']:%d/%m/%Y}", "Status": plans.status_label(a, when),
    } for a in linked.iter_rows(named=True)]).to_pandas().style.hide(axis="index"))

st.subheader("Definition and source")
definition = [
    ("Numerator", ind.get("numerator_definition")), ("Denominator", ind.get("denominator_definition")),
    ("Unit", unit), ("Better", {"lower_better": "lower", "higher_better": "higher"}.get(ind["polarity"], "no judgement")),
    ("Confidence limits", ind.get("ci_method")), ("RAG rule", ind.get("rag_rule_text")),
    ("Supplier", ind.get("supplier")), ("Frequency", ind.get("frequency")), ("Notes", ind.get("notes")),
]
st.table(pl.DataFrame({"": [d[0] for d in definition if d[1]], "Definition": [str(d[1]) for d in definition if d[1]]})
         .to_pandas().style.hide(axis="index"))
src = common.sources(key)
if "dataset" in ind and ind.get("dataset"):
    src = src.filter(pl.col("dataset") == ind["dataset"])
else:
    src = src.filter(pl.col("supplier") == ind["supplier"])
if src.height:
    st.table(pl.DataFrame({
        "Supplier": src["supplier"], "Dataset": src["dataset"], "Period": src["period"],
        "Date provided": [f"{d:%d/%m/%Y}" if d else "–" for d in src["date_provided"].to_list()],
        "Next refresh": [f"{d:%d/%m/%Y}" if d else "–" for d in src["refresh_date"].to_list()],
    }).to_pandas().style.hide(axis="index"))
common.link("profile.py", f"Profile of {name}", {"area": area}, icon=":material/location_city:")
