"""Locality profile: every indicator for one ward or partnership area (or the county) at its latest
year, as a spine chart (the area against Lincolnshire, England and the range across areas of the same
kind) with a trend sparkline, and a table with RAG, direction of travel and quartile; the neighbouring
areas to compare with.

URL: ?area=LCP01 (a ward, partnership area or the county code)
"""
from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import common
from pipelines import charts, config, plans

TREND_LABELS = {"improving": "Improving", "worsening": "Worsening", "no_change": "No significant trend"}


def profile_table(frame: pl.DataFrame, rules: dict[str, str] | None) -> pl.DataFrame:
    """The profile rows as the text shown ('c' for withheld, '–' for none)."""
    rows = []
    for r in frame.iter_rows(named=True):
        withheld = bool(r["suppressed"])
        row = {
            "Indicator": r["indicator_id"],
            "Title": r["title"],
            "Period": r["period"] or charts.NO_DATA,
            "Value": charts.format_value(r["value"], withheld, r["unit"]),
            "95% confidence interval": charts.format_ci(r["lower_95"], r["upper_95"], withheld, r["unit"]),
            "Lincolnshire": charts.format_value(r["county_value"], False, r["unit"]),
            "England": charts.format_value(r["benchmark_value"], False, r["unit"]),
            "RAG": charts.rag_label(r["rag"]),
        }
        if rules is not None:
            row["RAG rule"] = charts.rag_rule_short(rules.get(r["indicator_id"]))
        row["Direction of travel"] = charts.direction_label(r["direction"], r["polarity"])
        if "trend" in frame.columns:
            row["5-year trend"] = TREND_LABELS.get(r["trend"] or "", charts.NO_DATA)
        row["Quartile (1 = best)"] = charts.quartile_label(r["quartile"])
        rows.append(row)
    columns = list(rows[0]) if rows else ["Indicator"]
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})


common.ensure_app_entry()
key = common.require_release()
top = common.top_area(key)  # Lincolnshire, or England in a national release
common.print_css()
st.title("Locality profile")

all_areas = common.areas(key)
wards = all_areas.filter(pl.col("area_level") == "ward")
options = [*common.area_choices(key)] + wards["area_code"].to_list()
labels = {c: common.area_label(key, c) for c in options}
area = common.url_choice("area", "Area (a partnership area, or type a ward's name)", options,
                         default=top, format_func=labels.get)
level = all_areas.filter(pl.col("area_code") == area)["area_level"][0]
frame = common.profile(key, area)
if frame.is_empty():
    st.warning("This release has no indicators.")
    st.stop()
inds = common.indicators(key)
rules = (dict(zip(inds["indicator_id"].to_list(), inds["rag_rule_text"].to_list()))
         if "rag_rule_text" in inds.columns else None)
limit = common.threshold(key)
series_all = common.series(key, area)
series = {k[0]: g.to_dicts() for k, g in series_all.group_by("indicator_id", maintain_order=True)}

n_red = frame.filter(pl.col("rag") == "red").height
n_green = frame.filter(pl.col("rag") == "green").height
n_withheld = frame.filter(pl.col("suppressed")).height
st.markdown(
    f"**{labels[area]}** · each indicator's latest year · {n_green} {charts.rag_label('green')}, "
    f"{n_red} {charts.rag_label('red')}, {n_withheld} withheld ({config.WITHHELD_SYMBOL})"
)
st.caption(
    f"Spine chart: the dotted line is England; better is always to the right. The pale bar is the range of "
    f"{common.LEVEL_NAMES.get(level, 'areas')} in Lincolnshire, the darker bar the middle half of them; the blue mark "
    "is Lincolnshire; the area's marker has its RAG colour and shape (● Green, ◆ Amber, ■ Red). "
    f"{config.WITHHELD_SYMBOL} = withheld. Right: the area's values over the last five years."
)
name = all_areas.filter(pl.col("area_code") == area)["area_name"][0]
for (outcome,), group in frame.group_by("ecm_outcome", maintain_order=True):
    st.subheader(outcome or "Other")
    fig = charts.spine_chart(group, area_name=name, level_name=common.LEVEL_NAMES.get(level, "areas"),
                             threshold=limit, series={i: series.get(i, []) for i in group["indicator_id"].to_list()})
    st.plotly_chart(fig, width="stretch", theme=None, key=f"spine_{outcome}",
                    config={"displaylogo": False, "displayModeBar": False, "staticPlot": False})
    common.png_download(key, fig, title=f"{name}: {outcome or 'Other'}", stem=f"profile_{area}_{outcome or 'other'}",
                        subtitle="Each indicator against England (centre line) and the range of "
                                 f"{common.LEVEL_NAMES.get(level, 'areas')} in Lincolnshire; better is to the right",
                        widget_key=f"png_spine_{outcome}")
    st.table(profile_table(group, rules).to_pandas().style.hide(axis="index"))

st.markdown("**How to read this page**")
st.markdown(common.legend_text(key))
table = profile_table(frame, rules)
common.download_buttons(key, table, title=f"Locality profile: {labels[area]}", stem=f"profile_{area}")

# The local plan's actions on these indicators (issue 13): a ward shows its partnership area's plan.
plan_area = None
if level == "partnership":
    plan_area = area
elif level == "ward":
    plan_area = (common.area_lookup(key).filter(pl.col("ward_code") == area)["partnership_code"].to_list() or [None])[0]
if plan_area:
    when = plans.release_date(common.release_info(key))
    acts = plans.actions(plan_area)
    st.subheader("Local plan actions on these indicators")
    if acts.is_empty():
        st.caption(f"No actions in the local plan of {labels.get(plan_area, plan_area)} yet.")
    else:
        st.table(pl.DataFrame([{
            "Indicators": a["indicator_ids"], "Action": f"{a['code']}: {a['title']}", "Lead": a["lead"],
            "Due": f"{a['due_date']:%d/%m/%Y}", "Status": plans.status_label(a, when),
        } for a in acts.iter_rows(named=True)]).to_pandas().style.hide(axis="index"))
    common.link("plan.py", f"Local plan of {labels.get(plan_area, plan_area)}", {"area": plan_area},
                icon=":material/checklist:")

st.subheader("Compare with")
near = common.neighbours(key, area)
if near.is_empty():
    st.caption("No neighbouring areas in this release.")
else:
    what = {"ward": "Other wards in the same partnership area", "partnership": "The other partnership areas",
            "district": "The other districts", "county": "The partnership areas"}.get(level, "Areas")
    st.caption(what)
    cols = st.columns(4)
    for i, r in enumerate(near.iter_rows(named=True)):
        with cols[i % 4]:
            common.link("profile.py", r["area_name"], {"area": r["area_code"]}, icon=":material/place:")
if level == "ward":
    lcp = common.area_lookup(key).filter(pl.col("ward_code") == area)["partnership_code"]
    if lcp.len():
        common.link("profile.py", f"Profile of {labels.get(lcp[0], lcp[0])}", {"area": lcp[0]}, icon=":material/north:")
